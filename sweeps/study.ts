/**
 * The loop a sweep worker runs. Each of `parallel` lanes repeats: reap trials whose worker died
 * (enqueueing retries), claim a WAITING trial or create one sampled from every finished trial in
 * storage (atomically within the `trials` budget), run the objective while heart-beating, report
 * intermediate values to the pruner, then complete, prune or fail the trial. A lane stops when
 * the budget is spent and no trial is WAITING or RUNNING anywhere, so a study never ends with a
 * trial lost to a dead worker while some worker is still alive. An interrupted worker (Ctrl-C)
 * starts no more trials and records its running ones as interrupted, queued to run again.
 *
 * @module
 */
import { Rng, seedFrom } from "../data/rng.ts";
import { AnnealError } from "../errors.ts";
import { counted } from "../number_format.ts";
import type { Direction, Study, StudyStorage, Trial } from "../storage/types.ts";
import type { Params, SearchSpace } from "./space.ts";
import type { Pruner } from "./pruners/types.ts";
import type { Sampler } from "./samplers/types.ts";
import { hostname, pidNamespace, processLiveness } from "../runtime/liveness.ts";

/**
 * Records an intermediate value; resolves true when the trial should stop (pruned). With `judge:
 * false` the pruner is not asked (a value of a run that had already ended: nothing is left to
 * spare, and it was judged as it ran).
 */
export type Report = (
  step: number,
  value: number,
  options?: { judge?: boolean },
) => Promise<boolean>;

/** What an objective knows about its trial. */
export interface TrialContext {
  trialId: number;
  number: number;
  workerId: string;
  /**
   * Aborted when the trial was pruned, taken away (reaped) or interrupted (the worker's
   * `interrupt` signal: {@linkcode interruptionOf} gives its reason); long objectives may watch it.
   * An objective that throws once interrupted has its trial recorded as interrupted and retried.
   */
  signal: AbortSignal;
  /** 0 for an original trial, k for its k-th retry. */
  retries: number;
  /**
   * The run the trial is to train in, as stored with it: for a retry, the run of the trial it
   * retries (recorded there with `recordRun`), to continue; null when none was recorded.
   */
  runDir: string | null;
  /**
   * Records the directory of the run the trial trains in, so that a retry of it (after an
   * interruption or a dead worker) can continue that run.
   */
  recordRun(runDir: string): Promise<void>;
}

/** The abort reason of a trial's signal when its worker was interrupted. */
class Interruption {
  constructor(readonly reason: string) {}
}

/**
 * Why a trial's signal (`TrialContext.signal`) was aborted, where its worker was interrupted
 * (`RunStudyOptions.interrupt`); undefined where it was not aborted, or was for another cause
 * (pruned, taken away).
 */
export function interruptionOf(signal: AbortSignal): string | undefined {
  return signal.aborted && signal.reason instanceof Interruption ? signal.reason.reason : undefined;
}

/** The function a sweep optimises: params in, objective value out. */
export type Objective = (params: Params, report: Report, context: TrialContext) => Promise<number>;

/** Options of {@linkcode runStudy}. */
export interface RunStudyOptions {
  storage: StudyStorage;
  studyName: string;
  /**
   * Called once the study is created or loaded, before any trial is claimed (a sweep marks its
   * runs directory with it there); a throw ends the run before its first trial.
   */
  onStudyOpened?: (study: Study) => Promise<void> | void;
  space: SearchSpace;
  /**
   * What the study stores as its definition (default: `space`). A sweep stores its base config
   * and settings beside the space, so that `anneal worker` on another machine can load them.
   */
  definition?: unknown;
  /**
   * The part of the definition an existing study must match to be run again (default: all of
   * it); the rest (a sweep's budget, sampler, parallelism) may change from run to run, and the
   * study stores the latest.
   */
  identity?: (definition: unknown) => unknown;
  sampler: Sampler;
  /** No pruning when absent. */
  pruner?: Pruner;
  objective: Objective;
  /**
   * The study's budget of original trials, all runs and workers together (retries after a crash
   * are extra): a study that has 4 already and is run with 6 gets 2 more.
   */
  trials: number;
  /** Trials this worker runs at once (default 1). */
  parallel?: number;
  direction?: Direction;
  /** Unique per worker process (default: host name, pid and a random suffix). */
  workerId?: string;
  /**
   * Seeds the samplers' random numbers (default 0): each new trial's draw is seeded by it and the
   * trial's index in the study, so a study run again with the same seed by one worker draws the
   * same params (with several at once, TPE's draws depend on which trials had finished).
   */
  seed?: number;
  /** Heartbeat period in ms (default 1000). */
  heartbeatMs?: number;
  /** A RUNNING trial without heartbeat for this long is reaped (default 10 heartbeats). */
  staleAfterMs?: number;
  /** Retries of a reaped trial (default 2). */
  maxRetries?: number;
  /** How often an idle lane looks again while other workers' trials run (default 200 ms). */
  pollMs?: number;
  /** Stops the worker after its current trials. */
  signal?: AbortSignal;
  /**
   * Interrupts the worker (Ctrl-C): no trial is started any more, and each running one is told
   * (its `context.signal` aborts, {@linkcode interruptionOf} says why); one whose objective then
   * throws is recorded FAILED with the signal's reason and retried at once (`interruptTrial`),
   * so the next worker of the study runs it again. One whose objective returns a value completes.
   */
  interrupt?: AbortSignal;
  /**
   * How long a storage call keeps retrying while the database is unreachable (a restarted or
   * briefly cut-off PostgreSQL) before the worker gives up; default 120000 ms.
   */
  storageRetryMs?: number;
  /**
   * Called, before any trial runs, with what the study's budget comes to where it is not what
   * was asked (a grid sampler with fewer points than the budget, or none left untried; a study
   * that has its trials already), each a line that starts `notice: `. Nothing is printed: the
   * CLI prints them (to stderr).
   */
  onNotice?: (message: string) => void;
  /** Called after each trial this worker finishes. */
  onTrial?: (trial: Trial) => void;
  /**
   * Called for each trial this worker reaps (marked FAILED: its worker stopped heart-beating,
   * killed or cut off), with its retry where one was enqueued.
   */
  onReaped?: (trial: Trial, retry?: Trial) => void;
}

/** What {@linkcode runStudy} returns. */
export interface StudyResult {
  /** The study as stored. */
  study: Study;
  /** The best COMPLETE trial by the study's direction; `undefined` if none completed. */
  best: Trial | undefined;
  /** Every trial of the study at the end. */
  trials: Trial[];
  /** The trials this worker finished. */
  ran: Trial[];
  /** The reason of the `interrupt` signal, where the worker was interrupted. */
  interrupted?: string;
  /**
   * The reason of the `signal`, where it stopped the worker (its running trials ran to their
   * ends; the study may have trials left of its budget).
   */
  stopped?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A worker id that is unique across machines and processes: this host's name (`unknown-host`
 * without --allow-sys, never asked for), the pid (with `@` and its PID namespace where that can
 * be read: containers that share the host's name have pids of their own) and a random suffix.
 */
export function defaultWorkerId(): string {
  const namespace = pidNamespace();
  return `${hostname() ?? "unknown-host"}:${Deno.pid}${
    namespace === undefined ? "" : `@${namespace}`
  }:${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * The workers of `running` trials whose process is gone: ids of {@linkcode defaultWorkerId}'s
 * form, on this host, whose pid no process has any more (a worker killed, SIGKILL or out of
 * memory). Their trials need not wait out the heartbeat timeout to be retried. A worker of
 * another host, of an id of another form, or whose pid a process has (itself, or a later one
 * given its pid) is not said dead: its trials wait for the timeout, as before.
 *
 * @example
 * ```ts
 * import { deadWorkers, defaultWorkerId } from "./study.ts";
 * const trial = { workerId: defaultWorkerId(), state: "RUNNING" as const };
 * console.assert((await deadWorkers([trial])).length === 0); // this process is alive
 * ```
 */
export async function deadWorkers(
  running: readonly Pick<Trial, "workerId" | "state">[],
): Promise<string[]> {
  const ids = new Set(
    running.flatMap((trial) =>
      trial.state === "RUNNING" && trial.workerId !== null ? [trial.workerId] : []
    ),
  );
  const dead: string[] = [];
  for (const id of ids) {
    // (`host:pid:random`, or `host:pid@namespace:random` where the PID namespace was read)
    const form = /^(.+):(\d+)(?:@(\d+))?:[0-9a-f]{8}$/.exec(id);
    if (form === null) continue;
    const liveness = await processLiveness({
      host: form[1],
      pid: Number(form[2]),
      ...(form[3] !== undefined && { pidNamespace: form[3] }),
    });
    if (liveness.state === "gone") dead.push(id);
  }
  return dead;
}

/**
 * Runs (or joins) a study until its budget is spent and no trial is left WAITING or RUNNING.
 *
 * @example
 * ```ts
 * import { runStudy } from "./study.ts";
 * import { openSqliteStorage } from "../storage/sqlite.ts";
 * import { randomSampler } from "./samplers/random.ts";
 * const result = await runStudy({
 *   storage: openSqliteStorage(":memory:"),
 *   studyName: "demo",
 *   space: { x: { type: "uniform", low: -1, high: 1 } },
 *   sampler: randomSampler(),
 *   objective: (params) => Promise.resolve((params.x as number) ** 2),
 *   trials: 5,
 * });
 * console.assert(result.trials.length === 5 && result.best !== undefined);
 * ```
 */
export async function runStudy(options: RunStudyOptions): Promise<StudyResult> {
  const o = {
    parallel: 1,
    direction: "minimize" as Direction,
    workerId: options.workerId ?? defaultWorkerId(),
    seed: 0,
    heartbeatMs: 1000,
    maxRetries: 2,
    pollMs: 200,
    // An option given as undefined keeps its default.
    ...Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)),
  } as RunStudyOptions & {
    parallel: number;
    direction: Direction;
    workerId: string;
    seed: number;
    heartbeatMs: number;
    maxRetries: number;
    pollMs: number;
  };
  const staleAfterMs = o.staleAfterMs ?? 10 * o.heartbeatMs;
  const budget = o.trials;
  const storage = retryingStorage(o.storage, o.storageRetryMs ?? 120_000);
  o.storage = storage;
  const study = await storage.createStudy(o.studyName, o.direction, o.definition ?? o.space, {
    loadIfExists: true,
    identity: o.identity,
  });
  await o.onStudyOpened?.(study);
  const stored = await storage.listTrials(study.id);
  const originals = stored.filter((t) => t.retries === 0);
  const open = stored.filter((t) => t.state === "RUNNING" || t.state === "WAITING");
  const numbers = open.map((t) => `${t.number} (${t.state.toLowerCase()})`).join(", ");
  const openNote = `this worker runs those waiting, and those of a worker that stopped ` +
    `heart-beating once ${staleAfterMs / 1000} s have passed without its heartbeat: ` +
    `trial${open.length === 1 ? "" : "s"} ${numbers}`;
  // a sampler of finitely many points (grid) ends the study once each has a trial
  const untried = o.sampler.untried?.(o.space, originals.map((t) => t.params));
  const size = o.sampler.untried?.(o.space, []);
  const n = originals.length;
  const notice = (message: string) => o.onNotice?.(message);
  if (untried !== undefined && (untried === 0 || n + untried < budget)) {
    if (untried === 0) {
      notice(
        `notice: every one of the ${o.sampler.name} sampler's ${size} points has a trial in ` +
          `study '${study.name}' (its ${n} trial${n === 1 ? "" : "s"}): no new trial is ` +
          `sampled${open.length > 0 ? `; ${openNote}` : ""}`,
      );
    } else if (n === 0) {
      notice(
        `notice: the ${o.sampler.name} sampler has ${counted(size!, "point")}; running ${
          counted(size!, "trial")
        }, not ${budget}`,
      );
    } else {
      notice(
        `notice: the ${o.sampler.name} sampler has ${size} points, ${size! - untried} of them ` +
          `tried by the ${n} trial${n === 1 ? "" : "s"} of study '${study.name}': running the ` +
          `other ${untried}, each once, so the study ends with ${n + untried} trials, not its ` +
          `budget of ${budget}`,
      );
    }
  } else if (untried !== undefined && n > 0 && n < budget && untried > budget - n) {
    notice(
      `notice: the budget of ${budget} trials of study '${study.name}' leaves ${budget - n} for ` +
        `the ${untried} points of the ${o.sampler.name} sampler that its ${n} ` +
        `trial${n === 1 ? " has" : "s have"} not tried: the last ${untried - (budget - n)} in ` +
        `its order ${untried - (budget - n) === 1 ? "is" : "are"} not run (ask for ` +
        `${n + untried} trials to run them all)`,
    );
  } else if (n > 0 && n >= budget && open.length === 0) {
    notice(
      `notice: study '${study.name}' already has ${n} trials and its budget is ${budget}: no new trial is sampled (the budget counts the whole study's trials; ask for more than ${n} to add some)`,
    );
  } else if (n > 0 && n >= budget) {
    // a study cut short: its trials are all sampled, not all run
    notice(
      `notice: study '${study.name}' already has its ${budget} trial${budget === 1 ? "" : "s"}, ` +
        `not all finished: no new trial is sampled; ${openNote}`,
    );
  }
  const ran: Trial[] = [];

  const nextTrial = async (): Promise<Trial | null> => {
    const claimed = await storage.claimTrial(study.id, o.workerId);
    if (claimed) return claimed;
    const history = await storage.listTrials(study.id, ["COMPLETE", "PRUNED"]);
    return await storage.createTrial(study.id, {
      // (inside the creating transaction: the trials it is given are every worker's). The
      // draw's random numbers come from the seed and the trial's index in the study, which the
      // transaction gives each trial once, whichever worker makes it: two workers never draw
      // alike, and a study run again with the same seed draws the same params (with a random
      // worker id in the seed, as before, `sweep.seed` made no sweep reproducible)
      params: (index, tried) =>
        o.sampler.untried?.(o.space, tried) === 0 ? null : o.sampler.sample(
          o.space,
          history,
          new Rng(seedFrom(o.seed, index)),
          { index, tried, direction: study.direction },
        ),
      maxTrials: budget,
      claimBy: o.workerId,
    });
  };

  // A lane that fails (the storage refusing a call for good, a callback throwing) interrupts the
  // others: their trials stop after their current step and are queued again, as at Ctrl-C, and
  // the worker throws once they have, rather than leave them training with no one to record them.
  const failure = new AbortController();
  const interrupt = o.interrupt ? AbortSignal.any([o.interrupt, failure.signal]) : failure.signal;
  const laneOptions: Resolved = { ...o, interrupt };
  const stopped = () => o.signal?.aborted || interrupt.aborted;
  // Workers killed on this host: their trials are retried now, not after their heartbeats'
  // timeout, which left them to run last. Looked for in the trials at the start, in the running
  // ones after each trial this worker runs (a short list; one of the whole study's trials per
  // trial was not), and in the open ones while it waits for others' trials: a worker killed
  // while this one trained was found only at the start or while waiting, and its trial was
  // retried after the heartbeats' timeout, after newer trials.
  let dead = await deadWorkers(stored);
  const lane = async () => {
    while (!stopped()) {
      const reaped = await storage.reapStale(study.id, staleAfterMs, o.maxRetries, dead);
      for (const trial of reaped.failed) {
        const retry = reaped.retried.find((t) => t.retryOf === (trial.retryOf ?? trial.id));
        o.onReaped?.(trial, retry);
      }
      const trial = await nextTrial();
      if (trial) {
        const finished = await runTrial(laneOptions, study, trial);
        if (finished) {
          ran.push(finished);
          o.onTrial?.(finished);
        }
        dead = await deadWorkers(await storage.listTrials(study.id, ["RUNNING"]));
        continue;
      }
      const open = await storage.listTrials(study.id, ["WAITING", "RUNNING"]);
      if (open.length === 0 || stopped()) break;
      dead = await deadWorkers(open);
      await sleep(o.pollMs);
    }
  };
  const lanes = await Promise.allSettled(
    Array.from({ length: Math.max(1, o.parallel) }, () =>
      lane().catch((error) => {
        const message = error instanceof Error ? error.message : String(error);
        failure.abort(new Error(`another trial of this worker failed: ${message}`));
        throw error;
      })),
  );
  const failed = lanes.find((lane) => lane.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return {
    study,
    best: await storage.bestTrial(study.id),
    trials: await storage.listTrials(study.id),
    ran,
    ...(o.interrupt?.aborted && { interrupted: reasonOf(o.interrupt) }),
    ...(o.signal?.aborted && { stopped: reasonOf(o.signal) }),
  };
}

/** An abort signal's reason in words. */
function reasonOf(signal: AbortSignal): string {
  const reason = signal.reason;
  return reason instanceof Error ? reason.message : String(reason ?? "interrupted");
}

type Resolved = RunStudyOptions & {
  direction: Direction;
  workerId: string;
  heartbeatMs: number;
};

/**
 * How long the pruner judges a trial's reports against the same list of the study's other trials.
 * Listing them all costs ~6 ms at 100 trials of 50 epochs on SQLite (more over the network): at
 * every report (each epoch's end) of a trial of short epochs that was most of its time, and it grew
 * with the study. A trial's first report lists them afresh, and so does any report this long after
 * the last list: only epochs shorter than this share a list, and judge against values at most this
 * old (other workers' and lanes' reports since are seen at the next list).
 */
const PEERS_REFRESH_MS = 1000;

/** Runs one claimed trial to its end; undefined when the trial was taken away (reaped). */
async function runTrial(o: Resolved, study: Study, trial: Trial): Promise<Trial | undefined> {
  const { storage } = o;
  const controller = new AbortController();
  let pruned: { step: number; reason: string } | undefined;
  let beating = false;
  const timer = setInterval(async () => {
    if (beating) return;
    beating = true;
    try {
      if (!(await storage.heartbeat(trial.id, o.workerId))) controller.abort("trial taken away");
    } catch {
      // A missed heartbeat is harmless; the next one retries.
    } finally {
      beating = false;
    }
  }, o.heartbeatMs);
  let interrupted: string | undefined;
  const interrupt = () => {
    interrupted = reasonOf(o.interrupt!);
    controller.abort(new Interruption(interrupted));
  };
  if (o.interrupt?.aborted) interrupt();
  else o.interrupt?.addEventListener("abort", interrupt, { once: true });
  const intermediate = new Map<number, number>();
  /** The study's other trials as last listed for the pruner, and when (see PEERS_REFRESH_MS). */
  let peers: { at: number; trials: Trial[] } | undefined;
  const report: Report = async (step, value, options) => {
    // (an interrupted objective stops through its signal: it is not to read this as pruned)
    if (controller.signal.aborted) return interrupted === undefined;
    intermediate.set(step, value);
    await storage.reportIntermediate(trial.id, step, value);
    if (!o.pruner || options?.judge === false) return false;
    if (!peers || performance.now() - peers.at >= PEERS_REFRESH_MS) {
      const trials = (await storage.listTrials(study.id)).filter((t) => t.id !== trial.id);
      peers = { at: performance.now(), trials };
    }
    const others = peers.trials;
    const verdict = o.pruner.shouldPrune(
      { id: trial.id, state: "RUNNING", intermediate },
      others,
      study.direction,
    );
    if (verdict.prune) {
      pruned = { step, reason: verdict.reason ?? `pruned by ${o.pruner.name}` };
      controller.abort("pruned");
    }
    return verdict.prune;
  };
  const context: TrialContext = {
    trialId: trial.id,
    number: trial.number,
    workerId: o.workerId,
    signal: controller.signal,
    retries: trial.retries,
    runDir: trial.runDir,
    recordRun: (runDir) => storage.setTrialRun(trial.id, runDir),
  };
  try {
    let value: number;
    try {
      value = await o.objective(trial.params, report, context);
    } catch (error) {
      if (pruned) return await storage.pruneTrial(trial.id, pruned.step, pruned.reason);
      if (interrupted !== undefined) {
        const done = await storage.interruptTrial(
          trial.id,
          `interrupted (${interrupted}); it runs again, as a retry, when the study goes on`,
        );
        return done.failed[0];
      }
      // (a report the database was out of reach for: recording the failure would wait out the
      // retry window once more, to the same end)
      if (unreachable.has(error as AnnealError)) throw error;
      const message = error instanceof Error ? error.message : String(error);
      return await storage.failTrial(trial.id, `objective threw: ${message}`);
    }
    if (pruned) return await storage.pruneTrial(trial.id, pruned.step, pruned.reason);
    if (!Number.isFinite(value)) {
      // (a string "0.5" read "objective returned 0.5", a value that looked like a number)
      const what = typeof value === "number"
        ? String(value)
        : typeof value === "string"
        ? `the string ${JSON.stringify(value)}, not a number`
        : value === null
        ? "null, not a number"
        : value === undefined
        ? "nothing (undefined): it must return the value to optimize, a number"
        : `${typeof value === "object" ? "an object" : typeof value} (${
          String(JSON.stringify(value) ?? value).slice(0, 80)
        }), not a number`;
      return await storage.failTrial(trial.id, `objective returned ${what}`);
    }
    return await storage.completeTrial(trial.id, value);
  } catch (error) {
    // Reaped while running (this worker stalled): its retry runs elsewhere; drop this result.
    // (A database out of reach is no reaping: that ends the worker, at once.)
    if (error instanceof AnnealError && error.code === "storage" && !unreachable.has(error)) {
      return undefined;
    }
    throw error;
  } finally {
    clearInterval(timer);
    o.interrupt?.removeEventListener("abort", interrupt);
  }
}

/**
 * Whether an error means "the database could not be reached", as opposed to a refusal: a
 * connection refused, reset or closed, a server shutting down or starting up, and one that took
 * no connection within postgres.js's connect_timeout (CONNECT_TIMEOUT: a network cut, a server
 * too busy to answer). Not a storage this process closed (postgres.js's CONNECTION_ENDED and
 * CONNECTION_DESTROYED): no retry reaches it.
 */
export function isConnectionError(error: unknown): boolean {
  // (a SQLite file another process held locked past the busy timeout: storage/sqlite.ts)
  if ((error as { busy?: unknown } | null)?.busy === true) return true;
  if (error instanceof AnnealError) return false;
  const code = String((error as { code?: unknown })?.code ?? "");
  if (code === "CONNECTION_ENDED" || code === "CONNECTION_DESTROYED") return false;
  const message = error instanceof Error ? error.message : String(error);
  return /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|CONNECT_TIMEOUT|CONNECTION_CLOSED|57P0[1-3]|08\d{3})$/
    .test(code) ||
    /ECONNREFUSED|ECONNRESET|connection (refused|reset|closed|terminated|ended)|terminating connection|write CONNECTION_CLOSED/i
      .test(message);
}

/** The errors of {@linkcode unreachableError}: a trial's end they fail is not a reaped trial's. */
const unreachable = new WeakSet<AnnealError>();

/** The error of a storage call that could not reach the database for `retryMs`. */
function unreachableError(error: unknown, retryMs: number): AnnealError {
  const cause = error instanceof Error ? error.message : String(error);
  if ((error as { busy?: unknown } | null)?.busy === true) {
    const locked = new AnnealError(
      "storage",
      `Lost the study storage: ${cause}, for ${retryMs / 1000} s`,
      {
        hint: "find the process that holds the file (fuser FILE), let it finish or stop it, then " +
          "run the study again (the same anneal sweep or anneal worker): the trials left running " +
          "are failed and queued again (at once where the study runs again on this host, once this " +
          "process has ended; elsewhere once their heartbeats have lapsed, 10 s by default)",
        cause: error,
      },
    );
    unreachable.add(locked);
    return locked;
  }
  const refusal = new AnnealError(
    "storage",
    `Lost the study storage: the database could not be reached for ${retryMs / 1000} s (${cause})`,
    {
      hint: "check that the database server runs and this machine reaches it, then run the " +
        "study again (the same anneal sweep or anneal worker): the trials left running are " +
        "failed and queued again (at once where the study runs again on this host, once this " +
        "process has ended; elsewhere once their heartbeats have lapsed, 10 s by default)",
      cause: error,
    },
  );
  unreachable.add(refusal);
  return refusal;
}

/**
 * The storage with every call retried (with backoff) while the database is unreachable, for up
 * to `retryMs`: a worker rides out a restarted or briefly cut-off server instead of dying. Past
 * that, the call fails with a `storage` error that says so and how to go on; the driver's own
 * ("connect ECONNREFUSED 127.0.0.1:5432") was printed by the CLI as a possible bug, after two
 * minutes of silence.
 */
export function retryingStorage(storage: StudyStorage, retryMs: number): StudyStorage {
  return new Proxy(storage, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function" || property === "close") return value;
      return async (...args: unknown[]) => {
        const deadline = Date.now() + retryMs;
        for (let delay = 100;; delay = Math.min(delay * 2, 2000)) {
          try {
            return await value.apply(target, args);
          } catch (error) {
            if (!isConnectionError(error)) throw error;
            if (Date.now() + delay > deadline) throw unreachableError(error, retryMs);
            await new Promise((resolve) => setTimeout(resolve, delay));
          }
        }
      };
    },
  });
}
