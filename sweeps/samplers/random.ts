/**
 * Independent uniform sampling in each parameter's internal space (log-uniform for log
 * distributions), seeded by the `rng` it is given; a conditional parameter whose condition fails on
 * the values drawn before it is not drawn.
 *
 * @module
 */
import { fromUnit, type Params, type SearchSpace } from "../space.ts";
import { drawOrder, inSpaceOrder, isDrawn } from "../conditions.ts";
import type { RandomSource, Sampler } from "./types.ts";

/** Draws every parameter whose condition holds independently from `rng`. */
export function sampleIndependent(space: SearchSpace, rng: RandomSource): Params {
  const params: Params = {};
  for (const path of drawOrder(space)) {
    if (isDrawn(space, path, params)) params[path] = fromUnit(space[path], rng.float());
  }
  return inSpaceOrder(space, params);
}

/**
 * Random search.
 *
 * @example
 * ```ts
 * import { randomSampler } from "./random.ts";
 * import { Rng } from "../../data/rng.ts";
 * const space = { "optimizer.lr": { type: "logUniform" as const, low: 1e-4, high: 1e-1 } };
 * const params = randomSampler().sample(space, [], new Rng(1));
 * console.assert((params["optimizer.lr"] as number) >= 1e-4);
 * ```
 */
export function randomSampler(): Sampler {
  return { name: "random", sample: (space, _history, rng) => sampleIndependent(space, rng) };
}
