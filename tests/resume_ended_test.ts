/**
 * A run killed after its end's checkpoint was written, before its end was recorded (its
 * `summary.json` still says `running`, its process gone): early stopping's verdict, its
 * `maxSteps` or a divergence had ended it. `--resume` finishes it as it ended, training no step
 * the run did not take: its record comes out as the uninterrupted run's.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type RunConfigInput, type RunResult, train } from "../mod.ts";
import { hostname } from "../runtime/liveness.ts";
import { loadCheckpoint, saveCheckpoint } from "../runtime/checkpoint.ts";
import { readNdjson, regressionCsv, tempRunsDir, trainCollect } from "./_helpers.ts";

/** The regression CSV (tests/_helpers.ts): 48 training samples, 16 held out, 16 to test. */
async function csvData(dir: string) {
  return { ...await regressionCsv(dir), validationSplit: 0.25 };
}

/**
 * Leaves the run's `summary.json` as a process killed before the run's end was recorded leaves
 * it: `running`, naming a process that is gone (this pid, started at another time).
 */
async function asKilled(runDir: string): Promise<void> {
  const summary = JSON.parse(await Deno.readTextFile(`${runDir}/summary.json`));
  await Deno.writeTextFile(
    `${runDir}/summary.json`,
    JSON.stringify({
      status: "running",
      startedAt: summary.startedAt,
      process: { pid: Deno.pid, host: hostname(), startTime: "0" },
    }),
  );
}

/** What the run's records say, without the times that differ from one process to the next. */
async function records(runDir: string) {
  const summary = JSON.parse(await Deno.readTextFile(`${runDir}/summary.json`));
  const strip = (rows: Record<string, number>[]) => rows.map(({ seconds: _, ...rest }) => rest);
  return {
    summary: {
      status: summary.status,
      stopReason: summary.stopReason,
      stopRequested: summary.stopRequested,
      hint: summary.hint,
      epochs: summary.epochs,
      steps: summary.steps,
      bestEpoch: summary.bestEpoch,
      metrics: summary.metrics,
      test: summary.test,
      // the clip statistics at its last step (a resume that trains no step keeps its checkpoint's)
      clip: summary.clip,
    },
    epochs: strip(await readNdjson(`${runDir}/epochs.ndjson`)),
    steps: await readNdjson(`${runDir}/steps.ndjson`),
  };
}

/** Kills `first`'s run as it ended, resumes it, and checks it ends as `first` did, untrained. */
async function resumeKilled(dir: string, first: RunResult): Promise<RunResult> {
  const recorded = await records(first.runDir);
  await asKilled(first.runDir);
  const resumed = await trainCollect({ runsDir: dir }, { resume: first.runId });
  const { result } = resumed;
  assert.ok(!resumed.events.some((e) => e.type === "steps"), "no step was trained again");
  assert.ok(!resumed.events.some((e) => e.type === "epoch"), "no epoch was trained again");
  for (const key of ["status", "reason", "stopRequested", "hint", "epochs", "steps"] as const) {
    assert.deepEqual(result[key], first[key], key);
  }
  assert.deepEqual(result.bestEpoch, first.bestEpoch);
  assert.deepEqual(result.metrics, first.metrics);
  assert.deepEqual(result.test, first.test, "the test pass on the weights the run ended with");
  assert.deepEqual(await records(first.runDir), recorded, "the record of the run as it ended");
  return result;
}

const base = async (dir: string): Promise<RunConfigInput> => ({
  backend: "cpu",
  runsDir: dir,
  epochs: 6,
  batchSize: 16,
  data: await csvData(dir),
  model: { kind: "mlp", hidden: [8] },
  optimizer: { name: "adam", lr: 0.01 },
});

Deno.test("a run killed after early stopping's checkpoint, before its end was recorded, is finished on --resume as early stopping ended it, without another epoch", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  // no epoch improves by minDelta 100 on the first: early stopping ends the run at epoch 1's
  // end; restoreBest puts epoch 0's weights back for the test pass
  const config = {
    ...await base(dir),
    earlyStopping: { monitor: "valLoss", patience: 1, minDelta: 100 },
  };
  const { result: first } = await trainCollect(config, { runId: "early" });
  assert.equal(first.status, "stopped", first.reason);
  assert.match(first.reason, /^early stopping: valLoss did not improve for 1 epoch/);
  assert.equal(first.epochs, 2);
  assert.equal(first.bestEpoch, 0);
  const resumed = await resumeKilled(dir, first);
  assert.equal(resumed.stopRequested, false, "over for good: a resume leaves it as it is");
  // the same stop at the run's last epoch's end: stopped by early stopping, not completed
  const last = await trainCollect({ ...config, epochs: 2 }, { runId: "last" });
  assert.match(last.result.reason, /^early stopping: valLoss did not improve for 1 epoch/);
  await resumeKilled(dir, last.result);
  const again = await trainCollect({ runsDir: dir }, { resume: "early" });
  assert.match(again.result.reason, /^nothing to resume: the run already ended \(early stopping/);
  // killed so again, resumed with more epochs: it trains on, as a recorded one does, its
  // patience started over (a new fit() in Keras), and early stopping ends it when that runs out
  // again, at the next epoch's end (no improvement)
  await asKilled(first.runDir);
  const longer = await trainCollect({ runsDir: dir, epochs: 8 }, { resume: "early" });
  assert.match(longer.result.reason, /^early stopping: valLoss did not improve for 1 epoch \(/);
  assert.equal(longer.result.epochs, 3);
  assert.ok(
    longer.events.some((e) =>
      e.type === "warning" &&
      /^early stopping had ended the run at epoch 1 \(early stopping: .*\); trained longer, its patience \(1\) starts over/
        .test(e.message)
    ),
  );
  assert.deepEqual(
    longer.events.filter((e) => e.type === "epoch").map((e) => e.type === "epoch" && e.epoch),
    [2],
  );
});

Deno.test("a run killed after its maxSteps checkpoint at an epoch's end, at its last step, or after its last epoch's checkpoint, is finished on --resume as it ended", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  // 3 steps an epoch: maxSteps 6 ends the run at epoch 1's end
  const budget = await trainCollect({ ...await base(dir), maxSteps: 6 }, { runId: "budget" });
  assert.equal(budget.result.reason, "budget: reached maxSteps = 6");
  await resumeKilled(dir, budget.result);
  // maxSteps 18 is the run's last step: it completed its epochs
  const whole = await trainCollect({ ...await base(dir), maxSteps: 18 }, { runId: "whole" });
  assert.equal(whole.result.status, "completed", whole.result.reason);
  assert.equal(whole.result.reason, "finished 6 epochs");
  await resumeKilled(dir, whole.result);
  // no budget: it completed its epochs, killed after its last checkpoint
  const done = await trainCollect(await base(dir), { runId: "done" });
  assert.equal(done.result.reason, "finished 6 epochs");
  await resumeKilled(dir, done.result);
});

Deno.test("a run killed after it diverged, before its end was recorded, is finished on --resume as it diverged, without training its last steps again", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  // sgd at rates far too high: with one step an epoch (batches of 64), the loss at epoch 2's
  // end is over 10x its first (early stopping's verdict); in batches of 16, the loss explodes at
  // step 3, within epoch 1 (the clip monitor's)
  const cases = [
    { batchSize: 64, lr: 1.2, reason: /^training diverged: loss .* at epoch 2 is over 10x/ },
    { batchSize: 16, lr: 0.8, reason: /^training diverged at step 3: the loss exploded/ },
  ];
  for (const { batchSize, lr, reason } of cases) {
    const config = { ...await base(dir), batchSize, optimizer: { name: "sgd" as const, lr } };
    const { result: first } = await trainCollect(config, { runId: `diverged-${batchSize}` });
    assert.equal(first.status, "diverged", first.reason);
    assert.match(first.reason, reason);
    await resumeKilled(dir, first);
    const again = await trainCollect({ runsDir: dir }, { resume: first.runId });
    assert.match(again.result.reason, /^nothing to resume: the run already ended \(training/);
    // killed so again, resumed with more epochs: it trains on from its last checkpoint, before
    // the divergence, as a recorded one does, and diverges again at the same step (cpu); that
    // process wrote no checkpoint of its own, and killed so, its resume finishes it as it ended
    await asKilled(first.runDir);
    const longer = await trainCollect({ runsDir: dir, epochs: 8 }, { resume: first.runId });
    assert.ok(longer.events.some((e) => e.type === "steps"), "it trained on");
    assert.equal(longer.result.status, "diverged", longer.result.reason);
    assert.equal(longer.result.reason, first.reason);
    assert.equal(longer.result.steps, first.steps);
    await resumeKilled(dir, longer.result);
  }
  // read in windows of 4 steps, the trainer went on from epoch 2's end before its loss was read:
  // the verdict on it, a divergence, returned the run to that end, its later steps undone
  const late = await trainCollect({
    backend: "cpu",
    runsDir: dir,
    data: { kind: "synthetic-linear", n: 64 },
    epochs: 4,
    readbackEvery: 4,
    optimizer: { name: "sgd", lr: 0.05 },
    scheduler: { name: "multistep", milestones: [4], gamma: 25 },
    earlyStopping: { divergenceFactor: 1.5 },
  }, { runId: "late" });
  assert.equal(late.result.status, "diverged", late.result.reason);
  assert.ok(late.events.some((e) => e.type === "returned"), "it returned to epoch 2's end");
  await resumeKilled(dir, late.result);
});

Deno.test("a run killed at its end whose checkpoint (an older anneal's) keeps no last step of the clip monitor's is finished on --resume with the clip statistics at its last step", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const { result: first } = await trainCollect({ ...await base(dir), maxSteps: 6 }, {
    runId: "older",
  });
  assert.equal(first.reason, "budget: reached maxSteps = 6");
  const summary = JSON.parse(await Deno.readTextFile(`${first.runDir}/summary.json`));
  assert.equal(summary.clip.step, 5, "the statistics at the last step, by its index");
  const last = `${first.runDir}/checkpoints/last.ckpt`;
  const { state, weights } = await loadCheckpoint(last);
  const { lastStep, ...older } = state.clipMonitor as { lastStep?: number };
  assert.equal(lastStep, 5);
  await saveCheckpoint(last, { ...state, clipMonitor: older }, weights);
  await resumeKilled(dir, first);
});

Deno.test("a resumed run's seconds count every process's wall time: the checkpoint holds the time up to it", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const first = await trainCollect({ runsDir: dir, epochs: 4 }, { runId: "timed" });
  assert.equal(first.result.status, "completed", first.result.reason);
  const { state } = await loadCheckpoint(`${first.result.runDir}/checkpoints/last.ckpt`);
  const before = state.runSeconds as number;
  assert.ok(before > 0 && before <= first.result.seconds, `${before} of ${first.result.seconds}`);
  // trained on for 2 epochs more: the time up to the checkpoint, and this process's (its
  // seconds used to be this process's alone)
  const started = performance.now();
  const longer = await trainCollect({ runsDir: dir, epochs: 6 }, { resume: "timed" });
  const wall = (performance.now() - started) / 1000;
  assert.equal(longer.result.epochs, 6, longer.result.reason);
  assert.ok(
    longer.result.seconds > before && longer.result.seconds <= before + wall,
    `${longer.result.seconds}: ${before} before, ${wall} for the resume`,
  );
  const summary = JSON.parse(await Deno.readTextFile(`${first.result.runDir}/summary.json`));
  assert.equal(summary.seconds, longer.result.seconds);
  const after = await loadCheckpoint(`${first.result.runDir}/checkpoints/last.ckpt`);
  assert.ok((after.state.runSeconds as number) > before);
});

Deno.test("a run of an anneal before the batch-scaling rules resumes at the rate it trained at: its baseBatch scaled linearly", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const config = {
    runsDir: dir,
    backend: "cpu" as const,
    epochs: 2,
    batchSize: 16,
    optimizer: { name: "adam" as const, lr: 0.001, baseBatch: 4 },
  };
  // a run's config records the rule it scales by (sqrt, adam's default)
  const fresh = await trainCollect(config, { runId: "fresh" });
  const recorded = JSON.parse(await Deno.readTextFile(`${fresh.result.runDir}/config.json`));
  assert.equal(recorded.optimizer.batchScaling, "sqrt");
  // one of an older anneal records none, and trained at 16 / 4 x 0.001
  const old = await trainCollect(
    { ...config, optimizer: { ...config.optimizer, batchScaling: "linear" as const } },
    { runId: "old" },
  );
  const runDir = old.result.runDir;
  const strip = (json: Record<string, unknown>) => {
    const { batchScaling: _, ...optimizer } = json.optimizer as Record<string, unknown>;
    return { ...json, optimizer };
  };
  const file = JSON.parse(await Deno.readTextFile(`${runDir}/config.json`));
  await Deno.writeTextFile(`${runDir}/config.json`, JSON.stringify(strip(file)));
  for (const name of ["last", "best"]) {
    const path = `${runDir}/checkpoints/${name}.ckpt`;
    const saved = await loadCheckpoint(path).catch(() => undefined);
    if (!saved) continue;
    const state = { ...saved.state, config: strip(saved.state.config as Record<string, unknown>) };
    await saveCheckpoint(path, state, saved.weights);
  }
  const resumed = await trainCollect({ runsDir: dir, epochs: 4 }, { resume: "old" });
  assert.equal(resumed.result.status, "completed", resumed.result.reason);
  const rates = new Set((await readNdjson(`${runDir}/steps.ndjson`)).map((s) => s.lr));
  // (it went on at 0.002, sqrt(16 / 4) x 0.001, from its third epoch)
  assert.deepEqual([...rates], [0.004]);
});

/**
 * A run of `runId` in `dir` that early stopping ends at epoch 2 of its 10 (patience 2, and
 * nothing improves by a minDelta of 100).
 */
async function stoppedEarly(dir: string, runId: string): Promise<RunResult> {
  const config = {
    ...await base(dir),
    epochs: 10,
    earlyStopping: { monitor: "valLoss", patience: 2, minDelta: 100 },
  };
  const { result } = await trainCollect(config, { runId });
  assert.match(result.reason, /^early stopping: valLoss did not improve for 2 epochs/);
  assert.equal(result.epochs, 3);
  return result;
}

Deno.test("a run early stopping ended, resumed with more epochs, gets its whole patience again; --epochs within its plan says it has none left to finish", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  await stoppedEarly(dir, "patient");
  // (it was told to leave --epochs out to finish its 10 epochs, which trains nothing)
  await assert.rejects(
    () => trainCollect({ runsDir: dir, epochs: 6 }, { resume: "patient" }),
    (error: Error & { hint?: string }) =>
      /^it ended itself \(early stopping: .*\), with no epoch of its 10 left to finish: give more than 10/
        .test(error.hint ?? ""),
  );
  // (with the count it ended at, it trained one epoch more)
  const longer = await trainCollect({ runsDir: dir, epochs: 12 }, { resume: "patient" });
  assert.match(longer.result.reason, /^early stopping: valLoss did not improve for 2 epochs/);
  assert.equal(longer.result.epochs, 5);
  assert.equal(longer.result.bestEpoch, 0, "its best epoch kept");
});

Deno.test("a lengthened resume of a run early stopping ended, interrupted before a checkpoint of its own, keeps its restarted patience at the next resume", async () => {
  // (the next resume no longer raised the epochs: it took the old count back and ended at once,
  // "stopped", none of the epochs asked for trained)
  await using runs = await tempRunsDir();
  const { dir } = runs;
  await stoppedEarly(dir, "cut");
  const lengthened = train({ runsDir: dir, epochs: 12 }, { resume: "cut" });
  for await (const event of lengthened.events()) {
    if (event.type === "plan") lengthened.interrupt("cut short");
  }
  const cut = await lengthened.result;
  assert.equal(cut.status, "interrupted", cut.reason);
  const again = await trainCollect({ runsDir: dir }, { resume: "cut" });
  assert.match(again.result.reason, /^early stopping: valLoss did not improve for 2 epochs/);
  assert.equal(again.result.epochs, 5, "two epochs of patience after the restart");
});

Deno.test("--epochs within the plan of a run its maxSteps ended is told to raise --max-steps", async () => {
  // (it was told to give more epochs, which the resume then refused for its maxSteps)
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const { result } = await trainCollect({ ...await base(dir), epochs: 10, maxSteps: 4 }, {
    runId: "budget",
  });
  assert.match(result.reason, /^budget: reached maxSteps = 4/);
  await assert.rejects(
    () => trainCollect({ runsDir: dir, epochs: 6 }, { resume: "budget" }),
    (error: Error & { hint?: string }) =>
      /^it ended at its step budget \(budget: reached maxSteps = 4\): give --max-steps more than 4/
        .test(error.hint ?? ""),
  );
});
