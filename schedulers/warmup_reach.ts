/**
 * A warmup that the run never finishes: `warmupCosine` and `warmupLinear` climb from 0 to the base
 * rate over `warmupSteps`, and a run of T steps (epochs, under `interval: "epoch"`) steps them at
 * 0 .. T - 1. Where `warmupSteps` >= T the run trains at (T - 1) / warmupSteps of `optimizer.lr`
 * at most, and never decays: Hugging Face's schedules take it without a word (neither does
 * anneal refuse it), but it is seldom meant, and it reads as a learning rate too low.
 *
 * @module
 */

import type { RunLength } from "./raises.ts";
import { type ScheduleNote, scheduleReach } from "./reach.ts";
import type { ResolvedSchedulerSpec } from "./spec.ts";

/**
 * The note for a run of length `run` under `spec` when the spec is a warmup the run never
 * finishes (`warmupSteps` >= the steps or epochs the run steps it), else undefined. Its `set` is
 * the fix: a warmup of a tenth of the run, over the run.
 *
 * @example
 * ```ts
 * import { warmupBeyondRun } from "./warmup_reach.ts";
 * import { parseSchedulerSpec } from "./parse.ts";
 * const spec = parseSchedulerSpec({ name: "warmupCosine", warmupSteps: 1000, totalSteps: 2000 });
 * const note = warmupBeyondRun(spec, { stepsPerEpoch: 13, epochs: 3 });
 * console.assert(note!.set.join(" ") === "scheduler.warmupSteps=4 scheduler.totalSteps=39");
 * console.assert(warmupBeyondRun(spec, { stepsPerEpoch: 13, epochs: 100 }) === undefined);
 * ```
 */
export function warmupBeyondRun(
  spec: ResolvedSchedulerSpec | undefined,
  run: RunLength,
): ScheduleNote & { set: string[] } | undefined {
  if (spec?.name !== "warmupCosine" && spec?.name !== "warmupLinear") return undefined;
  const reach = scheduleReach(spec, run);
  const { warmupSteps, totalSteps } = spec;
  if (reach === undefined || warmupSteps < reach.steps) return undefined;
  const reached = reach.steps;
  const highest = Number((100 * (reached - 1) / warmupSteps).toPrecision(3));
  const warmup = Math.max(1, Math.round(reached / 10));
  const set = [`scheduler.warmupSteps=${warmup}`];
  if (totalSteps !== reached) set.push(`scheduler.totalSteps=${reached}`);
  return {
    message: `scheduler.warmupSteps ${warmupSteps} is as long as the run or longer: the run ` +
      `takes ${reach.length}, so its rate climbs to ${highest}% of optimizer.lr at most, ` +
      "and never decays",
    hint: `warm up over a part of the run (${
      set.map((s) => `--set ${s}`).join(" ")
    }), or train longer`,
    set,
  };
}
