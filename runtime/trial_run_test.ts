import assert from "node:assert/strict";
import { cp } from "node:fs/promises";
import { resolve } from "node:path";
import { openStorage, parseConfig, runSweep, train } from "../mod.ts";
import type { RunConfig, TrialParams, TrialRunStart } from "../mod.ts";
import { readRun } from "../report/records.ts";
import { trialConfig } from "./sweep.ts";
import { describeTrialRun, resumableRun } from "./trial_run.ts";

/** A sweep of one trial of 3 short epochs on the CPU, its runs in `dir`; `base` changes it. */
function sweepConfig(dir: string, base: Record<string, unknown> = {}): RunConfig {
  return parseConfig({
    name: "tr",
    backend: "cpu",
    epochs: 3,
    runsDir: dir,
    data: { kind: "synthetic-linear", n: 96, validationSplit: 0.25 },
    ...base,
    sweep: {
      space: { "optimizer.lr": { type: "choice", values: [0.05] } },
      metric: "valLoss",
      trials: 1,
    },
  });
}

/** Runs the sweep's one trial to its end; its run's directory and value. */
async function finishedTrial(dir: string, base?: Record<string, unknown>) {
  const result = await runSweep(sweepConfig(dir, base), { storage: `${dir}/sweeps.db` });
  const [trial] = result.trials;
  assert.equal(trial.state, "COMPLETE");
  assert.ok(trial.runDir?.startsWith("/"), "the trial's run is recorded, as an absolute path");
  return { runDir: trial.runDir!, value: trial.value!, params: trial.params, result };
}

/** A copy of the run at `runDir`, named `name`, changed by `change`. */
async function copyRun(runDir: string, name: string, change?: (dir: string) => Promise<void>) {
  const dir = `${runDir.slice(0, runDir.lastIndexOf("/"))}/${name}`;
  await cp(runDir, dir, { recursive: true });
  await change?.(dir);
  return dir;
}

Deno.test("resumableRun says why a trial's run cannot be continued: gone, no or a damaged checkpoint, another config, records short of it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { runDir, result } = await finishedTrial(dir);
    const config = {
      ...parseConfig({ ...result.bestConfig, name: "renamed" }),
      runsDir: `${dir}/elsewhere`,
    };
    // the run itself: resumable from its last epoch, with its three epochs' records
    const whole = await resumableRun(runDir, config);
    assert.ok(typeof whole !== "string", String(whole));
    assert.equal(whole.epoch, 2);
    assert.deepEqual(whole.epochs.map((e) => e.epoch), [0, 1, 2]);
    assert.equal(whole.name, "tr", "the run keeps its own name");

    assert.equal(
      await resumableRun(`${dir}/tr/gone`, config),
      "its directory is gone (removed, or on another machine)",
    );
    const bare = await copyRun(
      runDir,
      "bare",
      (d) => Deno.remove(`${d}/checkpoints`, { recursive: true }),
    );
    assert.equal(
      await resumableRun(bare, config),
      "it has no checkpoint yet (it stopped before its first epoch's end)",
    );
    const torn = await copyRun(runDir, "torn", async (d) => {
      const bytes = await Deno.readFile(`${d}/checkpoints/last.ckpt`);
      await Deno.writeFile(`${d}/checkpoints/last.ckpt`, bytes.slice(0, bytes.length - 7));
    });
    assert.match(
      String(await resumableRun(torn, config)),
      /^its last checkpoint cannot be loaded: Checkpoint '.*torn\/checkpoints\/last\.ckpt' is damaged: /,
    );
    assert.match(
      String(
        await resumableRun(runDir, { ...config, optimizer: { ...config.optimizer, lr: 0.1 } }),
      ),
      /^its config is not the trial's: other settings: 'optimizer\.lr' is 0\.05 in its config\.json, 0\.1 given/,
    );
    const unread = await copyRun(
      runDir,
      "unread",
      (d) => Deno.writeTextFile(`${d}/config.json`, "{"),
    );
    assert.match(
      String(await resumableRun(unread, config)),
      /^its config cannot be read: .*config\.json is corrupt \(not valid JSON/,
    );
    const short = await copyRun(runDir, "short", async (d) => {
      const lines = (await Deno.readTextFile(`${d}/epochs.ndjson`)).trim().split("\n");
      await Deno.writeTextFile(`${d}/epochs.ndjson`, `${lines[0]}\n${lines[2]}\n`);
    });
    assert.equal(
      await resumableRun(short, config),
      "its epochs.ndjson lacks epoch 1 of the 3 its checkpoint holds: the trial's values there " +
        "are not known",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a sweep's retries continue the run of the trial they retry, or start over saying why", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { runDir, value, params } = await finishedTrial(dir);
    // trials stopped for no fault of their own (interrupted), each with a run as left behind
    const ended = await copyRun(runDir, "trial-9-ended"); // killed as its run ended
    const torn = await copyRun(runDir, "trial-9-torn", async (d) => {
      await Deno.writeTextFile(`${d}/checkpoints/last.ckpt`, "ANNEALCK");
    });
    const storage = await openStorage(`sqlite:${dir}/sweeps.db`);
    const retries: Record<string, number> = {};
    try {
      const study = await storage.loadStudy("tr");
      for (
        const [label, run] of Object.entries({ ended, torn, gone: `${dir}/tr/gone`, none: "" })
      ) {
        const trial = await storage.createTrial(study.id, { params, claimBy: "stopped" });
        if (run) await storage.setTrialRun(trial!.id, run);
        const { retried } = await storage.interruptTrial(trial!.id, "interrupted (SIGINT)");
        retries[label] = retried[0].number;
      }
    } finally {
      await storage.close();
    }
    const starts: TrialRunStart[] = [];
    const result = await runSweep(sweepConfig(dir), {
      storage: `${dir}/sweeps.db`,
      onTrialRun: (start) => starts.push(start),
    });
    const byTrial = new Map(starts.map((start) => [start.trial, start]));
    assert.equal(starts.length, 4);
    // resumed: a run that had ended has nothing left to train; its value is its epochs' best
    assert.deepEqual(byTrial.get(retries.ended), {
      trial: retries.ended,
      resumed: true,
      runDir: ended,
      epoch: 2,
      step: (byTrial.get(retries.ended) as { step: number }).step,
    });
    const trialOf = (label: string) => result.trials.find((t) => t.number === retries[label])!;
    assert.equal(trialOf("ended").state, "COMPLETE");
    assert.equal(trialOf("ended").value, value);
    assert.equal(trialOf("ended").runDir, ended);
    // the others start over, in a run of their own, and say why
    for (
      const [label, reason] of [
        ["torn", /^its last checkpoint cannot be loaded: Checkpoint .* is damaged/],
        ["gone", /^its directory is gone/],
        ["none", /^the trial it retries recorded no run/],
      ] as const
    ) {
      const start = byTrial.get(retries[label])!;
      assert.equal(start.resumed, false, label);
      assert.match((start as { reason: string }).reason, reason);
      assert.equal(
        (start as { previous?: string }).previous,
        label === "none" ? undefined : (label === "torn" ? torn : `${dir}/tr/gone`),
      );
      const trial = trialOf(label);
      assert.equal(trial.state, "COMPLETE", label);
      assert.equal(trial.runDir, start.runDir);
      assert.match(start.runDir, new RegExp(`/tr/trial-${trial.number}-[0-9a-f]{4}$`));
      // the same config and seed from scratch: the first trial's value again
      assert.equal(trial.value, value, label);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A retry of trial `params` queued in the study `tr` of `dir`, its trial's run `runDir`. */
async function queueRetry(dir: string, params: TrialParams, runDir: string) {
  const storage = await openStorage(`sqlite:${dir}/sweeps.db`);
  try {
    const study = await storage.loadStudy("tr");
    const trial = await storage.createTrial(study.id, { params, claimBy: "stopped" });
    await storage.setTrialRun(trial!.id, runDir);
    const { retried } = await storage.interruptTrial(trial!.id, "interrupted (SIGINT)");
    return retried[0].number;
  } finally {
    await storage.close();
  }
}

/** The files of a run's record, to tell whether it was touched. */
async function records(runDir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const name of ["summary.json", "epochs.ndjson", "steps.ndjson", "config.json"]) {
    files[name] = await Deno.readTextFile(`${runDir}/${name}`);
  }
  return files;
}

Deno.test("a retry of a trial whose run had ended (early stopping) takes that run's result, training nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // no improvement is ever large enough: early stopping ends each run after epoch 1, of 3
    const base = { earlyStopping: { patience: 1, minDelta: 1000 } };
    const { runDir, value, params } = await finishedTrial(dir, base);
    const summary = JSON.parse(await Deno.readTextFile(`${runDir}/summary.json`));
    assert.equal(summary.status, "stopped");
    assert.equal(summary.epochs, 2);
    // the worker killed as its trial's run had ended, before the trial was recorded COMPLETE
    const ended = await copyRun(runDir, "trial-9-ended");
    const before = await records(ended);
    const retry = await queueRetry(dir, params, ended);
    const starts: TrialRunStart[] = [];
    const result = await runSweep(sweepConfig(dir, base), {
      storage: `${dir}/sweeps.db`,
      onTrialRun: (start) => starts.push(start),
    });
    assert.deepEqual(starts.map(({ trial, resumed }) => ({ trial, resumed })), [
      { trial: retry, resumed: true },
    ]);
    const trial = result.trials.find((t) => t.number === retry)!;
    assert.equal(trial.state, "COMPLETE");
    assert.equal(trial.value, value, "the value of the run as it ended");
    assert.deepEqual([...trial.intermediate.keys()], [0, 1]);
    assert.deepEqual(await records(ended), before, "no epoch trained, no record touched");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A CSV of 96 rows of `y = 2x - z + 0.5`; `shift` moves every target (the same rows, other values). */
async function writeCsv(path: string, shift = 0) {
  const rows = Array.from({ length: 96 }, (_, i) => {
    const x = (i * 37 % 101) / 50 - 1, z = (i * 59 % 97) / 48 - 1;
    return `${x},${z},${(2 * x - z + 0.5 + shift).toFixed(4)}`;
  });
  await Deno.writeTextFile(path, `x,z,y\n${rows.join("\n")}\n`);
}

Deno.test("a retry whose run's data changed since starts over in a new run, saying why; one whose data is gone fails, starting nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const csv = `${dir}/data.csv`;
    await writeCsv(csv);
    const base = { data: { kind: "csv", path: csv, target: "y", validationSplit: 0.25 } };
    const { params, result } = await finishedTrial(dir, base);
    // trials' runs interrupted after their first epoch (Ctrl-C), each resumable as it is
    const interruptedRun = async (runId: string) => {
      const config = { ...trialConfig(result.definition, params), runsDir: `${dir}/tr` };
      const run = train(config, { runId });
      for await (const event of run.events()) if (event.type === "epoch") run.interrupt("test");
      assert.equal((await run.result).status, "interrupted");
      assert.ok(typeof (await resumableRun(run.runDir, config)) !== "string");
      return resolve(run.runDir);
    };
    const changed = await interruptedRun("trial-9-changed");
    const retry = await queueRetry(dir, params, changed);
    // the data edited in place since: the same rows, other values
    await writeCsv(csv, 0.25);
    const starts: TrialRunStart[] = [];
    const onTrialRun = (start: TrialRunStart) => starts.push(start);
    const after = await runSweep(sweepConfig(dir, base), {
      storage: `${dir}/sweeps.db`,
      onTrialRun,
    });
    assert.equal(starts.length, 1);
    const [start] = starts;
    assert.equal(start.trial, retry);
    assert.equal(start.resumed, false, "its trainer turned the resume down: it starts over");
    assert.equal((start as { previous?: string }).previous, changed);
    assert.match(
      (start as { reason: string }).reason,
      /^its data is not the data it trained on \(SHA-256 [0-9a-f]{12}\.\.\. in .*meta\.json, [0-9a-f]{12}\.\.\. now\): a data file changed since/,
    );
    const trial = after.trials.find((t) => t.number === retry)!;
    assert.equal(trial.state, "COMPLETE", String(trial.reason));
    assert.equal(trial.runDir, start.runDir);
    // the new run's epochs, all three of them, are the trial's values: none of the old run's
    const epochs = (await readRun(start.runDir)).epochs;
    assert.deepEqual(
      [...trial.intermediate.entries()],
      epochs.map((record) => [record.epoch, record.valLoss]),
    );
    assert.equal(trial.value, Math.min(...epochs.map((record) => record.valLoss as number)));

    // the data gone: no new run could load it either, and the trial fails saying why
    const gone = await interruptedRun("trial-9-gone");
    const failing = await queueRetry(dir, params, gone);
    await Deno.remove(csv);
    starts.length = 0;
    const failed = await runSweep(sweepConfig(dir, base), {
      storage: `${dir}/sweeps.db`,
      onTrialRun,
    });
    const lost = failed.trials.find((t) => t.number === failing)!;
    assert.equal(lost.state, "FAILED");
    assert.match(lost.reason ?? "", /Cannot open data file .*data\.csv/);
    assert.deepEqual(starts.map((s) => s.resumed), [], "no run was started over");
    const runs = await Array.fromAsync(Deno.readDir(`${dir}/tr`), (entry) => entry.name);
    assert.equal(runs.filter((name) => name.startsWith(`trial-${failing}-`)).length, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the pruner judges a resumed retry's epochs against the study as it is now; a run that had ended is taken as it ended, unjudged", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const sweep = {
      space: { "optimizer.lr": { type: "choice", values: [0.05] } },
      metric: "valLoss",
      trials: 1,
      pruner: "median",
    };
    // the study's first trial: nothing to compare it with, not pruned
    const { runDir, value, params, result } = await finishedTrial(dir, { sweep });
    // since then, five trials far better at every epoch have finished (the median pruner
    // judges from its fifth finished trial on)
    const storage = await openStorage(`sqlite:${dir}/sweeps.db`);
    try {
      const study = await storage.loadStudy("tr");
      for (let i = 0; i < 5; i++) {
        const better = await storage.createTrial(study.id, { params, claimBy: "elsewhere" });
        for (const step of [0, 1, 2]) await storage.reportIntermediate(better!.id, step, 0);
        await storage.completeTrial(better!.id, 0);
      }
    } finally {
      await storage.close();
    }
    // a trial's run interrupted after its first epoch, and one killed as its run ended
    const config = { ...trialConfig(result.definition, params), runsDir: `${dir}/tr` };
    const run = train(config, { runId: "trial-9-cut" });
    for await (const event of run.events()) {
      if (event.type === "epoch") run.interrupt("test");
    }
    assert.equal((await run.result).status, "interrupted");
    const cut = await queueRetry(dir, params, resolve(run.runDir));
    const ended = await queueRetry(dir, params, await copyRun(runDir, "trial-9-ended"));
    // killed after its last epoch's checkpoint, before its end was recorded: the resume trains
    // nothing and finishes its end (it was judged at the plan, pruned at epoch 0 and recorded
    // so, while its run's summary said completed with a better value)
    const unrecorded = await queueRetry(
      dir,
      params,
      await copyRun(runDir, "trial-9-unrecorded", (copy) => Deno.remove(`${copy}/summary.json`)),
    );
    const after = await runSweep(sweepConfig(dir, { sweep }), { storage: `${dir}/sweeps.db` });
    const trialOf = (number: number) => after.trials.find((t) => t.number === number)!;
    // resumed, its epoch 0 is worse than the median of the trials finished now: pruned there,
    // where its original was not (as a retry started over would be)
    assert.equal(trialOf(cut).state, "PRUNED", String(trialOf(cut).reason));
    assert.equal(trialOf(cut).prunedStep, 0);
    assert.match(
      trialOf(cut).reason ?? "",
      /is worse than the median 0 of 6 completed trials at step 0/,
    );
    // nothing left to train: the run's result as it ended, its values recorded but not judged
    assert.equal(trialOf(ended).state, "COMPLETE", String(trialOf(ended).reason));
    assert.equal(trialOf(ended).value, value);
    assert.deepEqual([...trialOf(ended).intermediate.keys()], [0, 1, 2]);
    assert.equal(trialOf(unrecorded).state, "COMPLETE", String(trialOf(unrecorded).reason));
    assert.equal(trialOf(unrecorded).value, value);
    assert.deepEqual([...trialOf(unrecorded).intermediate.keys()], [0, 1, 2]);
    const summary = JSON.parse(
      await Deno.readTextFile(`${dir}/tr/trial-9-unrecorded/summary.json`),
    );
    assert.equal(summary.status, "completed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a trial pruned at an epoch stops there, however short its epochs: its run's record ends where the study says", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // epochs of one step, a few milliseconds: before the pruner's judgement was waited for, the
    // trainer had gone on up to 16 epochs past the one pruned as the reports travelled
    const config = (trials: number) =>
      parseConfig({
        name: "short",
        backend: "cpu",
        epochs: 30,
        runsDir: dir,
        data: { kind: "synthetic-linear", n: 64, validationSplit: 0.25 },
        batchSize: 48,
        optimizer: { name: "sgd", lr: 1e-3 },
        sweep: {
          space: { "optimizer.lr": { type: "choice", values: [1e-3] } },
          metric: "valLoss",
          trials,
          pruner: "median",
        },
      });
    const storageUrl = `sqlite:${dir}/sweeps.db`;
    const first = await runSweep(config(1), { storage: storageUrl });
    assert.equal(first.trials[0].state, "COMPLETE");
    // five trials far worse in their first five epochs and far better after (the median pruner
    // judges from its fifth on): the next is pruned at epoch 5, past the first checkpoint's
    // wait, where the trainer went on from its epoch ends
    const storage = await openStorage(storageUrl);
    try {
      const study = await storage.loadStudy("short");
      for (let i = 0; i < 5; i++) {
        const better = await storage.createTrial(study.id, {
          params: first.trials[0].params,
          claimBy: "elsewhere",
        });
        for (let step = 0; step < 30; step++) {
          await storage.reportIntermediate(better!.id, step, step < 5 ? 1e9 : 0);
        }
        await storage.completeTrial(better!.id, 0);
      }
    } finally {
      await storage.close();
    }
    const after = await runSweep(config(7), { storage: storageUrl });
    const pruned = after.trials.find((t) => t.number === 6)!;
    assert.equal(pruned.state, "PRUNED", String(pruned.reason));
    assert.equal(pruned.prunedStep, 5);
    const record = await readRun(pruned.runDir!);
    assert.deepEqual(record.epochs.map((e) => e.epoch), [0, 1, 2, 3, 4, 5]);
    assert.equal(record.summary.status, "stopped");
    assert.match(record.summary.stopReason ?? "", /pruned by the sweep/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a retry's line says where the run it continues goes on from: within its first epoch, not after epoch -1", () => {
  const runDir = "/runs/sw/trial-0-ab12";
  assert.equal(
    describeTrialRun({ trial: 2, resumed: true, runDir, epoch: -1, step: 7 }),
    `resumes the run of the trial it retries from its last checkpoint (within its first epoch, at step 7): ${runDir}`,
  );
  assert.equal(
    describeTrialRun({ trial: 2, resumed: true, runDir, epoch: 1, step: 30 }),
    `resumes the run of the trial it retries from its last checkpoint (after epoch 1, step 30): ${runDir}`,
  );
  assert.equal(
    describeTrialRun({ trial: 2, resumed: false, runDir, previous: "/runs/sw/x", reason: "gone" }),
    `starts over in a new run, ${runDir}: the run of the trial it retries, /runs/sw/x, cannot be resumed: gone`,
  );
});

Deno.test("a trial's last epoch is recorded, not judged by the pruner: a trial run to its end is never pruned there", async () => {
  // (ASHA's first rung at epoch 1 of 2-epoch trials: trials pruned at their last epoch were
  // recorded PRUNED, scored by it and left out of the best, their runs "completed")
  const dir = await Deno.makeTempDir();
  try {
    const config = parseConfig({
      name: "last",
      backend: "cpu",
      epochs: 2,
      runsDir: dir,
      data: { kind: "synthetic-linear", n: 96, validationSplit: 0.25 },
      sweep: {
        space: { "optimizer.lr": { type: "choice", values: [0.05, 1e-5, 2e-5, 0.04, 3e-5, 0.03] } },
        metric: "valLoss",
        trials: 6,
        sampler: "grid",
        pruner: "asha",
      },
    });
    const result = await runSweep(config, { storage: `${dir}/sweeps.db` });
    assert.deepEqual(result.trials.map((t) => t.state), new Array(6).fill("COMPLETE"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
