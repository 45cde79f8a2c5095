/**
 * Watches the training loss for an explosion (a loss far above its early level, before it
 * overflows to Inf). A pure reducer shared by the clip monitor, which decides, and the trainer,
 * which asks for that decision at once on the step where it will come.
 *
 * One batch's loss is too noisy a yardstick when batches are tiny: at batch size 1 a single easy
 * sample's loss can be near zero, and an ordinary one hundreds of times that. So, like the
 * smoothed loss of fastai's LR finder, the watch compares means, never single losses: the
 * losses are averaged in blocks of consecutive steps holding at least {@linkcode BLOCK_SAMPLES}
 * samples (one step for batches of 16 or more, 16 steps at batch size 1), the early level is
 * the lowest of the first {@linkcode BASELINE_BLOCKS} block means, and a block explodes once its
 * mean is certain to exceed {@linkcode EXPLOSION_FACTOR} times that level. Steps count by their
 * samples: an epoch's short last step (one sample, say) is that fraction of a step, so that its
 * few samples never make a block, or a yardstick, of their own; a block's mean is the mean over
 * its samples.
 *
 * A run that maximizes its loss (torch's `maximize`) rises by design: its watch never reports an
 * explosion (a loss that overflows to NaN or Inf still stops it, as a non-finite one).
 *
 * @module
 */
import { formatNumber } from "../number_format.ts";

/** Samples a block of steps holds at least: its mean is as steady as a 16-sample batch's loss. */
export const BLOCK_SAMPLES = 16;
/** Blocks whose means set the early level an exploding loss is measured against. */
export const BASELINE_BLOCKS = 5;
/**
 * A block mean this many times the early level counts as exploding. Generous on purpose: a
 * block can be several times worse than the median, but not a hundred times in a healthy run.
 */
export const EXPLOSION_FACTOR = 100;

/** The watch's state. */
export interface LossWatchState {
  /** Steps per block: enough for {@linkcode BLOCK_SAMPLES} samples. */
  span: number;
  /** Samples of a whole step (a short one, an epoch's last, counts as its part of one). */
  samplesPerStep: number;
  /**
   * The current block so far: the sum of its losses, each times its step's part of a whole step
   * (1 for a whole step), and its samples.
   */
  sum: number;
  samples: number;
  /** The step the current block started at (null before its first loss). */
  blockStart: number | null;
  /** The first block means (up to BASELINE_BLOCKS). */
  earlyMeans: number[];
  /** The lowest of earlyMeans (null before the first block is complete). */
  level: number | null;
  /** The optimizer ascends the loss: a rising loss is no explosion. */
  maximize: boolean;
}

/** An exploding loss: the current block's mean so far and the early level. */
export interface LossExplosion {
  /** The block's first step and the step that made it explode. */
  fromStep: number;
  step: number;
  /** The mean of the block's losses so far, the exploding one included. */
  mean: number;
  level: number;
}

/**
 * The initial state for steps of `samplesPerStep` samples (the batch size times the gradient
 * accumulation); `maximize` when the optimizer ascends the loss (then nothing is an explosion).
 */
export function initLossWatch(
  samplesPerStep: number,
  options: { maximize?: boolean } = {},
): LossWatchState {
  if (!(samplesPerStep >= 1)) {
    throw new RangeError(
      `Cannot watch the loss: 'samplesPerStep' must be >= 1, current value is ${samplesPerStep}`,
    );
  }
  return {
    span: Math.ceil(BLOCK_SAMPLES / samplesPerStep),
    samplesPerStep,
    sum: 0,
    samples: 0,
    blockStart: null,
    earlyMeans: [],
    level: null,
    maximize: options.maximize ?? false,
  };
}

/**
 * Takes in a finite loss of a step that was applied, over `samples` samples (a whole step's
 * when absent). Returns the next state, and an explosion when the block's mean is certain to
 * exceed EXPLOSION_FACTOR times the early level (the losses still to come in the block are not
 * negative); then the state is the one given, so that the exploding loss never becomes part of a
 * level. A watch for a maximized loss is left as it is.
 */
export function observeLoss(
  state: LossWatchState,
  step: number,
  loss: number,
  samples: number = state.samplesPerStep,
): [LossWatchState, LossExplosion | undefined] {
  if (state.maximize) return [state, undefined];
  const whole = state.samplesPerStep;
  // A whole step adds its loss as it is (the same arithmetic as a plain mean); a short one its
  // share of a whole step's.
  const sum = state.sum + (samples === whole ? loss : loss * samples / whole);
  const taken = state.samples + samples;
  /** The block's steps so far, short ones as their part of a whole one. */
  const steps = taken / whole;
  const fromStep = state.blockStart ?? step;
  // The block ends with at least `span` whole steps' samples: its mean is at least this.
  if (
    state.level !== null && sum / Math.max(state.span, steps) > EXPLOSION_FACTOR * state.level
  ) {
    return [state, { fromStep, step, mean: sum / steps, level: state.level }];
  }
  if (taken < state.span * whole) {
    return [{ ...state, sum, samples: taken, blockStart: fromStep }, undefined];
  }
  // A block is complete. The lowest of the early means: a loss that explodes within the first
  // blocks (a far too high learning rate) must not raise its own yardstick.
  const earlyMeans = state.earlyMeans.length < BASELINE_BLOCKS
    ? [...state.earlyMeans, sum / steps]
    : state.earlyMeans;
  const level = Math.min(...earlyMeans);
  return [{ ...state, sum: 0, samples: 0, blockStart: null, earlyMeans, level }, undefined];
}

/** The reason a run stops for an explosion, as the clip monitor reports it. */
export function explosionReason(explosion: LossExplosion): string {
  const { fromStep, step, mean, level } = explosion;
  const what = fromStep === step
    ? "the loss exploded to"
    : `the mean loss of steps ${fromStep}-${step} exploded to`;
  // (the ratio as anneal prints numbers: 2.667e+12x, not 2667096955487x, where the loss exploded
  // by orders of magnitude)
  return `training diverged at step ${step}: ${what} ${formatNumber(mean)}, ${
    formatNumber(Math.round(mean / level))
  }x its early level ${formatNumber(level)}`;
}
