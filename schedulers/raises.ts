/**
 * Where torch 1.13 raises for a schedule it builds: settings it checks nothing of, but divides by
 * (or raises 0 to) at a later step of the schedule, onecycle stepped past its `totalSteps`, and
 * cyclic's powers that overflow.
 * Whether a run meets such a step depends on how long it is: a run of T optimizer steps steps the
 * schedule T times (torch's loop calls `scheduler.step()` after every update; under
 * `interval: "epoch"`, after every epoch it trains in), so it gets to steps 1 .. T. A step every
 * run gets to (step 1) is refused when the spec is parsed; a later one when the run's length is
 * known, at its start ({@linkcode checkScheduleReach}); a schedule computed past it throws.
 *
 * @module
 */

import { AnnealError } from "../errors.ts";
import { formatPath, showValue } from "../zod_paths.ts";
import { shellWord } from "../shell_word.ts";
import { cyclicOverflowStep } from "./cyclic.ts";
import type { ChildSchedulerSpec, ResolvedSchedulerSpec, SpecOf } from "./spec.ts";

/**
 * The steps at which torch's OneCycleLR phases end, in its float arithmetic: warmup at
 * `pctStart * totalSteps - 1`, then (three phases) the way back down at
 * `2 * pctStart * totalSteps - 2`, and the annealing at `totalSteps - 1`.
 *
 * @example
 * ```ts
 * import { oneCyclePhaseEnds } from "./raises.ts";
 * console.assert(oneCyclePhaseEnds(0.3, 10, false).join() === "2,9");
 * ```
 */
export function oneCyclePhaseEnds(
  pctStart: number,
  totalSteps: number,
  threePhase: boolean,
): number[] {
  const up = pctStart * totalSteps - 1;
  return threePhase ? [up, 2 * pctStart * totalSteps - 2, totalSteps - 1] : [up, totalSteps - 1];
}

/**
 * A setting torch 1.13 builds a schedule with but raises for at a later step of it: the field,
 * the schedule's own step at which torch raises (its `last_epoch`; 0 where a sequential restarts
 * it at its milestone), and what is wrong, given where that step is (`at step 5`).
 */
interface LaterRaise {
  field: string;
  step: number;
  message: (at: string) => string;
}

/**
 * Where torch 1.13 raises for `spec` run on its own clock from step 0, or undefined. `restarted`:
 * it is a sequential's later schedule, which torch starts at its milestone with its closed form
 * (`step(0)`) and steps by its recursive form after that; otherwise torch starts it with its
 * recursive form.
 * - constant `factor` 0 with `totalIters` > 0: the base rate comes back as `lr * (1 / factor)` at
 *   step `totalIters`;
 * - `stepSize` 0: step 1 takes the step count modulo it; restarted, the closed form divides by it
 *   at step 0;
 * - cosine `tMax` 0: step 1 divides by it; restarted, the closed form at step 0;
 * - linear `startFactor` 0 with `totalIters` > 0: step 1 divides by `startFactor * totalIters`;
 * - polynomial `power` < 0 with `totalIters` > 0: step `totalIters` raises 0 to it;
 * - restarted only, at step 0: linear or polynomial `totalIters` 0 (the closed form's
 *   `min(totalIters, 0) / totalIters`), polynomial `power` < 0 with `totalIters` < 0 (`0 ** power`);
 * - onecycle: a last phase that starts where it ends divides by its length at step
 *   `totalSteps`; else step `totalSteps + 1` is past the cycle (ValueError).
 */
function laterRaise(spec: ChildSchedulerSpec, restarted: boolean): LaterRaise | undefined {
  const restart = "in a schedule after the first: torch restarts it at its milestone with its " +
    "closed form, which";
  switch (spec.name) {
    case "constant":
      if (spec.factor !== 0 || spec.totalIters <= 0) return undefined;
      return {
        field: "factor",
        step: spec.totalIters,
        message: (at) =>
          `must be > 0 when 'totalIters' is > 0 (it is ${spec.totalIters}): torch's ConstantLR ` +
          `divides by it ${at} (ZeroDivisionError)`,
      };
    case "step":
      if (spec.stepSize !== 0) return undefined;
      return {
        field: "stepSize",
        step: restarted ? 0 : 1,
        message: (at) =>
          restarted
            ? `must not be 0 ${restart} divides the step count by it ${at} (ZeroDivisionError)`
            : `must not be 0: torch's StepLR takes the step count modulo it ${at} ` +
              "(ZeroDivisionError)",
      };
    case "cosine":
      if (spec.tMax !== 0) return cosineRecursionRaise(spec.tMax);
      return {
        field: "tMax",
        step: restarted ? 0 : 1,
        message: (at) =>
          restarted
            ? `must not be 0 ${restart} divides by it ${at} (ZeroDivisionError)`
            : `must not be 0: torch's CosineAnnealingLR divides by it ${at} (ZeroDivisionError)`,
      };
    case "linear":
      if (restarted && spec.totalIters === 0) {
        return {
          field: "totalIters",
          step: 0,
          message: (at) =>
            `must not be 0 ${restart} divides by totalIters ${at} (ZeroDivisionError)`,
        };
      }
      if (spec.startFactor !== 0 || spec.totalIters <= 0) return undefined;
      return {
        field: "startFactor",
        step: 1,
        message: (at) =>
          `must be > 0 when 'totalIters' is > 0 (it is ${spec.totalIters}): torch's LinearLR ` +
          `divides by startFactor * totalIters ${at} (ZeroDivisionError)`,
      };
    case "polynomial":
      return polynomialRaise(spec, restarted, restart);
    case "onecycle":
      return oneCycleRaise(spec);
    default:
      return undefined;
  }
}

/** How many half-periods of a fractional `tMax` {@linkcode cosineRecursionRaise} looks through. */
const COSINE_HALF_PERIODS = 2 ** 14;

/**
 * Where torch 1.13's CosineAnnealingLR divides by zero with a fractional `tMax`, if it does: its
 * recursive form (every step after the first, a sequential's later schedule's too) divides by
 * `1 + cos(pi * (t - 1) / tMax)`, which is 0 where `(t - 1) / tMax` is an odd whole number (in
 * float64: 3 / 0.2 is 15), except where its own branch for those steps, `(t - 1 - tMax) % (2 *
 * tMax) == 0`, is taken first, as it always is for a whole `tMax`. Such steps lie at odd multiples
 * of `tMax`: the first 2 ** 13 odd ones are looked through (every tMax that is a fraction p / q
 * with q up to 16384, as 1/3 or 0.2, is found; a step further out is taken as none).
 */
function cosineRecursionRaise(tMax: number): LaterRaise | undefined {
  if (Number.isInteger(tMax) || !Number.isFinite(tMax)) return undefined;
  const divides = (t: number) =>
    (t - 1 - tMax) % (2 * tMax) !== 0 && 1 + Math.cos(Math.PI * (t - 1) / tMax) === 0;
  let step: number | undefined;
  for (let odd = 1; odd < COSINE_HALF_PERIODS; odd += 2) {
    const near = Math.round(Math.abs(tMax) * odd);
    for (const t of [near, near + 1, near + 2]) {
      if (t >= 1 && (step === undefined || t < step) && divides(t)) step = t;
    }
    if (step !== undefined && step <= Math.abs(tMax) * odd) break;
  }
  if (step === undefined) return undefined;
  return {
    field: "tMax",
    step,
    message: (at) =>
      `must not make (t - 1) / tMax an odd whole number at a step t the run takes: torch's ` +
      `CosineAnnealingLR divides by 1 + cos(pi * (t - 1) / tMax), which is 0 there, ${at} ` +
      "(ZeroDivisionError); use a whole tMax",
  };
}

function polynomialRaise(
  spec: Extract<ChildSchedulerSpec, { name: "polynomial" }>,
  restarted: boolean,
  restart: string,
): LaterRaise | undefined {
  if (restarted && spec.totalIters === 0) {
    return {
      field: "totalIters",
      step: 0,
      message: (at) => `must not be 0 ${restart} divides by totalIters ${at} (ZeroDivisionError)`,
    };
  }
  if (restarted && spec.totalIters < 0 && spec.power < 0) {
    return {
      field: "power",
      step: 0,
      message: (at) =>
        `must be >= 0 with 'totalIters' < 0 ${restart} raises 0 to the power ${at} ` +
        "(ZeroDivisionError)",
    };
  }
  if (spec.power >= 0 || spec.totalIters <= 0) return undefined;
  return {
    field: "power",
    step: spec.totalIters,
    message: (at) =>
      `must be >= 0 when 'totalIters' is > 0 (it is ${spec.totalIters}): torch's ` +
      `PolynomialLR raises 0 to it ${at} (ZeroDivisionError)`,
  };
}

/**
 * torch's OneCycleLR at step t takes the first phase with t <= its end (else the last) and
 * divides by its length: a last phase that starts where it ends divides by zero at step
 * `totalSteps`, the first step past it. Every other cycle runs to step `totalSteps`, and torch
 * raises one step later (a first phase ending at step 0 raises when built: see spec.ts).
 */
function oneCycleRaise(spec: Extract<ChildSchedulerSpec, { name: "onecycle" }>): LaterRaise {
  const { pctStart, totalSteps, threePhase } = spec;
  const ends = oneCyclePhaseEnds(pctStart, totalSteps, threePhase);
  if (ends[ends.length - 2] === ends[ends.length - 1]) {
    return {
      field: "pctStart",
      step: totalSteps,
      message: (at) =>
        `must leave the last phase at least one step (totalSteps is ${totalSteps}): torch's ` +
        `last phase would start where it ends and divide by zero ${at} (ZeroDivisionError)`,
    };
  }
  return {
    field: "totalSteps",
    step: totalSteps + 1,
    message: (at) =>
      `must count every step the schedule takes: torch's OneCycleLR raises ${at}, one past ` +
      `it (ValueError: "Tried to step ${totalSteps + 2} times. The specified number of total ` +
      `steps is ${totalSteps}")`,
  };
}

/**
 * torch's CyclicLR computes in Python floats, where a power that overflows raises (OverflowError):
 * `triangular2`'s `2 ** (cycle - 1)` in cycle 1025, `exp_range`'s `gamma ** t` for `|gamma|` > 1.
 */
function cyclicRaise(spec: SpecOf<"cyclic">): LaterRaise | undefined {
  const step = cyclicOverflowStep(spec);
  if (step === undefined) return undefined;
  if (spec.mode === "triangular2") {
    return {
      field: "mode",
      step,
      message: (at) =>
        "must not be triangular2 for more than 1024 cycles: torch's CyclicLR halves the " +
        `height by 2 ** (cycle - 1), which overflows in cycle 1025, ${at} (OverflowError); ` +
        "use longer cycles (stepSizeUp, stepSizeDown) or mode triangular",
    };
  }
  return {
    field: "gamma",
    step,
    message: (at) =>
      `must be in [-1, 1] for a run this long: torch's CyclicLR multiplies the height by ` +
      `gamma ** t, which overflows ${at} (OverflowError)`,
  };
}

/** The first step at which torch 1.13 raises for a schedule (see {@linkcode firstRaise}). */
export interface ScheduleRaise {
  /** The field to blame, below the scheduler section (`["schedulers", 1, "factor"]`). */
  path: (string | number)[];
  /**
   * The schedule's step (its `t`: optimizer steps, or epochs under `interval: "epoch"`) at
   * which torch raises: the `step`-th call of `scheduler.step()`.
   */
  step: number;
  /** What is wrong and where torch raises: `must not be 0: ... at step 1 (ZeroDivisionError)`. */
  message: string;
  /** A sequential's schedule before its last: the milestone that hands over after it. */
  handover?: { index: number; milestone: number };
}

/**
 * The first step at which torch 1.13 raises for `spec` when it is stepped long enough, or
 * undefined when it never does. A sequential's schedule raises only if it gets to that step
 * before the next milestone hands over (torch steps it no further; one between equal milestones
 * is never stepped); its last runs to the end of training.
 *
 * @example
 * ```ts
 * import { firstRaise } from "./raises.ts";
 * import { parseSchedulerSpec } from "./parse.ts";
 * const raise = firstRaise(parseSchedulerSpec({ name: "constant", factor: 0, totalIters: 5 }));
 * console.assert(raise?.step === 5 && raise.path.join() === "factor");
 * ```
 */
export function firstRaise(spec: ResolvedSchedulerSpec): ScheduleRaise | undefined {
  if (spec.name === "plateau") return undefined;
  if (spec.name === "cyclic") {
    const raise = cyclicRaise(spec);
    return raise && { path: [raise.field], step: raise.step, message: raise.message(at(raise, 0)) };
  }
  if (spec.name !== "sequential") {
    const raise = laterRaise(spec, false);
    return raise && { path: [raise.field], step: raise.step, message: raise.message(at(raise, 0)) };
  }
  const { schedulers, milestones } = spec;
  let first: ScheduleRaise | undefined;
  schedulers.forEach((child, i) => {
    const start = i === 0 ? 0 : milestones[i - 1];
    const end = i === schedulers.length - 1 ? undefined : milestones[i];
    const raise = laterRaise(child, i > 0);
    if (!raise || (end !== undefined && start + raise.step >= end)) return;
    if (first && first.step <= start + raise.step) return;
    const until = end === undefined ? "" : `, before milestone ${end} hands over to the next one`;
    first = {
      path: ["schedulers", i, raise.field],
      step: start + raise.step,
      message: raise.message(`${at(raise, start)}${until}`),
      handover: end === undefined ? undefined : { index: i, milestone: end },
    };
  });
  return first;
}

/** Where torch raises for a schedule that starts at step `start` (0, or its milestone). */
function at(raise: LaterRaise, start: number): string {
  const own = start === 0
    ? ""
    : raise.step === 0
    ? " (its milestone)"
    : ` (its own step ${raise.step}, from its milestone ${start})`;
  const every = start + raise.step <= 1 ? ", which every run gets to" : "";
  return `at step ${start + raise.step}${own}${every}`;
}

/** How long a run is, as its config and its data make it. */
export interface RunLength {
  /** Optimizer steps an epoch takes. */
  stepsPerEpoch: number;
  /** `epochs`. */
  epochs: number;
  /** `maxSteps`, if set. */
  maxSteps?: number;
}

/**
 * How many times a run steps its schedule: once after each optimizer step it takes (under
 * `interval: "epoch"`, after each epoch it trains in), as torch's loop calls `scheduler.step()`;
 * so it gets to the schedule's steps 1 .. that many.
 *
 * @example
 * ```ts
 * import { scheduleSteps } from "./raises.ts";
 * console.assert(scheduleSteps("step", { stepsPerEpoch: 10, epochs: 5, maxSteps: 42 }) === 42);
 * console.assert(scheduleSteps("epoch", { stepsPerEpoch: 10, epochs: 5, maxSteps: 42 }) === 5);
 * ```
 */
export function scheduleSteps(interval: "step" | "epoch", run: RunLength): number {
  const steps = Math.min(run.maxSteps ?? Infinity, run.stepsPerEpoch * run.epochs);
  return interval === "epoch" ? Math.ceil(steps / Math.max(1, run.stepsPerEpoch)) : steps;
}

/**
 * Refuses a schedule the run steps as far as a step where torch 1.13 raises (see
 * {@linkcode firstRaise}): the error names the field, the step, how far the run goes, and how to
 * fix it (the setting, a shorter run, or for a sequential's schedule an earlier milestone). A
 * schedule that raises only past the run's end trains: torch would never get there.
 *
 * @example
 * ```ts
 * import { checkScheduleReach } from "./raises.ts";
 * import { parseSchedulerSpec } from "./parse.ts";
 * const spec = parseSchedulerSpec({ name: "constant", factor: 0, totalIters: 50 });
 * checkScheduleReach(spec, { stepsPerEpoch: 10, epochs: 4 }); // 40 steps: never at step 50
 * try {
 *   checkScheduleReach(spec, { stepsPerEpoch: 10, epochs: 5 });
 *   throw new Error("unreachable");
 * } catch (error) {
 *   console.assert((error as { where?: string }).where === "scheduler.factor");
 * }
 * ```
 */
export function checkScheduleReach(
  spec: ResolvedSchedulerSpec | undefined,
  run: RunLength,
  resumeOf?: string,
): void {
  if (!spec || run.stepsPerEpoch <= 0) return;
  const raise = firstRaise(spec);
  const reached = scheduleSteps(spec.interval ?? "step", run);
  if (!raise || raise.step > reached) return;
  const field = formatPath(["scheduler", ...raise.path]);
  const value = raise.path.reduce<unknown>(
    (node, key) => (node as Record<string | number, unknown>)[key],
    spec,
  );
  const epochs = spec.interval === "epoch";
  const steps = Math.min(run.maxSteps ?? Infinity, run.stepsPerEpoch * run.epochs);
  const length = epochs
    ? `it trains in ${reached} epoch${reached === 1 ? "" : "s"}` +
      (steps < run.stepsPerEpoch * run.epochs ? ` (maxSteps ${run.maxSteps} ends it)` : "")
    : `it takes ${reached} optimizer step${reached === 1 ? "" : "s"} (${
      steps < run.stepsPerEpoch * run.epochs
        ? `maxSteps ${run.maxSteps}`
        : `${run.epochs} epoch${run.epochs === 1 ? "" : "s"} of ${run.stepsPerEpoch}`
    })`;
  const unit = epochs ? "epoch" : "optimizer step";
  const shorter = epochs ? `--epochs ${raise.step - 1}` : `--set maxSteps=${raise.step - 1}`;
  const inFile = raise.path[0] === "schedulers";
  const fixes = [
    raise.path.at(-1) === "totalSteps" && !inFile
      ? `set '${field}' to the run's ${reached} (--set ${field}=${reached})`
      : `change '${field}' as the error says${
        inFile ? " (in the config file: --set cannot reach it)" : ""
      }`,
    `end the run before step ${raise.step} (${shorter})`,
    ...(raise.handover
      ? [
        `hand over to the next schedule by step ${raise.step} ('scheduler.milestones[${raise.handover.index}]' <= ${raise.step})`,
      ]
      : []),
  ];
  throw new AnnealError(
    "config",
    `Invalid config for this run: '${field}': ${raise.message}, current value is ${
      showValue(value)
    }; the run gets there: ${length}, and torch steps the schedule after each ${unit}`,
    { where: field, hint: resumeOf === undefined ? fixes.join(", or ") : resumeFix() },
  );

  /**
   * A resume keeps its run's config (`--set` is refused with `--resume`) and may only lengthen
   * it: the fix is a new run from that config, with the longer length and the setting changed.
   */
  function resumeFix(): string {
    const config = shellWord(`${resumeOf}/config.json`);
    const length = run.maxSteps !== undefined
      ? `--max-steps ${run.maxSteps}`
      : `--epochs ${run.epochs}`;
    const setting = raise!.path.at(-1) === "totalSteps" && !inFile
      ? ` --set ${field}=${reached}`
      : "";
    return `a resume keeps the run's config, whose schedule cannot go that far: train a new run ` +
      `from it instead, ${
        setting ? "with the schedule fitted" : `with '${field}' changed in a copy of it`
      }: anneal train -c ${config} ${length}${setting}`;
  }
}
