/**
 * A config refused at the run's start, once its data says how the run goes (batch norm over one
 * value a channel, a schedule torch raises for at a step the run gets to, an epoch without a
 * step), is a config error like one found as the config is read: the CLI prints the error and
 * its hint, with no actor named, and exits 1; `train(...).result` rejects with it; and no record
 * of a run that never trained is left (a resumed run's records stay as they were). So is a data
 * file that is missing or bad, and a resumed checkpoint that does not fit the data loaded.
 *
 * @module
 */
import assert from "node:assert/strict";
import { AnnealError, parseConfig, train, tune } from "../mod.ts";
import type { RunEvent } from "../mod.ts";
import { anneal, tempRunsDir } from "./_helpers.ts";

/** The entries of `dir`, sorted. */
async function entries(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  } catch (error) {
    // (a runs directory made for a run refused at its start is removed with it)
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort();
}

/** The files of a run's record, by name. */
async function records(runDir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const name of await entries(runDir)) {
    if (name.endsWith(".json") || name.endsWith(".ndjson")) {
      files[name] = await Deno.readTextFile(`${runDir}/${name}`);
    }
  }
  return files;
}

// 61 samples in batches of 4: the last batch holds one sample, and batch norm normalizes each
// hidden unit over it (torch raises 'Expected more than 1 value per channel when training')
const batchNorm = [
  ...["--backend", "cpu", "--epochs", "2", "--batch-size", "4", "--no-progress"],
  ...["--set", "data.n=61", "--set", 'model={"kind":"mlp","hidden":[8],"batchNorm":true}'],
];

Deno.test("anneal train: batch norm over one value a channel is refused as a config error, leaving no failed run", async () => {
  await using runs = await tempRunsDir();
  const out = await anneal("train", ...batchNorm, "--runs-dir", runs.dir);
  assert.equal(out.code, 1, out.stderr);
  assert.match(
    out.stderr,
    /^error\[config\]: Cannot train with batch norm on the epoch's last batch: 61 training samples in batches of 4 leave a last batch of one sample.* \(at batchSize\)\n {2}hint: drop the short batch \(--set data\.dropLast=true\)/m,
  );
  assert.doesNotMatch(out.stdout + out.stderr, /actor 'trainer'|failed|run record|--resume/);
  assert.deepEqual(await entries(runs.dir), [], "no run directory is left");
  const listed = await anneal("runs", "--runs-dir", runs.dir);
  assert.doesNotMatch(listed.stdout + listed.stderr, /failed/);
  // the fix its hint gives trains
  const fixed = await anneal(
    "train",
    ...batchNorm,
    "--runs-dir",
    runs.dir,
    "--set",
    "data.dropLast=true",
  );
  assert.equal(fixed.code, 0, fixed.stderr);
});

Deno.test("train(): an epoch without a step rejects the run's result with the config error, and leaves no run", async () => {
  await using runs = await tempRunsDir();
  const run = train({
    backend: "cpu",
    runsDir: runs.dir,
    batchSize: 150,
    data: { kind: "synthetic-linear", validationSplit: 0.5, dropLast: true },
  });
  const events: RunEvent[] = [];
  for await (const event of run.events()) events.push(event);
  const error = await run.result.then(
    (result) => assert.fail(`trained: ${result.status} ${result.reason}`),
    (error) => error,
  );
  assert.ok(error instanceof AnnealError && error.code === "config", String(error));
  assert.equal(error.where, "batchSize");
  assert.match(error.message, /an epoch would take no step/);
  // the stream ends with the refusal, in place of run.finished
  const types = events.map((event) => event.type);
  assert.equal(types[0], "run.started");
  assert.ok(!types.includes("run.finished"), types.join());
  const last = events.at(-1)!;
  assert.ok(last.type === "run.refused", types.join());
  assert.deepEqual(last, {
    type: "run.refused",
    runId: run.runId,
    runDir: run.runDir,
    kept: false,
    error: { code: "config", message: error.message, hint: error.hint, where: "batchSize" },
  });
  assert.deepEqual(await entries(runs.dir), []);
});

Deno.test("--resume --epochs past onecycle's totalSteps is refused as a config error, the run's records as they were", async () => {
  await using runs = await tempRunsDir();
  // 64 samples in batches of 16: 4 steps an epoch; onecycle over the 3 epochs' 12 steps
  const config = {
    backend: "cpu" as const,
    runsDir: runs.dir,
    epochs: 3,
    batchSize: 16,
    data: { kind: "synthetic-linear" as const, n: 64 },
    scheduler: { name: "onecycle" as const, maxLr: 0.1, totalSteps: 12 },
  };
  const first = await train(config, { runId: "cycle" }).result;
  assert.equal(first.status, "completed", first.reason);
  const runDir = `${runs.dir}/cycle`;
  const before = await records(runDir);

  const out = await anneal("train", "--resume", "cycle", "--runs-dir", runs.dir, "--epochs", "4");
  assert.equal(out.code, 1, out.stderr);
  assert.match(
    out.stderr,
    /^error\[config\]: .*'scheduler\.totalSteps': must count every step the schedule takes: torch's OneCycleLR raises at step 13/m,
  );
  assert.doesNotMatch(out.stdout + out.stderr, /actor 'trainer'|failed:/);
  assert.deepEqual(await records(runDir), before, "config, summary and curves as they were");
  const listed = await anneal("runs", "--runs-dir", runs.dir);
  assert.match(listed.stdout, /cycle.*completed/);
});

Deno.test("tune: a change refused at its start (batches of one sample under batch norm) counts for nothing, and the tune goes on", async () => {
  await using runs = await tempRunsDir();
  // 48 training samples under batch norm in batches of 2; the batch-size stage tries 1 and 4
  const config = parseConfig({
    backend: "cpu",
    epochs: 2,
    batchSize: 2,
    runsDir: runs.dir,
    data: { kind: "synthetic-linear", n: 64, validationSplit: 0.25 },
    model: { kind: "mlp", hidden: [4], batchNorm: true },
    sweep: { space: {}, metric: "valLoss" },
  });
  // stopped after the batch-size stage: the later stages have nothing to show here
  const stop = new AbortController();
  const refusals: string[] = [];
  const result = await tune(config, {
    budget: 20,
    interrupt: stop.signal,
    onTrial: (_stage, _change, _value, _config, refused) => refused && refusals.push(refused),
    onStage: (stage) => stage.name.startsWith("batch size") && stop.abort("enough"),
  });
  const batches = result.stages.find((stage) => stage.name.startsWith("batch size"))!;
  const one = batches.tried.find(({ change }) => change.batchSize === 1)!;
  assert.ok(Number.isNaN(one.value));
  assert.equal(one.runId, undefined, "no run was left");
  assert.match(one.refused ?? "", /Cannot train with batch norm on batches of one sample/);
  assert.deepEqual(refusals, [one.refused]);
  const four = batches.tried.find(({ change }) => change.batchSize === 4)!;
  assert.ok(Number.isFinite(four.value), "the stage went on to its next change");
});

Deno.test("tune: refused on its data or a setting its data cannot train with, it leaves no tune directory, as train leaves no run", async () => {
  await using runs = await tempRunsDir();
  const configs = {
    "a data file that is missing": {
      error: /Cannot open data file '.*gone\.csv'/,
      config: { data: { kind: "csv", path: `${runs.dir}/gone.csv`, target: "y" } },
    },
    "batches of one sample under batch norm": {
      error: /batch norm on batches of one sample/,
      config: {
        batchSize: 1,
        data: { kind: "synthetic-linear", n: 64, validationSplit: 0.25 },
        model: { kind: "mlp", hidden: [4], batchNorm: true },
      },
    },
  };
  for (const [label, { error, config }] of Object.entries(configs)) {
    const input = parseConfig({ backend: "cpu", epochs: 2, runsDir: runs.dir, ...config });
    const refused = await tune(input, { budget: 4 }).then(
      () => assert.fail(`${label}: tuned`),
      (error) => error,
    );
    assert.ok(refused instanceof AnnealError, `${label}: ${refused}`);
    assert.match(refused.message, error, label);
    assert.deepEqual(await entries(runs.dir), [], `${label}: no tune directory is left`);
  }
});

Deno.test("anneal train: a data file that is missing is refused as a data error, naming it, leaving no failed run", async () => {
  await using runs = await tempRunsDir();
  const out = await anneal(
    ...["train", "--backend", "cpu", "--runs-dir", `${runs.dir}/runs`, "--no-progress"],
    ...["--set", "data.kind=csv", "--set", `data.path=${runs.dir}/gone.csv`],
    ...["--set", "data.target=y"],
  );
  assert.equal(out.code, 1, out.stderr);
  assert.match(
    out.stderr,
    new RegExp(
      `^error\\[data\\]: Cannot open data file '${runs.dir}/gone\\.csv': .*\\n {2}hint: `,
      "m",
    ),
  );
  assert.doesNotMatch(out.stdout + out.stderr, /actor 'dataLoader'|failed|run record|--resume/);
  assert.deepEqual(await entries(`${runs.dir}/runs`), [], "no run directory is left");
  assert.deepEqual(await entries(runs.dir), [], "nor the runs directory made for it");
  // --json: the NDJSON stream that named the run ends saying it was refused, and why
  const json = await anneal(
    ...["train", "--json", "--backend", "cpu", "--runs-dir", `${runs.dir}/runs`],
    ...["--set", "data.kind=csv", "--set", `data.path=${runs.dir}/gone.csv`],
    ...["--set", "data.target=y"],
  );
  assert.equal(json.code, 1, json.stderr);
  const events = json.stdout.trim().split("\n").map((line) => JSON.parse(line));
  assert.equal(events[0].type, "run.started", json.stdout);
  const last = events.at(-1);
  assert.equal(last.type, "run.refused", json.stdout);
  assert.equal(last.runDir, events[0].runDir);
  assert.equal(last.kept, false);
  assert.equal(last.error.code, "data");
  assert.match(last.error.message, new RegExp(`Cannot open data file '${runs.dir}/gone\\.csv'`));
  assert.ok(!events.some((event) => event.type === "error"), "the error once on stdout");
  assert.match(json.stderr, /^error\[data\]: Cannot open data file/m);
  assert.deepEqual(await entries(`${runs.dir}/runs`), [], "no run directory is left");
});

Deno.test("--json: an error before a run starts is one JSON line on stdout too, as run.refused's error", async () => {
  await using runs = await tempRunsDir();
  const config = `${runs.dir}/config.json`;
  await Deno.writeTextFile(config, '{\n  "epochs": 2,\n  "epochs": 3\n}\n');
  const cases: [string[], number, string, RegExp][] = [
    // a config error, a refusal of the command's own, a usage error commander gives
    [["train", "-c", config, "--runs-dir", `${runs.dir}/runs`], 1, "config", /'epochs' twice/],
    [["train", "--set", "epochs=0", "--runs-dir", `${runs.dir}/runs`], 1, "config", /'epochs'/],
    [["schedule", "--scheduler", "{name:cosine}", "--steps", "3"], 2, "usage", /not valid JSON/],
    [["runs", "show", "no-such-run", "--runs-dir", runs.dir], 1, "storage", /no-such-run/],
    [["schedule", "--steps", "3", "--bogus"], 2, "usage", /anneal schedule has no option --bogus/],
  ];
  for (const [args, exit, code, message] of cases) {
    const out = await anneal(...args, "--json");
    const label = args.join(" ");
    assert.equal(out.code, exit, `${label}: ${out.stderr}`);
    const lines = out.stdout.trim().split("\n");
    assert.equal(lines.length, 1, `${label}: ${out.stdout}`);
    const line = JSON.parse(lines[0]);
    assert.deepEqual(Object.keys(line), ["type", "error"], label);
    assert.equal(line.type, "error", label);
    assert.equal(line.error.code, code, label);
    assert.match(line.error.message, message, label);
    // stderr keeps the message (and hint) a person reads
    assert.ok(out.stderr.includes(line.error.message), `${label}: ${out.stderr}`);
    if (line.error.hint !== undefined) assert.ok(out.stderr.includes(`hint: ${line.error.hint}`));
  }
  const refused = await anneal("train", "-c", config, "--runs-dir", `${runs.dir}/runs`, "--json");
  const { error } = JSON.parse(refused.stdout);
  assert.equal(error.where, `${config}:3:3`);
  assert.match(error.hint, /^remove one of the two/);
  assert.deepEqual(await entries(runs.dir), ["config.json"], "no run directory");
});

/** A CSV of 48 rows of two features and a target. */
function csv(): string {
  const lines = ["a,b,y"];
  for (let i = 0; i < 48; i++) lines.push(`${i % 7},${i % 5},${(i % 7) + 2 * (i % 5)}`);
  return lines.join("\n") + "\n";
}

Deno.test("--resume on data that is gone or changed since is refused before its first step, the run's records as they were", async () => {
  await using runs = await tempRunsDir();
  const path = `${runs.dir}/data.csv`;
  await Deno.writeTextFile(path, csv());
  const config = {
    backend: "cpu" as const,
    runsDir: runs.dir,
    epochs: 2,
    batchSize: 16,
    data: { kind: "csv" as const, path, target: "y", task: "regression" as const },
  };
  const first = await train(config, { runId: "tabular" }).result;
  assert.equal(first.status, "completed", first.reason);
  const runDir = `${runs.dir}/tabular`;
  const before = await records(runDir);
  const resume = (...more: string[]) =>
    anneal("train", "--resume", "tabular", "--runs-dir", runs.dir, "--epochs", "3", ...more);

  await Deno.rename(path, `${path}.moved`);
  const gone = await resume();
  assert.equal(gone.code, 1, gone.stderr);
  assert.match(gone.stderr, /^error\[data\]: Cannot open data file '.*data\.csv'/m);
  assert.doesNotMatch(gone.stdout + gone.stderr, /actor 'dataLoader'|failed/);
  assert.deepEqual(
    await records(runDir),
    before,
    "a missing file: config, summary and curves as they were",
  );

  // the same rows, one value other: the samples' SHA-256 in meta.json is not theirs
  await Deno.writeTextFile(path, csv().replace("\n0,0,0\n", "\n0,0,1\n"));
  const changed = await resume();
  assert.equal(changed.code, 1, changed.stderr);
  assert.match(
    changed.stderr,
    /^error\[checkpoint\]: Cannot resume run 'tabular': its data is not the data it trained on/m,
  );
  assert.match(changed.stderr, /hint: restore the data it trained on, then resume it/);
  assert.doesNotMatch(changed.stdout + changed.stderr, /actor 'trainer'|failed/);
  assert.deepEqual(
    await records(runDir),
    before,
    "changed data: config, summary and curves as they were",
  );
  const listed = await anneal("runs", "--runs-dir", runs.dir);
  assert.match(listed.stdout, /tabular.*completed/);

  // the data put back, it resumes
  await Deno.rename(`${path}.moved`, path);
  const resumed = await resume("--no-progress");
  assert.equal(resumed.code, 0, resumed.stderr);
});
