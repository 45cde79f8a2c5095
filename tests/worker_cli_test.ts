import assert from "node:assert/strict";
import { openStorage } from "../mod.ts";
import type { Trial } from "../mod.ts";
import { testPostgresUrl } from "../storage/testing/pg_url.ts";
import { annealCommand, waitFor } from "./_helpers.ts";

const anneal = (args: string[]) => annealCommand(args, "*").spawn();

Deno.test("anneal sweep + 3 anneal workers on one PostgreSQL study survive a worker killed mid-trial", async () => {
  const url = await testPostgresUrl();
  const study = `cli-${crypto.randomUUID().slice(0, 8)}`;
  const dir = await Deno.makeTempDir({ prefix: "anneal-workers-" });
  const file = `${dir}/sweep.json`;
  await Deno.writeTextFile(
    file,
    JSON.stringify({
      backend: "cpu",
      runsDir: dir,
      epochs: 6,
      data: { kind: "synthetic-linear", n: 400, validationSplit: 0.2 },
      sweep: {
        space: { "optimizer.lr": { type: "logUniform", low: 0.001, high: 0.1 } },
        trials: 10,
        sampler: "random",
        pruner: "none",
      },
    }),
  );
  const storage = await openStorage(url);
  const processes: Deno.ChildProcess[] = [];
  // each process's stderr, read as it comes (a full pipe would block the process), for failures
  const errors: Promise<string>[] = [];
  const spawn = (args: string[]) => {
    const child = anneal(args);
    errors.push(new Response(child.stderr).text().catch(() => ""));
    child.stdout.cancel();
    processes.push(child);
  };
  try {
    spawn(["sweep", "-c", file, "--storage", url, "--study", study]);
    const { id: studyId } = await waitFor(
      "the study",
      () => storage.loadStudy(study).catch(() => undefined),
    );
    for (let i = 0; i < 3; i++) {
      spawn(["worker", "--storage", url, "--study", study]);
    }
    // Kill the first worker seen holding a RUNNING trial (whichever: a given one could start
    // after the others had taken every trial, their processes starting seconds apart on a
    // loaded machine).
    const workers = processes.slice(1);
    const holder = (trial: Trial) =>
      // (an id is host:pid:random, or host:pid@namespace:random)
      workers.find((worker) => new RegExp(`:${worker.pid}[@:]`).test(trial.workerId ?? ""));
    // Its holder is held (SIGSTOP) while the trial is read again: one that ended between the
    // two reads is let go on (SIGCONT), and another looked for; so the kill lands mid-trial.
    const running = await waitFor("a trial of a worker", async () => {
      const trials = await storage.listTrials(studyId, ["RUNNING"]);
      const found = trials.find((t) => holder(t) !== undefined);
      if (!found) return undefined;
      const worker = holder(found)!;
      try {
        worker.kill("SIGSTOP");
      } catch {
        return undefined; // (it ended meanwhile)
      }
      const still = (await storage.listTrials(studyId, ["RUNNING"])).some((t) => t.id === found.id);
      if (still) return found;
      worker.kill("SIGCONT");
      return undefined;
    });
    const killedAt = processes.indexOf(holder(running)!);
    processes[killedAt].kill("SIGKILL");
    const statuses = await Promise.all(processes.map((p) => p.status));
    const stderr = await Promise.all(errors);
    assert.equal(statuses[killedAt].signal, "SIGKILL");
    for (const [i, status] of statuses.entries()) {
      if (i !== killedAt) {
        assert.equal(
          status.code,
          0,
          `process ${i} failed (${status.signal ?? status.code}): ${stderr[i].slice(-2000)}`,
        );
      }
    }

    const trials: Trial[] = await storage.listTrials(studyId);
    assert.equal(
      trials.filter((t) => t.state === "RUNNING" || t.state === "WAITING").length,
      0,
      "nothing left behind",
    );
    const killed = trials.find((t) => t.id === running.id)!;
    assert.equal(killed.state, "FAILED", "the killed worker's trial was reaped");
    const retry = trials.find((t) => t.retryOf === killed.id);
    assert.ok(retry, "and retried");
    assert.equal(retry.state, "COMPLETE");
    assert.deepEqual(retry.params, killed.params);
    const originals = trials.filter((t) => t.retryOf === null);
    assert.equal(originals.length, 10, "the budget counts original trials");
    for (const original of originals) {
      const chain = trials.filter((t) => t.id === original.id || t.retryOf === original.id);
      assert.equal(
        chain.filter((t) => t.state === "COMPLETE").length,
        1,
        `trial ${original.number} ran to completion exactly once`,
      );
    }
  } finally {
    for (const p of processes) {
      try {
        p.kill("SIGKILL");
      } catch {
        // already exited
      }
    }
    await storage.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** Writes a sweep config of one trial in `dir` (the base's `overrides` over one epoch); its path. */
async function oneTrialSweep(dir: string, overrides: Record<string, unknown>): Promise<string> {
  const file = `${dir}/sweep.json`;
  await Deno.writeTextFile(
    file,
    JSON.stringify({
      backend: "cpu",
      runsDir: dir,
      epochs: 1,
      ...overrides,
      sweep: {
        space: { "optimizer.lr": { type: "choice", values: [0.01] } },
        metric: "loss",
        trials: 1,
        sampler: "random",
        pruner: "none",
      },
    }),
  );
  return file;
}

Deno.test("anneal sweep and anneal worker print no part of a storage password with an @ left unescaped in it", async () => {
  // The driver reads the password up to the last @ before the host; the printed URLs hid it only
  // up to the first, `postgres://postgres:***@cret@127.0.0.1:...`. (The test server trusts every
  // password.)
  const address = new URL(await testPostgresUrl());
  const url = `postgres://${address.username}:se@cret@${address.host}${address.pathname}`;
  const study = `at-${crypto.randomUUID().slice(0, 8)}`;
  const dir = await Deno.makeTempDir({ prefix: "anneal-password-" });
  try {
    const file = await oneTrialSweep(dir, {});
    const run = async (args: string[]) => {
      const output = await annealCommand(args, "*").output();
      return new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
    };
    const swept = await run(["sweep", "-c", file, "--storage", url, "--study", study]);
    assert.match(swept, /best config written/);
    // the study's budget spent: the notice names the sweep that raises it
    const joined = await run(["worker", "--storage", url, "--study", study]);
    assert.match(joined, /worker joining study .* at postgres:\/\/\*\*\*@127/);
    assert.match(joined, /--storage 'postgres:\/\/\*\*\*@127/);
    const absent = await run(["worker", "--storage", url, "--study", `${study}-absent`]);
    assert.match(absent, /postgres:\/\/postgres:\*\*\*@127.* holds no study of that name/);
    for (const output of [swept, joined, absent]) assert.doesNotMatch(output, /cret/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("anneal sweep's command to go on with after SIGTERM leaves its storage's password out, as anneal worker's does", async () => {
  const address = new URL(await testPostgresUrl());
  // (the test server trusts every password)
  const url = `postgres://${address.username}:secret@${address.host}${address.pathname}`;
  const study = `term-${crypto.randomUUID().slice(0, 8)}`;
  const dir = await Deno.makeTempDir({ prefix: "anneal-password-" });
  const storage = await openStorage(url);
  try {
    const file = await oneTrialSweep(dir, {
      epochs: 50,
      data: { kind: "synthetic-linear", n: 4000 },
    });
    const child = anneal(["sweep", "-c", file, "--storage", url, "--study", study]);
    const stderr = new Response(child.stderr).text();
    child.stdout.cancel();
    const { id } = await waitFor(
      "the study",
      () => storage.loadStudy(study).catch(() => undefined),
    );
    await waitFor(
      "its trial",
      async () => (await storage.listTrials(id, ["RUNNING"])).length > 0 || undefined,
    );
    child.kill("SIGTERM");
    assert.equal((await child.status).code, 143);
    const said = await stderr;
    assert.ok(
      said.includes(
        `go on with the same command: anneal sweep -c ${file} --storage ` +
          `'postgres://${address.username}:***@${address.host}`,
      ),
      said,
    );
    assert.doesNotMatch(said, /secret/);
  } finally {
    await storage.close();
    await Deno.remove(dir, { recursive: true });
  }
});
