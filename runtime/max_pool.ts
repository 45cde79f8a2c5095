/**
 * Max pooling's forward pass with torch's rule for NaN, shared by anneal's cpu and wasm `MaxPool`
 * kernels.
 *
 * tfjs 4.22's kernels take a window's maximum with `value > max`, which a NaN never passes: the
 * cpu backend's returns the window's largest number (-Infinity for a window of NaNs), and the wasm
 * backend's (XNNPACK) a number that depends on where the NaN is (-Infinity for [NaN, 1, 2, 3]).
 * torch's `max_pool2d` takes `value > max || isnan(value)`: a window holding a NaN gives NaN, so
 * a NaN in a CNN's activations reaches its loss, as it does on anneal's WebGPU step. Windows
 * without a NaN get the same value as tfjs's (a maximum is exact).
 *
 * @module
 */
import type * as tf from "npm:@tensorflow/tfjs-core@4.22.0";

/**
 * Writes `y` [batch, outH, outW, channels], the max pooling of `x` [batch, inH, inW, channels]
 * (NHWC float32) with `pool`'s window, strides and padding (padded positions are not in a
 * window): each window's first maximum in row order, or its last NaN where it holds one (torch's
 * rule); -Infinity for a window that covers no pixel. Each window is searched once, for all
 * channels of a pixel at a time.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { maxPoolInto } from "./max_pool.ts";
 * const pool = tf.backend_util.computePool2DInfo([1, 2, 2, 2], 2, 2, 1, "valid");
 * const y = new Float32Array(2);
 * maxPoolInto(pool, Float32Array.of(1, NaN, 5, 2, 3, 4, 2, 0), y);
 * console.assert(y[0] === 5 && Number.isNaN(y[1]));
 * ```
 */
export function maxPoolInto(
  pool: tf.backend_util.Conv2DInfo,
  x: Float32Array,
  y: Float32Array,
): void {
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth } = pool;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth } = pool;
  const { effectiveFilterHeight, effectiveFilterWidth } = pool;
  const top = pool.padInfo.top, left = pool.padInfo.left;
  let o = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let yR = 0; yR < outHeight; yR++) {
      const rCorner = yR * strideHeight - top;
      const rMin = Math.max(0, rCorner);
      const rMax = Math.min(inHeight, effectiveFilterHeight + rCorner);
      for (let yC = 0; yC < outWidth; yC++, o += c) {
        const cCorner = yC * strideWidth - left;
        const cMin = Math.max(0, cCorner);
        const cMax = Math.min(inWidth, effectiveFilterWidth + cCorner);
        y.fill(-Infinity, o, o + c);
        for (let xR = rMin; xR < rMax; xR += dilationHeight) {
          for (let xC = cMin; xC < cMax; xC += dilationWidth) {
            const p = ((b * inHeight + xR) * inWidth + xC) * c;
            for (let d = 0; d < c; d++) {
              const v = x[p + d];
              if (v > y[o + d] || v !== v) y[o + d] = v;
            }
          }
        }
      }
    }
  }
}
