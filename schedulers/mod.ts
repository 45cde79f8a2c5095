/**
 * Learning-rate schedules with PyTorch's semantics, computed in closed form from the step
 * count: pure functions, no tfjs, no I/O, no clocks.
 *
 * @example
 * ```ts
 * import { createSchedule, previewSchedule } from "./mod.ts";
 * const warmupCosine = createSchedule({
 *   name: "sequential",
 *   schedulers: [{ name: "linear", startFactor: 0.1, totalIters: 10 }, { name: "cosine", tMax: 90 }],
 *   milestones: [10],
 * }, 0.1);
 * console.assert(Math.abs(warmupCosine.lrAt(0) - 0.01) < 1e-12 && warmupCosine.lrAt(10) === 0.1);
 * console.assert(previewSchedule({ name: "constant" }, 0.1, 3).lr.length === 3);
 * ```
 *
 * @module
 */

export {
  type ChildSchedulerSpec,
  type PlateauSpec,
  type ResolvedSchedulerSpec,
  type SchedulerSpec,
  SchedulerSpecSchema,
  type SpecOf,
} from "./spec.ts";
export { parseSchedulerSpec } from "./parse.ts";
export { createSchedule, type Schedule } from "./schedule.ts";
export { initPlateau, type PlateauSpecInput, type PlateauState, stepPlateau } from "./plateau.ts";
export { previewSchedule, type SchedulePreview } from "./preview.ts";
