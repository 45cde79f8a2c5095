/**
 * The WGSL `Relu` (`webgpu_relu.ts`) on the machine's WebGPU adapter (llvmpipe in CI) passes a NaN
 * on, and with it and the WGSL `MaxPool` (`webgpu_pool.ts`) a batch that holds a NaN is evaluated
 * to a NaN loss through tfjs's kernels, as on the cpu and wasm backends and in torch.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { releaseWebGpu, selectBackend } from "./backend.ts";
import { NAN_MODELS, nanBatchLosses } from "./_nan_batch.ts";

const ready = selectBackend("webgpu");

Deno.test("webgpu Relu keeps a NaN, zeroes the negatives and keeps the rest, at every shape", async () => {
  await ready;
  for (const shape of [[1], [3], [8], [2, 3, 5], [2, 5, 5, 3]]) {
    const n = tf.util.sizeFromShape(shape);
    const values = Float32Array.from(
      { length: n },
      (_, i) => [NaN, -i - 1, i, -0, 0, -Infinity, Infinity][i % 7],
    );
    const x = tf.tensor(values, shape);
    const y = tf.relu(x);
    assert.deepEqual(y.shape, shape);
    const got = await y.data();
    values.forEach((v, i) => {
      const expected = Number.isNaN(v) ? NaN : v < 0 ? 0 : v;
      // (a zero of either sign: implementations differ on relu(-0))
      const same = expected === 0 ? got[i] === 0 : Object.is(got[i], expected);
      assert.ok(same, `[${shape}] relu(${v}) = ${got[i]}, not ${expected}`);
    });
    tf.dispose([x, y]);
  }
  // int32 is tfjs's
  const ints = tf.tensor1d([-2, 3], "int32");
  assert.deepEqual(Array.from(await tf.relu(ints).data()), [0, 3]);
  ints.dispose();
});

Deno.test("on WebGPU, a batch with a NaN feature is evaluated and trained to a NaN loss by every model kind, as in torch", async () => {
  await ready;
  for (const { model, inputShape } of NAN_MODELS) {
    const losses = await nanBatchLosses("webgpu", model, inputShape);
    const which = `${JSON.stringify(model)}: ${JSON.stringify(losses)}`;
    assert.ok(Number.isFinite(losses.clean), which);
    assert.ok(Number.isNaN(losses.evaluated), which);
    assert.ok(Number.isNaN(losses.trained), which);
  }
});

Deno.test("release the WebGPU device", releaseWebGpu);
