/**
 * The seed experiment's data: y = 2*x0 - 3*x1 + noise*eps, with x0, x1, eps ~ N(0, 1).
 *
 * @module
 */

import { Rng, seedFrom } from "./rng.ts";
import type { Dataset } from "./types.ts";

/** True weights of the synthetic-linear problem, for tests and reports. */
export const SYNTHETIC_WEIGHTS = [2, -3] as const;

/**
 * `n` samples of the seed experiment, drawn from a generator seeded by `seed`.
 *
 * @example
 * ```ts
 * import { syntheticLinear } from "./synthetic.ts";
 * const ds = syntheticLinear(200, 0, 42);
 * console.assert(Math.abs(ds.y[0] - (2 * ds.x[0] - 3 * ds.x[1])) < 1e-5);
 * ```
 */
export function syntheticLinear(n: number, noise: number, seed: number): Dataset {
  const rng = new Rng(seedFrom(seed, 0x11ea));
  const x = new Float32Array(n * 2);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const x0 = rng.normal();
    const x1 = rng.normal();
    x[2 * i] = x0;
    x[2 * i + 1] = x1;
    y[i] = SYNTHETIC_WEIGHTS[0] * x0 + SYNTHETIC_WEIGHTS[1] * x1 + noise * rng.normal();
  }
  return { x, y, n, inputShape: [2], targetSize: 1, task: "regression" };
}
