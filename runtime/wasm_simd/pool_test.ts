import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import "npm:@tensorflow/tfjs-layers@4.22.0"; // tfjs's gradients
import { selectBackend } from "../backend.ts";
import { heapFloats, wasmInternals } from "../wasm_heap.ts";
import { kernelPool, splitRange } from "./pool.ts";

Deno.test("splitRange cuts [0, total) into at most n non-empty pieces of whole grains", () => {
  assert.deepEqual(splitRange(10, 2), [[0, 5], [5, 10]]);
  assert.deepEqual(splitRange(10, 2, 4), [[0, 8], [8, 10]]);
  assert.deepEqual(splitRange(9, 2, 3), [[0, 6], [6, 9]]);
  assert.deepEqual(splitRange(9, 3, 3), [[0, 3], [3, 6], [6, 9]]);
  assert.deepEqual(splitRange(2, 4), [[0, 1], [1, 2]]);
  assert.deepEqual(splitRange(5, 1), [[0, 5]]);
  assert.deepEqual(splitRange(0, 3), []);
});

Deno.test("the threaded wasm backend runs anneal's kernels on a pool of as many threads", async () => {
  try {
    await selectBackend("wasm", "cnn", { wasmThreads: 1 });
    assert.equal(kernelPool(tf.backend()), undefined, "one thread: no pool");
    await selectBackend("wasm", "cnn", { wasmThreads: 2 });
    const pool = kernelPool(tf.backend());
    assert.ok(pool);
    assert.equal(pool.threads, 2);
    // relu's gradient over 10 values, split 6 + 4 (one part per thread)
    const wasm = wasmInternals(tf.backend());
    const [dy, x, dx] = [10, 10, 10].map(() => wasm.makeOutput([10], "float32"));
    const [g, xs] = [heapFloats(wasm, dy), heapFloats(wasm, x)];
    g.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    xs.set([1, -1, 1, -1, 0, 1, 1, -2, 3, 0]);
    const at = (info: tf.TensorInfo, from: number) => heapFloats(wasm, info).byteOffset + 4 * from;
    const runs = pool.runs;
    pool.run("reluGrad", [[at(dy, 0), at(x, 0), at(dx, 0), 6], [
      at(dy, 6),
      at(x, 6),
      at(dx, 6),
      4,
    ]]);
    assert.equal(pool.runs, runs + 1);
    assert.deepEqual(Array.from(heapFloats(wasm, dx)), [1, 0, 3, 0, 0, 6, 7, 0, 9, 0]);
    // A part that traps (an address past the memory) fails the call; the pool goes on.
    const past = 0x7ffffff0;
    assert.throws(
      () => pool.run("reluGrad", [[at(dy, 0), at(x, 0), at(dx, 0), 6], [past, past, past, 4]]),
      /reluGrad failed/,
    );
    pool.run("reluGrad", [[at(dy, 0), at(x, 0), at(dx, 0), 5], [
      at(dy, 5),
      at(x, 5),
      at(dx, 5),
      5,
    ]]);
    assert.deepEqual(Array.from(heapFloats(wasm, dx)), [1, 0, 3, 0, 0, 6, 7, 0, 9, 0]);
    for (const info of [dy, x, dx]) wasm.disposeData(info.dataId, true);

    // A part its thread has not claimed yet runs on the calling thread (a thread that lost its
    // core must not stall the step). Held, the pool's thread claims nothing: every second part
    // runs here, and the result is whole.
    const n = 1 << 20;
    const big = [n, n, n].map(() => wasm.makeOutput([n], "float32"));
    heapFloats(wasm, big[0]).fill(2);
    heapFloats(wasm, big[1]).fill(1);
    const split = (first: number) => {
      heapFloats(wasm, big[2]).fill(0);
      pool.run("reluGrad", [
        [at(big[0], 0), at(big[1], 0), at(big[2], 0), first],
        [at(big[0], first), at(big[1], first), at(big[2], first), n - first],
      ]);
      const out = heapFloats(wasm, big[2]);
      return out[0] === 2 && out[first - 1] === 2 && out[first] === 2 && out[n - 1] === 2;
    };
    pool.hold(true);
    try {
      for (const first of [4, n >> 1, n - 4096]) {
        const before: number = pool.reclaimed;
        assert.ok(split(first), `held, first part ${first}: whole`);
        assert.equal(pool.reclaimed, before + 1, `held, first part ${first}: run by the caller`);
      }
    } finally {
      pool.hold(false);
    }
    // Let go, the thread (which woke for the held calls and found them taken) runs second parts
    // again: after a long first part it gets there first. Up to 200 rounds, as a busy machine can
    // delay it.
    let byPool = 0;
    for (let round = 0; round < 200 && byPool === 0; round++) {
      const before: number = pool.reclaimed;
      assert.ok(split(n - 4096), `round ${round}: whole`);
      if (pool.reclaimed === before) byPool++;
    }
    assert.ok(byPool > 0, "the pool's thread ran a second part");
    for (const info of big) wasm.disposeData(info.dataId, true);

    // A CNN's step splits its batch norm, relu and pooling gradients, the Winograd transforms
    // and the first layer's filter gradient over the pool (results: wasm_threads_test.ts).
    const before = pool.runs;
    tf.tidy(() => {
      const input = tf.randomNormal([64, 16, 16, 1], 0, 1, "float32", 1) as tf.Tensor4D;
      const f1 = tf.randomNormal([3, 3, 1, 16], 0, 0.3, "float32", 2) as tf.Tensor4D;
      const f2 = tf.randomNormal([3, 3, 16, 16], 0, 0.3, "float32", 3) as tf.Tensor4D;
      tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(
          tf.conv2d(
            tf.relu(tf.conv2d(input, a as tf.Tensor4D, 1, "same")),
            b as tf.Tensor4D,
            1,
            "same",
          ),
        )
      )([f1, f2]);
    });
    assert.ok(pool.runs > before, "the step's kernels ran on the pool");

    // Another thread count replaces the pool; the old one's calls then run on one thread.
    await selectBackend("wasm", "cnn", { wasmThreads: 3 });
    assert.equal(kernelPool(tf.backend())?.threads, 3);
    assert.equal(pool.threads, 1, "the old pool is closed");
  } finally {
    await selectBackend("wasm", "cnn", { wasmThreads: 1 });
  }
});
