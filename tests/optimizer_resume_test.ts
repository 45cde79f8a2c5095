/**
 * torch 1.13's Adamax, NAdam, RAdam and Adadelta across a resume: a run stopped within an epoch by
 * maxSteps and resumed with `--max-steps` trains the weights of an uninterrupted run, bit for bit,
 * from the optimizer state in its checkpoint (NAdam's `mu_product`, which holds every beta1 that
 * onecycle gave it so far; RAdam past the step where its rectified updates start).
 *
 * @module
 */
import assert from "node:assert/strict";
import { loadCheckpoint } from "../mod.ts";
import type { RunConfigInput } from "../mod.ts";
import { lastWeightsAndSteps, resumeInStages, tempRunsDir, trainCollect } from "./_helpers.ts";

// 48 training samples in batches of 6: 8 steps an epoch, 24 in all; stopped at step 5 (within
// epoch 0, before RAdam's rectified steps start at step 6) and at step 13 (within epoch 1)
const base = {
  backend: "cpu" as const,
  epochs: 3,
  batchSize: 6,
  data: { kind: "synthetic-linear" as const, n: 64, validationSplit: 0.25 },
  model: { kind: "mlp" as const, hidden: [5] },
} satisfies RunConfigInput;

const onecycle = { name: "onecycle" as const, maxLr: 0.02, totalSteps: 24 };
const cases: [string, RunConfigInput][] = [
  ["adamax", { ...base, optimizer: { name: "adamax", weightDecay: 0.1 }, scheduler: onecycle }],
  [
    "nadam",
    { ...base, optimizer: { name: "nadam", momentumDecay: 0.05 }, scheduler: onecycle },
  ],
  ["radam", { ...base, optimizer: { name: "radam", lr: 0.01, betas: [0.9, 0.99] } }],
  ["adadelta", { ...base, optimizer: { name: "adadelta", rho: 0.8, maximize: true } }],
];

for (const [name, config] of cases) {
  Deno.test(`${name}: a run stopped within epochs by maxSteps and resumed with --max-steps trains the weights of an uninterrupted run`, async () => {
    await using runs = await tempRunsDir();
    const { dir } = runs;
    await trainCollect({ ...config, runsDir: dir }, { runId: "straight" });
    const straight = await lastWeightsAndSteps(`${dir}/straight`);
    const first = await trainCollect({ ...config, runsDir: dir, maxSteps: 5 }, { runId: "budget" });
    assert.equal(first.result.reason, "budget: reached maxSteps = 5");
    if (name === "nadam") {
      const { state } = await loadCheckpoint(`${dir}/budget/checkpoints/last.ckpt`);
      const { slots } = state.optimizer as { slots: Record<string, { shape: number[] }> };
      assert.deepEqual(slots["head/kernel/mu_product"].shape, [], "torch's scalar mu_product");
    }
    await resumeInStages("budget", dir, ["13", "1000"]);
    assert.deepEqual(await lastWeightsAndSteps(`${dir}/budget`), straight);
  });
}
