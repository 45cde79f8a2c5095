/**
 * A run under cyclic across a resume: stopped within an epoch by maxSteps and resumed with
 * `--max-steps`, it trains the weights and step records (rates and cycled momenta) of an
 * uninterrupted run, bit for bit: the cycle is a function of the step alone, and the momentum
 * buffers are in the checkpoint.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { RunConfigInput } from "../mod.ts";
import { lastWeightsAndSteps, resumeInStages, tempRunsDir, trainCollect } from "./_helpers.ts";

// 48 training samples in batches of 6: 8 steps an epoch, 24 in all; stopped at step 5 (within
// epoch 0, the second cycle's rise) and at step 13 (within epoch 1)
const base = {
  backend: "cpu" as const,
  epochs: 3,
  batchSize: 6,
  data: { kind: "synthetic-linear" as const, n: 64, validationSplit: 0.25 },
  model: { kind: "mlp" as const, hidden: [5] },
} satisfies RunConfigInput;

const cases: [string, RunConfigInput][] = [
  ["sgd (nesterov) under triangular2, its momentum cycled", {
    ...base,
    optimizer: { name: "sgd", lr: 0.5, momentum: 0.5, nesterov: true },
    scheduler: {
      name: "cyclic",
      baseLr: 0.001,
      maxLr: 0.03,
      stepSizeUp: 3,
      stepSizeDown: 2,
      mode: "triangular2",
    },
  }],
  ["rmsprop under exp_range, its momentum cycled", {
    ...base,
    optimizer: { name: "rmsprop", lr: 0.5 },
    scheduler: {
      name: "cyclic",
      baseLr: 0.001,
      maxLr: 0.01,
      stepSizeUp: 4,
      mode: "exp_range",
      gamma: 0.95,
    },
  }],
];

for (const [name, config] of cases) {
  Deno.test(`cyclic, ${name}: a run stopped within epochs by maxSteps and resumed with --max-steps trains the weights of an uninterrupted run`, async () => {
    await using runs = await tempRunsDir();
    const { dir } = runs;
    await trainCollect({ ...config, runsDir: dir }, { runId: "straight" });
    const straight = await lastWeightsAndSteps(`${dir}/straight`);
    // (the momentum is the cycle's, from its maxMomentum, not the optimizer's own)
    assert.equal(straight.steps[0].momentum, 0.9);
    assert.ok(straight.steps.slice(1).some((s) => (s.momentum as number) < 0.9));
    const first = await trainCollect({ ...config, runsDir: dir, maxSteps: 5 }, { runId: "budget" });
    assert.equal(first.result.reason, "budget: reached maxSteps = 5");
    await resumeInStages("budget", dir, ["13", "1000"]);
    assert.deepEqual(await lastWeightsAndSteps(`${dir}/budget`), straight);
  });
}
