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
import { nanBatchLosses } from "./_nan_batch.ts";

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

Deno.test("on WebGPU (through tfjs's kernels), a batch with a NaN pixel or feature is evaluated to a NaN loss, as its training step's", async () => {
  await ready;
  const models = [
    // 1x1 convolutions without batch norm: the NaN stays one pixel of one pooling window
    {
      model: { kind: "cnn", filters: [4], dense: [], kernelSize: 1, batchNorm: false },
      inputShape: [8, 8, 1],
    },
    { model: { kind: "mlp", hidden: [6] }, inputShape: [64] },
  ];
  for (const { model, inputShape } of models) {
    const losses = await nanBatchLosses("webgpu", model, inputShape);
    assert.ok(Number.isFinite(losses.clean), `${model.kind}: ${JSON.stringify(losses)}`);
    assert.ok(Number.isNaN(losses.evaluated), `${model.kind}: evaluated to ${losses.evaluated}`);
    assert.ok(Number.isNaN(losses.trained), `${model.kind}: the step's loss ${losses.trained}`);
  }
});

Deno.test("release the WebGPU device", releaseWebGpu);
