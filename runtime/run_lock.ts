/**
 * The lock of a run directory: one process at a time writes a run. `train` takes it before a run
 * writes anything (a new run once its directory is made, a resumed one before it reads its
 * checkpoint) and gives it back when the run ends, whatever ended it.
 *
 * The lock is `<run>/run.lock`, held with the kernel's exclusive file lock (`flock`), and holding
 * the process that holds it (pid, host, start time) and since when, as JSON. The kernel lock is
 * what keeps two processes of this host apart, however close together they start, and it goes
 * with its process: a run killed without warning (SIGKILL, out of memory) leaves its file behind,
 * unlocked, and the next process takes it over. Another host's kernel locks may not be seen from
 * here (a network file system): a file that names another host is taken over only once the run's
 * records have been left alone for {@linkcode OTHER_HOST_QUIET_MS}, as `checkNotRunning` does.
 *
 * @module
 */
import type { AnnealError } from "../errors.ts";
import { fileError } from "../file_errors.ts";
import {
  currentProcess,
  hostname,
  lastWritten,
  type LivenessProbe,
  processLiveness,
  type RunProcess,
} from "./liveness.ts";
import { OTHER_HOST_QUIET_MS, type RunAction, stillRunningError } from "./resume.ts";

/** The lock file's name in a run directory. */
export const RUN_LOCK_FILE = "run.lock";

/** What a lock file holds: the process that holds the lock (its host where known), and since when. */
export interface RunLockHolder {
  /** Its process id. */
  pid: number;
  /** The host it runs on; absent where its name could not be read (no --allow-sys). */
  host?: string;
  /** Its start time (`/proc/<pid>/stat` field 22), where known. */
  startTime?: string;
  /** Its PID namespace, where known (see `RunProcess`). */
  pidNamespace?: string;
  /** When it took the lock (ISO 8601). */
  since: string;
}

/** A run directory's lock, held until {@linkcode RunLock.release}. */
export interface RunLock {
  /** The lock file's path. */
  readonly path: string;
  /** Removes the lock file and lets the kernel lock go. Safe to call more than once. */
  release(): Promise<void>;
}

/** Options of {@linkcode lockRun}. */
export interface LockRunOptions {
  /** The run's id, for the messages. */
  runId: string;
  /** The runs directory, for the resume command in the messages. */
  runsDir: string;
  /** What the run is about to do (default `resume`): the refusal says it. */
  action?: RunAction;
  /** This host's name and how processes are looked up; tests replace them. */
  probe?: LivenessProbe;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The holder a lock file's text names, or `undefined` when it names none (empty, damaged). */
export function parseHolder(text: string | undefined): RunLockHolder | undefined {
  if (!text) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const holder = value as Partial<RunLockHolder> | null;
  if (typeof holder?.pid !== "number" || typeof holder.since !== "string") return undefined;
  if (holder.host !== undefined && typeof holder.host !== "string") return undefined;
  return holder as RunLockHolder;
}

async function readHolder(path: string): Promise<RunLockHolder | undefined> {
  return parseHolder(await Deno.readTextFile(path).catch(() => undefined));
}

/** Whether the open file `file` is still the one at `path` (not removed, not replaced). */
async function isAt(file: Deno.FsFile, path: string): Promise<boolean> {
  const [open, named] = await Promise.all([
    file.stat(),
    Deno.stat(path).catch(() => undefined),
  ]);
  return named !== undefined && named.ino === open.ino && named.dev === open.dev;
}

/**
 * Takes the lock of the run directory `dir`, or refuses, as `checkNotRunning` does, naming the
 * process that holds it: one of this host that holds the kernel lock; one of another host whose
 * run wrote its records in the last {@linkcode OTHER_HOST_QUIET_MS}. A lock file whose process is
 * gone (killed, so it could not remove it) is taken over.
 *
 * @example
 * ```ts
 * import { lockRun } from "./run_lock.ts";
 * const dir = await Deno.makeTempDir();
 * const lock = await lockRun(dir, { runId: "demo", runsDir: "runs" });
 * const refused = await lockRun(dir, { runId: "demo", runsDir: "runs" }).catch((e) => e);
 * console.assert(/still running in this process/.test(refused.message));
 * await lock.release();
 * await (await lockRun(dir, { runId: "demo", runsDir: "runs" })).release();
 * ```
 */
export async function lockRun(dir: string, options: LockRunOptions): Promise<RunLock> {
  const path = `${dir}/${RUN_LOCK_FILE}`;
  for (;;) {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true, write: true, create: true });
    } catch (error) {
      throw fileError(error, {
        action: "create the run's lock file",
        path,
        expected: "a writable run directory",
        hint: `check that ${dir} is a directory this process may write (ls -ld '${dir}')`,
      }) ?? error;
    }
    let held = false;
    try {
      if (!(await file.tryLock(true))) {
        const refusal = await heldError(file, path, dir, options);
        // (let go while the refusal was being written: the holder removed the file; try again)
        if (refusal === undefined) continue;
        throw refusal;
      }
      // Between the open and the lock, the holder may have let it go, removing the file, and
      // another process made it anew: a lock on a file no longer at `path` locks nothing.
      if (!(await isAt(file, path))) continue;
      const previous = await readHolder(path);
      if (previous) await checkTakeOver(previous, path, dir, options);
      const self = await currentProcess();
      const holder: RunLockHolder = {
        ...(self ?? { pid: Deno.pid }),
        since: new Date().toISOString(),
      };
      try {
        await Deno.writeTextFile(path, JSON.stringify(holder) + "\n");
      } catch (error) {
        // (its disk full: the file, this process's while it holds the lock, is removed as
        // release removes it, not left behind in a new run's directory that holds nothing else)
        await Deno.remove(path).catch(() => {});
        throw fileError(error, { action: "write the run's lock file", path, writing: true }) ??
          error;
      }
      held = true;
      return lockOf(file, path);
    } finally {
      if (!held) file.close();
    }
  }
}

/** The handle of a lock this process holds on `file`. */
function lockOf(file: Deno.FsFile, path: string): RunLock {
  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      try {
        // removed while still locked, so no one takes the lock of a file about to go
        if (await isAt(file, path)) await Deno.remove(path);
      } catch {
        // (a file that cannot be removed is taken over by the next process: its lock is free)
      } finally {
        file.close();
      }
    },
  };
}

/**
 * The refusal when the kernel lock is held: the holder named by the file. It writes its name
 * just after it took the lock, so an empty file, or one that still names a process gone from
 * this host (the one whose lock it took over), is read again for a moment. Undefined when the
 * holder let the lock go meanwhile (it removes the file as it does): there is no one to refuse
 * for, and the lock is to be taken again.
 */
async function heldError(
  file: Deno.FsFile,
  path: string,
  dir: string,
  options: LockRunOptions,
): Promise<AnnealError | undefined> {
  const here = options.probe?.host ?? hostname();
  let holder: RunLockHolder | undefined;
  for (let attempt = 0; attempt < 20; attempt++) {
    if (!(await isAt(file, path))) return undefined;
    holder = await readHolder(path);
    const settled = holder !== undefined &&
      (holder.host !== here ||
        (await processLiveness(holder as RunProcess, options.probe)).state !== "gone");
    if (settled) break;
    await sleep(50);
  }
  const run = { ...options, where: path };
  if (holder?.host === undefined) {
    return stillRunningError({ kind: "unnamed", lockPath: path }, run);
  }
  const process = holder as RunProcess;
  if (holder.host === here || here === undefined) {
    return stillRunningError({ kind: "here", process }, run);
  }
  const written = await lastWritten(dir);
  const quietMs = written === undefined ? 0 : Math.max(0, Date.now() - written);
  return stillRunningError({ kind: "elsewhere", process, here, quietMs }, run);
}

/**
 * Refuses to take over a lock file whose kernel lock is free but whose holder may still run:
 * one on another host (whose kernel locks this host may not see) while the run's records, or the
 * lock file, were written in the last {@linkcode OTHER_HOST_QUIET_MS}; one alive on this host (a
 * file system without kernel locks). Anything else held it and is gone.
 */
async function checkTakeOver(
  previous: RunLockHolder,
  path: string,
  dir: string,
  options: LockRunOptions,
): Promise<void> {
  const here = options.probe?.host ?? hostname();
  if (previous.host === undefined || here === undefined) return;
  const run = { ...options, where: path };
  const process = previous as RunProcess;
  if (previous.host === here) {
    if (previous.pid === Deno.pid) return; // this process's own, left by a run that ended
    if ((await processLiveness(process, options.probe)).state === "alive") {
      throw stillRunningError({ kind: "here", process }, run);
    }
    return;
  }
  const times = await Promise.all([
    lastWritten(dir),
    Deno.stat(path).then((info) => info.mtime?.getTime(), () => undefined),
  ]);
  const known = times.filter((t): t is number => t !== undefined);
  const quietMs = known.length ? Date.now() - Math.max(...known) : Infinity;
  if (quietMs < OTHER_HOST_QUIET_MS) {
    throw stillRunningError({ kind: "elsewhere", process, here, quietMs }, run);
  }
}
