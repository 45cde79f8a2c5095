/**
 * The early stopper's logic: Keras' EarlyStopping (monitor, mode, patience, minDelta, baseline,
 * restore-best) plus stopping on divergence (a non-finite loss, or a loss above k times its
 * first value). A pure reducer: `(state, epoch metrics) => [state, verdict]`.
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

/** Judges one epoch. */
export function judgeEpoch(
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
    { type: "EpochJudged", epoch: message.epoch, ...fields, state: next },
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
