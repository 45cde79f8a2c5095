import assert from "node:assert/strict";
import { applyChange, lrFind, parseConfig } from "../mod.ts";
import type { ConfigWarning, RunConfig, RunConfigInput } from "../mod.ts";
import { baseLearningRate } from "../config.ts";
import { canonicalJson } from "../zod_paths.ts";
import { anneal } from "../tests/_helpers.ts";
import {
  distinctChanges,
  dropoutCandidates,
  earlyStoppingWatch,
  tune,
  tuneDirection,
} from "./tune.ts";

Deno.test("tune optimises its metric in the config's sweep.direction, as a sweep does", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = parseConfig({
      backend: "cpu",
      epochs: 2,
      runsDir: dir,
      data: { kind: "synthetic-linear", n: 64, validationSplit: 0.25 },
      sweep: { space: {}, metric: "valMae", direction: "maximize" },
    });
    const result = await tune(config, { budget: 2 });
    assert.equal(result.direction, "maximize");
    const tried = result.stages.flatMap((stage) => stage.tried.map((t) => t.value));
    assert.equal(result.final, Math.max(result.baseline, ...tried));
    // without a direction, the metric's own
    const undirected = { ...config, sweep: { ...config.sweep!, direction: undefined } };
    assert.equal(tuneDirection(undirected).direction, "minimize");
    // its second run took the actor Workers the first handed back
    const metas = [];
    for await (const entry of Deno.readDir(result.dir)) {
      const path = `${result.dir}/${entry.name}/meta.json`;
      const meta = await Deno.readTextFile(path).then(JSON.parse, () => undefined);
      if (meta) metas.push(meta);
    }
    metas.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    const taken = metas.map((meta) => [meta.workersAhead, meta.workersReused]);
    assert.deepEqual(taken, [[0, 0], [5, 5]]);
    // each run is scored by the weights it ends with (no early stopping: its last epoch's), what
    // training the config again gives, not by its best epoch (here its first: the loss, and its
    // mae, fell)
    const epochs = (await Deno.readTextFile(`${result.dir}/${metas[0].id}/epochs.ndjson`))
      .trim().split("\n").map((line) => JSON.parse(line).valMae as number);
    assert.ok(epochs[0] > epochs[1], `the maximized valMae fell: ${epochs}`);
    assert.equal(result.baseline, epochs.at(-1));
    // ...or, where early stopping restores its best epoch's weights, by that epoch's
    const restoring = await tune(
      parseConfig({
        ...config,
        earlyStopping: { patience: 5, monitor: "valMae", mode: "max", restoreBest: true },
      }),
      { budget: 2 },
    );
    assert.equal(restoring.baseline, epochs[0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an adafactor tune's learning-rate stage tries no rate, saying why (a range test would read rates adafactor never trains at), and the tune goes on", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = parseConfig({
      backend: "cpu",
      epochs: 1,
      runsDir: dir,
      data: { kind: "synthetic-linear", n: 64, validationSplit: 0.25 },
      optimizer: { name: "adafactor" },
    });
    const warnings: ConfigWarning[] = [];
    const result = await tune(config, { budget: 2, onWarning: (w) => warnings.push(w) });
    const [rate] = result.stages;
    assert.equal(rate.name, "learning rate");
    assert.deepEqual(rate.tried, []);
    const said = warnings.find((w) => /the learning-rate stage tried no rate/.test(w.message));
    assert.ok(said, JSON.stringify(warnings));
    assert.match(said.message, /min\(lr, 1\/sqrt\(step\)\)/);
    assert.ok(result.stages.length > 1, "the stages after it ran");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a tune budget below 2 runs is refused saying why (the baseline is the first run) and what to give", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = parseConfig({ backend: "cpu", runsDir: dir, data: { validationSplit: 0.25 } });
    for (const budget of [0, 1]) {
      await assert.rejects(tune(config, { budget }), (error: Error & { hint?: string }) => {
        assert.match(error.message, new RegExp(`^Cannot tune with a budget of ${budget} runs?: `));
        assert.match(error.message, /its first run being the baseline \(the config as it is\)/);
        assert.match(error.hint ?? "", /give --budget 2 or more/);
        return true;
      });
    }
    // a budget counts whole runs: NaN (which ran the baseline alone) and 2.5 are refused
    for (const budget of [NaN, 2.5]) {
      await assert.rejects(tune(config, { budget }), (error: Error & { hint?: string }) => {
        assert.equal(
          error.message,
          `Cannot tune with a budget of ${budget} runs: a budget is a whole number of runs`,
        );
        assert.match(error.hint ?? "", /give --budget 2 or more/);
        return true;
      });
    }
    // nothing was trained or recorded
    assert.deepEqual(await Array.fromAsync(Deno.readDir(dir)), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a tune given a signal aborted already is refused before any run or record, as lrFind is", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = parseConfig({ backend: "cpu", runsDir: dir, data: { validationSplit: 0.25 } });
    const trials: string[] = [];
    await assert.rejects(
      tune(config, {
        budget: 3,
        interrupt: AbortSignal.abort("asked before the call"),
        onTrial: (stage) => trials.push(stage),
      }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, "interrupted");
        assert.equal(
          error.message,
          "tune interrupted (asked before the call) before its first run: nothing was tuned",
        );
        return true;
      },
    );
    // (it trained its baseline in full, and reported that run's value as the tune's)
    assert.deepEqual(trials, []);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(dir)), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tune warns of a sweep.direction against the way its optimizer pushes the loss", () => {
  const config = parseConfig({
    data: { kind: "synthetic-linear", validationSplit: 0.25 },
    sweep: { space: {}, metric: "valLoss", direction: "maximize" },
  });
  const { direction, warning } = tuneDirection(config);
  assert.equal(direction, "maximize");
  assert.match((warning as ConfigWarning).message, /optimizer pushes valLoss down/);
  assert.equal(tuneDirection(parseConfig({ data: config.data })).direction, "minimize");
});

/**
 * Tunes 48 training samples (batches of 16: 3 steps an epoch, 2 epochs) under `scheduler` with
 * `budget` runs, in a directory of its own; the tune's result, and its batch-size stage's changes
 * by batch size.
 */
async function tuneUnder(scheduler: Record<string, unknown>, budget: number) {
  const dir = await Deno.makeTempDir();
  try {
    const config = parseConfig({
      backend: "cpu",
      epochs: 2,
      runsDir: dir,
      data: { kind: "synthetic-linear", n: 64, validationSplit: 0.25 },
      scheduler,
      sweep: { space: {}, metric: "valLoss" },
    });
    const result = await tune(config, { budget });
    const batches = result.stages.find((stage) => stage.name.startsWith("batch size"))!;
    const byBatch = new Map(batches.tried.map(({ change }) => [change.batchSize, change]));
    return { result, byBatch };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("tune keeps a schedule with an end spanning each run it tries: other batch sizes, more epochs", async () => {
  // onecycle over the run's 6 steps
  const { result, byBatch } = await tuneUnder(
    { name: "onecycle", maxLr: 0.01, totalSteps: 6 },
    30,
  );
  const tried = result.stages.flatMap((stage) => stage.tried);
  // every run trained: none went past its onecycle's end (torch's OneCycleLR raises there)
  for (const { change, value } of tried) {
    assert.ok(Number.isFinite(value), JSON.stringify(change));
  }
  // batches of 8: 6 steps an epoch; of 32: 2
  assert.equal(byBatch.get(8)?.["scheduler.totalSteps"], 12);
  assert.equal(byBatch.get(32)?.["scheduler.totalSteps"], 4);
  // more epochs: the schedule then (onecycle, or the schedule stage's cosine) stretched too
  const longer = result.stages.find((stage) => stage.name.startsWith("epochs"))!.tried[0].change;
  assert.equal(longer.epochs, 4);
  assert.ok(
    Object.keys(longer).some((path) => path.startsWith("scheduler.")),
    JSON.stringify(longer),
  );
  // and the tuned config's schedule spans its run
  const tuned = result.config;
  const scheduler = tuned.scheduler as { totalSteps?: number; tMax?: number };
  const length = (scheduler.totalSteps ?? scheduler.tMax)!;
  const perEpoch = Math.ceil(48 / tuned.batchSize);
  assert.ok(length >= perEpoch * tuned.epochs, JSON.stringify(scheduler));
});

Deno.test("tune keeps a periodic schedule counted in steps at its period in epochs at the batch sizes it tries", async () => {
  // the rate halved every epoch (3 steps at batches of 16)
  const { byBatch } = await tuneUnder({ name: "step", stepSize: 3, gamma: 0.5 }, 6);
  // batches of 8: 6 steps an epoch; of 32: 2
  assert.equal(byBatch.get(8)?.["scheduler.stepSize"], 6);
  assert.equal(byBatch.get(32)?.["scheduler.stepSize"], 2);
});

Deno.test("under optimizer.baseBatch tune trains at the range test's rates, and at batch B x k at k times the rate, as without it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // the run scales optimizer.lr 0.04 from baseBatch 64 to its batch of 16: it trains at 0.01
    const config = parseConfig({
      backend: "cpu",
      epochs: 2,
      runsDir: dir,
      batchSize: 16,
      data: { kind: "synthetic-linear", n: 128, validationSplit: 0.25 },
      optimizer: { name: "sgd", lr: 0.04, baseBatch: 64 },
      sweep: { space: {}, metric: "valLoss" },
    });
    const trained: { stage: string; config: RunConfig }[] = [];
    const result = await tune(config, {
      budget: 6,
      onTrial: (stage, _change, _value, config) => trained.push({ stage, config }),
    });
    const rateOf = (config: RunConfig) => baseLearningRate(config).lr;
    const found = await lrFind(config, { iterations: 80 });
    const rated = trained.filter(({ stage }) => stage === "learning rate");
    assert.ok(rated.length > 0);
    // (optimizer.lr was set to the range test's rate, which the run then scaled by 16 / 64)
    for (const { config } of rated) {
      const rate = rateOf(config);
      assert.ok(
        Object.values(found.suggestions).some((lr) => Math.abs(rate / lr! - 1) < 0.01),
        `trains at ${rate}; the test suggested ${JSON.stringify(found.suggestions)}`,
      );
    }
    const start = applyChange(config, result.stages[0].kept);
    const batches = trained.filter(({ stage }) => stage.startsWith("batch size"));
    assert.equal(batches.length, 2);
    for (const { config } of batches) {
      // (optimizer.lr was scaled with the batch too, and the run scaled it again: 4x at 2x)
      const factor = config.batchSize / start.batchSize;
      assert.ok(Math.abs(rateOf(config) / rateOf(start) - factor) < 1e-9, `${factor}`);
      assert.equal(config.optimizer.lr, start.optimizer.lr);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tune tries dropout only where the model has a layer it follows", () => {
  const tried = (model: RunConfigInput["model"]) =>
    dropoutCandidates(parseConfig({ model })).map((change) => change["model.dropout"]);
  assert.deepEqual(tried({ kind: "mlp", hidden: [8] }), [0.1, 0.3]);
  assert.deepEqual(tried({ kind: "cnn" }), [0.1, 0.3]);
  // no hidden or dense layer: a dropout that drops nothing trained two runs as the baseline
  assert.deepEqual(tried({ kind: "mlp", hidden: [] }), []);
  assert.deepEqual(tried({ kind: "cnn", dense: [] }), []);
  assert.deepEqual(tried({ kind: "linear" }), []);
  assert.deepEqual(tried({ kind: "rnn", layers: 2 }), []);
});

Deno.test("tune's epochs stage stops early on the loss where its metric is an accuracy, on its metric otherwise", () => {
  const watch = (input: RunConfigInput) => earlyStoppingWatch(parseConfig(input));
  const classes = { kind: "csv", path: "x.csv", target: "y", task: "classification" } as const;
  // an accuracy sits still for epochs while the loss falls (at the majority class's share on
  // imbalanced classes), and a tie is no gain: the run stopped before it learnt, and restored
  // its first epoch; the loss of the same split moves with every epoch's learning
  assert.deepEqual(watch({ data: classes }), {
    "earlyStopping.monitor": "valLoss",
    "earlyStopping.mode": "min",
  });
  assert.deepEqual(watch({ data: { kind: "idx" } }), {
    "earlyStopping.monitor": "valLoss",
    "earlyStopping.mode": "min",
  });
  assert.deepEqual(watch({ data: classes, sweep: { space: {}, metric: "accuracy" } }), {
    "earlyStopping.monitor": "loss",
    "earlyStopping.mode": "min",
  });
  // a metric that moves with the loss is watched as it is, in tune's direction
  const regression = { kind: "csv", path: "x.csv", target: "y", validationSplit: 0.2 } as const;
  assert.deepEqual(watch({ data: regression }), {
    "earlyStopping.monitor": "valLoss",
    "earlyStopping.mode": "min",
  });
  assert.deepEqual(watch({ data: regression, sweep: { space: {}, metric: "valMae" } }), {
    "earlyStopping.monitor": "valMae",
    "earlyStopping.mode": "min",
  });
  assert.deepEqual(
    watch({ data: regression, sweep: { space: {}, metric: "valMae", direction: "maximize" } }),
    { "earlyStopping.monitor": "valMae", "earlyStopping.mode": "max" },
  );
});

Deno.test("tune trains no config twice: a change that leaves the config as it is, or as another change makes it, is not run", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // adamw's weightDecay is 0.01 by default, a batch of 1 halved is 1, the dropout is 0.1 already
    const config = parseConfig({
      backend: "cpu",
      epochs: 2,
      runsDir: dir,
      batchSize: 1,
      data: { kind: "synthetic-linear", n: 16, validationSplit: 0.25 },
      model: { kind: "mlp", hidden: [4], dropout: 0.1 },
      optimizer: { name: "adamw", lr: 0.01 },
    });
    assert.deepEqual(
      distinctChanges(config, [
        { batchSize: 1 },
        { "optimizer.weightDecay": 0.01 },
        { "model.dropout": 0.3 },
        { "optimizer.name": "adamw", "model.dropout": 0.3 },
        { "model.dropout": 0.1 },
        { batchSize: 0 }, // refused by the config: kept, to be refused as it was
      ]),
      [{ "model.dropout": 0.3 }, { batchSize: 0 }],
    );
    const trained: string[] = [];
    const result = await tune(config, {
      budget: Infinity,
      onTrial: (stage, change, _value, config) => {
        const key = canonicalJson(config);
        assert.ok(!trained.includes(key), `${stage} ${JSON.stringify(change)} trained again`);
        trained.push(key);
      },
    });
    const tried = (name: string) =>
      result.stages.find((stage) => stage.name.startsWith(name))!.tried.map((t) => t.change);
    assert.deepEqual(tried("batch size").map((change) => change.batchSize), [2]);
    assert.equal(tried("weight decay").length, 1);
    assert.deepEqual(tried("dropout"), [{ "model.dropout": 0.3 }]);
    assert.equal(result.runs, trained.length);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tune's batch-size stage tries no batch that trains as the config's (both above the training set), and scales the rate to the batch trained; a run of one step tries no schedule", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // 30 training samples: batches of 32, 64 and 128 each train the whole set as one batch
    const config = (
      batchSize: number,
      optimizer: Record<string, unknown> = { name: "sgd", lr: 0.01 },
    ) =>
      parseConfig({
        backend: "cpu",
        epochs: 1,
        runsDir: dir,
        batchSize,
        data: { kind: "synthetic-linear", n: 40, validationSplit: 0.25 },
        optimizer,
      });
    const batchStage = (result: Awaited<ReturnType<typeof tune>>) =>
      result.stages.find((stage) => stage.name.startsWith("batch size"))!;
    const whole = await tune(config(64), { budget: Infinity });
    assert.deepEqual(batchStage(whole).tried, []);
    // and a run of one step has no schedule to try (a warmup from 0 over it trained nothing)
    const schedule = whole.stages.find((stage) => stage.name.startsWith("schedule"))!;
    assert.deepEqual(schedule.tried, []);
    // from 16: 8, and 32, which trains 30 samples a step: the rate times 30 / 16, not 2
    const from16 = await tune(config(16), { budget: 7 });
    const start = applyChange(config(16), from16.stages[0].kept);
    const tried = batchStage(from16).tried.map(({ change }) => change);
    assert.deepEqual(tried.map((change) => change.batchSize), [8, 32]);
    const rate = (change: Record<string, unknown>) => change["optimizer.lr"] as number;
    assert.ok(Math.abs(rate(tried[0]) / start.optimizer.lr - 0.5) < 0.01, JSON.stringify(tried));
    assert.ok(
      Math.abs(rate(tried[1]) / start.optimizer.lr - 30 / 16) < 0.01,
      JSON.stringify(tried),
    );
    assert.equal(batchStage(from16).name, "batch size (learning rate scaled by the linear rule)");
    // adam scales by the square root, as batch-size and baseBatch do (it tried x2 where
    // batch-size said x1.41)
    const adam = await tune(config(16, { name: "adam", lr: 0.01 }), { budget: 7 });
    const adamStart = applyChange(config(16, { name: "adam", lr: 0.01 }), adam.stages[0].kept);
    const adamTried = batchStage(adam).tried.map(({ change }) => change);
    assert.equal(batchStage(adam).name, "batch size (learning rate scaled by the sqrt rule)");
    assert.ok(
      Math.abs(rate(adamTried[0]) / adamStart.optimizer.lr - Math.sqrt(0.5)) < 0.01,
      JSON.stringify(adamTried),
    );
    assert.ok(
      Math.abs(rate(adamTried[1]) / adamStart.optimizer.lr - Math.sqrt(30 / 16)) < 0.01,
      JSON.stringify(adamTried),
    );
    // under gradient accumulation a step trains the batch times it: 16 x 2 trains the 30
    // samples, as 32 x 2 would (not tried: it tried it at twice the rate), and 8 x 2 trains 16
    // of them, the rate times 16 / 30 (it scaled by 8 / 16)
    const accumulated = { ...config(16), gradientAccumulation: 2 };
    const twice = await tune(accumulated, { budget: 7 });
    const twiceStart = applyChange(accumulated, twice.stages[0].kept);
    const twiceTried = batchStage(twice).tried.map(({ change }) => change);
    assert.deepEqual(twiceTried.map((change) => change.batchSize), [8], JSON.stringify(twiceTried));
    assert.ok(
      Math.abs(rate(twiceTried[0]) / twiceStart.optimizer.lr - 16 / 30) < 0.01,
      JSON.stringify(twiceTried),
    );
    // under dropLast a step past the training set leaves an epoch no step (train refuses it):
    // 16 x 3 = 48 of the 30 samples is not tried, where 8 x 3 = 24 trains
    const dropped = {
      ...config(8),
      gradientAccumulation: 3,
      data: { ...config(8).data, dropLast: true },
    } as typeof accumulated;
    const kept = batchStage(await tune(dropped, { budget: 7 })).tried;
    assert.deepEqual(kept.map(({ change }) => change.batchSize), [4], JSON.stringify(kept));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tune keeps a change only where it gains more than minImprovement of the best so far, and says which change came closest where none did", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = parseConfig({
      backend: "cpu",
      epochs: 3,
      runsDir: dir,
      data: { kind: "synthetic-linear", n: 80, validationSplit: 0.25 },
    });
    // the same runs under three margins (the cpu backend trains them bit for bit alike)
    const byMargin = new Map<number, Awaited<ReturnType<typeof tune>>>();
    for (const minImprovement of [0, 0.001, 0.9]) {
      byMargin.set(minImprovement, await tune(config, { budget: 6, minImprovement }));
    }
    let withinMargin = 0;
    for (const [margin, result] of byMargin) {
      assert.equal(result.direction, "minimize");
      for (const stage of result.stages) {
        const values = stage.tried.map((t) => t.value).filter(Number.isFinite);
        const best = Math.min(...values);
        const kept = Object.keys(stage.kept).length > 0;
        const threshold = stage.before - margin * Math.abs(stage.before);
        assert.equal(kept, best < threshold, `${stage.name} at ${margin}: ${values}`);
        if (kept) {
          assert.equal(stage.after, best);
          assert.equal(stage.withinMargin, undefined);
        } else {
          assert.equal(stage.after, stage.before);
          if (best < stage.before) {
            withinMargin++;
            assert.equal(stage.withinMargin?.value, best);
            const closest = stage.tried.find((t) => t.value === best)!;
            assert.deepEqual(stage.withinMargin?.change, closest.change);
          } else assert.equal(stage.withinMargin, undefined);
        }
      }
    }
    assert.ok(withinMargin > 0, "no stage gained less than its margin: the test shows nothing");
    // the record says the margin
    const strict = byMargin.get(0.9)!;
    const record = JSON.parse(await Deno.readTextFile(`${strict.dir}/tune.json`));
    assert.equal(record.minImprovement, 0.9);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a tune's minImprovement outside 0..1 is refused before any run, saying what it is and what to give", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = parseConfig({ backend: "cpu", runsDir: dir, data: { validationSplit: 0.25 } });
    for (const minImprovement of [-0.01, 1, 5, NaN, Infinity]) {
      await assert.rejects(
        tune(config, { budget: 2, minImprovement }),
        (error: Error & { hint?: string; where?: string }) => {
          assert.equal(
            error.message,
            `Cannot tune with a minimum improvement of ${minImprovement}: it is the fraction of ` +
              "the best value so far that a change must gain to be kept, a number from 0 up to " +
              "(not including) 1",
          );
          assert.equal(error.where, "--min-improvement");
          assert.match(error.hint ?? "", /--min-improvement 0\.01 \(1%\); 0\.001 by default/);
          return true;
        },
      );
    }
    assert.deepEqual(await Array.fromAsync(Deno.readDir(dir)), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a tune whose budget runs out says which stage it cut short and which it never ran, in its result and tune.json", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = parseConfig({
      backend: "cpu",
      epochs: 2,
      runsDir: dir,
      data: { kind: "synthetic-linear", n: 64, validationSplit: 0.25 },
    });
    // the baseline, the learning-rate stage's two changes, one of the batch-size stage's
    const result = await tune(config, { budget: 4 });
    assert.equal(result.runs, 4);
    const [rate, batch, ...others] = result.stages;
    assert.equal(others.length, 0, "no stage after the one the budget ran out in");
    assert.equal(rate.cutShort, undefined, "the stage before ran whole");
    assert.equal(batch.tried.length, 1);
    assert.ok(batch.cutShort?.budget && batch.cutShort.of > 1, JSON.stringify(batch.cutShort));
    assert.ok(!result.notRun!.some((name) => name === rate.name || name === batch.name));
    assert.ok(result.notRun!.includes("weight decay"), result.notRun!.join(", "));
    const record = JSON.parse(await Deno.readTextFile(`${result.dir}/tune.json`));
    assert.equal(record.status, "completed");
    assert.deepEqual(record.notRun, result.notRun);
    // a budget every stage fits in names none
    const whole = await tune(config, { budget: Infinity });
    assert.equal(whole.notRun, undefined);
    assert.ok(whole.stages.every((stage) => !stage.cutShort));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tune warns where its learning-rate stage's range test is unreliable (random labels), rather than trying its rates in silence", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let state = 99;
    const random = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const rows = Array.from(
      { length: 300 },
      () => `${random().toFixed(4)},${random().toFixed(4)},${"abc"[Math.floor(random() * 3)]}`,
    );
    const path = `${dir}/random.csv`;
    await Deno.writeTextFile(path, `a,b,y\n${rows.join("\n")}\n`);
    const config = parseConfig({
      backend: "cpu",
      runsDir: dir,
      epochs: 2,
      data: { kind: "csv", path, target: "y", task: "classification", validationSplit: 0.25 },
      model: { kind: "mlp", hidden: [8] },
      optimizer: { name: "adam", lr: 0.01 },
    });
    const warnings: ConfigWarning[] = [];
    await tune(config, { budget: 2, onWarning: (warning) => warnings.push(warning) });
    const unreliable = warnings.find((w) => /range test is unreliable/.test(w.message));
    assert.ok(unreliable, JSON.stringify(warnings));
    assert.equal(unreliable.field, "optimizer.lr");
    assert.match(unreliable.message, /does not pin down a rate/);
    assert.match(unreliable.hint, /kept only where its run beats the config before it/);
    // (the reasons' --end-lr and --iterations are lr-find's: tune takes neither)
    assert.match(unreliable.hint, /flags the reasons name are anneal lr-find's/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a learning-rate stage whose range test found no rate says why, and the CLI says the stage tried nothing, not that nothing beat the config", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // a clip of 1e-30: the weights never move, and the range test finds no minimum
    const config = parseConfig({
      backend: "cpu",
      epochs: 2,
      runsDir: dir,
      batchSize: 20,
      data: { kind: "synthetic-linear", n: 40, validationSplit: 0.5 },
      clipping: { maxNorm: 1e-30 },
    });
    const warnings: string[] = [];
    const result = await tune(config, {
      budget: 2,
      onWarning: (warning) => warnings.push(`${warning.message} | ${warning.hint}`),
    });
    const stage = result.stages.find((s) => s.name === "learning rate")!;
    assert.deepEqual(stage.tried, []);
    assert.ok(
      warnings.some((w) =>
        /^the learning-rate stage tried no rate: The LR range test found no minimum/.test(w) &&
        /check that the model can learn the data/.test(w)
      ),
      warnings.join("\n"),
    );
    const file = `${dir}/flat.json`;
    await Deno.writeTextFile(file, JSON.stringify({ ...config, sweep: undefined }));
    const cli = await anneal("tune", "-c", file, "--budget", "2");
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(
      cli.stdout,
      /\nstage 'learning rate': tried nothing \(it had no change to try for this run\); unchanged\n/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
