/**
 * The tree-structured Parzen estimator (Bergstra et al. 2011) with Optuna's defaults: 10 random
 * startup trials, 24 expected-improvement candidates, gamma(n) = min(ceil(0.1 n), 25), prior
 * weight 1, no endpoint sigmas, the magic clip, and Optuna's default weights (flat for the last 25
 * trials, a linear ramp before them). Each parameter is modelled on its own (Optuna's default,
 * `multivariate = false`): the best gamma(n) trials build a mixture l(x), the rest g(x), and the
 * candidate drawn from l(x) with the largest log l(x) - log g(x) wins.
 *
 * Numbers live in the internal space of `space.ts` (log space for log distributions); categorical
 * parameters (`choice`, `grid`, whose values may be whole sections, compared by their JSON) use
 * Optuna's smoothed counts: each of the n observations' kernels puts `priorWeight / (n + 1)` on
 * every one of the k values and 1 more on its own, normalised, beside a uniform prior kernel.
 *
 * Pruned trials join the good group as Optuna's do: where fewer than gamma(n) trials completed,
 * those that got furthest (their last step, then their value there) make up the rest of it.
 *
 * Simplified against Optuna: integers are a continuous truncated normal on the range widened by
 * half a step each side, rounded afterwards (Optuna uses a discretised kernel).
 *
 * A conditional parameter (`when`, `sweeps/conditions.ts`) is drawn after the paths its condition
 * names, and only where it holds on the values drawn for them; as Optuna's independent TPE does
 * for a parameter that only some trials suggest, the trials are split into the best gamma(n) and
 * the rest over all of them, and each parameter's l(x) and g(x) are fitted on the trials of each
 * group that drew it (a group where none did gives the prior alone).
 *
 * @module
 */
import { fromInternal, internalRange, type Params, toInternal } from "../space.ts";
import { canonicalJson } from "../../zod_paths.ts";
import { sampleIndependent } from "./random.ts";
import { drawOrder, inSpaceOrder, isDrawn } from "../conditions.ts";
import type { FinishedTrial, RandomSource, Sampler } from "./types.ts";
import { type Mixture, mixtureLogPdf, numericMixture, sampleMixture } from "./parzen.ts";

/** TPE settings; every one defaults to Optuna's. */
export interface TpeOptions {
  /** Trials sampled at random before the estimator is used (10). */
  nStartupTrials: number;
  /** Candidates drawn from l(x) per parameter, the best of them by log l(x) - log g(x) kept (24). */
  nEiCandidates: number;
  /** How many of `n` trials make up the good group l(x) (min(ceil(0.1 n), 25)). */
  gamma: (n: number) => number;
  /** The weight of the prior kernel beside the observations' (1). */
  priorWeight: number;
  /** Whether the outermost kernels' widths count the distance to the range's ends (false). */
  considerEndpoints: boolean;
  /** Whether kernel widths are kept at least range / min(100, n + 2) (true). */
  considerMagicClip: boolean;
  /** The weights of `n` observations, oldest first ({@linkcode defaultWeights}). */
  weights: (n: number) => number[];
}

/** Optuna's default weights: 1 for the newest 25 observations, a ramp from 1/n before them. */
export function defaultWeights(n: number): number[] {
  if (n < 25) return new Array(n).fill(1);
  const ramp = n - 25;
  const weights = Array.from(
    { length: ramp },
    (_, i) => ramp === 1 ? 1 / n : 1 / n + (i * (1 - 1 / n)) / (ramp - 1),
  );
  return [...weights, ...new Array(25).fill(1)];
}

/** The trials TPE samples at random before it models them (Optuna's `n_startup_trials`). */
export const TPE_STARTUP_TRIALS = 10;

const DEFAULTS: TpeOptions = {
  nStartupTrials: TPE_STARTUP_TRIALS,
  nEiCandidates: 24,
  gamma: (n) => Math.min(Math.ceil(0.1 * n), 25),
  priorWeight: 1.0,
  considerEndpoints: false,
  considerMagicClip: true,
  weights: defaultWeights,
};

/**
 * How a pruned trial ranks among the pruned, as Optuna's TPE ranks them (smaller is better): the
 * later its last reported step, the better, and at the same step the better its value there (NaN
 * the worst); one that reported nothing comes last.
 */
function prunedRank(trial: FinishedTrial, sign: number): [number, number] {
  let last: number | undefined;
  for (const step of trial.intermediate?.keys() ?? []) {
    if (last === undefined || step > last) last = step;
  }
  if (last === undefined) return [1, 0];
  const value = trial.intermediate!.get(last)!;
  return [-last, Number.isNaN(value) ? Infinity : sign * value];
}

/**
 * Splits trials into the best gamma(n) and the rest, as Optuna does: the completed ones ranked by
 * value, then, where fewer than gamma(n) completed, the pruned ones that got furthest (their last
 * step, then their value there).
 */
export function splitTrials(
  history: FinishedTrial[],
  gamma: (n: number) => number,
  direction: "minimize" | "maximize",
): { below: FinishedTrial[]; above: FinishedTrial[] } {
  const complete = history.filter((t) =>
    t.state === "COMPLETE" && t.value !== null && Number.isFinite(t.value)
  );
  const pruned = history.filter((t) => t.state === "PRUNED");
  const sign = direction === "minimize" ? 1 : -1;
  const ranked = [...complete].sort((a, b) => sign * (a.value! - b.value!) || a.number - b.number);
  const ranks = new Map(pruned.map((t) => [t, prunedRank(t, sign)]));
  const rankedPruned = [...pruned].sort((a, b) => {
    const [x, y] = [ranks.get(a)!, ranks.get(b)!];
    return x[0] - y[0] || (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0) || a.number - b.number;
  });
  const nBelow = Math.max(0, Math.floor(gamma(complete.length + pruned.length)));
  const nComplete = Math.min(nBelow, ranked.length);
  const nPruned = Math.min(nBelow - nComplete, rankedPruned.length);
  const byNumber = (a: FinishedTrial, b: FinishedTrial) => a.number - b.number;
  return {
    below: [...ranked.slice(0, nComplete), ...rankedPruned.slice(0, nPruned)].sort(byNumber),
    above: [...ranked.slice(nComplete), ...rankedPruned.slice(nPruned)].sort(byNumber),
  };
}

/**
 * The Parzen estimator of a categorical parameter over `k` values, as Optuna builds it: one
 * kernel per observation and one for the prior, each spreading `priorWeight / kernels` over every
 * value and 1 more on its own (the prior's on none: uniform), normalised, and mixed by the
 * observations' weights and `priorWeight`.
 */
export function categoricalPmf(
  observed: number[],
  k: number,
  options: Pick<TpeOptions, "priorWeight" | "weights">,
): number[] {
  if (observed.length === 0) return new Array(k).fill(1 / k);
  const spread = options.priorWeight / (observed.length + 1);
  const mixture = [...options.weights(observed.length), options.priorWeight];
  const total = mixture.reduce((a, b) => a + b, 0);
  // the prior kernel: uniform
  const pmf = new Array<number>(k).fill(mixture.at(-1)! / total / k);
  observed.forEach((choice, i) => {
    const share = mixture[i] / total / (k * spread + 1);
    for (let c = 0; c < k; c++) pmf[c] += share * (spread + (c === choice ? 1 : 0));
  });
  return pmf;
}

function pickCategorical(pmf: number[], rng: RandomSource): number {
  let u = rng.float();
  for (let c = 0; c < pmf.length; c++) {
    u -= pmf[c];
    if (u < 0) return c;
  }
  return pmf.length - 1;
}

/**
 * The TPE sampler.
 *
 * @example
 * ```ts
 * import { tpeSampler } from "./tpe.ts";
 * import { Rng } from "../../data/rng.ts";
 * const space = { x: { type: "uniform" as const, low: -5, high: 5 } };
 * const history = Array.from({ length: 20 }, (_, i) => ({
 *   number: i, state: "COMPLETE" as const, params: { x: i / 2 - 5 }, value: (i / 2 - 5) ** 2,
 * }));
 * const next = tpeSampler().sample(space, history, new Rng(1));
 * console.assert(Math.abs(next.x as number) < 5);
 * ```
 */
export function tpeSampler(options: Partial<TpeOptions> = {}): Sampler {
  // (a setting given as undefined keeps its default, as a pruner's does: spread over it, an
  // nEiCandidates of undefined drew no candidate, and every trial after the start-up got NaN)
  const given = Object.entries(options).filter(([, value]) => value !== undefined);
  const o: TpeOptions = { ...DEFAULTS, ...Object.fromEntries(given) };
  return {
    name: "tpe",
    sample(space, history, rng, context = {}) {
      const usable = history.filter((t) =>
        t.state === "PRUNED" ||
        (t.state === "COMPLETE" && t.value !== null && Number.isFinite(t.value))
      );
      if (usable.length < o.nStartupTrials) return sampleIndependent(space, rng);
      const { below, above } = splitTrials(usable, o.gamma, context.direction ?? "minimize");
      const params: Params = {};
      for (const path of drawOrder(space)) {
        if (!isDrawn(space, path, params)) continue;
        const d = space[path];
        const has = (t: FinishedTrial) => Object.hasOwn(t.params, path);
        if (d.type === "choice" || d.type === "grid") {
          // (a section read back from storage may have its keys in another order)
          const keys = d.values.map(canonicalJson);
          const indexOf = (t: FinishedTrial) => keys.indexOf(canonicalJson(t.params[path]));
          const observe = (ts: FinishedTrial[]) =>
            ts.filter(has).map(indexOf).filter((i) => i >= 0);
          const l = categoricalPmf(observe(below), d.values.length, o);
          const g = categoricalPmf(observe(above), d.values.length, o);
          let best = -1, bestScore = -Infinity;
          for (let i = 0; i < o.nEiCandidates; i++) {
            const c = pickCategorical(l, rng);
            const score = Math.log(l[c]) - Math.log(g[c]);
            if (score > bestScore) [best, bestScore] = [c, score];
          }
          params[path] = d.values[best];
          continue;
        }
        const [low, high] = internalRange(d)!;
        const observe = (ts: FinishedTrial[]) =>
          ts.filter(has).map((t) => toInternal(d, t.params[path] as number));
        const settings = { low, high, ...o };
        const l: Mixture = numericMixture(observe(below), settings);
        const g: Mixture = numericMixture(observe(above), settings);
        let best = NaN, bestScore = -Infinity;
        for (let i = 0; i < o.nEiCandidates; i++) {
          const x = sampleMixture(l, low, high, rng);
          const score = mixtureLogPdf(l, x, low, high) - mixtureLogPdf(g, x, low, high);
          if (score > bestScore || Number.isNaN(best)) [best, bestScore] = [x, score];
        }
        params[path] = fromInternal(d, best);
      }
      return inSpaceOrder(space, params);
    },
  };
}
