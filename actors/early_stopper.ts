/**
 * The early stopper's logic: Keras' EarlyStopping (monitor, mode, patience, minDelta, baseline,
 * restore-best) plus stopping on divergence (a non-finite loss, or a loss above k times its
 * first value; with torch's `maximize` the loss rises by design, and only a non-finite one
 * stops the run). A pure reducer: `(state, epoch metrics) => [state, verdict]`.
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
import { maximizes, settingFault } from "../optimizers/hazards.ts";
import {
  rateChange,
  rateSetting,
  risingSettings,
  rollbackCutText,
} from "../schedulers/rate_setting.ts";
import { watchedMetric } from "../task_fit.ts";
import { formatNumber } from "../number_format.ts";
import { firstStepFault } from "../report/first_step.ts";

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
 * non-finite monitored value counts as an epoch that did not improve). `optimizer` is the run's optimizer
 * spec: one that maximizes the loss has no loss bound (a rising loss never stops the run).
 */
export function stopGuard(
  spec: EarlyStopping,
  state: EarlyStopperState,
  epoch: number,
  optimizer?: unknown,
): StopGuard {
  const lossAbove = state.firstLoss === null || maximizes(optimizer)
    ? null
    : spec.divergenceFactor * state.firstLoss;
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
    const [after, verdict] = judge(
      spec,
      simulated,
      {
        type: "EpochEnded",
        epoch: next,
        step: 0,
        metrics,
      },
      undefined,
      optimizer,
    );
    if (verdict.stop) return { patienceFrom: next, lossAbove };
    // A flat epoch that only counted the wait: so does every one after it until the wait reaches
    // patience (no verdict past epoch 0 depends on the epoch's number). Skip them: judged one by
    // one they cost time in `patience` at each epoch end (seconds at a patience of 1e7).
    if (onlyCounted(simulated, after)) {
      const skip = Math.max(0, spec.patience - after.wait - 1);
      next += skip;
      simulated = { ...after, wait: after.wait + skip };
    } else simulated = after;
  }
  // Unreachable (the wait reaches patience within patience + 1 flat epochs); stay safe anyway.
  return { patienceFrom: epoch + 1, lossAbove };
}

/** Whether `after` differs from `before` by one more epoch of wait only. */
function onlyCounted(before: EarlyStopperState, after: EarlyStopperState): boolean {
  return after.wait === before.wait + 1 && after.best === before.best &&
    after.bestEpoch === before.bestEpoch && after.firstLoss === before.firstLoss &&
    after.monitor === before.monitor;
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

/**
 * Suggests a tenth of the run's learning rate, as a `--set` the user can paste: of the setting
 * that sets it (`optimizer.lr` of the run's `optimizer` spec, or under onecycle its `maxLr`; see
 * `rate_setting.ts`), not of `lr`, the rate of the step that went wrong, which the schedule (and
 * the batch-scaling rule) made from that setting: a tenth of a rate a warmup had lowered, or a
 * gamma above 1 had raised, set as `optimizer.lr`, would be another rate altogether. Without the
 * spec's `lr` the step's rate stands in. Where the schedule had raised the step's rate above
 * `optimizer.lr` (a gamma above 1, an etaMin above it), the hint names the setting that did. For
 * a negative rate (a schedule's, as torch runs it), says that it climbs the loss instead. A run
 * whose `clipping` clips by norm already is not told to add clipping.
 *
 * @example
 * ```ts
 * import { divideLrHint } from "./early_stopper.ts";
 * console.assert(divideLrHint(0.5).includes("--set optimizer.lr=0.05"));
 * const onecycle = { name: "onecycle", maxLr: 2, totalSteps: 100 };
 * console.assert(divideLrHint(0.5, onecycle).includes("--set scheduler.maxLr=0.2"));
 * // a step schedule with gamma 3 had raised optimizer.lr 0.01 to 0.27 at this step
 * const raised = divideLrHint(0.27, { name: "step", stepSize: 5, gamma: 3 }, { lr: 0.01 });
 * console.assert(raised.includes("--set optimizer.lr=0.001") && raised.includes("gamma 3"));
 * ```
 */
export function divideLrHint(
  lr: number | undefined,
  scheduler?: unknown,
  optimizer?: unknown,
  cut = 1,
  clipping?: unknown,
): string {
  if (lr !== undefined && lr < 0) {
    return `the learning rate is negative (${formatNumber(lr)}, from the schedule): ` +
      "a negative rate climbs the loss, in torch as here; keep the schedule's rates >= 0 (a " +
      "gamma, etaMin, maxLr or minLr >= 0)";
  }
  return `learning rate too high: ${rollbackCutText(cut)}${
    raisedBy(lr, scheduler, optimizer)
  }divide by ${cut < 1 ? `${Number((10 / cut).toPrecision(3))} in all` : "10"} (${
    tenthOf(lr, scheduler, optimizer, cut)
  })${clipsByNorm(clipping) ? "" : ", or add clipping (--set clipping.maxNorm=1)"}`;
}

/**
 * Whether the run's `clipping` clips by norm already (`maxNorm` set, an rnn's default of 1
 * among them, or `autoPercentile`'s adaptive clip): "add clipping (--set clipping.maxNorm=1)"
 * would then name the clip it has, or loosen a tighter one.
 */
export function clipsByNorm(clipping: unknown): boolean {
  if (clipping === null || typeof clipping !== "object") return false;
  const { maxNorm, autoPercentile } = clipping as { maxNorm?: unknown; autoPercentile?: unknown };
  return typeof maxNorm === "number" || typeof autoPercentile === "number";
}

/**
 * Words naming the schedule's settings that had raised the step's rate `lr` above `optimizer.lr`
 * (see `risingSettings`), ending so that the rest of the hint follows; empty where none did.
 */
function raisedBy(lr: number | undefined, scheduler: unknown, optimizer: unknown): string {
  const base = rateSetting({ optimizer, scheduler });
  if (lr === undefined || base.oneCycle || base.value === undefined || !(lr > base.value)) {
    return "";
  }
  const rising = risingSettings({ optimizer, scheduler });
  if (rising.length === 0) return "";
  // (a rate the schedule took past float range, Infinity: no multiple of optimizer.lr to give)
  const times = base.value > 0 && Number.isFinite(lr)
    ? `, ${Number((lr / base.value).toPrecision(3))}x optimizer.lr`
    : "";
  return `the schedule had raised the step's rate to ${formatNumber(lr)}${times} (${
    rising.join("; ")
  }): keep its rates at or below optimizer.lr, or `;
}

/**
 * How to set the run's rate to a tenth of it: of the setting that sets it (`optimizer.lr`, or
 * under onecycle its `maxLr`); of `lr`, the step's rate, where the spec has no `lr`.
 */
function tenthOf(
  lr: number | undefined,
  scheduler: unknown,
  optimizer?: unknown,
  cut = 1,
): string {
  const setting = rateSetting({ optimizer, scheduler });
  // (the step's rate `lr` has the rollbacks' cut in it already; the setting has not)
  const from = setting.oneCycle || setting.value !== undefined
    ? (setting.value === undefined ? undefined : setting.value * cut)
    : lr;
  return rateChange(
    setting,
    from === undefined ? "a tenth of it" : Number((from / 10).toPrecision(3)),
  ).text;
}

/**
 * The hint of a run that diverged (a non-finite loss, or one exploding) at learning rate `lr`,
 * given the run's optimizer spec and schedule: a setting that breaks the update whatever the
 * learning rate (RMSprop's `alpha` >= 1) is named with its fix; a run that maximizes its loss is
 * told that the ascent overflowed; any other gets {@linkcode divideLrHint}. A slower rate is
 * suggested for the setting that sets it: `optimizer.lr`, or under onecycle its `maxLr`; where
 * rollbacks had already cut the rates by `cut` (0.1 each), below the rate they had cut it to.
 *
 * @example
 * ```ts
 * import { divergenceHint } from "./early_stopper.ts";
 * console.assert(divergenceHint({ name: "rmsprop", alpha: 1.5 }, 0.01).includes("optimizer.alpha=0.99"));
 * console.assert(divergenceHint({ name: "sgd" }, 0.5).startsWith("learning rate too high"));
 * ```
 */
export function divergenceHint(
  optimizer: unknown,
  lr: number | undefined,
  scheduler?: unknown,
  cut = 1,
  clipping?: unknown,
): string {
  const fault = settingFault(optimizer);
  if (fault) return `${fault.message}; ${fault.hint}`;
  if (maximizes(optimizer)) {
    return "optimizer.maximize ascends the loss, and mse, crossEntropy and binaryCrossEntropy " +
      "have no upper bound: most likely it rose until it overflowed. Stop the ascent " +
      `sooner (fewer epochs, or maxSteps), slow it (${
        tenthOf(lr, scheduler, optimizer, cut)
      }), or minimize the loss instead (--set optimizer.maximize=false)`;
  }
  return divideLrHint(lr, scheduler, optimizer, cut, clipping);
}

/**
 * Judges one epoch, trained at learning rate `lr` by the run's `optimizer` spec (which picks the
 * hint of a divergence, and turns the rising-loss check off when it maximizes the loss) under its
 * `scheduler` (a onecycle's `maxLr`, not the optimizer's `lr`, is the rate a hint changes); a
 * verdict that does not stop carries the guard for the epochs after it.
 */
export function judgeEpoch(
  spec: EarlyStopping,
  state: EarlyStopperState,
  message: EpochEnded,
  lr?: number,
  optimizer?: unknown,
  scheduler?: unknown,
  clipping?: unknown,
  mixedPrecision = false,
): [EarlyStopperState, EpochJudged] {
  const [next, verdict] = judge(
    spec,
    state,
    message,
    lr,
    optimizer,
    scheduler,
    clipping,
    mixedPrecision,
  );
  if (!verdict.stop) verdict.guard = stopGuard(spec, next, message.epoch, optimizer);
  return [next, verdict];
}

function judge(
  spec: EarlyStopping,
  state: EarlyStopperState,
  message: EpochEnded,
  lr?: number,
  optimizer?: unknown,
  scheduler?: unknown,
  clipping?: unknown,
  mixedPrecision = false,
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
  // an epoch whose steps a late rollback undid (the others skipped): nothing to judge
  const neutral = () => verdict({ isBest: false, stop: false, status: "running" });
  if (message.allUndone) return neutral();
  if (message.skippedAll) {
    // No step of the epoch counted: there is no loss to call NaN. In epoch 0 no update was ever
    // made, so every loss was computed on the initial weights: the data or the model, not the
    // rate (a tenth of it fails the same way).
    const what = `every step of epoch ${message.epoch} was skipped, its loss or gradient not ` +
      "finite";
    return verdict({
      isBest: false,
      stop: true,
      status: "diverged",
      reason: message.epoch === 0
        ? `training diverged: ${what}, on the initial weights (no update was made)`
        : `training diverged: ${what}`,
      hint: message.epoch === 0
        ? firstStepFault(what, mixedPrecision).hint
        : divergenceHint(optimizer, lr, scheduler, 1, clipping),
    });
  }
  if (loss === undefined || !Number.isFinite(loss)) {
    return verdict({
      isBest: false,
      stop: true,
      status: "diverged",
      reason: `training diverged: the loss became ${loss} at epoch ${message.epoch}`,
      hint: divergenceHint(optimizer, lr, scheduler, 1, clipping),
    });
  }
  // Under maximize the loss is meant to rise: only a non-finite one (above) is a divergence.
  if (next.firstLoss === null) next.firstLoss = loss;
  else if (!maximizes(optimizer) && loss > spec.divergenceFactor * next.firstLoss) {
    return verdict({
      isBest: false,
      stop: true,
      status: "diverged",
      reason: `training diverged: loss ${
        formatNumber(loss)
      } at epoch ${message.epoch} is over ${spec.divergenceFactor}x its first value ${
        formatNumber(next.firstLoss)
      }`,
      hint: divergenceHint(optimizer, lr, scheduler, 1, clipping),
    });
  }
  // (its weights, and the validation pass run on them, are discarded: not the best, nor a wait)
  if (message.discarded) return neutral();
  next.monitor ??= watchedMetric(spec.monitor, message.metrics);
  const current = next.monitor === null ? undefined : message.metrics[next.monitor];
  if (current === undefined) return verdict({ isBest: false, stop: false, status: "running" });
  // Keras' order: count the epoch, reset on improvement (over the baseline too, if one is set).
  next.wait += 1;
  // A value not finite (a validation loss of Infinity: a target of 1e25) improves on nothing,
  // as in Keras (`inf < inf` is false): it counts towards the patience. It was passed over, and
  // a run whose every value was Infinity never stopped.
  if (!Number.isFinite(current)) {
    const ranOut = patienceRanOut(spec, next, message.epoch);
    if (ranOut) return verdict({ isBest: false, stop: true, status: "stopped", reason: ranOut });
    return verdict({ isBest: false, stop: false, status: "running" });
  }
  if (improves(spec, current, next.best)) {
    next.best = current;
    next.bestEpoch = message.epoch;
    if (spec.baseline === undefined || improves(spec, current, spec.baseline)) next.wait = 0;
    return verdict({ isBest: true, stop: false, status: "running" });
  }
  const ranOut = patienceRanOut(spec, next, message.epoch);
  if (ranOut) return verdict({ isBest: false, stop: true, status: "stopped", reason: ranOut });
  return verdict({ isBest: false, stop: false, status: "running" });
}

/**
 * Why patience ran out at `epoch`, an epoch that did not improve and left `state`; `undefined`
 * where the run goes on (Keras: the wait reached patience, never at the first epoch).
 */
function patienceRanOut(
  spec: EarlyStopping,
  state: EarlyStopperState,
  epoch: number,
): string | undefined {
  if (spec.patience === undefined || state.wait < spec.patience || epoch === 0) return undefined;
  const epochs = `${state.wait} epoch${state.wait === 1 ? "" : "s"}`;
  const best = state.best === null
    ? "(no finite value yet)"
    : `(best ${formatNumber(state.best)} at epoch ${state.bestEpoch})`;
  // With a baseline never beaten, the best improved on the epochs before it, and still patience
  // ran out (Keras resets it only past the baseline): the baseline is what it did not reach.
  // (a best past the baseline by minDelta or less beat it by too little: said so, or the best
  // quoted would read as beating it)
  if (
    spec.baseline !== undefined && state.best !== null && !improves(spec, state.best, spec.baseline)
  ) {
    const by = spec.minDelta > 0 ? ` by more than minDelta ${formatNumber(spec.minDelta)}` : "";
    return `early stopping: ${state.monitor} did not beat its baseline ${
      formatNumber(spec.baseline)
    }${by} in ${epochs} ${best}`;
  }
  return `early stopping: ${state.monitor} did not improve for ${epochs} ${best}`;
}

/**
 * The reason of early stopping's verdict on `epoch` where that verdict stopped the run, read from
 * what the checkpoint of that epoch's end keeps: the state the verdict left (`state`) and the
 * epoch's metrics. `undefined` where the run went on from it: the epoch improved (it is the best
 * one), it logged no watched value, or patience had not run out. A run killed
 * after that checkpoint, before its end was recorded, is finished from it, not trained on.
 *
 * @example
 * ```ts
 * import { EarlyStoppingSchema } from "../config.ts";
 * import { stoppedAt } from "./early_stopper.ts";
 * const spec = EarlyStoppingSchema.parse({ patience: 1 });
 * const state = { best: 0.5, bestEpoch: 0, wait: 1, firstLoss: 1, monitor: "valLoss" };
 * console.assert(stoppedAt(spec, state, 1, { valLoss: 0.6 })?.startsWith("early stopping"));
 * console.assert(stoppedAt(spec, { ...state, wait: 0, bestEpoch: 1 }, 1, { valLoss: 0.4 }) === undefined);
 * ```
 */
export function stoppedAt(
  spec: EarlyStopping,
  state: EarlyStopperState | undefined,
  epoch: number,
  metrics: Record<string, number> | undefined,
): string | undefined {
  const watched = state?.monitor ? metrics?.[state.monitor] : undefined;
  if (!state || watched === undefined || state.bestEpoch === epoch) {
    return undefined;
  }
  return patienceRanOut(spec, state, epoch);
}

/**
 * Whether a run ends with its best epoch's weights in place of its own (Keras'
 * `restore_best_weights`): under `restoreBest` with early stopping by patience, where the run is
 * over (neither diverged nor interrupted: a resume goes on from its own weights), had a best
 * epoch, and its weights are not that epoch's already (`weightsAt`: the epoch whose end they are
 * at, or the one it stopped within). The trainer and the in-process loop decide it here alike.
 *
 * @example
 * ```ts
 * import { EarlyStoppingSchema } from "../config.ts";
 * import { restoresBest } from "./early_stopper.ts";
 * const spec = EarlyStoppingSchema.parse({ patience: 2 });
 * console.assert(restoresBest(spec, { bestEpoch: 1, weightsAt: 3, status: "stopped" }));
 * console.assert(!restoresBest(spec, { bestEpoch: 3, weightsAt: 3, status: "completed" }));
 * console.assert(!restoresBest(spec, { bestEpoch: 1, weightsAt: 3, status: "diverged" }));
 * const noPatience = EarlyStoppingSchema.parse({});
 * console.assert(!restoresBest(noPatience, { bestEpoch: 1, weightsAt: 3, status: "completed" }));
 * ```
 */
export function restoresBest(
  spec: EarlyStopping,
  { bestEpoch, weightsAt, status }: { bestEpoch: number | null; weightsAt: number; status: string },
): boolean {
  return spec.restoreBest && spec.patience !== undefined && bestEpoch !== null &&
    bestEpoch !== weightsAt && status !== "diverged" && status !== "interrupted";
}
