/**
 * Sweeps: a study of trials over a config's `sweep.space`, each trial a full run through its own
 * five actors, sampled by grid, random, quasi-random or TPE, pruned by its per-epoch metric, and
 * stored in SQLite (one machine) or PostgreSQL (many machines, `anneal worker`).
 *
 * @module
 */
import { type ConfigWarning, parseConfig, type RunConfig } from "../config.ts";
import { AnnealError } from "../errors.ts";
import { checkArgument, checkOptionNames, isObject } from "../option_names.ts";
import type { RunConfigInput } from "../config.ts";
import {
  applyParams,
  fromUnit,
  intHigh,
  type Params,
  type ParamValue,
  parseSpace,
} from "../sweeps/space.ts";
import { type SweepSpec, SweepSpecSchema } from "../sweeps/spec.ts";
import { runStudy, type StudyResult } from "../sweeps/study.ts";
import {
  gridCount,
  gridValues,
  triedPoints,
  untriedCount,
  untriedPoints,
} from "../sweeps/samplers/grid.ts";
import { samplerNamed } from "../sweeps/samplers/named.ts";
import type { Sampler } from "../sweeps/samplers/types.ts";
import { prunerNamed } from "../sweeps/pruners/named.ts";
import type { Pruner } from "../sweeps/pruners/types.ts";
import { openStorage } from "../storage/mod.ts";
import type { Study, StudyStorage, Trial } from "../storage/types.ts";
import { checkSameStudy, redactedUrl } from "../storage/_common.ts";
import { checkRunId, makeRunDirectory } from "./records.ts";
import { shellWord } from "../shell_word.ts";
import { trainTrial, type TrialRunStart } from "./trial_run.ts";
import type { WarningEvent } from "./events.ts";
import { SpareActors } from "./actor_workers.ts";
import {
  checkMetric,
  dataTask,
  epochMetricNames,
  higherIsBetter,
  LOSS_METRICS,
  metricNames,
  validationName,
} from "../task_fit.ts";
import { maximizes } from "../optimizers/hazards.ts";
import { type RateSetting, rateSetting } from "../schedulers/rate_setting.ts";
import { canonicalJson, closestName, formatPath, valueAt } from "../zod_paths.ts";
import { issueText } from "../issue_text.ts";
import { checkStudyDirection } from "./study_direction.ts";
import { checkStudyDataPaths } from "./study_data_paths.ts";
import { absoluteDataPaths } from "../data/paths.ts";
import { type Alternative, conditionOf, conditionText, drawnParams } from "../sweeps/conditions.ts";
import { drawingCases, firstCases } from "../sweeps/condition_cases.ts";
import { checkKindSwitches, switchKinds } from "./trial_kinds.ts";
import {
  conditionalLengthWarning,
  conditionalRateWarning,
  readsConditions,
  scheduleLengthWarning,
} from "./schedule_warnings.ts";

/** What a study stores so that any worker can run its trials. */
export interface StudyDefinition {
  /** Marks the stored JSON as an anneal sweep definition. */
  kind: "anneal-sweep";
  /** The sweep section: search space, objective, trials, sampler, pruner. */
  sweep: SweepSpec;
  /** The config every trial starts from (without its `sweep` section). */
  base: Omit<RunConfig, "sweep">;
  /**
   * The space's paths in the order its config gives them. A storage keeps no key order (its
   * JSON is stored with keys sorted, as PostgreSQL's `jsonb` gives them back), and the grid
   * sampler takes its points in this order, the first path varying slowest: a worker puts the
   * stored space back in it. Absent in a study of an older anneal (its paths sorted then).
   */
  spaceOrder?: string[];
}

/**
 * The definition with its space's paths in the order it was created with (`spaceOrder`), as
 * the study's creator had them, where the storage gave them back sorted.
 */
export function orderedDefinition(definition: StudyDefinition): StudyDefinition {
  const order = definition.spaceOrder;
  const space = definition.sweep?.space as Record<string, unknown> | undefined;
  if (!Array.isArray(order) || !space) return definition;
  const paths = Object.keys(space);
  if (order.length !== paths.length || !order.every((path) => Object.hasOwn(space, path))) {
    return definition;
  }
  const ordered = Object.fromEntries(order.map((path) => [path, space[path]]));
  return { ...definition, sweep: { ...definition.sweep, space: ordered as SweepSpec["space"] } };
}

/**
 * What makes two runs of a study the same study, so that their trials compare: the search space,
 * the metric (its direction is checked beside it) and the base config, less where runs are
 * written and the config's name. Everything else of the sweep section (trials, sampler, pruner,
 * parallel, seed) says how to run it, and may change from one `anneal sweep` to the next.
 */
export function studyIdentity(definition: unknown): unknown {
  const { kind, sweep, base } = definition as Partial<StudyDefinition>;
  if (kind !== "anneal-sweep" || !sweep || !base) return definition;
  const { runsDir: _runsDir, name: _name, ...training } = base;
  // (a study an older anneal stored names its data relative to where its sweep ran: run again
  // from there, it is the same study as the one this anneal stores with the paths absolute)
  const data = isObject(training.data)
    ? absoluteDataPaths(training.data, Deno.cwd())
    : training.data;
  return { kind, space: sweep.space, metric: sweep.metric, base: { ...training, data } };
}

/**
 * Options of {@linkcode runSweep}, and but for `trials`, `sampler` and `pruner` (a worker runs
 * the study's) of {@linkcode runWorker}: {@linkcode WorkerOptions}.
 */
export interface SweepOptions {
  /** `sqlite:PATH`, a file path, or `postgres://...` (default: `<runsDir>/sweeps.db`). */
  storage?: string;
  /** The study's name (default: the config's name, else "sweep"). */
  study?: string;
  /**
   * The study's trials in all, overriding the config's `sweep.trials`: a study that already has
   * some gets the rest (4 finished and `trials: 6` run 2 more).
   */
  trials?: number;
  /**
   * Trials run at once by this process; a worker's (`runWorker`) is its own, where the study's
   * `sweep.parallel` is the default, and is not stored.
   */
  parallel?: number;
  /** Sampler to use instead of the config's. */
  sampler?: SweepSpec["sampler"];
  /** Pruner to use instead of the config's. */
  pruner?: SweepSpec["pruner"];
  /**
   * Called when a trial ends, with the study's definition (`trialRate` tells the rate the trial
   * trained at).
   */
  onTrial?: (trial: Trial, definition: StudyDefinition) => void;
  /**
   * Called for each trial of a dead worker (killed, cut off: no heartbeat for 10 s) that this one
   * marks FAILED, with the retry queued for it, where one was (up to 2 a trial).
   */
  onReaped?: (trial: Trial, retry: Trial | undefined, definition: StudyDefinition) => void;
  /**
   * Called when a retry (of a trial interrupted, or of a dead worker's) starts its run: it
   * continues the run of the trial it retries from its last checkpoint, or, where that run
   * cannot be resumed (no checkpoint yet, a damaged one, its directory gone, its data changed
   * since), trains a new one, with the reason.
   */
  onTrialRun?: (start: TrialRunStart, definition: StudyDefinition) => void;
  /**
   * Called, before any trial runs, with what in the sweep is likely a mistake (a `direction` that
   * contradicts the trials' `optimizer.maximize`, a space over the `optimizer.lr` that the trials'
   * onecycle ignores); the result lists them too.
   */
  onWarning?: (warning: ConfigWarning) => void;
  /**
   * Called with each warning a trial's run gives at its start (a setting the trial drew that is
   * likely a mistake, a schedule that the run's length cuts; not its training's, as skipped
   * steps), which its `meta.json` keeps too; `anneal sweep` and `anneal worker` print each once.
   */
  onTrialWarning?: (trial: number, warning: WarningEvent) => void;
  /**
   * Called, before any trial runs, with what the study's budget comes to where it is not what
   * was asked (a grid with fewer points than the trials, a study that has its trials already),
   * each a line that starts `notice: `; `anneal sweep` and `anneal worker` print them to stderr.
   * Nothing is printed otherwise.
   */
  onNotice?: (message: string) => void;
  /**
   * Called once the study is open, before any warning or trial: the trials it holds already
   * (none for a new study; retries among them), the definition it runs under and its direction.
   */
  onStudy?: (
    trials: Trial[],
    definition: StudyDefinition,
    direction: "minimize" | "maximize",
  ) => void;
  /** Worker identity (default: host:pid:random). */
  workerId?: string;
  /**
   * Interrupts the sweep (what `anneal sweep` and `anneal worker` do on Ctrl-C): no trial is
   * started any more, each running trial's run stops after its current step as `interrupted`
   * (its checkpoint kept), and the trial is recorded FAILED with the reason and queued to run
   * again, first, when the study goes on (`anneal sweep` again, or `anneal worker`). The result
   * says `interrupted`.
   */
  interrupt?: AbortSignal;
}

/** A finished sweep. */
export interface SweepResult extends StudyResult {
  /** What the study stores: sweep spec and base config. */
  definition: StudyDefinition;
  /** Whether a smaller or a larger objective is better. */
  direction: "minimize" | "maximize";
  /** The best trial's full config, ready for `anneal train -c`. */
  bestConfig?: RunConfig;
  /** What in the sweep is likely a mistake, as given to `onWarning`. */
  warnings: ConfigWarning[];
}

/** The options {@linkcode runSweep} and {@linkcode runWorker} take (any other is refused). */
const SWEEP_OPTIONS = Object.keys(
  {
    storage: true,
    study: true,
    trials: true,
    parallel: true,
    sampler: true,
    pruner: true,
    onTrial: true,
    onReaped: true,
    onTrialRun: true,
    onWarning: true,
    onTrialWarning: true,
    onNotice: true,
    onStudy: true,
    workerId: true,
    interrupt: true,
  } satisfies Record<keyof SweepOptions, true>,
);

/** The sampler named by a sweep. */
export function samplerFor(spec: SweepSpec): Sampler {
  return samplerNamed(spec.sampler, { seed: spec.seed });
}

/**
 * The pruner named by a sweep (the one builder {@linkcode prunerNamed}, which `optimize` uses
 * too): resources are epochs, hyperband's `maxResource` the trials' `epochs`.
 */
export function prunerFor(spec: SweepSpec, epochs: number): Pruner {
  return prunerNamed(spec.pruner, {}, { maxResource: epochs, minResource: 1, reductionFactor: 3 });
}

/**
 * The most epochs a trial of the sweep trains: the base config's, or the largest its space draws
 * for `epochs` (hyperband's brackets and ASHA's rungs are laid out to it: from the base's 81
 * with trials of 4 epochs, brackets whose first rung came after epoch 4 never judged them).
 *
 * @example
 * ```ts
 * import { mostEpochs } from "./sweep.ts";
 * const sweep = { space: { epochs: { type: "choice", values: [4, 8] } } } as never;
 * console.assert(mostEpochs(sweep, 81) === 8);
 * ```
 */
export function mostEpochs(sweep: SweepSpec, base: number): number {
  const drawn = sweep.space["epochs"];
  if (!drawn) return base;
  const values = drawn.type === "choice" || drawn.type === "grid"
    ? drawn.values
    : [(drawn as { high: unknown }).high];
  const numbers = values.filter((v): v is number => typeof v === "number" && v > 0);
  return numbers.length > 0 ? Math.max(...numbers.map(Math.floor)) : base;
}

/** The config of one trial: the base with the trial's parameters applied, validated. */
export function trialConfig(definition: StudyDefinition, params: Params): RunConfig {
  checkArgument(
    isObject(definition) && isObject(definition.base),
    definition,
    "make the trial's config",
    "definition",
    "a study's definition (with its 'base' config)",
    "pass the definition anneal sweep stores with its study (its 'base' a parsed config)",
  );
  checkArgument(
    isObject(params),
    params,
    "make the trial's config",
    "params",
    "an object of config paths and values",
    'pass the trial\'s parameters, e.g. { "optimizer.lr": 0.01 }',
  );
  const applied = applyParams(structuredClone(definition.base) as Record<string, unknown>, params, {
    allowNew: true,
  });
  // a trial of another optimizer, schedule, model or data kind than the base's: its section
  // keeps none of the base kind's own fields and defaults
  const switched = switchKinds(definition.base, params, applied);
  return parseConfig(withFollowedModes(definition.base, params, switched), "trial config");
}

/** The mode early stopping (and a plateau schedule) defaults to for a config's watched metric. */
function followedMode(config: { earlyStopping?: unknown; optimizer?: unknown }): "min" | "max" {
  const monitor = (config.earlyStopping as { monitor?: unknown } | undefined)?.monitor;
  return typeof monitor === "string" && higherIsBetter(monitor, maximizes(config.optimizer))
    ? "max"
    : "min";
}

/**
 * A trial whose parameters change the direction of the metric early stopping watches (its
 * monitor, the optimizer's maximize) without setting a mode: the mode of early stopping and of a
 * plateau schedule, where the base's was the one that followed the base's metric, is left for
 * the trial's metric to set. The base is stored parsed, its mode filled in whether the config set
 * it or not: kept, a trial watching valAccuracy from a base watching valLoss took the least
 * accurate epoch as the best.
 */
function withFollowedModes(
  base: object,
  params: Params,
  applied: Record<string, unknown>,
): Record<string, unknown> {
  const before = followedMode(base);
  if (followedMode(applied) === before) return applied;
  const out = { ...applied };
  for (const section of ["earlyStopping", "scheduler"] as const) {
    const fields = applied[section] as Record<string, unknown> | null | undefined;
    if (fields === null || typeof fields !== "object" || fields.mode !== before) continue;
    if (section === "scheduler" && fields.name !== "plateau") continue;
    // (a mode the trial's parameters set, or a section they give whole, is theirs)
    if (Object.hasOwn(params, section) || Object.hasOwn(params, `${section}.mode`)) continue;
    const { mode: _, ...rest } = fields;
    out[section] = rest;
  }
  return out;
}

/**
 * The setting that sets a trial's learning rate and its value (`rateSetting` of its config): its
 * `optimizer.lr`, or under onecycle, which ignores that, its `maxLr`. Lenient, for the tables
 * that show it: parameters the schema refuses (a failed trial's) are read as they are.
 *
 * @example
 * ```ts
 * import { trialRate } from "./sweep.ts";
 * import { parseConfig } from "../config.ts";
 * const { sweep: _, ...base } = parseConfig({
 *   optimizer: { name: "sgd", lr: 0.1 },
 *   scheduler: { name: "onecycle", maxLr: 0.5, totalSteps: 100 },
 * });
 * const definition = { kind: "anneal-sweep" as const, sweep: { space: {} } as never, base };
 * const rate = trialRate(definition, { "scheduler.maxLr": 0.3 });
 * console.assert(rate?.path === "scheduler.maxLr" && rate.value === 0.3 && rate.oneCycle);
 * ```
 */
export function trialRate(
  definition: Pick<StudyDefinition, "base">,
  params: Params,
): RateSetting | undefined {
  try {
    const base = definition.base as unknown as Record<string, unknown>;
    return rateSetting(applyParams(base, params, { allowNew: true }));
  } catch {
    return undefined; // a path the base does not have: the trial failed on it
  }
}

/** The `optimizer.maximize` of each trial a sweep may run: the space's values, else the base's. */
function trialsMaximize(
  space: SweepSpec["space"],
  base: Pick<RunConfig, "optimizer">,
): Set<boolean> {
  const distribution = space["optimizer.maximize"];
  // (a conditional one leaves the trials that do not draw it the base's)
  const others = (d: { when?: Alternative | Alternative[] }) =>
    conditionOf(d.when) === undefined ? [] : [maximizes(base.optimizer)];
  // a numeric distribution over the flag gives trials the schema refuses: each fails on its own
  if (distribution?.type === "choice" || distribution?.type === "grid") {
    return new Set([
      ...distribution.values.map((value) => value === true),
      ...others(distribution),
    ]);
  }
  // whole optimizer sections: each its own flag
  const sections = space["optimizer"];
  if (sections?.type === "choice" || sections?.type === "grid") {
    return new Set([
      ...sections.values.map((value) =>
        (value as { maximize?: unknown } | null)?.maximize === true
      ),
      ...others(sections),
    ]);
  }
  return new Set([maximizes(base.optimizer)]);
}

/** The direction in which `metric` is better, for trials that do or do not maximize the loss. */
const followed = (metric: string, maximize: boolean) =>
  higherIsBetter(metric, maximize) ? "maximize" : "minimize";

/** The direction of a sweep's objective, and what about it is likely a mistake. */
export interface SweepDirection {
  /** Whether a smaller or a larger objective is better. */
  direction: "minimize" | "maximize";
  /** A `sweep.direction` that contradicts the trials' `optimizer.maximize`. */
  warning?: ConfigWarning;
}

/** sweepDirection's arguments as a plain-JS caller may give them: refused unless usable. */
function checkDirectionInputs(sweep: unknown, base: unknown): void {
  const what = "find the sweep's direction";
  const hint = 'pass the sweep section of a config, e.g. { metric: "valLoss", space: {} }, ' +
    "or parseConfig(config).sweep";
  checkArgument(isObject(sweep), sweep, what, "sweep", "an object", hint);
  const { metric, space } = sweep as Record<string, unknown>;
  checkArgument(typeof metric === "string", metric, what, "sweep.metric", "a metric's name", hint);
  checkArgument(isObject(space), space, what, "sweep.space", "an object", hint);
  if (!isObject(base) || !isObject(base.data) || !isObject(base.optimizer)) {
    throw new AnnealError(
      "usage",
      `Cannot find the sweep's direction: the base config must be one parseConfig gave (with ` +
        `'data' and 'optimizer' sections), current value is ${
          JSON.stringify(base) ?? String(base)
        }`,
      { where: "base", hint: "pass parseConfig(config) of the sweep's config" },
    );
  }
}

/**
 * The direction of a sweep's objective. `sweep.direction` when set; else, for the loss itself
 * (`loss`, `valLoss`), the direction the trials' optimizer pushes it: `maximize` when every trial
 * has `optimizer.maximize` (set in the base config, or the only value of a space over it), else
 * `minimize`; for any other metric, its name's (accuracy-like: maximize; errors: minimize).
 *
 * A space whose trials differ in `optimizer.maximize` is refused for a loss metric, whatever
 * `sweep.direction` says: half the trials would push the objective the wrong way (and each
 * trial's early stopping already reads its loss in its own direction). A `sweep.direction` set
 * against the trials' optimizer is kept, with a warning.
 *
 * @example
 * ```ts
 * import { sweepDirection } from "./sweep.ts";
 * import { parseConfig } from "../config.ts";
 * const base = parseConfig({ optimizer: { name: "adam", maximize: true } });
 * console.assert(sweepDirection({ metric: "valLoss", space: {} }, base).direction === "maximize");
 * console.assert(sweepDirection({ metric: "valMae", space: {} }, base).direction === "minimize");
 * ```
 */
export function sweepDirection(
  sweep: Pick<SweepSpec, "metric" | "direction" | "space">,
  base: Pick<RunConfig, "optimizer" | "data">,
): SweepDirection {
  checkDirectionInputs(sweep, base);
  const { metric } = sweep;
  // a name no epoch of any task logs (valAcc, mse) is refused naming the closest, where it took
  // minimize: a config's sweep.metric is checked as the config is parsed, one given here is not
  // (another task's metric is not: its name says its direction)
  const logged = (["regression", "classification", "binary"] as const)
    .flatMap((task) => epochMetricNames(task, true));
  if (!logged.includes(metric) || metric === "lr") {
    checkMetric(metric, dataTask(base.data), true, {
      action: "optimise",
      purpose: "in the sweep",
      subject: "a trial",
      where: "sweep.metric",
      validationFallback: false,
    });
  }
  if (!LOSS_METRICS.includes(metric)) {
    return { direction: sweep.direction ?? followed(metric, false) };
  }
  const flags = trialsMaximize(sweep.space, base);
  if (flags.size > 1) {
    const [other] = metricNames(dataTask(base.data).task);
    const instead = metric.startsWith("val") ? validationName(other) : other;
    // the flag itself, or whole optimizer sections that differ in it
    const flag = "optimizer.maximize" in sweep.space;
    const apart = flag
      ? `remove "optimizer.maximize" from sweep.space and set it in the config (--set ` +
        `optimizer.maximize=true)`
      : `keep the optimizer sections of sweep.space that maximize in this study`;
    throw new AnnealError(
      "config",
      `Cannot optimise '${metric}' with optimizer.maximize ${
        flag ? "in sweep.space" : "in some of sweep.space's optimizer sections"
      }: the trials that maximize push ${metric} up and the others push it down, so no one ` +
        `direction ranks them all (a sweep.direction cannot: either way, some trials work ` +
        `against it)`,
      {
        where: formatPath(["sweep", "space", flag ? "optimizer.maximize" : "optimizer"]),
        hint: `sweep one direction at a time: ${apart}, with another study (--study NAME) for ` +
          `the others; or optimise a metric that is better one way in both (--set ` +
          `sweep.metric=${instead})`,
      },
    );
  }
  const maximize = [...flags][0];
  const follows = followed(metric, maximize);
  if (sweep.direction === undefined || sweep.direction === follows) return { direction: follows };
  const trials = maximize
    ? `every trial's optimizer.maximize pushes ${metric} up`
    : `the trials' optimizer pushes ${metric} down (optimizer.maximize is off)`;
  return {
    direction: sweep.direction,
    warning: {
      field: "sweep.direction",
      message: `sweep.direction is '${sweep.direction}' while ${trials}: the best trial is the ` +
        `one whose ${metric} ${maximize ? "rose" : "fell"} least`,
      hint: `leave sweep.direction out (for the loss it follows optimizer.maximize: ` +
        `${follows}), or --set sweep.direction=${follows}`,
    },
  };
}

/**
 * What is wrong with a space over `optimizer.lr` whose trials all train under onecycle: torch's
 * OneCycleLR ignores the optimizer's `lr`, so every trial trains at the same rates, the `maxLr`'s,
 * whatever `optimizer.lr` it samples. Undefined when the space sweeps no `optimizer.lr`, or sweeps
 * the schedule itself (some trials may leave onecycle). Where conditions draw the rate or the
 * schedule, the trials that draw the rate are judged with the schedule their condition gives them
 * (`conditionalRateWarning`), and the warning names the condition.
 *
 * @example
 * ```ts
 * import { rateSpaceWarning } from "./sweep.ts";
 * const base = { scheduler: { name: "onecycle", maxLr: 0.5, totalSteps: 100 } };
 * const space = { "optimizer.lr": { type: "logUniform" as const, low: 1e-4, high: 0.1 } };
 * console.assert(rateSpaceWarning(space, base)?.hint.includes('"scheduler.maxLr"'));
 * console.assert(rateSpaceWarning(space, { scheduler: { name: "cosine", tMax: 10 } }) === undefined);
 * ```
 */
export function rateSpaceWarning(
  space: SweepSpec["space"],
  base: unknown,
): ConfigWarning | undefined {
  const swept = space["optimizer.lr"];
  const schedules = ["scheduler", "scheduler.name", "scheduler.schedulers"];
  // a condition on the rate or the schedule: the trials that draw the rate, with their schedule
  if (swept && readsConditions(space, ["optimizer.lr", ...schedules])) {
    return conditionalRateWarning(space, base, schedules);
  }
  if (swept && "scheduler" in space && !("scheduler.name" in space)) {
    return sectionRateWarning(space.scheduler, base);
  }
  if (!swept || schedules.some((path) => path in space)) return undefined;
  const rate = rateSetting(base);
  if (!rate.oneCycle) return undefined;
  const peak = rate.value === undefined ? "" : ` (${rate.value})`;
  const instead = JSON.stringify({ "scheduler.maxLr": swept });
  const torch = rate.schedule === "cyclic"
    ? `CyclicLR runs its rates between its baseLr and maxLr${peak}`
    : `OneCycleLR takes its rates from its maxLr${peak}`;
  return {
    field: formatPath(["sweep", "space", "optimizer.lr"]),
    message: `sweep.space samples optimizer.lr, which the trials' ${rate.schedule} ignores: ` +
      `torch's ${torch}, so every trial trains at the same rates whatever optimizer.lr it samples`,
    hint: rate.settable
      ? `sample the ${rate.schedule}'s maxLr instead: "space": ${instead}`
      : `a sweep.space path cannot reach into the sequential's list of schedules ` +
        `(${rate.path}): make the onecycle the scheduler itself and sample its maxLr ` +
        `("space": ${instead}), or sample whole scheduler sections ("scheduler": a choice)`,
  };
}

/**
 * The warning of a space over `optimizer.lr` beside whole scheduler sections (`"scheduler"`, a
 * choice) some of which ignore it (a onecycle, a cyclic: their rates come from their own
 * `maxLr`): the trials that draw those train at the same rates whatever rate they sample.
 */
function sectionRateWarning(
  scheduler: SweepSpec["space"][string],
  base: unknown,
): ConfigWarning | undefined {
  if (scheduler.type !== "choice" && scheduler.type !== "grid") return undefined;
  const ignoring = scheduler.values.filter((value) =>
    rateSetting({ ...(base as object), scheduler: value }).oneCycle
  );
  if (ignoring.length === 0) return undefined;
  const names = [
    ...new Set(ignoring.map((value) => rateSetting({ scheduler: value }).schedule)),
  ].join(" and ");
  const which = ignoring.length === scheduler.values.length
    ? "every one of its scheduler sections"
    : `${ignoring.length} of its ${scheduler.values.length} scheduler sections`;
  return {
    field: formatPath(["sweep", "space", "optimizer.lr"]),
    message: `sweep.space samples optimizer.lr beside whole scheduler sections, and ${which} ` +
      `(${names}) ignores it: their rates come from the section's own maxLr, so the trials ` +
      `that draw ${ignoring.length === 1 ? "it" : "one of them"} train at the same rates ` +
      `whatever optimizer.lr they sample: ${ignoring.map((v) => canonicalJson(v)).join(", ")}`,
    hint: `give each such section the peak rates to try as values of its own ` +
      `("scheduler": a choice of that section with maxLr 0.01, 0.1, ...), and sample ` +
      `optimizer.lr only beside schedules that use it${
        ignoring.length === scheduler.values.length
          ? " (another study)"
          : `, with a condition: "optimizer.lr": { ..., "when": ${
            JSON.stringify({ scheduler: { not: ignoring } })
          } }`
      }`,
  };
}

/**
 * What is wrong with a grid of more points than the study's trials can run: the grid sampler
 * takes the points no trial of the study has in order, the space's first path varying slowest,
 * so the trials cover a corner of it and the paths that vary slowest are tried at their first
 * values only (Optuna's GridSampler draws the points in a random order instead). `tried`: the
 * params of the trials the study already has (not their retries): they hold their points, and
 * the budget (`trials`, the whole study's) leaves the rest for the untried ones. Undefined for
 * another sampler, a grid the trials cover, or a study whose budget is spent (the study says so).
 *
 * @example
 * ```ts
 * import { gridBudgetWarning } from "./sweep.ts";
 * const space = {
 *   "optimizer.lr": { type: "grid" as const, values: [0.001, 0.01, 0.1] },
 *   batchSize: { type: "grid" as const, values: [16, 32, 64] },
 * };
 * const warning = gridBudgetWarning({ space, sampler: "grid", trials: 3 });
 * console.assert(warning?.message.includes("optimizer.lr is tried at 0.001 only"));
 * console.assert(gridBudgetWarning({ space, sampler: "grid", trials: 9 }) === undefined);
 * // 9 trials, 3 of them already the study's, off the grid: 6 are left for its 9 points
 * const off = [{ "optimizer.lr": 0.5, batchSize: 8 }];
 * const resumed = gridBudgetWarning({ space, sampler: "grid", trials: 9 }, [off[0], off[0], off[0]]);
 * console.assert(resumed?.message.includes("leaves 6 for its 9 points no trial has tried"));
 * ```
 */
export function gridBudgetWarning(
  sweep: Pick<SweepSpec, "space" | "sampler" | "trials">,
  tried: Params[] = [],
): ConfigWarning | undefined {
  if (sweep.sampler !== "grid") return undefined;
  // (counted, and the points run taken, without listing the grid: it may have 10^8 points)
  const size = gridCount(sweep.space);
  const untried = untriedCount(sweep.space, tried);
  const budgetLeft = sweep.trials - tried.length;
  if (budgetLeft <= 0 || budgetLeft >= untried) return undefined;
  // the points that will have a trial: those tried, then the first untried ones in order
  const runs = triedPoints(sweep.space, tried);
  let taken = 0;
  for (const point of untriedPoints(sweep.space, tried)) {
    if (taken++ === budgetLeft) break;
    runs.push(point);
  }
  const short = Object.entries(sweep.space).flatMap(([path, d]) => {
    const values = gridValues(path, d);
    const keys = new Set(
      runs.filter((point) => Object.hasOwn(point, path)).map((point) => canonicalJson(point[path])),
    );
    // (in the path's order: a list's, or an int range's, ascending)
    const reached = values.list?.filter((value) => keys.has(canonicalJson(value))) ??
      [...keys].map((key) => JSON.parse(key) as number).sort((a, b) => a - b);
    if (reached.length === values.count) return [];
    if (reached.length === 0) {
      return [`${path} is not tried at all (the points that draw it are not run)`];
    }
    const words = reached.map((value) => JSON.stringify(value)).join(", ");
    return [`${path} is tried at ${words} only (of ${values.count} values)`];
  });
  const skipped = untried - BigInt(budgetLeft);
  const notRun = `the last ${skipped} of the grid's points in its order ${
    skipped === 1n ? "is" : "are"
  } not run`;
  const n = tried.length;
  const budget = n === 0
    ? `the grid has ${size} points and the study ${sweep.trials} trials`
    : `the study's budget of ${sweep.trials} trials, ${n} of which it already has, leaves ` +
      `${budgetLeft} for its ${untried} points no trial has tried (of the grid's ${size})`;
  return {
    field: formatPath(["sweep", "trials"]),
    message: `${budget}: the grid sampler takes those points in order, the first path of the ` +
      `space varying slowest, so ${short.length > 0 ? short.join(", ") : notRun}`,
    hint: `run the whole grid (--trials ${BigInt(n) + untried}; a study run again with more ` +
      `trials goes on where the grid stopped), put the path to cover first last in the space, ` +
      `or sample the space at random (--sampler quasiRandom or random) for trials spread over ` +
      `every value`,
  };
}

/**
 * The trials a study of `sweep` still samples, its trials so far holding `tried` (their params,
 * not their retries'): what its budget leaves, or where the grid sampler has fewer points no
 * trial has tried (it ends the study once each has one), that many (`gridPoints`: true).
 */
export function trialsToSample(
  sweep: Pick<SweepSpec, "space" | "sampler" | "trials">,
  tried: Params[],
): { count: number; gridPoints: boolean } {
  const budgetLeft = Math.max(0, sweep.trials - tried.length);
  if (sweep.sampler !== "grid") return { count: budgetLeft, gridPoints: false };
  const untried = untriedCount(sweep.space, tried);
  return untried < budgetLeft
    ? { count: Number(untried), gridPoints: true }
    : { count: budgetLeft, gridPoints: false };
}

/**
 * What is wrong with a space of one point (each path a single value: a choice of one, a range
 * whose ends meet): every trial trains the same config with the same seed, so the study's trials
 * repeat one result. Undefined for a space of more points, a study of one trial, or the grid
 * sampler (it runs each point once).
 *
 * @example
 * ```ts
 * import { onePointWarning } from "./sweep.ts";
 * const space = { batchSize: { type: "choice" as const, values: [64] } };
 * console.assert(onePointWarning({ space, trials: 5, sampler: "tpe" })?.message.includes("every"));
 * console.assert(onePointWarning({ space, trials: 1, sampler: "tpe" }) === undefined);
 * ```
 */
export function onePointWarning(
  sweep: Pick<SweepSpec, "space" | "trials" | "sampler">,
): ConfigWarning | undefined {
  if (sweep.sampler === "grid") return undefined;
  const single = (d: SweepSpec["space"][string]) =>
    d.type === "choice" || d.type === "grid"
      ? new Set(d.values.map((value) => canonicalJson(value))).size === 1
      : d.type === "int"
      ? intHigh(d) === d.low
      : d.high === d.low;
  const paths = Object.entries(sweep.space);
  if (sweep.trials < 2 || paths.length === 0 || !paths.every(([, d]) => single(d))) {
    return undefined;
  }
  const point = paths.map(([path, d]) => `${path} = ${canonicalJson(fromUnit(d, 0))}`).join(", ");
  return {
    field: "sweep.space",
    message: `sweep.space holds one point (${point}): every trial trains the same config with ` +
      `the same seed, so its ${sweep.trials} trials repeat one result`,
    hint: "give a path more than one value (a choice of several, a range whose ends differ), or " +
      "train the config once with anneal train",
  };
}

/** Space paths that change how many steps a trial trains. */
const LENGTH_PATHS = [
  "batchSize",
  "epochs",
  "gradientAccumulation",
  "data.limit",
  "data.validationSplit",
  "data.dropLast",
];

/**
 * What is wrong with a space over the run's length (batch size, epochs, ...) whose trials share a
 * schedule with a fixed end (onecycle's totalSteps, cosine's tMax, ...): a trial that takes more
 * steps than the schedule spans goes past its end, which torch's OneCycleLR (and a few other
 * settings) refuse at the trial's start, and where cosine climbs back up; one that takes fewer
 * stops short of it. Undefined when the space changes no length, sweeps the schedule, or the
 * schedule has no end. Where conditions draw a length or the schedule, each schedule's trials are
 * judged by the lengths they draw (`conditionalLengthWarning`), and the warning names the condition.
 *
 * @example
 * ```ts
 * import { lengthSpaceWarning } from "./sweep.ts";
 * const base = { scheduler: { name: "onecycle", maxLr: 0.1, totalSteps: 100 } };
 * const space = { batchSize: { type: "choice" as const, values: [16, 64] } };
 * console.assert(lengthSpaceWarning(space, base)?.message.includes("scheduler.totalSteps"));
 * const perEpoch = { name: "step", stepSize: 1, interval: "epoch" };
 * console.assert(lengthSpaceWarning(space, { scheduler: perEpoch }) === undefined);
 * ```
 */
export function lengthSpaceWarning(
  space: SweepSpec["space"],
  base: { scheduler?: unknown },
): ConfigWarning | undefined {
  const swept = LENGTH_PATHS.filter((path) => path in space);
  const scheduled = Object.keys(space).filter((path) => path.startsWith("scheduler"));
  // a condition on a length or the schedule: each schedule's trials, and the lengths they draw
  if (swept.length > 0 && readsConditions(space, [...swept, ...scheduled])) {
    return conditionalLengthWarning(space, base, swept, scheduled);
  }
  if (swept.length === 0 || scheduled.length > 0) return undefined;
  return scheduleLengthWarning(swept, base.scheduler);
}

/**
 * Refuses a sweep metric no trial's epochs log (a misspelling, another task's metric, a validation
 * metric without a validation split) before any trial runs, naming the metrics a trial logs and
 * the closest one; `anneal tune` checks its metric with it too.
 */
export function checkSweepMetric(
  sweep: Pick<SweepSpec, "metric" | "direction" | "space">,
  base: Pick<RunConfig, "data" | "optimizer">,
): void {
  // a space over the split gives every trial one only where each value it draws is one (a choice
  // of [0.2, 0] was taken: its trials of split 0 failed, one by one, for want of the metric)
  const split = sweep.space["data.validationSplit"];
  const validation = split === undefined
    ? base.data.validationSplit > 0
    : split.type === "choice" || split.type === "grid"
    ? split.values.every((value) => typeof value === "number" && value > 0)
    : (split as { low: number }).low > 0;
  checkMetric(sweep.metric, dataTask(base.data), validation, {
    action: "optimise",
    purpose: "in the sweep",
    subject: "a trial",
    where: "sweep.metric",
    validationFallback: false,
    // the direction follows the metric (the loss: the optimizer's) unless the config sets one
    directionFix: (metric) => {
      const flags = trialsMaximize(sweep.space, base);
      // trials that differ in maximize are refused for a loss metric, after this check
      if (sweep.direction === undefined || flags.size > 1) return "";
      const direction = followed(metric, [...flags][0]);
      return sweep.direction === direction ? "" : ` --set sweep.direction=${direction}`;
    },
  });
}

/** The paths whose value decides which fields a config section has (its kind). */
const KIND_PATHS = [
  "data",
  "data.kind",
  "model",
  "model.kind",
  "optimizer",
  "optimizer.name",
  "scheduler",
  "scheduler.name",
];

/**
 * Refuses, before any trial runs, a search-space path that names no config field (a misspelling,
 * or a field the base config's kind has not, like `model.hidden` on a linear model): every trial
 * would fail on it. A path is judged on the base config (beside the values its condition, if any,
 * draws it with) unless the space also varies its section's kind (then some trials may have the
 * field).
 */
export function checkSpacePaths(definition: StudyDefinition): void {
  const { space } = definition.sweep;
  // where a trial's run goes and what it is called are the study's: a trial drawing them trained
  // as every other one, into the study's directory, and the best "runsDir" was reported
  for (const path of Object.keys(space)) {
    if (path === "sweep" || path.startsWith("sweep.")) {
      throw new AnnealError(
        "config",
        `Cannot sweep '${path}': the sweep section says how the study runs, and a trial's ` +
          "config has none (trials run with the study's settings)",
        {
          where: formatPath(["sweep", "space", path]),
          hint: `drop "${path}" from sweep.space; set it in the sweep section or with the ` +
            "sweep command's options (--trials, --sampler, --pruner, --parallel)",
        },
      );
    }
  }
  for (const path of ["runsDir", "name"]) {
    if (!Object.hasOwn(space, path)) continue;
    throw new AnnealError(
      "config",
      `Cannot sweep '${path}': every trial's run goes to the study's directory ` +
        `(<runsDir>/<study>/trial-N-...) whatever ${path} it draws, so the trials would differ ` +
        "in nothing it trains",
      {
        where: formatPath(["sweep", "space", path]),
        hint: `drop "${path}" from sweep.space; the base config's runsDir (--set runsDir=DIR) ` +
          "says where the study's runs go, and --study NAME names the study",
      },
    );
  }
  // a kind some trials draw that cannot take the fields the space gives its section
  checkKindSwitches(
    space,
    (params) => trialConfig(definition, params),
    (path) => {
      const d = space[path];
      return d.type === "choice" || d.type === "grid" ? d.values[0] : fromUnit(d, 0);
    },
    (path, message, hint) => {
      throw new AnnealError("config", message, {
        where: formatPath(["sweep", "space", path]),
        hint,
      });
    },
  );
  for (const [path, distribution] of Object.entries(space)) {
    const kinds = Object.keys(space).filter((other) =>
      other !== path && KIND_PATHS.includes(other) && path.startsWith(`${other.split(".")[0]}.`)
    );
    if (kinds.length > 0) continue;
    // each value of a choice (whole sections may differ in their fields), a range's low end
    const values = distribution.type === "choice" || distribution.type === "grid"
      ? distribution.values
      : [fromUnit(distribution, 0)];
    for (const value of values) {
      checkSpaceValue(
        definition,
        path,
        value,
        values.length,
        distribution.type !== "choice" &&
          distribution.type !== "grid",
      );
    }
    checkInnerPaths(definition, path, values);
    if (distribution.type === "uniform" || distribution.type === "logUniform") {
      checkWholeNumbers(definition, path, distribution);
    }
    if (distribution.type !== "choice" && distribution.type !== "grid") {
      checkRangeTakes(definition, path, distribution);
    }
  }
}

/**
 * Refuses a range whose ends and middle each fail every trial that draws them (an `int` range
 * over `model.hidden`, which takes a list: every trial FAILED, "must be an array"); a range that
 * fails at one end only is its trials' to fail, as a value a trial may draw.
 */
function checkRangeTakes(
  definition: StudyDefinition,
  path: string,
  distribution: Exclude<StudyDefinition["sweep"]["space"][string], { type: "choice" | "grid" }>,
): void {
  const errors: AnnealError[] = [];
  const drawn = firstCases(drawingCases(definition.sweep.space, path), MAX_PROBES).cases[0] ?? {};
  for (const at of [0, 0.5, 1]) {
    const value = fromUnit(distribution, at);
    try {
      trialConfig(definition, { ...drawn, [path]: value });
      return;
    } catch (error) {
      if (!(error instanceof AnnealError) || !failsEveryTrial(definition, path, value, error)) {
        return;
      }
      errors.push(error);
    }
  }
  const reason = errors[0].message.replace(/^Invalid trial config: /, "")
    .replace(`Cannot set '${path}': `, "").replace(`'${path}': `, "");
  const { low, high } = distribution as { low: number; high: number };
  const tried = [0, 0.5, 1].map((at) => canonicalJson(fromUnit(distribution, at))).join(", ");
  throw new AnnealError(
    "config",
    `Cannot sweep '${path}' over ${distribution.type === "int" ? "an" : "a"} ` +
      `${distribution.type} range from ${low} to ${high}: the trial config refuses its ends ` +
      `and its middle (${tried}): ${reason}; every trial would fail on it`,
    {
      where: formatPath(["sweep", "space", path]),
      hint: `give sweep.space["${path}"] values \`anneal train\` takes (--set '${path}=VALUE' ` +
        "on the base config tries one), as a choice where the field is not a number",
    },
  );
}

/**
 * Refuses a `uniform` or `logUniform` range over a field that takes whole numbers (`epochs`,
 * `batchSize`): its low end may be one, which the checks of a range's values try, but a draw
 * from it almost never is, and every trial failed at its start ("must be a whole number,
 * current value is 1.524") after the study was made.
 */
function checkWholeNumbers(
  definition: StudyDefinition,
  path: string,
  d: { type: "uniform" | "logUniform"; low: number; high: number },
): void {
  if (!(d.high > d.low)) return; // (a range of one value draws it)
  // a value inside the range that is no whole number (the middle of [1, 3] is 2)
  let inside = fromUnit(d, 0.5) as number;
  if (Number.isInteger(inside)) inside = fromUnit(d, 0.37) as number;
  if (Number.isInteger(inside)) return;
  const drawing = firstCases(drawingCases(definition.sweep.space, path), MAX_PROBES);
  for (const drawn of drawing.cases) {
    try {
      trialConfig(definition, { ...drawn, [path]: inside });
      return;
    } catch (error) {
      if (!(error instanceof AnnealError) || !/whole number/.test(error.message)) return;
    }
  }
  if (!drawing.complete) return;
  const low = Math.ceil(d.low), high = Math.floor(d.high);
  throw new AnnealError(
    "config",
    `Cannot sweep '${path}' over a ${d.type} range: it takes whole numbers, and a draw from ` +
      `[${d.low}, ${d.high}] almost never is one (${
        Number(inside.toPrecision(4))
      }, say): every trial would fail on it`,
    {
      where: formatPath(["sweep", "space", path]),
      hint: low <= high
        ? `draw whole numbers: "${path}": { "type": "int", "low": ${low}, "high": ${high}${
          d.type === "logUniform" && low >= 1 ? ', "log": true' : ""
        } }`
        : `the range holds no whole number: widen it, or set ${path} to one value`,
    },
  );
}

/**
 * Refuses a field the space sets inside the whole sections a choice gives `path` that some of them
 * have not (`optimizer.momentum` beside a choice of `{ "name": "adam" }`), where every trial that
 * draws such a section draws the field too: each would fail at its start. (A path inside a section
 * is set into the one drawn; listed first, it was overwritten by it, and such trials trained
 * without it.)
 */
function checkInnerPaths(definition: StudyDefinition, path: string, values: ParamValue[]): void {
  const { space } = definition.sweep;
  const inner = Object.keys(space).filter((other) => other.startsWith(`${path}.`));
  const sections = values.filter((value) => isObject(value) && !Array.isArray(value));
  if (inner.length === 0 || sections.length === 0) return;
  const representative = (other: string) => {
    const d = space[other];
    return d.type === "choice" || d.type === "grid" ? d.values[0] : fromUnit(d, 0);
  };
  const companions = Object.fromEntries(inner.map((other) => [other, representative(other)]));
  // (the other paths' values a trial of `path` is drawn with: the same for every section)
  const drawing = firstCases(drawingCases(space, path), MAX_PROBES);
  /** The field inside `section` that every trial drawing it fails on, if one does. */
  const refusedIn = (section: ParamValue): string | undefined => {
    let refused: string | undefined;
    for (const drawn of drawing.cases) {
      const params = drawnParams(space, { ...companions, ...drawn, [path]: section });
      try {
        trialConfig(definition, params);
        return undefined;
      } catch (error) {
        if (!(error instanceof AnnealError)) throw error;
        const field = inner.find((other) => Object.hasOwn(params, other) && error.where === other);
        if (field === undefined || !/unknown field/.test(error.message)) return undefined;
        refused ??= field;
      }
    }
    return drawing.complete ? refused : undefined;
  };
  const refusals = sections.map((section) => ({ section, field: refusedIn(section) }))
    .filter(({ field }) => field !== undefined);
  if (refusals.length === 0) return;
  const [{ field }] = refusals;
  const name = field!.slice(path.length + 1);
  const where = formatPath(["sweep", "space", field!]);
  const by = refusals.filter((refusal) => refusal.field === field).map(({ section }) => section);
  if (by.length === sections.length) {
    throw new AnnealError(
      "config",
      `Cannot sweep '${field}': none of the sections '${path}' draws has a field '${name}'; ` +
        "every trial would fail on it",
      {
        where,
        hint: "name a field of the config as its section's kind has it (`anneal schema` lists " +
          "them)",
      },
    );
  }
  const listed = by.map((section) => canonicalJson(section)).join(", ");
  throw new AnnealError(
    "config",
    `Cannot sweep '${path}' over ${listed} beside '${field}': ${
      by.length === 1 ? "that section has" : "those sections have"
    } no field '${name}', so every trial that draws ${
      by.length === 1 ? "it" : "one"
    } would fail on it`,
    {
      where,
      hint: `draw '${field}' only beside the sections that have it, with a condition on ` +
        `'${path}' ("when": { "${path}": { "not": [${listed}] } }), or drop ${
          by.length === 1 ? "that section" : "those sections"
        } from its values`,
    },
  );
}

/** The most combinations of the other paths' values {@linkcode failsEveryTrial} tries. */
const MAX_PROBES = 256;

/**
 * Whether a trial config's refusal `error` of `value` at `path` holds for every trial that draws
 * it, whatever else the space draws: the value is tried beside each combination of the other
 * paths' values (a range's low end, middle and high end) and fails with each (a whole cyclic
 * section under the base's adam, which it would cycle a momentum of, beside a space over
 * optimizer.lr). Where the combinations are too many, only a field its own section needs (a
 * onecycle without totalSteps) that no other path of the space gives is judged so.
 */
function failsEveryTrial(
  definition: StudyDefinition,
  path: string,
  value: ParamValue,
  error: AnnealError,
): boolean {
  const { space } = definition.sweep;
  const others = Object.keys(space).filter((other) => other !== path);
  const probes = others.map((other) => {
    const d = space[other];
    return d.type === "choice" || d.type === "grid"
      ? d.values
      : [fromUnit(d, 0), fromUnit(d, 0.5), fromUnit(d, 1)];
  });
  if (probes.reduce((n, values) => n * values.length, 1) <= MAX_PROBES) {
    let combinations: Params[] = [{ [path]: value }];
    others.forEach((other, i) => {
      combinations = combinations.flatMap((params) =>
        probes[i].map((probe) => ({ ...params, [other]: probe }))
      );
    });
    // (as trials draw them: a path whose condition fails is left out, and the combinations
    // that do not draw `path` do not count)
    const drawing = combinations.map((params) => drawnParams(space, params)).filter((params) =>
      Object.hasOwn(params, path)
    );
    return drawing.length > 0 && drawing.every((params) => {
      try {
        trialConfig(definition, params);
        return false;
      } catch {
        return true;
      }
    });
  }
  const where = error.where;
  if (where === undefined || !(where === path || where.startsWith(`${path}.`))) return false;
  if (!/: is required\b/.test(error.message)) return false;
  return !others.some((other) =>
    other.startsWith(`${path}.`) || where === other || where.startsWith(`${other}.`)
  );
}

/**
 * Refuses a space value that names a field the trial's config has not (see checkSpacePaths): at
 * the path itself, or inside a whole section a `choice` gives it.
 */
function checkSpaceValue(
  definition: StudyDefinition,
  path: string,
  value: ParamValue,
  values: number,
  range: boolean,
): void {
  // a conditional path is tried beside the values its condition draws it with (any will do; of
  // more than MAX_PROBES, those it fails beside do not say that every trial would)
  const drawing = firstCases(drawingCases(definition.sweep.space, path), MAX_PROBES);
  const failures: unknown[] = [];
  for (const drawn of drawing.cases) {
    try {
      trialConfig(definition, { ...drawn, [path]: value });
      return;
    } catch (error) {
      failures.push(error);
    }
  }
  if (!drawing.complete) return;
  const [error] = failures;
  const when = conditionOf(definition.sweep.space[path].when);
  if (!(error instanceof AnnealError)) throw error;
  const inside = error.where !== undefined &&
    (error.where === path || error.where.startsWith(`${path}.`));
  const unknown = inside &&
    (/unknown field/.test(error.message) || /^Cannot set /.test(error.message));
  // (applyParams' "Cannot set 'PATH': 'SECTION' does not exist" loses its whole lead, not only
  // the path: "Cannot set 'nosection' does not exist" was left)
  const reason = error.message.replace(/^Invalid trial config: /, "")
    .replace(`Cannot set '${path}': `, "").replace(`'${path}': `, "");
  if (!unknown) {
    // a range's low end stands for values some trials may not draw: theirs to fail; a value
    // of a choice that fails whatever else the trial draws is refused, as its trials would be
    if (range || !failsEveryTrial(definition, path, value, error)) return;
    // (a null drawn is set on the trial, not left out: "leave the field out for its default"
    // cannot be done in a choice, whose way to draw the base config's value is to list it)
    const kept = value === null ? valueAt(definition.base, path.split(".")) : undefined;
    const keep = kept === undefined || kept === null
      ? ""
      : `list the base config's value, ${canonicalJson(kept)}, in place of null (a trial is ` +
        "given the value drawn: null does not leave the field out), or ";
    throw new AnnealError(
      "config",
      `Cannot sweep '${path}' over ${canonicalJson(value)}: ${
        reason.replace(" (leave the field out for its default)", "")
      }; every trial that draws it would fail on it`,
      {
        where: formatPath(["sweep", "space", path]),
        hint:
          `${keep}fix that value of sweep.space["${path}"] so that \`anneal train\` would take ` +
          `it (--set '${path}=VALUE' on the base config tries it), or drop it from the values${
            when === undefined ? "" : `, or change its condition (${conditionText(when)})`
          }`,
      },
    );
  }
  throw new AnnealError(
    "config",
    values > 1 && typeof value === "object" && value !== null
      ? `Cannot sweep '${path}' over ${canonicalJson(value)}: ${reason}; every trial that ` +
        "draws it would fail on it"
      : `Cannot sweep '${path}': ${reason}; every trial would fail on it`,
    {
      where: formatPath(["sweep", "space", path]),
      hint: "name a field of the config as its section's kind has it (`anneal schema` " +
        "lists them), or vary the kind too (e.g. model.kind) in the space",
    },
  );
}

/**
 * What is checked of a sweep before anything is written or opened (runs directory, storage):
 * its metric, its space's paths, a grid sampler's grid and its direction. Returns its direction.
 */
function checkSweep(definition: StudyDefinition): SweepDirection {
  const { sweep, base } = definition;
  if (Object.keys(sweep.space).length === 0) {
    throw new AnnealError(
      "config",
      "Cannot sweep an empty sweep.space: every trial would train the base config, with its " +
        "seed, alike",
      {
        where: "sweep.space",
        hint: 'name the settings to search, e.g. "space": { "optimizer.lr": { "type": ' +
          '"logUniform", "low": 1e-4, "high": 0.1 } }; to train the config once, anneal train',
      },
    );
  }
  checkSweepMetric(sweep, base);
  checkSpacePaths(definition);
  // a grid over a range without one (a uniform, a logUniform) is refused
  if (sweep.sampler === "grid") gridCount(sweep.space);
  return sweepDirection(sweep, base);
}

async function runDefinition(
  storage: StudyStorage,
  storageUrl: string,
  studyName: string,
  definition: StudyDefinition,
  options: SweepOptions,
  worker = false,
  checked: SweepDirection = checkSweep(definition),
): Promise<SweepResult> {
  const { sweep, base } = definition;
  const { direction, warning } = checked;
  // a stored study of the other direction: refused saying why and how to go on, before anything
  await checkStudyDirection(storage, studyName, definition, direction, {
    identity: studyIdentity,
    worker,
  });
  // (the study as the storage holds it, if it does: its trials, and the runs directory's mark)
  const existing = await storage.loadStudy(studyName).catch((error) => {
    if (error instanceof AnnealError && error.code === "storage") return undefined;
    throw error;
  });
  const stored = await storedTrials(storage, existing, definition, direction);
  options.onStudy?.(stored, definition, direction);
  // the grid's points the study's trials (not their retries) hold already
  const tried = sweep.sampler === "grid"
    ? stored.filter((trial) => trial.retries === 0).map((trial) => trial.params)
    : [];
  const warnings = [
    warning,
    rateSpaceWarning(sweep.space, base),
    lengthSpaceWarning(sweep.space, base),
    gridBudgetWarning(sweep, tried),
    onePointWarning(sweep),
  ].filter((w) => w !== undefined);
  for (const each of warnings) options.onWarning?.(each);
  const runsDir = `${base.runsDir}/${studyName}`;
  // (another study of this name, of another storage, writes there too: refused before the study
  // is created in this one; marked, once created or loaded, before its first trial)
  await checkStudyDirectory(runsDir, studyName, existing, storageUrl);
  const parallel = options.parallel ?? sweep.parallel;
  // each trial's run hands its actor Workers to the next once it ends cleanly, or else starts
  // the next one's once its own are up (a small model's run is mostly its Workers loading their
  // modules); closed, whatever happens, with the study. (a set started ahead holds ~130 MB: two
  // at most wait, for lanes whose trials end together; each lane's may be handed back)
  await using spares = new SpareActors(Math.min(parallel, 2), parallel);
  const result = await runStudy({
    storage,
    studyName,
    space: sweep.space,
    definition,
    identity: studyIdentity,
    sampler: samplerFor(sweep),
    pruner: prunerFor(sweep, mostEpochs(sweep, base.epochs)),
    trials: sweep.trials,
    parallel,
    direction,
    seed: sweep.seed,
    workerId: options.workerId,
    onStudyOpened: async (study) => {
      // (again, now that it is this storage's: a study of the name another storage made
      // meanwhile, two sweeps started at once, is refused here)
      await checkStudyDirectory(runsDir, studyName, study, storageUrl);
      await markStudyDirectory(runsDir, study, storageUrl);
    },
    interrupt: options.interrupt,
    onNotice: options.onNotice,
    onTrial: (trial) => options.onTrial?.(trial, definition),
    onReaped: (trial, retry) => options.onReaped?.(trial, retry, definition),
    objective: (params, report, context) =>
      trainTrial({
        config: { ...trialConfig(definition, params), runsDir },
        metric: sweep.metric,
        direction,
        report,
        context,
        pruning: sweep.pruner !== "none",
        onStart: (start) => options.onTrialRun?.(start, definition),
        onWarning: options.onTrialWarning,
        spares,
      }),
  });
  const bestConfig = result.best ? trialConfig(definition, result.best.params) : undefined;
  return { ...result, definition, direction, bestConfig, warnings };
}

/**
 * The file of a study's runs directory (`<runsDir>/<study>/`) that names the study its trials'
 * runs, `best_config.json` and `sweep.html` are of: its name, when its storage created it and that
 * storage (its password left out).
 */
export const STUDY_MARK = "study.json";

/**
 * Refuses to run study `studyName` (`study`: as its storage holds it, undefined where it holds
 * none yet) into `dir` where `dir`'s mark names another study of that name: one created at
 * another time, in another storage (two sweeps of one name, the default SQLite file and a
 * --storage, each wrote the other's best_config.json and sweep.html, their trials' runs mixed).
 * A copy of the storage holds the same study, created at the same time: it passes.
 */
async function checkStudyDirectory(
  dir: string,
  studyName: string,
  study: Study | undefined,
  storageUrl: string,
): Promise<void> {
  const marked = await Deno.readTextFile(`${dir}/${STUDY_MARK}`).then(
    (text) => JSON.parse(text) as { createdAt?: unknown; storage?: unknown },
    () => undefined,
  ).catch(() => undefined);
  if (typeof marked?.createdAt !== "string") return;
  const created = new Date(marked.createdAt).getTime();
  if (study && study.createdAt.getTime() === created) return;
  const storage = typeof marked.storage === "string" ? marked.storage : undefined;
  throw new AnnealError(
    "storage",
    `Cannot run study '${studyName}' in ${dir}: that directory holds the runs of another study ` +
      `named '${studyName}' (created ${marked.createdAt}${storage ? ` in ${storage}` : ""}), ` +
      `and ${redactedUrl(storageUrl)} ${
        study ? `created its own ${study.createdAt.toISOString()}` : "holds none of that name yet"
      }: the two would share its trials' runs, best_config.json and sweep.html`,
    {
      where: "--study",
      hint: `give this study another name (--study ${studyName}-2) or runs directory ` +
        `(--set runsDir=DIR)${
          storage && storage !== redactedUrl(storageUrl)
            ? `; to go on with the other: --storage ${shellWord(storage)}`
            : ""
        }; to start over in ${dir}, remove it`,
    },
  );
}

/** Marks `dir` as study `study`'s (see {@linkcode STUDY_MARK}) where it has no mark yet. */
async function markStudyDirectory(dir: string, study: Study, storageUrl: string): Promise<void> {
  const path = `${dir}/${STUDY_MARK}`;
  if (await Deno.lstat(path).then(() => true, () => false)) return;
  const mark = {
    study: study.name,
    createdAt: study.createdAt.toISOString(),
    storage: redactedUrl(storageUrl),
  };
  // (a mark that cannot be written guards nothing, and refuses nothing: the trials' own runs
  // there say what the directory lacks)
  await Deno.mkdir(dir, { recursive: true })
    .then(() => Deno.writeTextFile(path, JSON.stringify(mark, null, 2) + "\n"))
    .catch(() => {});
}

/**
 * The trials `study`, as the storage holds it, has already, retries among them (none where there
 * is no study yet). A study stored
 * under another definition is refused here, as the run would be: said after the header and the
 * warnings that its trials feed, the refusal followed a header that read its budget as if the
 * sweep could go on ("none left to sample").
 */
async function storedTrials(
  storage: StudyStorage,
  study: Study | undefined,
  definition: StudyDefinition,
  direction: "minimize" | "maximize",
): Promise<Trial[]> {
  if (!study) return [];
  checkSameStudy(study, direction, definition, studyIdentity);
  return await storage.listTrials(study.id);
}

/** The default storage of a sweep: an SQLite file in the runs directory. */
export function defaultStorage(config: RunConfig): string {
  return `sqlite:${config.runsDir}/sweeps.db`;
}

/**
 * Runs (or joins) the sweep a config describes, as one worker of its study. Takes the
 * `config` as written or as `parseConfig` gives it; an option name it does not take is refused
 * (an `AnnealError`, `usage`, naming the one likely meant).
 *
 * @example
 * ```ts ignore
 * import { runSweep } from "./sweep.ts";
 * import { parseConfig } from "../config.ts";
 * const config = parseConfig({ sweep: { space: { "optimizer.lr": { type: "logUniform", low: 1e-3, high: 1 } }, trials: 4, metric: "loss" } });
 * const result = await runSweep(config);
 * console.log(result.best?.params);
 * ```
 */
export async function runSweep(
  input: RunConfigInput | RunConfig,
  options: SweepOptions = {},
): Promise<SweepResult> {
  // (a misspelt option was ignored: { storge: url } kept the study in the runs directory)
  checkOptionNames(options, SWEEP_OPTIONS, "run the sweep");
  const config = parseConfig(input);
  if (!config.sweep) {
    throw new AnnealError("config", "The config has no 'sweep' section", {
      where: "sweep",
      hint:
        'add e.g. "sweep": { "space": { "optimizer.lr": { "type": "logUniform", "low": 1e-4, "high": 1e-1 } } }',
    });
  }
  const sweep: SweepSpec = {
    ...config.sweep,
    space: parseSpace(config.sweep.space),
    trials: options.trials ?? config.sweep.trials,
    parallel: options.parallel ?? config.sweep.parallel,
    sampler: options.sampler ?? config.sweep.sampler,
    pruner: options.pruner ?? config.sweep.pruner,
  };
  // the options override the sweep section: they are held to its bounds (parallel <= 32)
  for (const field of ["trials", "parallel", "sampler", "pruner"] as const) {
    const checked = SweepSpecSchema.shape[field].safeParse(sweep[field]);
    if (checked.success) continue;
    throw new AnnealError(
      "usage",
      `Cannot run the sweep: '${field}' ${issueText(checked.error.issues[0], sweep[field])}, ` +
        `current value is ${JSON.stringify(sweep[field])} (it takes the place of sweep.${field}, ` +
        "and is held to its bounds)",
      {
        where: field,
        hint: field === "parallel"
          ? PARALLEL_HINT
          : `give ${field} as sweep.${field} allows (\`anneal schema\` says what that is)`,
      },
    );
  }
  const { sweep: _, ...training } = config;
  // its data's paths absolute, as a run records them (recordedConfig): a worker started in
  // another directory reads the files the sweep was given (relative, each of its trials failed)
  const base = { ...training, data: absoluteDataPaths(training.data, Deno.cwd()) };
  const definition: StudyDefinition = {
    kind: "anneal-sweep",
    sweep,
    base,
    spaceOrder: Object.keys(sweep.space),
  };
  const studyName = checkRunId(options.study ?? config.name ?? "sweep", "study name");
  // a sweep that every trial would fail is refused before a directory or the storage is made
  const checked = checkSweep(definition);
  await makeRunDirectory(config.runsDir);
  const storageUrl = options.storage ?? defaultStorage(config);
  const storage = await openStorage(storageUrl);
  try {
    return await runDefinition(storage, storageUrl, studyName, definition, options, false, checked);
  } finally {
    await storage.close();
  }
}

/**
 * Options of {@linkcode runWorker}: {@linkcode SweepOptions} but for the study's own `trials`,
 * `sampler` and `pruner`, and the `storage` and `study` its arguments name (given anyway, from
 * JavaScript, they are refused).
 */
export type WorkerOptions = Omit<
  SweepOptions,
  "trials" | "sampler" | "pruner" | "storage" | "study"
>;

/** How to run more trials at once than one process may (32). */
export const PARALLEL_HINT = "each trial at once trains through its own five actors: run at " +
  "most 32 in one process, and more with `anneal worker` on other machines";

/**
 * Joins an existing study as a worker (`anneal worker`): its definition comes from the storage,
 * with its trials, sampler and pruner (`trials`, `sampler` or `pruner` in `options` are refused);
 * `parallel` is the worker's own.
 */
export async function runWorker(
  storageUrl: string,
  studyName: string,
  options: WorkerOptions = {},
): Promise<SweepResult> {
  checkOptionNames(options, SWEEP_OPTIONS, "run the sweep's worker");
  checkRunId(studyName, "study name");
  // the storage and study are runWorker's arguments: in its options they were ignored (a worker
  // given another study there ran the one its arguments named)
  const named = (["storage", "study"] as const).filter((key) =>
    (options as SweepOptions)[key] !== undefined
  );
  if (named.length) {
    throw new AnnealError(
      "usage",
      `Cannot run the worker with ${named.map((key) => `'${key}'`).join(" and ")} in its ` +
        `options: runWorker's arguments name the storage and the study (study '${studyName}')`,
      {
        where: named[0],
        hint: "pass them as its arguments: runWorker(storageUrl, studyName, options)",
      },
    );
  }
  // a worker runs the study as stored: these would be ignored, not used
  const given = (["trials", "sampler", "pruner"] as const).filter((key) =>
    (options as SweepOptions)[key] !== undefined
  );
  if (given.length) {
    throw new AnnealError(
      "usage",
      `Cannot run the worker with ${given.map((key) => `'${key}'`).join(", ")}: a worker runs ` +
        "the study's stored trials, sampler and pruner (runSweep, anneal sweep, sets them)",
      {
        where: given[0],
        hint: "leave them out of runWorker's options; to change them, run the study with " +
          "runSweep (`anneal sweep -c CONFIG --storage URL --study NAME --trials N`)",
      },
    );
  }
  if (options.parallel !== undefined) {
    const checked = SweepSpecSchema.shape.parallel.safeParse(options.parallel);
    if (!checked.success) {
      throw new AnnealError(
        "usage",
        `Cannot run the worker: 'parallel' ${
          issueText(checked.error.issues[0], options.parallel)
        }, current value is ${JSON.stringify(options.parallel)}`,
        { where: "parallel", hint: PARALLEL_HINT },
      );
    }
  }
  // a worker joins a study: where there is none, nothing is created (no empty SQLite file)
  const storage = await openStorage(storageUrl, { create: false, study: studyName });
  try {
    const study = await storage.loadStudy(studyName).catch(async (error) => {
      if (!(error instanceof AnnealError) || error.code !== "storage") throw error;
      const url = redactedUrl(storageUrl);
      // (the names it holds: the one meant where the name is a slip away, else the first few)
      const names = await storage.studyNames?.().catch(() => undefined) ?? [];
      const meant = closestName(studyName, names);
      const held = names.length === 0
        ? ""
        : ` (it holds ${names.slice(0, 5).map((name) => `'${name}'`).join(", ")}${
          names.length > 5 ? ` and ${names.length - 5} more` : ""
        })`;
      throw new AnnealError(
        "storage",
        `Cannot join study '${studyName}': ${url} holds no study of that name${meant ? "" : held}`,
        {
          where: studyName,
          hint: meant
            ? `did you mean --study ${shellWord(meant)}? (\`anneal worker --storage ${
              shellWord(url)
            } --study ${shellWord(meant)}\`)`
            : `create it first: \`anneal sweep -c CONFIG --storage ${shellWord(url)} --study ` +
              `${shellWord(studyName)}\` creates the study, then \`anneal worker\` joins it; or ` +
              "check --study",
          cause: error,
        },
      );
    });
    const stored = study.space as StudyDefinition;
    if (stored?.kind !== "anneal-sweep") {
      throw new AnnealError("storage", `Study '${studyName}' was not created by anneal sweep`, {
        hint: "start the study with `anneal sweep --storage URL --study NAME -c config.json` first",
      });
    }
    // the space's paths as the study's creator ordered them: the grid's order follows them
    const definition = orderedDefinition(stored);
    // (before a trial is claimed: one an older anneal stored with its data relative, joined
    // from another directory, failed every trial the worker took, using up the budget)
    await checkStudyDataPaths(studyName, stored.base, () => storage.listTrials(study.id));
    return await runDefinition(storage, storageUrl, studyName, definition, options, true);
  } finally {
    await storage.close();
  }
}
