/**
 * anneal: an actor-based training runtime for TensorFlow.js on Deno, with PyTorch's
 * hyperparameter semantics. Train a config through five Worker actors (data loader, trainer,
 * scheduler, early stopper, clip monitor), read its event stream, or use the building blocks:
 * optimizers, schedules, clipping, data, models, the LR range test.
 *
 * @example Train the seed experiment and print its epochs
 * ```ts ignore
 * import { train } from "./mod.ts";
 * const run = train({ epochs: 5, backend: "cpu" });
 * for await (const event of run.events()) {
 *   if (event.type === "epoch") console.log(`Epoch ${event.epoch}: loss = ${event.metrics.loss}`);
 * }
 * console.log((await run.result).status);
 * ```
 *
 * @module
 */

export { train } from "./runtime/supervisor.ts";
export type { RunResult, TrainingRun, TrainOptions } from "./runtime/supervisor.ts";
export type { ActorName } from "./actors/protocol.ts";
export type { RunEvent } from "./runtime/events.ts";
export type {
  BackendEvent,
  ClipStatsEvent,
  ClosingError,
  EpochEvent,
  PlanEvent,
  RestoredEvent,
  ReturnedEvent,
  RunFinishedEvent,
  RunRefusedEvent,
  RunStartedEvent,
  StepsEvent,
  TestEvent,
  WarningEvent,
} from "./runtime/events.ts";
export {
  applyOverrides,
  ClippingSchema,
  configJsonSchema,
  configWarnings,
  EarlyStoppingSchema,
  loadConfig,
  parseConfig,
  RunConfigSchema,
} from "./config.ts";
export type { ConfigWarning, RunConfig, RunConfigInput } from "./config.ts";
export { AnnealError } from "./errors.ts";
export type { ErrorCode } from "./errors.ts";
export { createOptimizer, OptimizerSpecSchema } from "./optimizers/mod.ts";
export type {
  ClipResult,
  Optimizer,
  OptimizerName,
  OptimizerSpec,
  OptimizerState,
  ResolvedOptimizerSpec,
  SavedTensor,
  ScaledLearningRate,
} from "./optimizers/mod.ts";
export { AutoClip, clipGradNorm, clipGradValue } from "./optimizers/clipping.ts";
export { type BatchScaling, batchScalingOf, scaleLearningRate } from "./optimizers/scaling.ts";
export {
  createSchedule,
  initPlateau,
  previewSchedule,
  SchedulerSpecSchema,
  stepPlateau,
} from "./schedulers/mod.ts";
export type {
  PlateauSpec,
  PlateauSpecInput,
  PlateauState,
  ResolvedSchedulerSpec,
  Schedule,
  SchedulePreview,
  SchedulerSpec,
  SpecOf,
} from "./schedulers/mod.ts";
export { batchesPerEpoch, DataSpecSchema, epochOrder, loadData, makeBatch } from "./data/mod.ts";
export type {
  AugmentSpec,
  Batch,
  Dataset,
  DataSpec,
  DataWarning,
  EpochOrderOptions,
  LoadedData,
  Normalization,
  Task,
} from "./data/mod.ts";
export { buildModel, forward, lossFunction, ModelSpecSchema } from "./models/mod.ts";
export type { LossFunction, LossName, ModelShape, ModelSpec, Reduction } from "./models/mod.ts";
export { selectBackend } from "./runtime/backend.ts";
export type { AdapterInfo, BackendRequest, BackendSelection } from "./runtime/backend.ts";
export { floatBatch } from "./runtime/engine.ts";
export { TrainingEngine } from "./runtime/checked_engine.ts";
export type {
  HostBatch,
  HostByteBatch,
  PendingStep,
  StepTensors,
  StepValues,
} from "./runtime/engine.ts";
export { loadCheckpoint } from "./runtime/checkpoint.ts";
export type { CheckpointState, WeightMap } from "./runtime/checkpoint.ts";
export { findBatchSize } from "./runtime/batch_size.ts";
export type { BatchSizeOptions, BatchSizeResult, BatchSizeRow } from "./runtime/batch_size.ts";
export {
  compareRuns,
  diagnose,
  formatDiagnosis,
  formatTable,
  listRuns,
  PLOTS,
  plotSvg,
  readRun,
  renderReport,
  terminalCharts,
} from "./report/mod.ts";
export type {
  Diagnosis,
  EpochRecord,
  Finding,
  FindingKind,
  LrFindRecord,
  PlotName,
  RunComparison,
  RunConfigRecord,
  RunMeta,
  RunRecord,
  RunRow,
  RunStatus,
  RunSummary,
  StepRecord,
} from "./report/mod.ts";
export { checkRunId } from "./runtime/records.ts";
export { runSweep, runWorker, sweepDirection, trialConfig } from "./runtime/sweep.ts";
export type {
  StudyDefinition,
  SweepDirection,
  SweepOptions,
  SweepResult,
  WorkerOptions,
} from "./runtime/sweep.ts";
export type { TrialRunStart } from "./runtime/trial_run.ts";
export type { StudyResult } from "./sweeps/study.ts";
export { optimize } from "./sweeps/optimize.ts";
export type {
  ObjectiveTrial,
  OptimizeOptions,
  PrunerName,
  SamplerName,
  UserObjective,
} from "./sweeps/optimize.ts";
export type { SearchSpaceInput } from "./sweeps/space.ts";
export type { TpeOptions } from "./sweeps/samplers/tpe.ts";
export type { MedianPrunerOptions } from "./sweeps/pruners/median.ts";
export type { AshaOptions } from "./sweeps/pruners/asha.ts";
export type { HyperbandOptions } from "./sweeps/pruners/hyperband.ts";
export type { Params, ParamValue } from "./sweeps/space.ts";
export { renderSweepReport } from "./report/sweep_html.ts";
export type { SweepTrialRow } from "./report/sweep_html.ts";
export { SweepSpecSchema } from "./sweeps/spec.ts";
export type { SweepSpec, SweepSpecInput } from "./sweeps/spec.ts";
export type {
  CreateStudyOptions,
  CreateTrialOptions,
  Direction,
  OpenStorageOptions,
  ReapResult,
  Study,
  StudyStorage,
  Trial,
  TrialParams,
  TrialState,
} from "./storage/types.ts";
export { openStorage } from "./storage/mod.ts";
export { lrFind, lrFindRecord, lrFindSvg } from "./runtime/lr_find.ts";
export { recordLrFind } from "./runtime/lr_find_run.ts";
export type { RecordedLrFind, RecordLrFindOptions } from "./runtime/lr_find_run.ts";
export type {
  Agreement,
  LrCurve,
  LrFindOptions,
  LrFindResult,
  LrSuggestions,
  SuggestionRule,
} from "./runtime/lr_find.ts";
export { newRunId } from "./runtime/records.ts";
export { writeFileAtomic } from "./runtime/checkpoint.ts";
export { applyChange, DEFAULT_MIN_IMPROVEMENT, tune } from "./runtime/tune.ts";
export type { Change, TuneOptions, TuneResult, TuneStage } from "./runtime/tune.ts";
export type { TuneRecord, UnfinishedTune } from "./runtime/tune_record.ts";

// Types the signatures above name, exported so that users can name them too (and the lists of
// names that PrunerName, SamplerName and ActorName are made of).
export type { DataShape } from "./runtime/engine.ts";
export type { LoadOptions } from "./data/load_resolved.ts";
export type { Rows } from "./data/split.ts";
export type { BackendOptions } from "./runtime/backend.ts";
export type { CreateOptimizerOptions } from "./optimizers/core.ts";
export type { Liveness, LivenessProbe, RunProcess } from "./runtime/liveness.ts";
export type { TrialParamValue } from "./storage/types.ts";
export type { PrunerTrial } from "./sweeps/pruners/types.ts";
export { PRUNER_NAMES } from "./sweeps/pruners/types.ts";
export { SAMPLER_NAMES } from "./sweeps/samplers/named.ts";
export { ACTOR_NAMES } from "./actors/actor_names.ts";
