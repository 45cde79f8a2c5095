/**
 * Each `anneal tune` keeps its own directory, `runs/tune-<time>-<random>`: its runs, `tune.json`
 * and `tuned_config.json`, the best config so far after every run. Two tunes at once write no file
 * of the other's; one given an `--out` another wrote meanwhile says it replaced it. Ctrl-C stops
 * a tune cleanly (the best config so far kept, exit 130); a tune killed without warning leaves its
 * best config so far, and the next tune says where it is and that it starts over.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseConfig, tune } from "../mod.ts";
import { anneal, annealCommand, tempRunsDir } from "./_helpers.ts";

/** A config of runs of `epochs` epochs on synthetic data with a validation split. */
function tuneConfig(runsDir: string, epochs: number, slow = false) {
  return {
    backend: "cpu" as const,
    runsDir,
    epochs,
    data: { kind: "synthetic-linear" as const, n: slow ? 1000 : 200, validationSplit: 0.25 },
    // (a wide MLP: epochs of 0.15-0.3 s on the host step, so a signal lands mid-run)
    ...(slow && { model: { kind: "mlp" as const, hidden: [256, 256] } }),
  };
}

const readJson = async (path: string) => JSON.parse(await Deno.readTextFile(path));

Deno.test("two tunes at once each write their own directory: runs, tune.json and tuned_config.json", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const config = parseConfig(tuneConfig(dir, 1));
  const starts: string[] = [];
  const results = await Promise.all(
    [0, 1].map(() => tune(config, { budget: 2, onStart: (at) => starts.push(at) })),
  );
  const [a, b] = results;
  assert.notEqual(a.dir, b.dir);
  assert.deepEqual(starts.sort(), [a.dir, b.dir].sort());
  for (const result of results) {
    assert.match(result.dir, new RegExp(`^${dir}/tune-\\d{8}T\\d{6}-[0-9a-f]{4}$`));
    const { sweep: _, ...tuned } = result.config;
    assert.deepEqual(
      await readJson(`${result.dir}/tuned_config.json`),
      JSON.parse(JSON.stringify(tuned)),
    );
    const record = await readJson(`${result.dir}/tune.json`);
    assert.equal(record.status, "completed");
    assert.equal(record.runs, result.runs);
    assert.equal(record.best, result.final);
    assert.equal(record.baseline, result.baseline);
    assert.deepEqual(
      record.stages.map((s: { name: string }) => s.name),
      result.stages.map((s) => s.name),
    );
    // its runs are its own
    const ran = [{ runId: "" }, ...result.stages.flatMap((s) => s.tried)].slice(1);
    for (const { runId } of ran) await Deno.stat(`${result.dir}/${runId}/summary.json`);
  }
  await assert.rejects(Deno.stat(`${dir}/tuned_config.json`), Deno.errors.NotFound);
});

Deno.test("anneal tune --out a file another tune wrote meanwhile says it replaced it; each tune keeps its own", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const file = `${dir}/t.json`;
  await Deno.writeTextFile(file, JSON.stringify(tuneConfig(dir, 1)));
  const out = `${dir}/tuned.json`;
  const args = ["tune", "-c", file, "--out", out];
  // The first tune is held (SIGSTOP) once it has started, while a second runs to its end and
  // writes --out; then it goes on: "meanwhile" by construction, not by two tunes' timing.
  const first = annealCommand([...args, "--budget", "3"]).spawn();
  const firstErr = new Response(first.stderr).text();
  let firstOut = "";
  let began!: () => void;
  const started = new Promise<void>((resolve) => began = resolve);
  const reading = (async () => {
    for await (const chunk of first.stdout.pipeThrough(new TextDecoderStream())) {
      firstOut += chunk;
      if (/^tune: its runs/m.test(firstOut)) began();
    }
    began();
  })();
  await started;
  // (a tune that ended before it started its runs: its error, not a failed SIGSTOP)
  if (!/^tune: its runs/m.test(firstOut)) assert.fail(`${firstOut}${await firstErr}`);
  first.kill("SIGSTOP");
  let second;
  try {
    second = await anneal(...args, "--budget", "2");
  } finally {
    first.kill("SIGCONT");
  }
  const status = await first.status;
  await reading;
  assert.equal(second.code, 0, second.stderr);
  assert.equal(status.code, 0, await firstErr);
  // (runs of one epoch, not "1 epochs")
  assert.match(second.stdout, /^tune: up to 2 runs of 1 epoch; stages: /m);
  const kept = [firstOut, second.stdout].map((o) =>
    o.match(/\(and kept with the tune's runs: (\S+)\)/)![1]
  );
  assert.notEqual(kept[0], kept[1]);
  // the second found no file there; the first, resumed, says it replaced the second's
  assert.doesNotMatch(second.stdout, /note: replaced/);
  assert.ok(
    firstOut.includes(
      `note: replaced the file that was at ${out}, written while this tune ran (by another ` +
        "tune given the same --out? each tune keeps its own tuned config in its directory, " +
        "runs/tune-*/tuned_config.json)",
    ),
    firstOut,
  );
  assert.deepEqual(await readJson(out), await readJson(kept[0]));
  for (const path of kept) await readJson(path);
});

/** Starts `anneal tune` and sends `signal` once it printed a line `until` matches. */
async function signalTune(args: string[], until: RegExp, signal: Deno.Signal) {
  const child = annealCommand(["tune", ...args]).spawn();
  const stderr = new Response(child.stderr).text();
  let stdout = "";
  let sent = false;
  for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
    stdout += chunk;
    if (!sent && until.test(stdout)) {
      child.kill(signal);
      sent = true;
    }
  }
  const status = await child.status;
  const dir = stdout.match(/ go to (\S+); a tune cut short is not resumed/)?.[1];
  assert.ok(dir, stdout);
  return { status, stdout, stderr: await stderr, dir };
}

Deno.test("Ctrl-C stops anneal tune with its best config so far; a tune killed with SIGKILL leaves its own, and the next tune says where and that it starts over", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const file = `${dir}/t.json`;
  await Deno.writeTextFile(file, JSON.stringify(tuneConfig(dir, 6, true)));
  const args = ["-c", file, "--budget", "6"];

  const interrupted = await signalTune(args, /\[baseline\]/, "SIGINT");
  assert.equal(interrupted.status.code, 130, interrupted.stderr);
  assert.match(interrupted.stderr, /anneal: SIGINT: stopping the run in progress/);
  assert.match(
    interrupted.stderr,
    new RegExp(
      // (the signal comes as the learning-rate stage's range test starts: it may stop that)
      `anneal: tune interrupted \\(SIGINT received\\) after \\d of 6 runs(, during [^:]*)?: the ` +
        `best config so far \\(valLoss .*\\) is in ${interrupted.dir}/tuned_config\\.json; a ` +
        "tune is not resumed: run it again to start over",
    ),
  );
  const record = await readJson(`${interrupted.dir}/tune.json`);
  assert.equal(record.status, "interrupted");
  assert.equal(record.reason, "SIGINT received");
  // (the run the signal stopped counts in tune.json as in the line: it said one fewer)
  assert.equal(record.runs, Number(interrupted.stderr.match(/after (\d) of 6 runs/)![1]));
  assert.equal(typeof record.best, "number");
  // the baseline is the best so far: the config as given
  const { sweep: _, ...given } = parseConfig(tuneConfig(dir, 6, true));
  assert.deepEqual(
    await readJson(`${interrupted.dir}/tuned_config.json`),
    JSON.parse(JSON.stringify(given)),
  );

  const killed = await signalTune(args, /\[baseline\]/, "SIGKILL");
  assert.equal(killed.status.signal, "SIGKILL");
  assert.match(
    killed.stdout,
    new RegExp(
      `note: the last tune, ${interrupted.dir}, was interrupted \\(SIGINT received\\) after ` +
        `\\d of its 6 runs \\(valLoss .*\\): its best config so far is ` +
        `${interrupted.dir}/tuned_config.json; this tune starts over`,
    ),
  );
  assert.equal((await readJson(`${killed.dir}/tune.json`)).status, "running");
  await readJson(`${killed.dir}/tuned_config.json`);

  const next = await signalTune(args, /\[baseline\]/, "SIGINT");
  assert.equal(next.status.code, 130, next.stderr);
  assert.match(
    next.stdout,
    new RegExp(
      `note: the last tune, ${killed.dir}, was killed \\(its process is gone\\) before it ` +
        `completed after \\d of its 6 runs \\(valLoss .*\\): its best config so far is ` +
        `${killed.dir}/tuned_config.json; this tune starts over`,
    ),
  );
  assert.equal(new Set([interrupted.dir, killed.dir, next.dir]).size, 3);
});

Deno.test("Ctrl-C in tune's learning-rate stage stops its LR range test after the step in progress, saying how far it got", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const file = `${dir}/t.json`;
  // (a wider MLP: the range test's 80 steps take seconds, and the signal comes as they start)
  const model = { kind: "mlp", hidden: [512, 512] };
  await Deno.writeTextFile(file, JSON.stringify({ ...tuneConfig(dir, 1), model }));
  // the baseline's line is printed as the learning-rate stage starts
  const interrupted = await signalTune(["-c", file, "--budget", "6"], /\[baseline\]/, "SIGINT");
  assert.equal(interrupted.status.code, 130, interrupted.stderr);
  assert.match(
    interrupted.stderr,
    /anneal: SIGINT: stopping the run in progress \(or the learning-rate stage's LR range test\)/,
  );
  assert.match(
    interrupted.stderr,
    new RegExp(
      "anneal: tune interrupted \\(SIGINT received\\) after 1 of 6 runs, during its " +
        "learning-rate stage's LR range test \\((before its first step|after \\d+ of its 80 " +
        "steps); a test cut short suggests nothing, so the stage tried no rate\\): the best " +
        `config so far \\(valLoss .*; stages done: none\\) is in ${interrupted.dir}/`,
    ),
  );
  // no rate of the test was tried: the baseline is the tune's only run
  assert.doesNotMatch(interrupted.stdout, /\[learning rate\]/);
  const record = await readJson(`${interrupted.dir}/tune.json`);
  assert.equal(record.status, "interrupted");
  assert.equal(record.runs, 1);
});

Deno.test("anneal tune --budget 1 is refused with its reason and what to give, before it says what it would run", async () => {
  await using runs = await tempRunsDir();
  const file = `${runs.dir}/config.json`;
  await Deno.writeTextFile(file, JSON.stringify(tuneConfig(runs.dir, 2)));
  const refused = await anneal("tune", "-c", file, "--budget", "1");
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /Cannot tune with a budget of 1 run: a tune needs at least 2/);
  assert.match(refused.stderr, /give --budget 2 or more/);
  assert.doesNotMatch(refused.stdout, /tune: up to/);
  assert.deepEqual([...Deno.readDirSync(runs.dir)].map((e) => e.name), ["config.json"]);
});

Deno.test("an rnn tune whose clipping is off trains its runs unclipped and writes its tuned config with clipping.maxNorm null", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const file = `${dir}/t.json`;
  const rnn = { model: { kind: "rnn", cell: "gru", units: 2 }, clipping: { maxNorm: null } };
  await Deno.writeTextFile(file, JSON.stringify({ ...tuneConfig(dir, 1), ...rnn }));
  const out = `${dir}/tuned.json`;
  const tuned = await anneal("tune", "-c", file, "--budget", "2", "--out", out);
  assert.equal(tuned.code, 0, tuned.stderr);
  const kept = tuned.stdout.match(/\(and kept with the tune's runs: (\S+)\)/)![1];
  // (left out, each read back as an rnn's default maxNorm of 1)
  assert.equal((await readJson(out)).clipping.maxNorm, null);
  assert.equal((await readJson(kept)).clipping.maxNorm, null);
  const tuneDir = kept.slice(0, kept.lastIndexOf("/"));
  const ran = [...Deno.readDirSync(tuneDir)].filter((entry) => entry.isDirectory);
  assert.equal(ran.length, 2);
  for (const { name } of ran) {
    assert.equal((await readJson(`${tuneDir}/${name}/config.json`)).clipping.maxNorm, null, name);
  }
});

Deno.test("anneal tune --out keeps the config's sweep section, where the tune read its metric and direction", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const file = `${dir}/t.json`;
  const sweep = {
    space: { "optimizer.lr": { type: "logUniform", low: 0.001, high: 0.1 } },
    metric: "valMae",
    direction: "minimize",
    trials: 4,
  };
  await Deno.writeTextFile(file, JSON.stringify({ ...tuneConfig(dir, 1), sweep }));
  // (--out over -c's own file: the sweep section had been dropped from it)
  const tuned = await anneal("tune", "-c", file, "--budget", "2", "--out", file);
  assert.equal(tuned.code, 0, tuned.stderr);
  const kept = tuned.stdout.match(/\(and kept with the tune's runs: (\S+)\)/)![1];
  assert.match(tuned.stdout, /^valMae: /m);
  for (const path of [file, kept]) {
    const { sweep: written } = await readJson(path);
    const { space, metric, direction, trials } = written ?? {};
    assert.deepEqual({ space, metric, direction, trials }, sweep, path);
  }
});

Deno.test("anneal tune whose untuned run diverges says so where it printed NaN ('NaN -> 0.31 (NaN)')", async () => {
  await using runs = await tempRunsDir();
  const file = `${runs.dir}/diverges.json`;
  await Deno.writeTextFile(
    file,
    JSON.stringify({ ...tuneConfig(runs.dir, 3), optimizer: { name: "sgd", lr: 50 } }),
  );
  const run = await anneal("tune", "-c", file, "--budget", "2");
  assert.equal(run.code, 0, run.stderr);
  assert.doesNotMatch(run.stdout, /NaN/);
  assert.match(run.stdout, /\[baseline\] \(unchanged\) -> none \(its run failed or diverged\)/);
  assert.match(
    run.stdout,
    /stage 'learning rate' \(cut short by the budget: 1 of its \d changes tried\): kept optimizer\.lr=\S+: none \(its run failed or diverged\) -> \d/,
  );
  assert.match(
    run.stdout,
    /\nvalLoss: none untuned \(its run failed or diverged\) -> \d\S* \(tuned\) in 2 runs/,
  );
});
