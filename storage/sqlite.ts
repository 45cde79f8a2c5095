/**
 * {@linkcode StudyStorage} on one SQLite file through Deno's built-in `node:sqlite`. WAL mode and a
 * busy timeout let several processes on one machine share the file; every write that reads first
 * (claims, trial creation, reaping) runs inside `BEGIN IMMEDIATE`, which takes the write lock up
 * front, so two processes can never claim the same trial. Times are the client's `Date.now()`
 * (all processes share one clock on one machine).
 *
 * @module
 */
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import { AnnealError } from "../errors.ts";
import { fileError } from "../file_errors.ts";
import {
  canonicalJson,
  checkNewStudy,
  checkObjective,
  checkReport,
  checkSameStudy,
  closedError,
  missingStorageError,
  notRunningError,
  pickBest,
  prunedValue,
  settingsChanged,
  studyError,
} from "./_common.ts";
import type {
  CreateStudyOptions,
  CreateTrialOptions,
  Direction,
  OpenStorageOptions,
  ReapResult,
  Study,
  StudyStorage,
  Trial,
  TrialParams,
  TrialState,
} from "./types.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS studies (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, direction TEXT NOT NULL,
  space TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
  id INTEGER PRIMARY KEY, study_id INTEGER NOT NULL REFERENCES studies(id), number INTEGER NOT NULL,
  state TEXT NOT NULL, params TEXT NOT NULL, value REAL, worker_id TEXT, heartbeat_at INTEGER,
  started_at INTEGER, finished_at INTEGER, reason TEXT, pruned_step INTEGER,
  retry_of INTEGER, retries INTEGER NOT NULL DEFAULT 0, run_dir TEXT, UNIQUE (study_id, number));
CREATE INDEX IF NOT EXISTS trials_state ON trials (study_id, state, number);
CREATE TABLE IF NOT EXISTS intermediate (
  trial_id INTEGER NOT NULL REFERENCES trials(id), step INTEGER NOT NULL, value REAL,
  PRIMARY KEY (trial_id, step));
`;

/**
 * Columns added since the first schema, with their type: a study file of an older anneal gets
 * them when it is opened (its trials read them as null).
 */
const ADDED_COLUMNS: Record<string, string> = { run_dir: "TEXT" };

/** The reason of a trial that reapStale failed, as a LIKE pattern. */
const REAPED_REASON = "worker % stopped heart-beating (%";

type Row = Record<string, SQLInputValue>;

const date = (ms: SQLInputValue) => (ms === null ? null : new Date(Number(ms)));

/**
 * Opens a study database at `path`, creating it if needed (unless `create` is false: then a
 * missing file, or one without anneal's tables, is refused and nothing is created).
 *
 * @example
 * ```ts
 * import { openSqliteStorage } from "./sqlite.ts";
 * const storage = openSqliteStorage(":memory:");
 * const study = await storage.createStudy("demo", "minimize", {});
 * const trial = await storage.createTrial(study.id, { params: { x: 1 }, claimBy: "w1" });
 * await storage.completeTrial(trial!.id, 0.5);
 * console.assert((await storage.bestTrial(study.id))?.value === 0.5);
 * await storage.close();
 * ```
 */
export function openSqliteStorage(
  path: string,
  options: { busyTimeoutMs?: number } & OpenStorageOptions = {},
): StudyStorage {
  const { create = true, study } = options;
  if (!create && path !== ":memory:" && !pathExists(path)) {
    throw missingStorageError(`sqlite:${path}`, `the database file ${path} does not exist`, study);
  }
  return new SqliteStorage(path, options.busyTimeoutMs ?? 10_000, create, study);
}

/**
 * SQLite's "database is locked": another connection (a process of anneal's or any other) held the
 * file's write lock for longer than the busy timeout.
 */
const LOCKED = /database is locked|database table is locked/;

/** What to do about `path` held locked by another process. */
const lockedHint = (path: string) =>
  `find the process that holds it (fuser '${path}'; anneal's sweeps and workers take it for ` +
  "moments only), let it finish or stop it, then run again: the study keeps every trial it " +
  "recorded";

/**
 * A write `path`'s lock kept from this process past the busy timeout: a `storage` error that says
 * so, of the file, marked `busy` (a study's calls retry it, as they retry a lost server: see
 * `retryingStorage` in sweeps/study.ts); any other error is returned as it is.
 */
export function busyError(path: string, error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof AnnealError || !LOCKED.test(error.message)) {
    return error;
  }
  return Object.assign(
    new AnnealError(
      "storage",
      `the SQLite database ${path} is locked by another process (SQLite: ${error.message})`,
      {
        where: path,
        hint: lockedHint(path),
        cause: error,
      },
    ),
    { busy: true },
  );
}

/**
 * SQLite's refusal to open `path` as a study database, said of the file and the flag that named
 * it: a file that is not a SQLite database (SQLite says only "file is not a database"), a
 * directory, or a directory that does not exist. Any other error is returned as it is.
 */
export function openError(path: string, error: unknown): unknown {
  const busy = (error as { busy?: unknown } | null)?.busy === true;
  if ((error instanceof AnnealError && !busy) || !(error instanceof Error)) return error;
  const storage = `Cannot open study storage sqlite:${path}`;
  if (busy || LOCKED.test(error.message)) {
    return new AnnealError(
      "storage",
      `${storage}: another process holds its write lock (SQLite waited for it, then gave up: ` +
        `${(error.cause as Error | undefined)?.message ?? error.message})`,
      {
        where: path,
        hint: lockedHint(path),
        cause: error,
      },
    );
  }
  const elsewhere = "name another database file with --storage (e.g. --storage runs/sweeps.db)";
  if (/file is not a database|file is encrypted/.test(error.message)) {
    return new AnnealError(
      "storage",
      `${storage}: ${path} is not a SQLite database (SQLite: ${error.message})`,
      {
        hint: `${elsewhere}; anneal creates it where missing. If ${path} is a study database ` +
          "that was damaged, move it away and run the sweep again (its trials are lost)",
        cause: error,
      },
    );
  }
  if (/database disk image is malformed|SQLITE_CORRUPT/.test(error.message)) {
    // (a file cut short or overwritten in part: "report it", as a bug, was the hint)
    return new AnnealError(
      "storage",
      `${storage}: ${path} is damaged (SQLite: ${error.message}); its studies cannot be read`,
      {
        where: path,
        hint: `restore it from a backup, or move it away and run again (a new database: its ` +
          `trials are lost; \`sqlite3 ${path} .recover\` may save some), or ${elsewhere}`,
        cause: error,
      },
    );
  }
  if (/unable to open database file/.test(error.message)) {
    let why = "SQLite cannot open or create it";
    try {
      if (Deno.statSync(path).isDirectory) why = "it is a directory, not a file";
      else {
        // the file is there and cannot be opened to write (a read-only file system, no
        // permission), which SQLite says only as "unable to open": its studies are in it
        const refusal = cannotWrite(path);
        if (refusal) {
          return new AnnealError(
            "storage",
            `${storage}: cannot write the database file: ${refusal.message}`,
            {
              where: refusal.where,
              hint: `${refusal.hint ?? "check the path"}; or copy the file (its studies are in ` +
                "it) to where it can be written and name the copy with --storage",
              cause: error,
            },
          );
        }
      }
    } catch (statError) {
      const parent = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
      if (statError instanceof Deno.errors.NotFound && !pathExists(parent)) {
        why = `its directory ${parent} does not exist`;
      } else if (statError instanceof Deno.errors.NotFound) {
        // the directory is there: the file cannot be made in it (a read-only file system, a
        // full disk, no permission), which SQLite says only as "unable to open"
        const refusal = cannotCreate(path);
        if (refusal) {
          return new AnnealError(
            "storage",
            `${storage}: cannot create the database file: ${refusal.message}`,
            { where: refusal.where, hint: refusal.hint ?? elsewhere, cause: error },
          );
        }
      }
    }
    return new AnnealError("storage", `${storage}: ${why} (SQLite: ${error.message})`, {
      hint: why.startsWith("its directory")
        ? `create the directory (mkdir -p ${path.slice(0, path.lastIndexOf("/"))}), or ${elsewhere}`
        : elsewhere,
      cause: error,
    });
  }
  return error;
}

/**
 * Why a file cannot be created at `path` (which does not exist, in a directory that does), said
 * by {@linkcode fileError}: the read-only file system, the full disk or the permission; undefined
 * where it can be (the probe's empty file is removed again).
 */
function cannotCreate(path: string): AnnealError | undefined {
  try {
    Deno.openSync(path, { write: true, createNew: true }).close();
  } catch (error) {
    return fileError(error, { action: "create", path, expected: "a writable file", writing: true });
  }
  Deno.removeSync(path);
  return undefined;
}

/**
 * Why the file at `path` (which exists) cannot be opened to write, said by {@linkcode fileError};
 * undefined where it can be.
 */
function cannotWrite(path: string): AnnealError | undefined {
  try {
    Deno.openSync(path, { read: true, write: true }).close();
  } catch (error) {
    return fileError(error, { action: "write", path, expected: "a writable file", writing: true });
  }
  return undefined;
}

/** Whether `path` exists (a file, or anything else that is there). */
function pathExists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * SQLite's failure to write the study database `path` (its disk full; an I/O error, which on a
 * full disk is what writing its WAL gives), said of the file with the fix and how to go on, where
 * it was printed as SQLite's bare words ('disk I/O error') and as a possible bug. Any other error
 * is returned as it is.
 */
export function writeError(path: string, error: unknown): unknown {
  if (error instanceof AnnealError || !(error instanceof Error)) return error;
  const full = /database or disk is full/.test(error.message);
  if (!full && !/disk I\/O error/.test(error.message)) return error;
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
  return new AnnealError(
    "storage",
    `Cannot write study storage sqlite:${path}: ${
      full ? "its disk is full" : "SQLite could not write it (most often: its disk is full)"
    } (SQLite: ${error.message})`,
    {
      where: path,
      hint: `free space on the disk that holds ${dir} (df -h '${dir}'), then run the sweep ` +
        "again: the study keeps every trial it recorded, and a trial that was running is run again",
      cause: error,
    },
  );
}

class SqliteStorage implements StudyStorage {
  #database: DatabaseSync;
  readonly #path: string;

  /** The database, refused once `close()` closed it. */
  get #db(): DatabaseSync {
    if (!this.#database.isOpen) throw closedError(`sqlite:${this.#path}`);
    return this.#database;
  }

  constructor(path: string, busyTimeoutMs: number, create: boolean, study?: string) {
    this.#path = path;
    try {
      this.#database = new DatabaseSync(path);
    } catch (error) {
      throw openError(path, error);
    }
    try {
      this.#db.exec(`PRAGMA busy_timeout = ${Math.floor(busyTimeoutMs)}`);
      // (looked at before anything is written: a file that is not anneal's is left as it was)
      if (!create && !this.#get("SELECT 1 FROM sqlite_master WHERE name = 'studies'")) {
        throw missingStorageError(
          `sqlite:${path}`,
          `the database file ${path} has no anneal tables`,
          study,
        );
      }
      this.#db.exec("PRAGMA journal_mode = WAL");
      this.#db.exec("PRAGMA synchronous = NORMAL");
      this.#transaction(() => {
        this.#db.exec(SCHEMA);
        this.#addColumns();
      });
    } catch (error) {
      this.#db.close();
      throw writeError(path, openError(path, error));
    }
  }

  /** Brings the trials table of an older anneal up to date (inside the opening transaction). */
  #addColumns(): void {
    const columns = new Set(
      (this.#db.prepare("PRAGMA table_info(trials)").all() as Row[]).map((c) => String(c.name)),
    );
    for (const [name, type] of Object.entries(ADDED_COLUMNS)) {
      if (!columns.has(name)) this.#db.exec(`ALTER TABLE trials ADD COLUMN ${name} ${type}`);
    }
  }

  #transaction<T>(body: () => T): T {
    try {
      this.#db.exec("BEGIN IMMEDIATE");
    } catch (error) {
      // (the write lock another connection held past the busy timeout, most often)
      throw writeError(this.#path, busyError(this.#path, error));
    }
    try {
      const result = body();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      try {
        this.#db.exec("ROLLBACK");
      } catch {
        // SQLite rolled it back itself (a full disk, an I/O error): its error is the one to give,
        // where 'cannot rollback - no transaction is active' was given in its place
      }
      throw writeError(this.#path, busyError(this.#path, error));
    }
  }

  /** Runs `body` in a write transaction; a throw becomes a rejected promise, as in postgres.ts. */
  #run<T>(body: () => T): Promise<T> {
    try {
      return Promise.resolve(this.#transaction(body));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #get(sql: string, ...args: SQLInputValue[]): Row | undefined {
    return this.#db.prepare(sql).get(...args) as Row | undefined;
  }

  #studyFrom(row: Row): Study {
    return {
      id: Number(row.id),
      name: String(row.name),
      direction: row.direction as Direction,
      space: JSON.parse(String(row.space)),
      createdAt: new Date(Number(row.created_at)),
    };
  }

  #trialFrom(row: Row, intermediate = new Map<number, number>()): Trial {
    return {
      id: Number(row.id),
      studyId: Number(row.study_id),
      number: Number(row.number),
      state: row.state as TrialState,
      params: JSON.parse(String(row.params)),
      value: row.value === null ? null : Number(row.value),
      intermediate,
      workerId: row.worker_id === null ? null : String(row.worker_id),
      heartbeatAt: date(row.heartbeat_at),
      startedAt: date(row.started_at),
      finishedAt: date(row.finished_at),
      reason: row.reason === null ? null : String(row.reason),
      prunedStep: row.pruned_step === null ? null : Number(row.pruned_step),
      retryOf: row.retry_of === null ? null : Number(row.retry_of),
      retries: Number(row.retries),
      runDir: row.run_dir === null ? null : String(row.run_dir),
    };
  }

  #trial(id: number): Trial {
    const row = this.#get("SELECT * FROM trials WHERE id = ?", id);
    if (!row) throw new AnnealError("storage", `Cannot find trial ${id}`, { where: `trial ${id}` });
    const steps = this.#db.prepare("SELECT step, value FROM intermediate WHERE trial_id = ?")
      .all(id) as Row[];
    const values = steps.map((s): [number, number] => [
      Number(s.step),
      s.value === null ? NaN : Number(s.value),
    ]);
    return this.#trialFrom(row, new Map(values));
  }

  createStudy(
    name: string,
    direction: Direction,
    space: unknown,
    options: CreateStudyOptions = {},
  ): Promise<Study> {
    return this.#run(() => {
      checkNewStudy(name, direction);
      const row = this.#get("SELECT * FROM studies WHERE name = ?", name);
      if (row) {
        if (!options.loadIfExists) throw studyError(name, true);
        const study = checkSameStudy(this.#studyFrom(row), direction, space, options.identity);
        if (!settingsChanged(study, space)) return study;
        this.#db.prepare("UPDATE studies SET space = ? WHERE id = ?")
          .run(canonicalJson(space), study.id);
        return this.#studyFrom(this.#get("SELECT * FROM studies WHERE id = ?", study.id)!);
      }
      this.#db.prepare(
        "INSERT INTO studies (name, direction, space, created_at) VALUES (?, ?, ?, ?)",
      ).run(name, direction, canonicalJson(space), Date.now());
      return this.#studyFrom(this.#get("SELECT * FROM studies WHERE name = ?", name)!);
    });
  }

  studyNames(): Promise<string[]> {
    const rows = this.#db.prepare("SELECT name FROM studies").all() as Row[];
    // (in JavaScript's order, the same whatever the database's collation)
    return Promise.resolve(rows.map((row) => String(row.name)).sort());
  }

  loadStudy(name: string): Promise<Study> {
    const row = this.#get("SELECT * FROM studies WHERE name = ?", name);
    if (!row) return Promise.reject(studyError(name, false));
    return Promise.resolve(this.#studyFrom(row));
  }

  #insertTrial(studyId: number, params: unknown, extra: Row): number {
    const next = this.#get(
      "SELECT COALESCE(MAX(number) + 1, 0) AS n FROM trials WHERE study_id = ?",
      studyId,
    )!;
    const now = Date.now();
    const running = extra.worker_id !== null;
    const result = this.#db.prepare(
      `INSERT INTO trials (study_id, number, state, params, worker_id, heartbeat_at, started_at,
         retry_of, retries, run_dir) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      studyId,
      Number(next.n),
      running ? "RUNNING" : "WAITING",
      JSON.stringify(params),
      extra.worker_id,
      running ? now : null,
      running ? now : null,
      extra.retry_of,
      extra.retries,
      extra.run_dir ?? null,
    );
    return Number(result.lastInsertRowid);
  }

  createTrial(studyId: number, options: CreateTrialOptions): Promise<Trial | null> {
    return this.#run(() => {
      const originals = (this.#db.prepare(
        "SELECT params FROM trials WHERE study_id = ? AND retry_of IS NULL ORDER BY number",
      ).all(studyId) as Row[]).map((row) => JSON.parse(String(row.params)) as TrialParams);
      const count = originals.length;
      if (options.maxTrials !== undefined && count >= options.maxTrials) return null;
      const params = typeof options.params === "function"
        ? options.params(count, originals)
        : options.params;
      if (params === null) return null;
      const id = this.#insertTrial(studyId, params, {
        worker_id: options.claimBy ?? null,
        retry_of: null,
        retries: 0,
      });
      return this.#trial(id);
    });
  }

  claimTrial(studyId: number, workerId: string): Promise<Trial | null> {
    return this.#run(() => {
      const row = this.#get(
        "SELECT id FROM trials WHERE study_id = ? AND state = 'WAITING' ORDER BY number LIMIT 1",
        studyId,
      );
      if (!row) return null;
      const now = Date.now();
      this.#db.prepare(
        `UPDATE trials SET state = 'RUNNING', worker_id = ?, heartbeat_at = ?, started_at = ?
         WHERE id = ?`,
      ).run(workerId, now, now, row.id);
      return this.#trial(Number(row.id));
    });
  }

  #requireRunning(trialId: number, action: string): void {
    const row = this.#get("SELECT state FROM trials WHERE id = ?", trialId);
    if (!row) throw new AnnealError("storage", `Cannot ${action} trial ${trialId}: no such trial`);
    if (row.state !== "RUNNING") throw notRunningError(trialId, action, String(row.state));
  }

  reportIntermediate(trialId: number, step: number, value: number): Promise<void> {
    return this.#run(() => {
      checkReport(trialId, step, value);
      this.#requireRunning(trialId, "report to");
      this.#db.prepare(
        "INSERT OR REPLACE INTO intermediate (trial_id, step, value) VALUES (?, ?, ?)",
      ).run(trialId, step, Number.isNaN(value) ? null : value);
      this.#db.prepare("UPDATE trials SET heartbeat_at = ? WHERE id = ?").run(Date.now(), trialId);
    });
  }

  /** Ends a RUNNING trial; `fields` its fields, or a function of the trial that reads them. */
  #finish(
    trialId: number,
    action: string,
    state: TrialState,
    fields: Row | ((running: Trial) => Row),
  ): Promise<Trial> {
    return this.#run(() => {
      this.#requireRunning(trialId, action);
      const { value, reason, pruned_step } = typeof fields === "function"
        ? fields(this.#trial(trialId))
        : fields;
      this.#db.prepare(
        `UPDATE trials SET state = ?, value = ?, reason = ?, pruned_step = ?, finished_at = ?
         WHERE id = ?`,
      ).run(state, value, reason, pruned_step, Date.now(), trialId);
      return this.#trial(trialId);
    });
  }

  completeTrial(trialId: number, value: number): Promise<Trial> {
    try {
      checkObjective(trialId, value);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#finish(trialId, "complete", "COMPLETE", {
      value,
      reason: null,
      pruned_step: null,
    });
  }

  failTrial(trialId: number, reason: string): Promise<Trial> {
    return this.#finish(trialId, "fail", "FAILED", { value: null, reason, pruned_step: null });
  }

  pruneTrial(trialId: number, step: number, reason: string): Promise<Trial> {
    return this.#finish(trialId, "prune", "PRUNED", (running) => ({
      value: prunedValue(running.intermediate),
      reason,
      pruned_step: step,
    }));
  }

  interruptTrial(trialId: number, reason: string): Promise<ReapResult> {
    return this.#run(() => {
      this.#requireRunning(trialId, "interrupt");
      const row = this.#get("SELECT * FROM trials WHERE id = ?", trialId)!;
      this.#db.prepare(
        "UPDATE trials SET state = 'FAILED', reason = ?, finished_at = ? WHERE id = ?",
      ).run(reason, Date.now(), trialId);
      const retryId = this.#insertTrial(Number(row.study_id), JSON.parse(String(row.params)), {
        worker_id: null,
        retry_of: row.retry_of ?? trialId,
        retries: Number(row.retries) + 1,
        run_dir: row.run_dir,
      });
      return { failed: [this.#trial(trialId)], retried: [this.#trial(retryId)] };
    });
  }

  setTrialRun(trialId: number, runDir: string): Promise<void> {
    return this.#run(() => {
      this.#requireRunning(trialId, "record the run of");
      this.#db.prepare("UPDATE trials SET run_dir = ? WHERE id = ?").run(runDir, trialId);
    });
  }

  heartbeat(trialId: number, workerId: string): Promise<boolean> {
    return this.#run(() => {
      const result = this.#db.prepare(
        "UPDATE trials SET heartbeat_at = ? WHERE id = ? AND state = 'RUNNING' AND worker_id = ?",
      ).run(Date.now(), trialId, workerId);
      return Number(result.changes) === 1;
    });
  }

  reapStale(
    studyId: number,
    timeoutMs: number,
    maxRetries: number,
    deadWorkers: readonly string[] = [],
  ): Promise<ReapResult> {
    return this.#run(() => {
      const now = Date.now();
      const stale = this.#db.prepare(
        `SELECT * FROM trials WHERE study_id = ? AND state = 'RUNNING'
           AND (heartbeat_at < ? OR worker_id IN (SELECT value FROM json_each(?)))
         ORDER BY number`,
      ).all(studyId, now - timeoutMs, JSON.stringify(deadWorkers)) as Row[];
      const result: ReapResult = { failed: [], retried: [] };
      for (const row of stale) {
        const id = Number(row.id);
        const reason = `worker ${row.worker_id} stopped heart-beating (${
          deadWorkers.includes(String(row.worker_id))
            ? "its process is gone"
            : `no heartbeat for ${now - Number(row.heartbeat_at)} ms`
        })`;
        this.#db.prepare(
          "UPDATE trials SET state = 'FAILED', reason = ?, finished_at = ? WHERE id = ?",
        ).run(reason, now, id);
        result.failed.push(this.#trial(id));
        const retries = Number(row.retries);
        // (the trials of its chain that a dead worker failed, this one included: an interrupted
        // trial's retries, Ctrl-C's, do not use up the retries a worker's death gets)
        const root = row.retry_of ?? id;
        const reaped = Number(
          this.#get(
            `SELECT COUNT(*) AS n FROM trials WHERE (id = ? OR retry_of = ?) AND state = 'FAILED'
             AND reason LIKE ?`,
            root,
            root,
            REAPED_REASON,
          )!.n,
        );
        if (reaped <= maxRetries) {
          const retryId = this.#insertTrial(studyId, JSON.parse(String(row.params)), {
            worker_id: null,
            retry_of: row.retry_of ?? id,
            retries: retries + 1,
            run_dir: row.run_dir,
          });
          result.retried.push(this.#trial(retryId));
        }
      }
      return result;
    });
  }

  listTrials(studyId: number, states?: TrialState[]): Promise<Trial[]> {
    const rows = this.#db.prepare("SELECT * FROM trials WHERE study_id = ? ORDER BY number")
      .all(studyId) as Row[];
    const steps = this.#db.prepare(
      `SELECT i.trial_id, i.step, i.value FROM intermediate i JOIN trials t ON t.id = i.trial_id
       WHERE t.study_id = ? ORDER BY i.step`,
    ).all(studyId) as Row[];
    const byTrial = new Map<number, Map<number, number>>();
    for (const s of steps) {
      const id = Number(s.trial_id);
      if (!byTrial.has(id)) byTrial.set(id, new Map());
      byTrial.get(id)!.set(Number(s.step), s.value === null ? NaN : Number(s.value));
    }
    const trials = rows.map((row) => this.#trialFrom(row, byTrial.get(Number(row.id))));
    return Promise.resolve(states ? trials.filter((t) => states.includes(t.state)) : trials);
  }

  async bestTrial(studyId: number): Promise<Trial | undefined> {
    const study = this.#get("SELECT direction FROM studies WHERE id = ?", studyId);
    if (!study) throw new AnnealError("storage", `Cannot find study ${studyId}`);
    return pickBest(await this.listTrials(studyId, ["COMPLETE"]), study.direction as Direction);
  }

  close(): Promise<void> {
    if (this.#database.isOpen) this.#database.close();
    return Promise.resolve();
  }
}
