/**
 * Epoch orders and batches. Everything is a pure function of its arguments (seed, epoch, batch
 * index), so a resumed run rebuilds the same batches, augmentation included, from a position alone.
 *
 * @module
 */

import { AnnealError } from "../errors.ts";
import { augmentImage, augmentIsActive, checkAugmentFields } from "./augment.ts";
import { Rng, seedFrom } from "./rng.ts";
import type { AugmentSpec } from "./spec.ts";
import { featuresAreBytes, featureSize, type Rows } from "./split.ts";
import { checkArgument, isObject } from "../option_names.ts";

/** Options of {@linkcode epochOrder}. */
export interface EpochOrderOptions {
  /** Permute the samples; `false` gives the identity order (PyTorch's `shuffle`). */
  shuffle: boolean;
  /** Base seed of the run; with `epoch` it fixes the permutation. */
  seed: number;
  /** Zero-based epoch index, so every epoch gets its own order. */
  epoch: number;
}

/** One batch in fresh buffers, ready to be transferred to another worker. */
export interface Batch {
  /** Features of `size` samples, row-major. */
  x: Float32Array;
  /** Targets of `size` samples, row-major. */
  y: Float32Array;
  /** Number of samples in the batch (the last batch of an epoch may be smaller). */
  size: number;
}

/**
 * The sample order of one epoch: identity without shuffle, else a Fisher-Yates permutation from a
 * generator seeded by (seed, epoch).
 *
 * @example
 * ```ts
 * import { epochOrder } from "./batches.ts";
 * const a = epochOrder(5, { shuffle: true, seed: 1, epoch: 3 });
 * const b = epochOrder(5, { shuffle: true, seed: 1, epoch: 3 });
 * console.assert(a.join() === b.join() && [...a].sort().join() === "0,1,2,3,4");
 * ```
 */
export function epochOrder(n: number, options: EpochOrderOptions): Uint32Array {
  checkArgument(
    isObject(options),
    options,
    "order an epoch",
    "options",
    "an object of shuffle, seed and epoch",
    "pass e.g. { shuffle: true, seed: 0, epoch: 0 }",
  );
  const steps = orderSteps(n, options);
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}

/**
 * {@linkcode epochOrder}'s order, the same one, made in chunks of {@linkcode ORDER_CHUNK} swaps
 * with `pause` awaited between them: a data loader's Worker answers the supervisor's pings, and
 * hears a stop (`pause` may throw to give up), while it shuffles a large set (3e8 samples take
 * about 20 s).
 *
 * @example
 * ```ts
 * import { epochOrder, epochOrderInChunks } from "./batches.ts";
 * const options = { shuffle: true, seed: 1, epoch: 3 };
 * const order = await epochOrderInChunks(5, options, () => Promise.resolve());
 * console.assert(order.join() === epochOrder(5, options).join());
 * ```
 */
export async function epochOrderInChunks(
  n: number,
  options: EpochOrderOptions,
  pause: () => Promise<void>,
): Promise<Uint32Array> {
  const steps = orderSteps(n, options);
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
    await pause();
  }
}

/** Samples numbered, or swaps made, between two pauses of {@linkcode epochOrderInChunks}. */
export const ORDER_CHUNK = 1 << 20;

/**
 * The order, a yield after every {@linkcode ORDER_CHUNK} samples numbered and swaps made: the
 * swaps, and so the generator's draws, come in the same order as in one loop.
 */
function* orderSteps(
  n: number,
  { shuffle, seed, epoch }: EpochOrderOptions,
): Generator<void, Uint32Array> {
  // ("no" shuffled, as any truthy value did)
  checkArgument(
    typeof shuffle === "boolean",
    shuffle,
    "order an epoch",
    "options.shuffle",
    "true or false",
    "pass { shuffle: true } to permute the samples, { shuffle: false } for their order",
  );
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new AnnealError(
      "usage",
      `Cannot order an epoch: n must be an integer >= 0, current value is ${n}`,
      {
        hint: "pass the dataset's sample count",
      },
    );
  }
  const order = new Uint32Array(n);
  for (let from = 0; from < n; from += ORDER_CHUNK) {
    const to = Math.min(n, from + ORDER_CHUNK);
    for (let i = from; i < to; i++) order[i] = i;
    yield;
  }
  if (!shuffle) return order;
  const rng = new Rng(seedFrom(seed, epoch, 0xe90c));
  for (let top = n - 1; top > 0; top -= ORDER_CHUNK) {
    const bottom = Math.max(0, top - ORDER_CHUNK);
    for (let i = top; i > bottom; i--) {
      const j = rng.int(i + 1);
      const swap = order[i];
      order[i] = order[j];
      order[j] = swap;
    }
    yield;
  }
  return order;
}

/**
 * Batches in one epoch: `ceil(n / batchSize)`; with `dropLast`, only the batches of whole
 * optimizer steps, `floor(n / (batchSize * accumulation)) * accumulation`: the short batch is
 * dropped, and so are the micro-batches that would make a smaller last accumulation group, so
 * that every step is the configured effective batch.
 *
 * @example
 * ```ts
 * import { batchesPerEpoch } from "./batches.ts";
 * console.assert(batchesPerEpoch(200, 32, false) === 7 && batchesPerEpoch(200, 32, true) === 6);
 * console.assert(batchesPerEpoch(200, 8, true, 4) === 24); // 25 batches of 8, 6 whole groups
 * ```
 */
export function batchesPerEpoch(
  n: number,
  batchSize: number,
  dropLast: boolean,
  accumulation = 1,
): number {
  if (!Number.isInteger(n) || n < 0) {
    // (NaN or -5 gave a count of NaN or -1, which a loop over the batches ran zero times)
    throw new AnnealError(
      "usage",
      `Cannot count the batches: n must be an integer >= 0, current value is ${n}`,
      { where: "n", hint: "pass the training set's sample count, e.g. loaded.train.n of loadData" },
    );
  }
  if (!Number.isInteger(batchSize) || batchSize <= 0) {
    throw new AnnealError(
      "config",
      `Cannot make batches: 'batchSize' must be a positive integer, current value is ${batchSize}`,
      {
        where: "batchSize",
        hint: "set a positive batch size, e.g. --set batchSize=32",
      },
    );
  }
  if (!Number.isInteger(accumulation) || accumulation <= 0) {
    throw new AnnealError(
      "config",
      `Cannot make batches: 'gradientAccumulation' must be a positive integer, current value is ${accumulation}`,
      {
        where: "gradientAccumulation",
        hint: "set a positive count, e.g. --set gradientAccumulation=4",
      },
    );
  }
  if (!dropLast) return Math.ceil(n / batchSize);
  return Math.floor(n / (batchSize * accumulation)) * accumulation;
}

/**
 * {@linkcode batchesPerEpoch} of a training set, refusing an epoch without a step: an empty
 * training set, or `dropLast` with a batch (or an accumulation group of `accumulation` batches)
 * larger than the training set. Training would take no step, and an epoch's loss would be NaN.
 * `heldOut`: the samples `data.validationSplit` took from the training pool, named in the error
 * when there are some.
 *
 * @example
 * ```ts
 * import { trainingBatchesPerEpoch } from "./batches.ts";
 * console.assert(trainingBatchesPerEpoch(200, 500, false) === 1);
 * console.assert(trainingBatchesPerEpoch(200, 8, true, { accumulation: 4 }) === 24);
 * try {
 *   trainingBatchesPerEpoch(200, 500, true);
 * } catch (error) {
 *   console.assert((error as Error).message.includes("no step"));
 * }
 * ```
 */
export function trainingBatchesPerEpoch(
  n: number,
  batchSize: number,
  dropLast: boolean,
  { heldOut = 0, accumulation = 1 }: { heldOut?: number; accumulation?: number } = {},
): number {
  const batches = batchesPerEpoch(n, batchSize, dropLast, accumulation);
  if (batches > 0) return batches;
  const pool = heldOut > 0
    ? ` (${n + heldOut} less the ${heldOut} that 'data.validationSplit' holds out)`
    : "";
  const lessHeldOut = heldOut > 0 ? ", or hold fewer samples out (data.validationSplit)" : "";
  if (n === 0) {
    throw new AnnealError("data", "Cannot make batches: the training set is empty", {
      where: "data",
      hint: "check the data source and data.limit",
    });
  }
  if (batchSize <= n) {
    // A batch fits, a whole accumulation group does not.
    const most = Math.floor(n / batchSize);
    throw new AnnealError(
      "config",
      `Cannot make batches: 'batchSize' x 'gradientAccumulation' is ${batchSize} x ` +
        `${accumulation} = ${batchSize * accumulation} samples a step, more than the ${n} ` +
        `training samples${pool}, and 'data.dropLast' drops the short accumulation group, so ` +
        `an epoch would take no step`,
      {
        where: "gradientAccumulation",
        hint:
          `lower gradientAccumulation to at most ${most} (--set gradientAccumulation=${most}), ` +
          `or keep the short group (--set data.dropLast=false)${lessHeldOut}`,
      },
    );
  }
  throw new AnnealError(
    "config",
    `Cannot make batches: 'batchSize' is ${batchSize}, more than the ${n} training samples${pool}, ` +
      `and 'data.dropLast' drops the short batch, so an epoch would take no step`,
    {
      where: "batchSize",
      hint: `lower batchSize to at most ${n} (--set batchSize=${n}), or keep the short batch ` +
        `(--set data.dropLast=false)${lessHeldOut}`,
    },
  );
}

/**
 * The seed for batch `batchIndex` of `epoch`, to pass to {@linkcode makeBatch} so augmentation
 * is reproduced exactly on resume.
 *
 * @example
 * ```ts
 * import { batchSeed } from "./batches.ts";
 * console.assert(batchSeed(42, 0, 1) !== batchSeed(42, 1, 0));
 * ```
 */
export function batchSeed(seed: number, epoch: number, batchIndex: number): number {
  return seedFrom(seed, epoch, batchIndex, 0xba7c);
}

/** `r`, checked to be a sample of `ds`. */
function sampleIndex(ds: Rows, r: number): number {
  if (!Number.isInteger(r) || r < 0 || r >= ds.n) {
    throw new AnnealError(
      "usage",
      `Cannot make batch: sample index ${r} is outside 0..${ds.n - 1}`,
      {
        hint: "build indices with epochOrder(n, ...) for this dataset",
      },
    );
  }
  return r;
}

/**
 * Throws a usage error unless `ds` is a dataset (x, y and inputShape) whose `x` and `y` hold its
 * `n` samples (see {@linkcode checkRowCounts}): what `what` (`make a batch`) needs of one given
 * from plain JS or built by hand.
 */
export function checkDataset(ds: Rows, what: string): void {
  // what of it is wrong: a field missing, or one of the wrong kind (x and y as plain arrays were
  // said to be missing)
  const wrong = isObject(ds)
    ? [
      ...(["x", "y"] as const).flatMap((key) =>
        ds[key] === undefined
          ? [`no ${key}`]
          : ArrayBuffer.isView(ds[key])
          ? []
          : [`${key} ${Array.isArray(ds[key]) ? "a plain array" : `of type ${typeof ds[key]}`}`]
      ),
      ...(Array.isArray(ds.inputShape) ? [] : ["no inputShape list"]),
      ...(Number.isInteger(ds.n) && ds.n >= 0 ? [] : ["no whole n"]),
    ]
    : [];
  checkArgument(
    isObject(ds) && wrong.length === 0,
    isObject(ds) ? `an object with ${wrong.join(", ")}` : ds,
    what,
    "dataset",
    "a dataset (x and y typed arrays, such as Float32Array, n and inputShape)",
    "pass the train, validation or test set that await loadData(spec) gives, or build x and y " +
      "as typed arrays (new Float32Array(values))",
  );
  checkRowCounts(ds, what);
}

/**
 * Throws a usage error naming the first NaN or infinite value of `ds.x` or `ds.y` (its sample and
 * position): what a set built by hand must not hold, as a loaded file's values may not (the CSV
 * reader refuses such a cell). Without it a run on such a set trains to a NaN loss, which reads as
 * a rate too high. One pass over the values: for a set given once, not for each batch.
 *
 * @example
 * ```ts
 * import { checkFiniteDataset } from "./batches.ts";
 * const ds = { x: new Float32Array([1, NaN]), y: new Float32Array([0]), n: 1,
 *   inputShape: [2], targetSize: 1, task: "regression" as const };
 * let message = "";
 * try { checkFiniteDataset(ds, "train"); } catch (e) { message = (e as Error).message; }
 * console.assert(message.includes("sample 0"));
 * ```
 */
export function checkFiniteDataset(ds: Rows, what: string): void {
  const fields: ["x" | "y", number][] = [["x", featureSize(ds)], ["y", ds.targetSize]];
  for (const [field, each] of fields) {
    const values = ds[field];
    // (integer arrays, an IDX file's bytes, hold only finite values)
    if (!(values instanceof Float32Array || values instanceof Float64Array)) continue;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v - v === 0) continue; // (finite: NaN - NaN and Infinity - Infinity are NaN)
      const sample = Math.floor(i / Math.max(each, 1));
      throw new AnnealError(
        "usage",
        `Cannot ${what}: the dataset's '${field}' holds ${v} at index ${i} (sample ${sample}, ` +
          `value ${i - sample * each} of its ${each})`,
        {
          where: `dataset.${field}[${i}]`,
          hint: "drop or fill the sample's non-finite values before training on it (loadData " +
            "refuses a file with such a value, naming its line)",
        },
      );
    }
  }
}

/**
 * Throws a usage error unless `ds.x` and `ds.y` hold `ds.n` samples of its input shape and target
 * size: a short one was read past its end (NaN, or a byte table's undefined, in the batch).
 */
function checkRowCounts(ds: Rows, what: string): void {
  const rows: [string, number, number, string][] = [
    ["x", ds.x.length, featureSize(ds), `input shape ${JSON.stringify(ds.inputShape)}`],
    ["y", ds.y?.length, ds.targetSize, `target size ${ds.targetSize}`],
  ];
  for (const [field, held, each, of] of rows) {
    if (held === ds.n * each) continue;
    throw new AnnealError(
      "usage",
      `Cannot ${what}: the dataset's '${field}' holds ${held} values, its ${ds.n} samples ` +
        `of ${of} need ${ds.n * each}`,
      {
        where: `dataset.${field}`,
        hint: "pass the train, validation or test set that await loadData(spec) gives, or " +
          "set its n, inputShape and targetSize to what x and y hold",
      },
    );
  }
}

/**
 * Copies the samples at `indices` into fresh buffers and augments image samples when `augment`
 * asks for it, with randomness drawn from `seed` (use {@linkcode batchSeed}).
 *
 * @example
 * ```ts
 * import { makeBatch } from "./batches.ts";
 * const ds = { x: new Float32Array([1, 2, 3, 4]), y: new Float32Array([5, 6]), n: 2,
 *   inputShape: [2], targetSize: 1, task: "regression" as const };
 * const batch = makeBatch(ds, [1], undefined, 0);
 * console.assert(batch.size === 1 && batch.x.join() === "3,4" && batch.y[0] === 6);
 * ```
 */
export function makeBatch(
  ds: Rows,
  indices: ArrayLike<number>,
  augment: AugmentSpec | undefined,
  seed: number,
): Batch {
  checkDataset(ds, "make a batch");
  checkAugmentFields(augment);
  const active = augmentIsActive(augment);
  if (active && ds.imageShape === undefined) {
    throw new AnnealError("config", "Cannot augment: augmentation applies to image data only", {
      where: "data.augment",
      hint: "remove 'augment' from the data spec of non-image data",
    });
  }
  const f = featureSize(ds);
  const t = ds.targetSize;
  const size = indices.length;
  const x = new Float32Array(size * f);
  const y = new Float32Array(size * t);
  const rng = active ? new Rng(seed) : undefined;
  // features still bytes (see `Rows`): each sample's floats made here
  const table = featuresAreBytes(ds) ? ds.byteTable : undefined;
  const floats = table && rng ? new Float32Array(f) : undefined;
  for (let i = 0; i < size; i++) {
    const r = sampleIndex(ds, indices[i]);
    const into = x.subarray(i * f, (i + 1) * f);
    if (rng) {
      const sample = table
        ? bytesToFloats((ds.x as Uint8Array).subarray(r * f, (r + 1) * f), table, floats)
        : (ds.x as Float32Array).subarray(r * f, (r + 1) * f);
      augmentImage(sample, into, ds.imageShape!, augment!, rng);
    } else if (table) bytesToFloats((ds.x as Uint8Array).subarray(r * f, (r + 1) * f), table, into);
    else copyRow(ds.x as Float32Array, r * f, x, i * f, f);
    copyRow(ds.y, r * t, y, i * t, t);
  }
  return { x, y, size };
}

/**
 * Copies `count` values of `from`, at `start`, into `into` at `at`: element by element for a
 * short row (a small tabular sample, a target), where making a `subarray` view for `set` costs
 * more than the copy; by `set` for a long one.
 */
function copyRow(
  from: Float32Array,
  start: number,
  into: Float32Array,
  at: number,
  count: number,
): void {
  if (count <= SHORT_ROW) {
    for (let k = 0; k < count; k++) into[at + k] = from[start + k];
  } else into.set(from.subarray(start, start + count), at);
}

/** Rows of at most this many values are copied element by element (see `copyRow`). */
const SHORT_ROW = 32;

/**
 * The floats of `bytes` by `table` (see `Dataset.byteTable`): `table[bytes[i]]` each, written to
 * `into` (as long as `bytes`) when given.
 *
 * @example
 * ```ts
 * import { bytesToFloats } from "./batches.ts";
 * console.assert(bytesToFloats(Uint8Array.of(2, 0), Float32Array.of(0, 0.5, 1)).join() === "1,0");
 * ```
 */
export function bytesToFloats(
  bytes: Uint8Array,
  table: Float32Array,
  into: Float32Array = new Float32Array(bytes.length),
): Float32Array {
  for (let i = 0; i < bytes.length; i++) into[i] = table[bytes[i]];
  return into;
}

/**
 * The features of `ds` as the bytes they were read from (see `Dataset.byteTable`), or undefined
 * when `ds` has no byte table or a value is not one of its entries (features changed after
 * loading): then they travel as floats.
 *
 * @example
 * ```ts
 * import { featureBytes } from "./batches.ts";
 * const byteTable = Float32Array.from({ length: 256 }, (_, b) => b / 255);
 * const ds = { x: Float32Array.of(byteTable[7], 1), y: new Float32Array(1), n: 1,
 *   inputShape: [2], targetSize: 1, task: "regression" as const, byteTable };
 * console.assert(featureBytes(ds)!.join() === "7,255");
 * ```
 */
export function featureBytes(ds: Rows): Uint8Array | undefined {
  if (featuresAreBytes(ds)) return ds.x;
  const table = ds.byteTable;
  if (!table || table.length !== 256 || !(table[1] > table[0])) return undefined;
  // The table is increasing and (for the tables IDX loading makes) evenly spaced: a value's
  // byte is its distance from the first entry in steps, checked against the table.
  const step = table[1] - table[0];
  const bytes = new Uint8Array(ds.x.length);
  for (let i = 0; i < ds.x.length; i++) {
    const v = ds.x[i];
    const b = Math.round((v - table[0]) / step);
    if (!(b >= 0 && b < 256 && table[b] === v)) return undefined;
    bytes[i] = b;
  }
  return bytes;
}

/**
 * Training batch `indices` of a dataset as bytes (`bytes` from {@linkcode featureBytes}): the
 * same samples as {@linkcode makeBatch} without augmentation, each feature one byte.
 */
export function makeByteBatch(
  ds: Rows,
  bytes: Uint8Array,
  indices: ArrayLike<number>,
): { x: Uint8Array; y: Float32Array; size: number } {
  const f = featureSize(ds);
  const t = ds.targetSize;
  const size = indices.length;
  const x = new Uint8Array(size * f);
  const y = new Float32Array(size * t);
  for (let i = 0; i < size; i++) {
    const r = sampleIndex(ds, indices[i]);
    x.set(bytes.subarray(r * f, (r + 1) * f), i * f);
    y.set(ds.y.subarray(r * t, (r + 1) * t), i * t);
  }
  return { x, y, size };
}
