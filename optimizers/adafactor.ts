/**
 * Adafactor's two transformations (Shazeer & Stern 2018, as torch.optim.Adafactor of PyTorch
 * 2.5 states it): a factored second moment with the decay `beta2_t = 1 - t^beta2Decay` and
 * update clipping, then the relative step size `max(eps2, RMS(x)) * min(lr, 1/sqrt(t))`.
 * There is no first moment, as in torch's version.
 *
 * @module
 */

import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import type { Slots, Transform } from "./transform.ts";

/** Options of {@linkcode scaleByFactoredRms}. */
export interface FactoredRmsOptions {
  /** The exponent of `1 - beta2_t = t^beta2Decay` (torch default -0.8). */
  beta2Decay: number;
  /** Floor of the second-moment estimate, squared before use (torch: the dtype's epsilon). */
  eps1: number;
  /** Update clipping threshold `d`: the update is divided by `max(1, RMS(update) / d)`. */
  d: number;
}

/**
 * `U = g / sqrt(max(V, eps1²))`, clipped to `U / max(1, RMS(U) / d)`. For rank >= 2, `V` is the
 * outer product of the row and column means of `g²` (over the last two axes) divided by the
 * mean of the rows; for rank < 2 it is the full running mean of `g²`.
 *
 * @example
 * ```ts
 * import { scaleByFactoredRms } from "./adafactor.ts";
 * const factored = scaleByFactoredRms({ beta2Decay: -0.8, eps1: 1.1920929e-7, d: 1 });
 * console.assert(typeof factored.init === "function");
 * ```
 */
export function scaleByFactoredRms(options: FactoredRmsOptions): Transform {
  const { beta2Decay, eps1, d } = options;
  return {
    init(param): Slots {
      if (param.rank < 2) return { variance: tf.zerosLike(param) };
      const shape = param.shape;
      const rows = [...shape.slice(0, -1), 1];
      const columns = [...shape.slice(0, -2), 1, shape[shape.length - 1]];
      return { row_var: tf.zeros(rows), col_var: tf.zeros(columns) };
    },
    update(grad, slots, { step }) {
      const weight = step ** beta2Decay; // 1 - beta2_t
      const lerp = (from: tf.Tensor, to: tf.Tensor) =>
        tf.add(from, tf.mul(tf.sub(to, from), weight));
      const squared = tf.square(grad);
      let estimate: tf.Tensor;
      let own: Record<string, tf.Tensor>;
      if (grad.rank < 2) {
        estimate = lerp(slots.variance, squared);
        own = { variance: estimate };
      } else {
        const rowVar = lerp(slots.row_var, tf.mean(squared, -1, true));
        const colVar = lerp(slots.col_var, tf.mean(squared, -2, true));
        const rowMean = tf.maximum(tf.mean(rowVar, -2, true), eps1);
        estimate = tf.div(tf.mul(rowVar, colVar), rowMean);
        own = { row_var: rowVar, col_var: colVar };
      }
      const scaled = tf.mul(grad, tf.rsqrt(tf.maximum(estimate, eps1 * eps1)));
      const rms = tf.sqrt(tf.mean(tf.square(scaled)));
      return [tf.div(scaled, tf.maximum(tf.div(rms, d), 1)), own];
    },
  };
}

/**
 * Adafactor's step: multiplies by `-max(eps2, RMS(param)) * min(lr, 1 / sqrt(step))`, so the
 * step is relative to the parameter's scale. It replaces `scaleByLearningRate`.
 *
 * @example
 * ```ts
 * import { scaleByRelativeStep } from "./adafactor.ts";
 * const relative = scaleByRelativeStep({ eps2: 1e-3 });
 * console.assert(typeof relative.update === "function");
 * ```
 */
export function scaleByRelativeStep(options: { eps2: number }): Transform {
  return {
    init: () => ({}),
    update(update, _slots, { param, lr, step }) {
      const rho = Math.min(lr, 1 / Math.sqrt(step));
      const paramRms = tf.sqrt(tf.mean(tf.square(param)));
      const alpha = tf.mul(tf.maximum(paramRms, options.eps2), -rho);
      return [tf.mul(update, alpha), {}];
    },
  };
}
