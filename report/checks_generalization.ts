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
  changeRate,
  CLIPPED_FRACTION,
  type Curves,
  f,
  median,
  nice,
  OVERFIT_EPOCHS_AFTER,
  OVERFIT_NOISE,
  OVERFIT_RISE,
  setText,
  SPIKE_FACTOR,
  SPIKE_FLOOR,
  SPIKE_WINDOW,
  unfinished,
} from "./checks.ts";
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

/** Weight decay to suggest: 10x the current one, else the usual starting value for the optimizer. */
function suggestedWeightDecay(name: unknown, current: unknown): number {
  if (typeof current === "number" && current > 0) return nice(current * 10);
  return name === "adamw" || name === "lion" ? 0.05 : 1e-4;
}

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
  // risen by a fraction of the minimum's size: `val[m] * 1.1` is below a negative minimum
  const risen = rise > OVERFIT_RISE * Math.abs(val[m]) && rise > OVERFIT_NOISE * curveNoise(val);
  if (m > last - OVERFIT_EPOCHS_AFTER || !risen) {
    return undefined;
  }
  if (!(train[last] < train[m])) return undefined;
  const bestEpoch = record.epochs[m].epoch;
  const config = record.config;
  // (a patience sized by the whole run: the run its config plans, where it has not ended)
  const stop = earlyStopping(record, size.epochs, last - m, bestEpoch);
  const regularise = [
    `optimizer.weightDecay=${
      suggestedWeightDecay(
        configValue(config, "optimizer.name"),
        configValue(config, "optimizer.weightDecay"),
      )
    }`,
  ];
  // (more dropout where the model has no layer it follows, an rnn of one layer, drops nothing)
  const dropout = configValue(config, "model.dropout");
  const model = configValue(config, "model");
  if (typeof dropout === "number" && isObject(model) && dropoutHasLayers(model)) {
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
    fix: `${stop.text}, regularise more (${setText(regularise)}), or get more data / augmentation`,
    set: [...stop.set, ...regularise],
  };
}

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
  const manyClipped = clippedFraction > CLIPPED_FRACTION;
  if (spikes.length === 0 && !manyClipped) return undefined;
  // the percentile of the steps judged: the first epoch's large norms would set a clip above
  // the spikes (norms of 100 in it, a spike of 50 later: maxNorm=100 clips nothing)
  const judged = steps.length > warm ? steps.slice(warm) : steps;
  const norms = judged.map((s) => s.gradNorm!).sort((a, b) => a - b);
  const p90 = norms[Math.floor(norms.length * 0.9)];
  const maxNorm = configValue(record.config, "clipping.maxNorm");
  const lower = typeof maxNorm === "number" || manyClipped;
  const halved = changeRate(rate, lr / 2);
  const set = lower ? halved.set : [`clipping.maxNorm=${nice(p90)}`];
  // onecycle warms up already, for its pctStart of the steps
  // a cyclic's rise is its warmup, over stepSizeUp steps
  const warmup = rate.schedule === "cyclic"
    ? "a slower rise (a larger stepSizeUp of the cyclic)"
    : rate.oneCycle
    ? "a longer warmup (onecycle's pctStart)"
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
        rate.schedule === "cyclic" ? "a slower rise" : rate.oneCycle ? "a longer warmup" : "warmup"
      }`,
    set,
  };
}
