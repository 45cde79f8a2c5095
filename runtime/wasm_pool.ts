/**
 * `MaxPoolGrad` and `MaxPool` on tfjs-backend-wasm over the wasm heap.
 *
 * tfjs-wasm 4.22's kernel visits every input pixel and, for each output window that may cover
 * it, searches the window for its maximum again (~50 ms for [128, 28, 28, 32] on one core).
 * Here each window is searched once, for all channels of a pixel at a time (NHWC keeps them
 * contiguous), and its dy is added where its maximum is. Ties go to the first maximum in row
 * order, as in tfjs's cpu backend; a window of NaNs or -Infinity passes no gradient, as there.
 * Windows that tile the input (window = stride, as in 2x2 stride 2 pooling) take a shorter
 * path: each input pixel is compared once with its window's forward output and written once;
 * whole 2x2 windows over a multiple of 4 channels in anneal's SIMD kernel (`wasm_simd/`).
 *
 * The forward pass takes torch's rule for NaN (`max_pool.ts`): a window that holds one gives NaN,
 * where tfjs-wasm's XNNPACK kernel gives a number that depends on where the NaN is; 2x2 stride 2
 * windows in a SIMD kernel too.
 *
 * @module
 */
import type * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { poolCall, poolGradCall } from "./conv_args.ts";
import { addMaxPoolGrad } from "./max_pool_grad.ts";
import { maxPoolInto } from "./max_pool.ts";
import { heapFloats, type KernelArgs, overrideWasmKernel, wasmInternals } from "./wasm_heap.ts";
import { simdKernels } from "./wasm_simd/kernels.ts";
import { kernelPool, PARALLEL_VALUES, splitRange } from "./wasm_simd/pool.ts";

/**
 * Max pooling (NHWC float32) by torch's rule (`max_pool.ts`): a window that holds a NaN gives
 * NaN, where tfjs-wasm's XNNPACK kernel gives a number that depends on where the NaN is. 2x2
 * stride 2 windows inside the image over a multiple of 4 channels run in anneal's SIMD kernel
 * (images split over its pool's threads when there is one), other windows in TypeScript over
 * the heap.
 */
function maxPool(args: KernelArgs): tf.TensorInfo | undefined {
  const call = poolCall(args);
  if (!call) return;
  const { pool } = call;
  const backend = args.backend;
  const wasm = wasmInternals(backend);
  const out = wasm.makeOutput(pool.outShape, "float32");
  const x = heapFloats(wasm, call.x);
  const y = heapFloats(wasm, out);
  if (wholeWindows2x2(backend, pool)) {
    simdOverImages(backend, "maxPool2x2", pool, [[x, "in"], [y, "out"]], x.length);
  } else maxPoolInto(pool, x, y);
  return out;
}

function maxPoolGrad(args: KernelArgs): tf.TensorInfo | undefined {
  const call = poolGradCall(args);
  if (!call) return;
  const { dy, input, output, pool } = call;
  const backend = args.backend;
  const { inHeight, inWidth, outHeight, outWidth } = pool;
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = pool;
  const wasm = wasmInternals(backend);
  const out = wasm.makeOutput(input.shape, "float32");
  const x = heapFloats(wasm, input);
  const gradient = heapFloats(wasm, dy);
  const dx = heapFloats(wasm, out);
  if (
    fh === sh && fw === sw && output?.dtype === "float32" &&
    output.shape.every((n, i) => n === dy.shape[i])
  ) {
    const y = heapFloats(wasm, output);
    if (wholeWindows2x2(backend, pool)) {
      // every window whole: anneal's SIMD kernel; pixels in no window get zeros
      if (2 * outHeight < inHeight || 2 * outWidth < inWidth) dx.fill(0);
      const arrays: [Float32Array, "in" | "out"][] = [
        [x, "in"],
        [y, "out"],
        [gradient, "out"],
        [dx, "in"],
      ];
      const nan = simdOverImages(backend, "maxPoolGrad2x2", pool, arrays, dx.length)
        .some((flag) => flag !== 0);
      if (!nan) return out;
    } else if (tiledPoolGrad(pool, x, y, gradient, dx)) return out;
  }
  dx.fill(0);
  addMaxPoolGrad(pool, x, gradient, dx);
  return out;
}

/**
 * Whether anneal's SIMD pooling kernels take `pool`: 2x2 windows at stride 2 from (0, 0), each
 * inside the image, over channels in fours, where the kernels loaded.
 */
function wholeWindows2x2(backend: unknown, pool: tf.backend_util.Conv2DInfo): boolean {
  const { inHeight, inWidth, inChannels, outHeight, outWidth } = pool;
  return simdKernels(backend) !== undefined && pool.filterHeight === 2 &&
    pool.filterWidth === 2 && pool.strideHeight === 2 && pool.strideWidth === 2 &&
    inChannels % 4 === 0 && pool.padInfo.top === 0 && pool.padInfo.left === 0 &&
    2 * outHeight <= inHeight && 2 * outWidth <= inWidth;
}

/**
 * Runs a SIMD pooling kernel over `pool`'s images, split over the kernel pool's threads where
 * there is one and `values` are enough: its first arguments are the arrays' byte offsets at a
 * part's first image (each array per image [inH, inW, c] or [outH, outW, c], as paired), then
 * the part's images and the pool's sizes. Returns each part's result.
 */
function simdOverImages(
  backend: unknown,
  kernel: "maxPool2x2" | "maxPoolGrad2x2",
  pool: tf.backend_util.Conv2DInfo,
  arrays: [Float32Array, "in" | "out"][],
  values: number,
): number[] {
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth } = pool;
  const image = { in: 4 * inHeight * inWidth * c, out: 4 * outHeight * outWidth * c };
  const call = (from: number, to: number) => [
    ...arrays.map(([array, side]) => array.byteOffset + from * image[side]),
    to - from,
    inHeight,
    inWidth,
    c,
    outHeight,
    outWidth,
  ];
  const threads = values >= PARALLEL_VALUES ? kernelPool(backend) : undefined;
  if (threads) {
    return threads.run(kernel, splitRange(batchSize, threads.threads).map(([f, t]) => call(f, t)));
  }
  const run = simdKernels(backend)![kernel] as (...args: number[]) => number;
  return [run(...call(0, batchSize))];
}

/**
 * Windows that tile the input (window = stride, the usual 2x2 stride 2): every input pixel is in
 * at most one window, so each window is visited once and its pixels written once, with no
 * search state: the window's maximum is the forward output, and the first pixel in row order
 * equal to it takes dy (ties to the first maximum; a window of -Infinity takes none, as in the
 * general loop). Returns false, having written part of dx, when an output is NaN: the general
 * loop handles that.
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
  // pixels in no window (a "valid" pooling's leftover rows and columns) get zeros
  if (outHeight * sh - top < inHeight || outWidth * sw - left < inWidth) dx.fill(0);
  const rowStride = inWidth * c;
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const rowFirst = Math.max(0, oh * sh - top), rowEnd = Math.min(inHeight, oh * sh - top + sh);
      for (let ow = 0; ow < outWidth; ow++) {
        const colFirst = Math.max(0, ow * sw - left);
        const colEnd = Math.min(inWidth, ow * sw - left + sw);
        const corner = ((b * inHeight + rowFirst) * inWidth + colFirst) * c;
        const rows = rowEnd - rowFirst, cols = colEnd - colFirst;
        const from = ((b * outHeight + oh) * outWidth + ow) * c;
        if (rows === 2 && cols === 2) {
          // the common case, unrolled
          for (let ch = 0; ch < c; ch++) {
            const m = y[from + ch], g = gradient[from + ch];
            if (m !== m) return false;
            const i0 = corner + ch, i1 = i0 + c, i2 = i0 + rowStride, i3 = i2 + c;
            dx[i0] = 0, dx[i1] = 0, dx[i2] = 0, dx[i3] = 0;
            if (!(m > -Infinity)) continue;
            if (x[i0] === m) dx[i0] = g;
            else if (x[i1] === m) dx[i1] = g;
            else if (x[i2] === m) dx[i2] = g;
            else if (x[i3] === m) dx[i3] = g;
          }
          continue;
        }
        for (let ch = 0; ch < c; ch++) {
          const m = y[from + ch];
          if (m !== m) return false;
          let open = m > -Infinity; // no pixel has taken dy yet
          for (let r = 0; r < rows; r++) {
            for (let q = 0, at = corner + r * rowStride + ch; q < cols; q++, at += c) {
              if (open && x[at] === m) {
                dx[at] = gradient[from + ch];
                open = false;
              } else {
                dx[at] = 0;
              }
            }
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

/**
 * Puts the `MaxPool` of torch's NaN rule in front of tfjs-wasm's (which still runs what it
 * declines: integer tensors, and the 1x1 window that keeps the shape). Returns the kernels
 * overridden.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { selectBackend } from "./backend.ts";
 * import { routeMaxPool } from "./wasm_pool.ts";
 * await selectBackend("wasm");
 * routeMaxPool();
 * const x = tf.tensor4d([NaN, 1, 2, 3], [1, 2, 2, 1]);
 * console.assert(Number.isNaN(tf.maxPool(x, 2, 2, "valid").dataSync()[0]));
 * ```
 */
export function routeMaxPool(): string[] {
  return overrideWasmKernel("MaxPool", maxPool) ? ["MaxPool"] : [];
}
