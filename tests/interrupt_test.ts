/**
 * SIGINT and SIGTERM end `anneal train` cleanly: the run is recorded as interrupted with its last
 * checkpoint, the CLI says how to resume it and exits 128 + the signal, and --resume finishes it.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  annealCommand,
  readNdjson,
  resumeRun,
  signalWhen,
  slowTrainArgs,
  tempRunsDir,
} from "./_helpers.ts";
import { train } from "../mod.ts";

const decoder = new TextDecoder();

async function interruptAfterFirstEpoch(signal: "SIGTERM" | "SIGINT" | "SIGHUP", code: number) {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  // Epochs of 0.15-0.25 s (a wide MLP on the host step): a signal sent at the first one's end
  // lands with 11 to go.
  const epochs = 12;
  const interrupted = await signalWhen(
    slowTrainArgs(epochs, dir),
    (event) => event.type === "epoch",
    signal,
  );
  assert.equal(interrupted.status.code, code, interrupted.stderr);
  assert.match(
    interrupted.stderr,
    new RegExp(`anneal: ${signal}: stopping after the current step`),
  );
  assert.match(
    interrupted.stderr,
    new RegExp(
      `run interrupted; resume it: \`anneal train --resume ${interrupted.runId} --runs-dir ${dir}\``,
    ),
  );
  const last = JSON.parse(interrupted.stdout.trim().split("\n").at(-1)!);
  assert.equal(last.type, "run.finished");
  const runDir = `${dir}/${interrupted.runId}`;
  const summary = JSON.parse(await Deno.readTextFile(`${runDir}/summary.json`));
  assert.equal(summary.status, "interrupted");
  assert.equal(summary.stopReason, `${signal} received`);
  assert.ok(summary.epochs >= 1 && summary.epochs < epochs, `${summary.epochs} epochs`);
  assert.equal(summary.test, undefined, "no test pass for an interrupted run");
  await Deno.stat(`${runDir}/checkpoints/last.ckpt`);

  const listed = await annealCommand(["runs", "--runs-dir", dir, "--json"]).output();
  const [row] = JSON.parse(decoder.decode(listed.stdout));
  assert.equal(row.status, "interrupted");

  const resumed = await resumeRun(interrupted.runId, dir);
  assert.equal(resumed.code, 0, resumed.stderr);
  const after = JSON.parse(await Deno.readTextFile(`${runDir}/summary.json`));
  assert.equal(after.status, "completed");
  assert.equal(after.epochs, epochs);
  const records = await readNdjson(`${runDir}/epochs.ndjson`);
  assert.deepEqual(records.map((r) => r.epoch), [...Array(epochs).keys()]);
}

Deno.test("SIGTERM stops a run cleanly: interrupted, exit 143, resumable", async () => {
  await interruptAfterFirstEpoch("SIGTERM", 143);
});

Deno.test("SIGINT (Ctrl-C) stops a run cleanly: interrupted, exit 130, resumable", async () => {
  await interruptAfterFirstEpoch("SIGINT", 130);
});

Deno.test("SIGHUP (a closed terminal, a dropped ssh session) stops a run cleanly: interrupted, exit 129, resumable", async () => {
  // (it took the run down at once: recorded as running, then listed as killed, no checkpoint of
  // the step it stopped at)
  await interruptAfterFirstEpoch("SIGHUP", 129);
});

for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
  Deno.test(`${signal} sent twice at once (to the process group, and forwarded by a wrapper) still stops a run cleanly`, async () => {
    // (timeout, a job scheduler or kill -TERM -PGID signal the whole group, as a terminal's
    // Ctrl-C does: through `deno task`, anneal got a second signal milliseconds after the first
    // and exited at once, its run left recorded as running with its lock)
    await using runs = await tempRunsDir();
    const interrupted = await signalWhen(
      slowTrainArgs(8, runs.dir),
      (event) => event.type === "epoch",
      signal,
      async (_runId, pid) => {
        Deno.kill(pid, signal);
        // (the second as a wrapper forwards it: milliseconds later, not coalesced with it)
        await new Promise((resolve) => setTimeout(resolve, 20));
      },
    );
    assert.equal(interrupted.status.code, code, interrupted.stderr);
    const summary = JSON.parse(
      await Deno.readTextFile(`${runs.dir}/${interrupted.runId}/summary.json`),
    );
    assert.equal(summary.status, "interrupted");
    assert.equal(summary.stopReason, `${signal} received`);
    await assert.rejects(Deno.stat(`${runs.dir}/${interrupted.runId}/run.lock`));
  });
}

Deno.test("an interruption during the test pass, after the last step, ends the run interrupted without its test; the resume finishes the pass", async () => {
  await using runs = await tempRunsDir();
  const config = {
    backend: "cpu" as const,
    epochs: 2,
    batchSize: 64,
    runsDir: runs.dir,
    data: { kind: "idx" as const, flatten: true, limit: 256, testLimit: 512 },
    model: { kind: "mlp" as const, hidden: [16] },
  };
  // the test split reaches the trainer a few seconds late: the interruption lands in the pass
  // (it ran the pass to its end and said "completed", after the CLI had said it was stopping)
  const run = train(config, {
    runId: "cut",
    faults: { dataLoader: { kind: "delay", at: "split:test:2", ms: 3000 } },
  });
  for await (const event of run.events()) {
    if (event.type === "epoch" && event.epoch === 1) run.interrupt("SIGINT received");
  }
  const cut = await run.result;
  assert.equal(cut.status, "interrupted", cut.reason);
  assert.equal(cut.reason, "SIGINT received");
  assert.equal(cut.test, undefined);
  assert.equal(cut.epochs, 2);
  const summary = JSON.parse(await Deno.readTextFile(`${runs.dir}/cut/summary.json`));
  assert.equal(summary.status, "interrupted");
  // the resume trains nothing and finishes the run's end, as a run never interrupted ends
  const resumed = await train(config, { resume: "cut" }).result;
  assert.equal(resumed.status, "completed", resumed.reason);
  assert.equal(resumed.steps, cut.steps);
  const whole = await train(config, { runId: "whole" }).result;
  assert.deepEqual(resumed.test, whole.test);
  assert.ok(whole.test !== undefined);
});
