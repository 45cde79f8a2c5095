/**
 * A run that stops within an epoch (its `maxSteps` or `maxWallTimeSeconds` reached, `stop()`, a
 * signal) checkpoints where it stopped: its `last.ckpt` holds the weights its test pass is run on,
 * and a resume goes on from that step exactly (the epoch's next batch, its sums so far), with
 * the weights and metrics of a run never stopped.
 *
 * @module
 */
import assert from "node:assert/strict";
import { loadCheckpoint } from "../mod.ts";
import type { RunConfigInput } from "../mod.ts";
import {
  anneal,
  infiniteRowData,
  lastWeightsAndSteps,
  readNdjson,
  regressionCsv,
  resumeRun,
  slowTrainArgs,
  tempRunsDir,
  trainCollect,
} from "./_helpers.ts";

/** The regression CSV (tests/_helpers.ts): 48 training samples, 16 held out, 16 to test. */
async function csvData(dir: string) {
  return { ...await regressionCsv(dir), validationSplit: 0.25 };
}

Deno.test("a run stopped by maxSteps within an epoch checkpoints there: its test metric is its last.ckpt's, and a resume redoes no step", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  // 48 training samples in batches of 16: 3 steps an epoch; step 5 is 2 steps into epoch 1
  const config: RunConfigInput = {
    backend: "cpu",
    runsDir: dir,
    epochs: 4,
    batchSize: 16,
    maxSteps: 5,
    data: await csvData(dir),
    model: { kind: "mlp", hidden: [8] },
    optimizer: { name: "adam", lr: 0.01 },
  };
  const { result } = await trainCollect(config, { runId: "budget" });
  assert.equal(result.status, "stopped", result.reason);
  assert.equal(result.reason, "budget: reached maxSteps = 5");
  assert.equal(result.steps, 5);
  assert.ok(result.test, "the test split was evaluated");
  const runDir = `${dir}/budget`;
  const { state } = await loadCheckpoint(`${runDir}/checkpoints/last.ckpt`);
  assert.equal(state.step, 5, "the last checkpoint is where the run stopped");
  assert.equal(state.epoch, 0, "after epoch 0's end");
  assert.equal((state.within as { batches: number }).batches, 2, "2 batches into epoch 1");

  // nothing to resume: its budget is taken
  const again = await trainCollect({ runsDir: dir }, { resume: "budget" });
  assert.equal(again.result.status, "stopped");
  assert.match(
    again.result.reason,
    /nothing to resume: .*it took its maxSteps \(5\); to train it longer, resume it with more steps than its maxSteps 5 \(--max-steps N\)/,
  );
  assert.ok(!again.events.some((e) => e.type === "steps"));

  // Killed after that checkpoint, before its end was recorded: the resume takes no step, and
  // its test pass, run on the checkpoint's weights, gives the metric the run reported.
  const summary = JSON.parse(await Deno.readTextFile(`${runDir}/summary.json`));
  await Deno.writeTextFile(
    `${runDir}/summary.json`,
    JSON.stringify({ ...summary, status: "failed" }),
  );
  const finished = await trainCollect({ runsDir: dir }, { resume: "budget" });
  assert.equal(finished.result.status, "stopped", finished.result.reason);
  assert.ok(!finished.events.some((e) => e.type === "steps"), "no step was taken again");
  assert.equal(finished.result.steps, 5);
  assert.deepEqual(finished.result.test, result.test);
  const steps = await readNdjson(`${runDir}/steps.ndjson`);
  assert.deepEqual(steps.map((s) => s.step), [0, 1, 2, 3, 4]);
});

Deno.test("a run stopped by maxSteps trains on with --resume --max-steps N, as a run with the higher budget from the start; a lower one, or one where it had none, is refused", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  // 3 steps an epoch; adam under a cosine over 12 steps (a rate per step), early stopping
  const config: RunConfigInput = {
    backend: "cpu",
    runsDir: dir,
    epochs: 4,
    batchSize: 16,
    data: await csvData(dir),
    model: { kind: "mlp", hidden: [8] },
    optimizer: { name: "adam", lr: 0.01 },
    scheduler: { name: "cosine", tMax: 12 },
    earlyStopping: { patience: 3, monitor: "valLoss" },
  };
  const straight = await trainCollect(config, { runId: "straight" });
  assert.equal(straight.result.status, "completed", straight.result.reason);
  const first = await trainCollect({ ...config, maxSteps: 5 }, { runId: "budget" });
  assert.equal(first.result.reason, "budget: reached maxSteps = 5");
  const resume = (...more: string[]) =>
    anneal("train", "--resume", "budget", "--runs-dir", dir, "--no-progress", ...more);

  const lower = await resume("--max-steps", "4");
  assert.equal(lower.code, 2, lower.stderr);
  assert.match(
    lower.stderr,
    /with maxSteps 4: it trains 5 steps at most, and a resume can only raise that/,
  );
  assert.match(
    lower.stderr,
    /hint: leave --max-steps out to finish its 5 steps, or give more than 5/,
  );

  // to step 8 (2 steps into epoch 2), then on to the end of its 4 epochs
  const more = await resume("--max-steps", "8");
  assert.equal(more.code, 0, more.stderr);
  assert.match(more.stdout, /budget: reached maxSteps = 8/);
  const { state } = await loadCheckpoint(`${dir}/budget/checkpoints/last.ckpt`);
  assert.equal(state.step, 8);
  const saved = JSON.parse(await Deno.readTextFile(`${dir}/budget/config.json`));
  assert.equal(saved.maxSteps, 8, "config.json holds the budget raised");
  const rest = await resume("--max-steps", "100");
  assert.equal(rest.code, 0, rest.stderr);
  const summary = JSON.parse(await Deno.readTextFile(`${dir}/budget/summary.json`));
  assert.equal(summary.status, "completed", summary.stopReason);
  assert.equal(summary.steps, 12);
  assert.deepEqual(summary.test, straight.result.test, "the test pass on the same weights");

  const a = await loadCheckpoint(`${dir}/straight/checkpoints/last.ckpt`);
  const b = await loadCheckpoint(`${dir}/budget/checkpoints/last.ckpt`);
  for (const [name, weight] of Object.entries(a.weights)) {
    assert.deepEqual(Array.from(b.weights[name].values), Array.from(weight.values), name);
  }
  const strip = (records: Record<string, number>[]) =>
    records.map(({ seconds: _, ...rest }) => rest);
  assert.deepEqual(
    strip(await readNdjson(`${dir}/budget/epochs.ndjson`)),
    strip(await readNdjson(`${dir}/straight/epochs.ndjson`)),
  );
  assert.deepEqual(
    await readNdjson(`${dir}/budget/steps.ndjson`),
    await readNdjson(`${dir}/straight/steps.ndjson`),
  );

  // a run without a step budget gets none on resume (it trains its epochs; --epochs raises them)
  const none = await anneal(
    ...["train", "--resume", "straight", "--runs-dir", dir, "--max-steps", "20"],
  );
  assert.equal(none.code, 2, none.stderr);
  assert.match(
    none.stderr,
    /with maxSteps 20: it has no step budget \(it trains its 4 epochs\), and a resume can only raise one/,
  );
});

Deno.test("a run stopped by its wall-time budget within an epoch resumes exactly: the weights and metrics of a run never stopped", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  // a wide MLP on 1000 samples (47 steps an epoch; 0.1-0.2 s an epoch on the host step), adam under
  // plateau (its state moves at epoch ends), a validation split
  const config: RunConfigInput = {
    backend: "cpu",
    runsDir: dir,
    epochs: 4,
    batchSize: 16,
    data: { kind: "synthetic-linear", n: 1000, validationSplit: 0.25 },
    model: { kind: "mlp", hidden: [256, 256] },
    optimizer: { name: "adam", lr: 0.001 },
    scheduler: { name: "plateau", patience: 0, factor: 0.5 },
  };
  const straight = await trainCollect(config, { runId: "straight" });
  assert.equal(straight.result.status, "completed", straight.result.reason);

  // the same run with a budget of a fifth of the straight run's training time (its epochs' own
  // seconds, without the process's start and its test pass), resumed until it completes (each
  // resume gets as long again): about five processes however fast the machine or the step. (A
  // fixed half second took ~8 processes when a step took 5 ms, and in a loaded CI many more; once
  // the host step trained this model in under half a second, it took one, or none, so that no
  // stop came within an epoch.) Every resume must train at least one step.
  const trained = (await readNdjson(`${dir}/straight/epochs.ndjson`))
    .reduce((sum, epoch) => sum + epoch.seconds, 0);
  const budget = Math.max(0.02, Math.round(trained * 200) / 1000);
  const first = await trainCollect({ ...config, maxWallTimeSeconds: budget }, {
    runId: "budget",
  });
  let result = first.result;
  let within = 0;
  let before = 0;
  let resumes = 0;
  while (result.status === "stopped") {
    assert.equal(result.reason, `budget: reached maxWallTimeSeconds = ${budget}`);
    // a budget of each process: the run did not stop itself, and a resume goes on
    assert.equal(result.stopRequested, true);
    assert.ok(result.steps > before, `a resume trained no step (stopped at step ${result.steps})`);
    before = result.steps;
    const { state } = await loadCheckpoint(`${dir}/budget/checkpoints/last.ckpt`);
    assert.equal(state.step, result.steps, "the last checkpoint is where it stopped");
    if (state.within !== undefined) within++;
    result = (await trainCollect({ runsDir: dir }, { resume: "budget" })).result;
    resumes++;
  }
  assert.equal(result.status, "completed", result.reason);
  assert.ok(within > 0, "a stop within an epoch was resumed");
  console.log(`a budget of ${budget} s: ${resumes} resumes`);

  const a = await loadCheckpoint(`${dir}/straight/checkpoints/last.ckpt`);
  const b = await loadCheckpoint(`${dir}/budget/checkpoints/last.ckpt`);
  for (const [name, weight] of Object.entries(a.weights)) {
    assert.deepEqual(
      Array.from(b.weights[name].values),
      Array.from(weight.values),
      `${name} differs`,
    );
  }
  const strip = (records: Record<string, number>[]) =>
    records.map(({ seconds: _, ...rest }) => rest);
  assert.deepEqual(
    strip(await readNdjson(`${dir}/budget/epochs.ndjson`)),
    strip(await readNdjson(`${dir}/straight/epochs.ndjson`)),
  );
  const steps = await readNdjson(`${dir}/budget/steps.ndjson`);
  const straightSteps = await readNdjson(`${dir}/straight/steps.ndjson`);
  assert.deepEqual(steps, straightSteps, "each step once, with the same loss and rate");
});

Deno.test("early stopping's verdict at the epoch end a wall-time stop came at ends the run for good: a resume leaves it as it ended", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  // one step an epoch (batchSize above the training set): every step is an epoch's last, so the
  // wall-time budget, spent at once, stops each process at an epoch's end; early stopping (no
  // epoch after the first improves by minDelta 100) stops the run at epoch 1's end
  const config: RunConfigInput = {
    backend: "cpu",
    runsDir: dir,
    epochs: 6,
    batchSize: 256,
    maxWallTimeSeconds: 1e-6,
    data: { kind: "synthetic-linear", n: 64, validationSplit: 0.25 },
    model: { kind: "linear" },
    optimizer: { name: "sgd", lr: 0.01 },
    earlyStopping: { monitor: "valLoss", patience: 0, minDelta: 100 },
  };
  const first = await trainCollect(config, { runId: "budget" });
  assert.equal(first.result.status, "stopped", first.result.reason);
  assert.match(first.result.reason, /maxWallTimeSeconds/);
  assert.equal(first.result.stopRequested, true, "a wall-time stop goes on when resumed");
  const second = await trainCollect({ runsDir: dir }, { resume: "budget" });
  assert.equal(second.result.status, "stopped", second.result.reason);
  assert.match(second.result.reason, /^early stopping: valLoss did not improve for 1 epoch/);
  assert.equal(second.result.stopRequested, false, "early stopping stopped it, not the budget");
  const summary = JSON.parse(await Deno.readTextFile(`${dir}/budget/summary.json`));
  assert.equal(summary.stopRequested, false);
  // resumed again, it is left as early stopping ended it: no step is taken
  const third = await trainCollect({ runsDir: dir }, { resume: "budget" });
  assert.match(third.result.reason, /^nothing to resume: the run already ended \(early stopping/);
  assert.ok(!third.events.some((e) => e.type === "steps"), "no step past early stopping's end");
  assert.equal(third.result.epochs, 2);
});

Deno.test("anneal train stopped by maxWallTimeSeconds prints the command that goes on, and that command resumes it", async () => {
  await using runs = await tempRunsDir();
  // 0.15-0.25 s an epoch (the host step): a budget of 0.5 s stops it within its first few
  // epochs, of 10 (it had 3 of about a second each, until the host step took this model; then a
  // run could end before its budget)
  const args = [...slowTrainArgs(10, runs.dir), "--set", "maxWallTimeSeconds=0.5", "--no-progress"];
  const first = await anneal(...args);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /stopped: budget: reached maxWallTimeSeconds = 0.5/);
  const runId = first.stdout.match(/run record: \S+\/([^/\s]+)\n/)![1];
  const command = `anneal train --resume ${runId} --runs-dir ${runs.dir}`;
  assert.ok(first.stdout.includes(`  hint: resume it: \`${command}\``), first.stdout);
  const resumed = await resumeRun(runId, runs.dir);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, /resuming at epoch \d+, step [1-9]/);
  // a run early stopping ended gets no such hint: it is over
  const ended = await anneal(
    ...slowTrainArgs(4, runs.dir),
    "--set",
    "data.n=64",
    "--set",
    'earlyStopping={"patience":0,"minDelta":100}',
    "--no-progress",
  );
  assert.equal(ended.code, 0, ended.stderr);
  assert.match(ended.stdout, /stopped: early stopping/);
  assert.doesNotMatch(ended.stdout, /resume it/);
});

Deno.test("a budget or a stop that comes with the run's last step leaves it completed: nothing is left to resume", async () => {
  await using runs = await tempRunsDir();
  // 200 samples in batches of 16: 13 steps an epoch, 26 in two epochs
  const config: RunConfigInput = { backend: "cpu", runsDir: runs.dir, epochs: 2, maxSteps: 26 };
  const { result } = await trainCollect(config);
  assert.equal(result.status, "completed", result.reason);
  assert.equal(result.reason, "finished 2 epochs");
  assert.equal(result.steps, 26);
  // one step short of the end: stopped, by the run's own budget
  const short = (await trainCollect({ ...config, maxSteps: 25 })).result;
  assert.equal(short.status, "stopped");
  assert.match(short.reason, /budget: reached maxSteps = 25/);
});

Deno.test("a run stopped within an epoch under onNonFinite 'rollback' resumes with what a rollback returns to: the epoch end before it (or the start), as a run never stopped", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  // 24 training rows in batches of 6 (4 steps an epoch), shuffled: row 13's infinite loss comes
  // in every epoch, each time rolled back from, with the rate cut 10x; the fourth time it stops
  const config: RunConfigInput = {
    backend: "cpu",
    runsDir: dir,
    epochs: 8,
    batchSize: 6,
    data: { ...await infiniteRowData(dir), limit: 30, validationSplit: 0.2, shuffle: true },
    model: { kind: "mlp", hidden: [4] },
    optimizer: { name: "adam", lr: 0.01 },
    clipping: { onNonFinite: "rollback" },
  };
  const straight = await trainCollect(config, { runId: "straight" });
  assert.equal(straight.result.status, "diverged", straight.result.reason);
  const rollbacks = (events: { type: string; message?: string }[]) =>
    events.filter((event) => event.type === "warning" && /rolled back/.test(event.message ?? ""))
      .length;
  assert.equal(rollbacks(straight.events), 3);
  // stopped at step 2 (within epoch 0: a rollback returns to the start), at step 9 (within epoch
  // 2, past the rollbacks of epochs 0 and 1: it returns to epoch 1's end), then to its end
  await trainCollect({ ...config, maxSteps: 2 }, { runId: "budget" });
  for (const maxSteps of [9, 100]) {
    await trainCollect({ runsDir: dir, maxSteps }, { resume: "budget" });
  }
  const epochs = (run: string) =>
    readNdjson(`${dir}/${run}/epochs.ndjson`).then((records) =>
      records.map(({ seconds: _, ...rest }) => rest)
    );
  assert.deepEqual(
    await lastWeightsAndSteps(`${dir}/budget`),
    await lastWeightsAndSteps(`${dir}/straight`),
  );
  assert.deepEqual(await epochs("budget"), await epochs("straight"));
  const summary = (run: string) =>
    Deno.readTextFile(`${dir}/${run}/summary.json`).then((text) => JSON.parse(text).stopReason);
  assert.equal(await summary("budget"), await summary("straight"));
});
