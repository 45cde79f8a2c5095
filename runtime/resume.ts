/**
 * Resuming a run: the config it continues with comes from its own directory.
 *
 * @module
 */
import { parseConfig, type RunConfig } from "../config.ts";
import { AnnealError } from "../errors.ts";
import { fileError } from "../file_errors.ts";
import { isObject } from "../option_names.ts";
import { jsonDifferences } from "../zod_paths.ts";
import { jsonSyntax } from "../json_syntax.ts";
import { absoluteDataPaths, dataPathFields } from "../data/paths.ts";
import { retrainCommand } from "../report/diagnose.ts";
import { checkIsRun } from "../report/records.ts";
import { shellWord } from "../shell_word.ts";
import { counted, formatNumber } from "../number_format.ts";
import { readWholeFile } from "../read_file.ts";
import type { Diagnosis } from "../report/types.ts";
import type { ResolvedDataSpec } from "../data/spec.ts";
import { dirname, isAbsolute } from "node:path";
import {
  type CheckpointState,
  loadCheckpoint,
  type WeightMap,
  writeFileAtomic,
} from "./checkpoint.ts";
import {
  formatAge,
  hostname,
  lastWritten,
  type LivenessProbe,
  processLiveness,
  type RunProcess,
} from "./liveness.ts";

/**
 * How long a run recorded as running on another host must have written nothing before it may be
 * resumed here: a running one writes its records every few steps, and that host's processes
 * cannot be looked at from this one.
 */
export const OTHER_HOST_QUIET_MS = 10 * 60_000;

/** The command that resumes a run, with `--runs-dir` where it is not the default. */
export function resumeCommand(runId: string, runsDir: string): string {
  return `anneal train --resume ${shellWord(runId)}${
    runsDir === "runs" ? "" : ` --runs-dir ${shellWord(runsDir)}`
  }`;
}

/** What a run is about to do that another process running it stands in the way of. */
export type RunAction = "resume" | "start";

/** Who runs a run, as far as is known, for {@linkcode stillRunningError}. */
export type RunningHolder =
  /** A process on this host, alive, named by its record or its lock file. */
  | { kind: "here"; process: RunProcess }
  /** A process on another host whose records were written `quietMs` ago. */
  | { kind: "elsewhere"; process: RunProcess; here: string; quietMs: number }
  /** A process that holds the run's lock file, but whose name could not be read from it. */
  | { kind: "unnamed"; lockPath: string };

/**
 * The error that refuses to resume (or start) a run another process is running: two processes
 * would write the same run directory. It names that process and how to go on: wait for it, stop
 * it, or (on another host) how long until a resume goes ahead on its own.
 */
export function stillRunningError(
  holder: RunningHolder,
  run: { runId: string; runsDir: string; where: string; action?: RunAction },
): AnnealError {
  const { runId, runsDir, where, action = "resume" } = run;
  const refuse = (message: string, hint: string) =>
    new AnnealError(
      "usage",
      `Cannot ${action} run '${runId}': ${message}; two processes would write the same run ` +
        "directory",
      {
        where,
        // a new run given the id of one that runs: it is the id that has to change
        hint: action === "start"
          ? "give the new run an id no run has, or leave its id out (a new one is made up)"
          : hint,
      },
    );
  const resume = resumeCommand(runId, runsDir);
  if (holder.kind === "unnamed") {
    return refuse(
      `another process holds its lock file ${holder.lockPath}`,
      `wait for that run to end (\`anneal runs\` lists it as running), or stop it, then ` +
        `\`${resume}\``,
    );
  }
  const { pid, host } = holder.process;
  if (holder.kind === "here") {
    return pid === Deno.pid
      ? refuse(
        "it is still running in this process",
        "wait for its `result`, or stop it (`run.stop()`), then resume it",
      )
      : refuse(
        `it is still running (pid ${pid} on this host, ${host})`,
        `wait for it to end, or stop it (\`kill ${pid}\`: it stops after the current step and ` +
          `keeps its checkpoints), then \`${resume}\``,
      );
  }
  const { here, quietMs } = holder;
  return refuse(
    `its record says it is running on host ${host} (pid ${pid}), which cannot be checked from ` +
      `this host (${here}), and its records were last written ${formatAge(quietMs)} ago`,
    `if it still runs there, wait for it to end, or stop it there (\`kill ${pid}\` on ${host}); ` +
      `if it is gone, \`${resume}\` goes ahead once its records have been left alone for ` +
      `${formatAge(OTHER_HOST_QUIET_MS)} (in ${formatAge(OTHER_HOST_QUIET_MS - quietMs)})`,
  );
}

/**
 * Refuses to resume a run that is still running: two processes would write the same run
 * directory. Its `summary.json` names the process running it (see liveness.ts): one alive on
 * this host is refused, naming its pid; one on another host, which cannot be looked at from
 * here, is refused while its records were written less than {@linkcode OTHER_HOST_QUIET_MS} ago.
 * A record that says the run ended, names no process or does not parse stands in no one's way.
 *
 * This reads the record a run keeps; the run's lock (run_lock.ts), which `train` takes first,
 * is what keeps two resumes started at once apart. This check still refuses a run started by an
 * anneal that took no lock.
 */
export async function checkNotRunning(
  dir: string,
  runId: string,
  runsDir: string,
  probe: LivenessProbe = {},
): Promise<void> {
  let summary: { status?: unknown; process?: RunProcess } | undefined;
  try {
    summary = JSON.parse(await Deno.readTextFile(`${dir}/summary.json`));
  } catch {
    return;
  }
  const recorded = summary?.process;
  if (summary?.status !== "running" || typeof recorded?.pid !== "number") return;
  const run = { runId, runsDir, where: `${dir}/summary.json` };
  const here = probe.host ?? hostname();
  if (recorded.host === here) {
    if ((await processLiveness(recorded, probe)).state !== "alive") return;
    throw stillRunningError({ kind: "here", process: recorded }, run);
  }
  if (here === undefined) return;
  const written = await lastWritten(dir);
  const quietMs = written === undefined ? Infinity : Date.now() - written;
  if (quietMs >= OTHER_HOST_QUIET_MS) return;
  throw stillRunningError({ kind: "elsewhere", process: recorded, here, quietMs }, run);
}

/**
 * Refuses to resume the record of an LR range test (`anneal lr-find`'s run directory, which holds
 * `lr_find.json`): it trained no epoch and has no checkpoint, and the refusal that gave ("it ended
 * (LR range test) before its first epoch's end was saved") told to start it again as a training
 * run from its config. Checked before the run's lock is taken: nothing is written into it.
 */
export async function checkNotLrFind(dir: string, runId: string, runsDir: string): Promise<void> {
  const found = await Deno.stat(`${dir}/lr_find.json`).then((info) => info.isFile, () => false);
  if (!found) return;
  let suggestion: number | undefined;
  try {
    const summary = JSON.parse(await Deno.readTextFile(`${dir}/summary.json`));
    const lr = summary?.lrFind?.suggestion;
    if (typeof lr === "number" && Number.isFinite(lr)) suggestion = lr;
  } catch {
    // (no summary, or a damaged one: the refusal goes without the suggestion)
  }
  const flag = runsDir === "runs" ? "" : ` --runs-dir ${shellWord(runsDir)}`;
  throw new AnnealError(
    "usage",
    `Cannot resume run '${runId}': it is the record of an LR range test (anneal lr-find), not ` +
      "a training run; it trained no epoch, so there is nothing to resume",
    {
      where: dir,
      hint:
        (suggestion === undefined
          ? ""
          : `it suggested lr ${
            typeof suggestion === "number" ? formatNumber(suggestion) : suggestion
          }: start a training ` +
            `run from its config at that rate (anneal train -c ${
              shellWord(`${dir}/config.json`)
            }, setting optimizer.lr, or scheduler.maxLr under onecycle or cyclic); or `) +
        `resume a training run (\`anneal runs${flag}\` lists them)`,
    },
  );
}

/**
 * The config a run trained under, from its last checkpoint, where its `config.json` is missing
 * and the checkpoint holds one (each does, to refuse a config changed since); else undefined. A
 * run whose config.json was removed, or left out of a copy, was refused as no run ("check the run
 * id"), though `anneal runs` said to resume it: the resume reads this in its place
 * ({@linkcode readSavedConfig}), and writes the file again once it has passed its checks (a
 * refused resume leaves the records as they were). (The checkpoint is read whole for it: only
 * where the file is gone.)
 */
export async function configFromCheckpoint(
  dir: string,
): Promise<Record<string, unknown> | undefined> {
  const path = `${dir}/config.json`;
  if (await Deno.lstat(path).then(() => true, () => false)) return undefined;
  const config = await loadCheckpoint(`${dir}/checkpoints/last.ckpt`)
    .then((saved) => saved.state.config, () => undefined);
  return isObject(config) ? config : undefined;
}

/**
 * Reads the config a run was started with (`<dir>/config.json`). A missing file, one that cannot
 * be read, one that is not JSON and one that the schema refuses each get their own error, naming
 * the file.
 */
export async function readSavedConfig(
  dir: string,
  runId: string,
  restored?: Record<string, unknown>,
): Promise<RunConfig> {
  const path = `${dir}/config.json`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (cause) {
    if (cause instanceof Deno.errors.NotFound) {
      // (the config its last checkpoint holds, where one was read for the file: see
      // configFromCheckpoint)
      if (restored !== undefined) return parseSavedConfig(restored, path);
      // (a sweep study's or a tune's directory, or one with none of a run's files: said so)
      await checkIsRun(dir, runId);
      throw new AnnealError("usage", `Cannot resume run '${runId}': ${path} is missing`, {
        where: dir,
        hint: "check the run id and --runs-dir with `anneal runs`",
        cause,
      });
    }
    // a directory in its place, a permission: said as such, with the fix for that failure
    throw fileError(cause, {
      action: `resume run '${runId}': cannot read`,
      path,
      expected: "the JSON config the run was started with",
      hint: `put the run's config back at ${path} (a file), then resume it; or start a new ` +
        "run",
    }) ?? new AnnealError(
      "storage",
      `Cannot resume run '${runId}': ${path} cannot be read: ${(cause as Error).message}`,
      { where: path, hint: "check the file's permissions", cause },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    // (the fix that works where the run's last checkpoint holds its config: the file removed,
    // the resume writes it again from there)
    const restorable = await loadCheckpoint(`${dir}/checkpoints/last.ckpt`).then(
      (saved) => isObject(saved.state.config),
      () => false,
    );
    throw new AnnealError(
      "storage",
      `Cannot resume run '${runId}': ${path} is corrupt (not valid JSON: ${
        (cause as Error).message
      })`,
      {
        where: path,
        // (the resume command with the runs directory it needs; the fix that works where the
        // run's last checkpoint holds its config: it said "or start a new run", which needs it)
        hint: restorable
          ? `remove it (rm ${shellWord(path)}): the resume writes it again from the run's last ` +
            `checkpoint, which holds the config; then \`${resumeCommand(runId, dirname(dir))}\``
          : `write the config the run was started with into it (JSON), then ` +
            `\`${resumeCommand(runId, dirname(dir))}\``,
        cause,
      },
    );
  }
  return parseSavedConfig(json, path);
}

/** A recorded config (read from `path`, or from a checkpoint in its place) parsed as a run's. */
function parseSavedConfig(json: unknown, path: string): RunConfig {
  // (an older anneal's default 'step' where it changes nothing: the run never read it; its
  // baseBatch, which it scaled linearly)
  return parseConfig(
    withOlderScaling(withoutUnusedIntervals(json, "step")),
    `saved config ${path}`,
  );
}

/**
 * `json` (a recorded config) with `optimizer.batchScaling` "linear" where it has a `baseBatch`
 * and no rule: an anneal before the rules scaled every optimizer's rate linearly, and a run of it
 * resumed goes on at the rate it trained at (the default rule now, sqrt for adam, would halve it
 * mid-run). A config recorded since holds its rule (`withSeedDefaults` writes it out).
 */
export function withOlderScaling(json: unknown): unknown {
  if (!isObject(json) || !isObject(json.optimizer)) return json;
  const optimizer = json.optimizer;
  if (optimizer.baseBatch === undefined || optimizer.batchScaling !== undefined) return json;
  return { ...json, optimizer: { ...optimizer, batchScaling: "linear" } };
}

/**
 * Reads the `meta.json` of a run to resume: it holds the SHA-256 of the data the run trained on,
 * which the resume checks its data against, and the warnings of the run's starts. A missing one
 * is `undefined` (the resume goes on without them, and says so). One that cannot be read, or is
 * not a JSON object (a hand edit: anneal replaces it atomically), is refused, naming where and
 * how to go on: the resume would write it anew and lose what it held.
 */
export function readRunMeta(
  dir: string,
  runId: string,
): Promise<Record<string, unknown> | undefined> {
  const path = `${dir}/meta.json`;
  return readRunRecord(path, runId, {
    expected: "the run's JSON record of its data and start",
    holds: "it holds the SHA-256 of the data the run trained on, which a resume checks its " +
      "data against, and the warnings of its start",
    without: `or remove it to resume without them (the resume writes it anew): \`rm ${path}\``,
  });
}

/**
 * Why the run in `dir` ended before its planned epochs by itself, as its `summary.json` says
 * (early stopping, its maxSteps, a divergence); undefined where it did not, or the summary cannot
 * be read. A resume cannot finish such a run's epochs: leaving `--epochs` out trains nothing.
 */
function endedItself(dir: string): { status: string; reason: string } | undefined {
  try {
    const summary = JSON.parse(Deno.readTextFileSync(`${dir}/summary.json`));
    const itself = summary?.status === "diverged" ||
      (summary?.status === "stopped" && summary.stopRequested === false);
    return itself && typeof summary.stopReason === "string"
      ? { status: summary.status, reason: summary.stopReason }
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The hint for `--epochs` below a resumed run's own: how to finish it, or train it longer, by how
 * it ended (`ended`, {@linkcode endedItself}).
 */
function epochsHint(
  ended: { status: string; reason: string } | undefined,
  saved: RunConfig,
): string {
  const more = `give more than ${saved.epochs} to train it longer`;
  // (a wall-time budget is each process's: a resume goes on within its epochs)
  if (!ended || /^budget: reached maxWallTimeSeconds/.test(ended.reason)) {
    return `leave --epochs out to finish its ${saved.epochs} epochs, or ${more}`;
  }
  if (ended.status === "diverged") {
    return `it diverged (${ended.reason}): resumed, it would most likely diverge again; start a ` +
      "new run from its config with the change its hint says";
  }
  // (its step budget ended it: more epochs stop at it again)
  if (/^budget: reached maxSteps/.test(ended.reason)) {
    return `it ended at its step budget (${ended.reason}): give --max-steps more than ` +
      `${saved.maxSteps} to train it longer`;
  }
  return `it ended itself (${ended.reason}), with no epoch of its ${saved.epochs} left to ` +
    `finish: ${more}`;
}

/**
 * Reads the `summary.json` of a run to resume: it holds when the run started, and how it ended,
 * which tells a run that already ended (nothing to resume) from one killed before its end was
 * recorded. A missing one is `undefined` (the resume goes on as after a kill, and says so). One
 * that cannot be read, or is not a JSON object (a hand edit, or a file cut off: anneal replaces
 * it atomically), is refused, naming where and how to go on: read without it, a run that ended
 * would train on, and its start be lost.
 */
export function readRunSummary(
  dir: string,
  runId: string,
): Promise<Record<string, unknown> | undefined> {
  const path = `${dir}/summary.json`;
  return readRunRecord(path, runId, {
    expected: "the run's JSON record of its start and end",
    holds: "it holds when the run started and how it ended, which tells a run that already " +
      "ended from one to go on with",
    without: "or remove it to resume the run as one killed before its end was recorded (its " +
      `checkpoint says where it was; its start time is lost): \`rm ${path}\``,
  });
}

/**
 * The refusal of a run to resume that has no checkpoint (`last`): it ended before its first
 * epoch's end was saved. Where its `summary.json` (`summary`, if it could be read) says it
 * diverged, there says so, and how to start it again: with the change its diagnosis gives (a
 * lower rate), where resuming it, were there a checkpoint, would most likely diverge again.
 */
export function noCheckpointError(
  run: { runId: string; runDir: string; last: string },
  summary: Record<string, unknown> | undefined,
  lr: number | undefined,
): AnnealError {
  const { runId, runDir, last } = run;
  const config = `${runDir}/config.json`;
  const why = typeof summary?.stopReason === "string" ? ` (${summary.stopReason})` : "";
  if (summary?.status !== "diverged") {
    return new AnnealError(
      "checkpoint",
      `Cannot resume run '${runId}': it has no checkpoint (it ended${why} before its first ` +
        "epoch's end was saved)",
      { where: last, hint: `start the run again: \`anneal train -c ${shellWord(config)}\`` },
    );
  }
  const diagnosis = summary.diagnosis as Diagnosis | undefined;
  const finding = diagnosis?.findings?.find((f) => f.kind === "diverged" && f.set?.length);
  const lower = lr === undefined ? "<a lower rate>" : String(lr / 10);
  const change = finding
    ? `the change its diagnosis gives (${finding.fix}): ` +
      `\`${retrainCommand({ ...diagnosis!, config }, finding.set!)}\``
    : `a lower learning rate (optimizer.lr${lr === undefined ? "" : `, ${lr} in it`}; ` +
      "scheduler.maxLr under onecycle), or clipping (clipping.maxNorm): " +
      `\`anneal train -c ${shellWord(config)} --set optimizer.lr=${lower}\``;
  return new AnnealError(
    "checkpoint",
    `Cannot resume run '${runId}': nothing to resume: it diverged${why} before its first ` +
      "checkpoint, which a run saves at its first epoch's end (a resume goes on from one)",
    { where: last, hint: `start the run again with ${change}` },
  );
}

/**
 * The refusal of a run to resume whose `checkpoints/last.ckpt` is not there (`last`). Where the
 * run had recorded whole epochs (`epochs.ndjson`) or has a whole `best.ckpt`, the checkpoint was
 * lost (removed by hand, a copy that left it out), not never written: said so, with the way on
 * from `best.ckpt` when there is one (copied over `last.ckpt`, the epochs after it are trained
 * again), else a new run from its config. Otherwise it is {@linkcode noCheckpointError}'s.
 */
export async function missingCheckpointError(
  run: { runId: string; runDir: string; last: string; runsDir: string; flags?: string[] },
  summary: Record<string, unknown> | undefined,
  lr: number | undefined,
): Promise<AnnealError> {
  const { runId, last } = run;
  const lost = await lostCheckpoint(run);
  if (lost === undefined) return noCheckpointError(run, summary, lr);
  return new AnnealError("checkpoint", `Cannot resume run '${runId}': ${lost.message}`, {
    where: last,
    hint: lost.hint,
  });
}

/**
 * Where a run's `checkpoints/last.ckpt` is missing though the run had recorded whole epochs or
 * has a whole `best.ckpt` (it was lost, not never written): what to say of it, and the way on
 * (from `best.ckpt` where there is one); undefined for a run that ended before its first
 * checkpoint. The resume's refusal and the readers' hint of a crashed run both give it: the
 * readers told to start such a run again, throwing its epochs away.
 */
export async function lostCheckpoint(
  run: { runId: string; runDir: string; runsDir: string; flags?: string[] },
): Promise<{ message: string; hint: string } | undefined> {
  const { runId, runDir, runsDir, flags = [] } = run;
  const last = `${runDir}/checkpoints/last.ckpt`;
  const best = `${runDir}/checkpoints/best.ckpt`;
  const fromBest = await loadCheckpoint(best).then((saved) => saved.state.epoch, () => null);
  const lines = await Deno.readTextFile(`${runDir}/epochs.ndjson`).catch(() => "");
  const recorded = lines.split("\n").filter((line) => {
    try {
      return typeof JSON.parse(line)?.epoch === "number";
    } catch {
      return false;
    }
  }).length;
  if (fromBest === null && recorded === 0) return undefined;
  // (with the flags the resume was given to train longer: `--epochs 8`)
  const anew = `start a new run from its config: ${
    [`anneal train -c ${shellWord(`${runDir}/config.json`)}`, ...flags].join(" ")
  }`;
  // (with no best.ckpt either, its first checkpoint may never have been written: the records go
  // before the checkpoints, so a write that failed, a full disk, leaves epochs with none)
  const how = fromBest === null
    ? "removed, left out of a copy, or never written: its first write failed, as on a full disk"
    : "removed, or left out of a copy";
  return {
    message: `its last checkpoint ${last} is missing, though the run recorded ${recorded} ` +
      `epoch${recorded === 1 ? "" : "s"} (${how})`,
    hint: fromBest === null
      ? `put it back, or ${anew}`
      : `put it back, or resume it from its best epoch's checkpoint (epoch ${fromBest}; the ` +
        `epochs after it are trained again): cp ${shellWord(best)} ${shellWord(last)} && ` +
        `${[resumeCommand(runId, runsDir), ...flags].join(" ")}; or ${anew}`,
  };
}

/**
 * A JSON object record of a run to resume at `path`, or `undefined` where it is missing; one that
 * cannot be read or is not a JSON object is refused, saying what it `holds` and how to go on
 * `without` it.
 */
async function readRunRecord(
  path: string,
  runId: string,
  about: { expected: string; holds: string; without: string },
): Promise<Record<string, unknown> | undefined> {
  const { holds, without } = about;
  const name = path.split("/").pop();
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (cause) {
    if (cause instanceof Deno.errors.NotFound) return undefined;
    throw fileError(cause, {
      action: `resume run '${runId}': cannot read`,
      path,
      expected: about.expected,
      hint: `put the run's ${name} back at ${path} (a file), then resume it; ${without}`,
    }) ?? new AnnealError(
      "storage",
      `Cannot resume run '${runId}': ${path} cannot be read: ${(cause as Error).message}`,
      { where: path, hint: "check the file's permissions", cause },
    );
  }
  const refuse = (what: string, where: string, fix: string, cause?: unknown) =>
    new AnnealError("storage", `Cannot resume run '${runId}': ${path} ${what}`, {
      where,
      hint: `${fix}, then resume it (${holds}); ${without}`,
      cause,
    });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    if (!(cause instanceof SyntaxError)) throw cause;
    const syntax = jsonSyntax(text, cause);
    const at = syntax.line === undefined
      ? ""
      : ` at line ${syntax.line}, column ${syntax.column}${
        syntax.excerpt ? ` (\`${syntax.excerpt}\`)` : ""
      }`;
    throw refuse(
      `is not valid JSON${at}: ${syntax.reason}`,
      syntax.line === undefined ? path : `${path}:${syntax.line}:${syntax.column}`,
      // (an empty file was told to hold a config: 'write a JSON object, like {"epochs": 5}')
      text.trim() === "" ? "put back the object it held" : syntax.hint,
      cause,
    );
  }
  if (!isObject(json)) {
    throw refuse(
      `holds ${json === null ? "null" : Array.isArray(json) ? "an array" : `a ${typeof json}`}, ` +
        "not the JSON object anneal writes there",
      path,
      "put back the object it held",
    );
  }
  return json;
}

/**
 * `json` (a config) without the `interval`s that change nothing, or those of them that are
 * `only`: a plateau schedule's (it changes the rate at epoch ends, on its metric), and those of
 * a sequential's schedules (they count what the sequential counts, as torch's SequentialLR steps
 * them all at once). A config.json saved while every schedule had the default `interval: "step"`
 * holds it there, which a config now gets a warning for (`configWarnings`) where the sequential
 * counts epochs; a user may have written them either way. Each way trains alike.
 */
function withoutUnusedIntervals(json: unknown, only?: "step"): unknown {
  if (!isObject(json) || !isObject(json.scheduler)) return json;
  const unused = (spec: unknown) =>
    isObject(spec) && spec.interval !== undefined && (only === undefined || spec.interval === only);
  const without = (spec: Record<string, unknown>) => {
    const { interval: _, ...rest } = spec;
    return rest;
  };
  let scheduler = json.scheduler;
  if (scheduler.name === "plateau" && unused(scheduler)) scheduler = without(scheduler);
  if (scheduler.name === "sequential" && Array.isArray(scheduler.schedulers)) {
    scheduler = {
      ...scheduler,
      schedulers: scheduler.schedulers.map((child: unknown) =>
        unused(child) ? without(child as Record<string, unknown>) : child
      ),
    };
  }
  return { ...json, scheduler };
}

/**
 * The config a resumed run trains with: the one saved in its directory. `input` (what the caller
 * passed to `train`) locates the run (`runsDir`) and may raise `epochs` or `maxSteps`, to train it
 * longer (no step already taken would have gone otherwise: every schedule's horizon is written in
 * the config, and the trainer checks the schedule's reach again at its start); any other field it
 * sets must agree with the saved config, or the resume is refused, naming the fields (a resume
 * never changes settings silently). `optimizer.maximize` above all: the run's best epoch, early
 * stopping and plateau state were recorded for the direction it started with.
 */
export function resumedConfig(
  saved: RunConfig,
  input: unknown,
  runId: string,
  dir: string,
): RunConfig {
  const given = plain(input ?? {}) as Record<string, unknown>;
  const savedJson = plain(saved) as Record<string, unknown>;
  const { runsDir: _, epochs, maxSteps, ...rest } = given;
  const merged = merge(savedJson, rest);
  let candidate: unknown = merged;
  try {
    candidate = plain(parseConfig(merged));
  } catch {
    // compared as given: the differences below are what makes it invalid
  }
  // arrays as leaves: a --set writes an array whole; data files by where they are (the saved
  // config has them absolute, a caller may give them relative to the working directory); no
  // interval that changes nothing (an older anneal saved 'step' on a sequential's schedules, the
  // config the run was started with may have none)
  const conflicts = jsonDifferences(
    withoutUnusedIntervals(withAbsolutePaths(savedJson)),
    withoutUnusedIntervals(withAbsolutePaths(candidate)),
    { arraysAsLeaves: true },
  );
  if (conflicts.length > 0) {
    const listed = conflicts.slice(0, 5).map(({ path, stored, given }) =>
      `'${path}' is ${JSON.stringify(stored)} in its config.json, ${JSON.stringify(given)} given`
    ).join("; ") + (conflicts.length > 5 ? `; and ${conflicts.length - 5} more` : "");
    const sets = conflicts.slice(0, 5).map(({ path, given }) =>
      ` --set ${path}=${JSON.stringify(given) ?? "null"}`
    ).join("");
    // the direction of the loss: what the run kept of its past reads it one way
    const direction = conflicts.some(({ path }) =>
        path === "optimizer.maximize"
      )
      ? ` (optimizer.maximize turns the loss's direction around: its best epoch and best.ckpt, ` +
        `early stopping's best-so-far and a plateau schedule's state were recorded for the ` +
        `direction it started with)`
      : "";
    throw new AnnealError(
      "usage",
      `Cannot resume run '${runId}' with other settings: ${listed}${direction}`,
      {
        where: `${dir}/config.json`,
        hint: `a resumed run keeps the config it was started with; only --epochs and ` +
          `--max-steps may raise its epochs and maxSteps, to train it longer. For other ` +
          `settings, start a new run from its config: ` +
          `\`anneal train -c ${shellWord(`${dir}/config.json`)}${sets}\``,
      },
    );
  }
  const raised = { ...saved };
  if (epochs !== undefined && epochs !== saved.epochs) {
    const wanted = parseConfig({ ...savedJson, epochs }).epochs;
    if (wanted < saved.epochs) {
      throw new AnnealError(
        "usage",
        `Cannot resume run '${runId}' with epochs ${wanted}: it trains ${saved.epochs} epochs, ` +
          `and a resume can only raise that`,
        {
          where: "epochs",
          hint: epochsHint(endedItself(dir), saved),
        },
      );
    }
    raised.epochs = wanted;
  }
  if (maxSteps !== undefined && maxSteps !== saved.maxSteps) {
    raised.maxSteps = raisedMaxSteps(saved, savedJson, maxSteps, runId);
  }
  return raised;
}

/**
 * Refuses to resume a run whose `config.json` was changed after its last checkpoint was written
 * (a hand edit; or the checkpoint is another run's): `recorded` is the config that checkpoint was
 * trained under (its state's `config`), `config` the one the resume would train with. A resume would otherwise go on at the new values
 * without a word: another learning rate, schedule or clipping from the step resumed at. Only a
 * raise of `epochs` or `maxSteps` is no difference (what `--epochs` and `--max-steps` do, whose
 * config.json is written before the next checkpoint), nor where the runs directory now is. A
 * checkpoint of an older anneal records no config: nothing to compare, it resumes.
 */
export function checkCheckpointConfig(
  recorded: unknown,
  config: RunConfig,
  run: { runId: string; dir: string },
): void {
  if (!isObject(recorded)) return;
  const { runId, dir } = run;
  // both as a resume reads them: defaults filled in, no interval that changes nothing, data
  // files by where they are
  const comparable = (json: unknown) => {
    let parsed: unknown = json;
    try {
      parsed = plain(parseConfig(withOlderScaling(withoutUnusedIntervals(json, "step"))));
    } catch {
      // (a config of an anneal whose schema differs: compared as written)
    }
    const { runsDir: _, ...rest } = withoutUnusedIntervals(withAbsolutePaths(parsed)) as Record<
      string,
      unknown
    >;
    return rest;
  };
  const raised = (stored: unknown, given: unknown) =>
    typeof stored === "number" && typeof given === "number" && given >= stored;
  const stored = comparable(recorded), given = comparable(plain(config));
  const differences = jsonDifferences(stored, given, { arraysAsLeaves: true });
  // another kind of model (or optimizer, schedule) whole: not each of its defaults
  const swapped = differences.filter(({ path }) => /\.(kind|name)$/.test(path))
    .map(({ path }) => path.replace(/\.(kind|name)$/, ""));
  const at = (json: unknown, path: string) =>
    path.split(".").reduce((value, key) => isObject(value) ? value[key] : undefined, json);
  const changed = [
    ...swapped.map((path) => ({ path, stored: at(stored, path), given: at(given, path) })),
    ...differences.filter(({ path }) => !swapped.some((whole) => path.startsWith(`${whole}.`))),
  ].filter(({ path, stored, given }) =>
    !((path === "epochs" || path === "maxSteps") && raised(stored, given))
  ).sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  if (changed.length === 0) return;
  const value = (json: unknown) => json === undefined ? "not set" : JSON.stringify(json);
  const listed =
    changed.slice(0, 8).map(({ path, stored, given }) =>
      `'${path}' is ${value(given)} in config.json, ${value(stored)} in the checkpoint`
    ).join("; ") + (changed.length > 8 ? `; and ${changed.length - 8} more` : "");
  throw new AnnealError(
    "checkpoint",
    `Cannot resume run '${runId}': its config.json is not the config its last checkpoint ` +
      `(${dir}/checkpoints/last.ckpt) was trained under, and the run would go on with other ` +
      `settings: ${listed}`,
    {
      where: `${dir}/config.json`,
      hint: `was config.json edited since (or the checkpoint copied from another run)? A ` +
        `resumed run keeps the config it was started with (--epochs and --max-steps only raise ` +
        `its epochs and maxSteps). To resume it, write the checkpoint's values back into ` +
        `${dir}/config.json, or remove it (\`rm ${shellWord(`${dir}/config.json`)}\`: the ` +
        `resume writes it again from the checkpoint); to train with the settings config.json ` +
        `has, start a new run from it first: ` +
        `\`anneal train -c ${shellWord(`${dir}/config.json`)}\``,
    },
  );
}

/** The step budget a resume raises `saved`'s to: above it, or the resume is refused saying why. */
function raisedMaxSteps(
  saved: RunConfig,
  savedJson: Record<string, unknown>,
  maxSteps: unknown,
  runId: string,
): number {
  const wanted = parseConfig({ ...savedJson, maxSteps }).maxSteps!;
  if (saved.maxSteps === undefined) {
    throw new AnnealError(
      "usage",
      `Cannot resume run '${runId}' with maxSteps ${wanted}: it has no step budget (it trains ` +
        `its ${counted(saved.epochs, "epoch")}), and a resume can only raise one`,
      {
        where: "maxSteps",
        hint: `leave --max-steps out to finish its ${counted(saved.epochs, "epoch")} (--epochs ` +
          `N trains it longer); for a run of ${counted(wanted, "step")}, start a new run from ` +
          `its config with --max-steps ${wanted}`,
      },
    );
  }
  if (wanted < saved.maxSteps) {
    throw new AnnealError(
      "usage",
      `Cannot resume run '${runId}' with maxSteps ${wanted}: it trains ` +
        `${counted(saved.maxSteps, "step")} at most, and a resume can only raise that`,
      {
        where: "maxSteps",
        hint:
          `leave --max-steps out to finish its ${
            counted(saved.maxSteps, "step")
          }, or give more than ` +
          `${saved.maxSteps} to train it longer`,
      },
    );
  }
  return wanted;
}

/** A config's data paths absolute (against the working directory), where it has a data section. */
function withAbsolutePaths(config: unknown): unknown {
  if (!isObject(config) || !isObject(config.data)) return config;
  return { ...config, data: absoluteDataPaths(config.data as ResolvedDataSpec, Deno.cwd()) };
}

/**
 * Refuses to resume a run whose `config.json` names a data file by a relative path that does not
 * lead to one from the working directory. A run records its data files' absolute paths; one
 * started by an older anneal recorded them as written, relative to the directory it was started
 * in, which its record does not name: from another directory the data loader would not find them
 * (or would find others), after the run's record had been touched. Said before, with the fixes.
 */
export async function checkRelativeDataPaths(
  saved: RunConfig,
  runId: string,
  dir: string,
): Promise<void> {
  for (const { field, path } of dataPathFields(saved.data)) {
    if (isAbsolute(path)) continue;
    const found = await Deno.stat(path).then(() => true, () => false);
    if (found) continue;
    throw new AnnealError(
      "file",
      `Cannot resume run '${runId}': its config.json names ${field} '${path}', a path relative ` +
        `to the directory the run was started in (the anneal that started it recorded data ` +
        `paths as written), and there is no '${path}' from this directory (${Deno.cwd()})`,
      {
        where: `${dir}/config.json`,
        hint: `resume it from the directory it was started in, or write the absolute path of ` +
          `its data into ${dir}/config.json (${field}: "/<that directory>/${path}")`,
      },
    );
  }
}

/** The value as JSON holds it (no `undefined` keys), for comparing. */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

/** `over` laid on `base`: objects field by field, anything else replaced. */
function merge(base: unknown, over: unknown): unknown {
  if (!isObject(base) || !isObject(over)) return over;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) out[key] = merge(base[key], value);
  return out;
}

/**
 * Loads the checkpoint a resume continues from, `checkpoints/last.ckpt`. One that is damaged (cut
 * short, changed after it was written) is never loaded: the error says how to go on, from the
 * best epoch's checkpoint when that one is whole (copied over `last.ckpt`, the epochs after it are
 * trained again), else with a new run from the run's config. One that cannot be read (a directory
 * in its place, a permission) says the OS's reason, and the same ways on once the file is fixed
 * or moved away. `flags`: those the resume was given to train longer (`--epochs 8`), which the
 * command in the hint repeats.
 */
export async function loadResumeCheckpoint(
  runDir: string,
  runId: string,
  runsDir: string,
  flags: string[] = [],
): Promise<{ state: CheckpointState; weights: WeightMap }> {
  const last = `${runDir}/checkpoints/last.ckpt`;
  try {
    return await loadCheckpoint(last);
  } catch (error) {
    if (!(error instanceof AnnealError)) throw error;
    const damaged = / is damaged: /.test(error.message);
    const unreadable = error.cause instanceof Error &&
      !(error.cause instanceof Deno.errors.NotFound);
    if (!damaged && !unreadable) throw error;
    const best = `${runDir}/checkpoints/best.ckpt`;
    const fromBest = await loadCheckpoint(best).then((saved) => saved.state.epoch, () => null);
    const anew = `start a new run from its config: ${
      [`anneal train -c ${shellWord(`${runDir}/config.json`)}`, ...flags].join(" ")
    }`;
    // (cp onto a directory in its place would copy into it: moved away first)
    const away = unreadable ? `mv ${shellWord(last)} ${shellWord(`${last}.unreadable`)} && ` : "";
    const ways = fromBest === null ? anew : `resume it from its best epoch's checkpoint (epoch ` +
      `${fromBest}; the epochs after it are trained again): ${away}cp ${shellWord(best)} ${
        shellWord(last)
      } && ${[resumeCommand(runId, runsDir), ...flags].join(" ")}; or ${anew}`;
    throw new AnnealError("checkpoint", error.message, {
      where: last,
      hint: unreadable
        ? `${error.hint}, then ${[resumeCommand(runId, runsDir), ...flags].join(" ")}; or ${ways}`
        : ways,
      cause: error.cause,
    });
  }
}

/**
 * What is wrong with the best epoch's checkpoint of a run to resume (`checkpoints/best.ckpt`, for
 * the best epoch `state.bestEpoch` its last checkpoint recorded): missing, damaged or holding
 * another epoch; undefined where it is whole, or the run has no best epoch. A resume used to say
 * so only where `earlyStopping.restoreBest` (with a patience) restores it at the run's end, though
 * the file is the run's only copy of that epoch's weights either way.
 *
 * Where the checkpoint resumed from is itself the best epoch's (at that epoch's end), the file is
 * written again from it: the run writes the two files one after the other, so a kill between them
 * left `best.ckpt` an older epoch's for good, and the resume ended with the last epoch's weights
 * (or, without `restoreBest`, a `best.ckpt` that its summary's best epoch contradicts). What it
 * replaces could serve no resume (missing, damaged, another epoch's), so a resume refused later
 * loses nothing by it. The warning returned then says it was rewritten.
 */
export async function checkBestCheckpoint(
  runDir: string,
  state: { epoch: number; bestEpoch?: number | null; within?: unknown },
  earlyStopping: { restoreBest: boolean; patience?: number },
): Promise<{ message: string; hint: string } | undefined> {
  const bestEpoch = state.bestEpoch;
  if (typeof bestEpoch !== "number") return undefined;
  const best = `${runDir}/checkpoints/best.ckpt`;
  const found = await loadCheckpoint(best).then(
    (saved) =>
      saved.state.epoch === bestEpoch ? undefined : `holds epoch ${saved.state.epoch}'s weights`,
    (error) => {
      const cause = (error as { cause?: unknown }).cause;
      if (cause instanceof Deno.errors.NotFound) return "is missing";
      const message = (error as Error).message;
      return / is damaged: /.test(message)
        ? `is damaged (${message.replace(/^.* is damaged: /, "")})`
        : `cannot be read (${cause instanceof Error ? cause.message : message})`;
    },
  );
  if (found === undefined) return undefined;
  let unwritten = "";
  // (at that epoch's end: one stopped within the next epoch holds weights trained past it)
  if (bestEpoch === state.epoch && state.within === undefined) {
    const last = `${runDir}/checkpoints/last.ckpt`;
    try {
      // byte for byte: the run sends one checkpoint for both files of an epoch that is its best
      await writeFileAtomic(best, await readWholeFile(last));
      return {
        message: `the best epoch's checkpoint ${best} ${found}, though the checkpoint the run ` +
          `resumes from, ${last}, is that best epoch's (epoch ${bestEpoch}; the run was stopped ` +
          "between writing the two): written again from it",
        hint: "nothing to do",
      };
    } catch (error) {
      unwritten = `, and could not be written again from ${last} (${
        error instanceof Error ? error.message : error
      })`;
    }
  }
  const restores = earlyStopping.restoreBest && earlyStopping.patience !== undefined;
  return {
    message: `the best epoch's checkpoint ${best} ${found}${unwritten}: ` +
      (restores
        ? `should epoch ${bestEpoch} stay the best, the run ends with its last epoch's weights, ` +
          "not that epoch's (earlyStopping.restoreBest), and its test pass runs on them"
        : `epoch ${bestEpoch}'s weights, the run's best so far, are not on disk, and should that ` +
          "epoch stay the best, best.ckpt does not hold the best epoch's weights at the run's end"),
    hint: `put back the file as the run wrote it (epoch ${bestEpoch}'s) ` +
      (restores
        ? "before the run ends to restore that epoch"
        : "to keep that epoch's weights; nothing to do if the last epoch's are the ones you need"),
  };
}

/**
 * The epochs up to `epoch` (the last its checkpoint holds) that the run's `epochs.ndjson` lacks:
 * records are appended unsynced and checkpoints synced, so a machine that went down can leave the
 * checkpoint ahead of them; a resume went on without a word and the gap stayed for good. A torn
 * line counts as none; a file that cannot be read, other than a missing one, as whole (its
 * reader says why elsewhere).
 */
export async function lostEpochs(runDir: string, epoch: number): Promise<number[]> {
  let text = "";
  try {
    text = await Deno.readTextFile(`${runDir}/epochs.ndjson`);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) return [];
  }
  const recorded: number[] = [];
  for (const line of text.split("\n")) {
    try {
      const record = JSON.parse(line);
      if (typeof record?.epoch === "number") recorded.push(record.epoch);
    } catch {
      // (a torn or empty line)
    }
  }
  return missingEpochs(recorded, epoch);
}

/**
 * The steps before `step` (those its checkpoint holds) that the run's `steps.ndjson` lacks, as
 * {@linkcode lostEpochs} finds an `epochs.ndjson`'s: its lines are appended unsynced as well, and a
 * resume went on without a word, the gap in the run's curves for good. Lines are lost from the
 * file's end (appends the machine did not write out), so its last whole line says how far it got:
 * read from the file's end, not the whole file (a run of 1e6 steps writes ~150 MB of them). A torn
 * line counts as none; a missing file lacks every step; one that cannot be read, none.
 */
export async function lostSteps(runDir: string, step: number): Promise<number[]> {
  const last = await lastRecordedStep(`${runDir}/steps.ndjson`);
  if (last === undefined) return [];
  const from = Math.max(0, last + 1);
  return Array.from({ length: Math.max(0, step - from) }, (_, i) => from + i);
}

/** The part of `steps.ndjson`'s end read for its last whole line, and more while it holds none. */
const TAIL_BYTES = 1 << 16;

/**
 * The highest step of `path`'s whole lines at its end: -1 for a missing or empty file, or one whose
 * lines hold no step; undefined where it cannot be read.
 */
async function lastRecordedStep(path: string): Promise<number | undefined> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (error) {
    return error instanceof Deno.errors.NotFound ? -1 : undefined;
  }
  try {
    const size = (await file.stat()).size;
    for (let span = TAIL_BYTES;; span *= 4) {
      const start = Math.max(0, size - span);
      const bytes = new Uint8Array(size - start);
      await file.seek(start, Deno.SeekMode.Start);
      for (let read = 0; read < bytes.length;) {
        const n = await file.read(bytes.subarray(read));
        if (n === null) break;
        read += n;
      }
      // (the first line of a window that does not start the file may be a part of one)
      const lines = new TextDecoder().decode(bytes).split("\n").slice(start > 0 ? 1 : 0);
      let highest = -1;
      for (const line of lines) {
        try {
          const at = JSON.parse(line)?.step;
          if (Number.isInteger(at) && at > highest) highest = at;
        } catch {
          // (a torn or empty line)
        }
      }
      if (highest >= 0 || start === 0) return highest;
    }
  } catch {
    return undefined;
  } finally {
    file.close();
  }
}

/**
 * Numbers in increasing order as runs of consecutive ones: `0-4, 9, 12-13`.
 *
 * @example
 * ```ts
 * import { numberRuns } from "./resume.ts";
 * console.assert(numberRuns([0, 1, 2, 3, 4, 9, 12, 13]) === "0-4, 9, 12-13");
 * ```
 */
export function numberRuns(numbers: number[]): string {
  const runs: string[] = [];
  for (let i = 0; i < numbers.length;) {
    let j = i;
    while (j + 1 < numbers.length && numbers[j + 1] === numbers[j] + 1) j++;
    runs.push(j === i ? `${numbers[i]}` : `${numbers[i]}-${numbers[j]}`);
    i = j + 1;
  }
  return runs.join(", ");
}

/**
 * The epochs 0..`epoch` not among `recorded` (a run's epoch records; a resume's, or a sweep
 * trial's retry, checks them against its checkpoint).
 *
 * @example
 * ```ts
 * import { missingEpochs } from "./resume.ts";
 * console.assert(missingEpochs([0, 2, 5], 3).join() === "1,3");
 * ```
 */
export function missingEpochs(recorded: Iterable<number>, epoch: number): number[] {
  const have = new Set(recorded);
  return Array.from({ length: epoch + 1 }, (_, i) => i).filter((i) => !have.has(i));
}
