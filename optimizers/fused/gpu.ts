/**
 * The few tfjs-backend-webgpu internals the fused kernels need: the device, a tensor's GPUBuffer,
 * and the backend's command encoder, so that a fused pass is recorded in order with tfjs's own
 * work and submitted with it. Writing into a tensor's buffer in place also drops the CPU copy
 * tfjs caches after a read, or a later `data()` would return stale values.
 *
 * @module
 */

import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { AnnealError } from "../../errors.ts";

interface TensorData {
  resource: unknown;
  values: unknown;
  refCount: number;
}

/** The part of `WebGPUBackend` (tfjs-backend-webgpu 4.22) used here. */
export interface WebGpuBackendInternals {
  device: GPUDevice;
  queue: GPUQueue;
  tensorMap: { get(dataId: object): TensorData | undefined };
  uploadToGPU(dataId: object): void;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  commandEncoder: GPUCommandEncoder | null;
}

/**
 * The current backend's internals; throws unless tfjs runs on webgpu.
 *
 * @example
 * ```ts ignore
 * import { webGpuBackend } from "./gpu.ts";
 * const backend = webGpuBackend("fused adam");
 * console.log(backend.device.limits.maxStorageBufferBindingSize);
 * ```
 */
export function webGpuBackend(what: string): WebGpuBackendInternals {
  const name = tf.getBackend();
  const backend = tf.backend() as unknown as Partial<WebGpuBackendInternals>;
  if (name !== "webgpu" || !backend.device || typeof backend.submitQueue !== "function") {
    throw new AnnealError(
      "backend",
      `Cannot run ${what}: it needs the webgpu backend, current backend is '${name}'`,
      { where: "backend", hint: "use --backend webgpu, or the plain optimizer on cpu and wasm" },
    );
  }
  return backend as WebGpuBackendInternals;
}

/** The GPUBuffer holding `tensor` (uploaded first if it still lives on the CPU). */
export function tensorBuffer(backend: WebGpuBackendInternals, tensor: tf.Tensor): GPUBuffer {
  if (tensor.dtype !== "float32") {
    throw new AnnealError(
      "usage",
      `Cannot run a fused kernel on '${tensor.dtype}' tensor: only float32 is supported`,
      { hint: "cast parameters and gradients to float32" },
    );
  }
  backend.uploadToGPU(tensor.dataId);
  const resource = backend.tensorMap.get(tensor.dataId)?.resource;
  if (!(resource instanceof GPUBuffer)) {
    throw new AnnealError("internal", "Cannot run a fused kernel: tensor is not in a GPUBuffer", {
      hint: "create the tensor with tf ops on the webgpu backend (not from a texture)",
    });
  }
  return resource;
}

/** The buffer of a tensor the fused kernels write in place; forgets tfjs's cached CPU copy. */
export function writableBuffer(backend: WebGpuBackendInternals, tensor: tf.Tensor): GPUBuffer {
  const buffer = tensorBuffer(backend, tensor);
  const data = backend.tensorMap.get(tensor.dataId)!;
  data.values = null;
  return buffer;
}

/** How many tensors share `tensor`'s data (a variable assigned from a kept tensor shares it). */
export function sharedCount(backend: WebGpuBackendInternals, tensor: tf.Tensor): number {
  return backend.tensorMap.get(tensor.dataId)?.refCount ?? 0;
}

/** Gives `variable` data of its own, so that an in-place update touches no other tensor. */
export function ensureExclusive(backend: WebGpuBackendInternals, variable: tf.Variable): void {
  if (sharedCount(backend, variable) <= 1) return;
  const copy = tf.tidy(() => tf.add(variable, 0));
  variable.assign(copy);
  copy.dispose();
}

/**
 * Runs `record` in a compute pass on the backend's encoder, after tfjs's queued work; submits,
 * unless `submit` is false: then the caller's next tfjs call that submits (a tensor made from a
 * buffer copies it and submits) takes the pass with it, one submission for both, and no queue
 * write may come between (it would land before the pass).
 */
export function recordPass(
  backend: WebGpuBackendInternals,
  record: (pass: GPUComputePassEncoder) => void,
  submit = true,
): void {
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  const pass = backend.commandEncoder!.beginComputePass();
  record(pass);
  pass.end();
  if (submit) backend.submitQueue();
}
