/**
 * Row selection on datasets: take the first N samples, a seeded train/validation split, and
 * feature normalization fitted on one split and applied to others.
 *
 * @module
 */

import { AnnealError } from "../errors.ts";
import { Rng, seedFrom } from "./rng.ts";
import type { Dataset, Normalization } from "./types.ts";

/**
 * A dataset, or one whose features are still the bytes they were read as (IDX images, turned to
 * floats once split: a quarter of the memory to shuffle and copy).
 */
export type Rows =
  | Dataset
  | (Omit<Dataset, "x" | "byteTable"> & { x: Uint8Array; byteTable: Float32Array });

/** Whether `ds`'s features are still bytes (see {@linkcode Rows}). */
export function featuresAreBytes(ds: Rows): ds is Exclude<Rows, Dataset> {
  return ds.x instanceof Uint8Array;
}

/**
 * Whether `view` fills at least half of its buffer: a view that fills less (a limit's few rows
 * out of a whole file's bytes) would keep the rest of the buffer alive for as long as it lives,
 * so it is copied out instead of kept or moved within the buffer.
 */
export function fillsHalfItsBuffer(view: ArrayBufferView): boolean {
  return view.byteLength * 2 >= view.buffer.byteLength;
}

/** Number of feature values in one sample. */
export function featureSize(ds: Pick<Dataset, "inputShape">): number {
  return ds.inputShape.reduce((a, b) => a * b, 1);
}

/**
 * A new dataset holding the given rows, in the given order, in fresh buffers.
 *
 * @example
 * ```ts
 * import { selectRows } from "./split.ts";
 * const ds = { x: new Float32Array([1, 2, 3]), y: new Float32Array([4, 5, 6]), n: 3,
 *   inputShape: [1], targetSize: 1, task: "regression" as const };
 * console.assert(selectRows(ds, [2, 0]).x.join() === "3,1");
 * ```
 */
export function selectRows(ds: Dataset, rows: ArrayLike<number>): Dataset {
  return finish(selectRowsSteps(ds, rows));
}

/** What a generator of steps returns, its steps taken without a pause. */
function finish<T>(steps: Generator<void, T>): T {
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}

/** The first `count` samples (all of them when `count` is undefined or larger). */
export function takeFirst<D extends Rows>(ds: D, count: number | undefined): D {
  if (count === undefined || count >= ds.n) return ds;
  const f = featureSize(ds);
  return {
    ...ds,
    x: ds.x.slice(0, count * f),
    y: ds.y.slice(0, count * ds.targetSize),
    n: count,
  };
}

/**
 * Holds out `round(n * fraction)` samples chosen by a shuffle seeded from `seed`, and at least one
 * when `fraction` > 0 (a split asked for is never silently empty: every reader of the config takes
 * `validationSplit` > 0 for validation metrics to watch); both parts keep the source order. No
 * validation set when `fraction` is 0.
 *
 * @example
 * ```ts
 * import { splitValidation } from "./split.ts";
 * const ds = { x: new Float32Array(10), y: new Float32Array(10), n: 10,
 *   inputShape: [1], targetSize: 1, task: "regression" as const };
 * const { train, validation } = splitValidation(ds, 0.2, 1);
 * console.assert(train.n === 8 && validation?.n === 2);
 * ```
 */
export function splitValidation<D extends Rows>(
  ds: D,
  fraction: number,
  seed: number,
  options: SplitOptions = {},
): { train: D; validation?: D } {
  return finish(splitSteps(ds, fraction, seed, options));
}

/** How {@linkcode splitValidation} may treat the rows it splits. */
export interface SplitOptions {
  /**
   * Features that are bytes (see {@linkcode Rows}) may be moved within `ds.x`: the training rows'
   * features are then the start of `ds.x`, with no copy, and `ds` must not be used after. A load
   * that owns the rows it read passes it: a second copy of Fashion-MNIST's images was 42 MB of
   * fresh memory, whose first touches cost ~0.15 s on these machines (BENCHMARKS.md,
   * "Forty-seventh session"). The targets, features of floats, and bytes that fill less than half
   * of their buffer (the training split would keep the rest of it alive) are copied as without it.
   */
  reuseBytes?: boolean;
  /**
   * Hold out the fraction of each class (`ds.y`, class indices), not of the whole: the first
   * rows of class c in the shuffle's order, `round(n x fraction)` rows in all, shared out among
   * the classes as sklearn shares them (see `stratifiedQuotas`), at most `n_c - 1` of a class (a
   * class of two rows or more keeps one in training), and one row at least overall.
   */
  stratify?: boolean;
}

/**
 * {@linkcode splitValidation}'s split, the same rows, made in chunks of {@linkcode SPLIT_CHUNK}
 * rows with `pause` awaited between them (a data loader's Worker answers its pings meanwhile:
 * 3e8 samples take most of a minute); `pause` may throw, to give the split up.
 */
export async function splitValidationInChunks<D extends Rows>(
  ds: D,
  fraction: number,
  seed: number,
  pause: () => Promise<void>,
  options: SplitOptions = {},
): Promise<{ train: D; validation?: D }> {
  const steps = splitSteps(ds, fraction, seed, options);
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
    await pause();
  }
}

/** Rows shuffled, or copied, between two pauses of {@linkcode splitValidationInChunks}. */
export const SPLIT_CHUNK = 1 << 20;

function* splitSteps<D extends Rows>(
  ds: D,
  fraction: number,
  seed: number,
  { reuseBytes = false, stratify = false }: SplitOptions,
): Generator<void, { train: D; validation?: D }> {
  if (fraction === 0) return { train: ds };
  let held = Math.max(1, Math.round(ds.n * fraction));
  if (held >= ds.n) {
    throw new AnnealError(
      "data",
      `Cannot split data: validationSplit ${fraction} of ${ds.n} samples leaves no training data`,
      {
        where: "data.validationSplit",
        // ("or raise limit" was the hint where no limit was set: a CSV file of one row)
        hint: "lower validationSplit (0 trains on every sample, without validation), or train " +
          "on more samples (more rows in the data file, a higher data.limit where one is set, " +
          "data.n for synthetic-linear)",
      },
    );
  }
  const rng = new Rng(seedFrom(seed, 0x5b1d)); // its own stream: the split never moves with shuffling
  const order = new Uint32Array(ds.n);
  for (let i = 0; i < ds.n; i++) order[i] = i;
  for (let i = ds.n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
    if (i % SPLIT_CHUNK === 0) yield;
  }
  // the shuffle's first `held` rows are held out (stratified: each class's first ones); each
  // part in ascending order (the rows are distinct: marking them and reading the marks in order
  // sorts them)
  const heldOut = new Uint8Array(ds.n);
  if (stratify) held = yield* markStratifiedSteps(ds, order, fraction, heldOut);
  else for (let i = 0; i < held; i++) heldOut[order[i]] = 1;
  yield;
  const validationRows = new Uint32Array(held);
  const trainRows = new Uint32Array(ds.n - held);
  for (let i = 0, v = 0, t = 0; i < ds.n; i++) {
    if (heldOut[i]) validationRows[v++] = i;
    else trainRows[t++] = i;
    if (i % SPLIT_CHUNK === SPLIT_CHUNK - 1) yield;
  }
  if (reuseBytes && featuresAreBytes(ds) && fillsHalfItsBuffer(ds.x)) {
    // the held-out rows copied out first: moving the training rows down overwrites them
    const validation = yield* selectRowsSteps(ds, validationRows);
    const train = yield* compactRowsSteps(ds, trainRows);
    return { train: train as D, validation };
  }
  const train = yield* selectRowsSteps(ds, trainRows);
  const validation = yield* selectRowsSteps(ds, validationRows);
  return { train, validation };
}

/**
 * How many rows of each class a stratified split holds out: `round(n x fraction)` in all (at least
 * one), as the plain split, shared out as sklearn's `StratifiedShuffleSplit` shares it: each class
 * `floor(n_c x fraction)`, and the rows left over one each to the classes with the largest
 * remainders (ties: the class whose first row comes first in the shuffle's `order`), a class
 * holding out at most `n_c - 1`. (Each class's share rounded on its own held out 10 of 30 rows of
 * ten classes at 0.2, a third.)
 */
function stratifiedQuotas(
  counts: Map<number, number>,
  n: number,
  fraction: number,
  order: Uint32Array,
  y: ArrayLike<number>,
): Map<number, number> {
  const total = Math.max(1, Math.round(n * fraction));
  const quota = new Map(
    [...counts].map(([label, count]) => [label, Math.min(count - 1, Math.floor(count * fraction))]),
  );
  let left = total - [...quota.values()].reduce((a, b) => a + b, 0);
  if (left <= 0) return quota;
  const first = new Map<number, number>();
  for (let i = 0; i < order.length && first.size < counts.size; i++) {
    if (!first.has(y[order[i]])) first.set(y[order[i]], i);
  }
  const remainder = (label: number) => {
    const share = counts.get(label)! * fraction;
    return share - Math.floor(share);
  };
  const ranked = [...counts.keys()].sort((a, b) =>
    remainder(b) - remainder(a) || first.get(a)! - first.get(b)!
  );
  // (a pass more where the classes with remainders have no room left: the others, in that order)
  while (left > 0) {
    let given = false;
    for (const label of ranked) {
      if (left === 0) break;
      if (quota.get(label)! < counts.get(label)! - 1) {
        quota.set(label, quota.get(label)! + 1);
        left--;
        given = true;
      }
    }
    if (!given) break;
  }
  return quota;
}

/**
 * Marks in `heldOut` the rows a stratified split holds out (see {@linkcode SplitOptions}), in
 * the shuffle's `order`; returns how many. It pauses every {@linkcode SPLIT_CHUNK} rows of each
 * pass, as the plain split does.
 */
function* markStratifiedSteps(
  ds: Rows,
  order: Uint32Array,
  fraction: number,
  heldOut: Uint8Array,
): Generator<void, number> {
  const counts = new Map<number, number>();
  for (let i = 0; i < ds.n; i++) {
    counts.set(ds.y[i], (counts.get(ds.y[i]) ?? 0) + 1);
    if (i % SPLIT_CHUNK === SPLIT_CHUNK - 1) yield;
  }
  const quota = stratifiedQuotas(counts, ds.n, fraction, order, ds.y);
  let held = 0;
  for (let i = 0; i < ds.n; i++) {
    const label = ds.y[order[i]];
    const left = quota.get(label)!;
    if (left > 0) {
      quota.set(label, left - 1);
      heldOut[order[i]] = 1;
      held++;
    }
    if (i % SPLIT_CHUNK === SPLIT_CHUNK - 1) yield;
  }
  if (held > 0) return held;
  // (the quotas hold one row out at least where a class has two: none is held only where each
  // class has one row)
  throw new AnnealError(
    "data",
    `Cannot split data: stratify holds out a row of a class that keeps another in training, ` +
      `and each of the ${ds.n} samples' classes has one row`,
    {
      where: "data.stratify",
      hint: "leave stratify out (or validationSplit 0): with one row a class, no class can " +
        "give one to validation",
    },
  );
}

/** Rows of {@linkcode selectRowsSteps} between two pauses, for rows of `f` features and `t` targets. */
function rowsPerPause(f: number, t: number): number {
  return Math.max(1, Math.min(SPLIT_CHUNK, Math.floor((4 * SPLIT_CHUNK) / (f + t))));
}

/**
 * The rows `rows` (ascending) of `ds`, its features moved down within `ds.x` (each row to its
 * place in the result, at or before where it was: `ds.x`'s rows after them are overwritten) and
 * the result's features a view of its start; its targets copied. Runs of consecutive rows move
 * in one `copyWithin`. Pauses as {@linkcode selectRowsSteps} does.
 */
function* compactRowsSteps(
  ds: Exclude<Rows, Dataset>,
  rows: Uint32Array,
): Generator<void, Exclude<Rows, Dataset>> {
  const f = featureSize(ds);
  const t = ds.targetSize;
  const chunk = rowsPerPause(f, t);
  const y = new Float32Array(rows.length * t);
  let sincePause = 0;
  for (let i = 0; i < rows.length;) {
    // rows[i..end) are consecutive in ds: one move
    let end = i + 1;
    while (end < rows.length && rows[end] === rows[end - 1] + 1 && end - i < chunk - sincePause) {
      end++;
    }
    ds.x.copyWithin(i * f, rows[i] * f, (rows[end - 1] + 1) * f);
    for (let k = i; k < end; k++) {
      for (let j = 0, from = rows[k] * t; j < t; j++) y[k * t + j] = ds.y[from + j];
    }
    sincePause += end - i;
    i = end;
    if (sincePause >= chunk) {
      sincePause = 0;
      yield;
    }
  }
  return { ...ds, x: ds.x.subarray(0, rows.length * f), y, n: rows.length };
}

/**
 * {@linkcode selectRows}, pausing every {@linkcode SPLIT_CHUNK} rows, or fewer where rows are wide
 * (every `4 * SPLIT_CHUNK` values: 5,300 28x28 images, where a million rows were 3 GB of floats).
 * The features stay of their kind: bytes are copied as bytes.
 */
function* selectRowsSteps<D extends Rows>(ds: D, rows: ArrayLike<number>): Generator<void, D> {
  const f = featureSize(ds);
  const t = ds.targetSize;
  const chunk = rowsPerPause(f, t);
  const x = ds.x instanceof Uint8Array
    ? new Uint8Array(rows.length * f)
    : new Float32Array(rows.length * f);
  const y = new Float32Array(rows.length * t);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    x.set(ds.x.subarray(r * f, (r + 1) * f), i * f);
    y.set(ds.y.subarray(r * t, (r + 1) * t), i * t);
    if (i % chunk === chunk - 1) yield;
  }
  return { ...ds, x, y, n: rows.length } as D; // (x is of ds.x's kind)
}

/**
 * Per-feature statistics of `ds`: `standard` (mean, population std) or `minmax`. Constant
 * features get scale 1, so they map to 0 instead of NaN.
 */
export function fitNormalization(ds: Dataset, method: "standard" | "minmax"): Normalization {
  const f = featureSize(ds);
  const shift = new Array<number>(f).fill(0);
  const scale = new Array<number>(f).fill(1);
  for (let c = 0; c < f; c++) {
    let sum = 0, lo = Infinity, hi = -Infinity;
    for (let i = c; i < ds.x.length; i += f) {
      const v = ds.x[i];
      sum += v;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (method === "standard") {
      const mean = sum / ds.n;
      let squares = 0; // second pass: E[x^2] - mean^2 cancels badly for large offsets
      for (let i = c; i < ds.x.length; i += f) squares += (ds.x[i] - mean) ** 2;
      const std = Math.sqrt(squares / ds.n);
      shift[c] = mean;
      scale[c] = std > 0 ? std : 1;
    } else {
      shift[c] = lo;
      scale[c] = hi > lo ? hi - lo : 1;
    }
  }
  return { method, shift, scale };
}

/**
 * Per-feature means of `ds` over the values that are not NaN (a CSV's empty cells, `missing`
 * "mean"): NaN for a feature with no other value.
 *
 * @example
 * ```ts
 * import { featureMeans } from "./split.ts";
 * const ds = { x: new Float32Array([1, NaN, 3, 4]), y: new Float32Array(2), n: 2,
 *   inputShape: [2], targetSize: 1, task: "regression" as const };
 * console.assert(featureMeans(ds).join() === "2,4");
 * ```
 */
export function featureMeans(ds: Dataset): number[] {
  const f = featureSize(ds);
  const sums = new Float64Array(f);
  const counts = new Float64Array(f);
  for (let i = 0; i < ds.x.length; i++) {
    const v = ds.x[i];
    if (v === v) {
      sums[i % f] += v;
      counts[i % f]++;
    }
  }
  return Array.from(sums, (sum, c) => counts[c] > 0 ? sum / counts[c] : NaN);
}

/** Replaces each NaN of feature c of `ds` with `values[c]`, in place; the NaN of each feature. */
export function fillNaN(ds: Dataset, values: number[]): number[] {
  const f = values.length;
  const filled = new Array<number>(f).fill(0);
  for (let i = 0; i < ds.x.length; i++) {
    if (ds.x[i] !== ds.x[i]) {
      ds.x[i] = values[i % f];
      filled[i % f]++;
    }
  }
  return filled;
}

/** Applies `norm` to the features of `ds` in place. */
export function applyNormalization(ds: Dataset, norm: Normalization): void {
  const f = norm.shift.length;
  for (let i = 0; i < ds.x.length; i++) {
    const c = i % f;
    ds.x[i] = (ds.x[i] - norm.shift[c]) / norm.scale[c];
  }
}
