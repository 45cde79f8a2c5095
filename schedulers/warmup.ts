/**
 * Hugging Face transformers' warmup schedules (`transformers/optimization.py`):
 * `get_cosine_schedule_with_warmup` and `get_linear_schedule_with_warmup`. Both are a
 * `LambdaLR`, so the learning rate is `baseLr * factor(t)`.
 *
 * @module
 */

import type { LrFunction } from "./decay.ts";
import type { ChildSpecOf } from "./spec.ts";

function warmupFactor(t: number, warmupSteps: number): number {
  return t / Math.max(1, warmupSteps);
}

/**
 * Linear warmup from 0 over `warmupSteps`, then a cosine with `numCycles` periods (0.5: one
 * half-cosine down to 0) until `totalSteps`; never below 0.
 *
 * @example
 * ```ts
 * import { warmupCosineLr } from "./warmup.ts";
 * const lr = warmupCosineLr(
 *   { name: "warmupCosine", interval: "step", warmupSteps: 10, totalSteps: 110, numCycles: 0.5 },
 *   1,
 * );
 * console.assert(lr(0) === 0 && lr(5) === 0.5 && lr(10) === 1 && lr(110) === 0);
 * ```
 */
export function warmupCosineLr(spec: ChildSpecOf<"warmupCosine">, baseLr: number): LrFunction {
  const { warmupSteps, totalSteps, numCycles } = spec;
  return (t) => {
    if (t < warmupSteps) return baseLr * warmupFactor(t, warmupSteps);
    const progress = (t - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
    return baseLr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * numCycles * 2 * progress)));
  };
}

/**
 * Linear warmup from 0 over `warmupSteps`, then linear decay to 0 at `totalSteps`; 0 after.
 *
 * @example
 * ```ts
 * import { warmupLinearLr } from "./warmup.ts";
 * const lr = warmupLinearLr(
 *   { name: "warmupLinear", interval: "step", warmupSteps: 10, totalSteps: 20 },
 *   1,
 * );
 * console.assert(lr(5) === 0.5 && lr(15) === 0.5 && lr(30) === 0);
 * ```
 */
export function warmupLinearLr(spec: ChildSpecOf<"warmupLinear">, baseLr: number): LrFunction {
  const { warmupSteps, totalSteps } = spec;
  return (t) => {
    if (t < warmupSteps) return baseLr * warmupFactor(t, warmupSteps);
    return baseLr * Math.max(0, (totalSteps - t) / Math.max(1, totalSteps - warmupSteps));
  };
}
