/**
 * Quasi-random search with a scrambled Halton sequence. Halton rather than Sobol: it needs no
 * table of direction numbers, works for any number of dimensions and any number of trials (Sobol
 * is balanced only at powers of two), and point `index` is a closed form of `index`, so workers
 * need no shared state. Plain Halton points are strongly correlated in high bases; scrambling
 * every digit with a seeded random permutation (one per dimension and digit position) removes
 * that while keeping the low discrepancy. Each path of the space has its own dimension, which a
 * conditional path leaves unused in the trials that do not draw it, and its own prime base.
 *
 * @module
 */
import { Rng, seedFrom } from "../../data/rng.ts";
import { fromUnit, type Params } from "../space.ts";
import { drawOrder, inSpaceOrder, isDrawn } from "../conditions.ts";
import type { Sampler } from "./types.ts";

/** The first primes, one a dimension: grown as a space of more paths asks for more. */
const PRIMES = [2, 3];

/**
 * The base of `dimension`: its own prime. (Past 25 dimensions the bases were taken again from the
 * start, scrambled anew, but a base's scrambles differ by a permutation of each digit only: in base
 * 2, dimension 25 was dimension 0 with some bits flipped, and their 64 first points fell in 8 of
 * the 64 cells of an 8x8 grid.)
 */
function primeOf(dimension: number): number {
  for (let candidate = PRIMES.at(-1)! + 2; PRIMES.length <= dimension; candidate += 2) {
    if (PRIMES.every((p) => p * p > candidate || candidate % p !== 0)) PRIMES.push(candidate);
  }
  return PRIMES[dimension];
}

function permutation(size: number, rng: Rng): number[] {
  const p = Array.from({ length: size }, (_, i) => i);
  for (let i = size - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/** Point `index` of dimension `dimension` of the scrambled Halton sequence seeded by `seed`. */
export function scrambledHalton(index: number, dimension: number, seed: number): number {
  const base = primeOf(dimension);
  // (seed * 7919 + dimension keeps the sequences of the studies stored so far; past 2^53, where it
  // threw "Cannot derive a seed" at every trial of a sweep.seed above ~1.1e12, the two are mixed
  // by seedFrom)
  const scramble = seed * 7919 + dimension;
  const rng = new Rng(Number.isSafeInteger(scramble) ? scramble : seedFrom(seed, dimension));
  const digits = Math.ceil(52 / Math.log2(base));
  let value = 0;
  let scale = 1 / base;
  let rest = index;
  for (let k = 0; k < digits; k++) {
    value += permutation(base, rng)[rest % base] * scale;
    rest = Math.floor(rest / base);
    scale /= base;
  }
  return Math.min(value, 1 - Number.EPSILON);
}

/**
 * The quasi-random sampler; `context.index` (default: the history's length) picks the point.
 *
 * @example
 * ```ts
 * import { quasiRandomSampler } from "./quasi_random.ts";
 * import { Rng } from "../../data/rng.ts";
 * const space = { "optimizer.lr": { type: "logUniform" as const, low: 1e-4, high: 1e-1 } };
 * const sampler = quasiRandomSampler({ seed: 3 });
 * const a = sampler.sample(space, [], new Rng(0), { index: 5 });
 * const b = sampler.sample(space, [], new Rng(9), { index: 5 });
 * console.assert(a["optimizer.lr"] === b["optimizer.lr"]);
 * ```
 */
export function quasiRandomSampler(options: { seed?: number } = {}): Sampler {
  const seed = options.seed ?? 0;
  return {
    name: "quasiRandom",
    sample(space, history, _rng, context = {}) {
      const index = context.index ?? history.length;
      const params: Params = {};
      // (each path keeps its dimension, drawn or not: a conditional one skips its own only)
      const dimensions = Object.keys(space);
      for (const path of drawOrder(space)) {
        if (!isDrawn(space, path, params)) continue;
        const u = scrambledHalton(index, dimensions.indexOf(path), seed);
        params[path] = fromUnit(space[path], u);
      }
      return inSpaceOrder(space, params);
    },
  };
}
