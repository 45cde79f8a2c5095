/**
 * Batch metrics as sums over the batch, so that the trainer can add them up over an epoch and
 * divide by the sample count once.
 *
 * @module
 */

import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";

/**
 * The number of correct predictions in the batch: argmax of the logits against class indices
 * when the output has several units, `logit > 0` against targets `> 0.5` when it has one.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
 * import { accuracy } from "./metrics.ts";
 * await tf.setBackend("cpu");
 * const correct = accuracy(tf.tensor2d([[2, 1], [0, 3]]), tf.tensor1d([0, 0]));
 * console.assert(correct.dataSync()[0] === 1);
 * ```
 */
export function accuracy(output: tf.Tensor, target: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const rows = tf.reshape(output, [output.shape[0] ?? 1, -1]);
    const labels = tf.reshape(target, [-1]);
    const hits = rows.shape[1] === 1
      ? tf.equal(tf.greater(tf.reshape(rows, [-1]), 0), tf.greater(labels, 0.5))
      : tf.equal(tf.argMax(rows, 1), tf.cast(labels, "int32"));
    return tf.sum(tf.cast(hits, "float32"));
  });
}

/**
 * The sum over the batch of each sample's mean absolute error.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
 * import { mae } from "./metrics.ts";
 * await tf.setBackend("cpu");
 * const total = mae(tf.tensor2d([[1], [2]]), tf.tensor1d([0, 0]));
 * console.assert(total.dataSync()[0] === 3);
 * ```
 */
export function mae(output: tf.Tensor, target: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const rows = tf.reshape(output, [output.shape[0] ?? 1, -1]);
    const diff = tf.abs(tf.sub(rows, tf.reshape(target, rows.shape)));
    return tf.sum(tf.mean(diff, 1));
  });
}
