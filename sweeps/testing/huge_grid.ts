/**
 * A grid space for tests of grids too large to list: eight paths of ten values each (10^8
 * points), paths a trial's config takes.
 *
 * @module
 */

/** Ten grid values, `scale` to `10 * scale`. */
function ten(scale: number) {
  return { type: "grid", values: Array.from({ length: 10 }, (_, k) => (k + 1) * scale) };
}

/** Eight paths of ten values each (10^8 points), as a config's `sweep.space` writes them. */
export function tenByEightPaths(): Record<string, { type: string; values: number[] }> {
  return {
    seed: ten(1),
    prefetch: ten(1),
    maxSteps: ten(100),
    "earlyStopping.patience": ten(1),
    "clipping.maxNorm": ten(1),
    "optimizer.weightDecay": ten(0.001),
    "optimizer.lr": ten(0.001),
    "data.noise": ten(0.1),
  };
}
