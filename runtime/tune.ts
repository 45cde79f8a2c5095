/**
 * `anneal tune`: the seeds' tuning workflow as a staged search. Learning rate first (LR range
 * test, then its neighbours), then batch size with the learning rate scaled by the optimizer's
 * batch-scaling rule (linear for sgd, sqrt for the adaptive optimizers), weight
 * decay, schedule and warmup, clipping, dropout, and last the number of epochs with early
 * stopping. Each stage starts from the best config so far, tries a few changes through full
 * runs, keeps a change only when it improves the validation metric, and reports what it changed
 * and by how much. Each tune records itself in a directory of its own (tune_record.ts).
 *
 * @module
 */
import {
  type ConfigWarning,
  learningRateScale,
  parseConfig,
  type RunConfig,
  type RunConfigInput,
} from "../config.ts";
import { batchScalingOf, scaleLearningRate } from "../optimizers/scaling.ts";
import { checkArgument, checkOptionNames, isObject } from "../option_names.ts";
import { AnnealError } from "../errors.ts";
import { applyParams, type Params } from "../sweeps/space.ts";
import { canonicalJson } from "../zod_paths.ts";
import { checkRatesApplied, checkReadable, lrFind } from "./lr_find.ts";
import { trainWithSpares } from "./supervisor.ts";
import { SpareActors } from "./actor_workers.ts";
import { checkSweepMetric, sweepDirection } from "./sweep.ts";
import { checkMetric, dataTask } from "../task_fit.ts";
import { rateOverride, rateSetting } from "../schedulers/rate_setting.ts";
import { stretchChanges } from "../schedulers/stretch.ts";
import { batchesPerEpoch } from "../data/batches.ts";
import { dropoutHasLayers } from "../models/spec.ts";
import {
  lastUnfinishedTune,
  makeTuneDirectory,
  TUNE_RECORD,
  TuneRecorder,
  type UnfinishedTune,
} from "./tune_record.ts";

/** One candidate change: dotted config paths and their new values. */
export type Change = Record<string, unknown>;

/** What a stage did. */
export interface TuneStage {
  /** What the stage tunes, e.g. `learning rate`. */
  name: string;
  /**
   * Every change tried, with its validation metric (NaN when the run failed or diverged, or was
   * refused at its start: then `refused` says why, and there is no run).
   */
  tried: {
    change: Change;
    value: number;
    runId?: string;
    test?: Record<string, number>;
    refused?: string;
  }[];
  /** The change kept; empty when nothing beat the config before the stage. */
  kept: Change;
  /** Best validation metric before the stage. */
  before: number;
  /** Best validation metric after the stage (equal to `before` when nothing was kept). */
  after: number;
  /**
   * How many changes the stage had to try, where it tried fewer: the tune was interrupted, or
   * (`budget`) its budget of runs ran out within the stage.
   */
  cutShort?: { of: number; budget?: true };
  /**
   * Where nothing was kept but a change did better than `before` by less than the tune's
   * `minImprovement`: the best such change and its value (the stage kept the config it started
   * from).
   */
  withinMargin?: { change: Change; value: number };
}

/** {@linkcode TuneOptions.minImprovement}'s default: a change must gain 0.1% to be kept. */
export const DEFAULT_MIN_IMPROVEMENT = 0.001;

/** Options of {@linkcode tune}. */
export interface TuneOptions {
  /**
   * The most training runs to spend, the baseline included (default 20): a whole number, at
   * least 2 (`Infinity`: every stage's candidates).
   */
  budget?: number;
  /**
   * How much better than the best so far a change's metric must be to be kept, as a fraction of
   * the best so far's size (default 0.001: 0.1%; 0 keeps any gain). A smaller gain is within the
   * noise of one run (another batch size trains on other batches): the stage keeps the config it
   * started from, which costs nothing to change.
   */
  minImprovement?: number;
  /**
   * Called after each run, with the config it trained (`rateSetting` tells its rate); `refused`:
   * why a change's config was refused at its start (its value is then NaN).
   */
  onTrial?: (
    stage: string,
    change: Change,
    value: number,
    config: RunConfig,
    refused?: string,
  ) => void;
  /** Called after each stage. */
  onStage?: (stage: TuneStage) => void;
  /**
   * Called with what is likely a mistake (before any run: a `sweep.direction` against the loss),
   * or makes a stage's result less sure (an LR range test whose suggestion is unreliable).
   */
  onWarning?: (warning: ConfigWarning) => void;
  /**
   * Called before the first run with the tune's directory, and the last tune of the runs
   * directory where it did not complete (killed, or interrupted): a tune is not resumed, and this
   * one starts over.
   */
  onStart?: (dir: string, previous?: UnfinishedTune) => void;
  /**
   * Interrupts the tune (what `anneal tune` does on Ctrl-C): the run in progress stops after its
   * current step as `interrupted` and counts for nothing (the learning-rate stage's range test,
   * likewise: `interruptedRangeTest` says how far it got), no other run starts, and the result is
   * the best config so far, with `interrupted` saying why.
   */
  interrupt?: AbortSignal;
}

/** The outcome. */
export interface TuneResult {
  /** Validation metric optimized, e.g. `valLoss`. */
  metric: string;
  /** Whether a smaller or a larger `metric` is better. */
  direction: "minimize" | "maximize";
  /** `metric` of the untuned config. */
  baseline: number;
  /** `metric` of the tuned config. */
  final: number;
  /** Test-split metrics of the untuned run and of the run behind `final` (when the data has a test split). */
  baselineTest?: Record<string, number>;
  /** Test-split metrics of the run behind `final`. */
  finalTest?: Record<string, number>;
  /** Each stage, in the order run. */
  stages: TuneStage[];
  /** The tuned config, ready for `anneal train -c`. */
  config: RunConfig;
  /** Runs spent. */
  runs: number;
  /**
   * The tune's own directory, `<runsDir>/tune-<time>-<random>`: its runs, `tune.json` (its
   * stages and how it ended) and `tuned_config.json` (`config`, kept up to date after every run).
   */
  dir: string;
  /** Why the tune was interrupted before its end (`options.interrupt`'s reason). */
  interrupted?: string;
  /**
   * Where the interruption came during the learning-rate stage's LR range test: the steps the
   * test took of its `iterations` (a test cut short suggests nothing, so the stage tried no rate).
   */
  interruptedRangeTest?: { steps: number; iterations: number };
  /** The stages the budget of runs left no run for (the last one begun may be cut short too). */
  notRun?: string[];
}

/** Steps of the learning-rate stage's LR range test (lrFind's `iterations`). */
const RANGE_TEST_STEPS = 80;

/** The config with a change applied (validated). */
export function applyChange(config: RunConfig, change: Change): RunConfig {
  checkArgument(
    isObject(config),
    config,
    "apply the change",
    "config",
    "a config object",
    "pass the config to change, e.g. parseConfig(config) or await loadConfig(path)",
  );
  checkArgument(
    isObject(change),
    change,
    "apply the change",
    "change",
    "an object of config paths and values",
    'pass e.g. { "optimizer.lr": 0.01 }',
  );
  // Values may be whole sections (a scheduler spec) as well as scalars.
  const next = applyParams(config as Record<string, unknown>, change as Params, {
    allowNew: true,
  });
  return parseConfig(next, "tuned config");
}

/** The metric tune optimises: the sweep's metric if set, else validation accuracy or loss. */
export function tuneMetric(config: RunConfig): string {
  if (config.sweep?.metric) return config.sweep.metric;
  const classification = config.loss === "crossEntropy" || config.data.kind === "idx" ||
    (config.data.kind === "csv" && (config.data as { task?: string }).task !== "regression");
  return classification ? "valAccuracy" : "valLoss";
}

/**
 * Which way tune's metric is better: the config's `sweep.direction` when set, else the metric's
 * (as a sweep's: `sweepDirection`, with tune's own metric where the config names none).
 */
export function tuneDirection(config: RunConfig): ReturnType<typeof sweepDirection> {
  const metric = tuneMetric(config);
  return sweepDirection({ metric, direction: config.sweep?.direction, space: {} }, config);
}

const round = (x: number) => Number(x.toPrecision(3));

/**
 * Refuses tune's metric before any run when no run's epochs log it: the sweep's `metric` where
 * the config has a `sweep` section, else tune's own choice (a validation metric, which needs a
 * validation split).
 *
 * @example
 * ```ts
 * import { checkTuneMetric } from "./tune.ts";
 * import { parseConfig } from "../config.ts";
 * checkTuneMetric(parseConfig({ data: { kind: "synthetic-linear", validationSplit: 0.2 } }));
 * let message = "";
 * try {
 *   checkTuneMetric(parseConfig({ data: { kind: "synthetic-linear" } }));
 * } catch (error) {
 *   message = (error as Error).message;
 * }
 * console.assert(message.includes("there is no validation split"));
 * ```
 */
export function checkTuneMetric(config: RunConfig): void {
  // tune trains the config as it is: a sweep's space over the split gives its runs none
  if (config.sweep) return checkSweepMetric({ ...config.sweep, space: {} }, config);
  checkMetric(tuneMetric(config), dataTask(config.data), config.data.validationSplit > 0, {
    action: "optimise",
    purpose: "in tune (its default metric: the config has no sweep.metric)",
    subject: "a run",
    where: "sweep.metric",
    validationFallback: false,
    setMetric: (name) => `--set sweep.metric=${name}`,
  });
}

/**
 * The change that sets the config's learning rate to `value`: `optimizer.lr`, or under onecycle
 * its `maxLr`, which sets the rates (a sequential's onecycle: the whole `scheduler` section).
 */
function rateChangeOf(config: RunConfig, value: number): Change {
  const { path, value: set } = rateOverride(config, value);
  return { [path]: set };
}

/**
 * The batch from which the run scales `optimizer.lr` itself (`optimizer.baseBatch`, scaled to
 * its effective batch by `optimizer.batchScaling`'s rule); undefined without one, and under
 * onecycle, whose `maxLr` sets the rates unscaled.
 */
function selfScaledFrom(config: RunConfig): number | undefined {
  if (rateSetting(config).oneCycle) return undefined;
  return (config.optimizer as { baseBatch?: number }).baseBatch;
}

/**
 * The change that has `config`'s run train at `rate` (a range test's rates are those the steps
 * took): under `optimizer.baseBatch` its `optimizer.lr` is `rate` unscaled to baseBatch.
 */
function trainAt(config: RunConfig, rate: number): Change {
  const baseBatch = selfScaledFrom(config);
  return rateChangeOf(config, round(baseBatch ? rate / learningRateScale(config) : rate));
}

/**
 * What a run of a config showed of its length: its optimizer steps per epoch and its training
 * samples (its `plan` event).
 */
interface RunLength {
  stepsPerEpoch: number;
  trainSize: number;
}

/**
 * The changes that keep a schedule with an end spanning the run when `change` makes the run
 * longer or shorter (`stretchChanges`): more epochs, or more or fewer steps to an epoch with
 * another batch size. Without them the run would go past the schedule's end (torch's OneCycleLR
 * raises there) or stop short of it.
 */
function keepSchedule(config: RunConfig, change: Change, length: RunLength | undefined): Change {
  const next = applyChange(config, change);
  const epochs = next.epochs / config.epochs;
  if (!length) {
    // no run told the steps of an epoch: only more epochs of the same batches can be stretched
    const sameSteps = next.batchSize === config.batchSize &&
      next.gradientAccumulation === config.gradientAccumulation;
    return sameSteps ? stretchChanges(next, { steps: epochs, epochs }) : {};
  }
  // an optimizer step takes gradientAccumulation batches (a short last group counts as one)
  const batches = batchesPerEpoch(
    length.trainSize,
    next.batchSize,
    next.data.dropLast,
    next.gradientAccumulation,
  );
  const steps = Math.ceil(batches / next.gradientAccumulation);
  return stretchChanges(next, {
    steps: (steps * next.epochs) / (length.stepsPerEpoch * config.epochs),
    epochs,
    perEpoch: steps / length.stepsPerEpoch,
    runSteps: { before: length.stepsPerEpoch * config.epochs, after: steps * next.epochs },
  });
}

/**
 * Candidate changes of each stage, given the config the stage starts from. The learning-rate
 * stage's range test stops at `rangeTest.interrupt` (lrFind throws its `interrupted` error), and
 * tells `rangeTest.onStep` the steps it has taken after each one.
 */
function stages(
  config: RunConfig,
  length: () => RunLength | undefined,
  rangeTest: {
    interrupt?: AbortSignal;
    onStep?: (steps: number) => void;
    onWarning?: (warning: ConfigWarning) => void;
  } = {},
): {
  name: string;
  candidates: () => Promise<Change[]>;
}[] {
  const rate = rateSetting(config);
  const lr = () => rate.value ?? (config.optimizer.lr as number);
  return [
    {
      name: "learning rate",
      candidates: async () => {
        // (adafactor's step caps the rate at 1/sqrt(step): a range test reads rates it never
        // trains at; the stage keeps the rate, saying why)
        try {
          checkRatesApplied(config);
        } catch (error) {
          if (!(error instanceof AnnealError)) throw error;
          rangeTest.onWarning?.({
            field: "optimizer.name",
            message: `the learning-rate stage tried no rate: ${
              error.message.replace(/^Cannot run the LR range test with adafactor: /, "")
            }`,
            hint: error.hint ?? "",
          });
          return [];
        }
        // The range test's rules often disagree (by 10-50x on real curves): try each rule's
        // suggestion rather than trusting one, and keep whichever trains best.
        const found = await lrFind(config, {
          iterations: RANGE_TEST_STEPS,
          interrupt: rangeTest.interrupt,
          onProgress: (step) => rangeTest.onStep?.(step + 1),
        }).catch((error) => {
          // No minimum of the smoothed loss (or no finite loss): nothing to try; keep the LR,
          // saying why (the stage said "nothing beat" as if rates had been tried, and the range
          // test's own words, "the loss did not move at all: check that the model can learn the
          // data", were lost)
          if (error instanceof AnnealError && error.code === "diverged") {
            rangeTest.onWarning?.({
              field: "optimizer.lr",
              message: `the learning-rate stage tried no rate: ${error.message}`,
              hint: error.hint ?? "run `anneal lr-find -c <config>` to read the curve",
            });
            return undefined;
          }
          throw error;
        });
        if (!found) return [];
        if (found.agreement.verdict === "unreliable") {
          // (its rates were tried as a reliable test's, and the tune said nothing of it)
          rangeTest.onWarning?.({
            field: "optimizer.lr",
            message: `the learning-rate stage's LR range test is unreliable: ${
              found.agreement.reasons.join("; ")
            }`,
            hint: "its rates are only tried: one is kept only where its run beats the config " +
              "before it; on a noisy validation metric that gain may be noise (compare a few " +
              "rates with anneal sweep, or give the data a larger validation split). The flags " +
              `the reasons name are anneal lr-find's (tune's range test runs ${RANGE_TEST_STEPS} ` +
              "steps): `anneal lr-find -c <config>` with them reads the curve, and a rate it " +
              "finds goes into the config's optimizer.lr, where tune starts from",
          });
        }
        const values = Object.values(found.suggestions).filter((v): v is number => v !== undefined);
        const distinct = values.sort((a, b) => a - b)
          .filter((v, i, all) => i === 0 || v > 1.5 * all[i - 1]);
        return (distinct.length ? distinct : [found.suggestion]).map((value) =>
          trainAt(config, value)
        );
      },
    },
    {
      name: `batch size (learning rate scaled by the ${batchScalingOf(config.optimizer)} rule)`,
      candidates: () => {
        // A batch trains at most the training set: one above it trains as the set (its run's
        // plan tells its size). A batch that trains as the config's does was tried at twice or
        // half the rate under this stage's name, and kept as a batch size: only the rate changed.
        // (a step trains the batch times gradientAccumulation, as batch-size counts it: 128 x 3
        // on 160 samples trains as the config's 64 x 3, and 32 x 3 scales by 96/160, not 32/64)
        const trainSize = length()?.trainSize;
        const trained = (batch: number) =>
          Math.min(batch * config.gradientAccumulation, trainSize ?? Infinity);
        // (under dropLast a step larger than the training set leaves an epoch no step, which
        // train refuses: not tried)
        const dropLast = (config.data as { dropLast: boolean }).dropLast;
        const batches = [0.5, 2].map((factor) => Math.max(1, Math.round(config.batchSize * factor)))
          .filter((batch) => trained(batch) !== trained(config.batchSize))
          .filter((batch) =>
            !dropLast || trainSize === undefined ||
            batch * config.gradientAccumulation <= trainSize
          );
        return Promise.resolve(batches.map((batch) => {
          // (under optimizer.baseBatch the run scales its rate to the batch itself)
          const change = {
            batchSize: batch,
            ...(selfScaledFrom(config) === undefined &&
              rateChangeOf(
                config,
                // (a onecycle's maxLr may be negative, as torch runs it: its size scaled)
                round(
                  Math.sign(lr()) * scaleLearningRate(
                    Math.abs(lr()),
                    trained(config.batchSize),
                    trained(batch),
                    batchScalingOf(config.optimizer),
                  ).lr,
                ),
              )),
          };
          return { ...change, ...keepSchedule(config, change, length()) };
        }));
      },
    },
    {
      name: "weight decay",
      candidates: () => {
        // Decoupled decay (AdamW) where the optimizer is Adam: the seeds' advice. (the name only
        // where it changes: an sgd run's changes listed optimizer.name="sgd", the name it had)
        const name = config.optimizer.name === "adam" ? { "optimizer.name": "adamw" } : {};
        return Promise.resolve(
          [1e-4, 1e-2].map((wd) => ({ ...name, "optimizer.weightDecay": wd })),
        );
      },
    },
    {
      name: "schedule and warmup",
      candidates: () => {
        const total = (length()?.stepsPerEpoch ?? 0) * config.epochs;
        // (a run of one step has no schedule: the cosine's one step is its rate, as without it, and
        // the warmup's, from 0, trained nothing)
        if (total < 2) return Promise.resolve([]);
        // Away from onecycle the optimizer's lr sets the rates: start from onecycle's peak (the
        // rate the optimizer saw, so baseBatch scaling is undone).
        const peak = rate.oneCycle && rate.value !== undefined && rate.value > 0
          ? { "optimizer.lr": round(rate.value / learningRateScale(config)) }
          : {};
        return Promise.resolve([
          { scheduler: { name: "cosine", tMax: total }, ...peak },
          {
            ...peak,
            scheduler: {
              name: "warmupCosine",
              warmupSteps: Math.max(1, Math.round(total * 0.05)),
              totalSteps: total,
            },
          },
        ]);
      },
    },
    {
      name: "gradient clipping",
      candidates: () =>
        Promise.resolve(
          config.clipping.maxNorm ? [{ "clipping.maxNorm": null }] : [{ "clipping.maxNorm": 1 }],
        ),
    },
    {
      name: "dropout",
      candidates: () => Promise.resolve(dropoutCandidates(config)),
    },
    {
      name: "epochs with early stopping",
      candidates: () => {
        const change = {
          epochs: config.epochs * 2,
          "earlyStopping.patience": Math.max(2, Math.round(config.epochs / 3)),
          ...earlyStoppingWatch(config),
          "earlyStopping.restoreBest": true,
        };
        return Promise.resolve([{ ...change, ...keepSchedule(config, change, length()) }]);
      },
    },
  ];
}

/**
 * What the epochs stage's early stopping watches, and which way is better: tune's metric, but
 * for an accuracy the loss of the same split (`valAccuracy`: `valLoss`; `accuracy`: `loss`). An
 * accuracy counts samples: it sits still for epochs while the loss falls (at the majority
 * class's share on imbalanced classes, until the rarer ones start to be told apart), and a tie
 * is no improvement, so a patience of a third of the run stopped such runs before they learnt
 * and restored their first epoch: a tuned config that, under another seed, predicted the
 * majority class. The run is still scored by tune's metric, at the epoch the loss restores.
 *
 * @example
 * ```ts
 * import { parseConfig } from "../config.ts";
 * import { earlyStoppingWatch } from "./tune.ts";
 * const data = { kind: "csv", path: "x.csv", target: "y", task: "classification" } as const;
 * const watch = earlyStoppingWatch(parseConfig({ data }));
 * console.assert(watch["earlyStopping.monitor"] === "valLoss" && watch["earlyStopping.mode"] === "min");
 * ```
 */
export function earlyStoppingWatch(
  config: RunConfig,
): { "earlyStopping.monitor": string; "earlyStopping.mode": "min" | "max" } {
  const metric = tuneMetric(config);
  const loss = metric === "valAccuracy" ? "valLoss" : metric === "accuracy" ? "loss" : undefined;
  // (tune refuses optimizer.maximize: its loss is minimized)
  if (loss) return { "earlyStopping.monitor": loss, "earlyStopping.mode": "min" };
  return {
    "earlyStopping.monitor": metric,
    "earlyStopping.mode": tuneDirection(config).direction === "maximize" ? "max" : "min",
  };
}

/**
 * The dropout stage's candidates: rates for an MLP's hidden layers or a cnn's dense ones, none
 * where the model has no such layer (`hidden: []`, `dense: []`), whose dropout drops nothing (two
 * runs that trained as the baseline did).
 *
 * @example
 * ```ts
 * import { parseConfig } from "../config.ts";
 * import { dropoutCandidates } from "./tune.ts";
 * console.assert(dropoutCandidates(parseConfig({ model: { kind: "mlp" } })).length === 2);
 * console.assert(dropoutCandidates(parseConfig({ model: { kind: "mlp", hidden: [] } })).length === 0);
 * ```
 */
export function dropoutCandidates(config: RunConfig): Change[] {
  const model = config.model;
  return (model.kind === "mlp" || model.kind === "cnn") && dropoutHasLayers(model)
    ? [0.1, 0.3].map((p) => ({ "model.dropout": p }))
    : [];
}

/**
 * Tunes a config stage by stage. Takes the
 * `config` as written or as `parseConfig` gives it; an option name it does not take is refused
 * (an `AnnealError`, `usage`, naming the one likely meant).
 *
 * @example
 * ```ts ignore
 * import { tune } from "./tune.ts";
 * import { parseConfig } from "../config.ts";
 * const result = await tune(parseConfig({ data: { kind: "idx", flatten: true, limit: 2000 }, model: { kind: "mlp" }, epochs: 3 }));
 * console.log(result.baseline, "->", result.final);
 * ```
 */
export async function tune(
  given: RunConfigInput | RunConfig,
  options: TuneOptions = {},
): Promise<TuneResult> {
  // (a misspelt option was ignored: { budjet: 4 } tuned with 20 runs)
  checkOptionNames(
    options,
    Object.keys(
      {
        budget: true,
        minImprovement: true,
        onTrial: true,
        onStage: true,
        onWarning: true,
        onStart: true,
        interrupt: true,
      } satisfies Record<keyof TuneOptions, true>,
    ),
    "tune",
  );
  // (a config as written threw a TypeError from inside, reading its data's kind)
  const input = parseConfig(given);
  const budget = options.budget ?? 20;
  // (NaN ran the baseline alone, 2.5 as 2: a budget counts whole runs; Infinity sets no limit)
  if (!(budget === Infinity || Number.isInteger(budget))) {
    throw new AnnealError(
      "usage",
      `Cannot tune with a budget of ${budget} runs: a budget is a whole number of runs`,
      {
        where: "--budget",
        hint: "give --budget 2 or more (20 by default: enough for every stage)",
      },
    );
  }
  if (budget < 2) {
    throw new AnnealError(
      "usage",
      `Cannot tune with a budget of ${budget} run${budget === 1 ? "" : "s"}: a tune needs at ` +
        `least 2, its first run being the baseline (the config as it is) and each run after it ` +
        `a candidate of a stage`,
      {
        where: "--budget",
        hint: "give --budget 2 or more (20 by default: enough for every stage); to train the " +
          "config once, anneal train",
      },
    );
  }
  const minImprovement = options.minImprovement ?? DEFAULT_MIN_IMPROVEMENT;
  if (!(Number.isFinite(minImprovement) && minImprovement >= 0 && minImprovement < 1)) {
    throw new AnnealError(
      "usage",
      `Cannot tune with a minimum improvement of ${minImprovement}: it is the fraction of the ` +
        `best value so far that a change must gain to be kept, a number from 0 up to (not ` +
        `including) 1`,
      {
        where: "--min-improvement",
        hint: `give e.g. --min-improvement 0.01 (1%); ${DEFAULT_MIN_IMPROVEMENT} by default, ` +
          "0 keeps any gain",
      },
    );
  }
  const metric = tuneMetric(input);
  checkTuneMetric(input);
  try {
    // Its first stage is the range test: a config it refuses is refused before any run.
    checkReadable(input);
  } catch (error) {
    if (!(error instanceof AnnealError)) throw error;
    throw new AnnealError(
      error.code,
      `Cannot tune this config: its learning-rate stage is an LR range test. ${error.message}`,
      { where: error.where, hint: error.hint },
    );
  }
  const { direction, warning } = tuneDirection(input);
  if (warning) options.onWarning?.(warning);
  // (a signal aborted already fires no abort event: the baseline trained in full, and its value
  // was reported as the tune's; refused as lrFind and runSweep refuse it, before any record)
  if (options.interrupt?.aborted) {
    const reason = options.interrupt.reason;
    throw new AnnealError(
      "interrupted",
      `tune interrupted${
        reason === undefined ? "" : ` (${String(reason)})`
      } before its first run: nothing was tuned`,
      { hint: "call tune with a signal that is not aborted yet" },
    );
  }
  const previous = await lastUnfinishedTune(input.runsDir);
  // its own directory, whatever other tunes run beside it
  const runsDir = await makeTuneDirectory(input.runsDir);
  const recorder = await TuneRecorder.start(runsDir, {
    metric,
    direction,
    budget,
    minImprovement,
  });
  options.onStart?.(runsDir, previous);
  try {
    return await search(input, options, {
      metric,
      direction,
      budget,
      minImprovement,
      runsDir,
      recorder,
    });
  } catch (error) {
    // Refused before any of its runs left a record (its data missing or bad, a setting its data
    // shows it cannot train with, the range test's refusal): nothing is left of it, as of a run
    // `train` refuses at its start; the error says why.
    if (await holdsOnlyItsRecord(runsDir)) {
      await Deno.remove(runsDir, { recursive: true }).catch(() => {});
      throw error;
    }
    // (a tune that failed said why: the next one does not report it as cut short)
    const reason = error instanceof Error ? error.message : String(error);
    await recorder.update({ status: "failed", reason }).catch(() => {});
    throw error;
  }
}

/** Whether a tune's directory holds nothing but its `tune.json`: no run, no tuned config. */
async function holdsOnlyItsRecord(dir: string): Promise<boolean> {
  try {
    for await (const entry of Deno.readDir(dir)) if (entry.name !== TUNE_RECORD) return false;
    return true;
  } catch {
    return false;
  }
}

/**
 * The changes of `changes` that train another config than `config` and than each other, in their
 * order. A change that leaves the config as it is (adamw's weightDecay 0.01, its default; a batch
 * of 1 halved; a dropout of 0.1 where it is 0.1) trained the stage's start again: a run of the
 * budget spent on nothing (the same numbers: dropout's masks are seeded too). A change the config
 * refuses is kept, to be refused as it was.
 *
 * @example
 * ```ts
 * import { distinctChanges } from "./tune.ts";
 * import { parseConfig } from "../config.ts";
 * const config = parseConfig({ optimizer: { name: "adamw", lr: 0.01 } });
 * const changes = [{ "optimizer.weightDecay": 1e-4 }, { "optimizer.weightDecay": 0.01 }];
 * console.assert(distinctChanges(config, changes).length === 1);
 * ```
 */
export function distinctChanges(config: RunConfig, changes: Change[]): Change[] {
  const seen = new Set([canonicalJson(config)]);
  return changes.filter((change) => {
    let key: string;
    try {
      key = canonicalJson(applyChange(config, change));
    } catch {
      return true;
    }
    return !seen.has(key) && seen.add(key);
  });
}

/** What a run of a tune's config gave: the value of its metric, and its run (none if refused). */
type Evaluated = {
  value: number;
  runId?: string;
  test?: Record<string, number>;
  refused?: string;
};

/** The staged search of {@linkcode tune}, recorded in its directory as it goes. */
async function search(
  input: RunConfig,
  options: TuneOptions,
  tuning: {
    metric: string;
    direction: "minimize" | "maximize";
    budget: number;
    minImprovement: number;
    runsDir: string;
    recorder: TuneRecorder;
  },
): Promise<TuneResult> {
  const { metric, direction, budget, minImprovement, runsDir, recorder } = tuning;
  let runs = 0;
  /** Each config's run length, from its run's plan. */
  const lengths = new WeakMap<RunConfig, RunLength>();
  const interrupt = options.interrupt;
  const interrupted = () => interrupt?.aborted ? String(interrupt.reason ?? "interrupted") : "";
  // each run hands its actor Workers to the next once it ends cleanly, or else starts the next
  // one's once its own are up; closed with the search
  await using spares = new SpareActors(1);
  const evaluate = async (config: RunConfig) => {
    runs++;
    const run = trainWithSpares(spares, { ...config, runsDir, sweep: undefined });
    const stop = () => run.interrupt(interrupted());
    interrupt?.addEventListener("abort", stop, { once: true });
    // (aborted between the search's checks and this run's start: no abort event comes)
    if (interrupt?.aborted) stop();
    // A run is scored by the weights it ends with, which training its config again gives: its
    // last epoch's, or the best epoch's where early stopping restored them. (Its best epoch
    // alone was scored before: a tuned config without restoreBest claimed a value its own run
    // then ended below, on a small validation split often no better than the baseline's.)
    const values = new Map<number, number>();
    let ended = NaN;
    for await (const event of run.events()) {
      if (event.type === "plan") {
        const { stepsPerEpoch, dataset: { trainSize } } = event;
        lengths.set(config, { stepsPerEpoch, trainSize });
      }
      if (event.type === "restored") ended = values.get(event.epoch) ?? NaN;
      if (event.type !== "epoch") continue;
      const value = event.metrics[metric];
      if (value === undefined) {
        run.stop("missing metric");
        throw new AnnealError("config", `tune's metric '${metric}' is not logged`, {
          hint: "give the data a validation split (data.validationSplit > 0)",
        });
      }
      values.set(event.epoch, value);
      ended = value;
    }
    const result = await run.result.finally(() => interrupt?.removeEventListener("abort", stop));
    // (an interrupted run's value is of the epochs it got to: it counts for nothing)
    if (result.status === "interrupted") {
      return { value: NaN, runId: result.runId, test: undefined };
    }
    const value = result.status === "failed" || result.status === "diverged" ? NaN : ended;
    return { value, runId: result.runId, test: result.test };
  };
  /** Whether `a` beats `b` by more than `margin` of `b`'s size (any finite `a` a NaN). */
  const better = (a: number, b: number, margin = minImprovement) => {
    if (!Number.isFinite(a)) return false;
    if (!Number.isFinite(b)) return true;
    const by = margin * Math.abs(b);
    return direction === "minimize" ? a < b - by : a > b + by;
  };

  let config = input;
  const first = await evaluate(config);
  const baseline = first.value;
  let current = baseline;
  let currentTest = first.test;
  const done: TuneStage[] = [];
  /** Records how far the tune got: the stages so far (`stage`: one under way), the best config. */
  const record = (stage?: TuneStage, best = { value: current, config }) =>
    recorder.update({
      runs,
      ...(Number.isFinite(baseline) && { baseline }),
      ...(Number.isFinite(best.value) && { best: best.value }),
      stages: stage ? [...done, stage] : done,
    }, best.config);
  await record();
  // (told once recorded: what a tune killed after it printed a run's line had found is on disk)
  if (!interrupted()) options.onTrial?.("baseline", {}, baseline, config);
  /** The stages' names, in order (what the budget leaves no run for is named from these). */
  const names = stages(config, () => undefined).map((stage) => stage.name);
  /** The steps the learning-rate stage's range test has taken (where it is cut short, how far). */
  let rangeTestSteps = 0;
  let interruptedRangeTest: TuneResult["interruptedRangeTest"];
  for (let index = 0; index < names.length && runs < budget && !interrupted(); index++) {
    // Candidates depend on the config so far: rebuild the stage from it.
    const stage = stages(config, () => lengths.get(config), {
      interrupt,
      onStep: (steps) => rangeTestSteps = steps,
      onWarning: options.onWarning,
    })[index];
    let candidates: Change[];
    /** The stage's changes before the budget trimmed them. */
    let all: number;
    try {
      const changes = distinctChanges(config, await stage.candidates());
      all = changes.length;
      candidates = changes.slice(0, budget - runs);
    } catch (error) {
      // the range test stopped after its current step: it suggests nothing, and no rate is tried
      if (!(error instanceof AnnealError && error.code === "interrupted")) throw error;
      interruptedRangeTest = { steps: rangeTestSteps, iterations: RANGE_TEST_STEPS };
      break;
    }
    const tried: TuneStage = {
      name: stage.name,
      tried: [],
      kept: {},
      before: current,
      after: current,
    };
    let bestConfig = config;
    for (const change of candidates) {
      if (interrupted()) break;
      const candidate = applyChange(config, change);
      const { value, runId, test, refused }: Evaluated = await evaluate(candidate).catch(
        (error) => {
          // a change its data cannot train with (batches of one sample under batch norm): refused
          // at its start, as its config; it counts for nothing, and the stage goes on
          if (!(error instanceof AnnealError && error.code === "config")) throw error;
          return { value: NaN, runId: undefined, test: undefined, refused: error.message };
        },
      );
      if (interrupted()) break; // (its run counts for nothing)
      tried.tried.push({ change, value, runId, test, ...(refused && { refused }) });
      if (better(value, tried.after)) {
        tried.after = value;
        tried.kept = change;
        bestConfig = candidate;
        currentTest = test;
      }
      await record(tried, { value: tried.after, config: bestConfig });
      options.onTrial?.(stage.name, change, value, candidate, refused);
    }
    if (tried.tried.length === 0 && interrupted()) break;
    if (tried.tried.length < candidates.length) {
      tried.cutShort = { of: all };
    } else if (candidates.length < all) {
      tried.cutShort = { of: all, budget: true };
    }
    if (Object.keys(tried.kept).length === 0) {
      // (a gain under minImprovement: said, so that a stage left unchanged is not read as one
      // whose every change did worse)
      let closest = tried.before;
      for (const { change, value } of tried.tried) {
        if (!better(value, closest, 0)) continue;
        closest = value;
        tried.withinMargin = { change, value };
      }
    }
    // a stage cut short keeps the best of what it tried
    config = bestConfig;
    current = tried.after;
    done.push(tried);
    await record();
    options.onStage?.(tried);
  }
  const reason = interrupted();
  // (the stages past the last one begun, where the budget ran out first: said, not left out)
  const notRun = reason || done.length >= names.length ? [] : names.slice(done.length);
  await recorder.update({
    // (the runs of a stage cut short count too: tune.json said 6 where the tune said 7 of 8)
    runs,
    status: reason ? "interrupted" : "completed",
    ...(reason && { reason }),
    ...(notRun.length > 0 && { notRun }),
  });
  return {
    metric,
    direction,
    baseline,
    final: current,
    baselineTest: first.test,
    finalTest: currentTest,
    stages: done,
    config,
    runs,
    dir: runsDir,
    ...(reason && { interrupted: reason }),
    ...(interruptedRangeTest && { interruptedRangeTest }),
    ...(notRun.length > 0 && { notRun }),
  };
}
