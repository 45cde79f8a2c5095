/**
 * `previewSchedule`: the first `steps` learning rates (and momenta) of any schedule, for
 * `anneal schedule`, plots and tests.
 *
 * @module
 */

import { AnnealError } from "../errors.ts";
import { parseSchedulerSpec } from "./parse.ts";
import { initPlateau, stepPlateau } from "./plateau.ts";
import { createSchedule } from "./schedule.ts";
import type { PlateauSpec, SchedulerSpec } from "./spec.ts";

/** Learning rates (and momenta, for momentum-cycling schedules) at `t = 0 .. steps - 1`. */
export interface SchedulePreview {
  /** Learning rate at each step. */
  lr: number[];
  /** Momentum (or Adam's beta1) at each step, for schedules that cycle it (onecycle). */
  momentum?: number[];
}

/**
 * The most steps {@linkcode previewSchedule} lists: 10 million rates (and momenta) are ~160 MB;
 * a billion was JavaScript's "Invalid array length".
 */
export const MAX_PREVIEW_STEPS = 10_000_000;

/**
 * Lists `lrAt(t)` for `t = 0 .. steps - 1`. For `plateau`, `metrics[i]` is the metric observed
 * after step `i`, so `lr[i + 1]` reflects it: `steps - 1` metrics are needed (more are ignored).
 *
 * @example
 * ```ts
 * import { previewSchedule } from "./preview.ts";
 * const { lr } = previewSchedule({ name: "exponential", gamma: 0.5 }, 1, 3);
 * console.assert(lr.join() === "1,0.5,0.25");
 * const plateau = previewSchedule({ name: "plateau", patience: 0 }, 1, 3, [1, 2]);
 * console.assert(plateau.lr.join() === "1,1,0.1");
 * ```
 */
export function previewSchedule(
  spec: SchedulerSpec,
  baseLr: number,
  steps: number,
  metrics?: number[],
): SchedulePreview {
  if (!Number.isInteger(steps) || steps < 0) {
    throw new AnnealError(
      "usage",
      `Cannot preview ${
        (spec as { name?: unknown } | null)?.name ?? "the"
      } schedule: 'steps' must be an integer >= 0, current value is ${steps}`,
      { where: "steps", hint: "pass how many steps to list" },
    );
  }
  if (steps > MAX_PREVIEW_STEPS) {
    throw new AnnealError(
      "usage",
      `Cannot preview ${
        (spec as { name?: unknown } | null)?.name ?? "the"
      } schedule: 'steps' is ${steps}, more than it lists (at most ${
        MAX_PREVIEW_STEPS.toLocaleString("en")
      })`,
      { where: "steps", hint: "preview the first steps, or read one step's rate with lrAt" },
    );
  }
  const resolved = parseSchedulerSpec(spec);
  if (resolved.name === "plateau") return previewPlateau(resolved, baseLr, steps, metrics);
  const schedule = createSchedule(resolved, baseLr);
  const times = Array.from({ length: steps }, (_, t) => t);
  const lr = times.map((t) => schedule.lrAt(t));
  const momentumAt = schedule.momentumAt;
  return momentumAt ? { lr, momentum: times.map((t) => momentumAt(t)) } : { lr };
}

function previewPlateau(
  spec: PlateauSpec,
  baseLr: number,
  steps: number,
  metrics: number[] | undefined,
): SchedulePreview {
  const needed = Math.max(0, steps - 1);
  // (JSON from the command line: an object, or a string among the numbers, would step the
  // schedule on undefined and "x", which compare as no metric does)
  if (metrics !== undefined && !Array.isArray(metrics)) {
    throw new AnnealError(
      "usage",
      `Cannot preview plateau schedule: 'metrics' must be an array of numbers, current value is ${
        JSON.stringify(metrics)
      }`,
      { where: "metrics", hint: "pass one metric per step as a JSON array, e.g. [1, 0.9, 0.9]" },
    );
  }
  const bad = metrics?.slice(0, needed).findIndex((value) => !Number.isFinite(value)) ?? -1;
  if (bad >= 0) {
    throw new AnnealError(
      "usage",
      `Cannot preview plateau schedule: 'metrics[${bad}]' must be a finite number, current ` +
        // (1e400 reads as Infinity, which JSON.stringify would print as null)
        `value is ${
          typeof metrics![bad] === "number" ? String(metrics![bad]) : JSON.stringify(metrics![bad])
        }`,
      { where: `metrics[${bad}]`, hint: "pass one metric per step as numbers, e.g. [1, 0.9, 0.9]" },
    );
  }
  if (!metrics || metrics.length < needed) {
    throw new AnnealError(
      "usage",
      `Cannot preview plateau schedule: 'metrics' must have at least ${needed} values (one per step after the first), current length is ${
        metrics?.length ?? 0
      }`,
      { where: "metrics", hint: "pass one metric per step, e.g. the validation losses" },
    );
  }
  let state = initPlateau(spec, baseLr);
  const lr = steps > 0 ? [state.lr] : [];
  for (let i = 0; i < needed; i++) {
    state = stepPlateau(spec, state, metrics[i]);
    lr.push(state.lr);
  }
  return { lr };
}
