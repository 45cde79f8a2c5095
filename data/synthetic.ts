/**
 * The seed experiment's data: y = 2*x0 - 3*x1 + noise*eps, with x0, x1, eps ~ N(0, 1).
 *
 * @module
 */

import { AnnealError } from "../errors.ts";
import { Rng, seedFrom } from "./rng.ts";
import type { Dataset } from "./types.ts";

/** True weights of the synthetic-linear problem, for tests and reports. */
export const SYNTHETIC_WEIGHTS = [2, -3] as const;

/**
 * `n` samples of the seed experiment, drawn from a generator seeded by `seed`.
 *
 * The noise is standardised to mean 0 and exactly `noise` standard deviation over the `n`
 * samples, so the loss a perfect fit leaves (about `noise`^2) does not depend on the seed: with
 * plain draws a 200-sample set's noise variance varies by +-10% from seed to seed, which would
 * make "final loss near 0.25" a matter of luck rather than of training.
 *
 * @example
 * ```ts
 * import { syntheticLinear } from "./synthetic.ts";
 * const ds = syntheticLinear(200, 0, 42);
 * console.assert(Math.abs(ds.y[0] - (2 * ds.x[0] - 3 * ds.x[1])) < 1e-5);
 * ```
 */
export function syntheticLinear(n: number, noise: number, seed: number): Dataset {
  const steps = generate(n, noise, seed);
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}

/**
 * {@linkcode syntheticLinear}'s samples, the same values, made in chunks of
 * {@linkcode SYNTHETIC_CHUNK} samples with `pause` awaited between them: a data loader's Worker
 * answers the supervisor's pings, and hears a stop (`pause` may throw to give up), while it
 * generates a large set (3e8 samples take about a minute).
 *
 * @example
 * ```ts
 * import { syntheticLinear, syntheticLinearInChunks } from "./synthetic.ts";
 * const ds = await syntheticLinearInChunks(300, 0.5, 7, () => Promise.resolve());
 * console.assert(ds.y[299] === syntheticLinear(300, 0.5, 7).y[299]);
 * ```
 */
export async function syntheticLinearInChunks(
  n: number,
  noise: number,
  seed: number,
  pause: () => Promise<void>,
): Promise<Dataset> {
  const steps = generate(n, noise, seed);
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
    await pause();
  }
}

/** Samples made between two pauses of {@linkcode syntheticLinearInChunks}. */
export const SYNTHETIC_CHUNK = 1 << 20;

/**
 * The generation, one pass of {@linkcode SYNTHETIC_CHUNK} samples between two yields; the sums
 * run in the same order, one chunk after another, as one loop would, so the values are the same
 * however it is driven.
 */
function* generate(n: number, noise: number, seed: number): Generator<void, Dataset> {
  const rng = new Rng(seedFrom(seed, 0x11ea));
  let x: Float32Array, y: Float32Array, eps: Float64Array;
  try {
    x = new Float32Array(n * 2);
    y = new Float32Array(n);
    eps = new Float64Array(n);
  } catch (cause) {
    // (the run failed as "Array buffer allocation failed", naming no setting)
    if (!(cause instanceof RangeError)) throw cause;
    throw new AnnealError(
      "data",
      `Cannot generate ${n} synthetic-linear samples: their ${
        Number((20 * n / 1e9).toPrecision(2))
      } GB (20 bytes a ` +
        `sample) could not be allocated (${cause.message})`,
      {
        where: "data.n",
        hint: "use fewer samples: a few thousand fit the two weights (--set data.n=10000)",
        cause,
      },
    );
  }
  for (let from = 0; from < n; from += SYNTHETIC_CHUNK) {
    const to = Math.min(n, from + SYNTHETIC_CHUNK);
    for (let i = from; i < to; i++) {
      x[2 * i] = rng.normal();
      x[2 * i + 1] = rng.normal();
      eps[i] = rng.normal();
    }
    yield;
  }
  let sum = 0;
  for (let from = 0; from < n; from += SYNTHETIC_CHUNK) {
    for (let i = from; i < Math.min(n, from + SYNTHETIC_CHUNK); i++) sum += eps[i];
    yield;
  }
  const mean = sum / n;
  let squares = 0;
  for (let from = 0; from < n; from += SYNTHETIC_CHUNK) {
    for (let i = from; i < Math.min(n, from + SYNTHETIC_CHUNK); i++) {
      squares += (eps[i] - mean) ** 2;
    }
    yield;
  }
  const std = Math.sqrt(squares / n) || 1;
  for (let from = 0; from < n; from += SYNTHETIC_CHUNK) {
    for (let i = from; i < Math.min(n, from + SYNTHETIC_CHUNK); i++) {
      const scaled = n > 1 ? (eps[i] - mean) / std : 0;
      y[i] = SYNTHETIC_WEIGHTS[0] * x[2 * i] + SYNTHETIC_WEIGHTS[1] * x[2 * i + 1] + noise * scaled;
    }
    yield;
  }
  return { x, y, n, inputShape: [2], targetSize: 1, task: "regression" };
}
