/**
 * A 2-D convolution with bias whose gradient computes only what is asked for.
 *
 * tfjs-layers runs a convolution with bias as `tf.fused.conv2d`, whose gradient is a
 * `customGrad`: it always computes dL/dx, dL/dfilter and dL/dbias, even for the first layer,
 * whose input (the batch) needs no gradient. On the Fashion-MNIST CNN that is a wasted
 * `Conv2DBackpropInput` over [128, 28, 28, 32] every step (~25 ms of ~250 on the 2-core CPU).
 * Here the same forward kernel (each backend's `FusedConv2D`, bias in the convolution) runs
 * under a kernel of anneal's, `AnnealConv2D`, with a registered gradient: tfjs's tape asks for
 * each input's gradient separately, and only for inputs on the path to the variables.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import * as tfl from "npm:@tensorflow/tfjs-layers@4.22.0";
import { delegateKernel } from "./delegate.ts";

const KERNEL = "AnnealConv2D";

/** The gradient: each input's share, computed only when the tape asks for it. */
const GRADIENT: tf.GradConfig = {
  kernelName: KERNEL,
  inputsToSave: ["x", "filter"],
  gradFunc: (dy, saved, attrs) => {
    const [x, filter] = saved;
    const a = attrs as unknown as tf.FusedConv2DAttrs;
    const common = {
      strides: a.strides,
      pad: a.pad,
      dataFormat: a.dataFormat,
      dimRoundingMode: a.dimRoundingMode,
    };
    const g = dy as tf.Tensor4D;
    return {
      x: () =>
        tf.engine().runKernel("Conv2DBackpropInput", { dy: g, filter }, {
          ...common,
          inputShape: x.shape,
        } as unknown as tf.NamedAttrMap) as tf.Tensor,
      filter: () =>
        tf.engine().runKernel("Conv2DBackpropFilter", { x, dy: g }, {
          ...common,
          filterShape: filter.shape,
        } as unknown as tf.NamedAttrMap) as tf.Tensor,
      bias: () => tf.sum(g, [0, 1, 2]),
    };
  },
};

/**
 * `x` [batch, h, w, inC] convolved with `filter` [kh, kw, inC, outC] (NHWC, no dilation), plus
 * `bias` [outC]: the values of `tf.fused.conv2d`, with per-input gradients.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
 * import { conv2dWithBias } from "./conv.ts";
 * await tf.setBackend("cpu");
 * const y = conv2dWithBias(tf.ones([1, 3, 3, 1]), tf.ones([3, 3, 1, 2]), tf.tensor1d([0, 1]), 1, "same");
 * console.assert(y.dataSync()[8] === 9 && y.dataSync()[9] === 10); // the centre pixel
 * ```
 */
export function conv2dWithBias(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  bias: tf.Tensor1D | undefined,
  strides: number | [number, number],
  pad: "same" | "valid",
): tf.Tensor4D {
  if (!delegateKernel(KERNEL, "FusedConv2D", tf.getBackend(), GRADIENT)) {
    return tf.fused.conv2d({ x, filter, strides, pad, bias });
  }
  const inputs: Record<string, tf.Tensor> = { x, filter };
  if (bias) inputs.bias = bias;
  return tf.engine().runKernel(KERNEL, inputs, {
    strides,
    pad,
    dataFormat: "NHWC",
    dilations: 1,
    activation: "linear",
  } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

type Conv2DArgs = Parameters<typeof tfl.layers.conv2d>[0];
// tfjs-layers exports the layer's factory, not its class: take the class from an instance.
const Base = Object.getPrototypeOf(tfl.layers.conv2d({ filters: 1, kernelSize: 1 }))
  .constructor as new (args: Conv2DArgs) => tfl.layers.Layer & {
    kernel: tfl.LayerVariable;
    bias?: tfl.LayerVariable | null;
    strides: number[];
    padding: string;
    dataFormat: string;
    dilationRate: number[];
    activation: { getClassName(): string };
  };

/** tfjs-layers' Conv2D running {@link conv2dWithBias} where it applies (else its own call). */
class Conv2DLayer extends Base {
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) {
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    if (
      this.dataFormat !== "channelsLast" || this.dilationRate.some((d) => d !== 1) ||
      this.activation.getClassName() !== "linear" || input.rank !== 4
    ) {
      return super.call(inputs, kwargs);
    }
    return tf.tidy(() =>
      conv2dWithBias(
        input as tf.Tensor4D,
        this.kernel.read() as tf.Tensor4D,
        this.bias ? this.bias.read() as tf.Tensor1D : undefined,
        this.strides as [number, number],
        this.padding === "same" ? "same" : "valid",
      )
    );
  }
}

/**
 * A convolution layer that is tfjs-layers' own (weights `kernel`, `bias`; class name
 * `Conv2D`), whose training pass computes only the gradients needed.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
 * import { conv2d } from "./conv.ts";
 * await tf.setBackend("cpu");
 * const layer = conv2d({ filters: 2, kernelSize: 3, padding: "same" });
 * const y = layer.apply(tf.ones([1, 4, 4, 1])) as tf.Tensor;
 * console.assert(y.shape.join() === "1,4,4,2");
 * ```
 */
export function conv2d(args: Conv2DArgs): tfl.layers.Layer {
  return new Conv2DLayer(args);
}
