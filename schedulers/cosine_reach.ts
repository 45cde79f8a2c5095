/**
 * A cosine that the run outlasts: torch's CosineAnnealingLR goes on past `T_max` as a cosine, back
 * up towards the base rate and down again every `2 * T_max` steps, and so does anneal's (see
 * `cosine.ts`). A run of T steps (epochs, under `interval: "epoch"`) steps it at 0 .. T - 1, so
 * a `tMax` below T - 1 takes the rate back up before the run ends. torch runs it so, and so does
 * anneal, but it is seldom meant: most often `tMax` counts epochs while the schedule counts
 * optimizer steps (anneal's default `interval`), and the rate swings up and down every epoch or
 * so. The start of the run says so.
 *
 * @module
 */

import { type RunLength, scheduleSteps } from "./raises.ts";
import { type ScheduleNote, scheduleReach } from "./reach.ts";
import type { ResolvedSchedulerSpec } from "./spec.ts";

/**
 * The note for a run of length `run` under `spec` when the spec is a cosine whose `tMax` ends
 * before the run's last step, else undefined.
 *
 * @example
 * ```ts
 * import { cosineBeyondRun } from "./cosine_reach.ts";
 * import { parseSchedulerSpec } from "./parse.ts";
 * const spec = parseSchedulerSpec({ name: "cosine", tMax: 50 });
 * // 50 epochs of 13 steps: tMax reads as epochs, the schedule counts steps
 * const note = cosineBeyondRun(spec, { stepsPerEpoch: 13, epochs: 50 });
 * console.assert(note!.hint.includes("--set scheduler.interval=epoch"));
 * console.assert(cosineBeyondRun(spec, { stepsPerEpoch: 1, epochs: 50 }) === undefined);
 * ```
 */
export function cosineBeyondRun(
  spec: ResolvedSchedulerSpec | undefined,
  run: RunLength,
): ScheduleNote | undefined {
  if (spec?.name !== "cosine") return undefined;
  const reach = scheduleReach(spec, run);
  if (reach === undefined) return undefined;
  const { steps: reached, unit } = reach;
  // torch's cosine is even in tMax: a negative one runs as its size
  const tMax = Math.abs(spec.tMax);
  // the last step the run takes is reached - 1: at tMax it is at etaMin, past it it climbs
  if (!(tMax < reached - 1)) return undefined;
  const fixes = [`set tMax to the run's length (--set scheduler.tMax=${reached})`];
  if (spec.interval === "step" && tMax >= scheduleSteps("epoch", run)) {
    fixes.push(
      "if tMax counts epochs, step the cosine once an epoch (--set scheduler.interval=epoch)",
    );
  }
  const turns = Math.floor((reached - 1) / tMax);
  return {
    message: `scheduler.tMax ${spec.tMax} is shorter than the run, which takes ${reach.length}: ` +
      `after ${unit} ${tMax} the cosine climbs back up towards optimizer.lr, and ` +
      `turns ${turns} time${turns === 1 ? "" : "s"} in the run, as torch's CosineAnnealingLR does`,
    hint: `${fixes.join(", or ")}; for restarts by design, use cosineWarmRestarts`,
  };
}

/**
 * The note for a run of length `run` under `spec` when the spec is a warmupCosine whose cosine
 * falls to 0 before the run's last step and climbs back up after it: Hugging Face's
 * `get_cosine_schedule_with_warmup` goes on past `totalSteps` as a cosine, and so does anneal's
 * (`warmup.ts`), back up to `optimizer.lr` and down again; with `totalSteps` at or below
 * `warmupSteps` its cosine lasts one step, and the rate is 0 and `optimizer.lr` by turns. A
 * `numCycles` above 0.5 climbs back within `totalSteps` by design: not noted.
 *
 * @example
 * ```ts
 * import { warmupCosineBeyondRun } from "./cosine_reach.ts";
 * import { parseSchedulerSpec } from "./parse.ts";
 * const spec = parseSchedulerSpec({ name: "warmupCosine", warmupSteps: 2, totalSteps: 5 });
 * console.assert(warmupCosineBeyondRun(spec, { stepsPerEpoch: 13, epochs: 5 })!.hint.includes(
 *   "--set scheduler.totalSteps=65",
 * ));
 * console.assert(warmupCosineBeyondRun(spec, { stepsPerEpoch: 1, epochs: 6 }) === undefined);
 * ```
 */
export function warmupCosineBeyondRun(
  spec: ResolvedSchedulerSpec | undefined,
  run: RunLength,
): ScheduleNote | undefined {
  if (spec?.name !== "warmupCosine") return undefined;
  const reach = scheduleReach(spec, run);
  if (reach === undefined) return undefined;
  const { warmupSteps, totalSteps, unit } = { ...spec, unit: reach.unit };
  // (the cosine is even in numCycles; 0 keeps the rate at optimizer.lr)
  const cycles = Math.abs(spec.numCycles);
  if (!(cycles > 0) || cycles > 0.5) return undefined;
  // the rate is 0 where the cosine's progress is 1 / (2 x numCycles), and climbs after it
  const zero = warmupSteps + Math.max(1, totalSteps - warmupSteps) / (2 * cycles);
  if (!(zero < reach.steps - 1)) return undefined;
  const short = totalSteps <= warmupSteps
    ? `is not past scheduler.warmupSteps ${warmupSteps}, so its cosine lasts one ${unit}`
    : `is shorter than the run, which takes ${reach.length}`;
  return {
    message: `scheduler.totalSteps ${totalSteps} ${short}: after ${unit} ${
      Number(zero.toPrecision(6))
    } the rate ${
      totalSteps <= warmupSteps
        ? `is optimizer.lr and 0 by turns, each ${unit}`
        : "climbs back up towards optimizer.lr and falls again"
    }, as Hugging Face's get_cosine_schedule_with_warmup does`,
    hint: `set totalSteps to the run's length (--set scheduler.totalSteps=${reach.steps})`,
  };
}
