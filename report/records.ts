/**
 * Reading run directories back: one run ({@linkcode readRun}), all runs as table rows
 * ({@linkcode listRuns}), several runs side by side ({@linkcode compareRuns}), and a plain-text
 * table ({@linkcode formatTable}). Tolerant of killed runs and damaged files: an incomplete last
 * NDJSON line, or a corrupt one, is left out and noted in `warnings` by path and line; a missing
 * summary reads as `running` (`crashed` where its `run.lock` names a process that is gone), one
 * that does not parse as `corrupt`, one that cannot be read (permission denied, a directory in its
 * place) as `unreadable`; any other file that cannot be read is left out and noted in `warnings`.
 *
 * @module
 */
import { basename, dirname } from "node:path";
import { AnnealError } from "../errors.ts";
import { fileError } from "../file_errors.ts";
import { formatNumber } from "../number_format.ts";
import { maximizes } from "../optimizers/hazards.ts";
import { higherIsBetter } from "../task_fit.ts";
import { rateSetting } from "../schedulers/rate_setting.ts";
import {
  formatAge,
  lastWritten,
  type Liveness,
  type LivenessProbe,
  processLiveness,
} from "../runtime/liveness.ts";
import { lostCheckpoint, resumeCommand } from "../runtime/resume.ts";
import { parseHolder, RUN_LOCK_FILE } from "../runtime/run_lock.ts";
import { runsDirFlagOf, shellWord } from "../shell_word.ts";
import { closestName } from "../zod_paths.ts";
import type {
  EpochRecord,
  LrFindRecord,
  RunMeta,
  RunRecord,
  RunSummary,
  StepRecord,
} from "./types.ts";
import { checkRunRecord } from "./record_check.ts";
import { checkArgument } from "../option_names.ts";

/**
 * Parses NDJSON text whose lines are records (objects), leaving out the lines that are not, each
 * named by `name:line` in `warnings`: an incomplete last line (a run killed mid-write, a full
 * disk) or a corrupt line elsewhere.
 */
export function parseNdjson<T>(
  text: string,
  name = "ndjson",
): { records: T[]; warnings: string[] } {
  const records: T[] = [];
  const warnings: string[] = [];
  const lines = text.split("\n");
  lines.forEach((line, index) => {
    if (!line.trim()) return;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      // not JSON: told apart below
    }
    if (record !== null && typeof record === "object" && !Array.isArray(record)) {
      records.push(record as T);
      return;
    }
    const last = record === undefined && lines.slice(index + 1).every((rest) => !rest.trim());
    warnings.push(
      `${name}:${index + 1}: ${
        last
          ? "the last line is incomplete (cut off mid-way, as when the run is killed or its disk " +
            "fills); left out, the complete lines before it are read"
          : "not a JSON record (a corrupt line); left out, the other lines are read"
      }`,
    );
  });
  return { records, warnings };
}

/**
 * The OS's words for why a file could not be read (`Is a directory (os error 21)`), without the
 * operation and path Deno appends (the callers name the path themselves).
 */
export function osReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/: \w+ '[^']*'(?: -> '[^']*')?$/, "");
}

/**
 * A file of a run: its text; nothing when it is missing; or the error that kept it from being
 * read (permission denied, a directory, a symbolic link loop or a link to nothing in its place).
 * Anything else, as a read this process is not allowed (Deno's --allow-read), is thrown.
 */
async function readText(path: string): Promise<{ text?: string; unreadable?: Error }> {
  try {
    return { text: await Deno.readTextFile(path) };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { unreadable: await danglingLink(path) };
    if (error instanceof Deno.errors.NotCapable || !(error instanceof Error)) throw error;
    return { unreadable: error };
  }
}

/** Why a path that reads as missing is there all the same: a symbolic link to nothing. */
async function danglingLink(path: string): Promise<Error | undefined> {
  const target = await Deno.readLink(path).catch(() => undefined);
  return target === undefined
    ? undefined
    : new Error(`it is a symbolic link to '${target}', which does not exist`);
}

/** The warning for a file of a run that cannot be read, which is left out. */
function unreadableWarning(path: string, error: Error): string {
  return `${path}: cannot be read (${osReason(error)}); left out, the other files are read ` +
    `(ls -l '${path}' shows what is there: its permissions, a directory or a symbolic link in ` +
    `its place)`;
}

/**
 * A JSON file of a run: its value; nothing when it is missing; why it does not parse; or the
 * error that kept it from being read.
 */
async function readJsonFile<T>(
  dir: string,
  name: string,
): Promise<{ value?: T; invalid?: string; unreadable?: Error }> {
  const { text, unreadable } = await readText(`${dir}/${name}`);
  if (unreadable) return { unreadable };
  if (text === undefined) return {};
  try {
    return { value: JSON.parse(text) as T };
  } catch (error) {
    return { invalid: `not valid JSON (${(error as Error).message})` };
  }
}

async function readJson<T>(dir: string, name: string, warnings: string[]): Promise<T | undefined> {
  const { value, invalid, unreadable } = await readJsonFile<T>(dir, name);
  if (invalid) warnings.push(`${name}: ${invalid}; ignored`);
  if (unreadable) warnings.push(unreadableWarning(`${dir}/${name}`, unreadable));
  return value;
}

/**
 * The refusal of a run directory that does not exist, said of the directory it was looked for
 * in: the hint named `anneal runs`, which lists the default runs directory, to a user who gave
 * another (a sweep study's: `--runs-dir runs/STUDY`), and no id was named where a slip of one
 * (`trial-0-6e3` for `trial-0-6e31`) had a run by it.
 */
async function missingRunError(dir: string): Promise<AnnealError> {
  const [name, parent] = [basename(dir), dirname(dir)];
  const ids = await Array.fromAsync(Deno.readDir(parent)).then(
    (entries) => entries.filter((entry) => entry.isDirectory).map((entry) => entry.name),
    () => [],
  );
  const near = closestName(name, ids);
  const list = `\`anneal runs${runsDirFlagOf(dir)}\``;
  return new AnnealError("storage", `Cannot read run: '${dir}' does not exist`, {
    where: dir,
    hint: near === undefined
      ? `list the runs with ${list} and pass one of their ids`
      : `did you mean ${near}? (${list} lists the runs)`,
  });
}

/**
 * Reads a run directory (`runs/<id>/`).
 *
 * @example
 * ```ts
 * import { readRun } from "./records.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ epochs: 2 }));
 * await Deno.writeTextFile(`${dir}/meta.json`, JSON.stringify({ id: "demo" }));
 * await Deno.writeTextFile(`${dir}/summary.json`, JSON.stringify({ status: "completed" }));
 * await Deno.writeTextFile(`${dir}/epochs.ndjson`, '{"epoch":0,"loss":1}\n{"epoch":1,"lo');
 * const run = await readRun(dir);
 * // the last line, cut off, is left out with a warning
 * console.assert(run.epochs.length === 1 && run.warnings.length === 1);
 * console.assert(run.warnings[0].includes("the last line is incomplete"));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readRun(
  dir: string,
  options: { liveness?: LivenessProbe } = {},
): Promise<RunRecord> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    throw error instanceof Deno.errors.NotFound ? await missingRunError(dir) : new AnnealError(
      "storage",
      `Cannot read run: '${dir}' cannot be read (${osReason(error)})`,
      {
        where: dir,
        hint: `check what is there (ls -ld '${dir}'): its permissions, or a symbolic link that ` +
          "leads nowhere",
        cause: error,
      },
    );
  }
  if (!info.isDirectory) {
    throw new AnnealError("storage", `Cannot read run: '${dir}' is not a directory`, {
      where: dir,
    });
  }
  await checkIsRun(dir);
  const warnings: string[] = [];
  const configRead = await readJson<Record<string, unknown>>(dir, "config.json", warnings);
  const config = configRead ?? {};
  const name = dir.replace(/\/+$/, "").split("/").pop() ?? dir;
  const meta = await readJson<RunMeta>(dir, "meta.json", warnings) ?? { id: name };
  const read = await readJsonFile<RunSummary>(dir, "summary.json");
  let summary = read.value;
  const invalid = read.invalid ??
    (summary === undefined || typeof summary?.status === "string"
      ? undefined
      : "not a run summary (it has no 'status')");
  let liveness: Liveness | undefined;
  if (read.unreadable) summary = await unreadable(dir, name, read.unreadable);
  else if (invalid) summary = await corrupt(dir, name, invalid);
  else if (!summary) {
    // (killed between writing its config.json and its summary.json, or the file removed since:
    // its run.lock names the process that ran it, judged by the same rule as a summary's)
    const holder = parseHolder(
      await Deno.readTextFile(`${dir}/${RUN_LOCK_FILE}`).catch(() => undefined),
    );
    summary = { status: "running" };
    // (one that names no host, taken without --allow-sys, cannot be checked)
    const process = holder?.host === undefined ? undefined : { ...holder, host: holder.host };
    liveness = process && await runningProcess(dir, { ...summary, process }, options.liveness);
    if (liveness?.state === "gone") {
      warnings.push(`summary.json: missing; the process its ${RUN_LOCK_FILE} names is gone`);
      summary = await crashed(dir, name, summary, liveness);
    } else if (liveness?.state !== "alive") {
      warnings.push(
        "summary.json: missing; the run is still going or was killed" +
          (liveness ? ` (its ${RUN_LOCK_FILE}: ${liveness.reason})` : ""),
      );
    }
  } else if (summary.status === "running") {
    liveness = await runningProcess(dir, summary, options.liveness);
    if (liveness.state === "gone") summary = await crashed(dir, name, summary, liveness);
    if (liveness.state === "unchecked") warnings.push(`summary.json: ${liveness.reason}`);
  }
  const lrFind = await readJson<LrFindRecord>(dir, "lr_find.json", warnings);
  const ndjson = async <T>(file: string): Promise<T[]> => {
    const { text, unreadable } = await readText(`${dir}/${file}`);
    if (unreadable) warnings.push(unreadableWarning(`${dir}/${file}`, unreadable));
    if (text === undefined) return [];
    const parsed = parseNdjson<Record<string, unknown>>(text, `${dir}/${file}`);
    warnings.push(...parsed.warnings);
    // JSON has no NaN: JSON.stringify writes a NaN loss as null; read it back as NaN.
    return parsed.records.map((row) =>
      Object.fromEntries(Object.entries(row).map(([k, v]) => [k, readNumber(v)])) as T
    );
  };
  const steps = await ndjson<StepRecord>("steps.ndjson");
  const epochs = await ndjson<EpochRecord>("epochs.ndjson");
  if (configRead === undefined && !warnings.some((w) => /^(.*\/)?config\.json: /.test(w))) {
    // (removed since: a command that names it fails)
    warnings.push("config.json: missing; the run's settings are unknown");
  }
  // A run that counts epochs or steps with none recorded lost its records (a file removed or
  // emptied since): said, not read as a run of none ("too short to judge the curves").
  const counted: [string, number, number | undefined][] = [
    ["epochs.ndjson", epochs.length, summary.epochs],
    ["steps.ndjson", steps.length, summary.steps],
  ];
  for (const [file, held, count] of counted) {
    if (held === 0 && typeof count === "number" && count > 0) {
      warnings.push(
        `${file}: missing or empty where summary.json counts ${count} ${file.split(".")[0]}: ` +
          "those records were lost, and the curves are read without them",
      );
    }
  }
  // A killed run whose meta.json is damaged: its resume refuses that file first (the data check
  // and the start's warnings it holds), so the way on removes it (the resume writes it anew);
  // the hint gave the resume alone, which was then refused.
  if (
    summary.status === "crashed" && summary.hint?.includes("--resume") &&
    warnings.some((warning) => warning.startsWith("meta.json: not valid JSON"))
  ) {
    summary = {
      ...summary,
      hint: `its meta.json is damaged, which the resume refuses: remove it (rm ${
        shellWord(`${dir}/meta.json`)
      }; the resume writes it anew, without the data check it held), then ${
        summary.hint.replace(/^resume it from its last checkpoint: /, "resume the run: ")
      }`,
    };
  }
  // The id is the directory's name, which every command takes: meta.json's id is the name the run
  // was created under, and a run directory copied or renamed keeps it.
  return {
    id: name,
    dir,
    config,
    meta,
    steps,
    epochs,
    summary,
    ...(liveness && { liveness }),
    lrFind,
    warnings,
  };
}

/**
 * Whether the process a `running` record names is still there. Unchecked, saying why, when it
 * names none (a record of an older anneal, or of a process without --allow-sys) or one on another
 * host: then how long ago the run last wrote its records is the only sign of life, given as such.
 */
async function runningProcess(
  dir: string,
  summary: RunSummary,
  probe: LivenessProbe | undefined,
): Promise<Liveness> {
  const recorded = summary.process;
  const found: Liveness =
    recorded && typeof recorded.pid === "number" && typeof recorded.host === "string"
      ? await processLiveness(recorded, probe)
      : {
        state: "unchecked",
        reason: "its record names no process: written by an older anneal, or without --allow-sys",
      };
  if (found.state !== "unchecked") return found;
  const written = await lastWritten(dir);
  const age = written === undefined
    ? ""
    : `; its records were last written ${formatAge(Date.now() - written)} ago`;
  return {
    state: "unchecked",
    reason: `recorded as running (${found.reason}); whether it still runs cannot be checked ` +
      `from here${age}`,
  };
}

/**
 * The statuses readers derive from a record that cannot tell how the run ended (`crashed`,
 * `corrupt`, `unreadable`): each comes with a `hint` that says how to go on.
 */
export const DAMAGED: ReadonlySet<string> = new Set(["crashed", "corrupt", "unreadable"]);

/** The directory that holds a run's directory. */
const runsDirOf = (dir: string) => dir.replace(/\/+$/, "").split("/").slice(0, -1).join("/") || ".";

/** Whether a run has a checkpoint to resume from. */
const hasCheckpoint = (dir: string) =>
  Deno.stat(`${dir}/checkpoints/last.ckpt`).then(() => true, () => false);

/**
 * The summary of a run whose `summary.json` does not parse (a torn write, a full disk, a hand
 * edit): `corrupt`, naming the file and why, with how to get a whole record again. Its curves are
 * read as ever.
 */
async function corrupt(dir: string, id: string, problem: string): Promise<RunSummary> {
  const moveAway = `mv ${shellWord(`${dir}/summary.json`)} ${
    shellWord(`${dir}/summary.json.corrupt`)
  }`;
  const lost = await lostLast(dir, id);
  return {
    status: "corrupt",
    stopReason: `${dir}/summary.json is ${problem}: how the run ended is unknown`,
    hint: "its curves are read as they are; " +
      (lost === undefined
        ? "to write its summary again, move it away and resume the run from its last " +
          "checkpoint once it is not running (a resume refuses a summary it cannot read): " +
          `${moveAway} && ${resumeCommand(id, runsDirOf(dir))}`
        : lost
        ? `${lost.message}: to write its summary again, move it away (${moveAway}), then ` +
          lost.hint
        : await retrainHint(dir, "for a whole record, train it again")),
  };
}

/**
 * Whether a run can go on from a checkpoint: undefined where its `last.ckpt` is there; where that
 * was lost after the run recorded epochs (or beside a `best.ckpt`), what `lostCheckpoint` says of
 * it (the way on from `best.ckpt`); false where the run never wrote one.
 */
async function lostLast(
  dir: string,
  id: string,
): Promise<{ message: string; hint: string } | false | undefined> {
  if (await hasCheckpoint(dir)) return undefined;
  return await lostCheckpoint({ runId: id, runDir: dir, runsDir: runsDirOf(dir) }) ?? false;
}

/**
 * How to train a run again from its config, where the run still has one; else that it has none
 * (a hint to `-c` a config.json that is gone was a command that fails).
 */
async function retrainHint(dir: string, lead: string): Promise<string> {
  const config = `${dir}/config.json`;
  return await Deno.stat(config).then((info) => info.isFile, () => false)
    ? `${lead}: anneal train -c ${shellWord(config)}`
    : `its config.json is gone too: there is no config to train it again from`;
}

/**
 * The summary of a run whose `summary.json` cannot be read (permission denied, a directory or a
 * symbolic link loop in its place): `unreadable`, naming the file and the OS's error, with how to
 * fix it. Its curves are read as ever.
 */
async function unreadable(dir: string, id: string, error: Error): Promise<RunSummary> {
  const path = `${dir}/summary.json`;
  const lost = await lostLast(dir, id);
  return {
    status: "unreadable",
    stopReason: `${path} cannot be read (${osReason(error)}): how the run ended is unknown`,
    hint: `make it a readable file again (ls -l '${path}' shows what is there: its ` +
      "permissions, a directory or a symbolic link in its place); if what it held is lost, move " +
      "it away" +
      (lost === undefined
        ? " and resume the run from its last checkpoint once it is not running, which writes its " +
          `summary again: ${resumeCommand(id, runsDirOf(dir))}`
        : lost
        ? `; ${lost.message}: ${lost.hint}`
        : ` and ${await retrainHint(dir, "train it again")}`) +
      "; its curves are read as they are",
  };
}

/**
 * The summary of a run whose process is gone without recording its end: `crashed`, why, and how
 * to go on (resume from its last checkpoint; where that was lost after the run recorded epochs,
 * as the resume's refusal says; or start again when it never had one).
 */
async function crashed(
  dir: string,
  id: string,
  summary: RunSummary,
  liveness: { reason: string },
): Promise<RunSummary> {
  const runsDir = runsDirOf(dir);
  // (a run whose last.ckpt was lost after it recorded epochs is not started again: the resume's
  // own refusal gives the way on, from its best.ckpt)
  const lost = await lostLast(dir, id);
  return {
    ...summary,
    status: "crashed",
    stopReason: `killed without recording its end (SIGKILL, out of memory, the machine went ` +
      `down): ${liveness.reason}`,
    hint: lost === undefined
      ? `resume it from its last checkpoint: ${resumeCommand(id, runsDir)}`
      : lost
      ? `${lost.message}: ${lost.hint}`
      : `it ended before its first epoch's checkpoint: start it again (anneal train -c ${
        shellWord(`${dir}/config.json`)
      })`,
  };
}

/** Reads a dotted path (`optimizer.lr`) of a config. */
/** What `anneal runs show` and the HTML report say for a field a run's record does not hold. */
export const NOT_RECORDED = "not recorded";

/**
 * Where a run ran, as `anneal runs show` and the HTML report's header name it: its backend (a
 * training run's meta.json and summary.json record it, an LR range test's summary.json), its seed
 * (meta.json, else its config's) and its data's fingerprint (a training run's meta.json, an LR
 * range test's summary.json); {@linkcode NOT_RECORDED} for what its
 * record does not hold (a record of an older anneal, a run killed before it chose its backend or
 * loaded its data).
 *
 * @example
 * ```ts
 * import { provenanceOf } from "./records.ts";
 * const facts = provenanceOf({ meta: { id: "a" }, config: { seed: 7 }, summary: { status: "completed" } });
 * console.assert(facts.seed === "7" && facts.backend === "not recorded");
 * ```
 */
export function provenanceOf(
  record: Pick<RunRecord, "meta" | "config" | "summary">,
): { backend: string; seed: string; dataset: string } {
  const { meta, config, summary } = record;
  return {
    backend: recorded(meta.backend ?? summary.backend),
    seed: recorded(meta.seed ?? config.seed),
    dataset: recorded(meta.fingerprint ?? summary.fingerprint),
  };
}

/** A field of a record as text, or {@linkcode NOT_RECORDED} where it holds none (or no text). */
export function recorded(value: unknown): string {
  return typeof value === "string" || typeof value === "number" ? String(value) : NOT_RECORDED;
}

export function configValue(config: Record<string, unknown>, path: string): unknown {
  let node: unknown = config;
  for (const key of path.split(".")) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/**
 * The metric that decides "best": the early stopper's monitor when logged (without a validation
 * split, the training metric a `valX` monitor watches), else valLoss, else loss. The monitor is
 * read in the early stopper's mode; another metric the way it is better, the loss upwards when
 * the run's optimizer maximizes it (`optimizer.maximize`).
 */
export function bestMetric(
  record: Pick<RunRecord, "config" | "epochs" | "summary">,
): { metric: string; mode: "min" | "max"; value: number; epoch: number } | undefined {
  const monitor = configValue(record.config, "earlyStopping.monitor");
  const mode = configValue(record.config, "earlyStopping.mode") === "max" ? "max" : "min";
  // what early stopping watches of a `valX` monitor without a validation split
  const watched = typeof monitor === "string" && /^val[A-Z]/.test(monitor)
    ? monitor[3].toLowerCase() + monitor.slice(4)
    : undefined;
  const ascends = maximizes(configValue(record.config, "optimizer"));
  const candidates = [record.summary.best?.metric, monitor, watched, "valLoss", "loss"];
  for (const metric of candidates) {
    if (typeof metric !== "string") continue;
    const rows = record.epochs.filter((e) => Number.isFinite(e[metric]));
    if (rows.length === 0) continue;
    const direction = metric === monitor || metric === watched
      ? mode
      : higherIsBetter(metric, ascends)
      ? "max"
      : "min";
    const best = rows.reduce((a, b) =>
      (direction === "min" ? b[metric]! < a[metric]! : b[metric]! > a[metric]!) ? b : a
    );
    return { metric, mode: direction, value: best[metric]!, epoch: best.epoch };
  }
  return undefined;
}

/**
 * A run's best epoch as `anneal runs` and `anneal runs show` give it: the epoch its summary
 * records (the early stopper's, whose weights it kept; a `minDelta` may keep an earlier one than
 * the metric's extreme), with that epoch's value of {@linkcode bestMetric}'s metric; else, for a
 * run that recorded none (still running, killed, interrupted), the best of its epochs so far.
 *
 * @example
 * ```ts
 * import { runBest } from "./records.ts";
 * const record = {
 *   config: {}, summary: { status: "crashed" as const },
 *   epochs: [{ epoch: 0, loss: 2 }, { epoch: 1, loss: 1 }],
 * };
 * console.assert(runBest(record)?.epoch === 1 && runBest(record)?.metric === "loss");
 * ```
 */
export function runBest(
  record: Pick<RunRecord, "config" | "epochs" | "summary">,
): ReturnType<typeof bestMetric> {
  const best = bestMetric(record);
  const kept = record.summary.bestEpoch;
  if (!best || typeof kept !== "number") return best;
  const row = record.epochs.find((e) => e.epoch === kept && Number.isFinite(e[best.metric]));
  return row ? { ...best, epoch: kept, value: row[best.metric]! } : best;
}

/**
 * The best epoch and value as a run's summary keeps them (`bestEpoch`, `best`), for a record whose
 * epochs.ndjson lost the rows {@linkcode runBest} reads; undefined where the summary holds none.
 *
 * @example
 * ```ts
 * import { summaryBest } from "./records.ts";
 * const best = summaryBest({ bestEpoch: 2, best: { metric: "loss", value: 0.5 } });
 * console.assert(best?.epoch === 2 && best.metric === "loss");
 * ```
 */
export function summaryBest(
  summary: { bestEpoch?: unknown; best?: unknown },
): { metric: string; value: number; epoch: number } | undefined {
  const { metric, value } = (summary.best ?? {}) as { metric?: unknown; value?: unknown };
  return typeof summary.bestEpoch === "number" && typeof metric === "string" &&
      typeof value === "number"
    ? { metric, value, epoch: summary.bestEpoch }
    : undefined;
}

/**
 * How many epochs or steps a run took: its summary's count (`summary.epochs`, `summary.steps`)
 * where that is more than its records hold (lines lost with a crash, or a file gone), else the
 * records' own.
 *
 * @example
 * ```ts
 * import { countedAs } from "./records.ts";
 * console.assert(countedAs(0, 3) === 3 && countedAs(5, undefined) === 5);
 * ```
 */
export function countedAs(recorded: number, summary: unknown): number {
  return typeof summary === "number" && summary > recorded ? summary : recorded;
}

/** One row of {@linkcode listRuns}. */
export interface RunRow {
  /** Run id (the directory name). */
  id: string;
  /** Creation time from `meta.json` (empty when unknown). */
  date: string;
  /** Model kind, e.g. `mlp`. */
  model: string;
  /** Optimizer name, e.g. `adamw`. */
  optimizer: string;
  /**
   * The learning rate the config sets, when it has one: the optimizer's `lr`, or under onecycle,
   * whose rates come from its `maxLr` and not the optimizer's `lr`, that `maxLr` (see `lrSetting`).
   */
  lr: number | undefined;
  /**
   * Where `lr` comes from when that is not `optimizer.lr`: onecycle's `scheduler.maxLr` (a
   * sequential's `scheduler.schedulers.N.maxLr`), the peak of its cycle.
   */
  lrSetting?: string;
  /** Batch size, when the config has one. */
  batch: number | undefined;
  /** Epochs recorded. */
  epochs: number;
  /** The best monitored metric as `metric=value@epoch`, or `-`. */
  best: string;
  /**
   * How the run ended, or `running` (`crashed`: its process is gone; `corrupt`: its summary.json
   * does not parse; `unreadable`: its summary.json, or its directory, cannot be read; see
   * `readRun`).
   */
  status: string;
  /**
   * What to know about its status: how to resume a crashed run, why a running one is unchecked,
   * which file of a corrupt or unreadable one is damaged, why, and what to do.
   */
  note?: string;
}

/** How to fix a runs directory that cannot be read. */
const RUNS_DIR_HINT = "point --runs-dir at the directory that holds the runs (default: runs)";

/**
 * Fails, naming the path, when `runsDir` exists but is not a directory (a missing one holds no
 * runs, which callers report themselves).
 */
export async function checkRunsDir(runsDir: string): Promise<void> {
  const info = await Deno.stat(runsDir).catch(() => undefined);
  if (info && !info.isDirectory) {
    throw new AnnealError(
      "file",
      `Cannot read runs from '${runsDir}': it is a file, not a directory (expected a directory of runs)`,
      { where: runsDir, hint: RUNS_DIR_HINT },
    );
  }
}

/**
 * Lists the runs in a runs directory, oldest first. Directories that are not runs are ignored; a
 * missing runs directory has none; one that is a file is an error.
 *
 * @example
 * ```ts
 * import { listRuns } from "./records.ts";
 * const runs = await Deno.makeTempDir();
 * await Deno.mkdir(`${runs}/a`);
 * await Deno.writeTextFile(`${runs}/a/config.json`, JSON.stringify({ optimizer: { name: "sgd", lr: 0.1 } }));
 * const [row] = await listRuns(runs);
 * console.assert(row.id === "a" && row.optimizer === "sgd" && row.status === "running");
 * ```
 */
export async function listRuns(runsDir: string): Promise<RunRow[]> {
  const rows: RunRow[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(runsDir));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw fileError(error, {
      action: "list the runs in",
      path: runsDir,
      expected: "a directory of runs",
      hint: RUNS_DIR_HINT,
    }) ?? error;
  }
  for (const entry of entries) {
    if (!entry.isDirectory) continue;
    const dir = `${runsDir}/${entry.name}`;
    let files: string[];
    try {
      files = await Array.fromAsync(Deno.readDir(dir), (e) => e.name);
    } catch (error) {
      // gone since the runs directory was listed: not a run any more
      if (error instanceof Deno.errors.NotFound) continue;
      if (error instanceof Deno.errors.NotCapable) throw error;
      rows.push(unlistedRow(entry.name, dir, error));
      continue;
    }
    if (!holdsRun(files)) continue;
    rows.push(runRow(await readRun(dir)));
  }
  return rows.sort((a, b) => a.date.localeCompare(b.date) || a.id.localeCompare(b.id));
}

/**
 * The directories of `runsDir` that are not runs but hold runs: sweep studies (`anneal sweep`
 * writes its trials' runs to `<runsDir>/<study>/`), tunes' and the like, each with how many runs it
 * holds, by name. `anneal runs` lists only the runs directly in `runsDir`, so it names these.
 */
export async function listRunDirectories(
  runsDir: string,
): Promise<{ name: string; runs: number; kind?: "sweep" | "tune" }[]> {
  const found: { name: string; runs: number; kind?: "sweep" | "tune" }[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(runsDir));
  } catch {
    return found; // (listRuns says why it cannot be read)
  }
  for (const entry of entries) {
    if (!entry.isDirectory) continue;
    const dir = `${runsDir}/${entry.name}`;
    const inner = await fileNames(dir);
    if (holdsRun(inner)) continue;
    const runs = (await runsIn(dir, inner)).length;
    if (runs === 0) continue;
    const kind = kindOf(inner);
    found.push({ name: entry.name, runs, ...(kind && { kind }) });
  }
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

/** The names in `dir`; none where it cannot be read. */
const fileNames = (dir: string) =>
  Array.fromAsync(Deno.readDir(dir), (entry) => entry.name).catch(() => [] as string[]);

/**
 * Whether a directory of these names is a run's: any of a run's records (a run that lost its config
 * and meta is listed, as damaged, where `runs show` reads it; it was left out of `anneal runs`).
 */
const holdsRun = (names: string[]) => names.some((name) => RUN_FILES.includes(name));

/** Whose directory of runs one of these names is: a tune's (tune.json), a sweep study's. */
function kindOf(names: string[]): "sweep" | "tune" | undefined {
  if (names.includes("tune.json")) return "tune";
  if (names.includes("sweep.html") || names.includes("best_config.json")) return "sweep";
  return undefined;
}

/** The runs among `names`, the entries of `dir` (its directories that are runs), in order. */
async function runsIn(dir: string, names: string[]): Promise<string[]> {
  const runs: string[] = [];
  for (const name of [...names].sort()) {
    if (holdsRun(await fileNames(`${dir}/${name}`))) runs.push(name);
  }
  return runs;
}

/** The files a run writes: a directory with none of them is not a run. */
const RUN_FILES = [
  "config.json",
  "meta.json",
  "summary.json",
  "epochs.ndjson",
  "steps.ndjson",
  "lr_find.json",
];

/**
 * Refuses a directory that holds none of a run's records: an empty one, or a sweep study's or a
 * tune's, whose runs are directories in it (`anneal sweep` writes them to `<runsDir>/<study>/`).
 * Read as a run, it was one `running` with no data ("the run is still going or was killed"), and
 * `report` wrote its page there. `resume`: the id `anneal train --resume` was given (its error
 * and hint say so; it said only that config.json was missing).
 */
export async function checkIsRun(dir: string, resume?: string): Promise<void> {
  let names: string[];
  try {
    names = await Array.fromAsync(Deno.readDir(dir), (entry) => entry.name);
  } catch {
    return; // an unreadable directory: its files' reads say why
  }
  if (names.some((name) => RUN_FILES.includes(name))) return;
  const runs = await runsIn(dir, names);
  const listed = runs.slice(0, 3).join(", ") + (runs.length > 3 ? ", ..." : "");
  const kind = kindOf(names);
  const action = resume === undefined ? "Cannot read run" : `Cannot resume run '${resume}'`;
  if (runs.length > 0) {
    const one = resume === undefined
      ? `\`anneal diagnose ${runs[0]} --runs-dir ${shellWord(dir)}\` reads one`
      : `\`anneal train --resume ${runs[0]} --runs-dir ${shellWord(dir)}\` resumes one`;
    throw new AnnealError(
      "storage",
      `${action}: '${dir}' is not a run but ${
        kind === "sweep"
          ? "a sweep study's directory"
          : kind === "tune"
          ? "a tune's directory"
          : "a directory"
      } of ${runs.length} run${runs.length === 1 ? "" : "s"} (${listed})`,
      {
        where: dir,
        hint: `pass one of them, with that directory as the runs directory: \`anneal runs ` +
          `--runs-dir ${shellWord(dir)}\` lists them, and e.g. ${one}`,
      },
    );
  }
  throw new AnnealError(
    "storage",
    `${action}: '${dir}' is not a run: it holds none of a run's records (${RUN_FILES.join(", ")})${
      names.length === 0 ? ", and is empty" : ""
    }`,
    { where: dir, hint: "list the runs with `anneal runs` and pass one of their ids" },
  );
}

/**
 * The row of a directory of the runs directory that cannot be listed (permission denied): whether
 * it is a run is unknown, so it is shown as `unreadable`, naming it and the OS's error.
 */
function unlistedRow(id: string, dir: string, error: unknown): RunRow {
  return {
    id,
    date: "",
    model: "?",
    optimizer: "?",
    lr: undefined,
    batch: undefined,
    epochs: 0,
    best: "-",
    status: "unreadable",
    note: `${dir} cannot be listed (${osReason(error)}): whether it holds a run is unknown; ` +
      `check its permissions (ls -ld '${dir}')`,
  };
}

/** The {@linkcode RunRow} of one run. */
export function runRow(record: RunRecord): RunRow {
  const best = runBest(record);
  const rate = rateSetting(record.config);
  const batch = configValue(record.config, "batchSize");
  return {
    id: record.id,
    // (an LR range test's record has no start time: the time it was recorded)
    date: String(
      record.meta.createdAt ?? record.summary.startedAt ?? record.summary.finishedAt ?? "",
    ),
    model: String(configValue(record.config, "model.kind") ?? "?"),
    optimizer: String(configValue(record.config, "optimizer.name") ?? "?"),
    lr: rate.value,
    ...(rate.oneCycle && { lrSetting: rate.path }),
    batch: typeof batch === "number" ? batch : undefined,
    epochs: countedAs(record.epochs.length, record.summary.epochs),
    best: best ? `${best.metric}=${formatNumber(best.value)}@${best.epoch}` : "-",
    status: record.summary.status,
    ...(record.liveness?.state === "gone" && { note: record.summary.hint }),
    ...((record.summary.status === "corrupt" || record.summary.status === "unreadable") &&
      { note: `${record.summary.stopReason}; ${record.summary.hint}` }),
    ...(record.liveness?.state === "unchecked" && { note: record.liveness.reason }),
  };
}

/** Flattens nested objects into dotted paths; arrays are leaves. */
export function flatten(value: unknown, prefix = "", out: Record<string, unknown> = {}) {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [key, child] of Object.entries(value)) {
      flatten(child, prefix ? `${prefix}.${key}` : key, out);
    }
  } else if (prefix) out[prefix] = value;
  return out;
}

/** What {@linkcode compareRuns} returns: differing config paths and metrics, one value per run. */
export interface RunComparison {
  /** Run ids, in the order given; every `values` array follows it. */
  ids: string[];
  /** Config paths (dotted) whose values differ between the runs. */
  differences: { path: string; values: unknown[] }[];
  /** `final <metric>` and `best <metric>` of each run (`undefined` where a run lacks it). */
  metrics: { name: string; values: (number | undefined)[] }[];
  /**
   * The learning rate each run trains at, as {@linkcode RunRow}'s `lr`: its `optimizer.lr`, or
   * under onecycle, which ignores `optimizer.lr`, its `maxLr`; `settings` names, run by run, the
   * config path it comes from (`optimizer.lr`, `scheduler.maxLr`, `scheduler.schedulers.0.maxLr`).
   */
  lr: { values: (number | undefined)[]; settings: string[] };
  /** How each run ended (`summary.json`'s status: completed, stopped, diverged, running, ...). */
  status: string[];
  /** The epochs each run recorded. */
  epochs: number[];
}

/**
 * Compares runs: the config fields that differ (dotted paths), the learning rate each trains at
 * (under onecycle its `maxLr`), and final/best metrics side by side; a run's best is its own way
 * (accuracy highest, errors lowest, the loss highest in a run whose optimizer maximizes it).
 *
 * @example
 * ```ts
 * import { compareRuns } from "./records.ts";
 * const run = (id: string, lr: number) => ({
 *   id, dir: id, meta: { id }, steps: [], warnings: [], summary: { status: "completed" as const },
 *   config: { optimizer: { name: "sgd", lr } }, epochs: [{ epoch: 0, loss: lr }],
 * });
 * const diff = compareRuns([run("a", 0.1), run("b", 0.01)]);
 * console.assert(diff.differences.length === 1 && diff.differences[0].path === "optimizer.lr");
 * ```
 */
export function compareRuns(records: RunRecord[]): RunComparison {
  checkArgument(
    Array.isArray(records),
    records,
    "compare the runs",
    "records",
    "an array of run records",
    "pass the records of the runs: await Promise.all(dirs.map((dir) => readRun(dir)))",
  );
  records.forEach((record, i) => checkRunRecord(record, "compare the runs", `records[${i}]`));
  const flat = records.map((r) => flatten(r.config));
  const paths = [...new Set(flat.flatMap((f) => Object.keys(f)))].sort();
  const differences = paths
    .map((path) => ({ path, values: flat.map((f) => f[path]) }))
    .filter(({ values }) => new Set(values.map((v) => JSON.stringify(v))).size > 1);
  const names = [...new Set(records.flatMap((r) => r.epochs.flatMap((e) => Object.keys(e))))]
    .filter((name) => !["epoch", "step", "seconds", "lr"].includes(name));
  const metrics: RunComparison["metrics"] = [];
  for (const name of names) {
    metrics.push({ name: `final ${name}`, values: records.map((r) => r.epochs.at(-1)?.[name]) });
    metrics.push({
      name: `best ${name}`,
      values: records.map((r) => {
        const values = r.epochs.map((e) => e[name]).filter((v): v is number => Number.isFinite(v));
        if (values.length === 0) return undefined;
        // each run's best its own way: the loss of one that maximizes it is best highest
        const higher = higherIsBetter(name, maximizes(configValue(r.config, "optimizer")));
        return higher ? Math.max(...values) : Math.min(...values);
      }),
    });
  }
  // the test split's metrics, as train, runs show and the report give them (a run without a test
  // split: none)
  const tests = records.map((r) => (r.summary.test ?? {}) as Record<string, unknown>);
  for (const name of new Set(tests.flatMap((test) => Object.keys(test)))) {
    metrics.push({
      name: `test ${name}`,
      values: tests.map((test) => (typeof test[name] === "number" ? test[name] : undefined)),
    });
  }
  const rates = records.map((r) => rateSetting(r.config));
  const lr = { values: rates.map((r) => r.value), settings: rates.map((r) => r.path) };
  return {
    ids: records.map((r) => r.id),
    differences,
    metrics,
    lr,
    status: records.map((r) => r.summary.status),
    epochs: records.map((r) => r.epochs.length),
  };
}

/**
 * The line under a table whose `lr` marks a onecycle run's rate `(max)`
 * ({@linkcode formatRate}): what the mark means.
 */
export const RATE_LEGEND = "lr (max): onecycle's or cyclic's maxLr, the peak of its cycle " +
  "(its rates come from it, not optimizer.lr)";

/**
 * The learning rate a run trains at as a table shows it (`lr` and `lrSetting` of a
 * {@linkcode RunRow}): the number, marked `(max)` where it is a onecycle's `maxLr`; `-` unknown.
 *
 * @example
 * ```ts
 * import { formatRate } from "./records.ts";
 * console.assert(formatRate(0.01) === "0.01");
 * console.assert(formatRate(0.4, "scheduler.maxLr") === "0.4 (max)");
 * ```
 */
export function formatRate(lr: number | undefined, lrSetting?: string): string {
  return `${formatNumber(lr)}${lrSetting && lr !== undefined ? " (max)" : ""}`;
}

/**
 * Formats rows as a plain-text table with a header and aligned columns (numbers right-aligned).
 *
 * @example
 * ```ts
 * import { formatTable } from "./records.ts";
 * const table = formatTable([{ id: "a", lr: 0.1 }, { id: "bb", lr: 0.001 }]);
 * console.assert(table.split("\n")[0].startsWith("id") && table.includes("0.001"));
 * ```
 */
export function formatTable(rows: Record<string, unknown>[], columns?: string[]): string {
  const what = "format the table";
  const rowsHint = "pass one object per row, e.g. formatTable([{ id: 'a', lr: 0.1 }])";
  checkArgument(Array.isArray(rows), rows, what, "rows", "an array of objects", rowsHint);
  const bad = rows.findIndex((row) => typeof row !== "object" || row === null);
  checkArgument(bad < 0, rows[bad], what, `rows[${bad}]`, "an object", rowsHint);
  checkArgument(
    columns === undefined ||
      (Array.isArray(columns) && columns.every((c) => typeof c === "string")),
    columns,
    what,
    "columns",
    "an array of names",
    "pass the column names, e.g. ['id', 'lr'], or leave it out",
  );
  const keys = columns ?? [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const cells = rows.map((row) => keys.map((key) => formatNumber(row[key])));
  const widths = keys.map((key, i) => Math.max(key.length, ...cells.map((c) => c[i].length)));
  const numeric = keys.map((key) =>
    rows.length > 0 && rows.every((r) => typeof r[key] === "number" || r[key] === undefined)
  );
  const line = (values: string[]) =>
    values.map((v, i) => numeric[i] ? v.padStart(widths[i]) : v.padEnd(widths[i])).join("  ")
      .trimEnd();
  return [line(keys), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)].join("\n");
}

/** JSON has no NaN or Infinity: the writer stores them as "NaN"/"Infinity" (older records: null). */
function readNumber(value: unknown): unknown {
  if (value === null || value === "NaN") return NaN;
  if (value === "Infinity") return Infinity;
  if (value === "-Infinity") return -Infinity;
  return value;
}
