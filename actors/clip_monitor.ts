/**
 * The clip monitor's logic: the history of global gradient norms before clipping (EMA,
 * percentiles, max), the fraction of steps clipped (at the thresholds the trainer clipped them
 * at: a fixed `maxNorm`, or adaptive clipping's, which the trainer sets at each step from the
 * norms before it), spikes, a suggested threshold, and the decision on a NaN/Inf loss or
 * gradient. A pure reducer, whose state a checkpoint keeps ({@linkcode clipMonitorSnapshot}).
 *
 * @module
 */
import type { z } from "npm:zod@4.6.7";
import type { ClippingSchema } from "../config.ts";
import type { NonFiniteHandled, StepsObserved } from "./protocol.ts";
import { divergenceHint } from "./early_stopper.ts";
import { formatNumber } from "../number_format.ts";
import { explosionReason, initLossWatch, type LossWatchState, observeLoss } from "./loss_watch.ts";
import { maximizes, settingFault } from "../optimizers/hazards.ts";
import { FIRST_STEP, firstStepFault } from "../report/first_step.ts";
import {
  HISTORY_LIMIT,
  keptNorms,
  normHistory,
  percentile,
  recordNorm,
  sortedPercentile,
} from "./norm_history.ts";

export { HISTORY_LIMIT, percentile, sortedPercentile };

type Clipping = z.output<typeof ClippingSchema>;

/** Steps seen before spikes are flagged (the median is meaningless earlier). */
export const SPIKE_WARMUP = 20;
/** Rollbacks allowed before a run is stopped anyway. */
export const MAX_ROLLBACKS = 3;
/** Consecutive skipped steps before skipping turns into stopping. */
export const MAX_CONSECUTIVE_SKIPS = 20;
/**
 * When the optimizer maximizes the loss, a spike is judged against the median of this many latest
 * norms (as `diagnose` judges every run): the loss and its gradients grow by design, and the
 * median of the whole history would fall ever further behind them.
 */
export const RECENT_NORMS = 25;
/** The recent norms a spike's suggested clip is the 90th percentile of. */
const HINT_NORMS = 100;

/** The clip monitor's state. */
export interface ClipMonitorState {
  /** The last HISTORY_LIMIT finite norms, oldest first. */
  norms: number[];
  /** The same norms in ascending order (percentiles per step without sorting). */
  sorted: number[];
  steps: number;
  clipped: number;
  ema: number | null;
  max: number;
  /** Spikes flagged so far. */
  spikes: number;
  nonFinite: number;
  consecutiveSkips: number;
  rollbacks: number;
  /** The threshold of the last step clipped by norm (undefined: no clipping by norm yet). */
  threshold: number | undefined;
  /** The losses' early level and current block (see loss_watch.ts). */
  lossWatch: LossWatchState;
  /** The optimizer ascends the loss: spikes are judged against the recent norms only. */
  maximize: boolean;
  /**
   * The clip's norm type where it is not 2 (`clipping.normType` 1, 3, "inf", ...). The norms
   * observed are the gradients' L2 norms, in which such a clip's threshold is not measured: which
   * steps it clipped is not known here, nor a threshold in its units to suggest.
   */
  otherNorm?: number | "inf";
  /**
   * The index of the last step observed, whose statistics these are, as its `clip.stats` event
   * gave them (undefined: none yet, or restored from the checkpoint of an older anneal).
   */
  lastStep?: number;
  /**
   * Steps left out: those after `after`, a step the monitor told the trainer to stop or roll back
   * at, and before `until`, where the trainer rolled back ({@linkcode rolledBack}; absent: until
   * it says so, and for good after a stop). On WebGPU the trainer acts on a verdict windows later
   * and reports the steps it took meanwhile, computed from the weights it then stops at or
   * discards: judging them would count one divergence again and again.
   */
  ignoring?: { after: number; until?: number };
  /** Under `onNonFinite: "skip"`, the run was warned of an exploding loss (once a run). */
  explosionWarned?: boolean;
}

/** Summary statistics, sent to the run's event stream. */
export interface ClipStats {
  type: "clip.stats";
  step: number;
  ema: number | null;
  p50: number | null;
  p95: number | null;
  max: number;
  /**
   * The share of the steps clipped by norm; null where the clip's norm type is not the L2 norm
   * the monitor observes (`clipping.normType` other than 2: which steps it clipped is not known).
   */
  fractionClipped: number | null;
  spikes: number;
  nonFinite: number;
  /** Rollbacks so far (`onNonFinite: "rollback"`), each cutting the rates 10x (absent: older). */
  rollbacks?: number;
  threshold: number | undefined;
  /** The 90th percentile of the L2 norms; null without norms, or under another norm type. */
  suggestedMaxNorm: number | null;
}

/**
 * The initial state, for steps of `samplesPerStep` samples (the batch size times the gradient
 * accumulation: the loss is watched in blocks of steps holding enough samples), taken by the
 * run's `optimizer` spec (one that maximizes the loss is never stopped for a rising loss, and its
 * growing gradient norms are compared with the recent ones only).
 */
export function initClipMonitor(
  clipping: Clipping,
  samplesPerStep: number,
  optimizer?: unknown,
): ClipMonitorState {
  return {
    norms: [],
    sorted: [],
    steps: 0,
    clipped: 0,
    ema: null,
    max: 0,
    spikes: 0,
    nonFinite: 0,
    consecutiveSkips: 0,
    rollbacks: 0,
    threshold: clipping.maxNorm ?? undefined,
    lossWatch: initLossWatch(samplesPerStep, { maximize: maximizes(optimizer) }),
    maximize: maximizes(optimizer),
    ...(clipping.normType !== undefined && clipping.normType !== 2 &&
      { otherNorm: clipping.normType }),
  };
}

/** What the monitor tells the trainer and the supervisor after a window of steps. */
export interface ClipMonitorOutput {
  toTrainer: NonFiniteHandled[];
  events: (Record<string, unknown> | ClipStats)[];
}

/**
 * Takes in a window of steps of the run's `optimizer` spec, whose settings pick the hint of a
 * divergence: a setting that makes the weights NaN whatever the learning rate (RMSprop's `alpha`
 * above 1) is named, and stops the run at once, since neither a rollback with a lower learning
 * rate nor skipping steps can help. Under the run's `scheduler` a onecycle sets the rates from its
 * `maxLr`: a hint to lower the rate names that, not the optimizer's `lr`.
 */
export function observeSteps(
  clipping: Clipping,
  state: ClipMonitorState,
  message: StepsObserved,
  optimizer?: unknown,
  scheduler?: unknown,
  mixedPrecision = false,
): [ClipMonitorState, ClipMonitorOutput] {
  const fault = settingFault(optimizer);
  const hopeless = fault?.anyLr === true;
  const next: ClipMonitorState = { ...state, norms: [...state.norms], sorted: [...state.sorted] };
  const out: ClipMonitorOutput = { toTrainer: [], events: [] };
  for (let i = 0; i < message.gradNorms.length; i++) {
    const step = message.fromStep + i;
    const left = next.ignoring;
    if (left && step > left.after && (left.until === undefined || step < left.until)) continue;
    const norm = message.gradNorms[i];
    const loss = message.losses[i];
    const applied = !message.skipped[i] && Number.isFinite(norm) && Number.isFinite(loss);
    const [watch, explosion] = applied
      ? observeLoss(next.lossWatch, step, loss, message.samples?.[i])
      : [next.lossWatch, undefined];
    next.lossWatch = watch;
    if (explosion && clipping.onNonFinite === "skip" && !next.explosionWarned) {
      // skip acts on NaN/Inf steps only: the run trains on, told once (it was told nothing)
      next.explosionWarned = true;
      out.events.push({
        type: "warning",
        actor: "clipMonitor",
        message: `${explosionReason(explosion)}; clipping.onNonFinite 'skip' skips only NaN/Inf ` +
          "steps, so the run trains on",
        hint: "'stop' (the default) ends such a run here, 'rollback' returns to the last good " +
          `epoch end and cuts the rate 10x; ${
            divergenceHint(optimizer, message.lr[i], scheduler, 1, clipping).replace(/^./, (c) =>
              c.toLowerCase())
          }`,
      });
    }
    if (explosion && clipping.onNonFinite !== "skip") {
      // Caught before it overflows: the same decision as for a NaN (stop, or roll back and cut the LR).
      const action =
        clipping.onNonFinite === "rollback" && next.rollbacks < MAX_ROLLBACKS && !hopeless
          ? "rollback"
          : "stop";
      // (the rates the rollbacks before this one had cut: 0.1 each)
      const cut = 0.1 ** next.rollbacks;
      if (action === "rollback") next.rollbacks++;
      next.nonFinite++;
      next.ignoring = { after: step };
      out.toTrainer.push({
        type: "NonFiniteHandled",
        step,
        action,
        reason: explosionReason(explosion),
        hint: divergenceHint(optimizer, message.lr[i], scheduler, cut, clipping),
      });
      break;
    }
    if (!applied) {
      next.nonFinite++;
      next.consecutiveSkips++;
      const what = Number.isFinite(loss)
        ? `the gradient norm became ${norm}`
        : `the loss became ${loss}`;
      let action = clipping.onNonFinite;
      if (action === "skip" && next.consecutiveSkips >= MAX_CONSECUTIVE_SKIPS) action = "stop";
      if (action === "rollback" && next.rollbacks >= MAX_ROLLBACKS) action = "stop";
      if (hopeless) action = "stop";
      const cut = 0.1 ** next.rollbacks;
      if (action === "rollback") next.rollbacks++;
      const futile = hopeless
        ? ` (${clipping.onNonFinite} cannot help: ${fault!.field} breaks every step)`
        : ` (${clipping.onNonFinite} did not help)`;
      // before any update the learning rate cannot be the cause
      const first = step === FIRST_STEP ? firstStepFault(what, mixedPrecision) : undefined;
      out.toTrainer.push({
        type: "NonFiniteHandled",
        step,
        action,
        reason: (first?.reason ?? `training diverged at step ${step}: ${what}`) +
          (action === "stop" && clipping.onNonFinite !== "stop" ? futile : ""),
        hint: first?.hint ?? divergenceHint(optimizer, message.lr[i], scheduler, cut, clipping),
      });
      if (action === "skip") continue;
      next.ignoring = { after: step };
      break;
    }
    next.consecutiveSkips = 0;
    next.steps++;
    const median = next.maximize
      ? percentile(next.norms.slice(-RECENT_NORMS), 50)
      : sortedPercentile(next.sorted, 50);
    // the threshold the trainer clipped this step at (a window of an older sender: the fixed one)
    if (message.thresholds) next.threshold = message.thresholds[i] ?? undefined;
    if (
      median !== null && next.norms.length >= SPIKE_WARMUP && norm > clipping.spikeFactor * median
    ) {
      next.spikes++;
      out.events.push({
        type: "warning",
        actor: "clipMonitor",
        message: `gradient-norm spike at step ${step}: ${formatNumber(norm)} is ${
          spikeRatio(norm / median)
        }x the median ${formatNumber(median)} of ${
          // (the steps it was judged against: diagnose's reading after the run takes the 25
          // before each step, and says so)
          next.maximize
            ? `the last ${RECENT_NORMS} steps`
            : next.sorted.length >= HISTORY_LIMIT
            ? `the last ${HISTORY_LIMIT} steps`
            : `the ${next.sorted.length} steps before it`}`,
        hint: spikeHint(next, norm),
      });
    }
    if (next.threshold !== undefined && next.otherNorm === undefined && norm > next.threshold) {
      next.clipped++;
    }
    next.ema = next.ema === null ? norm : 0.98 * next.ema + 0.02 * norm;
    next.max = Math.max(next.max, norm);
    recordNorm(next, norm);
  }
  next.lastStep = message.fromStep + message.gradNorms.length - 1;
  out.events.push(stats(next, next.lastStep));
  return [next, out];
}

/**
 * What to do about a spike of `norm`: clip at the 90th percentile of the recent norms (a fixed 1
 * was as likely to clip every step as none; those of the whole run, a first epoch's large norms
 * among them, gave a clip above the spike), and below the spike whatever they are; where the step
 * was clipped already, the rate or a warmup; where the clip is above the spike, a lower one.
 */
function spikeHint(state: ClipMonitorState, norm: number): string {
  const p90 = percentile(state.norms.slice(-HINT_NORMS), 90);
  const threshold = state.threshold;
  if (threshold === undefined) {
    const clip = Math.min(p90 ?? 1, norm / 2);
    return `clip gradients (--set clipping.maxNorm=${
      Number(clip.toPrecision(2))
    }, about the 90th percentile of the last ${HINT_NORMS} norms), lower the learning rate, or ` +
      "add warmup";
  }
  return norm > threshold
    ? `the step was clipped to ${formatNumber(threshold)}; if spikes recur, lower the learning ` +
      "rate or add warmup"
    : `the clip, ${formatNumber(threshold)}, is above it: lower it (clipping.maxNorm), lower the ` +
      "learning rate, or add warmup";
}

/**
 * The trainer rolled back before `step` (the verdict it acted on was about an earlier one): the
 * monitor judges the steps from `step` on again.
 */
export function rolledBack(state: ClipMonitorState, step: number): ClipMonitorState {
  const left = state.ignoring;
  if (!left || left.until !== undefined || step <= left.after) return state;
  return { ...state, ignoring: { after: left.after, until: step } };
}

/** Summary statistics of the state. */
export function stats(state: ClipMonitorState, step: number): ClipStats {
  return {
    type: "clip.stats",
    step,
    ema: state.ema,
    p50: sortedPercentile(state.sorted, 50),
    p95: sortedPercentile(state.sorted, 95),
    max: state.max,
    fractionClipped: state.otherNorm !== undefined
      ? null
      : state.steps === 0
      ? 0
      : state.clipped / state.steps,
    spikes: state.spikes,
    nonFinite: state.nonFinite,
    rollbacks: state.rollbacks,
    threshold: state.threshold,
    // A threshold that only the top ~10% of steps exceed tames spikes without clipping every step.
    suggestedMaxNorm: state.otherNorm !== undefined ? null : sortedPercentile(state.sorted, 90),
  };
}

/**
 * The monitor's state as a checkpoint keeps it (JSON: the norms in the order seen, not sorted),
 * so that a resumed run's statistics, spikes, loss watch and counts of rollbacks and skips go on
 * as an uninterrupted run's. Its norms travel as a Float64Array (the same values): every epoch end
 * sends the snapshot to the trainer and, in its checkpoint, on to the supervisor, and as a
 * structured clone a typed array is one copy of its bytes, where an array of up to
 * {@linkcode HISTORY_LIMIT} numbers was cloned number by number (in a 1,000-epoch run of the seed,
 * ~67 MB a hop, ~30% of its wall time). The checkpoint's JSON writes them as numbers
 * (`encodeCheckpoint`), read back as an array.
 */
export type ClipMonitorSnapshot =
  & Omit<ClipMonitorState, "sorted" | "maximize" | "otherNorm" | "ignoring" | "norms">
  & {
    norms: Float64Array | number[];
  };

/**
 * {@linkcode ClipMonitorSnapshot} of `state`. Without the steps it leaves out (`ignoring`): a run
 * resumed from a checkpoint has no verdict left to act on, and is judged on every step it takes
 * (kept, a rollback at an epoch's last step, whose end's checkpoint has the monitor's state before
 * the trainer said where it rolled back, left the resumed run's every step out).
 */
export function clipMonitorSnapshot(state: ClipMonitorState): ClipMonitorSnapshot {
  const { sorted: _, maximize: __, ignoring: ___, otherNorm: ____, ...snapshot } = state;
  return { ...snapshot, norms: Float64Array.from(state.norms) };
}

/**
 * The state a checkpoint's `snapshot` holds, for a run of the same config (`fresh`: its initial
 * state); `fresh` itself where the checkpoint holds none (written by an older anneal: the
 * statistics start over).
 */
export function restoreClipMonitor(
  fresh: ClipMonitorState,
  snapshot: ClipMonitorSnapshot | undefined,
): ClipMonitorState {
  const norms = keptNorms(snapshot?.norms);
  if (!snapshot || !norms) return fresh;
  return {
    ...fresh,
    ...snapshot,
    ...normHistory(norms),
    // (JSON leaves an undefined threshold out: no clipping by norm yet)
    threshold: snapshot.threshold ?? undefined,
    maximize: fresh.maximize,
    ...(fresh.otherNorm !== undefined && { otherNorm: fresh.otherNorm }),
  };
}

/**
 * A spike's ratio to the median: one decimal (12.3), or as anneal writes numbers where that would
 * be a long row of digits (2.5e+12, not 2500000000000.0).
 */
export function spikeRatio(ratio: number): string {
  return ratio < 1e4 ? ratio.toFixed(1) : formatNumber(ratio);
}
