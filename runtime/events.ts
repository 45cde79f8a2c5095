/**
 * The run's public event stream: what `train(...).events()` yields and `anneal train --json`
 * prints, one object per line.
 *
 * @module
 */
import type { ClipStats } from "../actors/clip_monitor.ts";
import type { ActorName } from "../actors/protocol.ts";

/** A run started (or resumed). */
export interface RunStartedEvent {
  /** Event tag, for narrowing a `RunEvent`. */
  type: "run.started";
  /** The run's id. */
  runId: string;
  /** Directory of the run's records and checkpoints. */
  runDir: string;
  /** Epochs the run trains to (a resumed run's come from its saved config). */
  epochs: number;
  /**
   * Where a resumed run continues: the last epoch whose end it checkpointed (-1: none), and the
   * step (past that end where the run was stopped within the next epoch).
   */
  resumedFrom?: { epoch: number; step: number };
  /**
   * A resumed run's: how many warnings its earlier starts gave (on its config, its data, its
   * schedule over its length) that still applied at its last start, recorded in its `meta.json`
   * (`warnings`). The resume does not give them again, but for those whose words change (a
   * setting it raised, as `--epochs`); one it does not give again no longer applies, and is
   * marked so there (`noLongerApplies`).
   */
  startWarnings?: number;
}
/** The trainer chose a backend. */
export interface BackendEvent {
  /** Event tag, for narrowing a `RunEvent`. */
  type: "backend";
  /** tfjs backend name: `webgpu`, `wasm` or `cpu`. */
  backend: string;
  /** Why this backend was chosen. */
  reason: string;
  /** The WebGPU adapter, when `backend` is `webgpu`. */
  adapter?: { description: string; vendor: string; isFallbackAdapter: boolean };
  /** tfjs version. */
  tfjs: string;
  /**
   * Whether the trainer's thread made a WebGPU instance (asked `navigator.gpu` for an adapter: on
   * `webgpu`, and where `auto` looked for one). Its Worker is then given time to tear it down
   * before the run ends (`webGpuTeardowns` in `runtime/actor_workers.ts`).
   */
  webGpuInstance?: boolean;
}
/** The trainer knows the data and the number of steps. */
export interface PlanEvent {
  /** Event tag, for narrowing a `RunEvent`. */
  type: "plan";
  /** Optimizer steps per epoch (after gradient accumulation). */
  stepsPerEpoch: number;
  /** Optimizer steps of the whole run. */
  totalSteps: number;
  /** Zero-based epoch the run starts at (past 0 on resume). */
  startEpoch: number;
  /** Global step the run starts at. */
  startStep: number;
  /**
   * A resumed run that had trained all it would before its process ended (its epochs, its step
   * budget, early stopping's verdict, a divergence): it trains no step, and finishes its end
   * (the best weights, the test pass) as it would have. Absent otherwise.
   */
  nothingToTrain?: true;
  /** Number of trainable parameters. */
  parameters: number;
  /** Whether the optimizer runs fused WGSL kernels (WebGPU). */
  fusedOptimizer: boolean;
  /** Where forward and backward run: tfjs ops, dense WGSL kernels, or TypeScript on the host. */
  modelPath: "tfjs" | "wgsl" | "host";
  /**
   * Why forward and backward run in tfjs's ops although `fusedModel` is on (`the gelu
   * activation`, `dropout`, an rnn's gates past the device's storage binding, ...); absent where
   * they run on the dense step or `fusedModel` is off.
   */
  modelPathReason?: string;
  /**
   * Where the optimizer's update runs: tfjs ops, fused WGSL kernels, TypeScript on the host, or
   * one SIMD kernel per parameter (wasm).
   */
  optimizerPath: "tfjs" | "wgsl" | "host" | "simd";
  /** `mixed`: hidden activations stored as float16 (`mixedPrecision`); else all float32. */
  precision: "float32" | "mixed";
  /**
   * Under mixed precision, the layers whose activations stay float32 because their width is odd
   * (two float16 values a 32-bit word must not span two rows), as `hidden layer 1 (7 units)`;
   * absent where none do.
   */
  float32Layers?: string[];
  /**
   * How training inputs reach the step: `bytes`, as the bytes they were read from (image data on
   * the WGSL step, which turns them into floats on the GPU: a quarter of the upload), or `floats`.
   */
  inputs: "bytes" | "floats";
  /**
   * Split sizes, data fingerprint (SHA-256), the shape of one sample and of its target, the task
   * (and its classes), and the batches an epoch trains.
   */
  dataset: {
    trainSize: number;
    validationSize: number;
    testSize: number;
    fingerprint: string;
    inputShape: number[];
    targetSize: number;
    task: "regression" | "classification" | "binary";
    /** Classes of a classification task. */
    numClasses?: number;
    /** A classifier's training rows per class (a binary task's 0 and 1). */
    classCounts?: number[];
    /**
     * A regression's training targets' variance (each target's, averaged over them): the mse of
     * predicting their mean.
     */
    targetVariance?: number;
    /**
     * The validation loss of a model that ignores the features: the training labels'
     * frequencies (cross-entropy) or the training targets' mean (mse) predicted for every row.
     */
    validationBaseline?: number;
    batchesPerEpoch: number;
  };
}
/** A window of optimizer steps (read back together). */
export interface StepsEvent {
  /** Event tag, for narrowing a `RunEvent`. */
  type: "steps";
  /** Zero-based epoch of these steps. */
  epoch: number;
  /** Global index of the first step in the window. */
  fromStep: number;
  /** Training loss per step. */
  losses: number[];
  /** Gradient L2 norm per step, before clipping. */
  gradNorms: number[];
  /** Learning rate per step. */
  lr: number[];
  /** Momentum (or Adam's beta1) per step, when the schedule cycles it (onecycle). */
  momentum?: number[];
  /** Per step: skipped for a non-finite loss or gradient (no update applied). */
  skipped: boolean[];
}
/** An epoch ended. */
export interface EpochEvent {
  /** Event tag, for narrowing a `RunEvent`. */
  type: "epoch";
  /** Zero-based epoch index. */
  epoch: number;
  /** Global steps taken at the end of the epoch. */
  step: number;
  /** Training and validation metrics (loss, valLoss, accuracy, ...). */
  metrics: Record<string, number>;
  /** Wall time of the epoch in seconds. */
  seconds: number;
  /**
   * Of `seconds`, the time the trainer spent in its training steps' own work: forward, backward,
   * update and reading the step's loss. The rest is waiting for batches, messages to the other
   * actors, validation and the epoch's end (what `bench/actor_overhead.ts` reports as overhead).
   */
  stepSeconds: number;
  /** The monitored metric improved on its best. */
  isBest: boolean;
  /**
   * The trainer waited at this epoch's end for the scheduler's and early stopper's answers:
   * they could have stopped the run or changed the learning rates (or too many epoch ends were
   * open). False: it went straight on into the next epoch, and this event came when the answers
   * arrived, possibly a few epochs later.
   */
  waited: boolean;
  /**
   * The trainer went on into the next epoch before this epoch's metrics were even read back
   * (on WebGPU, where steps are read in windows: the read takes ~11 ms): the epoch's end held
   * no step. Only where nothing known before its metrics could stop the run or change the rates;
   * should its loss turn out to diverge, the run returns to this epoch's end (a warning says so).
   */
  metricsLate: boolean;
  /**
   * On WebGPU in windows: the epoch ended between a step the clip monitor stopped or rolled back
   * at and the step the trainer acted on it, so its weights were discarded. Its metrics count its
   * steps up to that one only; it is never the best epoch, and writes no checkpoint (a resume
   * goes on from the last one; absent: an epoch end as any other).
   */
  discarded?: true;
  /**
   * On WebGPU in windows: a rollback decided on an earlier step undid every step of this epoch
   * (the windows' verdicts act WINDOW_LAG windows late), so its training metrics (`loss`, ...)
   * are not numbers: they measure nothing, and are not a NaN loss. Absent: some step counted.
   */
  allUndone?: true;
  /**
   * tfjs's live tensors and bytes after the epoch (flat across epochs: no leaks), not counting
   * results still on their way to the host (see `metricsLate`).
   */
  memory: { numTensors: number; numBytes: number };
  /**
   * Bytes of V8 heap in use per actor (from its last heartbeat, about a second old) and in the
   * supervisor's thread (`main`); added by the supervisor.
   */
  heapUsed?: Partial<Record<"main" | ActorName, number>>;
}
/** Gradient-norm statistics from the clip monitor. */
export type ClipStatsEvent = ClipStats;
/** Something the user should know. */
export interface WarningEvent {
  /** Event tag, for narrowing a `RunEvent`. */
  type: "warning";
  /** The actor that raised it. */
  actor: string;
  /** What happened. */
  message: string;
  /** What to do about it. */
  hint?: string;
}
/** Test-split metrics at the end of a run. */
export interface TestEvent {
  /** Event tag, for narrowing a `RunEvent`. */
  type: "test";
  /** Metric name to value, on the test split. */
  metrics: Record<string, number>;
}
/** The best epoch's weights were restored at the end. */
export interface RestoredEvent {
  /** Event tag, for narrowing a `RunEvent`. */
  type: "restored";
  /** Zero-based epoch whose weights were restored. */
  epoch: number;
}
/**
 * The trainer had gone on from an epoch end (before its verdict) and the verdict was a stop after
 * all: the run returned to that end. The steps after it are undone, and dropped from
 * `steps.ndjson`; their `steps` events had already been sent.
 */
export interface ReturnedEvent {
  /** Event tag, for narrowing a `RunEvent`. */
  type: "returned";
  /** Zero-based epoch the run returned to the end of. */
  epoch: number;
  /** Global steps taken at that end: steps from this index on are undone. */
  step: number;
}
/**
 * The error a closing event names: its kind (`error[code]` as the CLI prints it: an
 * {@linkcode import("../errors.ts").ErrorCode}), its message, and where it is and what to do,
 * where known.
 */
export interface ClosingError {
  /** The error's kind: `config`, `data`, `actor`, `storage`, `internal`, ... */
  code: string;
  /** What went wrong, as the error said it. */
  message: string;
  /** What to do about it. */
  hint?: string;
  /** Where: a file's `file:line`, a config field, a path. */
  where?: string;
}

/**
 * The run ended, however it ended once it trained or tried to: `result.status` says how
 * (`completed`, `stopped`, `interrupted`, `diverged`, `failed`) and `result.reason` why. The
 * stream's last event, or {@linkcode RunRefusedEvent} in its place: every stream that has a
 * `run.started` ends with exactly one of the two.
 */
export interface RunFinishedEvent {
  /** Event tag, for narrowing a `RunEvent`. */
  type: "run.finished";
  /** How the run ended. */
  result: import("./supervisor.ts").RunResult;
  /**
   * A failed run's error (only where `result.status` is `failed`): an actor that threw (its
   * error's code, `internal` for an Error that is not an AnnealError), crashed, stalled, or whose
   * Worker could not start (`actor`), a checkpoint or the run's record that could not be written
   * (`storage`, or the file error's code), or the supervisor's own failure (`internal`). Its `message` is the
   * cause's own; `result.reason` says it after who failed.
   */
  error?: ClosingError;
}

/**
 * The run was refused at its start, after its `run.started` and before its first step (a data
 * file that is missing or holds bad values, a setting its data shows it cannot train with, a
 * checkpoint that does not fit the data): the stream's last event, in place of `run.finished`.
 * `train(...).result` rejects with the same error; `anneal train --json` prints this event on
 * stdout and the error on stderr (an error before `run.started` is one `error` line on stdout).
 */
export interface RunRefusedEvent {
  /** Event tag, for narrowing a `RunEvent`. */
  type: "run.refused";
  /** The run's id, as `run.started` named it. */
  runId: string;
  /** The run's directory, as `run.started` named it. */
  runDir: string;
  /**
   * Whether `runDir` is still there: a new run's is removed (no record of a run that never
   * trained), a resumed run's records are left as they were.
   */
  kept: boolean;
  /** Why: the error `result` rejects with (its code, as `error[code]` names it, and its hint). */
  error: ClosingError;
}

/** Any event of a run. */
export type RunEvent =
  | RunStartedEvent
  | BackendEvent
  | PlanEvent
  | StepsEvent
  | EpochEvent
  | ClipStatsEvent
  | WarningEvent
  | TestEvent
  | RestoredEvent
  | ReturnedEvent
  | RunFinishedEvent
  | RunRefusedEvent;
