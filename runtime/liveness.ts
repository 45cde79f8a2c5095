/**
 * Whether the process that a run record names is still alive. A run killed without warning
 * (SIGKILL, the out-of-memory killer, a power loss) never records its end: its `summary.json`
 * keeps `status: running`. The supervisor records its process ({@linkcode currentProcess}) when
 * the run starts, and readers ask {@linkcode processLiveness} whether that process is still there.
 *
 * A pid alone does not say it: pids are reused, so the process's start time (field 22 of Linux's
 * `/proc/<pid>/stat`, clock ticks since boot) is recorded with it, and a process with that pid but
 * another start time is another process. Another host's processes cannot be seen from here: a run
 * recorded by one is left unchecked, never guessed.
 *
 * @module
 */
import { granted } from "./granted.ts";

/** The process that runs a run, as its record keeps it (`summary.json`'s `process`). */
export interface RunProcess {
  /** Its process id. */
  pid: number;
  /** The host it runs on (`Deno.hostname()`). */
  host: string;
  /** Its start time: field 22 of `/proc/<pid>/stat` (clock ticks since boot), on Linux. */
  startTime?: string;
  /**
   * Its PID namespace (the inode `/proc/self/ns/pid` names), on Linux where it can be read:
   * containers that share a host's name (`--network host`) have pids of their own, which a pid
   * of another namespace does not name.
   */
  pidNamespace?: string;
}

let ownNamespace: string | null | undefined;

/**
 * This process's PID namespace ({@linkcode RunProcess}'s `pidNamespace`), read once; `undefined`
 * where it cannot be read without asking (Deno grants /proc's links only to --allow-all, else
 * `readlink` is run where --allow-run grants it) or there is none (not Linux).
 */
export function pidNamespace(): string | undefined {
  if (ownNamespace === undefined) ownNamespace = readPidNamespace() ?? null;
  return ownNamespace ?? undefined;
}

function readPidNamespace(): string | undefined {
  const path = "/proc/self/ns/pid";
  let link: string | undefined;
  try {
    if (granted({ name: "read", path })) link = Deno.readLinkSync(path);
  } catch {
    // (--allow-read, not --allow-all: readlink's, below)
  }
  if (link === undefined && granted({ name: "run", command: "readlink" })) {
    try {
      // (a child process is in its parent's PID namespace)
      const output = new Deno.Command("readlink", { args: [path], stderr: "null" }).outputSync();
      if (output.success) link = new TextDecoder().decode(output.stdout).trim();
    } catch {
      // no readlink: left out
    }
  }
  return /^pid:\[(\d+)\]$/.exec(link ?? "")?.[1];
}

/** What {@linkcode processLiveness} found. */
export type Liveness =
  /** The recorded process is running on this host. */
  | { state: "alive" }
  /** It is gone (no process with its pid, or one started at another time): it was killed. */
  | { state: "gone"; reason: string }
  /** It cannot be checked from here (another host, no /proc, no permission): `reason` says why. */
  | { state: "unchecked"; reason: string };

/**
 * Reads `/proc/<pid>/stat`; `undefined` when there is no such process. Deno grants /proc only to
 * --allow-all, so under listed permissions it is read by `cat` (--allow-run); throws when neither
 * is allowed or there is no /proc (not Linux).
 */
export async function readProcStat(pid: number): Promise<string | undefined> {
  const path = `/proc/${pid}/stat`;
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      // no /proc at all (not Linux) says nothing about the process
      const proc = await Deno.stat("/proc/self").catch(() => undefined);
      if (proc === undefined) throw new Error("this system has no /proc");
      return undefined;
    }
    if (
      !(error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied)
    ) {
      throw error;
    }
  }
  const output = await new Deno.Command("cat", {
    args: [path],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (output.success) return new TextDecoder().decode(output.stdout);
  const message = new TextDecoder().decode(output.stderr);
  if (/No such file/i.test(message)) return undefined;
  throw new Error(`cat ${path}: ${message.trim()}`);
}

/**
 * The start time of `/proc/<pid>/stat`'s text: field 22. Field 2 (the command, in parentheses)
 * may hold spaces and parentheses itself, so fields are counted after its last `)`.
 */
export function startTimeOf(stat: string): string | undefined {
  const fields = stat.slice(stat.lastIndexOf(")") + 1).trim().split(/\s+/);
  // fields[0] is field 3 (the state)
  return fields[22 - 3];
}

/** This host's name, or `undefined` without --allow-sys (never asked for: no prompt). */
export function hostname(): string | undefined {
  if (!granted({ name: "sys", kind: "hostname" })) return undefined;
  try {
    return Deno.hostname();
  } catch {
    return undefined;
  }
}

/**
 * This process, as a run record keeps it; `undefined` when the host's name cannot be read (no
 * --allow-sys), as a record without it could never be checked. The start time is left out where
 * /proc cannot be read.
 */
export async function currentProcess(): Promise<RunProcess | undefined> {
  const host = hostname();
  if (host === undefined) return undefined;
  const stat = await readProcStat(Deno.pid).catch(() => undefined);
  const startTime = stat === undefined ? undefined : startTimeOf(stat);
  const namespace = pidNamespace();
  return {
    pid: Deno.pid,
    host,
    ...(startTime !== undefined && { startTime }),
    ...(namespace !== undefined && { pidNamespace: namespace }),
  };
}

/** Where {@linkcode processLiveness} looks; tests replace them. */
export interface LivenessProbe {
  /** This host's name (`Deno.hostname()` by default). */
  host?: string;
  /** `/proc/<pid>/stat`'s text, `undefined` for no such process ({@linkcode readProcStat}). */
  readStat?: (pid: number) => Promise<string | undefined>;
  /** This process's PID namespace ({@linkcode pidNamespace} by default). */
  pidNamespace?: string;
}

/**
 * Whether a recorded process is alive: on this host, by its pid and start time; on another host,
 * or in another PID namespace of this one, it is `unchecked` (its pids are not this process's).
 *
 * @example
 * ```ts
 * import { currentProcess, processLiveness } from "./liveness.ts";
 * const self = (await currentProcess())!;
 * console.assert((await processLiveness(self)).state === "alive");
 * const elsewhere = await processLiveness({ ...self, host: "another-host" });
 * console.assert(elsewhere.state === "unchecked");
 * ```
 */
export async function processLiveness(
  recorded: RunProcess,
  probe: LivenessProbe = {},
): Promise<Liveness> {
  const here = probe.host ?? hostname();
  const named = `pid ${recorded.pid} on host ${recorded.host}`;
  if (here === undefined) {
    return {
      state: "unchecked",
      reason: `${named}: this host's name cannot be read (--allow-sys)`,
    };
  }
  if (here !== recorded.host) {
    return {
      state: "unchecked",
      reason: `${named}: this is host ${here}, which cannot see that host's processes`,
    };
  }
  // (a process of another PID namespace on a host of the same name, a container's: its pid names
  // another process here, or none, and a live worker's trials were reaped as its process gone)
  if (recorded.pidNamespace !== undefined) {
    const ours = "pidNamespace" in probe ? probe.pidNamespace : pidNamespace();
    if (ours !== recorded.pidNamespace) {
      return {
        state: "unchecked",
        reason: `${named}: it runs in another PID namespace (${recorded.pidNamespace}; ${
          ours === undefined ? "this process's cannot be read" : `this process's is ${ours}`
        }: a container?), whose processes cannot be looked up from here`,
      };
    }
  }
  let stat: string | undefined;
  try {
    stat = await (probe.readStat ?? readProcStat)(recorded.pid);
  } catch (error) {
    return {
      state: "unchecked",
      reason: `${named}: its process cannot be looked up here (${
        error instanceof Error ? error.message : error
      })`,
    };
  }
  if (stat === undefined) {
    return { state: "gone", reason: `no process has ${named} any more` };
  }
  if (recorded.startTime === undefined) {
    return {
      state: "unchecked",
      reason: `${named}: a process has that pid, but the record has no start time to tell ` +
        "whether it is the run's or a later one's",
    };
  }
  if (startTimeOf(stat) !== recorded.startTime) {
    return {
      state: "gone",
      reason: `${named} is now another process (one started at another time)`,
    };
  }
  return { state: "alive" };
}

/**
 * The newest modification time of a run's records, in ms since the epoch: with its process on
 * another host, the only sign of life there is. `undefined` when it has none.
 */
export async function lastWritten(dir: string): Promise<number | undefined> {
  const times = await Promise.all(
    ["steps.ndjson", "epochs.ndjson", "summary.json"].map((file) =>
      Deno.stat(`${dir}/${file}`).then((info) => info.mtime?.getTime(), () => undefined)
    ),
  );
  const known = times.filter((t): t is number => t !== undefined);
  return known.length ? Math.max(...known) : undefined;
}

/** An age in words: `40 s`, `12 min`, `3 h`, `2 days`. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} days`;
}
