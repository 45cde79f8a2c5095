import assert from "node:assert/strict";
import { parseConfig } from "../config.ts";
import { trainInProcess } from "./in_process.ts";
import { loadCheckpoint } from "./checkpoint.ts";
import { readNdjson, tempRunsDir, trainCollect } from "../tests/_helpers.ts";

Deno.test("the actors change nothing about the numbers: same weights and losses as a plain in-process loop", async () => {
  const { dir, cleanup } = await tempRunsDir();
  try {
    const input = {
      backend: "cpu" as const,
      runsDir: dir,
      epochs: 4,
      data: { kind: "synthetic-linear" as const, n: 100 },
      model: { kind: "mlp" as const, hidden: [8] },
      optimizer: { name: "sgd" as const, lr: 0.05, momentum: 0.9, nesterov: true },
      scheduler: { name: "cosine" as const, tMax: 28 },
      clipping: { maxNorm: 2 },
      gradientAccumulation: 2,
      batchSize: 8,
    };
    const plain = await trainInProcess(parseConfig(input));
    const { result } = await trainCollect(input);
    const epochs = await readNdjson(`${result.runDir}/epochs.ndjson`);
    assert.equal(plain.steps, result.steps);
    assert.ok(plain.stepSeconds > 0 && plain.stepSeconds <= plain.seconds, "stepSeconds");
    // on cpu every step is read back: the first window is the first step
    assert.equal(plain.firstWindowSteps, 1);
    assert.ok(plain.firstWindowSeconds > 0 && plain.firstWindowSeconds < plain.seconds);
    // Weights bit for bit; epoch losses to float32 rounding (the trainer sums them on the device).
    const saved = await loadCheckpoint(`${result.runDir}/checkpoints/last.ckpt`);
    for (const [name, weight] of Object.entries(plain.weights)) {
      assert.deepEqual(Array.from(saved.weights[name].values), Array.from(weight.values), name);
    }
    epochs.forEach((e, i) =>
      assert.ok(Math.abs(e.loss - plain.losses[i]) <= 1e-6 * plain.losses[i], `epoch ${i}`)
    );
  } finally {
    await cleanup();
  }
});
