/**
 * The batch-size finder (`anneal batch-size`): for each candidate batch size, time a few
 * optimizer steps of the run's own model on its own data and backend, record the tfjs memory they
 * hold, find the largest batch that fits a memory budget, and show the learning rate the linear
 * scaling rule gives for each (lr x batch / the config's batch).
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import type { RunConfig } from "../config.ts";
import { loadData } from "../data/mod.ts";
import { epochOrder, makeBatch } from "../data/batches.ts";
import { selectBackend } from "./backend.ts";
import { TrainingEngine } from "./engine.ts";
import { scaleLearningRate } from "../optimizers/scaling.ts";

/** Options of {@linkcode findBatchSize}. */
export interface BatchSizeOptions {
  /** Candidate batch sizes (default: powers of two from 8 up to the training set size, at most 4096). */
  sizes?: number[];
  /** Steps timed per size after one warm-up step (default 3). */
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
  /** Mean wall time of one step in milliseconds. */
  msPerStep?: number;
  /** Training throughput: `batchSize / msPerStep * 1000`. */
  samplesPerSecond?: number;
  /** Peak bytes tfjs held during the steps (weights, optimizer state, activations). */
  peakMiB?: number;
  /** The config's lr scaled linearly to this batch (x gradient accumulation). */
  scaledLr: number;
  /** Set when the scaled learning rate is outside the linear rule's known range. */
  warning?: string;
  /** Message of the error that stopped the steps (e.g. out of memory). */
  error?: string;
}

/** The finder's answer. */
export interface BatchSizeResult {
  /** The tfjs backend that was measured. */
  backend: string;
  /** One row per candidate tried, smallest first; stops after the first that does not fit. */
  rows: BatchSizeRow[];
  /** The largest batch that fits; `undefined` when none does. */
  largest?: number;
  /** The batch with the highest throughput among those that fit. */
  fastest?: number;
}

function defaultSizes(n: number): number[] {
  const sizes: number[] = [];
  for (let b = 8; b <= Math.min(n, 4096); b *= 2) sizes.push(b);
  return sizes.length ? sizes : [n];
}

/**
 * Measures throughput and memory per batch size.
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
  config: RunConfig,
  options: BatchSizeOptions = {},
): Promise<BatchSizeResult> {
  const { backend } = await selectBackend(config.backend, config.model.kind);
  const data = await loadData(config.data, config.seed);
  const train = data.train;
  const sizes = options.sizes ?? defaultSizes(train.n);
  const steps = options.steps ?? 3;
  const order = epochOrder(train.n, { shuffle: true, seed: config.seed, epoch: 0 });
  const rows: BatchSizeRow[] = [];
  for (const batchSize of sizes) {
    const effective = batchSize * config.gradientAccumulation;
    const scaled = scaleLearningRate(
      config.optimizer.lr as number,
      config.batchSize * config.gradientAccumulation,
      effective,
    );
    const row: BatchSizeRow = {
      batchSize,
      fits: false,
      scaledLr: scaled.lr,
      warning: scaled.warning,
    };
    let engine: TrainingEngine | undefined;
    try {
      engine = new TrainingEngine(config, train);
      const indices = new Uint32Array(batchSize);
      for (let i = 0; i < batchSize; i++) indices[i] = order[i % train.n];
      const batch = makeBatch(train, indices, undefined, config.seed);
      const step = async () => {
        const pending = engine!.computeGradients([batch]);
        engine!.applyGradients(pending, config.optimizer.lr as number);
        await engine!.readStats([pending]); // wait for the device, so the time is the step's
      };
      // The warm-up step runs under tf.profile, whose peakBytes includes the activations that
      // the backward pass holds (tf.memory() after the step would only see what survived it);
      // the dense step keeps its activations outside tfjs, so the engine adds those.
      const profile = await tf.profile(step);
      const peak = profile.peakBytes + engine.extraStepBytes(batchSize);
      const started = performance.now();
      for (let i = 0; i < steps; i++) await step();
      const ms = (performance.now() - started) / steps;
      row.msPerStep = ms;
      row.samplesPerSecond = (batchSize / ms) * 1000;
      row.peakMiB = peak / 2 ** 20;
      row.fits = options.memoryLimitMiB === undefined || row.peakMiB <= options.memoryLimitMiB;
    } catch (error) {
      row.error = error instanceof Error ? error.message : String(error);
    } finally {
      engine?.dispose();
    }
    rows.push(row);
    options.onProgress?.(row);
    if (!row.fits) break; // larger batches need more memory still
  }
  const fitting = rows.filter((r) => r.fits);
  const fastest = fitting.reduce<BatchSizeRow | undefined>(
    (best, r) => (!best || (r.samplesPerSecond ?? 0) > (best.samplesPerSecond ?? 0) ? r : best),
    undefined,
  );
  return { backend, rows, largest: fitting.at(-1)?.batchSize, fastest: fastest?.batchSize };
}
