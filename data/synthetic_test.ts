import assert from "node:assert/strict";
import { AnnealError } from "../errors.ts";
import { SYNTHETIC_CHUNK, syntheticLinear, syntheticLinearInChunks } from "./synthetic.ts";
import { Rng, seedFrom } from "./rng.ts";

/** The generation as one loop and two reduces (as it was before it was made in chunks). */
function reference(n: number, noise: number, seed: number) {
  const rng = new Rng(seedFrom(seed, 0x11ea));
  const x = new Float32Array(n * 2);
  const y = new Float32Array(n);
  const eps = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    x[2 * i] = rng.normal();
    x[2 * i + 1] = rng.normal();
    eps[i] = rng.normal();
  }
  const mean = eps.reduce((a, b) => a + b, 0) / n;
  const std = Math.sqrt(eps.reduce((a, b) => a + (b - mean) ** 2, 0) / n) || 1;
  for (let i = 0; i < n; i++) {
    const scaled = n > 1 ? (eps[i] - mean) / std : 0;
    y[i] = 2 * x[2 * i] - 3 * x[2 * i + 1] + noise * scaled;
  }
  return { x, y };
}

Deno.test("synthetic-linear in chunks, paused between them, gives the same values bit for bit", async () => {
  for (const n of [1, 200, 2 * SYNTHETIC_CHUNK + 3]) {
    const expected = reference(n, 0.5, 42);
    let pauses = 0;
    const chunked = await syntheticLinearInChunks(n, 0.5, 42, () => {
      pauses++;
      return new Promise((resolve) => setTimeout(resolve, 0));
    });
    assert.ok(pauses >= 4 * Math.ceil(n / SYNTHETIC_CHUNK), `${pauses} pauses for ${n}`);
    for (const ds of [chunked, syntheticLinear(n, 0.5, 42)]) {
      assert.deepEqual(new Uint8Array(ds.x.buffer), new Uint8Array(expected.x.buffer), `x, ${n}`);
      assert.deepEqual(new Uint8Array(ds.y.buffer), new Uint8Array(expected.y.buffer), `y, ${n}`);
    }
  }
});

Deno.test("a pause that throws gives the generation up", async () => {
  await assert.rejects(
    syntheticLinearInChunks(3 * SYNTHETIC_CHUNK, 0.5, 1, () => Promise.reject(new Error("stop"))),
    /stop/,
  );
});

Deno.test("synthetic-linear samples past what can be allocated are a data error naming data.n, not the engine's", () => {
  // (the run failed as "actor 'dataLoader' failed: Array buffer allocation failed")
  assert.throws(() => syntheticLinear(1e15, 0, 1), (error: unknown) => {
    assert.ok(error instanceof AnnealError, String(error));
    assert.equal(error.code, "data");
    assert.equal(error.where, "data.n");
    assert.match(
      error.message,
      /^Cannot generate 1000000000000000 synthetic-linear samples: their 20000000 GB \(20 bytes/,
    );
    return true;
  });
});
