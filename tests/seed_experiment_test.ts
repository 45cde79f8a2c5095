import assert from "node:assert/strict";
import { readNdjson, tempRunsDir, trainCollect } from "./_helpers.ts";

Deno.test("the seed experiment reaches a final training loss within 0.22-0.26 through the five actors", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const { result, events } = await trainCollect({ backend: "cpu", runsDir: dir });
  assert.equal(result.status, "completed", result.reason);
  assert.equal(result.epochs, 50);
  assert.equal(result.steps, 50 * 13, "updates per epoch = ceil(200 / 16) = 13");
  const epochs = events.filter((e) => e.type === "epoch");
  assert.equal(epochs.length, 50);
  for (const e of epochs) {
    if (e.type !== "epoch") continue;
    // The steps' own work is part of the epoch's wall time, never more.
    assert.ok(e.stepSeconds > 0 && e.stepSeconds <= e.seconds, `epoch ${e.epoch} stepSeconds`);
  }
  const first = epochs[0].type === "epoch" ? epochs[0].metrics.loss : NaN;
  const last = result.metrics.loss;
  assert.ok(first > 3, `epoch 0 loss ${first} should be high (the seed notebook shows 6.67)`);
  assert.ok(last >= 0.22 && last <= 0.26, `final loss ${last} outside 0.22-0.26`);
  // The run record holds every step and epoch.
  const steps = await readNdjson(`${result.runDir}/steps.ndjson`);
  assert.equal(steps.length, 650);
  assert.deepEqual(steps.map((s) => s.step), [...Array(650).keys()]);
  const records = await readNdjson(`${result.runDir}/epochs.ndjson`);
  assert.equal(records.length, 50);
  const summary = JSON.parse(await Deno.readTextFile(`${result.runDir}/summary.json`));
  assert.equal(summary.status, "completed");
  const meta = JSON.parse(await Deno.readTextFile(`${result.runDir}/meta.json`));
  assert.equal(meta.backend, "cpu");
  assert.match(meta.fingerprint, /^[0-9a-f]{64}$/);
});

Deno.test("a learning rate of 10 stops on divergence and names the cause and the fix", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const { result, events } = await trainCollect({
    backend: "cpu",
    runsDir: dir,
    optimizer: { name: "sgd", lr: 10 },
  });
  assert.equal(result.status, "diverged");
  assert.match(result.reason, /diverged at step 1: the loss exploded/, "caught at once");
  assert.match(result.hint ?? "", /learning rate too high: divide by 10/);
  assert.match(result.hint ?? "", /optimizer\.lr=1\b/);
  for (const event of events) {
    if (event.type === "epoch") {
      assert.ok(Number.isFinite(event.metrics.loss), "no NaN epoch losses are reported");
    }
  }
  assert.ok(result.epochs < 50);
});

Deno.test("onNonFinite 'rollback' recovers from lr = 10: back to the last good state, LR cut 10x each time", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const { result, events } = await trainCollect({
    backend: "cpu",
    runsDir: dir,
    optimizer: { name: "sgd", lr: 10 },
    clipping: { onNonFinite: "rollback" },
  });
  assert.equal(result.status, "completed", result.reason);
  const rollbacks = events.filter((e) => e.type === "warning" && /rolled back/.test(e.message));
  assert.ok(rollbacks.length >= 1 && rollbacks.length <= 3, `${rollbacks.length} rollbacks`);
  const steps = await readNdjson(`${result.runDir}/steps.ndjson`);
  assert.ok(
    steps.at(-1)!.lr <= 0.1 + 1e-12,
    `final lr ${steps.at(-1)!.lr} is cut by 10x per rollback`,
  );
  assert.ok(result.metrics.loss < 0.3, `final loss ${result.metrics.loss}`);
});

Deno.test("batch sizes 1, 2 and 4 at a sane learning rate train without a false divergence", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  for (const [batchSize, lr] of [[1, 0.001], [1, 0.01], [2, 0.01], [4, 0.01]]) {
    const { result } = await trainCollect({
      backend: "cpu",
      runsDir: dir,
      batchSize,
      epochs: 2,
      optimizer: { name: "sgd", lr },
    });
    assert.equal(result.status, "completed", `batch ${batchSize}, lr ${lr}: ${result.reason}`);
    assert.equal(result.steps, 2 * Math.ceil(200 / batchSize));
  }
});

Deno.test("at batch size 1 a far too high learning rate still stops in its first epoch", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  for (const lr of [1, 10]) {
    const { result } = await trainCollect({
      backend: "cpu",
      runsDir: dir,
      batchSize: 1,
      epochs: 2,
      optimizer: { name: "sgd", lr },
    });
    assert.equal(result.status, "diverged", `lr ${lr}`);
    assert.ok(result.steps <= 40, `lr ${lr}: stopped after ${result.steps} steps`);
    assert.match(result.hint ?? "", /learning rate too high: divide by 10/);
  }
});
