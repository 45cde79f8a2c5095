/**
 * What the start of a run says of a schedule that does not fit the run's length, torch-valid but
 * seldom meant: a warmup the run never finishes (`warmup_reach.ts`), a cosine it outlasts
 * (`cosine_reach.ts`), a decay counted in steps that takes the rate all but to 0
 * (`decay_reach.ts`), an anneal cut well short of its end (`anneal_reach.ts`). Each reads the
 * run's length as {@linkcode scheduleReach} gives it, and says what it found as a
 * {@linkcode ScheduleNote}.
 *
 * @module
 */

import { type RunLength, scheduleSteps } from "./raises.ts";
import type { ResolvedSchedulerSpec } from "./spec.ts";

/** What a warning at the run's start says of its schedule: what, and how to fix it. */
export interface ScheduleNote {
  message: string;
  hint: string;
  /** The `--set` overrides of the fix, where the hint names one fix to apply as it is. */
  set?: string[];
}

/** How far a run steps its schedule. */
export interface ScheduleReach {
  /** How many times the run steps it ({@linkcode scheduleSteps}): at its steps 0 .. steps - 1. */
  steps: number;
  /** What one of them counts: an optimizer step, or an epoch under `interval: "epoch"`. */
  unit: "optimizer step" | "epoch";
  /** `steps` in words, as a message says it: "80 optimizer steps", "1 epoch". */
  length: string;
}

/**
 * How far a run of length `run` steps `spec` (counted in its `interval`'s units), or undefined
 * where there is nothing to note: the run's length is not known (no step an epoch) or it steps
 * the schedule at no step.
 *
 * @example
 * ```ts
 * import { scheduleReach } from "./reach.ts";
 * import { parseSchedulerSpec } from "./parse.ts";
 * const spec = parseSchedulerSpec({ name: "cosine", tMax: 10, interval: "epoch" });
 * console.assert(scheduleReach(spec, { stepsPerEpoch: 13, epochs: 1 })!.length === "1 epoch");
 * console.assert(scheduleReach(spec, { stepsPerEpoch: 0, epochs: 5 }) === undefined);
 * ```
 */
export function scheduleReach(
  spec: ResolvedSchedulerSpec,
  run: RunLength,
): ScheduleReach | undefined {
  if (run.stepsPerEpoch <= 0) return undefined;
  // (every schedule these notes judge has an interval; plateau's, which has none, is none of them)
  const interval = spec.interval ?? "step";
  const steps = scheduleSteps(interval, run);
  if (steps <= 0) return undefined;
  const unit = interval === "epoch" ? "epoch" : "optimizer step";
  return { steps, unit, length: `${steps} ${unit}${steps === 1 ? "" : "s"}` };
}
