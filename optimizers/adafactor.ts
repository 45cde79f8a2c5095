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
 * outer product of the row and column means of `g²` (over the two axes {@linkcode factoredAxes}
 * names: torch's last two) divided by the mean of the rows; for rank < 2 it is the full running
 * mean of `g²`.
 *
 * @example
 * ```ts
 * import { scaleByFactoredRms } from "./adafactor.ts";
 * const factored = scaleByFactoredRms({ beta2Decay: -0.8, eps1: 1.1920929e-7, d: 1 });
 * console.assert(typeof factored.init === "function");
 * ```
 */
/**
 * The axes torch.optim.Adafactor factors a parameter's second moment over, in anneal's (tfjs's)
 * layout: torch's last axis (`row`, the one each row's mean is taken along) and the one before it
 * (`column`). A matrix's are its two, either way round: its estimate is symmetric in them (the
 * rows' means and the columns' means have the same mean), so a dense kernel `[in, out]` factors as
 * torch's `[out, in]`. A convolution's kernel is `[...spatial, in, out]` where torch's is
 * `[out, in, ...spatial]`: torch factors over its last two axes, a 2-D kernel's height and width
 * (a 1-D kernel's `in` and width), not over anneal's last two, `in` and `out`.
 *
 * @example
 * ```ts
 * import { factoredAxes } from "./adafactor.ts";
 * // a conv kernel [kh, kw, in, out]: torch's [out, in, kh, kw] ends in kh, kw
 * console.assert(factoredAxes(4).row === 1 && factoredAxes(4).column === 0);
 * console.assert(factoredAxes(2).row === 1 && factoredAxes(2).column === 0);
 * ```
 */
export function factoredAxes(rank: number): { row: number; column: number } {
  if (rank === 2) return { row: 1, column: 0 };
  if (rank === 3) return { row: 0, column: 1 };
  return { row: rank - 3, column: rank - 4 };
}

export function scaleByFactoredRms(options: FactoredRmsOptions): Transform {
  const { beta2Decay, eps1, d } = options;
  return {
    init(param): Slots {
      if (param.rank < 2) return { variance: tf.zerosLike(param) };
      const { row, column } = factoredAxes(param.rank);
      const rows = param.shape.map((size, axis) => (axis === row ? 1 : size));
      const columns = param.shape.map((size, axis) => (axis === column ? 1 : size));
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
        const { row, column } = factoredAxes(grad.rank);
        const rowVar = lerp(slots.row_var, tf.mean(squared, row, true));
        const colVar = lerp(slots.col_var, tf.mean(squared, column, true));
        const rowMean = tf.maximum(tf.mean(rowVar, column, true), eps1);
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
