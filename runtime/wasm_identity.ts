/**
 * A zero-copy `Identity` for tfjs-backend-wasm.
 *
 * While gradients are recorded, tfjs's engine clones every tensor a gradient will need (an
 * `Identity` per saved input); tfjs-wasm 4.22 copies the whole buffer each time: 53 copies in a
 * step of the Fashion-MNIST CNN, up to 12.8 MB each. Tensors are immutable and the wasm backend
 * already shares buffers between tensors by reference count (its `Reshape` does), so the clone
 * can share the buffer too, as tfjs's cpu backend does.
 *
 * @module
 */
import type * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { type KernelArgs, overrideWasmKernel } from "./wasm_heap.ts";

interface ReferenceCounted {
  incRef(dataId: object): void;
}

function sharedIdentity({ inputs, backend }: KernelArgs): tf.TensorInfo | undefined {
  const { x } = inputs as { x: tf.TensorInfo };
  if (x.dtype === "string") return;
  (backend as unknown as ReferenceCounted).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/**
 * Makes wasm's `Identity` share its input's buffer (strings still copy). Returns the kernels
 * overridden.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { selectBackend } from "./backend.ts";
 * import { routeSharedIdentity } from "./wasm_identity.ts";
 * await selectBackend("wasm");
 * routeSharedIdentity();
 * const x = tf.ones([2]);
 * const y = x.clone();
 * x.dispose();
 * console.assert(y.dataSync()[1] === 1); // the buffer lives while a tensor uses it
 * ```
 */
export function routeSharedIdentity(): string[] {
  return overrideWasmKernel("Identity", sharedIdentity) ? ["Identity"] : [];
}
