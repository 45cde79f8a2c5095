// The trainer takes its learning rates from plans the scheduler sends ahead (PLAN_AHEAD steps
// each), asking for the next one as it reports its steps: a window of more steps than that, whose
// steps are reported only at its end, must not wait for a plan nobody asked for.
import assert from "node:assert/strict";
import { previewSchedule } from "../schedulers/mod.ts";
import { PLAN_AHEAD } from "../actors/scheduler.ts";
import { loadCheckpoint } from "../mod.ts";
import { readNdjson, tempRunsDir, trainCollect } from "./_helpers.ts";

Deno.test("a window longer than a plan (readbackEvery above PLAN_AHEAD) trains on at the rates planned for each step", async () => {
  await using runs = await tempRunsDir();
  const scheduler = { name: "step" as const, stepSize: 100, gamma: 0.5 };
  const steps = 2 * PLAN_AHEAD + 50;
  const run = trainCollect({
    backend: "cpu",
    runsDir: runs.dir,
    data: { kind: "synthetic-linear", n: steps },
    batchSize: 1,
    epochs: 1,
    readbackEvery: PLAN_AHEAD + 44,
    scheduler,
  });
  // (it waited for ever before: a timeout that fails the test, not the test runner's)
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("the run hung: no plan for its next step")), 60_000);
  });
  const { result } = await Promise.race([run, hung]).finally(() => clearTimeout(timer));
  assert.equal(result.status, "completed", result.reason);
  assert.equal(result.steps, steps);
  const recorded = await readNdjson(`${result.runDir}/steps.ndjson`);
  assert.deepEqual(recorded.map((r) => r.step), [...Array(steps).keys()]);
  assert.deepEqual(recorded.map((r) => r.lr), previewSchedule(scheduler, 0.01, steps).lr);
});

Deno.test("a schedule fixed in advance is told of no epoch end: its plans, asked for as they run low, cover the run, and each checkpoint keeps its state", async () => {
  await using runs = await tempRunsDir();
  const scheduler = { name: "cosine" as const, tMax: 400, etaMin: 0.001 };
  // 30 epochs of 13 steps: 390 steps, more than one plan. A scheduler that heard of an epoch end
  // would throw there (its fault point "epoch"), and end the run.
  const { result, events } = await trainCollect(
    { backend: "cpu", runsDir: runs.dir, epochs: 30, scheduler },
    { faults: { scheduler: { kind: "throw", at: "epoch" } } },
  );
  assert.equal(result.status, "completed", result.reason);
  const recorded = await readNdjson(`${result.runDir}/steps.ndjson`);
  assert.deepEqual(recorded.map((r) => r.step), [...Array(390).keys()]);
  assert.deepEqual(recorded.map((r) => r.lr), previewSchedule(scheduler, 0.01, 390).lr);
  const epochs = events.filter((e) => e.type === "epoch");
  assert.equal(epochs.length, 30);
  const last = await loadCheckpoint(`${result.runDir}/checkpoints/last.ckpt`);
  assert.equal(last.state.epoch, 29);
  assert.deepEqual(last.state.scheduler, { scale: 1 });
});

Deno.test("after a rollback under a schedule fixed in advance, the later checkpoints keep the scaled schedule, and its rates are cut 10x", async () => {
  await using runs = await tempRunsDir();
  const { result, events } = await trainCollect({
    backend: "cpu",
    runsDir: runs.dir,
    epochs: 20,
    optimizer: { name: "sgd", lr: 10 },
    clipping: { onNonFinite: "rollback" },
  });
  assert.equal(result.status, "completed", result.reason);
  const rollbacks = events.filter((e) => e.type === "warning" && /rolled back/.test(e.message));
  assert.ok(rollbacks.length >= 1, "lr 10 rolls back");
  const scale = 0.1 ** rollbacks.length;
  const last = await loadCheckpoint(`${result.runDir}/checkpoints/last.ckpt`);
  assert.equal(last.state.epoch, 19);
  assert.deepEqual(last.state.scheduler, { scale });
  const recorded = await readNdjson(`${result.runDir}/steps.ndjson`);
  assert.equal(recorded.at(-1)!.lr, 10 * scale);
  // the resume goes on at the scaled rate, as the run would have
  const resumed = await trainCollect({ runsDir: runs.dir, epochs: 22 }, {
    resume: result.runId,
  });
  assert.equal(resumed.result.status, "completed", resumed.result.reason);
  const after = await readNdjson(`${result.runDir}/steps.ndjson`);
  assert.equal(after.length, 22 * 13);
  assert.ok(after.slice(20 * 13).every((r) => r.lr === 10 * scale), "resumed at the scaled rate");
});
