import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { parseConfig } from "../config.ts";
import { selectBackend } from "./backend.ts";
import { loadCheckpoint } from "./checkpoint.ts";
import { AnnealError } from "../errors.ts";
import {
  assertLastWeights,
  csvConfig,
  infiniteRowData,
  readNdjson,
  tempRunsDir,
  trainCollect,
  trainInProcessReleased,
} from "../tests/_helpers.ts";

Deno.test("the actors change nothing about the numbers: same weights and losses as a plain in-process loop", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const input = {
    backend: "cpu" as const,
    runsDir: dir,
    epochs: 4,
    data: { kind: "synthetic-linear" as const, n: 100 },
    model: { kind: "mlp" as const, hidden: [8] },
    optimizer: { name: "sgd" as const, lr: 0.05, momentum: 0.9, nesterov: true },
    scheduler: { name: "cosine" as const, tMax: 28 },
    clipping: { maxNorm: 2 },
    gradientAccumulation: 2,
    batchSize: 8,
  };
  const plain = await trainInProcessReleased(parseConfig(input));
  const { result } = await trainCollect(input);
  const epochs = await readNdjson(`${result.runDir}/epochs.ndjson`);
  assert.equal(plain.steps, result.steps);
  assert.ok(plain.stepSeconds > 0 && plain.stepSeconds <= plain.seconds, "stepSeconds");
  // on cpu every step is read back: the first window is the first step
  assert.equal(plain.firstWindowSteps, 1);
  assert.ok(plain.firstWindowSeconds > 0 && plain.firstWindowSeconds < plain.seconds);
  // Weights bit for bit; epoch losses to float32 rounding (the trainer sums them on the device).
  await assertLastWeights(result.runDir, plain.weights);
  epochs.forEach((e, i) =>
    assert.ok(Math.abs(e.loss - plain.losses[i]) <= 1e-6 * plain.losses[i], `epoch ${i}`)
  );
});

Deno.test("on IDX images (kept as bytes by the loop as by the data loader) the loop trains, validates and tests as the actors do", async () => {
  const plain = await assertSameEnd({
    backend: "cpu",
    epochs: 2,
    data: {
      kind: "idx",
      flatten: true,
      limit: 240,
      testLimit: 40,
      validationSplit: 0.25,
      augment: { noiseStd: 0.1 },
    },
    model: { kind: "mlp", hidden: [8] },
    optimizer: { name: "adam", lr: 0.01 },
    batchSize: 32,
  }, "idx");
  assert.equal(plain.status, "completed");
  assert.ok(
    plain.test && plain.metrics.every((metrics) => "valLoss" in metrics),
    "test, validation",
  );
});

Deno.test("read in windows (on cpu, every step still read before it is applied), the loop's losses and weights are those of reading every step", async () => {
  const input = {
    backend: "cpu" as const,
    epochs: 5,
    data: { kind: "synthetic-linear" as const, n: 90 },
    model: { kind: "mlp" as const, hidden: [6] },
    optimizer: { name: "adam" as const, lr: 0.02 },
    batchSize: 8, // 12 steps an epoch: windows of 5 straddle no epoch end, and end short
  };
  const windows = await trainInProcessReleased(parseConfig({ ...input, readbackEvery: 5 }));
  const each = await trainInProcessReleased(parseConfig({ ...input, readbackEvery: 1 }));
  assert.equal(windows.firstWindowSteps, 1);
  assert.equal(windows.losses.length, 5);
  assert.deepEqual(windows.losses, each.losses);
  assert.ok(windows.losses[4] < windows.losses[0], "it trained");
  assert.deepEqual(windows.weights, each.weights);
});

Deno.test("a step schedule with gamma 0 (torch accepts it) trains at the base rate, then leaves the weights as they are", async () => {
  const input = {
    backend: "cpu" as const,
    data: { kind: "synthetic-linear" as const, n: 64 },
    optimizer: { name: "sgd" as const, lr: 0.05 },
    scheduler: { name: "step" as const, stepSize: 1, gamma: 0, interval: "epoch" as const },
    batchSize: 16,
  };
  const first = await trainInProcessReleased(parseConfig({ ...input, epochs: 1 }));
  const more = await trainInProcessReleased(parseConfig({ ...input, epochs: 3 }));
  assert.ok(first.losses.every(Number.isFinite) && more.losses.every(Number.isFinite));
  // torch's StepLR: lr = 0.05 * 0 ** epoch, 0 from the second epoch on: no step moves a weight
  assert.deepEqual(more.weights, first.weights);
  const constant = await trainInProcessReleased(
    parseConfig({ ...input, scheduler: undefined, epochs: 3 }),
  );
  assert.notDeepEqual(constant.weights, first.weights, "at the base rate the later epochs train");
});

Deno.test("a step schedule with a negative gamma (torch accepts it) climbs the loss while its rate is negative, through the actors as in the loop", async () => {
  await using runs = await tempRunsDir();
  const input = {
    backend: "cpu" as const,
    runsDir: runs.dir,
    epochs: 3,
    data: { kind: "synthetic-linear" as const, n: 64 },
    optimizer: { name: "sgd" as const, lr: 0.05, momentum: 0.5 },
    // torch's StepLR: lr = 0.05 * (-1) ** epoch, so epoch 1 steps up the gradient
    scheduler: { name: "step" as const, stepSize: 1, gamma: -1, interval: "epoch" as const },
    batchSize: 16,
  };
  const flipped = await trainInProcessReleased(parseConfig(input));
  const steady = await trainInProcessReleased(
    parseConfig({ ...input, scheduler: { ...input.scheduler, gamma: 1 } }),
  );
  assert.ok(flipped.losses.every(Number.isFinite));
  assert.equal(flipped.losses[0], steady.losses[0], "the same first epoch at the base rate");
  assert.ok(flipped.losses[1] > steady.losses[1], "the negative rate climbs the loss");
  const { result } = await trainCollect(input);
  await assertLastWeights(result.runDir, flipped.weights);
});

Deno.test("the loop makes the trainer's start checks: batch norm over an epoch's last batch of one sample is refused, as through the actors", async () => {
  await using runs = await tempRunsDir();
  const input = {
    backend: "cpu" as const,
    runsDir: runs.dir,
    epochs: 1,
    // 33 samples in batches of 8: the last batch holds one
    data: { kind: "synthetic-linear" as const, n: 33 },
    model: { kind: "mlp" as const, hidden: [4], batchNorm: true },
    batchSize: 8,
  };
  await selectBackend("cpu", "mlp");
  const tensors = tf.memory().numTensors;
  const refused = await trainInProcessReleased(parseConfig(input)).then(
    () => assert.fail("the in-process loop trained on a batch of one sample"),
    (error) => error,
  );
  assert.ok(refused instanceof AnnealError, String(refused));
  // the refusal leaves no model behind (whose weights would take the next model's names)
  assert.equal(tf.memory().numTensors, tensors, "tensors left by the refused run");
  assert.equal(refused.where, "batchSize");
  assert.match(refused.message, /last batch of one sample/);
  // the trainer actor refuses it with the same error (the run's result rejects with it)
  const actor = await trainCollect(input).then(
    () => assert.fail("the actors trained on a batch of one sample"),
    (error) => error,
  );
  assert.ok(actor instanceof AnnealError, String(actor));
  assert.equal(actor.where, "batchSize");
  assert.equal(actor.message, refused.message);
  // with the short batch dropped, both train
  const dropped = { ...input, data: { ...input.data, dropLast: true } };
  const trained = await trainInProcessReleased(parseConfig(dropped));
  assert.equal(trained.steps, 4);
  assert.ok("dense0/kernel" in trained.weights, Object.keys(trained.weights).join());
});

// (readbackEvery 5 on cpu: 12 steps an epoch in windows of 5, 5 and 2, each read as it ends; the
// threshold moves at each window's end)
for (const readbackEvery of [undefined, 5]) {
  Deno.test(`under adaptive clipping (clipping.autoPercentile) the loop clips at the percentile of the norms it read, as the actors do: same weights, losses and threshold (readbackEvery ${readbackEvery})`, async () => {
    await using runs = await tempRunsDir();
    const input = {
      backend: "cpu" as const,
      runsDir: runs.dir,
      epochs: 3,
      data: { kind: "synthetic-linear" as const, n: 96 },
      model: { kind: "mlp" as const, hidden: [8] },
      optimizer: { name: "sgd" as const, lr: 0.1, momentum: 0.9 },
      // the first step clipped at maxNorm, each later one at the 25th percentile of the norms before
      clipping: { autoPercentile: 25, maxNorm: 0.5 },
      batchSize: 8,
      readbackEvery,
    };
    const plain = await trainInProcessReleased(parseConfig(input));
    const { result } = await trainCollect(input);
    assert.equal(plain.steps, result.steps);
    await assertLastWeights(result.runDir, plain.weights);
    const epochs = await readNdjson(`${result.runDir}/epochs.ndjson`);
    epochs.forEach((e, i) =>
      assert.ok(Math.abs(e.loss - plain.losses[i]) <= 1e-6 * plain.losses[i], `epoch ${i}`)
    );
    const saved = await loadCheckpoint(`${result.runDir}/checkpoints/last.ckpt`);
    assert.equal(plain.clipThreshold, saved.state.clipThreshold);
    assert.notEqual(plain.clipThreshold, 0.5, "the threshold moved with the norms");
    // the percentile clips: at maxNorm alone the loop trains otherwise
    const fixed = await trainInProcessReleased(
      parseConfig({ ...input, clipping: { maxNorm: 0.5 } }),
    );
    assert.notDeepEqual(fixed.weights, plain.weights);
    assert.equal(fixed.clipThreshold, 0.5);
  });
}

/**
 * Trains `input` through the loop and through the actors: the same end (status, steps, reason,
 * hint, best epoch), the same epochs (each one's loss, metrics, validation metrics and rate), the
 * same test metrics, and, where the run did not diverge, the same final weights bit for bit: the
 * best epoch's (best.ckpt) where the actors restored them, else those of last.ckpt.
 */
async function assertSameEnd(input: Record<string, unknown>, label: string) {
  await using runs = await tempRunsDir();
  const config = { ...input, runsDir: runs.dir };
  const plain = await trainInProcessReleased(parseConfig(config));
  const { result, events } = await trainCollect(config as Parameters<typeof trainCollect>[0]);
  assert.equal(plain.status, result.status, `${label}: ${result.reason}`);
  assert.equal(plain.steps, result.steps, `${label}: steps`);
  assert.equal(plain.reason, result.reason, `${label}: reason`);
  assert.equal(plain.hint, result.hint, `${label}: hint`);
  assert.equal(plain.bestEpoch, result.bestEpoch, `${label}: best epoch`);
  const epochs = await readNdjson(`${result.runDir}/epochs.ndjson`).catch(() => []);
  assert.equal(plain.metrics.length, epochs.length, `${label}: epochs`);
  assert.deepEqual(plain.losses, plain.metrics.map((metrics) => metrics.loss), label);
  // (the records write a NaN or infinite value as its string, "NaN", "Infinity")
  const close = (written: number | string, mine: number) => {
    const theirs = Number(written);
    return Object.is(theirs, mine) || Math.abs(theirs - mine) <= 1e-6 * Math.abs(mine);
  };
  epochs.forEach(({ epoch: _, step: _step, seconds: _seconds, ...metrics }, i) => {
    const mine = plain.metrics[i];
    assert.deepEqual(Object.keys(mine).sort(), Object.keys(metrics).sort(), `${label}: epoch ${i}`);
    for (const [name, value] of Object.entries(metrics)) {
      assert.ok(
        close(value, mine[name]),
        `${label}: epoch ${i}'s ${name}, ${value} and ${mine[name]}`,
      );
    }
  });
  assert.deepEqual(plain.test, result.test, `${label}: test`);
  const restored = events.find((event) => event.type === "restored");
  assert.equal(plain.restored, restored?.epoch, `${label}: restored`);
  if (plain.status !== "diverged") {
    const saved = await loadCheckpoint(
      `${result.runDir}/checkpoints/${restored ? "best" : "last"}.ckpt`,
    );
    for (const [name, weight] of Object.entries(plain.weights)) {
      assert.deepEqual(saved.weights[name].values, weight.values, `${label}: ${name}`);
    }
  }
  return plain;
}

// (readbackEvery 3 on cpu: every step is still read before it is applied, and each decision
// applies at the next step, as reading every step)
for (const readbackEvery of [undefined, 3]) {
  Deno.test(`a diverging run ends in the loop as through the actors, for each clipping.onNonFinite: an exploding loss, a non-finite one, skips that do not help, an epoch's loss (readbackEvery ${readbackEvery})`, async () => {
    const input = {
      backend: "cpu" as const,
      epochs: 4,
      data: { kind: "synthetic-linear" as const, n: 64 },
      model: { kind: "mlp" as const, hidden: [8] },
      batchSize: 8,
      readbackEvery,
    };
    const ends: string[] = [];
    for (const lr of [0.5, 3, 1e20]) {
      for (const onNonFinite of ["stop", "skip", "rollback"] as const) {
        const plain = await assertSameEnd({
          ...input,
          optimizer: { name: "sgd" as const, lr, momentum: 0.9 },
          clipping: { onNonFinite },
        }, `lr ${lr}, ${onNonFinite}`);
        ends.push(
          `${lr.toExponential()} ${onNonFinite}: ${plain.status} ${plain.steps} ${plain.reason}`,
        );
      }
    }
    const all = ends.join("\n");
    // the paths these runs take (each one's end is the actors' above)
    assert.match(all, /5e-1 stop: diverged 5 .*the loss exploded/, all);
    assert.match(all, /3e\+0 rollback: completed 32/, all); // three rollbacks, the rate 1000x lower
    assert.match(all, /1e\+20 stop: diverged 2 .*the loss became Infinity/, all);
    assert.match(all, /1e\+20 rollback: diverged .*\(rollback did not help\)/, all);
    assert.match(all, /skip: diverged .*at epoch 1/, all); // every step skipped: the epoch's loss
  });

  Deno.test(`a batch whose loss is infinite every epoch is skipped, stops the run, or is rolled back from, in the loop as through the actors (readbackEvery ${readbackEvery})`, async () => {
    await using dir = await tempRunsDir();
    // 40 rows y = 2x in batches of 8; row 13's x so large that its loss overflows to Infinity,
    // in the second batch of every epoch
    const input = {
      backend: "cpu" as const,
      epochs: 5,
      data: await infiniteRowData(dir.dir),
      model: { kind: "mlp" as const, hidden: [4] },
      optimizer: { name: "adam" as const, lr: 0.01 },
      batchSize: 8,
      readbackEvery,
    };
    const skip = await assertSameEnd({ ...input, clipping: { onNonFinite: "skip" } }, "skip");
    assert.equal(skip.status, "completed");
    assert.equal(skip.steps, 25);
    // under adaptive clipping, clipped at the 25th percentile of the norms before each step (in
    // windows of 3, of the windows before its own: the skipped step ends its window early, the
    // threshold moves at the window's fixed end only)
    const clipped = await assertSameEnd({
      ...input,
      clipping: { onNonFinite: "skip", autoPercentile: 25, maxNorm: 0.5 },
    }, "skip, adaptive clipping");
    assert.equal(clipped.status, "completed");
    assert.notEqual(clipped.clipThreshold, 0.5, "the threshold moved with the norms");
    const stop = await assertSameEnd({ ...input, clipping: { onNonFinite: "stop" } }, "stop");
    assert.equal(stop.status, "diverged");
    assert.equal(stop.steps, 2, "it stops at the batch's first step");
    const rollback = await assertSameEnd(
      { ...input, clipping: { onNonFinite: "rollback" } },
      "rollback",
    );
    // three rollbacks, at epochs 0-2; the fourth time it stops
    assert.equal(rollback.status, "diverged");
    assert.equal(rollback.steps, 17);
    assert.match(rollback.reason!, /rollback did not help/);
  });
}

/** Regression with a validation split (its epochs log valLoss and valMae), 12 steps an epoch. */
const validated = {
  backend: "cpu" as const,
  epochs: 20,
  data: { kind: "synthetic-linear" as const, n: 120, validationSplit: 0.25 },
  model: { kind: "mlp" as const, hidden: [8] },
  optimizer: { name: "sgd" as const, lr: 0.02, momentum: 0.5 },
  batchSize: 8,
};

// (readbackEvery 3 on cpu: the trainer goes on from an epoch end that patience cannot stop at
// before its validation pass is read; the loop judges each end as it comes)
for (const readbackEvery of [undefined, 3]) {
  Deno.test(`early stopping by patience stops the loop at the epoch end it stops the actors at, watching what they watch (valLoss, valMae under a baseline, the training loss), with the same reason, metrics and weights (readbackEvery ${readbackEvery})`, async () => {
    const ends: string[] = [];
    for (
      const earlyStopping of [
        { patience: 2, minDelta: 0.02 },
        { monitor: "valMae", patience: 1, baseline: 0.5 },
        { monitor: "loss", patience: 0, minDelta: 0.5 },
      ]
    ) {
      const label = JSON.stringify(earlyStopping);
      const plain = await assertSameEnd({
        ...validated,
        readbackEvery,
        earlyStopping: { ...earlyStopping, restoreBest: false },
      }, label);
      assert.ok("valLoss" in plain.metrics[0] && "valMae" in plain.metrics[0], label);
      ends.push(`${label}: ${plain.status} after ${plain.metrics.length}: ${plain.reason}`);
    }
    const all = ends.join("\n");
    // each stops well before its 20 epochs, patience run out
    assert.match(
      all,
      /minDelta":0.02}: stopped after 4: early stopping: valLoss did not improve for 2 epochs/,
      all,
    );
    assert.match(
      all,
      /baseline":0.5}: stopped after 3: early stopping: valMae did not beat its baseline 0\.5 in 3 epochs/,
      all,
    );
    assert.match(
      all,
      /"loss".*: stopped after \d: early stopping: loss did not improve for 1 epoch /,
      all,
    );
  });
}

Deno.test("restoreBest ends the loop with its best epoch's weights where the actors restore them: a run patience stopped, and one that trained every epoch past its best", async () => {
  const stopped = await assertSameEnd(
    { ...validated, earlyStopping: { patience: 3, minDelta: 0.01 } },
    "stopped",
  );
  assert.equal(stopped.status, "stopped");
  assert.ok(stopped.restored !== undefined && stopped.restored < stopped.metrics.length - 1);
  // the same run without restoreBest ends with its last epoch's weights
  const kept = await trainInProcessReleased(parseConfig({
    ...validated,
    earlyStopping: { patience: 3, minDelta: 0.01, restoreBest: false },
  }));
  assert.equal(kept.steps, stopped.steps);
  assert.equal(kept.restored, undefined);
  assert.notDeepEqual(kept.weights, stopped.weights);
  // patience longer than the run: every epoch trained, none improving by minDelta after the first
  const completed = await assertSameEnd(
    { ...validated, epochs: 4, earlyStopping: { patience: 20, minDelta: 10 } },
    "completed",
  );
  assert.equal(completed.status, "completed");
  assert.equal(completed.restored, 0);
});

Deno.test("a plateau schedule cuts the loop's rate at the epoch ends it cuts the actors', watching the metric early stopping names, also after a rollback's 10x cut", async () => {
  const plateau = { name: "plateau" as const, patience: 1, factor: 0.5, threshold: 0.05 };
  for (const monitor of ["valLoss", "valMae"]) {
    const plain = await assertSameEnd({
      ...validated,
      epochs: 8,
      scheduler: plateau,
      earlyStopping: { monitor },
    }, monitor);
    const rates = new Set(plain.metrics.map((metrics) => metrics.lr));
    assert.ok(rates.size > 1, `${monitor}: the rate was cut (${[...rates]})`);
  }
  // rolled back from an exploding loss: every rate after it a tenth, the plateau's cuts as well
  const rolled = await assertSameEnd({
    ...validated,
    epochs: 8,
    optimizer: { name: "sgd" as const, lr: 0.5, momentum: 0.9 },
    clipping: { onNonFinite: "rollback" },
    scheduler: { ...plateau, patience: 0 },
  }, "rollback");
  assert.equal(rolled.status, "completed");
  assert.ok(rolled.metrics.some((metrics) => metrics.lr < 0.05), "rolled back");
});

Deno.test("warmups step the loop's rates as the scheduler actor's plans step the actors': warmupCosine, and a sequential linear warmup then cosine, under early stopping by patience", async () => {
  const schedulers = [
    { name: "warmupCosine" as const, warmupSteps: 20, totalSteps: 96 },
    {
      name: "sequential" as const,
      schedulers: [
        { name: "linear" as const, startFactor: 0.1, totalIters: 20 },
        { name: "cosine" as const, tMax: 76 },
      ],
      milestones: [20],
    },
  ];
  for (const scheduler of schedulers) {
    const plain = await assertSameEnd({
      ...validated,
      epochs: 8,
      scheduler,
      earlyStopping: { patience: 2, minDelta: 0.01 },
    }, scheduler.name);
    assert.ok(plain.metrics[0].lr < plain.metrics[2].lr, `${scheduler.name}: it warmed up`);
  }
});

Deno.test("a step budget ends the loop as it ends the actors: within an epoch (the best epoch's weights restored), at an epoch's end, and at the run's last step (completed)", async () => {
  const earlyStopping = { patience: 10 };
  const within = await assertSameEnd(
    { ...validated, epochs: 6, maxSteps: 40, earlyStopping },
    "within",
  );
  assert.equal(within.status, "stopped");
  assert.equal(within.reason, "budget: reached maxSteps = 40");
  assert.equal(within.metrics.length, 3); // epoch 3 stopped at its 4th step, never ended
  assert.equal(within.restored, within.bestEpoch);
  const atEnd = await assertSameEnd(
    { ...validated, epochs: 6, maxSteps: 36, earlyStopping },
    "at an end",
  );
  assert.equal(atEnd.status, "stopped");
  assert.equal(atEnd.metrics.length, 3);
  const last = await assertSameEnd({ ...validated, epochs: 3, maxSteps: 36 }, "last");
  assert.equal(last.status, "completed");
});

Deno.test("the loop evaluates the test split on its final weights (the best epoch's under restoreBest), as the actors do", async () => {
  await using dir = await tempRunsDir();
  const { runsDir: _, ...input } = JSON.parse(await Deno.readTextFile(await csvConfig(dir.dir, 8)));
  const plain = await assertSameEnd({
    ...input,
    optimizer: { name: "adam", lr: 0.2 },
    earlyStopping: { patience: 2, minDelta: 0.001 },
  }, "test");
  assert.ok(plain.test && Number.isFinite(plain.test.loss), JSON.stringify(plain.test));
  assert.equal(plain.status, "stopped");
  assert.equal(plain.restored, plain.bestEpoch);
});

Deno.test("on WebGPU (read in windows, going on from an epoch end before its reads are back where no stop or new rate can come of it), the loop stops by patience, restores the best epoch, cuts the rate on a plateau and spends a step budget as the actors do", async () => {
  const input = { ...validated, backend: "webgpu" as const, readbackEvery: 4 };
  const stopped = await assertSameEnd(
    { ...input, earlyStopping: { patience: 3, minDelta: 0.01 } },
    "patience",
  );
  assert.equal(stopped.status, "stopped");
  assert.notEqual(stopped.restored, undefined);
  const plateau = await assertSameEnd({
    ...input,
    epochs: 8,
    scheduler: { name: "plateau" as const, patience: 1, factor: 0.5, threshold: 0.05 },
  }, "plateau");
  assert.ok(new Set(plateau.metrics.map((metrics) => metrics.lr)).size > 1, "the rate was cut");
  const budget = await assertSameEnd(
    { ...input, epochs: 6, maxSteps: 40, earlyStopping: { patience: 10 } },
    "budget",
  );
  assert.equal(budget.reason, "budget: reached maxSteps = 40");
});
