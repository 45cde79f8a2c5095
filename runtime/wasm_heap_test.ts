import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { selectBackend } from "./backend.ts";
import { type DecliningKernel, overrideKernel, replacedWasmKernel } from "./wasm_heap.ts";

Deno.test("overrides of one kernel chain: each answers its cases, tfjs's kernel the rest", async () => {
  await selectBackend("cpu");
  const name = "Neg";
  const stock = tf.getKernel(name, "cpu")!.kernelFunc;
  const calls: string[] = [];
  // one answers vectors of 2, the other vectors of 3; both decline the rest
  const bySize = (size: number, value: number): DecliningKernel => ({ inputs, backend }) => {
    const x = inputs.x as tf.TensorInfo;
    if (x.shape[0] !== size) return;
    calls.push(`size ${size}`);
    return (backend as unknown as {
      makeTensorInfo(s: number[], d: string, v: Float32Array): tf.TensorInfo;
    })
      .makeTensorInfo([size], "float32", new Float32Array(size).fill(value));
  };
  const two = bySize(2, 20), three = bySize(3, 30);
  try {
    assert.ok(overrideKernel("cpu", name, two));
    assert.ok(overrideKernel("cpu", name, three));
    assert.ok(overrideKernel("cpu", name, two)); // again: nothing changes
    assert.deepEqual(Array.from(tf.neg(tf.ones([2])).dataSync()), [20, 20]);
    assert.deepEqual(Array.from(tf.neg(tf.ones([3])).dataSync()), [30, 30, 30]);
    assert.deepEqual(Array.from(tf.neg(tf.ones([4])).dataSync()), [-1, -1, -1, -1]);
    assert.deepEqual(calls, ["size 2", "size 3"]);
    // what the overrides replaced is tfjs's own kernel, not the first override
    assert.equal(replacedWasmKernel(name, "cpu"), stock);
  } finally {
    tf.unregisterKernel(name, "cpu");
    tf.registerKernel({ kernelName: name, backendName: "cpu", kernelFunc: stock });
  }
});
