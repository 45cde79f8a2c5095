import assert from "node:assert/strict";
import { currentProcess, processLiveness, readProcStat, startTimeOf } from "./liveness.ts";
import { readRun } from "../report/records.ts";
import { saveCheckpoint } from "./checkpoint.ts";
import { missingCheckpointError } from "./resume.ts";
import { deadWorkers, defaultWorkerId } from "../sweeps/study.ts";

Deno.test("the start time is field 22 of /proc/<pid>/stat, counted after the command's last ')'", () => {
  // the command (field 2) may hold spaces and parentheses
  const fields = Array.from({ length: 50 }, (_, i) => String(i + 3)); // fields 3..52
  const stat = `4242 (a (b) c) ${fields.join(" ")}\n`;
  assert.equal(startTimeOf(stat), "22");
});

Deno.test("a live process is alive: this test's own, as the supervisor records it", async () => {
  const self = await currentProcess();
  assert.ok(self, "the host's name is readable under the suite's permissions");
  assert.equal(self.pid, Deno.pid);
  assert.match(self.startTime ?? "", /^\d+$/, "the start time is read (through cat without -A)");
  assert.deepEqual(await processLiveness(self), { state: "alive" });
});

Deno.test("a process that exited is gone", async () => {
  const child = new Deno.Command("true").spawn();
  await child.status;
  assert.equal(await readProcStat(child.pid), undefined);
  const host = Deno.hostname();
  const found = await processLiveness({ pid: child.pid, host, startTime: "1" });
  assert.equal(found.state, "gone");
  assert.match((found as { reason: string }).reason, /no process has pid \d+ on host/);
});

Deno.test("a reused pid (a process with the pid but another start time) is gone", async () => {
  const self = (await currentProcess())!;
  const earlier = String(Number(self.startTime) - 100);
  const found = await processLiveness({ ...self, startTime: earlier });
  assert.equal(found.state, "gone");
  assert.match((found as { reason: string }).reason, /is now another process/);
  // without a recorded start time, a live pid cannot be told apart from a reused one
  const { startTime: _, ...noStart } = self;
  assert.equal((await processLiveness(noStart)).state, "unchecked");
});

Deno.test("a process of another PID namespace on a host of this name (a container's) is unchecked: its pid is not looked up", async () => {
  const self = (await currentProcess())!;
  assert.match(
    self.pidNamespace ?? "",
    /^\d+$/,
    "the namespace is read (through readlink without -A)",
  );
  let looked = false;
  const readStat = () => {
    looked = true;
    return Promise.resolve(undefined);
  };
  // (its pid no process has here: it had been said gone, and a live worker's trials reaped)
  const found = await processLiveness(
    { ...self, pidNamespace: "4026532999" },
    { readStat, pidNamespace: self.pidNamespace },
  );
  assert.equal(found.state, "unchecked");
  assert.match((found as { reason: string }).reason, /another PID namespace \(4026532999;/);
  assert.ok(!looked);
  // the same namespace is looked up as before; a record without one too
  assert.deepEqual(await processLiveness(self), { state: "alive" });
  const { pidNamespace: _, ...older } = self;
  assert.deepEqual(await processLiveness(older), { state: "alive" });
  // and a worker's id carries it, which deadWorkers reads
  const id = defaultWorkerId();
  assert.match(id, new RegExp(`:${Deno.pid}@${self.pidNamespace}:[0-9a-f]{8}$`));
  const running = (workerId: string) => [{ workerId, state: "RUNNING" as const }];
  const exited = new Deno.Command("true").spawn();
  await exited.status;
  const host = Deno.hostname();
  assert.deepEqual(
    await deadWorkers(running(`${host}:${exited.pid}@${self.pidNamespace}:0123abcd`)),
    [`${host}:${exited.pid}@${self.pidNamespace}:0123abcd`],
  );
  assert.deepEqual(await deadWorkers(running(`${host}:${exited.pid}@4026532999:0123abcd`)), []);
});

Deno.test("another host's process is unchecked, never guessed: its pid is not looked up", async () => {
  let looked = false;
  const found = await processLiveness(
    { pid: 1, host: "elsewhere", startTime: "1" },
    {
      host: "here",
      readStat: () => {
        looked = true;
        return Promise.resolve(undefined);
      },
    },
  );
  assert.equal(looked, false);
  assert.equal(found.state, "unchecked");
  assert.match((found as { reason: string }).reason, /this is host here, which cannot see/);
});

/** A run directory whose summary says running, by `process`, with a checkpoint or not. */
async function runningRecord(process: unknown, checkpoint: boolean): Promise<string> {
  const runs = await Deno.makeTempDir();
  const dir = `${runs}/r1`;
  await Deno.mkdir(`${dir}/checkpoints`, { recursive: true });
  await Deno.writeTextFile(`${dir}/config.json`, "{}");
  await Deno.writeTextFile(`${dir}/summary.json`, JSON.stringify({ status: "running", process }));
  if (checkpoint) await Deno.writeTextFile(`${dir}/checkpoints/last.ckpt`, "");
  return dir;
}

Deno.test("readRun shows a running record whose process is gone as crashed, with how to go on; the file is left as it is", async () => {
  const gone = { readStat: () => Promise.resolve(undefined), host: "h" };
  const dir = await runningRecord({ pid: 7, host: "h", startTime: "5" }, true);
  const record = await readRun(dir, { liveness: gone });
  assert.equal(record.summary.status, "crashed");
  assert.equal(record.liveness?.state, "gone");
  assert.match(record.summary.stopReason!, /killed without recording its end/);
  const runsDir = dir.slice(0, dir.lastIndexOf("/"));
  assert.equal(
    record.summary.hint,
    `resume it from its last checkpoint: anneal train --resume r1 --runs-dir ${runsDir}`,
  );
  assert.equal(JSON.parse(await Deno.readTextFile(`${dir}/summary.json`)).status, "running");
  const early = await readRun(await runningRecord({ pid: 7, host: "h" }, false), {
    liveness: gone,
  });
  assert.match(early.summary.hint!, /before its first epoch's checkpoint: start it again/);
  // alive: running, no note
  const self = (await currentProcess())!;
  const live = await readRun(await runningRecord(self, true));
  assert.equal(live.summary.status, "running");
  assert.equal(live.liveness?.state, "alive");
});

Deno.test("readRun leaves another host's running record running, and says it cannot check it and when it last wrote", async () => {
  const dir = await runningRecord({ pid: 7, host: "elsewhere", startTime: "5" }, true);
  const record = await readRun(dir, { liveness: { host: "here" } });
  assert.equal(record.summary.status, "running");
  assert.equal(record.liveness?.state, "unchecked");
  assert.match(
    record.warnings.join("\n"),
    /recorded as running \(pid 7 on host elsewhere: this is host here.*cannot be checked from here; its records were last written \d+ s ago/,
  );
  const old = await readRun(await runningRecord(undefined, true));
  assert.match(old.warnings.join("\n"), /its record names no process/);
});

Deno.test("readRun shows a run without summary.json whose run.lock names a process that is gone as crashed, with how to go on; one alive or unnamed, as running", async () => {
  // (killed between writing its config.json and its summary.json: it read as running for good)
  const gone = { readStat: () => Promise.resolve(undefined), host: "h" };
  const withLock = async (holder: unknown, checkpoint: boolean) => {
    const dir = await runningRecord(undefined, checkpoint);
    await Deno.remove(`${dir}/summary.json`);
    if (holder !== undefined) await Deno.writeTextFile(`${dir}/run.lock`, JSON.stringify(holder));
    return dir;
  };
  const since = new Date().toISOString();
  const killed = await readRun(
    await withLock({ pid: 7, host: "h", startTime: "5", since }, false),
    {
      liveness: gone,
    },
  );
  assert.equal(killed.summary.status, "crashed");
  assert.equal(killed.liveness?.state, "gone");
  assert.match(
    killed.summary.stopReason!,
    /killed without recording its end .*no process has pid 7/,
  );
  assert.match(killed.summary.hint!, /before its first epoch's checkpoint: start it again/);
  assert.match(
    killed.warnings.join("\n"),
    /summary\.json: missing; the process its run\.lock names is gone/,
  );
  const resumable = await readRun(await withLock({ pid: 7, host: "h", since }, true), {
    liveness: gone,
  });
  assert.match(
    resumable.summary.hint!,
    /^resume it from its last checkpoint: anneal train --resume r1/,
  );
  // alive, or a lock that names no process to look up (or none at all): running
  const self = (await currentProcess())!;
  const live = await readRun(await withLock({ ...self, since }, true));
  assert.deepEqual([live.summary.status, live.liveness?.state], ["running", "alive"]);
  for (const holder of [undefined, { pid: 7, since }]) {
    const unknown = await readRun(await withLock(holder, true), { liveness: gone });
    assert.equal(unknown.summary.status, "running");
    assert.match(
      unknown.warnings.join("\n"),
      /summary\.json: missing; the run is still going or was killed/,
    );
  }
});

Deno.test("readRun's hint for a crashed run whose last.ckpt was lost after it recorded epochs is the resume's: from its best.ckpt, not to start it again", async () => {
  // (it said the run ended before its first epoch's checkpoint: start it again, throwing its
  // epochs away, where the resume said to copy best.ckpt over last.ckpt)
  const gone = { readStat: () => Promise.resolve(undefined), host: "h" };
  const dir = await runningRecord({ pid: 7, host: "h", startTime: "5" }, false);
  await Deno.writeTextFile(`${dir}/epochs.ndjson`, '{"epoch":0,"loss":2}\n{"epoch":1,"loss":1}\n');
  await saveCheckpoint(`${dir}/checkpoints/best.ckpt`, { epoch: 1, step: 8 }, {});
  const record = await readRun(dir, { liveness: gone });
  assert.equal(record.summary.status, "crashed");
  const runsDir = dir.slice(0, dir.lastIndexOf("/"));
  const last = `${dir}/checkpoints/last.ckpt`;
  const refusal = await missingCheckpointError(
    { runId: "r1", runDir: dir, last, runsDir },
    {},
    0.1,
  );
  assert.equal(
    record.summary.hint,
    `${refusal.message.replace("Cannot resume run 'r1': ", "")}: ${refusal.hint}`,
  );
  assert.match(record.summary.hint!, /is missing, though the run recorded 2 epochs/);
  assert.match(record.summary.hint!, /resume it from its best epoch's checkpoint \(epoch 1;/);
  assert.doesNotMatch(record.summary.hint!, /start it again/);
});
