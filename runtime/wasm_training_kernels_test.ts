import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
// Side effect: tfjs-layers registers the gradients of tfjs-core ops.
import "npm:@tensorflow/tfjs-layers@4.22.0";
import { selectBackend } from "./backend.ts";

/** The loss and gradients of a small conv/batch-norm/relu/max-pool net, as in bench's `cnn`. */
function cnnGradients(): number[][] {
  return tf.tidy(() => {
    const x = tf.randomNormal([3, 9, 9, 2], 0, 1, "float32", 1) as tf.Tensor4D;
    const vars = [
      tf.variable(tf.randomNormal([3, 3, 2, 4], 0, 0.5, "float32", 2)),
      tf.variable(tf.randomNormal([3, 3, 4, 6], 0, 0.5, "float32", 3)),
      tf.variable(tf.randomNormal([4], 1, 0.1, "float32", 4)),
      tf.variable(tf.randomNormal([4], 0, 0.1, "float32", 6)),
      tf.variable(tf.randomNormal([6, 5], 0, 0.5, "float32", 5)),
    ];
    const loss = () => {
      const [w1, w2, gamma, beta, dense] = vars;
      let h: tf.Tensor4D = tf.conv2d(x, w1 as tf.Tensor4D, 1, "same");
      const { mean, variance } = tf.moments(h, [0, 1, 2]);
      h = tf.batchNorm(
        h,
        mean,
        variance,
        beta as tf.Tensor1D,
        gamma as tf.Tensor1D,
        1e-5,
      ) as tf.Tensor4D;
      h = tf.maxPool(tf.relu(h) as tf.Tensor4D, 2, 2, "valid");
      h = tf.maxPool(tf.relu(tf.conv2d(h, w2 as tf.Tensor4D, 2, "same")), 2, 2, "same");
      return tf.sum(
        tf.square(tf.matMul(tf.reshape(h, [3, 6]), dense as tf.Tensor2D)),
      ) as tf.Scalar;
    };
    const { value, grads } = tf.variableGrads(loss, vars);
    const out = [[value.dataSync()[0]], ...vars.map((v) => Array.from(grads[v.name].dataSync()))];
    vars.forEach((v) => v.dispose());
    return out;
  });
}

Deno.test("a conv/batch-norm/max-pool net's gradients on wasm equal the cpu's", async () => {
  await selectBackend("cpu");
  const expected = cnnGradients();
  await selectBackend("wasm");
  const actual = cnnGradients();
  actual.forEach((values, i) =>
    values.forEach((v, j) =>
      assert.ok(
        Math.abs(v - expected[i][j]) <= 1e-3 * Math.max(1, Math.abs(expected[i][j])),
        `tensor ${i}[${j}]: ${v} vs ${expected[i][j]}`,
      )
    )
  );
});
