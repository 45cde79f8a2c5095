/**
 * A run whose record cannot be written: at its start it is refused, its new directory removed;
 * once it trains it ends at once, its last checkpoint one whose records are all there; at its
 * end (its summary.json) it fails, not "completed" with a warning.
 *
 * @module
 */
import assert from "node:assert/strict";
import { loadCheckpoint, type RunEvent, train } from "../mod.ts";
import { tempRunsDir } from "./_helpers.ts";
import { canMount, smallDisk } from "./_tmpfs.ts";

const config = {
  backend: "cpu" as const,
  epochs: 400,
  data: { kind: "synthetic-linear" as const, n: 64 },
};

Deno.test("a run whose steps.ndjson cannot be written ends at once, with no checkpoint past its record", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const run = train({ ...config, runsDir: dir }, { runId: "unrecorded" });
  const events: RunEvent[] = [];
  for await (const event of run.events()) {
    events.push(event);
    // a folder where the steps go: each append fails (made once the run has its directory)
    if (event.type === "run.started") await Deno.mkdir(`${dir}/unrecorded/steps.ndjson`);
  }
  const result = await run.result;
  // (it trained its 400 epochs with no step recorded, checkpoints written, and 'completed')
  assert.equal(result.status, "failed", result.reason);
  assert.match(
    result.reason,
    /^the run's record could not be written: Cannot append to .*steps\.ndjson/,
  );
  assert.equal(result.failedActor, undefined);
  assert.equal(result.where, `${dir}/unrecorded/steps.ndjson`);
  const epochs = events.filter((e) => e.type === "epoch").length;
  assert.ok(epochs < 400, `the run went on for ${epochs} epochs after the write failed`);
  // no step of it is recorded: no checkpoint either, and nothing to resume
  const written = await loadCheckpoint(`${dir}/unrecorded/checkpoints/last.ckpt`).catch(() => {
    return undefined;
  });
  assert.equal(written?.state.epoch, undefined, "a checkpoint was written past the lost steps");
  assert.doesNotMatch(result.hint ?? "", /--resume/);
  assert.match(result.hint ?? "", /start the run again/);
});

Deno.test({
  name: "a run whose disk is full at its start is refused, naming the file and the fix, and " +
    "leaves no directory (root only: it mounts a tmpfs)",
  ignore: !canMount,
  fn: async () => {
    await using runs = await tempRunsDir();
    // one page: the run's directory is made, its config.json is not
    await using disk = await smallDisk(runs.dir, "4k");
    if (!disk) return;
    const run = train({ ...config, runsDir: runs.dir }, { runId: "full" });
    for await (const _ of run.events());
    const error = await run.result.then(() => undefined, (error) => error);
    // (it trained an epoch with no config.json, to fail at its first checkpoint; `anneal runs`
    // listed no run, a directory of the id was left)
    assert.ok(error, "the run was not refused");
    assert.equal(error.code, "file");
    assert.match(error.message, /^Cannot start the run: its record could not be written: /);
    assert.match(error.message, /full\/config\.json': no space left on its disk/);
    assert.match(error.hint, new RegExp(`df -h '${runs.dir}'.*then start it again`));
    assert.deepEqual([...Deno.readDirSync(runs.dir)], []);
  },
});

Deno.test("a summary.json that cannot be written at the run's end fails the run, naming it, where it completed with a warning; once fixed, a resume writes it", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const short = { ...config, epochs: 4, runsDir: dir };
  const run = train(short, { runId: "r" });
  const warnings: string[] = [];
  for await (const event of run.events()) {
    // a folder where the summary goes: written at the start, then only at the end
    if (event.type === "run.started") {
      await Deno.remove(`${dir}/r/summary.json`);
      await Deno.mkdir(`${dir}/r/summary.json`);
    }
    if (event.type === "warning") warnings.push(event.message);
  }
  const result = await run.result;
  assert.equal(result.status, "failed", result.reason);
  assert.equal(result.epochs, 4, "trained to its end");
  assert.match(result.reason, /^the run's record could not be written: .*summary\.json/);
  assert.doesNotMatch(result.reason, /AnnealError/);
  assert.ok(result.code === "file" || result.code === "storage", result.code);
  assert.deepEqual(warnings.filter((w) => /record/.test(w)), [], "said once, as the failure");
  // trained to its end with every checkpoint: once the cause is gone, a resume writes its end
  assert.match(result.hint ?? "", /then `anneal train --resume r --runs-dir /);
  await Deno.remove(`${dir}/r/summary.json`);
  const resumed = await train(short, { resume: "r" }).result;
  assert.equal(resumed.status, "completed", resumed.reason);
  assert.equal(resumed.epochs, 4);
  const summary = JSON.parse(await Deno.readTextFile(`${dir}/r/summary.json`));
  assert.equal(summary.status, "completed");
});

Deno.test("a resume removes the temporary files a killed process's atomic writes left in the run's directory and its checkpoints, and nothing else", async () => {
  await using runs = await tempRunsDir();
  const config = { runsDir: runs.dir, backend: "cpu" as const, epochs: 2 };
  const first = await train(config, { runId: "r" }).result;
  assert.equal(first.status, "completed", first.reason);
  const dir = `${runs.dir}/r`;
  // what a process killed between an atomic write's start and its rename leaves
  const leftovers = [
    `${dir}/checkpoints/last.ckpt.tmp-3e9a01bc`,
    `${dir}/summary.json.tmp-00ff12ab`,
  ];
  // files of other names are the user's: kept
  const kept = [`${dir}/checkpoints/notes.tmp-keep`, `${dir}/results.tmp-1234567`];
  for (const path of [...leftovers, ...kept]) await Deno.writeTextFile(path, "x");
  const resumed = await train({ ...config, epochs: 3 }, { resume: "r" }).result;
  assert.equal(resumed.status, "completed", resumed.reason);
  assert.equal(resumed.epochs, 3);
  for (const path of leftovers) {
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound, `${path} removed`);
  }
  for (const path of kept) assert.ok((await Deno.stat(path)).isFile, `${path} kept`);
});
