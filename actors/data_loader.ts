/**
 * The data loader's logic: which samples form which batch. Batch order is a pure function of
 * (seed, epoch), so a resumed run only needs the epoch and the batch index.
 *
 * @module
 */
import {
  type Batch,
  batchSeed,
  epochOrder,
  epochOrderInChunks,
  featureBytes,
  makeBatch,
  makeByteBatch,
  trainingBatchesPerEpoch,
} from "../data/batches.ts";
import { augmentIsActive } from "../data/augment.ts";
import type { Rows } from "../data/split.ts";
import type { BatchGroup, BatchReady } from "./protocol.ts";
import type { RunConfig } from "../config.ts";

/** What the loader needs of the data spec. */
export interface LoaderOptions {
  batchSize: number;
  evalBatchSize: number;
  shuffle: boolean;
  dropLast: boolean;
  /** Batches a step (gradient accumulation): with `dropLast`, an epoch keeps whole groups only. */
  accumulation: number;
  seed: number;
  augment?: Parameters<typeof makeBatch>[2];
}

/** The loader's options from a run config. */
export function loaderOptions(config: RunConfig): LoaderOptions {
  const spec = config.data as {
    shuffle?: boolean;
    dropLast?: boolean;
    augment?: LoaderOptions["augment"];
  };
  return {
    batchSize: config.batchSize,
    // Evaluation has no gradients to hold: bigger batches, fewer dispatches.
    evalBatchSize: Math.max(config.batchSize, 256),
    shuffle: spec.shuffle ?? true,
    dropLast: spec.dropLast ?? false,
    accumulation: config.gradientAccumulation,
    seed: config.seed,
    augment: spec.augment,
  };
}

/**
 * Batches of an epoch of the training split (with `dropLast`, those of whole accumulation groups:
 * the trainer's steps per epoch follow from it); an error when there are none (`heldOut`: the
 * validation split's samples, named in it).
 */
export function trainBatchCount(train: Rows, options: LoaderOptions, heldOut = 0): number {
  const { batchSize, dropLast, accumulation } = options;
  return trainingBatchesPerEpoch(train.n, batchSize, dropLast, { heldOut, accumulation });
}

/**
 * The samples of training batch `index` of an epoch, augmented: the one definition of a batch,
 * shared by the data-loader actor and the in-process loop (so both train on the same numbers).
 */
export function trainSamples(
  train: Rows,
  options: LoaderOptions,
  epoch: number,
  index: number,
  order: Uint32Array,
): Batch {
  const indices = batchIndices(train, options, index, order);
  return makeBatch(train, indices, options.augment, batchSeed(options.seed, epoch, index));
}

/**
 * {@linkcode trainSamples}'s samples as bytes (`bytes`: {@linkcode trainBytes}, so there is no
 * augmentation), one byte per feature.
 */
export function trainByteSamples(
  train: Rows,
  options: LoaderOptions,
  index: number,
  order: Uint32Array,
  bytes: Uint8Array,
): { x: Uint8Array; y: Float32Array; size: number } {
  return makeByteBatch(train, bytes, batchIndices(train, options, index, order));
}

/** The samples of training batch `index` in an epoch's `order`. */
function batchIndices(train: Rows, options: LoaderOptions, index: number, order: Uint32Array) {
  const start = index * options.batchSize;
  return order.subarray(start, Math.min(start + options.batchSize, train.n));
}

/**
 * The table of the training split's bytes when its batches may travel as bytes: it was read from
 * bytes (`Dataset.byteTable`) and no augmentation changes its values. Undefined otherwise.
 */
export function trainByteTable(train: Rows, options: LoaderOptions): Float32Array | undefined {
  return augmentIsActive(options.augment) ? undefined : train.byteTable;
}

/** The training split's features as bytes, when {@linkcode trainByteTable} allows it. */
export function trainBytes(train: Rows, options: LoaderOptions): Uint8Array | undefined {
  return trainByteTable(train, options) ? featureBytes(train) : undefined;
}

/**
 * Builds one training batch (fresh buffers, ready to transfer). With `bytes` (the training
 * split's features as bytes, see `trainBytes`), its `x` holds one byte per feature.
 */
export function trainBatch(
  train: Rows,
  options: LoaderOptions,
  epoch: number,
  index: number,
  order: Uint32Array,
  bytes?: Uint8Array,
): BatchReady {
  const count = trainBatchCount(train, options);
  const batch = bytes
    ? trainByteSamples(train, options, index, order, bytes)
    : trainSamples(train, options, epoch, index, order);
  return {
    type: "BatchReady",
    split: "train",
    epoch,
    index,
    size: batch.size,
    x: batch.x.buffer as ArrayBuffer,
    y: batch.y.buffer as ArrayBuffer,
    last: index === count - 1,
    ...(bytes ? { inputBytes: true } : {}),
  };
}

/** The training order of an epoch. */
export function trainOrder(train: Rows, options: LoaderOptions, epoch: number): Uint32Array {
  return epochOrder(train.n, { shuffle: options.shuffle, seed: options.seed, epoch });
}

/**
 * {@linkcode trainOrder}'s order, the same one, made in chunks with `pause` awaited between them
 * (the data loader's Worker answers its pings and hears a stop meanwhile: 3e8 samples take about
 * 20 s to shuffle); `pause` may throw, to give it up.
 */
export function trainOrderInChunks(
  train: Rows,
  options: LoaderOptions,
  epoch: number,
  pause: () => Promise<void>,
): Promise<Uint32Array> {
  return epochOrderInChunks(
    train.n,
    { shuffle: options.shuffle, seed: options.seed, epoch },
    pause,
  );
}

/** Every batch of an evaluation split, in order, without augmentation. */
export function* evalBatches(
  data: Rows,
  split: "validation" | "test",
  epoch: number,
  batchSize: number,
): Generator<BatchReady> {
  const count = Math.ceil(data.n / batchSize);
  for (let index = 0; index < count; index++) {
    const indices = new Uint32Array(Math.min(batchSize, data.n - index * batchSize));
    for (let i = 0; i < indices.length; i++) indices[i] = index * batchSize + i;
    const batch = makeBatch(data, indices, undefined, 0);
    yield {
      type: "BatchReady",
      split,
      epoch,
      index,
      size: batch.size,
      x: batch.x.buffer as ArrayBuffer,
      y: batch.y.buffer as ArrayBuffer,
      last: index === count - 1,
    };
  }
}

/** Packs batches into one `BatchGroup` message and the two buffers to transfer with it. */
export function packBatchGroup(
  batches: BatchReady[],
): { message: BatchGroup; transfer: ArrayBuffer[] } {
  const pack = (part: "x" | "y") => {
    const out = new Uint8Array(batches.reduce((sum, batch) => sum + batch[part].byteLength, 0));
    let at = 0;
    for (const batch of batches) {
      out.set(new Uint8Array(batch[part]), at);
      at += batch[part].byteLength;
    }
    return out.buffer;
  };
  const x = pack("x"), y = pack("y");
  const message: BatchGroup = {
    type: "BatchGroup",
    x,
    y,
    batches: batches.map(({ x, y, ...batch }) => ({
      ...batch,
      xBytes: x.byteLength,
      yBytes: y.byteLength,
    })),
  };
  return { message, transfer: [x, y] };
}

/** The batches of a `BatchGroup`, each with its own buffers again. */
export function unpackBatchGroup(group: BatchGroup): BatchReady[] {
  let xAt = 0, yAt = 0;
  return group.batches.map(({ xBytes, yBytes, ...batch }) => ({
    ...batch,
    x: group.x.slice(xAt, xAt += xBytes),
    y: group.y.slice(yAt, yAt += yBytes),
  }));
}
