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
export type { RunEvent } from "./runtime/events.ts";
export {
  applyOverrides,
  ClippingSchema,
  configJsonSchema,
  EarlyStoppingSchema,
  loadConfig,
  parseConfig,
  RunConfigSchema,
} from "./config.ts";
export type { RunConfig, RunConfigInput } from "./config.ts";
export { AnnealError } from "./errors.ts";
export type { ErrorCode } from "./errors.ts";
export { createOptimizer, OptimizerSpecSchema } from "./optimizers/mod.ts";
export type { Optimizer, OptimizerSpec, OptimizerState } from "./optimizers/mod.ts";
export { AutoClip, clipGradNorm, clipGradValue } from "./optimizers/clipping.ts";
export { scaleLearningRate } from "./optimizers/scaling.ts";
export {
  createSchedule,
  initPlateau,
  previewSchedule,
  SchedulerSpecSchema,
  stepPlateau,
} from "./schedulers/mod.ts";
export type { PlateauState, Schedule, SchedulerSpec } from "./schedulers/mod.ts";
export { batchesPerEpoch, DataSpecSchema, epochOrder, loadData, makeBatch } from "./data/mod.ts";
export type { Dataset, DataSpec, LoadedData } from "./data/mod.ts";
export { buildModel, forward, lossFunction, ModelSpecSchema } from "./models/mod.ts";
export type { ModelSpec } from "./models/mod.ts";
export { selectBackend } from "./runtime/backend.ts";
export { TrainingEngine } from "./runtime/engine.ts";
export { loadCheckpoint } from "./runtime/checkpoint.ts";
export { findBatchSize } from "./runtime/batch_size.ts";
export type { BatchSizeResult, BatchSizeRow } from "./runtime/batch_size.ts";
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
export type { Diagnosis, Finding, PlotName, RunRecord, RunRow } from "./report/mod.ts";
export { checkRunId } from "./runtime/records.ts";
export { runSweep, runWorker, trialConfig } from "./runtime/sweep.ts";
export type { StudyDefinition, SweepOptions, SweepResult } from "./runtime/sweep.ts";
export { renderSweepReport } from "./report/sweep_html.ts";
export { SweepSpecSchema } from "./sweeps/spec.ts";
export type { SweepSpec, SweepSpecInput } from "./sweeps/spec.ts";
export type { Trial } from "./storage/types.ts";
export { openStorage } from "./storage/mod.ts";
export { lrFind, lrFindRecord, lrFindSvg } from "./runtime/lr_find.ts";
export type { LrFindOptions, LrFindResult } from "./runtime/lr_find.ts";
export { newRunId } from "./runtime/records.ts";
export { writeFileAtomic } from "./runtime/checkpoint.ts";
export { applyChange, tune } from "./runtime/tune.ts";
export type { TuneOptions, TuneResult, TuneStage } from "./runtime/tune.ts";
