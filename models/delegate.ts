/**
 * A kernel of anneal's that is another kernel of the same backend under a new name, so that it
 * can carry a gradient of its own. `conv.ts` and `dense.ts` run tfjs's fused convolution and
 * matMul this way, with gradients that compute each input's share only when the tape asks.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";

const gradients = new Set<string>();

/**
 * Registers `name` on `backend` as that backend's `delegate` kernel (the same function), and
 * `gradient` for `name` (once). Returns false, registering nothing, where the backend has no
 * `delegate`: callers then run tfjs's own op.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
 * import { delegateKernel } from "./delegate.ts";
 * await tf.setBackend("cpu");
 * const gradient = { kernelName: "MyNeg", inputsToSave: [], gradFunc: (dy: tf.Tensor | tf.Tensor[]) => ({ x: () => tf.neg(dy as tf.Tensor) }) };
 * console.assert(delegateKernel("MyNeg", "Neg", "cpu", gradient));
 * console.assert(tf.grad((x: tf.Tensor) => tf.engine().runKernel("MyNeg", { x }, {}) as tf.Tensor)(tf.scalar(2)).dataSync()[0] === -1);
 * ```
 */
export function delegateKernel(
  name: string,
  delegate: string,
  backend: string,
  gradient: tf.GradConfig,
): boolean {
  if (tf.getKernel(name, backend)) return true;
  const kernel = tf.getKernel(delegate, backend);
  if (!kernel) return false;
  tf.registerKernel({ kernelName: name, backendName: backend, kernelFunc: kernel.kernelFunc });
  if (!gradients.has(name)) {
    gradients.add(name);
    tf.registerGradient({ ...gradient, kernelName: name });
  }
  return true;
}
