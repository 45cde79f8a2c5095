/**
 * The scheduler spec: one strict zod schema per schedule, discriminated on `name`, with
 * PyTorch's argument names in camelCase and PyTorch's defaults.
 *
 * @module
 */

import { z } from "npm:zod@4.6.7";
import { firstRaise, oneCyclePhaseEnds } from "./raises.ts";
import { valueAt } from "../zod_paths.ts";

// Every schedule counts optimizer steps unless told otherwise (DESIGN.md: "Schedules count steps
// unless `interval: "epoch"`").
const interval = z.enum(["step", "epoch"]).default("step");
// A sequential's schedules count what it counts, and a plateau schedule the epochs it is told
// metrics at: there `interval` changes nothing, and has no default, so that a config (and the
// config.json a run saves) holds one only where it was written, and what was written is told.
const unusedInterval = z.enum(["step", "epoch"]).optional();
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
 * torch restarts at the base rate. `factor` 0 with `totalIters` > 0 is refused where the run gets
 * to step `totalIters`: torch divides by it there (see raises.ts).
 */
export const ConstantSpecSchema = ConstantFields.check(refuseEarlyRaise);

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
 * divides by zero at step 1 (refused, see raises.ts); a negative one decays every `|stepSize|`
 * steps (`t % stepSize` is 0 there), as here.
 */
export const StepSpecSchema = StepFields.check(refuseEarlyRaise);

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
 * rate, the curve then dips below 0 or rises. `tMax` 0 is refused: torch divides by it at step 1;
 * and a fractional one where the run gets to a step t with (t - 1) / tMax an odd whole number
 * (0.2 at step 4, 1/3 at step 2): torch's recursive form divides by zero there (see raises.ts).
 */
export const CosineSpecSchema = CosineFields.check(refuseEarlyRaise);

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
 * `totalIters` > 0 is refused: torch divides by it at step 1 (see raises.ts).
 */
export const LinearSpecSchema = LinearFields.check(refuseEarlyRaise);

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
 * A negative `power` with `totalIters` > 0 is refused where the run gets to step `totalIters`:
 * torch raises 0 to it there (see raises.ts).
 */
export const PolynomialSpecSchema = PolynomialFields.check(refuseEarlyRaise);

// onecycle's fields, without the refusal of a cycle torch cannot build (below) and the refusals
// a sequential makes instead.
const OnecycleShape = z.strictObject({
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
});

/** Refuses a cycle torch cannot build. */
function refuseUnbuildableCycle(
  ctx: z.core.ParsePayload<{ pctStart: number; totalSteps: number; threePhase: boolean }>,
): void {
  const { pctStart, totalSteps, threePhase } = ctx.value;
  // torch's phase ends, in its float arithmetic (see onecycle.ts). At step t it takes the first
  // phase with t <= end (else the last) and divides by end - start, the start being the previous
  // phase's end (0 for the first). A phase that ends before it starts, or before step 0, is only
  // skipped or run backwards (pctStart * totalSteps < 1: the first phase ends before step 0, so
  // the schedule starts in the annealing phase). Two cases divide by zero, a ZeroDivisionError in
  // torch: a first phase ending at step 0, refused here (at step 0, when torch builds the
  // scheduler), and a last phase starting where it ends (at step totalSteps, see raises.ts).
  if (oneCyclePhaseEnds(pctStart, totalSteps, threePhase)[0] === 0) {
    ctx.issues.push({
      code: "custom",
      input: pctStart,
      path: ["pctStart"],
      message: `must not make pctStart * totalSteps 1 (totalSteps is ${totalSteps}): torch's ` +
        "warmup phase would end at step 0 and divide by zero there",
    });
  }
}

// onecycle's fields, with the refusal of a cycle torch cannot build, without the refusals a
// sequential makes instead.
const OnecycleFields = OnecycleShape.check(refuseUnbuildableCycle);
/**
 * torch `OneCycleLR` (given `totalSteps`; the base learning rate is `maxLr / divFactor`). torch
 * checks `totalSteps`, `pctStart` and `annealStrategy` only: `maxLr` and the two divisors may be
 * negative (the rates are then negative), the divisors not 0 (torch divides by them when built).
 * The momenta go into the optimizer unchecked: the run's config keeps them to what the optimizer
 * itself takes (see config.ts). torch raises past `totalSteps`, and at `totalSteps` for a
 * `pctStart` that leaves the last phase no length: refused where the run gets there (raises.ts).
 */
export const OnecycleSpecSchema = OnecycleFields.check(refuseEarlyRaise);

/**
 * torch `CyclicLR` (its three modes; `scale_fn`, a Python function, has no JSON form). The rate
 * runs from `baseLr` up to `maxLr` over `stepSizeUp` steps and back over `stepSizeDown` (default:
 * `stepSizeUp`), ignoring the optimizer's `lr` as torch does (it sets the optimizer's rate to
 * `baseLr` when built). torch checks neither rate (either may be negative, `maxLr` below
 * `baseLr`), nor the sizes, nor `gamma`. anneal refuses `stepSizeUp` 0, where torch divides by
 * zero when built, and negative sizes on purpose (torch runs a cycle no setting could mean). A
 * `triangular2` cycle past the 1024th, or an `exp_range` `gamma` beyond +-1 where `gamma ** t`
 * overflows, is refused where the run gets there: torch raises OverflowError (see raises.ts).
 * torch 1.13 cycles momentum only for an optimizer with a `momentum` (SGD, RMSprop; see
 * config.ts). Not in a sequential: torch's CyclicLR sets the optimizer's rate to `baseLr` when
 * built, which would become the other schedules' base rate.
 */
export const CyclicSpecSchema = z.strictObject({
  name: z.literal("cyclic"),
  interval,
  baseLr: anyNumber(),
  maxLr: anyNumber(),
  stepSizeUp: anyNumber().default(2000),
  stepSizeDown: anyNumber().optional(),
  mode: z.enum(["triangular", "triangular2", "exp_range"]).default("triangular"),
  gamma: anyNumber().default(1),
  cycleMomentum: z.boolean().default(true),
  baseMomentum: anyNumber().default(0.8),
  maxMomentum: anyNumber().default(0.9),
}).check(refuseUnrunnableCycle).check(refuseEarlyRaise);

/**
 * Refuses the half-cycle sizes torch's CyclicLR divides by zero with when built (a cycle of no
 * length, or none of it rising: step 0 divides 0 by 0), and negative ones on purpose.
 */
function refuseUnrunnableCycle(
  ctx: z.core.ParsePayload<{ stepSizeUp: number; stepSizeDown?: number }>,
): void {
  const { stepSizeUp: up, stepSizeDown } = ctx.value;
  const down = stepSizeDown ?? up;
  const issue = (field: string, input: number, message: string) =>
    ctx.issues.push({ code: "custom", input, path: [field], message });
  if (up === 0 || up + down === 0) {
    const field = up === 0 ? "stepSizeUp" : "stepSizeDown";
    issue(
      field,
      field === "stepSizeUp" ? up : down,
      up === 0
        ? "must not be 0: torch's CyclicLR divides by the rising part of the cycle at its first " +
          "step, step 0 (ZeroDivisionError)"
        : "must not make stepSizeUp + stepSizeDown 0: torch's CyclicLR divides by the cycle's " +
          "length when built (ZeroDivisionError)",
    );
  } else if (up < 0 || down < 0) {
    const field = up < 0 ? "stepSizeUp" : "stepSizeDown";
    issue(
      field,
      field === "stepSizeUp" ? up : down,
      `must be ${field === "stepSizeUp" ? "> 0" : ">= 0"}: torch 1.13 accepts a negative ` +
        "size, but runs a cycle no setting could mean; anneal refuses it",
    );
  }
}

/**
 * torch `ReduceLROnPlateau`: the one metric-driven schedule (a reducer, see `plateau.ts`). torch
 * checks `factor` < 1 and the two modes only; the reducer makes torch's comparisons, so every
 * other number runs as in torch (a negative `factor` flips the rate's sign, floored at `minLr`; a negative
 * `patience` reduces at every metric, a fractional one after more bad metrics than it says).
 */
export const PlateauSpecSchema = z.strictObject({
  name: z.literal("plateau"),
  interval: unusedInterval,
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
 * settings torch raises for at a later step are judged by the sequential, which knows when each
 * schedule starts and whether it gets to that step before the next milestone hands over.
 */
export const ChildSchedulerSpecSchema = z.discriminatedUnion("name", [
  ConstantFields.extend({ interval: unusedInterval }),
  StepFields.extend({ interval: unusedInterval }),
  MultistepSpecSchema.extend({ interval: unusedInterval }),
  ExponentialSpecSchema.extend({ interval: unusedInterval }),
  CosineFields.extend({ interval: unusedInterval }),
  CosineWarmRestartsSpecSchema.extend({ interval: unusedInterval }),
  LinearFields.extend({ interval: unusedInterval }),
  PolynomialFields.extend({ interval: unusedInterval }),
  OnecycleShape.extend({ interval: unusedInterval }).check(refuseUnbuildableCycle),
  WarmupCosineSpecSchema.extend({ interval: unusedInterval }),
  WarmupLinearSpecSchema.extend({ interval: unusedInterval }),
]);

/**
 * Refuses a schedule where torch raises at a step every run gets to (step 1: torch steps the
 * schedule after the first update); a later one is refused at the run's start, where its length
 * is known (see raises.ts).
 */
function refuseEarlyRaise(ctx: z.core.ParsePayload<ResolvedSchedulerSpec>): void {
  const raise = firstRaise(ctx.value);
  if (!raise || raise.step > 1) return;
  ctx.issues.push({
    code: "custom",
    input: valueAt(ctx.value, raise.path),
    path: raise.path,
    message: raise.message,
  });
}

/**
 * torch `SequentialLR`: `schedulers[i]` runs from `milestones[i - 1]`, restarted at step 0. torch
 * checks only that there is one milestone fewer than schedules. Equal milestones skip the
 * schedules between them, as in torch. A setting torch raises for at a later step of a schedule
 * (see raises.ts) counts only where the schedule gets to that step before the next milestone
 * hands over, as torch raises only there, and the last schedule runs to the end of training: it
 * is refused here where every run gets there (step 1), else at the run's start, where its length
 * is known. anneal refuses on purpose milestones torch accepts but does not restart a schedule
 * at: one below 1 or fractional (torch looks for milestones at whole steps from step 1), after
 * which torch runs the next schedule a step late from the rate the previous one left, and
 * decreasing ones, which torch looks up as if sorted (bisection).
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
  // torch steps every child through SequentialLR.step(): they count what the sequential counts.
  // A child written to count epochs in a sequential of steps would silently count steps. (The
  // other way round is a warning, see configWarnings: a config.json saved before children had
  // no default interval holds 'step' in every one.)
  const byEpoch = schedulers.findIndex((child) => child.interval === "epoch");
  if (ctx.value.interval === "step" && byEpoch >= 0) {
    issue(
      ["schedulers", byEpoch, "interval"],
      "epoch",
      "must not be 'epoch' in a sequential that counts steps: its schedules all count the " +
        "sequential's own interval, as torch's SequentialLR steps them all at once; set the " +
        "sequential's (scheduler.interval: 'epoch', its milestones then count epochs too) and " +
        "leave the schedules' out",
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
  // hands over, the last one to the end of training: a setting torch raises for at a later step
  // is refused here only if every run gets there (see refuseEarlyRaise).
  refuseEarlyRaise(ctx as z.core.ParsePayload<ResolvedSchedulerSpec>);
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
  CyclicSpecSchema,
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
/** A resolved spec that `sequential` may chain (its `interval` only as written). */
export type ChildSchedulerSpec = z.output<typeof ChildSchedulerSpecSchema>;
/** The resolved spec of one `name` that `sequential` may chain, or that runs on its own. */
export type ChildSpecOf<N extends ChildSchedulerSpec["name"]> = Extract<
  ChildSchedulerSpec,
  { name: N }
>;
/** A resolved plateau spec. */
export type PlateauSpec = SpecOf<"plateau">;
