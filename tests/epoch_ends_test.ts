// The trainer meets the scheduler and the early stopper at epoch ends only where their answers
// could stop the run or change the learning rates; elsewhere it goes on, and nothing is lost.
import assert from "node:assert/strict";
import { type EpochEvent, loadCheckpoint, type RunEvent } from "../mod.ts";
import { readNdjson, tempRunsDir, trainCollect } from "./_helpers.ts";

const seed = { backend: "cpu" as const, data: { kind: "synthetic-linear" as const, n: 64 } };
const epochEvents = (events: RunEvent[]) =>
  events.filter((event): event is EpochEvent => event.type === "epoch");

Deno.test("epoch ends that cannot stop the run do not hold the trainer, and every one is recorded in order", async () => {
  const { dir, cleanup } = await tempRunsDir();
  try {
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
  } finally {
    await cleanup();
  }
});

Deno.test("the trainer waits at the epoch end where patience can stop the run, and stops there", async () => {
  const { dir, cleanup } = await tempRunsDir();
  try {
    // minDelta far above any change: epoch 0 is the best, epochs 1 and 2 do not improve.
    const { result, events } = await trainCollect({
      ...seed,
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
  } finally {
    await cleanup();
  }
});

Deno.test("the trainer waits at the epoch ends where a plateau may lower the rate, and uses the new rate from the next step", async () => {
  const { dir, cleanup } = await tempRunsDir();
  try {
    // A relative threshold of 0.9: no epoch after the first counts as better, so with patience 1
    // the rate halves at the ends of epochs 2 and 4.
    const { result, events } = await trainCollect({
      ...seed,
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
  } finally {
    await cleanup();
  }
});

Deno.test("an epoch's validation (started at its last window) is of the weights a rollback at that window left", async () => {
  // 121 rows, the last one's target 10^4 with the training order kept: the last batch of every
  // epoch explodes the loss, and the clip monitor rolls back to the last good state (the start)
  const { dir, cleanup } = await tempRunsDir();
  try {
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
  } finally {
    await cleanup();
  }
});
