import assert from "node:assert/strict";
import { AnnealError, lrFind, parseConfig } from "../mod.ts";
import { tempRunsDir, trainCollect } from "./_helpers.ts";

// 200 samples, half held out: 100 to train on, fewer than one batch of 150.
const shrunk = {
  backend: "cpu" as const,
  epochs: 2,
  batchSize: 150,
  data: { kind: "synthetic-linear" as const, validationSplit: 0.5, dropLast: true },
};
const names =
  /'batchSize' is 150, more than the 100 training samples \(200 less the 100 that 'data\.validationSplit' holds out\), and 'data\.dropLast' drops the short batch/;

Deno.test("training refuses an epoch without a step, naming batchSize, dropLast and the validation split", async () => {
  await using runs = await tempRunsDir();
  const { result, events } = await trainCollect({ ...shrunk, runsDir: runs.dir });
  assert.equal(result.status, "failed");
  assert.match(result.reason, names);
  assert.match(
    result.hint ?? "",
    /--set batchSize=100\b.*--set data\.dropLast=false.*data\.validationSplit/,
  );
  assert.equal(result.steps, 0);
  assert.ok(!events.some((e) => e.type === "epoch"), "no epoch (and no NaN loss) is reported");
});

Deno.test("the LR range test refuses an epoch without a step before it builds a model", async () => {
  await assert.rejects(
    () => lrFind(parseConfig(shrunk), { iterations: 10 }),
    (error: unknown) => {
      assert.ok(error instanceof AnnealError && error.code === "config");
      assert.match(error.message, names);
      assert.equal(error.where, "batchSize");
      return true;
    },
  );
});

Deno.test("training refuses dropLast with an accumulation group larger than the training set, naming gradientAccumulation", async () => {
  await using runs = await tempRunsDir();
  // 100 training samples: batches of 40 fit, a step of 3 x 40 does not
  const config = { ...shrunk, batchSize: 40, gradientAccumulation: 3, runsDir: runs.dir };
  const { result, events } = await trainCollect(config);
  assert.equal(result.status, "failed");
  assert.match(
    result.reason,
    /'batchSize' x 'gradientAccumulation' is 40 x 3 = 120 samples a step, more than the 100 training samples .*'data\.dropLast' drops the short accumulation group/,
  );
  assert.match(
    result.hint ?? "",
    /--set gradientAccumulation=2\b.*--set data\.dropLast=false.*data\.validationSplit/,
  );
  assert.equal(result.steps, 0);
  assert.ok(!events.some((e) => e.type === "epoch"));
  await assert.rejects(
    () => lrFind(parseConfig(config), { iterations: 10 }),
    (error: unknown) => error instanceof AnnealError && error.where === "gradientAccumulation",
  );
});
