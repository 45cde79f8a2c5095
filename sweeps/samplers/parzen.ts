/**
 * A one-dimensional Parzen estimator: a weighted mixture of normals truncated to [low, high], one
 * per observation plus a wide prior kernel at the centre, with Optuna's bandwidth rule (each
 * kernel as wide as the larger gap to its sorted neighbours, clipped to [range / min(100, 1 + n),
 * range]).
 *
 * @module
 */
import type { RandomSource } from "./types.ts";

/** A truncated-normal mixture. */
export interface Mixture {
  mus: number[];
  sigmas: number[];
  /** Normalised to sum 1. */
  weights: number[];
}

/** Settings of {@linkcode numericMixture}. */
export interface ParzenSettings {
  low: number;
  high: number;
  priorWeight: number;
  considerEndpoints: boolean;
  considerMagicClip: boolean;
  weights: (n: number) => number[];
}

/** The complementary error function (Numerical Recipes' erfcc: relative error < 1.2e-7). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(
    -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
                  t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
                                  t * (-0.82215223 + t * 0.17087277)))))))),
  );
  return x >= 0 ? r : 2 - r;
}

/** The standard normal CDF. */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

/** Builds the mixture for `observations` (in the order of their trials) on [low, high]. */
export function numericMixture(observations: number[], s: ParzenSettings): Mixture {
  const range = s.high - s.low;
  const priorMu = 0.5 * (s.low + s.high);
  const n = observations.length;
  const withPrior = [...observations, priorMu];
  const order = withPrior.map((_, i) => i).sort((a, b) => withPrior[a] - withPrior[b]);
  const sorted = [s.low, ...order.map((i) => withPrior[i]), s.high];
  const sortedSigmas = order.map((_, j) =>
    Math.max(sorted[j + 1] - sorted[j], sorted[j + 2] - sorted[j + 1])
  );
  if (!s.considerEndpoints && sorted.length >= 4) {
    sortedSigmas[0] = sorted[2] - sorted[1];
    sortedSigmas[sortedSigmas.length - 1] = sorted.at(-2)! - sorted.at(-3)!;
  }
  const sigmas = new Array<number>(n + 1);
  order.forEach((i, j) => (sigmas[i] = sortedSigmas[j]));
  const minSigma = s.considerMagicClip ? range / Math.min(100, 1 + n + 1) : 1e-12;
  for (let i = 0; i < n; i++) sigmas[i] = Math.min(range, Math.max(minSigma, sigmas[i]));
  sigmas[n] = range;
  const raw = n === 0 ? [1] : [...s.weights(n), s.priorWeight];
  const total = raw.reduce((a, b) => a + b, 0);
  return {
    mus: n === 0 ? [priorMu] : withPrior,
    sigmas: n === 0 ? [range] : sigmas,
    weights: raw.map((w) => w / total),
  };
}

function standardNormal(rng: RandomSource): number {
  const u = Math.max(rng.float(), Number.MIN_VALUE);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.float());
}

/** Draws one point: a kernel by weight, then its truncated normal (by rejection). */
export function sampleMixture(m: Mixture, low: number, high: number, rng: RandomSource): number {
  let u = rng.float();
  let k = m.weights.length - 1;
  for (let i = 0; i < m.weights.length; i++) {
    u -= m.weights[i];
    if (u < 0) {
      k = i;
      break;
    }
  }
  // Every kernel's centre is inside [low, high] and its sigma at most the range, so at least
  // about a third of draws land inside; the clamp after 100 misses is a safety net only.
  for (let attempt = 0; attempt < 100; attempt++) {
    const x = m.mus[k] + m.sigmas[k] * standardNormal(rng);
    if (x >= low && x <= high) return x;
  }
  return Math.min(high, Math.max(low, m.mus[k]));
}

/** log of the mixture's density at `x`. */
export function mixtureLogPdf(m: Mixture, x: number, low: number, high: number): number {
  let density = 0;
  for (let i = 0; i < m.mus.length; i++) {
    const { [i]: mu } = m.mus, { [i]: sigma } = m.sigmas;
    const mass = normalCdf((high - mu) / sigma) - normalCdf((low - mu) / sigma);
    const z = (x - mu) / sigma;
    density += (m.weights[i] * Math.exp(-0.5 * z * z)) /
      (sigma * Math.sqrt(2 * Math.PI) * Math.max(mass, 1e-300));
  }
  return Math.log(Math.max(density, 1e-300));
}
