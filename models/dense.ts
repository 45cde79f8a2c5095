/**
 * A dense layer's product with bias whose gradient computes only what is asked for.
 *
 * tfjs-layers runs a dense layer as `tf.fused.matMul`, whose gradient is a `customGrad` that
 * always computes dL/dx, also for the first layer, whose input (the batch) needs none: on the
 * MLP workload (784-512-512-10, batch 256) that is a fifth of the step's arithmetic. Here the
 * same forward kernel (each backend's `_FusedMatMul`, bias in the product) runs under
 * `AnnealMatMul`, with a registered gradient: tfjs's tape asks for each input's gradient
 * separately, and only for inputs on the path to the variables. Same pattern as `conv.ts`.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import * as tfl from "npm:@tensorflow/tfjs-layers@4.22.0";
import { delegateKernel } from "./delegate.ts";

const KERNEL = "AnnealMatMul";

/** The gradient: each input's share, computed only when the tape asks for it. */
const GRADIENT: tf.GradConfig = {
  kernelName: KERNEL,
  inputsToSave: ["a", "b"],
  gradFunc: (dy, saved) => {
    // [1, m, k] · [1, k, n], as tfjs's kernels take them
    const [a, b] = saved as tf.Tensor3D[];
    const g = dy as tf.Tensor3D;
    return {
      a: () => tf.matMul(g, b, false, true),
      b: () => tf.matMul(a, g, true, false),
      bias: () => tf.sum(g, [0, 1]),
    };
  },
};

/**
 * `x` [batch, in] times `kernel` [in, out], plus `bias` [out]: the values of `tf.fused.matMul`,
 * with per-input gradients.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
 * import { matMulWithBias } from "./dense.ts";
 * await tf.setBackend("cpu");
 * const y = matMulWithBias(tf.ones([2, 3]), tf.ones([3, 2]), tf.tensor1d([0, 1]));
 * console.assert(y.dataSync()[0] === 3 && y.dataSync()[1] === 4);
 * ```
 */
export function matMulWithBias(
  x: tf.Tensor2D,
  kernel: tf.Tensor2D,
  bias: tf.Tensor1D | undefined,
): tf.Tensor2D {
  if (!delegateKernel(KERNEL, "_FusedMatMul", tf.getBackend(), GRADIENT)) {
    return tf.fused.matMul({ a: x, b: kernel, bias }) as tf.Tensor2D;
  }
  const [m, k] = x.shape, n = kernel.shape[1];
  return tf.tidy(() => {
    const inputs: Record<string, tf.Tensor> = {
      a: tf.reshape(x, [1, m, k]),
      b: tf.reshape(kernel, [1, k, n]),
    };
    if (bias) inputs.bias = bias;
    const y = tf.engine().runKernel(KERNEL, inputs, {
      transposeA: false,
      transposeB: false,
      activation: "linear",
    } as unknown as tf.NamedAttrMap) as tf.Tensor3D;
    return tf.reshape(y, [m, n]);
  });
}

type DenseArgs = Parameters<typeof tfl.layers.dense>[0];
// tfjs-layers exports the layer's factory, not its class: take the class from an instance.
const Base = Object.getPrototypeOf(tfl.layers.dense({ units: 1 })).constructor as new (
  args: DenseArgs,
) => tfl.layers.Layer & {
  kernel: tfl.LayerVariable;
  bias?: tfl.LayerVariable | null;
  activation?: { getClassName(): string } | null;
};

/** tfjs-layers' Dense running {@link matMulWithBias} where it applies (else its own call). */
class DenseLayer extends Base {
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) {
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    const linear = !this.activation || this.activation.getClassName() === "linear";
    if (!linear || input.rank !== 2) return super.call(inputs, kwargs);
    return tf.tidy(() =>
      matMulWithBias(
        input as tf.Tensor2D,
        this.kernel.read() as tf.Tensor2D,
        this.bias ? this.bias.read() as tf.Tensor1D : undefined,
      )
    );
  }
}

/**
 * A dense layer that is tfjs-layers' own (weights `kernel`, `bias`; class name `Dense`), whose
 * training pass computes only the gradients needed.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
 * import { dense } from "./dense.ts";
 * await tf.setBackend("cpu");
 * const y = dense({ units: 3 }).apply(tf.ones([2, 4])) as tf.Tensor;
 * console.assert(y.shape.join() === "2,3");
 * ```
 */
export function dense(args: DenseArgs): tfl.layers.Layer {
  return new DenseLayer(args);
}
