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
  /** The pass tfjs records its programs in (ended before copies and at each submission). */
  computePassEncoder: GPUComputePassEncoder | null;
  /** Dispatches in the current pass: tfjs submits at `WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE`. */
  dispatchCountInPass: number;
  /** Tensors the queued commands use: disposed meanwhile, their buffers wait for the submission. */
  commandQueueOwnedIds: { add(dataId: object): void };
  /** Uniform buffers handed back to the pool at the next submission. */
  uniformPendingDisposal: GPUBuffer[];
  /** Set while `tf.time` times each program (tfjs then records each in a pass of its own). */
  activeTimers?: unknown;
  bufferManager: { acquireBuffer(size: number, usage: number): GPUBuffer };
  makeTensorInfo(shape: number[], dtype: tf.DataType): tf.TensorInfo;
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
 * A new float32 tensor info of `shape` in a buffer of tfjs's pool, marked in use by the queued
 * commands (as tfjs marks a program's output): disposed before they are submitted, its buffer
 * goes back to the pool after them. Returns it with its buffer.
 */
export function newOutput(
  backend: WebGpuBackendInternals,
  shape: number[],
): { info: tf.TensorInfo; buffer: GPUBuffer } {
  const info = backend.makeTensorInfo(shape, "float32");
  backend.uploadToGPU(info.dataId);
  backend.commandQueueOwnedIds.add(info.dataId);
  return { info, buffer: backend.tensorMap.get(info.dataId)!.resource as GPUBuffer };
}

/**
 * A new tensor of `shape` holding a copy of `source`'s first values, the copy recorded on tfjs's
 * encoder after its queued work and not submitted (where `tf.tensor({ buffer })` submits it at
 * once): it goes with the next submission, as a program's output would.
 */
export function copiedTensor(
  backend: WebGpuBackendInternals,
  source: GPUBuffer,
  shape: number[],
): tf.Tensor {
  const { info, buffer } = newOutput(backend, shape);
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  backend.commandEncoder!.copyBufferToBuffer(
    source,
    0,
    buffer,
    0,
    4 * tf.util.sizeFromShape(shape),
  );
  return tf.engine().makeTensorFromTensorInfo(info, backend as unknown as tf.KernelBackend);
}

/**
 * Submits `left` (the encoder a pass was left on by {@linkcode recordPass} with `submit` false)
 * where it is still tfjs's current one, nothing having submitted it since; ends tfjs's open pass
 * first (its own programs', or a directly recorded product's). A caller does this before it
 * writes again to a buffer that pass reads, or frees one.
 */
export function submitLeftover(
  backend: WebGpuBackendInternals | undefined,
  left: GPUCommandEncoder | undefined,
): void {
  if (!backend || !left || backend.commandEncoder !== left) return;
  backend.endComputePassEncoder();
  backend.submitQueue();
}

/**
 * Runs `record` in a compute pass on the backend's encoder, after tfjs's queued work; submits,
 * unless `submit` is false: then the next submission (tfjs's, or a later pass's) takes the pass
 * with it, and no queue write to a buffer the pass reads may come between (it would land before
 * the pass): the caller keeps the encoder and submits it first where it writes again
 * ({@linkcode submitLeftover}).
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
