/**
 * A schedule that anneals towards an end the run never gets to: `onecycle` (`totalSteps`),
 * `cosine` (`tMax`), `warmupCosine` and `warmupLinear` (`totalSteps`) and `polynomial`
 * (`totalIters`) take the rate down to their final rate at that step, and `linear` (`totalIters`)
 * from its startFactor to its endFactor, up (torch's warmup idiom) or down, and a run of T steps
 * (epochs, under `interval: "epoch"`) steps them at 0 .. T - 1. A run that ends well before
 * leaves the rate high where it stops: a onecycle near its peak, a cosine halfway down. torch
 * trains it so, and so does anneal (the schedule is cut where the run ends), but it is seldom
 * meant: most often the schedule's length was set for a longer run, or counts steps where the
 * run was shortened. The start of the run says so, with the rate it ends at.
 *
 * @module
 */

import { oneCyclePhaseEnds, type RunLength } from "./raises.ts";
import { type ScheduleNote, scheduleReach } from "./reach.ts";
import { resolvedSchedule } from "./closed_form.ts";
import type { ResolvedSchedulerSpec } from "./spec.ts";

/**
 * The share of its way down (from its highest rate to its final one) that a schedule may still
 * have left where the run ends without a warning: a cosine cut at 80% of `tMax` is within it.
 */
export const LEFT_UNANNEALED = 0.1;

/** The field that sets the step where `spec` reaches its final rate, and that step. */
function annealEnd(
  spec: ResolvedSchedulerSpec,
): { field: string; value: number; end: number; peak: number } | undefined {
  switch (spec.name) {
    case "cosine":
      // torch's cosine is even in tMax: a negative one runs as its size
      return { field: "tMax", value: spec.tMax, end: Math.abs(spec.tMax), peak: 1 };
    case "onecycle": {
      // (torch's last valid step is totalSteps - 1, at the final rate)
      const { totalSteps, maxLr } = spec;
      return { field: "totalSteps", value: totalSteps, end: totalSteps - 1, peak: maxLr };
    }
    case "warmupCosine":
    case "warmupLinear":
      return { field: "totalSteps", value: spec.totalSteps, end: spec.totalSteps, peak: 1 };
    case "linear":
      // (a factor that does not move, startFactor = endFactor, has nothing to be cut short of)
      if (spec.startFactor === spec.endFactor) return undefined;
      return { field: "totalIters", value: spec.totalIters, end: spec.totalIters, peak: 1 };
    case "polynomial":
      // A negative power takes the rate up, without bound, towards totalIters (where torch
      // raises): it has no final rate to be cut short of, and none to compute.
      if (spec.power < 0) return undefined;
      return { field: "totalIters", value: spec.totalIters, end: spec.totalIters, peak: 1 };
    default:
      return undefined;
  }
}

/**
 * The note for a run of length `run` under `spec` when the spec anneals towards a step the run
 * stops well short of (more than {@linkcode LEFT_UNANNEALED} of its way down still to go at the
 * run's last step), else undefined. A warmup the run never finishes is `warmupBeyondRun`'s.
 *
 * @example
 * ```ts
 * import { annealBeyondRun } from "./anneal_reach.ts";
 * import { parseSchedulerSpec } from "./parse.ts";
 * const spec = parseSchedulerSpec({ name: "onecycle", maxLr: 0.1, totalSteps: 2110 });
 * // one epoch of 422 steps of a cycle planned for five: it stops near its peak
 * const note = annealBeyondRun(spec, { stepsPerEpoch: 422, epochs: 1 });
 * console.assert(note!.hint.includes("--set scheduler.totalSteps=422"));
 * console.assert(annealBeyondRun(spec, { stepsPerEpoch: 422, epochs: 5 }) === undefined);
 * ```
 */
export function annealBeyondRun(
  spec: ResolvedSchedulerSpec | undefined,
  run: RunLength,
): ScheduleNote | undefined {
  if (spec === undefined) return undefined;
  const ends = annealEnd(spec);
  if (ends === undefined) return undefined;
  const reach = scheduleReach(spec, run);
  if (reach === undefined) return undefined;
  const reached = reach.steps;
  const last = reached - 1;
  if (last >= ends.end) return undefined;
  if ((spec.name === "warmupCosine" || spec.name === "warmupLinear") && last < spec.warmupSteps) {
    return undefined; // (warmupBeyondRun says it: the rate never gets to its top)
  }
  const schedule = resolvedSchedule(spec, 1);
  const percent = (x: number) => `${Number((100 * x).toPrecision(3))}%`;
  // the setting whose end is the run's last step (a cosine's tMax of the run's length ends one
  // step past it: the hint gave the value it had), and how its length is said
  const fits = Math.max(1, ends.value - (ends.end - last));
  const hint = `set its length to the run's (--set scheduler.${ends.field}=${fits}), or train ` +
    "as long as the schedule";
  const longer = ends.value > reached
    ? `is longer than the run, which takes ${reach.length}`
    : `ends the schedule one step past the run, which takes ${reach.length} (0 to ${last})`;
  if (spec.name === "onecycle") {
    // Cut in its warm-up, the rate is low where the run ends (near maxLr / divFactor), so the
    // share of the way down left below reads as small: the run never got to its peak at all.
    const [peak] = oneCyclePhaseEnds(spec.pctStart, spec.totalSteps, spec.threePhase);
    if (last < peak) {
      return {
        message: `scheduler.totalSteps ${ends.value} ${longer}: the onecycle schedule is cut ` +
          `in its warm-up, at ${
            percent(schedule.lrAt(last) / ends.peak)
          } of maxLr, which it reaches only at step ${Math.ceil(peak)}`,
        hint,
      };
    }
  }
  if (spec.name === "linear") {
    // (either way: a warmup from startFactor up, or a decay down; the share of the way it went)
    const from = schedule.lrAt(0);
    const to = schedule.lrAt(ends.end);
    const gone = (schedule.lrAt(last) - from) / (to - from);
    if (!(gone < 1 - LEFT_UNANNEALED)) return undefined;
    return {
      message: `scheduler.totalIters ${ends.value} ${longer}: the linear schedule is cut ` +
        `where the run ends, at ${percent(schedule.lrAt(last))} of optimizer.lr, ${
          percent(gone)
        } of its way from startFactor ${spec.startFactor} ` +
        `to endFactor ${spec.endFactor}`,
      hint,
    };
  }
  const final = schedule.lrAt(ends.end);
  const left = (schedule.lrAt(last) - final) / (ends.peak - final);
  if (!(left > LEFT_UNANNEALED)) return undefined;
  const rateOf = spec.name === "onecycle" ? "maxLr" : "optimizer.lr";
  return {
    message: `scheduler.${ends.field} ${ends.value} ${longer}: the ` +
      `${spec.name} schedule is cut where the run ends, at ${
        percent(schedule.lrAt(last) / ends.peak)
      } of ${rateOf}, with ${percent(left)} of its way down still to go`,
    hint,
  };
}
