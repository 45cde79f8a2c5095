// The module's functions that take a config and options, called as a plain-JS user would: a
// config as written (not parsed first), and an option name misspelt.
import assert from "node:assert/strict";
import {
  AnnealError,
  applyChange,
  applyOverrides,
  clipGradNorm,
  clipGradValue,
  compareRuns,
  createSchedule,
  diagnose,
  epochOrder,
  findBatchSize,
  floatBatch,
  formatDiagnosis,
  formatTable,
  forward,
  loadConfig,
  lrFind,
  lrFindRecord,
  lrFindSvg,
  makeBatch,
  openStorage,
  parseConfig,
  plotSvg,
  previewSchedule,
  readRun,
  recordLrFind,
  renderReport,
  renderSweepReport,
  runSweep,
  runWorker,
  selectBackend,
  terminalCharts,
  train,
  TrainingEngine,
  trialConfig,
  tune,
  writeFileAtomic,
} from "../mod.ts";
import type { RunConfigInput } from "../mod.ts";
import { tempRunsDir } from "./_helpers.ts";

const written = { backend: "cpu" as const, epochs: 1 };

async function refused(
  call: () => unknown,
  where: string,
  hint: RegExp,
  code = "usage",
) {
  // (a synchronous call's throw is a rejection here too)
  const error = await Promise.resolve().then(call).then(
    () => assert.fail(`accepted, where '${where}' is refused`),
    (error: unknown) => error,
  );
  assert.ok(error instanceof AnnealError, String(error));
  assert.equal(error.code, code, error.message);
  assert.equal(error.where, where, error.message);
  assert.match(error.hint ?? "", hint, error.message);
  return error;
}

Deno.test("a misspelt option name is refused naming the one meant, not ignored for the default", async () => {
  const config = parseConfig(written);
  await refused(() => lrFind(config, { iteration: 50 } as never), "iteration", /'iterations'/);
  await refused(() => findBatchSize(config, { size: [8] } as never), "size", /'sizes'/);
  await refused(() => tune(config, { budjet: 2 } as never), "budjet", /'budget'/);
  const sweep = parseConfig({
    ...written,
    sweep: {
      trials: 1,
      metric: "loss",
      space: { "optimizer.lr": { type: "choice", values: [0.1] } },
    },
  });
  await refused(
    () => runSweep(sweep, { storge: "sqlite::memory:" } as never),
    "storge",
    /'storage'/,
  );
  await refused(
    () => runWorker("sqlite::memory:", "s", { trails: 3 } as never),
    "trails",
    /'trials'/,
  );
  await refused(
    // (checked before the result is read: none is needed to refuse it)
    () => recordLrFind(config, undefined as never, { runid: "x" } as never),
    "runid",
    /'runId'/,
  );
  await refused(() => lrFind(config, "fast" as never), "options", /startLr/);
});

Deno.test("lrFind, findBatchSize and tune take a config as written, as train does, not only a parsed one", async () => {
  // (each threw a TypeError from inside, reading its model's or data's kind)
  const sizes = await findBatchSize(written, { sizes: [8], steps: 1 });
  assert.equal(sizes.rows[0].batchSize, 8);
  const found = await lrFind(written, { iterations: 30, endLr: 1 });
  assert.equal(found.lrs.length > 0, true);
  // tune reads the config: one it cannot tune is refused for what it is
  await assert.rejects(
    () => tune(written, { budget: 2 }),
    (error: unknown) =>
      error instanceof AnnealError && error.code === "config" && error.where === "sweep.metric",
  );
  await assert.rejects(
    () => findBatchSize({ epochs: -1 } as typeof written),
    (error: unknown) => error instanceof AnnealError && error.where === "epochs",
  );
});

Deno.test("openStorage refuses a URL that is not a string with an AnnealError, not a TypeError", async () => {
  // (one left out, as from an unset environment variable, threw "reading 'startsWith'")
  for (const url of [undefined, 5]) {
    await assert.rejects(
      () => openStorage(url as unknown as string),
      (error: unknown) =>
        error instanceof AnnealError && error.code === "usage" &&
        /its URL must be a string/.test(error.message) && /postgres:\/\//.test(error.hint ?? ""),
    );
  }
});

Deno.test("the report functions refuse a record that is not one with an AnnealError, not a TypeError from inside", async () => {
  // (compareRuns(undefined) threw "reading 'map'", diagnose(undefined) "reading 'epochs'")
  const calls: [string, (value: unknown) => unknown][] = [
    ["diagnose", (v) => diagnose(v as never)],
    ["terminalCharts", (v) => terminalCharts(v as never)],
    ["renderReport", (v) => renderReport(v as never)],
    ["plotSvg", (v) => plotSvg(v as never, "loss")],
    ["compareRuns", (v) => compareRuns([v] as never)],
  ];
  for (const [name, call] of calls) {
    for (const value of [undefined, 5, "run-1", {}, readRun("no-such-run").catch(() => {})]) {
      const where = name === "compareRuns" ? "records[0]" : "record";
      await assert.rejects(
        async () => await call(value),
        (error: unknown) =>
          error instanceof AnnealError && error.code === "usage" && error.where === where &&
          /must be a run record/.test(error.message) && /readRun\(dir\)/.test(error.hint ?? ""),
        `${name}(${String(value)})`,
      );
    }
  }
  // a run's directory given as a string: the hint's example is that directory, as given
  for (
    const [value, example] of [["run-1", '"runs/run-1"'], ["/tmp/x/runs/a", '"/tmp/x/runs/a"']]
  ) {
    await assert.rejects(
      async () => await diagnose(value as never),
      (error: unknown) =>
        error instanceof AnnealError && (error.hint ?? "").includes(`e.g. ${example})`),
      value,
    );
  }
  for (const value of [undefined, 5, "runs/a", {}]) {
    assert.throws(
      () => compareRuns(value as never),
      (error: unknown) =>
        error instanceof AnnealError && error.code === "usage" && error.where === "records" &&
        /readRun/.test(error.hint ?? ""),
    );
    assert.throws(
      () => formatDiagnosis(value as never),
      (error: unknown) =>
        error instanceof AnnealError && error.where === "diagnosis" &&
        /diagnose\(record\)/.test(error.hint ?? ""),
    );
    assert.throws(
      () => formatTable(value as never),
      (error: unknown) => error instanceof AnnealError && error.where === "rows",
    );
  }
  assert.throws(
    () => formatTable([{ a: 1 }, 5] as never),
    (error: unknown) => error instanceof AnnealError && error.where === "rows[1]",
  );
});

Deno.test("TrainingEngine given a config as written says it takes one parseConfig gave", async () => {
  await selectBackend("cpu");
  const shape = { inputShape: [2], targetSize: 1, task: "regression" as const };
  // (it said "Cannot build model: the spec must be an object", of a model left to its default)
  assert.throws(
    () => new TrainingEngine({ optimizer: { name: "adam", lr: 0.01 } } as never, shape),
    (error: unknown) =>
      error instanceof AnnealError && error.code === "usage" &&
      /not one parseConfig gave \(no 'model' section\)/.test(error.message) &&
      /parseConfig\(config\)/.test(error.hint ?? ""),
  );
  const engine = new TrainingEngine(parseConfig({ optimizer: { name: "adam", lr: 0.01 } }), shape);
  assert.ok(engine.variables.length > 0);
  engine.dispose();
});

Deno.test("train refuses options it cannot take: a misspelt name, options not an object, an empty resume, a resume given another runId, unknown actorPermissions; nothing is started", async () => {
  const runsDir = await Deno.makeTempDir();
  try {
    const config = { ...written, runsDir };
    const trained = async (options: unknown) => {
      const run = train(config, options as never);
      const events = [];
      for await (const event of run.events()) events.push(event);
      // (refused before its start: no event, as a config refused is)
      assert.deepEqual(events, []);
      return run.result;
    };
    await refused(() => trained({ runID: "x" }), "runID", /'runId'/);
    await refused(() => trained({ stallTimeout: 5 }), "stallTimeout", /'stallTimeoutMs'/);
    await refused(() => trained("my-run"), "options", /runId/);
    await refused(() => trained({ resume: "" }), "resume", /leave 'resume' out/);
    await refused(() => trained({ resume: 3 }), "resume", /a run's id/);
    // (a resume keeps its run's id: another runId was silently ignored)
    await refused(
      () => trained({ resume: "intr", runId: "other" }),
      "runId",
      /leave runId out to resume 'intr', or leave resume out to start a new run 'other'/,
    );
    await refused(() => trained({ actorPermissions: "none" }), "actorPermissions", /'narrow'/);
    await refused(() => trained({ epochGate: true }), "epochGate", /a function of the epoch event/);
    assert.deepEqual([...Deno.readDirSync(runsDir)], [], "a refused run leaves nothing");
  } finally {
    await Deno.remove(runsDir, { recursive: true });
  }
});

Deno.test("epochGate: each epoch end is judged before the run trains past it; a stop asked there ends the run at that end, a gate that throws stops it saying so", async () => {
  const runsDir = await Deno.makeTempDir();
  try {
    // epochs of a few milliseconds, which the trainer otherwise leaves behind as their
    // answers travel (up to 16 epochs late)
    const config = {
      backend: "cpu" as const,
      epochs: 40,
      runsDir,
      data: { kind: "synthetic-linear" as const, n: 64 },
      batchSize: 32,
    };
    const judged: number[] = [];
    const run = train(config, {
      epochGate: async (event) => {
        judged.push(event.epoch);
        // (the trainer waits: a judgement slower than many epochs still lands on its own)
        await new Promise((resolve) => setTimeout(resolve, 30));
        if (event.epoch === 2) run.stop("judged at epoch 2");
      },
    });
    const result = await run.result;
    assert.equal(result.status, "stopped", result.reason);
    assert.equal(result.reason, "judged at epoch 2");
    assert.equal(result.epochs, 3);
    assert.equal(result.steps, 6);
    assert.deepEqual(judged, [0, 1, 2]);
    const throwing = train(config, {
      epochGate: (event) => {
        if (event.epoch === 1) throw new Error("no judge");
      },
    });
    const ended = await throwing.result;
    assert.equal(ended.status, "stopped", ended.reason);
    assert.equal(ended.reason, "stopped by its epoch gate: no judge");
    assert.equal(ended.epochs, 2);
  } finally {
    await Deno.remove(runsDir, { recursive: true });
  }
});

Deno.test("a steps event holds the fields StepsEvent declares, not the actors' own (verdictRequested)", async () => {
  await using runs = await tempRunsDir();
  const declared = [
    "type",
    "epoch",
    "fromStep",
    "losses",
    "gradNorms",
    "lr",
    "momentum",
    "skipped",
  ];
  for (
    const extra of [
      {},
      // onecycle cycles the momentum; adaptive clipping asks the clip monitor for verdicts
      // (written as a user's plain JS would be: parsed by train)
      {
        scheduler: { name: "onecycle", maxLr: 0.05, totalSteps: 8 },
        optimizer: { name: "sgd", lr: 0.01, momentum: 0.9 },
      },
      { clipping: { autoPercentile: 10 }, readbackEvery: 2 },
    ] as RunConfigInput[]
  ) {
    const run = train({
      backend: "cpu",
      epochs: 2,
      runsDir: runs.dir,
      data: { kind: "synthetic-linear", n: 64 },
      batchSize: 16,
      ...extra,
    });
    let windows = 0;
    for await (const event of run.events()) {
      if (event.type !== "steps") continue;
      windows++;
      const unknown = Object.keys(event).filter((key) => !declared.includes(key));
      assert.deepEqual(unknown, [], JSON.stringify(extra));
    }
    assert.equal((await run.result).status, "completed");
    assert.ok(windows > 0);
  }
});

Deno.test("a config file's path where a config goes is refused pointing at loadConfig, as JSON text is at JSON.parse", async () => {
  // (it said "'(root)': must be an object", hint "fix the field named above")
  // (a config error, as any other JSON value that is not a config's is)
  const path = "path/to/config.json";
  const hint = /await loadConfig\("path\/to\/config\.json"\)/;
  await refused(() => train(path as never).result, "config", hint, "config");
  await refused(() => lrFind(path as never), "config", hint, "config");
  await refused(() => tune(path as never), "config", hint, "config");
  await refused(() => parseConfig(path), "config", hint, "config");
  // undefined (a field the caller's own object lacks), null, a number, a list: refused as not a
  // config, pointing at {} and loadConfig (train(undefined) trained the seed's 50 epochs into
  // ./runs; the others said "'(root)': is required (an object)", hint "fix the field named above")
  const notObject =
    /pass a config object \(\{\} for every default: the seed experiment\), or a config file's, read with await loadConfig\(path\)/;
  for (
    const [value, shown] of [
      [undefined, "undefined"],
      [null, "null"],
      [5, "the number 5"],
      [[{ epochs: 2 }], "a list"],
    ] as const
  ) {
    const message = new RegExp(`it must be a config object, current value is ${shown}$`);
    for (
      const call of [
        () => train(value as never).result,
        () => train(value as never, { runId: "x" }).result,
        () => lrFind(value as never),
        () => parseConfig(value),
      ]
    ) {
      const error = await refused(call, "config", notObject, "config");
      assert.match(error.message, message);
    }
  }
  await refused(
    () => parseConfig('{"epochs": 2}'),
    "config",
    /JSON\.parse\(text\)/,
    "config",
  );
});

Deno.test("the module's other functions refuse an argument of the wrong kind with an AnnealError naming it, not a TypeError from inside", async () => {
  // (each threw a TypeError: "Cannot convert undefined or null to object", "reading 'lrs'", ...)
  const config = parseConfig(written);
  const cases: [() => unknown, string, RegExp][] = [
    [() => applyChange(config, undefined as never), "change", /optimizer\.lr/],
    [() => applyChange(config, "optimizer.lr=0.1" as never), "change", /optimizer\.lr/],
    [() => trialConfig(undefined as never, {}), "definition", /'base'/],
    [() => trialConfig({ base: config } as never, 5 as never), "params", /optimizer\.lr/],
    [() => lrFindRecord(undefined as never), "result", /lrFind\(config\)/],
    [() => lrFindSvg({} as never), "result", /lrFind\(config\)/],
    [() => renderSweepReport("s", undefined as never, "minimize", "loss"), "trials", /trial/],
    [() => epochOrder(10, undefined as never), "options", /shuffle/],
    [() => applyOverrides(undefined as never, ["epochs=2"]), "input", /epochs: 5/],
    [() => loadConfig(5 as never), "path", /JSON config file/],
    [() => writeFileAtomic("/tmp/x.json", "{}" as never), "bytes", /TextEncoder/],
    [() => writeFileAtomic(undefined as never, new Uint8Array()), "path", /path to write/],
    [() => makeBatch(undefined as never, [0], undefined, 0), "dataset", /loadData/],
    // (x and y as plain arrays: it said they were missing)
    [
      () =>
        makeBatch(
          { x: [0, 1], y: [0, 1], n: 2, inputShape: [1] } as never,
          [0],
          undefined,
          0,
        ),
      "dataset",
      /new Float32Array/,
    ],
    [() => floatBatch(5 as never), "batch", /makeBatch/],
    [() => forward(undefined as never, undefined as never, false), "model", /buildModel/],
    [() => clipGradNorm(undefined as never, 1), "grads", /array/],
    [() => clipGradValue("g" as never, 1), "grads", /array/],
  ];
  for (const [call, where, hint] of cases) {
    await refused(async () => await call(), where, hint);
  }
  // (their messages named the spec's name: "reading 'name'" of a spec left out)
  await refused(
    () => createSchedule(undefined as never, undefined as never),
    "lr",
    /'lr'/,
    "config",
  );
  await refused(() => previewSchedule(undefined as never, 0.1, -1), "steps", /steps/);
});
