import assert from "node:assert/strict";
import { AnnealError, lrFind, parseConfig, train } from "../mod.ts";
import type { RunConfigInput, RunEvent } from "../mod.ts";
import { tempRunsDir } from "./_helpers.ts";

// 200 samples, half held out: 100 to train on, fewer than one batch of 150.
const shrunk = {
  backend: "cpu" as const,
  epochs: 2,
  batchSize: 150,
  data: { kind: "synthetic-linear" as const, validationSplit: 0.5, dropLast: true },
};
const names =
  /'batchSize' is 150, more than the 100 training samples \(200 less the 100 that 'data\.validationSplit' holds out\), and 'data\.dropLast' drops the short batch/;

/** A run's refusal at its start: `result` rejects with it, and the run took no step. */
async function refusal(
  config: RunConfigInput,
): Promise<{ error: AnnealError; events: RunEvent[] }> {
  const run = train(config);
  const events: RunEvent[] = [];
  for await (const event of run.events()) events.push(event);
  const error = await run.result.then(
    (result) => assert.fail(`not refused: ${result.status} ${result.reason}`),
    (error) => error,
  );
  assert.ok(error instanceof AnnealError && error.code === "config", String(error));
  return { error, events };
}

Deno.test("training refuses an epoch without a step, naming batchSize, dropLast and the validation split", async () => {
  await using runs = await tempRunsDir();
  const { error, events } = await refusal({ ...shrunk, runsDir: runs.dir });
  assert.match(error.message, names);
  assert.match(
    error.hint ?? "",
    /--set batchSize=100\b.*--set data\.dropLast=false.*data\.validationSplit/,
  );
  assert.ok(!events.some((e) => e.type === "steps" || e.type === "epoch"), "no step is taken");
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
  const { error, events } = await refusal(config);
  assert.match(
    error.message,
    /'batchSize' x 'gradientAccumulation' is 40 x 3 = 120 samples a step, more than the 100 training samples .*'data\.dropLast' drops the short accumulation group/,
  );
  assert.match(
    error.hint ?? "",
    /--set gradientAccumulation=2\b.*--set data\.dropLast=false.*data\.validationSplit/,
  );
  assert.ok(!events.some((e) => e.type === "steps" || e.type === "epoch"));
  await assert.rejects(
    () => lrFind(parseConfig(config), { iterations: 10 }),
    (error: unknown) => error instanceof AnnealError && error.where === "gradientAccumulation",
  );
});
