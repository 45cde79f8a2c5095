/**
 * Hyperparameter sweeps: search spaces, samplers, pruners and the worker loop
 * ({@linkcode runStudy}) over shared study storage (`storage/`).
 *
 * @module
 */
export * from "./space.ts";
export * from "./study.ts";
export type * from "./samplers/types.ts";
export type * from "./pruners/types.ts";
export { nopPruner } from "./pruners/types.ts";
export { gridCount, gridSampler, gridSize } from "./samplers/grid.ts";
export { randomSampler } from "./samplers/random.ts";
export { quasiRandomSampler } from "./samplers/quasi_random.ts";
export { defaultWeights, type TpeOptions, tpeSampler } from "./samplers/tpe.ts";
export { medianPruner, type MedianPrunerOptions } from "./pruners/median.ts";
export { type AshaOptions, ashaPruner } from "./pruners/asha.ts";
export { type HyperbandOptions, hyperbandPruner } from "./pruners/hyperband.ts";
