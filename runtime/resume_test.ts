import assert from "node:assert/strict";
import { AnnealError } from "../errors.ts";
import { currentProcess, type RunProcess } from "./liveness.ts";
import { saveCheckpoint } from "./checkpoint.ts";
import {
  checkNotRunning,
  loadResumeCheckpoint,
  lostCheckpoint,
  OTHER_HOST_QUIET_MS,
  readRunMeta,
  readSavedConfig,
} from "./resume.ts";

/** A run directory whose summary.json says `summary`; removed when its scope ends. */
async function runWith(
  summary: string | Record<string, unknown>,
): Promise<{ dir: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir();
  const text = typeof summary === "string" ? summary : JSON.stringify(summary);
  await Deno.writeTextFile(`${dir}/summary.json`, text);
  return { dir, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

const elsewhere: RunProcess = { pid: 4242, host: "another-host", startTime: "17" };
const here = { host: "this-host" };

Deno.test("a run recorded as running on another host that wrote its records recently is not resumed", async () => {
  await using run = await runWith({ status: "running", process: elsewhere });
  await assert.rejects(checkNotRunning(run.dir, "r", "runs", here), (error: unknown) => {
    assert.ok(error instanceof AnnealError && error.code === "usage");
    assert.match(
      error.message,
      /^Cannot resume run 'r': its record says it is running on host another-host \(pid 4242\), which cannot be checked from this host \(this-host\), and its records were last written \d+ s ago; two processes would write the same run directory$/,
    );
    assert.match(error.hint ?? "", /stop it there \(`kill 4242` on another-host\)/);
    assert.match(error.hint ?? "", /`anneal train --resume r` goes ahead once .* for 10 min/);
    return true;
  });
});

Deno.test("a run recorded on another host whose records are older than the quiet time is resumed", async () => {
  await using run = await runWith({ status: "running", process: elsewhere });
  const old = new Date(Date.now() - OTHER_HOST_QUIET_MS - 60_000);
  await Deno.utime(`${run.dir}/summary.json`, old, old);
  await checkNotRunning(run.dir, "r", "runs", here);
});

Deno.test("a run whose recorded process is gone, that ended, or whose summary does not parse is resumed", async () => {
  const gone = { host: elsewhere.host, readStat: () => Promise.resolve(undefined) };
  for (
    const summary of [
      { status: "running", process: elsewhere },
      { status: "interrupted", process: elsewhere },
      { status: "running" },
      '{"status": "running", "proc',
    ]
  ) {
    await using run = await runWith(summary);
    await checkNotRunning(run.dir, "r", "runs", gone);
  }
});

Deno.test("a run still running in this very process is refused with the API's way out", async () => {
  await using run = await runWith({ status: "running", process: await currentProcess() });
  await assert.rejects(
    checkNotRunning(run.dir, "r", "elsewhere"),
    /Cannot resume run 'r': it is still running in this process/,
  );
});

Deno.test("a run's config.json that is a directory is named as one, with how to put the config back", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/config.json`);
    await assert.rejects(() => readSavedConfig(dir, "r1"), (error: unknown) => {
      assert.ok(error instanceof AnnealError);
      assert.equal(error.code, "file");
      assert.match(
        error.message,
        /^Cannot resume run 'r1': cannot read '.*\/config\.json': it is a directory, not a file \(expected the JSON config the run was started with\)$/,
      );
      assert.match(error.hint!, /put the run's config back at .*config\.json \(a file\)/);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a run's meta.json is read for its resume: missing, none; a directory in its place, a JSON string, or a cut-off file, refused naming where and how to go on", async () => {
  await using run = await runWith({ status: "interrupted" });
  const path = `${run.dir}/meta.json`;
  assert.equal(await readRunMeta(run.dir, "r"), undefined);
  await Deno.writeTextFile(path, '{"id": "r", "seed": 42}');
  assert.deepEqual(await readRunMeta(run.dir, "r"), { id: "r", seed: 42 });
  const refused = async (code: string, message: RegExp, where: string) =>
    await assert.rejects(readRunMeta(run.dir, "r"), (error: unknown) => {
      assert.ok(error instanceof AnnealError);
      assert.equal(error.code, code);
      assert.match(error.message, message);
      assert.equal(error.where, where);
      assert.match(
        error.hint!,
        new RegExp(`or remove it to resume without them .*: \`rm ${path}\``),
      );
      return true;
    });
  await Deno.writeTextFile(path, '"r"');
  await refused(
    "storage",
    /^Cannot resume run 'r': .*\/meta\.json holds a string, not the JSON object anneal writes there$/,
    path,
  );
  await Deno.writeTextFile(path, '{"id": "r",\n  "seed": 4');
  await refused(
    "storage",
    /^Cannot resume run 'r': .*\/meta\.json is not valid JSON at line 2, column 12 .*: it ends before the JSON does$/,
    `${path}:2:12`,
  );
  await Deno.remove(path);
  await Deno.mkdir(path);
  await refused(
    "file",
    /^Cannot resume run 'r': cannot read '.*\/meta\.json': it is a directory, not a file/,
    path,
  );
});

Deno.test("resuming a sweep study's or a tune's directory says what it is and how to resume one of its runs", async () => {
  const runs = await Deno.makeTempDir();
  try {
    for (
      const [name, marker, what] of [
        ["study", "best_config.json", "a sweep study's directory"],
        ["tune-1", "tune.json", "a tune's directory"],
      ]
    ) {
      const dir = `${runs}/${name}`;
      await Deno.mkdir(`${dir}/trial-0`, { recursive: true });
      await Deno.writeTextFile(`${dir}/trial-0/config.json`, "{}");
      await Deno.writeTextFile(`${dir}/trial-0/summary.json`, "{}");
      await Deno.writeTextFile(`${dir}/${marker}`, "{}");
      await assert.rejects(readSavedConfig(dir, name), (e: unknown) => {
        assert.ok(e instanceof AnnealError, String(e));
        assert.equal(
          e.message,
          `Cannot resume run '${name}': '${dir}' is not a run but ${what} of 1 run (trial-0)`,
        );
        assert.match(e.hint ?? "", new RegExp(`anneal train --resume trial-0 --runs-dir ${dir}`));
        return true;
      });
    }
    // a run that lost its config.json alone: said so, as before
    await Deno.mkdir(`${runs}/r`);
    await Deno.writeTextFile(`${runs}/r/summary.json`, "{}");
    await assert.rejects(readSavedConfig(`${runs}/r`, "r"), /config\.json is missing/);
  } finally {
    await Deno.remove(runs, { recursive: true });
  }
});

Deno.test("a last.ckpt that cannot be read (a directory in its place) is refused with the OS's reason, what to look at, and the way on from best.ckpt", async () => {
  // (it said "Cannot read checkpoint '...'", no reason, and to check the run id, which was right)
  await using run = await runWith({ status: "running" });
  const checkpoints = `${run.dir}/checkpoints`;
  await Deno.mkdir(`${checkpoints}/last.ckpt`, { recursive: true });
  await saveCheckpoint(`${checkpoints}/best.ckpt`, { epoch: 3, step: 40 }, {});
  const error = await loadResumeCheckpoint(run.dir, "r1", "runs", ["--epochs", "8"]).then(
    () => undefined,
    (error) => error,
  );
  assert.ok(error instanceof AnnealError, String(error));
  assert.equal(error.code, "checkpoint");
  assert.equal(
    error.message,
    `Cannot read checkpoint '${checkpoints}/last.ckpt': it is a directory, not a file`,
  );
  assert.doesNotMatch(error.hint!, /check the run id/);
  assert.ok(
    error.hint!.startsWith(
      `make it the readable file anneal wrote again (\`ls -l ${checkpoints}/last.ckpt\` shows ` +
        "what is in its place: a directory, its permissions, a symbolic link), then anneal train " +
        "--resume r1 --epochs 8; or resume it from its best epoch's checkpoint (epoch 3; the " +
        `epochs after it are trained again): mv ${checkpoints}/last.ckpt ` +
        `${checkpoints}/last.ckpt.unreadable && cp ${checkpoints}/best.ckpt ` +
        `${checkpoints}/last.ckpt && anneal train --resume r1 --epochs 8; or start a new run`,
    ),
    error.hint,
  );
});

Deno.test("a run that recorded an epoch but has no checkpoint at all says its first checkpoint may never have been written, not only that it was removed", async () => {
  // the records go before the checkpoints: a disk that filled at the first checkpoint's write
  // leaves an epoch recorded and no checkpoint, which was said only as removed or left out of a
  // copy, to be put back
  await using run = await runWith({ status: "running" });
  await Deno.writeTextFile(`${run.dir}/epochs.ndjson`, '{"epoch":0,"step":13,"loss":1}\n');
  const lost = await lostCheckpoint({ runId: "r", runDir: run.dir, runsDir: "runs" });
  assert.match(
    lost?.message ?? "",
    /is missing, though the run recorded 1 epoch \(removed, left out of a copy, or never written: its first write failed, as on a full disk\)$/,
  );
});
