/**
 * Optuna's MedianPruner (a PercentilePruner at 50): prune a trial whose best intermediate value
 * so far is worse than the median of the completed trials' values at the same step. Defaults as
 * Optuna: 5 startup trials, no warm-up steps, checked at every step, at least 1 trial to compare.
 *
 * @module
 */
import { lastStep, type Pruner, show } from "./types.ts";

/** Median-pruner settings. */
export interface MedianPrunerOptions {
  /** Completed trials needed before any trial is pruned (5). */
  nStartupTrials: number;
  /** Steps before which a trial is not pruned (0). */
  nWarmupSteps: number;
  /** Steps between pruning checks after the warm-up (1). */
  intervalSteps: number;
  /** Completed trials with a value at the step needed to judge a trial there (1). */
  nMinTrials: number;
}

/** numpy's default (linear) percentile of `values`, q in [0, 100]. */
export function percentile(values: number[], q: number): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const rank = (q / 100) * (sorted.length - 1);
  const lower = Math.floor(rank);
  const upper = Math.min(lower + 1, sorted.length - 1);
  // (a rank on a value is that value: interpolated toward an infinite neighbour it was 0 * Infinity,
  // NaN, so a completed trial's Infinity at the step made the median of [1, 2, Infinity] NaN, and
  // the median pruner pruned nothing there)
  if (rank === lower || sorted[upper] === sorted[lower]) return sorted[lower];
  return sorted[lower] + (rank - lower) * (sorted[upper] - sorted[lower]);
}

/** Whether `step` is the first report at or after the latest pruning checkpoint. */
function firstInInterval(step: number, steps: Iterable<number>, warmup: number, interval: number) {
  const checkpoint = Math.floor((step - warmup) / interval) * interval + warmup;
  let previous = -1;
  for (const s of steps) if (s < step && s > previous) previous = s;
  return previous < checkpoint;
}

/**
 * The median pruner.
 *
 * @example
 * ```ts
 * import { medianPruner } from "./median.ts";
 * const done = [1, 2, 3, 4, 5].map((id) => ({
 *   id, state: "COMPLETE" as const, intermediate: new Map([[0, id]]),
 * }));
 * const bad = { id: 9, intermediate: new Map([[0, 10]]) };
 * console.assert(medianPruner().shouldPrune(bad, done, "minimize").prune);
 * ```
 */
export function medianPruner(options: Partial<MedianPrunerOptions> = {}): Pruner {
  const o = { nStartupTrials: 5, nWarmupSteps: 0, intervalSteps: 1, nMinTrials: 1, ...options };
  return {
    name: "median",
    shouldPrune(trial, others, direction) {
      const step = lastStep(trial);
      if (step === undefined || step < o.nWarmupSteps) return { prune: false };
      if (!firstInInterval(step, trial.intermediate.keys(), o.nWarmupSteps, o.intervalSteps)) {
        return { prune: false };
      }
      const completed = others.filter((t) => t.state === "COMPLETE" && t.id !== trial.id);
      if (completed.length === 0 || completed.length < o.nStartupTrials) return { prune: false };
      const values = [...trial.intermediate.values()].filter((v) => !Number.isNaN(v));
      if (values.length === 0) {
        return { prune: true, reason: `NaN intermediate value at step ${step}` };
      }
      const best = direction === "minimize" ? Math.min(...values) : Math.max(...values);
      const atStep = completed.filter((t) => t.intermediate.has(step))
        .map((t) => t.intermediate.get(step)!);
      if (atStep.length < o.nMinTrials) return { prune: false };
      const median = percentile(atStep, 50);
      if (Number.isNaN(median)) return { prune: false };
      const worse = direction === "minimize" ? best > median : best < median;
      return worse
        ? {
          prune: true,
          reason: `best value ${show(best)} is worse than the median ${
            show(median)
          } of ${atStep.length} completed trials at step ${step}`,
        }
        : { prune: false };
    },
  };
}
