/**
 * A run killed without warning (SIGKILL: the out-of-memory killer, `kill -9`) never records its
 * end; `anneal runs` and the API it uses show it as crashed, with how to resume it, and
 * `--resume` completes it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { listRuns, train } from "../mod.ts";
import {
  anneal,
  readNdjson,
  resumeRun,
  signalWhen,
  slowTrainArgs,
  tempRunsDir,
} from "./_helpers.ts";

Deno.test("a run killed with SIGKILL after its first epochs lists as crashed, with the resume command, and --resume completes it", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  // Epochs of 0.15-0.25 s (a wide MLP on the host step): the kill at the second one's end lands
  // with 8 to go.
  const epochs = 10;
  const killed = await signalWhen(
    slowTrainArgs(epochs, dir),
    // the second epoch's end: the trainer waits for the first checkpoint before it goes on
    (event) => event.type === "epoch" && (event.epoch as number) >= 1,
    "SIGKILL",
  );
  assert.equal(killed.status.signal, "SIGKILL", killed.stderr);
  const runDir = `${dir}/${killed.runId}`;
  const written = JSON.parse(await Deno.readTextFile(`${runDir}/summary.json`));
  assert.equal(written.status, "running", "a killed run cannot record its end");
  assert.equal(written.process.pid, killed.pid);

  const resume = `anneal train --resume ${killed.runId} --runs-dir ${dir}`;
  const [row] = await listRuns(dir);
  assert.equal(row.status, "crashed");
  assert.equal(row.note, `resume it from its last checkpoint: ${resume}`);
  const listed = await anneal("runs", "--runs-dir", dir);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, new RegExp(`${killed.runId} .* crashed\\n`));
  assert.ok(
    listed.stdout.includes(
      `${killed.runId} crashed: resume it from its last checkpoint: ${resume}`,
    ),
  );
  const json = JSON.parse((await anneal("runs", "--runs-dir", dir, "--json")).stdout);
  assert.equal(json[0].status, "crashed");
  const diagnosed = await anneal("diagnose", killed.runId, "--runs-dir", dir);
  assert.match(diagnosed.stdout, /crashed: killed without recording its end .*no process has pid/);
  // the record itself is left as the run left it
  assert.equal(JSON.parse(await Deno.readTextFile(`${runDir}/summary.json`)).status, "running");

  const resumed = await resumeRun(killed.runId, dir);
  assert.equal(resumed.code, 0, resumed.stderr);
  const after = JSON.parse(await Deno.readTextFile(`${runDir}/summary.json`));
  assert.equal(after.status, "completed");
  assert.equal(after.epochs, epochs);
  assert.deepEqual((await readNdjson(`${runDir}/epochs.ndjson`)).map((r) => r.epoch), [
    ...Array(epochs).keys(),
  ]);
  const [done] = await listRuns(dir);
  assert.equal(done.status, "completed");
  assert.equal(done.note, undefined);
});

Deno.test("--resume of a run still running on this host is refused, naming its pid, and records nothing", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  // 200 epochs of 0.15-0.25 s, far more than the refusals take: the run is alive throughout.
  const killed = await signalWhen(
    slowTrainArgs(200, dir),
    (event) => event.type === "epoch" && (event.epoch as number) >= 1,
    "SIGKILL",
    async (runId, pid) => {
      const resumed = await resumeRun(runId, dir);
      assert.equal(resumed.code, 2, resumed.stderr);
      assert.match(
        resumed.stderr,
        new RegExp(`Cannot resume run '${runId}': it is still running \\(pid ${pid} on this host`),
      );
      assert.match(
        resumed.stderr,
        new RegExp(`hint: wait for it to end, or stop it \\(\`kill ${pid}\``),
      );
      // the module's train() resumes through the same path
      await assert.rejects(
        train({ runsDir: dir }, { resume: runId }).result,
        new RegExp(`Cannot resume run '${runId}': it is still running \\(pid ${pid}`),
      );
      const summary = JSON.parse(await Deno.readTextFile(`${dir}/${runId}/summary.json`));
      assert.equal(summary.process.pid, pid, "the refused resumes recorded nothing");
    },
  );
  assert.equal(killed.status.signal, "SIGKILL", killed.stderr);
});
