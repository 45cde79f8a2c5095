/**
 * The SIMD transpose on wasm against tfjs's cpu backend, for matrix transposes of every size
 * modulo 4, batched ones, merged axes, int32, and the permutations it declines.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { selectBackend } from "./backend.ts";
import { asMatrixTranspose } from "./wasm_transpose.ts";

const CASES: [number[], number[], tf.DataType][] = [
  [[8, 12], [1, 0], "float32"],
  [[7, 5], [1, 0], "float32"],
  [[5, 9], [1, 0], "int32"],
  [[3, 6, 10], [0, 2, 1], "float32"],
  [[2, 5, 3, 9], [3, 0, 1, 2], "float32"], // NHWC to CNHW
  [[4, 3, 2, 6], [1, 2, 3, 0], "float32"],
  [[2, 3, 4, 5], [0, 2, 1, 3], "float32"], // not a matrix transpose: declined
  [[2, 3, 4], [2, 1, 0], "float32"], // declined
  [[129, 33], [1, 0], "float32"],
];

function transposed(c: (typeof CASES)[number], i: number): number[] {
  return tf.tidy(() => {
    const size = c[0].reduce((a, b) => a * b, 1);
    const values = Array.from({ length: size }, (_, j) => (j * 7919 + i) % 1000 - 500);
    return Array.from(tf.transpose(tf.tensor(values, c[0], c[2]), c[1]).dataSync());
  });
}

Deno.test("the SIMD transpose on wasm equals the cpu's", async () => {
  await selectBackend("cpu");
  const expected = CASES.map(transposed);
  await selectBackend("wasm");
  const buffers = tf.engine().backend.numDataIds();
  const actual = CASES.map(transposed);
  assert.equal(tf.engine().backend.numDataIds(), buffers);
  actual.forEach((got, i) => assert.deepEqual(got, expected[i], JSON.stringify(CASES[i])));
});

Deno.test("asMatrixTranspose finds the matrix transposes in a permutation", () => {
  assert.deepEqual(asMatrixTranspose([2, 3, 4, 5], [3, 0, 1, 2]), { count: 1, rows: 24, cols: 5 });
  assert.deepEqual(asMatrixTranspose([2, 3, 4, 5], [2, 3, 0, 1]), { count: 1, rows: 6, cols: 20 });
  assert.deepEqual(asMatrixTranspose([2, 3, 4], [0, 2, 1]), { count: 2, rows: 3, cols: 4 });
  assert.equal(asMatrixTranspose([2, 3, 4], [0, 1, 2]), undefined);
  assert.equal(asMatrixTranspose([2, 3, 4, 5], [0, 2, 1, 3]), undefined);
  assert.equal(asMatrixTranspose([2, 3, 4], [2, 1, 0]), undefined);
});
