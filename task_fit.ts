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

/** What a model learns: real values, one of K classes, or yes/no. */
export type Task = "regression" | "classification" | "binary";
/** The losses a config may name. */
export type LossName = "mse" | "crossEntropy" | "binaryCrossEntropy";

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
