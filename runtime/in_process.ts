/**
 * The same training as the actors do, as one plain loop in the calling thread: no Workers, no
 * messages. It exists to measure what the actor architecture costs (`deno task bench`) and to
 * check that the actors change nothing about the numbers (same epoch losses, bit for bit on cpu).
 * Losses are read back as the trainer reads them: every step on the CPU backends (whatever
 * `readbackEvery` says), in windows of 16 on WebGPU, going on past epoch ends before their reads
 * are back. Each decision is the actors' own, made by their pure reducers: the scheduler's rates
 * (any schedule, warmups and `plateau` included, a plateau fed the metric early stopping names
 * at each epoch end), clipping by norm (adaptive clipping's threshold set from the norms read, as
 * the trainer sets it), gradient accumulation, the clip monitor's on a non-finite or exploding
 * loss (`clipping.onNonFinite`: skip, stop or roll back; see divergence_watch.ts), the early
 * stopper's on each epoch's metrics (its validation pass's too: a diverging loss, patience run
 * out, the best epoch and `restoreBest`), the budgets (`maxSteps`, `maxWallTimeSeconds`), and
 * the test split's pass on the final weights. It writes no records and no checkpoints, and takes
 * no outside stop. Where steps are read in windows (WebGPU), as in the trainer, the clip
 * monitor's stop or rollback on a step, and adaptive clipping's take-in of its norm, apply
 * WINDOW_LAG windows after the step's own, at the same step however fast the reads come back (the
 * steps between count in no epoch's loss, as the trainer leaves them out: see undone_steps.ts); an
 * epoch end the loop went on from is judged once its reads are back, a stop found then returning
 * the run to that end. On the CPU backends every decision applies at the step after the one it is
 * about.
 *
 * @module
 */
import { baseLearningRate, type RunConfig } from "../config.ts";
import { float16Stored } from "../report/first_step.ts";
import { type LoadedRows, loadResolvedRows } from "../data/load_resolved.ts";
import {
  evalBatches,
  type LoaderOptions,
  loaderOptions,
  trainBatchCount,
  trainBytes,
  trainByteSamples,
  trainOrder,
  trainSamples,
} from "../actors/data_loader.ts";
import { initScheduler, lrAtStep, onEpochEnded, onScale } from "../actors/scheduler.ts";
import {
  initEarlyStopper,
  judgeEpoch,
  patienceMayStop,
  restoresBest,
  type StopGuard,
} from "../actors/early_stopper.ts";
import { epochMetrics, EpochTotals } from "../actors/epoch_totals.ts";
import { checkRunStart } from "./start_checks.ts";
import { budgetSpent, stepsSpent } from "./budget.ts";
import { selectBackend } from "./backend.ts";
import { READS_IN_FLIGHT, ReadsInFlight, WINDOW_LAG } from "./reads_in_flight.ts";
import {
  type HostBatch,
  type HostByteBatch,
  outputUnits,
  type StepTensors,
  type StepValues,
} from "./engine.ts";
import { checkStepMemory, smallestBatch } from "./wasm_memory.ts";
import { TrainingEngine } from "./checked_engine.ts";
import { ClipThreshold, type ClipThresholdState, lagStart } from "../actors/clip_threshold.ts";
import type { WeightMap } from "./checkpoint.ts";
import type { OptimizerState } from "../optimizers/mod.ts";
import { DivergenceWatch } from "./divergence_watch.ts";
import { type HeldStep, UndoneSteps } from "./undone_steps.ts";

/** What the in-process loop reports. */
export interface InProcessResult {
  backend: string;
  /**
   * How the run ended, as the actors' run would: every epoch trained; stopped (early stopping's
   * patience ran out, or a budget was spent); or diverged (a non-finite or exploding loss that
   * `clipping.onNonFinite` stops at, rollbacks or skips that did not help, or an epoch's loss the
   * early stopper finds diverging).
   */
  status: "completed" | "stopped" | "diverged";
  /** Why, in the actors' words (`finished 4 epochs`, early stopping's, a budget's, a divergence's). */
  reason: string;
  hint?: string;
  /** Mean training loss per epoch (the epochs that ended; a diverged one's included). */
  losses: number[];
  /**
   * Each of those epochs' metrics as the trainer sends them to the early stopper and logs them:
   * the training means (`loss`, `mae` or `accuracy`), the validation pass's (`valLoss`, ...) where
   * the data has a validation split, and `lr`, the rate of its last step.
   */
  metrics: Record<string, number>[];
  /** The epoch whose monitored metric was the best, as early stopping judged it (null: none). */
  bestEpoch: number | null;
  /** Where `earlyStopping.restoreBest` ended the run with its best epoch's weights: that epoch. */
  restored?: number;
  /** The test split's metrics on the final weights (where the data has one and the run is over). */
  test?: Record<string, number>;
  steps: number;
  /** Wall time of the training loop (data loading, backend start and the test pass excluded). */
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
  const { backend } = await selectBackend(config.backend, config.model.kind);
  // (IDX images stay bytes, as in the data loader's Worker: each batch's floats are made as it is)
  const data = await loadResolvedRows(config.data, config.seed);
  const options = loaderOptions(config);
  const batches = trainBatchCount(data.train, options, data.validation?.n);
  checkStepMemory(
    config.model,
    { inputShape: data.train.inputShape, outputUnits: outputUnits(data.train) },
    smallestBatch(data.train.n, config.batchSize, config.data.dropLast),
    backend,
  );
  const engine = new TrainingEngine(config, data.train);
  // (a config refused at the start, a failed step: the model is disposed all the same, so that
  // its weights do not hold the names the next model's take)
  try {
    return await trainWith(config, engine, backend, data, options, batches);
  } finally {
    engine.dispose();
  }
}

/** An epoch's sums, filled as its steps' reads come back, and what its end left. */
interface EpochSums {
  epoch: number;
  totals: EpochTotals;
  /**
   * On WebGPU, its steps read and not summed yet: summed at its end, but for those a late
   * rollback undid (as the trainer's `countRead`).
   */
  held: HeldStep[];
  /** The rate of its last step (its metrics' `lr`). */
  lastLr: number;
  /** Steps taken by its end (set at its end). */
  endStep?: number;
  /** Its validation pass's means, queued at its end (none without a validation split). */
  validation?: Promise<Record<string, number>>;
  /** The weights and optimizer state at its end, where a rollback or a return may need them. */
  good?: Promise<Good>;
  /**
   * Clipping at its end, with the norms not taken in yet, its windows read after the loop left it
   * included (WebGPU: where a return to its end restores it).
   */
  clip?: ClipThresholdState;
  /** Its last window is finished (WebGPU). */
  read?: boolean;
  /** The loop went on from its end before its reads were back (WebGPU): judged once they are. */
  deferred?: boolean;
  /** Its end came between a stop or rollback decided and the step it applied at (WebGPU). */
  discarded?: boolean;
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
  data: LoadedRows,
  options: LoaderOptions,
  batches: number,
): Promise<InProcessResult> {
  const train = data.train;
  // As the trainer does: image inputs as bytes where the step uploads them to the GPU.
  const byteTable = train.byteTable;
  const bytes = byteTable && engine.takesByteInputs ? trainBytes(train, options) : undefined;
  const byteBatch = (index: number, order: Uint32Array): HostByteBatch | undefined =>
    bytes && byteTable
      ? { ...trainByteSamples(train, options, index, order, bytes), byteTable }
      : undefined;
  // the trainer actor's start checks
  const stepsPerEpoch = checkRunStart(config, {
    inputShape: train.inputShape,
    trainSize: train.n,
    batchesPerEpoch: batches,
  }, config);
  // The scheduler actor's own reducer: each step's rate and momentum, every rate after a
  // rollback a tenth, and a plateau schedule's cuts from the metric early stopping names (fed at
  // each epoch end, as the actor is).
  const schedule = initScheduler(
    config.scheduler,
    baseLearningRate(config).lr,
    stepsPerEpoch,
    config.earlyStopping.monitor,
    undefined,
    Math.min(config.maxSteps ?? Infinity, stepsPerEpoch * config.epochs),
  );
  // As the trainer: maxNorm, or under adaptive clipping (autoPercentile) the percentile of the
  // norms of the steps read so far (on the CPU backends those before the step, or, at
  // readbackEvery N above 1, those of the windows of N steps before its own; on WebGPU those of
  // the windows WINDOW_LAG before its own and earlier)
  let clip = new ClipThreshold(config.clipping);
  // Like the trainer: on WebGPU results are read in windows, so that the loop does not wait for
  // the device after each step; on the CPU backends every step is read before it is applied.
  const readEvery = config.readbackEvery ?? (backend === "webgpu" ? 16 : 1);
  const gpuWindows = readEvery > 1 && backend === "webgpu";
  // The actors' decisions on non-finite and exploding losses (clipping.onNonFinite). A rollback
  // returns to the last epoch end the early stopper found no divergence at (the start, with a
  // fresh optimizer, before the first), and scales every later rate by 0.1.
  const watch = new DivergenceWatch(config);
  /** As the trainer: on WebGPU, the steps between a decision and the step it applies at. */
  const undone = new UndoneSteps();
  const rollbacks = config.clipping.onNonFinite === "rollback";
  let lastGood: Good | Promise<Good> | undefined = rollbacks
    ? { weights: await engine.readWeights() }
    : undefined;
  let lastRollback = -1;
  /** On WebGPU, as the trainer: the start and the ends judged good, by step (see `goodBefore`). */
  const goodEnds: { step: number; good: Good | Promise<Good> }[] = lastGood
    ? [{ step: 0, good: lastGood }]
    : [];
  let status: InProcessResult["status"] = "completed";
  let reason = `finished ${config.epochs} epoch${config.epochs === 1 ? "" : "s"}`;
  let hint: string | undefined;
  // The early stopper's own reducer, and what its verdicts and the scheduler's answers say of
  // later epoch ends (whether the loop may go on from one before its reads are back).
  let stopper = initEarlyStopper();
  let stopGuard: StopGuard | undefined;
  let replanAt: number | null | undefined;
  let bestEpoch: number | null = null;
  /** The best epoch's weights, where restoreBest may end the run with them. */
  let bestWeights: Promise<WeightMap> | undefined;
  const keepsBest = config.earlyStopping.restoreBest && config.earlyStopping.patience !== undefined;
  /** The end of an epoch the early stopper's verdict stopped the run at (the run ends there). */
  let ended:
    | { sums: EpochSums; status: "stopped" | "diverged"; reason: string; hint?: string }
    | undefined;
  /** The metrics of the epochs whose end was judged. */
  const judged: Record<string, number>[] = [];
  /**
   * A pass over a split on the weights as they are now (its batches queued at once: later steps
   * do not change it), as the trainer's: its means (undefined without the split).
   */
  const evaluate = (split: "validation" | "test") => {
    const set = split === "validation" ? data.validation : data.test;
    if (!set || set.n === 0) return undefined;
    const pending: StepTensors[] = [];
    for (const batch of evalBatches(set, split, 0, options.evalBatchSize)) {
      const x = new Float32Array(batch.x);
      pending.push(engine.evaluate({ x, y: new Float32Array(batch.y), size: batch.size }));
    }
    const means = engine.readStats(pending).then((read) => {
      const totals = new EpochTotals(engine.metrics);
      for (const values of read) totals.add(values);
      return totals.means();
    });
    means.catch(() => {}); // awaited where it is used
    return means;
  };
  /** The scheduler's and the early stopper's answers to an epoch's end, as the actors give them. */
  const judgeEnd = async (sums: EpochSums) => {
    const validation = await sums.validation;
    if (ended) return; // (an end the run went on from, after it)
    // as the trainer: the steps a late rollback undid are left out, and an end among them is
    // discarded
    undone.sumCounted(sums.held, sums.totals);
    const flags = undone.endFlags(sums.endStep!, stepsPerEpoch, sums.totals.samples, gpuWindows);
    sums.discarded = flags.discarded === true;
    const metrics = epochMetrics(sums.totals.means(), validation, sums.lastLr);
    const message = {
      type: "EpochEnded" as const,
      epoch: sums.epoch,
      step: sums.endStep!,
      metrics,
      ...flags,
    };
    replanAt = onEpochEnded(schedule, message).replanFrom;
    const [next, verdict] = judgeEpoch(
      config.earlyStopping,
      stopper,
      message,
      metrics.lr,
      config.optimizer,
      config.scheduler,
      config.clipping,
      float16Stored(config),
    );
    stopper = next;
    stopGuard = verdict.guard;
    judged.push(metrics);
    if (verdict.isBest) {
      bestEpoch = sums.epoch;
      // (at an end judged as it came, the weights are still its own)
      if (keepsBest) bestWeights = sums.good?.then((good) => good.weights) ?? engine.readWeights();
    }
    if (verdict.stop) {
      const stopped = verdict.status === "diverged" ? "diverged" : "stopped";
      ended = { sums, status: stopped, reason: verdict.reason ?? stopped, hint: verdict.hint };
    } else if (sums.good && !sums.discarded) {
      lastGood = sums.good;
      goodEnds.push({ step: sums.endStep!, good: sums.good });
    }
  };
  /** The weights and optimizer state now (their reads start at once: later steps change neither). */
  const state = (): Promise<Good> => {
    const good = Promise.all([engine.readWeights(), engine.optimizer.getState()])
      .then(([weights, optimizer]) => ({ weights, optimizer }));
    good.catch(() => {}); // awaited where it is used
    return good;
  };
  let epoch = 0;
  let step = 0;
  /** The first step of the optimizer's state (a rollback sets another). */
  let optimizerSetAt = 0;
  let stepMs = 0;
  let firstWindow: { ms: number; steps: number } | undefined;
  const started = performance.now();
  // As the trainer does: on the GPU a window's read-back is finished once it is back, waiting
  // only while more than READS_IN_FLIGHT are on their way; and at an epoch's end that the
  // guards rule out for a stop by patience or a new rate, it goes on into the next epoch before
  // the epoch's last reads are back (judged once they are: a stop found then returns the run to
  // that end, as the trainer returns to it).
  type Entry = { pending: StepTensors; step: number; lr: number };
  type Window = { read: Promise<StepValues[]>; entries: Entry[]; epoch: EpochSums; last: boolean };
  const finish = async ({ read, entries, epoch, last }: Window) => {
    const readStart = performance.now();
    const values = await read;
    stepMs += performance.now() - readStart;
    // as the trainer: a step the fused kernels skipped on the device is skipped
    const skipped = values.map((value) =>
      engine.skipsOnDevice && !(isFinite(value.loss) && isFinite(value.gradNorm))
    );
    engine.stepsSkipped(skipped.filter((s, i) => s && entries[i].step >= optimizerSetAt).length);
    values.forEach((value, i) => {
      if (skipped[i]) return;
      epoch.held.push({ step: entries[i].step, values: value });
      // (taken in WINDOW_LAG windows later: see `settleLagged`)
      if (Number.isFinite(value.loss)) {
        clip.defer(entries[i].step, value.gradNorm);
        // (an epoch the loop has left: its end's clipping has it waiting too)
        if (epoch.clip) (epoch.clip.pending ??= []).push([entries[i].step, value.gradNorm]);
      }
    });
    firstWindow ??= { ms: performance.now() - started, steps: values.length };
    watch.readWindow(values.map((value, i) => ({
      ...value,
      step: entries[i].step,
      lr: entries[i].lr,
      skipped: skipped[i],
    })));
    if (watch.decision) undone.decided(watch.decision.step);
    if (last) {
      epoch.read = true;
      if (epoch.deferred) await judgeEnd(epoch);
    }
  };
  const reading = new ReadsInFlight<Window>(READS_IN_FLIGHT, finish);
  /**
   * On WebGPU, decisions on the steps before this apply (a window's first step, as the trainer
   * acts on them: see its `settleLagged`); elsewhere each applies at the next step.
   */
  let due = gpuWindows ? 0 : Infinity;
  /**
   * As the trainer, before a window's first step on WebGPU: the windows WINDOW_LAG back are read,
   * adaptive clipping takes their norms in, and decisions on their steps apply (at the run's last
   * step, `all`: every decision).
   */
  const settleLagged = async (first: number, all: boolean) => {
    const before = lagStart(first, stepsPerEpoch, readEvery, WINDOW_LAG);
    due = all ? first : before;
    await reading.finishWhile((window) => window.entries[0].step < due);
    // (as the trainer: without the norms of the steps a late stop or rollback undid, or its own)
    clip.takeInBefore(before, true, (at) => undone.keepsNorm(at));
    // as the trainer: later decisions are on the steps from `due`, the one acted on next on its
    // own step; the ends before the last good one at or before the earlier are not needed
    const found = watch.decision;
    const from = found && found.step < due ? found.step : due;
    goodEnds.splice(0, Math.max(0, goodEnds.findLastIndex((good) => good.step <= from)));
  };
  /**
   * As the trainer on WebGPU, what a rollback at a decision on step `decided` returns to: the
   * last end at or before it judged good (judged once its last window was read, before the
   * decision applies), or the start.
   */
  const goodBefore = (decided: number) =>
    gpuWindows ? goodEnds.findLast((good) => good.step <= decided)!.good : lastGood!;
  outer: for (; epoch < config.epochs; epoch++) {
    const order = trainOrder(train, options, epoch);
    const sums: EpochSums = {
      epoch,
      totals: new EpochTotals(engine.metrics),
      held: [],
      lastLr: NaN,
    };
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
      const { lr, momentum } = lrAtStep(schedule, step);
      sums.lastLr = lr;
      if (momentum !== undefined) engine.optimizer.setMomentum(momentum);
      const stepStart = performance.now();
      const pending = engine.computeGradients(micro, step);
      if (!gpuWindows) {
        // As the trainer: read before it is applied, and skipped where not finite.
        const [value] = await engine.readStats([pending]);
        const skipped = !Number.isFinite(value.loss) || !Number.isFinite(value.gradNorm);
        const threshold = clip.value;
        if (skipped) engine.discardGradients(pending);
        else {
          engine.applyGradients(pending, lr, threshold);
          sums.totals.add(value);
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
        if (gpuWindows) {
          // As the trainer: the validation pass is queued before the last window's read is
          // awaited (the two read-backs overlap), and the end's state read (before the read
          // that judges the end can come back)
          sums.validation = evaluate("validation");
          sums.good = state();
          await flush(true);
        }
      } else if (window.length >= readEvery) await flush(false);
      const lastOfRun = index >= batches && epoch + 1 >= config.epochs;
      if (gpuWindows && (epochSteps % readEvery === 0 || index >= batches)) {
        await settleLagged(step, lastOfRun);
      }
      if (gpuWindows && !lastOfRun && stepsSpent(config, step)) {
        // as the trainer: maxSteps ends the run here, so, as at its last step, every window is
        // read and every decision on its steps applies now
        if (window.length > 0) await flush(false);
        await reading.finishAll();
        due = step;
      }
      const found = watch.decision;
      const decision = found && found.step < due ? found : undefined;
      if (decision?.action === "stop") {
        status = "diverged";
        ({ reason, hint } = decision);
        break outer;
      }
      if (decision?.action === "rollback") {
        const good = await goodBefore(decision.step);
        engine.writeWeights(good.weights);
        if (good.optimizer) engine.optimizer.setState(good.optimizer);
        else engine.resetOptimizer();
        optimizerSetAt = step;
        onScale(schedule, 0.1, step);
        watch.rolledBack(step);
        undone.rolledBack(step);
        lastRollback = step;
      }
      if (ended) break outer;
      // A budget: end after this step. Within an epoch, the run ends there; at an epoch's last
      // step, the epoch ends first (its validation and verdicts); at the run's last, it is over.
      const budget = budgetSpent(config, step, (performance.now() - started) / 1000);
      if (budget && !lastOfRun) {
        status = "stopped";
        reason = budget;
        if (index < batches) {
          if (window.length > 0) await flush(false);
          break outer;
        }
      }
    }
    // ---- the epoch's end
    if (gpuWindows) {
      // Clipping at the end, where a return to it restores it (as the trainer's checkpoint of
      // it: its windows still on their way add their norms as they are finished)
      sums.clip = clip.snapshot();
      // As the trainer: it goes on at once where no stop by patience and no new rate can come of
      // this end, and no rollback changed the weights its validation pass saw; else it waits.
      const blind = status === "completed" && epoch + 1 < config.epochs &&
        !patienceMayStop(stopGuard, epoch) && replanAt !== undefined &&
        (replanAt === null || epoch < replanAt) && lastRollback !== sums.endStep;
      if (blind) {
        sums.deferred = true;
        if (sums.read) await judgeEnd(sums);
      } else {
        await reading.finishAll();
        if (lastRollback === sums.endStep) {
          sums.validation = evaluate("validation");
          sums.good = state();
        }
        await judgeEnd(sums);
      }
    } else {
      // (its state after a rollback at its last step, as the trainer's checkpoint of it)
      if (rollbacks) sums.good = state();
      sums.validation = evaluate("validation");
      await judgeEnd(sums);
    }
    if (ended || status !== "completed") break;
  }
  await reading.finishAll();
  /** The epoch whose end the weights are at (or, stopped within an epoch, that epoch). */
  let weightsAt = status === "completed" ? config.epochs - 1 : epoch;
  if (ended) {
    // the run ends at the epoch end whose verdict stopped it, before whatever ended it later
    // (as the trainer returns to an end it went on from)
    ({ status, reason, hint } = ended);
    weightsAt = ended.sums.epoch;
    if (step !== ended.sums.endStep) {
      engine.writeWeights((await ended.sums.good!).weights);
      if (ended.sums.clip) clip = new ClipThreshold(config.clipping, ended.sums.clip);
      step = ended.sums.endStep!;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  let restored: number | undefined;
  if (restoresBest(config.earlyStopping, { bestEpoch, weightsAt, status })) {
    engine.writeWeights(await bestWeights!);
    restored = bestEpoch!;
  }
  const test = status === "diverged" ? undefined : await evaluate("test");
  const weights = await engine.readWeights();
  return {
    backend,
    status,
    reason,
    ...(hint !== undefined && { hint }),
    losses: judged.map((metrics) => metrics.loss),
    metrics: judged,
    bestEpoch,
    ...(restored !== undefined && { restored }),
    ...(test !== undefined && { test }),
    steps: step,
    seconds,
    stepSeconds: stepMs / 1000,
    firstWindowSeconds: (firstWindow?.ms ?? 0) / 1000,
    firstWindowSteps: firstWindow?.steps ?? 0,
    weights,
    clipThreshold: clip.value,
  };
}
