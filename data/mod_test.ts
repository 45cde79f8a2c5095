import assert from "node:assert/strict";
import * as data from "./mod.ts";

Deno.test("data/mod.ts exports exactly the public API", () => {
  assert.deepEqual(Object.keys(data).sort(), [
    "AugmentSchema",
    "CsvSpecSchema",
    "DataSpecSchema",
    "IdxSpecSchema",
    "Rng",
    "SyntheticLinearSpecSchema",
    "batchSeed",
    "batchesPerEpoch",
    "epochOrder",
    "loadData",
    "makeBatch",
    "seedFrom",
  ]);
});

Deno.test("an epoch of batches covers every training sample exactly once", async () => {
  const loaded = await data.loadData({ kind: "synthetic-linear", n: 70 }, 11);
  const order = data.epochOrder(loaded.train.n, { shuffle: true, seed: 11, epoch: 0 });
  const batches = data.batchesPerEpoch(loaded.train.n, 32, false);
  const ys: number[] = [];
  for (let b = 0; b < batches; b++) {
    const indices = order.subarray(b * 32, (b + 1) * 32);
    ys.push(...data.makeBatch(loaded.train, indices, undefined, data.batchSeed(11, 0, b)).y);
  }
  assert.equal(batches, 3);
  assert.deepEqual(ys.sort(), [...loaded.train.y].sort());
});
