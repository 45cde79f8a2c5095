import assert from "node:assert/strict";
import { openPostgresStorage } from "../storage/postgres.ts";
import { testPostgresUrl } from "../storage/testing/pg_url.ts";

const url = await testPostgresUrl();

interface Worker {
  id: string;
  process: Deno.ChildProcess;
  lines: string[];
  /** Resolves when the worker printed its first `start` line. */
  started: Promise<void>;
  exited: Promise<Deno.CommandStatus>;
}

function spawnWorker(id: string, studyName: string, trials: number): Worker {
  const script = new URL("./testing/worker_main.ts", import.meta.url).pathname;
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, url, studyName, id, String(trials)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines: string[] = [];
  let markStarted = () => {};
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const reading = (async () => {
    let buffer = "";
    for await (const chunk of process.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      const parts = buffer.split("\n");
      buffer = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        if (line.startsWith("start ")) markStarted();
      }
    }
  })();
  const exited = reading.then(() => process.status);
  return { id, process, lines, started, exited };
}

const idsOf = (lines: string[], word: string) =>
  lines.filter((l) => l.startsWith(`${word} `)).map((l) => Number(l.split(" ")[1]));

Deno.test({
  name: "a worker SIGKILLed mid-trial: its trial is reaped and retried, none lost or run twice",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const studyName = `kill-${crypto.randomUUID().slice(0, 8)}`;
    const trials = 16;
    const workers = ["w0", "w1", "w2", "w3"].map((id) => spawnWorker(id, studyName, trials));
    // The victim: the first worker to start a trial, killed as soon as it does (its ~300 ms of
    // steps ahead). A fixed worker could start after the others had taken every trial (their
    // processes started seconds apart on a loaded machine), and a fixed wait after the start
    // could end after that trial, before the next had started.
    const victim = await Promise.race(workers.map((w) => w.started.then(() => w)));
    victim.process.kill("SIGKILL");
    const statuses = await Promise.all(workers.map((w) => w.exited));
    for (const [i, status] of statuses.entries()) {
      if (workers[i] === victim) assert.equal(status.signal, "SIGKILL");
      else assert.equal(status.code, 0, `${workers[i].id} failed`);
    }

    const storage = await openPostgresStorage(url);
    const study = await storage.loadStudy(studyName);
    const all = await storage.listTrials(study.id);
    await storage.close();

    // The killed worker's unfinished trial(s): started, never done, FAILED, then retried.
    const killed = idsOf(victim.lines, "start").filter((id) =>
      !idsOf(victim.lines, "done").includes(id)
    );
    assert.ok(killed.length >= 1, "the victim was killed mid-trial");
    for (const id of killed) {
      const trial = all.find((t) => t.id === id)!;
      assert.equal(trial.state, "FAILED");
      assert.match(trial.reason!, new RegExp(`${victim.id} stopped heart-beating`));
      const retry = all.find((t) => t.retryOf === id);
      assert.ok(retry, `trial ${id} was retried`);
      assert.equal(retry.state, "COMPLETE");
      assert.deepEqual(retry.params, trial.params);
    }
    // Nothing left running or waiting; every original trial has exactly one COMPLETE run.
    assert.deepEqual(all.filter((t) => t.state === "RUNNING" || t.state === "WAITING"), []);
    const originals = all.filter((t) => t.retryOf === null);
    assert.equal(originals.length, trials);
    for (const original of originals) {
      const chain = all.filter((t) => t.id === original.id || t.retryOf === original.id);
      assert.equal(chain.filter((t) => t.state === "COMPLETE").length, 1, `trial ${original.id}`);
    }
    // Each trial id was started by exactly one worker, once.
    const starts = workers.flatMap((w) => idsOf(w.lines, "start"));
    assert.equal(new Set(starts).size, starts.length, "a trial ran twice");
    assert.equal(starts.length, all.length);
  },
});
