/**
 * A decay that takes the rate all but to 0 within the run, counted in optimizer steps where its
 * numbers read as epochs: torch's StepLR, MultiStepLR and ExponentialLR are most often stepped
 * once an epoch (`stepSize` 30, `milestones` [30, 60], `gamma` 0.95 an epoch), and anneal's
 * default `interval` counts optimizer steps. Such a schedule decays the rate a thousandfold or
 * more within the first epochs, and the run trains on at a rate that moves nothing, without a
 * word. torch runs what it is given, and so does anneal; the start of the run says where the
 * rate ends and how to step the schedule once an epoch.
 *
 * @module
 */

import { type RunLength, scheduleSteps } from "./raises.ts";
import { type ScheduleNote, scheduleReach } from "./reach.ts";
import { resolvedSchedule } from "./closed_form.ts";
import type { ResolvedSchedulerSpec } from "./spec.ts";

/** The rate at the run's last step, as a fraction of the base, at or below which a decay is noted. */
export const DECAYED_AWAY = 1e-3;

/**
 * The note for a run of length `run` under `spec` when the spec is a step, multistep or
 * exponential decay counted in optimizer steps (over more than one step an epoch) that ends the
 * run at or below {@linkcode DECAYED_AWAY} of the base rate, and whose numbers would fit the run as
 * epochs (`stepSize` or every milestone at most its epochs); else undefined.
 *
 * @example
 * ```ts
 * import { decayBeyondRun } from "./decay_reach.ts";
 * import { parseSchedulerSpec } from "./parse.ts";
 * // ResNet's recipe, milestones in epochs, stepped per optimizer step: 0.001 of the rate by step 90
 * const spec = parseSchedulerSpec({ name: "multistep", milestones: [30, 60, 90] });
 * console.assert(decayBeyondRun(spec, { stepsPerEpoch: 390, epochs: 100 }) !== undefined);
 * console.assert(decayBeyondRun({ ...spec, interval: "epoch" }, { stepsPerEpoch: 390, epochs: 100 }) === undefined);
 * ```
 */
export function decayBeyondRun(
  spec: ResolvedSchedulerSpec | undefined,
  run: RunLength,
): ScheduleNote | undefined {
  if (spec?.name !== "step" && spec?.name !== "multistep" && spec?.name !== "exponential") {
    return undefined;
  }
  // only a decay (0 < gamma < 1): a gamma of 0, negative or above 1 is a choice torch's
  // semantics describe (see the README's settings at their edges), not a unit mixed up
  if (spec.interval !== "step" || run.stepsPerEpoch <= 1 || !(spec.gamma > 0 && spec.gamma < 1)) {
    return undefined;
  }
  const reach = scheduleReach(spec, run);
  if (reach === undefined) return undefined;
  const steps = reach.steps;
  const epochs = scheduleSteps("epoch", run);
  const last = resolvedSchedule(spec, 1).lrAt(Math.max(0, steps - 1));
  // (three decays by 0.1 count: 0.1 ** 3 is a hair above 1e-3 in floats)
  if (!(last <= DECAYED_AWAY * (1 + 1e-9))) return undefined;
  const setting = spec.name === "step"
    ? { reads: "stepSize counts epochs", fits: Math.abs(spec.stepSize) <= epochs }
    : spec.name === "multistep"
    ? { reads: "the milestones are epochs", fits: spec.milestones.every((m) => m <= epochs) }
    : { reads: "gamma is a decay per epoch", fits: true };
  if (!setting.fits) return undefined;
  // a rate that underflows to 0 is shown by its decays (at steps 1 .. steps - 1)
  const shown = last > 0
    ? `${Number(last.toPrecision(2))}`
    : `about 1e${Math.floor(decayCount(spec, steps - 1) * Math.log10(spec.gamma))} (0 in floats)`;
  return {
    message: `scheduler ${spec.name} counts optimizer steps (interval "step"), ${steps} in the ` +
      `run: its decays take the rate to ${shown} of optimizer.lr by the last step`,
    hint: `if ${setting.reads}, as torch's ${
      { step: "StepLR", multistep: "MultiStepLR", exponential: "ExponentialLR" }[spec.name]
    } is most often stepped, step it once an epoch (--set scheduler.interval=epoch)`,
  };
}

/** How many times a step, multistep or exponential schedule has decayed by step `t`. */
function decayCount(
  spec: Extract<ResolvedSchedulerSpec, { name: "step" | "multistep" | "exponential" }>,
  t: number,
): number {
  if (spec.name === "exponential") return t;
  if (spec.name === "step") return Math.floor(t / Math.abs(spec.stepSize));
  return spec.milestones.filter((m) => m > 0 && m <= t).length;
}
