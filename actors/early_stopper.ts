/**
 * The early stopper's logic: Keras' EarlyStopping (monitor, mode, patience, minDelta, baseline,
 * restore-best) plus stopping on divergence (a non-finite loss, or a loss above k times its
 * first value). A pure reducer: `(state, epoch metrics) => [state, verdict]`.
 *
 * Each verdict also carries a guard (`stopGuard`): which later epochs could possibly end in a
 * stop. The trainer goes on into the next epoch without waiting for the verdicts of epochs the
 * guard rules out, and meets the early stopper only where a stop is possible.
 *
 * @module
 */
import type { z } from "npm:zod@4.6.7";
import type { EarlyStoppingSchema } from "../config.ts";
import type { EpochEnded, EpochJudged } from "./protocol.ts";

type EarlyStopping = z.output<typeof EarlyStoppingSchema>;

/** The early stopper's state (saved in checkpoints). */
export interface EarlyStopperState {
  best: number | null;
  bestEpoch: number | null;
  wait: number;
  firstLoss: number | null;
  /** The metric actually watched (`valLoss` falls back to `loss` without validation data). */
  monitor: string | null;
}

/** The initial state. */
export function initEarlyStopper(): EarlyStopperState {
  return { best: null, bestEpoch: null, wait: 0, firstLoss: null, monitor: null };
}

function improves(spec: EarlyStopping, current: number, reference: number | null): boolean {
  if (reference === null) return true;
  return spec.mode === "min"
    ? current < reference - spec.minDelta
    : current > reference + spec.minDelta;
}

/**
 * Which later epochs' verdicts could stop the run: an epoch from `patienceFrom` on (null: no
 * epoch, by patience), or one whose training loss is not finite or above `lossAbove` (null: no
 * bound yet). Conservative: true for every later epoch, whatever its metrics.
 */
export interface StopGuard {
  patienceFrom: number | null;
  lossAbove: number | null;
}

/**
 * The guard after the verdict of `epoch` left `state`: the earliest epoch patience could stop
 * is found by judging epochs that never improve (an improvement only puts the stop later; a
 * non-finite monitored value does not count as an epoch).
 */
export function stopGuard(spec: EarlyStopping, state: EarlyStopperState, epoch: number): StopGuard {
  const lossAbove = state.firstLoss === null ? null : spec.divergenceFactor * state.firstLoss;
  if (spec.patience === undefined) return { patienceFrom: null, lossAbove };
  const monitor = state.monitor;
  const flat = state.best;
  // No watched value yet: the next epoch's is not known to be no improvement.
  if (monitor === null || flat === null || state.firstLoss === null) {
    return { patienceFrom: epoch + 1, lossAbove };
  }
  let simulated = state;
  for (let next = epoch + 1; next <= epoch + 1 + spec.patience; next++) {
    const metrics = { loss: state.firstLoss, [monitor]: flat };
    const [after, verdict] = judge(spec, simulated, {
      type: "EpochEnded",
      epoch: next,
      step: 0,
      metrics,
    });
    if (verdict.stop) return { patienceFrom: next, lossAbove };
    simulated = after;
  }
  // Unreachable (the wait reaches patience within patience + 1 flat epochs); stay safe anyway.
  return { patienceFrom: epoch + 1, lossAbove };
}

/** Whether the trainer must wait for the verdict of `epoch` (training loss `loss`). */
export function verdictNeeded(
  guard: StopGuard | undefined,
  epoch: number,
  loss: number | undefined,
): boolean {
  if (patienceMayStop(guard, epoch) || loss === undefined || !Number.isFinite(loss)) return true;
  return guard!.lossAbove !== null && loss > guard!.lossAbove;
}

/**
 * Whether the verdict of `epoch` may be a stop whatever its loss (no guard yet, or patience
 * could run out there): the part of `verdictNeeded` known before the epoch's metrics are read.
 */
export function patienceMayStop(guard: StopGuard | undefined, epoch: number): boolean {
  return !guard || (guard.patienceFrom !== null && epoch >= guard.patienceFrom);
}

/** Suggests a tenth of the learning rate, as a `--set` the user can paste. */
export function divideLrHint(lr: number | undefined): string {
  const next = lr === undefined ? "a tenth of it" : `${Number((lr / 10).toPrecision(3))}`;
  return `learning rate too high: divide by 10 (--set optimizer.lr=${next}), or add clipping (--set clipping.maxNorm=1)`;
}

/** The metric to watch: `valX` falls back to `x` when there is no validation data. */
function resolveMonitor(monitor: string, metrics: Record<string, number>): string | null {
  if (monitor in metrics) return monitor;
  if (!monitor.startsWith("val") || monitor.length < 4) return null;
  const training = monitor[3].toLowerCase() + monitor.slice(4);
  return training in metrics ? training : null;
}

/** Judges one epoch; a verdict that does not stop carries the guard for the epochs after it. */
export function judgeEpoch(
  spec: EarlyStopping,
  state: EarlyStopperState,
  message: EpochEnded,
  lr?: number,
): [EarlyStopperState, EpochJudged] {
  const [next, verdict] = judge(spec, state, message, lr);
  if (!verdict.stop) verdict.guard = stopGuard(spec, next, message.epoch);
  return [next, verdict];
}

function judge(
  spec: EarlyStopping,
  state: EarlyStopperState,
  message: EpochEnded,
  lr?: number,
): [EarlyStopperState, EpochJudged] {
  const next = { ...state };
  const verdict = (
    fields: Pick<EpochJudged, "isBest" | "stop" | "status"> & { reason?: string; hint?: string },
  ): [EarlyStopperState, EpochJudged] => [
    next,
    {
      type: "EpochJudged",
      epoch: message.epoch,
      ...fields,
      state: next,
    },
  ];
  const loss = message.metrics.loss;
  if (loss === undefined || !Number.isFinite(loss)) {
    return verdict({
      isBest: false,
      stop: true,
      status: "diverged",
      reason: `training diverged: the loss became ${loss} at epoch ${message.epoch}`,
      hint: divideLrHint(lr),
    });
  }
  if (next.firstLoss === null) next.firstLoss = loss;
  else if (loss > spec.divergenceFactor * next.firstLoss) {
    return verdict({
      isBest: false,
      stop: true,
      status: "diverged",
      reason: `training diverged: loss ${
        loss.toPrecision(4)
      } at epoch ${message.epoch} is over ${spec.divergenceFactor}x its first value ${
        next.firstLoss.toPrecision(4)
      }`,
      hint: divideLrHint(lr),
    });
  }
  next.monitor ??= resolveMonitor(spec.monitor, message.metrics);
  const current = next.monitor === null ? undefined : message.metrics[next.monitor];
  if (current === undefined || !Number.isFinite(current)) {
    return verdict({ isBest: false, stop: false, status: "running" });
  }
  // Keras' order: count the epoch, reset on improvement (over the baseline too, if one is set).
  next.wait += 1;
  if (improves(spec, current, next.best)) {
    next.best = current;
    next.bestEpoch = message.epoch;
    if (spec.baseline === undefined || improves(spec, current, spec.baseline)) next.wait = 0;
    return verdict({ isBest: true, stop: false, status: "running" });
  }
  if (spec.patience !== undefined && next.wait >= spec.patience && message.epoch > 0) {
    return verdict({
      isBest: false,
      stop: true,
      status: "stopped",
      reason: `early stopping: ${next.monitor} did not improve for ${next.wait} epochs (best ${
        Number(next.best?.toPrecision(4))
      } at epoch ${next.bestEpoch})`,
    });
  }
  return verdict({ isBest: false, stop: false, status: "running" });
}
