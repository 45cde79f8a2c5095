/**
 * A pruner by its name: what a config's `sweep.pruner` and `optimize`'s `pruner` name, built in
 * one place for both. Each caller gives its own defaults: a sweep counts resources in epochs
 * (hyperband's `maxResource` is the trials' epochs), `optimize` in the steps its objective reports.
 *
 * @module
 */
import { AnnealError } from "../../errors.ts";
import { type AshaOptions, ashaPruner } from "./asha.ts";
import { type HyperbandOptions, hyperbandPruner } from "./hyperband.ts";
import { medianPruner, type MedianPrunerOptions } from "./median.ts";
import { nopPruner, type Pruner, type PrunerName } from "./types.ts";

/** The settings of any pruner by name; each pruner reads its own (see {@linkcode PRUNER_OPTIONS}). */
export type PrunerSettings = Partial<
  MedianPrunerOptions & Omit<AshaOptions, "peers"> & HyperbandOptions
>;

/** The settings each pruner takes, by name. */
export const PRUNER_OPTIONS: Readonly<Record<PrunerName, readonly (keyof PrunerSettings)[]>> = {
  none: [],
  median: ["nStartupTrials", "nWarmupSteps", "intervalSteps", "nMinTrials"],
  asha: ["minResource", "reductionFactor", "minEarlyStoppingRate"],
  hyperband: ["minResource", "maxResource", "reductionFactor"],
};

/** Those of `settings` that the pruner `name` takes, leaving out any set to undefined. */
function own(name: PrunerName, settings: PrunerSettings): PrunerSettings {
  const taken: PrunerSettings = {};
  for (const key of PRUNER_OPTIONS[name]) {
    if (settings[key] !== undefined) taken[key] = settings[key];
  }
  return taken;
}

/**
 * The pruner named `name`, with `options` over the caller's `defaults` (each pruner's own
 * defaults, Optuna's, under both). Hyperband needs a `maxResource` > 0 from one or the other;
 * a caller that takes it from its user checks it first, to say where it goes.
 *
 * @example
 * ```ts
 * import { prunerNamed } from "./named.ts";
 * // a sweep's hyperband: resources are epochs, 27 of them
 * const pruner = prunerNamed("hyperband", {}, { maxResource: 27, minResource: 1 });
 * console.assert(pruner.name === "hyperband");
 * ```
 */
export function prunerNamed(
  name: PrunerName,
  options: PrunerSettings = {},
  defaults: PrunerSettings = {},
): Pruner {
  const o = { ...own(name, defaults), ...own(name, options) };
  switch (name) {
    case "none":
      return nopPruner();
    case "median":
      return medianPruner(o);
    case "asha":
      return ashaPruner(o);
    case "hyperband": {
      const max = o.maxResource;
      if (typeof max !== "number" || !(max > 0)) {
        throw new AnnealError(
          "usage",
          `The hyperband pruner needs a maxResource > 0, current value is ${
            JSON.stringify(max) ?? "undefined"
          }`,
          { where: "maxResource", hint: "give the last step its trials report, e.g. 27" },
        );
      }
      return hyperbandPruner({ ...o, maxResource: max });
    }
  }
}
