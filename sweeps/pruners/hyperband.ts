/**
 * Hyperband (Optuna's HyperbandPruner): several successive-halving brackets, bracket s starting
 * its first rung at `minResource * reductionFactor ** s`, so some trials are judged early and
 * some late. A trial's bracket is a hash of its id weighted by each bracket's budget, and it
 * competes only with trials of its own bracket.
 *
 * @module
 */
import { ashaPruner } from "./asha.ts";
import type { Pruner, PrunerTrial } from "./types.ts";

/** Hyperband settings. */
export interface HyperbandOptions {
  /** The step of the first bracket's first rung (1). */
  minResource: number;
  /** The last step a trial reports; with the other two, it sets the number of brackets. */
  maxResource: number;
  /** Each rung's step is this many times the last's, and 1 / this of a rung's trials go on (3). */
  reductionFactor: number;
}

function hash(id: number): number {
  let h = Math.imul(id ^ 0x9e3779b9, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The bracket budgets (Optuna's trial allocation): bracket s gets ceil(n rf^(n-1-s) / (n-s)). */
export function bracketBudgets(o: HyperbandOptions): number[] {
  const n = Math.floor(
    Math.log(o.maxResource / o.minResource) / Math.log(o.reductionFactor) +
      1e-9,
  ) + 1;
  return Array.from(
    { length: n },
    (_, s) => Math.ceil((n * o.reductionFactor ** (n - 1 - s)) / (n - s)),
  );
}

/** The bracket of trial `id`. */
export function bracketOf(id: number, budgets: number[]): number {
  let slot = hash(id) % budgets.reduce((a, b) => a + b, 0);
  for (let s = 0; s < budgets.length; s++) {
    if (slot < budgets[s]) return s;
    slot -= budgets[s];
  }
  return budgets.length - 1;
}

/**
 * The hyperband pruner.
 *
 * @example
 * ```ts
 * import { hyperbandPruner } from "./hyperband.ts";
 * const pruner = hyperbandPruner({ maxResource: 27 });
 * const verdict = pruner.shouldPrune({ id: 1, intermediate: new Map([[1, 0.5]]) }, [], "minimize");
 * console.assert(verdict.prune === false);
 * ```
 */
export function hyperbandPruner(
  options: Partial<HyperbandOptions> & { maxResource: number },
): Pruner {
  const o = { minResource: 1, reductionFactor: 3, ...options };
  const budgets = bracketBudgets(o);
  const brackets = budgets.map((_, s) =>
    ashaPruner({
      minResource: o.minResource,
      reductionFactor: o.reductionFactor,
      minEarlyStoppingRate: s,
      peers: (t: PrunerTrial) => bracketOf(t.id, budgets) === s,
    })
  );
  return {
    name: "hyperband",
    shouldPrune(trial, others, direction) {
      const s = bracketOf(trial.id, budgets);
      const verdict = brackets[s].shouldPrune(trial, others, direction);
      return verdict.prune ? { prune: true, reason: `bracket ${s}: ${verdict.reason}` } : verdict;
    },
  };
}
