/**
 * Datasets and batching: data specs, loading (synthetic, CSV, IDX), epoch orders and batches of
 * plain typed arrays that a worker can transfer.
 *
 * @example
 * ```ts
 * import { batchesPerEpoch, epochOrder, loadData, makeBatch } from "./mod.ts";
 * const data = await loadData({ kind: "synthetic-linear" }, 42);
 * const order = epochOrder(data.train.n, { shuffle: true, seed: 42, epoch: 0 });
 * const batch = makeBatch(data.train, order.subarray(0, 32), undefined, 42);
 * console.assert(batch.size === 32 && batchesPerEpoch(200, 32, false) === 7);
 * ```
 *
 * @module
 */

export { loadData } from "./load.ts";
export type { LoadOptions } from "./load.ts";
export { batchesPerEpoch, batchSeed, epochOrder, makeBatch } from "./batches.ts";
export type { Batch, EpochOrderOptions } from "./batches.ts";
export {
  AugmentSchema,
  CsvSpecSchema,
  DataSpecSchema,
  IdxSpecSchema,
  SyntheticLinearSpecSchema,
} from "./spec.ts";
export type { AugmentSpec, DataSpec, ResolvedAugment, ResolvedDataSpec } from "./spec.ts";
export { Rng, seedFrom } from "./rng.ts";
export type { RngState } from "./rng.ts";
export type { Dataset, DataWarning, LoadedData, Normalization, Task } from "./types.ts";
