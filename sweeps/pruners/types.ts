/**
 * The pruner interface: `shouldPrune(trial, others, direction)` decides from the learning curves
 * alone (stateless), so any worker can judge any trial against every other trial in storage.
 *
 * @module
 */
import type { TrialState } from "../../storage/types.ts";
import { formatNumber } from "../../number_format.ts";

/** The pruners by name, as a config's `sweep.pruner` lists them. */
export const PRUNER_NAMES = ["none", "median", "asha", "hyperband"] as const;

/** A pruner's name. */
export type PrunerName = (typeof PRUNER_NAMES)[number];

/** A trial's learning curve as a pruner sees it. */
export interface PrunerTrial {
  /** The trial's id: a pruner skips the trial itself among `others`; hyperband's bracket hashes it. */
  id: number;
  /** Needed to tell COMPLETE trials apart (the median pruner compares with those only). */
  state?: TrialState;
  /** Intermediate values by step. */
  intermediate: Map<number, number>;
}

/** A pruner's verdict; `reason` says why when it prunes. */
export interface PruneDecision {
  prune: boolean;
  reason?: string;
}

/** Decides whether a running trial should stop early. */
export interface Pruner {
  readonly name: string;
  shouldPrune(
    trial: PrunerTrial,
    others: PrunerTrial[],
    direction: "minimize" | "maximize",
  ): PruneDecision;
}

/** A pruner that never prunes. */
export function nopPruner(): Pruner {
  return { name: "none", shouldPrune: () => ({ prune: false }) };
}

/** The largest reported step, or undefined before the first report. */
export function lastStep(trial: PrunerTrial): number | undefined {
  let last: number | undefined;
  for (const step of trial.intermediate.keys()) if (last === undefined || step > last) last = step;
  return last;
}

/** Formats a number for a reason string: a metric as every command prints one (a whole number as it is). */
export function show(value: number): string {
  return Number.isInteger(value) ? String(value) : formatNumber(value);
}
