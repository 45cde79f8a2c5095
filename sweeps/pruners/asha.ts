/**
 * Asynchronous successive halving (Optuna's SuccessiveHalvingPruner): rungs at
 * `minResource * reductionFactor ** (minEarlyStoppingRate + r)` steps; a trial reaching a rung
 * continues only while its value there is in the top 1 / reductionFactor of every trial that
 * reached the rung (while fewer than `reductionFactor` trials did, only the best continues, as in
 * Optuna, which cannot pause trials). A trial's value at a rung is its first report at or after
 * the rung's step, so the decision needs no stored state. A trial is judged at a rung once, at the
 * report that reaches it, as Optuna records a trial's rungs: a rung it passed stays passed, though
 * trials that reach it later (running beside it) do better there.
 *
 * @module
 */
import { lastStep, type Pruner, type PrunerTrial, show } from "./types.ts";

/** Successive-halving settings. */
export interface AshaOptions {
  /** The step of the first rung, before `minEarlyStoppingRate` (1). */
  minResource: number;
  /** Each rung's step is this many times the last's, and 1 / this of a rung's trials go on (3). */
  reductionFactor: number;
  /** The rungs' first exponent: the first rung is at minResource * reductionFactor ** this (0). */
  minEarlyStoppingRate: number;
  /** Only trials for which this holds compete (hyperband's brackets); all when absent. */
  peers?: (trial: PrunerTrial) => boolean;
}

/** The value of `trial` at the rung whose step is `rungStep`, or undefined if not reached. */
export function rungValue(trial: PrunerTrial, rungStep: number): number | undefined {
  let first: number | undefined;
  for (const step of trial.intermediate.keys()) {
    if (step >= rungStep && (first === undefined || step < first)) first = step;
  }
  return first === undefined ? undefined : trial.intermediate.get(first);
}

/**
 * The successive-halving pruner.
 *
 * @example
 * ```ts
 * import { ashaPruner } from "./asha.ts";
 * const others = [1, 2, 3].map((v) => ({ id: v, intermediate: new Map([[1, v]]) }));
 * const trial = { id: 9, intermediate: new Map([[1, 5]]) };
 * console.assert(ashaPruner().shouldPrune(trial, others, "minimize").prune);
 * ```
 */
export function ashaPruner(options: Partial<AshaOptions> = {}): Pruner {
  const o = { minResource: 1, reductionFactor: 3, minEarlyStoppingRate: 0, ...options };
  return {
    name: "asha",
    shouldPrune(trial, others, direction) {
      const step = lastStep(trial);
      if (step === undefined) return { prune: false };
      // The rungs reached before this report (the last one given, the map's last key) were
      // judged at the report that reached them: a report of an earlier step after a later one
      // reaches no rung beyond those (it took the largest step below the last step for the one
      // before, and judged rungs the trial had passed again, as Optuna's successive halving,
      // which keeps the rungs passed, does not).
      const reported = [...trial.intermediate.keys()];
      const current = reported.at(-1)!;
      let previous = -Infinity;
      for (const s of reported.slice(0, -1)) if (s > previous) previous = s;
      if (current <= previous) return { prune: false };
      const peers = others.filter((t) => t.id !== trial.id && (o.peers?.(t) ?? true));
      for (let rung = 0;; rung++) {
        const rungStep = o.minResource * o.reductionFactor ** (o.minEarlyStoppingRate + rung);
        if (step < rungStep) return { prune: false };
        if (rungStep <= previous) continue;
        const value = rungValue(trial, rungStep)!;
        if (Number.isNaN(value)) return { prune: true, reason: `NaN at rung ${rung}` };
        const competing = [value];
        for (const t of peers) {
          const v = rungValue(t, rungStep);
          if (v !== undefined && !Number.isNaN(v)) competing.push(v);
        }
        const keep = Math.max(Math.floor(competing.length / o.reductionFactor), 1);
        competing.sort((a, b) => (direction === "minimize" ? a - b : b - a));
        const threshold = competing[keep - 1];
        const promotable = direction === "minimize" ? value <= threshold : value >= threshold;
        if (!promotable) {
          return {
            prune: true,
            reason: `value ${
              show(value)
            } at rung ${rung} (step ${rungStep}) is outside the top ${keep} of ${competing.length} trials (threshold ${
              show(threshold)
            })`,
          };
        }
      }
    },
  };
}
