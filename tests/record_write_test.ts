/**
 * A run whose record (steps.ndjson, epochs.ndjson, meta.json, summary.json) cannot be written
 * fails, saying which file and how to go on: it does not end "completed" with a record that
 * cannot be read whole (it did, with only a warning), and a record that fails mid-run ends the
 * run at once, before a checkpoint past the records written.
 *
 * @module
 */
import assert from "node:assert/strict";
import { train } from "../mod.ts";
import type { RunResult } from "../mod.ts";
import { tempRunsDir } from "./_helpers.ts";

const config = (runsDir: string) => ({
  backend: "cpu" as const,
  epochs: 4,
  runsDir,
  data: { kind: "synthetic-linear" as const },
});

/** Trains run `r`, making `file` of its directory a directory once the run has started. */
async function trainBlocking(runsDir: string, file: string): Promise<RunResult> {
  const run = train(config(runsDir), { runId: "r" });
  const warnings: string[] = [];
  for await (const event of run.events()) {
    if (event.type === "run.started") {
      await Deno.remove(`${runsDir}/r/${file}`).catch(() => {});
      await Deno.mkdir(`${runsDir}/r/${file}`);
    }
    if (event.type === "warning") warnings.push(event.message);
  }
  assert.deepEqual(warnings.filter((w) => /record/.test(w)), [], "said once, as the failure");
  return await run.result;
}

Deno.test("a record that cannot be appended to fails the run at that epoch, with no checkpoint past it", async () => {
  await using runs = await tempRunsDir();
  const result = await trainBlocking(runs.dir, "epochs.ndjson");
  const path = `${runs.dir}/r/epochs.ndjson`;
  assert.equal(result.status, "failed", result.reason);
  assert.equal(result.code, "file");
  assert.equal(result.where, path);
  assert.match(
    result.reason,
    /the run's record could not be written: Cannot append to '.*epochs\.ndjson': it is a directory/,
  );
  assert.equal(result.epochs, 1, "ended at the first epoch whose record failed, not after 4");
  // no checkpoint was written past the records, so there is none to resume from
  const checkpoints = [...Deno.readDirSync(`${runs.dir}/r/checkpoints`)].map((e) => e.name);
  assert.deepEqual(checkpoints.filter((name) => name.endsWith(".ckpt")), []);
  assert.match(result.hint ?? "", /is writable and its disk has room, then start the run again/);
  const summary = JSON.parse(await Deno.readTextFile(`${runs.dir}/r/summary.json`));
  assert.equal(summary.status, "failed");
});

Deno.test("a summary.json that cannot be written at the run's end fails the run, naming it, where it completed with a warning", async () => {
  await using runs = await tempRunsDir();
  const result = await trainBlocking(runs.dir, "summary.json");
  assert.equal(result.status, "failed", result.reason);
  assert.equal(result.epochs, 4, "trained to its end");
  assert.match(result.reason, /the run's record could not be written: .*summary\.json/);
  assert.ok(!/AnnealError/.test(result.reason), result.reason);
  assert.ok(result.code === "file" || result.code === "storage", result.code);
  // trained to its end with every checkpoint: once the cause is gone, a resume writes its end
  assert.match(result.hint ?? "", /then `anneal train --resume r --runs-dir /);
  await Deno.remove(`${runs.dir}/r/summary.json`);
  const resumed = await train(config(runs.dir), { resume: "r" }).result;
  assert.equal(resumed.status, "completed", resumed.reason);
  assert.equal(resumed.epochs, 4);
  const summary = JSON.parse(await Deno.readTextFile(`${runs.dir}/r/summary.json`));
  assert.equal(summary.status, "completed");
});
