/**
 * A new run's directory: made, locked (run_lock.ts) and found empty before a new run (`train`
 * without `resume`, `recordLrFind`) writes anything into it. A run id that names a run already
 * there (of any status: completed, stopped, failed, crashed, an LR range test) is refused, saying
 * which run and how to go on, so a new run never overwrites another's record and checkpoints.
 *
 * @module
 */
import { AnnealError } from "../errors.ts";
import { fileError, writeErrorAgain } from "../file_errors.ts";
import { readRun } from "../report/records.ts";
import { makeRunDirectory, newRunId } from "./records.ts";
import { lockRun, RUN_LOCK_FILE, type RunLock } from "./run_lock.ts";
import { resumeCommand } from "./resume.ts";

/** Options of {@linkcode claimNewRun}. */
export interface ClaimNewRunOptions {
  /** The new run's id (its directory's name in `runsDir`); default: one made up. */
  runId?: string;
  /** The prefix of a made-up id (`newRunId`), e.g. the config's name. */
  prefix?: string;
  /** The runs directory. */
  runsDir: string;
  /** What the new run is, for the refusal (default `run`; `LR range test`). */
  what?: string;
}

/** The directory a new run claims: its id, where, and what the run is. */
type Claim = { runId: string; runsDir: string; what?: string };

/**
 * What a directory holds besides what a new run's start leaves before its first record (the
 * lock file, an empty `checkpoints/`): the names of its entries, none where it is free.
 */
async function recordsIn(dir: string): Promise<string[]> {
  const found: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.name === RUN_LOCK_FILE) continue;
      if (entry.name === "checkpoints" && entry.isDirectory) {
        const inside = Deno.readDir(`${dir}/checkpoints`)[Symbol.asyncIterator]();
        if ((await inside.next()).done) continue;
      }
      found.push(entry.name);
    }
  } catch (error) {
    // nothing there yet; or a file on the way, which making the directory names (what and how)
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return [];
    }
    // (a path too long, a directory not to be read: said of the path, not as a possible bug)
    throw fileError(error, { action: "start a run in", path: dir }) ?? error;
  }
  return found.sort();
}

/** The refusals of {@linkcode existsError}: a made-up id they refuse is made up again. */
const refusals = new WeakSet<Error>();
/** Those of them that refuse the id of a run recorded as running. */
const running = new WeakSet<Error>();

/**
 * The refusal of a new run whose id names a run directory that exists: what is there (the run's
 * status, or the files of a directory that is not a run's) and how to go on (another id, or no
 * id; a run with a checkpoint may be resumed instead).
 */
async function existsError(
  dir: string,
  found: string[],
  options: Claim,
): Promise<AnnealError> {
  const { runId, runsDir, what = "run" } = options;
  const fresh = "give the new run an id no run has, or leave its id out (a new one is made up; " +
    "`anneal runs` lists the ids taken)";
  const isRun = found.some((name) => name === "config.json" || name === "summary.json");
  if (!isRun) {
    const listed = found.slice(0, 4).join(", ") + (found.length > 4 ? ", ..." : "");
    return refused(
      new AnnealError(
        "usage",
        `Cannot start a new ${what} with id '${runId}': ${dir} exists and holds files that are ` +
          `not a new run's (${listed}); a new run never writes into another's directory`,
        { where: dir, hint: fresh },
      ),
    );
  }
  const record = await readRun(dir).catch(() => undefined);
  const status = record?.summary.status ?? "unknown";
  const reason = record?.summary.stopReason ? `: ${record.summary.stopReason}` : "";
  const count = record?.epochs.length ?? 0;
  const epochs = count ? `, ${count} epoch${count === 1 ? "" : "s"} recorded` : "";
  const checkpointed = await Deno.stat(`${dir}/checkpoints/last.ckpt`).then(
    () => true,
    () => false,
  );
  const resume = resumeCommand(runId, runsDir);
  const resumable = !checkpointed
    ? ""
    : status === "running"
    ? `; to continue that run once it has ended: \`${resume}\` (train(config, { resume: ` +
      `"${runId}" }))`
    : status === "completed" || status === "stopped"
    ? `; to train that run longer: \`${resume} --epochs N\` (train({ epochs: N }, { resume: ` +
      `"${runId}" }))`
    : `; to continue that run from its last checkpoint: \`${resume}\` (train(config, { resume: ` +
      `"${runId}" }))`;
  const error = refused(
    new AnnealError(
      "usage",
      `Cannot start a new ${what} with id '${runId}': a run with this id exists in ${runsDir} ` +
        `(status ${status}${epochs}${reason}); a new run never writes into another's directory`,
      { where: dir, hint: fresh + resumable },
    ),
  );
  if (status === "running") running.add(error);
  return error;
}

function refused(error: AnnealError): AnnealError {
  refusals.add(error);
  return error;
}

/** A new run's id and the lock of its directory, from {@linkcode claimNewRun}. */
export interface NewRun {
  /** The run's id: the one given, or the one made up. */
  runId: string;
  /** The lock of its directory, `<runsDir>/<runId>`, held until released. */
  lock: RunLock;
}

/**
 * Makes the directory of a new run `<runsDir>/<runId>` and takes its lock, or refuses: a
 * directory that holds anything (another run's records, whatever its status, or other files) is
 * refused, naming what is there and how to go on; one another process holds the lock of is
 * refused as `lockRun` refuses. What is there is looked at before the lock is taken (a directory
 * that is another's is not written at all) and again once it is held (of two new runs given one
 * id at once, the second finds the first's records). Without a `runId` one is made up
 * (`newRunId(prefix)`), and made up again should another run have it.
 *
 * @example
 * ```ts
 * import { claimNewRun } from "./new_run.ts";
 * const runsDir = await Deno.makeTempDir();
 * const { lock } = await claimNewRun({ runId: "demo", runsDir });
 * await Deno.writeTextFile(`${runsDir}/demo/config.json`, "{}");
 * await lock.release();
 * const refused = await claimNewRun({ runId: "demo", runsDir }).catch((e) => e);
 * console.assert(/a run with this id exists/.test(refused.message));
 * ```
 */
export async function claimNewRun(options: ClaimNewRunOptions): Promise<NewRun> {
  const { runId: given, prefix, ...claim } = options;
  if (given !== undefined) {
    return { runId: given, lock: await claimDirectory({ ...claim, runId: given }) };
  }
  for (let attempt = 1;; attempt++) {
    const runId = newRunId(prefix);
    try {
      return { runId, lock: await claimDirectory({ ...claim, runId }) };
    } catch (error) {
      // a made-up id another run happens to have (the same prefix, second and suffix)
      if (!(error instanceof Error && refusals.has(error)) || attempt >= 5) throw error;
    }
  }
}

async function claimDirectory(options: Claim): Promise<RunLock> {
  const dir = `${options.runsDir}/${options.runId}`;
  const before = await recordsIn(dir);
  if (before.length > 0) {
    const refusal = await existsError(dir, before, options);
    // a run that runs: its lock's holder names the process (below), refused as still running
    if (!running.has(refusal)) throw refusal;
  }
  await makeRunDirectory(dir);
  const lock = await lockRun(dir, { ...options, action: "start" }).catch(async (error) => {
    // (its lock file not to be written, its disk full: the directory made for it is not left
    // behind; one that holds anything, another's lock, is not removed)
    const removed = await Deno.remove(dir).then(() => true, () => false);
    throw removed ? writeErrorAgain(error, "write the run's lock file") : error;
  });
  try {
    const found = await recordsIn(dir);
    if (found.length > 0) throw await existsError(dir, found, options);
    return lock;
  } catch (error) {
    await lock.release();
    throw error;
  }
}
