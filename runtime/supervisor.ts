/**
 * The supervisor: starts the five actors as Workers, gives each pair that talks a
 * MessageChannel of its own, writes the run directory from their events, watches them (an
 * actor that throws or stops answering ends the run, naming the actor and the cause), and
 * terminates every Worker at the end, whatever happened; but a run of a sweep or a tune that
 * ended cleanly hands its Workers back to their pool, for the next run.
 *
 * @module
 */
import {
  baseLearningRate,
  configWarnings,
  parseConfig,
  type RunConfig,
  type RunConfigInput,
} from "../config.ts";
import { AnnealError, deserializeError, type ErrorCode } from "../errors.ts";
import { writeErrorAgain } from "../file_errors.ts";
import { checkOptionNames } from "../option_names.ts";
import type { ActorName, Init, SupervisorInbox } from "../actors/protocol.ts";
import { actorPermissions, narrowActorPermissions } from "./actor_permissions.ts";
import {
  ACTORS,
  actorsKey,
  ActorWorker,
  GPU_TEARDOWN_MS,
  type PermissionsOf,
  type SpareActors,
  webGpuTeardowns,
} from "./actor_workers.ts";
import {
  type CheckpointState,
  CheckpointWriter,
  removeWriteLeftovers,
  type WeightMap,
  writeFileAtomic,
} from "./checkpoint.ts";
import type {
  ClosingError,
  EpochEvent,
  RunEvent,
  RunFinishedEvent,
  RunRefusedEvent,
  WarningEvent,
} from "./events.ts";
import { StartWarnings } from "./start_warnings.ts";
import {
  adapterForTrainers,
  type AdapterInfo,
  autoLooksForAdapter,
  autoLooksItself,
} from "./adapter.ts";
import { checkRunId, recordedConfig, RunWriter } from "./records.ts";
import { claimNewRun } from "./new_run.ts";
import {
  checkBestCheckpoint,
  checkCheckpointConfig,
  checkNotLrFind,
  checkNotRunning,
  checkRelativeDataPaths,
  configFromCheckpoint,
  loadResumeCheckpoint,
  lostEpochs,
  lostSteps,
  missingCheckpointError,
  numberRuns,
  readRunMeta,
  readRunSummary,
  readSavedConfig,
  resumeCommand,
  resumedConfig,
} from "./resume.ts";
import { checkResumedSteps } from "./resume_steps.ts";
import { lockRun, type RunLock } from "./run_lock.ts";
import type { TrainerResult } from "../actors/trainer_worker.ts";
import { type EarlyStopperState, stoppedAt } from "../actors/early_stopper.ts";
import { divergedAt, type DivergedEnd } from "../actors/diverged_end.ts";
import denoJson from "../deno.json" with { type: "json" };
import { diagnose } from "../report/diagnose.ts";
import { readRun } from "../report/records.ts";
import { currentProcess } from "./liveness.ts";
import type { Diagnosis } from "../report/types.ts";
import { EventQueue } from "./event_queue.ts";
import { shellWord } from "../shell_word.ts";
import { jsonNumber } from "../number_format.ts";
import { granted } from "./granted.ts";

/**
 * Milliseconds the actors get to finish cleanly once told to `Stop`, before their Workers are
 * terminated regardless, by how the run ends and whether a Worker held a WebGPU device. A run that
 * ended waits for every actor's result after it (RESULTS_WAIT_MS) and so needs none on the CPU
 * (its 50 ms there, kept for a crash at exit blamed on threaded wasm, went once the crash was
 * found to be a probed WebGPU instance's teardown: see `webGpuTeardowns`). A failed run gets only
 * a turn of the event loop (0); `null` is not even that: a run refused at its start has nothing of
 * its actors' to wait for, but a device to let go.
 */
const STOP_GRACE_MS = {
  ended: { cpu: 0, gpu: GPU_TEARDOWN_MS },
  failed: { cpu: 0, gpu: 0 },
  refused: { cpu: null, gpu: GPU_TEARDOWN_MS },
} as const;
/**
 * How long a run that ended waits, past its grace, for every actor's result (`actor.done`, the
 * answer to `Stop`): the clip monitor's is the summary's clip statistics, and on a loaded machine
 * it took longer than the grace, so that the summary kept the statistics of a window before.
 */
const RESULTS_WAIT_MS = 10_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/**
 * An actor not heard from yet is still loading its modules (each actor sends a heartbeat as soon
 * as it is loaded): it gets at least this long before the watchdog counts it as stalled. Loading
 * takes seconds under `deno run` (tfjs on a busy machine), but under `deno test` (ours, or a user's
 * tests of code that trains) Deno type-checks each Worker's module graph when a Worker first loads
 * it: on a cold check cache, ten actors of two runs checked at once took over a minute on a loaded
 * 2-core machine, and the 60 s allowed before failed such runs with "did not start" (a module that
 * fails to load ends the run at once, through the Worker's error event, whatever this says).
 */
const STARTUP_TIMEOUT_MS = 300_000;
/**
 * An actor's Worker that has sent nothing at all this long after it was started gets another
 * Worker started beside it, and a third at twice this (START_RACERS): the first of them to load
 * (to send its heartbeat) is sent the actor's `Init` and takes the run, the others are terminated.
 * Now and then (1 run in ~340 on the 2-core VM, BENCHMARKS.md's thirty-second session) a trainer's
 * Worker never sent its first heartbeat, its thread idle, and the run waited out
 * STARTUP_TIMEOUT_MS for nothing. A Worker is sent its `Init` only once it has spoken, so a silent
 * one holds nothing of the run's (no ports, no config), and one slow but healthy still loads and
 * may still win: the run still fails only at STARTUP_TIMEOUT_MS. A start takes ~1-3 s on a loaded
 * 2-core machine (the trainer's, the longest); not less than a minute, as `deno test` type-checks
 * each Worker's modules on a cold cache for tens of seconds, and a run that started another
 * Worker says so in a warning event, which tests of a run's warnings would see.
 */
const START_RACE_MS = 60_000;
/** How many Workers an actor's silent one gets started beside it at most (see START_RACE_MS). */
const START_RACERS = 2;
/**
 * The trainer's stall limit on a software WebGPU adapter (llvmpipe): it compiles each new WGSL
 * pipeline on the CPU, synchronously in the trainer's thread, and a first run on a machine (an
 * empty shader cache) spent more than 60 s in one such stretch under load.
 */
const SOFTWARE_GPU_STALL_MS = 600_000;
/**
 * Errors that refuse a run found before its first step, as a config error refuses it (no record
 * of a run that never trained): what the user gave (config, data files, a checkpoint to resume
 * that does not fit them). An actor that crashed or stalled, a backend that failed, still end
 * the run as failed.
 */
const REFUSED_AT_START = new Set<ErrorCode>(["config", "data", "file", "checkpoint"]);
/** The actors the trainer has a channel to. */
const PEERS: ActorName[] = ["dataLoader", "scheduler", "earlyStopper", "clipMonitor"];

/** How a run ended. */
export interface RunResult {
  /** The run's id. */
  runId: string;
  /** Directory of the run's records and checkpoints. */
  runDir: string;
  /**
   * `completed` (all epochs), `stopped` (early stopping or time limit), `interrupted` (by
   * {@linkcode TrainingRun.interrupt}: resume it), `diverged` or `failed`.
   */
  status: "completed" | "stopped" | "interrupted" | "diverged" | "failed";
  /** Why the run ended, in words. */
  reason: string;
  /** What to do about it, when the run did not complete. */
  hint?: string;
  /**
   * When `status` is `stopped`: true where {@linkcode TrainingRun.stop} stopped it (a user, a
   * sweep pruning its trial) or `maxWallTimeSeconds` did (a budget of each process, as a job's
   * time limit), false where the run stopped itself (early stopping, `maxSteps`). A resume
   * continues a run stopped so, and leaves one that stopped itself as it is.
   */
  stopRequested?: boolean;
  /**
   * The actor that failed, when `status` is `failed` (none where the supervisor itself failed, or
   * where a checkpoint or the run's record could not be written: its `code` is `storage` or
   * `file`).
   */
  failedActor?: ActorName;
  /**
   * The kind of its error, when `status` is `failed`: an {@linkcode AnnealError}'s `code` that an
   * actor threw (`internal` for another error), `actor` for an actor that crashed, stalled or
   * whose Worker could not start, `storage` (or a file error's `file`) for a checkpoint or a
   * record file (steps, epochs, meta.json, summary.json) that could not be written, `internal`
   * for the supervisor's own failure.
   */
  code?: ErrorCode;
  /**
   * Where the failure is, when the failing actor said: a data file's `file:line`, a config field,
   * a checkpoint's path (also at the end of `reason`).
   */
  where?: string;
  /** Epochs completed. */
  epochs: number;
  /** Optimizer steps taken. */
  steps: number;
  /** Zero-based epoch with the best monitored metric; `null` if none was recorded. */
  bestEpoch: number | null;
  /** The last epoch's metrics. */
  metrics: Record<string, number>;
  /** Test-split metrics, when the data has a test split. */
  test?: Record<string, number>;
  /** The tfjs backend the trainer used. */
  backend?: string;
  /**
   * Wall time of the run in seconds, over every process that trained it (a resumed run's counts
   * the time up to the checkpoint it went on from).
   */
  seconds: number;
  /** What the curves say (the same as `anneal diagnose`). */
  diagnosis?: Diagnosis;
}

/** Options of {@linkcode train}. */
export interface TrainOptions {
  /**
   * Continue the run with this id (in the config's `runsDir`) from its last checkpoint, with the
   * config saved in its directory. The config passed to `train` may raise `epochs` (the run
   * trains on to that many; the schedule stays as saved); any other field it sets must equal the
   * saved one, or the resume is refused naming it. A run that already ended with nothing left to
   * train (at its last epoch, or stopped by early stopping, a budget or a divergence, its `epochs`
   * not raised) is left untouched: its recorded result comes back, with `reason` saying so.
   */
  resume?: string;
  /** The run's id (default: a timestamp, prefixed with the config's `name`). */
  runId?: string;
  /**
   * Milliseconds an actor may go without answering before the run fails (default 60000; the
   * trainer on a software WebGPU adapter, which compiles shaders on the CPU, gets at least 600000).
   * Time the supervisor's thread did not run (the process suspended, its thread held up) is not
   * counted. Not a positive number, the run is refused (`result` rejects, code `usage`).
   */
  stallTimeoutMs?: number;
  /**
   * `narrow`: each actor's Worker gets only the permissions it needs (the data loader reads the
   * data files; the trainer reads tfjs's wasm files, and the run directory on a resume; the
   * supervisor writes the run's records and checkpoints; the other three actors get none); the
   * process must run with `--unstable-worker-options`. `inherit`: Workers have the process's
   * permissions. Default: `narrow` when the environment variable `ANNEAL_ACTOR_PERMISSIONS` is
   * `narrow` (as `deno task anneal` sets it, with the flag), else `inherit`.
   */
  actorPermissions?: "narrow" | "inherit";
  /**
   * Judges each epoch end as it is recorded (its `epoch` event), before the run trains past it:
   * the trainer waits at every epoch end but the last until the promise settles, and a
   * {@linkcode TrainingRun.stop} called meanwhile ends the run at that end, as if asked at the
   * epoch's last step. Without it, a run of short epochs goes on from an end whose answers cannot
   * stop it by itself, and a stop decided on an epoch's metrics lands epochs later. A sweep's
   * pruner judges its trials so. A gate that throws or rejects stops the run with its message.
   */
  epochGate?: (event: EpochEvent) => Promise<void> | void;
  /**
   * Test-only: make an actor throw, stall, probe its permissions or send an event at a named point.
   *
   * @ignore
   */
  faults?: Partial<Record<ActorName, Init["fault"]>>;
}

/** A run in progress. */
export interface TrainingRun {
  /**
   * The run's id: known at once where `train` was given it (`{ runId }`, `{ resume }`), else once
   * the run has claimed its directory (by its `run.started` event, and when `result` settles).
   * Read before, or of a run refused before it started (which has none), it throws an
   * {@linkcode AnnealError} (`usage`) saying so.
   */
  readonly runId: string;
  /** Directory of the run's records and checkpoints; known, or not, as {@linkcode runId} is. */
  readonly runDir: string;
  /**
   * Every event of the run. A run that started (its first event is `run.started`) ends its stream
   * with exactly one closing event, however it ends: `run.finished` (completed, stopped,
   * interrupted, diverged, failed: its `result`, and a failed run's `error`) or `run.refused`
   * (refused before its first step). A run refused before it started (its config, its id, a
   * resume's checks) has no event: the stream ends empty, and `result` rejects with why.
   * Each call gives an iterator of its own:
   * two loops over `events()` set up together each get every event, and so does the first loop
   * started after the run ended. Events are held until every iterator made so far has read them
   * (a long run's steps are not kept for a loop that may never come), so an iterator made after
   * others have read some starts at the oldest event one of them has still to read, and one made
   * after another read them all, to the end, gets none.
   */
  events(): AsyncIterable<RunEvent>;
  /**
   * Resolves when the run has ended and every Worker is gone. Rejects, with the error, where the
   * run is refused before it trains: a config that does not parse, a run id taken, a config its
   * data shows it cannot train with, a data file that cannot be read or holds bad values, and a
   * checkpoint a resume cannot go on from on the data it loads (an `AnnealError` of code
   * `config`, `data`, `file` or `checkpoint`, found before the run's first step: no record of
   * the run is left, and a resumed run's records stay as they were).
   */
  readonly result: Promise<RunResult>;
  /**
   * Asks the run to end after the current step, as a `stopped` run with this reason (the last
   * checkpoint is kept). A run that does not stop within the stall timeout is failed.
   */
  stop(reason?: string): void;
  /**
   * Asks the run to end after the current step as an `interrupted` run, to be resumed: the last
   * checkpoint is kept, and neither the best weights are restored nor the test split evaluated.
   * (What `anneal train` does on SIGINT or SIGTERM.)
   */
  interrupt(reason?: string): void;
}

/**
 * The HEAD commit of the git repository of the working directory: the project the run was
 * started from (its scripts, its data), as MLflow records it; anneal's own is `version`.
 */
async function gitCommit(): Promise<string | undefined> {
  // (not asked for: a module user's process without --allow-run would be prompted)
  if (!granted({ name: "run", command: "git" })) return undefined;
  try {
    const out = await new Deno.Command("git", {
      args: ["rev-parse", "HEAD"],
      stdout: "piped",
      stderr: "null",
    })
      .output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : undefined;
  } catch {
    return undefined;
  }
}

/** The options {@linkcode train} takes, by name (a misspelt one is refused, not ignored). */
const TRAIN_OPTIONS = Object.keys(
  {
    resume: true,
    runId: true,
    stallTimeoutMs: true,
    actorPermissions: true,
    epochGate: true,
    faults: true,
  } satisfies Record<keyof TrainOptions, true>,
);

/**
 * Refuses options `train` cannot take as given (from plain JavaScript, or a misspelling): an
 * unknown name, a `resume` that names no run (an empty one started a new run), an
 * `actorPermissions` other than `narrow` or `inherit`.
 */
function checkTrainOptions(options: unknown): void {
  checkOptionNames(options, TRAIN_OPTIONS, "start the run");
  const { resume, actorPermissions, epochGate } = (options ?? {}) as Record<string, unknown>;
  if (epochGate !== undefined && typeof epochGate !== "function") {
    throw new AnnealError(
      "usage",
      `Cannot start the run: 'epochGate' must be a function, current value is ${
        JSON.stringify(epochGate) ?? String(epochGate)
      }`,
      {
        where: "epochGate",
        hint: "pass a function of the epoch event (which may return a promise), or leave it out",
      },
    );
  }
  if (resume !== undefined && (typeof resume !== "string" || resume === "")) {
    throw new AnnealError(
      "usage",
      `Cannot start the run: 'resume' must be the id of a run to continue, current value is ${
        JSON.stringify(resume) ?? String(resume)
      }`,
      {
        where: "resume",
        hint: "give a run's id (its directory's name under the runs directory), or leave " +
          "'resume' out to start a new run",
      },
    );
  }
  if (
    actorPermissions !== undefined && actorPermissions !== "narrow" &&
    actorPermissions !== "inherit"
  ) {
    throw new AnnealError(
      "usage",
      `Cannot start the run: 'actorPermissions' must be 'narrow' or 'inherit', current value is ${
        JSON.stringify(actorPermissions) ?? String(actorPermissions)
      }`,
      {
        where: "actorPermissions",
        hint: "'narrow' gives each actor only what it needs (Deno's --unstable-worker-options), " +
          "'inherit' the process's permissions; leave it out for the environment's choice",
      },
    );
  }
}

/**
 * Starts a training run through the five actors.
 *
 * @example
 * ```ts ignore
 * import { train } from "./supervisor.ts";
 * const run = train({ epochs: 2, backend: "cpu" });
 * for await (const event of run.events()) if (event.type === "epoch") console.log(event.metrics.loss);
 * console.log((await run.result).status);
 * ```
 */
export function train(
  input?: RunConfigInput | RunConfig,
  options: TrainOptions = {},
): TrainingRun {
  // train() is the seed experiment; train(undefined), as from a field its caller's object lacks,
  // is refused as any other config that is not one (it trained the 50 epochs and wrote ./runs)
  return startRun(arguments.length === 0 ? {} : input as RunConfigInput, options);
}

/**
 * {@linkcode train}, for one of many runs in a row (a sweep's trials): a new run takes its actors'
 * Workers from `spares` where a set of them waits there (started ahead, their modules loaded), and
 * once its own actors are up starts a set there for the next run. The caller closes `spares`.
 * Without `spares`, as {@linkcode train}.
 */
export function trainWithSpares(
  spares: SpareActors | undefined,
  input: RunConfigInput | RunConfig = {},
  options: TrainOptions = {},
): TrainingRun {
  return startRun(input, options, spares);
}

function startRun(
  input: RunConfigInput | RunConfig,
  options: TrainOptions,
  spares?: SpareActors,
): TrainingRun {
  const queue = new EventQueue<RunEvent>();
  let config: RunConfig;
  let runId: string;
  /** A resume raises the saved config's epochs or maxSteps: its config.json is written anew. */
  let raised = false;
  /** The flags that raise them (`--epochs 8`), for the commands a refused resume's hint gives. */
  let raisedFlags: string[] = [];
  const requestedStop: RequestedStop = {};
  /**
   * The run directory's lock (run_lock.ts): taken before the run writes anything;
   * `madeRunsDir`: the runs directory was made for the run (removed with it if it is refused);
   * `restoredConfig`: the config a resumed run's checkpoint holds, where its config.json is missing
   * (written again once the resume has passed its checks).
   */
  const held: { lock?: RunLock; madeRunsDir?: boolean; restoredConfig?: Record<string, unknown> } =
    {};
  /** The run's directory's parent and id, as soon as they are known (`runId`, `runDir`). */
  const known: { runsDir?: string; runId?: string; refused?: boolean } = {};
  const setup = (async () => {
    checkTrainOptions(options);
    const stall = options.stallTimeoutMs;
    if (stall !== undefined && !(stall > 0 && Number.isFinite(stall))) {
      // (0 or less failed the run at once, blaming a healthy actor for a stall; NaN watched none)
      throw new AnnealError(
        "usage",
        `Cannot start the run: 'stallTimeoutMs' must be a positive number of milliseconds, ` +
          // (a string "100" read as the number it is not)
          `current value is ${typeof stall === "number" ? stall : JSON.stringify(stall)}`,
        {
          where: "stallTimeoutMs",
          hint: "give how long an actor may go without answering before the run fails " +
            "(60000 by default), or leave it out",
        },
      );
    }
    if (options.resume) {
      // (the run resumed keeps its id: another one given was silently ignored)
      if (options.runId !== undefined && options.runId !== options.resume) {
        throw new AnnealError(
          "usage",
          `Cannot resume run '${options.resume}' as '${options.runId}': a resumed run keeps ` +
            "its id (runId names a new run)",
          {
            where: "runId",
            hint: `leave runId out to resume '${options.resume}', or leave resume out to start ` +
              `a new run '${options.runId}'`,
          },
        );
      }
      const { runsDir } = parseConfig(input);
      runId = checkRunId(options.resume);
      Object.assign(known, { runsDir, runId });
      const dir = `${runsDir}/${runId}`;
      await checkNotLrFind(dir, runId, runsDir);
      held.restoredConfig = await configFromCheckpoint(dir);
      const saved = await readSavedConfig(dir, runId, held.restoredConfig);
      // Two resumes started at once: one takes the lock, the other is refused here.
      held.lock = await lockRun(dir, { runId, runsDir });
      // a run of an anneal that took no lock is refused by what its record says
      await checkNotRunning(dir, runId, runsDir);
      // (writes a killed process began and never renamed: whole checkpoints, never read)
      await removeWriteLeftovers(dir);
      // (the run directory may have been moved since: it is where it was found)
      config = { ...resumedConfig(saved, input, runId, dir), runsDir };
      await checkRelativeDataPaths(saved, runId, dir);
      raised = config.epochs !== saved.epochs || config.maxSteps !== saved.maxSteps;
      raisedFlags = [
        ...(config.epochs !== saved.epochs ? [`--epochs ${config.epochs}`] : []),
        ...(config.maxSteps !== saved.maxSteps && config.maxSteps !== undefined
          ? [`--max-steps ${config.maxSteps}`]
          : []),
      ];
    } else {
      config = parseConfig(input);
      const given = options.runId === undefined ? undefined : checkRunId(options.runId);
      if (given !== undefined) Object.assign(known, { runsDir: config.runsDir, runId: given });
      // a run already there of the id given, whatever its status, is refused: never overwritten
      // (claimNewRun says why a path cannot be a runs directory: a name too long, say)
      held.madeRunsDir = await Deno.stat(config.runsDir).then(() => false, () => true);
      const claimed = await claimNewRun({
        runId: given,
        prefix: config.name,
        runsDir: config.runsDir,
      });
      runId = claimed.runId;
      held.lock = claimed.lock;
      Object.assign(known, { runsDir: config.runsDir, runId });
    }
  })();
  setup.catch(() => known.refused = true);
  const result = setup.then(() =>
    supervise(config, runId, options, queue, requestedStop, held, raised, raisedFlags, spares)
  ).finally(() => held.lock?.release());
  result.catch(() => queue.close());
  const run: TrainingRun = {
    get runId() {
      return knownRun(known, "runId").runId;
    },
    get runDir() {
      const { runsDir, runId } = knownRun(known, "runDir");
      return `${runsDir}/${runId}`;
    },
    events: () => queue.iterate(),
    result,
    stop(reason = "stopped by the user") {
      requestedStop.reason = reason;
      requestedStop.apply?.(reason);
    },
    interrupt(reason = "interrupted") {
      if (requestedStop.reason === undefined) requestedStop.interrupted = true;
      requestedStop.reason ??= reason;
      requestedStop.apply?.(reason);
    },
  };
  return run;
}

/**
 * The run's directory's parent and id, where known; else the error that `run.runId` or
 * `run.runDir` throws: a run refused before it started has none, and a new run's id is made up
 * as it claims its directory.
 */
function knownRun(
  known: { runsDir?: string; runId?: string; refused?: boolean },
  field: "runId" | "runDir",
): { runsDir: string; runId: string } {
  const { runsDir, runId, refused } = known;
  if (runsDir !== undefined && runId !== undefined && !refused) return { runsDir, runId };
  if (refused) {
    throw new AnnealError(
      "usage",
      `run.${field}: the run was refused before it started, so it has no ${
        field === "runId" ? "id" : "directory"
      }`,
      { hint: "`await run.result` rejects with why" },
    );
  }
  throw new AnnealError(
    "usage",
    `run.${field} is not known yet: a new run's id is made up as it claims its directory, ` +
      "just after train() returns",
    {
      hint: "read it from the run's first event (`run.started` has runId and runDir) or " +
        "after `await run.result`, or give train() the id: train(config, { runId })",
    },
  );
}

async function supervise(
  config: RunConfig,
  runId: string,
  options: TrainOptions,
  queue: EventQueue<RunEvent>,
  requestedStop: RequestedStop,
  held: { lock?: RunLock; madeRunsDir?: boolean; restoredConfig?: Record<string, unknown> },
  raised = false,
  raisedFlags: string[] = [],
  spares?: SpareActors,
): Promise<RunResult> {
  const runDir = `${config.runsDir}/${runId}`;
  /** Told of the first record the run cannot write, once it trains (set below, by `fail`). */
  let onRecordError: (error: unknown) => void = () => {};
  const writer = new RunWriter(runDir, { onError: (error) => onRecordError(error) });
  /** The config as `config.json` records it, and each checkpoint with it. */
  const recorded = recordedConfig(config);
  const startedAt = performance.now();
  // Under auto, the adapter this thread finds where it looks first (the CLI's: see adapter.ts),
  // looked for while the run's checks go on and awaited as the actors start (`seenAdapter`): a
  // trainer told of none that is a hardware adapter takes wasm without looking itself.
  const adapterSearch = config.backend === "auto" && autoLooksForAdapter(config.model.kind)
    ? adapterForTrainers()
    : undefined;
  let resumeState: ResumeState | undefined;
  /** What the run's records said before this resume (its start is kept). */
  let before: { summary?: Record<string, unknown>; meta?: Record<string, unknown> } = {};
  /** `summary.json` as this resume found it, put back should the run be refused at its start. */
  let summaryText: string | undefined;
  /** What a resume changes in the run's records, once the run has passed its start's checks. */
  let startRecords = () => {};
  /** Where the run had diverged after its last checkpoint: the end its resume finishes it with. */
  let diverged: DivergedEnd | undefined;
  /** What was wrong with the best epoch's checkpoint of the resumed run (or what was done). */
  let bestFault: { message: string; hint: string } | undefined;
  /** The epochs the resumed run's checkpoint holds that its epochs.ndjson lacks. */
  let lost: number[] = [];
  /** The steps the resumed run's checkpoint holds that its steps.ndjson lacks. */
  let lostStepRecords: number[] = [];
  if (options.resume) {
    const last = `${runDir}/checkpoints/last.ckpt`;
    if (await exists(`${runDir}/config.json`) && !(await exists(last))) {
      // (what its summary says of its end, where it can be read: a run that diverged is named so)
      const summary = await readRunSummary(runDir, runId).catch(() => undefined);
      throw await missingCheckpointError(
        { runId, runDir, last, runsDir: config.runsDir, flags: raisedFlags },
        summary,
        config.optimizer.lr,
      );
    }
    const saved = await loadResumeCheckpoint(runDir, runId, config.runsDir, raisedFlags);
    // (a config.json edited since: refused before a record is touched)
    checkCheckpointConfig(saved.state.config, config, { runId, dir: runDir });
    resumeState = saved.state as ResumeState;
    summaryText = await Deno.readTextFile(`${runDir}/summary.json`).catch(() => undefined);
    // (one that is not JSON is refused: read as none, a run that ended would train on)
    before = { summary: await readRunSummary(runDir, runId) };
    const ended = endedRun(config, { runId, runDir, raised }, {
      state: resumeState,
      summary: before.summary,
    });
    if (ended) {
      // Nothing left to train, and the record says how it ended: it is left as it is.
      queue.push({
        type: "run.started",
        runId,
        runDir,
        epochs: config.epochs,
        resumedFrom: { epoch: resumeState.epoch, step: resumeState.step },
      });
      await held.lock?.release();
      queue.push({ type: "run.finished", result: ended });
      queue.close();
      return ended;
    }
    lost = await lostEpochs(runDir, resumeState.epoch);
    lostStepRecords = await lostSteps(runDir, resumeState.step);
    // (one that is not JSON is refused: the run's data would go unchecked, and its start's
    // warnings lost)
    before.meta = await readRunMeta(runDir, runId);
    // A checkpoint off this run's epoch ends now is refused before a record is touched, where
    // the run's record says how many samples it trained on (the trainer checks again on the data
    // it loads).
    const trainSize = (before.meta?.dataset as { trainSize?: unknown } | undefined)?.trainSize;
    if (typeof trainSize === "number") {
      checkResumedSteps(resumeState, {
        trainSize,
        batchSize: config.batchSize,
        dropLast: config.data.dropLast,
        accumulation: config.gradientAccumulation,
      }, { runId, dir: runDir });
    }
    // (a best epoch's checkpoint that is not that epoch's: said at its start, and written again
    // where the checkpoint resumed from is the best epoch's; once the checks above have passed)
    bestFault = await checkBestCheckpoint(runDir, resumeState, config.earlyStopping);
    const from = resumeState;
    diverged = raised
      ? undefined
      : divergedAt(config, resumeState as unknown as Record<string, unknown>);
    // (a run that had diverged keeps the records of its steps up to its divergence: its end)
    const to = diverged ? { step: diverged.steps, epoch: diverged.epochs - 1 } : from;
    startRecords = () => {
      // (queued in order: before the steps the trainer reports after its plan)
      if (raised) writer.writeJson("config.json", config);
      // Drop records of steps and epochs after the checkpoint: they are replayed.
      writer.truncate("steps.ndjson", (r) => r.step < to.step);
      writer.truncate("epochs.ndjson", (r) => r.epoch <= to.epoch);
    };
  } else {
    // (the directory is made and locked, found empty: claimNewRun in train)
    await writer.create();
    // its data files by their absolute paths: resumed from any directory, it reads the same ones
    await writer.writeJson("config.json", recorded);
  }
  const effectiveBatch = config.batchSize * config.gradientAccumulation;
  const scaled = baseLearningRate(config);
  const resolvedLr = scaled.lr;
  const now = new Date().toISOString();
  const meta: Record<string, unknown> = {
    id: runId,
    createdAt: before.meta?.createdAt ?? now,
    seed: config.seed,
    version: denoJson.version,
    git: await gitCommit(),
    deno: Deno.version.deno,
    resolvedLr,
    effectiveBatch,
  };
  // The process running the run: a reader that finds it gone knows the run was killed without
  // recording its end (SIGKILL, out of memory, power loss), not still going (see liveness.ts).
  const runProcess = await currentProcess();
  const summary: Record<string, unknown> = {
    status: "running",
    startedAt: before.summary?.startedAt ?? now,
    ...(resumeState && { resumedAt: now }),
    ...(runProcess && { process: runProcess }),
  };
  // (a resumed run's config.json that was missing, from its last checkpoint: written once the
  // resume has passed its checks, with its first record; a raised config replaces it as it starts)
  if (held.restoredConfig) await writer.writeJson("config.json", held.restoredConfig);
  await writer.writeJson("summary.json", summary);
  try {
    // (its disk full, say: the run trained on unrecorded, to fail at its first checkpoint, and
    // left a directory without its config.json or summary.json)
    await writer.flush();
  } catch (failed) {
    let error = failed;
    if (!resumeState) {
      // nothing trained, nothing kept (as a refused run's)
      await Deno.remove(runDir, { recursive: true }).catch(() => {});
      error = writeErrorAgain(failed, "write");
    }
    throw recordError(error, "Cannot start the run: its record could not be written", runDir, {
      then: resumeState
        ? `then \`${resumeCommand(runId, config.runsDir)}\``
        : "then start it again",
    });
  }
  const emit = (event: RunEvent) => queue.push(event);
  /** The trainer has passed its start's checks and sent its plan: the run trains from here. */
  let planned = false;
  // The warnings a run gave at its start (its config's, its data's, its schedule's reach) are
  // not given again by a resume, unless their words change (a setting it raised): meta.json
  // keeps them.
  const startWarnings = new StartWarnings(resumeState ? before.meta?.warnings : undefined);
  if (startWarnings.recorded.length > 0) meta.warnings = startWarnings.recorded;
  const warnAtStart = (warning: WarningEvent) => {
    if (!startWarnings.admit(warning)) return;
    emit(warning);
    meta.warnings = startWarnings.recorded;
    // (one after the plan, which writes meta.json first: a data warning late from its Worker)
    if (planned) writer.writeJson("meta.json", meta);
  };
  /** The data loader has given every warning on its data (they may come after the plan). */
  let dataChecked = false;
  /**
   * Once a resume's start is complete (the plan, and every warning of the data), the earlier
   * starts' warnings it did not give again are marked as no longer applying (their cause gone);
   * whether any was (meta.json is then written again).
   */
  const lapseStartWarnings = (): boolean => {
    if (!resumeState || !planned || !dataChecked) return false;
    if (!startWarnings.lapse({ resumedAt: now, step: resumeState.step })) return false;
    meta.warnings = startWarnings.recorded;
    return true;
  };
  emit({
    type: "run.started",
    runId,
    runDir,
    epochs: config.epochs,
    resumedFrom: resumeState && { epoch: resumeState.epoch, step: resumeState.step },
    ...(startWarnings.earlier > 0 && { startWarnings: startWarnings.earlier }),
  });
  // A run that early stopping ended, trained longer: its patience starts over
  const restartedPatience = resumeState &&
    patienceRestarted(config, resumeState, raised, before.meta?.patienceRestartedAt);
  // (kept in meta.json: a resume of this process's run, interrupted before a checkpoint of its
  // own, is no longer one that raised the epochs, and restarts it again from the same checkpoint)
  if (restartedPatience) meta.patienceRestartedAt = resumeState!.epoch;
  /** The supervisor's warnings of the run's start, given once the run can end if they throw. */
  const warnOfStart = () => {
    if (restartedPatience) {
      warnAtStart({
        type: "warning",
        actor: "supervisor",
        message: `early stopping had ended the run at epoch ${resumeState!.epoch} ` +
          `(${restartedPatience.reason}); trained longer, its patience ` +
          `(${config.earlyStopping.patience}) starts over${
            restartedPatience.state.best === null ? "" : ", its best epoch kept"
          }`,
        hint: "nothing to do; with the count it ended at, it would stop again at the first " +
          "epoch that does not improve, as a new fit() in Keras starts its count over",
      });
    }
    if (resumeState && before.meta === undefined) {
      warnAtStart({
        type: "warning",
        actor: "supervisor",
        message: `${runDir}/meta.json is missing: the resume cannot check its data against the ` +
          "data the run trained on (meta.json held its SHA-256), nor leave out the warnings its " +
          "earlier starts gave",
        hint: "nothing to do if its data files are those it trained on; meta.json is written anew",
      });
    }
    if (resumeState && before.summary === undefined) {
      warnAtStart({
        type: "warning",
        actor: "supervisor",
        message: `${runDir}/summary.json is missing: the run is resumed from its last checkpoint ` +
          "as one killed before its end was recorded, and its start time is lost (the resume's " +
          "stands for it)",
        hint: "nothing to do; summary.json is written anew",
      });
    }
    if (held.restoredConfig) {
      warnAtStart({
        type: "warning",
        actor: "supervisor",
        message: `${runDir}/config.json was missing: written again from the run's last ` +
          "checkpoint, which holds the config it trained under",
        hint: "nothing to do: the run resumes with that config",
      });
    }
    if (bestFault) warnAtStart({ type: "warning", actor: "supervisor", ...bestFault });
    if (lost.length > 0) {
      warnAtStart({
        type: "warning",
        actor: "supervisor",
        message:
          `${runDir}/epochs.ndjson lacks epoch${lost.length > 1 ? "s" : ""} ${
            lost.join(", ")
          } of the ${resumeState!.epoch + 1} its last checkpoint holds (lost with the records' ` +
          "last writes, as when the machine went down): the run resumes from the checkpoint, " +
          "and its curves and reports go without them",
        hint: "nothing to do to finish it; train its config again for a whole record",
      });
    }
    if (lostStepRecords.length > 0) {
      const n = lostStepRecords.length;
      warnAtStart({
        type: "warning",
        actor: "supervisor",
        message:
          `${runDir}/steps.ndjson lacks step${n > 1 ? "s" : ""} ${
            numberRuns(lostStepRecords)
          } (${n} of the ${resumeState!.step} its last checkpoint holds; lost with the records' ` +
          "last writes, as when the machine went down): the run resumes from the checkpoint, " +
          "and its step curves and reports go without them",
        hint: "nothing to do to finish it; train its config again for a whole record",
      });
    }
    if (scaled.warning) warnAtStart({ type: "warning", actor: "trainer", message: scaled.warning });
    // Settings torch accepts, so the run goes on, but that are likely a mistake (rmsprop alpha > 1).
    for (const warning of configWarnings(config)) {
      const given: WarningEvent = {
        type: "warning",
        actor: "supervisor",
        message: `${warning.field}: ${warning.message}`,
        hint: warning.hint,
      };
      // a resume cannot make the change the hint says (it refuses a change of its config): it
      // says what can be done, unless the run's start gave the warning already (held back)
      if (resumeState && warning.resumeHint && !startWarnings.gaveEarlier(given)) {
        given.hint = warning.resumeHint;
      }
      warnAtStart(given);
    }
  };

  /** The run's Workers as it took them: handed back to `spares` where the run ends cleanly. */
  const workers = new Map<ActorName, ActorWorker>();
  const lastSeen = new Map<ActorName, number>();
  const heard = new Set<ActorName>();
  /**
   * Each actor's Worker that was sent its `Init` (the first of its Workers to speak): kept after
   * `workers` is cleared, as its late messages are still the run's.
   */
  const chosen = new Map<ActorName, ActorWorker>();
  /** Workers started beside an actor's silent one (see START_RACE_MS), none chosen yet. */
  const racers = new Map<ActorName, ActorWorker[]>();
  const heapUsed: Partial<Record<ActorName, number>> = {};
  const stallTimeoutMs = options.stallTimeoutMs ?? 60_000;
  let trainerStallMs = stallTimeoutMs;
  let finish: (result: RunResult) => void = () => {};
  let refused: (error: AnnealError) => void = () => {};
  const finished = new Promise<RunResult>((resolve, reject) => {
    finish = resolve;
    refused = reject;
  });
  /** The steps the run plans in all (its `plan` event's): a stop short of them leaves more. */
  let totalSteps = Infinity;
  let done = false;
  const trainerDone: { result?: TrainerResult } = {};
  let clipStats: unknown;

  /** The hint of a write that failed because the run's directory was removed while it trained. */
  const goneHint = `the run's directory ${runDir} was removed while the run trained, with its ` +
    `checkpoints and records: there is nothing to resume; start the run again`;
  /**
   * Whether a checkpoint is on disk to resume from (one the trainer sent is not, when it is the
   * write that failed: the writer stops at its first failure, so each one before it landed).
   */
  const written = () => firstWritten || resumeState !== undefined;
  /**
   * The run's wall time in seconds, over every process that trained it: a resumed run's adds
   * this process's to the time its checkpoint holds (`runSeconds`, the time up to it; a
   * checkpoint of an older anneal holds none, and counts this process only).
   */
  const priorSeconds = typeof resumeState?.runSeconds === "number" &&
      Number.isFinite(resumeState.runSeconds) && resumeState.runSeconds >= 0
    ? resumeState.runSeconds
    : 0;
  const runSeconds = () => priorSeconds + (performance.now() - startedAt) / 1000;
  // The trainer's checkpoints, written on this thread: its file operations go on while the
  // trainer trains, and what the trainer sent is written even if its Worker fails. A failed write
  // ends the run at once (the first one; later checkpoints are dropped).
  const writeFailure = (error: unknown) => ({
    message: `the run's checkpoint could not be written: ${errorMessage(error)}`,
    // (a file error's own hint, mkdir or another path, is not what a run can do: its records
    // are under runDir, and a resume needs them)
    hint: (error instanceof AnnealError && error.code !== "file" ? error.hint : undefined) ??
      (runDirGone()
        // (removed while the run trained: its checkpoints and records went with it)
        ? goneHint
        // (a resume needs a last.ckpt on disk)
        : `check that ${runDir}/checkpoints is writable and its disk has room, then ${
          written()
            ? `\`${resumeCommand(runId, config.runsDir)}\``
            : "start the run again (it ended before its first checkpoint was written, so there " +
              "is nothing to resume)"
        }`),
    where: (error instanceof AnnealError ? error.where : undefined) ?? `${runDir}/checkpoints`,
    code: error instanceof AnnealError ? error.code : "storage" as ErrorCode,
  });
  /** A write of the run's record that failed once it trained (mid-run, or at its end), said. */
  const recordFailure = (error: unknown) =>
    recordError(error, "the run's record could not be written", runDir, {
      hint: runDirGone() ? goneHint : undefined,
      then: written()
        ? `then \`${resumeCommand(runId, config.runsDir)}\` (from its last checkpoint)`
        : "then start the run again (it ended before its first checkpoint, so there is " +
          "nothing to resume)",
    });
  /** Whether the run's directory is gone (removed while the run trained). */
  const runDirGone = () => {
    try {
      Deno.statSync(runDir);
      return false;
    } catch (error) {
      return error instanceof Deno.errors.NotFound;
    }
  };
  /** Whether the run has a checkpoint to resume from. */
  const checkpointed = () => firstWritten || lastQueued || resumeState !== undefined;
  /**
   * The trainer sent a checkpoint for `last.ckpt` (its write may still be on its way: a failed
   * write's hint reads `firstWritten` instead).
   */
  let lastQueued = false;
  /**
   * The checkpoints sent, each queued once the records the run sent before it are written: a run
   * killed after a checkpoint has the records up to it (a resume keeps those and trains on).
   */
  let checkpointsQueued: Promise<void> = Promise.resolve();
  let firstWritten = false;
  const checkpoints = new CheckpointWriter({
    onError: (error) => {
      const { message, hint, where, code } = writeFailure(error);
      fail(undefined, message, hint, where, code, true);
    },
    // the trainer waits for the first one (see trainer_worker.ts); told once, not every epoch
    onWritten: (path, state) => {
      if (!firstWritten && path.endsWith("/last.ckpt")) {
        firstWritten = true;
        workers.get("trainer")?.worker.postMessage({
          type: "CheckpointWritten",
          epoch: state.epoch,
        });
      }
    },
  });

  /** How far the run got by its events: the epochs this process ended, the run's steps. */
  const progress = { epochs: 0, steps: resumeState?.step ?? 0 };
  /**
   * What a run that fails without the trainer's result reports: the last epoch's metrics (its
   * event's) and the best epoch as its last checkpoint judged it (a resumed run's, its own).
   */
  const reached: { metrics?: Record<string, number>; bestEpoch: number | null } = {
    bestEpoch: resumeState?.bestEpoch ?? null,
  };
  const actorsDone = new ActorsDone(ACTORS.length);
  let stopDeadline: ReturnType<typeof setTimeout> | undefined;
  /** Pings the actors, and fails one that stopped answering (set once they are started). */
  let watchdog: ReturnType<typeof setInterval> | undefined;
  /** The stream's closing event was sent: `run.finished` or `run.refused`, once a run. */
  let closed = false;
  /**
   * Ends the event stream with its closing event, once: a later call (a failure while the run was
   * ending) sends nothing. Events emitted after it are dropped (see EventQueue.push).
   */
  const close = (event: RunFinishedEvent | RunRefusedEvent): boolean => {
    if (closed) return false;
    closed = true;
    emit(event);
    queue.close();
    return true;
  };
  /**
   * Stops the actors and terminates their Workers, once for the run (`false` when that was done
   * already): each actor is told to `Stop` and given its grace (STOP_GRACE_MS, by `ending`), then
   * terminated regardless (a run that ended, every actor's result in, hands them back to its pool
   * where {@linkcode handsBack} says so); `whileReleasing` runs once they are.
   * A Worker that held a WebGPU device gets GPU_TEARDOWN_MS after, too: on a real GPU (H100,
   * Vulkan) a process that exited while such a Worker was still being torn down crashed; and one
   * that only made a WebGPU instance (auto's search for an adapter) its `webGpuTeardowns` wait.
   * A run that may hand its Workers back gets no grace before it waits for its actors' results:
   * its trainer keeps its device for the next run (`Init.keepDevice`), and whoever terminates
   * that Worker, now or later, has it let go first; handed back, the Workers are not waited for.
   */
  const tearDown = async (
    reason: string,
    ending: keyof typeof STOP_GRACE_MS,
    whileReleasing?: () => Promise<void>,
  ): Promise<boolean> => {
    if (done) return false;
    done = true;
    clearTimeout(stopDeadline);
    clearInterval(watchdog);
    for (const each of workers.values()) each.worker.postMessage({ type: "Stop", reason });
    // (Workers started beside a silent one, never sent an Init: nothing of theirs to wait for)
    for (const each of [...racers.values()].flat()) each.terminate();
    racers.clear();
    const gpu = meta.backend === "webgpu";
    const mayHandBack = ending === "ended" && handsBack();
    // (a trainer that may take the next run keeps its device: no grace for letting go of it)
    const graceMs = mayHandBack ? 0 : STOP_GRACE_MS[ending][gpu ? "gpu" : "cpu"];
    if (graceMs !== null) await sleep(graceMs);
    if (ending === "ended") await actorsDone.all(RESULTS_WAIT_MS);
    // A trainer that may hold a live device is told to let go of it before it is terminated, now
    // or by the pool later: one that trained on WebGPU (a failed run's is still in use: on a real
    // GPU a Worker terminated with a live device crashed the process at exit), one told to keep
    // it for the next run (or that took a Worker whose trainer kept one), and one that made a
    // WebGPU instance before its backend event came (its device may be made already). Told of
    // wasm after looking for an adapter, it made none.
    const trainer = workers.get("trainer");
    const backendHeard = meta.backend !== undefined;
    if (trainer?.madeWebGpu && (gpu || handsBack() || !backendHeard)) {
      trainer.mayHoldDevice = true;
    }
    // Workers that every actor answered from take the next run where the run hands them back
    // (a pool closed meanwhile, or full, terminates them); the rest are terminated
    const handingBack = mayHandBack && actorsDone.complete;
    if (handingBack) {
      spares!.giveBack(actorsKey(permissionsOf), new Map(workers));
    } else {
      for (const each of workers.values()) each.terminate();
      // (the next run would have taken these: its set starts now, while this run's end is written)
      if (workers.size > 0) prepareNext(false);
    }
    workers.clear();
    await whileReleasing?.();
    if (gpu && !handingBack) await sleep(GPU_TEARDOWN_MS);
    // (a trainer that only looked for an adapter holds a WebGPU instance too)
    await webGpuTeardowns();
    return true;
  };

  /**
   * Ends the run with `result` (`cause`: a failed run's error's own message), once: a later call
   * (a failure while the run was ending, a refusal under way) does nothing. The stream's closing
   * event is `run.finished`, whatever happened while the run ended: a failure of the supervisor's
   * own then fails the run, saying so.
   */
  const end = async (result: RunResult, cause?: string) => {
    if (done) return;
    try {
      cause = await ending(result, cause);
    } catch (error) {
      Object.assign(result, {
        status: "failed",
        reason: `the supervisor failed while it ended the run: ${errorMessage(error)}`,
        code: error instanceof AnnealError ? error.code : "internal",
        hint: "report it if it looks like a bug: the run's records may be incomplete",
        failedActor: undefined,
        where: undefined,
      });
      cause = errorMessage(error);
      await held.lock?.release().catch(() => {});
    }
    if (close(finishedEvent(result, cause))) finish(result);
  };
  /** Tears the run down and records its end: the cause to report, a failed run's. */
  const ending = async (result: RunResult, cause?: string): Promise<string | undefined> => {
    const ending = result.status === "failed" ? "failed" : "ended";
    // Every checkpoint the trainer sent is queued (its messages come in order, before its
    // result or error): let them land before the run is reported.
    const landCheckpoints = async () => {
      try {
        await checkpointsQueued;
        await checkpoints.flush();
      } catch (error) {
        // (the writer's onError came too late to end the run: it was ending already)
        if (result.status !== "failed") {
          const { message, hint, where, code } = writeFailure(error);
          Object.assign(result, {
            status: "failed",
            reason: `${message} (at ${where})`,
            hint,
            failedActor: undefined,
            where,
            code,
          });
          cause = message;
        }
      }
    };
    await tearDown(result.reason, ending, landCheckpoints);
    if (!trainerDone.result) {
      // A run that failed mid-way (a checkpoint not written, an actor that threw) trained as far
      // as its events say, up to the last one emitted before its actors were terminated.
      result.epochs = progress.epochs;
      result.steps = progress.steps;
    }
    if (resumeState) {
      // The run's totals, not this process's: epochs before the resume count, and a resume with
      // no epoch left to train keeps the last epoch's metrics.
      result.epochs += resumeState.epoch + 1;
      if (Object.keys(result.metrics).length === 0) result.metrics = resumeState.metrics ?? {};
      // (the clip statistics at its last step: a resume that observed no step, from a checkpoint
      // without the clip monitor's state, keeps the record's)
      clipStats ??= before.summary?.clip;
    }
    Object.assign(summary, {
      status: result.status,
      stopReason: result.reason,
      stopRequested: result.stopRequested,
      hint: result.hint,
      failedActor: result.failedActor,
      code: result.code,
      where: result.where,
      epochs: result.epochs,
      steps: result.steps,
      bestEpoch: result.bestEpoch,
      metrics: result.metrics,
      test: result.test,
      backend: result.backend,
      clip: clipStats,
      seconds: result.seconds,
      finishedAt: new Date().toISOString(),
    });
    await writer.writeJson("summary.json", summary);
    const written = await writer.flush().then(() => true, (error) => {
      if (result.status === "completed" || result.status === "stopped") {
        // trained as asked, but with records that cannot be read whole: not a success
        const { message, hint, where, code } = recordFailure(error);
        Object.assign(result, {
          status: "failed",
          reason: `${message} (at ${where})`,
          hint,
          code,
          where,
        });
        cause = message;
        Object.assign(summary, { status: "failed", stopReason: result.reason, hint, code, where });
        // (the write that failed may have been an earlier one: summary.json may still land)
        writer.writeJson("summary.json", summary);
      } else if (result.code !== "storage" && result.code !== "file") {
        // (a run that failed for its record's write already says so)
        emit({
          type: "warning",
          actor: "supervisor",
          message: `the run's record could not be written: ${errorMessage(error)}`,
        });
      }
      return false;
    });
    if (written) {
      try {
        // Read the record back as `anneal diagnose` would, and keep the diagnosis with the run.
        result.diagnosis = diagnose(await readRun(runDir));
        summary.diagnosis = result.diagnosis;
        await writer.writeJson("summary.json", summary);
        await writer.flush();
      } catch (error) {
        emit({
          type: "warning",
          actor: "supervisor",
          message: `the run's diagnosis could not be kept with its record: ${errorMessage(error)}`,
        });
      }
    }
    // given back before the run is reported ended: whoever is told may resume it at once
    await held.lock?.release();
    return cause;
  };

  /** How a failed run goes on: resumed from its last checkpoint, or started again. */
  const goOn = () =>
    checkpointed()
      ? `the last checkpoint is kept in ${runDir}/checkpoints; fix the cause, then \`${
        resumeCommand(runId, config.runsDir)
      }\``
      : "fix the cause, then start the run again (it ended before its first checkpoint, so there is nothing to resume)";
  /**
   * Fails the run: `actor` failed (threw, crashed, stalled, its Worker did not start), or the
   * supervisor itself (`undefined`), or a file of the run could not be written (`written`: a
   * checkpoint, the record; no actor and not the supervisor failed, and the reason says only
   * what could not be written). `code` is the error's kind: an actor's AnnealError's own, else
   * `actor` (a crash, a stall), `storage` (a write) or `internal` (a bug).
   */
  const fail = (
    actor: ActorName | undefined,
    message: string,
    hint?: string,
    where?: string,
    code: ErrorCode = "actor",
    written = false,
  ) =>
    end({
      runId,
      runDir,
      status: "failed",
      reason: `${
        written ? "" : `${actor ? `actor '${actor}'` : "the supervisor"} failed: `
      }${message}${where ? ` (at ${where})` : ""}`,
      code,
      hint: hint ?? goOn(),
      failedActor: actor,
      where,
      // without the trainer's result, counted from its events once they stop (see end)
      epochs: trainerDone.result?.epochs ?? progress.epochs,
      steps: trainerDone.result?.steps ?? progress.steps,
      bestEpoch: trainerDone.result?.bestEpoch ?? reached.bestEpoch,
      metrics: trainerDone.result?.metrics ?? { ...reached.metrics },
      seconds: runSeconds(),
    }, message);

  // A record that cannot be written once the run trains ends it at once, as a checkpoint does,
  // where the run trained on with steps (or epochs) missing from its record and checkpoints
  // written past them; no checkpoint is written after it (see actor.checkpoint), so a resume
  // goes on from one whose records are all there.
  onRecordError = (error) => {
    const described = recordFailure(error);
    fail(undefined, described.message, described.hint, described.where, described.code, true);
  };

  /**
   * Ends a run refused at its start, before its first step: a setting its data shows it cannot
   * train with (a schedule torch would raise for at a step the run gets to, batch norm over one
   * value a channel, an epoch without a step), a data file that cannot be read or holds bad
   * values, a resumed checkpoint that does not fit the data loaded. Refused as a config is refused: `result` rejects
   * with the error, and no record of a run that never trained is left. A new run's directory is
   * removed; a resumed run's records are left as they were (its summary put back).
   */
  const refuse = async (error: AnnealError) => {
    if (done) return;
    try {
      await tearDown("refused", "refused");
      await writer.flush().catch(() => {});
      try {
        if (!resumeState) {
          await Deno.remove(runDir, { recursive: true });
          // (and the runs directory made for it, where nothing else came into it meanwhile: a
          // first run refused left an empty runs/ behind)
          if (held.madeRunsDir) await Deno.remove(config.runsDir).catch(() => {});
        } else if (summaryText === undefined) await Deno.remove(`${runDir}/summary.json`);
        else {
          await writeFileAtomic(`${runDir}/summary.json`, new TextEncoder().encode(summaryText));
        }
      } catch (cause) {
        emit({
          type: "warning",
          actor: "supervisor",
          message: `could not clear the record of the refused run in ${runDir}: ${cause}`,
        });
      }
    } catch (cause) {
      emit({
        type: "warning",
        actor: "supervisor",
        message: `the refused run's actors could not be stopped: ${errorMessage(cause)}`,
      });
    } finally {
      await held.lock?.release().catch(() => {});
    }
    // (the stream's end, for a reader of the events alone: `anneal train --json`'s)
    close({
      type: "run.refused",
      runId,
      runDir,
      kept: await exists(runDir).catch(() => true),
      error: errorOf(error),
    });
    refused(error);
  };

  requestedStop.apply = (reason) => {
    // (a stop once the run is ending, or ended: its deadline, cleared by tearDown, would be armed
    // again, and hold the process stallTimeoutMs past the run's end)
    if (done) return;
    // (before its Init, the trainer would ignore it: it is sent after the Init, see choose)
    if (chosen.has("trainer")) {
      workers.get("trainer")?.worker.postMessage({
        type: "Stop",
        reason,
        interrupted: requestedStop.interrupted,
      });
    }
    stopDeadline ??= setTimeout(
      () => fail("trainer", `did not stop within ${stallTimeoutMs} ms of '${reason}'`),
      stallTimeoutMs,
    );
  };

  /**
   * `TrainOptions.epochGate` on an epoch end; then the trainer, which waits there, is told to go
   * on (a stop the gate asked for is sent first, and ends the run at that end).
   */
  const gateEpoch = (gate: NonNullable<TrainOptions["epochGate"]>, event: EpochEvent) => {
    Promise.resolve()
      .then(() => gate(event))
      .catch((error) => {
        const reason = `stopped by its epoch gate: ${errorMessage(error)}`;
        requestedStop.reason ??= reason;
        requestedStop.apply?.(reason);
      })
      .finally(() => {
        if (!done) {
          workers.get("trainer")?.worker.postMessage({ type: "EpochCleared", epoch: event.epoch });
        }
      });
  };

  const onMessage = (actor: ActorName, message: SupervisorInbox) => {
    lastSeen.set(actor, performance.now());
    // (the trainer's modules, the heaviest, are loaded: the next run's load beside this one's run)
    if (actor === "trainer" && !heard.has(actor)) prepareNext();
    heard.add(actor);
    if (message.type === "actor.heartbeat") {
      if (message.heapUsed !== undefined) heapUsed[actor] = message.heapUsed;
    } else if (message.type === "actor.error") {
      const error = deserializeError(message.error);
      // a config the run cannot train, found once its data is loaded, bad data, a checkpoint
      // that does not fit it: refused before the first step, as a config is
      if (!planned && REFUSED_AT_START.has(error.code)) refuse(error);
      else fail(actor, error.message, error.hint, error.where, error.code);
    } else if (message.type === "actor.event") {
      // Once the run is ending, the trainer's late events (a failed run's Workers are terminated
      // at once, and messages already on their way still arrive) are not its record: the result
      // counts the steps and epochs reported before, and so do the records and the events.
      if (done && actor === "trainer") return;
      if ((message.event as { type?: unknown }).type === "data.checked") {
        // (the supervisor's own notice, not an event of the run)
        dataChecked = true;
        if (lapseStartWarnings()) writer.writeJson("meta.json", meta);
        return;
      }
      const event = message.event as RunEvent;
      if (event.type === "steps") {
        progress.steps = event.fromStep + event.losses.length;
        writer.append(
          "steps.ndjson",
          event.losses.map((loss, i) => ({
            step: event.fromStep + i,
            epoch: event.epoch,
            loss: jsonNumber(loss),
            lr: jsonNumber(event.lr[i]),
            momentum: event.momentum?.[i] === undefined ? undefined : jsonNumber(event.momentum[i]),
            gradNorm: jsonNumber(event.gradNorms[i]),
            skipped: event.skipped[i] || undefined,
          })),
        );
      } else if (event.type === "returned") {
        progress.steps = event.step;
        writer.truncate("steps.ndjson", (r) => r.step < event.step);
      } else if (event.type === "epoch") {
        reached.metrics = event.metrics;
        // this process's epochs, as the trainer counts them (end adds a resumed run's earlier ones)
        progress.epochs = event.epoch + 1 - (resumeState ? resumeState.epoch + 1 : 0);
        (globalThis as { gc?: () => void }).gc?.(); // only under --expose-gc (the soak)
        event.heapUsed = { main: Deno.memoryUsage().heapUsed, ...heapUsed };
        writer.append("epochs.ndjson", [{
          epoch: event.epoch,
          step: event.step,
          ...Object.fromEntries(
            Object.entries(event.metrics).map(([name, value]) => [name, jsonNumber(value)]),
          ),
          seconds: event.seconds,
        }]);
      } else if (event.type === "backend") {
        // (whether it made a WebGPU instance, now known: a linear model on auto looks for none)
        const trainer = workers.get("trainer");
        if (trainer) trainer.madeWebGpu = event.webGpuInstance ?? true;
        if (event.backend === "webgpu" && event.adapter?.isFallbackAdapter) {
          trainerStallMs = Math.max(stallTimeoutMs, SOFTWARE_GPU_STALL_MS);
        }
        Object.assign(meta, {
          backend: event.backend,
          adapter: event.adapter,
          tfjs: event.tfjs,
          backendReason: event.reason,
        });
      } else if (event.type === "plan") {
        planned = true;
        totalSteps = event.totalSteps;
        startRecords();
        Object.assign(meta, {
          fingerprint: event.dataset.fingerprint,
          fusedOptimizer: event.fusedOptimizer,
          modelPath: event.modelPath,
          // (JSON leaves it out where undefined)
          modelPathReason: event.modelPathReason,
          optimizerPath: event.optimizerPath,
          precision: event.precision,
          float32Layers: event.float32Layers,
          inputs: event.inputs,
          dataset: event.dataset,
          parameters: event.parameters,
        });
        lapseStartWarnings();
        writer.writeJson("meta.json", meta);
      } else if (event.type === "clip.stats") {
        clipStats = event;
      } else if (event.type === "warning" && (!planned || actor === "dataLoader")) {
        // given before the first step (the data loader's, on the data it loaded, all are)
        warnAtStart(event);
        return;
      }
      emit(event);
      if (event.type === "epoch" && options.epochGate) gateEpoch(options.epochGate, event);
    } else if (message.type === "actor.checkpoint") {
      // with the config it was trained under: a resume refuses a config.json changed since
      // and the run's time up to it, which a resume goes on counting from
      const state: CheckpointState = {
        ...message.state as CheckpointState,
        config: recorded,
        runSeconds: runSeconds(),
      };
      const weights = message.weights as WeightMap;
      if (message.files.includes("last")) lastQueued = true;
      if (state.bestEpoch !== undefined) reached.bestEpoch = state.bestEpoch as number | null;
      const queue = () => {
        for (const file of message.files) {
          checkpoints.queue(`${runDir}/checkpoints/${file}.ckpt`, state, weights);
        }
      };
      // After the records sent before it (its epoch's, its steps'; a divergence's verdict after
      // the steps that diverged): a resume from it keeps them and trains on, or ends as the run
      // did. Not written where one of theirs failed: the run ends (onRecordError), its last
      // checkpoint one whose records are all there.
      checkpointsQueued = checkpointsQueued.then(() => writer.flush().then(queue, () => {}));
    } else if (message.type === "actor.done") {
      actorsDone.add(actor);
      if (actor === "clipMonitor") clipStats = message.result ?? clipStats;
      if (actor === "trainer") {
        const result = message.result as TrainerResult;
        trainerDone.result = result;
        end({
          runId,
          runDir,
          ...result,
          // a run to go on with: interrupted, or stopped by a budget of each process (wall time)
          // or by run.stop(); each resume gets the wall-time budget afresh
          hint: result.status !== "interrupted" &&
              !(result.status === "stopped" && result.stopRequested && !result.hint &&
                result.steps < totalSteps)
            ? result.hint
            : !checkpointed()
            ? "it ended before its first checkpoint: start it again (anneal train -c " +
              `${shellWord(`${runDir}/config.json`)})`
            : `resume it: \`${resumeCommand(runId, config.runsDir)}\``,
          seconds: runSeconds(),
        });
      }
    }
  };

  /** The actor whose Worker is being started (a throw there is that actor's failure to start). */
  let starting: ActorName | undefined;
  /**
   * Starts a spare set of Workers for the next run (a sweep's next trial): once the trainer is up,
   * unless the run's own will be handed back; `handingBack` false: they will not be after all (the
   * run failed, or an actor did not answer its end), so the set is started now.
   */
  let prepareNext = (_handingBack = true) => {};
  /** This run's Workers' permissions (set as they start). */
  let permissionsOf: PermissionsOf = () => undefined;
  /**
   * Whether the run's Workers may take the next run (a sweep's next trial) once it ends cleanly:
   * where it has a pool to hand them to, its Workers are those a new run would get, no fault is
   * injected into them (a test's). Its trainer is then told to keep a WebGPU device for the next
   * run (`Init.keepDevice`). Set from the run's start on (false before its Workers start).
   */
  const handsBack = () =>
    spares !== undefined && !options.faults && actorsKey(permissionsOf) === nextKey;
  /** The next run's Workers' key (set as this run's start). */
  let nextKey: string | undefined;
  /** Starts the five actors' Workers, each with its channels to its peers, and the watchdog. */
  const startActors = () => {
    const actorConfig = { ...config, resolvedLr };
    const channels = new Map(PEERS.map((peer) => [peer, new MessageChannel()]));
    // Each actor gets only what it needs where Deno allows it (see actor_permissions.ts).
    const narrowed = narrowActorPermissions(options.actorPermissions);
    meta.actorPermissions = narrowed ? "narrow" : "inherit";
    // (the trainer reads the run directory on a resume only: a new run's Workers may be spares)
    const permissionsFor = (resumeDir?: string): PermissionsOf => (actor) =>
      narrowed ? actorPermissions(actor, config, resumeDir) : undefined;
    permissionsOf = permissionsFor(resumeState ? runDir : undefined);
    // the next run's spares: a new run's Workers, its data files as this run's
    const nextPermissions = permissionsFor();
    nextKey = actorsKey(nextPermissions);
    // (a trainer whose Worker may take the next run keeps a WebGPU device for it)
    const keepDevice = handsBack();
    // (none where this run's own Workers will be handed back for the next)
    let prepared = false;
    prepareNext = (handingBack = true) => {
      if (prepared || (handingBack && handsBack())) return;
      prepared = true;
      spares?.prepare(nextKey!, nextPermissions);
    };
    /** Starts each actor's Worker (or takes the spare's) and sends it its `Init`. */
    // A trainer asked for webgpu, or for auto unless the search here found a software adapter
    // or none, may make a WebGPU instance before its backend event says whether it did: a run
    // that ends before that event (it failed, was refused, or the adapter's search failed it)
    // counts it as made.
    const trainerLooks = config.backend === "webgpu" ||
      (config.backend === "auto" && autoLooksItself(seenAdapter));
    /**
     * Each actor's `Init` and what it transfers (its ports), made as its Worker starts (a throw is
     * its failure to start) and sent once: to the first of its Workers to speak (see `adoptAs`).
     */
    const inits = new Map<ActorName, [Record<string, unknown>, MessagePort[]]>();
    const initOf = (actor: ActorName): [Record<string, unknown>, MessagePort[]] => {
      const ports: Record<string, MessagePort> = {};
      if (actor === "trainer") {
        for (const [peer, channel] of channels) ports[peer] = channel.port1;
      } else ports.trainer = channels.get(actor)!.port2;
      const resume = !resumeState ? undefined : actor === "trainer"
        ? {
          checkpoint: `${runDir}/checkpoints/last.ckpt`,
          fingerprint: typeof before.meta?.fingerprint === "string"
            ? before.meta.fingerprint
            : undefined,
          stopped: earlyStopped(config, resumeState, raised || restartedPatience !== undefined),
          diverged,
          ...(restartedPatience && { earlyStopper: restartedPatience.state }),
        }
        : actor === "scheduler"
        ? resumeState.scheduler
        : actor === "earlyStopper"
        ? (restartedPatience?.state ?? resumeState.earlyStopper)
        : actor === "clipMonitor"
        ? (diverged ? diverged.clipMonitor : clipMonitorResume(resumeState))
        : undefined;
      return [{
        type: "Init",
        actor,
        runId,
        runDir,
        config: actorConfig,
        ports,
        resume,
        ...(actor === "trainer" && seenAdapter !== undefined ? { adapter: seenAdapter } : {}),
        ...(actor === "trainer" && keepDevice ? { keepDevice } : {}),
        ...(actor === "trainer" && options.epochGate ? { epochGate: true } : {}),
        fault: options.faults?.[actor],
      }, Object.values(ports)];
    };
    /**
     * Makes `candidate` the actor's Worker (terminating the others started for it) and sends it
     * the actor's `Init`, with a stop already asked for after it (a Worker ignores a `Stop` that
     * comes before its run's `Init`).
     */
    const choose = (actor: ActorName, candidate: ActorWorker) => {
      // (the run ended meanwhile: its Workers are terminated, and nothing of this one's is its)
      if (done) return;
      chosen.set(actor, candidate);
      const first = workers.get(actor);
      const others = [...(racers.get(actor) ?? []), ...(first ? [first] : [])];
      racers.delete(actor);
      for (const other of others) if (other !== candidate) other.terminate();
      if (first !== candidate) {
        workers.set(actor, candidate);
        if (actor === "trainer" && trainerLooks) candidate.madeWebGpu = true;
        emit({
          type: "warning",
          actor: "supervisor",
          message: `actor '${actor}': a Worker started beside its silent one loaded first and ` +
            "takes the run; the silent one was terminated",
        });
      }
      const [init, transfer] = inits.get(actor)!;
      candidate.worker.postMessage(init, transfer);
      if (actor === "trainer" && requestedStop.reason) requestedStop.apply?.(requestedStop.reason);
    };
    /**
     * Gives `candidate` (one of the actor's Workers) the run's handlers: the first of the actor's
     * Workers to send anything (its heartbeat, sent once its modules are loaded) is chosen and
     * sent the actor's `Init`; the rest are terminated, and what they still send is dropped.
     * `silent` (a test's fault): the Worker's messages are dropped, as if it never loaded.
     */
    const adoptAs = (actor: ActorName, candidate: ActorWorker, silent = false) => {
      const ours = () => chosen.get(actor) === candidate;
      candidate.adopt({
        onmessage: (event) => {
          if (silent) return;
          try {
            if (!chosen.has(actor)) choose(actor, candidate);
            if (!ours()) return;
            onMessage(actor, event.data);
          } catch (error) {
            // (a message the supervisor could not take: its own failure, not the actor's)
            fail(
              undefined,
              `on actor '${actor}''s message: ${errorMessage(error)}`,
              "report it if it looks like a bug",
              undefined,
              codeOf(error),
            );
          }
        },
        onerror: (event) => {
          event.preventDefault();
          // (a Worker terminated as another was chosen: nothing of its is the run's)
          if (chosen.has(actor) && !ours()) return;
          fail(actor, event.message ?? "uncaught error");
        },
        onmessageerror: () => {
          if (chosen.has(actor) && !ours()) return;
          fail(actor, "a message could not be deserialized", undefined, undefined, "internal");
        },
      });
      // (a Worker a run before used: loaded long ago, its heartbeat dropped as it was handed back)
      if (!chosen.has(actor) && candidate.runsBefore > 0) choose(actor, candidate);
    };
    /**
     * Where the actor's Worker has sent nothing for `raceMs` (another after twice that) since it
     * was started, starts another beside it (see START_RACE_MS); the first to load is chosen.
     */
    const raceSilent = (actor: ActorName, silentMs: number) => {
      const started = racers.get(actor) ?? [];
      const fault = options.faults?.[actor];
      const raceMs = fault?.kind === "silent" ? fault.ms : START_RACE_MS;
      if (started.length >= START_RACERS || silentMs < raceMs * (started.length + 1)) return;
      let racer: ActorWorker;
      try {
        racer = new ActorWorker(actor, permissionsOf(actor));
      } catch {
        // (Deno refused it: the first may still load, and the start's limit still holds)
        return;
      }
      started.push(racer);
      racers.set(actor, started);
      emit({
        type: "warning",
        actor: "supervisor",
        message: `actor '${actor}''s Worker sent nothing in ${(silentMs / 1000).toFixed(1)} s ` +
          `of its start (its modules load in seconds): another was started beside it ` +
          `(${started.length} of ${START_RACERS}); the first to load takes the run`,
      });
      adoptAs(actor, racer);
    };
    const startWorkers = (spare?: Map<ActorName, ActorWorker>) => {
      for (const actor of ACTORS) {
        // (an actor that failed at once, its module not loaded: the run is ending)
        if (done) return;
        starting = actor;
        const started = spare?.get(actor) ?? new ActorWorker(actor, permissionsOf(actor));
        spare?.delete(actor);
        workers.set(actor, started);
        if (actor === "trainer" && trainerLooks) started.madeWebGpu = true;
        lastSeen.set(actor, performance.now());
        inits.set(actor, initOf(actor));
        // (what a spare sent or threw before is handed over now, the Worker being the run's)
        adoptAs(actor, started, options.faults?.[actor]?.kind === "silent");
      }
    };
    const spare = spares?.take(actorsKey(permissionsOf));
    // how many of its actors' Workers the run took ready (a sweep's trial after the first), and
    // how many of those a run before it had used
    meta.workersAhead = spare?.size ?? 0;
    try {
      startWorkers(spare);
    } finally {
      // (the run ended as they started: the spares it did not take go with it)
      for (const left of spare?.values() ?? []) left.terminate();
    }
    meta.workersReused = [...workers.values()].filter((each) => each.runsBefore > 0).length;
    starting = undefined;
    if (done) return;
    const tick = Math.min(1000, stallTimeoutMs / 4);
    let lastTick = performance.now();
    watchdog = setInterval(() => {
      const now = performance.now();
      // Time this thread did not run (the process suspended: Ctrl-Z then fg, SIGSTOP; or its
      // thread held up) is not counted against the actors: their answers could not be heard
      // then, and wait in the queue behind this tick. A tick late by more than its interval
      // moves each actor's last answer on by the lateness.
      const late = now - lastTick - tick;
      lastTick = now;
      if (late > tick) {
        for (const [actor, seen] of lastSeen) lastSeen.set(actor, seen + late);
      }
      for (const [actor, { worker }] of workers) {
        const started = heard.has(actor);
        const stall = actor === "trainer" ? trainerStallMs : stallTimeoutMs;
        const limit = started ? stall : Math.max(stall, STARTUP_TIMEOUT_MS);
        const silentMs = now - (lastSeen.get(actor) ?? now);
        if (silentMs > limit) {
          const beside = racers.get(actor)?.length ?? 0;
          fail(
            actor,
            started
              ? `stopped answering for ${(limit / 1000).toFixed(1)} s (stalled)`
              : `did not start within ${(limit / 1000).toFixed(1)} s (stalled${
                beside ? `; nor did the ${beside} Worker(s) started beside it` : ""
              })`,
            // (a step is one call on the trainer's thread: a huge model's on the cpu backend,
            // tfjs's kernels in plain JavaScript, took minutes, and read as a hang)
            started && actor === "trainer"
              ? `a training step that takes longer than ${(limit / 1000).toFixed(1)} s holds ` +
                "the trainer's thread as a hang does (a large model on the cpu backend, whose " +
                "kernels are plain JavaScript): train on wasm or webgpu, or a smaller model or " +
                `batch (train()'s stallTimeoutMs option waits longer); ${goOn()}`
              : undefined,
          );
          return;
        }
        if (!started) raceSilent(actor, silentMs);
        worker.postMessage({ type: "Ping" });
      }
    }, tick);
    if (requestedStop.reason) requestedStop.apply?.(requestedStop.reason);
  };
  /** The adapter found (null: none; undefined: not looked for, or the search failed). */
  const seenAdapter: AdapterInfo | null | undefined = await adapterSearch;
  try {
    warnOfStart();
    startActors();
  } catch (error) {
    if (starting !== undefined) {
      const hint = meta.actorPermissions === "narrow"
        ? "each actor's Worker is given only what it needs (actorPermissions 'narrow'), but no " +
          "more than this process holds: allow the process what the actor needs (its data " +
          "files, the run directory, tfjs's wasm files: deno run --allow-read), or train with " +
          "actorPermissions 'inherit' (ANNEAL_ACTOR_PERMISSIONS unset)"
        : undefined;
      fail(starting, `its Worker could not start: ${errorMessage(error)}`, hint);
    } else fail(undefined, errorMessage(error), undefined, undefined, codeOf(error));
  }
  return finished;
}

/** A stop asked for by the caller, before or after the actors started. */
interface RequestedStop {
  reason?: string;
  /** An interruption (the run is to be resumed), not a stop. */
  interrupted?: boolean;
  apply?: (reason: string) => void;
}

/** What a resume reads from the last checkpoint. */
interface ResumeState {
  epoch: number;
  step: number;
  scheduler?: unknown;
  earlyStopper?: unknown;
  /** Absent from an older anneal's checkpoints (the clip monitor's statistics start over). */
  clipMonitor?: unknown;
  metrics?: Record<string, number>;
  /** The best epoch as early stopping judged it at the checkpoint (absent: none recorded). */
  bestEpoch?: number | null;
  /** Where the checkpoint was taken within an epoch (a run stopped there): not at its end. */
  within?: unknown;
  /** The run's wall time up to the checkpoint, in seconds (absent from an older anneal's). */
  runSeconds?: unknown;
}

/**
 * The clip monitor's state as the checkpoint `state` kept it, with the last step it had observed,
 * whose statistics are the run's where the resume trains no step: the checkpoint's last (an older
 * anneal's state does not say it).
 */
function clipMonitorResume(state: ResumeState): unknown {
  const saved = state.clipMonitor;
  if (typeof saved !== "object" || saved === null || state.step <= 0) return saved;
  return { lastStep: state.step - 1, ...saved };
}

/**
 * Early stopping's reason where its verdict at the epoch end `state` was checkpointed at ended the
 * run: a run killed after that checkpoint, before its end was recorded (or failed after it), is
 * finished from there by its resume, as it would have ended, not trained on past early stopping's
 * end. Not where the resume raises its epochs or maxSteps (`raised`): then it trains on, as a run
 * whose record says early stopping ended it does.
 */
function earlyStopped(
  config: RunConfig,
  state: ResumeState,
  raised: boolean,
): string | undefined {
  if (raised || state.within !== undefined) return undefined;
  return stoppedAt(
    config.earlyStopping,
    state.earlyStopper as EarlyStopperState | undefined,
    state.epoch,
    state.metrics,
  );
}

/**
 * Early stopping's state for a resume of a run that its patience ended, trained longer (its epochs
 * or maxSteps `raised`, or a resume before raised them from this checkpoint, `restartedAt` its
 * epoch, and was interrupted before a checkpoint of its own): the count starts over, the best
 * epoch and value kept, as Keras' EarlyStopping starts its count at a new `fit()`; with the count
 * it ended at, the resume stopped again at its first epoch that did not improve (resumed with 12
 * epochs after stopping at 3 of 10, it trained one). Undefined for any other resume, which goes on
 * with the state it was saved with (the trainer's checkpoints after a restart keep its state).
 */
function patienceRestarted(
  config: RunConfig,
  state: ResumeState,
  raised: boolean,
  restartedAt: unknown,
): { state: EarlyStopperState; reason: string } | undefined {
  if (!(raised || restartedAt === state.epoch) || state.within !== undefined) return undefined;
  const saved = state.earlyStopper as EarlyStopperState | undefined;
  const reason = stoppedAt(config.earlyStopping, saved, state.epoch, state.metrics);
  return saved && reason ? { state: { ...saved, wait: 0 }, reason } : undefined;
}

/**
 * The result of a run that has nothing left to train, as its summary records it; `undefined`
 * when there is more to train, or its end was never recorded (killed, interrupted, failed: then
 * the trainer finishes it). Nothing is left at its last epoch, at its maxSteps, or, its epochs not
 * `raised`, where it stopped itself (early stopping, maxSteps, a divergence): resumed, it would
 * train on past its own end (early stopping's, by at least one epoch). A run stopped at its
 * caller's request or by its wall-time budget (each process's) goes on, as does one whose record
 * does not say who stopped it (an older anneal's).
 */
function endedRun(
  config: RunConfig,
  run: { runId: string; runDir: string; raised: boolean },
  recorded: { state: ResumeState; summary: Record<string, unknown> | undefined },
): RunResult | undefined {
  const { runId, runDir, raised } = run;
  const { state, summary } = recorded;
  const status = summary?.status;
  if (!summary || (status !== "completed" && status !== "stopped" && status !== "diverged")) {
    return undefined;
  }
  const spent = config.maxSteps !== undefined &&
    Math.max(state.step, Number(summary.steps) || 0) >= config.maxSteps;
  const lastEpoch = state.epoch + 1 >= config.epochs;
  const atEnd = lastEpoch || spent;
  const stoppedItself = status === "diverged" ||
    (status === "stopped" && summary.stopRequested === false);
  if (!atEnd && !(stoppedItself && !raised)) return undefined;
  const goOn = status === "diverged"
    ? "resumed with the same settings, it would most likely diverge again: start a new run " +
      `from ${runDir}/config.json with the change its hint says`
    : trainLonger(config, lastEpoch, spent);
  return {
    runId,
    runDir,
    status,
    reason: `nothing to resume: the run already ended (${summary.stopReason ?? status}); ${goOn}`,
    hint: summary.hint as string | undefined,
    stopRequested: summary.stopRequested as boolean | undefined,
    epochs: (summary.epochs as number | undefined) ?? state.epoch + 1,
    steps: (summary.steps as number | undefined) ?? state.step,
    bestEpoch: (summary.bestEpoch as number | null | undefined) ?? null,
    metrics: (summary.metrics as Record<string, number> | undefined) ?? state.metrics ?? {},
    test: summary.test as Record<string, number> | undefined,
    backend: summary.backend as string | undefined,
    seconds: (summary.seconds as number | undefined) ?? 0,
    diagnosis: summary.diagnosis as Diagnosis | undefined,
  };
}

/** How to train on a run that ended at its last epoch, at its step budget, or both. */
function trainLonger(config: RunConfig, lastEpoch: boolean, budgetTaken: boolean): string {
  const epochs = `more epochs than ${config.epochs} (--epochs N)`;
  const steps = `more steps than its maxSteps ${config.maxSteps} (--max-steps N)`;
  const what = lastEpoch && budgetTaken ? `${epochs} and ${steps}` : budgetTaken ? steps : epochs;
  return `${budgetTaken ? `it took its maxSteps (${config.maxSteps}); ` : ""}` +
    `to train it longer, resume it with ${what}`;
}

/** Whether `path` exists (a missing file is not an error here). */
async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** The actors that sent their result, and a wait for all of them. */
class ActorsDone {
  #done = new Set<ActorName>();
  #wake: (() => void) | undefined;
  constructor(readonly count: number) {}

  /** Every actor sent its result. */
  get complete(): boolean {
    return this.#done.size >= this.count;
  }

  add(actor: ActorName): void {
    this.#done.add(actor);
    if (this.#done.size >= this.count) this.#wake?.();
  }

  /** Resolves once every actor sent its result, or after `limitMs`. */
  async all(limitMs: number): Promise<void> {
    if (this.#done.size >= this.count) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      timer = setTimeout(resolve, limitMs);
    });
    clearTimeout(timer);
  }
}

/** An error's message, or what was thrown as text. */
function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A write of a run's record that failed, said as `what` and the write's own error (the file and
 * why: a full disk, a directory in its place); the hint is the write's fix, then `then` (or
 * `hint` in its place).
 */
function recordError(
  error: unknown,
  what: string,
  runDir: string,
  next: { then?: string; hint?: string } = {},
): AnnealError {
  const described = error instanceof AnnealError ? error : undefined;
  const fix = described?.hint ?? `check that ${runDir} is writable and its disk has room`;
  return new AnnealError(described?.code ?? "storage", `${what}: ${errorMessage(error)}`, {
    where: described?.where ?? runDir,
    hint: next.hint ?? (next.then ? `${fix}; ${next.then}` : fix),
    cause: error,
  });
}

/** The kind of what was thrown: an AnnealError's code, else `internal` (a bug). */
function codeOf(error: unknown): ErrorCode {
  return error instanceof AnnealError ? error.code : "internal";
}

/** An error as a closing event carries it: its kind, its message, and where and how to fix it. */
function errorOf(
  error: { code: string; message: string; hint?: string; where?: string },
): ClosingError {
  return {
    code: error.code,
    message: error.message,
    ...(error.hint !== undefined && { hint: error.hint }),
    ...(error.where !== undefined && { where: error.where }),
  };
}

/**
 * The `run.finished` event of `result`: a failed run's with its error (`cause`, the message as
 * its actor, its write or the supervisor gave it; `reason` says it after who failed).
 */
function finishedEvent(result: RunResult, cause: string | undefined): RunFinishedEvent {
  if (result.status !== "failed") return { type: "run.finished", result };
  return {
    type: "run.finished",
    result,
    error: errorOf({
      code: result.code ?? "internal",
      message: cause ?? result.reason,
      hint: result.hint,
      where: result.where,
    }),
  };
}
