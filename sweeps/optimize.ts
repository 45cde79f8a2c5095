/**
 * {@linkcode optimize}: a study over the user's own objective function (Optuna's
 * `study.optimize(objective)`), through the sweep machinery ({@linkcode runStudy}): a search
 * space in the form of a config's `sweep.space`, a sampler and a pruner by name, and study
 * storage by URL (SQLite or PostgreSQL) to continue or share a study.
 *
 * @module
 */
import { AnnealError } from "../errors.ts";
import { openStorage } from "../storage/mod.ts";
import type { Direction, StudyStorage } from "../storage/types.ts";
import { checkOptionNames } from "../option_names.ts";
import { closestName } from "../zod_paths.ts";
import { type Params, parseSpace, type SearchSpace, type SearchSpaceInput } from "./space.ts";
import { gridCount } from "./samplers/grid.ts";
import { runStudy, type StudyResult } from "./study.ts";
import { SAMPLER_NAMES, type SamplerName, samplerNamed } from "./samplers/named.ts";
import type { TpeOptions } from "./samplers/tpe.ts";
import type { Sampler } from "./samplers/types.ts";
import type { MedianPrunerOptions } from "./pruners/median.ts";
import type { AshaOptions } from "./pruners/asha.ts";
import type { HyperbandOptions } from "./pruners/hyperband.ts";
import { PRUNER_OPTIONS, prunerNamed } from "./pruners/named.ts";
import { type Pruner, PRUNER_NAMES, type PrunerName } from "./pruners/types.ts";

/** The samplers {@linkcode optimize} takes by name (those of a config's `sweep.sampler`). */
export type { SamplerName };
/** The pruners {@linkcode optimize} takes by name (those of a config's `sweep.pruner`). */
export type { PrunerName };

/** What an objective of {@linkcode optimize} is given beside its params. */
export interface ObjectiveTrial {
  /** 0, 1, 2, ... within the study (a retry gets its own number). */
  number: number;
  /**
   * Records an intermediate value (a learning-curve point) at `step`; resolves true when the
   * pruner stops the trial. The objective should then return (its value is ignored) or throw:
   * either way the trial is recorded PRUNED. A `step` that is not a whole number >= 0, or a
   * `value` that is not a number, rejects with an {@linkcode AnnealError} (`usage`). A step the
   * trial reported already is ignored, as Optuna's `trial.report` ignores it: its first value
   * stays, and the answer is the last report's.
   */
  report(step: number, value: number): Promise<boolean>;
  /**
   * Aborted once the trial is pruned, or taken away from this worker (its heartbeats missed so
   * long that the study reaped it, to run it again); long objectives may watch it.
   * {@linkcode OptimizeOptions.signal} does not abort it: that lets running trials end.
   */
  signal: AbortSignal;
}

/** The function {@linkcode optimize} searches: params in, the value to minimize (or maximize) out. */
export type UserObjective = (
  params: Params,
  trial: ObjectiveTrial,
) => Promise<number> | number;

/** Options of {@linkcode optimize}. */
export interface OptimizeOptions {
  /**
   * Names and their distributions, in the form of a config's `sweep.space`:
   * `{ x: { type: "uniform", low: -5, high: 5 }, lr: { type: "logUniform", low: 1e-4, high: 0.1 } }`
   * (also `int`, `choice`, `grid`, and `when` conditions). Names are identifiers, dotted or not.
   */
  space: SearchSpaceInput;
  /** The function to optimise. */
  objective: UserObjective;
  /** Default "minimize". */
  direction?: Direction;
  /**
   * The study's budget of trials, earlier runs included: a stored study that has 20 and is run
   * with 30 gets 10 more. A positive whole number.
   */
  trials: number;
  /** Default "tpe" (random for its first 10 trials, then model-based). */
  sampler?: SamplerName;
  /** TPE's settings (Optuna's defaults), with `sampler: "tpe"` only. */
  samplerOptions?: Partial<TpeOptions>;
  /** Default "median"; it prunes only trials that `report` intermediate values. */
  pruner?: PrunerName;
  /** The pruner's settings; "hyperband" needs `maxResource` (the last step reported). */
  prunerOptions?: Partial<MedianPrunerOptions & AshaOptions & HyperbandOptions>;
  /**
   * Where the study is kept: `sqlite:PATH` or a file path (`study.db`), `postgres://...`, or an
   * open {@linkcode StudyStorage} (left open). Default: in memory, gone when the call returns.
   */
  storage?: string | StudyStorage;
  /**
   * The study's name in the storage (default "study"). A study of that name is continued: its
   * trials are kept and count toward `trials`; its space and direction must be the same.
   */
  study?: string;
  /** Trials this call runs at once, as concurrent calls of the objective (default 1). */
  parallel?: number;
  /**
   * Seeds the sampler (default 0): a study run again with the same seed by one worker draws the
   * same params (each trial's draw is seeded by it and the trial's index in the study).
   */
  seed?: number;
  /**
   * Names this worker in the storage (default: host name, pid and a random suffix). Each process
   * that runs the study at once needs its own.
   */
  workerId?: string;
  /**
   * Stops the study after its running trials, as Optuna's `study.stop()`: no trial starts once it
   * is aborted, and those running run to their ends (their `trial.signal` is not aborted); the
   * result's `stopped` gives its reason.
   */
  signal?: AbortSignal;
  /**
   * Called, before any trial runs, with what the study's budget comes to where it is not what
   * was asked (a grid sampler with fewer points than `trials`, a stored study that has its
   * trials already), each a line that starts `notice: `. optimize prints nothing itself.
   */
  onNotice?: (message: string) => void;
}

const SAMPLERS: SamplerName[] = [...SAMPLER_NAMES];
const PRUNERS: PrunerName[] = [...PRUNER_NAMES];
const TPE_OPTIONS = [
  "nStartupTrials",
  "nEiCandidates",
  "gamma",
  "priorWeight",
  "considerEndpoints",
  "considerMagicClip",
  "weights",
];

function usage(message: string, where: string, hint: string): AnnealError {
  return new AnnealError("usage", `Cannot optimize: ${message}`, { where, hint });
}

function checkName<T extends string>(field: string, value: unknown, names: T[]): T {
  if (typeof value === "string" && (names as string[]).includes(value)) return value as T;
  const close = typeof value === "string" ? closestName(value, names) : undefined;
  throw usage(
    `unknown ${field} ${JSON.stringify(value)}`,
    field,
    `${close ? `did you mean "${close}"? ` : ""}${field} is one of ${names.join(", ")}`,
  );
}

function checkWhole(field: string, value: unknown, min: number): number {
  // (a safe integer: a seed of 2^53 or more passed, the study was stored, and the first draw
  // failed with "Cannot derive a seed", naming no option)
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= min) return value;
  throw usage(
    `'${field}' must be a whole number >= ${min}${
      typeof value === "number" && Number.isInteger(value) && value >= min
        ? " and at most 2^53 - 1 (Number.MAX_SAFE_INTEGER)"
        : ""
    }, current value is ${
      typeof value === "number" ? String(value) : JSON.stringify(value) ?? String(value)
    }`,
    field,
    field === "trials"
      ? "give the study's number of trials, e.g. trials: 30"
      : `e.g. ${field}: ${min}`,
  );
}

function checkKeys(field: string, options: object | undefined, known: string[], of: string) {
  for (const key of Object.keys(options ?? {})) {
    if (known.includes(key)) continue;
    const close = closestName(key, known);
    throw usage(
      `${of} takes no option '${key}'`,
      `${field}.${key}`,
      known.length === 0
        ? `${of} has no options: leave ${field} out`
        : `${close ? `did you mean '${close}'? ` : ""}its options are ${known.join(", ")}`,
    );
  }
}

/**
 * A reported step: a whole number >= 0, as Optuna's `trial.report` takes (NaN reached the
 * storage as a NOT NULL constraint failure; a fraction or a negative step, the pruners' rungs).
 */
function checkStep(step: unknown): number {
  if (typeof step === "number" && Number.isInteger(step) && step >= 0) return step;
  throw new AnnealError(
    "usage",
    `Cannot report: 'step' must be a whole number >= 0, current value is ${
      typeof step === "number" ? String(step) : JSON.stringify(step) ?? String(step)
    }`,
    {
      where: "step",
      hint: "report the epoch or step count: await trial.report(epoch, loss)",
    },
  );
}

/** A reported value: a number (NaN is one the pruners read as a diverged trial's). */
function checkValue(step: number, value: unknown): number {
  if (typeof value === "number") return value;
  throw new AnnealError(
    "usage",
    `Cannot report at step ${step}: 'value' must be a number, current value is ${
      JSON.stringify(value) ?? String(value)
    }`,
    {
      where: "value",
      hint: typeof value === "string"
        ? "report the number itself, e.g. Number(text)"
        : "report the objective's value at that step, e.g. await trial.report(epoch, loss)",
    },
  );
}

/** The options of {@linkcode optimize}: any other name is refused, naming the one likely meant. */
const OPTION_NAMES: (keyof OptimizeOptions)[] = [
  "space",
  "objective",
  "direction",
  "trials",
  "sampler",
  "samplerOptions",
  "pruner",
  "prunerOptions",
  "storage",
  "study",
  "parallel",
  "seed",
  "workerId",
  "signal",
  "onNotice",
];

/**
 * What each setting of a sampler or pruner takes, as Optuna's: `[kind, least]` for numbers
 * (`int` a whole number), else the type. A value outside it hung the study (asha's
 * `reductionFactor: 1`), pruned every trial (asha's 0), threw a RangeError or a TypeError from
 * inside the sampler (hyperband's 1; TPE's `gamma: 0.25`, a function in Optuna too).
 */
const SETTING_KINDS: Record<string, ["int" | "number", number] | "function" | "boolean"> = {
  nStartupTrials: ["int", 0],
  nEiCandidates: ["int", 1],
  gamma: "function",
  priorWeight: ["number", Number.MIN_VALUE],
  considerEndpoints: "boolean",
  considerMagicClip: "boolean",
  weights: "function",
  nWarmupSteps: ["int", 0],
  intervalSteps: ["int", 1],
  nMinTrials: ["int", 1],
  minResource: ["int", 1],
  maxResource: ["int", 1],
  reductionFactor: ["int", 2],
  minEarlyStoppingRate: ["int", 0],
};

function checkSettings(field: string, settings: object | undefined, of: string) {
  for (const [key, value] of Object.entries(settings ?? {})) {
    const kind = SETTING_KINDS[key];
    if (kind === undefined || value === undefined) continue;
    const shown = typeof value === "function" ? "a function" : JSON.stringify(value) ??
      String(value);
    if (typeof kind === "string") {
      if (kind === "function" ? typeof value === "function" : typeof value === "boolean") continue;
      throw usage(
        `${of}'s '${key}' must be ${kind === "function" ? "a function" : "true or false"}, ` +
          `current value is ${typeof value === "number" ? String(value) : shown}`,
        `${field}.${key}`,
        kind === "function"
          ? key === "gamma"
            ? "give gamma: (n) => how many of the n trials count as good, e.g. " +
              "(n) => Math.min(Math.ceil(0.1 * n), 25), or leave it out"
            : "give weights: (n) => n weights, one per trial oldest first, or leave it out"
          : `give ${key}: true or false, or leave it out`,
      );
    }
    const [type, least] = kind;
    if (
      typeof value === "number" && Number.isFinite(value) && value >= least &&
      (type === "number" || Number.isInteger(value))
    ) continue;
    throw usage(
      `${of}'s '${key}' must be ${
        type === "int" ? `a whole number >= ${least}` : "a number > 0"
      }, current value is ${typeof value === "number" ? String(value) : shown}`,
      `${field}.${key}`,
      `e.g. ${field}: { ${key}: ${
        type === "int" ? Math.max(least, key === "maxResource" ? 27 : least) : 1
      } }, or leave it out`,
    );
  }
}

/**
 * What `check` gives, or its refusal said of optimize's `space` option: the space's checks that a
 * sweep shares (its conditions', the grid's) name a config's `sweep.space`.
 */
function ofSpace<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (!(error instanceof AnnealError)) throw error;
    const own = (text: string) => text.replace(/\bsweep\.space\b/g, "space");
    throw new AnnealError(error.code, own(error.message), {
      where: error.where && own(error.where),
      hint: error.hint && own(error.hint),
      cause: error,
    });
  }
}

function samplerOf(options: OptimizeOptions, space: SearchSpace): Sampler {
  const name = checkName("sampler", options.sampler ?? "tpe", SAMPLERS);
  checkKeys("samplerOptions", options.samplerOptions, name === "tpe" ? TPE_OPTIONS : [], name);
  checkSettings("samplerOptions", options.samplerOptions, name);
  // a range the grid cannot take (it said the range was at "sweep.space.x")
  if (name === "grid") ofSpace(() => gridCount(space));
  return samplerNamed(name, { seed: options.seed ?? 0, tpe: options.samplerOptions });
}

function prunerOf(options: OptimizeOptions): Pruner {
  const name = checkName("pruner", options.pruner ?? "median", PRUNERS);
  const o = options.prunerOptions;
  checkKeys("prunerOptions", o, [...PRUNER_OPTIONS[name]], name);
  checkSettings("prunerOptions", o, name);
  if (
    o?.minResource !== undefined && o.maxResource !== undefined && o.minResource > o.maxResource
  ) {
    throw usage(
      `${name}'s 'minResource' (${o.minResource}) is above its 'maxResource' (${o.maxResource})`,
      "prunerOptions.minResource",
      "give a minResource at most maxResource, the last step your objective reports",
    );
  }
  if (name === "hyperband") {
    const max = o?.maxResource;
    if (typeof max !== "number" || !(max > 0)) {
      throw usage(
        `the hyperband pruner needs prunerOptions.maxResource, a number > 0, current value ` +
          `is ${JSON.stringify(max) ?? "undefined"}`,
        "prunerOptions.maxResource",
        "give the last step your objective reports, e.g. prunerOptions: { maxResource: 27 }",
      );
    }
  }
  // (each pruner's own defaults: resources are the steps the objective reports)
  return prunerNamed(name, o);
}

/**
 * Searches `space` for the params that minimize (or maximize) `objective`: Optuna's
 * `study.optimize(objective)`. Returns the study's trials and its best COMPLETE trial.
 *
 * A trial whose objective throws, or returns a value that is not a finite number (NaN,
 * Infinity), is recorded FAILED with the error as its `reason` (`objective threw: ...`,
 * `objective returned NaN`); the study goes on, and failed trials count toward `trials`. A trial
 * whose `report` resolved true is recorded PRUNED, whatever the objective then returns or throws.
 * Invalid options (an unknown option name among them, and a sampler's or pruner's setting out
 * of its range) throw an {@linkcode AnnealError} (code "usage", or "config" for the space)
 * before any trial runs.
 *
 * @example Minimize a quadratic with TPE
 * ```ts
 * import { optimize } from "../mod.ts";
 * const result = await optimize({
 *   space: { x: { type: "uniform", low: -5, high: 5 } },
 *   objective: ({ x }) => ((x as number) - 2) ** 2,
 *   trials: 20,
 * });
 * console.assert(result.best !== undefined);
 * ```
 */
export async function optimize(options: OptimizeOptions): Promise<StudyResult> {
  if (typeof options !== "object" || options === null) {
    throw usage(
      "optimize takes an options object",
      "options",
      "call optimize({ space, objective, trials })",
    );
  }
  // (a misspelt name, as samplr, was ignored: the study ran with the default)
  checkOptionNames(options, OPTION_NAMES, "optimize");
  // (a condition refused named a config's sweep.space["b"])
  const space = ofSpace(() => parseSpace(options.space));
  if (typeof options.objective !== "function") {
    throw usage(
      "'objective' must be a function",
      "objective",
      "give objective: (params, trial) => value, returning the number to minimize",
    );
  }
  const trials = checkWhole("trials", options.trials, 1);
  const parallel = checkWhole("parallel", options.parallel ?? 1, 1);
  const seed = checkWhole("seed", options.seed ?? 0, 0);
  const direction = checkName("direction", options.direction ?? "minimize", [
    "minimize",
    "maximize",
  ] as Direction[]);
  const studyName = options.study ?? "study";
  if (typeof studyName !== "string" || studyName.trim() === "") {
    throw usage(
      `'study' must be a non-empty name, current value is ${JSON.stringify(studyName)}`,
      "study",
      'name the study, e.g. study: "my-model"',
    );
  }
  if (options.onNotice !== undefined && typeof options.onNotice !== "function") {
    throw usage(
      "'onNotice' must be a function",
      "onNotice",
      "give onNotice: (message) => console.warn(message), or leave it out",
    );
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw usage(
      "'signal' must be an AbortSignal",
      "signal",
      "give signal: controller.signal (const controller = new AbortController()), or leave it out",
    );
  }
  if (options.workerId !== undefined && typeof options.workerId !== "string") {
    throw usage(
      `'workerId' must be a string, current value is ${JSON.stringify(options.workerId)}`,
      "workerId",
      'name this worker, e.g. workerId: "gpu-1", or leave it out',
    );
  }
  const sampler = samplerOf(options, space);
  const pruner = prunerOf(options);
  const given = options.storage ?? "sqlite::memory:";
  const storage = typeof given === "string"
    ? await openStorage(given).catch((error) => {
      // (the storage's own error, said of this option)
      if (!(error instanceof AnnealError) || error.where !== undefined) throw error;
      throw new AnnealError(error.code, error.message, {
        where: "storage",
        hint: error.hint,
        cause: error,
      });
    })
    : given;
  const objective = options.objective;
  try {
    return await runStudy({
      storage,
      studyName,
      space,
      sampler,
      pruner,
      direction,
      trials,
      parallel,
      seed,
      workerId: options.workerId,
      signal: options.signal,
      onNotice: options.onNotice,
      objective: async (params, report, context) => {
        // a step reported again is ignored, as Optuna's trial.report ignores it: its value
        // replaced the first, and a pruner judged the trial at that step again (asha at a rung
        // it had passed); the answer is the last report's
        const reported = new Set<number>();
        let stop = false;
        return await objective(params, {
          number: context.number,
          report: async (step, value) => {
            const at = checkStep(step);
            const checked = checkValue(at, value);
            if (reported.has(at)) return stop;
            reported.add(at);
            return stop = await report(at, checked);
          },
          signal: context.signal,
        });
      },
    });
  } finally {
    if (typeof given === "string") await storage.close();
  }
}
