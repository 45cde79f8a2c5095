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
import { openStorage } from "../mod.ts";
import type { StudyStorage, Trial } from "../mod.ts";
import { anneal, annealCommand, tempRunsDir } from "./_helpers.ts";

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = performance.now() + 120_000;
  while (performance.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A study of 3 trials of 6 epochs of about a second each (a wide MLP on the CPU). */
async function writeSweepConfig(dir: string): Promise<string> {
  const file = `${dir}/sw.json`;
  await Deno.writeTextFile(
    file,
    JSON.stringify({
      name: "sw",
      backend: "cpu",
      runsDir: dir,
      epochs: 6,
      data: { kind: "synthetic-linear", n: 1000, validationSplit: 0.25 },
      model: { kind: "mlp", hidden: [256, 256] },
      sweep: {
        space: { "optimizer.lr": { type: "logUniform", low: 0.001, high: 0.03 } },
        trials: 3,
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
    });
    worker = spawn(["worker", "--storage", storageUrl, "--study", "sw"]);
    // both mid-trial, each trial past its first epoch's end (so its run has a checkpoint)
    const running = await waitFor("two trials past their first epoch", async () => {
      const trials = await storage!.listTrials(studyId, ["RUNNING"]);
      return trials.length === 2 && trials.every((t) => t.intermediate.size >= 1)
        ? trials
        : undefined;
    });
    sweep.child.kill("SIGINT");
    worker.child.kill("SIGINT");
    for (
      const [process, goOn] of [
        [sweep, `anneal sweep -c ${file}`],
        [worker, `anneal worker --storage ${storageUrl} --study sw`],
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

    const again = await anneal("sweep", "-c", file);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /study sw: 5 trials \(2 failed, 3 complete\)/);
    const after = await storage!.listTrials(studyId);
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
