/**
 * A run whose record cannot be written: at its start it is refused, its new directory removed;
 * once it trains it ends at once, its last checkpoint one whose records are all there.
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
  assert.match(result.reason, /record could not be written: Cannot append to .*steps\.ndjson/);
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
