/**
 * Reading many small tensors back to the host at once. On WebGPU each `data()` is its own
 * `mapAsync` (~11 ms on an H100, whatever the size), so the tensors are copied into one staging
 * buffer and mapped once; on the CPU backends the values are already in memory.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { tensorBuffer, webGpuBackend } from "../optimizers/fused/gpu.ts";

/**
 * The values of `tensors` (float32), in order, in one read-back; frees the tensors.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
 * import { readVectors } from "./read_back.ts";
 * await tf.setBackend("cpu");
 * const [a, b] = await readVectors([tf.tensor1d([1, 2]), tf.scalar(3)]);
 * console.assert(a[1] === 2 && b[0] === 3);
 * ```
 */
export async function readVectors(tensors: tf.Tensor[]): Promise<Float32Array[]> {
  if (tensors.length === 0) return [];
  try {
    if (tf.getBackend() !== "webgpu") {
      return tensors.map((t) => Float32Array.from(t.dataSync() as Float32Array));
    }
    return await readOnGpu(tensors);
  } finally {
    tf.dispose(tensors);
  }
}

/**
 * The values of `tensors` (float32), in order, in one read-back, leaving the tensors alive (model
 * weights, optimizer slots): on WebGPU one `mapAsync` for all of them instead of one each.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
 * import { readTensors } from "./read_back.ts";
 * await tf.setBackend("cpu");
 * const weight = tf.tensor1d([1, 2]);
 * const [values] = await readTensors([weight]);
 * console.assert(values[1] === 2 && !weight.isDisposed);
 * ```
 */
export function readTensors(tensors: tf.Tensor[]): Promise<Float32Array[]> {
  // clones share the data: freeing them after the read leaves the originals as they were
  return readVectors(tensors.map((t) => tf.clone(t)));
}

async function readOnGpu(tensors: tf.Tensor[]): Promise<Float32Array[]> {
  const backend = webGpuBackend("a batched read-back");
  const offsets: number[] = [];
  let bytes = 0;
  for (const t of tensors) {
    offsets.push(bytes);
    bytes += Math.max(4, t.size * 4);
  }
  const sources = tensors.map((t) => tensorBuffer(backend, t));
  const staging = backend.device.createBuffer({
    size: bytes,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  try {
    backend.ensureCommandEncoderReady();
    backend.endComputePassEncoder();
    tensors.forEach((t, i) => {
      if (t.size > 0) {
        backend.commandEncoder!.copyBufferToBuffer(sources[i], 0, staging, offsets[i], t.size * 4);
      }
    });
    backend.submitQueue();
    await staging.mapAsync(GPUMapMode.READ);
    const all = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    return tensors.map((t, i) => all.slice(offsets[i] / 4, offsets[i] / 4 + t.size));
  } finally {
    staging.destroy();
  }
}
