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
