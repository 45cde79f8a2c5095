/**
 * The checks a run makes once its data is known, before its first step: in one place for the
 * trainer actor and the in-process loop, so that neither trains what the other refuses.
 *
 * @module
 */
import type { RunConfig } from "../config.ts";
import { checkScheduleReach } from "../schedulers/raises.ts";
import { checkBatchNormBatches } from "../task_fit.ts";
import { batchScalingOf, scaleLearningRate } from "../optimizers/scaling.ts";
import { formatNumber } from "../number_format.ts";

/** What the start checks read of the loaded data. */
export interface StartData {
  /** A sample's shape. */
  inputShape: readonly number[];
  /** Training samples an epoch takes. */
  trainSize: number;
  /** Training batches an epoch takes (micro-batches, under gradient accumulation). */
  batchesPerEpoch: number;
}

/**
 * Refuses, before the first step, a run torch would fail partway: batch norm over one value a
 * channel (`checkBatchNormBatches`), and a schedule stepped as far as a step where torch raises
 * (`checkScheduleReach`; the run's length is its epochs, and `maxSteps` where it stops there).
 * Returns the optimizer steps an epoch takes. `resumeOf`: the directory of the run resumed, whose
 * schedule's refusal then tells to start a new run from its config (a resume keeps it).
 *
 * @example
 * ```ts
 * import { checkRunStart } from "./start_checks.ts";
 * import { parseConfig } from "../config.ts";
 * const config = parseConfig({ batchSize: 8, gradientAccumulation: 2 });
 * const data = { inputShape: [1], trainSize: 200, batchesPerEpoch: 25 };
 * console.assert(checkRunStart(config, data, config) === 13);
 * ```
 */
export function checkRunStart(
  config: RunConfig,
  data: StartData,
  { maxSteps }: { maxSteps?: number },
  resumeOf?: string,
): number {
  // batch norm over one value a channel (a batch of one sample): torch raises, anneal refuses
  checkBatchNormBatches(config.model, data.inputShape, {
    trainSize: data.trainSize,
    batchSize: config.batchSize,
    dropLast: config.data.dropLast,
    accumulation: config.gradientAccumulation,
  });
  const stepsPerEpoch = Math.ceil(data.batchesPerEpoch / config.gradientAccumulation);
  // where torch would raise at a step of the schedule this run gets to, it ends now, saying why
  // (a resumed run's fix is a new run: `resumeOf`, its directory, says how to start it)
  checkScheduleReach(
    config.scheduler,
    { stepsPerEpoch, epochs: config.epochs, maxSteps },
    resumeOf,
  );
  return stepsPerEpoch;
}

/**
 * The warning of a run whose step, `batchSize` x `gradientAccumulation`, is larger than the
 * training set (without `dropLast`, which refuses it): every step trains all the training samples,
 * one step an epoch, as a batch of the set would. Under `optimizer.baseBatch` the rate was scaled
 * to the step as configured, not to the samples it holds, so the warning gives both rates and the
 * batch that trains as the run does at the rate the rule gives it. Undefined where a step fits.
 *
 * @example
 * ```ts
 * import { stepBeyondTrainingSet } from "./start_checks.ts";
 * import { parseConfig } from "../config.ts";
 * const config = parseConfig({ batchSize: 100, gradientAccumulation: 10 });
 * console.assert(stepBeyondTrainingSet(config, 350)?.hint.includes("batchSize=350"));
 * console.assert(stepBeyondTrainingSet(config, 1000) === undefined);
 * ```
 */
export function stepBeyondTrainingSet(
  config: RunConfig,
  trainSize: number,
): { message: string; hint: string } | undefined {
  const accumulation = config.gradientAccumulation;
  const step = config.batchSize * accumulation;
  if (step <= trainSize || config.data.dropLast) return;
  const made = accumulation > 1
    ? `${step} samples (batchSize ${config.batchSize} x gradientAccumulation ${accumulation})`
    : `${step} samples (batchSize)`;
  const { lr, baseBatch } = config.optimizer as { lr: number; baseBatch?: number };
  const rule = batchScalingOf(config.optimizer);
  const rate = (batch: number) => formatNumber(scaleLearningRate(lr, baseBatch!, batch, rule).lr);
  const scaled = baseBatch === undefined ? "" : `; optimizer.baseBatch ${baseBatch} scaled ` +
    `optimizer.lr ${formatNumber(lr)} to a batch of ${step} (${rate(step)}, by the ${rule} ` +
    `rule), where a step of the ${trainSize} samples gets ${rate(trainSize)}`;
  return {
    message: `a step of ${made} is larger than the ${trainSize} training samples: ` +
      `every step trains all ${trainSize}, one step an epoch, as a batch of ${trainSize} ` +
      `would${scaled}`,
    hint: `set the step to the training set (--set batchSize=${trainSize}` +
      (accumulation > 1 ? " --set gradientAccumulation=1" : "") + "), or a smaller batch " +
      "for more steps an epoch",
  };
}

/**
 * The warning of an `optimizer.paramGroups` entry or a `noDecay` pattern that governs no
 * parameter of the model: a name that matches none (PyTorch's `weight` where anneal's are
 * `dense0/kernel`), a group whose every match an earlier group took (the first match wins), or a
 * `noDecay` pattern whose every match a group's own `weightDecay` sets.
 * Its setting then applies to nothing, which the run would not otherwise show. Undefined where
 * every pattern governs a parameter. `names`: the model's trainable parameters.
 *
 * @example
 * ```ts
 * import { unmatchedParamPatterns } from "./start_checks.ts";
 * const names = ["dense0/kernel", "dense0/bias", "head/kernel", "head/bias"];
 * const spec = { paramGroups: [{ match: "weight", lrMultiplier: 0 }], noDecay: undefined };
 * console.assert(unmatchedParamPatterns(spec, names)?.message.includes("'weight' matches no"));
 * const kernels = { paramGroups: [{ match: "kernel", lrMultiplier: 0 }], noDecay: ["bias"] };
 * console.assert(unmatchedParamPatterns(kernels, names) === undefined);
 * ```
 */
export function unmatchedParamPatterns(
  spec: { paramGroups?: { match: string; weightDecay?: number }[]; noDecay?: string[] },
  names: readonly string[],
): { message: string; hint: string } | undefined {
  const faults: string[] = [];
  const taken = new Set<string>();
  (spec.paramGroups ?? []).forEach((group, i) => {
    const pattern = new RegExp(group.match);
    const matched = names.filter((name) => pattern.test(name));
    const own = matched.filter((name) => !taken.has(name));
    for (const name of own) taken.add(name);
    const at = `paramGroups[${i}].match '${group.match}'`;
    if (matched.length === 0) faults.push(`${at} matches no parameter`);
    else if (own.length === 0) {
      faults.push(
        `${at} matches only parameters an earlier group took (${matched.join(", ")}; the first ` +
          "group that matches a parameter sets it)",
      );
    }
  });
  // a parameter whose group (the first that matches it) sets weightDecay: noDecay does not reach it
  const decaySet = (name: string) =>
    (spec.paramGroups ?? []).find((group) => new RegExp(group.match).test(name))?.weightDecay !==
      undefined;
  for (const source of spec.noDecay ?? []) {
    const pattern = new RegExp(source);
    const matched = names.filter((name) => pattern.test(name));
    if (matched.length === 0) faults.push(`noDecay pattern '${source}' matches no parameter`);
    else if (matched.every(decaySet)) {
      faults.push(
        `noDecay pattern '${source}' matches only parameters whose paramGroups entry sets ` +
          `weightDecay (${matched.join(", ")}; a group's weightDecay wins over noDecay)`,
      );
    }
  }
  if (faults.length === 0) return;
  const shown = names.length > 12 ? [...names.slice(0, 12), "..."] : names;
  return {
    message: `optimizer.${faults.join("; optimizer.")}: its settings apply to nothing`,
    hint: `the model's parameters are named ${shown.join(", ")} (layer/kind: kernel, bias, ` +
      "gamma and beta of batch norm; patterns are RegExp sources matched anywhere in the name, " +
      "e.g. 'kernel' for every weight matrix, '^head/' for the output layer)",
  };
}

/** How a run's steps are read and updated, as its trainer set them up. */
export interface StepReads {
  /** Steps read back together (`readbackEvery`, or the backend's default). */
  readEvery: number;
  /** Whether a step is applied before it is read (WebGPU's windows, at `readEvery` above 1). */
  lagged: boolean;
  /** Whether the optimizer skips a NaN/Inf step on the device (the fused WGSL kernels). */
  skipsOnDevice: boolean;
}

/**
 * The warning of a run whose `clipping.onNonFinite` is `skip` where a NaN/Inf step cannot be
 * skipped: on WebGPU, read in windows, a step is applied before it is read, and an update in
 * tfjs's ops (an optimizer without fused kernels, `fusedOptimizer` off, a schedule cycling the
 * momentum) applies it: its NaN reaches the weights, every later step's loss is NaN, and the run
 * ends as diverged, blamed on the learning rate, where the CPU backends skip the step and train
 * on. Undefined where every NaN/Inf step is skipped.
 *
 * @example
 * ```ts
 * import { unskippableSteps } from "./start_checks.ts";
 * import { parseConfig } from "../config.ts";
 * const config = parseConfig({ optimizer: { name: "rmsprop" }, clipping: { onNonFinite: "skip" } });
 * const reads = { readEvery: 16, lagged: true, skipsOnDevice: false };
 * console.assert(unskippableSteps(config, reads)?.hint?.includes("readbackEvery=1"));
 * console.assert(unskippableSteps(config, { ...reads, lagged: false }) === undefined);
 * ```
 */
export function unskippableSteps(
  config: RunConfig,
  reads: StepReads,
): { message: string; hint: string } | undefined {
  if (config.clipping.onNonFinite !== "skip" || !reads.lagged || reads.skipsOnDevice) return;
  return {
    message: `clipping.onNonFinite is 'skip', but on WebGPU a step read in a window ` +
      `(readbackEvery ${reads.readEvery}) is applied before it is read, and the ` +
      `${config.optimizer.name} update here runs in tfjs's ops, which cannot skip it: a NaN/Inf ` +
      "step's values reach the weights, and the run ends there as diverged (only the fused " +
      "kernels of sgd, adam, adamw and lion skip a step on the device)",
    hint: "set readbackEvery to 1 (--set readbackEvery=1: each step read before it is applied, " +
      "so a NaN/Inf one is skipped, at a read-back a step), or clipping.onNonFinite to " +
      "rollback (the last good epoch end, the rate cut 10x)",
  };
}
