import assert from "node:assert/strict";
import { SPLIT_CHUNK, splitValidation, splitValidationInChunks } from "./split.ts";
import { Rng, seedFrom } from "./rng.ts";
import type { Dataset } from "./types.ts";

/** The split's rows as one shuffle and two sorts (as it was before it was made in chunks). */
function referenceRows(n: number, fraction: number, seed: number) {
  const held = Math.max(1, Math.round(n * fraction));
  const rng = new Rng(seedFrom(seed, 0x5b1d));
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return { validation: order.slice(0, held).sort(), train: order.slice(held).sort() };
}

Deno.test("the validation split in chunks, paused between them, holds out the same rows", async () => {
  for (const n of [5, 1000, 2 * SPLIT_CHUNK + 7]) {
    // each sample's feature is its row: a split's x lists its rows
    const ds: Dataset = {
      x: Float32Array.from({ length: n }, (_, i) => i),
      y: Float32Array.from({ length: n }, (_, i) => -i),
      n,
      inputShape: [1],
      targetSize: 1,
      task: "regression",
    };
    const expected = referenceRows(n, 0.1, 42);
    let pauses = 0;
    const chunked = await splitValidationInChunks(ds, 0.1, 42, () => {
      pauses++;
      return new Promise((resolve) => setTimeout(resolve, 0));
    });
    if (n > SPLIT_CHUNK) assert.ok(pauses > 4, `${pauses} pauses`);
    for (const split of [chunked, splitValidation(ds, 0.1, 42)]) {
      assert.deepEqual(split.train.x, Float32Array.from(expected.train), `train, ${n}`);
      assert.deepEqual(split.validation!.x, Float32Array.from(expected.validation), `val, ${n}`);
      assert.deepEqual(split.train.y, Float32Array.from(expected.train, (r) => -r));
    }
  }
});
