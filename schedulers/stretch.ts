/**
 * A schedule for a longer (or shorter) run: the same shape, stretched over the new length. A run
 * made longer (more epochs) or counted in more steps (a smaller batch) under a schedule with an
 * end — onecycle's `totalSteps`, cosine's `tMax`, the warmup schedules' `totalSteps`, polynomial
 * and linear's `totalIters`, a sequential's milestones — would otherwise train past that end:
 * torch's OneCycleLR raises there, cosine climbs back up, warmupLinear and polynomial sit at a
 * rate of 0. Schedules without an end (constant, step, multistep, exponential, cosineWarmRestarts,
 * cyclic, plateau) keep their settings over more epochs: they decay at the same cadence over the
 * longer run. Where an epoch takes more or fewer steps (another batch size or accumulation), those
 * counted in steps keep their period in epochs instead: step's `stepSize`, multistep's milestones,
 * cosineWarmRestarts' `t0`, cyclic's half-cycles and constant's `totalIters` follow the steps an
 * epoch takes, and exponential's `gamma` is taken to the power that keeps its decay an epoch.
 *
 * @module
 */
import { OnecycleSpecSchema, type ResolvedSchedulerSpec } from "./spec.ts";

/** How much longer the run is, counted in each `interval` (the new length over the old). */
export interface Stretch {
  /** The factor for schedules counted in steps (`interval: "step"`, the default). */
  steps: number;
  /** The factor for schedules counted in epochs. */
  epochs: number;
  /**
   * The steps an epoch takes, the new over the old (1 when omitted): a schedule without an end
   * counted in steps keeps its period in epochs by it.
   */
  perEpoch?: number;
  /**
   * The run's steps before and after, where known: a onecycle whose `totalSteps` covered the old
   * run is made to cover the new one (torch raises once stepped past it), rounding aside.
   */
  runSteps?: { before: number; after: number };
}

/** A count of steps times `factor`, whole and at least 1 (0 and below are kept as they are). */
function scaled(value: number, factor: number): number {
  if (!(value > 0)) return value;
  return Math.max(1, Math.round(value * factor));
}

/** A schedule with an end, stretched by `factor`; undefined for one without an end. */
function stretchOne(
  spec: Record<string, unknown>,
  factor: number,
): Record<string, unknown> | undefined {
  const scale = (...fields: string[]) => {
    const out = { ...spec };
    for (const field of fields) {
      if (typeof out[field] === "number") out[field] = scaled(out[field] as number, factor);
    }
    return out;
  };
  switch (spec.name) {
    case "onecycle": {
      // a length whose phases torch divides by zero in (pctStart * totalSteps = 1, say) is
      // refused: one of the next few up is not
      const out = scale("totalSteps");
      for (let tries = 0; tries < 3 && !OnecycleSpecSchema.safeParse(out).success; tries++) {
        out.totalSteps = (out.totalSteps as number) + 1;
      }
      return out;
    }
    case "cosine":
      return scale("tMax");
    case "warmupCosine":
    case "warmupLinear":
      return scale("warmupSteps", "totalSteps");
    case "polynomial":
    case "linear":
      return scale("totalIters");
    default:
      return undefined;
  }
}

/**
 * A schedule without an end, counted in steps, whose period is kept in epochs where an epoch takes
 * `factor` times the steps; undefined for one with an end, or nothing to change.
 */
function keepPeriod(
  spec: Record<string, unknown>,
  factor: number,
): Record<string, unknown> | undefined {
  if (factor === 1) return undefined;
  const out = { ...spec };
  const scale = (field: string) => {
    if (typeof out[field] === "number") out[field] = scaled(out[field] as number, factor);
  };
  switch (spec.name) {
    case "step":
      scale("stepSize");
      break;
    case "multistep":
      out.milestones = (spec.milestones as number[]).map((m) => scaled(m, factor));
      break;
    case "cosineWarmRestarts":
      scale("t0");
      break;
    case "cyclic":
      scale("stepSizeUp");
      scale("stepSizeDown");
      break;
    case "constant":
      scale("totalIters");
      break;
    case "exponential": {
      // gamma a step, to the power 1/factor: the same decay over an epoch's steps (a gamma of 0
      // or below has no such root: it is kept)
      const gamma = spec.gamma as number;
      if (gamma > 0) out.gamma = Number((gamma ** (1 / factor)).toPrecision(15));
      break;
    }
    default:
      return undefined;
  }
  return JSON.stringify(out) === JSON.stringify(spec) ? undefined : out;
}

/**
 * `spec` stretched over a run `stretch` times as long, or undefined when it needs no change (no
 * end to move, or factors of 1). A sequential's milestones and its children with an end are
 * stretched alike, so that each child keeps its share of the run; its milestones stay increasing.
 *
 * @example
 * ```ts
 * import { stretchSchedule } from "./stretch.ts";
 * const onecycle = { name: "onecycle", maxLr: 0.1, totalSteps: 2110, interval: "step" } as const;
 * const longer = stretchSchedule(onecycle as never, { steps: 2, epochs: 2 });
 * console.assert((longer as { totalSteps: number }).totalSteps === 4220);
 * console.assert(stretchSchedule({ name: "exponential", gamma: 0.9 } as never, { steps: 2, epochs: 2 }) === undefined);
 * ```
 */
export function stretchSchedule(
  spec: ResolvedSchedulerSpec,
  stretch: Stretch,
): ResolvedSchedulerSpec | undefined {
  const inSteps = (spec.interval ?? "step") !== "epoch";
  const factor = inSteps ? stretch.steps : stretch.epochs;
  const period = inSteps && stretch.perEpoch! > 0 ? stretch.perEpoch! : 1;
  if (!(factor > 0) || (factor === 1 && period === 1)) return undefined;
  const record = spec as unknown as Record<string, unknown>;
  if (spec.name === "onecycle" && stretch.runSteps) {
    // a onecycle that covered the whole run covers the new one, whatever the rounding
    const { before, after } = stretch.runSteps;
    const out = stretchOne(record, factor)!;
    if (spec.totalSteps >= before && (out.totalSteps as number) < after) out.totalSteps = after;
    return out as ResolvedSchedulerSpec;
  }
  if (spec.name !== "sequential") {
    return ((factor === 1 ? undefined : stretchOne(record, factor)) ??
      keepPeriod(record, period)) as ResolvedSchedulerSpec | undefined;
  }
  const milestones: number[] = [];
  for (const milestone of spec.milestones) {
    const previous = milestones.at(-1);
    const next = scaled(milestone, factor);
    milestones.push(previous !== undefined && next <= previous ? previous + 1 : next);
  }
  const schedulers = spec.schedulers.map((child) => {
    const record = child as unknown as Record<string, unknown>;
    return (factor === 1 ? undefined : stretchOne(record, factor)) ?? keepPeriod(record, period) ??
      child;
  });
  return { ...spec, milestones, schedulers } as ResolvedSchedulerSpec;
}

/**
 * The changes, as config paths and values, that stretch `config`'s schedule (`stretchSchedule`):
 * each setting of the `scheduler` section that moves (`scheduler.totalSteps`, a sequential's
 * `scheduler.milestones` and its `scheduler.schedulers` list). Empty when nothing moves.
 *
 * @example
 * ```ts
 * import { stretchChanges } from "./stretch.ts";
 * const scheduler = { name: "cosine", tMax: 100, etaMin: 0, interval: "step" };
 * const changes = stretchChanges({ scheduler }, { steps: 2, epochs: 2 });
 * console.assert(JSON.stringify(changes) === '{"scheduler.tMax":200}');
 * ```
 */
export function stretchChanges(
  config: { scheduler?: unknown },
  stretch: Stretch,
): Record<string, unknown> {
  const scheduler = config.scheduler;
  if (!scheduler || typeof scheduler !== "object") return {};
  const stretched = stretchSchedule(scheduler as ResolvedSchedulerSpec, stretch);
  const changes: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(stretched ?? {})) {
    const before = (scheduler as Record<string, unknown>)[key];
    if (JSON.stringify(before) !== JSON.stringify(value)) changes[`scheduler.${key}`] = value;
  }
  return changes;
}
