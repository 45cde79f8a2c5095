/**
 * Centered RMSprop's variance rounded once, as torch's fused `addcmul` rounds it
 * (`subtractSquare`), on every backend anneal trains on: the Dekker product it rests on needs each
 * float32 operation rounded on its own, which the cpu, wasm and WebGPU backends do.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";
import assert from "node:assert/strict";
import { releaseWebGpu, selectBackend } from "../runtime/backend.ts";
import { subtractSquare } from "./adaptive.ts";
import { createOptimizer } from "./optimizer.ts";

/** float32 values drawn from a log-uniform spread of magnitudes, both signs, some exact squares. */
function draws(count: number): Float32Array {
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  return Float32Array.from({ length: count }, (_, i) => {
    const sign = next() < 0.5 ? -1 : 1;
    if (i % 7 === 0) return sign * Math.round(next() * 640) / 16; // k/16: its square is exact
    return sign * 10 ** (next() * 16 - 8);
  });
}

/** `a - b²` rounded once: b² is exact in float64, and so is a - b² where they cancel. */
function fused(a: number, b: number): number {
  return Math.fround(a - b * b);
}

for (const backend of ["cpu", "wasm", "webgpu"] as const) {
  Deno.test(`subtractSquare on ${backend} is torch's fused a - b², rounded once`, async () => {
    await selectBackend(backend);
    const b = draws(4096);
    // a = fl(b²): centered RMSprop at alpha 0, where the difference is the rounding error of b²
    const square = Float32Array.from(b, (x) => x * x);
    const bTensor = tf.tensor1d(b);
    const aTensor = tf.tensor1d(square);
    const got = await subtractSquare(aTensor, bTensor).data();
    let negative = 0;
    let positive = 0;
    b.forEach((x, i) => {
      assert.equal(got[i], fused(square[i], x), `b = ${x}: ${got[i]}`);
      if (got[i] < 0) negative++;
      if (got[i] > 0) positive++;
    });
    // rounded down and up, each often: the fused difference is not the 0 that two roundings give
    assert.ok(negative > 1000 && positive > 1000, `${negative} below 0, ${positive} above`);
    // a near b² but not equal to it (a later step's square average): still the fused result
    const near = Float32Array.from(square, (x, i) => x * (1 + (i % 5 - 2) * 2 ** -20));
    const nearTensor = tf.tensor1d(near);
    const gotNear = await subtractSquare(nearTensor, bTensor).data();
    b.forEach((x, i) => assert.equal(gotNear[i], fused(near[i], x), `a = ${near[i]}, b = ${x}`));
    tf.dispose([aTensor, bTensor, nearTensor]);
    if (backend === "webgpu") await releaseWebGpu();
  });
}

// torch's fused result may be finite there (3e38 - 4e38); below 0 either way, NaN after the root
Deno.test("subtractSquare takes b² that overflows as two roundings do", async () => {
  await selectBackend("cpu");
  const got = await subtractSquare(tf.tensor1d([1, 3e38, 1]), tf.tensor1d([2e19, 2e19, NaN]))
    .data();
  assert.deepEqual(Array.from(got), [-Infinity, -Infinity, NaN]);
});

// torch: Infinity less a finite (exact) b² is Infinity, where Infinity - fl(b²) is NaN
Deno.test("subtractSquare keeps an infinite a where b² overflows, as torch's fused one does", async () => {
  await selectBackend("cpu");
  const got = await subtractSquare(
    tf.tensor1d([Infinity, -Infinity, Infinity]),
    tf.tensor1d([2e19, 2e19, 1]),
  ).data();
  assert.deepEqual(Array.from(got), [Infinity, -Infinity, Infinity]);
});

// torch 1.13: RMSprop(lr=0.276, alpha=0.965, momentum=0.0617, centered=True, weight_decay=0.00714,
// maximize=True) on [1e30, 2e30, -1e30, 1] with gradients [1, 0, -1, 1], one step
Deno.test("centered rmsprop leaves still the entries whose gradient's square overflows, as torch does", async () => {
  await selectBackend("cpu");
  const param = tf.variable(tf.tensor1d([1e30, 2e30, -1e30, 1]), true, "p/bias");
  const optimizer = createOptimizer({
    name: "rmsprop",
    lr: 0.276,
    alpha: 0.965,
    momentum: 0.0617,
    centered: true,
    weightDecay: 0.00714,
    maximize: true,
    noDecay: [],
  });
  const grad = tf.tensor1d([1, 0, -1, 1]);
  optimizer.step([param], [grad]);
  const got = Array.from(param.dataSync());
  assert.deepEqual(got.slice(0, 3), [1e30, 2e30, -1e30].map(Math.fround));
  assert.ok(Math.abs(got[3] - 2.5017974376678467) < 1e-6, `${got[3]}`);
  optimizer.dispose();
  tf.dispose([param, grad]);
});
