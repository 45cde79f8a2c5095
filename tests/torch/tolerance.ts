/**
 * How close anneal's values must come to torch's in the whole-run tests (tests/torch/
 * training_test.ts live, tests/torch_training_test.ts from the fixture): within a relative bound,
 * an absolute floor, or the distance float32 rounding alone puts between torch's own float32 and
 * float64 runs of the same config, at that step or over the steps just before it.
 *
 * @module
 */
import { fromPy, type PyNumber } from "./python.ts";

/**
 * `got` within the tolerance of torch's float32 `want`: `rel` of the larger magnitude, `abs`, or
 * five times the distance of torch's own float64 value `exact`, or of the `recent` steps' (relative
 * distances: {@linkcode recentSpread}). A value its conditioning makes
 * sensitive to rounding (a weight behind a saturated unit that an adaptive optimizer moves on
 * gradients of rounding noise, Adafactor's steps on features up to 100) parts two float32 runs
 * as far as float32 parts from float64; anneal's, which sums some terms in float64, lands on
 * float64's side of torch's, up to 3.7 times as far (seed 42, case 22, where the rate is 0 and
 * the weights fixed from step 11 on: no setting is in play).
 */
export function agrees(
  got: number,
  want: number,
  exact: PyNumber | undefined,
  rel: number,
  abs: number,
  recent = 0,
) {
  const apart = exact === undefined ? 0 : Math.abs(want - fromPy(exact));
  const spread = 5 * Math.max(apart, recent * Math.abs(want));
  return close(got, want, rel, Number.isFinite(spread) ? Math.max(abs, spread) : abs);
}

/** Steps whose float32-float64 distances {@linkcode recentSpread} takes the largest of. */
export const SPREAD_WINDOW = 8;

/**
 * At each step, the largest relative distance of torch's float32 value from its float64 one over
 * that step and the {@linkcode SPREAD_WINDOW} - 1 before it (0 without a float64 run). One step's
 * own distance can be near 0 by chance in a run whose conditioning makes it sensitive to rounding
 * at every step: ANNEAL_TORCH_SEED 41, case-116 (centered RMSprop behind tanh units on features
 * up to 100, clipped by value) has gradient norms 1e-4 to 2e-3 apart in torch's float32 and
 * float64 from step 3 on, 4e-5 at step 27, where anneal's was 2.2e-4 from torch's (its four paths,
 * cpu and wasm, the engine and tfjs's layers, within 6e-6 of each other).
 */
export function recentSpread(want: PyNumber[], exact: PyNumber[] | undefined): number[] {
  const apart = want.map((value, i) =>
    relativeApart(fromPy(value), exact === undefined ? NaN : fromPy(exact[i]))
  );
  return apart.map((_, i) => Math.max(...apart.slice(Math.max(0, i - SPREAD_WINDOW + 1), i + 1)));
}

/** |a - b| over the larger magnitude; 0 where that is not a finite number (both 0, a NaN). */
export function relativeApart(a: number, b: number): number {
  const d = Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));
  return Number.isFinite(d) ? d : 0;
}

/** |a - b| within `rel` of the larger magnitude, or `abs`. */
export function close(a: number, b: number, rel: number, abs: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (a === b) return true;
  return Math.abs(a - b) <= Math.max(abs, rel * Math.max(Math.abs(a), Math.abs(b)));
}

/** What of a torch run tells the course it took. */
export interface Course {
  steps: { lr?: PyNumber }[];
  epochs: unknown[];
  status?: string;
  bestEpoch?: number | null;
}

/**
 * torch's float64 run `exact` where it took its float32 run's course (as many steps, at the same
 * rates, and epochs; the same end and best epoch, where the runs record them), else none: then
 * how far float32 rounding alone moves torch's values is not known.
 */
export function sameCourse<T extends Course>(float32: Course, exact: T | undefined): T | undefined {
  if (exact === undefined) return undefined;
  const rate = (step: { lr?: PyNumber }) => fromPy(step.lr ?? NaN);
  const same = exact.status === float32.status && exact.bestEpoch === float32.bestEpoch &&
    exact.epochs.length === float32.epochs.length && exact.steps.length === float32.steps.length &&
    exact.steps.every((step, i) => close(rate(step), rate(float32.steps[i]), 1e-9, 0));
  return same ? exact : undefined;
}
