/**
 * torch `OneCycleLR` in closed form: two phases (fastai's default) or three (the paper's),
 * cosine or linear annealing, with momentum (or Adam's beta1) cycled inversely to the
 * learning rate.
 *
 * @module
 */

import { AnnealError } from "../errors.ts";
import type { LrFunction } from "./decay.ts";
import { oneCyclePhaseEnds } from "./raises.ts";
import type { ChildSpecOf } from "./spec.ts";

type Level = "initial" | "max" | "min";
interface Phase {
  endStep: number;
  lr: [Level, Level];
  momentum: ["max" | "base", "max" | "base"];
}

/** The learning rate and momentum curves of a one-cycle schedule. */
export interface OneCycle {
  lr: LrFunction;
  /** Present when `cycleMomentum` is true. */
  momentum?: LrFunction;
}

function phasesOf(spec: ChildSpecOf<"onecycle">): Phase[] {
  const ends = oneCyclePhaseEnds(spec.pctStart, spec.totalSteps, spec.threePhase);
  if (!spec.threePhase) {
    return [
      { endStep: ends[0], lr: ["initial", "max"], momentum: ["max", "base"] },
      { endStep: ends[1], lr: ["max", "min"], momentum: ["base", "max"] },
    ];
  }
  return [
    { endStep: ends[0], lr: ["initial", "max"], momentum: ["max", "base"] },
    { endStep: ends[1], lr: ["max", "initial"], momentum: ["base", "max"] },
    { endStep: ends[2], lr: ["initial", "min"], momentum: ["max", "max"] },
  ];
}

/**
 * Builds the one-cycle curves. Like torch, the schedule ignores the optimizer's own learning
 * rate: it starts at `maxLr / divFactor` and ends near `maxLr / divFactor / finalDivFactor`.
 * Asking for a step past `totalSteps` throws, as torch does. Phases shorter than a step are run as
 * torch runs them: with `pctStart * totalSteps < 1` the warmup ends before step 0, so step 0 is
 * already in the annealing phase, past `maxLr`.
 *
 * @example
 * ```ts
 * import { SchedulerSpecSchema } from "./spec.ts";
 * import { oneCycle } from "./onecycle.ts";
 * const spec = SchedulerSpecSchema.parse({ name: "onecycle", maxLr: 0.1, totalSteps: 100 });
 * const { lr, momentum } = oneCycle(spec as Extract<typeof spec, { name: "onecycle" }>);
 * console.assert(Math.abs(lr(0) - 0.004) < 1e-12 && momentum!(0) === 0.95);
 * ```
 */
export function oneCycle(spec: ChildSpecOf<"onecycle">): OneCycle {
  const initial = spec.maxLr / spec.divFactor;
  const lrLevels: Record<Level, number> = {
    initial,
    max: spec.maxLr,
    min: initial / spec.finalDivFactor,
  };
  const momentumLevels = { max: spec.maxMomentum, base: spec.baseMomentum };
  const anneal = spec.annealStrategy === "cos" ? annealCos : annealLinear;
  const phases = phasesOf(spec);

  const locate = (t: number): { phase: Phase; pct: number } => {
    if (t > spec.totalSteps) {
      throw new AnnealError(
        "usage",
        `Cannot compute onecycle schedule: step ${t} is past 'totalSteps', current value is ${spec.totalSteps}`,
        {
          where: "totalSteps",
          hint: "set 'totalSteps' to the number of optimizer steps of the run",
        },
      );
    }
    let start = 0;
    for (const [i, phase] of phases.entries()) {
      if (t <= phase.endStep || i === phases.length - 1) {
        return { phase, pct: (t - start) / (phase.endStep - start) };
      }
      start = phase.endStep;
    }
    throw new AnnealError("internal", "onecycle has no phases");
  };

  const lr: LrFunction = (t) => {
    const { phase, pct } = locate(t);
    return anneal(lrLevels[phase.lr[0]], lrLevels[phase.lr[1]], pct);
  };
  if (!spec.cycleMomentum) return { lr };
  const momentum: LrFunction = (t) => {
    const { phase, pct } = locate(t);
    return anneal(momentumLevels[phase.momentum[0]], momentumLevels[phase.momentum[1]], pct);
  };
  return { lr, momentum };
}

function annealCos(start: number, end: number, pct: number): number {
  return end + (start - end) / 2 * (Math.cos(Math.PI * pct) + 1);
}

function annealLinear(start: number, end: number, pct: number): number {
  return (end - start) * pct + start;
}
