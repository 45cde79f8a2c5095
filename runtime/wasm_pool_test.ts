import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { selectBackend } from "./backend.ts";
import { routeMaxPoolGrad } from "./wasm_pool.ts";

type Pad = "same" | "valid";
const CASES: { x: [number, number, number, number]; size: number; strides: number; pad: Pad }[] = [
  { x: [2, 8, 8, 32], size: 2, strides: 2, pad: "valid" },
  { x: [3, 7, 7, 5], size: 2, strides: 2, pad: "valid" },
  { x: [2, 7, 6, 3], size: 2, strides: 2, pad: "same" },
  { x: [2, 9, 9, 4], size: 3, strides: 2, pad: "same" }, // overlapping windows
  { x: [2, 6, 5, 2], size: 3, strides: 1, pad: "valid" },
];

/** dL/dx of max pooling; x is rounded to a few values and has zeros (relu), so ties are common. */
function gradients(): number[][] {
  return CASES.map((c, i) =>
    tf.tidy(() => {
      const x = tf.relu(tf.round(tf.randomNormal(c.x, 0, 1.5, "float32", 2 * i + 1)));
      const output = tf.maxPool(x as tf.Tensor4D, c.size, c.strides, c.pad);
      const dy = tf.randomNormal(output.shape, 0, 1, "float32", 2 * i + 2);
      const dx = tf.engine().runKernel("MaxPoolGrad", { dy, input: x, output }, {
        filterSize: c.size,
        strides: c.strides,
        pad: c.pad,
      }) as tf.Tensor;
      assert.deepEqual(dx.shape, c.x);
      return Array.from(dx.dataSync());
    })
  );
}

Deno.test("wasm's MaxPoolGrad equals the cpu's, ties included, and leaves no buffers behind", async () => {
  await selectBackend("cpu");
  const expected = gradients();
  await selectBackend("wasm");
  assert.deepEqual(routeMaxPoolGrad(), ["MaxPoolGrad"]);
  const buffers = tf.engine().backend.numDataIds();
  const actual = gradients();
  assert.equal(tf.engine().backend.numDataIds(), buffers);
  actual.forEach((values, i) => {
    assert.equal(values.length, expected[i].length);
    values.forEach((v, j) =>
      assert.ok(
        Math.abs(v - expected[i][j]) <= 1e-5,
        `${JSON.stringify(CASES[i])}[${j}]: ${v} vs ${expected[i][j]}`,
      )
    );
  });
});
