/**
 * The batch-size finder (`anneal batch-size`): for each candidate batch size, time a few
 * optimizer steps of the run's own model on its own data and backend, record the memory they
 * hold (tfjs's tensors, and what the training step keeps outside tfjs), find the largest batch
 * that fits a memory budget, and show the learning rate the optimizer's batch-scaling rule gives
 * for each (linear for sgd: lr x batch / the config's batch; sqrt for the adaptive optimizers: lr x
 * sqrt(batch / the config's batch); `optimizer.batchScaling` picks; with `optimizer.baseBatch`,
 * from baseBatch, as the run scales it; under onecycle, whose rates come from its `maxLr`, that
 * scaled). A batch larger than the training set is not tried: no epoch would hold it.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { parseConfig, type RunConfig, type RunConfigInput } from "../config.ts";
import { checkOptionNames } from "../option_names.ts";
import { loadResolvedRows } from "../data/load_resolved.ts";
import { batchesPerEpoch, epochOrder, makeBatch } from "../data/batches.ts";
import { selectBackend } from "./backend.ts";
import { TrainingEngine } from "./checked_engine.ts";
import { outputUnits } from "./engine.ts";
import { checkStepMemory } from "./wasm_memory.ts";
import { outOfMemory } from "./out_of_memory.ts";
import { countParameters } from "../models/build_resolved.ts";
import { type BatchScaling, batchScalingOf, scaleLearningRate } from "../optimizers/scaling.ts";
import { rateChange, rateSetting } from "../schedulers/rate_setting.ts";
import { stretchChanges } from "../schedulers/stretch.ts";
import { AnnealError } from "../errors.ts";
import { formatNumber } from "../number_format.ts";
import { checkBatchNormBatches } from "../task_fit.ts";
import { median } from "../report/checks.ts";

/** Options of {@linkcode findBatchSize}. */
export interface BatchSizeOptions {
  /**
   * Candidate batch sizes (default: powers of two from 8 up to the training set size, at most
   * 4096), measured from the smallest up whatever their order. Sizes above the training set size
   * are listed, not measured (see `skipped`).
   */
  sizes?: number[];
  /**
   * Steps timed per size after two warm-up steps, the second profiled (default 3; at least 1),
   * and more where those take under 50 ms (up to 5000), in blocks of 5 ms or one step: the
   * median block's mean step is the size's time, as one pause among a few steps of a small
   * model's ~0.02 ms would be most of their mean.
   * Before the first size is timed the process warms up (steps of it for up to a second).
   */
  steps?: number;
  /** Memory budget in MiB for "fits" (default: none, only failures count). */
  memoryLimitMiB?: number;
  /** Called after each candidate is measured. */
  onProgress?: (row: BatchSizeRow) => void;
}

/** One candidate's measurement. */
export interface BatchSizeRow {
  /** The candidate batch size. */
  batchSize: number;
  /** The steps ran without error (and within `memoryLimitMiB`, when given). */
  fits: boolean;
  /** Wall time of one step in milliseconds: the median block's mean (of `stepsTimed`). */
  msPerStep?: number;
  /** How many steps were timed (`steps` at least, more where those took under 50 ms). */
  stepsTimed?: number;
  /** Training throughput: `batchSize / msPerStep * 1000`. */
  samplesPerSecond?: number;
  /**
   * Peak memory of a step in MiB: what tfjs held (weights, its optimizer state, activations), and
   * what the step keeps outside tfjs (the TypeScript or WGSL step's batch, activations and
   * gradients, a host optimizer's state).
   */
  peakMiB?: number;
  /**
   * The config's lr (under onecycle, its `maxLr`, which sets the rates) scaled to this batch (x
   * gradient accumulation, at most the training set, which a step holds at most) by the result's
   * `scaling` rule: the rate a run at this batch should train at. With
   * `optimizer.baseBatch` the run scales `optimizer.lr` so itself: this is the rate it trains at.
   */
  scaledLr: number;
  /** Set when the scaled learning rate is outside the linear rule's known range. */
  warning?: string;
  /** Message of the error that stopped the steps (e.g. out of memory). */
  error?: string;
  /**
   * Why a size that ran does not fit: its peak above `memoryLimitMiB`, e.g. "peak 4.845e-4 MiB
   * above the memory limit of 1e-4 MiB", its numbers as anneal prints any (`formatNumber`).
   */
  overLimit?: string;
  /**
   * Why the size was not measured: larger than the training set, or larger than a size that did
   * not fit (it needs more memory still).
   */
  skipped?: string;
}

/** The finder's answer. */
export interface BatchSizeResult {
  /** The tfjs backend that was measured. */
  backend: string;
  /**
   * The rule `scaledLr` follows: `optimizer.batchScaling`, or by default linear for sgd and sqrt
   * for the adaptive optimizers.
   */
  scaling: BatchScaling;
  /**
   * One row per candidate, from the smallest up: none is measured after the first that does not
   * fit (a larger batch needs more memory still); those, and sizes above the training set, are
   * rows with `skipped`.
   */
  rows: BatchSizeRow[];
  /** The training set's size, the largest batch an epoch holds. */
  trainSize: number;
  /** The largest batch that fits; `undefined` when none does. */
  largest?: number;
  /** The batch with the highest throughput among those that fit. */
  fastest?: number;
  /**
   * The changes that keep the config's schedule spanning a run at `largest` (a onecycle's
   * `totalSteps`, a cosine's `tMax` in steps, scaled by the steps an epoch takes there); absent
   * where none moves.
   */
  scheduleChanges?: Record<string, unknown>;
  /**
   * How to train at `largest`: `--set batchSize=N`, the schedule's changes (`scheduleChanges`),
   * and the scaled rate, set where it is set
   * (`optimizer.lr`, or under onecycle its `maxLr`; in a sequential's onecycle, which `--set`
   * cannot reach, the words that say where); with `optimizer.baseBatch`, which scales
   * `optimizer.lr` to the batch itself, the batch alone and the rate it trains at. Absent when no
   * batch fits.
   */
  use?: string;
}

/** The largest of the default sizes (`sizes` absent): larger batches are tried when listed. */
export const DEFAULT_MAX_BATCH = 4096;

function defaultSizes(n: number): number[] {
  const sizes: number[] = [];
  for (let b = 8; b <= Math.min(n, DEFAULT_MAX_BATCH); b *= 2) sizes.push(b);
  return sizes.length ? sizes : [n];
}

/**
 * Measures throughput and memory per batch size. Takes the
 * `config` as written or as `parseConfig` gives it; an option name it does not take is refused
 * (an `AnnealError`, `usage`, naming the one likely meant).
 *
 * @example
 * ```ts ignore
 * import { findBatchSize } from "./batch_size.ts";
 * import { parseConfig } from "../config.ts";
 * const result = await findBatchSize(parseConfig({ backend: "cpu" }), { sizes: [8, 16] });
 * console.log(result.largest);
 * ```
 */
export async function findBatchSize(
  input: RunConfigInput | RunConfig,
  options: BatchSizeOptions = {},
): Promise<BatchSizeResult> {
  // (a config as written threw a TypeError, reading its model's kind; a misspelt option was
  // ignored, the sizes timed its default's)
  checkOptionNames(
    options,
    Object.keys(
      { sizes: true, steps: true, memoryLimitMiB: true, onProgress: true } satisfies Record<
        keyof BatchSizeOptions,
        true
      >,
    ),
    "time the batch sizes",
  );
  const config = parseConfig(input);
  const steps = options.steps ?? 3;
  if (!Number.isInteger(steps) || steps < 1) {
    throw new AnnealError(
      "usage",
      `Cannot time the batch sizes: 'steps' must be an integer >= 1, current value is ${steps}`,
      { where: "steps", hint: "time 3 steps a size (the default), or more for steadier numbers" },
    );
  }
  // (a number for the list threw a TypeError: `sizes.find is not a function`)
  if (options.sizes !== undefined && !Array.isArray(options.sizes)) {
    throw new AnnealError(
      "usage",
      `Cannot time the batch sizes: 'sizes' must be a list of batch sizes, current value is ${
        JSON.stringify(options.sizes) ?? String(options.sizes)
      }`,
      { where: "sizes", hint: "list batch sizes such as [16, 32, 64], or leave 'sizes' out" },
    );
  }
  const bad = options.sizes?.find((size) => !Number.isInteger(size) || size < 1);
  if (bad !== undefined) {
    throw new AnnealError(
      "usage",
      `Cannot time the batch sizes: each of 'sizes' must be an integer >= 1, current value is ${bad}`,
      { where: "sizes", hint: "list batch sizes such as 16, 32, 64" },
    );
  }
  if (options.sizes?.length === 0) {
    throw new AnnealError("usage", "Cannot time the batch sizes: 'sizes' is empty", {
      where: "sizes",
      hint: "list batch sizes such as 16, 32, 64, or leave 'sizes' out for powers of two " +
        "from 8 up to the training set",
    });
  }
  const limit = options.memoryLimitMiB;
  if (limit !== undefined && !(limit > 0 && Number.isFinite(limit))) {
    throw new AnnealError(
      "usage",
      "Cannot time the batch sizes: 'memoryLimitMiB' must be a positive number of MiB, " +
        `current value is ${limit}`,
      { where: "memoryLimitMiB", hint: "give the memory budget in MiB, or leave it out for none" },
    );
  }
  const { backend } = await selectBackend(config.backend, config.model.kind);
  // (IDX images stay bytes, as in a run's data loader: each batch's floats are made as it is)
  const data = await loadResolvedRows(config.data, config.seed);
  const train = data.train;
  // from the smallest up: the search ends at the first that does not fit
  const sizes = [...new Set(options.sizes ?? defaultSizes(train.n))].sort((a, b) => a - b);
  const order = epochOrder(train.n, { shuffle: true, seed: config.seed, epoch: 0 });
  const rows: BatchSizeRow[] = [];
  const rate = rateSetting(config);
  // onecycle's maxLr may be negative (torch runs it): scale its size, keep its sign
  const from = rate.oneCycle ? rate.value ?? 0 : config.optimizer.lr as number;
  // optimizer.baseBatch: the run scales optimizer.lr from that batch itself (onecycle it leaves)
  const baseBatch = rate.oneCycle
    ? undefined
    : (config.optimizer as { baseBatch?: number }).baseBatch;
  // linear for sgd, sqrt for the adaptive optimizers, or optimizer.batchScaling's
  const rule = batchScalingOf(config.optimizer);
  let failed: number | undefined;
  let warmed = false;
  // A step trains at most the training set: under gradient accumulation a batch that fits in it
  // can make a step that does not (128 x 3 on 350 samples trains 350 a step), and so does the
  // config's own. optimizer.baseBatch's run scales to batchSize x gradientAccumulation as it is
  // (the trainer warns of a step past the training set): the rate shown is the one it trains at.
  const trained = (batch: number) =>
    baseBatch !== undefined
      ? batch * config.gradientAccumulation
      : Math.min(batch * config.gradientAccumulation, train.n);
  for (const batchSize of sizes) {
    const scaled = scaleLearningRate(
      Math.abs(from),
      baseBatch ?? trained(config.batchSize),
      trained(batchSize),
      rule,
    );
    const row: BatchSizeRow = { batchSize, fits: false, scaledLr: Math.sign(from) * scaled.lr };
    // Not tried: a size past the training set, one train refuses under batch norm (it was
    // measured and named the largest that fits), one past a smaller size that did not fit.
    row.skipped = batchSize > train.n
      ? `more than the ${train.n} training samples: an epoch's batches hold at most ${train.n}`
      : batchNormRefusal(config, train.inputShape, train.n, batchSize) ??
        emptyEpoch(config, train.n, batchSize) ??
        (failed === undefined ? undefined : `a smaller batch, ${failed}, did not fit`);
    if (row.skipped !== undefined) {
      rows.push(row);
      options.onProgress?.(row);
      continue;
    }
    if (scaled.warning) row.warning = scaled.warning;
    let engine: TrainingEngine | undefined;
    try {
      // (a batch past wasm's memory, or the machine's on cpu, is refused before the model is
      // built, not tried)
      checkStepMemory(
        config.model,
        { inputShape: train.inputShape, outputUnits: outputUnits(train) },
        batchSize,
        tf.getBackend(),
      );
      engine = new TrainingEngine(config, train);
      const batch = makeBatch(train, order.subarray(0, batchSize), undefined, config.seed);
      const step = async () => {
        const pending = engine!.computeGradients([batch]);
        engine!.applyGradients(pending, config.optimizer.lr as number);
        await engine!.readStats([pending]); // wait for the device, so the time is the step's
      };
      const peak = await stepPeakBytes(engine, step, batchSize);
      // (the first size measured ran cold: its steps took 2-3x those of the same size measured
      // after another, V8 and wasm still compiling the step's code, so its throughput read low
      // and the size listed first lost the ranking)
      if (!warmed) await warmUp(step);
      warmed = true;
      // Each step timed, and the median taken, for at least `steps` steps and MIN_TIMED_MS: the
      // seed's steps take ~0.02 ms, and a mean of 3 with one pause of the collector among them
      // (2-4 ms) read batch 8 550x slower than batch 16.
      // (in blocks of BLOCK_MS or one step, whichever is longer: a step of microseconds timed
      // alone is mostly the timer's and the await's own cost)
      const blocks: number[] = [];
      let timed = 0;
      const started = performance.now();
      while (
        timed < steps ||
        (performance.now() - started < MIN_TIMED_MS && timed < MAX_TIMED_STEPS)
      ) {
        const at = performance.now();
        let taken = 0;
        do {
          await step();
          taken++;
        } while (performance.now() - at < BLOCK_MS && timed + taken < MAX_TIMED_STEPS);
        timed += taken;
        blocks.push((performance.now() - at) / taken);
      }
      const ms = median(blocks);
      row.msPerStep = ms;
      row.stepsTimed = timed;
      row.samplesPerSecond = (batchSize / ms) * 1000;
      row.peakMiB = peak / 2 ** 20;
      row.fits = options.memoryLimitMiB === undefined || row.peakMiB <= options.memoryLimitMiB;
      if (!row.fits) {
        row.overLimit = `peak ${formatNumber(row.peakMiB)} MiB above the memory limit of ` +
          `${formatNumber(options.memoryLimitMiB)} MiB`;
      }
    } catch (error) {
      const parameters = engine && countParameters(engine.model);
      const failed = outOfMemory(error, parameters, tf.getBackend()) ?? error;
      row.error = failed instanceof Error ? failed.message : String(failed);
    } finally {
      engine?.dispose();
    }
    rows.push(row);
    options.onProgress?.(row);
    if (!row.fits) failed = batchSize; // larger batches need more memory still
  }
  const fitting = rows.filter((r) => r.fits);
  const fastest = fitting.reduce<BatchSizeRow | undefined>(
    (best, r) => (!best || (r.samplesPerSecond ?? 0) > (best.samplesPerSecond ?? 0) ? r : best),
    undefined,
  );
  const largest = fitting.reduce<number | undefined>(
    (m, r) => Math.max(m ?? 0, r.batchSize),
    undefined,
  );
  const scaledLr = rows.find((r) => r.batchSize === largest)?.scaledLr;
  const schedule = largest === undefined ? {} : keepSchedule(config, train.n, largest);
  const rounded = scaledLr === undefined ? undefined : Number(scaledLr.toPrecision(4));
  const children = schedule["scheduler.schedulers"] as Record<string, unknown>[] | undefined;
  if (rounded !== undefined && !rate.settable && children) {
    // a sequential's onecycle, which --set cannot reach alone: its list is set whole anyway
    const index = Number(rate.path.split(".")[2]);
    schedule["scheduler.schedulers"] = children.map((child, i) =>
      i === index ? { ...child, maxLr: rounded } : child
    );
  }
  const rateText = rounded === undefined
    ? undefined
    : baseBatch !== undefined
    ? `: optimizer.baseBatch (${baseBatch}) scales optimizer.lr (${from}) to the batch, so the ` +
      `run trains at ${rounded}`
    : !rate.settable && children
    ? `: the list holds the onecycle's maxLr, which sets the rates, scaled to ${rounded}`
    : `${rate.settable ? " " : "; "}${rateChange(rate, rounded).text}`;
  const sets = Object.entries(schedule).map(([path, value]) => ` --set ${setWord(path, value)}`);
  return {
    backend,
    scaling: rule,
    rows,
    trainSize: train.n,
    largest,
    fastest: fastest?.batchSize,
    ...(rateText !== undefined && { use: `--set batchSize=${largest}${sets.join("")}${rateText}` }),
    ...(Object.keys(schedule).length > 0 && { scheduleChanges: schedule }),
  };
}

/**
 * Why `anneal train` refuses `batchSize` under the model's batch norm (an epoch's batch of one
 * sample: {@linkcode checkBatchNormBatches}), in a row's words; undefined where it trains.
 */
function batchNormRefusal(
  config: RunConfig,
  inputShape: readonly number[],
  trainSize: number,
  batchSize: number,
): string | undefined {
  const { dropLast } = config.data as { dropLast: boolean };
  try {
    checkBatchNormBatches(config.model, inputShape, { trainSize, batchSize, dropLast });
    return undefined;
  } catch (error) {
    if (!(error instanceof AnnealError) || error.code !== "config") throw error;
    // (dropLast drops it where a whole step fits the training set: a larger one, under gradient
    // accumulation, would leave an epoch no step)
    const drops = batchSize * config.gradientAccumulation <= trainSize;
    return batchSize === 1 || trainSize === 1
      ? "batches of one sample, which batch norm cannot normalize (train refuses them)"
      : `${trainSize} training samples in batches of ${batchSize} leave a last batch of one ` +
        `sample, which batch norm cannot normalize (train refuses it${
          drops ? "; --set data.dropLast=true drops it" : ""
        })`;
  }
}

/**
 * Why `anneal train` takes no step an epoch at `batchSize` (`data.dropLast` drops an
 * accumulation group of more samples than the training set holds), in a row's words; undefined
 * where it trains. (Such a size was measured and named the largest that fits, and train refused
 * it: "an epoch would take no step".)
 */
export function emptyEpoch(
  config: RunConfig,
  trainSize: number,
  batchSize: number,
): string | undefined {
  const { dropLast } = config.data as { dropLast: boolean };
  const accumulation = config.gradientAccumulation;
  if (batchesPerEpoch(trainSize, batchSize, dropLast, accumulation) > 0) return undefined;
  return `${batchSize} x gradientAccumulation ${accumulation} = ${batchSize * accumulation} ` +
    `samples a step, more than the ${trainSize} training samples, and data.dropLast drops the ` +
    "short group: an epoch would take no step (train refuses it; --set data.dropLast=false " +
    "keeps it)";
}

/** Each size is timed for this long at least (or its `steps`, where those take longer)... */
const MIN_TIMED_MS = 50;
/** ...in blocks of steps of this long at least, the median block's mean step its time... */
const BLOCK_MS = 5;
/** ...in at most this many steps. */
const MAX_TIMED_STEPS = 5000;

/** Warm-up of the process before the first size is timed: steps for this long, at most. */
export const WARM_UP_MS = 1000;
/** ... and at most this many steps (a tiny model's steps take a millisecond or less). */
export const WARM_UP_STEPS = 50;

/**
 * Steps until {@linkcode WARM_UP_MS} have passed or {@linkcode WARM_UP_STEPS} were taken, so that
 * the first size is timed as warm as the later ones (a slow step, of a second or more, is
 * taken once).
 */
async function warmUp(step: () => Promise<void>): Promise<void> {
  const started = performance.now();
  for (let i = 0; i < WARM_UP_STEPS && performance.now() - started < WARM_UP_MS; i++) {
    await step();
  }
}

/** `path=value` as one shell word: single-quoted where the value's JSON needs it. */
function setWord(path: string, value: unknown): string {
  const word = `${path}=${JSON.stringify(value)}`;
  return /^[\w.=:,+-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The changes that keep the config's schedule spanning the run at batch `batchSize` (as `anneal
 * tune` stretches it): a schedule that ends at a fixed step (onecycle's `totalSteps`, cosine's
 * `tMax` counted in steps) would stop short of its end at a larger batch, which takes fewer steps
 * an epoch, and go past it at a smaller one (where torch's OneCycleLR raises).
 */
function keepSchedule(
  config: RunConfig,
  trainSize: number,
  batchSize: number,
): Record<string, unknown> {
  const { dropLast } = config.data as { dropLast: boolean };
  const accumulation = config.gradientAccumulation;
  const stepsAt = (batch: number) =>
    Math.ceil(batchesPerEpoch(trainSize, batch, dropLast, accumulation) / accumulation);
  const [before, after] = [stepsAt(config.batchSize), stepsAt(batchSize)];
  return stretchChanges(config, {
    steps: after / before,
    epochs: 1,
    perEpoch: after / before,
    runSteps: { before: before * config.epochs, after: after * config.epochs },
  });
}

/**
 * Peak bytes of a step, after a first warm-up step: the most tfjs held before, during (at each
 * kernel, as `tf.profile` records it: that includes the activations the backward pass holds, which
 * `tf.memory()` after the step would not see) and after it, plus what the step keeps outside
 * tfjs. A step that runs no tfjs kernel (the TypeScript step) has no kernel snapshot: then tfjs
 * held what it held before and after.
 */
async function stepPeakBytes(
  engine: TrainingEngine,
  step: () => Promise<void>,
  rows: number,
): Promise<number> {
  // A step that fails does so here, as an error this size's row records: under tf.profile a
  // kernel runs inside the backend's timer, whose rejection nothing awaits (wasm's "Invalid typed
  // array length" of a batch past its 4 GiB ended the process, uncaught)
  await step();
  const before = tf.memory().numBytes;
  const profile = await tf.profile(step);
  const held = Math.max(before, profile.peakBytes, tf.memory().numBytes);
  return held + await engine.extraStepBytes(rows);
}
