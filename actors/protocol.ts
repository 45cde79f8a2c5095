/**
 * Every message the actors exchange, declared once as zod schemas; the TypeScript types are
 * inferred from them. Commands are imperative (`Stop`), events past tense (`BatchReady`).
 *
 * Validation happens at the boundary where a message enters an actor from the supervisor
 * (`Init`, checked by init_check.ts as `InitSchema` here declares it, so that the actors' Workers
 * need not load zod); inside the hot path (batches, plans) the types are trusted, not re-parsed.
 *
 * @module
 */
import { z } from "npm:zod@4.6.7";
import { ACTOR_NAMES } from "./actor_names.ts";

/** The five actors of a run. */
export const ActorNameSchema = z.enum(ACTOR_NAMES);
/** Name of one of the five actors: `dataLoader`, `trainer`, `scheduler`, `earlyStopper`, `clipMonitor`. */
export type ActorName = (typeof ACTOR_NAMES)[number];

/** An error in plain form, safe to cross a worker boundary. */
export const SerializedErrorSchema = z.object({
  name: z.string(),
  message: z.string(),
  stack: z.string().optional(),
  code: z.string().optional(),
  where: z.string().optional(),
  hint: z.string().optional(),
});

/** Metrics of one epoch: `loss`, `valLoss`, `accuracy`, `valAccuracy`, `mae`, ... */
export const EpochMetricsSchema = z.record(z.string(), z.number());
export type EpochMetrics = z.infer<typeof EpochMetricsSchema>;

const split = z.enum(["train", "validation", "test"]);
export type Split = z.infer<typeof split>;

// ---- data loader <-> trainer ----------------------------------------------------------------

/** First message of the loader: what the data looks like. */
export const DatasetReadySchema = z.object({
  type: z.literal("DatasetReady"),
  inputShape: z.array(z.number().int()),
  targetSize: z.number().int(),
  task: z.enum(["regression", "classification", "binary"]),
  numClasses: z.number().int().optional(),
  /**
   * A classifier's training rows per class (index order; a binary task's 0 and 1): what
   * `diagnose` reads a loss at the labels' entropy off (a model that learnt the frequencies alone).
   */
  classCounts: z.array(z.number().int()).optional(),
  /**
   * A regression's training targets' variance (each target's, averaged over them): the mse of
   * predicting their mean, whatever the features, which `diagnose` reads a loss at or above
   * the mean's off.
   */
  targetVariance: z.number().optional(),
  /**
   * The validation loss of a model that ignores the features: it predicts the training labels'
   * frequencies (cross-entropy) or the training targets' mean (mse) for every validation row.
   * `diagnose` reads a validation loss that never beat it off.
   */
  validationBaseline: z.number().optional(),
  trainSize: z.number().int(),
  validationSize: z.number().int(),
  testSize: z.number().int(),
  batchesPerEpoch: z.number().int(),
  fingerprint: z.string(),
  /**
   * Present when the training inputs can travel as bytes (see `Dataset.byteTable`): the float of
   * each byte value. The trainer asks for them with `StartEpoch.inputBytes`.
   */
  byteTable: z.instanceof(Float32Array).optional(),
});

/** One batch; `x` and `y` are transferred, not copied. */
export const BatchReadySchema = z.object({
  type: z.literal("BatchReady"),
  split,
  epoch: z.number().int(),
  index: z.number().int(),
  size: z.number().int(),
  x: z.instanceof(ArrayBuffer),
  y: z.instanceof(ArrayBuffer),
  /** True on the last batch of this split for this epoch. */
  last: z.boolean(),
  /** `x` holds one byte per feature (`DatasetReady.byteTable` gives their floats), not floats. */
  inputBytes: z.boolean().optional(),
});

/**
 * Loader -> trainer: several training batches in one message. Small batches travel in groups
 * (up to the trainer's credits), so that a tiny step does not pay one message per batch; their
 * inputs and targets are packed one after the other into two buffers (two transfers a group,
 * not two a batch). `packBatchGroup` and `unpackBatchGroup` (data_loader.ts) convert.
 */
export const BatchGroupSchema = z.object({
  type: z.literal("BatchGroup"),
  x: z.instanceof(ArrayBuffer),
  y: z.instanceof(ArrayBuffer),
  batches: z.array(
    BatchReadySchema.omit({ x: true, y: true }).extend({
      /** Bytes of this batch in `x` and in `y`. */
      xBytes: z.number().int(),
      yBytes: z.number().int(),
    }),
  ),
});

/** Trainer -> loader: permission to send `count` more batches (backpressure). */
export const GrantCreditsSchema = z.object({ type: z.literal("GrantCredits"), count: z.number() });

/** Trainer -> loader: stream a split (validation after each epoch, test at the end). */
export const SendSplitSchema = z.object({
  type: z.literal("SendSplit"),
  split: z.enum(["validation", "test"]),
  epoch: z.number().int(),
});

/**
 * Trainer -> loader: stream training batches from this position. The loader goes on into the
 * following epochs by itself (as credits allow), so that the next epoch's first batches are
 * ready when it starts; a `StartEpoch` for a position already streamed is ignored.
 */
export const StartEpochSchema = z.object({
  type: z.literal("StartEpoch"),
  epoch: z.number().int(),
  fromBatch: z.number().int(),
  /**
   * Send the training inputs as bytes where `DatasetReady.byteTable` allows it: for a step that
   * uploads them to a GPU, a quarter of the bytes to copy (they are turned into floats there).
   */
  inputBytes: z.boolean().optional(),
});

// ---- scheduler <-> trainer ------------------------------------------------------------------

/** Scheduler -> trainer: learning rates (and momentum) for steps `fromStep ..`. */
export const LrPlannedSchema = z.object({
  type: z.literal("LrPlanned"),
  fromStep: z.number().int(),
  lr: z.array(z.number()),
  momentum: z.array(z.number()).optional(),
  /** Increases whenever earlier plans become stale (plateau, rollback). */
  version: z.number().int(),
  /**
   * Where the schedule is fixed in advance (every schedule but plateau): the scheduler's state,
   * the one a checkpoint keeps. No epoch end changes it (a rollback's `ScaleLearningRate` does,
   * and its plan carries the new one), so the trainer does not tell the scheduler of epoch ends
   * (nothing in them is of use to it): it checkpoints this state, and asks for plans (by
   * `StepsTaken`) as they run low.
   */
  fixedState: z.unknown().optional(),
});

/**
 * Trainer -> scheduler: progress, so the scheduler can plan ahead; answered by a plan (of the
 * steps from where its plans end) where the plans sent run out within `PLAN_AHEAD / 2` steps of
 * `step`, else ignored.
 */
export const StepsTakenSchema = z.object({ type: z.literal("StepsTaken"), step: z.number().int() });

/** Trainer -> scheduler / early stopper: an epoch finished. */
export const EpochEndedSchema = z.object({
  type: z.literal("EpochEnded"),
  epoch: z.number().int(),
  /** Optimizer steps taken so far. */
  step: z.number().int(),
  metrics: EpochMetricsSchema,
  /**
   * Every step of the epoch was skipped (`clipping.onNonFinite`: its loss or gradient norm not
   * finite), so no loss was summed and `metrics.loss` is NaN: said so, not read as a loss that
   * became NaN (absent: some step counted).
   */
  skippedAll: z.boolean().optional(),
  /**
   * The epoch ended between a step the clip monitor stopped or rolled back at and the step the
   * trainer acted on it (WebGPU windows, see runtime/undone_steps.ts): its weights are discarded,
   * and its metrics count its steps up to that decision only. Never the best epoch, not counted
   * by patience or a plateau; a loss that diverges still stops the run (absent: an epoch end as
   * any other).
   */
  discarded: z.boolean().optional(),
  /**
   * No step of the epoch counted, and some were undone by such a late rollback (the others, if
   * any, skipped): `metrics.loss` is NaN, and there is no loss to judge (absent: some step
   * counted, or none was undone).
   */
  allUndone: z.boolean().optional(),
});

/** Scheduler -> trainer: answer to `EpochEnded`, with its state for the checkpoint. */
export const ScheduleAdvancedSchema = z.object({
  type: z.literal("ScheduleAdvanced"),
  epoch: z.number().int(),
  plan: LrPlannedSchema,
  state: z.unknown(),
  /**
   * The first epoch whose end may change the plan (null: no epoch end does, only a rollback's
   * `ScaleLearningRate`): the trainer does not wait for the answers to the others.
   */
  replanFrom: z.number().int().nullable(),
});

/** Trainer -> scheduler: multiply every future learning rate by `factor` (NaN rollback). */
export const ScaleLearningRateSchema = z.object({
  type: z.literal("ScaleLearningRate"),
  factor: z.number(),
  fromStep: z.number().int(),
});

/**
 * Trainer -> scheduler: its state now, for the checkpoint of a run stopped within an epoch (at an
 * epoch's end the state comes with `ScheduleAdvanced`; a rollback since changes it).
 */
export const ScheduleStateRequestedSchema = z.object({
  type: z.literal("ScheduleStateRequested"),
});

/** Scheduler -> trainer: answer to `ScheduleStateRequested`, the state a checkpoint keeps. */
export const ScheduleStateSchema = z.object({
  type: z.literal("ScheduleState"),
  state: z.unknown(),
});

// ---- early stopper <-> trainer --------------------------------------------------------------

/** Early stopper -> trainer: answer to `EpochEnded`. */
export const EpochJudgedSchema = z.object({
  type: z.literal("EpochJudged"),
  epoch: z.number().int(),
  isBest: z.boolean(),
  stop: z.boolean(),
  status: z.enum(["running", "stopped", "diverged"]),
  reason: z.string().optional(),
  hint: z.string().optional(),
  state: z.unknown(),
  /**
   * On a verdict that does not stop: which later epochs could stop the run at all (the trainer
   * does not wait for the verdicts of the others).
   */
  guard: z.object({ patienceFrom: z.number().nullable(), lossAbove: z.number().nullable() })
    .optional(),
});

// ---- clip monitor <-> trainer ---------------------------------------------------------------

/** Trainer -> clip monitor: norms before clipping and losses of a window of steps. */
export const StepsObservedSchema = z.object({
  type: z.literal("StepsObserved"),
  fromStep: z.number().int(),
  gradNorms: z.array(z.number()),
  losses: z.array(z.number()),
  /** True where the step was not applied because loss or gradients were not finite. */
  skipped: z.array(z.boolean()),
  lr: z.array(z.number()),
  /**
   * Samples of each step (an epoch's last may be short, and its loss is the mean over those);
   * absent: every step is batchSize x gradientAccumulation samples.
   */
  samples: z.array(z.number().int().positive()).optional(),
  /** Set when the trainer waits for the verdict (`StepsJudged`) before its next step. */
  verdictRequested: z.boolean().optional(),
  /**
   * The threshold each step's gradients were clipped at by norm (null: none), a fixed `maxNorm`
   * or adaptive clipping's, which the trainer sets from the norms of the steps before.
   */
  thresholds: z.array(z.number().nullable()).optional(),
  /**
   * Set on an epoch's last window, to that epoch: the monitor answers with its state after it
   * (`EpochObserved`), for the epoch's checkpoint.
   */
  endsEpoch: z.number().int().optional(),
});

/** Clip monitor -> trainer: a window with `verdictRequested` has been judged (decisions sent first). */
export const StepsJudgedSchema = z.object({
  type: z.literal("StepsJudged"),
  upTo: z.number().int(),
});

/**
 * Clip monitor -> trainer: answer to an epoch's last window (`StepsObserved.endsEpoch`): its state
 * after that epoch's steps, for the epoch's checkpoint (the trainer does not wait for it: it is
 * settled with the scheduler's and the early stopper's answers to the epoch's end).
 */
export const EpochObservedSchema = z.object({
  type: z.literal("EpochObserved"),
  epoch: z.number().int(),
  state: z.unknown(),
});

/** Trainer -> clip monitor: its state now, for the checkpoint of a run stopped within an epoch. */
export const ClipStateRequestedSchema = z.object({ type: z.literal("ClipStateRequested") });

/**
 * Trainer -> clip monitor: go back to `state`, its state at an epoch end the run returned to (a
 * stop the trainer went past): the steps after it are undone, and so is what it observed of them.
 */
export const ClipStateRestoreSchema = z.object({
  type: z.literal("ClipStateRestore"),
  state: z.unknown(),
});

/**
 * Trainer -> clip monitor: the run rolled back before `step` at its verdict; the steps between
 * that verdict's step and `step` (WebGPU's, taken before the trainer acted on it) are left out.
 */
export const RolledBackSchema = z.object({
  type: z.literal("RolledBack"),
  step: z.number().int(),
});

/** Clip monitor -> trainer: answer to `ClipStateRequested`, the state a checkpoint keeps. */
export const ClipStateSchema = z.object({ type: z.literal("ClipState"), state: z.unknown() });

/** Clip monitor -> trainer: what to do about a non-finite loss or gradient. */
export const NonFiniteHandledSchema = z.object({
  type: z.literal("NonFiniteHandled"),
  step: z.number().int(),
  action: z.enum(["skip", "stop", "rollback"]),
  reason: z.string(),
  hint: z.string(),
});

// ---- every actor -> supervisor --------------------------------------------------------------

/** A progress or metrics event, forwarded to the run's event stream. */
export const ActorEventSchema = z.object({
  type: z.literal("actor.event"),
  actor: ActorNameSchema,
  event: z.unknown(),
});

/** An actor failed; the supervisor stops the run. */
export const ActorErrorSchema = z.object({
  type: z.literal("actor.error"),
  actor: ActorNameSchema,
  error: SerializedErrorSchema,
});

/** An actor finished its work. */
export const ActorDoneSchema = z.object({
  type: z.literal("actor.done"),
  actor: ActorNameSchema,
  result: z.unknown().optional(),
});

/**
 * The trainer's checkpoint of an epoch's end, for the supervisor to write (`last.ckpt`, and
 * `best.ckpt` too when the epoch is the best so far). The supervisor's thread writes it, so the
 * file operations go on while the trainer trains: they do not wait for the trainer's loop to
 * yield, and what was sent is written even if the trainer's Worker then fails.
 */
export const ActorCheckpointSchema = z.object({
  type: z.literal("actor.checkpoint"),
  actor: ActorNameSchema,
  files: z.array(z.enum(["last", "best"])),
  /** A `CheckpointState` (structured-cloneable: the optimizer's slots are `Float32Array`s). */
  state: z.unknown(),
  /** A `WeightMap`. */
  weights: z.unknown(),
});

/** An actor is alive (answers the supervisor's watchdog). */
export const ActorHeartbeatSchema = z.object({
  type: z.literal("actor.heartbeat"),
  actor: ActorNameSchema,
  /** Bytes of the actor's V8 heap in use (its isolate's `Deno.memoryUsage().heapUsed`). */
  heapUsed: z.number().optional(),
});

// ---- supervisor -> every actor --------------------------------------------------------------

/** Supervisor -> actor: configuration, ports and (on resume) the actor's saved state. */
export const InitSchema = z.object({
  type: z.literal("Init"),
  actor: ActorNameSchema,
  runId: z.string(),
  runDir: z.string(),
  config: z.unknown(),
  ports: z.record(z.string(), z.custom<MessagePort>((v) => v instanceof MessagePort)),
  resume: z.unknown().optional(),
  /**
   * The trainer's, under `backend: auto`: the WebGPU adapter the supervisor's thread found (null:
   * none). Told of no hardware adapter, the trainer takes wasm without asking for one itself.
   */
  adapter: z.object({
    description: z.string(),
    vendor: z.string(),
    isFallbackAdapter: z.boolean(),
  }).nullable().optional(),
  /**
   * The trainer's: its Worker may take the next run (a sweep's next trial), so a WebGPU device is
   * kept when the run ends cleanly, for that run to train on; it is let go of on `Release` (the
   * Worker is about to be terminated instead) or at a run's end that keeps none.
   */
  keepDevice: z.boolean().optional(),
  /**
   * The trainer's: someone judges each epoch end as it is recorded (`TrainOptions.epochGate`, a
   * sweep's pruner), and the run must not train past it before the judgement: the trainer waits
   * at each epoch end, but the last, for `EpochCleared` (or a `Stop`, which ends the run there).
   */
  epochGate: z.boolean().optional(),
  /**
   * Test-only fault injection at the point `at`: throw, stall, `delay` (go on after `ms`, as a
   * thread that lost its core), `touch` (try to read or write `path`, then throw with what
   * happened: a permission error, or that it was allowed), or `emit` (send `event` to the
   * supervisor as one of the run's events, then go on: a malformed one it cannot take), or
   * `silent` (the supervisor drops every message of the actor's first Worker, as if its modules
   * never loaded, and starts another beside it after `ms` instead of its usual wait).
   */
  fault: z.union([
    z.object({ kind: z.enum(["throw", "stall"]), at: z.string() }),
    z.object({ kind: z.literal("emit"), at: z.string(), event: z.record(z.string(), z.unknown()) }),
    z.object({ kind: z.literal("delay"), at: z.string(), ms: z.number().nonnegative() }),
    z.object({ kind: z.literal("silent"), at: z.literal("worker"), ms: z.number().positive() }),
    z.object({
      kind: z.literal("touch"),
      at: z.string(),
      path: z.string(),
      access: z.enum(["read", "write"]),
    }),
  ]).optional(),
});

/**
 * Supervisor -> actor: finish now. `interrupted`: the user interrupted the run (a signal), which
 * will be resumed: the trainer ends it without restoring the best weights or a test pass.
 */
export const StopSchema = z.object({
  type: z.literal("Stop"),
  reason: z.string(),
  interrupted: z.boolean().optional(),
});

/**
 * Supervisor -> trainer, once a run: its first checkpoint (`last.ckpt` of the end of `epoch`) is
 * on disk (synced and renamed into place). The trainer waits for it at its first epoch end.
 */
export const CheckpointWrittenSchema = z.object({
  type: z.literal("CheckpointWritten"),
  epoch: z.number().int(),
});

/**
 * Supervisor -> trainer, in a run with `Init.epochGate`: the epoch end of `epoch` was judged and
 * the run goes on (a judgement that ends it sends `Stop` first).
 */
export const EpochClearedSchema = z.object({
  type: z.literal("EpochCleared"),
  epoch: z.number().int(),
});

/** Supervisor -> actor: are you alive? */
export const PingSchema = z.object({ type: z.literal("Ping") });

/** Everything the trainer receives from its peers. */
export const TrainerInboxSchema = z.discriminatedUnion("type", [
  DatasetReadySchema,
  BatchReadySchema,
  BatchGroupSchema,
  LrPlannedSchema,
  ScheduleAdvancedSchema,
  ScheduleStateSchema,
  EpochJudgedSchema,
  EpochObservedSchema,
  ClipStateSchema,
  NonFiniteHandledSchema,
  StepsJudgedSchema,
]);
export type TrainerInbox = z.infer<typeof TrainerInboxSchema>;

/** Everything the supervisor receives from actors. */
export const SupervisorInboxSchema = z.discriminatedUnion("type", [
  ActorEventSchema,
  ActorErrorSchema,
  ActorDoneSchema,
  ActorHeartbeatSchema,
  ActorCheckpointSchema,
]);
export type SupervisorInbox = z.infer<typeof SupervisorInboxSchema>;

export type DatasetReady = z.infer<typeof DatasetReadySchema>;
export type BatchReady = z.infer<typeof BatchReadySchema>;
export type BatchGroup = z.infer<typeof BatchGroupSchema>;
export type GrantCredits = z.infer<typeof GrantCreditsSchema>;
export type SendSplit = z.infer<typeof SendSplitSchema>;
export type StartEpoch = z.infer<typeof StartEpochSchema>;
export type LrPlanned = z.infer<typeof LrPlannedSchema>;
export type StepsTaken = z.infer<typeof StepsTakenSchema>;
export type EpochEnded = z.infer<typeof EpochEndedSchema>;
export type ScheduleAdvanced = z.infer<typeof ScheduleAdvancedSchema>;
export type ScaleLearningRate = z.infer<typeof ScaleLearningRateSchema>;
export type ScheduleState = z.infer<typeof ScheduleStateSchema>;
export type EpochJudged = z.infer<typeof EpochJudgedSchema>;
export type StepsObserved = z.infer<typeof StepsObservedSchema>;
export type StepsJudged = z.infer<typeof StepsJudgedSchema>;
export type EpochObserved = z.infer<typeof EpochObservedSchema>;
export type ClipState = z.infer<typeof ClipStateSchema>;
export type RolledBack = z.infer<typeof RolledBackSchema>;
export type NonFiniteHandled = z.infer<typeof NonFiniteHandledSchema>;
export type ActorEvent = z.infer<typeof ActorEventSchema>;
export type ActorError = z.infer<typeof ActorErrorSchema>;
export type ActorCheckpoint = z.infer<typeof ActorCheckpointSchema>;
export type Init = z.infer<typeof InitSchema>;
export type Stop = z.infer<typeof StopSchema>;
export type CheckpointWritten = z.infer<typeof CheckpointWrittenSchema>;
export type EpochCleared = z.infer<typeof EpochClearedSchema>;
