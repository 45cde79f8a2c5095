/**
 * Row selection on datasets: take the first N samples, a seeded train/validation split, and
 * feature normalization fitted on one split and applied to others.
 *
 * @module
 */

import { AnnealError } from "../errors.ts";
import { Rng, seedFrom } from "./rng.ts";
import type { Dataset, Normalization } from "./types.ts";

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
  const f = featureSize(ds);
  const t = ds.targetSize;
  const x = new Float32Array(rows.length * f);
  const y = new Float32Array(rows.length * t);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    x.set(ds.x.subarray(r * f, (r + 1) * f), i * f);
    y.set(ds.y.subarray(r * t, (r + 1) * t), i * t);
  }
  return { ...ds, x, y, n: rows.length };
}

/** The first `count` samples (all of them when `count` is undefined or larger). */
export function takeFirst(ds: Dataset, count: number | undefined): Dataset {
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
export function splitValidation(
  ds: Dataset,
  fraction: number,
  seed: number,
): { train: Dataset; validation?: Dataset } {
  if (fraction === 0) return { train: ds };
  const held = Math.max(1, Math.round(ds.n * fraction));
  if (held >= ds.n) {
    throw new AnnealError(
      "data",
      `Cannot split data: validationSplit ${fraction} of ${ds.n} samples leaves no training data`,
      {
        where: "data.validationSplit",
        hint: "lower validationSplit (0 trains on every sample, without validation), or raise " +
          "limit",
      },
    );
  }
  const rng = new Rng(seedFrom(seed, 0x5b1d)); // its own stream: the split never moves with shuffling
  const order = Uint32Array.from({ length: ds.n }, (_, i) => i);
  for (let i = ds.n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const validationRows = order.slice(0, held).sort();
  const trainRows = order.slice(held).sort();
  return { train: selectRows(ds, trainRows), validation: selectRows(ds, validationRows) };
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

/** Applies `norm` to the features of `ds` in place. */
export function applyNormalization(ds: Dataset, norm: Normalization): void {
  const f = norm.shift.length;
  for (let i = 0; i < ds.x.length; i++) {
    const c = i % f;
    ds.x[i] = (ds.x[i] - norm.shift[c]) / norm.scale[c];
  }
}
