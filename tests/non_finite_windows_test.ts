/**
 * A non-finite or exploding loss on the CPU backends read in windows (`readbackEvery` above 1):
 * every step is still read before it is applied, so a non-finite one is skipped, and the clip
 * monitor's verdict (`clipping.onNonFinite`: skip, stop, rollback) on a skipped or exploding step
 * is waited for and applies at the next step. A run then takes the same steps, and ends with the
 * same weights, status and records, however slow the clip monitor or the trainer, and as it does
 * reading every step.
 *
 * @module
 */
import assert from "node:assert/strict";
import { loadCheckpoint } from "../mod.ts";
import type { RunConfigInput, RunEvent, TrainOptions } from "../mod.ts";
import { infiniteRowData, readNdjson, tempRunsDir, trainCollect } from "./_helpers.ts";

/**
 * The run's last weights (none where it ended before its first epoch), records, summary and
 * warnings (`events`: its events).
 */
async function outcome(runDir: string, events: RunEvent[]) {
  const saved = await loadCheckpoint(`${runDir}/checkpoints/last.ckpt`).catch(() => undefined);
  const summary = JSON.parse(await Deno.readTextFile(`${runDir}/summary.json`));
  const weights = Object.entries(saved?.weights ?? {});
  const epochs = await readNdjson(`${runDir}/epochs.ndjson`).catch(() => []);
  return {
    weights: weights.map(([name, weight]) => [name, Array.from(weight.values)]),
    steps: await readNdjson(`${runDir}/steps.ndjson`),
    epochs: epochs.map(({ seconds: _, ...rest }) => rest),
    status: summary.status,
    reason: summary.stopReason,
    hint: summary.hint,
    summary: {
      epochs: summary.epochs,
      steps: summary.steps,
      metrics: summary.metrics,
      clip: summary.clip,
      test: summary.test,
    },
    // (sorted: the clip monitor's warnings and the trainer's reach the supervisor on separate
    // channels, so which of two close ones comes first is a race; each variant gives the same set)
    warnings: events.flatMap((event) => event.type === "warning" ? [event.message] : []).sort(),
  };
}

/**
 * Trains `config` read in windows as it is, with the clip monitor held up 300 ms at each window
 * it observes, and with the trainer held up 400 ms at epoch 1's first step (threads that lost
 * their core), and reading every step: the outcome of each, which must be one and the same.
 */
async function sameEverywhere(dir: string, name: string, config: RunConfigInput) {
  const variants: [string, RunConfigInput, TrainOptions][] = [
    ["windows", config, {}],
    ["slow-monitor", config, {
      faults: { clipMonitor: { kind: "delay", at: "observe", ms: 300 } },
    }],
    ["slow-trainer", config, { faults: { trainer: { kind: "delay", at: "step:1", ms: 400 } } }],
    ["every-step", { ...config, readbackEvery: 1 }, {}],
  ];
  let first: Awaited<ReturnType<typeof outcome>> | undefined;
  for (const [variant, input, options] of variants) {
    const runId = `${name}-${variant}`;
    const { events } = await trainCollect({ ...input, runsDir: dir }, { ...options, runId });
    const run = await outcome(`${dir}/${runId}`, events);
    if (first) assert.deepEqual(run, first, `${name}: ${variant} as read in windows`);
    first ??= run;
  }
  return first!;
}

Deno.test("read in windows on cpu (readbackEvery 8), a step whose loss is Infinity is skipped, stops the run, or is rolled back from at that step, however slow the clip monitor or the trainer, as reading every step", async () => {
  await using runs = await tempRunsDir();
  // 40 rows y = 2x in batches of 4 (10 steps an epoch, in windows of 8 and 2); row 13's x so
  // large that its loss overflows to Infinity, at step 3 of every epoch, mid-window
  const input = {
    backend: "cpu" as const,
    epochs: 5,
    data: await infiniteRowData(runs.dir),
    model: { kind: "mlp" as const, hidden: [4] },
    optimizer: { name: "adam" as const, lr: 0.01 },
    batchSize: 4,
    readbackEvery: 8,
  } satisfies RunConfigInput;

  const skip = await sameEverywhere(runs.dir, "skip", {
    ...input,
    clipping: { onNonFinite: "skip" },
  });
  assert.equal(skip.status, "completed", skip.reason);
  assert.equal(skip.steps.length, 50);
  // the step of row 13 in each epoch is skipped, its gradients never applied: the weights and
  // the other steps' losses stay finite
  const skipped = skip.steps.filter((record) => record.skipped).map((record) => record.step);
  assert.deepEqual(skipped, [3, 13, 23, 33, 43]);
  const warned = skip.warnings.filter((warning) =>
    /the loss became Infinity; step skipped/.test(warning)
  );
  assert.equal(warned.length, 5, skip.warnings.join("\n"));
  assert.ok(skip.epochs.every((epoch) => Number.isFinite(epoch.loss)), "finite epoch losses");
  const values = skip.weights.flatMap(([_, weight]) => weight as number[]);
  assert.ok(values.length > 0 && values.every(Number.isFinite), "finite weights");

  const stop = await sameEverywhere(runs.dir, "stop", {
    ...input,
    clipping: { onNonFinite: "stop" },
  });
  assert.equal(stop.status, "diverged");
  assert.equal(stop.steps.length, 4, "it stops at the step, not at its window's end");
  assert.match(stop.reason, /diverged at step 3: the loss became Infinity/);

  // rolled back at steps 3, 13 and 23, each time to the last epoch's end with the rate cut
  // 10x; the fourth time it stops
  const rollback = await sameEverywhere(runs.dir, "rollback", {
    ...input,
    clipping: { onNonFinite: "rollback" },
  });
  assert.equal(rollback.status, "diverged");
  assert.equal(rollback.steps.length, 34);
  assert.match(rollback.reason, /at step 33: .*\(rollback did not help\)/);
  const rates = rollback.epochs.map((epoch) => Number(epoch.lr.toPrecision(12)));
  assert.deepEqual(rates, [0.001, 0.0001, 0.00001]);
});

Deno.test("read in windows on cpu (readbackEvery 16), an exploding loss stops the run, or is rolled back from, at the step it explodes, however slow the clip monitor or the trainer, as reading every step", async () => {
  await using runs = await tempRunsDir();
  // SGD at a rate whose loss explodes within the first window (45 steps an epoch)
  const input = {
    backend: "cpu" as const,
    epochs: 3,
    data: { kind: "synthetic-linear" as const, n: 400 },
    model: { kind: "mlp" as const, hidden: [8] },
    optimizer: { name: "sgd" as const, lr: 0.5, momentum: 0.9 },
    batchSize: 8,
    readbackEvery: 16,
  } satisfies RunConfigInput;
  const stop = await sameEverywhere(runs.dir, "stop", {
    ...input,
    clipping: { onNonFinite: "stop" },
  });
  assert.equal(stop.status, "diverged");
  assert.match(stop.reason, /diverged at step \d+: the (mean )?loss .*exploded/);
  const exploded = stop.steps.length - 1;
  assert.ok(exploded < 15, `it stops at the step, not at its window's end: ${exploded}`);
  assert.ok(stop.steps.every((record) => Number.isFinite(record.loss)), "no step reached NaN");

  const rollback = await sameEverywhere(runs.dir, "rollback", {
    ...input,
    clipping: { onNonFinite: "rollback" },
  });
  assert.equal(rollback.status, "completed", rollback.reason);
  assert.equal(rollback.epochs.length, 3);
  const rolledBack = rollback.warnings.filter((warning) => /rolled back/.test(warning));
  assert.ok(rolledBack.length >= 1, rollback.warnings.join("\n"));
});

Deno.test("read in windows on cpu, an epoch end the trainer went past whose late verdict is a divergence ends the run there, though the clip monitor stopped it later", async () => {
  await using runs = await tempRunsDir();
  // every step's loss is Infinity (lr 1e20), each skipped; the epochs' losses (none counted) are
  // the early stopper's divergence at epoch 1's end (step 16), before 20 skips in a row stop the
  // run at the clip monitor's word (step 20): reading every step, the run ends at epoch 1
  const config: RunConfigInput = {
    backend: "cpu",
    epochs: 4,
    data: { kind: "synthetic-linear", n: 64 },
    model: { kind: "mlp", hidden: [8] },
    optimizer: { name: "sgd", lr: 1e20, momentum: 0.9 },
    clipping: { onNonFinite: "skip" },
    batchSize: 8,
    readbackEvery: 3,
  };
  const every = await trainCollect({ ...config, readbackEvery: 1, runsDir: runs.dir }, {
    runId: "every-step",
  });
  const expected = await outcome(`${runs.dir}/every-step`, every.events);
  assert.equal(expected.status, "diverged");
  assert.equal(expected.summary.steps, 16);
  // the early stopper's verdicts held up 1.5 s each: the trainer goes past epoch 1's end, and
  // the clip monitor stops the run in epoch 2 before the verdict on epoch 1 comes
  const late = await trainCollect({ ...config, runsDir: runs.dir }, {
    runId: "late-verdict",
    faults: { earlyStopper: { kind: "delay", at: "epoch", ms: 1500 } },
  });
  assert.equal(late.events.filter((e) => e.type === "returned").length, 1, "it returned once");
  const { warnings: _, ...got } = await outcome(`${runs.dir}/late-verdict`, late.events);
  const { warnings: __, ...want } = expected;
  assert.deepEqual(got, want);
});

Deno.test("a rollback to an epoch end that a rollback at its last step had returned to the start restores that start's fresh optimizer (adam), in the run and in a resume from its checkpoint", async () => {
  await using runs = await tempRunsDir();
  // rows 0-19 in batches of 10: row 13's infinite loss at every epoch's last step. The rollback
  // at step 1 returns to the start, so epoch 0's end (its checkpoint) holds adam's state before
  // any step, without slots; the one at step 3 returns there, and so would a resume.
  const input = {
    backend: "cpu" as const,
    runsDir: runs.dir,
    epochs: 6,
    batchSize: 10,
    data: { ...await infiniteRowData(runs.dir), limit: 20 },
    model: { kind: "mlp" as const, hidden: [4] },
    optimizer: { name: "adam" as const, lr: 0.01 },
    clipping: { onNonFinite: "rollback" as const },
  } satisfies RunConfigInput;
  // (rolled back at steps 1, 3 and 5, each time with the rate cut 10x; the fourth time it stops)
  const straight = await trainCollect(input, { runId: "straight" });
  assert.equal(straight.result.status, "diverged", straight.result.reason);
  assert.match(straight.result.reason, /at step 7: .*\(rollback did not help\)/);
  // stopped at epoch 0's end, then resumed from its checkpoint: the run above, step for step
  const first = await trainCollect({ ...input, maxSteps: 2 }, { runId: "resumed" });
  assert.equal(first.result.reason, "budget: reached maxSteps = 2");
  const resumed = await trainCollect({ runsDir: runs.dir, maxSteps: 100 }, { resume: "resumed" });
  assert.equal(resumed.result.status, "diverged", resumed.result.reason);
  assert.deepEqual(
    await outcome(`${runs.dir}/resumed`, [...first.events, ...resumed.events]),
    await outcome(`${runs.dir}/straight`, straight.events),
  );
});

Deno.test("an epoch whose every step was skipped ends the run as such: in epoch 0 the data is blamed, not the rate", async () => {
  await using runs = await tempRunsDir();
  // 14 rows in one batch of 16: row 13's infinite loss skips the epoch's only step, every epoch
  const data = { ...(await infiniteRowData(runs.dir)), limit: 14 };
  const input = {
    backend: "cpu" as const,
    epochs: 3,
    data,
    model: { kind: "mlp" as const, hidden: [4] },
    batchSize: 16,
    clipping: { onNonFinite: "skip" as const },
  } satisfies RunConfigInput;
  const { events } = await trainCollect({ ...input, runsDir: runs.dir }, { runId: "skipped" });
  const run = await outcome(`${runs.dir}/skipped`, events);
  assert.equal(run.status, "diverged");
  assert.equal(run.steps.length, 1);
  assert.match(run.reason, /every step of epoch 0 was skipped, .* on the initial weights/);
  assert.doesNotMatch(run.reason, /became NaN/);
  assert.match(run.hint, /the learning rate is not the cause/);
  assert.doesNotMatch(run.hint, /divide by 10/);
});
