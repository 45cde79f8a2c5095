/**
 * A sampler by its name: what a config's `sweep.sampler` and `optimize`'s `sampler` name.
 *
 * @module
 */

import { gridSampler } from "./grid.ts";
import { quasiRandomSampler } from "./quasi_random.ts";
import { randomSampler } from "./random.ts";
import { type TpeOptions, tpeSampler } from "./tpe.ts";
import type { Sampler } from "./types.ts";

/** The samplers by name, in the order a config's `sweep.sampler` lists them. */
export const SAMPLER_NAMES = ["grid", "random", "quasiRandom", "tpe"] as const;

/** A sampler's name. */
export type SamplerName = (typeof SAMPLER_NAMES)[number];

/**
 * The sampler named `name`: quasiRandom's sequence scrambled by `seed`, TPE with `tpe`'s settings.
 *
 * @example
 * ```ts
 * import { samplerNamed } from "./named.ts";
 * console.assert(typeof samplerNamed("tpe", { seed: 0 }).sample === "function");
 * ```
 */
export function samplerNamed(
  name: SamplerName,
  options: { seed: number; tpe?: Partial<TpeOptions> },
): Sampler {
  switch (name) {
    case "grid":
      return gridSampler();
    case "random":
      return randomSampler();
    case "quasiRandom":
      return quasiRandomSampler({ seed: options.seed });
    case "tpe":
      return tpeSampler(options.tpe);
  }
}
