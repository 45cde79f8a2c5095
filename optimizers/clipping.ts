/**
 * Gradient clipping: `clipGradNorm` with torch.nn.utils.clip_grad_norm_'s semantics (one total
 * norm over all gradients, coefficient `maxNorm / (total + 1e-6)` clamped at 1), `clipGradValue`
 * and `AutoClip` (Seetharaman et al. 2020: clip at a percentile of the observed norms).
 *
 * @module
 */

import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { AnnealError } from "../errors.ts";
import { checkArgument } from "../option_names.ts";
import { showValue } from "../zod_paths.ts";

/** What {@linkcode clipGradNorm} returns; the caller owns (and disposes) every tensor. */
export interface ClipResult {
  /** The clipped gradients, in the order given. */
  grads: tf.Tensor[];
  /** The total norm before clipping, still on the device. */
  totalNorm: tf.Scalar;
}

/**
 * The p of a norm clip (Infinity for "inf"), after checking `maxNorm` >= 0 and p > 0; shared by
 * `clipGradNorm` and the host version (`optimizers/host.ts`).
 */
export function clipNormOrder(maxNorm: number, normType: number | "inf"): number {
  const p = normType === "inf" ? Infinity : normType;
  // (a string "1" was told it must be >= 0, "current value is 1"; a string "2" as the norm type
  // failed inside tfjs, naming neither)
  if (typeof maxNorm !== "number" || !Number.isFinite(maxNorm) || maxNorm < 0) {
    throw new AnnealError(
      "usage",
      `Cannot clip gradients: 'maxNorm' must be a number >= 0, current value is ${
        showValue(maxNorm)
      }`,
    );
  }
  if (typeof p !== "number" || !(p > 0)) {
    throw new AnnealError(
      "usage",
      `Cannot clip gradients: 'normType' must be a number > 0 or "inf", current value is ${
        showValue(normType)
      }`,
    );
  }
  return p;
}

/** Checks a value clip's bound (>= 0, finite). */
export function checkClipValue(clipValue: number): void {
  if (typeof clipValue !== "number" || !Number.isFinite(clipValue) || clipValue < 0) {
    throw new AnnealError(
      "usage",
      `Cannot clip gradients: 'clipValue' must be a number >= 0, current value is ${
        showValue(clipValue)
      }`,
    );
  }
}

/**
 * Scales all gradients by `min(1, maxNorm / (totalNorm + 1e-6))`, where `totalNorm` is the
 * `normType`-norm of the per-gradient norms (`Infinity` or `"inf"`: the largest magnitude).
 * Nothing is read back to the CPU; the inputs are not disposed.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
 * import { clipGradNorm } from "./clipping.ts";
 * await tf.setBackend("cpu");
 * const { grads, totalNorm } = clipGradNorm([tf.tensor1d([3, 4])], 1);
 * console.assert(Math.abs(totalNorm.dataSync()[0] - 5) < 1e-6);
 * console.assert(Math.abs(grads[0].dataSync()[0] - 0.6) < 1e-5);
 * ```
 */
export function clipGradNorm(
  grads: tf.Tensor[],
  maxNorm: number,
  normType: number | "inf" = 2,
): ClipResult {
  checkGradients(grads);
  const p = clipNormOrder(maxNorm, normType);
  return tf.tidy(() => {
    if (grads.length === 0) return { grads: [], totalNorm: tf.scalar(0) };
    const norms = tf.stack(grads.map((grad) => vectorNorm(tf.reshape(grad, [-1]), p)));
    const totalNorm = vectorNorm(norms, p) as tf.Scalar;
    const coefficient = tf.minimum(tf.div(maxNorm, tf.add(totalNorm, 1e-6)), 1);
    return { grads: grads.map((grad) => tf.mul(grad, coefficient)), totalNorm };
  });
}

/** Refuses gradients that are not an array (a plain-JS caller's map or single tensor). */
function checkGradients(grads: unknown): void {
  checkArgument(
    Array.isArray(grads),
    grads,
    "clip the gradients",
    "grads",
    "an array of tensors",
    "pass the gradients as an array, e.g. Object.values(tf.variableGrads(f).grads)",
  );
}

function vectorNorm(vector: tf.Tensor, p: number): tf.Tensor {
  // (tfjs's max of no values is NaN, which made every clipped gradient NaN; the host clip's, and
  // every other order's, norm of an empty gradient is 0)
  if (p === Infinity) return vector.size === 0 ? tf.scalar(0) : tf.max(tf.abs(vector));
  if (p === 2) return tf.sqrt(tf.sum(tf.square(vector)));
  if (p === 1) return tf.sum(tf.abs(vector));
  return tf.pow(tf.sum(tf.pow(tf.abs(vector), p)), 1 / p);
}

/**
 * Clamps every gradient element to `[-clipValue, clipValue]` (torch's clip_grad_value_).
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
 * import { clipGradValue } from "./clipping.ts";
 * await tf.setBackend("cpu");
 * const [clipped] = clipGradValue([tf.tensor1d([-3, 0.5])], 1);
 * console.assert(clipped.dataSync()[0] === -1);
 * ```
 */
export function clipGradValue(grads: tf.Tensor[], clipValue: number): tf.Tensor[] {
  checkGradients(grads);
  checkClipValue(clipValue);
  return tf.tidy(() => grads.map((grad) => tf.clipByValue(grad, -clipValue, clipValue)));
}

/**
 * AutoClip: the clipping threshold is the `percentile` (0-100, linear interpolation as numpy's
 * default) of every gradient norm observed so far. Non-finite norms are not recorded.
 *
 * @example
 * ```ts
 * import { AutoClip } from "./clipping.ts";
 * const autoClip = new AutoClip(50);
 * for (const norm of [1, 3, 2]) autoClip.observe(norm);
 * console.assert(autoClip.threshold() === 2);
 * ```
 */
export class AutoClip {
  /** Percentile (0-100) of the observed norms used as the clip threshold. */
  readonly percentile: number;
  #sorted: number[] = [];

  /** `norms` restores the observations of a checkpoint ({@linkcode AutoClip.norms}). */
  constructor(percentile: number, norms: readonly number[] = []) {
    // (0, 100], as the config's autoPercentile: at 0 every step is clipped to the smallest norm
    if (
      typeof percentile !== "number" || !Number.isFinite(percentile) || percentile <= 0 ||
      percentile > 100
    ) {
      throw new AnnealError(
        "config",
        `Cannot create AutoClip: 'percentile' must be a number in (0, 100], current value is ${
          showValue(percentile)
        }`,
        { hint: "the AutoClip paper uses 10" },
      );
    }
    this.percentile = percentile;
    for (const norm of norms) this.observe(norm);
  }

  /**
   * Records one gradient norm. A non-finite one (a step that overflowed) is not recorded; a
   * negative one, which no norm is, or a value not a number, is an `AnnealError` (`usage`): it
   * would have lowered the threshold below every real norm.
   */
  observe(norm: number): void {
    if (typeof norm !== "number" || norm < 0) {
      throw new AnnealError(
        "usage",
        `Cannot observe the gradient norm ${showValue(norm)}: a norm is >= 0`,
        { hint: "pass the gradient's norm (clipGradNorm's totalNorm), not a loss or a change" },
      );
    }
    if (!Number.isFinite(norm)) return;
    let low = 0;
    let high = this.#sorted.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.#sorted[middle] <= norm) low = middle + 1;
      else high = middle;
    }
    this.#sorted.splice(low, 0, norm);
  }

  /** The current threshold, or undefined before the first observation. */
  threshold(): number | undefined {
    const count = this.#sorted.length;
    if (count === 0) return undefined;
    const rank = (this.percentile / 100) * (count - 1);
    const below = Math.floor(rank);
    const above = Math.min(below + 1, count - 1);
    return this.#sorted[below] + (this.#sorted[above] - this.#sorted[below]) * (rank - below);
  }

  /** The observed norms in ascending order (JSON-safe, for checkpoints). */
  get norms(): readonly number[] {
    return [...this.#sorted];
  }
}
