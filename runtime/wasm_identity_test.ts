import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { selectBackend } from "./backend.ts";
import { routeSharedIdentity } from "./wasm_identity.ts";

Deno.test("wasm's Identity shares the buffer, which lives until its last tensor goes", async () => {
  await selectBackend("wasm");
  assert.deepEqual(routeSharedIdentity(), ["Identity"]);
  const buffers = tf.engine().backend.numDataIds();
  const x = tf.tensor1d([1, 2, 3]);
  const y = x.clone();
  assert.equal(tf.engine().backend.numDataIds(), buffers + 1);
  x.dispose();
  assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3]);
  y.dispose();
  assert.equal(tf.engine().backend.numDataIds(), buffers);
  const words = tf.tensor1d(["a", "b"], "string");
  const copy = words.clone();
  words.dispose();
  assert.deepEqual(copy.arraySync(), ["a", "b"]);
  copy.dispose();
});
