/**
 * The study-storage interface that sweep workers share: studies, trials and their states, claims,
 * heartbeats and the reaping of trials whose worker died. Implemented by `sqlite.ts` (one machine,
 * several processes) and `postgres.ts` (many machines); both pass `conformance.ts`.
 *
 * Trial states: `WAITING` (enqueued, nobody runs it) -> `RUNNING` (claimed by one worker, which
 * heart-beats) -> `COMPLETE` | `PRUNED` | `FAILED`. Only a RUNNING trial can finish, so a worker
 * whose trial was reaped cannot complete it afterwards.
 *
 * @module
 */

/** The state of a trial. */
export type TrialState = "WAITING" | "RUNNING" | "COMPLETE" | "PRUNED" | "FAILED";

/** Whether a smaller or a larger objective value is better. */
export type Direction = "minimize" | "maximize";

/** One parameter's value: a scalar, or a whole section or list (a `choice` of scheduler specs). */
export type TrialParamValue =
  | number
  | string
  | boolean
  | null
  | TrialParamValue[]
  | { [key: string]: TrialParamValue };

/** JSON-safe parameter values, keyed by dotted config path. */
export type TrialParams = Record<string, TrialParamValue>;

/** A study: a named search with a direction and a (JSON) search space. */
export interface Study {
  /** Database id. */
  id: number;
  /** Unique name of the study. */
  name: string;
  /** Whether the objective is minimized or maximized. */
  direction: Direction;
  /** The search space as JSON; storage does not interpret it. */
  space: unknown;
  /** When the study was created. */
  createdAt: Date;
}

/** One trial of a study. */
export interface Trial {
  /** Database id, unique across studies. */
  id: number;
  /** Id of the study it belongs to. */
  studyId: number;
  /** 0, 1, 2, ... in creation order within the study (retries get their own number). */
  number: number;
  /** Where the trial is in its life cycle (see the module doc). */
  state: TrialState;
  /** The sampled hyperparameters. */
  params: TrialParams;
  /**
   * Objective value of a COMPLETE trial; of a PRUNED one, its last step's intermediate value, as
   * Optuna records it (null where that is not finite), which no best trial is picked by.
   */
  value: number | null;
  /** Intermediate values by step (learning-curve points). */
  intermediate: Map<number, number>;
  /** The worker that claimed it (RUNNING and finished trials). */
  workerId: string | null;
  /** Last heartbeat of the worker running it; reaping looks at this. */
  heartbeatAt: Date | null;
  /** When a worker claimed it. */
  startedAt: Date | null;
  /** When it completed, was pruned or failed. */
  finishedAt: Date | null;
  /** Why it was pruned or failed. */
  reason: string | null;
  /** The step at which it was pruned. */
  prunedStep: number | null;
  /** For a retry: the id of the original trial (the first of the chain). */
  retryOf: number | null;
  /** 0 for an original trial, k for its k-th retry. */
  retries: number;
  /**
   * The directory of the run the trial trains in (a sweep's trials record theirs with
   * `setTrialRun` once it starts). A retry is created with the one of the trial it retries, so
   * that it can continue that run; null when none was recorded.
   */
  runDir: string | null;
}

/** Options of {@linkcode StudyStorage.createStudy}. */
export interface CreateStudyOptions {
  /** Return the existing study of that name instead of failing (if it matches). */
  loadIfExists?: boolean;
  /**
   * The part of a space that must match for an existing study to load (default: the whole
   * space). The rest are settings that may change between runs of the study, such as a sweep's
   * trial budget, sampler or parallelism; called on the stored and on the given space.
   */
  identity?: (space: unknown) => unknown;
}

/** Options of {@linkcode StudyStorage.createTrial}. */
export interface CreateTrialOptions {
  /**
   * The parameters, or a function of the trial's index among the study's original (non-retry)
   * trials and of the parameters of those trials (every state, in number order: `index` is their
   * count), called inside the creating transaction, so that samplers that go through a sequence
   * (quasi-random) or a finite set of points (grid) never hand two workers the same one. The
   * function returns null where it has nothing left to propose (every grid point has a trial):
   * nothing is created.
   */
  params: TrialParams | ((index: number, originals: TrialParams[]) => TrialParams | null);
  /** Create nothing (return null) when the study already has this many original trials. */
  maxTrials?: number;
  /** Claim it for this worker in the same transaction (it starts RUNNING). */
  claimBy?: string;
}

/** Options of `openStorage` and of each storage's own open function. */
export interface OpenStorageOptions {
  /**
   * Create the storage where there is none (default true): the SQLite file, the tables. False
   * for a caller that only joins an existing study (`anneal worker`): a missing file, or a
   * database without anneal's tables, is refused without creating anything. (Tables of an older
   * anneal are brought up to date either way.)
   */
  create?: boolean;
  /** The study the caller means to load, named in the refusal of a missing storage. */
  study?: string;
}

/** What {@linkcode StudyStorage.reapStale} (or `interruptTrial`) did. */
export interface ReapResult {
  /** Trials marked FAILED because their worker stopped heart-beating (or was interrupted). */
  failed: Trial[];
  /** The WAITING retries enqueued for them (fewer when a trial ran out of retries). */
  retried: Trial[];
}

/** Persistent, shared state of studies and trials. Every method is atomic. */
export interface StudyStorage {
  /**
   * Creates a study; with `loadIfExists`, returns the existing one if the direction and the
   * space's identity match (else an AnnealError("storage") that names each difference). When the
   * stored and the given space differ only outside their identity, the given one is stored in its
   * place: the study keeps the settings it was last run with.
   */
  createStudy(
    name: string,
    direction: Direction,
    space: unknown,
    options?: CreateStudyOptions,
  ): Promise<Study>;
  /** Loads a study by name; an AnnealError("storage") when it does not exist. */
  loadStudy(name: string): Promise<Study>;
  /**
   * The names of the studies the storage holds, sorted (a refusal of a name it does not hold
   * names the one meant from them). Optional: a storage without it is told of no names.
   */
  studyNames?(): Promise<string[]>;
  /**
   * Enqueues a trial (WAITING, or RUNNING with `claimBy`); null when `maxTrials` is reached or
   * the `params` function proposes none.
   */
  createTrial(studyId: number, options: CreateTrialOptions): Promise<Trial | null>;
  /** Atomically claims the oldest WAITING trial for `workerId`; null when none waits. */
  claimTrial(studyId: number, workerId: string): Promise<Trial | null>;
  /** Records an intermediate value of a RUNNING trial (and refreshes its heartbeat). */
  reportIntermediate(trialId: number, step: number, value: number): Promise<void>;
  /** RUNNING -> COMPLETE with `value`. */
  completeTrial(trialId: number, value: number): Promise<Trial>;
  /** RUNNING -> FAILED with `reason`. */
  failTrial(trialId: number, reason: string): Promise<Trial>;
  /** RUNNING -> PRUNED at `step` with `reason`. */
  pruneTrial(trialId: number, step: number, reason: string): Promise<Trial>;
  /**
   * RUNNING -> FAILED with `reason`, and a WAITING retry with the same params enqueued at once:
   * a trial stopped for no fault of its own (its worker interrupted, Ctrl-C) is run again, first,
   * by the next worker of the study. The retry counts as a retry (not against the budget) and
   * carries the trial's `runDir`, as a reaped trial's does.
   */
  interruptTrial(trialId: number, reason: string): Promise<ReapResult>;
  /**
   * Records the directory of the run a RUNNING trial trains in (its `runDir`), so that a retry of
   * it (interrupted, reaped) can continue that run.
   */
  setTrialRun(trialId: number, runDir: string): Promise<void>;
  /** Refreshes the heartbeat; false when the trial is no longer RUNNING for this worker. */
  heartbeat(trialId: number, workerId: string): Promise<boolean>;
  /**
   * Marks RUNNING trials without a heartbeat for `timeoutMs` as FAILED and enqueues a retry with
   * the same params (and `runDir`) for each whose trial a dead worker had failed fewer than
   * `maxRetries` times before (its retries after an interruption, `interruptTrial`, not counted).
   * The RUNNING trials of `deadWorkers` (workers whose process is known to be gone: killed on
   * this host) are reaped so at once, whatever their heartbeat's age.
   */
  reapStale(
    studyId: number,
    timeoutMs: number,
    maxRetries: number,
    deadWorkers?: readonly string[],
  ): Promise<ReapResult>;
  /** All trials of a study by number, optionally only those in `states`. */
  listTrials(studyId: number, states?: TrialState[]): Promise<Trial[]>;
  /** The best COMPLETE trial for the study's direction, or undefined. */
  bestTrial(studyId: number): Promise<Trial | undefined>;
  /** Closes connections. */
  close(): Promise<void>;
}
