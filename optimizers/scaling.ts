/**
 * The linear scaling rule (Goyal et al. 2017): multiply the learning rate by
 * `effectiveBatch / baseBatch`. Beyond an effective batch of 8192 the rule was observed to break
 * down, so the result then carries a warning.
 *
 * @module
 */

import { AnnealError } from "../errors.ts";

/** What {@linkcode scaleLearningRate} returns. */
export interface ScaledLearningRate {
  /** The scaled learning rate (`lr * effectiveBatch / baseBatch`). */
  lr: number;
  /** Set when the effective batch is beyond where the linear rule is known to hold. */
  warning?: string;
}

/** Effective batch size above which Goyal et al. saw the linear rule fail. */
export const LINEAR_SCALING_LIMIT = 8192;

/**
 * Scales `lr`, tuned for `baseBatch`, to `effectiveBatch` (batch size times accumulation steps
 * times workers).
 *
 * @example
 * ```ts
 * import { scaleLearningRate } from "./scaling.ts";
 * console.assert(scaleLearningRate(0.1, 256, 1024).lr === 0.4);
 * console.assert(scaleLearningRate(0.1, 256, 16384).warning !== undefined);
 * ```
 */
export function scaleLearningRate(
  lr: number,
  baseBatch: number,
  effectiveBatch: number,
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
  const scaled = lr * effectiveBatch / baseBatch;
  if (effectiveBatch <= LINEAR_SCALING_LIMIT) return { lr: scaled };
  return {
    lr: scaled,
    warning: `effective batch ${effectiveBatch} is above ${LINEAR_SCALING_LIMIT}, where the ` +
      `linear scaling rule is known to break down (Goyal et al. 2017); use a warmup, or LAMB`,
  };
}
