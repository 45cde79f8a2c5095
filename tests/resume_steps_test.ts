/**
 * A resume goes on only from a checkpoint at an epoch's end as the run makes its epochs now. A
 * run trained with dropLast and gradientAccumulation above 1 by an anneal before 93f3c04 took one
 * more, shorter step an epoch than this one does: resumed, every later step's learning rate would
 * shift, so it is refused, saying why and how to go on.
 *
 * @module
 */
import assert from "node:assert/strict";
import { AnnealError, loadCheckpoint, train } from "../mod.ts";
import { saveCheckpoint } from "../runtime/checkpoint.ts";
import { anneal, tempRunsDir } from "./_helpers.ts";

// 200 samples in batches of 8 (25 batches), 4 a step: 6 whole steps an epoch now; an anneal
// before 93f3c04 took a 7th over the 25th batch.
const config = {
  backend: "cpu" as const,
  data: { kind: "synthetic-linear" as const, n: 200, dropLast: true },
  batchSize: 8,
  gradientAccumulation: 4,
  scheduler: { name: "cosine" as const, tMax: 4, interval: "epoch" as const },
  epochs: 2,
};

/** A completed run of `config`, whose last checkpoint says `step` after its epoch 1; its id. */
async function runAtStep(runsDir: string, step: number): Promise<string> {
  const result = await train({ ...config, runsDir }).result;
  assert.equal(result.status, "completed", result.reason);
  assert.equal(result.steps, 12, "6 steps an epoch");
  const last = `${runsDir}/${result.runId}/checkpoints/last.ckpt`;
  const { state, weights } = await loadCheckpoint(last);
  await saveCheckpoint(last, { ...state, step }, weights);
  return result.runId;
}

/** The run's records, to show that a refused resume touched none. */
async function records(runDir: string): Promise<string[]> {
  const names = ["config.json", "summary.json", "epochs.ndjson", "steps.ndjson"];
  return await Promise.all(names.map((name) => Deno.readTextFile(`${runDir}/${name}`)));
}

Deno.test("--resume of a checkpoint written by an anneal whose dropLast epochs took one more step is refused, saying why and how to go on, and touches no record", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const runId = await runAtStep(dir, 14); // 2 epochs of 7 steps
  const runDir = `${dir}/${runId}`;
  const before = await records(runDir);
  const resumed = await anneal(
    "train",
    "--resume",
    runId,
    "--runs-dir",
    dir,
    "--epochs",
    "4",
    "--no-progress",
  );
  assert.equal(resumed.code, 1, resumed.stdout);
  assert.match(
    resumed.stderr,
    new RegExp(
      `error\\[checkpoint\\]: Cannot resume run '${runId}': its checkpoint was written by an ` +
        "older anneal, whose epochs took 7 steps \\(step 14 after epoch 1\\), and this one " +
        "takes 6: of the 25 batches of 8 that data.dropLast makes of the 200 training " +
        "samples, the 1 that do not fill a step of gradientAccumulation 4 are now dropped too",
    ),
  );
  assert.match(resumed.stderr, /every later step would get a learning rate planned for another/);
  assert.ok(resumed.stderr.includes(`(at ${runDir}/checkpoints/last.ckpt)`), resumed.stderr);
  assert.ok(
    resumed.stderr.includes(
      `hint: start a new run from its config: \`anneal train -c ${runDir}/config.json\``,
    ),
    resumed.stderr,
  );
  assert.deepEqual(await records(runDir), before, "no record was touched");
});

Deno.test("without the run's record of its data, the trainer refuses the checkpoint on the data it loads, and no record is touched", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const runId = await runAtStep(dir, 14);
  // meta.json, which records the number of training samples, is gone (a record of another tool)
  await Deno.remove(`${dir}/${runId}/meta.json`);
  const before = await records(`${dir}/${runId}`);
  const error = await train({ runsDir: dir, epochs: 4 }, { resume: runId }).result.then(
    (result) => assert.fail(`resumed: ${result.status} ${result.reason}`),
    (error) => error,
  );
  assert.ok(error instanceof AnnealError && error.code === "checkpoint", String(error));
  assert.match(error.message, /its checkpoint was written by an older anneal, whose epochs took 7/);
  assert.match(error.hint ?? "", /start a new run from its config/);
  assert.deepEqual(await records(`${dir}/${runId}`), before, "refused before the first step");
});

Deno.test("a checkpoint off the run's epoch ends for another reason says its data changed; one at an epoch end resumes", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const runId = await runAtStep(dir, 13);
  await assert.rejects(
    train({ runsDir: dir, epochs: 4 }, { resume: runId }).result,
    new RegExp(
      `Cannot resume run '${runId}': its checkpoint is at step 13 after epoch 1, not at step 12 ` +
        "\\(2 epochs of 6 steps\\), where that epoch ends as this run makes its epochs now " +
        "\\(200 training samples, batchSize 8, gradientAccumulation 4, dropLast true\\): its " +
        "training data has changed since it was written",
    ),
  );
  const whole = await runAtStep(dir, 12);
  const result = await train({ runsDir: dir, epochs: 4 }, { resume: whole }).result;
  assert.equal(result.status, "completed", result.reason);
  assert.equal(result.steps, 24);
});
