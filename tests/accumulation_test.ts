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

/** Asserts that two runs' last checkpoints hold the same weights, to float32 rounding. */
async function assertSameWeights(runDirA: string, runDirB: string): Promise<void> {
  const a = await loadCheckpoint(`${runDirA}/checkpoints/last.ckpt`);
  const b = await loadCheckpoint(`${runDirB}/checkpoints/last.ckpt`);
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
}

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
  await assertSameWeights(big.result.runDir, accumulated.result.runDir);
  assert.ok(Math.abs(big.result.metrics.loss - accumulated.result.metrics.loss) < 1e-5);
});

Deno.test("with dropLast, micro-batches that do not fill an accumulation group are dropped: every update is the big-batch one", async () => {
  await using runs = await tempRunsDir();
  // 200 samples: 25 micro-batches of 8, six whole groups of 4 (192 samples); the 25th is dropped,
  // as one batch of 32 drops its last 8 samples. A onecycle schedule over the 18 updates of 3
  // epochs is planned from the same count of steps per epoch as the run takes.
  const run = {
    ...base,
    runsDir: runs.dir,
    data: { ...base.data, n: 200, dropLast: true },
    scheduler: { name: "onecycle" as const, maxLr: 0.02, totalSteps: 18 },
  };
  const big = await trainCollect({ ...run, batchSize: 32 });
  const accumulated = await trainCollect({ ...run, batchSize: 8, gradientAccumulation: 4 });
  for (const { result, events } of [big, accumulated]) {
    assert.equal(result.status, "completed", result.reason);
    assert.equal(result.steps, 18);
    const plan = events.find((event) => event.type === "plan");
    assert.ok(plan?.type === "plan");
    assert.equal(plan.stepsPerEpoch, 6);
    assert.equal(plan.totalSteps, 18);
  }
  await assertSameWeights(big.result.runDir, accumulated.result.runDir);
});

Deno.test("without dropLast, the last, smaller accumulation group is the mean over its samples, as a short big batch", async () => {
  await using runs = await tempRunsDir();
  // 212 samples: micro-batches of 8 make six groups of 32 and a last group of 8 + 8 + 4 = 20
  // samples, the same samples as the last short batch of 32. Both gradient paths (the host step
  // and tfjs) are checked.
  for (const fusedModel of [true, false]) {
    const run = { ...base, runsDir: runs.dir, fusedModel, data: { ...base.data, n: 212 } };
    const big = await trainCollect({ ...run, batchSize: 32 });
    const accumulated = await trainCollect({ ...run, batchSize: 8, gradientAccumulation: 4 });
    assert.equal(big.result.steps, 21, "7 updates per epoch");
    assert.equal(accumulated.result.steps, 21, "6 whole groups and one of 20 samples per epoch");
    await assertSameWeights(big.result.runDir, accumulated.result.runDir);
  }
});

Deno.test("batch norm under accumulation normalizes each micro-batch by its own statistics, as torch's accumulation loop: one step of 2 x 48 moves the moving averages as two steps of 48", async () => {
  await using runs = await tempRunsDir();
  // At a rate of ~0 the weights stay where they start: the moving averages then tell which
  // statistics batch norm took and how often it moved them (torch: once per micro-batch, by
  // that micro-batch's; one batch of 96 moves them once, by the 96's, about half as far).
  const run = {
    ...base,
    runsDir: runs.dir,
    model: { kind: "mlp" as const, hidden: [8], batchNorm: true },
    optimizer: { name: "sgd" as const, lr: 1e-20 },
  };
  const accumulated = await trainCollect({
    ...run,
    batchSize: 48,
    gradientAccumulation: 2,
    maxSteps: 1,
  });
  const twoSteps = await trainCollect({ ...run, batchSize: 48, maxSteps: 2 });
  const big = await trainCollect({ ...run, batchSize: 96, maxSteps: 1 });
  const read = async (dir: string) =>
    (await loadCheckpoint(`${dir}/checkpoints/last.ckpt`)).weights;
  const [a, b, c] = await Promise.all(
    [accumulated, twoSteps, big].map(({ result }) => read(result.runDir)),
  );
  for (const name of ["bn0/moving_mean", "bn0/moving_variance"]) {
    const [x, y, z] = [a, b, c].map((weights) => Array.from(weights[name].values));
    x.forEach((value, i) => assert.ok(Math.abs(value - y[i]) <= 1e-6, `${name}[${i}]`));
    assert.notDeepEqual(x, z, `${name}: not one batch of the union's`);
  }
});

Deno.test("a step larger than the training set is a warning at the start, naming under baseBatch the rate the step's samples get", async () => {
  await using runs = await tempRunsDir();
  // 192 samples, a step of 100 x 4 = 400: each step trains the 192, one an epoch; baseBatch
  // scaled lr 0.01 to 400 (sqrt for adam), where 192 gives 0.01 x sqrt(192 / 32)
  const { result, events } = await trainCollect({
    ...base,
    runsDir: runs.dir,
    epochs: 1,
    batchSize: 100,
    gradientAccumulation: 4,
    optimizer: { name: "adam", lr: 0.01, baseBatch: 32 },
  });
  assert.equal(result.status, "completed", result.reason);
  assert.equal(result.steps, 1);
  const warning = events.find((e) =>
    e.type === "warning" && e.message.includes("larger than the 192 training samples")
  );
  assert.ok(
    warning?.type === "warning",
    JSON.stringify(events.filter((e) => e.type === "warning")),
  );
  assert.match(warning.message, /400 samples \(batchSize 100 x gradientAccumulation 4\)/);
  assert.match(warning.message, /a batch of 400 \(0\.03536, by the sqrt rule\)/);
  assert.match(warning.message, /the 192 samples gets 0\.02449/);
  assert.match(warning.hint ?? "", /--set batchSize=192 --set gradientAccumulation=1/);
  // a step that fits, or dropLast (which refuses a larger one), gives none
  const fits = await trainCollect({ ...base, runsDir: runs.dir, epochs: 1, batchSize: 192 });
  assert.ok(!fits.events.some((e) => e.type === "warning" && /training samples:/.test(e.message)));
});
