/**
 * Loss functions with PyTorch's semantics: `mse` (nn.MSELoss), `crossEntropy`
 * (nn.CrossEntropyLoss on logits and class indices) and `binaryCrossEntropy`
 * (nn.BCEWithLogitsLoss on one logit per sample), all numerically stable.
 *
 * With `reduction: "sum"` a loss is the sum over the batch of per-sample losses (for `mse`, the
 * per-sample loss is the mean over the target's elements), so that sums over batches divided by
 * the sample count give exactly PyTorch's mean; `"mean"` (the default) is that sum / batch size.
 *
 * `crossEntropy`'s class indices must lie in [0, classes): a sample whose index is outside
 * (a label 5 of 3 classes, a -1) adds 0 to the sum, but still counts in the mean's batch size,
 * where torch raises ("Target 5 is out of bounds"). Checking would read the targets back at
 * every step; anneal's data loading gives no such index (its classes span every label).
 *
 * @module
 */

import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { AnnealError } from "../errors.ts";
import { closestName } from "../zod_paths.ts";

/** The names of the losses. */
export type LossName = "mse" | "crossEntropy" | "binaryCrossEntropy";
/** How per-sample losses are combined. */
export type Reduction = "mean" | "sum";
/** A loss: model output and target in, scalar out. */
export type LossFunction = (output: tf.Tensor, target: tf.Tensor) => tf.Scalar;
/** The kind of task a dataset poses. */
export type { Task } from "../data/types.ts";

/**
 * The loss called `name`, reduced over the batch by `reduction` (`mean` or `sum`). An unknown
 * name or reduction throws an {@linkcode AnnealError} (`config`).
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
 * import { lossFunction } from "./losses.ts";
 * await tf.setBackend("cpu");
 * const loss = lossFunction("crossEntropy")(tf.tensor2d([[0, 0]]), tf.tensor1d([1]));
 * console.assert(Math.abs(loss.dataSync()[0] - Math.log(2)) < 1e-6);
 * ```
 */
export function lossFunction(name: LossName, reduction: Reduction = "mean"): LossFunction {
  const names = Object.keys(perSampleLosses);
  if (typeof name !== "string" || !Object.hasOwn(perSampleLosses, name)) {
    // (an unknown name gave a function that threw "perSample is not a function" when called)
    const close = typeof name === "string" ? closestName(name, names) : undefined;
    throw new AnnealError(
      "config",
      `Cannot make loss: unknown loss ${JSON.stringify(name) ?? String(name)}`,
      {
        where: "loss",
        hint: `${close ? `did you mean "${close}"? ` : ""}the losses are ${names.join(", ")}`,
      },
    );
  }
  if (reduction !== "mean" && reduction !== "sum") {
    // (anything but "sum" was taken for "mean")
    throw new AnnealError(
      "config",
      `Cannot make ${name} loss: 'reduction' must be "mean" or "sum", current value is ${
        JSON.stringify(reduction) ?? String(reduction)
      }`,
      { where: "reduction", hint: 'use "mean" (the default, as torch\'s) or "sum"' },
    );
  }
  const perSample = perSampleLosses[name];
  return (output, target) => {
    checkShapes(name, output, target);
    return tf.tidy(() => {
      const losses = perSample(output, target);
      return reduction === "sum" ? tf.sum(losses) : tf.mean(losses);
    });
  };
}

/**
 * Throws a usage error unless `target` fits `output` as loss `name` reads them: as many rows
 * (samples), and per row one class index (crossEntropy) or as many values as the output
 * (binaryCrossEntropy, mse). tfjs threw its own shape errors, or reshaped a target of as many
 * values into other rows: an output [4,1] against a target [2,2] gave a loss of 0. Shapes only,
 * nothing read back.
 */
function checkShapes(name: LossName, output: tf.Tensor, target: tf.Tensor): void {
  const rowsOf = (tensor: tf.Tensor) => tensor.rank === 0 ? 1 : tensor.shape[0];
  const rows = rowsOf(output);
  const labels = name === "crossEntropy";
  const needed = labels ? rows : output.size;
  if (rowsOf(target) === rows && target.size === needed) return;
  const values = rows === 0 ? 0 : needed / rows;
  const each = labels ? "one class index" : `${values} value${values === 1 ? "" : "s"}`;
  throw new AnnealError(
    "usage",
    `Cannot compute ${name} loss: the target has shape ${JSON.stringify(target.shape)}, the ` +
      `output's ${JSON.stringify(output.shape)} needs ${rows} rows of ${each}`,
    {
      where: "target",
      hint: labels
        ? "give one class index per row of logits (targets of shape [batch] or [batch, 1])"
        : "give the target one row per sample, shaped as the output's rows",
    },
  );
}

/**
 * The default loss of a task: mse, crossEntropy or binaryCrossEntropy (decided, with the losses
 * that fit each task, in `task_fit.ts`, which config parsing uses without loading tfjs).
 */
export { defaultLossName as defaultLoss } from "../task_fit.ts";

/** Per-sample losses [batch] of each loss. */
const perSampleLosses: Record<LossName, (output: tf.Tensor, target: tf.Tensor) => tf.Tensor1D> = {
  mse(output, target) {
    const rows = toRows(output);
    const diff = tf.sub(rows, tf.reshape(target, rows.shape));
    return tf.mean(tf.square(diff), 1);
  },
  crossEntropy(output, target) {
    const logits = toRows(output);
    const classes = tf.cast(tf.reshape(target, [-1]), "int32");
    // the target's log-probability picked, as torch's nll_loss gathers it: times a one-hot, a
    // non-target's log-softmax of -Infinity (logits over float32's range apart) made the
    // sample's loss NaN (-Infinity x 0), where torch's is finite
    const logProbs = tf.logSoftmax(logits);
    const isTarget = tf.cast(tf.oneHot(classes, logits.shape[1]), "bool");
    const picked = tf.where(isTarget, logProbs, tf.zerosLike(logProbs));
    return tf.neg(tf.sum(picked, 1));
  },
  binaryCrossEntropy(output, target) {
    // max(x, 0) - x*y + log(1 + exp(-|x|)): no overflow for large |x|.
    const x = tf.reshape(output, [-1]);
    const y = tf.reshape(target, [-1]);
    return tf.add(tf.sub(tf.relu(x), tf.mul(x, y)), tf.log1p(tf.exp(tf.neg(tf.abs(x)))));
  },
};

function toRows(t: tf.Tensor): tf.Tensor2D {
  return tf.reshape(t, [t.shape[0] ?? 1, -1]);
}
