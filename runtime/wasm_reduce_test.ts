import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { selectBackend } from "./backend.ts";
import { routeBroadcastReductions } from "./wasm_reduce.ts";

const TILES: { shape: number[]; reps: number[]; dtype: "float32" | "int32" | "bool" }[] = [
  { shape: [1, 1, 1, 32], reps: [4, 7, 7, 1], dtype: "float32" },
  { shape: [1, 1, 1, 5], reps: [3, 5, 6, 1], dtype: "float32" },
  { shape: [2, 3], reps: [3, 4], dtype: "float32" },
  { shape: [3, 1, 2], reps: [1, 5, 3], dtype: "int32" },
  { shape: [4], reps: [5], dtype: "bool" },
  { shape: [2, 2], reps: [1, 1], dtype: "float32" },
  { shape: [3, 2], reps: [0, 2], dtype: "float32" },
];

const REDUCTIONS: { shape: number[]; axis: number[]; keepDims: boolean }[] = [
  { shape: [4, 7, 7, 32], axis: [0, 1, 2], keepDims: false },
  { shape: [3, 5, 6, 5], axis: [0, 1, 2], keepDims: true },
  { shape: [128, 10], axis: [0], keepDims: false },
  { shape: [9, 4, 3], axis: [1, 0], keepDims: false },
  // not leading axes: tfjs's kernels
  { shape: [4, 6], axis: [1], keepDims: false },
  { shape: [4, 5, 6], axis: [0, 2], keepDims: true },
];

function tiles(): number[][] {
  return TILES.map((c, i) =>
    tf.tidy(() => {
      const values = tf.randomUniform(c.shape, -5, 5, "float32", i + 1);
      // wasm's Cast to bool keeps nonzero bytes other than 1: compare instead
      const x = c.dtype === "bool" ? tf.greater(values, 0) : tf.cast(values, c.dtype);
      const out = tf.tile(x, c.reps);
      assert.deepEqual(out.shape, c.shape.map((s, a) => s * c.reps[a]));
      return Array.from(out.dataSync());
    })
  );
}

function reductions(): number[][] {
  return REDUCTIONS.flatMap((c, i) =>
    tf.tidy(() => {
      const x = tf.randomNormal(c.shape, 0, 1, "float32", 100 + i);
      return [tf.sum(x, c.axis, c.keepDims), tf.mean(x, c.axis, c.keepDims)].map((t) => [
        ...t.shape,
        -1,
        ...t.dataSync(),
      ]);
    })
  );
}

function assertClose(actual: number[][], expected: number[][], what: (i: number) => string) {
  actual.forEach((values, i) => {
    assert.equal(values.length, expected[i].length, what(i));
    values.forEach((v, j) =>
      assert.ok(
        Math.abs(v - expected[i][j]) <= 1e-5 * Math.max(1, Math.abs(expected[i][j])),
        `${what(i)}[${j}]: ${v} vs ${expected[i][j]}`,
      )
    );
  });
}

Deno.test("wasm's Tile, Sum and Mean equal the cpu's and leave no buffers behind", async () => {
  await selectBackend("cpu");
  const expectedTiles = tiles();
  const expectedReductions = reductions();
  await selectBackend("wasm");
  assert.deepEqual(routeBroadcastReductions(), ["Tile", "Sum", "Mean"]);
  const buffers = tf.engine().backend.numDataIds();
  const actualTiles = tiles();
  const actualReductions = reductions();
  assert.equal(tf.engine().backend.numDataIds(), buffers);
  assertClose(actualTiles, expectedTiles, (i) => `tile ${JSON.stringify(TILES[i])}`);
  assertClose(
    actualReductions,
    expectedReductions,
    (i) => `${i % 2 ? "mean" : "sum"} ${JSON.stringify(REDUCTIONS[Math.floor(i / 2)])}`,
  );
});
