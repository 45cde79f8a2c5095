/**
 * `createSchedule`: a spec as a user writes it (validated here) and a base learning rate in, a
 * pure `t -> lr` (and, for one-cycle and cyclic, `t -> momentum`) out. The schedules themselves
 * are built in closed_form.ts, which takes a resolved spec.
 *
 * @module
 */

import { parseSchedulerSpec } from "./parse.ts";
import type { SchedulerSpec } from "./spec.ts";
import { checkBaseLr, resolvedSchedule, type Schedule } from "./closed_form.ts";

export type { Schedule } from "./closed_form.ts";

/**
 * Builds the schedule of `spec` (validated here; see `parseSchedulerSpec` for the errors) for
 * an optimizer whose learning rate is `baseLr`. `plateau` depends on metrics, not on `t`: use
 * `initPlateau`/`stepPlateau` for it.
 *
 * @example
 * ```ts
 * import { createSchedule } from "./schedule.ts";
 * const schedule = createSchedule({ name: "step", stepSize: 10, gamma: 0.5 }, 0.1);
 * console.assert(schedule.lrAt(0) === 0.1 && schedule.lrAt(10) === 0.05);
 * console.assert(schedule.interval === "step" && schedule.momentumAt === undefined);
 * ```
 */
export function createSchedule(spec: SchedulerSpec, baseLr: number): Schedule {
  checkBaseLr((spec as { name?: unknown } | null)?.name, baseLr);
  return resolvedSchedule(parseSchedulerSpec(spec), baseLr);
}
