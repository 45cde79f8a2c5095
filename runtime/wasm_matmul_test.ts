import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { selectBackend } from "./backend.ts";
import { gemmProducts } from "./wasm_gemm.ts";
import { matMulPlan, routeTransposedMatMul } from "./wasm_matmul.ts";

const CASES: { a: number[]; b: number[]; transposeA: boolean; transposeB: boolean }[] = [
  { a: [37, 19], b: [37, 23], transposeA: true, transposeB: false },
  { a: [19, 37], b: [23, 37], transposeA: false, transposeB: true },
  { a: [37, 19], b: [23, 37], transposeA: true, transposeB: true },
  { a: [19, 37], b: [37, 23], transposeA: false, transposeB: false },
  { a: [1, 37, 19], b: [1, 23, 37], transposeA: true, transposeB: true },
  // run swapped, (Bᵀ·Aᵀ)ᵀ: the right operand is far wider than the left is tall
  { a: [9, 400], b: [400, 32], transposeA: false, transposeB: false },
  { a: [16, 20], b: [300, 20], transposeA: false, transposeB: true },
  { a: [1, 20, 6], b: [1, 20, 50], transposeA: true, transposeB: false },
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

Deno.test("matMulPlan swaps the operands when that packs far fewer values", () => {
  // a conv filter gradient: [9, P]·[P, 32] packs P*32 as it is, P*9 swapped
  assert.equal(matMulPlan([9, 100352], [100352, 32], false, false), "swapped");
  // the second conv's: [288, P]·[P, 64] packs P*64 as it is, P*288 swapped
  assert.equal(matMulPlan([288, 25088], [25088, 64], false, false), "direct");
  // a dense layer's dx = dy·Wᵀ: W's 400K values as it is, dy's 16K swapped
  assert.equal(matMulPlan([128, 128], [3136, 128], false, true), "swapped");
  // its dW = xᵀ·dy packs dy (16K) as it is
  assert.equal(matMulPlan([128, 3136], [128, 128], true, false), "direct");
  assert.equal(matMulPlan([64, 64], [64, 64], false, false), "direct");
});

Deno.test("a product on gemm of operands of different ranks has tfjs's broadcast shape", async () => {
  // m >= 6 and n a multiple of 8: gemm's products; the batch axes (all 1) broadcast to the
  // higher rank's, as the cpu backend's (the result took the left operand's rank before)
  const cases: [number[], number[], boolean][] = [
    [[6, 4], [1, 4, 8], false],
    [[6, 4], [1, 1, 4, 8], false],
    [[1, 4, 6], [1, 1, 4, 8], true],
    [[1, 1, 7, 4], [4, 16], false],
  ];
  const shapes = () =>
    cases.map(([a, b, transposeA]) =>
      tf.tidy(() => {
        const product = tf.matMul(tf.ones(a), tf.ones(b), transposeA, false);
        return { shape: product.shape, sum: tf.sum(product).dataSync()[0] };
      })
    );
  await selectBackend("cpu");
  const expected = shapes();
  await selectBackend("wasm");
  const before = gemmProducts.calls;
  assert.deepEqual(shapes(), expected);
  assert.ok(gemmProducts.calls - before >= cases.length, "the products ran on gemm");
});
