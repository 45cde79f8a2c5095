/**
 * The run a sweep trial trains in. A new trial starts a run of its own. A retry (its trial
 * interrupted by Ctrl-C, or reaped after its worker died) continues the run of the trial it
 * retries, from that run's last checkpoint, as `anneal train --resume` does, where that run can be
 * resumed with the trial's config; else it starts a new run, and says why.
 *
 * @module
 */
import { basename, dirname, resolve } from "node:path";
import type { RunConfig } from "../config.ts";
import { AnnealError } from "../errors.ts";
import { readRun } from "../report/records.ts";
import { interruptionOf, type Report, type TrialContext } from "../sweeps/study.ts";
import { loadCheckpoint } from "./checkpoint.ts";
import { missingEpochs, readSavedConfig, resumedConfig } from "./resume.ts";
import { trainWithSpares } from "./supervisor.ts";
import type { SpareActors } from "./actor_workers.ts";
import type { EpochEvent, WarningEvent } from "./events.ts";

/** How a retry's run started, for the line `anneal sweep` prints. */
export type TrialRunStart =
  /** It continues the run of the trial it retries from that run's last checkpoint. */
  | { trial: number; resumed: true; runDir: string; epoch: number; step: number }
  /**
   * It trains a new run, `runDir`: the run of the trial it retries (`previous`, where one was
   * recorded) could not be resumed, for `reason`.
   */
  | { trial: number; resumed: false; runDir: string; previous?: string; reason: string };

/**
 * How a retry's run started, in words (the line `anneal sweep` prints after `trial N  `): where
 * the run it continues goes on from (a checkpoint within the run's first epoch is after no
 * epoch), or the new run and why.
 *
 * @example
 * ```ts
 * import { describeTrialRun } from "./trial_run.ts";
 * const within = { trial: 3, resumed: true, runDir: "/r/trial-1", epoch: -1, step: 7 } as const;
 * console.assert(describeTrialRun(within).includes("(within its first epoch, at step 7)"));
 * ```
 */
export function describeTrialRun(start: TrialRunStart): string {
  if (start.resumed) {
    const where = start.epoch < 0
      ? `within its first epoch, at step ${start.step}`
      : `after epoch ${start.epoch}, step ${start.step}`;
    return `resumes the run of the trial it retries from its last checkpoint (${where}): ` +
      start.runDir;
  }
  const why = start.previous === undefined
    ? start.reason
    : `the run of the trial it retries, ${start.previous}, cannot be resumed: ${start.reason}`;
  return `starts over in a new run, ${start.runDir}: ${why}`;
}

/** A run a retry can continue, from its last checkpoint. */
export interface ResumableRun {
  /** The run's directory. */
  runDir: string;
  /** The checkpoint's epoch (zero-based, the last one it completed) and step. */
  epoch: number;
  step: number;
  /** The run's config name (the study's base config may have been renamed since). */
  name?: string;
  /** The run's records of its epochs up to the checkpoint's: the trial's values so far. */
  epochs: Record<string, number>[];
}

/** `Cannot resume run 'ID': x` or `Cannot resume run 'ID' with x` as `x`. */
const detail = (message: string) => message.replace(/^Cannot resume run '[^']*'(: | with )/, "");

/**
 * Whether the run in `runDir` (recorded by the trial a retry retries) can be continued with the
 * retry's `config`: the run, or in words why not (its directory gone, its config not the trial's,
 * no checkpoint yet, a damaged one, its records short of the checkpoint's epoch).
 */
export async function resumableRun(
  runDir: string,
  config: RunConfig,
): Promise<ResumableRun | string> {
  const runId = basename(runDir);
  try {
    if (!(await Deno.stat(runDir)).isDirectory) return "it is not a directory";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return "its directory is gone (removed, or on another machine)";
    }
    return `its directory cannot be read (${(error as Error).message})`;
  }
  let name: string | undefined;
  try {
    const saved = await readSavedConfig(runDir, runId);
    name = saved.name;
    try {
      // its name and where it is are the run's own; the rest must be the trial's
      resumedConfig(saved, { ...config, name, runsDir: undefined }, runId, runDir);
    } catch (error) {
      if (!(error instanceof AnnealError)) throw error;
      return `its config is not the trial's: ${detail(error.message)}`;
    }
  } catch (error) {
    if (!(error instanceof AnnealError)) throw error;
    return `its config cannot be read: ${detail(error.message)}`;
  }
  let epoch: number, step: number;
  try {
    ({ epoch, step } = (await loadCheckpoint(`${runDir}/checkpoints/last.ckpt`)).state);
  } catch (error) {
    if (!(error instanceof AnnealError)) throw error;
    return error.cause instanceof Deno.errors.NotFound
      ? "it has no checkpoint yet (it stopped before its first epoch's end)"
      : `its last checkpoint cannot be loaded: ${error.message}`;
  }
  const epochs = (await readRun(runDir)).epochs.filter((record) => record.epoch <= epoch);
  const lost = missingEpochs(epochs.map((record) => record.epoch), epoch);
  if (lost.length > 0) {
    return `its epochs.ndjson lacks epoch${lost.length > 1 ? "s" : ""} ${lost.join(", ")} ` +
      `of the ${epoch + 1} its checkpoint holds: the trial's values there are not known`;
  }
  return { runDir, epoch, step, name, epochs: epochs as unknown as Record<string, number>[] };
}

/** What {@linkcode trainTrial} trains, and whom it tells. */
export interface TrialTraining {
  /** The trial's config, its `runsDir` the study's runs directory. */
  config: RunConfig;
  /** The sweep's metric, and the direction in which it is better. */
  metric: string;
  direction: "minimize" | "maximize";
  report: Report;
  context: TrialContext;
  /**
   * The study prunes (its pruner is not `none`): each epoch is reported before the run trains
   * past it (`TrainOptions.epochGate`), so that a trial pruned at an epoch stops there. Otherwise
   * a run of short epochs trains on from its epoch ends while they are reported.
   */
  pruning?: boolean;
  /** Told how a retry's run started: resumed, or anew and why. */
  onStart?: (start: TrialRunStart) => void;
  /**
   * Told of each warning the trial's run gives at its start (its config's, its data's, its
   * schedule's reach: those its `meta.json` keeps, as the supervisor tells them: any before the
   * `plan` event, and the data loader's), not of those its training gives (skipped steps).
   */
  onWarning?: (trial: number, warning: WarningEvent) => void;
  /**
   * Actor Workers started ahead for the sweep's runs: the trial's run takes a set where one
   * waits, and starts one for the next trial once its own actors are up.
   */
  spares?: SpareActors;
}

/** Why a retry trains a new run: the run it retries, where one was recorded, and the reason. */
type Anew = { previous?: string; reason: string };

/**
 * Trains a trial (a retry in the run of the trial it retries, where it can: see the module doc),
 * reporting each epoch's metric, and returns its value: its best metric over all its run's
 * epochs, those before a resume included. Throws where the run did not finish (failed, diverged,
 * interrupted).
 */
export async function trainTrial(training: TrialTraining): Promise<number> {
  const { config, context } = training;
  let anew: Anew | undefined;
  if (context.retries > 0) {
    const previous = context.runDir ?? undefined;
    const resumable = previous === undefined
      ? "the trial it retries recorded no run (it stopped before its run started, or an older " +
        "anneal ran it)"
      : await resumableRun(previous, config);
    if (typeof resumable === "string") anew = { previous, reason: resumable };
    else {
      const outcome = await trainRun(training, resumable);
      if (typeof outcome === "number") return outcome;
      anew = { previous, reason: outcome.refused };
    }
  }
  const outcome = await trainRun(training, undefined, anew);
  if (typeof outcome === "number") return outcome;
  throw new Error(outcome.refused);
}

/** How a resumed run that had ended comes back, finished before its trainer starts. */
const ENDED = new Set(["completed", "stopped", "diverged"]);

/** An epoch record's or event's value of `metric`; NaN where it holds none. */
function metricOf(metrics: Record<string, number>, metric: string): number {
  const value = metrics[metric];
  return typeof value === "number" ? value : NaN;
}

/**
 * Trains one run of a trial: `resumable` continued, or a new one. Returns the trial's value, or
 * where a resume was turned down as it started (by `train`'s own checks), why.
 */
async function trainRun(
  training: TrialTraining,
  resumable?: ResumableRun,
  anew?: Anew,
): Promise<number | { refused: string }> {
  const { config, context, metric, direction, report, spares } = training;
  // The pruner's judgement on each epoch, before the run trains past it: a trial pruned at an
  // epoch stops there (on epochs shorter than the actors' answers, it went on up to 16 epochs
  // before the stop reached it, its record at odds with the study's). After the epochs a resumed
  // run replays (`resumeGoesOn`, once its plan is out), in order.
  let gateError: unknown;
  let replayed: () => void = () => {};
  const replay = new Promise<void>((resolve) => (replayed = resolve));
  const epochGate = training.pruning
    ? async (event: EpochEvent) => {
      await replay;
      // (a metric the run does not log is refused by the events' loop below)
      if (pruned || gateError !== undefined || !(metric in event.metrics)) return;
      try {
        await epochEnded(event.epoch, metricOf(event.metrics, metric));
      } catch (error) {
        gateError = error; // (thrown by the events' loop below: the run stops at this end)
        throw error;
      }
    }
    : undefined;
  const run = resumable
    ? trainWithSpares(
      spares,
      { ...config, name: resumable.name, runsDir: dirname(resumable.runDir) },
      { resume: basename(resumable.runDir), epochGate },
    )
    : trainWithSpares(spares, config, {
      runId: `trial-${context.number}-${crypto.randomUUID().slice(0, 4)}`,
      epochGate,
    });
  // Interrupted (Ctrl-C): the run stops after its current step as `interrupted`, its checkpoint
  // kept; taken away (reaped: this worker stalled): its result would be dropped.
  const onAbort = () => {
    const interrupted = interruptionOf(context.signal);
    if (interrupted !== undefined) run.interrupt(interrupted);
    else if (context.signal.reason !== "pruned") run.stop(String(context.signal.reason));
  };
  if (context.signal.aborted) onAbort();
  else context.signal.addEventListener("abort", onAbort, { once: true });
  let best: number | undefined;
  let pruned = false;
  let started = false;
  // (its last epoch is recorded, not judged: pruned there, it had run to its end all the same,
  // and was scored by that epoch and left out of the best)
  const epochEnded = async (epoch: number, value: number, judge = epoch + 1 < config.epochs) => {
    const better = best === undefined || (direction === "minimize" ? value < best : value > best);
    if (Number.isFinite(value) && better) best = value;
    if (await report(epoch, value, { judge })) {
      pruned = true;
      run.stop("pruned by the sweep");
    }
  };
  const trial = context.number;
  let resumedFrom: { runDir: string; epoch: number; step: number } | undefined;
  /** The resume went ahead: the trainer took its checkpoint, or the run had ended. */
  let continued = false;
  // The epochs before the checkpoint count as the trial's own, as they would have. They are
  // told, and the resume announced, once it goes ahead (the trainer took the checkpoint on the
  // data it loaded, or the run had ended): a resume the trainer turns down starts over instead.
  // The pruner judges them against the study as it is now, as a new run's, but for a run that
  // had ended: its result is taken as it is (the pruner let it run to its end).
  const resumeGoesOn = async (ended: boolean) => {
    if (continued || !resumable || !resumedFrom) return;
    continued = true;
    training.onStart?.({ trial, resumed: true, ...resumedFrom });
    for (const record of resumable.epochs) {
      if (!pruned && record.epoch <= resumedFrom.epoch) {
        await epochEnded(
          record.epoch,
          metricOf(record, metric),
          !ended && record.epoch + 1 < config.epochs,
        );
      }
    }
  };
  /** The run has planned its steps: later warnings but the data loader's are its training's. */
  let planned = false;
  try {
    for await (const event of run.events()) {
      if (event.type === "run.started") {
        started = true;
        const runDir = resolve(event.runDir);
        await context.recordRun(runDir);
        if (anew) training.onStart?.({ trial, resumed: false, runDir, ...anew });
        if (event.resumedFrom) resumedFrom = { runDir, ...event.resumedFrom };
      }
      if (event.type === "warning" && (!planned || event.actor === "dataLoader")) {
        training.onWarning?.(trial, event);
      }
      if (event.type === "plan") planned = true;
      // (a run resumed at its end, killed before its end was recorded: taken as it ended, as one
      // whose end was, not judged again against the study as it is now)
      if (event.type === "plan") await resumeGoesOn(event.nothingToTrain === true);
      if (event.type === "run.finished" && ENDED.has(event.result.status)) await resumeGoesOn(true);
      if (event.type === "plan" || event.type === "run.finished") replayed();
      if (gateError !== undefined) throw gateError;
      if (event.type !== "epoch" || pruned) continue;
      if (!(metric in event.metrics)) {
        throw new AnnealError(
          "config",
          `Sweep metric '${metric}' is not among ${
            Object.keys(event.metrics).filter((name) => name !== "lr").join(", ")
          } (the metrics its epochs log)`,
          {
            where: "sweep.metric",
            hint: "use a logged epoch metric: valLoss needs data.validationSplit > 0",
          },
        );
      }
      if (!epochGate) await epochEnded(event.epoch, metricOf(event.metrics, metric));
    }
    if (gateError !== undefined) throw gateError;
  } catch (error) {
    // (the metric not logged; the trial taken away as its run was recorded)
    run.stop(error instanceof AnnealError ? error.message : String(error));
    await run.result.catch(() => {});
    throw error;
  } finally {
    context.signal.removeEventListener("abort", onAbort);
  }
  let finished;
  try {
    finished = await run.result;
  } catch (error) {
    // a resume turned down before the run started (its lock held by a run still stopping), or
    // by the trainer, on the data it loaded (changed since the checkpoint), before a step
    if (
      resumable && error instanceof AnnealError &&
      (!started || (!continued && error.code === "checkpoint"))
    ) {
      return { refused: started ? detail(error.message) : error.message };
    }
    throw error;
  }
  // (an interrupted run's best is of the epochs it got to: not the trial's value)
  if (
    finished.status === "failed" || finished.status === "diverged" ||
    finished.status === "interrupted" || best === undefined
  ) {
    throw new Error(`${finished.status}: ${finished.reason}`);
  }
  return best;
}
