/**
 * Worker entry of the trainer actor: it owns the tfjs backend and the model. It pulls batches
 * from the data loader's port, takes learning rates from plans the scheduler sent ahead, sends
 * losses and gradient norms to the clip monitor in windows (one read-back per window, never one
 * per step on the GPU), and meets the scheduler and early stopper only at epoch ends, where it
 * waits for their answers only when those could stop the run or change the learning rates.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { AnnealError } from "../errors.ts";
import { type ActorContext, Mailbox, runActor, yieldToEventLoop } from "./_worker_shell.ts";
import { epochMetrics, EpochTotals, type EpochTotalsSnapshot } from "./epoch_totals.ts";
import { unpackBatchGroup } from "./data_loader.ts";
import { patienceMayStop, restoresBest, type StopGuard, verdictNeeded } from "./early_stopper.ts";
import { initLossWatch, type LossWatchState, observeLoss } from "./loss_watch.ts";
import { ClipThreshold, type ClipThresholdState, lagStart } from "./clip_threshold.ts";
import type { ClipMonitorSnapshot } from "./clip_monitor.ts";
import { type DivergedEnd, divergedEnd, endMetrics } from "./diverged_end.ts";
import { maximizes } from "../optimizers/hazards.ts";
import type {
  BatchGroup,
  BatchReady,
  ClipState,
  DatasetReady,
  EpochJudged,
  EpochObserved,
  LrPlanned,
  NonFiniteHandled,
  ScheduleAdvanced,
  ScheduleState,
  StepsJudged,
} from "./protocol.ts";
import type { RunConfig } from "../config.ts";
import {
  type HostBatch,
  type HostByteBatch,
  outputUnits,
  type StepTensors,
  type StepValues,
  TrainingEngine,
} from "../runtime/engine.ts";
import { checkStepMemory, smallestBatch } from "../runtime/wasm_memory.ts";
import { countParameters } from "../models/build_resolved.ts";
import {
  oversizedWeight,
  releaseWebGpu,
  selectBackend,
  trimWebGpuBuffers,
  webGpuBindingLimit,
  webGpuInstanceMade,
} from "../runtime/backend.ts";
import { READS_IN_FLIGHT, ReadsInFlight, WINDOW_LAG } from "../runtime/reads_in_flight.ts";
import { type HeldStep, UndoneSteps } from "../runtime/undone_steps.ts";
import { type CheckpointState, loadCheckpoint, type WeightMap } from "../runtime/checkpoint.ts";
import { checkResumedData, checkResumedSteps } from "../runtime/resume_steps.ts";
import {
  checkRunStart,
  stepBeyondTrainingSet,
  unmatchedParamPatterns,
  unskippableSteps,
} from "../runtime/start_checks.ts";
import { budgetSpent, stepsSpent } from "../runtime/budget.ts";
import { outOfMemory } from "../runtime/out_of_memory.ts";
import { scheduleNotes } from "../schedulers/schedule_notes.ts";
import { PLAN_AHEAD } from "./scheduler.ts";
import type { OptimizerState } from "../optimizers/mod.ts";
import { shellWord } from "../shell_word.ts";

type Message = { type: string } & Record<string, unknown>;

/** Steps per report window when every step is read back anyway (CPU backends). */
const REPORT_WINDOW = 32;
/** Small batches: the loader may have this many bytes of batches in flight ... */
const PREFETCH_BYTES = 4 * 1024 * 1024;
/** ... but never more than this many batches. */
const MAX_PREFETCH = 256;
/** A window ends after this long even when it is not full. */
const REPORT_MS = 250;
/** The trainer yields to the event loop at least this often. */
const YIELD_MS = 20;
/**
 * The trainer goes past at most this many epoch ends without their answers (on epochs shorter
 * than its yields to the event loop, their events come this many epochs late at most) ...
 * (On the seed's ~1 ms epochs, with six threads on two cores, an answer takes ~2 ms: with 4 the
 * trainer waited at 10 of 50 epoch ends, ~20 ms of a ~70 ms loop; with 16, at 2-3, ~4 ms.)
 */
const MAX_OPEN_ENDS = 16;
/** ... whose weight copies hold at most this many bytes together (one is always allowed). */
const OPEN_ENDS_BYTES = 32 * 1024 * 1024;
/**
 * A validation split of at most this many bytes is asked of the data loader once, and its batches
 * kept for every later epoch's pass (they are the same each epoch: in order, not augmented). On
 * tiny epochs (the seed's ~1 ms) the round trip to the loader's thread at each epoch end, which
 * the trainer waits for, was a large part of the run (the seed with a validation split ran 1.15x
 * faster without it on the 2-core machine: BENCHMARKS.md, twenty-sixth session).
 */
const KEPT_VALIDATION_BYTES = 4 * 1024 * 1024;
/** A failing trainer waits this long for its open epoch ends' answers (their checkpoints). */
const DRAIN_MS = 2000;
type Config = RunConfig & { resolvedLr: number };

/** What the trainer reports when it finishes. */
export interface TrainerResult {
  status: "completed" | "stopped" | "diverged" | "interrupted";
  reason: string;
  hint?: string;
  /** Where `status` is `stopped`: by a stop asked for (true), or by the run itself (false). */
  stopRequested?: boolean;
  epochs: number;
  steps: number;
  bestEpoch: number | null;
  metrics: Record<string, number>;
  test?: Record<string, number>;
  backend: string;
}

interface WindowEntry {
  step: number;
  lr: number;
  momentum?: number;
  /** The threshold the step's gradients were clipped at by norm (undefined: none). */
  threshold?: number;
  /** The step's results: read back already (CPU backends) or still on the device. */
  values: StepValues | StepTensors;
  skipped: boolean;
}

/**
 * The part of a checkpoint taken within an epoch (a run stopped or interrupted there) that says
 * where: the epoch's batches trained (its optimizer steps: `batches / gradientAccumulation`), and
 * its loss and metric sums so far, so that its metrics come out as an uninterrupted epoch's.
 */
export interface WithinEpoch {
  batches: number;
  totals: EpochTotalsSnapshot;
}

/** What a NaN rollback returns to: an epoch end's state, or the start (no optimizer state). */
interface Good {
  weights: WeightMap;
  optimizer?: OptimizerState;
}

/**
 * One epoch's running account. Its windows may be finished after the next epoch has begun (an
 * epoch end the trainer went on from before its last window was read back).
 */
interface EpochRecord {
  epoch: number;
  /** When the epoch began (performance.now()). */
  started: number;
  totals: EpochTotals;
  /**
   * On WebGPU, its steps read and not summed yet: they are summed, but for those a late rollback
   * undid, once the clip monitor has judged the epoch's last step (see `countRead`).
   */
  read: HeldStep[];
  /** The epoch's time in the steps' own work, reads of its windows included (ms). */
  stepMs: number;
  lastLr: number;
  /**
   * Clipping at its end: the threshold, adaptive clipping's norms, oldest first, and (on WebGPU)
   * those not taken in yet, its windows read after the loop left it included (complete once its
   * last window is finished).
   */
  clip?: ClipThresholdState;
  /** Resolves once its last window is finished: its totals are complete. */
  finished: Promise<void>;
  finish: () => void;
}

function newRecord(epoch: number, metrics: string[]): EpochRecord {
  let finish = () => {};
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const totals = new EpochTotals(metrics);
  return {
    epoch,
    started: performance.now(),
    totals,
    read: [],
    stepMs: 0,
    lastLr: NaN,
    finished,
    finish,
  };
}

/** An evaluation pass whose batches are queued: its metrics, once read back. */
interface Evaluation {
  metrics: Promise<Record<string, number>>;
}

/** A window of steps whose read-back has started. */
interface ClosedWindow {
  entries: WindowEntry[];
  /** The entries whose results are still on the device. */
  onDevice: WindowEntry[];
  read: Promise<StepValues[]>;
  record: EpochRecord;
  /**
   * The epoch's last window: the scheduler hears of its steps by EpochEnded, not StepsTaken (a
   * schedule fixed in advance, by neither: see `askAhead`).
   */
  last: boolean;
  /**
   * The window ends at a window's end, not at a stop within it: on the CPU backends, reading in
   * windows, adaptive clipping's threshold takes its norms in then (see `fixedWindows`).
   */
  settles: boolean;
}

/** An epoch's end, until the scheduler's and the early stopper's answers to it are settled. */
interface EpochEnd {
  epoch: number;
  step: number;
  metrics: Record<string, number>;
  /** Clipping at the epoch's end (its record's `clip`, once its last window is finished). */
  clip?: EpochRecord["clip"];
  /** The clip monitor's state after the epoch's last window (once settled). */
  observed?: unknown;
  /** The epoch's own state (read while the answers travel). */
  weights?: WeightMap;
  optimizer?: OptimizerState;
  started: number;
  /** When the trainer went on without the answers (its event's `seconds` ends there). */
  movedOn?: number;
  stepSeconds: number;
  memory: { numTensors: number; numBytes: number };
  /** The trainer went on into the next epoch without the answers. */
  deferred: boolean;
  /** ... and before its metrics were read back from the device. */
  metricsLate: boolean;
  /** Its state, for a rollback, once its late metrics show it good (see `sendEnd`). */
  good?: Promise<Good>;
  /**
   * On WebGPU, it came between a step the clip monitor stopped or rolled back at and the step the
   * trainer acted on it: its weights are discarded (no rollback returns to it).
   */
  discarded?: boolean;
  /** On WebGPU, a rollback undid every step of it: it has no training metrics. */
  allUndone?: boolean;
  judged?: EpochJudged;
  advanced?: ScheduleAdvanced;
  /**
   * Where the scheduler was not told of this end (a schedule fixed in advance): its state here,
   * as its answer would have given it (see `sendEnd`).
   */
  fixedSchedule?: { state: unknown };
}

/**
 * Epoch ends whose answers are still travelling; a failing trainer waits for them (briefly), so
 * their checkpoints reach the supervisor before its error does.
 */
let drainEpochEnds = (): Promise<void> => Promise.resolve();

/** The run's parameter count once its model is built (named where an allocation fails). */
let builtParameters: number | undefined;

runActor("trainer", async (context) => {
  let keep = false;
  builtParameters = undefined;
  try {
    const result = await trainer(context);
    // (a Worker that may take the next run keeps its device for it, let go of on `Release`)
    keep = context.init.keepDevice === true && tf.getBackend() === "webgpu";
    return result;
  } catch (error) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      drainEpochEnds().catch(() => {}),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, DRAIN_MS))),
    ]);
    clearTimeout(timer);
    throw outOfMemory(error, builtParameters, tf.getBackend()) ?? error;
  } finally {
    if (keep) await trimWebGpuBuffers().catch(() => {});
    else await releaseGpu();
  }
  // `Release` (the Worker is about to be terminated): whatever device it holds, a run's going on
  // (one that failed, on a device a run before kept) or one kept, is let go of first
}, releaseGpu);

/** The release under way, if any (a `Release` may come while a run's end releases). */
let releasing: Promise<void> | undefined;
/** The device last destroyed (tfjs's backend still holds it until a run makes a new one). */
let destroyed: GPUDevice | undefined;

/**
 * Waits for the GPU's queued work and destroys the WebGPU device before the Worker ends: on a
 * real GPU (H100, Vulkan) a Worker terminated with a live device crashed the process at exit.
 * Where another backend is current (a run took wasm in a Worker that kept a device), tfjs's WebGPU
 * backend is ended as well, so that a later run's `webgpu` in this Worker starts a new device.
 * Calls while one is under way share it; a device destroyed already is not waited on again.
 */
function releaseGpu(): Promise<void> {
  releasing ??= releaseNow().finally(() => {
    releasing = undefined;
  });
  return releasing;
}

async function releaseNow(): Promise<void> {
  try {
    if (tf.getBackend() !== "webgpu") return await releaseWebGpu();
    const device = (tf.backend() as unknown as { device?: GPUDevice }).device;
    if (!device || device === destroyed) return;
    await device.queue.onSubmittedWorkDone().catch(() => {});
    device.destroy();
    destroyed = device;
  } catch {
    // Best effort: the Worker is ending either way.
  }
}

async function trainer(context: ActorContext): Promise<TrainerResult> {
  const config = context.init.config as Config;
  const runDir = context.init.runDir;
  /**
   * On resume: the checkpoint, the fingerprint of the data the run trained on, and where early
   * stopping's verdict at the checkpoint's epoch end had ended the run, that verdict's reason;
   * where the run had diverged after the checkpoint, the divergence it kept.
   */
  const resume = context.init.resume as
    | {
      checkpoint: string;
      fingerprint?: string;
      stopped?: string;
      diverged?: DivergedEnd;
      /**
       * Early stopping's state where the supervisor restarted its patience (a run it ended,
       * trained longer): the one its checkpoints keep from here, in place of the checkpoint's.
       */
      earlyStopper?: unknown;
    }
    | undefined;
  const loader = new Mailbox<Message>(context.init.ports.dataLoader);
  const scheduler = new Mailbox<Message>(context.init.ports.scheduler);
  const stopper = new Mailbox<Message>(context.init.ports.earlyStopper);
  const monitor = new Mailbox<Message>(context.init.ports.clipMonitor);
  loader.on("BatchGroup", (message) => {
    for (const batch of unpackBatchGroup(message as unknown as BatchGroup)) loader.push(batch);
  });

  // Learning-rate plans arrive ahead of need; a newer version replaces the steps it covers.
  const lrTable = new Map<number, { lr: number; momentum?: number }>();
  let planVersion = -1;
  // After a rollback, plans made before the scheduler scaled its rates (an answer to an earlier
  // epoch end, or to StepsTaken, still on its way) must not refill the steps it cleared.
  let scaledVersion = -1;
  let planArrived = () => {};
  /** The first step the plans taken do not cover (a rollback's, from its step, replace them). */
  let plannedTo = 0;
  /**
   * The scheduler's guard, the first epoch whose end may change the rates (null: none does);
   * undefined until its first answer to an epoch end, or its first plan of a fixed schedule.
   */
  let replanAt: number | null | undefined;
  /**
   * The scheduler's state where its schedule is fixed in advance (its plans carry it): it is
   * then told of no epoch end, and this state is checkpointed at each (see `sendEnd`).
   */
  let fixedState: unknown;
  const applyPlan = (plan: LrPlanned) => {
    if (plan.version < planVersion || plan.version < scaledVersion) return;
    planVersion = plan.version;
    plan.lr.forEach((lr, i) =>
      lrTable.set(plan.fromStep + i, { lr, momentum: plan.momentum?.[i] })
    );
    plannedTo = Math.max(plannedTo, plan.fromStep + plan.lr.length);
    if (plan.fixedState !== undefined) {
      fixedState = plan.fixedState;
      replanAt = null; // (no epoch end changes the rates)
    }
    planArrived();
  };
  scheduler.on("LrPlanned", (message) => applyPlan(message as unknown as LrPlanned));
  // The planned rate of `step`, the steps before it dropped (plans cover steps in increasing
  // order, so the table's oldest keys come first); undefined until its plan arrives.
  const plannedLr = (step: number) => {
    for (const key of lrTable.keys()) {
      if (key >= step) break;
      lrTable.delete(key);
    }
    return lrTable.get(step);
  };
  /** `plannedTo` where the next plan was asked for (by `askAhead`), so as not to ask twice. */
  let askedAt = -1;
  /**
   * Under a schedule fixed in advance, asks for the next plan where the plans taken run out
   * within PLAN_AHEAD / 2 steps of `step` (where the scheduler answers a StepsTaken; it is told
   * of no epoch end, whose answers bring the other schedules' next plans).
   */
  const askAhead = (step: number) => {
    if (plannedTo >= totalSteps || step + PLAN_AHEAD / 2 < plannedTo || askedAt === plannedTo) {
      return;
    }
    askedAt = plannedTo;
    scheduler.send({ type: "StepsTaken", step });
  };
  const lrFor = async (step: number) => {
    while (!lrTable.has(step)) {
      // The plan may come with the answer to an epoch end whose last window is not finished
      // yet (an end the trainer went on from before its reads): finish the windows first.
      if (reading.size > 0) {
        await reading.finishAll();
        continue;
      }
      // Ask for it: a window longer than half a plan (readbackEvery above PLAN_AHEAD / 2) runs
      // out of rates before it ends and reports its steps. The scheduler plans from where its
      // plans end, and ignores the request while one on its way covers the step (the first
      // plan, a rollback's scaled one).
      const arrived = new Promise<void>((resolve) => (planArrived = resolve));
      scheduler.send({ type: "StepsTaken", step });
      await arrived;
    }
    return plannedLr(step)!;
  };

  /** The clipping threshold by norm of the next step (adaptive clipping's moves with the norms). */
  let clip = new ClipThreshold(config.clipping);
  let rolledBackAt = 0;
  /** The first step of the optimizer's state (a rollback sets another). */
  let optimizerSetAt = 0;
  let action: NonFiniteHandled | undefined;
  /**
   * On WebGPU: the clip monitor's stops and rollbacks not acted on yet, which apply at the start
   * of the window WINDOW_LAG after the step's own (see `settleLagged`), whenever they arrive.
   */
  const held: NonFiniteHandled[] = [];
  /** On WebGPU: the steps between each stop or rollback decided and the step it was acted on. */
  const undone = new UndoneSteps();
  monitor.on("NonFiniteHandled", (message) => {
    const handled = message as unknown as NonFiniteHandled;
    if (handled.action === "skip") {
      // On WebGPU a step read in a window was applied before it was read, and only the fused
      // kernels skip one on the device: elsewhere it reached the weights, as the start's warning
      // said (this said "step skipped" of a step applied, whose next loss was the CPU's own)
      const applied = lagged && !engine.skipsOnDevice;
      context.emit({
        type: "warning",
        actor: "clipMonitor",
        message: `${handled.reason}; ${
          applied
            ? "step not skipped: on WebGPU it was applied before it was read (tfjs's optimizer " +
              "ops cannot skip it, as the start's warning said)"
            : "step skipped"
        }`,
        hint: handled.hint,
      });
    } else if (handled.step >= rolledBackAt) {
      // Steps before the last rollback were computed from the weights it discarded.
      if (lagged) {
        held.push(handled);
        undone.decided(handled.step);
      } else action ??= handled;
    }
  });

  const chosen = await selectBackend(config.backend, config.model.kind, {
    seenAdapter: context.init.adapter,
  });
  context.emit({
    type: "backend",
    ...chosen,
    tfjs: tf.version_core,
    webGpuInstance: webGpuInstanceMade(),
  });
  await context.faultPoint("init");
  // (a stop while the data loads, a long one, ends the run before its first step: see below)
  const info = await Promise.race([
    loader.take((m) => m.type === "DatasetReady") as unknown as Promise<DatasetReady>,
    context.stopped.then(() => undefined),
  ]);
  /**
   * The result of a stop before this process's first step: its steps and best epoch are those it
   * was resumed at (or none), nothing was trained since.
   */
  const endedBeforeStep = (steps: number, bestEpoch: number | null): TrainerResult => {
    const interrupted = context.interruptRequested();
    return {
      status: interrupted ? "interrupted" : "stopped",
      reason: context.stopRequested()!,
      ...(!interrupted && { stopRequested: true }),
      epochs: 0,
      steps,
      bestEpoch,
      metrics: {},
      backend: chosen.backend,
    };
  };
  if (info === undefined) {
    const saved = resume && await loadCheckpoint(resume.checkpoint);
    return endedBeforeStep(
      saved ? saved.state.step : 0,
      saved ? (saved.state.bestEpoch as number | null) ?? null : null,
    );
  }
  // what torch would fail partway (batch norm over one value, a schedule's raise) ends it now
  const stepsPerEpoch = checkRunStart(config, info, config, resume ? runDir : undefined);
  const accumulation = config.gradientAccumulation;
  const { epochs, maxSteps } = config;
  // a warmup longer than the run, a cosine shorter than it, a decay counted in steps that takes
  // the rate all but to 0, a schedule that anneals towards an end the run stops well short of:
  // torch runs them so, but they are seldom meant
  const length = { stepsPerEpoch, epochs, maxSteps };
  for (const note of scheduleNotes(config.scheduler, length)) {
    context.emit({ type: "warning", actor: "trainer", message: note.message, hint: note.hint });
  }
  // a model past wasm's 4 GiB, or the machine's memory on cpu, is refused before its weights are
  // drawn (seconds for a large one)
  checkStepMemory(
    config.model,
    { inputShape: info.inputShape, outputUnits: outputUnits(info) },
    smallestBatch(info.trainSize, config.batchSize, config.data.dropLast),
    chosen.backend,
  );
  const engine = new TrainingEngine(config, info);
  builtParameters = countParameters(engine.model);
  // a weight WebGPU cannot bind whole fails every dispatch that reads it: refused here, not at
  // the first read-back with WebGPU's own words
  const bindable = webGpuBindingLimit();
  const unbindable = bindable === undefined
    ? undefined
    : oversizedWeight(engine.variables, bindable);
  if (unbindable) {
    engine.dispose();
    throw unbindable;
  }
  const readEvery = config.readbackEvery ?? (chosen.backend === "webgpu" ? 16 : 1);
  // On the CPU backends (cpu, wasm) a read-back is synchronous and costs next to nothing: every
  // step is read before it is applied, whatever readEvery says (a non-finite one is skipped, and
  // the clip monitor's verdict on a skipped or exploding step is waited for before the next), and
  // windows of readEvery > 1 steps are reported at fixed steps (every readEvery steps of an epoch,
  // counted from its first, and at its last), never on wall time; adaptive clipping's threshold
  // moves at those ends only. Which steps are applied, skipped and clipped, and where a run stops
  // or rolls back, is then the same whatever the machine's speed or load, and a run resumed
  // within a window clips as the run it continues. On WebGPU (`lagged`) a window's read is left
  // on its way while the next steps run: the windows are the same, but adaptive clipping takes a
  // window's norms in WINDOW_LAG windows after it, at that window's start, waiting there for a
  // read not back yet, so that it too clips the same steps whatever the machine's speed. (There
  // a window is also reported in parts after REPORT_MS, which moves nothing.)
  const fixedWindows = readEvery > 1 && chosen.backend !== "webgpu";
  /** Each step is read before it is applied (the CPU backends, and WebGPU at readbackEvery 1). */
  const readsEachStep = readEvery === 1 || fixedWindows;
  /** Windows are read while the next steps run (WebGPU at readbackEvery above 1). */
  const lagged = !readsEachStep;
  // onNonFinite 'skip' where a NaN/Inf step is applied before it is read, and not skipped
  const unskipped = unskippableSteps(config, {
    readEvery,
    lagged,
    skipsOnDevice: engine.skipsOnDevice,
  });
  if (unskipped) context.emit({ type: "warning", actor: "trainer", ...unskipped });
  // a step larger than the training set trains it whole, one step an epoch (under baseBatch at a
  // rate scaled to the step as configured, not to the samples it holds)
  const oversized = stepBeyondTrainingSet(config, info.trainSize);
  if (oversized) context.emit({ type: "warning", actor: "trainer", ...oversized });
  // a parameter group or noDecay pattern that governs no parameter (PyTorch's 'weight')
  const unmatched = unmatchedParamPatterns(
    config.optimizer as {
      paramGroups?: { match: string; weightDecay?: number }[];
      noDecay?: string[];
    },
    engine.variables.map((variable) => variable.name),
  );
  if (unmatched) context.emit({ type: "warning", actor: "trainer", ...unmatched });
  // Image inputs travel as the bytes they were read from where the step uploads them to the GPU
  // (a quarter of the bytes to copy on the trainer's thread; the GPU turns them into floats).
  const inputBytes = info.byteTable !== undefined && engine.takesByteInputs;
  // Steps are reported (to the clip monitor, the scheduler and the event stream) in windows:
  // one message per window, not per step, keeps the actors' cost off tiny steps. A window also
  // ends early on a skipped step (the clip monitor must decide now), at an epoch end, or after
  // REPORT_MS of wall time (so progress stays live on slow steps); but not on the CPU backends
  // when they read in windows (`fixedWindows`): there it ends at fixed steps, and early only on
  // a skipped or exploding step, whose verdict must apply at the next step. On WebGPU the
  // windows end at those fixed steps too (the lag counts them), and after REPORT_MS.
  let lastReport = performance.now();
  // The clip monitor's loss watch, mirrored: the step where it will see an explosion ends its
  // window at once and waits for the verdict.
  let lossWatch = initLossWatch(config.batchSize * accumulation, {
    maximize: maximizes(config.optimizer),
  });
  let lastYield = performance.now();

  let epoch = 0;
  let step = 0;
  let bestEpoch: number | null = null;
  /** The weights of the best epoch this process saw (sent for best.ckpt). */
  let bestWeights: WeightMap | undefined;
  /**
   * What the last epoch end settled (or the checkpoint resumed from) left the scheduler and the
   * early stopper in, and that end's metrics: a checkpoint within an epoch keeps them.
   */
  let settled: { earlyStopper?: unknown; metrics?: Record<string, number> } = {};
  /** A checkpoint within an epoch resumed from: the batches of its epoch trained, its sums. */
  let within: WithinEpoch | undefined;
  /** What a NaN rollback returned to where that checkpoint was taken (see `rollbackTo` below). */
  let resumedGood: Good | undefined;
  if (resume) {
    const saved = await loadCheckpoint(resume.checkpoint);
    // its steps must end its epochs where they end now, or every later rate would be planned
    // for another step (an older anneal's dropLast, changed data)
    checkResumedSteps(saved.state, {
      trainSize: info.trainSize,
      batchSize: config.batchSize,
      dropLast: config.data.dropLast,
      accumulation,
    }, { runId: context.init.runId, dir: runDir });
    checkResumedData(resume.fingerprint, info.fingerprint, {
      runId: context.init.runId,
      dir: runDir,
    });
    engine.writeWeights(saved.weights, {
      checkpoint: resume.checkpoint,
      config: `${runDir}/config.json`,
      runId: context.init.runId,
    });
    engine.optimizer.setState(saved.state.optimizer as OptimizerState);
    epoch = saved.state.epoch + 1;
    step = saved.state.step;
    bestEpoch = (saved.state.bestEpoch as number | null) ?? null;
    clip = new ClipThreshold(config.clipping, {
      threshold: saved.state.clipThreshold as number | undefined,
      history: saved.state.clipHistory as ClipThresholdState["history"],
      pending: saved.state.clipPending as [number, number][] | undefined,
    });
    // (a WebGPU run's norms not taken in yet, resumed where every step is read: in the history,
    // for the next window's end to take in, as a checkpoint within a window keeps them there)
    if (!lagged) clip.takeInBefore(Infinity, false);
    if (clip.restarted) {
      context.emit({
        type: "warning",
        actor: "trainer",
        message: "adaptive clipping (clipping.autoPercentile) restarts its history of gradient " +
          "norms: the checkpoint resumed from was written by an older anneal, which did not keep " +
          `it; its threshold stays ${clip.value} until the first step, then is the percentile ` +
          "of the norms from here on",
        hint: "nothing to do, unless it must clip as a run never stopped would: then start it " +
          `again (anneal train -c ${shellWord(`${runDir}/config.json`)})`,
      });
    }
    // the clip monitor's loss watch, as the checkpoint kept it (an older one's starts over)
    const watched = (saved.state.clipMonitor as ClipMonitorSnapshot | undefined)?.lossWatch;
    if (watched) lossWatch = watched as LossWatchState;
    settled = {
      // (a restarted patience kept by a checkpoint within the next epoch too: the resume of an
      // interrupted lengthened run took the old count back, and stopped at once)
      earlyStopper: resume.earlyStopper ?? saved.state.earlyStopper,
      metrics: saved.state.metrics as Record<string, number> | undefined,
    };
    within = saved.state.within as WithinEpoch | undefined;
    resumedGood = saved.state.rollbackTo as Good | undefined;
  }
  /** Epochs the run ended before this process (a checkpoint within an epoch: the one before). */
  const startEpoch = epoch;
  /** The run's steps before this process. */
  const startStep = step;
  // The first plan and batches are asked for now, so that they travel while the trainer reads
  // its starting weights. The loader streams on into later epochs by itself: it is told where
  // to start only once.
  const totalSteps = Math.min(config.maxSteps ?? Infinity, stepsPerEpoch * config.epochs);
  scheduler.send({ type: "TrainingPlanned", stepsPerEpoch, startStep: step, totalSteps });
  // Credits: at least `prefetch` batches, and for small batches as many as fit in
  // PREFETCH_BYTES (a tiny step should not wait on a message per batch); given back in bulk.
  const bytesPerBatch = config.batchSize *
    ((inputBytes ? 1 : 4) * info.inputShape.reduce((a, b) => a * b, 1) + 4 * info.targetSize);
  const prefetch = Math.max(
    config.prefetch,
    Math.min(MAX_PREFETCH, Math.floor(PREFETCH_BYTES / bytesPerBatch)),
  );
  const creditBatch = Math.max(1, Math.floor(prefetch / 4));
  let consumed = 0;
  loader.send({ type: "GrantCredits", count: prefetch });
  loader.send({ type: "StartEpoch", epoch, fromBatch: within?.batches ?? 0, inputBytes });
  // What a NaN rollback returns to: the last epoch-end checkpoint, or the start (a fresh
  // optimizer: `undefined`) before the first one.
  // (A promise while the last epoch end's read-back is on its way.)
  // (resumed within an epoch on the CPU backends: the epoch end, or the start, the run stopped
  // there would have returned to, which its checkpoint keeps)
  let lastGood: Good | Promise<Good> = resumedGood ?? {
    weights: await engine.readWeights(),
    optimizer: resume ? await engine.optimizer.getState() : undefined,
  };
  /**
   * On WebGPU, the start and the epoch ends judged good since the oldest a verdict still to come
   * can return to (see `goodBefore`), by step.
   */
  const goodEnds: (Good & { step: number })[] = [{ step, ...lastGood }];
  /** A failed read-back of an epoch's state the trainer went on from, thrown at the next step. */
  let readFailure: unknown;
  // Resumed at the run's end (killed after its last checkpoint, before its end was recorded):
  // at the epoch end early stopping's verdict stopped it at (its last epoch's too), or at its
  // step budget short of its last epoch (a budget spent at the run's last step completes it).
  // Nothing is left to train, only its end (the best weights, the test pass) to finish, as the
  // run would have. Where it had diverged after the checkpoint, its end is the divergence it
  // kept: nothing to finish (no best weights, no test pass), its steps not trained again.
  const atEnd = resume?.stopped !== undefined || resume?.diverged !== undefined ||
    (epoch < config.epochs && config.maxSteps !== undefined && step >= config.maxSteps);
  context.emit({
    type: "plan",
    // (a sweep's retried trial takes such a run as it ended, unjudged by the pruner)
    nothingToTrain: atEnd || epoch >= config.epochs || undefined,
    fusedOptimizer: engine.fused,
    modelPath: engine.modelPath,
    modelPathReason: engine.fusedModelReason,
    optimizerPath: engine.optimizerPath,
    precision: engine.precision,
    float32Layers: engine.float32Layers,
    inputs: inputBytes ? "bytes" : "floats",
    stepsPerEpoch,
    totalSteps,
    startEpoch: epoch,
    startStep: step,
    // (the loader's message less its tag and its byte table: 256 floats in every --json plan
    // line and meta.json, of no use to a reader)
    dataset: (({ type: _, byteTable: __, ...dataset }) => dataset)(info),
    parameters: builtParameters,
  });

  const startedAt = performance.now();
  let status: TrainerResult["status"] = "completed";
  let reason = `finished ${config.epochs} epoch${config.epochs === 1 ? "" : "s"}`;
  let hint: string | undefined;
  /**
   * The run was stopped from outside it (a user, a sweep) or by the wall-time budget, each
   * process's: a resume goes on. False where it stopped itself (early stopping, maxSteps).
   */
  let stopRequested = false;
  let metrics: Record<string, number> = {};
  let window: WindowEntry[] = [];
  let record = newRecord(epoch, engine.metrics);

  // A window's read-back starts when the window closes. On the GPU (windows of several steps)
  // a periodic window is finished once its read is back, without waiting for it while fewer than
  // READS_IN_FLIGHT are on their way: Deno's mapAsync takes ~11 ms whatever the size, and the
  // steps go on meanwhile. Other flushes finish every window at once. An epoch's last window
  // may be finished in the next epoch (see the epoch ends below): a window keeps its epoch's
  // record.
  const closeWindow = (last: boolean, settles: boolean): ClosedWindow => {
    const closed = window;
    window = [];
    const onDevice = closed.filter((w) => "stats" in w.values);
    return {
      entries: closed,
      onDevice,
      read: engine.readStats(onDevice.map((w) => w.values as StepTensors)),
      record,
      last,
      settles,
    };
  };
  // `verdict`: wait for the clip monitor's answer to this window (only for a skipped or
  // alarming step, so that what it decides applies at the very next step, deterministically).
  const finishWindow = async (closed: ClosedWindow, verdict = false) => {
    const { entries, onDevice, record } = closed;
    const readStart = performance.now();
    const read = await closed.read;
    record.stepMs += performance.now() - readStart;
    let skippedOnDevice = 0;
    onDevice.forEach((entry, i) => {
      entry.values = read[i];
      // a step the fused kernels skipped on the device (its loss or norm not finite): skipped,
      // as the CPU backends skip it; its optimizer counts it out once read (the skips of steps
      // before a rollback were the state's it replaced)
      if (engine.skipsOnDevice && !(isFinite(read[i].loss) && isFinite(read[i].gradNorm))) {
        entry.skipped = true;
        if (entry.step >= optimizerSetAt) skippedOnDevice++;
      }
      // (summed once the clip monitor has judged the epoch: see `countRead`)
      if (!entry.skipped) record.read.push({ step: entry.step, values: read[i] });
      // (read a window or more late: adaptive clipping takes the norm in WINDOW_LAG windows
      // after its own; see `settleLagged`)
      if (!entry.skipped && Number.isFinite(read[i].loss)) {
        clip.defer(entry.step, read[i].gradNorm);
        // (an epoch the loop has left: its end's clipping, for its checkpoint, has it waiting too)
        if (record.clip) (record.clip.pending ??= []).push([entry.step, read[i].gradNorm]);
      }
    });
    engine.stepsSkipped(skippedOnDevice);
    if (closed.settles && !lagged) clip.settle();
    const values = entries.map((w) => w.values as StepValues);
    const losses = values.map((v) => v.loss);
    const norms = values.map((v) => v.gradNorm);
    const observed = {
      type: "StepsObserved",
      fromStep: entries[0].step,
      gradNorms: norms,
      losses,
      skipped: entries.map((w) => w.skipped),
      lr: entries.map((w) => w.lr),
      // (on WebGPU every window's verdict is awaited, a few windows later: see `settleLagged`)
      verdictRequested: verdict || lagged || undefined,
    };
    // The loss watch counts a short step (an epoch's last) by its samples. At an epoch's last
    // window the monitor answers with its state, for the epoch's checkpoint.
    monitor.send({
      ...observed,
      samples: values.map((v) => v.samples),
      thresholds: entries.map((w) => w.threshold ?? null),
      endsEpoch: closed.last ? record.epoch : undefined,
    });
    if (verdict) await monitor.take((m) => m.type === "StepsJudged");
    const momentum = entries.some((w) => w.momentum !== undefined)
      ? entries.map((w) => w.momentum ?? NaN)
      : undefined;
    // (the event has the window's values: whether the trainer awaits a verdict is its own)
    const { verdictRequested: _, ...window } = observed;
    context.emit({ ...window, type: "steps", epoch: record.epoch, momentum });
    // The epoch's last steps: the scheduler gets EpochEnded next, which replans (where the
    // schedule is fixed in advance, it is told only where the plans run low).
    if (closed.last) record.finish();
    if (fixedState !== undefined) askAhead(step);
    else if (!closed.last) scheduler.send({ type: "StepsTaken", step });
  };
  const reading = new ReadsInFlight<ClosedWindow>(READS_IN_FLIGHT, (w) => finishWindow(w));
  /** The last step the clip monitor has answered for (on WebGPU it answers every window). */
  let judgedThrough = step - 1;
  /** On WebGPU: waits for the clip monitor's answers through step `upTo` (its windows sent). */
  const awaitJudged = async (upTo: number) => {
    while (judgedThrough < upTo) {
      const judged = await monitor.take((m) => m.type === "StepsJudged") as unknown as StepsJudged;
      judgedThrough = judged.upTo;
    }
  };
  /**
   * On WebGPU, before the first step of a window (`first`): what the windows WINDOW_LAG before
   * it and earlier decided applies now, whenever their reads and the clip monitor's answers came
   * back (this waits for those not back yet; at most READS_IN_FLIGHT reads are on their way, so it
   * waits for a read only where it is later than that). Adaptive clipping takes their norms in,
   * and the monitor's first stop or rollback on their steps is acted on; at the run's last step
   * (`all`), every verdict on its steps is.
   */
  const settleLagged = async (first: number, all: boolean) => {
    const before = lagStart(first, stepsPerEpoch, readEvery, WINDOW_LAG);
    const due = all ? first : before;
    await reading.finishWhile((closed) => closed.entries[0].step < due);
    await awaitJudged(due - 1);
    // (the monitor's stops and rollbacks on them known: the norms of the steps they undid, and
    // of their own, are left out, as the CPU backends never take them in)
    clip.takeInBefore(before, true, (at) => undone.keepsNorm(at));
    // (in step order: the monitor judges windows in order)
    const verdicts = held.filter((verdict) => verdict.step < due);
    held.splice(0, verdicts.length);
    action ??= verdicts[0];
    // later verdicts are on the steps from `due`, the one acted on next on its own step: the last
    // good end at or before the earlier may be theirs (for a step of an epoch's last window, the
    // end before that epoch's own, which lies between the step and `due`)
    const from = Math.min(due, action?.step ?? due);
    goodEnds.splice(0, Math.max(0, goodEnds.findLastIndex((good) => good.step <= from)));
  };
  // `last`: the epoch's last window. `overlap`: leave this window's read on its way (finished
  // once it is back, or at the epoch's end). `settles`: the window ends where windows end (not
  // at a stop within one).
  const flush = async (verdict = false, last = false, overlap = false, settles = false) => {
    const current = window.length > 0 ? closeWindow(last, settles) : undefined;
    if (current && overlap && !verdict) return await reading.add(current);
    await reading.finishAll();
    if (current) await finishWindow(current, verdict);
  };
  /**
   * Every window finished, where the run ends within an epoch: on WebGPU with the clip monitor's
   * answers to them (as on the CPU backends, where it answered each before the trainer went on),
   * so that its statistics, the run's summary's, are those after the last step.
   */
  const flushToEnd = async () => {
    await flush();
    if (lagged) await awaitJudged(step - 1);
  };
  /**
   * On WebGPU, where `maxSteps` ends the run short of its last step: as at that step, every window
   * is read and judged, and the monitor's first stop or rollback on the steps taken acts now, so
   * that the run ends as the CPU backends end it (a stop diverged, a rollback's weights kept)
   * rather than on weights that verdict undoes.
   */
  const settleAtBudget = async () => {
    await flushToEnd();
    action ??= held[0];
  };

  const rollback = async () => {
    const good = lagged ? await goodBefore(action!.step) : await lastGood;
    if (!good) return (action = undefined); // an end before it was a stop: returned to instead
    weightsVersion++;
    engine.writeWeights(good.weights);
    if (good.optimizer) engine.optimizer.setState(good.optimizer);
    else engine.resetOptimizer();
    optimizerSetAt = step;
    scheduler.send({ type: "ScaleLearningRate", factor: 0.1, fromStep: step });
    scaledVersion = Math.max(planVersion, scaledVersion) + 1;
    rolledBackAt = step;
    undone.rolledBack(step);
    held.length = 0;
    // (the monitor leaves out the steps between its verdict and this one: see `ignoring`)
    monitor.send({ type: "RolledBack", step });
    for (const key of lrTable.keys()) if (key >= step) lrTable.delete(key);
    plannedTo = step;
    // On WebGPU the verdict acts windows after the step it judged: the steps between are undone
    // (as the CPU backends never take them), and at the run's end none is left to train at the
    // cut rate, which only this says
    const between = step - action!.step - 1;
    const late = lagged && between > 0
      ? `; on WebGPU, where steps are judged in windows (readbackEvery), the verdict acted at ` +
        `step ${step}, undoing the ${between} steps between${
          step >= totalSteps ? ", and the run ended there: no step was left at the cut rate" : ""
        }`
      : "";
    context.emit({
      type: "warning",
      actor: "trainer",
      message:
        `${
          action!.reason
        }; rolled back to the last good checkpoint (or the start) and cut the learning rate 10x` +
        late,
      hint: action!.hint +
        (late
          ? "; --set readbackEvery=1 judges each step before the next, as the CPU backends do"
          : ""),
    });
    action = undefined;
  };

  /** The validation split's batches once asked for, where they are small (KEPT_VALIDATION_BYTES). */
  let keptValidation: BatchReady[] | undefined;
  /**
   * Runs a split through the model: resolves once its every batch is queued on the backend (the
   * weights may change from then on), to the read of its metrics.
   */
  const queueEvaluation = async (split: "validation" | "test"): Promise<Evaluation> => {
    const batches: StepTensors[] = [];
    if (split === "validation" && keptValidation) {
      for (const batch of keptValidation) batches.push(engine.evaluate(hostBatch(batch)));
    } else {
      loader.send({ type: "SendSplit", split, epoch });
      const received: BatchReady[] = [];
      let lastYield = performance.now();
      for (;;) {
        const batch = await loader.take((m) =>
          m.type === "BatchReady" && m.split === split
        ) as unknown as BatchReady;
        if (batch.size > 0) {
          batches.push(engine.evaluate(hostBatch(batch)));
          received.push(batch);
        }
        if (batch.last) break;
        // (queued batches resolve as microtasks: the test pass, seconds to minutes on a large
        // split, let no Stop in until its end; an interruption leaves it, see the run's end)
        if (split === "test" && performance.now() - lastYield > YIELD_MS) {
          await yieldToEventLoop();
          lastYield = performance.now();
          if (context.interruptRequested()) return { metrics: new Promise(() => {}) };
        }
      }
      const bytes = received.reduce((sum, b) => sum + b.x.byteLength + b.y.byteLength, 0);
      if (split === "validation" && bytes <= KEPT_VALIDATION_BYTES) keptValidation = received;
    }
    if (batches.length === 0) return { metrics: Promise.resolve({}) };
    const metrics = engine.readStats(batches).then((read) => {
      const sums = new EpochTotals(engine.metrics);
      for (const values of read) sums.add(values);
      return sums.means();
    });
    metrics.catch(() => {}); // awaited by whoever takes the evaluation; a failure is thrown there
    return { metrics };
  };
  const evaluate = async (split: "validation" | "test") =>
    await (await queueEvaluation(split)).metrics;

  /** Incremented where the weights change other than by a step (a rollback, a return). */
  let weightsVersion = 0;
  /** The epoch's validation pass, started at its last window, with the weights it saw. */
  let validating: { weights: number; queued: Promise<Evaluation> } | undefined;
  /** The epoch's validation pass: the one started early if the weights are still its own. */
  const validation = async (): Promise<Evaluation> => {
    const started = validating;
    validating = undefined;
    if (started) {
      const evaluation = await started.queued;
      if (started.weights === weightsVersion) return evaluation;
      await evaluation.metrics.catch(() => {});
    }
    return await queueEvaluation("validation");
  };

  // ---- epoch ends ---------------------------------------------------------------------------
  // The scheduler and the early stopper answer every EpochEnded. Where their last answers rule
  // out a stop and a new plan at this epoch's end (their guards), the trainer goes straight on
  // into the next epoch, and the answers are settled as they arrive: the epoch's checkpoint is
  // queued with its own state, its event emitted. Elsewhere the trainer waits for them. Answers
  // settle in epoch order, in the port handlers, so a checkpoint lands even while the loop waits
  // on something else.
  const ends: EpochEnd[] = [];
  /** Bytes of one copy of the weights (what each open end holds, besides optimizer state). */
  const weightBytes = engine.variables.reduce((sum, v) => sum + 4 * v.size, 0);
  let stopGuard: StopGuard | undefined;
  /** An epoch the trainer went on from whose verdict was a stop after all (guards exclude it). */
  let lateStop: EpochEnd | undefined;
  let settledWaiters: (() => void)[] = [];
  /** A checkpoint was sent to the supervisor. */
  let sent = false;
  /** The last checkpoint this process sent for `last.ckpt`: a divergence is kept beside it. */
  let lastCheckpoint: { state: CheckpointState; weights: WeightMap } | undefined;
  /**
   * One checkpoint of this process is on disk. Until then the trainer goes on from no epoch end:
   * a run killed after its first epoch can always be resumed. (Later checkpoints land up to
   * MAX_OPEN_ENDS epochs late on tiny epochs, where the answers travel longer than an epoch.)
   */
  let firstWritten = false;
  /**
   * The clip monitor's state after each epoch's last window, by epoch: its answer may come
   * before the epoch's end is opened (its last window is sent before the validation pass).
   */
  const observedEnds = new Map<number, unknown>();
  /** Waiting for the clip monitor's answer to an epoch's last window (see `sendEnd`). */
  let observedWaiters: (() => void)[] = [];
  const wakeObserved = () => {
    for (const resolve of observedWaiters) resolve();
    observedWaiters = [];
  };
  /**
   * Adaptive clipping's norms not taken in yet, as a checkpoint keeps them: without those of the
   * steps a late stop or rollback undid, or of its own step (on WebGPU), which the run leaves out
   * as it takes them in (`settleLagged`). A checkpoint is written where every stop or rollback on
   * its steps has been acted on (see `settleEnds`), so which those are is known for good; a resume
   * knows nothing of them, and takes in every norm its checkpoint kept.
   */
  const keptPending = (pending: [number, number][] | undefined) => {
    const kept = pending?.filter(([at]) => undone.keepsNorm(at));
    return kept?.length ? kept : undefined;
  };
  /**
   * Sums an epoch's steps read on WebGPU, in step order, but for those a late rollback undid
   * (once the clip monitor has judged them: at its end, or at a stop within it).
   */
  const countRead = (record: EpochRecord) => undone.sumCounted(record.read, record.totals);
  const settleEnds = () => {
    while (
      !lateStop && ends.length > 0 && ends[0].judged &&
      (ends[0].advanced || ends[0].fixedSchedule) && ends[0].optimizer &&
      observedEnds.has(ends[0].epoch)
    ) {
      const end = ends.shift()!;
      const judged = end.judged!;
      const advanced = end.advanced;
      const observed = observedEnds.get(end.epoch);
      observedEnds.delete(end.epoch);
      end.observed = observed;
      if (advanced) {
        applyPlan(advanced.plan);
        replanAt = advanced.replanFrom;
      }
      stopGuard = judged.guard;
      // The epoch's record first: the supervisor writes a checkpoint once the records before it
      // are on disk, so a run killed after its checkpoint has the record of its epoch too.
      context.emit({
        type: "epoch",
        epoch: end.epoch,
        step: end.step,
        metrics: end.metrics,
        seconds: ((end.movedOn ?? performance.now()) - end.started) / 1000,
        stepSeconds: end.stepSeconds,
        isBest: judged.isBest,
        waited: !end.deferred,
        metricsLate: end.metricsLate,
        ...(end.discarded && { discarded: true as const }),
        ...(end.allUndone && { allUndone: true as const }),
        memory: end.memory,
      });
      if (judged.status !== "diverged" && end.discarded) {
        // Its weights are thrown away (a late rollback returns before it, or a late stop ends
        // the run before it): no checkpoint, so that a run killed after it is resumed from the
        // last end that is not, and trains its steps again, judged as before. Every checkpoint is
        // then at an end with no stop or rollback left to act on: what the trainer knows of the
        // steps undone (and the clip monitor of those it leaves out) is not needed after it.
        settled = { earlyStopper: judged.state, metrics: end.metrics };
      } else if (judged.status !== "diverged") {
        if (judged.isBest) bestEpoch = end.epoch;
        const state: CheckpointState = {
          epoch: end.epoch,
          step: end.step,
          optimizer: end.optimizer,
          scheduler: advanced ? advanced.state : end.fixedSchedule!.state,
          earlyStopper: judged.state,
          clipThreshold: end.clip?.threshold,
          clipHistory: end.clip?.history,
          clipPending: keptPending(end.clip?.pending),
          clipMonitor: observed,
          bestEpoch,
          metrics: end.metrics,
        };
        // Written by the supervisor's thread: training goes on while the file is hashed, synced
        // and renamed into place (a crash mid-write leaves the previous checkpoint intact).
        // Epochs that end faster than the disk syncs replace each other's waiting writes.
        context.checkpoint(judged.isBest ? ["last", "best"] : ["last"], state, end.weights!);
        sent = true;
        lastCheckpoint = { state, weights: end.weights! };
        if (judged.isBest) bestWeights = end.weights;
        settled = { earlyStopper: judged.state, metrics: end.metrics };
        if (!end.deferred) lastGood = { weights: end.weights!, optimizer: end.optimizer };
        if (lagged && !end.discarded) {
          goodEnds.push({ step: end.step, weights: end.weights!, optimizer: end.optimizer });
        }
      }
      if (judged.stop && end.deferred) lateStop ??= end;
    }
    if (ends.length === 0 || lateStop) wakeSettled();
    wakeEndWaiters();
  };
  const wakeSettled = () => {
    for (const resolve of settledWaiters) resolve();
    settledWaiters = [];
    wakeEndWaiters();
    wakeObserved();
  };
  /** Waiting for the next epoch end to settle (see `goodBefore`). */
  let endWaiters: (() => void)[] = [];
  const wakeEndWaiters = () => {
    for (const resolve of endWaiters) resolve();
    endWaiters = [];
  };
  /**
   * On WebGPU, what a rollback at the clip monitor's verdict on step `verdictStep` returns to: the
   * last epoch end at or before it that was judged good (its checkpoint's state), or the start,
   * once every end up to it is judged (so that when the verdict came makes no difference);
   * undefined where one of those ends was a stop (`lateStop`: the run returns there).
   */
  const goodBefore = async (verdictStep: number): Promise<Good | undefined> => {
    while (ends.length > 0 && ends[0].step <= verdictStep && !lateStop && !readFailure) {
      await new Promise<void>((resolve) => endWaiters.push(resolve));
    }
    if (readFailure) throw readFailure;
    if (lateStop) return undefined;
    return goodEnds.findLast((good) => good.step <= verdictStep);
  };
  const allEndsSettled = async () => {
    if (ends.length > 0 && !lateStop && !readFailure) {
      await new Promise<void>((resolve) => settledWaiters.push(resolve));
    }
    if (readFailure) throw readFailure;
  };
  drainEpochEnds = allEndsSettled;
  const answered = (epochOf: number, apply: (end: EpochEnd) => void) => {
    const end = ends.find((candidate) => candidate.epoch === epochOf);
    if (!end) return;
    apply(end);
    settleEnds();
  };
  scheduler.on("ScheduleAdvanced", (message) => {
    const advanced = message as unknown as ScheduleAdvanced;
    answered(advanced.epoch, (end) => (end.advanced = advanced));
  });
  stopper.on("EpochJudged", (message) => {
    const judged = message as unknown as EpochJudged;
    answered(judged.epoch, (end) => (end.judged = judged));
  });
  monitor.on("EpochObserved", (message) => {
    const observed = message as unknown as EpochObserved;
    observedEnds.set(observed.epoch, observed.state);
    wakeObserved();
    settleEnds();
  });
  // A stop the trainer went past (never, while the guards hold): back to that epoch's end.
  const returnToEnd = (end: EpochEnd) => {
    // The epochs after it are undone: their answers are dropped as they come.
    epochsRun -= ends.length;
    ends.length = 0;
    observedEnds.clear();
    wakeObserved(); // (ends waiting for it are undone)
    weightsVersion++;
    engine.writeWeights(end.weights!);
    engine.optimizer.setState(end.optimizer!);
    // clipping as it was there: the trainer's threshold, and what the clip monitor observed (its
    // statistics, the run's summary's, are those at that end's last step)
    if (end.clip) clip = new ClipThreshold(config.clipping, end.clip);
    monitor.send({ type: "ClipStateRestore", state: end.observed });
    epoch = end.epoch;
    step = end.step;
    metrics = end.metrics;
    window = [];
    reading.clear(); // steps that are undone: not reported
    sending = Promise.resolve(); // (ends still to be sent are undone: they send nothing)
    status = end.judged!.status === "diverged" ? "diverged" : "stopped";
    reason = end.judged!.reason ?? "stopped";
    hint = end.judged!.hint;
    stopRequested = false; // (the verdict ended the run, whatever stop came after it)
    lateStop = undefined; // (returned to: the trainer's exits see no late stop left)
    context.emit({ type: "returned", epoch: end.epoch, step: end.step });
    context.emit({
      type: "warning",
      actor: "trainer",
      message: `the verdict on epoch ${end.epoch} was a stop after training had gone on; ` +
        `returned to the end of epoch ${end.epoch}`,
    });
  };

  /** Whether the trainer may go on from an epoch end with `open` ends open, this one included. */
  const roomToGoOn = (open: number) =>
    firstWritten && open <= MAX_OPEN_ENDS &&
    (open === 1 || open * weightBytes <= OPEN_ENDS_BYTES) &&
    replanAt !== undefined && (replanAt === null || epoch < replanAt);
  /** Opens the end of `record`'s epoch; its metrics come with `sendEnd`. */
  const openEnd = (record: EpochRecord, metricsLate: boolean): EpochEnd => {
    const memory = tf.memory();
    const unread = engine.unreadResults(); // an end left before its reads: not the model's
    const end: EpochEnd = {
      epoch: record.epoch,
      step,
      metrics: {},
      started: record.started,
      stepSeconds: 0,
      memory: {
        numTensors: memory.numTensors - unread.numTensors,
        numBytes: memory.numBytes - unread.numBytes,
      },
      deferred: false,
      metricsLate,
    };
    ends.push(end);
    return end;
  };
  /** The last EpochEnded sent or on its way: each waits for the one before (epoch order). */
  let sending: Promise<void> = Promise.resolve();
  /**
   * Sends an epoch's EpochEnded to the scheduler and the early stopper once its metrics are read:
   * the mean training loss over the epoch's samples (like the seed notebook) and its metrics, its
   * validation pass's, and its last learning rate. A failed read is kept in `readFailure`.
   */
  const sendEnd = (end: EpochEnd, record: EpochRecord, evaluation?: Evaluation) => {
    sending = sending.then(async () => {
      await record.finished;
      // On WebGPU, the clip monitor's answers through the epoch's last step first: its stops and
      // rollbacks on them say which steps a late rollback undoes, left out of the sums (whenever
      // those answers come, so that the epoch's metrics do not depend on it)
      while (lagged && !observedEnds.has(end.epoch) && ends.includes(end) && !readFailure) {
        await new Promise<void>((resolve) => observedWaiters.push(resolve));
      }
      const validation = await evaluation?.metrics;
      if (!ends.includes(end)) return; // undone by a return to an earlier end
      countRead(record);
      const flags = undone.endFlags(end.step, stepsPerEpoch, record.totals.samples, lagged);
      end.discarded = flags.discarded === true;
      end.allUndone = flags.allUndone === true;
      end.metrics = metrics = epochMetrics(record.totals.means(), validation, record.lastLr);
      end.stepSeconds = record.stepMs / 1000;
      end.clip = record.clip ?? clip.snapshot();
      if (end.good && !end.discarded && !verdictNeeded(stopGuard, end.epoch, metrics.loss)) {
        lastGood = end.good;
      }
      const ended = {
        type: "EpochEnded",
        epoch: end.epoch,
        step: end.step,
        metrics,
        ...flags,
      };
      // A schedule fixed in advance does nothing with an epoch end but plan from its step (the
      // trainer asks for plans as they run low instead) and answer with its state, which only a
      // rollback's ScaleLearningRate changes: that state, once the rollbacks' scaled plans are
      // in (else the scheduler hears of the end after them and answers, as before).
      if (fixedState !== undefined && planVersion >= scaledVersion) {
        end.fixedSchedule = { state: fixedState };
      } else scheduler.send(ended);
      stopper.send(ended);
    }).catch((error) => {
      readFailure ??= error;
      wakeSettled();
    });
    return sending;
  };

  const budgetReason = () => budgetSpent(config, step, (performance.now() - startedAt) / 1000);

  let epochsRun = 0;
  // Fault points are a test hook: a run without one does not pay two awaits a step for them.
  const faulty = context.init.fault !== undefined;
  /** Where the run stopped within an epoch (a stop or an interruption): its batches trained. */
  let stoppedWithin: number | undefined;
  if (resume?.diverged) {
    const diverged = resume.diverged;
    status = "diverged";
    reason = diverged.reason;
    hint = diverged.hint;
    step = diverged.steps;
    metrics = endMetrics(diverged);
    epochsRun = diverged.epochs - startEpoch;
  } else if (atEnd) {
    status = "stopped";
    // (early stopping's verdict stands where the budget ran out at the same epoch end)
    reason = resume?.stopped ?? budgetReason()!;
  }
  outer: for (; !atEnd && epoch < config.epochs; epoch++) {
    // (a run resumed from within an epoch goes on from its next batch, with the sums so far)
    let batchIndex = within?.batches ?? 0;
    record = newRecord(epoch, engine.metrics);
    if (within) record.totals.restore(within.totals);
    within = undefined;
    while (batchIndex < info.batchesPerEpoch) {
      const micro: (HostBatch | HostByteBatch)[] = [];
      while (micro.length < accumulation && batchIndex < info.batchesPerEpoch) {
        const wanted = batchIndex;
        const taken = loader.take((m) =>
          m.type === "BatchReady" && m.split === "train" && m.epoch === epoch && m.index === wanted
        ) as unknown as Promise<BatchReady>;
        // An epoch's first batch comes once the loader has shuffled the epoch (3e8 samples:
        // 20 s): a stop meanwhile is answered at once. Before this process's first step, the run
        // ends without one, as a stop while the data loads does; later, it ends at the end of
        // the epoch before, as a stop at that epoch's last step does.
        const batch = micro.length === 0 && (step === startStep || batchIndex === 0)
          ? await Promise.race([taken, context.stopped.then(() => undefined)])
          : await taken;
        if (batch === undefined) {
          if (step === startStep) {
            engine.dispose();
            return endedBeforeStep(step, bestEpoch);
          }
          const requested = context.stopRequested()!;
          status = context.interruptRequested() ? "interrupted" : "stopped";
          reason = requested;
          stopRequested = true;
          // (every window of the epoch before finished, and judged, as at a stop within one)
          await flushToEnd();
          // the weights are at the end of the epoch before (the loop had counted past it)
          epoch--;
          break outer;
        }
        if (++consumed >= creditBatch) {
          loader.send({ type: "GrantCredits", count: consumed });
          consumed = 0;
        }
        micro.push(hostBatch(batch, info.byteTable));
        batchIndex++;
      }
      if (faulty) {
        await context.faultPoint("step");
        if (batchIndex <= accumulation) await context.faultPoint(`step:${epoch}`);
      }
      const { lr, momentum } = plannedLr(step) ?? await lrFor(step);
      record.lastLr = lr;
      if (momentum !== undefined) engine.optimizer.setMomentum(momentum);
      const stepStart = performance.now();
      const pending = engine.computeGradients(micro, step);
      let values: StepValues | StepTensors = pending;
      let skipped = false;
      if (readsEachStep) {
        [values] = await engine.readStats([pending]);
        skipped = !Number.isFinite(values.loss) || !Number.isFinite(values.gradNorm);
        if (!skipped) record.totals.add(values);
      }
      const threshold = clip.value;
      if (skipped) engine.discardGradients(pending);
      else engine.applyGradients(pending, lr, threshold);
      const read = "loss" in values ? values : undefined;
      window.push({ step, lr, momentum, threshold, values, skipped });
      step++;
      const now = performance.now();
      record.stepMs += now - stepStart;
      // A loss the clip monitor will find exploding is reported at once: it decides, and should
      // not learn it a window late.
      let alarming = false;
      if (read && !skipped) {
        const [watched, explosion] = observeLoss(lossWatch, step - 1, read.loss, read.samples);
        lossWatch = watched;
        alarming = explosion !== undefined;
        // adaptive clipping takes in the norm before the next step (in fixed windows, at the
        // window's end), as the clip monitor's history does (without an exploding step's, which
        // it stops or rolls back)
        if (!alarming || config.clipping.onNonFinite === "skip") {
          clip.observe(read.gradNorm, !fixedWindows);
        }
      }
      const last = batchIndex >= info.batchesPerEpoch;
      // (the steps of the epoch so far: a window of the CPU backends ends at every readEvery-th)
      const fixedEnd = last || Math.ceil(batchIndex / accumulation) % readEvery === 0;
      const windowEnds = skipped || alarming ||
        (readEvery > 1
          ? fixedEnd || (lagged && now - lastReport > REPORT_MS)
          : window.length >= REPORT_WINDOW || last || now - lastReport > REPORT_MS);
      if (windowEnds) {
        if (last && info.validationSize > 0) {
          // The validation pass starts before the last window's read is awaited, so that on
          // WebGPU the two read-backs (~11 ms each) overlap. A rollback at this window's verdict
          // changes the weights: then it is drained and run again (see `validation`).
          validating = { weights: weightsVersion, queued: queueEvaluation("validation") };
          validating.queued.catch(() => {}); // awaited below; a failure is thrown there
        }
        // (a window of the CPU backends ended early, by a skipped or exploding step, leaves the
        // threshold to its fixed end)
        await flush(skipped || alarming, last, lagged, fixedEnd || !fixedWindows);
        lastReport = now;
      }
      // (at the run's last step, it is over: completed, whatever stop came with that step)
      const lastOfRun = batchIndex >= info.batchesPerEpoch && epoch + 1 >= config.epochs;
      // on WebGPU a window's first step next: what the windows WINDOW_LAG back decided applies
      if (lagged && fixedEnd) await settleLagged(step, lastOfRun);
      if (lagged && !lastOfRun && stepsSpent(config, step)) await settleAtBudget();
      // Let port messages (plans, clip decisions, pings) in: queued batches resolve as
      // microtasks, so without this a fast loop would never see them.
      if (now - lastYield > YIELD_MS) {
        await yieldToEventLoop();
        lastYield = performance.now();
      }
      if (action?.action === "stop") {
        status = "diverged";
        reason = action.reason;
        hint = action.hint;
        await flushToEnd();
        break outer;
      }
      if (readFailure) throw readFailure;
      if (action?.action === "rollback") await rollback();
      if (lateStop) {
        returnToEnd(lateStop);
        break outer;
      }
      // A graceful stop (a user, a sweep pruning the trial, a signal) or a budget: end after
      // this step. Within an epoch, the run ends there (its state is checkpointed below); at an
      // epoch's last step, the epoch ends first (its validation, answers and checkpoint).
      const requested = context.stopRequested();
      const budget = requested ? undefined : budgetReason();
      if ((requested || budget) && !lastOfRun) {
        status = requested && context.interruptRequested() ? "interrupted" : "stopped";
        reason = requested ?? budget!;
        // a resume goes on after a stop asked for, and after the wall-time budget, which counts
        // per process (a job's time limit); not after maxSteps, a budget of the run's own
        stopRequested = requested !== undefined ||
          config.maxSteps === undefined || step < config.maxSteps;
        if (batchIndex < info.batchesPerEpoch) {
          await flushToEnd();
          stoppedWithin = batchIndex;
          break outer;
        }
      }
    }
    // ---- the epoch's end. Where its answers can neither change the rates nor stop the run by
    // patience (the guards), and its reads are late anyway (the device's backends), the trainer
    // goes on at once, before the epoch's metrics are read back: its last window and validation
    // pass are queued, and EpochEnded leaves once they are read (`sendEnd`), while the next
    // epoch runs. Only a diverging loss, known once read, could still stop the run there: then
    // the verdict is a stop it went past, and it returns to this end (`lateStop`).
    // Clipping at the epoch's end, for its checkpoint (on WebGPU its windows still on their way
    // add their norms as they are finished; the next epoch's first step takes some in).
    record.clip = clip.snapshot();
    const validated = info.validationSize > 0;
    // (an epoch end judged outside the run, a sweep's pruner: waited for, and its answer too)
    const gated = context.init.epochGate === true && status === "completed" &&
      epoch + 1 < config.epochs;
    const blind = !gated && readEvery > 1 && status === "completed" && epoch + 1 < config.epochs &&
      !patienceMayStop(stopGuard, epoch) && roomToGoOn(ends.length + 1) &&
      (!validated || validating?.weights === weightsVersion);
    let end: EpochEnd;
    if (blind) {
      const evaluation = validated ? await validation() : undefined;
      await context.faultPoint("epoch");
      end = openEnd(record, true);
      sendEnd(end, record, evaluation);
    } else {
      await flush();
      record.finish(); // (a no-op, its last window being finished: no end may wait on it forever)
      const evaluation = validated ? await validation() : undefined;
      await context.faultPoint("epoch");
      end = openEnd(record, false);
      await sendEnd(end, record, evaluation);
      if (readFailure) throw readFailure;
    }
    // The epoch's own state, for its checkpoint: both read-backs start now (their copies are
    // queued before any later step's work) and land while the answers travel, or, where the
    // trainer goes on, while the next epoch runs (on WebGPU a read-back takes ~11 ms).
    const snapshot = Promise.all([engine.readWeights(), engine.optimizer.getState()]);
    epochsRun++;
    if (
      blind ||
      (!gated && roomToGoOn(ends.length) && !verdictNeeded(stopGuard, epoch, end.metrics.loss))
    ) {
      // No stop and no new plan can come of this epoch's end: its state is the last good one
      // (where its metrics are late, once they show a loss that does not diverge).
      end.deferred = true;
      end.movedOn = performance.now();
      const good = snapshot.then(([weights, optimizer]) => ({ weights, optimizer }));
      good.catch(() => {}); // a failed read is thrown at the next step (readFailure)
      if (!blind) lastGood = good;
      else if (!readsEachStep) end.good = good;
      else if (!verdictNeeded(stopGuard, epoch, record.totals.means().loss)) {
        // Read step by step (the CPU backends), the epoch's loss is known here, its metrics late
        // only by their validation pass: a loss that does not diverge makes the end the last good
        // one now, as reading every step does, not once the validation pass is read (a rollback
        // in the next epoch, before that, would go back further on a slow machine)
        lastGood = good;
      }

      snapshot.then(([weights, optimizer]) => {
        end.weights = weights;
        end.optimizer = optimizer;
        settleEnds();
      }, (error) => {
        readFailure ??= error;
        wakeSettled();
      });
    } else {
      [end.weights, end.optimizer] = await snapshot;
      settleEnds();
      await allEndsSettled();
      if (!firstWritten && sent) {
        // (the first sent is the first written: the writer starts it at once)
        await context.firstCheckpointWritten();
        firstWritten = true;
      }
      // The epoch's event is out (settled above): the judge's answer, a stop (sent before the
      // clearance), is taken below.
      if (gated && !lateStop && !end.judged?.stop) await context.epochCleared(epoch);
      // A stop asked for while this end was waited on ends the run here, as one at the epoch's
      // last step does (the next epoch's first batch, if already loaded, would take a step).
      const requested = context.stopRequested();
      if (requested !== undefined && status === "completed" && !lateStop && !end.judged?.stop) {
        status = context.interruptRequested() ? "interrupted" : "stopped";
        reason = requested;
        stopRequested = true;
      }
    }
    if (lateStop) {
      returnToEnd(lateStop);
      break;
    }
    const judged = end.judged;
    if (!end.deferred && judged?.stop) {
      status = judged.status === "diverged" ? "diverged" : "stopped";
      reason = judged.reason ?? "stopped";
      hint = judged.hint;
      // the run stopped itself at this end (early stopping), though a stop asked for or the
      // wall-time budget came at its last step: it is over for good, as early stopping's runs are
      stopRequested = false;
      break;
    }
    if (status !== "completed") break;
  }
  // a validation pass started at the last window of an epoch the run did not end
  await validating?.queued.then((evaluation) => evaluation.metrics).catch(() => {});
  loader.drop((m) => m.type === "BatchReady");
  await allEndsSettled();
  if (lateStop) {
    // an epoch end the trainer went past was a stop after all: the run ended there, before
    // whatever ended it later (a stop within an epoch, or a divergence the clip monitor found
    // in the steps after that end, which reading every step would not have trained)
    returnToEnd(lateStop);
    stoppedWithin = undefined;
  }
  if (status === "diverged" && !resume?.diverged) {
    // The run's last checkpoint again, with the divergence beside it: a run killed before its
    // end is recorded is finished by its resume as it ended (without one, there is nothing to
    // resume). Its steps are recorded before it is written (the supervisor sees to that).
    // (the one resumed from, read again: should it be unreadable now, the run ends diverged
    // without its verdict kept, and its resume trains its last steps again)
    const last = lastCheckpoint ??
      (resume ? await loadCheckpoint(resume.checkpoint).catch(() => undefined) : undefined);
    if (last) {
      // (the clip monitor answers after every window sent before: its state after the last step)
      monitor.send({ type: "ClipStateRequested" });
      const observed = await monitor.take((m) => m.type === "ClipState") as unknown as ClipState;
      const diverged = divergedEnd(
        config,
        { reason, hint, steps: step, metrics },
        startEpoch + epochsRun,
        observed.state,
      );
      context.checkpoint(["last"], { ...last.state, diverged }, last.weights);
    }
  }
  if (
    stoppedWithin !== undefined && (status === "stopped" || status === "interrupted") &&
    !undone.pending
  ) {
    // Stopped within an epoch: its last checkpoint is where it stopped, the weights its test
    // pass (without restoreBest) is run on, and a resume goes on from there exactly: the epoch's
    // next batch, with its sums so far and every actor's state as it is now. (Not on WebGPU where
    // a stop or rollback the clip monitor decided is not acted on yet: the weights are ones it
    // undoes, and the resume goes on from the last checkpoint, judging its steps again, as after
    // a discarded epoch end.)
    const [weights, optimizer] = await Promise.all([
      engine.readWeights(),
      engine.optimizer.getState(),
    ]);
    // (the clip monitor answers after every window sent before: its state after the last step)
    scheduler.send({ type: "ScheduleStateRequested" });
    monitor.send({ type: "ClipStateRequested" });
    const [schedule, observed] = await Promise.all([
      scheduler.take((m) => m.type === "ScheduleState") as unknown as Promise<ScheduleState>,
      monitor.take((m) => m.type === "ClipState") as unknown as Promise<ClipState>,
    ]);
    const clipped: ClipThresholdState = clip.snapshot();
    countRead(record); // (every window finished and judged: see `flushToEnd`)
    const state: CheckpointState = {
      epoch: epoch - 1,
      step,
      optimizer,
      scheduler: schedule.state,
      earlyStopper: settled.earlyStopper,
      clipThreshold: clipped.threshold,
      clipHistory: clipped.history,
      clipPending: keptPending(clipped.pending),
      clipMonitor: observed.state,
      bestEpoch,
      metrics: settled.metrics,
      within: { batches: stoppedWithin, totals: record.totals.snapshot() } satisfies WithinEpoch,
      // A NaN rollback returns to the last good epoch end (or the start), not to where the run
      // stopped: on the CPU backends, where that is one state, the checkpoint keeps it, so that
      // a rollback after the resume returns where it would have in a run never stopped.
      ...(!lagged && config.clipping.onNonFinite === "rollback" &&
        { rollbackTo: await lastGood }),
    };
    context.checkpoint(["last"], state, weights);
  }

  // The epoch whose end the weights are at: the last one when every epoch ran (the loop counted
  // past it); else the one the run stopped in (at its end, or partway through it).
  // (resumed at its end: where its checkpoint is, an epoch's end unless it is within one)
  const weightsAt = status === "completed" || (atEnd && within === undefined) ? epoch - 1 : epoch;
  // An interrupted run is not over (it is resumed from its checkpoint): no best weights, no test.
  const over = status !== "diverged" && status !== "interrupted";
  if (restoresBest(config.earlyStopping, { bestEpoch, weightsAt, status })) {
    // The best epoch's weights as sent for best.ckpt; from the file only when the best epoch
    // came before a resume (written by an earlier process: the resume's start said so where it
    // is missing, damaged or another epoch's; the run then keeps its last weights, and says so).
    const best = `${runDir}/checkpoints/best.ckpt`;
    const weights = bestWeights ?? await loadCheckpoint(best).then(
      (saved) => saved.state.epoch === bestEpoch ? saved.weights : undefined,
      () => undefined,
    );
    if (weights) {
      engine.writeWeights(weights);
      context.emit({ type: "restored", epoch: bestEpoch! });
    } else {
      context.emit({
        type: "warning",
        actor: "trainer",
        message: `epoch ${bestEpoch}'s weights were not restored: ${best} does not hold them ` +
          `(missing, damaged or another epoch's); the run ends with epoch ${weightsAt}'s`,
        hint: "train its config again for the best epoch's weights",
      });
    }
  }
  let test: Record<string, number> | undefined;
  if (info.testSize > 0 && over) {
    // An interruption (Ctrl-C, SIGTERM) during the test pass, after the last step, ends the run
    // interrupted, as one at any other moment before its end is recorded: its resume finishes
    // its end (the best weights, the test pass). The pass is left, not waited for (seconds to
    // minutes on a large test split): it ran to its end and the run said "completed", exit 0,
    // after the CLI had said it was stopping. (A stop asked for before it is no interruption.)
    const evaluating = evaluate("test");
    const cut = Symbol("interrupted");
    const interrupted = context.stopped.then<Record<string, number> | typeof cut>(() =>
      context.interruptRequested() ? cut : evaluating
    );
    const done = await Promise.race([evaluating, interrupted]);
    if (done === cut) {
      evaluating.catch(() => {}); // (its batches' answers may fail once the engine is gone)
      status = "interrupted";
      reason = context.stopRequested()!;
      stopRequested = true;
    } else {
      test = done;
      context.emit({ type: "test", metrics: test });
    }
  }
  engine.dispose();
  const result: TrainerResult = {
    status,
    reason,
    hint,
    ...(status === "stopped" && { stopRequested }),
    epochs: epochsRun,
    steps: step,
    bestEpoch,
    metrics,
    test,
    backend: chosen.backend,
  };
  return result;
}

/** A batch from the loader as the engine takes it (`byteTable`: `DatasetReady.byteTable`). */
function hostBatch(batch: BatchReady, byteTable?: Float32Array): HostBatch | HostByteBatch {
  const y = new Float32Array(batch.y);
  if (!batch.inputBytes) return { x: new Float32Array(batch.x), y, size: batch.size };
  if (!byteTable) {
    throw new AnnealError("internal", "A batch of bytes came from a dataset without a byte table");
  }
  return { x: new Uint8Array(batch.x), byteTable, y, size: batch.size };
}
