/**
 * A resolved scheduler spec (as `parseSchedulerSpec` returns it, or as a parsed run config holds
 * it) and a base learning rate in, a pure `t -> lr` (and, for one-cycle and cyclic,
 * `t -> momentum`) out. Without the specs' schemas, so that the scheduler actor's Worker need not
 * load zod; `createSchedule` (schedule.ts) validates a spec as a user writes it, then builds here.
 *
 * @module
 */

import { AnnealError } from "../errors.ts";
import { cosineLr, cosineWarmRestartsLr } from "./cosine.ts";
import { constantLr, exponentialLr, linearLr, multistepLr, polynomialLr, stepLr } from "./decay.ts";
import { cyclic } from "./cyclic.ts";
import { oneCycle } from "./onecycle.ts";
import { firstRaise, type ScheduleRaise } from "./raises.ts";
import { joinSchedules, type Piece } from "./sequential.ts";
import type { ChildSchedulerSpec, ResolvedSchedulerSpec } from "./spec.ts";
import { warmupCosineLr, warmupLinearLr } from "./warmup.ts";
import { formatPath } from "../zod_paths.ts";

/** A learning-rate schedule in closed form. */
export interface Schedule {
  /** Whether `t` counts optimizer steps or epochs. */
  readonly interval: "step" | "epoch";
  /** The learning rate after `t` scheduler steps (torch's `last_epoch`; `t = 0` is the start). */
  lrAt(t: number): number;
  /** Momentum (SGD) or beta1 (Adam family) after `t` steps; only for momentum-cycling schedules. */
  momentumAt?(t: number): number;
}

/**
 * Throws unless `baseLr` is a rate a schedule can start from (finite, 0 or more); `name` is the
 * schedule's, for the message.
 */
export function checkBaseLr(name: unknown, baseLr: number): void {
  if (!(Number.isFinite(baseLr) && baseLr >= 0)) {
    throw new AnnealError(
      "config",
      `Cannot create ${
        name ?? "the"
      } schedule: 'baseLr' must be a finite number >= 0, current value is ${baseLr}`,
      { where: "lr", hint: "set the optimizer's 'lr' to a positive number" },
    );
  }
}

/**
 * The schedule of a resolved spec (defaults filled in, validated) for an optimizer whose
 * learning rate is `baseLr`. `plateau` depends on metrics, not on `t`: see plateau_rule.ts.
 *
 * @example
 * ```ts
 * import { resolvedSchedule } from "./closed_form.ts";
 * const schedule = resolvedSchedule(
 *   { name: "step", stepSize: 10, gamma: 0.5, interval: "step" },
 *   0.1,
 * );
 * console.assert(schedule.lrAt(0) === 0.1 && schedule.lrAt(10) === 0.05);
 * ```
 */
export function resolvedSchedule(resolved: ResolvedSchedulerSpec, baseLr: number): Schedule {
  checkBaseLr(resolved.name, baseLr);
  if (resolved.name === "plateau") {
    throw new AnnealError(
      "usage",
      "Cannot create plateau schedule: it depends on metrics, not on the step count",
      { where: "name", hint: "use initPlateau/stepPlateau (or previewSchedule with metrics)" },
    );
  }
  const piece = resolved.name === "cyclic"
    ? cyclic(resolved)
    : resolved.name === "sequential"
    ? joinSchedules(
      resolved.schedulers.map((child, i) => pieceOf(child, baseLr, i > 0)),
      resolved.milestones,
    )
    : pieceOf(resolved, baseLr, false);
  const raise = firstRaise(resolved);
  const lrAt = (t: number) => piece.lr(checkStep(t, resolved.name, raise));
  if (!piece.momentum) return { interval: resolved.interval, lrAt };
  const momentum = piece.momentum;
  return {
    interval: resolved.interval,
    lrAt,
    momentumAt: (t) => momentum(checkStep(t, resolved.name, raise)),
  };
}

/**
 * One schedule's curves; `restarted`: it is a sequential's later schedule, which torch restarts
 * at its milestone with its closed form (see decay.ts).
 */
function pieceOf(spec: ChildSchedulerSpec, baseLr: number, restarted: boolean): Piece {
  switch (spec.name) {
    case "constant":
      return { lr: constantLr(spec, baseLr, restarted) };
    case "step":
      return { lr: stepLr(spec, baseLr) };
    case "multistep":
      return { lr: multistepLr(spec, baseLr, restarted) };
    case "exponential":
      return { lr: exponentialLr(spec, baseLr) };
    case "cosine":
      return { lr: cosineLr(spec, baseLr) };
    case "cosineWarmRestarts":
      return { lr: cosineWarmRestartsLr(spec, baseLr) };
    case "linear":
      return { lr: linearLr(spec, baseLr, restarted) };
    case "polynomial":
      return { lr: polynomialLr(spec, baseLr, restarted) };
    case "onecycle":
      return oneCycle(spec);
    case "warmupCosine":
      return { lr: warmupCosineLr(spec, baseLr) };
    case "warmupLinear":
      return { lr: warmupLinearLr(spec, baseLr) };
  }
}

/** `t`, if the schedule has a rate there: torch raises at `raise.step`, and goes no further. */
function checkStep(t: number, name: string, raise: ScheduleRaise | undefined): number {
  if (!Number.isInteger(t) || t < 0) {
    throw new AnnealError(
      "usage",
      `Cannot compute learning rate: 't' must be an integer >= 0, current value is ${t}`,
      { where: "t", hint: "pass the number of scheduler steps taken so far" },
    );
  }
  if (raise && t >= raise.step) {
    const field = formatPath(raise.path);
    throw new AnnealError(
      "config",
      `Cannot compute ${name} schedule at step ${t}: '${field}' ${raise.message}`,
      {
        where: field,
        hint: `change '${field}', or stop before step ${raise.step}: torch computes no rate there`,
      },
    );
  }
  return t;
}
