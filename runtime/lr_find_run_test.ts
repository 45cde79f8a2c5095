import assert from "node:assert/strict";
import { parseConfig } from "../config.ts";
import { loadData } from "../data/mod.ts";
import { provenance, runDirOf } from "../cli/commands/runs.ts";
import type { AnnealError } from "../errors.ts";
import { readRun } from "../report/records.ts";
import { lrFind, type LrFindResult } from "./lr_find.ts";
import { recordLrFind } from "./lr_find_run.ts";
import { train } from "./supervisor.ts";
import { canMount, smallDisk } from "../tests/_tmpfs.ts";

/** What `lrFind` returns, as far as a record reads it (its curve made up). */
const result = {
  lrs: [1e-4, 1e-3, 1e-2],
  losses: [2, 1, 3],
  smoothed: [2, 1.5, 2],
  suggestions: { valley: 1e-3 },
  suggestion: 1e-3,
  rule: "valley",
} as LrFindResult;

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

Deno.test("of two LR range tests recorded in one run directory at once, one writes it and the other is refused; no lock is left", async () => {
  const runsDir = await Deno.makeTempDir();
  try {
    const config = parseConfig({ runsDir });
    const other = parseConfig({ runsDir, batchSize: 64 });
    const tries = await Promise.allSettled([
      recordLrFind(config, result, { runId: "shared" }),
      recordLrFind(other, { ...result, suggestion: 1e-2 }, { runId: "shared" }),
    ]);
    const written = tries.filter((t) => t.status === "fulfilled");
    const refused = tries.filter((t): t is PromiseRejectedResult => t.status === "rejected");
    assert.equal(written.length, 1, JSON.stringify(tries));
    assert.equal(refused.length, 1);
    assert.equal(refused[0].reason.code, "usage");
    // refused while the first writes, or once it has written: either way it wrote nothing
    assert.match(
      refused[0].reason.message,
      /^Cannot start (run 'shared': it is still running in this process; two processes would write the same run directory|a new LR range test with id 'shared': a run with this id exists)/,
    );
    // the directory is the one writer's, whole: its config beside its own suggestion
    const dir = `${runsDir}/shared`;
    const saved = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
    const summary = JSON.parse(await Deno.readTextFile(`${dir}/summary.json`));
    assert.equal(summary.lrFind.suggestion, saved.batchSize === 64 ? 1e-2 : 1e-3);
    assert.equal(await exists(`${dir}/run.lock`), false);
    assert.ok(await exists(`${dir}/lr_find.svg`));
    // once the writer is done, the directory is its record: not written again
    await assert.rejects(
      recordLrFind(config, result, { runId: "shared", plot: false }),
      /^AnnealError: Cannot start a new LR range test with id 'shared': a run with this id exists/,
    );
    assert.equal(
      JSON.parse(await Deno.readTextFile(`${dir}/summary.json`)).lrFind.suggestion,
      summary.lrFind.suggestion,
    );
  } finally {
    await Deno.remove(runsDir, { recursive: true });
  }
});

Deno.test("recordLrFind takes a config as written, as lrFind does, and refuses what is not one before it makes a directory", async () => {
  const runsDir = await Deno.makeTempDir();
  const cwd = Deno.cwd();
  try {
    // (it threw a TypeError, reading the optimizer's baseBatch, after it made ./undefined)
    Deno.chdir(runsDir);
    const { runDir } = await recordLrFind({ runsDir, batchSize: 8 }, result, {
      runId: "as-written",
      plot: false,
    });
    assert.equal(runDir, `${runsDir}/as-written`);
    const saved = JSON.parse(await Deno.readTextFile(`${runDir}/config.json`));
    assert.equal(saved.batchSize, 8);
    assert.equal(saved.optimizer.name, "sgd");
    await assert.rejects(
      recordLrFind(undefined as never, result),
      (error: AnnealError) => error.name === "AnnealError" && error.code === "config",
    );
    await assert.rejects(
      recordLrFind({ runsDir, epochs: -1 }, result),
      (error: AnnealError) => error.code === "config" && /epochs/.test(error.message),
    );
    assert.deepEqual((await Array.fromAsync(Deno.readDir(runsDir))).map((e) => e.name), [
      "as-written",
    ]);
  } finally {
    Deno.chdir(cwd);
    await Deno.remove(runsDir, { recursive: true });
  }
});

Deno.test("an LR range test records the fingerprint of its data, which runs show names as a training run's; an older record's is not recorded", async () => {
  const runsDir = await Deno.makeTempDir();
  try {
    const config = parseConfig({ runsDir, backend: "cpu", seed: 5 });
    const { fingerprint } = await loadData(config.data, config.seed);
    const { runDir } = await recordLrFind(
      config,
      { ...result, backend: "cpu", fingerprint },
      { runId: "found", plot: false },
    );
    const summary = JSON.parse(await Deno.readTextFile(`${runDir}/summary.json`));
    assert.equal(summary.fingerprint, fingerprint);
    assert.match(fingerprint, /^[0-9a-f]{64}$/);
    assert.equal(
      provenance(await readRun(runDir)),
      `backend cpu, seed 5, dataset ${fingerprint}`,
    );
    // (a record of an anneal before it was recorded)
    const { fingerprint: _, ...older } = summary;
    await Deno.writeTextFile(`${runDir}/summary.json`, JSON.stringify(older));
    assert.equal(provenance(await readRun(runDir)), "backend cpu, seed 5, dataset not recorded");
  } finally {
    await Deno.remove(runsDir, { recursive: true });
  }
});

Deno.test("lrFind's fingerprint is the one a training run of the same config records", async () => {
  const runsDir = await Deno.makeTempDir();
  try {
    const config = parseConfig({ runsDir, backend: "cpu", epochs: 1 });
    const found = await lrFind(config, { iterations: 20 });
    const run = train(config, { runId: "trained" });
    assert.equal((await run.result).status, "completed");
    const meta = JSON.parse(await Deno.readTextFile(`${runsDir}/trained/meta.json`));
    assert.match(meta.fingerprint, /^[0-9a-f]{64}$/);
    assert.equal(found.fingerprint, meta.fingerprint);
  } finally {
    await Deno.remove(runsDir, { recursive: true });
  }
});

Deno.test("an LR range test is not recorded in a run directory a training run is writing", async () => {
  const runsDir = await Deno.makeTempDir();
  try {
    const run = train({ backend: "cpu", epochs: 2, runsDir }, { runId: "busy" });
    for await (const event of run.events()) {
      if (event.type !== "epoch" || event.epoch !== 0) continue;
      await assert.rejects(
        recordLrFind(parseConfig({ runsDir }), result, { runId: "busy" }),
        /^AnnealError: Cannot start run 'busy': it is still running in this process/,
      );
    }
    assert.equal((await run.result).status, "completed");
    assert.equal(
      await exists(`${runsDir}/busy/lr_find.json`),
      false,
      "the run's directory is its own",
    );
    assert.equal(await exists(`${runsDir}/busy/run.lock`), false);
  } finally {
    await Deno.remove(runsDir, { recursive: true });
  }
});

Deno.test("an LR range test's record is not resumed as a run, and --resume last takes the newest training run", async () => {
  const runsDir = await Deno.makeTempDir();
  try {
    const config = parseConfig({ runsDir, backend: "cpu", epochs: 1 });
    const trained = await train(config, { runId: "trained" }).result;
    assert.equal(trained.status, "completed");
    await recordLrFind(config, result, { runId: "lr-find-test", plot: false });
    // it was refused as a run "ended (LR range test) before its first epoch's end was saved",
    // with the hint to start it again as a training run
    await assert.rejects(
      train(config, { resume: "lr-find-test" }).result,
      (error: AnnealError) => {
        assert.equal(error.code, "usage");
        assert.match(
          error.message,
          /^Cannot resume run 'lr-find-test': it is the record of an LR range test \(anneal lr-find\), not a training run/,
        );
        assert.match(error.hint ?? "", /it suggested lr 0\.001/);
        return true;
      },
    );
    assert.equal(await exists(`${runsDir}/lr-find-test/run.lock`), false, "nothing written");
    assert.equal(await exists(`${runsDir}/lr-find-test/checkpoints`), false);
    // `last` of the commands that read records is the newest, the test; --resume's the run
    assert.equal(await runDirOf("last", { runsDir }), `${runsDir}/lr-find-test`);
    assert.equal(
      await runDirOf("last", { runsDir }, { training: true }),
      `${runsDir}/trained`,
    );
  } finally {
    await Deno.remove(runsDir, { recursive: true });
  }
});

Deno.test({
  name: "an LR range test whose record its disk has no room for says its suggestion and leaves " +
    "no directory (root only: it mounts a tmpfs)",
  ignore: !canMount,
  fn: async () => {
    const runsDir = await Deno.makeTempDir();
    try {
      // one page, which the lock file takes
      await using disk = await smallDisk(runsDir, "4k");
      if (!disk) return;
      const error = await recordLrFind(parseConfig({ runsDir }), result, { runId: "full" })
        .then(() => undefined, (error) => error as AnnealError);
      assert.ok(error, "the record was written");
      assert.match(
        error.message,
        /^Cannot record the LR range test in .*\/full: Cannot write '.*\/full\/\w+\.json': no space left on its disk; the test suggested lr = 0\.001 \(valley\)$/,
      );
      assert.match(error.hint ?? "", new RegExp(`df -h '${runsDir}'.*run anneal lr-find again`));
      // (it left config.json and an empty lr_find.json, listed by anneal runs as running)
      assert.deepEqual([...Deno.readDirSync(runsDir)], []);
    } finally {
      await Deno.remove(runsDir, { recursive: true });
    }
  },
});
