/**
 * The checks that need more than the training loss: overfitting (validation turns up while
 * training keeps falling) and gradient spikes (from the per-step gradient norms).
 *
 * @module
 */
import { configValue } from "./records.ts";
import { counted } from "../number_format.ts";
import { dropoutHasLayers } from "../models/spec.ts";
import { isObject } from "../option_names.ts";
import {
  AT_MEAN,
  AT_PRIOR,
  changeRate,
  CLIP_BINDS,
  CLIPPED_FRACTION,
  type Curves,
  f,
  labelPrior,
  mean,
  median,
  MIN_EPOCHS_FOR_TRENDS,
  nice,
  OVERFIT_EPOCHS_AFTER,
  OVERFIT_NOISE,
  OVERFIT_RISE,
  setText,
  SPIKE_FACTOR,
  SPIKE_FLOOR,
  SPIKE_WINDOW,
  targetBaseline,
  unfinished,
} from "./checks.ts";

/**
 * Weight decay past the usual range, where it holds the weights near 0: from 0.1 where it is L2
 * added to the gradient (sgd, adam and torch's other coupled ones, usually 1e-5 to 1e-3), from 1
 * where it is decoupled (adamw, lamb, adafactor: lr x weightDecay off the weights each step,
 * usually 0.01 to 0.1), from 10 for lion (whose rates are 3-10x smaller, and its decay as much
 * larger).
 */
export const HEAVY_DECAY = { coupled: 0.1, decoupled: 1, lion: 10 } as const;
/**
 * Dropout this high or higher, whose training loss (read with dropout on, at every step) stays
 * above {@linkcode DROPOUT_GAP} times the validation loss (read without), holds the model back.
 */
export const HEAVY_DROPOUT = 0.6;
/** (see {@linkcode HEAVY_DROPOUT}) */
export const DROPOUT_GAP = 1.5;
/**
 * Memorising: since the validation loss's lowest epoch, the training loss fell below this
 * fraction of what it was there, while the validation loss got no better (a training loss of
 * 1e-11 against a validation loss of 1.03, 9% over its lowest: under OVERFIT_RISE, no "turn").
 */
export const MEMORISED = 0.1;

/** How an optimizer's weight decay acts: added to the gradient, or decoupled from it. */
function decayKind(name: unknown): keyof typeof HEAVY_DECAY {
  if (name === "lion") return "lion";
  return name === "adamw" || name === "lamb" || name === "adafactor" ? "decoupled" : "coupled";
}

/** A usual starting weight decay for the optimizer (see {@linkcode HEAVY_DECAY}). */
function usualWeightDecay(name: unknown): number {
  const kind = decayKind(name);
  return kind === "coupled" ? 1e-4 : kind === "lion" ? 0.5 : 0.05;
}
import type { Finding } from "./types.ts";

/**
 * What early stopping should change: a patience that runs out within the epochs this run went on
 * after its best one (a tenth of its `epochs`, between 2 and 10, at most that many), watching the
 * validation loss; nothing when it already ended the run there.
 */
function earlyStopping(
  record: Curves["record"],
  epochs: number,
  since: number,
  bestEpoch: number,
): { set: string[]; text: string } {
  const config = record.config;
  const patience = configValue(config, "earlyStopping.patience");
  const monitor = configValue(config, "earlyStopping.monitor") ?? "valLoss";
  if (typeof patience === "number" && patience <= since && record.summary.status === "stopped") {
    return {
      set: [],
      text:
        `early stopping ended the run ${counted(since, "epoch")} after its best one (patience ` +
        `${patience}); to go further`,
    };
  }
  const tenth = Math.max(2, Math.min(10, Math.round(epochs / 10)));
  const target = Math.max(1, Math.min(since, tenth));
  const set: string[] = [];
  let why = "";
  if (monitor !== "valLoss") {
    // a training metric, or one (valAccuracy) that can still improve while valLoss rises
    set.push("earlyStopping.monitor=valLoss");
    if (configValue(config, "earlyStopping.mode") === "max") set.push("earlyStopping.mode=min");
    why = `, watching the validation loss instead of ${monitor}`;
  } else if (typeof patience === "number" && patience > since) {
    why = `; patience ${patience} did not run out in the ${counted(since, "epoch")} after it` +
      (unfinished(record) ? " so far" : "");
  }
  if (typeof patience !== "number" || patience > target) {
    set.push(`earlyStopping.patience=${target}`);
  }
  if (set.length === 0) {
    return {
      set,
      text:
        `early stopping (patience ${patience}) did not stop the run ${
          counted(since, "epoch")
        } after ` +
        "its best one: check earlyStopping.minDelta and baseline",
    };
  }
  return {
    set,
    text: `stop early at about epoch ${bestEpoch} (${setText(set)}, restoring its weights${why})`,
  };
}

/**
 * Weight decay to suggest for more regularisation: 10x the current one, else the usual starting
 * value for the optimizer; none where that reaches {@linkcode HEAVY_DECAY} (an adam's 1 became 10,
 * which trained worse than none).
 */
function suggestedWeightDecay(name: unknown, current: unknown): number | undefined {
  const next = typeof current === "number" && current > 0
    ? nice(current * 10)
    : usualWeightDecay(name);
  return next < HEAVY_DECAY[decayKind(name)] ? next : undefined;
}

/**
 * Weight decay past {@linkcode HEAVY_DECAY}: it pulls the weights towards 0 at every step, and
 * holds the model near a constant output (the targets' mean, the class frequencies), whatever the
 * rate or the schedule does; a heavier one for more regularisation made such a run worse. Said
 * from the config, with the loss it ended at. Undefined otherwise.
 */
export function checkHeavyDecay({ record, train, val }: Curves): Finding | undefined {
  const name = configValue(record.config, "optimizer.name");
  const decay = configValue(record.config, "optimizer.weightDecay");
  const kind = decayKind(name);
  if (typeof decay !== "number" || !(decay >= HEAVY_DECAY[kind])) return undefined;
  const usual = usualWeightDecay(name);
  const how = kind === "coupled"
    ? "L2 added to the gradient"
    : "decoupled: lr x weightDecay of each weight taken off it at every step";
  const set = [`optimizer.weightDecay=${usual}`];
  return {
    kind: "underfitting",
    severity: "warning",
    title: "weight decay far past the usual range",
    evidence: `optimizer.weightDecay is ${f(decay)} with ${String(name ?? "sgd")} (${how}), ` +
      `${f(decay / HEAVY_DECAY[kind])}x the usual range's end (${
        HEAVY_DECAY[kind]
      }), where it pulls the weights towards 0 harder than most losses push them; the training ` +
      `loss ended at ${f(train.at(-1))}` +
      (val ? `, validation ${f(val.at(-1))}` : ""),
    fix: `lower it to a usual value (${setText(set)}), then raise it only where the run ` +
      "overfits; a rate, a schedule or a larger model does not help a model weight decay holds " +
      "near 0",
    set,
  };
}

/**
 * ...or a classifier's training accuracy (read with dropout on) this far under its validation
 * accuracy over the run's last third (0.15: 15 points).
 */
export const DROPOUT_ACCURACY_GAP = 0.15;

/**
 * A model's dropout of {@linkcode HEAVY_DROPOUT} or more (with layers it follows), and its
 * training loss (read with dropout on) and validation loss over the run's last third, with the
 * fix that halves it; undefined for lighter dropout or a run without validation.
 */
function heavyDropout({ record, train, val }: Curves) {
  const dropout = configValue(record.config, "model.dropout");
  const model = configValue(record.config, "model");
  if (typeof dropout !== "number" || !(dropout >= HEAVY_DROPOUT) || !val) return undefined;
  if (!isObject(model) || !dropoutHasLayers(model)) return undefined;
  const third = Math.max(1, Math.floor(train.length / 3));
  return {
    dropout,
    third,
    trainLevel: mean(train.slice(-third)),
    valLevel: mean(val.slice(-third)),
    set: [`model.dropout=${nice(dropout / 2)}`],
  };
}

/**
 * Dropout of {@linkcode HEAVY_DROPOUT} or more that holds the training loss (read with dropout
 * on) above {@linkcode DROPOUT_GAP} times the validation loss (read without) over the run's last
 * third: the units it drops at every step, not the data, keep the model from fitting (dropout
 * 0.9: 3.0 against 1.2). Undefined otherwise.
 */
export function checkHeavyDropout(c: Curves): Finding | undefined {
  const heavy = c.train.length < MIN_EPOCHS_FOR_TRENDS ? undefined : heavyDropout(c);
  if (!heavy) return undefined;
  const { dropout, third, trainLevel, valLevel, set } = heavy;
  if (!(valLevel > 0)) return undefined;
  // a classifier's accuracies say it too where the losses' ratio falls just short (dropout 0.9
  // on Fashion-MNIST: 1.47x, training accuracy 0.35 against validation's ~0.67, read "healthy")
  const accuracy = (name: "accuracy" | "valAccuracy") => {
    const values = c.record.epochs.slice(-third).map((e) => e[name]);
    return values.every((v) => typeof v === "number") ? mean(values as number[]) : undefined;
  };
  const trainAccuracy = accuracy("accuracy");
  const valAccuracy = accuracy("valAccuracy");
  const accuracyGap = trainAccuracy !== undefined && valAccuracy !== undefined
    ? valAccuracy - trainAccuracy
    : NaN;
  const byLoss = trainLevel > DROPOUT_GAP * valLevel;
  if (!byLoss && !(accuracyGap >= DROPOUT_ACCURACY_GAP)) return undefined;
  const accuracies = accuracyGap >= DROPOUT_ACCURACY_GAP
    ? `; training accuracy ${f(trainAccuracy)} against ${f(valAccuracy)} on validation`
    : "";
  return {
    kind: "underfitting",
    severity: "warning",
    title: byLoss
      ? `dropout too strong: the training loss stays at ${
        f(trainLevel / valLevel)
      }x the validation loss`
      : `dropout too strong: training accuracy stays ${
        f(accuracyGap * 100)
      } points under validation's`,
    evidence: `model.dropout ${f(dropout)} drops that share of the units at every training step ` +
      `(none at validation): over the last ${counted(third, "epoch")} the training loss, read ` +
      `with dropout on, averaged ${f(trainLevel)} against ${f(valLevel)} for the validation ` +
      `loss${accuracies}`,
    fix: `lower it (${setText(set)}): the dropped units, not the data, keep the model from ` +
      "fitting; more dropout only where the validation loss turns up while the training loss falls",
    set,
  };
}

/**
 * An oscillating finding read again where heavy dropout makes the zig-zag: dropout of
 * {@linkcode HEAVY_DROPOUT} or more, and the training loss (read with dropout on) above the
 * validation loss over the last third of the run. Each step trains a different thinned model, and
 * its loss jumps with the masks: halving the rate (the finding's fix) slowed the model and made
 * its validation loss worse (churn at dropout 0.9: 0.496 to 0.516), where halving the dropout
 * made it better (0.478). Undefined where dropout is not the cause.
 */
export function dropoutNoise(c: Curves, oscillating: Finding): Finding | undefined {
  const heavy = heavyDropout(c);
  if (!heavy || !(heavy.trainLevel > heavy.valLevel)) return undefined;
  const { dropout, third, trainLevel, valLevel, set } = heavy;
  return {
    ...oscillating,
    title: "oscillating: the loss zig-zags under heavy dropout",
    evidence: `${oscillating.evidence}; model.dropout ${f(dropout)} drops that share of the ` +
      "units at every training step, and the training loss, read with dropout on, stayed above " +
      `the validation loss (${f(trainLevel)} against ${f(valLevel)} over the last ${
        counted(third, "epoch")
      }): the masks' noise, not the rate`,
    fix: `lower the dropout (${setText(set)}); halving the rate would slow the model without ` +
      "quieting the masks",
    set,
  };
}

/**
 * `; validation accuracy A, against M for always guessing the largest class` of the run's last
 * epoch (the comparison where the labels' prior is recorded); "" for a run that logs none.
 */
function lastValidationAccuracy(
  record: Curves["record"],
  prior: ReturnType<typeof labelPrior>,
): string {
  const accuracy = record.epochs.at(-1)!.valAccuracy;
  if (accuracy === undefined) return "";
  return `; validation accuracy ${f(accuracy)}${
    prior ? `, against ${f(prior.majority)} for always guessing the largest class` : ""
  }`;
}

/**
 * A validation loss that never beat a model that ignores the features (`meta.dataset`'s
 * `validationBaseline`: the training labels' frequencies, or the training targets' mean,
 * predicted for every validation row) while the training loss went clearly below its own such
 * level ({@linkcode labelPrior}, {@linkcode targetBaseline}): what the model learns of its
 * training rows does not carry to others (labels that do not depend on the features, a
 * validation split unlike the training rows), where "overfitting after epoch N" read a noisy
 * turn, or "healthy" a validation loss that "tracked" it. Undefined otherwise, or for a record
 * without the baselines (an older anneal's).
 */
export function checkValidationAtBaseline({ record, train, val }: Curves): Finding | undefined {
  if (!val || train.length < MIN_EPOCHS_FOR_TRENDS || !val.every(Number.isFinite)) return undefined;
  const prior = labelPrior(record);
  const trainBase = prior?.loss ?? targetBaseline(record);
  const base = (record.meta.dataset as { validationBaseline?: unknown } | undefined)
    ?.validationBaseline;
  if (trainBase === undefined || !(trainBase > 0) || typeof base !== "number" || !(base > 0)) {
    return undefined;
  }
  const tolerance = prior ? AT_PRIOR : AT_MEAN;
  const best = Math.min(...val);
  const last = train.at(-1)!;
  if (!(best >= (1 - tolerance) * base) || !(last < (1 - 2 * tolerance) * trainBase)) {
    return undefined;
  }
  const what = prior
    ? `${f(base)}, the loss of predicting the training labels' frequencies for every ` +
      "validation row, whatever its features"
    : `${f(base)}, the mse of predicting the training targets' mean for every validation row`;
  const bestEpoch = record.epochs[val.indexOf(best)].epoch;
  return {
    kind: "overfitting",
    severity: "warning",
    title: "nothing learnt carries to validation: its loss never beat a model that ignores the " +
      "features",
    evidence:
      `the validation loss was at best ${f(best)} (epoch ${bestEpoch}), ${
        best < base ? `within ${f(tolerance * 100)}% of` : "never below"
      } ${what}` +
      `, while the training loss fell to ${f(last)}` +
      lastValidationAccuracy(record, prior),
    fix: "check that the features carry the target (data.target names the right column; the " +
      "rows were not shuffled apart from their labels) and that the validation rows are like " +
      "the training ones; with features that do predict it, the model memorises its training " +
      "rows: more data, or regularisation (optimizer.weightDecay, model.dropout)",
    set: [],
  };
}

/**
 * The training loss fell by more than this fraction of itself from the second epoch to the last
 * (the first epoch's mean holds the steps before training had moved it) while the validation
 * loss ended no lower than it started: nothing gained on validation.
 */
export const NO_GAIN_FALL = 0.05;

/**
 * A validation loss that ended at or above its first epoch's while the training loss went on
 * falling (by {@linkcode NO_GAIN_FALL} since the second epoch), its lowest two epochs or more
 * before the end: what the later epochs learnt did not carry to validation. Below
 * {@linkcode checkOverfitting}'s turn (10% over the lowest, two epochs after it) or its
 * baseline's ({@linkcode checkValidationAtBaseline}: a small validation split's baseline is
 * noisy), "healthy" said it "tracks" the training loss, and a run still falling was told to
 * train longer (one training row and 3 epochs: validation 8.664, 8.717, 8.781). Undefined
 * otherwise.
 */
export function checkNoValidationGain({ record, train, val }: Curves): Finding | undefined {
  if (!val || train.length < MIN_EPOCHS_FOR_TRENDS || !val.every(Number.isFinite)) return undefined;
  if (!train.every(Number.isFinite)) return undefined;
  const last = val.length - 1;
  if (!(val[last] >= val[0]) || !(val[last] > train[last])) return undefined;
  if (!(train[1] - train[last] > NO_GAIN_FALL * Math.abs(train[1]))) return undefined;
  const m = val.indexOf(Math.min(...val));
  // (a rise in the last epoch alone is no trend: as overfitting's turn, two epochs after the
  // lowest)
  if (m > last - OVERFIT_EPOCHS_AFTER) return undefined;
  const epoch = (i: number) => record.epochs[i].epoch;
  const fall = (train[0] - train[last]) / Math.abs(train[0]) * 100;
  const prior = labelPrior(record);
  const rows = (record.meta.dataset as { validationSize?: unknown } | undefined)?.validationSize;
  const few = typeof rows === "number" && rows > 0 && rows < FEW_VALIDATION_ROWS;
  return {
    kind: "overfitting",
    severity: "warning",
    title: `no gain on validation: its loss ended ${
      val[last] > val[0] ? "above" : "at"
    } its first epoch's while the training loss fell`,
    evidence:
      `validation loss ${f(val[last])} at epoch ${epoch(last)} against ${f(val[0])} at epoch ${
        epoch(0)
      }${
        m > 0 && m < last ? ` (lowest ${f(val[m])} at epoch ${epoch(m)})` : ""
      }, while the training loss fell from ${f(train[0])} to ${f(train[last])} (-${f(fall)}%)` +
      lastValidationAccuracy(record, prior) +
      (few ? `; ${counted(rows, "validation row")} judge it` : ""),
    fix: "training longer would not help: the model memorises its training rows (more data, " +
      "or regularisation: optimizer.weightDecay, model.dropout)" +
      (m > 0 && m < last ? `, or stop at about epoch ${epoch(m)} (earlyStopping)` : "") +
      (few
        ? `; so few validation rows make its loss noisy: a larger data.validationSplit judges it ` +
          "better"
        : "") +
      "; check that the features carry the target and that the validation rows are like the " +
      "training ones",
    set: [],
  };
}

/**
 * Validation rows under this many make a validation loss noisy enough to say so (a 0.99 split
 * of 64 rows: 63 and 1 training row; 300 rows at 0.2: 60).
 */
export const FEW_VALIDATION_ROWS = 100;

/**
 * A curve's noise: the median distance of each inner point from the line through its neighbours
 * (0 along a straight or smoothly bending curve, whatever its slope); 0 under 3 points.
 */
export function curveNoise(values: number[]): number {
  const off = values.slice(1, -1).map((v, i) => Math.abs(v - (values[i] + values[i + 2]) / 2));
  return off.length ? median(off) : 0;
}

/**
 * Validation loss minimal at epoch m, then up by OVERFIT_RISE, and by more than its noise
 * allows, while training loss kept falling.
 */
export function checkOverfitting({ record, train, val, size }: Curves): Finding | undefined {
  if (!val || val.some((v) => !Number.isFinite(v))) return undefined;
  const n = val.length;
  const m = val.indexOf(Math.min(...val));
  const last = n - 1;
  const rise = val[last] - val[m];
  // risen by a fraction of the minimum's size: `val[m] * 1.1` is below a negative minimum; or
  // by its noise's bounds alone where the training loss fell to a tenth of itself since
  // (memorising: 1e-11 against 1.03, 9% over its lowest)
  const overNoise = rise > OVERFIT_NOISE * curveNoise(val);
  const memorised = train[last] >= 0 && train[last] < MEMORISED * train[m];
  const risen = overNoise && (rise > OVERFIT_RISE * Math.abs(val[m]) || (memorised && rise > 0));
  if (m > last - OVERFIT_EPOCHS_AFTER || !risen) {
    return undefined;
  }
  if (!(train[last] < train[m])) return undefined;
  // a validation loss below the training loss is no overfit: dropout (on in training alone) or
  // heavy regularisation holds the training loss up, and a noisy validation curve's last
  // bounce is no turn (more of either, the fix below, made such a run worse)
  if (!(val[last] > train[last])) return undefined;
  const bestEpoch = record.epochs[m].epoch;
  const config = record.config;
  // (a patience sized by the whole run: the run its config plans, where it has not ended)
  const stop = earlyStopping(record, size.epochs, last - m, bestEpoch);
  const regularise: string[] = [];
  const decay = suggestedWeightDecay(
    configValue(config, "optimizer.name"),
    configValue(config, "optimizer.weightDecay"),
  );
  if (decay !== undefined) regularise.push(`optimizer.weightDecay=${decay}`);
  // (more dropout where the model has no layer it follows, an rnn of one layer, drops nothing;
  // none above 0.5, where "more" was less: 0.9 became 0.5)
  const dropout = configValue(config, "model.dropout");
  const model = configValue(config, "model");
  if (typeof dropout === "number" && dropout < 0.5 && isObject(model) && dropoutHasLayers(model)) {
    regularise.push(`model.dropout=${nice(Math.min(0.5, dropout + 0.2))}`);
  }
  const gap = val[last] - train[last];
  return {
    kind: "overfitting",
    severity: "warning",
    title: `overfitting after epoch ${bestEpoch}`,
    evidence: `validation loss was lowest at epoch ${bestEpoch} (${f(val[m])}), then rose to ` +
      `${f(val[last])} by epoch ${record.epochs[last].epoch} (+${
        f((val[last] - val[m]) / Math.abs(val[m]) * 100)
      }%) ` +
      `while training loss fell from ${f(train[m])} to ${f(train[last])}; the gap is now ${f(gap)}`,
    fix: `${stop.text}, ${
      regularise.length > 0 ? `regularise more (${setText(regularise)})` : "regularise more"
    }, or get more data / augmentation`,
    set: [...stop.set, ...regularise],
  };
}

/**
 * Whether the run's optimizer is adaptive (anything but sgd): it divides its steps by the
 * gradients' size, so a clip changes them little, where sgd's steps it scales down.
 */
export function adaptiveOptimizer(record: Curves["record"]): boolean {
  return (configValue(record.config, "optimizer.name") ?? "sgd") !== "sgd";
}

/**
 * Where the run's clip binds (see {@linkcode CLIP_BINDS}): the median of `norms` (the steps
 * judged) far above a fixed `clipping.maxNorm`. Undefined where it does not, or the clip adapts
 * (`clipping.autoPercentile`: a percentile of the norms clips its share by design).
 */
function clipBinding(
  record: Curves["record"],
  norms: number[],
): { median: number; maxNorm: number } | undefined {
  const maxNorm = configValue(record.config, "clipping.maxNorm");
  if (typeof maxNorm !== "number" || !(maxNorm > 0)) return undefined;
  if (configValue(record.config, "clipping.autoPercentile") !== undefined) return undefined;
  if (otherNormType(record)) return undefined;
  if (norms.length === 0) return undefined;
  const middle = median(norms);
  return middle > CLIP_BINDS * maxNorm ? { median: middle, maxNorm } : undefined;
}

/**
 * The run clips by a norm other than the L2 norm its steps record (`clipping.normType` 1, "inf",
 * ...): their norms do not say which steps the clip bound, nor a threshold in its units.
 */
function otherNormType(record: Curves["record"]): boolean {
  const normType = configValue(record.config, "clipping.normType");
  return normType !== undefined && normType !== 2;
}

/** The title of the gradient check's finding where the clip binds (see {@linkcode clipBinding}). */
export const CLIP_TOO_TIGHT =
  "clipping too tight: most steps clipped, far below their gradient norms";

/** Norms far above their recent median, or most steps clipped. */
export function checkGradientSpikes({ record, lr, rate }: Curves): Finding | undefined {
  const steps = record.steps.filter((s) => Number.isFinite(s.gradNorm));
  if (steps.length === 0) return undefined;
  const factorSetting = configValue(record.config, "clipping.spikeFactor");
  const factor = typeof factorSetting === "number" ? factorSetting : SPIKE_FACTOR;
  // Gradients are naturally large in the first epoch: judge spikes after it.
  const firstEpoch = steps[0].epoch;
  const warm = Math.max(
    steps.findIndex((s) => s.epoch !== firstEpoch),
    Math.ceil(steps.length / 10),
  );
  // A norm under a hundredth of those the run started with moves the weights far less than its
  // first steps did: the noise of a run that has converged (norms of 1e-4 after 3, a "spike" to
  // 0.003), whatever its ratio to the norms just before; clipping there (at their 90th
  // percentile, 2e-4) stalled the same run at chance.
  const floor = SPIKE_FLOOR * median(steps.slice(0, Math.max(warm, 1)).map((s) => s.gradNorm!));
  const spikes: { step: number; norm: number; median: number }[] = [];
  for (let i = Math.max(warm, SPIKE_WINDOW); i < steps.length; i++) {
    const recent = median(steps.slice(i - SPIKE_WINDOW, i).map((s) => s.gradNorm!));
    // over a zero median (gradients that vanished: a loss fitted exactly) any norm is "x times"
    // it: no spike to read
    if (recent > 0 && steps[i].gradNorm! > factor * recent && steps[i].gradNorm! >= floor) {
      spikes.push({ step: steps[i].step, norm: steps[i].gradNorm!, median: recent });
    }
  }
  const clipped = record.steps.filter((s) => s.clipped).length;
  const fraction = record.steps.length ? clipped / record.steps.length : 0;
  const summaryFraction = record.summary.clip?.fractionClipped;
  const clippedFraction = clipped > 0
    ? fraction
    : typeof summaryFraction === "number"
    ? summaryFraction
    : 0;
  // (adaptive clipping at the p-th percentile clips 100 - p% of the steps by design: the AutoClip
  // paper's 10 clips ~90%; and a clip by another norm than the steps' L2 is not counted)
  const manyClipped = clippedFraction > CLIPPED_FRACTION &&
    configValue(record.config, "clipping.autoPercentile") === undefined && !otherNormType(record);
  if (spikes.length === 0 && !manyClipped) return undefined;
  // the percentile of the steps judged: the first epoch's large norms would set a clip above
  // the spikes (norms of 100 in it, a spike of 50 later: maxNorm=100 clips nothing)
  const judged = steps.length > warm ? steps.slice(warm) : steps;
  const norms = judged.map((s) => s.gradNorm!).sort((a, b) => a - b);
  const p90 = norms[Math.floor(norms.length * 0.9)];
  const maxNorm = configValue(record.config, "clipping.maxNorm");
  const binding = manyClipped ? clipBinding(record, norms) : undefined;
  // A clip far below the norms of an adaptive optimizer's steps rescales each gradient, which
  // its update (divided by the gradients' own scale: adam's second moment, lion's sign) mostly
  // undoes: its steps keep their size, and spikes are capped with the rest. Nothing to fix: a
  // tune that kept adamw clipped at 1 against norms of ~30 (better over three seeds) was told
  // "clipping too tight" of the same run.
  if (binding && adaptiveOptimizer(record)) return undefined;
  if (binding) {
    // a clip far below the norms: not the rate (whose halving it suggested, and
    // "learning rate too low" its 10x), the clip sets the steps
    const set = [`clipping.maxNorm=${nice(p90)}`];
    return {
      kind: "gradientSpikes",
      severity: "warning",
      title: CLIP_TOO_TIGHT,
      evidence: `${f(clippedFraction * 100)}% of steps were clipped; the gradient norms' median ` +
        `(after the first epoch) was ${f(binding.median)}, ${
          f(binding.median / binding.maxNorm)
        }x clipping.maxNorm ${f(binding.maxNorm)}: each step of ${
          String(configValue(record.config, "optimizer.name") ?? "sgd")
        } moved the weights lr x ${f(binding.maxNorm)} at most, its rate in effect divided by ` +
        "about that much",
      fix: `raise the clip to about the norms' 90th percentile (${
        setText(set)
      }), where it clips only the spikes, or turn it off (clipping.maxNorm=null)`,
      set,
    };
  }
  const lower = typeof maxNorm === "number" || manyClipped;
  const halved = changeRate(rate, lr / 2);
  const set = lower ? halved.set : [`clipping.maxNorm=${nice(p90)}`];
  // onecycle warms up already, for its pctStart of the steps
  // a cyclic's rise is its warmup, over stepSizeUp steps
  // warmupCosine and warmupLinear warm up already, for their warmupSteps
  const warmsUp = ["warmupCosine", "warmupLinear"].includes(
    String(configValue(record.config, "scheduler.name")),
  );
  const warmup = rate.schedule === "cyclic"
    ? "a slower rise (a larger stepSizeUp of the cyclic)"
    : rate.oneCycle
    ? "a longer warmup (onecycle's pctStart)"
    : warmsUp
    ? "a longer warmup (scheduler.warmupSteps)"
    : "warmup (scheduler warmupCosine)";
  const worst = spikes.reduce((a, b) => (b.norm / b.median > a.norm / a.median ? b : a), spikes[0]);
  const spikeText = spikes.length
    ? `${
      counted(spikes.length, "step")
    } had a gradient norm over ${factor}x the median of the previous ` +
      `${SPIKE_WINDOW}; worst at step ${worst.step}: ${f(worst.norm)} vs median ${f(worst.median)}`
    : "";
  const clipText = manyClipped ? `${f(clippedFraction * 100)}% of steps were clipped` : "";
  return {
    kind: "gradientSpikes",
    severity: "warning",
    title: manyClipped ? "most steps clipped" : "gradient spikes",
    evidence: [spikeText, clipText].filter(Boolean).join("; "),
    fix: lower
      ? `lower the learning rate (${halved.text}) or add ${warmup}`
      : `clip gradients at about their 90th percentile (${setText(set)}), lower the LR or add ${
        rate.schedule === "cyclic"
          ? "a slower rise"
          : rate.oneCycle || warmsUp
          ? "a longer warmup"
          : "warmup"
      }`,
    set,
  };
}
