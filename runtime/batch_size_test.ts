import assert from "node:assert/strict";
import { parseConfig } from "../config.ts";
import { findBatchSize } from "./batch_size.ts";

Deno.test("the batch-size finder measures each size, scales the LR linearly and stops at the memory budget", async () => {
  const config = parseConfig({
    backend: "cpu",
    data: { kind: "synthetic-linear", n: 512 },
    model: { kind: "mlp", hidden: [256, 256] },
    batchSize: 16,
    optimizer: { name: "sgd", lr: 0.01 },
  });
  const open = await findBatchSize(config, { sizes: [8, 16, 32], steps: 1 });
  assert.equal(open.backend, "cpu");
  assert.deepEqual(open.rows.map((r) => r.batchSize), [8, 16, 32]);
  assert.deepEqual(open.rows.map((r) => r.scaledLr), [0.005, 0.01, 0.02]);
  assert.ok(open.rows.every((r) => r.fits && r.msPerStep! > 0 && r.peakMiB! > 0));
  assert.equal(open.largest, 32);
  assert.ok(open.rows[2].peakMiB! > open.rows[0].peakMiB!, "bigger batches hold more activations");
  const budget = (open.rows[0].peakMiB! + open.rows[2].peakMiB!) / 2;
  const limited = await findBatchSize(config, {
    sizes: [8, 16, 32, 64],
    steps: 1,
    memoryLimitMiB: budget,
  });
  assert.ok(limited.largest! < 32, `a ${budget.toFixed(2)} MiB budget rules out 32`);
  assert.equal(limited.rows.at(-1)!.fits, false, "the first size over budget ends the search");
});
