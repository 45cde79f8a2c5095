/**
 * Under onecycle torch's OneCycleLR ignores the optimizer's `lr`: the rates come from the
 * schedule's `maxLr`. Through `train` and `tune`, every suggestion to change the rate must change
 * that (`scheduler.maxLr`), or, for a sequential's onecycle, which `--set` cannot reach, name the
 * schedule to edit, never `--set optimizer.lr`, which would do nothing.
 */
import assert from "node:assert/strict";
import { parseConfig, tune } from "../mod.ts";
import { anneal, tempRunsDir, trainCollect } from "./_helpers.ts";

// the seed experiment (200 samples, batch 16: 13 steps an epoch) over 5 epochs; starting at
// maxLr / 25 = 10 the first step explodes, as `--lr 10` does without a schedule
const onecycle = { name: "onecycle" as const, maxLr: 250, totalSteps: 65 };

Deno.test("a onecycle run that diverges is told to divide its maxLr by 10, not optimizer.lr", async () => {
  await using runs = await tempRunsDir();
  const { result } = await trainCollect({
    backend: "cpu",
    runsDir: runs.dir,
    epochs: 5,
    scheduler: onecycle,
  });
  assert.equal(result.status, "diverged", result.reason);
  assert.match(
    result.hint ?? "",
    /learning rate too high: divide by 10 \(--set scheduler\.maxLr=25: onecycle's rates come from its maxLr, not optimizer\.lr\)/,
  );
  assert.doesNotMatch(result.hint ?? "", /optimizer\.lr=/);
  const finding = result.diagnosis?.findings[0];
  assert.equal(finding?.kind, "diverged");
  assert.deepEqual(finding?.set, ["scheduler.maxLr=25"]);
});

Deno.test("a sequential's onecycle that diverges is told which schedule's maxLr to change, with no --set", async () => {
  await using runs = await tempRunsDir();
  const { result } = await trainCollect({
    backend: "cpu",
    runsDir: runs.dir,
    epochs: 5,
    scheduler: { name: "sequential", schedulers: [onecycle], milestones: [] },
  });
  assert.equal(result.status, "diverged", result.reason);
  assert.match(
    result.hint ?? "",
    /set the maxLr of the sequential's onecycle, scheduler\.schedulers\[0\], to 25: --set cannot reach into a list/,
  );
  assert.doesNotMatch(result.hint ?? "", /--set (optimizer\.lr|scheduler\.)/);
  const finding = result.diagnosis?.findings[0];
  assert.equal(finding?.kind, "diverged");
  assert.deepEqual(finding?.set, []);
  assert.match(finding?.fix ?? "", /scheduler\.schedulers\[0\], to 25/);
});

Deno.test("tune under onecycle tries learning rates as its maxLr, and other schedules from its peak", async () => {
  await using runs = await tempRunsDir();
  const config = parseConfig({
    backend: "cpu",
    runsDir: runs.dir,
    epochs: 2,
    data: { kind: "synthetic-linear", validationSplit: 0.2 },
    // optimizer.lr 0 is accepted under onecycle: a change to it would train at maxLr all the same
    optimizer: { name: "sgd", lr: 0 },
    scheduler: { name: "onecycle", maxLr: 0.05, totalSteps: 20 },
  });
  const result = await tune(config, { budget: 12 });
  const tried = (name: string) => {
    const stage = result.stages.find((stage) => stage.name.startsWith(name));
    assert.ok(stage && stage.tried.length > 0, `no ${name} stage was tried`);
    return stage.tried.map((trial) => trial.change);
  };
  for (const change of tried("learning rate")) {
    assert.deepEqual(Object.keys(change), ["scheduler.maxLr"], JSON.stringify(change));
  }
  // a bigger batch scales the rate linearly: maxLr's (and onecycle's length follows the steps)
  for (const change of tried("batch size")) {
    const keys = Object.keys(change).filter((key) => key !== "scheduler.totalSteps");
    assert.deepEqual(keys, ["batchSize", "scheduler.maxLr"], JSON.stringify(change));
  }
  // a schedule in onecycle's place runs from the optimizer's lr: onecycle's peak, not its 0
  for (const change of tried("schedule and warmup")) {
    assert.ok((change["optimizer.lr"] as number) > 0, JSON.stringify(change));
  }
});

Deno.test("anneal train --lr under onecycle sets its maxLr, the rate the run trains at, and says so", async () => {
  await using runs = await tempRunsDir();
  const file = `${runs.dir}/c.json`;
  const config = {
    backend: "cpu",
    epochs: 1,
    runsDir: runs.dir,
    optimizer: { name: "sgd", lr: 0 },
    scheduler: { name: "onecycle", maxLr: 250, totalSteps: 13 },
  };
  await Deno.writeTextFile(file, JSON.stringify(config));
  const out = await anneal("train", "-c", file, "--lr", "0.05", "--no-progress");
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stderr, /--lr 0\.05 sets onecycle's maxLr \(scheduler\.maxLr\)/);
  const runId = out.stdout.match(/run record: \S+\/(\S+)/)![1];
  const saved = JSON.parse(await Deno.readTextFile(`${runs.dir}/${runId}/config.json`));
  assert.deepEqual([saved.scheduler.maxLr, saved.optimizer.lr], [0.05, 0]);
});
