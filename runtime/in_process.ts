/**
 * The same training as the actors do, as one plain loop in the calling thread: no Workers, no
 * messages. It exists to measure what the actor architecture costs (`deno task bench`) and to
 * check that the actors change nothing about the numbers (same epoch losses, bit for bit on cpu).
 * Losses are read back as the trainer reads them: every step on the CPU backends, in windows of
 * 16 on WebGPU, going on past epoch ends before their reads are back. Supports what the benchmark
 * workloads need: a schedule without plateau, clipping by norm (adaptive clipping's threshold set
 * from the norms read, as the trainer sets it), gradient accumulation; no validation, early
 * stopping or checkpoints.
 *
 * @module
 */
import { baseLearningRate, type RunConfig } from "../config.ts";
import { type Dataset, loadData } from "../data/mod.ts";
import {
  type LoaderOptions,
  loaderOptions,
  trainBatchCount,
  trainBytes,
  trainByteSamples,
  trainOrder,
  trainSamples,
} from "../actors/data_loader.ts";
import { createSchedule } from "../schedulers/mod.ts";
import { checkRunStart } from "./start_checks.ts";
import { selectBackend } from "./backend.ts";
import { READS_IN_FLIGHT, ReadsInFlight } from "./reads_in_flight.ts";
import {
  type HostBatch,
  type HostByteBatch,
  type StepTensors,
  type StepValues,
  TrainingEngine,
} from "./engine.ts";
import { AnnealError } from "../errors.ts";
import { ClipThreshold } from "../actors/clip_threshold.ts";

/** What the in-process loop reports. */
export interface InProcessResult {
  backend: string;
  /** Mean training loss per epoch. */
  losses: number[];
  steps: number;
  /** Wall time of the training loop (data loading and backend start excluded). */
  seconds: number;
  /** Of `seconds`, the time in the steps' own work (as the trainer's `EpochEvent.stepSeconds`). */
  stepSeconds: number;
  /**
   * Of `seconds`, the time until the first window of steps was read back (on the CPU backends
   * the first step; it includes compiling and first allocations): the rest is the warm loop.
   */
  firstWindowSeconds: number;
  /** Steps in that first window. */
  firstWindowSteps: number;
  /** The final weights, by name. */
  weights: Awaited<ReturnType<TrainingEngine["readWeights"]>>;
  /**
   * The threshold by norm a next step would be clipped at, as a checkpoint's `clipThreshold`:
   * `clipping.maxNorm`, or under adaptive clipping the percentile of the norms read (undefined:
   * no clipping by norm).
   */
  clipThreshold?: number;
}

/**
 * Trains `config` in the calling thread.
 *
 * @example
 * ```ts ignore
 * import { trainInProcess } from "./in_process.ts";
 * import { parseConfig } from "../config.ts";
 * const result = await trainInProcess(parseConfig({ backend: "cpu", epochs: 2 }));
 * console.log(result.losses);
 * ```
 */
export async function trainInProcess(config: RunConfig): Promise<InProcessResult> {
  if (config.scheduler?.name === "plateau") {
    throw new AnnealError(
      "usage",
      "The in-process loop has no validation, so it cannot run a plateau schedule",
    );
  }
  const { backend } = await selectBackend(config.backend, config.model.kind);
  const data = await loadData(config.data, config.seed);
  const train = data.train;
  const options = loaderOptions(config);
  const batches = trainBatchCount(train, options, data.validation?.n);
  const engine = new TrainingEngine(config, train);
  // (a config refused at the start, a failed step: the model is disposed all the same, so that
  // its weights do not hold the names the next model's take)
  try {
    return await trainWith(config, engine, backend, train, options, batches);
  } finally {
    engine.dispose();
  }
}

/** The loop of {@linkcode trainInProcess}, with the engine it trains (its caller disposes it). */
async function trainWith(
  config: RunConfig,
  engine: TrainingEngine,
  backend: string,
  train: Dataset,
  options: LoaderOptions,
  batches: number,
): Promise<InProcessResult> {
  // As the trainer does: image inputs as bytes where the step uploads them to the GPU.
  const byteTable = train.byteTable;
  const bytes = byteTable && engine.takesByteInputs ? trainBytes(train, options) : undefined;
  const byteBatch = (index: number, order: Uint32Array): HostByteBatch | undefined =>
    bytes && byteTable
      ? { ...trainByteSamples(train, options, index, order, bytes), byteTable }
      : undefined;
  const lr0 = baseLearningRate(config).lr;
  const schedule = config.scheduler ? createSchedule(config.scheduler, lr0) : undefined;
  // the trainer actor's start checks (this loop trains every epoch: maxSteps is not among what
  // it supports)
  const stepsPerEpoch = checkRunStart(config, {
    inputShape: train.inputShape,
    trainSize: train.n,
    batchesPerEpoch: batches,
  }, { maxSteps: undefined });
  // As the trainer: maxNorm, or under adaptive clipping (autoPercentile) the percentile of the
  // norms of the steps read so far (every step before the next on the CPU backends; on WebGPU as
  // each window's read comes back)
  const clip = new ClipThreshold(config.clipping);
  // Like the trainer: results are read in windows (every step on the CPU backends), so a GPU
  // loop does not wait for the device after each step.
  const readEvery = config.readbackEvery ?? (backend === "webgpu" ? 16 : 1);
  let step = 0;
  let stepMs = 0;
  let firstWindow: { ms: number; steps: number } | undefined;
  const started = performance.now();
  /** Per epoch, its windows' loss sum and samples (filled as their reads come back). */
  const totals: { lossSum: number; samples: number }[] = [];
  // As the trainer does: on the GPU a window's read-back is finished once it is back, waiting
  // only while more than READS_IN_FLIGHT are on their way; and at an epoch's end (which no stop or
  // plateau can follow here) it goes on into the next epoch before the epoch's last reads are back.
  type Window = { read: Promise<StepValues[]>; epoch: (typeof totals)[number] };
  const finish = async ({ read, epoch }: Window) => {
    const readStart = performance.now();
    const values = await read;
    stepMs += performance.now() - readStart;
    for (const value of values) {
      epoch.lossSum += value.loss * value.samples;
      epoch.samples += value.samples;
      if (Number.isFinite(value.loss)) clip.observe(value.gradNorm);
    }
    firstWindow ??= { ms: performance.now() - started, steps: values.length };
  };
  const reading = new ReadsInFlight<Window>(READS_IN_FLIGHT, finish);
  for (let epoch = 0; epoch < config.epochs; epoch++) {
    const order = trainOrder(train, options, epoch);
    const epochTotals = { lossSum: 0, samples: 0 };
    totals.push(epochTotals);
    let window: StepTensors[] = [];
    const flush = async () => {
      const current = { read: engine.readStats(window), epoch: epochTotals };
      window = [];
      if (readEvery > 1) return await reading.add(current);
      await finish(current);
    };
    for (let index = 0; index < batches;) {
      const micro: (HostBatch | HostByteBatch)[] = [];
      for (; micro.length < config.gradientAccumulation && index < batches; index++) {
        micro.push(
          byteBatch(index, order) ?? trainSamples(train, options, epoch, index, order),
        );
      }
      const t = schedule?.interval === "epoch" ? Math.floor(step / stepsPerEpoch) : step;
      const lr = schedule ? schedule.lrAt(t) : lr0;
      const momentum = schedule?.momentumAt?.(t);
      if (momentum !== undefined) engine.optimizer.setMomentum(momentum);
      const stepStart = performance.now();
      const pending = engine.computeGradients(micro);
      engine.applyGradients(pending, lr, clip.value);
      stepMs += performance.now() - stepStart;
      window.push(pending);
      if (window.length >= readEvery) await flush();
      step++;
    }
    if (window.length > 0) await flush();
  }
  await reading.finishAll();
  const losses = totals.map((t) => t.lossSum / t.samples);
  const seconds = (performance.now() - started) / 1000;
  const weights = await engine.readWeights();
  return {
    backend,
    losses,
    steps: step,
    seconds,
    stepSeconds: stepMs / 1000,
    firstWindowSeconds: (firstWindow?.ms ?? 0) / 1000,
    firstWindowSteps: firstWindow?.steps ?? 0,
    weights,
    clipThreshold: clip.value,
  };
}
