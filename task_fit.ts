/**
 * What a run's data asks of the rest of its config: the task a data spec poses (known before any
 * file is read: synthetic data is a regression, IDX images are classes, a CSV file is what its
 * `task` says), the one loss that fits each task, and the metrics an epoch logs. `parseConfig`
 * checks a config against them, so a loss that does not fit fails before training, not as a tfjs
 * shape error (or, worse, as a loss of 0 that trains nothing).
 *
 * @module
 */
import { AnnealError } from "./errors.ts";
import { closestName } from "./zod_paths.ts";
import type { Task } from "./data/types.ts";
import type { LossName } from "./models/losses.ts";

/** A task as a noun phrase, for messages. */
const TASK_NAMES: Record<Task, string> = {
  regression: "a regression",
  classification: "a classification",
  binary: "a binary classification",
};

/** The task each loss is made for, and what it needs of the targets, in words. */
const LOSS_NEEDS: Record<LossName, { task: Task; targets: string; needs: string }> = {
  mse: {
    task: "regression",
    targets: "continuous values",
    needs: "continuous targets (a regression)",
  },
  crossEntropy: {
    task: "classification",
    targets: "class labels",
    needs: "class labels and one output per class (a classification)",
  },
  binaryCrossEntropy: {
    task: "binary",
    targets: "two labels (0/1, yes/no)",
    needs: "0/1 labels and one output (a binary task)",
  },
};

/**
 * The loss a task uses unless the config names one; it is also the only loss that fits the task
 * (mse on class indices against K outputs, or cross-entropy over one output, would not train).
 *
 * @example
 * ```ts
 * import { defaultLossName } from "./task_fit.ts";
 * console.assert(defaultLossName("binary") === "binaryCrossEntropy");
 * ```
 */
export function defaultLossName(task: Task): LossName {
  if (task === "classification") return "crossEntropy";
  if (task === "binary") return "binaryCrossEntropy";
  return "mse";
}

/**
 * The metrics logged for a task, besides the loss.
 *
 * @example
 * ```ts
 * import { metricNames } from "./task_fit.ts";
 * console.assert(metricNames("regression").join() === "mae");
 * ```
 */
export function metricNames(task: Task): string[] {
  return task === "regression" ? ["mae"] : ["accuracy"];
}

/** The parts of a resolved data spec that say which task it poses. */
export type TaskSource =
  | { kind: "synthetic-linear" }
  | { kind: "csv"; path: string; target: string | number; task: Task }
  | { kind: "idx"; dir: string };

/** A dataset's task and its targets in words, for messages. */
export interface DataTask {
  task: Task;
  /** E.g. "the synthetic-linear data is a regression with 1 continuous target". */
  described: string;
  /** The config field that sets the task, when the user can change it (CSV data). */
  taskField?: string;
}

/**
 * The task a data spec poses, before any file is read.
 *
 * @example
 * ```ts
 * import { dataTask } from "./task_fit.ts";
 * console.assert(dataTask({ kind: "idx", dir: "/data" }).task === "classification");
 * ```
 */
export function dataTask(spec: TaskSource): DataTask {
  if (spec.kind === "synthetic-linear") {
    return {
      task: "regression",
      described: "the synthetic-linear data is a regression with 1 continuous target",
    };
  }
  if (spec.kind === "idx") {
    return {
      task: "classification",
      described: `the IDX data in ${spec.dir} is a classification (one class label per image)`,
    };
  }
  const column = typeof spec.target === "number" ? `${spec.target}` : `'${spec.target}'`;
  const targets = spec.task === "regression"
    ? "1 continuous target"
    : spec.task === "classification"
    ? "class labels"
    : "two labels";
  return {
    task: spec.task,
    described: `the CSV data ${spec.path} is ${TASK_NAMES[spec.task]} with ${targets} ` +
      `(column ${column}; data.task is '${spec.task}')`,
    taskField: "data.task",
  };
}

/**
 * The task of loaded data, from its shape (what the trainer knows once the data is read).
 *
 * @example
 * ```ts
 * import { shapeTask } from "./task_fit.ts";
 * const data = shapeTask({ task: "classification", targetSize: 1, numClasses: 10 });
 * console.assert(data.described === "the data is a classification with 10 classes");
 * ```
 */
export function shapeTask(
  shape: { task: Task; targetSize: number; numClasses?: number },
): DataTask {
  const targets = shape.task === "regression"
    ? `${shape.targetSize} continuous target${shape.targetSize === 1 ? "" : "s"}`
    : shape.task === "classification"
    ? `${shape.numClasses ?? "several"} classes`
    : "0/1 labels";
  return { task: shape.task, described: `the data is ${TASK_NAMES[shape.task]} with ${targets}` };
}

/**
 * Throws a config error when `loss` does not fit the data's task, naming the loss, what it needs,
 * what the data is, and the loss that fits.
 *
 * @example
 * ```ts
 * import { checkLossFits, dataTask } from "./task_fit.ts";
 * checkLossFits("mse", dataTask({ kind: "synthetic-linear" }));
 * let message = "";
 * try {
 *   checkLossFits("crossEntropy", dataTask({ kind: "synthetic-linear" }));
 * } catch (error) {
 *   message = (error as Error).message;
 * }
 * console.assert(message.includes("regression with 1 continuous target"));
 * ```
 */
export function checkLossFits(loss: LossName, data: DataTask): void {
  const { task, needs } = LOSS_NEEDS[loss];
  if (task === data.task) return;
  const fits = defaultLossName(data.task);
  const retask = data.taskField
    ? `; or, if the targets are ${LOSS_NEEDS[loss].targets}, set ${data.taskField} to ` +
      `'${task}' (--set ${data.taskField}=${task})`
    : "";
  throw new AnnealError(
    "config",
    `Cannot train with loss '${loss}': it needs ${needs}, and ${data.described}`,
    {
      where: "loss",
      hint:
        `the loss that fits ${
          TASK_NAMES[data.task]
        } is '${fits}' (--set loss=${fits}, or leave 'loss' ` +
        `out: each task picks its own)${retask}`,
    },
  );
}

/** A validation metric's name: `loss` -> `valLoss`. */
export const validationName = (name: string) => `val${name[0].toUpperCase()}${name.slice(1)}`;

/** The metrics that are the loss itself, on the training and the validation split. */
export const LOSS_METRICS: readonly string[] = ["loss", "valLoss"];

/**
 * Whether a higher value of an epoch metric is better: for the loss itself (`loss`, `valLoss`),
 * exactly when the optimizer maximizes it (torch's `maximize`, see optimizers/hazards.ts); for any
 * other metric, when its name is accuracy-like (accuracy, AUC, F1, precision, recall). Errors
 * such as `mae`, and the loss of an optimizer that descends it, are better lower.
 *
 * @example
 * ```ts
 * import { higherIsBetter } from "./task_fit.ts";
 * console.assert(higherIsBetter("valAccuracy", false) && !higherIsBetter("valMae", true));
 * console.assert(higherIsBetter("valLoss", true) && !higherIsBetter("valLoss", false));
 * ```
 */
export function higherIsBetter(metric: string, maximizesLoss: boolean): boolean {
  if (LOSS_METRICS.includes(metric)) return maximizesLoss;
  return /acc|auc|f1|precision|recall/i.test(metric);
}

/**
 * The metrics each epoch of a run logs: the training loss and the task's metric, the same on the
 * validation split when there is one, and the learning rate.
 *
 * @example
 * ```ts
 * import { epochMetricNames } from "./task_fit.ts";
 * console.assert(epochMetricNames("regression", false).join() === "loss,mae,lr");
 * ```
 */
export function epochMetricNames(task: Task, validation: boolean): string[] {
  const training = ["loss", ...metricNames(task)];
  return [...training, ...(validation ? training.map(validationName) : []), "lr"];
}

/**
 * The epoch metric a monitor (`earlyStopping.monitor`, which a plateau schedule watches too)
 * reads among an epoch's `metrics`: itself when logged; else a validation metric reads the
 * training one (a run without a validation split); null when neither is logged.
 *
 * @example
 * ```ts
 * import { watchedMetric } from "./task_fit.ts";
 * console.assert(watchedMetric("valAccuracy", { loss: 1, accuracy: 0.5 }) === "accuracy");
 * console.assert(watchedMetric("valLoss", { loss: 1, valLoss: 2 }) === "valLoss");
 * console.assert(watchedMetric("mae", { loss: 1 }) === null);
 * ```
 */
export function watchedMetric(monitor: string, metrics: Record<string, number>): string | null {
  if (monitor in metrics) return monitor;
  if (!monitor.startsWith("val") || monitor.length < 4) return null;
  const training = monitor[3].toLowerCase() + monitor.slice(4);
  return training in metrics ? training : null;
}

/** Each task's metric's counterpart in the other tasks (a monitor written for another task). */
const COUNTERPART: Record<string, string> = {
  accuracy: "mae",
  mae: "accuracy",
  valAccuracy: "valMae",
  valMae: "valAccuracy",
};

/**
 * Throws a config error when early stopping would watch a metric no epoch of the run logs (it
 * would never stop the run, nor find a best epoch): names the monitor, the metrics the run logs
 * given its task and validation split, and the closest one, with the mode that metric needs when
 * `mode` is the other (`maximizesLoss`: the optimizer pushes the loss up, so a loss needs max);
 * `mode` undefined: the config sets none, and the default follows the metric watched.
 * Without a validation split, `valLoss` and the other validation metrics are accepted: they watch
 * the training metrics.
 *
 * @example
 * ```ts
 * import { checkMonitor, dataTask } from "./task_fit.ts";
 * checkMonitor("valLoss", "min", dataTask({ kind: "synthetic-linear" }), false);
 * let hint = "";
 * try {
 *   checkMonitor("valAcc", "max", dataTask({ kind: "idx", dir: "/data" }), true);
 * } catch (error) {
 *   hint = (error as { hint: string }).hint;
 * }
 * console.assert(hint.includes("did you mean 'valAccuracy'"));
 * ```
 */
export function checkMonitor(
  monitor: string,
  mode: "min" | "max" | undefined,
  data: DataTask,
  validation: boolean,
  maximizesLoss = false,
): void {
  checkMetric(monitor, data, validation, {
    action: "watch",
    purpose: "for early stopping",
    subject: "this run",
    where: "earlyStopping.monitor",
    validationFallback: true,
    directionFix: (metric) => {
      const max = higherIsBetter(metric, maximizesLoss);
      return mode === undefined || max === (mode === "max")
        ? ""
        : ` --set earlyStopping.mode=${max ? "max" : "min"}`;
    },
  });
}

/** What a metric is checked for, by {@linkcode checkMetric}: the words and paths of its error. */
export interface MetricUse {
  /** The verb of the message and hint: `watch`, `optimise`. */
  action: string;
  /** What for: `for early stopping`, `in the sweep`. */
  purpose: string;
  /** Whose epochs log the metrics: `this run`, `a trial`. */
  subject: string;
  /** The config path of the metric, for `where` and the `--set` of the fix. */
  where: string;
  /** Whether `valX` without a validation split reads `x` (early stopping does; a sweep does not). */
  validationFallback: boolean;
  /** The `--set` that the direction needs with the suggested metric, or "" when none is needed. */
  directionFix?: (metric: string) => string;
  /** The `--set` that picks metric `name` (default: `--set <where>=<name>`). */
  setMetric?: (name: string) => string;
}

/**
 * Throws a config error when a metric is one no epoch logs, given the data's task and validation
 * split: names it, the metrics the epochs log, and the closest one (or the task's counterpart of
 * another task's metric) as a `--set` of `use.where`. Early stopping's monitor and the metric of
 * `anneal sweep` and `anneal tune` are checked by it.
 *
 * @example
 * ```ts
 * import { checkMetric, dataTask } from "./task_fit.ts";
 * const use = { action: "optimise", purpose: "in the sweep", subject: "a trial", where: "sweep.metric", validationFallback: false };
 * checkMetric("valAccuracy", dataTask({ kind: "idx", dir: "/data" }), true, use);
 * let hint = "";
 * try {
 *   checkMetric("valAcc", dataTask({ kind: "idx", dir: "/data" }), true, use);
 * } catch (error) {
 *   hint = (error as { hint: string }).hint;
 * }
 * console.assert(hint === "did you mean 'valAccuracy'? (--set sweep.metric=valAccuracy)");
 * ```
 */
export function checkMetric(
  metric: string,
  data: DataTask,
  validation: boolean,
  use: MetricUse,
): void {
  // the metrics of the model: an epoch's `lr` is the rate the run was set to train at, which
  // nothing is meant to optimise or watch (lr-find and tune's rate stage search it)
  const modelMetrics = (split: boolean) =>
    epochMetricNames(data.task, split).filter((name) => name !== "lr");
  const logged = modelMetrics(validation);
  const accepted = modelMetrics(validation || use.validationFallback);
  if (accepted.includes(metric)) return;
  const all = modelMetrics(true);
  const set = use.setMetric ?? ((name: string) => `--set ${use.where}=${name}`);
  const cannot = `Cannot ${use.action} '${metric}' ${use.purpose}`;
  const logs = `the epochs of ${use.subject} log ${logged.join(", ")}`;
  if (metric === "lr") {
    const proper = accepted.includes("valLoss") ? "valLoss" : "loss";
    throw new AnnealError(
      "config",
      `${cannot}: 'lr' is the learning rate an epoch ended at, which the optimizer and the ` +
        `schedule set, not a measure of the model; ${logs}`,
      {
        where: use.where,
        hint: `${use.action} a metric of the model, e.g. '${proper}' (${set(proper)}${
          use.directionFix?.(proper) ?? ""
        }); to search the learning rate, anneal lr-find, or a sweep.space over optimizer.lr`,
      },
    );
  }
  if (all.includes(metric)) {
    // a validation metric, and no validation split to compute it on
    const training = logged.find((name) => validationName(name) === metric)!;
    throw new AnnealError(
      "config",
      `${cannot}: there is no validation split to compute it on (data.validationSplit is 0); ${logs}`,
      {
        where: use.where,
        hint: `hold out a validation split (--set data.validationSplit=0.1) or ${use.action} ` +
          `'${training}' (${set(training)}${use.directionFix?.(training) ?? ""})`,
      },
    );
  }
  // a metric of another task (`accuracy` on a regression), or a misspelling of one
  const meant = closestName(metric, [...accepted, ...Object.keys(COUNTERPART)]);
  const counterpart = meant !== undefined && !accepted.includes(meant)
    ? COUNTERPART[meant]
    : undefined;
  const otherTask = counterpart &&
    `'${meant}' is logged for ${
      meant!.toLowerCase().includes("accuracy") ? "classification and binary tasks" : "regressions"
    } only, and ${data.described}`;
  const why = otherTask
    ? meant === metric ? otherTask : `no epoch logs it (${otherTask})`
    : "no epoch logs it";
  const fallback = validation || !use.validationFallback
    ? ""
    : ` (no validation split: ${
      accepted.filter((name) => !logged.includes(name)).join(" and ")
    } watch the training metrics)`;
  const suggestion = counterpart !== undefined && accepted.includes(counterpart)
    ? counterpart
    : counterpart === undefined
    ? meant
    : undefined;
  const directionFix = suggestion === undefined ? "" : use.directionFix?.(suggestion) ?? "";
  throw new AnnealError("config", `${cannot}: ${why}; ${logs}${fallback}`, {
    where: use.where,
    hint: suggestion
      ? `${counterpart ? use.action : "did you mean"} '${suggestion}'${
        counterpart ? " instead" : "?"
      } (${set(suggestion)}${directionFix})`
      : `${use.action} one of ${accepted.join(", ")} (e.g. ${
        set(accepted.includes("valLoss") ? "valLoss" : "loss")
      })`,
  });
}

/**
 * Whether `trainSize` samples in batches of `batchSize`, the last kept short, leave every batch 2
 * samples or more (a size above the training set makes one batch of all of it): what batch norm
 * over a unit of one value a sample needs (see {@linkcode checkBatchNormBatches}).
 *
 * @example
 * ```ts
 * import { normalizableBatches } from "./task_fit.ts";
 * console.assert(normalizableBatches(65, 20) && !normalizableBatches(65, 64));
 * ```
 */
export function normalizableBatches(trainSize: number, batchSize: number): boolean {
  return batchSize >= 2 && (batchSize >= trainSize || trainSize % batchSize !== 1);
}

/** What {@linkcode checkBatchNormBatches} reads of a model spec. */
export interface BatchNormModel {
  kind: string;
  batchNorm?: boolean;
  /** An MLP's hidden layers (absent: the default, one). */
  hidden?: number[];
  filters?: number[];
  pool?: number;
}

/**
 * Refuses a run that would put one value a channel through batch norm in training: a training
 * batch of one sample in an MLP with `batchNorm` (or one sample of a 1x1 map in a cnn's conv
 * block). Its variance is 0 and carries nothing, and torch's BatchNorm raises there ("Expected
 * more than 1 value per channel when training"). `inputShape`: a sample's; `trainSize`: the
 * training samples an epoch takes in batches of `batchSize` (the last one short unless
 * `dropLast`, which with gradient accumulation keeps only whole micro-batches too);
 * `accumulation`: the micro-batches a step (1 by default), whose `dropLast` leaves no step where a
 * step is larger than the training set, so the hint then does not suggest it.
 *
 * @example
 * ```ts
 * import { checkBatchNormBatches } from "./task_fit.ts";
 * const mlp = { kind: "mlp", batchNorm: true };
 * checkBatchNormBatches(mlp, [2], { trainSize: 60, batchSize: 8, dropLast: false });
 * let where = "";
 * try {
 *   checkBatchNormBatches(mlp, [2], { trainSize: 57, batchSize: 8, dropLast: false });
 * } catch (error) {
 *   where = (error as { where: string }).where;
 * }
 * console.assert(where === "batchSize");
 * ```
 */
export function checkBatchNormBatches(
  model: BatchNormModel,
  inputShape: readonly number[],
  { trainSize, batchSize, dropLast, accumulation = 1 }: {
    trainSize: number;
    batchSize: number;
    dropLast: boolean;
    accumulation?: number;
  },
): void {
  if (!model.batchNorm || trainSize < 1) return;
  // Values a channel per sample: 1 in an MLP; a cnn's smallest map (each block pools it).
  let positions: number;
  if (model.kind === "mlp") {
    // an MLP without hidden layers is its head alone: it has no batch norm to refuse (one sample
    // a batch was refused, naming batch norm, where torch's model, a Linear, trains)
    if (model.hidden?.length === 0) return;
    positions = 1;
  } else if (model.kind === "cnn" && inputShape.length >= 2) {
    let [h, w] = inputShape;
    positions = Infinity;
    for (const _ of model.filters ?? []) {
      positions = Math.min(positions, h * w);
      const pool = model.pool ?? 1;
      if (pool > 1) [h, w] = [Math.floor(h / pool), Math.floor(w / pool)];
    }
  } else {
    return;
  }
  const last = trainSize < batchSize ? trainSize : trainSize % batchSize || batchSize;
  const smallest = dropLast ? Math.min(batchSize, trainSize) : last;
  if (smallest * positions !== 1) return;
  const torch = "torch's BatchNorm raises there ('Expected more than 1 value per channel when " +
    "training'): one value has no variance";
  const where = model.kind === "mlp"
    ? "each of its hidden layers' units"
    : "a channel of its 1x1 map";
  // the batch size nearest `from` (the smaller first) whose batches, the last included, hold
  // 2 samples or more (a size above the training set makes one batch of all of it)
  const nearest = (from: number): number => {
    const fits = (size: number) => normalizableBatches(trainSize, size);
    if (from !== batchSize && fits(from)) return from;
    for (let d = 1;; d++) {
      for (const size of [from - d, from + d]) if (fits(size)) return size;
    }
  };
  if (trainSize === 1) {
    // no batch size helps: one training sample is a batch of one whatever the size
    throw new AnnealError(
      "config",
      `Cannot train with batch norm on 1 training sample: every batch holds one sample ` +
        `whatever 'batchSize' is (${batchSize}), and batch norm normalizes ${where} over the ` +
        `batch; ${torch}`,
      {
        where: "data",
        hint: "give the run 2 training samples or more (more data: a higher data.limit or " +
          "data.n, a lower data.validationSplit), or train without batch norm " +
          "(--set model.batchNorm=false)",
      },
    );
  }
  if (batchSize === 1) {
    throw new AnnealError(
      "config",
      `Cannot train with batch norm on batches of one sample: 'batchSize' is ${batchSize} and ` +
        `there are ${trainSize} training samples, and batch norm normalizes ${where} over the ` +
        `batch; ${torch}`,
      {
        where: "batchSize",
        hint: `train on batches of 2 samples or more (--set batchSize=${nearest(16)}), or ` +
          "without batch norm (--set model.batchNorm=false)",
      },
    );
  }
  const better = nearest(batchSize);
  // with accumulation, dropLast drops the short group: a step larger than the training set would
  // leave an epoch no step, which train refuses
  const dropsToNothing = batchSize * accumulation > trainSize;
  throw new AnnealError(
    "config",
    `Cannot train with batch norm on the epoch's last batch: ${trainSize} training samples in ` +
      `batches of ${batchSize} leave a last batch of one sample, and batch norm normalizes ` +
      `${where} over the batch; ${torch}`,
    {
      where: "batchSize",
      hint: `${dropsToNothing ? "" : "drop the short batch (--set data.dropLast=true), or "}` +
        `take batches that leave none of one sample (--set batchSize=${better})`,
    },
  );
}
