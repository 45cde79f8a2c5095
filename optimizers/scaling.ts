/**
 * Batch-size scaling rules for the learning rate, tuned at `baseBatch` and used at
 * `effectiveBatch`:
 * - `linear` (Goyal et al. 2017): `lr x effectiveBatch / baseBatch`, the rule for SGD. Beyond an
 *   effective batch of 8192 it was observed to break down, so the result then carries a warning.
 * - `sqrt` (Krizhevsky 2014; Malladi et al. 2022, "On the SDEs and Scaling Rules for Adaptive
 *   Gradient Algorithms"): `lr x sqrt(effectiveBatch / baseBatch)`, the rule for the adaptive
 *   optimizers (Adam and its kin, RMSprop, Adagrad, ...), whose per-coordinate step sizes do not
 *   grow with the gradient's scale as SGD's do: the linear rule overshoots them at large batches.
 *
 * `optimizer.batchScaling` picks the rule; absent, {@linkcode batchScalingOf} gives `linear` for
 * sgd and `sqrt` for every other optimizer.
 *
 * @module
 */

import { AnnealError } from "../errors.ts";

/** A batch-size scaling rule: see the module's documentation. */
export type BatchScaling = "linear" | "sqrt";

/** The rules, as `optimizer.batchScaling` takes them. */
export const BATCH_SCALINGS = ["linear", "sqrt"] as const;

/** What {@linkcode scaleLearningRate} returns. */
export interface ScaledLearningRate {
  /** The scaled learning rate (`lr x effectiveBatch / baseBatch`, or its square root's). */
  lr: number;
  /** Set when the effective batch is beyond where the linear rule is known to hold. */
  warning?: string;
}

/** Effective batch size above which Goyal et al. saw the linear rule fail. */
export const LINEAR_SCALING_LIMIT = 8192;

/**
 * The rule an optimizer's rate scales by: its `batchScaling` when set, else `linear` for sgd
 * (Goyal et al.) and `sqrt` for the adaptive optimizers (Malladi et al.).
 *
 * @example
 * ```ts
 * import { batchScalingOf } from "./scaling.ts";
 * console.assert(batchScalingOf({ name: "sgd" }) === "linear");
 * console.assert(batchScalingOf({ name: "adamw" }) === "sqrt");
 * console.assert(batchScalingOf({ name: "adam", batchScaling: "linear" }) === "linear");
 * ```
 */
export function batchScalingOf(
  optimizer: { name: string; batchScaling?: BatchScaling },
): BatchScaling {
  return optimizer.batchScaling ?? (optimizer.name === "sgd" ? "linear" : "sqrt");
}

/**
 * The factor a rule multiplies the rate by, going from `baseBatch` to `effectiveBatch`, as words:
 * `256 / 64` (linear) or `sqrt(256 / 64)`, for the messages that show the arithmetic.
 */
export function scalingWords(baseBatch: number, effectiveBatch: number, rule: BatchScaling) {
  const ratio = `${effectiveBatch} / ${baseBatch}`;
  return rule === "sqrt" ? `sqrt(${ratio})` : ratio;
}

/**
 * Scales `lr`, tuned for `baseBatch`, to `effectiveBatch` (batch size times accumulation steps
 * times workers) by `rule` (default `linear`).
 *
 * @example
 * ```ts
 * import { scaleLearningRate } from "./scaling.ts";
 * console.assert(scaleLearningRate(0.1, 256, 1024).lr === 0.4);
 * console.assert(scaleLearningRate(0.001, 256, 1024, "sqrt").lr === 0.002);
 * console.assert(scaleLearningRate(0.1, 256, 16384).warning !== undefined);
 * ```
 */
export function scaleLearningRate(
  lr: number,
  baseBatch: number,
  effectiveBatch: number,
  rule: BatchScaling = "linear",
): ScaledLearningRate {
  for (
    const [field, value] of [["baseBatch", baseBatch], ["effectiveBatch", effectiveBatch]] as const
  ) {
    if (!Number.isFinite(value) || value <= 0) {
      throw new AnnealError(
        "config",
        `Cannot scale the learning rate: '${field}' must be > 0, current value is ${value}`,
      );
    }
  }
  if (!Number.isFinite(lr) || lr < 0) {
    throw new AnnealError(
      "config",
      `Cannot scale the learning rate: 'lr' must be >= 0, current value is ${lr}`,
    );
  }
  if (!BATCH_SCALINGS.includes(rule)) {
    throw new AnnealError(
      "config",
      `Cannot scale the learning rate: 'rule' must be one of ${BATCH_SCALINGS.join(", ")}, ` +
        `current value is ${JSON.stringify(rule)}`,
    );
  }
  if (rule === "sqrt") return { lr: lr * Math.sqrt(effectiveBatch / baseBatch) };
  const scaled = lr * effectiveBatch / baseBatch;
  if (effectiveBatch <= LINEAR_SCALING_LIMIT) return { lr: scaled };
  return {
    lr: scaled,
    warning: `effective batch ${effectiveBatch} is above ${LINEAR_SCALING_LIMIT}, where the ` +
      `linear scaling rule is known to break down (Goyal et al. 2017); use a warmup, or LAMB`,
  };
}
