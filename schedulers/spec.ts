/**
 * The scheduler spec: one strict zod schema per schedule, discriminated on `name`, with
 * PyTorch's argument names in camelCase and PyTorch's defaults.
 *
 * @module
 */

import { z } from "npm:zod@4.6.7";

// Every schedule counts optimizer steps unless told otherwise (DESIGN.md: "Schedules count steps
// unless `interval: "epoch"`").
const interval = z.enum(["step", "epoch"]).default("step");
const positiveInt = () => z.number().int().gt(0);
// A setting torch 1.13 checks no range of: any finite number (JSON has no NaN, and 1e400, which it
// reads as Infinity, is refused as not finite, everywhere in the config).
const anyNumber = () => z.number();
/** Refuses `zero`, where torch divides by the setting (`why` says where). */
const nonZero = (why: string) =>
  z.number().refine((value) => value !== 0, { message: `must not be 0: ${why}` });

/**
 * A number of steps torch documents as an int and compares with its whole step count without
 * checking it. torch 1.13 accepts a fraction, but no step is then equal to it, so it does not act
 * where the number says (`effect`): anneal refuses it on purpose. Zero and negative counts are
 * taken as torch takes them.
 */
const wholeSteps = (effect: string) =>
  z.number().refine(Number.isInteger, {
    message: `must be a whole number: torch 1.13 accepts a fraction, but its step count is ` +
      `whole, so ${effect}; anneal refuses it`,
  });

// constant's fields, without the refusals a sequential makes by its milestones instead.
const ConstantFields = z.strictObject({
  name: z.literal("constant"),
  interval,
  // Defaults differ from torch's ConstantLR (1/3, 5) on purpose: "constant" must mean constant.
  factor: z.number().gte(0).lte(1).default(1),
  totalIters: wholeSteps("the base rate never comes back").default(0),
});
/**
 * Keeps the base learning rate; with `factor`/`totalIters` it is torch's `ConstantLR`: the rate
 * is `baseLr * factor` until step `totalIters`, then `baseLr`. torch checks `factor` in [0, 1]
 * only. With `totalIters` <= 0 torch never brings the base rate back (its recursive form skips
 * step `totalIters`): the factor stays for good, except in a sequential's later schedule, which
 * torch restarts at the base rate. `factor` 0 with `totalIters` > 0 is refused: torch divides by
 * it at step `totalIters` (see `laterRaise`).
 */
export const ConstantSpecSchema = ConstantFields.check(refuseLaterRaise);

// The decay factor of StepLR, MultiStepLR and ExponentialLR: torch 1.13 checks none. 0 drops the
// rate to 0 at the first decay; a negative one makes the rate change sign at every decay (the
// optimizers then step uphill, as torch's do), above 1 it grows.
const gamma = () => anyNumber();

// step's fields, without the refusals a sequential makes by its milestones instead.
const StepFields = z.strictObject({
  name: z.literal("step"),
  interval,
  stepSize: wholeSteps(
    "it decays only at the steps that are whole multiples of it (every 5th for 2.5)",
  ),
  gamma: gamma().default(0.1),
});
/**
 * torch `StepLR`: multiply by `gamma` every `stepSize` steps. torch checks no `stepSize`: 0
 * divides by zero at step 1 (refused, see `laterRaise`); a negative one decays every `|stepSize|`
 * steps (`t % stepSize` is 0 there), as here.
 */
export const StepSpecSchema = StepFields.check(refuseLaterRaise);

/**
 * torch `MultiStepLR`: multiply by `gamma` at each milestone, in any order; one listed twice
 * counts twice, and none keeps the base rate. torch checks no milestone: one below 0 is never
 * reached on its own, but counts from the start in a sequential's later schedule, which torch
 * restarts with its closed form.
 */
export const MultistepSpecSchema = z.strictObject({
  name: z.literal("multistep"),
  interval,
  milestones: z.array(wholeSteps("a fractional milestone is never reached")),
  gamma: gamma().default(0.1),
});

/** torch `ExponentialLR`: multiply by `gamma` every step. */
export const ExponentialSpecSchema = z.strictObject({
  name: z.literal("exponential"),
  interval,
  gamma: gamma(),
});

// cosine's fields, without the refusals a sequential makes by its milestones instead.
const CosineFields = z.strictObject({
  name: z.literal("cosine"),
  interval,
  tMax: anyNumber(),
  etaMin: anyNumber().default(0),
});
/**
 * torch `CosineAnnealingLR`. torch checks neither setting: a negative `tMax` runs as `|tMax|`
 * (the cosine is even), a fractional one as written; `etaMin` may be negative or above the base
 * rate, the curve then dips below 0 or rises. `tMax` 0 is refused: torch divides by it at step 1
 * (see `laterRaise`).
 */
export const CosineSpecSchema = CosineFields.check(refuseLaterRaise);

/**
 * torch `CosineAnnealingWarmRestarts` (`T_0`, `T_mult` are integers there too, checked by torch;
 * `eta_min` is not: it may be negative or above the base rate).
 */
export const CosineWarmRestartsSpecSchema = z.strictObject({
  name: z.literal("cosineWarmRestarts"),
  interval,
  t0: positiveInt(),
  tMult: z.number().int().gte(1).default(1),
  etaMin: anyNumber().default(0),
});

// linear's fields, without the refusals a sequential makes by its milestones instead.
const LinearFields = z.strictObject({
  name: z.literal("linear"),
  interval,
  startFactor: z.number().gte(0).lte(1).default(1 / 3),
  endFactor: z.number().gte(0).lte(1).default(1),
  totalIters: wholeSteps("the factor stops short of endFactor").default(5),
});
/**
 * torch `LinearLR`: the factor moves from `startFactor` to `endFactor` over `totalIters` steps.
 * torch checks both factors in [0, 1] and not `totalIters`: with `totalIters` <= 0 the factor
 * stays at `startFactor` for good (in a sequential's later schedule, restarted by torch with its
 * closed form: at `endFactor`; there `totalIters` 0 divides by zero). `startFactor` 0 with
 * `totalIters` > 0 is refused: torch divides by it at step 1 (see `laterRaise`).
 */
export const LinearSpecSchema = LinearFields.check(refuseLaterRaise);

// polynomial's fields, without the refusals a sequential makes by its milestones instead.
const PolynomialFields = z.strictObject({
  name: z.literal("polynomial"),
  interval,
  totalIters: wholeSteps("the rate stops short of 0").default(5),
  power: anyNumber().default(1),
});
/**
 * torch `PolynomialLR`. torch checks neither setting: with `totalIters` <= 0 the rate stays at
 * the base rate (in a sequential's later schedule, restarted by torch with its closed form: at
 * `0 ** power` times it; there `totalIters` 0 divides by zero); `power` 0 keeps the base rate.
 * A negative `power` with `totalIters` > 0 is refused: torch raises 0 to it at step `totalIters`
 * (see `laterRaise`).
 */
export const PolynomialSpecSchema = PolynomialFields.check(refuseLaterRaise);

/**
 * The steps at which torch's OneCycleLR phases end, in its float arithmetic: warmup at
 * `pctStart * totalSteps - 1`, then (three phases) the way back down at
 * `2 * pctStart * totalSteps - 2`, and the annealing at `totalSteps - 1`.
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
 * torch `OneCycleLR` (given `totalSteps`; the base learning rate is `maxLr / divFactor`). torch
 * checks `totalSteps`, `pctStart` and `annealStrategy` only: `maxLr` and the two divisors may be
 * negative (the rates are then negative), the divisors not 0 (torch divides by them when built).
 * The momenta go into the optimizer unchecked: the run's config keeps them to what the optimizer
 * itself takes (see config.ts).
 */
export const OnecycleSpecSchema = z.strictObject({
  name: z.literal("onecycle"),
  interval,
  maxLr: anyNumber(),
  totalSteps: positiveInt(),
  pctStart: z.number().gte(0).lte(1).default(0.3),
  annealStrategy: z.enum(["cos", "linear"]).default("cos"),
  cycleMomentum: z.boolean().default(true),
  baseMomentum: anyNumber().default(0.85),
  maxMomentum: anyNumber().default(0.95),
  divFactor: nonZero("torch's OneCycleLR divides maxLr by it (ZeroDivisionError)").default(25),
  finalDivFactor: nonZero(
    "torch's OneCycleLR divides the initial rate by it (ZeroDivisionError)",
  ).default(1e4),
  threePhase: z.boolean().default(false),
}).check((ctx) => {
  const { pctStart, totalSteps, threePhase } = ctx.value;
  // torch's phase ends, in its float arithmetic (see onecycle.ts). At step t it takes the first
  // phase with t <= end (else the last) and divides by end - start, the start being the previous
  // phase's end (0 for the first). A phase that ends before it starts, or before step 0, is only
  // skipped or run backwards (pctStart * totalSteps < 1: the first phase ends before step 0, so
  // the schedule starts in the annealing phase). Two cases divide by zero, a ZeroDivisionError in
  // torch: a first phase ending at step 0 (at step 0, when torch builds the scheduler), and a
  // last phase starting where it ends (at step totalSteps). Those, and only those, are refused.
  const ends = oneCyclePhaseEnds(pctStart, totalSteps, threePhase);
  const [up, last, beforeLast] = [ends[0], ends[ends.length - 1], ends[ends.length - 2]];
  if (up === 0 || beforeLast === last) {
    ctx.issues.push({
      code: "custom",
      input: pctStart,
      path: ["pctStart"],
      message: up === 0
        ? `must not make pctStart * totalSteps 1 (totalSteps is ${totalSteps}): torch's ` +
          "warmup phase would end at step 0 and divide by zero there"
        : `must leave the last phase at least one step (totalSteps is ${totalSteps}): torch's ` +
          `last phase would start where it ends and divide by zero at step ${totalSteps}`,
    });
  }
});

/**
 * torch `ReduceLROnPlateau`: the one metric-driven schedule (a reducer, see `plateau.ts`). torch
 * checks `factor` < 1 and the two modes only; the reducer makes torch's comparisons, so every
 * other number runs as in torch (a negative `factor` flips the rate's sign, floored at `minLr`; a negative
 * `patience` reduces at every metric, a fractional one after more bad metrics than it says).
 */
export const PlateauSpecSchema = z.strictObject({
  name: z.literal("plateau"),
  interval,
  mode: z.enum(["min", "max"]).default("min"),
  factor: z.number().lt(1).default(0.1),
  patience: anyNumber().default(10),
  threshold: anyNumber().default(1e-4),
  thresholdMode: z.enum(["rel", "abs"]).default("rel"),
  cooldown: anyNumber().default(0),
  minLr: anyNumber().default(0),
  eps: anyNumber().default(1e-8),
});

/**
 * Hugging Face `get_cosine_schedule_with_warmup`, which checks nothing: its formula (warmup.ts)
 * runs any numbers, as here.
 */
export const WarmupCosineSpecSchema = z.strictObject({
  name: z.literal("warmupCosine"),
  interval,
  warmupSteps: anyNumber(),
  totalSteps: anyNumber(),
  numCycles: anyNumber().default(0.5),
});

/** Hugging Face `get_linear_schedule_with_warmup`, which checks nothing (see warmupCosine). */
export const WarmupLinearSpecSchema = z.strictObject({
  name: z.literal("warmupLinear"),
  interval,
  warmupSteps: anyNumber(),
  totalSteps: anyNumber(),
});

/**
 * Every schedule a `sequential` may chain: all closed-form ones (not `plateau`, not nested). The
 * settings torch raises for at a later step are judged by the sequential, which knows whether the
 * schedule gets to that step before the next milestone hands over.
 */
export const ChildSchedulerSpecSchema = z.discriminatedUnion("name", [
  ConstantFields,
  StepFields,
  MultistepSpecSchema,
  ExponentialSpecSchema,
  CosineFields,
  CosineWarmRestartsSpecSchema,
  LinearFields,
  PolynomialFields,
  OnecycleSpecSchema,
  WarmupCosineSpecSchema,
  WarmupLinearSpecSchema,
]);

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
 *   `min(totalIters, 0) / totalIters`), polynomial `power` < 0 with `totalIters` < 0 (`0 ** power`).
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
      if (spec.tMax !== 0) return undefined;
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
      if (restarted && spec.totalIters === 0) {
        return {
          field: "totalIters",
          step: 0,
          message: (at) =>
            `must not be 0 ${restart} divides by totalIters ${at} (ZeroDivisionError)`,
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
    default:
      return undefined;
  }
}

/**
 * Where torch raises for a schedule that starts at step `start` of the run's schedule (0, or its
 * milestone in a sequential) and runs until milestone `end` hands over to the next one
 * (undefined: to the end of training, whose length is not known here).
 */
function raisedAt(raise: LaterRaise, start: number, end: number | undefined): string {
  const own = start === 0
    ? ""
    : raise.step === 0
    ? " (its milestone)"
    : ` (its own step ${raise.step}, from its milestone ${start})`;
  const until = end === undefined
    ? " if training gets there"
    : `, before milestone ${end} hands over to the next schedule`;
  return `at step ${start + raise.step}${own}${until}`;
}

/**
 * Refuses a schedule on its own where torch raises at a later step of it: it runs to the end of
 * training, which may get there.
 */
function refuseLaterRaise(ctx: z.core.ParsePayload<ChildSchedulerSpec>): void {
  const raise = laterRaise(ctx.value, false);
  if (!raise) return;
  ctx.issues.push({
    code: "custom",
    input: (ctx.value as Record<string, unknown>)[raise.field],
    path: [raise.field],
    message: raise.message(raisedAt(raise, 0, undefined)),
  });
}

/**
 * torch `SequentialLR`: `schedulers[i]` runs from `milestones[i - 1]`, restarted at step 0. torch
 * checks only that there is one milestone fewer than schedules. Equal milestones skip the
 * schedules between them, as in torch. A setting torch raises for at a later step of a schedule
 * (see `laterRaise`) is refused only where the schedule gets to that step before the next
 * milestone hands over, as torch raises only there; the last schedule runs to the end of
 * training, whose length is not known here, so it is refused there, the error naming the step. anneal refuses on purpose milestones torch accepts but does
 * not restart a schedule at: one below 1 or fractional (torch looks for milestones at whole steps
 * from step 1), after which torch runs
 * the next schedule a step late from the rate the previous one left, and decreasing ones, which
 * torch looks up as if sorted (bisection).
 */
export const SequentialSpecSchema = z.strictObject({
  name: z.literal("sequential"),
  interval,
  schedulers: z.array(ChildSchedulerSpecSchema).min(1),
  milestones: z.array(anyNumber()),
}).check((ctx) => {
  const { schedulers, milestones } = ctx.value;
  const issue = (path: (string | number)[], input: unknown, message: string) =>
    ctx.issues.push({ code: "custom", input, path, message });
  // torch's OneCycleLR sets every param group's `initial_lr` to maxLr / divFactor when it is
  // built, and SequentialLR starts its children from `initial_lr`: beside a onecycle, every other
  // child would run from maxLr / divFactor, not from the optimizer's lr, and momentum would cycle
  // only while the onecycle runs. anneal does not reproduce that, so it refuses it.
  const oneCycle = schedulers.findIndex((child) => child.name === "onecycle");
  if (schedulers.length > 1 && oneCycle >= 0) {
    issue(
      ["schedulers", oneCycle, "name"],
      "onecycle",
      "cannot be onecycle beside other schedules: torch 1.13 accepts it, but its OneCycleLR " +
        "makes them start from maxLr / divFactor instead of the optimizer's lr, which anneal " +
        "refuses rather than imitates; use onecycle on its own, its pctStart phase is its warmup",
    );
    return;
  }
  if (milestones.length !== schedulers.length - 1) {
    issue(
      ["milestones"],
      milestones,
      `must have one entry fewer than 'schedulers' (${schedulers.length})`,
    );
    return;
  }
  const unreached = milestones.findIndex((m) => !Number.isInteger(m) || m < 1);
  if (unreached >= 0) {
    issue(
      ["milestones", unreached],
      milestones[unreached],
      "must be a whole number >= 1: torch 1.13 accepts it, but looks for a milestone only at " +
        "whole steps from step 1, so it does not restart the next schedule there: it runs it a " +
        "step late from the rate the previous one left; anneal refuses it",
    );
    return;
  }
  const down = milestones.findIndex((m, i) => i > 0 && m < milestones[i - 1]);
  if (down >= 0) {
    issue(
      ["milestones"],
      milestones,
      "must not decrease: torch 1.13 accepts them in any order, but finds the running schedule " +
        "by bisection, as if they were sorted, so schedules run elsewhere than their milestones " +
        "say; anneal refuses it",
    );
    return;
  }
  // torch steps schedulers[i] from its start (0, or its milestone) until the next milestone
  // hands over (a schedule between equal milestones is never stepped), the last one to the end of
  // training: a setting torch raises for at a later step is refused only if the schedule gets
  // there, or may (the last one: the length of training is not known here).
  schedulers.forEach((child, i) => {
    const start = i === 0 ? 0 : milestones[i - 1];
    const end = i === schedulers.length - 1 ? undefined : milestones[i];
    const raise = laterRaise(child, i > 0);
    if (!raise || (end !== undefined && start + raise.step >= end)) return;
    const input = (child as Record<string, unknown>)[raise.field];
    issue(["schedulers", i, raise.field], input, raise.message(raisedAt(raise, start, end)));
  });
});

/**
 * Any learning-rate schedule, discriminated on `name`.
 *
 * @example
 * ```ts
 * import { SchedulerSpecSchema } from "./spec.ts";
 * const spec = SchedulerSpecSchema.parse({ name: "cosine", tMax: 100 });
 * console.assert(spec.name === "cosine" && spec.etaMin === 0 && spec.interval === "step");
 * ```
 */
export const SchedulerSpecSchema = z.discriminatedUnion("name", [
  ConstantSpecSchema,
  StepSpecSchema,
  MultistepSpecSchema,
  ExponentialSpecSchema,
  CosineSpecSchema,
  CosineWarmRestartsSpecSchema,
  LinearSpecSchema,
  PolynomialSpecSchema,
  OnecycleSpecSchema,
  PlateauSpecSchema,
  WarmupCosineSpecSchema,
  WarmupLinearSpecSchema,
  SequentialSpecSchema,
]);

/** A scheduler spec as written by a user (defaults optional). */
export type SchedulerSpec = z.input<typeof SchedulerSpecSchema>;

/** Every schedule's name, in the order of {@link SchedulerSpecSchema}'s options. */
export const SCHEDULER_NAMES: readonly SchedulerSpec["name"][] = SchedulerSpecSchema.options.map(
  (option) => option.shape.name.value,
);
/** A scheduler spec with every default filled in. */
export type ResolvedSchedulerSpec = z.output<typeof SchedulerSpecSchema>;
/** The resolved spec of one `name`. */
export type SpecOf<N extends ResolvedSchedulerSpec["name"]> = Extract<
  ResolvedSchedulerSpec,
  { name: N }
>;
/** A resolved spec that `sequential` may chain. */
export type ChildSchedulerSpec = z.output<typeof ChildSchedulerSpecSchema>;
/** A resolved plateau spec. */
export type PlateauSpec = SpecOf<"plateau">;
