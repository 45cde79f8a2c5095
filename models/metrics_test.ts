import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
import { accuracy, mae } from "./metrics.ts";

await tf.setBackend("cpu");

function value(f: () => tf.Scalar): number {
  return tf.tidy(() => f().dataSync()[0]);
}

Deno.test("accuracy counts argmax hits for multi-class logits", () => {
  const logits = [[0.1, 2, 0], [5, 1, 1], [0, 0, 3], [1, 0, 0]];
  const labels = [1, 0, 0, 1];
  const expected = labels.filter((l, i) => logits[i].indexOf(Math.max(...logits[i])) === l).length;
  assert.equal(value(() => accuracy(tf.tensor2d(logits), tf.tensor1d(labels))), expected);
  assert.equal(value(() => accuracy(tf.tensor2d(logits), tf.tensor2d(labels, [4, 1]))), expected);
});

Deno.test("accuracy counts logit > 0 against the label for one-unit outputs", () => {
  const logits = [[0.5], [-0.2], [3], [-4]];
  const labels = [1, 1, 0, 0];
  const expected = labels.filter((l, i) => (logits[i][0] > 0 ? 1 : 0) === l).length;
  assert.equal(value(() => accuracy(tf.tensor2d(logits), tf.tensor1d(labels))), expected);
});

Deno.test("mae sums each sample's mean absolute error over the batch", () => {
  const output = [[1, 3], [0, -2]];
  const target = [[0, 0], [1, 1]];
  const expected = output.reduce(
    (s, row, i) => s + row.reduce((a, v, j) => a + Math.abs(v - target[i][j]), 0) / row.length,
    0,
  );
  assert.ok(Math.abs(value(() => mae(tf.tensor2d(output), tf.tensor2d(target))) - expected) < 1e-6);
});
