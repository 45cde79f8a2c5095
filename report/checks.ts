/**
 * The checks behind `diagnose`: one function per symptom, each returning a finding with its
 * evidence and a `--set` fix from the run's own config, or nothing. Thresholds are named constants.
 *
 * @module
 */
import { configValue } from "./records.ts";
import { counted, formatNumber } from "../number_format.ts";
import { shellWord } from "../shell_word.ts";
import type { Finding, RunRecord } from "./types.ts";
import { maximizes, settingFault } from "../optimizers/hazards.ts";
import {
  rateChange,
  type RateSetting,
  rateSetting,
  risingSettings,
  rollbackCutText,
} from "../schedulers/rate_setting.ts";
import { stretchChanges } from "../schedulers/stretch.ts";
import { parseSchedulerSpec } from "../schedulers/parse.ts";
import type { SpecOf } from "../schedulers/spec.ts";
import type { ScheduleNote } from "../schedulers/reach.ts";
import { warmupBeyondRun } from "../schedulers/warmup_reach.ts";
import { FIRST_STEP, firstStepFault, float16Stored } from "./first_step.ts";
import { scaleLearningRate } from "../optimizers/scaling.ts";

// Thresholds. Each is a judgement call taken from common practice; the tests pin their effect.
/** Diverged when a loss exceeds this multiple of the first (Keras/Lightning divergence checks use ~10x). */
export const DIVERGE_FROM_FIRST = 10;
/** ...or ends above this multiple of its minimum and above where it started (blew up after learning). */
export const DIVERGE_FROM_MIN = 20;
/**
 * ...or ends above this multiple of its first value: a loss that climbed did move, so it is not
 * "too low a rate" (a higher one would climb faster), nor a plateau to decay.
 */
export const RISE_FROM_FIRST = 2;
/**
 * ...or fell, then climbed back more than this fraction of the way to its start, ending above
 * RISE_FROM_FIRST x its minimum: a rising loss, not the flat one the plateau checks read.
 */
export const CLIMBED_BACK = 0.5;
/**
 * ...or fell by more than this many times the curve's own noise (the median epoch-to-epoch move)
 * and ended above where it started: a loss that went backwards, whatever its scale (a
 * cross-entropy back at chance sits well under 2x the minimum it had reached).
 */
export const FELL_OVER_NOISE = 3;
/**
 * ...by more than this fraction of its lowest value: a loss that moved within a band that narrow
 * (0.6865, 0.6832, then 0.6939: ln 2, a model held at its labels' frequencies by weight decay)
 * jittered at a level, and did not go backwards.
 */
export const CLIMBED_ABOVE_MIN = 0.05;
/**
 * A regression's targets' variance at or above which a loss worse than their mean is blamed on
 * their scale (a spread of 1000 or more), not on a rate to lower.
 */
export const LARGE_TARGET_VARIANCE = 1e6;
/**
 * Collapsed to chance: a classifier's training loss that stays within this fraction of chance
 * level (ln K for K classes: the loss of a uniform guess) over the run's second half, and never
 * got below it by more...
 */
export const AT_CHANCE = 0.05;
/**
 * ...after a step whose loss rose above this multiple of chance level: updates that overshot (a
 * model that starts near a uniform guess, as torch's initialisations make it, and learns too
 * slowly to move stays near ln K at every step).
 */
export const OVERSHOT_CHANCE = 2;
/** Curves shorter than this many epochs have no trend to read (only NaN and spikes are judged). */
export const MIN_EPOCHS_FOR_TRENDS = 3;
/**
 * At the labels' entropy: a classifier's training loss over the run's last half within this
 * fraction of the entropy of its training labels' frequencies (the loss of predicting those
 * frequencies for every row, whatever its features)...
 */
export const AT_PRIOR = 0.02;
/** LR too low when the training loss dropped by less than this fraction of its start over the run. */
export const LOW_LR_DROP = 0.05;
/**
 * ...or under this fraction, falling at an even pace to the end (see {@linkcode EVEN_PACE}): the
 * straight, slow descent of a rate too low, where a rate that suits the model takes most of its
 * fall early and then slows down (a real run: Adam at 1e-5 on Fashion-MNIST fell 5.6% in 8
 * epochs, each faster than the one before, at 0.31 training accuracy; at 1e-3, 49% in the first).
 */
export const LOW_LR_SLOW = 0.2;
/** (see {@linkcode LOW_LR_SLOW}) The second half fell at least this fraction of the first's fall. */
export const EVEN_PACE = 0.5;
/**
 * A longer run (at least {@linkcode LINEAR_EPOCHS}) whose loss fell by under this fraction of its
 * start in a straight line ({@linkcode LINEAR_PACE}: its second half as much as its first, nearly)
 * and still falls trains at a rate too low too: the seed at lr 1e-4 fell 21% in 50 epochs, 0.08
 * an epoch throughout, read as "healthy, still improving: train longer", and 100 epochs then 38%,
 * the same again (a rate that suits the model took it to 1/70 of its start).
 */
export const LOW_LR_LINEAR = 0.5;
/** (see {@linkcode LOW_LR_LINEAR}) */
export const LINEAR_EPOCHS = 10;
/** (see {@linkcode LOW_LR_LINEAR}) */
export const LINEAR_PACE = 0.8;
/**
 * A loss that moved up in more than this fraction of its epochs, or ended above the middle of its
 * fall, jitters at a level (the data's noise floor, a model that cannot do better), where a rate
 * too low makes it creep down every epoch: not read as too low a rate.
 */
export const JITTER_UPS = 1 / 3;
/**
 * ...counting only moves above this fraction of the loss's start: below it an epoch's mean moves
 * by float32's rounding of its sums alone. A rate so low (1e-9 on the seed) that the weights
 * never changed left a loss flat to 1e-6 whose rounding went up in half its epochs, read as a
 * jitter, and the run as "healthy" (at 1e-8 it read as a rate too low).
 */
export const ROUNDING_MOVE = 1e-5;
/**
 * ...and under this fraction the fix is 100x, not 10x: at small rates a loss's fall grows about
 * with the rate, so one that moved under 0.5% would move under 5% at 10x and read as too low again
 * (a real run: SGD at 1e-5 on Fashion-MNIST fell 0.06%, and at 1e-4 about 0.5%).
 */
export const BARELY_MOVED = 0.005;
/**
 * An lrTooLow finding names the rates the run trained at when their highest stayed under this
 * fraction of `optimizer.lr` (a schedule, or the scaling rule, held them down).
 */
export const LOW_RATES_HELD = 0.5;
/** Flat second half: it removed less than this fraction of the run's total loss drop. */
export const FLAT_SECOND_HALF = 0.05;
/** "Still high": the final loss is above this fraction of the drop achieved (far from converged). */
export const PLATEAU_LEVEL = 0.2;
/**
 * A regression's plateau whose final loss is above this multiple of the drop achieved (training
 * took off under a sixth of its loss) says it may be the targets' noise floor.
 */
export const NOISE_FLOOR_SHARE = 5;
/** Underfitting when the final training loss is above this multiple of the drop achieved... */
export const UNDERFIT_LEVEL = 1;
/** ...or the final training accuracy is below this (a model that cannot fit its training set). */
export const UNDERFIT_ACCURACY = 0.7;
/** Train and validation are "close" when their gap is below this fraction of the training loss. */
export const SMALL_GAP = 0.15;
/** Still falling at the end: the last epoch took more than this fraction off the loss. */
export const STILL_FALLING = 0.02;
/**
 * ...or each of its last this many epochs took the loss lower, at no less than STEADY_PACE of the
 * run's own mean drop per epoch: a loss that falls slowly at a high level (a small rate, a small
 * model) has not levelled off, whatever the share of itself an epoch takes.
 */
export const STEADY_EPOCHS = 3;
/** (see {@linkcode STEADY_EPOCHS}) */
export const STEADY_PACE = 0.25;
/** Curves shorter than this many epochs have too few moves to read a zig-zag in. */
export const MIN_EPOCHS_FOR_OSCILLATION = 6;
/** A plateau's flat second half spans at least this many epoch-to-epoch moves (one is noise). */
export const MIN_FLAT_MOVES = 2;
/** Oscillating when more than this fraction of consecutive epoch deltas change sign... */
export const OSCILLATION_SIGN_FRACTION = 0.4;
/** ...and the mean upward move exceeds this fraction of the net drop (noise at a floor is not it). */
export const OSCILLATION_AMPLITUDE = 0.1;
/**
 * ...and it exceeds this fraction of the loss's level (the mean of its last third): a jitter of
 * hundredths of a percent at a noise floor is no zig-zag, however small the net drop.
 */
export const OSCILLATION_LEVEL = 0.01;
/** Overfitting when validation loss rose this fraction above its minimum... */
export const OVERFIT_RISE = 0.1;
/** ...and the minimum is at least this many epochs before the end... */
export const OVERFIT_EPOCHS_AFTER = 2;
/**
 * ...and the rise exceeds this multiple of the validation curve's own noise (the median distance
 * of an epoch from the line through its neighbours): a small validation set's zig-zag dips below
 * its trend, and the next bounce is no turn.
 */
export const OVERFIT_NOISE = 2;
/** A gradient norm above this multiple of the recent median is a spike (clipping.spikeFactor overrides). */
export const SPIKE_FACTOR = 10;
/** Steps in the rolling median that a norm is compared with. */
export const SPIKE_WINDOW = 25;
/**
 * A spike also reaches this fraction of the median norm of the run's first steps (its first
 * epoch, or tenth): below, it is the noise of a run that has converged (norms of 1e-4 after 3,
 * a "spike" to 0.003). A run whose first norms were large (100, an unscaled start) and whose
 * later ones are not (0.5) still has its spikes (8) read.
 */
export const SPIKE_FLOOR = 0.01;
/** Many clipped: more than this fraction of steps had their gradient clipped. */
export const CLIPPED_FRACTION = 0.5;
/**
 * ...and the clip binds, not catches spikes: the gradient norms' median (after the first epoch)
 * is above this multiple of `clipping.maxNorm`. Every step is then scaled down to the clip, the
 * steps of a non-adaptive optimizer (sgd) by that much: the clip, not the rate, sets their size.
 */
export const CLIP_BINDS = 10;
/**
 * At the targets' mean: a regression's training loss (mse) over the run's last half within this
 * fraction of its training targets' variance, the loss of predicting their mean for every row.
 */
export const AT_MEAN = 0.05;
/**
 * Worse than the mean: a regression's training loss ending above this multiple of that variance
 * (a classifier's, of the loss of predicting its labels' frequencies).
 */
export const WORSE_THAN_MEAN = 2;
/**
 * A schedule that took the rate to nothing: every rate from the run's middle on under this
 * fraction of the rate the config sets (a step decay of 0.01 every 2 epochs: 1e-4 by epoch 2).
 * Cosine and warmup decays keep half the rate at the middle, an exponential's 0.9 an epoch 0.2.
 */
export const RATE_VANISHED = 0.01;

export const f = formatNumber;
/** A suggested value: two significant digits (lr 0.3 / 10 -> 0.03, not 0.030000000000000002). */
export const nice = (value: number) => Number(value.toPrecision(2));
export const finite = (values: number[]) => values.filter((v) => Number.isFinite(v));
export const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
/**
 * The highest finite rate of the run's steps (NaN without one): a loop, not
 * `Math.max(...rates)`, whose arguments overflow the stack past ~150,000 steps.
 */
export function highestRate(steps: { lr: number }[]): number {
  let highest = NaN;
  for (const { lr } of steps) if (Number.isFinite(lr) && !(lr <= highest)) highest = lr;
  return highest;
}
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
/** `--set` overrides as a user types them, each quoted for the shell where it needs it. */
export const setText = (set: string[]) => set.map((s) => `--set ${shellWord(s)}`).join(" ");

/**
 * The `--set`s that train the run of `config` for `epochs` epochs: the epochs, and a schedule with
 * an end (onecycle's totalSteps, cosine's tMax, ...) stretched over the longer run, which would
 * otherwise train past it (torch's OneCycleLR raises there, cosine climbs back up).
 */
export function longerRun(config: Record<string, unknown>, epochs: number): string[] {
  const was = configValue(config, "epochs");
  if (typeof was !== "number" || !(was > 0)) return [`epochs=${epochs}`];
  const factor = epochs / was;
  const changes = stretchChanges(config, { steps: factor, epochs: factor });
  // each setting that moves, as its own --set (a sequential's schedules as one list)
  return [
    `epochs=${epochs}`,
    ...Object.entries(changes).map(([path, value]) => `${path}=${JSON.stringify(value)}`),
  ];
}

/**
 * Whether the training loss was still falling at its end: by more than STILL_FALLING of itself in
 * the last epoch, or steadily at the run's own pace (see {@linkcode STEADY_EPOCHS}); with its
 * last epoch's drop (a fraction of the epoch before), for the evidence.
 */
export function stillFalling(
  train: number[],
): { falling: boolean; steady: boolean; lastDrop: number } {
  const last = train.at(-1)!;
  const previous = train.at(-2)!;
  // (a loss at 0 that stayed there: no change, not 0/0)
  const lastDrop = previous === last ? 0 : (previous - last) / Math.abs(previous);
  if (lastDrop > STILL_FALLING) return { falling: true, steady: false, lastDrop };
  const n = train.length;
  if (n < STEADY_EPOCHS + 2) return { falling: false, steady: false, lastDrop };
  const recent = train.slice(-STEADY_EPOCHS - 1);
  const each = recent.slice(1).every((v, i) => v < recent[i]);
  const pace = (recent[0] - last) / STEADY_EPOCHS;
  const runPace = (train[0] - last) / (n - 1);
  const steady = each && runPace > 0 && pace >= STEADY_PACE * runPace;
  return { falling: steady, steady, lastDrop };
}

/**
 * Where a run that has not ended as planned stands: still running, or killed or interrupted
 * before its last epoch (its curves stop there, and resuming it trains the rest): a note for the
 * verdict and the fix that goes on; undefined for a run that ended (completed, stopped early,
 * diverged, failed).
 */
export function unfinished(record: RunRecord): { note: string; fix: string } | undefined {
  const { status, hint } = record.summary;
  if (status !== "running" && status !== "crashed" && status !== "interrupted") return undefined;
  const planned = configValue(record.config, "epochs");
  const n = record.epochs.length;
  const of = typeof planned === "number" && planned > n ? ` of its ${planned}` : "";
  // (the count the noun follows: "1 epoch", "0 of its 1 epoch", "2 of its 5 epochs")
  const noun = (of ? planned : n) === 1 ? "epoch" : "epochs";
  if (status === "running") {
    return {
      note: `still running: read after ${n}${of} ${noun}`,
      fix: "it is still training: diagnose it again once it ends",
    };
  }
  return {
    note: `${status} after ${n}${of} ${noun}`,
    fix: `it ended before its last epoch (${status}): ${
      hint ?? `resume it: anneal train --resume ${record.id}`
    }`,
  };
}

/**
 * How long a run is, as the fixes size what they set (a longer run, a cosine's `tMax`, a warmup,
 * a patience): a run that ended by what it trained; one that has not ended as planned (still
 * running, killed, interrupted) by what its config plans (its `epochs`, within `maxSteps`), not by
 * the epochs it reached: it is that run the fixes are for.
 */
export interface RunSize {
  /** Epochs. */
  epochs: number;
  /** Optimizer steps; 0 where none were recorded (a record of epochs alone). */
  steps: number;
  /** Optimizer steps an epoch takes, where the record tells. */
  stepsPerEpoch: number | undefined;
  /** The run has not ended: its size is its config's plan, beyond where its curves stop. */
  planned: boolean;
}

/** Optimizer steps an epoch of the run takes: from its epochs' step counts, else its steps. */
function stepsPerEpoch(record: RunRecord): number | undefined {
  const last = record.epochs.findLast((e) => typeof e.step === "number" && e.step > 0);
  if (last) return Math.round(last.step! / (last.epoch + 1));
  const first = record.epochs[0]?.epoch;
  const count = record.steps.filter((s) => s.epoch === first).length;
  return count > 0 ? count : undefined;
}

/**
 * The run's size (see {@linkcode RunSize}).
 *
 * @example
 * ```ts
 * import { runSize } from "./checks.ts";
 * const epochs = [0, 1, 2].map((epoch) => ({ epoch, loss: 1, step: 10 * (epoch + 1) }));
 * const record = {
 *   id: "x", dir: "x", meta: { id: "x" }, steps: [], warnings: [], epochs,
 *   config: { epochs: 30 }, summary: { status: "running" as const },
 * };
 * console.assert(runSize(record).epochs === 30 && runSize(record).steps === 300);
 * const ended = runSize({ ...record, summary: { status: "completed" as const, steps: 30 } });
 * console.assert(ended.epochs === 3 && ended.steps === 30);
 * ```
 */
export function runSize(record: RunRecord): RunSize {
  const reached = record.epochs.length;
  const perEpoch = stepsPerEpoch(record);
  const steps = record.summary.steps ?? record.steps.length;
  if (!unfinished(record)) {
    return { epochs: reached, steps, stepsPerEpoch: perEpoch, planned: false };
  }
  const configured = configValue(record.config, "epochs");
  const epochs = typeof configured === "number" && configured > reached ? configured : reached;
  const maxSteps = configValue(record.config, "maxSteps");
  const planned = perEpoch === undefined
    ? steps
    : Math.min(perEpoch * epochs, typeof maxSteps === "number" ? maxSteps : Infinity);
  return { epochs, steps: Math.max(steps, planned), stepsPerEpoch: perEpoch, planned: true };
}

/**
 * The size the fixes of a trend (a longer run, a cosine's `tMax`) are for: the run's size, but for
 * a run that early stopping ended, the run its config plans (its `epochs`, within `maxSteps`): the
 * run trained again with the fix goes on to them while it improves, and a longer run or a
 * schedule sized by the epochs it stopped at would be shorter than that run (a cosine climbing
 * back up past its `tMax`).
 */
export function fixSize(record: RunRecord, size: RunSize): { epochs: number; steps: number } {
  const { status, stopReason } = record.summary;
  const configured = configValue(record.config, "epochs");
  if (
    status !== "stopped" || !stopReason?.startsWith("early stopping:") ||
    typeof configured !== "number" || !(configured > size.epochs)
  ) return { epochs: size.epochs, steps: size.steps };
  const maxSteps = configValue(record.config, "maxSteps");
  const steps = size.stepsPerEpoch === undefined || size.steps === 0
    ? size.steps
    : Math.min(size.stepsPerEpoch * configured, typeof maxSteps === "number" ? maxSteps : Infinity);
  return { epochs: configured, steps: Math.max(steps, size.steps) };
}

export interface Curves {
  record: RunRecord;
  /**
   * The run's learning rate as its config sets it (`rate`): the optimizer's `lr`, or under
   * onecycle its `maxLr`; unrecorded, the last step's rate (under onecycle, the highest).
   */
  lr: number;
  /** The setting that sets the rate, which the fixes change (see `rate_setting.ts`). */
  rate: RateSetting;
  train: number[];
  val: number[] | undefined;
  /**
   * Where the training loss started as the run printed it: the first epoch's loss (the mean over
   * its steps), which the evidence quotes.
   */
  start: number;
  /**
   * The loss before training had moved it: the mean of the first steps' losses, else the first
   * epoch's. Higher than `start` where the loss fell within the first epoch; the checks of how
   * much training took off (a plateau's drop achieved) count from it, and say so.
   */
  initial: number;
  /** The run's optimizer spec as recorded (`config.optimizer`). */
  optimizer: unknown;
  /** The optimizer ascends the loss (torch's `maximize`): the loss is meant to rise. */
  maximize: boolean;
  /** How long the run is, as the fixes size what they set (see {@linkcode RunSize}). */
  size: RunSize;
}

export function curves(record: RunRecord): Curves {
  const rate = rateSetting(record.config);
  const stepLrs = record.steps.map((s) => s.lr);
  const lr = rate.value ??
    (rate.oneCycle && stepLrs.length ? highestRate(record.steps) : stepLrs.at(-1)) ?? NaN;
  const train = record.epochs.map((e) => e.loss);
  const valRaw = record.epochs.map((e) => e.valLoss);
  const val = valRaw.every((v) => typeof v === "number") ? valRaw as number[] : undefined;
  const firstSteps = finite(record.steps.slice(0, 3).map((s) => s.loss));
  const start = train[0];
  const initial = firstSteps.length ? mean(firstSteps) : start;
  const optimizer = configValue(record.config, "optimizer");
  return {
    record,
    lr,
    rate,
    train,
    val,
    start,
    initial,
    optimizer,
    maximize: maximizes(optimizer),
    size: runSize(record),
  };
}

/**
 * How a fix sets the run's rate to `value`: the `--set` overrides and the words (see
 * `rate_setting.ts`: under onecycle its `maxLr`, not `optimizer.lr`).
 */
export function changeRate(rate: RateSetting, value: number): { set: string[]; text: string } {
  return rateChange(rate, nice(value));
}

/**
 * A run that diverged: a NaN/Inf loss, a loss far above its first value or its minimum (not when
 * the run maximizes its loss: then it rises by design), or the trainer's own verdict. The fix is
 * a setting that breaks the update whatever the learning rate (RMSprop's alpha >= 1) when the
 * config has one; for a maximized loss, a shorter or slower ascent; else a tenth of the rate.
 */
export function checkDiverged(
  { record, lr, rate, train, optimizer, maximize }: Curves,
): Finding | undefined {
  const badEpoch = record.epochs.find((e) => !Number.isFinite(e.loss));
  const badStep = record.steps.find((s) => !Number.isFinite(s.loss));
  const good = finite(train);
  let evidence: string | undefined;
  /** The evidence is a collapse to chance level (see `collapsedToChance`). */
  let collapsed = false;
  if (badEpoch || badStep) {
    const where = badStep
      ? `step ${badStep.step} (epoch ${badStep.epoch})`
      : `epoch ${badEpoch!.epoch}`;
    evidence = good.length === 0 && record.epochs.length > 0
      ? `every recorded epoch loss is NaN/Inf (first bad value at ${where})`
      : `the loss became ${badStep?.loss ?? badEpoch?.loss} at ${where}`;
  } else if (good.length >= 2 && !maximize) {
    const peak = Math.max(...good);
    const min = Math.min(...good);
    const peakEpoch = record.epochs[train.indexOf(peak)].epoch;
    const last = good.at(-1)!;
    // the ratios read a positive loss: against a negative first loss every peak is "10x" it
    if (good[0] > 0 && peak > DIVERGE_FROM_FIRST * good[0]) {
      evidence =
        `the loss rose from ${f(good[0])} (epoch ${record.epochs[0].epoch}) to ${f(peak)} ` +
        `(epoch ${peakEpoch}), ${f(peak / good[0])}x its first value`;
    } else if (min > 0 && last > DIVERGE_FROM_MIN * min && last > good[0]) {
      evidence = `the loss fell to ${f(min)} and then blew up to ${f(last)} (${
        f(last / min)
      }x its minimum)`;
    } else if (good[0] > 0 && last > RISE_FROM_FIRST * good[0]) {
      evidence = `the loss rose from ${f(good[0])} (epoch ${record.epochs[0].epoch}) to ` +
        `${f(last)} (epoch ${record.epochs.at(-1)!.epoch}), ${f(last / good[0])}x its first ` +
        `value${min < good[0] ? ` (its lowest ${f(min)})` : ", never below it"}`;
    } else if (
      min > 0 && good[0] > min && (last > RISE_FROM_FIRST * min || wentBack(good)) &&
      last - min > CLIMBED_BACK * (good[0] - min) && last - min > CLIMBED_ABOVE_MIN * min
    ) {
      const minEpoch = record.epochs[train.indexOf(min)].epoch;
      evidence = `the loss fell from ${f(good[0])} to ${f(min)} (epoch ${minEpoch}) and then ` +
        `climbed back to ${f(last)} (epoch ${record.epochs.at(-1)!.epoch}), ${
          last > good[0]
            ? "above where it started"
            : `${f((last - min) / (good[0] - min) * 100)}% of the way back to where it started`
        }`;
    } else {
      evidence = collapsedToChance(record, train);
      collapsed = evidence !== undefined;
    }
  }
  if (!evidence && record.summary.status !== "diverged") {
    // the training loss finite, the validation loss not: no validation curve to read (healthy's
    // "tracks it" and the overfitting check need one), and a fault of its own
    const badVal = record.epochs.find((e) =>
      typeof e.valLoss === "number" && !Number.isFinite(e.valLoss)
    );
    if (badVal) return validationNotFinite(badVal, good.at(-1), rate, lr);
    // ...or blew up far above its minimum suddenly, within the epochs after it that the
    // overfitting check needs (a rise over more epochs is its to read; a maximized loss rises
    // by design)
    const val = record.epochs.map((e) => e.valLoss).filter((v) => typeof v === "number");
    const valMin = Math.min(...val);
    const valLast = val.at(-1)!;
    const sudden = val.lastIndexOf(valMin) > val.length - 1 - OVERFIT_EPOCHS_AFTER;
    if (
      !maximize && val.length >= 2 && sudden && valMin > 0 &&
      valLast > DIVERGE_FROM_MIN * valMin && valLast > val[0]
    ) {
      evidence = `the validation loss fell to ${f(valMin)} and then blew up to ${f(valLast)} (${
        f(valLast / valMin)
      }x its minimum), while the training loss stayed at ${f(good.at(-1))}`;
    }
  }
  if (!evidence && record.summary.status === "diverged") {
    evidence = `the trainer stopped the run as diverged: ${
      record.summary.stopReason ?? "no reason recorded"
    }`;
  }
  if (!evidence) return undefined;
  if (badStep?.step === FIRST_STEP) {
    // on the initial weights, before any update: not the learning rate's doing
    const first = firstStepFault(
      `the loss became ${badStep.loss}`,
      float16Stored(record.config),
    );
    return {
      kind: "diverged",
      severity: "critical",
      title: first.title,
      evidence,
      fix: first.hint,
      set: [],
    };
  }
  const fault = settingFault(optimizer);
  if (fault) {
    return {
      kind: "diverged",
      severity: "critical",
      title: `diverged: ${fault.title}`,
      evidence,
      fix: `${fault.message}; ${fault.hint}`,
      set: [fault.set],
    };
  }
  const negative = record.steps.find((s) => s.lr < 0);
  if (negative) return climbedNegativeRate(record, evidence, negative);
  // rollbacks (clipping.onNonFinite "rollback") had cut the rates 10x each: below what they tried
  const rollbacks = record.summary.clip?.rollbacks;
  const cut = rate.value !== undefined && typeof rollbacks === "number" ? 0.1 ** rollbacks : 1;
  const slower = Number.isFinite(lr) ? changeRate(rate, (lr * cut) / 10) : undefined;
  const set = slower?.set ?? [];
  if (maximize) {
    return {
      kind: "diverged",
      severity: "critical",
      title: badEpoch || badStep
        ? "diverged: the maximized loss overflowed"
        : "diverged: stopped while maximizing the loss",
      evidence,
      fix: "optimizer.maximize ascends the loss, and mse, crossEntropy and binaryCrossEntropy " +
        "have no upper bound: stop the ascent sooner (fewer epochs, or maxSteps), slow it" +
        `${slower ? ` (${slower.text})` : ""}, or minimize the loss instead ` +
        "(--set optimizer.maximize=false)",
      set,
    };
  }
  // (a clip by norm already, a fixed one or autoPercentile's: none to add)
  const clips = typeof configValue(record.config, "clipping.maxNorm") === "number" ||
    typeof configValue(record.config, "clipping.autoPercentile") === "number";
  const clipText = clips ? "" : ", or clip gradients (--set clipping.maxNorm=1)";
  // Unscaled features (normalization off) blow a first epoch up at any rate: features of 1e6
  // gave Infinity at step 1 at lr 0.01, 0.001 and 1e-4, each time "divide it by 10".
  const scale = unscaledFeatures(record);
  const bad = badStep ?? badEpoch;
  const firstEpoch = record.epochs[0]?.epoch ?? record.steps[0]?.epoch ?? 0;
  const early = bad ? bad.epoch <= firstEpoch : record.epochs.length <= 1;
  if (scale && early) {
    return {
      kind: "diverged",
      severity: "critical",
      title: "diverged in the first epoch: the features are not scaled",
      evidence,
      fix: `${scale.text} (${setText(scale.set)}); if it still diverges, the learning rate is ` +
        `too high: divide it by 10${slower ? ` (${slower.text})` : ""}${clipText}`,
      set: scale.set,
    };
  }
  return {
    kind: "diverged",
    severity: "critical",
    title: collapsed
      ? "diverged: collapsed to chance level, learning rate too high"
      : "diverged: learning rate too high",
    evidence,
    fix: `learning rate too high: ${rollbackCutText(cut)}${raisedRate(record, rate)}divide it by ${
      cut < 1 ? `${Number((10 / cut).toPrecision(3))} in all` : "10"
    }${slower ? ` (${slower.text})` : ""}${clipText}${
      scale ? `; ${scale.text} (${setText(scale.set)})` : ""
    }`,
    set,
  };
}

/**
 * The loss ended above its first value after a fall larger than the curve's noise (see
 * {@linkcode FELL_OVER_NOISE}): training undid what it had learnt, where a flat, noisy loss that
 * ends a little above its start never fell.
 */
function wentBack(losses: number[]): boolean {
  const moves = losses.slice(1).map((v, i) => Math.abs(v - losses[i]));
  const fall = losses[0] - Math.min(...losses);
  return losses.at(-1)! > losses[0] && fall > FELL_OVER_NOISE * median(moves);
}

/**
 * Chance level of the run's loss: ln K for a K-class cross-entropy, ln 2 for a binary one (the
 * loss of a uniform guess, where a collapsed classifier sits); undefined for any other loss, or a
 * record that does not say its task (`meta.dataset`).
 */
export function chanceLoss(record: RunRecord): { loss: number; classes: number } | undefined {
  const dataset = record.meta.dataset as { task?: unknown; numClasses?: unknown } | undefined;
  const loss = configValue(record.config, "loss");
  if (dataset?.task === "classification" && (loss === undefined || loss === "crossEntropy")) {
    const classes = dataset.numClasses;
    return typeof classes === "number" && classes >= 2
      ? { loss: Math.log(classes), classes }
      : undefined;
  }
  if (dataset?.task === "binary" && (loss === undefined || loss === "binaryCrossEntropy")) {
    return { loss: Math.log(2), classes: 2 };
  }
  return undefined;
}

/**
 * The factor a run's config scales `optimizer.lr` by at its effective batch: 1 without
 * `optimizer.baseBatch`, else its rule's (`optimizer.batchScaling`; a record without one, with a
 * baseBatch, is an older anneal's, which scaled linearly).
 */
export function baseBatchScale(config: Record<string, unknown>): number {
  const baseBatch = configValue(config, "optimizer.baseBatch");
  if (typeof baseBatch !== "number" || !(baseBatch > 0)) return 1;
  const batch = configValue(config, "batchSize");
  const accumulation = configValue(config, "gradientAccumulation");
  const effective = (typeof batch === "number" ? batch : 16) *
    (typeof accumulation === "number" ? accumulation : 1);
  const rule = configValue(config, "optimizer.batchScaling") === "sqrt" ? "sqrt" : "linear";
  return scaleLearningRate(1, baseBatch, effective, rule).lr;
}

/**
 * The loss of a classifier that predicts its training labels' frequencies for every row: their
 * entropy, `-sum p ln p` over the classes' shares (`meta.dataset.classCounts`), for a
 * cross-entropy or binary cross-entropy loss; and the largest class's share, the accuracy of
 * always guessing it. Undefined without the counts (an older record), or for another loss.
 *
 * @example
 * ```ts
 * import { labelPrior } from "./checks.ts";
 * import { syntheticRun } from "./_synthetic.ts";
 * const run = syntheticRun([1, 0.9]);
 * run.meta.dataset = { task: "binary", classCounts: [1, 1] };
 * console.assert(Math.abs(labelPrior(run)!.loss - Math.log(2)) < 1e-12);
 * ```
 */
export function labelPrior(
  record: RunRecord,
): { loss: number; majority: number; classes: number } | undefined {
  const dataset = record.meta.dataset as { task?: unknown; classCounts?: unknown } | undefined;
  const counts = dataset?.classCounts;
  const loss = configValue(record.config, "loss");
  const fits = (dataset?.task === "classification" &&
    (loss === undefined || loss === "crossEntropy")) ||
    (dataset?.task === "binary" && (loss === undefined || loss === "binaryCrossEntropy"));
  if (!fits || !Array.isArray(counts) || counts.length < 2) return undefined;
  if (!counts.every((count) => typeof count === "number" && count >= 0)) return undefined;
  const total = counts.reduce((sum: number, count: number) => sum + count, 0);
  if (!(total > 0)) return undefined;
  const shares = (counts as number[]).map((count) => count / total);
  const entropy = -shares.reduce((sum, p) => sum + (p > 0 ? p * Math.log(p) : 0), 0);
  return { loss: entropy, majority: Math.max(...shares), classes: counts.length };
}

/**
 * A classifier that learnt its labels' frequencies and nothing of its features: its training
 * loss at their entropy ({@linkcode labelPrior}, {@linkcode AT_PRIOR}) over the run's last half,
 * never below it (a loss that comes down to it converges on it, and goes no lower). Either the
 * features do not predict the target, or the model cannot use them; a schedule or a rate does
 * not help (a plateau's cosine left such a run where it was, and its "underfitting" on random
 * labels can only memorise). A loss that sat there from its start (balanced classes, a model
 * that starts at a uniform guess) and creeps down is read as a rate too low where that check
 * says so. Undefined otherwise.
 */
export function checkAtLabelPrior(curves: Curves): Finding | undefined {
  const { record, train, val } = curves;
  const prior = labelPrior(record);
  if (!prior || !(prior.loss > 0) || train.length < MIN_EPOCHS_FOR_TRENDS) return undefined;
  const half = train.slice(Math.floor(train.length / 2));
  const near = (loss: number) => Math.abs(loss - prior.loss) <= AT_PRIOR * prior.loss;
  if (!half.every(near) || !(Math.min(...train) >= (1 - AT_PRIOR) * prior.loss)) return undefined;
  if (Math.max(...train) <= (1 + AT_PRIOR) * prior.loss && checkLrTooLow(curves)) return undefined;
  const last = record.epochs.at(-1)!;
  const uniform = Math.abs(prior.majority - 1 / prior.classes) < 1e-9;
  const accuracy = last.accuracy === undefined
    ? ""
    : `; training accuracy ${f(last.accuracy)}, against ${f(prior.majority)} for always ` +
      `guessing the ${uniform ? "same class" : "largest class"}`;
  const valText = val ? `; validation loss ${f(val.at(-1))}` : "";
  const set = capacitySet(record.config);
  return {
    kind: "underfitting",
    severity: "warning",
    title: "learnt only the class frequencies: the loss sits at the labels' entropy",
    evidence: stayedAt(
      record,
      train,
      `the entropy of the training labels' frequencies (${f(prior.loss)}: the loss of ` +
        "predicting them for every row, whatever its features)",
    ) + `${accuracy}${valText}`,
    fix: "check that the features carry the target (data.target names the label column; the " +
      "rows were not shuffled apart from their labels; the features are scaled, " +
      "data.normalize); if they do, the model cannot use them" +
      (set.length > 0 ? `: give it capacity (${setText(set)})` : ": give it capacity") +
      "; a larger model that stays at the same loss says the features hold no signal of the " +
      "target (a schedule or another rate does not move it)",
    set,
  };
}

/** Evidence of a training loss held from the run's middle at `level` (what it is, in words). */
function stayedAt(record: RunRecord, train: number[], level: string): string {
  return `the training loss stayed at ${f(train.at(-1))} from epoch ${
    record.epochs[Math.floor(train.length / 2)].epoch
  } on, ${level}`;
}

/**
 * The loss of a regression that predicts its training targets' mean for every row: their
 * variance (`meta.dataset.targetVariance`), for an mse loss. Undefined without it (an older
 * record), or for another task or loss.
 *
 * @example
 * ```ts
 * import { targetBaseline } from "./checks.ts";
 * import { syntheticRun } from "./_synthetic.ts";
 * const run = syntheticRun([10, 9]);
 * run.meta.dataset = { task: "regression", targetVariance: 7.5 };
 * console.assert(targetBaseline(run) === 7.5);
 * ```
 */
export function targetBaseline(record: RunRecord): number | undefined {
  const dataset = record.meta.dataset as { task?: unknown; targetVariance?: unknown } | undefined;
  const loss = configValue(record.config, "loss");
  if (dataset?.task !== "regression" || (loss !== undefined && loss !== "mse")) return undefined;
  const variance = dataset.targetVariance;
  return typeof variance === "number" && variance > 0 && Number.isFinite(variance)
    ? variance
    : undefined;
}

/**
 * A classifier's baseline loss, where a collapsed one sits: that of predicting its training
 * labels' frequencies for every row where the record counts them ({@linkcode labelPrior}: their
 * entropy, below ln K where the classes are not balanced), else of a uniform guess
 * ({@linkcode chanceLoss}); undefined for a record that says neither, or another loss.
 */
function classBaseline(record: RunRecord): number | undefined {
  const prior = labelPrior(record)?.loss;
  const loss = prior !== undefined && prior > 0 ? prior : chanceLoss(record)?.loss;
  return loss !== undefined && loss > 0 ? loss : undefined;
}

/** A fix's words for the features' scale, where the config turned normalization off. */
export function unscaledFeatures(
  record: Pick<RunRecord, "config">,
): { text: string; set: string[] } | undefined {
  if (configValue(record.config, "data.normalize") !== "none") return undefined;
  return {
    text: "data.normalize is none: features of large or uneven scales make a model's first " +
      "outputs and gradients as large, whatever the rate; standardize them",
    set: ["data.normalize=standard"],
  };
}

/**
 * A regression that learnt its targets' mean and nothing of its features: its training loss at
 * their variance ({@linkcode targetBaseline}, {@linkcode AT_MEAN}) over the run's last half, never
 * below it; the regression's {@linkcode checkAtLabelPrior}. Undefined otherwise.
 */
export function checkAtTargetMean(curves: Curves): Finding | undefined {
  const { record, train, val } = curves;
  const variance = targetBaseline(record);
  if (variance === undefined || train.length < MIN_EPOCHS_FOR_TRENDS) return undefined;
  const half = train.slice(Math.floor(train.length / 2));
  const near = (loss: number) => Math.abs(loss - variance) <= AT_MEAN * variance;
  if (!half.every(near) || !(Math.min(...train) >= (1 - AT_MEAN) * variance)) return undefined;
  // (one that started there and creeps down is a rate too low, where that check says so)
  if (Math.max(...train) <= (1 + AT_MEAN) * variance && checkLrTooLow(curves)) return undefined;
  const scale = unscaledFeatures(record);
  const set = scale ? [...scale.set] : capacitySet(record.config);
  return {
    kind: "underfitting",
    severity: "warning",
    title: "learnt only the mean: the loss sits at the targets' variance",
    evidence: stayedAt(
      record,
      train,
      `the variance of the training targets (${f(variance)}: the mse of predicting their mean ` +
        "for every row, whatever its features)",
    ) + (val ? `; validation loss ${f(val.at(-1))}` : ""),
    fix: (scale ? `${scale.text} (${setText(scale.set)}); ` : "") +
      "check that the features carry the target (data.target names the target column); " +
      "regularisation that holds the weights at 0 (a large optimizer.weightDecay, model.dropout) " +
      "gives this loss too; if neither, the model cannot use the features" +
      (!scale && set.length > 0 ? `: give it capacity (${setText(set)})` : ""),
    set,
  };
}

/**
 * A regression whose training loss ended above {@linkcode WORSE_THAN_MEAN} times its targets'
 * variance, and above it through the run's last half: a model worse than predicting the mean
 * for every row (unscaled features, a rate that cannot settle). A classifier likewise against
 * the loss of predicting its training labels' frequencies ({@linkcode labelPrior}; a uniform
 * guess's, ln K, where the record does not count them): features of scale 1e6 left a 3-class
 * classifier at a loss of ~900 and chance accuracy, read as "healthy" because the loss fell from
 * 18710. Undefined otherwise.
 */
/**
 * A regression on targets of {@linkcode LARGE_TARGET_VARIANCE} or more whose training loss ended
 * worse than their mean (the features scaled): their scale holds it, whatever the rate, and
 * {@linkcode checkWorseThanMean} says so; no rate finding is to be read of it.
 */
export function largeTargetsHold(curves: Curves): boolean {
  const variance = targetBaseline(curves.record);
  return variance !== undefined && variance >= LARGE_TARGET_VARIANCE &&
    curves.train.at(-1)! > WORSE_THAN_MEAN * variance && !unscaledFeatures(curves.record);
}

export function checkWorseThanMean(curves: Curves): Finding | undefined {
  const { record, train, lr, rate } = curves;
  const variance = targetBaseline(record);
  const classes = variance === undefined ? classBaseline(record) : undefined;
  const baseline = variance ?? classes;
  if (baseline === undefined || train.length < MIN_EPOCHS_FOR_TRENDS) return undefined;
  const last = train.at(-1)!;
  const half = train.slice(Math.floor(train.length / 2));
  if (!(last > WORSE_THAN_MEAN * baseline) || !half.every((v) => v > (1 + AT_MEAN) * baseline)) {
    return undefined;
  }
  const scale = unscaledFeatures(record);
  const falling = stillFalling(train).falling;
  const slower = Number.isFinite(lr) && lr > 0 ? changeRate(rate, lr / 10) : undefined;
  // targets in the millions: their squared error and its gradients are as large, which no rate
  // or clip settles (sgd took a tenth of its rate six times before it trained; a clip at 1 held
  // it, and the clip's fix diverged); anneal scales features, not targets
  const largeTargets = variance !== undefined && variance >= LARGE_TARGET_VARIANCE && !scale;
  const set = scale ? scale.set : largeTargets ? [] : slower?.set ?? [];
  return {
    kind: "underfitting",
    severity: "warning",
    title: classes === undefined
      ? "worse than predicting the mean"
      : "worse than predicting the class frequencies",
    evidence:
      `the training loss ended at ${f(last)} (epoch ${record.epochs.at(-1)!.epoch}), ${
        f(last / baseline)
      }x ` +
      (classes === undefined
        ? `the variance of the training targets (${f(baseline)}: the mse of predicting their ` +
          "mean for every row)"
        : `the loss of predicting the training labels' frequencies for every row (${
          f(baseline)
        })`) +
      (falling ? "; it was still falling" : ""),
    fix: scale
      ? `${scale.text} (${setText(scale.set)})`
      : largeTargets
      ? `the targets' variance, ${f(variance)} (a spread of about ${
        f(Math.sqrt(variance))
      }), makes the squared error and its gradients as large, which no learning rate or clip ` +
        "settles: scale the targets in the data file (subtract their mean, divide by their " +
        "spread; anneal scales the features only) and read its predictions back at that scale"
      : `a model that cannot do as well as ${
        classes === undefined ? "the mean" : "the labels' frequencies"
      } has steps too large to settle: lower the ` +
        `learning rate${slower ? ` (${slower.text})` : ""} or find one (anneal lr-find)${
          falling ? ", or train longer: the loss was still falling" : ""
        }`,
    set,
  };
}

/**
 * A run whose warmup outlasted it ({@linkcode warmupBeyond}): its rate never reached
 * `optimizer.lr`, whatever its loss did; a fix that trains it longer stretches the warmup with
 * it (a warmup of 5000 steps in a run of 600 became one of 10000 in a run of 1200). Undefined
 * otherwise.
 */
export function checkWarmupOutlasted(curves: Curves): Finding | undefined {
  const { record, size } = curves;
  const warmup = warmupBeyond(record, size);
  if (!warmup) return undefined;
  return {
    kind: "lrTooLow",
    severity: "warning",
    title: size.planned
      ? "the warmup outlasts the run: its rate never reaches optimizer.lr"
      : "the warmup outlasted the run: its rate never reached optimizer.lr",
    evidence: warmup.message,
    fix: warmup.hint,
    set: warmup.set,
  };
}

/**
 * Evidence that a classifier collapsed to chance (see {@linkcode AT_CHANCE}): its training loss
 * at chance level over the second half and never clearly below it, after steps that overshot it
 * ({@linkcode OVERSHOT_CHANCE}): a rate too high, not too low (whose loss also stays near ln K,
 * but creeps down from it, never above it). Undefined otherwise.
 */
function collapsedToChance(record: RunRecord, train: number[]): string | undefined {
  const chance = chanceLoss(record);
  if (!chance || train.length < MIN_EPOCHS_FOR_TRENDS) return undefined;
  const level = classBaseline(record)!;
  const near = (loss: number) => Math.abs(loss - level) <= AT_CHANCE * level;
  const half = train.slice(Math.floor(train.length / 2));
  if (!half.every(near) || !(Math.min(...train) >= (1 - AT_CHANCE) * level)) {
    return undefined;
  }
  let peak: { loss: number; step: number; epoch: number } | undefined;
  for (const s of record.steps) {
    if (Number.isFinite(s.loss) && !(s.loss <= (peak?.loss ?? 0))) peak = s;
  }
  if (!peak || !(peak.loss > OVERSHOT_CHANCE * chance.loss)) return undefined;
  // overshot: risen above where the run started (its first step's loss, the initial weights'
  // before any update), which updates too large do; a start above it (weights initialised on
  // features of a large scale) came down, the model learning the class frequencies
  const first = record.steps.find((s) => Number.isFinite(s.loss));
  if (!first || !(peak.loss > RISE_FROM_FIRST * first.loss)) return undefined;
  const accuracy = record.epochs.at(-1)!.accuracy;
  const from = record.epochs[Math.floor(train.length / 2)].epoch;
  const balanced = Math.abs(level - chance.loss) <= 1e-3 * chance.loss;
  const what = balanced
    ? `ln ${chance.classes} = ${f(chance.loss)} is a uniform guess over ${chance.classes} classes`
    : `${f(level)} is the entropy of the training labels' frequencies, the loss of predicting ` +
      "them whatever the features";
  return `the loss sat at chance level from epoch ${from} on (${f(train.at(-1))} at epoch ${
    record.epochs.at(-1)!.epoch
  }; ${what}${accuracy === undefined ? "" : `, and training accuracy ended at ${f(accuracy)}`}), ` +
    `after steps that overshot it (${f(peak.loss)} at step ${peak.step}, epoch ${peak.epoch}): ` +
    "updates too large for the model to learn anything, not too small";
}

/**
 * A validation loss that became NaN/Inf while the training loss stayed finite: the model's
 * outputs overflow on the validation data (or it holds NaN/Inf values), not a curve to read.
 */
function validationNotFinite(
  bad: { epoch: number; valLoss?: number },
  lastTrain: number | undefined,
  rate: RateSetting,
  lr: number,
): Finding {
  const slower = Number.isFinite(lr) && lr > 0 ? changeRate(rate, lr / 10) : undefined;
  return {
    kind: "diverged",
    severity: "critical",
    title: "diverged: the validation loss is not finite",
    evidence: `the validation loss became ${bad.valLoss} at epoch ${bad.epoch}, while the ` +
      `training loss stayed finite${
        lastTrain === undefined ? "" : ` (${f(lastTrain)} at the end)`
      }`,
    fix: "check the validation data for NaN/Inf values, or targets so large that their squared " +
      "error overflows float32 (past ~1.8e19) (the validation split, or the file it comes " +
      "from); where it has none, the model's outputs overflow on it: lower the learning " +
      `rate${slower ? ` (${slower.text})` : ""}`,
    set: slower?.set ?? [],
  };
}

/**
 * Words naming the schedule's settings that took the run's rates above `optimizer.lr` (a gamma
 * above 1, an etaMin above it: see `risingSettings`), with the highest rate they reached, ending
 * so that the rest of the fix follows; empty where the rates stayed at or below it.
 */
function raisedRate(record: RunRecord, rate: RateSetting): string {
  if (rate.oneCycle || rate.value === undefined) return "";
  const highest = highestRate(record.steps);
  if (!(highest > rate.value)) return "";
  const rising = risingSettings(record.config);
  if (rising.length === 0) return "";
  const times = rate.value > 0 ? `, ${nice(highest / rate.value)}x optimizer.lr` : "";
  return `the schedule raised the rate to ${nice(highest)}${times} (${
    rising.join("; ")
  }): keep its rates at or below optimizer.lr, or `;
}

/**
 * The settings with which a schedule's rates go negative (torch takes them all), and the value
 * that keeps them >= 0: a decay factor or a onecycle's peak and divisors turned positive, a floor
 * (cosine's etaMin, plateau's minLr) at 0.
 */
const NEGATIVE_RATE_FIXES: Record<string, (value: number) => number> = {
  gamma: (value) => -value,
  etaMin: () => 0,
  maxLr: (value) => -value,
  divFactor: (value) => -value,
  finalDivFactor: (value) => -value,
  minLr: () => 0,
};

/** A schedule's spec with every setting that made its rates negative fixed, and their names. */
function nonNegativeSpec(spec: unknown): { spec: Record<string, unknown>; fields: string[] } {
  const fixed = { ...(spec as Record<string, unknown>) };
  const fields = Object.keys(NEGATIVE_RATE_FIXES).filter((field) => {
    const value = fixed[field];
    if (typeof value !== "number" || !(value < 0)) return false;
    fixed[field] = NEGATIVE_RATE_FIXES[field](value);
    return true;
  });
  return { spec: fixed, fields };
}

/**
 * The `--set` overrides that keep a run's schedule's rates >= 0: each setting of the scheduler
 * that made them negative, or, inside a sequential's list of schedules, which `--set` cannot reach
 * (`applyOverrides` walks objects only), the whole `scheduler` section with its schedules fixed.
 */
export function nonNegativeRateSet(scheduler: unknown): string[] {
  if (scheduler === null || typeof scheduler !== "object" || Array.isArray(scheduler)) return [];
  const section = scheduler as Record<string, unknown>;
  if (section.name === "sequential" && Array.isArray(section.schedulers)) {
    const children = section.schedulers.map(nonNegativeSpec);
    if (!children.some((child) => child.fields.length)) return [];
    return [`scheduler=${JSON.stringify({ ...section, schedulers: children.map((c) => c.spec) })}`];
  }
  const { spec, fields } = nonNegativeSpec(section);
  return fields.map((field) => `scheduler.${field}=${spec[field]}`);
}

/**
 * A run that diverged after its schedule made the rate negative (torch runs a negative gamma or
 * etaMin as it is: the update climbs the loss): a smaller rate would not help, a rate >= 0 would.
 */
function climbedNegativeRate(
  record: RunRecord,
  evidence: string,
  negative: { step: number; epoch: number; lr: number },
): Finding {
  const set = nonNegativeRateSet(configValue(record.config, "scheduler"));
  return {
    kind: "diverged",
    severity: "critical",
    title: "diverged: the learning rate went negative",
    evidence: `${evidence}; the schedule's rate was ${f(negative.lr)} at step ${negative.step} ` +
      `(epoch ${negative.epoch}), and a negative rate climbs the loss (torch runs it so too)`,
    fix: `keep the schedule's rates >= 0${set.length ? ` (${setText(set)})` : ""}`,
    set,
  };
}

/**
 * The mean rate of each epoch's steps, in the order of `record.epochs`, where a schedule varied
 * them (undefined at a constant rate, or where the steps do not give every epoch's rates).
 */
function epochRates(record: RunRecord): number[] | undefined {
  const sums = new Map<number, { sum: number; count: number }>();
  for (const { epoch, lr } of record.steps) {
    const at = sums.get(epoch) ?? { sum: 0, count: 0 };
    sums.set(epoch, { sum: at.sum + lr, count: at.count + 1 });
  }
  const rates = record.epochs.map(({ epoch }) => {
    const at = sums.get(epoch);
    return at ? at.sum / at.count : NaN;
  });
  if (!rates.every((r) => Number.isFinite(r) && r > 0)) return undefined;
  const [low, high] = [Math.min(...rates), Math.max(...rates)];
  return high - low > 0.01 * high ? rates : undefined;
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** Each change's rate: from one epoch's mean loss to the next's is over half of each one's steps. */
const ratesBetween = (rates: number[]) => rates.slice(1).map((r, i) => (r + rates[i]) / 2);

/**
 * How a run's loss fell for the rates its schedule gave (`rates`, each epoch's mean), where the
 * schedule decayed them (undefined where it did not: the second half's mean rate is not below the
 * first's). A loss that falls about as much for each unit of rate in the run's second half as in
 * its first has had its fall slowed by the rate, not by the end of what the model can learn.
 * `perRate`: the second half's fall for each unit of rate over the first's (`halves`: each half's
 * fall); `first` and `second`: the halves' mean rates.
 */
function fallForRates(rates: number[], mid: number, halves: [number, number]) {
  const between = ratesBetween(rates);
  const [firstMass, secondMass] = [sum(between.slice(0, mid)), sum(between.slice(mid))];
  const [first, second] = [firstMass / mid, secondMass / (between.length - mid)];
  if (!(second < first)) return undefined;
  const perRate = (halves[1] / secondMass) / (halves[0] / firstMass);
  return { perRate, first, second };
}

/**
 * The last {@linkcode STEADY_EPOCHS} changes each took the loss lower, at no less than
 * {@linkcode STEADY_PACE} of the run's own drop for each unit of rate (`rates`, each epoch's
 * mean): a loss still falling for the rate its schedule gave, wherever the rate ended (a cosine
 * shorter than the run ends it near a trough, where any loss levels off).
 */
function fallingForRates(train: number[], rates: number[]): boolean {
  const between = ratesBetween(rates);
  const n = train.length;
  const last = train[n - 1];
  const recent = train.slice(-STEADY_EPOCHS - 1);
  const pace = (recent[0] - last) / sum(between.slice(-STEADY_EPOCHS));
  const runPace = (train[0] - last) / sum(between);
  return n >= STEADY_EPOCHS + 2 && recent.slice(1).every((v, i) => v < recent[i]) &&
    runPace > 0 && pace >= STEADY_PACE * runPace;
}

export function checkLrTooLow(
  { record, train, start, initial, lr, rate, size }: Curves,
): Finding | undefined {
  const min = Math.min(...train);
  const dropFrom = (level: number) => (level - min) / Math.abs(level);
  const drop = dropFrom(start);
  const n = train.length;
  const deltas = train.slice(1).map((v, i) => v - train[i]);
  // (and one that gave back most of what it fell: a jitter about a level, not a slow descent;
  // a loss that never moved past its sums' rounding is no jitter)
  const rounding = ROUNDING_MOVE * Math.abs(start);
  const jitters = deltas.filter((d) => d > rounding).length > JITTER_UPS * deltas.length ||
    train[n - 1] - min > Math.max(0.5 * (start - min), rounding);
  if (jitters) return undefined;
  // a loss that fell within the first epoch moved, whatever the epochs after it did
  const barely = drop < LOW_LR_DROP && dropFrom(initial) < LOW_LR_DROP;
  const mid = Math.floor(n / 2);
  const [firstHalf, secondHalf] = [train[0] - train[mid], train[mid] - train[n - 1]];
  // (a schedule that took the rate down slows the fall with it: a cosine to 0 over a run at a
  // rate too low levelled off at 80% of its start, and read as healthy; not a plateau schedule,
  // which lowers the rate because the loss levelled off: a run at its floor read as too low)
  const reactive = configValue(record.config, "scheduler.name") === "plateau";
  const rates = n >= 3 && !reactive ? epochRates(record) : undefined;
  const decayed = rates && fallForRates(rates, mid, [firstHalf, secondHalf]);
  const falling = stillFalling(train).falling ||
    (rates !== undefined && fallingForRates(train, rates));
  // (under a decayed rate, "even" is about as much for each unit of rate: LINEAR_PACE at least,
  // where half as much read a run near its floor under a cosine as too low)
  const even = (limit: number, pace: number) =>
    !barely && drop < limit && dropFrom(initial) < limit && secondHalf > 0 && firstHalf > 0 &&
    (decayed ? decayed.perRate >= Math.max(pace, LINEAR_PACE) : secondHalf >= pace * firstHalf) &&
    falling;
  const slow = even(LOW_LR_SLOW, EVEN_PACE);
  const linear = !slow && n >= LINEAR_EPOCHS && even(LOW_LR_LINEAR, LINEAR_PACE);
  if (!barely && !slow && !linear) return undefined;
  // (the halves' epochs, as the share is of each one's fall over its mean rate times them: an
  // odd count of changes gives the first half one more)
  const halves = decayed
    ? `${f(secondHalf)} off in its second half, ${counted(n - 1 - mid, "epoch")} at a mean ` +
      `rate of ${f(decayed.second)}, against ${f(firstHalf)} in its first, ${
        counted(mid, "epoch")
      } at ${f(decayed.first)}, ${f(decayed.perRate * 100)}% as much for each ` +
      "unit of rate (the schedule's decay slowed it, not the end of what the model can learn)"
    : `${f(secondHalf)} off in its second half against ${f(firstHalf)} in its first`;
  const evidence = `the training loss went from ${f(start)} at epoch ${record.epochs[0].epoch} ` +
    `to at best ${f(min)} over ${counted(n, "epoch")}, a ${f(Math.max(0, drop) * 100)}% drop ` +
    (barely
      ? `(under ${LOW_LR_DROP * 100}%)`
      : `(under ${
        (slow ? LOW_LR_SLOW : LOW_LR_LINEAR) * 100
      }%), at an even pace to the end: ${halves}, where a rate that suits the ` +
        "model takes most of the fall early and then slows down");
  const warmup = warmupBeyond(record, size);
  if (warmup) {
    // the rate never got to optimizer.lr: the warmup held it low, not optimizer.lr
    return {
      kind: "lrTooLow",
      severity: "warning",
      title: size.planned
        ? "learning rate too low so far: the warmup outlasts the run"
        : "learning rate too low: the warmup outlasted the run",
      evidence: `${evidence}; ${warmup.message}`,
      fix: warmup.hint,
      set: warmup.set,
    };
  }
  const warming = stillWarmingUp(record, size);
  if (warming) {
    // a run not ended, still in a warmup that ends within it: the rate has yet to climb
    return {
      kind: "lrTooLow",
      severity: "info",
      title: "the loss barely moved so far: the run is still in its warmup",
      evidence: `${evidence}; ${warming}`,
      fix: unfinished(record)!.fix,
    };
  }
  const factor = barely && drop < BARELY_MOVED ? 100 : 10;
  const faster = changeRate(rate, lr * factor);
  const highest = highestRate(record.steps);
  const held = !rate.oneCycle && rate.value !== undefined && rate.value > 0 &&
      highest >= 0 && highest < LOW_RATES_HELD * rate.value
    ? `; it trained at rates of ${f(highest)} at most, ${
      f(100 * highest / rate.value)
    }% of optimizer.lr`
    : "";
  return {
    kind: "lrTooLow",
    severity: "warning",
    title: barely
      ? "learning rate too low: the loss barely moved"
      : "learning rate too low: the loss falls slowly and evenly",
    evidence: `${evidence}${held}`,
    fix: `multiply the learning rate by ${factor} (${faster.text}), or find one with ` +
      "`anneal lr-find`",
    set: faster.set,
  };
}

/** The run's warmup schedule (warmupCosine, warmupLinear); undefined for any other. */
function warmupSpec(
  record: RunRecord,
): SpecOf<"warmupCosine"> | SpecOf<"warmupLinear"> | undefined {
  try {
    const spec = parseSchedulerSpec(configValue(record.config, "scheduler"));
    return spec.name === "warmupCosine" || spec.name === "warmupLinear" ? spec : undefined;
  } catch {
    return undefined; // no schedule, or one this anneal does not read: no warmup to judge
  }
}

/**
 * The run's warmup schedule where it lasts as long as the run or longer (see `warmup_reach.ts`):
 * the run's steps, or its epochs under `interval: "epoch"`, against `warmupSteps`; for a run not
 * ended, the run its config plans (a warmup it has not got through yet may end within it).
 */
function warmupBeyond(record: RunRecord, size: RunSize): ScheduleNote | undefined {
  const spec = warmupSpec(record);
  if (!spec) return undefined;
  if (size.planned) {
    if (size.stepsPerEpoch === undefined) return undefined; // (the record does not tell)
    const maxSteps = configValue(record.config, "maxSteps");
    return warmupBeyondRun(spec, {
      stepsPerEpoch: size.stepsPerEpoch,
      epochs: size.epochs,
      ...(typeof maxSteps === "number" && { maxSteps }),
    });
  }
  return warmupBeyondRun(
    spec,
    spec.interval === "epoch"
      ? { stepsPerEpoch: 1, epochs: size.epochs }
      : { stepsPerEpoch: size.steps, epochs: 1 },
  );
}

/**
 * Words saying how far a run not ended has got through a warmup that ends within the run its
 * config plans (its rate still climbing to `optimizer.lr`); undefined for an ended run, or one
 * past its warmup.
 */
function stillWarmingUp(record: RunRecord, size: RunSize): string | undefined {
  const spec = warmupSpec(record);
  if (!size.planned || !spec) return undefined;
  const byEpoch = spec.interval === "epoch";
  const reached = byEpoch ? record.epochs.length : record.summary.steps ?? record.steps.length;
  if (!(reached < spec.warmupSteps)) return undefined;
  const unit = byEpoch ? "epochs" : "steps";
  return `its warmup climbs to optimizer.lr over scheduler.warmupSteps ${spec.warmupSteps} ` +
    `${unit}, and it has trained ${reached} of them so far, of the ${
      byEpoch ? size.epochs : size.steps
    } ${unit} it is to train`;
}

/**
 * The `--set` that gives the run's model more capacity: twice each hidden layer of an MLP (one of
 * 128 where it has none: doubling none suggested `model.hidden=[]`, the model it had); for a
 * linear model, which draws one boundary, an MLP (its `model.hidden` does not exist: a linear
 * model that could not fit a spiral was given none); none for the other kinds.
 */
function capacitySet(config: Record<string, unknown>): string[] {
  const hidden = configValue(config, "model.hidden");
  if (Array.isArray(hidden)) {
    return [`model.hidden=${JSON.stringify(hidden.length > 0 ? hidden.map((h) => h * 2) : [128])}`];
  }
  return configValue(config, "model.kind") === "linear"
    ? ['model={"kind":"mlp","hidden":[64]}']
    : [];
}

/**
 * Flat for the second half while still high: a schedule, or more capacity when it cannot fit.
 * The schedule replaces the whole `scheduler` section (`--set 'scheduler={"name":"cosine",...}'`):
 * `--set scheduler.name=cosine` would leave the old schedule's fields behind, which `parseConfig`
 * refuses as unknown to cosine. Cosine's rates start from `optimizer.lr`, which a onecycle run
 * ignores (and may leave at 0), so there the suggestion also sets it to onecycle's `maxLr` (its
 * size, for a negative one: `optimizer.lr` must be > 0).
 */
export function checkPlateau(
  { record, train, val, start, initial, lr, rate, size }: Curves,
): Finding | undefined {
  const n = train.length;
  const mid = Math.floor(n / 2);
  if (n - 1 - mid < MIN_FLAT_MOVES) return undefined;
  const last = train[n - 1];
  // what training took off: from before the first epoch's steps moved it, where they were higher
  const from = Math.max(initial, start);
  const drop = from - Math.min(...train);
  const secondHalf = train[mid] - last;
  // (a loss that levelled off low is no plateau, unless the schedule had taken the rate to
  // nothing before it: then the flat half trained at rates that could not move it, at whatever
  // level: a step decay of 0.01 every 2 epochs froze a loss at 0.43 that trains to 0.1)
  const vanished = decayedBefore(record, record.epochs[mid].epoch, rate, RATE_VANISHED);
  if (!(secondHalf < FLAT_SECOND_HALF * drop) || !(last > PLATEAU_LEVEL * drop || vanished)) {
    return undefined;
  }
  // a loss still falling at the end has not levelled off (a short run's second half is a few
  // epochs, and the first epoch's fall makes the drop large against them)
  if (stillFalling(train).falling) return undefined;
  const accuracy = record.epochs[n - 1].accuracy;
  const gap = val ? Math.abs(val[n - 1] - last) / last : 0;
  const cannotFit = last > UNDERFIT_LEVEL * drop ||
    (accuracy !== undefined && accuracy < UNDERFIT_ACCURACY);
  // a second half that went back up is no flat one: not a model that cannot fit (more capacity,
  // train longer), a rate to decay
  const rose = -secondHalf > FLAT_SECOND_HALF * drop;
  const flatText = `the training loss fell from ${f(start)} at epoch ${record.epochs[0].epoch} ` +
    `to ${f(train[mid])} by epoch ${record.epochs[mid].epoch}, then ${rose ? "rose" : "only"} to ${
      f(last)
    } by epoch ${record.epochs[n - 1].epoch}`;
  // the drop is counted from the first steps where they were higher than the first epoch's mean
  const dropText = `the ${f(drop)} drop achieved` +
    (from > start ? ` from its first steps' loss ${f(from)}` : "");
  // a regression whose training took off a small share of its loss may sit at its targets' noise
  const task = (record.meta.dataset as { task?: unknown } | undefined)?.task;
  // ...and a classifier whose validation loss was lowest in the run's first half, at its labels'
  // noise (40% of them flipped: told to decay, then to train 60 and 120 epochs, each fitting
  // the noise the more)
  const valBest = val && val.length === n ? val.indexOf(Math.min(...val)) : -1;
  const floor = task === "regression" && last > NOISE_FLOOR_SHARE * drop
    ? `; or, with noisy targets, this may be their noise floor, which no setting lowers (the ` +
      `run took off ${f(drop / (drop + last) * 100)}% of its loss; a larger model that does no ` +
      "better on validation data says so)"
    : (task === "classification" || task === "binary") && valBest >= 0 && valBest <= mid
    ? `; or, with noisy labels, this may be their noise floor: the validation loss was lowest ` +
      `at epoch ${record.epochs[valBest].epoch}, in the run's first half, and a schedule, more ` +
      "epochs or a larger model that lower only the training loss fit the noise"
    : "";
  // a schedule that had cut the rate before the flat half: the rate stopped it, not the model
  const decayed = decayedBefore(record, record.epochs[mid].epoch, rate);
  if (cannotFit && gap < SMALL_GAP && !rose && !decayed) {
    // twice the run: the run its config plans, where it has not ended, not the epochs reached;
    // a linear model's flat loss is its one boundary: an MLP, not a longer run (it was told to
    // double its epochs at each run, its loss the same)
    const linear = configValue(record.config, "model.kind") === "linear";
    const set = linear ? [] : longerRun(record.config, fixSize(record, size).epochs * 2);
    const dropout = configValue(record.config, "model.dropout");
    if (typeof dropout === "number" && dropout > 0) set.push("model.dropout=0");
    set.push(...capacitySet(record.config));
    const accuracyText = accuracy === undefined ? "" : `; training accuracy ${f(accuracy)}`;
    const gapText = val ? `; validation ${f(val[n - 1])} is close (gap ${f(gap * 100)}%)` : "";
    return {
      kind: "underfitting",
      severity: "warning",
      title: val
        ? "underfitting: training and validation both high and flat"
        : "underfitting: the training loss high and flat",
      evidence: `${flatText}${accuracyText}${gapText}`,
      fix: linear
        ? `give the model capacity: a linear model draws one boundary, and an MLP others ` +
          `(${setText(set)})${floor}`
        : `give the model more capacity, train longer, regularise less (${setText(set)})${floor}`,
      set,
    };
  }
  // over the whole run (the run its config plans, where it has not ended)
  const planned = fixSize(record, size);
  const { steps } = planned;
  const cosine = {
    name: "cosine",
    tMax: steps || planned.epochs,
    ...(steps ? {} : { interval: "epoch" }),
  };
  const set = [`scheduler=${JSON.stringify(cosine)}`];
  // cosine starts from optimizer.lr, which must be > 0: a negative maxLr's peak as its size;
  // under optimizer.baseBatch the run scales optimizer.lr to its batch, so the peak unscaled
  const peak = Math.abs(lr) / baseBatchScale(record.config);
  if (rate.oneCycle && Number.isFinite(peak) && peak > 0) {
    set.push(`optimizer.lr=${Number(peak.toPrecision(6))}`);
  }
  if (!decayed && decaysAlready(record)) {
    // its schedule decays the rate over the run already (cosine, a warmup's, restarts): adding
    // one is what it has, and the same run again would plateau again; a longer run (its
    // schedule stretched with it) goes further
    const longer = longerRun(record.config, planned.epochs * 2);
    return {
      kind: "plateauEarly",
      severity: "warning",
      title: "plateaued early under a decaying schedule",
      evidence: `${flatText}; it is still ${f(last / drop * 100)}% of ${dropText}; the ` +
        `schedule had already cut the rate to ${f(record.steps.at(-1)!.lr)} by the last step, ` +
        `from ${f(highestRate(record.steps))} at its highest`,
      fix: `its schedule decays the rate already: train longer, the schedule stretched with the ` +
        `run (${setText(longer)}), or start from a higher rate (anneal lr-find)${floor}`,
      set: longer,
    };
  }
  return {
    kind: "plateauEarly",
    severity: "warning",
    title: decayed ? "plateaued early: the schedule decayed the rate too soon" : "plateaued early",
    evidence: `${flatText}; it is still ${f(last / drop * 100)}% of ${dropText}${decayed ?? ""}`,
    fix: decayed
      // the run decays already: another decay of the same rates would not move it
      ? `the loss stopped falling at the rates its schedule had decayed to: spread the decay ` +
        `over the whole run (${setText(set)}), or decay later or less`
      : `decay the learning rate with a schedule (${setText(set)}), or reduce it on plateau` +
        floor,
    set,
  };
}

/**
 * Whether the run's schedule decays its rate already: its last step's rate below LOW_RATES_HELD
 * of the highest it trained at (a cosine's, a warmup's decay, a warm restart's cycle).
 */
function decaysAlready(record: RunRecord): boolean {
  const last = record.steps.at(-1)?.lr;
  const highest = highestRate(record.steps);
  return last !== undefined && last >= 0 && highest > 0 && last < LOW_RATES_HELD * highest;
}

/**
 * Words saying that the run's schedule had cut every rate from epoch `from` on below `below`
 * (LOW_RATES_HELD) of the rate its config sets: the flat part of its curve trained at rates a
 * decay held down, not at its rate; undefined otherwise (or where no step recorded its rate).
 */
function decayedBefore(
  record: RunRecord,
  from: number,
  rate: RateSetting,
  below = LOW_RATES_HELD,
): string | undefined {
  if (rate.value === undefined || !(rate.value > 0)) return undefined;
  const held = (epoch: number) => highestRate(record.steps.filter((s) => s.epoch >= epoch));
  if (!(held(from) >= 0 && held(from) < below * rate.value)) return undefined;
  // the epoch the schedule had got there: the rate under `below` of its setting since (a step
  // decay with gamma 0 at step 6 of 60 is 0 from epoch 1, where the run's middle epoch, 5, was
  // said; one of gamma 0.01 every 20 steps 1e-4 from epoch 2, where "1e-34 from epoch 25")
  let since = from;
  for (const { epoch } of record.epochs) {
    if (epoch >= from) break;
    const highest = held(epoch);
    if (highest >= 0 && highest < below * rate.value) {
      since = epoch;
      break;
    }
  }
  const highest = held(since);
  return `; its schedule had cut the rate to ${f(highest)} at most from epoch ${since} on, ${
    f(100 * highest / rate.value)
  }% of ${rate.path}`;
}

/**
 * The epochs in which the schedule raised the rate (a step's rate above the step before it: a
 * warm restart, a cyclic schedule's climb, a warmup), from the recorded steps.
 */
function raisedEpochs(record: RunRecord): Set<number> {
  const raised = new Set<number>();
  record.steps.forEach((s, i) => {
    const before = record.steps[i - 1]?.lr;
    if (before !== undefined && s.lr > before * (1 + 1e-6) && s.lr - before > 0) {
      raised.add(s.epoch);
    }
  });
  return raised;
}

export function checkOscillating({ record, train, lr, rate }: Curves): Finding | undefined {
  const n = train.length;
  if (n < MIN_EPOCHS_FOR_OSCILLATION) return undefined;
  // the moves into epochs where the schedule raised the rate (a warm restart, a cycle, a
  // warmup) go up by design: not read
  const raised = raisedEpochs(record);
  const moves = train.slice(1)
    .map((v, i) => ({ d: v - train[i], epoch: record.epochs[i + 1].epoch }))
    .filter((m) => !raised.has(m.epoch));
  const deltas = moves.map((m) => m.d);
  if (deltas.length < MIN_EPOCHS_FOR_OSCILLATION - 1) return undefined;
  const changes = deltas.slice(1).filter((d, i) => Math.sign(d) !== Math.sign(deltas[i])).length;
  const third = Math.max(1, Math.floor(n / 3));
  const level = mean(train.slice(-third));
  const net = mean(train.slice(0, third)) - level;
  const ups = deltas.filter((d) => d > 0);
  if (ups.length === 0 || !(net > 0)) return undefined;
  const upMean = mean(ups);
  if (
    !(changes / (deltas.length - 1) > OSCILLATION_SIGN_FRACTION) ||
    !(upMean > OSCILLATION_AMPLITUDE * net) || !(upMean > OSCILLATION_LEVEL * Math.abs(level))
  ) {
    return undefined;
  }
  const worst = moves.reduce((a, b) => (b.d > a.d ? b : a));
  const halved = changeRate(rate, lr / 2);
  const set = halved.set;
  return {
    kind: "oscillating",
    severity: "warning",
    title: "oscillating: the loss zig-zags on its way down",
    evidence:
      `${changes} of ${deltas.length - 1} epoch-to-epoch changes flip sign${
        raised.size > 0 ? ` (not counting the epochs whose rate the schedule raised)` : ""
      }; upward moves ` +
      `average ${f(upMean)} (largest +${f(worst.d)} at epoch ${worst.epoch}) ` +
      `against a net drop of ${f(net)}`,
    // (a run whose schedule decays its rate already is not told to add one)
    fix: `halve the learning rate (${halved.text})${
      decaysAlready(record) ? "" : ", or add a decaying schedule"
    }`,
    set,
  };
}
