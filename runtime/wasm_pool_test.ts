import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { selectBackend } from "./backend.ts";
import { replacedWasmKernel } from "./wasm_heap.ts";
import { routeMaxPoolGrad } from "./wasm_pool.ts";
import { simdKernels } from "./wasm_simd/kernels.ts";

type Pad = "same" | "valid";
type Case = {
  x: [number, number, number, number];
  size: number;
  strides: number;
  pad: Pad;
  /** a window of -Infinity written over x */
  special?: boolean;
};
const CASES: Case[] = [
  { x: [2, 8, 8, 32], size: 2, strides: 2, pad: "valid" },
  { x: [3, 7, 7, 5], size: 2, strides: 2, pad: "valid" },
  { x: [2, 7, 6, 3], size: 2, strides: 2, pad: "same" },
  { x: [2, 9, 9, 4], size: 3, strides: 2, pad: "same" }, // overlapping windows
  { x: [2, 6, 5, 2], size: 3, strides: 1, pad: "valid" },
  { x: [2, 7, 8, 3], size: 3, strides: 3, pad: "same" }, // tiled, padded before and after
  { x: [1, 4, 4, 2], size: 2, strides: 2, pad: "valid", special: true },
  { x: [2, 6, 6, 3], size: 2, strides: 2, pad: "valid", special: true },
  // anneal's SIMD kernel (whole 2x2 windows, channels a multiple of 4), with leftover pixels
  { x: [2, 7, 9, 8], size: 2, strides: 2, pad: "valid", special: true },
];

/** A window of -Infinity (channel 0, first window): it passes no gradient. */
function withSpecials(x: tf.Tensor, c: Case): tf.Tensor {
  const values = x.dataSync().slice();
  const [, , w, ch] = c.x;
  for (const [r, q] of [[0, 0], [0, 1], [1, 0], [1, 1]]) values[(r * w + q) * ch] = -Infinity;
  return tf.tensor(values, c.x);
}

/**
 * dL/dx of max pooling (by `kernel` where given, else the backend's registered kernel); x is
 * rounded to a few values and has zeros (relu), so ties are common.
 */
function gradients(kernel?: tf.KernelFunc): number[][] {
  return CASES.map((c, i) =>
    tf.tidy(() => {
      const random = tf.relu(tf.round(tf.randomNormal(c.x, 0, 1.5, "float32", 2 * i + 1)));
      const x = c.special ? withSpecials(random, c) : random;
      const output = tf.maxPool(x as tf.Tensor4D, c.size, c.strides, c.pad);
      const dy = tf.randomNormal(output.shape, 0, 1, "float32", 2 * i + 2);
      const inputs = { dy, input: x, output };
      const attrs = { filterSize: c.size, strides: c.strides, pad: c.pad };
      const dx = kernel
        ? tf.engine().makeTensorFromTensorInfo(
          kernel({ inputs, attrs, backend: tf.backend() }) as tf.TensorInfo,
        )
        : tf.engine().runKernel("MaxPoolGrad", inputs, attrs) as tf.Tensor;
      assert.deepEqual(dx.shape, c.x);
      return Array.from(dx.dataSync());
    })
  );
}

Deno.test("wasm's MaxPoolGrad equals the cpu's, ties included, and leaves no buffers behind", async () => {
  await selectBackend("cpu");
  // tfjs's own cpu kernel: anneal's, in front of it, shares the loop wasm's falls back to
  assert.ok(replacedWasmKernel("MaxPoolGrad", "cpu"), "tfjs's cpu kernel is kept");
  const expected = gradients(replacedWasmKernel("MaxPoolGrad", "cpu"));
  await selectBackend("wasm");
  assert.deepEqual(routeMaxPoolGrad(), ["MaxPoolGrad"]);
  assert.ok(simdKernels(tf.engine().backend), "the SIMD kernels load on this machine");
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
