/**
 * Per-variable settings: the learning-rate multiplier and weight decay of each variable, from
 * the spec's `paramGroups` (first match wins) and `noDecay` patterns; without `noDecay`,
 * variables of rank < 2 (biases, norm scales) get no weight decay. `noDecay: []` excludes
 * nothing (PyTorch's `AdamW(model.parameters())`).
 *
 * @module
 */

import type { ResolvedOptimizerSpec } from "./spec.ts";

/** The settings one variable is updated with. */
export interface ParamSettings {
  lrMultiplier: number;
  weightDecay: number;
}

/**
 * Resolves the settings of the variable `name` of rank `rank`. A group's explicit `weightDecay`
 * wins over the no-decay rules, which win over the optimizer's `weightDecay`.
 *
 * @example
 * ```ts
 * import { resolveParamSettings } from "./groups.ts";
 * const spec = { weightDecay: 0.1, paramGroups: [] };
 * console.assert(resolveParamSettings(spec, "dense/kernel", 2).weightDecay === 0.1);
 * console.assert(resolveParamSettings(spec, "dense/bias", 1).weightDecay === 0);
 * const everything = { ...spec, noDecay: [] };
 * console.assert(resolveParamSettings(everything, "dense/bias", 1).weightDecay === 0.1);
 * ```
 */
export function resolveParamSettings(
  spec: Pick<ResolvedOptimizerSpec, "weightDecay" | "noDecay" | "paramGroups">,
  name: string,
  rank: number,
): ParamSettings {
  const group = spec.paramGroups.find((candidate) => new RegExp(candidate.match).test(name));
  const excluded = spec.noDecay === undefined
    ? rank < 2
    : spec.noDecay.some((pattern) => new RegExp(pattern).test(name));
  return {
    lrMultiplier: group?.lrMultiplier ?? 1,
    weightDecay: group?.weightDecay ?? (excluded ? 0 : spec.weightDecay),
  };
}
