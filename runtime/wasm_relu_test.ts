import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { registerWasmTrainingKernels, selectBackend } from "./backend.ts";
import "npm:@tensorflow/tfjs-layers@4.22.0"; // registers tfjs's gradients, as in anneal's runs
import { routeReluGradient } from "./wasm_relu.ts";

/** Gradients through relu, over zeros, negatives and sizes that are not a multiple of 4. */
function gradients(): { dx: Float32Array }[] {
  return [[7], [3, 5, 4], [2, 9, 9, 8]].map((shape, i) =>
    tf.tidy(() => {
      const x = tf.relu(tf.round(tf.randomNormal(shape, 0, 2, "float32", i + 1))); // zeros too
      const shifted = tf.sub(x, 1); // -1, 0 and positives
      const weights = tf.randomNormal(shape, 0, 1, "float32", i + 11);
      const dx = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.relu(v), weights)))(shifted);
      return { dx: dx.dataSync() as Float32Array };
    })
  );
}

Deno.test("wasm's relu gradient (one kernel) equals the cpu's", async () => {
  await selectBackend("cpu");
  const expected = gradients();
  await selectBackend("wasm");
  registerWasmTrainingKernels();
  assert.deepEqual(routeReluGradient(), ["AnnealReluGrad"]);
  const before = tf.engine().backend.numDataIds();
  const actual = gradients();
  assert.equal(tf.engine().backend.numDataIds(), before);
  // equal values (=== also takes tfjs's -0, a negative dy times 0, as our 0)
  actual.forEach(({ dx }, i) => {
    assert.equal(dx.length, expected[i].dx.length);
    dx.forEach((v, j) =>
      assert.ok(v === expected[i].dx[j], `${i}[${j}]: ${v} vs ${expected[i].dx[j]}`)
    );
  });
  const { kernelNames } = await tf.profile(() =>
    tf.grad((v: tf.Tensor) => tf.sum(tf.relu(v)))(tf.tensor1d([-1, 0, 2]))
  );
  assert.ok(
    kernelNames.includes("AnnealReluGrad") && !kernelNames.includes("Step"),
    kernelNames.join(),
  );
});
