/**
 * Max pooling's backward pass as one loop over its windows, shared by anneal's cpu and wasm
 * `MaxPoolGrad` kernels.
 *
 * @module
 */
import type * as tf from "npm:@tensorflow/tfjs-core@4.22.0";

/**
 * Adds each window's `dy` to `dx` at the window's first maximum in row order (NHWC, no
 * dilation): the gradient of max pooling as tfjs's cpu backend defines it. A NaN never compares
 * greater, so a window of NaNs or -Infinity passes no gradient. Each window is searched once, for
 * all channels of a pixel at a time (NHWC keeps them contiguous); an input element receives its
 * windows' terms in the order of their output rows, then columns. `dx` is `x`'s shape: float64
 * sums round once, as tfjs's cpu kernel's do; float32 ones after every term.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { addMaxPoolGrad } from "./max_pool_grad.ts";
 * const pool = tf.backend_util.computePool2DInfo([1, 2, 2, 1], 2, 2, 1, "valid");
 * const dx = new Float64Array(4);
 * addMaxPoolGrad(pool, Float32Array.of(1, 5, 3, 2), Float32Array.of(0.5), dx);
 * console.assert(dx[1] === 0.5 && dx[0] === 0);
 * ```
 */
export function addMaxPoolGrad(
  pool: tf.backend_util.Conv2DInfo,
  x: Float32Array,
  dy: Float32Array,
  dx: Float32Array | Float64Array,
): void {
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth } = pool;
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = pool;
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
          if (where[ch] >= 0) dx[where[ch]] += dy[from + ch];
        }
      }
    }
  }
}
