// The trainer meets the scheduler and the early stopper at epoch ends only where their answers
// could stop the run or change the learning rates; elsewhere it goes on, and nothing is lost.
import assert from "node:assert/strict";
import { type EpochEvent, loadCheckpoint, type RunEvent } from "../mod.ts";
import { readNdjson, tempRunsDir, trainCollect } from "./_helpers.ts";

const seed = { backend: "cpu" as const, data: { kind: "synthetic-linear" as const, n: 64 } };
const epochEvents = (events: RunEvent[]) =>
  events.filter((event): event is EpochEvent => event.type === "epoch");

Deno.test("epoch ends that cannot stop the run do not hold the trainer, and every one is recorded in order", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const { result, events } = await trainCollect({ ...seed, runsDir: dir, epochs: 12 });
  assert.equal(result.status, "completed", result.reason);
  const epochs = epochEvents(events);
  assert.deepEqual(epochs.map((e) => e.epoch), [...Array(12).keys()]);
  assert.equal(epochs[0].waited, true, "no answer yet at the first epoch's end: it waits");
  // (whether it goes on past the others also depends on the checkpoint writer being done)
  const recorded = await readNdjson(`${result.runDir}/epochs.ndjson`);
  assert.deepEqual(recorded.map((r) => r.epoch), [...Array(12).keys()]);
  assert.deepEqual(recorded.map((r) => r.loss), epochs.map((e) => e.metrics.loss));
  const last = await loadCheckpoint(`${result.runDir}/checkpoints/last.ckpt`);
  assert.equal(last.state.epoch, 11);
  assert.equal(last.state.step, epochs[11].step);
  assert.ok(last.state.scheduler && last.state.earlyStopper, "both answers are in it");
  const best = await loadCheckpoint(`${result.runDir}/checkpoints/best.ckpt`);
  assert.equal(best.state.epoch, result.bestEpoch);
  assert.equal(epochs.filter((e) => e.isBest).at(-1)!.epoch, result.bestEpoch);
});

// (readbackEvery 4: steps read in windows, as on WebGPU, where the trainer may also go on before
// an epoch's metrics are read: but not where a stop or a new rate is possible.)
for (const readbackEvery of [1, 4]) {
  Deno.test(`the trainer waits at the epoch end where patience can stop the run, and stops there (readbackEvery ${readbackEvery})`, async () => {
    await using runs = await tempRunsDir();
    const { dir } = runs;
    // minDelta far above any change: epoch 0 is the best, epochs 1 and 2 do not improve.
    const { result, events } = await trainCollect({
      ...seed,
      readbackEvery,
      runsDir: dir,
      epochs: 20,
      earlyStopping: { monitor: "loss", patience: 2, minDelta: 1e6 },
    });
    assert.equal(result.status, "stopped", result.reason);
    assert.match(result.reason, /did not improve for 2 epochs/);
    assert.equal(result.epochs, 3);
    const epochs = epochEvents(events);
    assert.deepEqual(epochs.map((e) => e.epoch), [0, 1, 2]);
    assert.ok(epochs[0].waited && epochs[2].waited, "it waits where a stop is possible");
    assert.ok(events.some((e) => e.type === "restored" && e.epoch === 0));
    const last = await loadCheckpoint(`${result.runDir}/checkpoints/last.ckpt`);
    assert.equal(last.state.epoch, 2, "the stopping epoch's checkpoint, not a later one");
  });

  Deno.test(`the trainer waits at the epoch ends where a plateau may lower the rate, and uses the new rate from the next step (readbackEvery ${readbackEvery})`, async () => {
    await using runs = await tempRunsDir();
    const { dir } = runs;
    // A relative threshold of 0.9: no epoch after the first counts as better, so with patience 1
    // the rate halves at the ends of epochs 2 and 4.
    const { result, events } = await trainCollect({
      ...seed,
      readbackEvery,
      runsDir: dir,
      epochs: 6,
      scheduler: { name: "plateau", patience: 1, factor: 0.5, threshold: 0.9 },
    });
    assert.equal(result.status, "completed", result.reason);
    const epochs = epochEvents(events);
    for (const epoch of [0, 2, 4]) {
      assert.ok(epochs[epoch].waited, `it waits where the rate may change (epoch ${epoch})`);
    }
    const lr0 = epochs[0].metrics.lr;
    assert.deepEqual(
      epochs.map((e) => e.metrics.lr / lr0),
      [1, 1, 1, 0.5, 0.5, 0.25],
    );
    const steps = await readNdjson(`${result.runDir}/steps.ndjson`);
    const firstOf = (epoch: number) => steps.find((s) => s.epoch === epoch)!;
    assert.equal(firstOf(3).lr, lr0 / 2, "epoch 3's first step already has the halved rate");
    assert.equal(firstOf(5).lr, lr0 / 4);
  });
}

Deno.test("where steps are read in windows, the trainer goes on before an epoch's metrics are read, and records every epoch as when it reads each step", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const config = {
    ...seed,
    data: { ...seed.data, validationSplit: 0.25 },
    runsDir: dir,
    epochs: 6,
    optimizer: { name: "adam" as const, lr: 0.05 },
  };
  const late = await trainCollect({ ...config, readbackEvery: 4 });
  const eachStep = await trainCollect({ ...config, readbackEvery: 1 });
  assert.equal(late.result.status, "completed", late.result.reason);
  const epochs = epochEvents(late.events);
  // the first end waits (no answers yet), and so does the last (the run ends there)
  assert.deepEqual(epochs.map((e) => e.metricsLate), [false, true, true, true, true, false]);
  assert.ok(epochs.every((e) => !e.metricsLate || !e.waited));
  assert.ok(epochEvents(eachStep.events).every((e) => !e.metricsLate), "read at once: never");
  const strip = (e: EpochEvent) => [e.epoch, e.step, e.metrics, e.isBest];
  assert.deepEqual(epochs.map(strip), epochEvents(eachStep.events).map(strip));
  assert.ok("valLoss" in epochs[3].metrics && epochs[3].metrics.lr === 0.05);
  for (const key of ["status", "epochs", "steps", "bestEpoch", "metrics"] as const) {
    assert.deepEqual(late.result[key], eachStep.result[key], key);
  }
  const records = async (run: typeof late) =>
    (await readNdjson(`${run.result.runDir}/steps.ndjson`)).map((s) => [s.step, s.epoch, s.loss]);
  assert.deepEqual(await records(late), await records(eachStep));
  for (const file of ["last", "best"]) {
    const [a, b] = await Promise.all(
      [late, eachStep].map((run) =>
        loadCheckpoint(`${run.result.runDir}/checkpoints/${file}.ckpt`)
      ),
    );
    assert.deepEqual([a.state.epoch, a.state.step, a.state.metrics], [
      b.state.epoch,
      b.state.step,
      b.state.metrics,
    ]);
    assert.deepEqual(a.weights, b.weights, `${file}.ckpt's weights`);
  }
});

Deno.test("a loss that diverges at an epoch end the trainer went on from (metrics read late) returns the run to that end", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  // The rate jumps 25x at step 4 (epoch 1): epoch 2's loss is over 1.5x epoch 0's, while no
  // step's loss is far enough above the first steps' for the clip monitor to stop the run.
  const config = {
    ...seed,
    runsDir: dir,
    epochs: 4,
    optimizer: { name: "sgd" as const, lr: 0.05 },
    scheduler: { name: "multistep" as const, milestones: [4], gamma: 25 },
    earlyStopping: { divergenceFactor: 1.5 },
  };
  const late = await trainCollect({ ...config, readbackEvery: 4 });
  const eachStep = await trainCollect({ ...config, readbackEvery: 1 });
  for (const run of [late, eachStep]) {
    assert.equal(run.result.status, "diverged");
    assert.match(run.result.reason, /at epoch 2 is over 1\.5x its first value/);
  }
  const epochs = epochEvents(late.events);
  assert.deepEqual(epochs.map((e) => [e.epoch, e.metricsLate]), [[0, false], [1, true], [
    2,
    true,
  ]]);
  // (once: the return is made once, whichever part of the trainer meets the late verdict)
  assert.equal(
    late.events.filter((e) =>
      e.type === "warning" &&
      /verdict on epoch 2 was a stop after training had gone on/.test(e.message)
    ).length,
    1,
  );
  assert.equal(late.events.filter((e) => e.type === "returned").length, 1);
  const strip = (e: EpochEvent) => [e.epoch, e.step, e.metrics];
  assert.deepEqual(epochs.map(strip), epochEvents(eachStep.events).map(strip));
  for (const key of ["epochs", "steps", "metrics", "hint"] as const) {
    assert.deepEqual(late.result[key], eachStep.result[key], key);
  }
  const [a, b] = await Promise.all(
    [late, eachStep].map((run) => loadCheckpoint(`${run.result.runDir}/checkpoints/last.ckpt`)),
  );
  assert.equal(a.state.epoch, 1, "a diverged epoch writes no checkpoint");
  assert.deepEqual(a.weights, b.weights);
  // the undone steps of the epoch it went on into are dropped from the record
  const records = async (run: typeof late) =>
    (await readNdjson(`${run.result.runDir}/steps.ndjson`)).map((s) => [s.step, s.epoch, s.loss]);
  const [lateSteps, eachSteps] = await Promise.all([records(late), records(eachStep)]);
  assert.equal(eachSteps.length, late.result.steps);
  assert.deepEqual(lateSteps, eachSteps);
  const returned = late.events.find((e) => e.type === "returned");
  assert.ok(returned && returned.type === "returned");
  assert.deepEqual([returned.epoch, returned.step], [2, late.result.steps]);
});

Deno.test("an epoch's validation (started at its last window) is of the weights a rollback at that window left", async () => {
  // 121 rows, the last one's target 10^4 with the training order kept: the last batch of every
  // epoch explodes the loss, and the clip monitor rolls back to the last good state (the start)
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const rows = ["a,b,y"];
  let s = 1;
  const noise = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  for (let i = 0; i < 120; i++) {
    const [a, b] = [noise(), noise()];
    rows.push(`${a},${b},${2 * a - 3 * b + 0.1 * noise()}`);
  }
  rows.push("0.1,0.2,10000");
  const path = `${dir}/outlier_last.csv`;
  await Deno.writeTextFile(path, rows.join("\n") + "\n");
  const { events } = await trainCollect({
    backend: "cpu",
    runsDir: dir,
    epochs: 3,
    data: { kind: "csv", path, target: "y", shuffle: false, validationSplit: 0.2 },
    clipping: { onNonFinite: "rollback" },
  });
  const rollbacks = events.filter((e) => e.type === "warning" && /rolled back/.test(e.message));
  const epochs = epochEvents(events);
  assert.ok(epochs.length >= 2 && rollbacks.length >= epochs.length, `${rollbacks.length}`);
  // each epoch ends rolled back to the start: the same weights, the same validation loss
  const losses = epochs.map((e) => e.metrics.valLoss);
  assert.ok(losses.every((v) => v === losses[0]), `validation losses ${losses}`);
});

Deno.test("a small validation split is asked of the data loader once: later epochs' passes reuse its batches", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  // the loader fails if asked for the validation split again at epoch 1's end (or later)
  const data = { kind: "synthetic-linear" as const, n: 80, validationSplit: 0.25 };
  const { result, events } = await trainCollect({ ...seed, data, runsDir: dir, epochs: 4 }, {
    faults: { dataLoader: { kind: "throw", at: "split:validation:1" } },
  });
  assert.equal(result.status, "completed", result.reason);
  const epochs = epochEvents(events);
  assert.deepEqual(epochs.map((e) => e.epoch), [0, 1, 2, 3]);
  for (const epoch of epochs) assert.ok(Number.isFinite(epoch.metrics.valLoss), `${epoch.epoch}`);
  // (the metrics are the loop's, which evaluates the split anew each epoch: in_process_test)
});
