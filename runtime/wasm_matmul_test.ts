import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { selectBackend } from "./backend.ts";
import { routeTransposedMatMul } from "./wasm_matmul.ts";

const CASES: { a: number[]; b: number[]; transposeA: boolean; transposeB: boolean }[] = [
  { a: [37, 19], b: [37, 23], transposeA: true, transposeB: false },
  { a: [19, 37], b: [23, 37], transposeA: false, transposeB: true },
  { a: [37, 19], b: [23, 37], transposeA: true, transposeB: true },
  { a: [19, 37], b: [37, 23], transposeA: false, transposeB: false },
  { a: [1, 37, 19], b: [1, 23, 37], transposeA: true, transposeB: true },
  // several matrices per operand: tfjs's own path
  { a: [3, 37, 19], b: [3, 37, 23], transposeA: true, transposeB: false },
];

function products(): number[][] {
  return CASES.map((c, i) =>
    tf.tidy(() => {
      const a = tf.randomNormal(c.a, 0, 1, "float32", 2 * i + 1);
      const b = tf.randomNormal(c.b, 0, 1, "float32", 2 * i + 2);
      return Array.from(tf.matMul(a, b, c.transposeA, c.transposeB).dataSync());
    })
  );
}

Deno.test("wasm's transposed products equal the cpu's and leave no buffers behind", async () => {
  await selectBackend("cpu");
  const expected = products();
  await selectBackend("wasm");
  assert.ok(routeTransposedMatMul());
  const buffers = tf.engine().backend.numDataIds();
  const actual = products();
  assert.equal(tf.engine().backend.numDataIds(), buffers);
  actual.forEach((values, i) => {
    assert.equal(values.length, expected[i].length, JSON.stringify(CASES[i]));
    values.forEach((v, j) =>
      assert.ok(Math.abs(v - expected[i][j]) < 1e-4, `${JSON.stringify(CASES[i])}[${j}]`)
    );
  });
});
