/**
 * The LR range test (Smith, "Cyclical Learning Rates for Training Neural Networks", 2017, §3.3;
 * fastai's `lr_find`), in-process on the run's own data and model: one optimizer step per
 * learning rate, the rate ramped from `startLr` to `endLr` over successive training batches, the
 * loss smoothed by a bias-corrected EMA, the test stopped once the smoothed loss passes
 * `divergeFactor` times its best. The model's weights are restored afterwards and the engine's
 * optimizer is left as it was (the test runs a fresh one of the same spec). Three rules read a
 * learning rate off the smoothed curve; the result is called unreliable when the curve does not
 * pin down a rate ({@linkcode judgeCurves}): its loss fell too little against its noise, its
 * `steepest` and `minimumDiv10` are more than 10x apart, or repeats with other seeds are.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { learningRateScale, parseConfig, type RunConfig, type RunConfigInput } from "../config.ts";
import { loadResolvedRows } from "../data/load_resolved.ts";
import { fingerprintSplits } from "../data/fingerprint.ts";
import {
  batchesPerEpoch,
  batchSeed,
  checkDataset,
  checkFiniteDataset,
  epochOrder,
  makeBatch,
  trainingBatchesPerEpoch,
} from "../data/batches.ts";
import type { Dataset } from "../data/types.ts";
import type { Rows } from "../data/split.ts";
import { createOptimizer } from "../optimizers/optimizer.ts";
import { maximizes, settingFault } from "../optimizers/hazards.ts";
import { parseSchedulerSpec } from "../schedulers/parse.ts";
import { rateOverride, rateSetting } from "../schedulers/rate_setting.ts";
import type { ResolvedSchedulerSpec } from "../schedulers/spec.ts";
import { plotSvg } from "../report/vega.ts";
import type { LrFindRecord } from "../report/types.ts";
import { extent } from "../report/extent.ts";
import { selectBackend } from "./backend.ts";
import type { HostBatch } from "./engine.ts";
import { TrainingEngine } from "./checked_engine.ts";
import { AnnealError } from "../errors.ts";
import { checkBatchNormBatches } from "../task_fit.ts";
import { formatNumber } from "../number_format.ts";
import { checkArgument, checkOptionNames, isObject } from "../option_names.ts";

/** The rules that read a learning rate off a range test's smoothed curve. */
export type SuggestionRule = "valley" | "steepest" | "minimumDiv10";

/** Each rule's learning rate; a rule that finds nothing (no descent at all) is absent. */
export interface LrSuggestions {
  /** Most negative slope of the smoothed loss against log LR, over a window of steps. */
  steepest?: number;
  /** The LR of the minimum smoothed loss, divided by 10. */
  minimumDiv10?: number;
  /** The middle of the longest descending stretch (fastai's `valley`). */
  valley?: number;
}

/** How far apart some suggested learning rates are. */
export interface Agreement {
  /** Smallest of the learning rates. */
  min: number;
  /** Largest of the learning rates. */
  max: number;
  /** `max / min`. */
  ratio: number;
  /** Geometric mean of the learning rates. */
  geometricMean: number;
  /** "unreliable" when `ratio` is above the limit (10x). */
  verdict: "reliable" | "unreliable";
}

/**
 * The learning rates of a range test: `startLr * (endLr / startLr) ** t` (exponential) or
 * `startLr + (endLr - startLr) * t` (linear), `t = i / (iterations - 1)`, both ends included.
 *
 * @example
 * ```ts
 * import { lrRamp } from "./lr_find.ts";
 * const ramp = lrRamp(1e-4, 1, 5, "exponential");
 * console.assert(ramp[0] === 1e-4 && ramp[4] === 1 && Math.abs(ramp[2] - 1e-2) < 1e-12);
 * ```
 */
export function lrRamp(
  startLr: number,
  endLr: number,
  iterations: number,
  mode: "exponential" | "linear" = "exponential",
): number[] {
  // a range wider than a double's (1e-300 to 1e300, or a denormal start) overflows the ratio to
  // Infinity, which made every rate but the first Infinity or NaN: there the ramp is taken
  // through the logarithms (elsewhere as it was, bit for bit)
  const ratio = endLr / startLr;
  const [logStart, logEnd] = [Math.log(startLr), Math.log(endLr)];
  return Array.from({ length: iterations }, (_, i) => {
    if (i === iterations - 1) return endLr;
    const t = i / (iterations - 1);
    if (mode === "linear") return startLr + (endLr - startLr) * t;
    return Number.isFinite(ratio)
      ? startLr * ratio ** t
      : i === 0
      ? startLr
      : Math.exp(logStart + (logEnd - logStart) * t);
  });
}

/**
 * Bias-corrected exponential moving average (fastai's smoothed loss): the mean of the first
 * values is not pulled towards 0.
 *
 * @example
 * ```ts
 * import { smoothLosses } from "./lr_find.ts";
 * const s = smoothLosses([2, 2, 2], 0.98);
 * console.assert(s.every((v) => Math.abs(v - 2) < 1e-12));
 * ```
 */
export function smoothLosses(losses: number[], beta = 0.98): number[] {
  let average = 0;
  return losses.map((loss, i) => {
    average = beta * average + (1 - beta) * loss;
    return average / (1 - beta ** (i + 1));
  });
}

/** The smoothed loss must fall more than this fraction of its start to count (float32's ~1e-7). */
export const FLAT_TOLERANCE = 1e-6;

/**
 * Every rule's suggestion from a smoothed curve. The rules look at the window that starts after
 * `skipStart` points (the EMA's warm-up; fastai skips the first 10%) and ends before the first
 * point that is not finite or exceeds `divergeFactor` times the best before it (the diverged tail).
 * - `steepest`: the LR at the middle of the window with the most negative slope of the smoothed
 *   loss against ln(LR), the slope a least-squares line's over the points within a twenty-fifth
 *   of the steps either side (4 of 100), every window ending by the minimum (later descents are
 *   rebounds from spikes); absent when the curve never falls. A slope between neighbouring points
 *   moved with the curve's noise: over five seeds of five examples (bench/lr_find_curves.ts) its
 *   rate spread 1.5-6.4x, over the window 1.2-3x (the churn CSV's, whose loss falls 12% over two
 *   decades, 3x either way).
 * - `minimumDiv10`: the LR of the lowest smoothed loss over 10, but not below the first LR.
 * - `valley` (fastai's): the longest strictly decreasing subsequence of the smoothed losses (which
 *   tolerates the small bumps a contiguous run would break on) up to the minimum; its stretch is
 *   the last `n` steps up to its last point, `n` its number of points, and the LR is the one a
 *   half of the way through that stretch by index (`first + floor(n / 3) + floor(n / 6)`, as
 *   fastai). Not the middle of the subsequence's own span: on a noisy curve it picks sparse points
 *   from the flat start, whose middle lies where the loss has not begun to fall. Absent when that
 *   subsequence has fewer than 3 points.
 *
 * When the smoothed loss never falls below its value at the window's start (by more than
 * {@linkcode FLAT_TOLERANCE} of it: a flat loss's rounding is no fall), there is no minimum
 * to read and every rule is absent (the test ran too few steps, or over too high rates).
 *
 * `iterations` is the number of steps the test was to take (`lrs.length` when absent: a test that
 * diverged early has fewer points than steps), which sizes `steepest`'s window.
 *
 * The EMA lags: with beta 0.98 its value averages about the last 30-50 steps, so on a 100-step
 * test the smoothed minimum sits well right of the raw one and `minimumDiv10` tends to be the
 * largest of the three; the agreement verdict reports that rather than hiding it.
 *
 * @example
 * ```ts
 * import { lrRamp, suggestLrs } from "./lr_find.ts";
 * const lrs = lrRamp(1e-5, 1, 51);
 * const loss = lrs.map((lr) => 2 - Math.exp(-((Math.log10(lr) + 2) ** 2)));
 * const s = suggestLrs(lrs, loss, { skipStart: 0 });
 * console.assert(s.minimumDiv10! > 5e-4 && s.minimumDiv10! < 2e-3);
 * ```
 */
export function suggestLrs(
  lrs: number[],
  smoothed: number[],
  options: { skipStart?: number; divergeFactor?: number; iterations?: number } = {},
): LrSuggestions {
  const { start, end, minimum } = readWindow(smoothed, options);
  // The warm-up's points are never read: a curve that diverges within it has nothing to read.
  if (end - start < 1) return {};
  const out: LrSuggestions = {};
  // A fall within float32 rounding is none: the EMA's bias correction of a constant loss wobbles
  // by ~1e-16, and the rules would read a rate off that noise.
  const fell = smoothed[start] - smoothed[minimum] > FLAT_TOLERANCE * Math.abs(smoothed[start]);
  if (minimum === start || !fell) return {};
  out.minimumDiv10 = Math.max(lrs[0], lrs[minimum] / 10);
  // Past the minimum the loss only gets worse: descents there are rebounds from spikes.
  const halfWidth = slopeHalfWidth(options.iterations ?? lrs.length);
  const steepest = steepestIndex(lrs, smoothed, start, minimum + 1, halfWidth);
  if (steepest >= 0) out.steepest = lrs[steepest];
  const valley = longestDescent(smoothed, start, minimum + 1);
  if (valley && valley.length >= 3) {
    const first = valley.last - valley.length;
    const third = (valley.last - first) / 3;
    out.valley = lrs[first + Math.floor(third) + Math.floor(third / 2)];
  }
  return out;
}

/** The smoothed loss's warm-up a test of `iterations` steps skips: its first tenth, as fastai's. */
function warmupPoints(iterations: number): number {
  return Math.floor(iterations / 10);
}

/**
 * The points of a smoothed curve the rules read: from `start` (after `skipStart` points, the EMA's
 * warm-up; a tenth of the curve by default) to `end`, the first point that is not finite or
 * exceeds `divergeFactor` (4) times the best before it (the diverged tail, left out); `minimum`,
 * the lowest point among them (`start` where there is none).
 */
function readWindow(
  smoothed: number[],
  options: { skipStart?: number; divergeFactor?: number },
): { start: number; end: number; minimum: number } {
  const divergeFactor = options.divergeFactor ?? 4;
  let end = 0;
  let best = Infinity;
  for (; end < smoothed.length; end++) {
    const value = smoothed[end];
    if (!Number.isFinite(value) || value > divergeFactor * best) break;
    best = Math.min(best, value);
  }
  const start = Math.min(options.skipStart ?? Math.floor(smoothed.length / 10), smoothed.length);
  let minimum = start;
  for (let i = start; i < end; i++) if (smoothed[i] < smoothed[minimum]) minimum = i;
  return { start, end, minimum };
}

/**
 * Points either side of a point in the window whose slope {@linkcode suggestLrs}'s `steepest`
 * reads: a twenty-fifth of the test's steps (4 of 100), at least 1, so that the window spans the
 * same share of the ramp however many steps the test has (and however soon it diverged).
 */
function slopeHalfWidth(iterations: number): number {
  return Math.max(1, Math.round(iterations / 25));
}

/**
 * The index in `[start, end)` whose window (`halfWidth` points either side, clipped at `start`)
 * has the most negative least-squares slope of `values` against ln(lr); -1 when none falls. A
 * window is never clipped at `end` (the minimum): one centred there would name the minimum's
 * own rate for the descent before it (on an SGD curve, 2x the rate where training was best).
 * A range too short for one window narrows it, down to a pair of points (its first is named).
 */
function steepestIndex(
  lrs: number[],
  values: number[],
  start: number,
  end: number,
  halfWidth: number,
): number {
  const half = Math.min(halfWidth, Math.max(1, Math.floor((end - start - 1) / 2)));
  let steepest = -1;
  let steepestSlope = 0;
  for (let center = start; center + half < end; center++) {
    const from = Math.max(start, center - half);
    const slope = leastSquaresSlope(lrs, values, from, center + half + 1);
    if (slope < steepestSlope) [steepest, steepestSlope] = [center, slope];
  }
  return steepest;
}

/** Least-squares slope of `values[from, to)` against ln(`lrs`), over at least 2 points. */
function leastSquaresSlope(lrs: number[], values: number[], from: number, to: number): number {
  let [meanX, meanY] = [0, 0];
  for (let i = from; i < to; i++) [meanX, meanY] = [meanX + Math.log(lrs[i]), meanY + values[i]];
  [meanX, meanY] = [meanX / (to - from), meanY / (to - from)];
  let [covariance, variance] = [0, 0];
  for (let i = from; i < to; i++) {
    const dx = Math.log(lrs[i]) - meanX;
    covariance += dx * (values[i] - meanY);
    variance += dx * dx;
  }
  return variance > 0 ? covariance / variance : 0;
}

/**
 * Last index and length of the first longest strictly decreasing subsequence of
 * `values[start, end)`: the length of the longest ending at each index, by patience sorting
 * (O(n log n); the pairwise comparison it replaces took minutes on a test of 100,000 steps).
 */
function longestDescent(
  values: number[],
  start: number,
  end: number,
): { last: number; length: number } | undefined {
  // tails[k]: the largest last value of a strictly decreasing subsequence of length k + 1 so
  // far (descending in k)
  const tails: number[] = [];
  let last = -1;
  let best = 0;
  for (let i = start; i < end; i++) {
    const v = values[i];
    // the first length whose tail is not above v: v extends the one before it
    let [low, high] = [0, tails.length];
    while (low < high) {
      const mid = (low + high) >> 1;
      if (tails[mid] > v) low = mid + 1;
      else high = mid;
    }
    tails[low] = v;
    if (low + 1 > best) [best, last] = [low + 1, i];
  }
  return last < 0 ? undefined : { last, length: best };
}

/**
 * The suggestion to train with: `valley` (it sits in the middle of the fast descent, away from
 * both the flat start and the blow-up, and is fastai's default), else `steepest`, else
 * `minimumDiv10`. Throws when no rule found anything (the smoothed loss never fell).
 *
 * @example
 * ```ts
 * import { chooseSuggestion } from "./lr_find.ts";
 * console.assert(chooseSuggestion({ steepest: 1e-3, minimumDiv10: 2e-3 }).rule === "steepest");
 * ```
 */
export function chooseSuggestion(suggestions: LrSuggestions): { rule: SuggestionRule; lr: number } {
  for (const rule of ["valley", "steepest", "minimumDiv10"] as const) {
    const lr = suggestions[rule];
    if (lr !== undefined) return { rule, lr };
  }
  throw new AnnealError(
    "diverged",
    "The LR range test found no learning rate: the smoothed loss never fell (or was never finite)",
    {
      hint: "lower startLr, run more iterations, or check the data and the model for NaN",
    },
  );
}

/**
 * How far apart some learning rates are; unreliable when `max / min` exceeds `limit`.
 *
 * @example
 * ```ts
 * import { agreementOf } from "./lr_find.ts";
 * console.assert(agreementOf([1e-3, 2e-3]).verdict === "reliable");
 * console.assert(agreementOf([1e-4, 3e-3]).verdict === "unreliable");
 * ```
 */
export function agreementOf(values: (number | undefined)[], limit = 10): Agreement {
  const lrs = values.filter((v): v is number => v !== undefined && Number.isFinite(v) && v > 0);
  if (!lrs.length) {
    return { min: NaN, max: NaN, ratio: NaN, geometricMean: NaN, verdict: "unreliable" };
  }
  const [min, max] = extent(lrs);
  const mean = Math.exp(lrs.reduce((sum, lr) => sum + Math.log(lr), 0) / lrs.length);
  // exp(log(x)) may miss x by an ulp; keep the mean inside [min, max].
  const geometricMean = Math.min(max, Math.max(min, mean));
  return {
    min,
    max,
    ratio: max / min,
    geometricMean,
    verdict: max / min > limit ? "unreliable" : "reliable",
  };
}

/** How far a curve's smoothed loss fell, against the batch-to-batch scatter of its raw loss. */
export interface CurveFall {
  /** The smoothed loss after the warm-up less its minimum before the diverged tail. */
  amount: number;
  /** That fall as a share of the smoothed loss after the warm-up. */
  share: number;
  /** Standard deviation of one raw loss about the curve's trend (median of successive steps). */
  noise: number;
  /** `amount / noise`: under {@linkcode MIN_FALL_TO_NOISE} the curve pins down no rate. */
  ratio: number;
  /** Index of the smoothed minimum; the last read point when the loss was still falling there. */
  minimum: number;
  /** Index of the last point read (before the diverged tail). */
  last: number;
}

/**
 * The least fall of the smoothed loss, in units of its raw loss's scatter, that reads a rate.
 * Measured on recorded curves (bench/lr_find_curves.ts, 3 seeds each): the clean ones (the
 * Fashion-MNIST MLP with adam, 14-17x, and with sgd and momentum, 11-17x; its CNN, 7-9x; the
 * sensors CSV, 10-12x) against the churn CSV, whose loss falls 10-13% and whose rules move 2-11x with the seed
 * (2.7-4.4x), a batch of 2 (0.6-1x) and a range ending at 1e-5 (0.5-1x).
 */
export const MIN_FALL_TO_NOISE = 6;

/**
 * The fall of a range test's curve against its noise ({@linkcode CurveFall}), read over the same
 * window as {@linkcode suggestLrs}'s: after `skipStart` points, up to the diverged tail. The
 * noise is the median absolute difference of successive raw losses over that window, scaled to a
 * normal's standard deviation (x 1.4826 / sqrt(2)): successive differences cancel the curve's
 * slow trend, and the median ignores a spike.
 *
 * @example
 * ```ts
 * import { curveFall, lrRamp, smoothLosses } from "./lr_find.ts";
 * const lrs = lrRamp(1e-5, 1, 100);
 * const losses = lrs.map((lr, i) => 2 - Math.min(1, lr * 100) + (i % 2 ? 0.01 : -0.01));
 * const fall = curveFall(losses, smoothLosses(losses), { skipStart: 10 });
 * console.assert(fall.ratio > 6 && fall.amount > 0.5);
 * ```
 */
export function curveFall(
  losses: number[],
  smoothed: number[],
  options: { skipStart?: number; divergeFactor?: number } = {},
): CurveFall {
  const { start, end, minimum } = readWindow(smoothed, options);
  const steps: number[] = [];
  for (let i = start; i + 1 < end; i++) {
    const step = Math.abs(losses[i + 1] - losses[i]);
    if (Number.isFinite(step)) steps.push(step);
  }
  steps.sort((a, b) => a - b);
  const noise = steps.length ? steps[Math.floor(steps.length / 2)] * 1.4826 / Math.SQRT2 : NaN;
  const amount = end > start ? smoothed[start] - smoothed[minimum] : 0;
  return {
    amount,
    share: amount / Math.abs(smoothed[start]),
    noise,
    ratio: noise > 0 ? amount / noise : amount > 0 ? Infinity : 0,
    minimum,
    last: end - 1,
  };
}

/**
 * How far below `steepest` `valley` may sit before a verdict calls the curve unreliable: 3-50x on
 * clean curves by construction (see {@linkcode judgeCurves}).
 */
export const VALLEY_BELOW_STEEPEST = 50;

/**
 * How far apart a curve's `steepest` and `minimumDiv10` are: the rules' agreement a verdict reads
 * (`valley` sits below them by construction, see {@linkcode judgeCurves}).
 */
function rulesAgreement(suggestions: LrSuggestions): Agreement {
  return agreementOf([suggestions.steepest, suggestions.minimumDiv10]);
}

/** What {@linkcode judgeCurves} reads of each repeat's curve. */
export type JudgedCurve = Pick<
  LrCurve,
  "seed" | "lrs" | "losses" | "smoothed" | "diverged" | "suggestions" | "suggestion"
>;

/**
 * Whether range-test curves pin down a learning rate, and if not, why and what to change:
 * - a curve whose smoothed loss fell less than {@linkcode MIN_FALL_TO_NOISE} times its raw
 *   loss's scatter (a range too low or too narrow to reach the descent, or a batch too small);
 * - `steepest` and `minimumDiv10` more than 10x apart (the curve has no single descent). `valley`
 *   is left out of this: it reads the middle of the longest decreasing subsequence, which starts
 *   in the flat low rates, so it sits 3-50x below the other two on clean curves by construction;
 * - a curve whose smoothed loss was still at its lowest at the range's end (it never turned up:
 *   the rules read where the range stopped);
 * - the repeats' suggestions more than 10x apart (the rate depends on the seed).
 *
 * @example
 * ```ts
 * import { judgeCurves, lrRamp, smoothLosses, suggestLrs } from "./lr_find.ts";
 * const lrs = lrRamp(1e-5, 1, 100);
 * // a dip at 1e-2, under batch losses that scatter by 0.01
 * const losses = lrs.map((lr, i) => 2 - Math.exp(-((Math.log10(lr) + 2) ** 2)) + (i % 2 ? 0.01 : -0.01));
 * const smoothed = smoothLosses(losses);
 * const suggestions = suggestLrs(lrs, smoothed);
 * const curve = { seed: 1, lrs, losses, smoothed, diverged: false, suggestions, suggestion: 1e-3 };
 * console.assert(judgeCurves([curve], { batchSize: 32 }).verdict === "reliable");
 * ```
 */
export function judgeCurves(
  curves: JudgedCurve[],
  context: {
    batchSize: number;
    skipStart?: number;
    divergeFactor?: number;
    unscaled?: string;
    /** The training samples: a batch of them all is steadied by no larger one. */
    trainSize?: number;
  },
): { verdict: Agreement["verdict"]; reasons: string[]; rules: Agreement; fall: CurveFall } {
  // (a batch of the whole training set: "a larger batchSize (1200 now) steadies the loss" was
  // said of a test whose batch held every training sample)
  const whole = context.trainSize !== undefined && context.batchSize >= context.trainSize;
  const larger = whole
    ? `no larger batchSize steadies it (its batch is the whole training set, ${context.trainSize} ` +
      "samples)"
    : `a larger batchSize (${context.batchSize} now) steadies the loss`;
  const named = (i: number) =>
    curves.length > 1 ? `repeat ${i + 1} (seed ${curves[i].seed}): ` : "";
  const reasons: string[] = [];
  const falls = curves.map((curve) => curveFall(curve.losses, curve.smoothed, context));
  const weakest = falls.reduce((worst, next, i) => next.ratio < falls[worst].ratio ? i : worst, 0);
  const fall = falls[weakest];
  if (!(fall.ratio >= MIN_FALL_TO_NOISE)) {
    reasons.push(
      named(weakest) + fallReason(curves[weakest], fall, larger, context.unscaled),
    );
  }
  const rules = curves.map(({ suggestions }) => rulesAgreement(suggestions));
  const worst = rules.reduce((worst, next, i) => next.ratio > rules[worst].ratio ? i : worst, 0);
  if (rules[worst].verdict === "unreliable") {
    const s = curves[worst].suggestions;
    const apart = `steepest (${formatNumber(s.steepest!)}) and minimumDiv10 (${
      formatNumber(s.minimumDiv10!)
    }) are ${formatNumber(rules[worst].ratio)}x apart: `;
    const curve = curves[worst];
    reasons.push(
      named(worst) + apart +
        (stillFalling(curve, falls[worst])
          // (said "two dips, or a spike ... a larger batchSize" of curves that had neither: a
          // classifier's loss that levelled off at high rates without blowing up, which the
          // smoothed loss, trailing the batch losses, still fell towards at the last rate)
          ? `minimumDiv10 reads the range's last rate (${
            formatNumber(curve.lrs.at(-1)!)
          }), where the smoothed loss was still at its lowest: the loss never turned up, so ` +
            // (the fall's reason, of the same curve, gave the fixes already)
            `there is no minimum to read${
              worst === weakest && reasons.length ? "" : `; ${longerTest(curve)}`
            }`
          : `the curve has no single descent to read (two dips, or a spike); plot it` +
            (whole
              ? `; ${larger}${curves.length > 1 ? "" : ", but --repeats 3 may"}`
              : `, and rerun with a larger batchSize (${context.batchSize} now)${
                curves.length > 1 ? "" : " or --repeats 3"
              }`)),
    );
  }
  // valley sits 3-50x below steepest on clean curves (see above); far more is a descent it did
  // not read: one batch of 16, the whole set, gave valley 0.001322, 126x below steepest's 0.1668,
  // called reliable (50 epochs at it left the loss at 13.2, at steepest's 0.244)
  const far = curves.findIndex(({ suggestions: { valley, steepest } }) =>
    valley !== undefined && steepest !== undefined && valley > 0 &&
    steepest / valley > VALLEY_BELOW_STEEPEST
  );
  if (far >= 0) {
    const { valley, steepest } = curves[far].suggestions;
    reasons.push(
      named(far) +
        `valley (${formatNumber(valley!)}) is ${formatNumber(steepest! / valley!)}x below ` +
        `steepest (${formatNumber(steepest!)}), past the ${VALLEY_BELOW_STEEPEST}x it sits ` +
        "below it on clean curves: it read the flat low rates, not the descent; plot the curve, " +
        "and compare the rules' rates in short runs",
    );
  }
  // A curve whose loss never turned up, its rules agreeing all the same: every rule reads where
  // the range stopped (its suggestions followed --end-lr: 0.0035, 0.0054 and 0.011 for an end at
  // 0.02, 0.05 and 0.2 of one linear model), not a minimum. (Said above where the fall or the
  // rules' spread was the reason.)
  const saidFalling = (!(fall.ratio >= MIN_FALL_TO_NOISE) && stillFalling(curves[weakest], fall)) ||
    (rules[worst].verdict === "unreliable" && stillFalling(curves[worst], falls[worst]));
  const falling = curves.findIndex((curve, i) => stillFalling(curve, falls[i]));
  if (!saidFalling && falling >= 0) {
    const curve = curves[falling];
    reasons.push(
      named(falling) +
        `the smoothed loss was still at its lowest at the range's last rate (${
          formatNumber(curve.lrs.at(-1)!)
        }): the loss never turned up, so the suggestions read where the range stopped, not a ` +
        `minimum; ${longerTest(curve)}`,
    );
  }
  const spread = agreementOf(curves.map((curve) => curve.suggestion));
  if (curves.length > 1 && spread.verdict === "unreliable") {
    reasons.push(
      `the repeats' suggestions are ${formatNumber(spread.ratio)}x apart (${
        formatNumber(spread.min)
      } .. ${formatNumber(spread.max)}): the rate depends on the seed; compare a few in a short ` +
        "sweep (anneal sweep)",
    );
  }
  return {
    verdict: reasons.length ? "unreliable" : "reliable",
    reasons,
    rules: rules[worst],
    fall,
  };
}

/**
 * Why a curve fell too little to read, and the fix: a longer range, or a steadier loss; `unscaled`,
 * the `--set` that scales the data's features where they are not (see {@linkcode unscaledFeatures}).
 */
function fallReason(
  curve: JudgedCurve,
  fall: CurveFall,
  steadier: string,
  unscaled?: string,
): string {
  const what = `the smoothed loss fell by ${formatNumber(fall.amount)} (${
    Math.round(100 * fall.share)
  }%), ${formatNumber(fall.ratio)}x the scatter of its batch losses (${
    formatNumber(fall.noise)
  }), under ${MIN_FALL_TO_NOISE}x: the curve does not pin down a rate`;
  // (features of large scales hold the loss whatever the range: said in every case below; it
  // was said only of a wide range or a blow-up, and a test on unscaled features whose loss was
  // still falling at 10 was told only to raise --end-lr)
  const scales = unscaled ? `; features of large scales may hold it (${unscaled})` : "";
  // (a range as wide as the default's, 1e-7 to 10, or one the loss blew up in, has room enough:
  // "a wider range gives it room to fall" was said of a test that ran 1e-7 to 10 and diverged)
  const first = curve.lrs[0];
  const last = curve.lrs.at(-1)!;
  const wide = first > 0 && last / first >= WIDE_RANGE;
  return what +
    (stillFalling(curve, fall)
      ? `; it was still falling at the last rate (${formatNumber(curve.lrs[fall.last])}): ${
        longerTest(curve)
      }${scales}`
      : (curve.diverged || wide) && fall.share >= LARGE_FALL
      // (a loss that fell by most of itself was far from its floor: the seed's, from ~17 to
      // 0.31 in its batches, was said to fall little at any rate, "near its floor")
      ? `; ${steadier}${
        curve.diverged ? `; it blew up at lr ${formatNumber(last)}` : ""
      }: its batch losses scatter about as much as it fell; more steps (--iterations ${
        2 * curve.lrs.length
      }) let its smoothed loss follow them${scales}`
      : curve.diverged || wide
      ? `; ${steadier}${
        curve.diverged ? `; it blew up at lr ${formatNumber(last)}, after a small fall` : ""
      }: a loss that falls little at any rate may be near its floor at the start${
        unscaled ? `, or held by features of large scales (${unscaled})` : ""
      }`
      : `; ${steadier}, and a wider range (--start-lr, --end-lr) gives it room to fall${scales}`);
}

/**
 * A fall of at least this share of the smoothed loss is no small one: a curve that falls so far
 * and still pins down no rate does so by its batches' scatter, not by a loss near its floor.
 */
export const LARGE_FALL = 0.5;

/**
 * Whether a curve's smoothed loss was lowest in its range's last twentieth of rates without
 * blowing up: the test never saw the loss turn up (its range stopped short, or it trained too
 * few steps for the loss to turn, the smoothed loss trailing the batch losses), so its
 * `minimumDiv10` reads the range's end, not a minimum.
 */
function stillFalling(curve: Pick<JudgedCurve, "lrs" | "diverged">, fall: CurveFall): boolean {
  return !curve.diverged && fall.last - fall.minimum <= Math.floor(curve.lrs.length / 20);
}

/**
 * The fixes for a curve that never turned up ({@linkcode stillFalling}): a range that reaches
 * the blow-up, or more steps. The smoothed loss averages about the last 50 steps (the EMA's
 * 0.98), half of a 100-step test: a loss that levels off at high rates without blowing up (a
 * classifier's held near its labels' entropy) is still falling, smoothed, at the range's end,
 * and a model far from its floor (a regression's mean to learn) has not had the steps to show
 * its descent. Measured on a 5-class CSV classifier and a 30-feature CSV regression: 300 steps
 * instead of 100 turned up both curves, and put the rules in the rates a grid trained best at,
 * where an --end-lr of 1000 left the classifier's unreliable.
 */
function longerTest(curve: Pick<JudgedCurve, "lrs">): string {
  return `raise --end-lr (10 is the default) so the range reaches the descent and the blow-up, ` +
    `or run more --iterations (${curve.lrs.length} now): a short test trains too few steps ` +
    `for the loss to turn up, and its smoothed loss trails the batch losses`;
}

/**
 * The `--set` that scales the features of `data` where they are left unscaled (a CSV's
 * `normalize` "none", IDX bytes with `scale` false), else undefined: the data that has no such
 * setting (synthetic-linear) or has its features scaled already is not told to scale them.
 */
export function unscaledFeatures(data: RunConfig["data"]): string | undefined {
  if (data.kind === "csv" && data.normalize === "none") return "--set data.normalize=standard";
  if (data.kind === "idx" && !data.scale) return "--set data.scale=true";
  return undefined;
}

/** A range test's rates spanning this factor or more (the default's 1e-7 to 10: 1e8) are wide. */
const WIDE_RANGE = 1e6;

/** Options of {@linkcode lrFind}; every field has a default. */
export interface LrFindOptions {
  /** First learning rate (1e-7). */
  startLr?: number;
  /** Last learning rate (10). */
  endLr?: number;
  /** Optimizer steps, one per learning rate (100; at least 10). */
  iterations?: number;
  /** How the rate moves from `startLr` to `endLr` ("exponential"). */
  mode?: "exponential" | "linear";
  /** EMA factor of the smoothed loss (0.98, bias-corrected as fastai does). */
  smoothing?: number;
  /** Stop once the smoothed loss passes this multiple of its best (4). */
  divergeFactor?: number;
  /** Run the test this many times with seeds `seed + r` (other batch orders and init) (1). */
  repeats?: number;
  /** Turn the suggestion into a complete scheduler spec in `suggestedConfig`. */
  schedule?: "onecycle" | "warmupCosine";
  /** Called after every step of the first repeat with its raw loss. */
  onProgress?: (iteration: number, lr: number, loss: number) => void;
  /** Run the first repeat on this engine (restored afterwards) instead of building one. */
  engine?: TrainingEngine;
  /** Use this training split instead of loading `config.data`. */
  train?: Dataset;
  /**
   * Stops the test when aborted: after the step in progress (or once the data is loaded), the
   * weights and optimizer restored, it throws an {@linkcode AnnealError} with code
   * `"interrupted"` saying how far it got (the abort's reason in its message); a test cut short
   * suggests nothing.
   */
  interrupt?: AbortSignal;
}

/** One range test's curve and what the rules read from it. */
/** The options {@linkcode lrFind} takes (any other name is refused). */
const LR_FIND_OPTIONS = Object.keys(
  {
    startLr: true,
    endLr: true,
    iterations: true,
    mode: true,
    smoothing: true,
    divergeFactor: true,
    repeats: true,
    schedule: true,
    onProgress: true,
    engine: true,
    train: true,
    interrupt: true,
  } satisfies Record<keyof LrFindOptions, true>,
);

/** One repeat of the range test: its curve, and the learning rates its rules read off it. */
export interface LrCurve {
  /** Seed of this repeat (batch order and initialisation). */
  seed: number;
  /** Learning rate of each step. */
  lrs: number[];
  /** Raw training loss of each step. */
  losses: number[];
  /** Bias-corrected EMA of `losses`. */
  smoothed: number[];
  /** True when the test stopped early on divergence (or a non-finite loss). */
  diverged: boolean;
  /** Each rule's learning rate. */
  suggestions: LrSuggestions;
  /** The rule chosen (the first that found something: valley, steepest, minimumDiv10). */
  rule: SuggestionRule;
  /** The chosen rule's learning rate. */
  suggestion: number;
  /** Agreement of this curve's `steepest` and `minimumDiv10` (`valley` sits below by design). */
  agreement: Agreement;
}

/** What {@linkcode lrFind} returns: the first repeat's curve plus the verdict over all repeats. */
export interface LrFindResult extends Omit<LrCurve, "agreement" | "seed"> {
  /** The tfjs backend the test ran on (`webgpu`, `wasm`, `cpu`): its record keeps it. */
  backend: string;
  /**
   * The SHA-256 fingerprint of the data it trained on, as a training run's meta.json records it
   * (`data/fingerprint.ts`): of `config.data`'s splits, or of the training split it was given.
   */
  fingerprint: string;
  /** The learning rate to train with: the repeats' geometric mean of their chosen rule. */
  suggestion: number;
  /**
   * Worst ratio of `steepest` to `minimumDiv10` of any repeat, the repeats' ratio, the weakest
   * repeat's fall against its noise, and the verdict over the three ({@linkcode judgeCurves}).
   */
  agreement: Agreement & { repeatRatio: number; fallToNoise: number; reasons: string[] };
  /** Spread of the repeats' suggestions (ratio 1 with one repeat). */
  spread: { geometricMean: number; min: number; max: number; ratio: number };
  /** Every repeat's curve, the first one first. */
  runs: LrCurve[];
  /**
   * The config with `optimizer.lr` (and `scheduler`, when asked) set from the suggestion; under
   * the config's own onecycle, its `maxLr`, which sets the rates (see {@linkcode suggestConfig}).
   */
  suggestedConfig: RunConfig;
  /** The same change as `--set` overrides, for writing into a config file. */
  suggestedOverrides: string[];
  /** The options used, defaults filled in. */
  options:
    & Required<
      Omit<LrFindOptions, "schedule" | "onProgress" | "engine" | "train" | "interrupt">
    >
    & {
      schedule?: "onecycle" | "warmupCosine";
    };
}

const DEFAULTS = {
  startLr: 1e-7,
  endLr: 10,
  iterations: 100,
  mode: "exponential" as "exponential" | "linear",
  smoothing: 0.98,
  divergeFactor: 4,
  repeats: 1,
};

/**
 * The fewest steps a range test may have: fewer, and the rules would skip no warm-up of the
 * smoothed loss (a tenth of the steps, rounded down) and read a learning rate off its first,
 * unsmoothed points.
 */
export const MIN_ITERATIONS = 10;

/**
 * The most steps a range test may have: 200 times the default. Its rules read the whole curve
 * at its end (`steepest` fits a window of a twenty-fifth of the steps at each step: ~0.5 s at
 * 20,000, 26 s at 150,000, where the test said nothing and heard no Ctrl-C), and its plot draws
 * every step; it allowed 10,000,000, and a test of 80,000 steps ran to its end and then failed
 * drawing its plot, recording nothing. (Past 2^32 steps no array could hold them: a RangeError,
 * "Invalid array length", where the test was asked for 1e9 steps.)
 */
export const MAX_ITERATIONS = 20_000;

function resolve(options: LrFindOptions): LrFindResult["options"] {
  const o = { ...DEFAULTS, ...stripUndefined(options) };
  const fail = (
    field: string,
    rule: string,
    value: unknown,
    hint = "pass a value in range, or leave it out for the default",
  ) => {
    throw new AnnealError(
      "usage",
      `Cannot run the LR range test: '${field}' must be ${rule}, current value is ${value}`,
      { where: field, hint },
    );
  };
  if (!(o.startLr > 0)) fail("startLr", "> 0", o.startLr);
  if (!Number.isFinite(o.endLr)) fail("endLr", "a finite number > startLr", o.endLr);
  if (!(o.endLr > o.startLr)) {
    fail(
      "endLr",
      `> startLr (${o.startLr})`,
      o.endLr,
      o.endLr < o.startLr
        ? `the test raises the rate from startLr to endLr: swap them (startLr ${o.endLr}, endLr ${o.startLr})`
        : `the test needs a range of rates to read a loss curve off: e.g. startLr ${DEFAULTS.startLr}, endLr ${DEFAULTS.endLr} (the defaults)`,
    );
  }
  if (!Number.isInteger(o.iterations) || o.iterations < MIN_ITERATIONS) {
    fail(
      "iterations",
      `an integer >= ${MIN_ITERATIONS}`,
      o.iterations,
      `the rules skip the first tenth of the steps (the smoothed loss's warm-up), then need a minimum of the smoothed loss after it; use ${DEFAULTS.iterations} (the default), or at least ${MIN_ITERATIONS}`,
    );
  }
  if (o.iterations > MAX_ITERATIONS) {
    fail(
      "iterations",
      `at most ${MAX_ITERATIONS.toLocaleString("en")}`,
      o.iterations,
      `the test holds a learning rate and a loss a step; use ${DEFAULTS.iterations} (the default): a few hundred steps read the curve`,
    );
  }
  if (!(o.smoothing >= 0 && o.smoothing < 1)) fail("smoothing", "in [0, 1)", o.smoothing);
  if (!(o.divergeFactor > 1)) fail("divergeFactor", "> 1", o.divergeFactor);
  if (!Number.isInteger(o.repeats) || o.repeats < 1) fail("repeats", "an integer >= 1", o.repeats);
  if (o.mode !== "exponential" && o.mode !== "linear") {
    fail("mode", '"exponential" or "linear"', o.mode);
  }
  // (another name gave a suggested config without a scheduler, and the override
  // `scheduler=undefined`)
  if (o.schedule !== undefined && o.schedule !== "onecycle" && o.schedule !== "warmupCosine") {
    fail(
      "schedule",
      '"onecycle" or "warmupCosine"',
      JSON.stringify(o.schedule),
      "leave it out to suggest a rate alone",
    );
  }
  // (any other value was taken, and never stopped the test)
  if (options.interrupt !== undefined && !(options.interrupt instanceof AbortSignal)) {
    fail(
      "interrupt",
      "an AbortSignal",
      typeof options.interrupt,
      "give interrupt: controller.signal (const controller = new AbortController()), or leave it out",
    );
  }
  return {
    startLr: o.startLr,
    endLr: o.endLr,
    iterations: o.iterations,
    mode: o.mode,
    smoothing: o.smoothing,
    divergeFactor: o.divergeFactor,
    repeats: o.repeats,
    ...(o.schedule ? { schedule: o.schedule } : {}),
  };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

interface DataOptions {
  shuffle: boolean;
  dropLast: boolean;
  augment?: Parameters<typeof makeBatch>[2];
}

/** Training steps (each `gradientAccumulation` batches), cycling through epochs as needed. */
function* steps(train: Rows, config: RunConfig, seed: number): Generator<HostBatch[]> {
  const spec = config.data as DataOptions;
  const batches = trainingBatchesPerEpoch(train.n, config.batchSize, spec.dropLast, {
    accumulation: config.gradientAccumulation,
  });
  let micro: HostBatch[] = [];
  for (let epoch = 0;; epoch++) {
    const order = epochOrder(train.n, { shuffle: spec.shuffle, seed, epoch });
    for (let index = 0; index < batches; index++) {
      const indices = order.subarray(
        index * config.batchSize,
        Math.min((index + 1) * config.batchSize, train.n),
      );
      micro.push(makeBatch(train, indices, spec.augment, batchSeed(seed, epoch, index)));
      if (micro.length === config.gradientAccumulation) {
        yield micro;
        micro = [];
      }
    }
  }
}

type Resolved = LrFindResult["options"];

/**
 * Throws the `"interrupted"` error once `interrupt` is aborted, saying how far the test got: `step`
 * steps of repeat `repeat` (counted from 0) done.
 */
function stopIfInterrupted(
  interrupt: AbortSignal | undefined,
  o: Resolved,
  repeat: number,
  step: number,
): void {
  if (!interrupt?.aborted) return;
  const reason = interrupt.reason === undefined ? "" : ` (${String(interrupt.reason)})`;
  const where = step === 0
    ? (repeat === 0 ? "before its first step" : `after ${repeat} of its ${o.repeats} repeats`)
    : `after ${step} of its ${o.iterations} steps` +
      (o.repeats > 1 ? ` in repeat ${repeat + 1} of ${o.repeats}` : "");
  throw new AnnealError(
    "interrupted",
    `LR range test interrupted${reason} ${where}: a test cut short suggests nothing`,
    {
      hint:
        `run it again; fewer steps take less time (iterations ${o.iterations} now, at least ${MIN_ITERATIONS})` +
        (o.repeats > 1 ? `, and so do fewer repeats (${o.repeats} now)` : ""),
    },
  );
}

/**
 * One range test on `engine`: returns the curve, and leaves the weights and the optimizer as they
 * were (also when a step throws).
 */
async function runCurve(
  engine: TrainingEngine,
  train: Rows,
  config: RunConfig,
  seed: number,
  o: Resolved,
  { onProgress, interrupt, repeat }: {
    onProgress?: LrFindOptions["onProgress"];
    interrupt?: AbortSignal;
    repeat: number;
  },
): Promise<LrCurve> {
  const saved = await engine.readWeights();
  for (const weight of Object.values(saved)) weight.values = weight.values.slice();
  // The test steps a fresh optimizer of the same spec, swapped in for its duration, so the
  // engine's own optimizer is never touched (Optimizer.setState cannot bring back a fresh
  // optimizer: a restored state without slots is refused at the next step).
  const probe = createOptimizer(engine.optimizer.spec);
  const own = engine.useOptimizer(probe);
  const ramp = lrRamp(o.startLr, o.endLr, o.iterations, o.mode);
  const lrs: number[] = [];
  const losses: number[] = [];
  const smoothed: number[] = [];
  let diverged = false;
  let average = 0;
  let best = Infinity;
  const maxNorm = config.clipping.maxNorm ?? undefined;
  try {
    const stream = steps(train, config, seed);
    let yielded = performance.now();
    for (let i = 0; i < ramp.length; i++) {
      if (interrupt && performance.now() - yielded > 50) {
        // a step on the CPU resolves without a macrotask: let a signal's listener (Ctrl-C) run
        await new Promise((resolve) => setTimeout(resolve, 0));
        yielded = performance.now();
      }
      stopIfInterrupted(interrupt, o, repeat, i);
      const pending = engine.computeGradients(stream.next().value as HostBatch[], i);
      const [{ loss }] = await engine.readStats([pending]);
      if (Number.isFinite(loss)) engine.applyGradients(pending, ramp[i], maxNorm);
      else engine.discardGradients(pending);
      average = o.smoothing * average + (1 - o.smoothing) * loss;
      const smooth = average / (1 - o.smoothing ** (i + 1));
      lrs.push(ramp[i]);
      losses.push(loss);
      smoothed.push(smooth);
      onProgress?.(i, ramp[i], loss);
      if (!Number.isFinite(smooth) || smooth > o.divergeFactor * best) {
        diverged = true;
        break;
      }
      best = Math.min(best, smooth);
    }
  } finally {
    engine.useOptimizer(own);
    probe.dispose();
    engine.writeWeights(saved);
  }
  const skipStart = warmupPoints(o.iterations);
  // (the step that diverged is not read)
  const readable = lrs.length - (diverged ? 1 : 0) - skipStart;
  // (a loss not finite from the first step is the data's or the model's: the error below says so)
  if (diverged && readable < MIN_READABLE && Number.isFinite(smoothed[0])) {
    throw divergedTooSoon(lrs, skipStart, o);
  }
  const suggestions = suggestLrs(lrs, smoothed, {
    skipStart,
    divergeFactor: o.divergeFactor,
    iterations: o.iterations,
  });
  if (Object.keys(suggestions).length === 0 && smoothed.some(Number.isFinite)) {
    // a loss that did not move at all over the rates (within rounding): they were all too low
    const read = smoothed.slice(skipStart).filter(Number.isFinite);
    const flat = !diverged && read.length > 0 &&
      read.every((v) => Math.abs(v - read[0]) <= FLAT_TOLERANCE * Math.abs(read[0]));
    throw new AnnealError(
      "diverged",
      `The LR range test found no minimum of the smoothed loss: it never fell below its first value in ${lrs.length} steps from ${
        formatNumber(lrs[0])
      } to ${formatNumber(lrs.at(-1))}${diverged ? ", where it diverged" : ""}`,
      {
        hint: flat
          ? `the loss did not move at all over rates up to ${
            formatNumber(lrs.at(-1))
          }: raise endLr (10, the default, reaches most models' rates); if it still never moves, check that the model can learn the data (its gradients reach its weights)`
          : `give the loss room to fall: more steps (iterations ${o.iterations}${
            o.iterations === DEFAULTS.iterations ? ", the default" : ""
          } now), a lower startLr, or a lower endLr; if it still never falls, check that the model can learn the data`,
      },
    );
  }
  const chosen = chooseSuggestion(suggestions);
  return {
    seed,
    lrs,
    losses,
    smoothed,
    diverged,
    suggestions,
    rule: chosen.rule,
    suggestion: chosen.lr,
    agreement: rulesAgreement(suggestions),
  };
}

/** The fewest steps after the smoothed loss's warm-up that the rules read a curve off. */
const MIN_READABLE = 3;

/**
 * The error of a test that diverged before its rules had {@linkcode MIN_READABLE} steps to read
 * after the warm-up (the first `skipStart` steps): the rate climbed too far too soon, and the
 * rules, read off two points or the unsmoothed start, would suggest a rate the curve never showed.
 */
function divergedTooSoon(lrs: number[], skipStart: number, o: Resolved): AnnealError {
  const last = lrs.at(-1)!;
  const ramp = o.mode === "linear"
    ? `the linear ramp is at ${
      formatNumber(lrRamp(o.startLr, o.endLr, o.iterations, "linear")[1])
    } by its second step: use the exponential ` +
      `mode (the default), whose rate climbs by the same factor every step, or a lower endLr`
    : `a lower startLr (${formatNumber(o.startLr)} now), a lower endLr (${
      formatNumber(o.endLr)
    } now) or more iterations (${o.iterations} now)` +
      (last < 1e-3
        ? `; a model that diverges at rates this low may have inputs on a large scale (normalize them)`
        : "");
  return new AnnealError(
    "diverged",
    `The LR range test diverged at step ${lrs.length} of ${o.iterations} (lr ${
      formatNumber(last)
    }), before its rules had ${MIN_READABLE} steps to read after the smoothed loss's warm-up ` +
      `(its first ${skipStart} step${skipStart === 1 ? "" : "s"}): it suggests no learning rate`,
    { hint: ramp },
  );
}

/**
 * A repeat's "found no minimum", said of that repeat: which one of how many, its seed, and what
 * the repeats before it suggested, so that one repeat's empty curve is not taken for the whole
 * test's (the first repeat may have found a rate, and the printed result would be that one's).
 */
function repeatFoundNothing(
  error: AnnealError,
  repeat: number,
  seed: number,
  o: Resolved,
  before: LrCurve[],
): AnnealError {
  const found = before.map((run, i) =>
    `repeat ${i + 1} (seed ${run.seed}) suggested ${formatNumber(run.suggestion)}`
  );
  return new AnnealError(
    "diverged",
    `The LR range test's repeat ${repeat + 1} of ${o.repeats} (seed ${seed}: its own batch ` +
      `order and initialisation) ${error.message.replace(/^The LR range test /, "")}` +
      (found.length > 0
        ? `; ${found.join(", ")}, so the rate depends on the seed: no rate can be called reliable`
        : ""),
    { hint: error.hint, cause: error },
  );
}

/**
 * Refuses a config whose range test could not be read as one: a setting that breaks the update
 * whatever the learning rate (RMSprop's `alpha` >= 1: the curve would blame the rate for it), and
 * torch's `maximize`. The rules read a rate off a falling loss (its steepest descent, its
 * minimum); a maximized loss rises instead, and every loss anneal has (mse, crossEntropy,
 * binaryCrossEntropy) is unbounded above, so its ascent only gets faster with the rate until it
 * overflows: there is no turning point to read, and its steepest stretch is at the overflow.
 *
 * @example
 * ```ts
 * import { checkReadable } from "./lr_find.ts";
 * import { parseConfig } from "../config.ts";
 * checkReadable(parseConfig({ optimizer: { name: "adam", lr: 1e-3 } }));
 * let where = "";
 * try {
 *   checkReadable(parseConfig({ optimizer: { name: "adam", lr: 1e-3, maximize: true } }));
 * } catch (error) {
 *   where = (error as { where: string }).where;
 * }
 * console.assert(where === "optimizer.maximize");
 * ```
 */
export function checkReadable(config: RunConfig): void {
  const fault = settingFault(config.optimizer);
  if (fault) {
    throw new AnnealError(
      "config",
      `Cannot run the LR range test: ${fault.message}; the test would blame that on the ` +
        "learning rate",
      { where: fault.field, hint: `${fault.hint}, then run the test` },
    );
  }
  if (maximizes(config.optimizer)) {
    throw new AnnealError(
      "config",
      "Cannot run the LR range test with optimizer.maximize: the test reads a learning rate off " +
        "a falling loss (its steepest descent, its minimum), but maximize makes the loss rise, " +
        "and mse, crossEntropy and binaryCrossEntropy have no upper bound, so the ascent only " +
        "speeds up with the learning rate until it overflows: there is no minimum or turning " +
        "point to read",
      {
        where: "optimizer.maximize",
        hint: "for the scale of rates the model's gradients allow, run the test on the " +
          "minimized loss (--set optimizer.maximize=false) and start the ascent below its " +
          "suggestion; or compare a few rates in a short sweep (anneal sweep)",
      },
    );
  }
}

/**
 * Refuses an optimizer whose step does not train at the rate the test sets: adafactor, whose
 * step is `min(lr, 1/sqrt(step))` times each weight's RMS. (`tune` keeps such a config's rate,
 * saying why, where its learning-rate stage would run the test.)
 */
export function checkRatesApplied(config: RunConfig): void {
  if (config.optimizer.name === "adafactor") {
    // (its step is min(lr, 1 / sqrt(step)) x the weight's RMS: past 1 / sqrt(step), ~0.1 from
    // the test's 75th step of 100, a rate set is not the rate applied, and the curve's rates,
    // its suggestions and "raise --end-lr" read rates never trained at)
    throw new AnnealError(
      "config",
      "Cannot run the LR range test with adafactor: its step size is min(lr, 1/sqrt(step)) " +
        "times each weight's RMS, so past 1/sqrt(step) (0.1 at the 100th step) the rates the " +
        "test sets are not the rates it trains at, and the curve's rates and suggestions would " +
        "name rates never applied",
      {
        where: "optimizer.name",
        hint: "adafactor's lr is a cap on its own relative step (torch's default 0.01 suits " +
          "most models): compare a few lr values in a short sweep (anneal sweep), or run the " +
          "test with adam (--set optimizer.name=adam) for the scale of rates the model allows",
      },
    );
  }
}

/**
 * Runs the LR range test for `config` (on a backend it selects, unless `options.engine` is given)
 * and suggests a learning rate, with a scheduler spec when `options.schedule` asks for one. A
 * config whose test could not be read is refused first ({@linkcode checkReadable}). Takes the
 * `config` as written or as `parseConfig` gives it; an option name it does not take is refused
 * (an `AnnealError`, `usage`, naming the one likely meant).
 *
 * @example
 * ```ts ignore
 * import { lrFind } from "./lr_find.ts";
 * import { parseConfig } from "../config.ts";
 * const config = parseConfig({ backend: "cpu", optimizer: { name: "adam", lr: 1e-3 } });
 * const result = await lrFind(config, { iterations: 50, schedule: "onecycle" });
 * console.log(result.suggestion, result.agreement.verdict, result.suggestedConfig.scheduler);
 * ```
 */
export async function lrFind(
  input: RunConfigInput | RunConfig,
  options: LrFindOptions = {},
): Promise<LrFindResult> {
  // (a config as written threw a TypeError, reading its model's kind; a misspelt option was
  // ignored, the test run with its default)
  checkOptionNames(options, LR_FIND_OPTIONS, "run the LR range test");
  const config = parseConfig(input);
  const o = resolve(options);
  checkReadable(config);
  checkRatesApplied(config);
  // (an engine given was built on the backend already set)
  const backend = options.engine
    ? tf.getBackend()
    : (await selectBackend(config.backend, config.model.kind)).backend;
  // (a training split given by hand, checked before it is read: `{}` threw a TypeError)
  if (options.train !== undefined) {
    const what = "run the LR range test on 'train'";
    checkDataset(options.train, what);
    // (a NaN in it made the test diverge at its first steps, blamed on the rate)
    checkFiniteDataset(options.train, what);
  }
  // (IDX images stay bytes, as in a run's data loader: each batch's floats are made as it is)
  const data = options.train ? undefined : await loadResolvedRows(config.data, config.seed);
  const train = options.train ?? data!.train;
  // (a training run's of the same config's data is the same)
  const fingerprint = data?.fingerprint ?? await fingerprintSplits({ train });
  // An epoch without a batch is refused before any engine is built.
  trainingBatchesPerEpoch(train.n, config.batchSize, (config.data as DataOptions).dropLast, {
    heldOut: data?.validation?.n,
    accumulation: config.gradientAccumulation,
  });
  // So is a batch of one sample under batch norm, as train refuses it (the test stepped on it,
  // and its suggestion's `anneal train` was refused)
  checkBatchNormBatches(config.model, train.inputShape, {
    trainSize: train.n,
    batchSize: config.batchSize,
    dropLast: (config.data as DataOptions).dropLast,
    accumulation: config.gradientAccumulation,
  });
  const runs: LrCurve[] = [];
  for (let r = 0; r < o.repeats; r++) {
    stopIfInterrupted(options.interrupt, o, r, 0);
    const seed = config.seed + r;
    const own = r === 0 && options.engine
      ? undefined
      : new TrainingEngine({ ...config, seed }, train);
    try {
      const engine = own ?? options.engine!;
      runs.push(
        await runCurve(engine, train, config, seed, o, {
          onProgress: r === 0 ? options.onProgress : undefined,
          interrupt: options.interrupt,
          repeat: r,
        }),
      );
    } catch (error) {
      throw o.repeats > 1 && error instanceof AnnealError && error.code === "diverged"
        ? repeatFoundNothing(error, r, seed, o, runs)
        : error;
    } finally {
      own?.dispose();
    }
  }
  const spread = agreementOf(runs.map((run) => run.suggestion));
  const judged = judgeCurves(runs, {
    batchSize: config.batchSize,
    trainSize: train.n,
    skipStart: warmupPoints(o.iterations),
    divergeFactor: o.divergeFactor,
    unscaled: unscaledFeatures(config.data),
  });
  const suggestion = spread.geometricMean;
  const first = runs[0];
  const { config: suggestedConfig, overrides } = suggestConfig(
    config,
    train.n,
    suggestion,
    o.schedule,
  );
  return {
    backend,
    fingerprint,
    lrs: first.lrs,
    losses: first.losses,
    smoothed: first.smoothed,
    diverged: first.diverged,
    suggestions: first.suggestions,
    rule: first.rule,
    suggestion,
    agreement: {
      ...judged.rules,
      repeatRatio: spread.ratio,
      fallToNoise: judged.fall.ratio,
      verdict: judged.verdict,
      reasons: judged.reasons,
    },
    spread: {
      geometricMean: spread.geometricMean,
      min: spread.min,
      max: spread.max,
      ratio: spread.ratio,
    },
    runs,
    suggestedConfig,
    suggestedOverrides: overrides,
    options: o,
  };
}

/**
 * `config` with its learning rate set to `lr` (the rate the optimizer should see at the run's
 * effective batch, so `optimizer.baseBatch` scaling is undone), and with a scheduler when asked:
 * - `onecycle`: `maxLr = lr`, `totalSteps` = epochs x optimizer steps per epoch (capped by
 *   `maxSteps`); `cycleMomentum` false for an optimizer with no momentum or beta1 to cycle
 *   (adagrad, adadelta, adafactor). The peak is the suggestion itself, not Smith's "10x the minimum-loss rule": the
 *   rules already sit on the steep descent, an order of magnitude below where the short ramp
 *   diverged, and onecycle's warm-up from `maxLr / 25` reaches that peak in the first 30% of a run
 *   that lasts far longer than the range test, so a peak at the loss minimum tends to diverge.
 * - `warmupCosine`: `optimizer.lr = lr`, `warmupSteps` = 5% of `totalSteps` (at least 1).
 *
 * Asked for no schedule, a config whose onecycle sets the rates (on its own, or in a sequential)
 * gets its `maxLr` set to `lr` instead: the optimizer's `lr` does nothing there. Its override is
 * `scheduler.maxLr=...`, or for a sequential's onecycle, which `--set` cannot reach in its list,
 * the whole `scheduler=...` section.
 *
 * @example
 * ```ts
 * import { suggestConfig } from "./lr_find.ts";
 * import { parseConfig } from "../config.ts";
 * const { config } = suggestConfig(parseConfig({ epochs: 2 }), 200, 0.003, "onecycle");
 * console.assert(config.scheduler?.name === "onecycle" && config.optimizer.lr === 0.003);
 * ```
 */
export function suggestConfig(
  config: RunConfig,
  trainSamples: number,
  lr: number,
  schedule?: "onecycle" | "warmupCosine",
): { config: RunConfig; overrides: string[] } {
  const spec = config.data as DataOptions;
  const optimizerLr = lr / learningRateScale(config);
  const accumulation = config.gradientAccumulation;
  const perEpoch = Math.ceil(
    batchesPerEpoch(trainSamples, config.batchSize, spec.dropLast, accumulation) / accumulation,
  );
  const totalSteps = Math.max(1, Math.min(config.epochs * perEpoch, config.maxSteps ?? Infinity));
  let scheduler: ResolvedSchedulerSpec | undefined = config.scheduler;
  if (schedule === "onecycle") {
    // adagrad, adadelta and adafactor have no momentum or beta1 to cycle: the config refuses a
    // onecycle that cycles it (as torch's OneCycleLR does when built)
    const name = config.optimizer.name;
    const still = name === "adagrad" || name === "adadelta" || name === "adafactor";
    scheduler = parseSchedulerSpec({
      name: "onecycle",
      interval: "step",
      maxLr: lr,
      totalSteps,
      ...(still && { cycleMomentum: false }),
    });
  } else if (schedule === "warmupCosine") {
    const warmupSteps = Math.max(1, Math.round(totalSteps * 0.05));
    scheduler = parseSchedulerSpec({
      name: "warmupCosine",
      interval: "step",
      warmupSteps,
      totalSteps,
    });
  }
  if (!schedule && rateSetting(config).oneCycle) {
    // the run's onecycle sets the rates from its maxLr: the suggestion is its peak, as above
    const { path, value } = rateOverride(config, lr);
    const whole = path === "scheduler";
    const next = (whole ? value : { ...config.scheduler, maxLr: lr }) as ResolvedSchedulerSpec;
    return {
      config: { ...config, scheduler: next },
      overrides: [`${path}=${whole ? JSON.stringify(value) : value}`],
    };
  }
  const optimizer = { ...config.optimizer, lr: optimizerLr } as RunConfig["optimizer"];
  const out: RunConfig = { ...config, optimizer, ...(scheduler ? { scheduler } : {}) };
  const overrides = [`optimizer.lr=${optimizerLr}`];
  if (schedule) overrides.push(`scheduler=${JSON.stringify(scheduler)}`);
  return { config: out, overrides };
}

/** Refuses a `result` (from plain JavaScript) that is not an LR range test's: `what` it is for. */
function checkLrFindResult(result: unknown, what: string): void {
  checkArgument(
    isObject(result) && Array.isArray(result.lrs) && Array.isArray(result.losses),
    result,
    what,
    "result",
    "an LR range test's result (with 'lrs' and 'losses' arrays)",
    "pass what await lrFind(config) gives",
  );
}

/**
 * The `lr_find.json` record of a result (docs/contracts.md): the curve, every rule's suggestion,
 * the chosen one and the verdict.
 *
 * @example
 * ```ts
 * import { lrFindRecord } from "./lr_find.ts";
 * const record = lrFindRecord({
 *   lrs: [1e-3, 1e-2], losses: [2, 1], smoothed: [2, 1.5], suggestions: { steepest: 1e-3 },
 *   suggestion: 1e-3, rule: "steepest",
 * });
 * console.assert(record.suggestions!.steepest === 1e-3);
 * ```
 */
export function lrFindRecord(
  result:
    & Pick<LrFindResult, "lrs" | "losses" | "smoothed" | "suggestions" | "suggestion" | "rule">
    & Partial<LrFindResult>,
): LrFindRecord & { suggestions: Record<string, number>; [key: string]: unknown } {
  checkLrFindResult(result, "record the LR range test");
  return {
    lrs: result.lrs,
    losses: result.losses,
    smoothed: result.smoothed,
    suggestions: stripUndefined(result.suggestions) as Record<string, number>,
    suggestion: result.suggestion,
    rule: result.rule,
    ...(result.agreement ? { agreement: result.agreement } : {}),
    ...(result.spread ? { spread: result.spread } : {}),
    ...(result.runs
      ? {
        repeats: result.runs.map((run) => ({
          seed: run.seed,
          suggestion: run.suggestion,
          rule: run.rule,
        })),
      }
      : {}),
  };
}

/**
 * Loss against learning rate on a log axis, raw and smoothed, with the suggestion marked.
 *
 * @example
 * ```ts
 * import { lrFindSvg } from "./lr_find.ts";
 * const svg = await lrFindSvg({
 *   lrs: [1e-4, 1e-3, 1e-2], losses: [2, 1, 3], smoothed: [2, 1.5, 2],
 *   suggestion: 1e-3, rule: "valley",
 * });
 * console.assert(svg.startsWith("<svg"));
 * ```
 */
export function lrFindSvg(
  result: Pick<LrFindResult, "lrs" | "losses" | "smoothed" | "suggestion" | "rule">,
): Promise<string> {
  checkLrFindResult(result, "plot the LR range test");
  return plotSvg({
    id: "lr-find",
    dir: "",
    config: {},
    meta: { id: "lr-find" },
    summary: { status: "completed" },
    warnings: [],
    steps: [],
    epochs: [],
    lrFind: {
      lrs: result.lrs,
      losses: result.losses,
      smoothed: result.smoothed,
      suggestions: { [`suggested (${result.rule})`]: result.suggestion },
    },
  }, "lrFind");
}
