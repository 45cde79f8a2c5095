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
const positive = () => z.number().gt(0);
const nonNegative = () => z.number().gte(0);
const positiveInt = () => z.number().int().gt(0);
const nonNegativeInt = () => z.number().int().gte(0);

/** Keeps the base learning rate; with `factor`/`totalIters` it is torch's `ConstantLR`. */
export const ConstantSpecSchema = z.strictObject({
  name: z.literal("constant"),
  interval,
  // Defaults differ from torch's ConstantLR (1/3, 5) on purpose: "constant" must mean constant.
  factor: z.number().gt(0).lte(1).default(1),
  totalIters: nonNegativeInt().default(0),
});

// The decay factor of StepLR, MultiStepLR and ExponentialLR. torch 1.13 checks none; 0 is torch's
// drop to a learning rate of 0 at the first decay. A negative one is refused: it makes negative
// learning rates, which anneal's optimizers refuse (as torch's optimizers do when built).
const gamma = () => nonNegative();

/** torch `StepLR`: multiply by `gamma` every `stepSize` steps. */
export const StepSpecSchema = z.strictObject({
  name: z.literal("step"),
  interval,
  stepSize: positiveInt(),
  gamma: gamma().default(0.1),
});

/** torch `MultiStepLR`: multiply by `gamma` at each milestone. */
export const MultistepSpecSchema = z.strictObject({
  name: z.literal("multistep"),
  interval,
  milestones: z.array(nonNegativeInt()).min(1),
  gamma: gamma().default(0.1),
});

/** torch `ExponentialLR`: multiply by `gamma` every step. */
export const ExponentialSpecSchema = z.strictObject({
  name: z.literal("exponential"),
  interval,
  gamma: gamma(),
});

/** torch `CosineAnnealingLR`. */
export const CosineSpecSchema = z.strictObject({
  name: z.literal("cosine"),
  interval,
  tMax: positive(),
  etaMin: nonNegative().default(0),
});

/** torch `CosineAnnealingWarmRestarts` (`T_0`, `T_mult` are integers there too). */
export const CosineWarmRestartsSpecSchema = z.strictObject({
  name: z.literal("cosineWarmRestarts"),
  interval,
  t0: positiveInt(),
  tMult: z.number().int().gte(1).default(1),
  etaMin: nonNegative().default(0),
});

/** torch `LinearLR`. `startFactor` must be > 0: torch 1.13 divides by it on the first step. */
export const LinearSpecSchema = z.strictObject({
  name: z.literal("linear"),
  interval,
  startFactor: z.number().gt(0).lte(1).default(1 / 3),
  endFactor: z.number().gte(0).lte(1).default(1),
  totalIters: positiveInt().default(5),
});

/** torch `PolynomialLR`. */
export const PolynomialSpecSchema = z.strictObject({
  name: z.literal("polynomial"),
  interval,
  totalIters: positiveInt().default(5),
  power: nonNegative().default(1),
});

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

/** torch `OneCycleLR` (given `totalSteps`; the base learning rate is `maxLr / divFactor`). */
export const OnecycleSpecSchema = z.strictObject({
  name: z.literal("onecycle"),
  interval,
  maxLr: positive(),
  totalSteps: positiveInt(),
  pctStart: z.number().gte(0).lte(1).default(0.3),
  annealStrategy: z.enum(["cos", "linear"]).default("cos"),
  cycleMomentum: z.boolean().default(true),
  baseMomentum: z.number().gte(0).lte(1).default(0.85),
  maxMomentum: z.number().gte(0).lte(1).default(0.95),
  divFactor: positive().default(25),
  finalDivFactor: positive().default(1e4),
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

/** torch `ReduceLROnPlateau`: the one metric-driven schedule (a reducer, see `plateau.ts`). */
export const PlateauSpecSchema = z.strictObject({
  name: z.literal("plateau"),
  interval,
  mode: z.enum(["min", "max"]).default("min"),
  factor: z.number().gte(0).lt(1).default(0.1),
  patience: nonNegativeInt().default(10),
  threshold: nonNegative().default(1e-4),
  thresholdMode: z.enum(["rel", "abs"]).default("rel"),
  cooldown: nonNegativeInt().default(0),
  minLr: nonNegative().default(0),
  eps: nonNegative().default(1e-8),
});

/** Hugging Face `get_cosine_schedule_with_warmup`. */
export const WarmupCosineSpecSchema = z.strictObject({
  name: z.literal("warmupCosine"),
  interval,
  warmupSteps: nonNegativeInt(),
  totalSteps: positiveInt(),
  numCycles: positive().default(0.5),
});

/** Hugging Face `get_linear_schedule_with_warmup`. */
export const WarmupLinearSpecSchema = z.strictObject({
  name: z.literal("warmupLinear"),
  interval,
  warmupSteps: nonNegativeInt(),
  totalSteps: positiveInt(),
});

/** Every schedule a `sequential` may chain: all closed-form ones (not `plateau`, not nested). */
export const ChildSchedulerSpecSchema = z.discriminatedUnion("name", [
  ConstantSpecSchema,
  StepSpecSchema,
  MultistepSpecSchema,
  ExponentialSpecSchema,
  CosineSpecSchema,
  CosineWarmRestartsSpecSchema,
  LinearSpecSchema,
  PolynomialSpecSchema,
  OnecycleSpecSchema,
  WarmupCosineSpecSchema,
  WarmupLinearSpecSchema,
]);

/** torch `SequentialLR`: `schedulers[i]` runs from `milestones[i - 1]`, restarted at step 0. */
export const SequentialSpecSchema = z.strictObject({
  name: z.literal("sequential"),
  interval,
  schedulers: z.array(ChildSchedulerSpecSchema).min(1),
  milestones: z.array(positiveInt()),
}).check((ctx) => {
  const { schedulers, milestones } = ctx.value;
  // torch's OneCycleLR sets every param group's `initial_lr` to maxLr / divFactor when it is
  // built, and SequentialLR starts its children from `initial_lr`: beside a onecycle, every other
  // child would run from maxLr / divFactor, not from the optimizer's lr, and momentum would cycle
  // only while the onecycle runs. anneal does not reproduce that, so it refuses it.
  const oneCycle = schedulers.findIndex((child) => child.name === "onecycle");
  if (schedulers.length > 1 && oneCycle >= 0) {
    ctx.issues.push({
      code: "custom",
      input: "onecycle",
      path: ["schedulers", oneCycle, "name"],
      message: "cannot be onecycle beside other schedules (torch's OneCycleLR would make them " +
        "start from maxLr / divFactor instead of the optimizer's lr); use onecycle on its own, " +
        "its pctStart phase is its warmup",
    });
  } else if (milestones.length !== schedulers.length - 1) {
    ctx.issues.push({
      code: "custom",
      input: milestones,
      path: ["milestones"],
      message: `must have one entry fewer than 'schedulers' (${schedulers.length})`,
    });
  } else if (milestones.some((m, i) => i > 0 && m <= milestones[i - 1])) {
    ctx.issues.push({
      code: "custom",
      input: milestones,
      path: ["milestones"],
      message: "must be strictly increasing",
    });
  }
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
