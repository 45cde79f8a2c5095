/**
 * A new run never writes into an existing run's directory: `train(config, { runId })` and
 * `recordLrFind(..., { runId })` given the id of a run already there, whatever its status, are
 * refused, saying its status and how to go on, and leave its record and checkpoints as they were;
 * resuming it (`{ resume }`, `--resume`) still works.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type AnnealError, parseConfig, recordLrFind, train } from "../mod.ts";
import type { LrFindResult, RunConfigInput, TrainOptions } from "../mod.ts";
import { resumeRun, signalWhen, slowTrainArgs, tempRunsDir, trainCollect } from "./_helpers.ts";
import { claimNewRun } from "../runtime/new_run.ts";
import { canMount, smallDisk } from "./_tmpfs.ts";

const small = { backend: "cpu" as const, epochs: 3, data: { kind: "synthetic-linear" as const } };

/** Every file under `dir` and its bytes, to show that nothing was written. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const walk = async (at: string) => {
    for await (const entry of Deno.readDir(at)) {
      const path = `${at}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else files.set(path.slice(dir.length), (await Deno.readFile(path)).join(","));
    }
  };
  await walk(dir);
  return files;
}

/** Trains `config` as run `runId`, stopping or interrupting it at its first epoch's end. */
async function runAs(
  config: RunConfigInput,
  runId: string,
  end?: "stop" | "interrupt",
  options: TrainOptions = {},
) {
  const run = train(config, { ...options, runId });
  for await (const event of run.events()) {
    if (event.type === "epoch" && event.epoch === 0 && end) run[end]();
  }
  return await run.result;
}

/** What `lrFind` returns, as far as a record reads it (its curve made up). */
const found = {
  lrs: [1e-4, 1e-3, 1e-2],
  losses: [2, 1, 3],
  smoothed: [2, 1.5, 2],
  suggestions: { valley: 1e-3 },
  suggestion: 1e-3,
  rule: "valley",
} as LrFindResult;

Deno.test("train(config, { runId }) of a run that ended, whatever its status, is refused naming it and how to go on; its directory is left as it was", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const config = { ...small, runsDir: dir };
  const cases = [
    { status: "completed", run: () => runAs(config, "completed") },
    { status: "stopped", run: () => runAs(config, "stopped", "stop") },
    { status: "interrupted", run: () => runAs(config, "interrupted", "interrupt") },
    {
      status: "failed",
      run: () =>
        runAs(config, "failed", undefined, {
          faults: { trainer: { kind: "throw", at: "step:1" } },
        }),
    },
    {
      status: "diverged",
      run: () => runAs({ ...config, optimizer: { name: "sgd", lr: 1e4 } }, "diverged"),
    },
  ];
  for (const { status, run } of cases) {
    const result = await run();
    assert.equal(result.status, status, result.reason);
    const before = await snapshot(`${dir}/${status}`);
    const refused = await train({ ...config, epochs: 5 }, { runId: status }).result.then(
      () => assert.fail(`a new run wrote into the ${status} run's directory`),
      (error) => error,
    );
    assert.equal(refused.code, "usage");
    assert.match(
      refused.message,
      new RegExp(
        `^Cannot start a new run with id '${status}': a run with this id exists in ${dir} ` +
          `\\(status ${status}(, \\d+ epochs? recorded)?: .*\\); a new run never writes into ` +
          "another's directory$",
      ),
    );
    assert.equal(refused.where, `${dir}/${status}`);
    assert.match(refused.hint, /^give the new run an id no run has, or leave its id out/);
    const resume = `anneal train --resume ${status} --runs-dir ${dir}`;
    if (status === "diverged") {
      // (it stopped before its first epoch's end: nothing to resume)
      assert.doesNotMatch(refused.hint, /--resume/);
    } else if (status === "completed" || status === "stopped") {
      assert.ok(refused.hint.includes(`to train that run longer: \`${resume} --epochs N\``));
      assert.ok(refused.hint.includes(`(train({ epochs: N }, { resume: "${status}" }))`));
    } else {
      assert.ok(refused.hint.includes(`continue that run from its last checkpoint: \`${resume}\``));
    }
    assert.deepEqual(await snapshot(`${dir}/${status}`), before, `the ${status} run is untouched`);
  }
  // the way on that the refusal names: the completed run trains on to 5 epochs
  const resumed = await train({ runsDir: dir, epochs: 5 }, { resume: "completed" }).result;
  assert.equal(resumed.status, "completed", resumed.reason);
  assert.equal(resumed.epochs, 5);
});

Deno.test("an LR range test and a training run are not recorded over one another, nor into a directory of other files", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const config = parseConfig({ ...small, runsDir: dir });
  assert.equal((await runAs(config, "trained")).status, "completed");
  const trained = await snapshot(`${dir}/trained`);
  await assert.rejects(
    recordLrFind(config, found, { runId: "trained" }),
    /^AnnealError: Cannot start a new LR range test with id 'trained': a run with this id exists in .* \(status completed, 3 epochs recorded/,
  );
  assert.deepEqual(await snapshot(`${dir}/trained`), trained);

  await recordLrFind(config, found, { runId: "found", plot: false });
  const record = await snapshot(`${dir}/found`);
  await assert.rejects(
    recordLrFind(config, { ...found, suggestion: 1e-2 }, { runId: "found" }),
    /a run with this id exists .*\(status completed: LR range test\)/,
  );
  const refused = await train(config, { runId: "found" }).result.catch((error) => error);
  assert.match(refused.message, /^Cannot start a new run with id 'found': a run with this id/);
  // an LR range test has no checkpoint: only another id goes on
  assert.doesNotMatch(refused.hint, /--resume/);
  assert.deepEqual(await snapshot(`${dir}/found`), record);

  await Deno.mkdir(`${dir}/notes`);
  await Deno.writeTextFile(`${dir}/notes/todo.txt`, "keep\n");
  const stray = await train(config, { runId: "notes" }).result.catch((error) => error);
  assert.equal(
    stray.message,
    `Cannot start a new run with id 'notes': ${dir}/notes exists and holds files that are not ` +
      "a new run's (todo.txt); a new run never writes into another's directory",
  );
  assert.deepEqual([...(await snapshot(`${dir}/notes`)).keys()], ["/todo.txt"]);
  // an empty directory is no run's: a new run may have it
  await Deno.mkdir(`${dir}/empty`);
  assert.equal((await runAs(config, "empty")).status, "completed");
});

Deno.test("a run killed with SIGKILL is refused as a new run's id, as crashed, and `anneal train --resume` still completes it", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  // (epochs of 0.15-0.25 s: the kill at the second one's end lands with 4 to go)
  const epochs = 6;
  const killed = await signalWhen(
    slowTrainArgs(epochs, dir),
    (event) => event.type === "epoch" && (event.epoch as number) >= 1,
    "SIGKILL",
  );
  assert.equal(killed.status.signal, "SIGKILL", killed.stderr);
  const runDir = `${dir}/${killed.runId}`;
  const before = await snapshot(runDir);
  const refused = await train({ ...small, runsDir: dir }, { runId: killed.runId }).result.catch(
    (error) => error,
  );
  assert.match(
    refused.message,
    new RegExp(`^Cannot start a new run with id '${killed.runId}': .*\\(status crashed, `),
  );
  assert.ok(
    refused.hint.includes(
      `to continue that run from its last checkpoint: \`anneal train --resume ${killed.runId} ` +
        `--runs-dir ${dir}\``,
    ),
    refused.hint,
  );
  assert.deepEqual(await snapshot(runDir), before);
  const resumed = await resumeRun(killed.runId, dir);
  assert.equal(resumed.code, 0, resumed.stderr);
  const summary = JSON.parse(await Deno.readTextFile(`${runDir}/summary.json`));
  assert.equal(summary.status, "completed");
  assert.equal(summary.epochs, epochs);
});

Deno.test("two runs given one new id at once: one trains, the other is refused", async () => {
  await using runs = await tempRunsDir();
  const config = { ...small, runsDir: runs.dir };
  const results = await Promise.allSettled([
    trainCollect(config, { runId: "twin" }),
    trainCollect(config, { runId: "twin" }),
  ]);
  const trained = results.filter((r) => r.status === "fulfilled");
  const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  assert.equal(trained.length, 1, JSON.stringify(results));
  assert.match(
    refused[0].reason.message,
    /^Cannot start (run 'twin': it is still running in this process|a new run with id 'twin': a run with this id exists)/,
  );
});

Deno.test("run.runId and run.runDir are the run's where known, and throw saying so where not (never a path ending in 'undefined')", async () => {
  await using runs = await tempRunsDir();
  const config = { ...small, epochs: 1, runsDir: runs.dir };
  const run = train(config);
  assert.throws(() => run.runDir, (error: AnnealError) => {
    assert.equal(error.code, "usage");
    assert.match(error.message, /run\.runDir is not known yet/);
    assert.match(error.hint ?? "", /run\.started/);
    return true;
  });
  const result = await run.result;
  assert.equal(run.runId, result.runId);
  assert.equal(run.runDir, result.runDir);
  // given the id, or resuming, the run's id and directory are known at once
  const named = train(config, { runId: "named" });
  assert.equal(named.runDir, `${runs.dir}/named`);
  await named.result;
  const resumed = train(config, { resume: "named" });
  assert.equal(resumed.runId, "named");
  assert.equal(resumed.runDir, `${runs.dir}/named`);
  await resumed.result;
  // a run refused before it started has neither
  const refused = train({ ...config, epochs: -1 });
  await assert.rejects(refused.result);
  assert.throws(() => refused.runId, /refused before it started, so it has no id/);
});

Deno.test("a stallTimeoutMs that is not a positive number is refused before the run starts, not blamed on an actor", async () => {
  await using runs = await tempRunsDir();
  for (const stallTimeoutMs of [0, -5, NaN, "100"]) {
    const run = train({ ...small, runsDir: runs.dir }, {
      stallTimeoutMs: stallTimeoutMs as number,
    });
    await assert.rejects(run.result, (error: AnnealError) => {
      assert.equal(error.code, "usage");
      assert.match(error.message, /'stallTimeoutMs' must be a positive number of milliseconds/);
      // (a string named as one: "current value is 100" read as a valid value)
      if (typeof stallTimeoutMs === "string") {
        assert.match(error.message, /current value is "100"$/);
      }
      return true;
    });
  }
  assert.deepEqual(await Array.fromAsync(Deno.readDir(runs.dir)), [], "no run was recorded");
});

Deno.test("a new run in a runs directory whose name is too long is refused naming it, not as a possible bug", async () => {
  await using runs = await tempRunsDir();
  const runsDir = `${runs.dir}/${"r".repeat(300)}`;
  const error = await claimNewRun({ runId: "x", runsDir }).then(() => undefined, (e) => e);
  // (it was Deno's 'File name too long (os error 36): readdir ...', a plain Error)
  assert.equal(error?.code, "file", String(error));
  assert.match(error.message, /'r{24}\.\.\.' is too long for the file system \(300 bytes/);
  assert.equal(error.hint, "choose a shorter path");
});

Deno.test({
  name: "a new run whose lock file its disk has no room for leaves no directory, and its fix " +
    "names one there is (root only: it mounts a tmpfs)",
  ignore: !canMount,
  fn: async () => {
    await using runs = await tempRunsDir();
    await using disk = await smallDisk(runs.dir, "4k");
    if (!disk) return;
    await Deno.writeFile(`${runs.dir}/fill`, new Uint8Array(4096));
    const runsDir = `${runs.dir}/runs`;
    const error = await claimNewRun({ runId: "x", runsDir }).then(() => undefined, (e) => e);
    assert.equal(error?.code, "file", String(error));
    assert.match(error.message, /^Cannot write the run's lock file '.*\/x\/run\.lock': no space/);
    assert.match(error.hint, new RegExp(`df -h '${runsDir}'`));
    // (it left x/ with an empty run.lock)
    assert.deepEqual([...Deno.readDirSync(runsDir)], []);
  },
});
