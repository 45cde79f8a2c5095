/**
 * `anneal train --resume` of a run directory a user edited or damaged: a `config.json` changed
 * after the last checkpoint (its settings, its model), a `meta.json` or `summary.json` that is not
 * JSON. Each is refused before a record is touched, naming the file and how to go on; a
 * checkpoint of an older anneal, which records no config, still resumes.
 *
 * @module
 */
import assert from "node:assert/strict";
import { loadCheckpoint, saveCheckpoint } from "../runtime/checkpoint.ts";
import { anneal, csvConfig, readNdjson, tempRunsDir } from "./_helpers.ts";

/**
 * A run stopped by its step budget (6 steps, within its second epoch of 4 steps): `--max-steps
 * 12` resumes it. Its directory and id.
 */
async function stoppedRun(dir: string, name: string): Promise<{ runDir: string; runId: string }> {
  const config = await csvConfig(dir, 3);
  const first = await anneal("train", "-c", config, "--name", name, "--max-steps", "6");
  assert.equal(first.code, 0, first.stderr);
  const runDir = first.stdout.match(/run record: (\S+)/)![1];
  return { runDir, runId: runDir.split("/").pop()! };
}

function resumeLonger(runId: string, dir: string) {
  return anneal("train", "--resume", runId, "--runs-dir", dir, "--max-steps", "12");
}

async function records(runDir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const name of ["meta.json", "summary.json", "epochs.ndjson", "steps.ndjson"]) {
    files[name] = await Deno.readTextFile(`${runDir}/${name}`);
  }
  return files;
}

/** A run's config.json as the tests below edit it. */
interface Config {
  optimizer: { lr: number };
  clipping: { maxNorm?: number };
  scheduler?: unknown;
  model: unknown;
}

/** Edits `runDir`'s config.json with `change`. */
async function editConfig(runDir: string, change: (config: Config) => void) {
  const config = JSON.parse(await Deno.readTextFile(`${runDir}/config.json`));
  change(config);
  await Deno.writeTextFile(`${runDir}/config.json`, JSON.stringify(config, null, 2));
}

/** The checkpoint as an older anneal wrote it: without the config it was trained under. */
async function withoutRecordedConfig(runDir: string): Promise<void> {
  const path = `${runDir}/checkpoints/last.ckpt`;
  const { state, weights } = await loadCheckpoint(path);
  assert.equal((state.config as { optimizer: { lr: number } }).optimizer.lr, 0.01);
  delete state.config;
  await saveCheckpoint(path, state, weights);
}

Deno.test("--resume of a run whose config.json was edited after its last checkpoint (its rate, schedule, clipping) is refused, naming each field changed and how to go on, its records untouched; put back, it resumes", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const { runDir, runId } = await stoppedRun(dir, "edited");
  const original = await Deno.readTextFile(`${runDir}/config.json`);
  const before = await records(runDir);
  await editConfig(runDir, (config) => {
    config.optimizer.lr = 0.5;
    config.scheduler = { name: "exponential", gamma: 0.9 };
    config.clipping.maxNorm = 1;
  });

  const refused = await resumeLonger(runId, dir);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(
    refused.stderr,
    new RegExp(
      `error\\[checkpoint\\]: Cannot resume run '${runId}': its config\\.json is not the ` +
        `config its last checkpoint \\(${runDir}/checkpoints/last\\.ckpt\\) was trained ` +
        `under, and the run would go on with other settings: 'clipping\\.maxNorm' is 1 in ` +
        `config\\.json, not set in the checkpoint; 'optimizer\\.lr' is 0\\.5 in config\\.json, ` +
        `0\\.01 in the checkpoint; 'scheduler' is \\{"name":"exponential",.*"gamma":0\\.9\\} in ` +
        `config\\.json, not set in the checkpoint \\(at ${runDir}/config\\.json\\)`,
    ),
  );
  assert.ok(
    refused.stderr.includes(
      `hint: was config.json edited since (or the checkpoint copied from another run)? A ` +
        `resumed run keeps the config it was started with (--epochs and --max-steps only raise ` +
        `its epochs and maxSteps). To resume it, write the checkpoint's values back into ` +
        `${runDir}/config.json, or remove it (\`rm ${runDir}/config.json\`: the resume writes ` +
        `it again from the checkpoint); to train with the settings config.json has, start a ` +
        `new run from it first: ` +
        `\`anneal train -c ${runDir}/config.json\``,
    ),
    refused.stderr,
  );
  assert.deepEqual(await records(runDir), before, "no record was touched");
  await assert.rejects(Deno.stat(`${runDir}/run.lock`), Deno.errors.NotFound);

  // put back, it resumes; raised by --max-steps (config.json and the checkpoint say 12 then)
  await Deno.writeTextFile(`${runDir}/config.json`, original);
  const resumed = await resumeLonger(runId, dir);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, /completed: finished 3 epochs \(3 epochs, 12 steps/);
  const steps = await readNdjson(`${runDir}/steps.ndjson`);
  assert.deepEqual(steps.map((step) => step.lr), Array(12).fill(0.01));
  const { state } = await loadCheckpoint(`${runDir}/checkpoints/last.ckpt`);
  assert.equal((state.config as { maxSteps: number }).maxSteps, 12);
});

Deno.test("--resume of a run whose checkpoint an older anneal wrote, recording no config, resumes at what config.json says, edited or not", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const { runDir, runId } = await stoppedRun(dir, "older");
  await withoutRecordedConfig(runDir);
  await editConfig(runDir, (config) => config.optimizer.lr = 0.02);
  const resumed = await resumeLonger(runId, dir);
  assert.equal(resumed.code, 0, resumed.stderr);
  const steps = await readNdjson(`${runDir}/steps.ndjson`);
  assert.deepEqual(steps.map((step) => step.lr), [...Array(6).fill(0.01), ...Array(6).fill(0.02)]);
});

Deno.test("--resume of a run whose model was changed in its config.json is refused: by the config its checkpoint records, naming both models; from an older anneal's checkpoint, naming the checkpoint, the config and how to go on", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const { runDir, runId } = await stoppedRun(dir, "model");
  const before = await records(runDir);
  await editConfig(runDir, (config) => config.model = { kind: "mlp", hidden: [8] });
  const refused = await resumeLonger(runId, dir);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(
    refused.stderr,
    /with other settings: 'model' is \{"kind":"mlp","hidden":\[8\],.*\} in config\.json, \{"kind":"linear"\} in the checkpoint \(at /,
  );

  await withoutRecordedConfig(runDir);
  const older = await resumeLonger(runId, dir);
  assert.equal(older.code, 1, older.stderr);
  const checkpoint = `${runDir}/checkpoints/last.ckpt`;
  assert.ok(
    older.stderr.includes(
      `error[checkpoint]: Cannot resume run '${runId}': checkpoint ${checkpoint} has no weight ` +
        `'dense0/kernel', where the model of ${runDir}/config.json has one (of shape [2,8]) ` +
        `(at ${checkpoint})\n  hint: the checkpoint was trained as another model than ` +
        `${runDir}/config.json describes (was its model edited?): put back the model the run ` +
        `was started with to resume it, or start a new run of the model it describes now: ` +
        `\`anneal train -c ${runDir}/config.json\``,
    ),
    older.stderr,
  );
  // a layer of another width: its shape
  await editConfig(runDir, (config) => config.model = { kind: "linear" });
  const { state, weights } = await loadCheckpoint(checkpoint);
  const [name] = Object.keys(weights).filter((key) => key.endsWith("/kernel"));
  weights[name] = { shape: [3, 1], values: new Float32Array(3) };
  await saveCheckpoint(checkpoint, state, weights);
  const shape = await resumeLonger(runId, dir);
  assert.equal(shape.code, 1, shape.stderr);
  assert.ok(
    shape.stderr.includes(
      `checkpoint ${checkpoint} has weight '${name}' of shape [3,1], where the model of ` +
        `${runDir}/config.json needs [2,1]`,
    ),
    shape.stderr,
  );
  assert.deepEqual(await records(runDir), before, "no record was touched");
});

Deno.test("--resume of a run whose meta.json is not JSON is refused, naming where and how to go on, its records untouched; removed, the run resumes with a warning that its data goes unchecked", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const { runDir, runId } = await stoppedRun(dir, "meta");
  const metaPath = `${runDir}/meta.json`;
  const meta = await Deno.readTextFile(metaPath);
  await Deno.writeTextFile(metaPath, meta.replace(/("seed": \d+),/, "$1,,"));
  const before = await records(runDir);
  const refused = await resumeLonger(runId, dir);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(
    refused.stderr,
    new RegExp(
      `error\\[storage\\]: Cannot resume run '${runId}': ${metaPath} is not valid JSON at line ` +
        `4, column \\d+ \\(\`"seed": 42,,\`\\): .* \\(at ${metaPath}:4:\\d+\\)\\n  hint: .*, ` +
        `then resume it \\(it holds the SHA-256 of the data the run trained on, which a resume ` +
        `checks its data against, and the warnings of its start\\); or remove it to resume ` +
        `without them \\(the resume writes it anew\\): \`rm ${metaPath}\``,
    ),
  );
  // not an object
  await Deno.writeTextFile(metaPath, "[]");
  const array = await resumeLonger(runId, dir);
  assert.equal(array.code, 1, array.stderr);
  assert.match(array.stderr, /meta\.json holds an array, not the JSON object anneal writes there/);
  // empty: the object it held put back, not a config's `{"epochs": 5}` written
  await Deno.writeTextFile(metaPath, "");
  const empty = await resumeLonger(runId, dir);
  assert.equal(empty.code, 1, empty.stderr);
  assert.match(
    empty.stderr,
    /meta\.json is not valid JSON: it is empty .*\n {2}hint: put back the object it held, then resume it/,
  );
  await Deno.writeTextFile(metaPath, before["meta.json"]);
  assert.deepEqual(await records(runDir), before, "no record was touched");

  // with its data changed since, the recorded SHA-256 refuses it; without meta.json, it resumes
  // (the rows as many: its steps still end its epochs) with a warning saying what goes unchecked
  const data = JSON.parse(await Deno.readTextFile(`${runDir}/config.json`)).data.path;
  await Deno.writeTextFile(data, (await Deno.readTextFile(data)).replace(/,(-?[\d.]+)\n/, ",9\n"));
  const changed = await resumeLonger(runId, dir);
  assert.equal(changed.code, 1, changed.stderr);
  assert.match(changed.stderr, /meta\.json/);
  await Deno.remove(metaPath);
  const resumed = await resumeLonger(runId, dir);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.ok(
    resumed.stdout.includes(
      `warning (supervisor): ${metaPath} is missing: the resume cannot check its data against ` +
        `the data the run trained on (meta.json held its SHA-256), nor leave out the warnings ` +
        `its earlier starts gave\n  hint: nothing to do if its data files are those it ` +
        `trained on; meta.json is written anew`,
    ),
    resumed.stdout,
  );
  assert.match(resumed.stdout, /\(3 epochs, 12 steps/);
  const written = JSON.parse(await Deno.readTextFile(metaPath));
  assert.equal(typeof written.fingerprint, "string");
});

Deno.test("--resume of a run whose summary.json is not JSON is refused, naming where and how to go on, its records untouched; removed, the run resumes as after a kill, with a warning", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const { runDir, runId } = await stoppedRun(dir, "summary");
  const summaryPath = `${runDir}/summary.json`;
  const summary = await Deno.readTextFile(summaryPath);
  const { startedAt } = JSON.parse(summary);
  // cut off (a copy that did not finish); read as none, the run's start and its end were lost
  await Deno.writeTextFile(summaryPath, summary.slice(0, summary.indexOf('"startedAt"') + 20));
  const before = await records(runDir);
  const refused = await resumeLonger(runId, dir);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(
    refused.stderr,
    new RegExp(
      `error\\[storage\\]: Cannot resume run '${runId}': ${summaryPath} is not valid JSON at ` +
        `line 3, column \\d+ .*: it ends before the JSON does \\(at ${summaryPath}:3:\\d+\\)\\n` +
        `  hint: .*, then resume it \\(it holds when the run started and how it ended, which ` +
        `tells a run that already ended from one to go on with\\); or remove it to resume the ` +
        `run as one killed before its end was recorded \\(its checkpoint says where it was; its ` +
        `start time is lost\\): \`rm ${summaryPath}\``,
    ),
  );
  await Deno.writeTextFile(summaryPath, "null");
  const empty = await resumeLonger(runId, dir);
  assert.equal(empty.code, 1, empty.stderr);
  assert.match(empty.stderr, /summary\.json holds null, not the JSON object anneal writes there/);
  await Deno.writeTextFile(summaryPath, before["summary.json"]);
  assert.deepEqual(await records(runDir), before, "no record was touched");

  // put back whole, it resumes keeping its start; removed, as after a kill, saying so
  await Deno.writeTextFile(summaryPath, summary);
  const { runDir: otherDir, runId: otherId } = await stoppedRun(dir, "other");
  const whole = await resumeLonger(runId, dir);
  assert.equal(whole.code, 0, whole.stderr);
  assert.equal(JSON.parse(await Deno.readTextFile(summaryPath)).startedAt, startedAt);
  await Deno.remove(`${otherDir}/summary.json`);
  const resumed = await resumeLonger(otherId, dir);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.ok(
    resumed.stdout.includes(
      `warning (supervisor): ${otherDir}/summary.json is missing: the run is resumed from its ` +
        "last checkpoint as one killed before its end was recorded, and its start time is lost " +
        "(the resume's stands for it)\n  hint: nothing to do; summary.json is written anew",
    ),
    resumed.stdout,
  );
  assert.match(resumed.stdout, /\(3 epochs, 12 steps/);
  assert.equal(JSON.parse(await Deno.readTextFile(`${otherDir}/summary.json`)).status, "completed");
});

Deno.test("--resume of a run whose best epoch's checkpoint is damaged or missing says so at its start and still finishes", async () => {
  // (it trained every epoch left, then failed restoring the best epoch's weights: 'failed', and
  // so did every resume after; without early stopping it said nothing, though the file is the
  // run's only copy of its best epoch's weights)
  const cases = [
    { fault: "damaged", earlyStopping: ["--set", "earlyStopping.patience=50"] },
    { fault: "missing", earlyStopping: ["--set", "earlyStopping.patience=50"] },
    { fault: "missing", earlyStopping: [] },
  ] as const;
  for (const { fault, earlyStopping } of cases) {
    await using runs = await tempRunsDir();
    const config = await csvConfig(runs.dir, 3);
    const first = await anneal("train", ...["-c", config, "--max-steps", "6", ...earlyStopping]);
    assert.equal(first.code, 0, first.stderr);
    const runDir = first.stdout.match(/run record: (\S+)/)![1];
    const best = `${runDir}/checkpoints/best.ckpt`;
    if (fault === "missing") await Deno.remove(best);
    else {
      const bytes = await Deno.readFile(best);
      bytes[bytes.length - 100] ^= 0xff;
      await Deno.writeFile(best, bytes);
    }
    const resumed = await resumeLonger(runDir.split("/").pop()!, runs.dir);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(
      resumed.stdout + resumed.stderr,
      new RegExp(
        `the best epoch's checkpoint ${best} ${fault === "missing" ? "is missing" : "is damaged"}`,
      ),
    );
    const summary = JSON.parse(await Deno.readTextFile(`${runDir}/summary.json`));
    assert.notEqual(summary.status, "failed", JSON.stringify(summary));
  }
});

Deno.test("--resume of a run killed between writing the last and the best checkpoint of its best epoch writes best.ckpt again from last.ckpt", async () => {
  // (the two files are written one after the other: best.ckpt kept an older epoch's weights, or
  // none, for good, though the resume went on from the best epoch's own; under restoreBest it
  // said to put back a file the run never wrote, and ended with its last epoch's weights)
  const cases = [
    { fault: "older", earlyStopping: ["--set", "earlyStopping.patience=50"] },
    { fault: "missing", earlyStopping: [] },
  ] as const;
  for (const { fault, earlyStopping } of cases) {
    await using runs = await tempRunsDir();
    const config = await csvConfig(runs.dir, 3);
    const first = await anneal("train", "-c", config, ...earlyStopping);
    assert.equal(first.code, 0, first.stderr);
    const runDir = first.stdout.match(/run record: (\S+)/)![1];
    const [last, best] = ["last", "best"].map((file) => `${runDir}/checkpoints/${file}.ckpt`);
    const saved = await loadCheckpoint(last);
    // (its last epoch is its best: the kill came after its last.ckpt, before its best.ckpt)
    assert.deepEqual([saved.state.epoch, saved.state.bestEpoch], [2, 2]);
    if (fault === "missing") await Deno.remove(best);
    else await saveCheckpoint(best, { ...saved.state, epoch: 1, bestEpoch: 1 }, saved.weights);
    // killed before it recorded its end
    const summary = JSON.parse(await Deno.readTextFile(`${runDir}/summary.json`));
    await Deno.writeTextFile(
      `${runDir}/summary.json`,
      JSON.stringify({ status: "running", startedAt: summary.startedAt, process: summary.process }),
    );
    const resumed = await anneal(
      "train",
      "--resume",
      runDir.split("/").pop()!,
      "--runs-dir",
      runs.dir,
    );
    assert.equal(resumed.code, 0, resumed.stderr);
    const rewritten = await loadCheckpoint(best);
    assert.equal(rewritten.state.epoch, 2);
    assert.deepEqual(rewritten.weights, (await loadCheckpoint(last)).weights);
    assert.match(
      resumed.stdout + resumed.stderr,
      new RegExp(
        `best\\.ckpt ${fault === "missing" ? "is missing" : "holds epoch 1's weights"}, ` +
          "though the checkpoint the run resumes from, \\S+last\\.ckpt, is that best epoch's " +
          "\\(epoch 2; the run was stopped between writing the two\\): written again from it",
      ),
    );
    assert.equal(JSON.parse(await Deno.readTextFile(`${runDir}/summary.json`)).bestEpoch, 2);
  }
});

Deno.test("--resume of a run whose epochs.ndjson lost epochs its checkpoint holds says which", async () => {
  // (records are appended unsynced, checkpoints synced: after the machine went down the
  // checkpoint can be ahead of them, and a resume went on without a word, the gap for good)
  await using runs = await tempRunsDir();
  const { runDir, runId } = await stoppedRun(runs.dir, "lost");
  const lines = (await Deno.readTextFile(`${runDir}/epochs.ndjson`)).trim().split("\n");
  assert.equal(lines.length, 1);
  await Deno.writeTextFile(`${runDir}/epochs.ndjson`, "");
  const resumed = await resumeLonger(runId, runs.dir);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(
    resumed.stdout + resumed.stderr,
    /epochs\.ndjson lacks epoch 0 of the 1 its last checkpoint holds \(lost with the records' last writes/,
  );
  // a whole record says nothing
  const whole = await stoppedRun(runs.dir, "whole");
  const again = await resumeLonger(whole.runId, runs.dir);
  assert.doesNotMatch(again.stdout + again.stderr, /lacks (epoch|step)/);
});

Deno.test("--resume of a run whose steps.ndjson lost steps its checkpoint holds says which", async () => {
  // (appended unsynced as epochs.ndjson is: the gap stayed in its curves for good, without a word)
  await using runs = await tempRunsDir();
  const { runDir, runId } = await stoppedRun(runs.dir, "lost-steps");
  const lines = (await Deno.readTextFile(`${runDir}/steps.ndjson`)).trim().split("\n");
  assert.equal(lines.length, 6);
  // the first two whole, the third torn
  await Deno.writeTextFile(
    `${runDir}/steps.ndjson`,
    `${lines[0]}\n${lines[1]}\n${lines[2].slice(0, 9)}`,
  );
  const resumed = await resumeLonger(runId, runs.dir);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(
    resumed.stdout + resumed.stderr,
    /steps\.ndjson lacks steps 2-5 \(4 of the 6 its last checkpoint holds; lost with the records' last writes/,
  );
});

Deno.test("--resume of a run whose config.json is gone writes it again from its last checkpoint, says so, and trains on; a refused one writes nothing", async () => {
  // (refused as no run, "check the run id", though `anneal runs` said to resume it)
  await using runs = await tempRunsDir();
  const { runDir, runId } = await stoppedRun(runs.dir, "no-config");
  const before = JSON.parse(await Deno.readTextFile(`${runDir}/config.json`));
  await Deno.remove(`${runDir}/config.json`);
  // a resume refused (a --set) leaves the records as they were: no config.json written
  const refused = await anneal(
    "train",
    "--resume",
    runId,
    "--runs-dir",
    runs.dir,
    "--set",
    "optimizer.lr=0.5",
  );
  assert.equal(refused.code, 2, refused.stderr);
  assert.doesNotMatch(refused.stdout + refused.stderr, /written again/);
  await assert.rejects(Deno.stat(`${runDir}/config.json`), Deno.errors.NotFound);
  const resumed = await resumeLonger(runId, runs.dir);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(
    resumed.stdout + resumed.stderr,
    /config\.json was missing: written again from the run's last checkpoint/,
  );
  const after = JSON.parse(await Deno.readTextFile(`${runDir}/config.json`));
  // (the same config, trained longer: --max-steps 12)
  assert.deepEqual({ ...after, maxSteps: undefined }, { ...before, maxSteps: undefined });
  assert.equal(after.maxSteps, 12);
  const summary = JSON.parse(await Deno.readTextFile(`${runDir}/summary.json`));
  assert.equal(summary.steps, 12);
});
