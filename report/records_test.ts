import assert from "node:assert/strict";
import { AnnealError } from "../errors.ts";
import { saveCheckpoint } from "../runtime/checkpoint.ts";
import {
  bestMetric,
  compareRuns,
  formatTable,
  listRuns,
  parseNdjson,
  readRun,
  runRow,
} from "./records.ts";
import { syntheticRun } from "./_synthetic.ts";
import { FIXTURES } from "./_synthetic.ts";

async function copyRun(name: string): Promise<string> {
  const dir = await Deno.makeTempDir();
  for await (const entry of Deno.readDir(`${FIXTURES}${name}`)) {
    await Deno.copyFile(`${FIXTURES}${name}/${entry.name}`, `${dir}/${entry.name}`);
  }
  return dir;
}

Deno.test("readRun reads config, meta, steps, epochs, summary and lr_find of a run directory", async () => {
  const run = await readRun(`${FIXTURES}healthy`);
  const lines = (await Deno.readTextFile(`${FIXTURES}healthy/epochs.ndjson`)).trim().split("\n");
  assert.equal(run.epochs.length, lines.length);
  assert.equal(run.id, "healthy"); // the directory's name (meta.json's id is healthy-20261122-...)
  assert.equal(run.summary.status, "completed");
  assert.equal(run.lrFind?.lrs.length, run.lrFind?.losses.length);
  assert.ok(run.steps.every((s) => typeof s.gradNorm === "number"));
  assert.deepEqual(run.warnings, []);
});

Deno.test("readRun turns the null that JSON writes for a NaN loss back into NaN", async () => {
  const run = await readRun(`${FIXTURES}diverged`);
  assert.ok(Number.isNaN(run.epochs.at(-1)!.loss));
  assert.ok(run.steps.some((s) => Number.isNaN(s.loss)));
});

Deno.test("readRun skips a torn last NDJSON line of a killed run and notes it", async () => {
  const dir = await copyRun("healthy");
  const text = await Deno.readTextFile(`${dir}/steps.ndjson`);
  const count = text.trim().split("\n").length;
  await Deno.writeTextFile(`${dir}/steps.ndjson`, text + '{"step":650,"epoch":50,"lo');
  await Deno.remove(`${dir}/summary.json`);
  const run = await readRun(dir);
  assert.equal(run.steps.length, count);
  assert.ok(
    run.warnings.some((w) => w.startsWith(`${dir}/steps.ndjson:651: the last line is incomplete`)),
  );
  assert.equal(run.summary.status, "running");
  assert.ok(run.warnings.some((w) => w.startsWith("summary.json: missing")));
});

Deno.test("readRun notes a run whose summary counts epochs and steps its records no longer hold (a file removed or emptied), not read as a run of none", async () => {
  const dir = await copyRun("healthy");
  try {
    await Deno.remove(`${dir}/epochs.ndjson`);
    await Deno.writeTextFile(`${dir}/steps.ndjson`, "");
    const run = await readRun(dir);
    assert.deepEqual(run.warnings, [
      "epochs.ndjson: missing or empty where summary.json counts 50 epochs: those records were " +
      "lost, and the curves are read without them",
      "steps.ndjson: missing or empty where summary.json counts 650 steps: those records were " +
      "lost, and the curves are read without them",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readRun notes a run's config.json removed since, once (an unparsable one is noted as such)", async () => {
  const dir = await copyRun("healthy");
  try {
    await Deno.remove(`${dir}/config.json`);
    assert.deepEqual((await readRun(dir)).warnings, [
      "config.json: missing; the run's settings are unknown",
    ]);
    await Deno.writeTextFile(`${dir}/config.json`, "garbage");
    const garbled = (await readRun(dir)).warnings;
    assert.equal(garbled.length, 1);
    assert.match(garbled[0], /^config\.json: not valid JSON .*; ignored$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseNdjson tells a torn last line from a corrupt line in the middle, by line number", () => {
  const parsed = parseNdjson('{"a":1}\nnot json\nnull\n{"a":2}\n{"a":', "x.ndjson");
  assert.deepEqual(parsed.records, [{ a: 1 }, { a: 2 }]);
  assert.deepEqual(parsed.warnings, [
    "x.ndjson:2: not a JSON record (a corrupt line); left out, the other lines are read",
    "x.ndjson:3: not a JSON record (a corrupt line); left out, the other lines are read",
    "x.ndjson:5: the last line is incomplete (cut off mid-way, as when the run is killed or its " +
    "disk fills); left out, the complete lines before it are read",
  ]);
});

Deno.test("readRun of a missing directory throws a storage AnnealError with a hint", async () => {
  await assert.rejects(readRun("/nonexistent/run"), (error: unknown) => {
    assert.ok(error instanceof AnnealError);
    assert.equal(error.code, "storage");
    assert.match(error.hint ?? "", /anneal runs/);
    return true;
  });
});

Deno.test("listRuns lists each run oldest first with model, optimizer, lr, batch and best metric", async () => {
  const rows = await listRuns(FIXTURES.replace(/\/$/, ""));
  assert.deepEqual(rows.map((r) => r.id.split("-")[0]), ["healthy", "diverged", "overfitting"]);
  const overfit = rows[2];
  const record = await readRun(`${FIXTURES}overfitting`);
  const best = record.epochs.reduce((a, b) => (b.valLoss! < a.valLoss! ? b : a));
  assert.equal(overfit.model, "mlp");
  assert.equal(overfit.optimizer, "adam");
  assert.equal(overfit.lr, 0.001);
  assert.equal(overfit.batch, 32);
  assert.equal(overfit.epochs, record.epochs.length);
  assert.ok(overfit.best.startsWith(`valLoss=`) && overfit.best.endsWith(`@${best.epoch}`));
  assert.equal(rows[1].status, "diverged");
  assert.deepEqual(await listRuns("/nonexistent"), []);
});

Deno.test("bestMetric follows the early stopper's monitor and mode", async () => {
  const record = await readRun(`${FIXTURES}overfitting`);
  record.summary.best = undefined;
  record.config = { ...record.config, earlyStopping: { monitor: "valAccuracy", mode: "max" } };
  const best = bestMetric(record)!;
  assert.equal(best.metric, "valAccuracy");
  assert.equal(best.value, Math.max(...record.epochs.map((e) => e.valAccuracy!)));
});

Deno.test("bestMetric reads the loss of a run that maximizes it upwards, and a valX monitor without a split in its mode", async () => {
  const record = await readRun(`${FIXTURES}overfitting`);
  record.summary.best = undefined;
  const optimizer = { ...(record.config.optimizer as object), maximize: true };
  const highest = (name: string) => Math.max(...record.epochs.map((e) => e[name]!));
  // a monitor the epochs do not log: the fallback, valLoss, is read the optimizer's way
  record.config = {
    ...record.config,
    optimizer,
    earlyStopping: { monitor: "valMae", mode: "min" },
  };
  assert.deepEqual(
    [bestMetric(record)!.metric, bestMetric(record)!.mode, bestMetric(record)!.value],
    ["valLoss", "max", highest("valLoss")],
  );
  // without a validation split, a valLoss monitor watches loss, in its mode
  const trainingOnly = {
    ...record,
    epochs: record.epochs.map(({ valLoss: _, valAccuracy: __, ...rest }) => rest),
  };
  for (const mode of ["max", "min"] as const) {
    trainingOnly.config = { ...record.config, earlyStopping: { monitor: "valLoss", mode } };
    const best = bestMetric(trainingOnly)!;
    assert.deepEqual([best.metric, best.mode], ["loss", mode]);
    const losses = trainingOnly.epochs.map((e) => e.loss!);
    assert.equal(best.value, mode === "max" ? Math.max(...losses) : Math.min(...losses));
  }
});

Deno.test("compareRuns lists only differing config paths and metrics side by side", async () => {
  const runs = [await readRun(`${FIXTURES}healthy`), await readRun(`${FIXTURES}diverged`)];
  const diff = compareRuns(runs);
  const paths = diff.differences.map((d) => d.path);
  assert.ok(paths.includes("optimizer.lr") && paths.includes("data.validationSplit"));
  assert.ok(!paths.includes("seed") && !paths.includes("batchSize"));
  assert.deepEqual(diff.differences.find((d) => d.path === "optimizer.lr")!.values, [0.01, 1]);
  const finalLoss = diff.metrics.find((m) => m.name === "final loss")!;
  assert.equal(finalLoss.values[0], runs[0].epochs.at(-1)!.loss);
  assert.ok(Number.isNaN(finalLoss.values[1]));
  const bestVal = diff.metrics.find((m) => m.name === "best valLoss")!;
  assert.equal(bestVal.values[0], Math.min(...runs[0].epochs.map((e) => e.valLoss!)));
  assert.equal(bestVal.values[1], undefined);
  // how each ended, beside its metrics: a diverged run's are not a completed one's
  assert.deepEqual(diff.status, [runs[0].summary.status, runs[1].summary.status]);
  assert.deepEqual(diff.status, ["completed", "diverged"]);
  assert.deepEqual(diff.epochs, [runs[0].epochs.length, runs[1].epochs.length]);
});

Deno.test("compareRuns takes each run's best its own way: the highest loss of a run that maximizes it", async () => {
  const descent = await readRun(`${FIXTURES}healthy`);
  const ascent = await readRun(`${FIXTURES}healthy`);
  ascent.config = {
    ...ascent.config,
    optimizer: { ...(ascent.config.optimizer as object), maximize: true },
  };
  const diff = compareRuns([descent, ascent]);
  for (const name of ["loss", "valLoss"]) {
    const values = descent.epochs.map((e) => e[name]!);
    const best = diff.metrics.find((m) => m.name === `best ${name}`)!;
    assert.deepEqual(best.values, [Math.min(...values), Math.max(...values)], name);
  }
  // a metric the optimizer does not push keeps its direction in both
  const mae = descent.epochs.map((e) => e.mae!);
  const bestMae = diff.metrics.find((m) => m.name === "best mae")!;
  assert.deepEqual(bestMae.values, [Math.min(...mae), Math.min(...mae)]);
});

Deno.test("formatTable aligns columns, right-aligns numbers and prints '-' for missing", () => {
  const table = formatTable([{ id: "a", lr: 0.1 }, { id: "bbb", lr: 0.00001, note: "x" }]);
  const lines = table.split("\n");
  assert.deepEqual(lines, [
    "id     lr  note",
    "---  ----  ----",
    "a     0.1  -",
    "bbb  1e-5  x",
  ]);
});

Deno.test("a run's row shows the rate it trains at: under onecycle its maxLr, not optimizer.lr", () => {
  const onecycle = { name: "onecycle", maxLr: 0.4, totalSteps: 100 };
  const optimizer = { name: "sgd", lr: 0 };
  const plain = runRow(syntheticRun([1, 0.5], { lr: 0.03 }));
  assert.equal(plain.lr, 0.03);
  assert.equal(plain.lrSetting, undefined);
  const cycle = runRow(syntheticRun([1, 0.5], { config: { optimizer, scheduler: onecycle } }));
  assert.equal(cycle.lr, 0.4);
  assert.equal(cycle.lrSetting, "scheduler.maxLr");
  const scheduler = { name: "sequential", schedulers: [onecycle], milestones: [] };
  const nested = runRow(syntheticRun([1, 0.5], { config: { optimizer, scheduler } }));
  assert.deepEqual([nested.lr, nested.lrSetting], [0.4, "scheduler.schedulers.0.maxLr"]);
});

Deno.test("a run's id is its directory's name (what `last` resolves to), also for a renamed run", async () => {
  const runs = await Deno.makeTempDir();
  try {
    // the fixtures' meta.json ids ("healthy-20261122-...") are not their directory names
    await Deno.rename(await copyRun("healthy"), `${runs}/healthy`);
    await Deno.rename(await copyRun("overfitting"), `${runs}/renamed`);
    const rows = await listRuns(runs);
    assert.deepEqual(rows.map((row) => row.id), ["healthy", "renamed"]);
    const record = await readRun(`${runs}/renamed`);
    assert.equal(record.id, "renamed");
    assert.match(String(record.meta.id), /^overfitting-/);
  } finally {
    await Deno.remove(runs, { recursive: true });
  }
});

Deno.test("a summary.json that does not parse, or holds no status, reads as corrupt, naming the file and what to do", async () => {
  const runs = await Deno.makeTempDir();
  try {
    for (const [id, text] of [["torn", '{"status": "compl'], ["empty", ""], ["nothing", "null"]]) {
      await Deno.rename(await copyRun("healthy"), `${runs}/${id}`);
      await Deno.writeTextFile(`${runs}/${id}/summary.json`, text);
    }
    const rows = await listRuns(runs);
    assert.deepEqual(rows.map((row) => row.status), ["corrupt", "corrupt", "corrupt"]);
    const torn = await readRun(`${runs}/torn`);
    assert.equal(torn.summary.status, "corrupt");
    assert.match(torn.summary.stopReason ?? "", /torn\/summary\.json is not valid JSON \(/);
    assert.match(torn.summary.hint ?? "", /anneal train -c .*torn\/config\.json/);
    assert.equal(torn.epochs.length, 50, "the curves are read as ever");
    const nothing = rows.find((row) => row.id === "nothing")!;
    assert.match(
      nothing.note ?? "",
      /nothing\/summary\.json is not a run summary \(it has no 'status'\)/,
    );
    // with a checkpoint, resuming the run writes its summary again
    await Deno.mkdir(`${runs}/torn/checkpoints`);
    await Deno.writeTextFile(`${runs}/torn/checkpoints/last.ckpt`, "");
    const resumable = await readRun(`${runs}/torn`);
    assert.match(resumable.summary.hint ?? "", /anneal train --resume torn --runs-dir /);
  } finally {
    await Deno.remove(runs, { recursive: true });
  }
});

Deno.test("a corrupt or unreadable summary.json beside a lost last.ckpt gives the way on from best.ckpt, not to train the run again", async () => {
  // (both said "train it again", throwing the recorded epochs away, where the resume's own
  // refusal says to copy best.ckpt over last.ckpt)
  const runs = await Deno.makeTempDir();
  try {
    for (const id of ["torn", "blocked"]) {
      await Deno.rename(await copyRun("healthy"), `${runs}/${id}`);
      await Deno.mkdir(`${runs}/${id}/checkpoints`);
      await saveCheckpoint(`${runs}/${id}/checkpoints/best.ckpt`, { epoch: 7, step: 91 }, {});
    }
    await Deno.writeTextFile(`${runs}/torn/summary.json`, '{"status": "compl');
    await Deno.remove(`${runs}/blocked/summary.json`);
    await Deno.mkdir(`${runs}/blocked/summary.json`);
    const torn = await readRun(`${runs}/torn`);
    assert.equal(torn.summary.status, "corrupt");
    const hint = torn.summary.hint ?? "";
    assert.match(hint, /last\.ckpt is missing, though the run recorded 50 epochs/);
    assert.match(hint, /move it away \(mv .*torn\/summary\.json .*torn\/summary\.json\.corrupt\)/);
    assert.match(hint, /resume it from its best epoch's checkpoint \(epoch 7;/);
    assert.match(hint, /cp .*torn\/checkpoints\/best\.ckpt .*torn\/checkpoints\/last\.ckpt && /);
    assert.match(hint, /anneal train --resume torn --runs-dir /);
    assert.doesNotMatch(hint, /train it again/);
    const blocked = await readRun(`${runs}/blocked`);
    assert.equal(blocked.summary.status, "unreadable");
    assert.match(blocked.summary.hint ?? "", /last\.ckpt is missing, though the run recorded 50/);
    assert.match(blocked.summary.hint ?? "", /resume it from its best epoch's checkpoint/);
    assert.doesNotMatch(blocked.summary.hint ?? "", /train it again/);
    // with no checkpoint at all, and no epochs recorded, training again is the way
    await Deno.remove(`${runs}/torn/checkpoints`, { recursive: true });
    await Deno.writeTextFile(`${runs}/torn/epochs.ndjson`, "");
    assert.match(
      (await readRun(`${runs}/torn`)).summary.hint ?? "",
      /for a whole record, train it again: anneal train -c .*torn\/config\.json/,
    );
  } finally {
    await Deno.remove(runs, { recursive: true });
  }
});

Deno.test("an unreadable summary.json reads as unreadable, with a resume command when there is a checkpoint; other unreadable files (a directory, a link loop, a link to nothing) are left out with a warning", async () => {
  const runs = await Deno.makeTempDir();
  try {
    const dir = `${runs}/damaged`;
    await Deno.rename(await copyRun("healthy"), dir);
    for (const name of ["summary.json", "steps.ndjson", "lr_find.json"]) {
      await Deno.remove(`${dir}/${name}`);
      await Deno.mkdir(`${dir}/${name}`);
    }
    await Deno.remove(`${dir}/meta.json`);
    await Deno.symlink("meta.json", `${dir}/meta.json`);
    await Deno.remove(`${dir}/epochs.ndjson`);
    await Deno.symlink("gone.ndjson", `${dir}/epochs.ndjson`);
    await Deno.mkdir(`${dir}/checkpoints`);
    await Deno.writeTextFile(`${dir}/checkpoints/last.ckpt`, "");

    const run = await readRun(dir);
    assert.equal(run.summary.status, "unreadable");
    assert.match(
      run.summary.stopReason ?? "",
      /damaged\/summary\.json cannot be read \(Is a directory \(os error 21\)\): how the run ended/,
    );
    assert.match(run.summary.hint ?? "", /anneal train --resume damaged --runs-dir /);
    assert.equal(run.steps.length, 0);
    assert.equal(run.epochs.length, 0);
    assert.ok(
      run.warnings.includes(
        `${dir}/epochs.ndjson: cannot be read (it is a symbolic link to 'gone.ndjson', which ` +
          `does not exist); left out, the other files are read (ls -l '${dir}/epochs.ndjson' ` +
          "shows what is there: its permissions, a directory or a symbolic link in its place)",
      ),
      run.warnings.join("\n"),
    );
    assert.deepEqual(run.config, JSON.parse(await Deno.readTextFile(`${dir}/config.json`)));
    assert.equal(run.lrFind, undefined);
    assert.equal(run.meta.id, "damaged");
    for (const name of ["steps.ndjson", "lr_find.json", "meta.json"]) {
      assert.ok(
        run.warnings.some((w) => w.startsWith(`${dir}/${name}: cannot be read (`)),
        `${name}: ${run.warnings.join("\n")}`,
      );
    }
    const [row] = await listRuns(runs);
    assert.equal(row.status, "unreadable");
    assert.match(row.note ?? "", /summary\.json cannot be read .*; make it a readable file again/);
  } finally {
    await Deno.remove(runs, { recursive: true });
  }
});

Deno.test({
  name: "listRuns lists a directory it cannot look into as unreadable, and the other runs",
  // root may list a directory of mode 000
  ignore: Deno.build.os === "windows" || Deno.uid() === 0,
  fn: async () => {
    const runs = await Deno.makeTempDir();
    try {
      await Deno.rename(await copyRun("healthy"), `${runs}/healthy`);
      await Deno.mkdir(`${runs}/closed`, { mode: 0o000 });
      const rows = await listRuns(runs);
      assert.deepEqual(rows.map((row) => `${row.id} ${row.status}`), [
        "closed unreadable",
        "healthy completed",
      ]);
      assert.match(rows[0].note ?? "", /closed cannot be listed \(Permission denied/);
    } finally {
      await Deno.chmod(`${runs}/closed`, 0o755);
      await Deno.remove(runs, { recursive: true });
    }
  },
});

Deno.test("readRun of a run that does not exist names the runs directory it looked in, and the id meant where one is a slip away", async () => {
  // The hint said `anneal runs`, which lists ./runs, whatever directory the run was looked for in.
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/study/trial-0-6e31`, { recursive: true });
    const refused = async (path: string, hint: string) => {
      await assert.rejects(() => readRun(path), (error) => {
        assert.ok(error instanceof AnnealError);
        assert.equal(error.message, `Cannot read run: '${path}' does not exist`);
        assert.equal(error.hint, hint);
        return true;
      });
    };
    await refused(
      `${dir}/study/trial-0-6e3`,
      `did you mean trial-0-6e31? (\`anneal runs --runs-dir ${dir}/study\` lists the runs)`,
    );
    await refused(
      `${dir}/study/nothing-like-it`,
      `list the runs with \`anneal runs --runs-dir ${dir}/study\` and pass one of their ids`,
    );
    // in the default runs directory, no flag; in a directory that is not there either, no id
    await refused(
      "runs/no-such-run-at-all",
      "list the runs with `anneal runs` and pass one of their ids",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a run that lost its config and meta is still listed, as damaged, and its hint does not name the config it lacks", async () => {
  const runsDir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${runsDir}/bare`);
    await Deno.writeTextFile(`${runsDir}/bare/summary.json`, "{}");
    // a directory of none of a run's records is not one
    await Deno.mkdir(`${runsDir}/notes`);
    await Deno.writeTextFile(`${runsDir}/notes/readme.txt`, "x");
    const rows = await listRuns(runsDir);
    assert.deepEqual(rows.map((row) => [row.id, row.status]), [["bare", "corrupt"]]);
    const run = await readRun(`${runsDir}/bare`);
    assert.doesNotMatch(run.summary.hint ?? "", /anneal train -c/);
    assert.match(run.summary.hint ?? "", /its config\.json is gone too/);
  } finally {
    await Deno.remove(runsDir, { recursive: true });
  }
});
