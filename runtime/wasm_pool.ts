/**
 * `MaxPoolGrad` on tfjs-backend-wasm in TypeScript over the wasm heap.
 *
 * tfjs-wasm 4.22's kernel visits every input pixel and, for each output window that may cover
 * it, searches the window for its maximum again (~50 ms for [128, 28, 28, 32] on one core).
 * Here each window is searched once, for all channels of a pixel at a time (NHWC keeps them
 * contiguous), and its dy is added where its maximum is. Ties go to the first maximum in row
 * order, as in tfjs's cpu backend; a window of NaNs or -Infinity passes no gradient, as there.
 * Windows that tile the input (window = stride, as in 2x2 stride 2 pooling) take a shorter
 * path: each input pixel is compared once with its window's forward output and written once.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { heapFloats, type KernelArgs, overrideWasmKernel, wasmInternals } from "./wasm_heap.ts";

type Shape4 = [number, number, number, number];

function maxPoolGrad({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo | undefined {
  const { dy, input } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  const a = attrs as unknown as tf.MaxPoolGradAttrs;
  if (input.dtype !== "float32" || dy.dtype !== "float32") return;
  const pool = tf.backend_util.computePool2DInfo(
    input.shape as Shape4,
    a.filterSize,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth } = pool;
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = pool;
  const wasm = wasmInternals(backend);
  const out = wasm.makeOutput(input.shape, "float32");
  const x = heapFloats(wasm, input);
  const gradient = heapFloats(wasm, dy);
  const dx = heapFloats(wasm, out);
  const { output } = inputs as { output?: tf.TensorInfo };
  if (
    fh === sh && fw === sw && output?.dtype === "float32" &&
    output.shape.every((n, i) => n === dy.shape[i])
  ) {
    if (tiledPoolGrad(pool, x, heapFloats(wasm, output), gradient, dx)) return out;
  }
  dx.fill(0);
  const best = new Float32Array(c);
  const where = new Int32Array(c);
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const top = oh * sh - pool.padInfo.top;
      const rowFirst = Math.max(0, top), rowEnd = Math.min(inHeight, top + fh);
      for (let ow = 0; ow < outWidth; ow++) {
        const left = ow * sw - pool.padInfo.left;
        const colFirst = Math.max(0, left), colEnd = Math.min(inWidth, left + fw);
        best.fill(-Infinity);
        where.fill(-1);
        for (let r = rowFirst; r < rowEnd; r++) {
          for (let q = colFirst; q < colEnd; q++) {
            const pixel = ((b * inHeight + r) * inWidth + q) * c;
            for (let ch = 0; ch < c; ch++) {
              const value = x[pixel + ch];
              if (value > best[ch]) {
                best[ch] = value;
                where[ch] = pixel + ch;
              }
            }
          }
        }
        const from = ((b * outHeight + oh) * outWidth + ow) * c;
        for (let ch = 0; ch < c; ch++) {
          if (where[ch] >= 0) dx[where[ch]] += gradient[from + ch];
        }
      }
    }
  }
  return out;
}

/**
 * Windows that tile the input (window = stride, the usual 2x2 stride 2): every input pixel is in
 * at most one window, so dx is written once, in raster order, with no zero fill and no search:
 * the window's maximum is the forward output, and the first pixel in row order equal to it takes
 * dy (ties to the first maximum; a window of -Infinity takes none, as in the general loop).
 * Returns false, having written part of dx, when an output is NaN: the general loop handles that.
 */
function tiledPoolGrad(
  pool: tf.backend_util.Conv2DInfo,
  x: Float32Array,
  y: Float32Array,
  gradient: Float32Array,
  dx: Float32Array,
): boolean {
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth } = pool;
  const { strideHeight: sh, strideWidth: sw } = pool;
  const { top, left } = pool.padInfo;
  // per window of the current output row and channel: has its maximum taken dy yet
  const taken = new Uint8Array(outWidth * c);
  for (let b = 0; b < batchSize; b++) {
    for (let r = 0; r < inHeight; r++) {
      const rowStart = (b * inHeight + r) * inWidth * c;
      const oh = Math.floor((r + top) / sh);
      if (oh >= outHeight) {
        dx.fill(0, rowStart, rowStart + inWidth * c);
        continue;
      }
      if (r === 0 || (r + top) % sh === 0) taken.fill(0);
      for (let q = 0; q < inWidth; q++) {
        const to = rowStart + q * c;
        const ow = Math.floor((q + left) / sw);
        if (ow >= outWidth) {
          dx.fill(0, to, to + c);
          continue;
        }
        const from = ((b * outHeight + oh) * outWidth + ow) * c;
        const t = ow * c;
        for (let ch = 0; ch < c; ch++) {
          const m = y[from + ch];
          if (m !== m) return false;
          if (taken[t + ch] === 0 && x[to + ch] === m && m > -Infinity) {
            dx[to + ch] = gradient[from + ch];
            taken[t + ch] = 1;
          } else {
            dx[to + ch] = 0;
          }
        }
      }
    }
  }
  return true;
}

/**
 * Puts the TypeScript `MaxPoolGrad` in front of tfjs-wasm's (which still runs what this
 * declines: integer tensors). Returns the kernels overridden.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { selectBackend } from "./backend.ts";
 * import { routeMaxPoolGrad } from "./wasm_pool.ts";
 * await selectBackend("wasm");
 * routeMaxPoolGrad();
 * const input = tf.tensor4d([1, 5, 2, 3], [1, 2, 2, 1]);
 * const dy = tf.tensor4d([7], [1, 1, 1, 1]);
 * const output = tf.tensor4d([5], [1, 1, 1, 1]);
 * const attrs = { filterSize: 2, strides: 2, pad: "valid" };
 * const dx = tf.engine().runKernel("MaxPoolGrad", { dy, input, output }, attrs) as tf.Tensor;
 * console.assert(dx.dataSync()[1] === 7);
 * ```
 */
export function routeMaxPoolGrad(): string[] {
  return overrideWasmKernel("MaxPoolGrad", maxPoolGrad) ? ["MaxPoolGrad"] : [];
}
