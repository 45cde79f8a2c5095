/**
 * Ctrl-C (SIGINT) ends `anneal sweep` and `anneal worker` cleanly: no trial is started any more,
 * each running trial's run stops after its current step as `interrupted` (its checkpoint kept), the
 * trial is recorded FAILED saying so and queued again, the report is written, and the command
 * exits 130 saying how to go on; the same command then finishes the study, with nothing lost and
 * nothing left RUNNING.
 *
 * @module
 */
import assert from "node:assert/strict";
import { loadCheckpoint, openStorage } from "../mod.ts";
import type { StudyStorage, Trial } from "../mod.ts";
import { anneal, annealCommand, readNdjson, tempRunsDir, waitFor } from "./_helpers.ts";

/** How long a wait for a study's trials may take (trials of seconds, on a loaded machine). */
const WAIT_MS = 120_000;

/**
 * A trial's epochs: 0.15-0.3 s each (a wide MLP on the host step), so that the windows the tests
 * signal in (from a trial's first or second epoch end to its last but one) last a second or more
 * on any machine. (They were 6 of about a second each until the host step took this model.)
 */
const EPOCHS = 12;

/** A study of `trials` trials of `EPOCHS` epochs (a wide MLP on the CPU). */
async function writeSweepConfig(dir: string, trials = 3): Promise<string> {
  const file = `${dir}/sw.json`;
  await Deno.writeTextFile(
    file,
    JSON.stringify({
      name: "sw",
      backend: "cpu",
      runsDir: dir,
      epochs: EPOCHS,
      data: { kind: "synthetic-linear", n: 1000, validationSplit: 0.25 },
      model: { kind: "mlp", hidden: [256, 256] },
      sweep: {
        space: { "optimizer.lr": { type: "logUniform", low: 0.001, high: 0.03 } },
        trials,
        sampler: "random",
        pruner: "none",
      },
    }),
  );
  return file;
}

/** The run directory of trial `number` of the study in `studyDir`. */
async function trialRun(studyDir: string, number: number): Promise<string> {
  for await (const entry of Deno.readDir(studyDir)) {
    if (entry.name.startsWith(`trial-${number}-`)) return `${studyDir}/${entry.name}`;
  }
  throw new Error(`no run directory of trial ${number} in ${studyDir}`);
}

Deno.test("Ctrl-C stops anneal sweep and anneal worker cleanly: the running trials are recorded as interrupted and queued, and the same command finishes the study", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const file = await writeSweepConfig(dir);
  const storageUrl = `sqlite:${dir}/sweeps.db`;
  const spawn = (args: string[]) => {
    const child = annealCommand(args).spawn();
    return {
      child,
      stdout: new Response(child.stdout).text(),
      stderr: new Response(child.stderr).text(),
    };
  };
  const sweep = spawn(["sweep", "-c", file]);
  let storage: StudyStorage | undefined;
  let worker: ReturnType<typeof spawn> | undefined;
  try {
    const studyId = await waitFor("the study", async () => {
      storage ??= await openStorage(storageUrl).catch(() => undefined);
      return (await storage?.loadStudy("sw").catch(() => undefined))?.id;
    }, WAIT_MS);
    // (its own --parallel, the study's 1: the command to go on with must repeat it)
    worker = spawn(["worker", "--storage", storageUrl, "--study", "sw", "--parallel", "1"]);
    // both mid-trial, each trial past its first epoch's end (so its run has a checkpoint) and
    // with at least a whole epoch of its EPOCHS to go: one in its last epoch could end before the
    // signal reached it (a loaded machine), completing instead of being interrupted
    const running = await waitFor(
      "two trials between their first and last but one epoch",
      async () => {
        const trials = await storage!.listTrials(studyId, ["RUNNING"]);
        return trials.length === 2 &&
            trials.every((t) => t.intermediate.size >= 1 && t.intermediate.size <= EPOCHS - 2)
          ? trials
          : undefined;
      },
      WAIT_MS,
    );
    sweep.child.kill("SIGINT");
    worker.child.kill("SIGINT");
    for (
      const [process, goOn] of [
        [sweep, `anneal sweep -c ${file}`],
        [worker, `anneal worker --storage ${storageUrl} --study sw --parallel 1`],
      ] as const
    ) {
      const status = await process.child.status;
      const stderr = await process.stderr;
      assert.equal(status.code, 130, stderr);
      assert.match(stderr, /anneal: SIGINT: stopping the running trials after their current step/);
      assert.match(stderr, /anneal: sweep interrupted \(SIGINT received\): /);
      assert.ok(stderr.includes(`go on with the same command: ${goOn}\n`), stderr);
      assert.match(await process.stdout, /trial +\d+ +FAILED .*\(interrupted \(SIGINT received\)/);
    }
    const trials: Trial[] = await storage!.listTrials(studyId);
    assert.deepEqual(trials.filter((t) => t.state === "RUNNING"), [], "nothing left running");
    for (const { id, number, params } of running) {
      const trial = trials.find((t) => t.id === id)!;
      assert.equal(trial.state, "FAILED");
      assert.match(trial.reason!, /^interrupted \(SIGINT received\); it runs again/);
      const retry = trials.find((t) => t.retryOf === id);
      assert.equal(retry?.state, "WAITING", `trial ${number} is queued to run again`);
      assert.deepEqual(retry.params, params);
      // its run stopped cleanly, resumable on its own
      const runDir = await trialRun(`${dir}/sw`, number);
      const summary = JSON.parse(await Deno.readTextFile(`${runDir}/summary.json`));
      assert.equal(summary.status, "interrupted");
      assert.equal(summary.stopReason, "SIGINT received");
      await Deno.stat(`${runDir}/checkpoints/last.ckpt`);
    }
    assert.ok((await Deno.readTextFile(`${dir}/sw/sweep.html`)).includes("interrupted"));
    // where each run stopped: its last checkpoint, and the trial's values until it
    const stopped = new Map<number, { runDir: string; epoch: number; step: number }>();
    for (const { id, number } of running) {
      const runDir = await trialRun(`${dir}/sw`, number);
      const { state } = await loadCheckpoint(`${runDir}/checkpoints/last.ckpt`);
      stopped.set(id, { runDir, epoch: state.epoch, step: state.step });
      assert.equal(trials.find((t) => t.id === id)!.runDir, runDir, "the trial's run is recorded");
    }

    const again = await anneal("sweep", "-c", file);
    assert.equal(again.code, 0, again.stderr);
    // the two interrupted trials count once each, as their retries ended; the retries apart
    assert.match(
      again.stdout,
      /\nstudy sw: 3 trials \(3 complete\); 2 retries ran \(trials \d+, \d+\)\n/,
    );
    const after = await storage!.listTrials(studyId);
    // each retry continued the run of the trial it retries from its last checkpoint
    for (const { id } of running) {
      const { runDir, epoch, step } = stopped.get(id)!;
      const retry = after.find((t) => t.retryOf === id)!;
      assert.equal(retry.state, "COMPLETE");
      assert.equal(retry.runDir, runDir, "the retry trained in the same run");
      assert.ok(
        again.stdout.includes(
          `trial ${String(retry.number).padStart(3)}  resumes the run of the trial it retries ` +
            `from its last checkpoint (after epoch ${epoch}, step ${step}): ${runDir}\n`,
        ),
        again.stdout,
      );
      const summary = JSON.parse(await Deno.readTextFile(`${runDir}/summary.json`));
      assert.equal(summary.status, "completed");
      assert.ok(summary.resumedAt, "resumed, not started again");
      const epochs = await readNdjson(`${runDir}/epochs.ndjson`);
      assert.deepEqual(epochs.map((e) => e.epoch), [...Array(EPOCHS).keys()]);
      const steps = await readNdjson(`${runDir}/steps.ndjson`);
      assert.deepEqual(steps.map((s) => s.step), steps.map((_, i) => i), "each step once");
      // its values: the epochs before the checkpoint as recorded, the rest trained on from it
      assert.deepEqual(
        [...retry.intermediate.keys()],
        [...Array(EPOCHS).keys()],
        "the retry's curve is the whole run's",
      );
      for (const e of epochs) assert.equal(retry.intermediate.get(e.epoch), e.valLoss);
      assert.equal(retry.value, Math.min(...epochs.map((e) => e.valLoss)));
      // training on cpu is deterministic for a seed: the same trial never interrupted ends the same
      const whole = await anneal(
        "train",
        "-c",
        `${runDir}/config.json`,
        "--set",
        `runsDir=${JSON.stringify(`${dir}/whole`)}`,
        "--no-progress",
      );
      assert.equal(whole.code, 0, whole.stderr);
      const [uninterrupted] = await Array.fromAsync(Deno.readDir(`${dir}/whole`));
      const reference = await readNdjson(`${dir}/whole/${uninterrupted.name}/epochs.ndjson`);
      assert.deepEqual(epochs.map((e) => e.valLoss), reference.map((e) => e.valLoss));
      assert.equal(retry.value, Math.min(...reference.map((e) => e.valLoss)));
      await Deno.remove(`${dir}/whole`, { recursive: true });
    }
    assert.deepEqual(after.filter((t) => t.state === "RUNNING" || t.state === "WAITING"), []);
    const originals = after.filter((t) => t.retryOf === null);
    assert.equal(originals.length, 3, "the study's budget, no more");
    for (const original of originals) {
      const chain = after.filter((t) => t.id === original.id || t.retryOf === original.id);
      assert.equal(chain.filter((t) => t.state === "COMPLETE").length, 1, `${original.number}`);
    }
    const best = after.filter((t) => t.state === "COMPLETE")
      .reduce((a, b) => (a.value! <= b.value! ? a : b));
    assert.match(again.stdout, new RegExp(`best: trial ${best.number}, valLoss = `));
    const bestConfig = JSON.parse(await Deno.readTextFile(`${dir}/sw/best_config.json`));
    assert.equal(bestConfig.optimizer.lr, best.params["optimizer.lr"]);
  } finally {
    for (const process of [sweep, worker]) {
      try {
        process?.child.kill("SIGKILL");
      } catch {
        // already exited
      }
      await process?.child.status;
      await process?.stdout.catch(() => "");
      await process?.stderr.catch(() => "");
    }
    await storage?.close();
  }
});

Deno.test("a sweep killed mid-trial (SIGKILL): the next anneal sweep reaps its trial, and the retry resumes its run from the last checkpoint", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const file = await writeSweepConfig(dir, 1);
  const storage = await openStorage(`sqlite:${dir}/sweeps.db`);
  const child = annealCommand(["sweep", "-c", file]).spawn();
  const output = [new Response(child.stdout).text(), new Response(child.stderr).text()];
  try {
    const studyId = await waitFor("the study", async () => {
      return (await storage.loadStudy("sw").catch(() => undefined))?.id;
    }, WAIT_MS);
    const killed = await waitFor("a trial past its second epoch", async () => {
      const [trial] = await storage.listTrials(studyId, ["RUNNING"]);
      return (trial?.intermediate.size ?? 0) >= 2 ? trial : undefined;
    }, WAIT_MS);
    child.kill("SIGKILL");
    assert.equal((await child.status).signal, "SIGKILL");
    await Promise.all(output);
    const runDir = await trialRun(`${dir}/sw`, 0);
    const { state } = await loadCheckpoint(`${runDir}/checkpoints/last.ckpt`);
    assert.ok(state.epoch >= 0);

    // killed on this host: its trial is reaped at once, not after 10 s of missed heartbeats
    // (which left it to run after the trials sampled meanwhile)
    const again = await anneal("sweep", "-c", file);
    assert.equal(again.code, 0, again.stderr);
    assert.match(
      again.stdout,
      /trial +0 +FAILED .*stopped heart-beating \(its process is gone\).*; run again as trial 1\)/,
    );
    assert.ok(
      again.stdout.includes(
        "trial   1  resumes the run of the trial it retries from its last checkpoint (after " +
          `epoch ${state.epoch}, step ${state.step}): ${runDir}\n`,
      ),
      again.stdout,
    );
    const [first, retry] = await storage.listTrials(studyId);
    assert.deepEqual([first.id, first.state, first.runDir], [killed.id, "FAILED", runDir]);
    assert.deepEqual([retry.retryOf, retry.state, retry.runDir], [killed.id, "COMPLETE", runDir]);
    const summary = JSON.parse(await Deno.readTextFile(`${runDir}/summary.json`));
    assert.equal(summary.status, "completed");
    assert.ok(summary.resumedAt, "resumed, not started again");
    const epochs = await readNdjson(`${runDir}/epochs.ndjson`);
    assert.deepEqual(epochs.map((e) => e.epoch), [...Array(EPOCHS).keys()]);
    const steps = await readNdjson(`${runDir}/steps.ndjson`);
    assert.deepEqual(steps.map((s) => s.step), steps.map((_, i) => i), "each step once");
    for (const e of epochs) assert.equal(retry.intermediate.get(e.epoch), e.valLoss);
    assert.equal(retry.value, Math.min(...epochs.map((e) => e.valLoss)));
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
    await child.status;
    await Promise.all(output.map((text) => text.catch(() => "")));
    await storage.close();
  }
});
