/**
 * The tfjs optimizers on the wasm backend, where a kernel differs from the cpu backend's: Lion's
 * sign of a small direction (tfjs-wasm's `Sign` returns 0 within ~1e-7 of zero).
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import assert from "node:assert/strict";
import { selectBackend } from "../runtime/backend.ts";
import { sign } from "./adaptive.ts";
import { createOptimizer } from "./optimizer.ts";

await selectBackend("wasm", "mlp");

Deno.test("sign on wasm is torch.sign's for values near zero", async () => {
  assert.equal(tf.getBackend(), "wasm");
  const x = tf.tensor1d([-9.6e-8, 4.8e-8, 1e-7, -1e-6, 1e-3, 0, 3e-38, -1e-45, Infinity]);
  assert.deepEqual(Array.from(await sign(x).data()), [-1, 1, 1, -1, 1, 0, 1, -1, 1]);
  x.dispose();
});

Deno.test("lion on wasm moves every parameter by lr, however small its gradient", async () => {
  const param = tf.variable(tf.tensor1d([0.5, -0.25, 0.125, 1]), true, "wasm_lion/kernel");
  const lion = createOptimizer({ name: "lion", lr: 0.01, weightDecay: 0 });
  const grads = [tf.tensor1d([3e-8, -5e-8, 2e-3, 0])];
  const before = tf.memory().numTensors;
  lion.step([param], grads, 0.01);
  // the first step's direction is sign((1 - beta1) * g): -lr * sign(g), 0 where g is 0
  const expected = [0.49, -0.24, 0.115, 1];
  const got = await param.data();
  expected.forEach((e, i) => assert.ok(Math.abs(got[i] - e) < 1e-7, `param[${i}]: ${got[i]}`));
  assert.equal(tf.memory().numTensors, before + 1); // the new exp_avg slot only
  tf.dispose([param, ...grads]);
  lion.dispose();
});
