import assert from "node:assert/strict";
import { loadCheckpoint } from "../mod.ts";
import { tempRunsDir, trainCollect } from "./_helpers.ts";

// An MLP without batch norm or dropout: the only difference between the runs is how each
// 32-sample update is computed (one batch, or four accumulated micro-batches of 8).
const base = {
  backend: "cpu" as const,
  data: { kind: "synthetic-linear" as const, n: 192 },
  model: { kind: "mlp" as const, hidden: [8] },
  optimizer: { name: "adam" as const, lr: 0.01 },
  epochs: 3,
};

Deno.test("gradient accumulation: 4 micro-batches of 8 give the same updates as one batch of 32", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const big = await trainCollect({ ...base, runsDir: dir, batchSize: 32 });
  const accumulated = await trainCollect({
    ...base,
    runsDir: dir,
    batchSize: 8,
    gradientAccumulation: 4,
  });
  assert.equal(big.result.status, "completed");
  assert.equal(accumulated.result.status, "completed");
  assert.equal(big.result.steps, 18, "192 / 32 = 6 updates per epoch");
  assert.equal(
    accumulated.result.steps,
    18,
    "effective batch 8 x 4 = 32: still 6 updates per epoch",
  );
  const a = await loadCheckpoint(`${big.result.runDir}/checkpoints/last.ckpt`);
  const b = await loadCheckpoint(`${accumulated.result.runDir}/checkpoints/last.ckpt`);
  for (const [name, weight] of Object.entries(a.weights)) {
    const other = b.weights[name].values;
    for (let i = 0; i < weight.values.length; i++) {
      const scale = Math.max(1, Math.abs(weight.values[i]));
      assert.ok(
        Math.abs(weight.values[i] - other[i]) <= 1e-5 * scale,
        `${name}[${i}]: ${weight.values[i]} vs ${other[i]}`,
      );
    }
  }
  assert.ok(Math.abs(big.result.metrics.loss - accumulated.result.metrics.loss) < 1e-5);
});
