/**
 * The gradient of relu on tfjs-backend-wasm in one pass.
 *
 * tfjs differentiates relu as `mul(dy, cast(step(x), "float32"))`: three kernels and two
 * activation-sized temporaries (on the Fashion-MNIST CNN ~15 ms of a ~250 ms step on the 2-core
 * CPU). On wasm, anneal's gradient runs one kernel instead, `AnnealReluGrad` (`dx = dy` where
 * `x > 0`, else 0: the same values, but for tfjs's -0 where a negative dy meets x <= 0), in anneal's SIMD kernels when they load and in a TypeScript
 * loop when not. Other backends keep tfjs's own gradient.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { heapFloats, type KernelArgs, wasmInternals } from "./wasm_heap.ts";
import { simdKernels } from "./wasm_simd/kernels.ts";
import { kernelPool, PARALLEL_VALUES, splitRange } from "./wasm_simd/pool.ts";

const KERNEL = "AnnealReluGrad";

function reluGrad({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const { dy, x } = inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
  const wasm = wasmInternals(backend);
  const out = wasm.makeOutput(x.shape, "float32");
  const [g, xs, dx] = [dy, x, out].map((info) => heapFloats(wasm, info));
  const simd = simdKernels(backend);
  const pool = dx.length >= PARALLEL_VALUES ? kernelPool(backend) : undefined;
  if (pool) {
    // parts of the three arrays, each on its own thread
    pool.run(
      "reluGrad",
      splitRange(dx.length, pool.threads, 4).map(([from, to]) => [
        g.byteOffset + 4 * from,
        xs.byteOffset + 4 * from,
        dx.byteOffset + 4 * from,
        to - from,
      ]),
    );
  } else if (simd) simd.reluGrad(g.byteOffset, xs.byteOffset, dx.byteOffset, dx.length);
  else for (let i = 0; i < dx.length; i++) dx[i] = xs[i] > 0 ? g[i] : 0;
  return out;
}

let routed = false;

/**
 * Registers `AnnealReluGrad` on wasm and puts a gradient for `Relu` in front of tfjs's that runs
 * it for float32 tensors on wasm (tfjs's own gradient everywhere else). Returns the kernels
 * registered.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-layers@4.22.0"; // registers tfjs's gradients
 * import { selectBackend } from "./backend.ts";
 * import { routeReluGradient } from "./wasm_relu.ts";
 * await selectBackend("wasm");
 * routeReluGradient();
 * const dx = tf.grad((x: tf.Tensor) => tf.sum(tf.relu(x)))(tf.tensor1d([-1, 2]));
 * console.assert(dx.dataSync()[0] === 0 && dx.dataSync()[1] === 1);
 * ```
 */
export function routeReluGradient(): string[] {
  if (routed) return [KERNEL];
  const original = tf.getGradient("Relu");
  if (!original) return [];
  routed = true;
  tf.registerKernel({ kernelName: KERNEL, backendName: "wasm", kernelFunc: reluGrad });
  tf.registerGradient({
    ...original,
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const g = dy as tf.Tensor;
      if (tf.getBackend() !== "wasm" || x.dtype !== "float32" || g.dtype !== "float32") {
        return original.gradFunc(dy, saved, attrs);
      }
      return { x: () => tf.engine().runKernel(KERNEL, { dy: g, x }, {}) as tf.Tensor };
    },
  });
  return [KERNEL];
}
