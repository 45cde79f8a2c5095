import assert from "node:assert/strict";
import { AnnealError } from "../errors.ts";
import { currentProcess, readProcStat, startTimeOf } from "./liveness.ts";
import { OTHER_HOST_QUIET_MS } from "./resume.ts";
import { lockRun, parseHolder, RUN_LOCK_FILE } from "./run_lock.ts";

const options = { runId: "r", runsDir: "runs" };

/** A run directory, removed when its scope ends. */
async function runDir(): Promise<{ dir: string; lock: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir();
  return {
    dir,
    lock: `${dir}/${RUN_LOCK_FILE}`,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

/** The pid of a process that has ended. */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

Deno.test("of two locks of a run taken at once, one is held and the other refused; release removes the file", async () => {
  await using run = await runDir();
  const tries = await Promise.allSettled([lockRun(run.dir, options), lockRun(run.dir, options)]);
  const held = tries.filter((t) => t.status === "fulfilled");
  const refused = tries.filter((t) => t.status === "rejected");
  assert.equal(held.length, 1);
  assert.equal(refused.length, 1);
  const error = (refused[0] as PromiseRejectedResult).reason;
  assert.ok(error instanceof AnnealError && error.code === "usage");
  assert.equal(
    error.message,
    "Cannot resume run 'r': it is still running in this process; two processes would write " +
      "the same run directory",
  );
  const holder = parseHolder(await Deno.readTextFile(run.lock));
  assert.equal(holder?.pid, Deno.pid);
  await (held[0] as PromiseFulfilledResult<{ release(): Promise<void> }>).value.release();
  await assert.rejects(Deno.stat(run.lock), Deno.errors.NotFound);
  const again = await lockRun(run.dir, options);
  await again.release();
  await again.release(); // a second release does nothing
});

Deno.test("a lock let go while its refusal is being written is taken, not refused for a holder that is gone", async () => {
  await using run = await runDir();
  const first = await lockRun(run.dir, options);
  // a file that names no holder yet (as just after the holder took it): the refusal reads it
  // again for a moment, and meanwhile the holder lets the lock go, removing the file
  await Deno.writeTextFile(run.lock, "");
  const second = lockRun(run.dir, options);
  await new Promise((resolve) => setTimeout(resolve, 200));
  await first.release();
  const taken = await second;
  assert.equal(parseHolder(await Deno.readTextFile(run.lock))?.pid, Deno.pid);
  await taken.release();
});

Deno.test("a lock held by another process of this host is refused naming its pid; once that process is killed, it is taken over", async () => {
  await using run = await runDir();
  const script = `
    import { lockRun } from ${JSON.stringify(new URL("./run_lock.ts", import.meta.url).href)};
    await lockRun(${JSON.stringify(run.dir)}, { runId: "r", runsDir: "runs" });
    console.log("locked");
    setInterval(() => {}, 1000); // held until killed
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  assert.match((await reader.read()).value ?? "", /locked/);
  try {
    await assert.rejects(lockRun(run.dir, { runId: "r", runsDir: "elsewhere" }), (error) => {
      assert.ok(error instanceof AnnealError);
      assert.match(
        error.message,
        new RegExp(`^Cannot resume run 'r': it is still running \\(pid ${child.pid} on this host`),
      );
      assert.match(error.hint ?? "", new RegExp(`kill ${child.pid}.*--resume r --runs-dir else`));
      assert.equal(error.where, run.lock);
      return true;
    });
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await reader.cancel();
  }
  // killed without giving the lock back: its file is left, naming it, and its kernel lock is gone
  assert.equal(parseHolder(await Deno.readTextFile(run.lock))?.pid, child.pid);
  const lock = await lockRun(run.dir, options);
  assert.equal(parseHolder(await Deno.readTextFile(run.lock))?.pid, Deno.pid);
  await lock.release();
});

Deno.test("a lock file left by a dead process of this host does not block, nor does an empty one", async () => {
  await using run = await runDir();
  const self = (await currentProcess())!;
  for (const text of [JSON.stringify({ pid: await deadPid(), host: self.host, since: "x" }), ""]) {
    await Deno.writeTextFile(run.lock, text);
    const lock = await lockRun(run.dir, options);
    assert.deepEqual(
      { ...parseHolder(await Deno.readTextFile(run.lock)), since: "" },
      { ...self, since: "" },
    );
    await lock.release();
  }
});

Deno.test("a lock file that names a live process of this host is refused even where the kernel lock is free", async () => {
  await using run = await runDir();
  const child = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    const process = (await currentProcess())!;
    // (read as the lock's own check reads it: /proc takes --allow-all or cat)
    const startTime = startTimeOf((await readProcStat(child.pid))!);
    await Deno.writeTextFile(
      run.lock,
      JSON.stringify({ pid: child.pid, host: process.host, startTime, since: "x" }),
    );
    await assert.rejects(
      lockRun(run.dir, options),
      new RegExp(`it is still running \\(pid ${child.pid} on this host`),
    );
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
});

Deno.test("another host's lock is refused while the run's files were written in the last 10 minutes, and taken over after", async () => {
  await using run = await runDir();
  const here = { host: "this-host" };
  await Deno.writeTextFile(
    run.lock,
    JSON.stringify({ pid: 4242, host: "another-host", since: new Date().toISOString() }),
  );
  await assert.rejects(lockRun(run.dir, { ...options, probe: here }), (error) => {
    assert.ok(error instanceof AnnealError);
    assert.match(
      error.message,
      /^Cannot resume run 'r': its record says it is running on host another-host \(pid 4242\), which cannot be checked from this host \(this-host\)/,
    );
    assert.match(error.hint ?? "", /goes ahead once its records have been left alone for 10 min/);
    return true;
  });
  const old = new Date(Date.now() - OTHER_HOST_QUIET_MS - 60_000);
  await Deno.utime(run.lock, old, old);
  const lock = await lockRun(run.dir, { ...options, probe: here });
  await lock.release();
});

Deno.test("a new run given the id of a run that holds its lock is told to take another id", async () => {
  await using run = await runDir();
  const lock = await lockRun(run.dir, options);
  try {
    await assert.rejects(lockRun(run.dir, { ...options, action: "start" }), (error) => {
      assert.ok(error instanceof AnnealError);
      assert.match(error.message, /^Cannot start run 'r': it is still running in this process/);
      assert.match(error.hint ?? "", /give the new run an id no run has/);
      return true;
    });
  } finally {
    await lock.release();
  }
});
