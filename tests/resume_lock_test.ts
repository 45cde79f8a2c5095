/**
 * A run directory is written by one process at a time: a run holds its lock (`run.lock`) while it
 * runs, so of two resumes started at the same moment one trains and the other is refused, and a
 * lock left by a killed process does not stand in the way.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type RunResult, train } from "../mod.ts";
import { anneal, annealCommand, readNdjson, slowTrainArgs, tempRunsDir } from "./_helpers.ts";

/** A completed run of `epochs` epochs in `runsDir` (a small linear model); its id. */
async function shortRun(runsDir: string, epochs: number): Promise<string> {
  const result = await train({ backend: "cpu", epochs, runsDir }).result;
  assert.equal(result.status, "completed", result.reason);
  return result.runId;
}

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

Deno.test("of two train(config, { resume }) started at once, one trains the run on and the other is refused; no lock is left", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const runId = await shortRun(dir, 1);
  const results = await Promise.allSettled([
    train({ runsDir: dir, epochs: 3 }, { resume: runId }).result,
    train({ runsDir: dir, epochs: 3 }, { resume: runId }).result,
  ]);
  const trained = results.filter((r): r is PromiseFulfilledResult<RunResult> =>
    r.status === "fulfilled"
  );
  const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  assert.equal(trained.length, 1, JSON.stringify(results));
  assert.equal(refused.length, 1);
  assert.equal(trained[0].value.status, "completed", trained[0].value.reason);
  assert.match(
    refused[0].reason.message,
    new RegExp(
      `^Cannot resume run '${runId}': it is still running in this process; two processes ` +
        "would write the same run directory$",
    ),
  );
  assert.deepEqual(
    (await readNdjson(`${dir}/${runId}/epochs.ndjson`)).map((r) => r.epoch),
    [0, 1, 2],
    "one process wrote the epochs",
  );
  assert.equal(await exists(`${dir}/${runId}/run.lock`), false);
});

Deno.test("a run holds its lock while it runs, and gives it back when it ends", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const run = train({ backend: "cpu", epochs: 2, runsDir: dir });
  let locked = false;
  for await (const event of run.events()) {
    if (event.type !== "epoch" || event.epoch !== 0) continue;
    const lock = JSON.parse(await Deno.readTextFile(`${run.runDir}/run.lock`));
    locked = lock.pid === Deno.pid;
    await assert.rejects(
      train({ runsDir: dir }, { resume: run.runId }).result,
      /it is still running in this process/,
    );
  }
  assert.equal((await run.result).status, "completed");
  assert.ok(locked, "run.lock named this process");
  assert.equal(await exists(`${run.runDir}/run.lock`), false);
});

Deno.test("a lock left by a process that is gone (killed before it could give it back) does not block a resume", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const runId = await shortRun(dir, 1);
  const gone = new Deno.Command("true").spawn();
  await gone.status;
  await Deno.writeTextFile(
    `${dir}/${runId}/run.lock`,
    JSON.stringify({ pid: gone.pid, host: Deno.hostname(), since: new Date().toISOString() }),
  );
  const result = await train({ runsDir: dir, epochs: 2 }, { resume: runId }).result;
  assert.equal(result.status, "completed", result.reason);
  assert.equal(result.epochs, 2);
  assert.equal(await exists(`${dir}/${runId}/run.lock`), false);
});

Deno.test("of two `anneal train --resume` started at once, one trains and the other is refused, naming the first's pid", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const first = await anneal(...slowTrainArgs(1, dir), "--name", "shared", "--no-progress");
  assert.equal(first.code, 0, first.stderr);
  const runId = first.stdout.match(/run record: \S+\/(\S+)/)![1];
  // 200 more epochs of 0.15-0.25 s: the one that takes the lock still trains when the other has
  // been refused, however far apart their starts (it is stopped then)
  const args = ["train", "--resume", runId, "--runs-dir", dir, "--epochs", "200", "--no-progress"];
  const children = [annealCommand(args).spawn(), annealCommand(args).spawn()];
  const outputs = children.map((child) => child.output());
  const refusedAt = await Promise.race(outputs.map((output, i) => output.then(() => i)));
  const refused = await outputs[refusedAt];
  const trainer = children[1 - refusedAt];
  trainer.kill("SIGTERM"); // stops after the current step, interrupted
  const trained = await outputs[1 - refusedAt];
  const stderr = new TextDecoder().decode(refused.stderr);
  assert.equal(refused.code, 2, stderr);
  assert.match(
    stderr,
    new RegExp(
      `Cannot resume run '${runId}': it is still running \\(pid ${trainer.pid} on this host, ` +
        ".*\\); two processes would write the same run directory",
    ),
  );
  assert.match(
    stderr,
    new RegExp(`hint: wait for it to end, or stop it \\(\`kill ${trainer.pid}\``),
  );
  assert.equal(trained.code, 143, new TextDecoder().decode(trained.stderr));
  const epochs = (await readNdjson(`${dir}/${runId}/epochs.ndjson`)).map((r) => r.epoch);
  assert.deepEqual(epochs, [...epochs.keys()], "one process wrote the epochs, in order");
  assert.equal(await exists(`${dir}/${runId}/run.lock`), false);
});
