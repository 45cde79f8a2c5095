import assert from "node:assert/strict";
import { baseLearningRate, parseConfig } from "../config.ts";
import type { AnnealError } from "../errors.ts";
import { loadData } from "../data/mod.ts";
import { findBatchSize } from "./batch_size.ts";
import { TrainingEngine } from "./engine.ts";

Deno.test("the batch-size finder measures each size, scales the LR linearly and stops at the memory budget", async () => {
  const config = parseConfig({
    backend: "cpu",
    data: { kind: "synthetic-linear", n: 512 },
    model: { kind: "mlp", hidden: [256, 256] },
    batchSize: 16,
    optimizer: { name: "sgd", lr: 0.01 },
  });
  const open = await findBatchSize(config, { sizes: [8, 16, 32], steps: 1 });
  assert.equal(open.backend, "cpu");
  assert.deepEqual(open.rows.map((r) => r.batchSize), [8, 16, 32]);
  assert.deepEqual(open.rows.map((r) => r.scaledLr), [0.005, 0.01, 0.02]);
  assert.ok(open.rows.every((r) => r.fits && r.msPerStep! > 0 && r.peakMiB! > 0));
  assert.equal(open.largest, 32);
  assert.equal(open.use, "--set batchSize=32 --set optimizer.lr=0.02");
  assert.ok(open.rows[2].peakMiB! > open.rows[0].peakMiB!, "bigger batches hold more activations");
  const budget = (open.rows[0].peakMiB! + open.rows[2].peakMiB!) / 2;
  const limited = await findBatchSize(config, {
    sizes: [8, 16, 32, 64],
    steps: 1,
    memoryLimitMiB: budget,
  });
  assert.ok(limited.largest! < 32, `a ${budget.toFixed(2)} MiB budget rules out 32`);
  assert.equal(limited.rows.at(-1)!.fits, false, "the first size over budget ends the search");
});

Deno.test("steps far under a millisecond are timed for 50 ms in blocks, the median block the size's time: a pause among 3 had read batch 8 550x slower than 16", async () => {
  const config = parseConfig({ backend: "cpu", data: { kind: "synthetic-linear", n: 200 } });
  const { rows } = await findBatchSize(config, { sizes: [8, 16], steps: 3 });
  for (const row of rows) {
    assert.ok(row.stepsTimed! > 3 && row.stepsTimed! <= 5000, `${row.stepsTimed} steps timed`);
    assert.ok(row.msPerStep! > 0 && row.msPerStep! < 50, `${row.msPerStep} ms`);
  }
});

Deno.test("on the TypeScript step the finder counts the host arrays, and never tries a batch larger than the data", async () => {
  const config = parseConfig({ backend: "cpu", optimizer: { name: "sgd", lr: 0.01 } });
  const result = await findBatchSize(config, { sizes: [8, 32, 128, 1000], steps: 1 });
  const engine = new TrainingEngine(config, (await loadData(config.data, config.seed)).train);
  assert.equal(engine.modelPath, "host", "the seed's linear model steps in TypeScript");
  engine.dispose();
  const measured = result.rows.slice(0, 3);
  assert.ok(measured.every((r) => r.fits && Number.isFinite(r.peakMiB) && r.peakMiB! > 0));
  const bytes = measured.map((r) => r.peakMiB! * 2 ** 20);
  assert.ok(bytes[0] < bytes[1] && bytes[1] < bytes[2], `peak bytes ${bytes}`);
  // Per sample: 2 inputs and 1 target (float32), 1 activation and its gradient (float64).
  assert.equal(bytes[2] - bytes[1], (128 - 32) * (4 * 3 + 8 * 2));
  const [oversized] = result.rows.slice(3);
  assert.equal(result.trainSize, 200);
  assert.deepEqual([oversized.batchSize, oversized.fits, oversized.peakMiB], [
    1000,
    false,
    undefined,
  ]);
  assert.match(oversized.skipped!, /more than the 200 training samples/);
  assert.equal(result.largest, 128);

  const budget = (measured[0].peakMiB! + measured[1].peakMiB!) / 2;
  const limited = await findBatchSize(config, {
    sizes: [8, 32, 128],
    steps: 1,
    memoryLimitMiB: budget,
  });
  assert.equal(limited.largest, 8, `a budget of ${budget * 2 ** 20} bytes rules out 32`);
  // The size over the budget says so; the larger ones are listed as not tried, saying why (the
  // search stopped at 32 and left 128 out of the result, without a word).
  assert.deepEqual(limited.rows.map((r) => [r.batchSize, r.fits]), [[8, true], [32, false], [
    128,
    false,
  ]]);
  const over = limited.rows[1];
  const said = over.overLimit?.match(/^peak (\S+) MiB above the memory limit of (\S+) MiB$/);
  assert.ok(said, over.overLimit);
  // (4 significant digits, without the zeros toExponential pads to: "6e-4", not "6.000e-4")
  for (const [text, value] of [[said[1], over.peakMiB!], [said[2], budget]] as const) {
    assert.ok(Math.abs(Number(text) / value - 1) < 5e-4, `${text} for ${value}`);
    assert.doesNotMatch(text, /\.\d*0e|\.e/, `${text} has no padding zeros`);
  }
  assert.equal(limited.rows[2].peakMiB, undefined);
  assert.equal(limited.rows[2].skipped, "a smaller batch, 32, did not fit");

  // A host optimizer's slots count too: Adam's two moments, 4 bytes each per parameter.
  const adam = await findBatchSize(
    parseConfig({ backend: "cpu", optimizer: { name: "adam", lr: 0.01 } }),
    { sizes: [32], steps: 1 },
  );
  assert.equal(adam.rows[0].peakMiB! * 2 ** 20 - bytes[1], 2 * 4 * 3);
});

Deno.test("under onecycle the finder scales its maxLr, which sets the rates, not optimizer.lr", async () => {
  // 200 samples in batches of 16: 13 steps an epoch, 26 in 2 epochs; in batches of 32, 7 and 14
  const onecycle = { name: "onecycle" as const, maxLr: 0.4, totalSteps: 26 };
  const base = { backend: "cpu" as const, epochs: 2, optimizer: { name: "sgd" as const, lr: 0 } };
  const alone = await findBatchSize(parseConfig({ ...base, scheduler: onecycle }), {
    sizes: [8, 32],
    steps: 1,
  });
  assert.deepEqual(alone.rows.map((r) => r.scaledLr), [0.2, 0.8]);
  assert.equal(
    alone.use,
    "--set batchSize=32 --set scheduler.totalSteps=14 --set scheduler.maxLr=0.8: onecycle's " +
      "rates come from its maxLr, not optimizer.lr",
  );
  // a sequential's onecycle, which --set cannot reach: the words say which schedule to edit
  const scheduler = { name: "sequential" as const, schedulers: [onecycle], milestones: [] };
  const nested = await findBatchSize(
    parseConfig({
      ...base,
      batchSize: 32,
      scheduler: { ...scheduler, schedulers: [{ ...onecycle, totalSteps: 14 }] },
    }),
    {
      sizes: [32],
      steps: 1,
    },
  );
  assert.match(
    nested.use ?? "",
    /^--set batchSize=32; in the config file, set the maxLr of the sequential's onecycle, scheduler\.schedulers\[0\], to 0\.4/,
  );
  // where its length changes, its list is set whole, the maxLr in it
  const stretched = await findBatchSize(parseConfig({ ...base, scheduler }), {
    sizes: [32],
    steps: 1,
  });
  assert.match(
    stretched.use ?? "",
    /^--set batchSize=32 --set 'scheduler\.schedulers=\[\{"name":"onecycle","maxLr":0\.8,"totalSteps":14,.*\}\]': the list holds the onecycle's maxLr, which sets the rates, scaled to 0\.8$/,
  );
});

Deno.test("sizes given largest first are measured from the smallest up: one over the budget leaves the smaller ones", async () => {
  const config = parseConfig({
    backend: "cpu",
    data: { kind: "synthetic-linear", n: 512 },
    model: { kind: "mlp", hidden: [64] },
    optimizer: { name: "sgd", lr: 0.01 },
  });
  const open = await findBatchSize(config, { sizes: [8, 128], steps: 1 });
  const budget = (open.rows[0].peakMiB! + open.rows[1].peakMiB!) / 2;
  // (taken in the order given, 128 failed the budget first and 32 and 8 were never measured)
  const result = await findBatchSize(config, {
    sizes: [128, 32, 8, 32],
    steps: 1,
    memoryLimitMiB: budget,
  });
  assert.deepEqual(result.rows.map((r) => [r.batchSize, r.fits]), [[8, true], [32, true], [
    128,
    false,
  ]]);
  assert.equal(result.largest, 32);
  await assert.rejects(
    () => findBatchSize(config, { sizes: [8], steps: 0 }),
    /'steps' must be an integer >= 1, current value is 0/,
  );
  await assert.rejects(
    () => findBatchSize(config, { sizes: [8, 2.5] }),
    /each of 'sizes' must be an integer >= 1, current value is 2.5/,
  );
  // (from plain JS, a number for the list: a TypeError from inside)
  await assert.rejects(
    () => findBatchSize(config, { sizes: 8 as unknown as number[] }),
    /^AnnealError: Cannot time the batch sizes: 'sizes' must be a list of batch sizes, current value is 8$/,
  );
});

Deno.test("with optimizer.baseBatch the finder shows the rate the run trains at, and changes the batch alone", async () => {
  const config = parseConfig({
    backend: "cpu",
    batchSize: 16,
    optimizer: { name: "sgd", lr: 0.01, baseBatch: 32 },
  });
  const result = await findBatchSize(config, { sizes: [16, 64], steps: 1 });
  // the run scales optimizer.lr from baseBatch itself: at 64 it trains at 0.02, not 0.04
  const trainsAt = (batchSize: number) =>
    baseLearningRate(parseConfig({ ...config, batchSize })).lr;
  assert.deepEqual(result.rows.map((r) => r.scaledLr), [trainsAt(16), trainsAt(64)]);
  assert.deepEqual(result.rows.map((r) => r.scaledLr), [0.005, 0.02]);
  // (--set optimizer.lr=0.04 as well had the run train at 0.04 x 64 / 32 = 0.08)
  assert.equal(
    result.use,
    "--set batchSize=64: optimizer.baseBatch (32) scales optimizer.lr (0.01) to the batch, so " +
      "the run trains at 0.02",
  );
});

Deno.test("the batch to use keeps a schedule with an end spanning the run: onecycle's totalSteps and a cosine's tMax in steps follow the steps an epoch takes", async () => {
  // 200 samples: batches of 16 take 13 steps an epoch, 2 epochs 26; batches of 64 take 4, 8
  const base = {
    backend: "cpu" as const,
    epochs: 2,
    optimizer: { name: "sgd" as const, lr: 0.01 },
  };
  const onecycle = await findBatchSize(
    parseConfig({ ...base, scheduler: { name: "onecycle", maxLr: 0.1, totalSteps: 26 } }),
    { sizes: [16, 64], steps: 1 },
  );
  // (it said --set batchSize=64 alone: the run's onecycle ended at step 8 of 26, near its peak)
  assert.deepEqual(onecycle.scheduleChanges, { "scheduler.totalSteps": 8 });
  assert.match(
    onecycle.use!,
    /^--set batchSize=64 --set scheduler\.totalSteps=8 --set scheduler\.maxLr=0\.4:/,
  );
  const cosine = await findBatchSize(
    parseConfig({ ...base, scheduler: { name: "cosine", tMax: 26 } }),
    { sizes: [64], steps: 1 },
  );
  assert.equal(cosine.use, "--set batchSize=64 --set scheduler.tMax=8 --set optimizer.lr=0.04");
  // counted in epochs, it spans the run at any batch
  const epochs = await findBatchSize(
    parseConfig({ ...base, scheduler: { name: "cosine", tMax: 2, interval: "epoch" } }),
    { sizes: [64], steps: 1 },
  );
  assert.equal(epochs.scheduleChanges, undefined);
  assert.equal(epochs.use, "--set batchSize=64 --set optimizer.lr=0.04");
});

Deno.test("the batch to use keeps a periodic schedule counted in steps at its period in epochs: step's stepSize and a cyclic's half-cycles follow the steps an epoch takes", async () => {
  // 200 samples: batches of 16 take 13 steps an epoch; of 64, 4
  const base = {
    backend: "cpu" as const,
    epochs: 2,
    optimizer: { name: "sgd" as const, lr: 0.01 },
  };
  const step = await findBatchSize(
    parseConfig({ ...base, scheduler: { name: "step", stepSize: 13, gamma: 0.5 } }),
    { sizes: [64], steps: 1 },
  );
  // (it said --set batchSize=64 alone: the rate then halved every 3.25 epochs, not every epoch)
  assert.deepEqual(step.scheduleChanges, { "scheduler.stepSize": 4 });
  assert.equal(step.use, "--set batchSize=64 --set scheduler.stepSize=4 --set optimizer.lr=0.04");
  const cyclic = await findBatchSize(
    parseConfig({
      ...base,
      scheduler: { name: "cyclic", baseLr: 0.001, maxLr: 0.01, stepSizeUp: 26, stepSizeDown: 13 },
    }),
    { sizes: [64], steps: 1 },
  );
  assert.deepEqual(cyclic.scheduleChanges, {
    "scheduler.stepSizeUp": 8,
    "scheduler.stepSizeDown": 4,
  });
  // counted in epochs, the period is kept at any batch
  const epochs = await findBatchSize(
    parseConfig({ ...base, scheduler: { name: "step", stepSize: 1, interval: "epoch" } }),
    { sizes: [64], steps: 1 },
  );
  assert.equal(epochs.scheduleChanges, undefined);
});

Deno.test("the finder refuses an empty list of sizes and a memory budget that is not a positive number, before loading the data", async () => {
  // a data file that is not there: the options are refused before it is looked for
  const config = parseConfig({
    backend: "cpu",
    data: { kind: "csv", path: "/nonexistent/anneal-data.csv", target: "y" },
  });
  for (const memoryLimitMiB of [-1, 0, NaN, Infinity]) {
    await assert.rejects(
      findBatchSize(config, { sizes: [8], memoryLimitMiB }),
      (error: AnnealError) => {
        assert.equal(error.code, "usage");
        assert.match(error.message, /'memoryLimitMiB' must be a positive number of MiB/);
        return true;
      },
    );
  }
  await assert.rejects(findBatchSize(config, { sizes: [] }), (error: AnnealError) => {
    assert.equal(error.code, "usage");
    assert.match(error.message, /'sizes' is empty/);
    return true;
  });
});

Deno.test("under gradient accumulation the scaled LR follows the samples a step trains, at most the training set", async () => {
  // 200 samples, the config's step 24 x 3 = 72: 32 x 3 = 96 is scaled by 96 / 72, but 128 x 3
  // = 384 trains the 200 a step, as 100 x 3 = 300 does: both by 200 / 72
  const config = parseConfig({
    backend: "cpu",
    batchSize: 24,
    gradientAccumulation: 3,
    optimizer: { name: "sgd", lr: 0.036 },
  });
  const result = await findBatchSize(config, { sizes: [32, 100, 128], steps: 1 });
  assert.equal(result.trainSize, 200);
  assert.deepEqual(result.rows.map((r) => Number(r.scaledLr.toPrecision(6))), [0.048, 0.1, 0.1]);
});

Deno.test("the first size is timed warm: the process steps for up to a second before it, the later sizes not", async () => {
  const { TrainingEngine: Checked } = await import("./checked_engine.ts");
  const counts: number[] = [];
  const original = Checked.prototype.computeGradients;
  const seen = new WeakMap<object, number>();
  Checked.prototype.computeGradients = function (...args) {
    if (!seen.has(this)) seen.set(this, counts.push(0) - 1);
    counts[seen.get(this)!]++;
    return original.apply(this, args);
  };
  let rows;
  try {
    const config = parseConfig({ backend: "cpu", optimizer: { name: "sgd", lr: 0.01 } });
    rows = (await findBatchSize(config, { sizes: [8, 16], steps: 1 })).rows;
  } finally {
    Checked.prototype.computeGradients = original;
  }
  // the second size: one step, one profiled, then those timed; the first more before its timed
  assert.equal(counts.length, 2);
  const untimed = counts.map((count, i) => count - rows[i].stepsTimed!);
  assert.equal(untimed[1], 2);
  assert.ok(untimed[0] > 2 && untimed[0] <= 2 + 50, `first size's steps: ${untimed[0]}`);
});

Deno.test("under batch norm the finder skips a size that leaves a batch of one sample, which train refuses, and names the largest train takes", async () => {
  // 81 samples, 65 of them for training: batches of 64 (or 16, 32) leave a last batch of one
  const config = parseConfig({
    backend: "cpu",
    data: { kind: "synthetic-linear", n: 81, validationSplit: 0.2 },
    model: { kind: "mlp", hidden: [8], batchNorm: true },
    batchSize: 16,
    optimizer: { name: "sgd", lr: 0.01 },
  });
  const found = await findBatchSize(config, { sizes: [10, 20, 64], steps: 1 });
  assert.equal(found.trainSize, 65);
  const [, , one] = found.rows;
  assert.equal(one.fits, false);
  assert.match(one.skipped ?? "", /a last batch of one sample, which batch norm cannot normalize/);
  assert.equal(found.largest, 20);
  assert.ok(found.use?.startsWith("--set batchSize=20 "), found.use);
  // dropping the short batch trains it: measured
  const dropped = parseConfig({ ...config, data: { ...config.data, dropLast: true } });
  assert.equal((await findBatchSize(dropped, { sizes: [64], steps: 1 })).largest, 64);
  assert.match(one.skipped ?? "", /train refuses it; --set data\.dropLast=true drops it\)$/);
  // under gradient accumulation a step of 64 x 2 is past the 65 samples: dropLast would leave an
  // epoch no step, so it is not suggested
  const accumulated = parseConfig({ ...config, gradientAccumulation: 2 });
  const [, , past] = (await findBatchSize(accumulated, { sizes: [10, 20, 64], steps: 1 })).rows;
  assert.match(past.skipped ?? "", /a last batch of one sample, .*\(train refuses it\)$/);
});

Deno.test("under data.dropLast the finder skips a size whose accumulation group is more than the training set, which train refuses", async () => {
  // 200 samples, 4 batches a step: 64 x 4 = 256 samples a step, a group dropLast drops, so an
  // epoch takes no step (it was measured and named the largest that fits; train refused it)
  const config = parseConfig({
    backend: "cpu",
    data: { kind: "synthetic-linear", dropLast: true },
    batchSize: 16,
    gradientAccumulation: 4,
    optimizer: { name: "sgd", lr: 0.01 },
  });
  const found = await findBatchSize(config, { sizes: [32, 64], steps: 1 });
  assert.equal(found.trainSize, 200);
  const [, over] = found.rows;
  assert.equal(over.fits, false);
  assert.match(over.skipped ?? "", /256 samples a step, more than the 200 training samples/);
  assert.equal(found.largest, 32);
  assert.ok(found.use?.startsWith("--set batchSize=32 "), found.use);
});
