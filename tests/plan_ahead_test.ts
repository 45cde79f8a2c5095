// The trainer takes its learning rates from plans the scheduler sends ahead (PLAN_AHEAD steps
// each), asking for the next one as it reports its steps: a window of more steps than that, whose
// steps are reported only at its end, must not wait for a plan nobody asked for.
import assert from "node:assert/strict";
import { previewSchedule } from "../schedulers/mod.ts";
import { PLAN_AHEAD } from "../actors/scheduler.ts";
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
