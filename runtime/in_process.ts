/**
 * The same training as the actors do, as one plain loop in the calling thread: no Workers, no
 * messages. It exists to measure what the actor architecture costs (`deno task bench`) and to
 * check that the actors change nothing about the numbers (same epoch losses, bit for bit on cpu).
 * Losses are read back as the trainer reads them: every step on the CPU backends (whatever
 * `readbackEvery` says), in windows of 16 on WebGPU, going on past epoch ends before their reads
 * are back. Supports what the benchmark
 * workloads need: a schedule without plateau, clipping by norm (adaptive clipping's threshold set
 * from the norms read, as the trainer sets it), gradient accumulation, and the actors' decisions
 * on a non-finite or exploding loss (`clipping.onNonFinite`: skip, stop or roll back; the clip
 * monitor's own rules, see divergence_watch.ts) and on an epoch's diverging loss; no validation,
 * early stopping by patience or checkpoints. Where steps are read in windows (WebGPU) a decision
 * lands once its window's read is back, as in the trainer, where when that is depends on timing;
 * on the CPU backends every decision applies at the step after the one it is about.
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
import type { WeightMap } from "./checkpoint.ts";
import type { OptimizerState } from "../optimizers/mod.ts";
import { DivergenceWatch } from "./divergence_watch.ts";

/** What the in-process loop reports. */
export interface InProcessResult {
  backend: string;
  /**
   * How the run ended, as the actors' run would: every epoch trained, or diverged (a non-finite
   * or exploding loss that `clipping.onNonFinite` stops at, rollbacks or skips that did not help,
   * or an epoch's loss the early stopper finds diverging), with the reason and hint it gives.
   */
  status: "completed" | "diverged";
  reason?: string;
  hint?: string;
  /** Mean training loss per epoch (the epochs that ended; a diverged one's included). */
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

/** An epoch's sums, filled as its steps' reads come back, and what its end left. */
interface EpochSums {
  epoch: number;
  lossSum: number;
  samples: number;
  /** The rate of its last step (its metrics' `lr`). */
  lastLr: number;
  /** Steps taken by its end (set at its end). */
  endStep?: number;
  /** The weights and optimizer state at its end, where a rollback or a return may need them. */
  good?: Promise<Good>;
}

/** What a rollback returns to: weights and optimizer state (none: a fresh optimizer). */
interface Good {
  weights: WeightMap;
  optimizer?: OptimizerState;
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
  // norms of the steps read so far (on the CPU backends those before the step, or, at
  // readbackEvery N above 1, those of the windows of N steps before its own; on WebGPU as each
  // window's read comes back)
  const clip = new ClipThreshold(config.clipping);
  // Like the trainer: on WebGPU results are read in windows, so that the loop does not wait for
  // the device after each step; on the CPU backends every step is read before it is applied.
  const readEvery = config.readbackEvery ?? (backend === "webgpu" ? 16 : 1);
  const gpuWindows = readEvery > 1 && backend === "webgpu";
  // The actors' decisions on non-finite and exploding losses (clipping.onNonFinite) and on each
  // epoch's loss. A rollback returns to the last epoch end the early stopper found no divergence
  // at (the start, with a fresh optimizer, before the first), and scales every later rate by 0.1.
  const watch = new DivergenceWatch(config);
  const rollbacks = config.clipping.onNonFinite === "rollback";
  // (read back at each epoch end only where a rollback, or a return to an end the loop went on
  // from before its reads, may need them)
  const keepEnds = rollbacks || gpuWindows;
  let lastGood: Good | Promise<Good> | undefined = rollbacks
    ? { weights: await engine.readWeights() }
    : undefined;
  let scale = 1;
  let status: InProcessResult["status"] = "completed";
  let reason: string | undefined;
  let hint: string | undefined;
  /** The end of an epoch the early stopper found diverging (the run ends there). */
  let diverged: { sums: EpochSums; reason: string; hint?: string } | undefined;
  /** Epochs whose end was judged (their losses are the result's). */
  const judged: EpochSums[] = [];
  const judgeEnd = (sums: EpochSums) => {
    // (as EpochTotals.means: NaN where no step counted)
    const loss = sums.samples > 0 ? sums.lossSum / sums.samples : NaN;
    if (diverged) return; // (an end the run went on from, after it)
    const verdict = watch.judgeEpoch(sums.epoch, sums.endStep!, loss, sums.lastLr);
    judged.push(sums);
    if (verdict) diverged = { sums, ...verdict };
    else if (sums.good) lastGood = sums.good;
  };
  /** The weights and optimizer state now (their reads start at once: later steps change neither). */
  const state = (): Promise<Good> =>
    Promise.all([engine.readWeights(), engine.optimizer.getState()])
      .then(([weights, optimizer]) => ({ weights, optimizer }));
  let step = 0;
  let stepMs = 0;
  let firstWindow: { ms: number; steps: number } | undefined;
  const started = performance.now();
  // As the trainer does: on the GPU a window's read-back is finished once it is back, waiting
  // only while more than READS_IN_FLIGHT are on their way; and at an epoch's end it goes on into
  // the next epoch before the epoch's last reads are back (judged once they are: a divergence
  // found then returns the run to that end, as the trainer returns to it).
  type Entry = { pending: StepTensors; step: number; lr: number };
  type Window = { read: Promise<StepValues[]>; entries: Entry[]; epoch: EpochSums; last: boolean };
  const finish = async ({ read, entries, epoch, last }: Window) => {
    const readStart = performance.now();
    const values = await read;
    stepMs += performance.now() - readStart;
    for (const value of values) {
      epoch.lossSum += value.loss * value.samples;
      epoch.samples += value.samples;
      if (Number.isFinite(value.loss)) clip.observe(value.gradNorm);
    }
    firstWindow ??= { ms: performance.now() - started, steps: values.length };
    watch.readWindow(values.map((value, i) => ({
      ...value,
      step: entries[i].step,
      lr: entries[i].lr,
      skipped: false,
    })));
    if (last) judgeEnd(epoch);
  };
  const reading = new ReadsInFlight<Window>(READS_IN_FLIGHT, finish);
  outer: for (let epoch = 0; epoch < config.epochs; epoch++) {
    const order = trainOrder(train, options, epoch);
    const sums: EpochSums = { epoch, lossSum: 0, samples: 0, lastLr: lr0 };
    let window: Entry[] = [];
    const flush = async (last: boolean) => {
      const entries = window;
      window = [];
      const read = engine.readStats(entries.map((entry) => entry.pending));
      await reading.add({ read, entries, epoch: sums, last });
    };
    /** Steps of the epoch so far (on the CPU backends a window ends at every readEvery-th). */
    let epochSteps = 0;
    for (let index = 0; index < batches;) {
      const micro: (HostBatch | HostByteBatch)[] = [];
      for (; micro.length < config.gradientAccumulation && index < batches; index++) {
        micro.push(
          byteBatch(index, order) ?? trainSamples(train, options, epoch, index, order),
        );
      }
      const t = schedule?.interval === "epoch" ? Math.floor(step / stepsPerEpoch) : step;
      const lr = (schedule ? schedule.lrAt(t) : lr0) * scale;
      sums.lastLr = lr;
      const momentum = schedule?.momentumAt?.(t);
      if (momentum !== undefined) engine.optimizer.setMomentum(momentum);
      const stepStart = performance.now();
      const pending = engine.computeGradients(micro);
      if (!gpuWindows) {
        // As the trainer: read before it is applied, and skipped where not finite.
        const [value] = await engine.readStats([pending]);
        const skipped = !Number.isFinite(value.loss) || !Number.isFinite(value.gradNorm);
        const threshold = clip.value;
        if (skipped) engine.discardGradients(pending);
        else {
          engine.applyGradients(pending, lr, threshold);
          sums.lossSum += value.loss * value.samples;
          sums.samples += value.samples;
        }
        const alarming = watch.readStep({ ...value, step, lr, skipped });
        // (adaptive clipping does not take in an exploding step's norm, which is stopped or
        // rolled back, unless such steps go on; in windows, it takes the norms in at their end)
        if (!skipped && (!alarming || config.clipping.onNonFinite === "skip")) {
          clip.observe(value.gradNorm, readEvery === 1);
        }
        firstWindow ??= { ms: performance.now() - started, steps: 1 };
      } else {
        engine.applyGradients(pending, lr, clip.value);
        window.push({ pending, step, lr });
      }
      stepMs += performance.now() - stepStart;
      step++;
      epochSteps++;
      if (!gpuWindows && (epochSteps % readEvery === 0 || index >= batches)) clip.settle();
      if (index >= batches) {
        sums.endStep = step;
        if (keepEnds && gpuWindows) {
          // (before the read that judges the end can come back)
          sums.good = state();
          sums.good.catch(() => {}); // awaited where it is used
        }
        if (window.length > 0) await flush(true);
      } else if (window.length >= readEvery) await flush(false);
      const decision = watch.decision;
      if (decision?.action === "stop") {
        status = "diverged";
        ({ reason, hint } = decision);
        break outer;
      }
      if (decision?.action === "rollback") {
        const good = await lastGood!;
        engine.writeWeights(good.weights);
        if (good.optimizer) engine.optimizer.setState(good.optimizer);
        else engine.resetOptimizer();
        scale *= 0.1;
        watch.rolledBack(step);
      }
      if (diverged) break outer;
    }
    if (!gpuWindows) {
      // (its state after a rollback at its last step, as the trainer's checkpoint of it)
      if (keepEnds) sums.good = state();
      judgeEnd(sums);
    }
    if (diverged) break;
  }
  await reading.finishAll();
  if (diverged && status === "completed") {
    // the run ends at the epoch end the early stopper found diverging (as the trainer returns
    // to one it went on from)
    status = "diverged";
    ({ reason, hint } = diverged);
    if (step !== diverged.sums.endStep) {
      engine.writeWeights((await diverged.sums.good!).weights);
      step = diverged.sums.endStep!;
    }
  }
  const losses = judged.map((sums) => sums.lossSum / sums.samples);
  const seconds = (performance.now() - started) / 1000;
  const weights = await engine.readWeights();
  return {
    backend,
    status,
    ...(reason !== undefined && { reason }),
    ...(hint !== undefined && { hint }),
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
