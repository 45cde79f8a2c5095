/**
 * A tune's directory, `<runsDir>/tune-<time>-<random>`, its own whatever other tunes run beside
 * it: its runs, `tune.json` (how far it got: its stages, runs and best value, and whether it
 * completed, was interrupted or is running) and `tuned_config.json` (the best config so far).
 * Both files are replaced atomically after every run, so a tune killed without warning leaves
 * what it had found; it is not resumed (a tune run again starts over), and the next tune in the
 * runs directory says where the last one's best config is.
 *
 * @module
 */
import type { RunConfig } from "../config.ts";
import { writeFileAtomic } from "./checkpoint.ts";
import { currentProcess, processLiveness, type RunProcess } from "./liveness.ts";
import { makeRunDirectory, recordedConfig } from "./records.ts";

/** The record of a tune in its directory. */
export const TUNE_RECORD = "tune.json";
/** The best config a tune found so far, in its directory (the tuned config once it completed). */
export const TUNED_CONFIG = "tuned_config.json";

/** What `tune.json` holds. */
export interface TuneRecord {
  /** `running` until it ends (a killed tune's stays so: its `process` is gone). */
  status: "running" | "completed" | "interrupted" | "failed";
  /** Why it was interrupted, or failed. */
  reason?: string;
  /** When it started (ISO 8601). */
  startedAt: string;
  /** The process running it, where its host's name can be read. */
  process?: RunProcess;
  /** The metric it optimises. */
  metric: string;
  /** Which way it optimises `metric`. */
  direction: "minimize" | "maximize";
  /** The most runs it may spend. */
  budget: number;
  /** The runs it spent so far. */
  runs: number;
  /**
   * The fraction of the best value so far a change had to gain to be kept (absent in an older
   * anneal's record, which kept any gain).
   */
  minImprovement?: number;
  /** The untuned config's metric (absent before the first run ends). */
  baseline?: number;
  /** The best config's metric so far (absent before the first run ends). */
  best?: number;
  /** Each stage done, in order: its changes tried (with their runs), the one kept. */
  stages: unknown[];
  /** The stages the budget of runs left no run for, where it ran out before the last. */
  notRun?: string[];
}

/** The stamp of a tune's directory name: UTC date and time, to the second. */
const stamp = () => new Date().toISOString().replace(/[-:]/g, "").slice(0, 15);

/**
 * Makes a new tune directory in `runsDir`, one no other tune has (a tune started in the same
 * second gets another random suffix): `mkdir` without `recursive` fails where it exists.
 */
export async function makeTuneDirectory(runsDir: string): Promise<string> {
  await makeRunDirectory(runsDir);
  for (;;) {
    const dir = `${runsDir}/tune-${stamp()}-${crypto.randomUUID().slice(0, 4)}`;
    try {
      await Deno.mkdir(dir);
      return dir;
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
  }
}

/** Keeps a tune's `tune.json` and `tuned_config.json` up to date. */
export class TuneRecorder {
  #record: TuneRecord;

  private constructor(readonly dir: string, record: TuneRecord) {
    this.#record = record;
  }

  /** Starts the record of a tune in `dir` (status `running`, this process). */
  static async start(
    dir: string,
    record: Omit<TuneRecord, "status" | "startedAt" | "process" | "runs" | "stages">,
  ): Promise<TuneRecorder> {
    const process = await currentProcess();
    const recorder = new TuneRecorder(dir, {
      status: "running",
      startedAt: new Date().toISOString(),
      ...(process && { process }),
      ...record,
      runs: 0,
      stages: [],
    });
    await recorder.update({});
    return recorder;
  }

  /** Updates the record with `change`, and the best config so far where given. */
  async update(change: Partial<TuneRecord>, config?: RunConfig): Promise<void> {
    this.#record = { ...this.#record, ...change };
    if (config) {
      // (its sweep section kept: a tune's metric and direction are read there, and a config given
      // to the next tune, or to a sweep, as --out's often is, must not lose them)
      await writeJson(`${this.dir}/${TUNED_CONFIG}`, recordedConfig(config));
    }
    await writeJson(`${this.dir}/${TUNE_RECORD}`, this.#record);
  }
}

const writeJson = (path: string, value: unknown) =>
  writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n"));

/** The last tune of a runs directory that did not complete, as {@linkcode lastUnfinishedTune} finds it. */
export interface UnfinishedTune {
  /** Its directory. */
  dir: string;
  /** `killed`: its process is gone while its record says running; or `interrupted`. */
  ended: "killed" | "interrupted";
  /** Its record. */
  record: TuneRecord;
  /** Its best config so far, where it has one. */
  config?: string;
}

/**
 * The last tune of `runsDir` (by its directory's name, which starts with its time), where it did
 * not complete: killed (its record says running, and its process is gone from this host) or
 * interrupted. Undefined where the last one completed, still runs, or cannot be told.
 */
export async function lastUnfinishedTune(runsDir: string): Promise<UnfinishedTune | undefined> {
  let names: string[];
  try {
    names = await Array.fromAsync(Deno.readDir(runsDir), (entry) => entry.name);
  } catch {
    return undefined;
  }
  const last = names.filter((name) => /^tune-\d{8}T\d{6}(-[0-9a-f]{4})?$/.test(name)).sort().at(-1);
  if (last === undefined) return undefined;
  const dir = `${runsDir}/${last}`;
  let record: TuneRecord;
  try {
    record = JSON.parse(await Deno.readTextFile(`${dir}/${TUNE_RECORD}`));
  } catch {
    return undefined; // a tune of an anneal that kept no record, or one just starting
  }
  const config = await Deno.stat(`${dir}/${TUNED_CONFIG}`).then(
    () => `${dir}/${TUNED_CONFIG}`,
    () => undefined,
  );
  if (record.status === "interrupted") return { dir, ended: "interrupted", record, config };
  if (record.status !== "running" || !record.process) return undefined;
  const liveness = await processLiveness(record.process);
  return liveness.state === "gone" ? { dir, ended: "killed", record, config } : undefined;
}
