/**
 * {@linkcode StudyStorage} on PostgreSQL through the `postgres` driver (porsager), for workers on
 * many machines. Claims use `SELECT ... FOR UPDATE SKIP LOCKED`, so concurrent claimers never wait
 * on each other nor take the same trial; trial numbers and the `maxTrials` budget are assigned
 * under a lock on the study row; heartbeats are the server's `now()`, so worker clocks do not
 * matter; reaping runs in one transaction.
 *
 * @module
 */
import postgres from "npm:postgres@3.4.9";
import { AnnealError } from "../errors.ts";
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
  redactedUrl,
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

type Sql = postgres.Sql | postgres.TransactionSql;
type Row = postgres.Row;

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS anneal_studies (
    id serial PRIMARY KEY, name text NOT NULL UNIQUE, direction text NOT NULL,
    space jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`,
  `CREATE TABLE IF NOT EXISTS anneal_trials (
    id serial PRIMARY KEY, study_id integer NOT NULL REFERENCES anneal_studies(id),
    number integer NOT NULL, state text NOT NULL, params jsonb NOT NULL,
    value double precision, worker_id text, heartbeat_at timestamptz, started_at timestamptz,
    finished_at timestamptz, reason text, pruned_step integer, retry_of integer,
    retries integer NOT NULL DEFAULT 0, run_dir text, UNIQUE (study_id, number))`,
  `CREATE INDEX IF NOT EXISTS anneal_trials_state ON anneal_trials (study_id, state, number)`,
  `CREATE TABLE IF NOT EXISTS anneal_intermediate (
    trial_id integer NOT NULL REFERENCES anneal_trials(id), step integer NOT NULL,
    value double precision, PRIMARY KEY (trial_id, step))`,
];

/**
 * Columns added since the first schema, with their type: the tables of an older anneal get them
 * when a storage is opened (their trials read them as null).
 */
const ADDED_COLUMNS: Record<string, string> = { run_dir: "text" };

/**
 * Connects to PostgreSQL at `url` and creates the tables if needed (under an advisory lock, so
 * many workers starting at once do not race on `CREATE TABLE`), or, with `create: false`, refuses
 * a database without them; the tables of an older anneal get the columns added since.
 *
 * @example
 * ```ts ignore
 * import { openPostgresStorage } from "./postgres.ts";
 * const storage = await openPostgresStorage("postgres://user@db.example:5432/sweeps");
 * const study = await storage.createStudy("lr-sweep", "minimize", {}, { loadIfExists: true });
 * console.log(await storage.bestTrial(study.id));
 * await storage.close();
 * ```
 */
export async function openPostgresStorage(
  url: string,
  options: { maxConnections?: number; openTimeoutMs?: number } & OpenStorageOptions = {},
): Promise<StudyStorage> {
  const { create = true, study } = options;
  guardDroppedSocketWrites();
  const connect = () => client(url, options.maxConnections ?? 4);
  let first: Client;
  try {
    first = connect();
  } catch (error) {
    // (postgres.js reads the URL as it makes its client: a port that is no number, or a % that
    // starts no escape, threw a TypeError or URIError that named the URL, its password included,
    // with a hint to report a bug)
    throw new AnnealError(
      "usage",
      `Cannot open study storage at ${redact(url)}: not a URL that can be read (${
        error instanceof URIError ? "a % in it starts no %XX escape" : "check its host and port"
      })`,
      {
        cause: error,
        hint: "write it postgres://USER:PASSWORD@HOST:PORT/DATABASE, the port a number up to " +
          "65535; characters such as @ : / % in the user or password are written %40 %3A %2F %25",
      },
    );
  }
  let connectionClosed = false;
  first.onclose = () => (connectionClosed = true);
  // A server that answers as no PostgreSQL does (an HTTP server or proxy at that port) closes each
  // connection as it starts, and postgres.js opens the next for the same query, without end: the
  // command ran for as long as it was let, thousands of connections a minute, saying nothing.
  const openMs = options.openTimeoutMs ?? OPEN_MS;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() =>
      reject(
        Object.assign(
          new Error(`no answer as PostgreSQL gives one in ${openMs / 1000} s`),
          { code: "OPEN_TIMEOUT" },
        ),
      ), openMs);
  });
  const sql = first.sql;
  try {
    const opening = transaction(() => sql, async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(7464251)`;
      const [{ tables }] = await tx`SELECT to_regclass('anneal_studies') IS NOT NULL AS tables`;
      if (!create && !tables) {
        throw missingStorageError(redact(url), "the database has no anneal tables", study);
      }
      for (const statement of SCHEMA) await tx.unsafe(statement);
      await addColumns(tx);
    });
    opening.catch(() => {}); // (given up, it fails as the client ends)
    await Promise.race([opening, timedOut]).finally(() => clearTimeout(timer));
  } catch (error) {
    // (nothing else is under way: end at once where a connection closed, see PostgresStorage.close)
    await sql.end({ timeout: connectionClosed ? 0 : 1 });
    if (error instanceof AnnealError) throw error;
    throw new AnnealError("storage", `Cannot open study storage at ${redact(url)}: ${error}`, {
      cause: error,
      hint: openFailureHint(error, url),
    });
  }
  const storage = new PostgresStorage(first, connect, redact(url));
  if (connectionClosed) first.onclose(); // (its client is replaced)
  return storage;
}

/**
 * How long opening a storage may take (its connection's connect_timeout is 10 s; the tables are
 * created under a lock held for moments) before it is given up.
 */
const OPEN_MS = 60_000;

/**
 * The fix for a connection `url` could not open, by what failed: one hint for every cause ("check
 * that PostgreSQL runs") sent a user whose `deno run` did not allow the database's host, whose
 * database was not created yet or whose password was wrong to look at a server that ran.
 */
export function openFailureHint(error: unknown, url: string): string {
  let user = "USER", host = "HOST", port = "5432", database = "DATABASE";
  try {
    const address = new URL(url);
    user = decodeURIComponent(address.username) || user;
    host = address.hostname || host;
    port = address.port || port;
    // (a URL that names no database connects to the user's own, as libpq does)
    database = decodeURIComponent(address.pathname.slice(1)) ||
      (address.username === "" ? database : user);
  } catch {
    // (an address URL cannot read keeps the placeholders)
  }
  const { code, syscall } = (error ?? {}) as { code?: unknown; syscall?: unknown };
  // Deno refuses a host its --allow-net does not name: NotCapable for an address, and an EPERM
  // from the name's look-up (postgres.js goes through node:dns) for a host name
  if (error instanceof Deno.errors.NotCapable || (code === "EPERM" && syscall === "getaddrinfo")) {
    return `this process may not reach ${host}:${port}: name it in deno's --allow-net ` +
      `(--allow-net=${host}:${port}); \`deno task anneal\` allows 127.0.0.1 and localhost only`;
  }
  switch (code) {
    case "ECONNREFUSED":
      return `nothing accepts connections at ${host}:${port}: start PostgreSQL there, or check ` +
        "the host and port in the URL";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `the host name ${host} is not found: check the host in the URL`;
    case "OPEN_TIMEOUT":
      return `something at ${host}:${port} takes connections but gives no PostgreSQL answer (an ` +
        "HTTP server or a proxy at that port, a server shutting down?): check the host and port " +
        "in the URL, and that PostgreSQL runs there";
    case "CONNECT_TIMEOUT":
    case "ETIMEDOUT":
      return `${host}:${port} did not answer: check the host and port in the URL, and that a ` +
        "firewall lets this machine reach the server";
    case "3D000": // invalid_catalog_name: no such database
      return `create the database on the server (\`createdb -O ${user} ${database}\`), or name ` +
        "an existing one in the URL";
    case "28P01": // invalid_password
      return `check the password of ${user} in the URL (postgres://${user}:PASSWORD@${host}:` +
        `${port}/${database}); characters such as @ : / in it are written %40 %3A %2F`;
    case "28000": // invalid_authorization_specification: no such role, or pg_hba.conf refuses
      return `check the user in the URL, or create the role (\`createuser --pwprompt ${user}\`); ` +
        "the server's pg_hba.conf must admit this user from this machine";
  }
  return "check that PostgreSQL runs and the URL (user, host, port, database) is right";
}

/** A postgres.js client, and what is told when one of its connections closes. */
interface Client {
  sql: postgres.Sql;
  onclose: () => void;
}

/** A postgres.js client of the storage's, its connections opened as its queries need them. */
function client(url: string, max: number): Client {
  const made: Client = { sql: undefined as unknown as postgres.Sql, onclose: () => {} };
  made.sql = postgres(url, {
    max,
    onnotice: () => {},
    connect_timeout: 10,
    // postgres.js 3.4.9 looks up the server's array types as each connection's first query, in a
    // promise nobody awaits: a connection ended then (a server restarting or failing over) raised
    // an unhandled rejection that ended the process. The tables hold no arrays, so the look-up is
    // not needed, and the first query on a connection is the caller's own, whose failure the
    // caller (and the study's retries) handle.
    fetch_types: false,
    // Seconds a connection waits before connecting again after a failure: postgres.js's default
    // grows to 10-20 s after 8 failures in a row (an outage of a few seconds), so that once the
    // server was back a call on such a connection waited that long, and the trials whose
    // heartbeats it held up were reaped by other workers. The study's retries pace the calls.
    backoff: (failures: number) => (0.5 + Math.random() / 2) * Math.min(0.05 * 2 ** failures, 1),
    // Connections are not ended for their age (postgres.js's default ends each after 30-60
    // minutes), so that one closes only when it is lost (a server gone, a network cut) or the
    // storage closes: the storage replaces the client then (see PostgresStorage.#lost), which a
    // close by age would do for nothing.
    max_lifetime: null,
    onclose: () => made.onclose(),
  });
  return made;
}

/**
 * Adds the columns an older anneal's trials table lacks. (Looked up first: `ADD COLUMN IF NOT
 * EXISTS` would take the table's exclusive lock at every open, even with nothing to add.)
 */
async function addColumns(tx: postgres.TransactionSql): Promise<void> {
  const rows = await tx`
    SELECT column_name FROM information_schema.columns
    WHERE table_name = 'anneal_trials' AND table_schema = current_schema()`;
  const columns = new Set(rows.map((row) => row.column_name));
  for (const [name, type] of Object.entries(ADDED_COLUMNS)) {
    if (!columns.has(name)) {
      await tx.unsafe(`ALTER TABLE anneal_trials ADD COLUMN IF NOT EXISTS ${name} ${type}`);
    }
  }
}

/** How long a transaction whose connection went away waits for postgres.js to say so. */
const LOST_CONNECTION_MS = 10_000;

/** Whether a query failed because its connection went away (postgres.js's codes, the socket's). */
function connectionLost(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return typeof code === "string" &&
    /^(CONNECTION_CLOSED|CONNECTION_DESTROYED|ECONNRESET|EPIPE|ETIMEDOUT)$/.test(code);
}

/**
 * Runs `work` in a transaction (postgres.js's `begin`). Where a query of it fails because the
 * connection went away (a server restarting, a network cut), `work` is left pending instead of
 * rejecting: postgres.js 3.4.9 answers a callback that rejects with a ROLLBACK on the same
 * connection, which, closed, has no socket to write it to. That write failed outside any promise,
 * and left the connection unable to write again: each later use of it waited its connect_timeout
 * (10 s) and failed with CONNECT_TIMEOUT. `begin` rejects with the connection's
 * close on its own (it races the callback against it); should it not within
 * {@linkcode LOST_CONNECTION_MS}, the transaction fails with the query's error. A transaction whose
 * BEGIN postgres.js failed unsent ({@linkcode failedUnsent}) is sent again: `work` had not begun.
 */
function transaction<T>(
  sql: () => postgres.Sql,
  work: (tx: postgres.TransactionSql) => Promise<T>,
): Promise<T> {
  return sentAgain(sql(), () => attempt(sql(), work));
}

/** One try of {@linkcode transaction}. */
function attempt<T>(
  sql: postgres.Sql,
  work: (tx: postgres.TransactionSql) => Promise<T>,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let giveUp: (error: unknown) => void = () => {};
  const parked = new Promise<never>((_, reject) => (giveUp = reject));
  const run = sql.begin(async (tx) => {
    try {
      return await work(tx);
    } catch (error) {
      if (!connectionLost(error)) throw error;
      timer = setTimeout(() => giveUp(error), LOST_CONNECTION_MS);
      return await new Promise<never>(() => {});
    }
  }) as Promise<T>;
  return Promise.race([run, parked]).finally(() => clearTimeout(timer));
}

/**
 * Whether postgres.js failed a query, without sending it, with the error that ended an earlier
 * socket of its connection. postgres.js 3.4.9 keeps the error a server sends as it ends a
 * connection during a query (FATAL 57P01: pg_terminate_backend, a shutdown; 57P02: another
 * backend's crash) for the connection's next ReadyForQuery, and the socket closes before one comes:
 * the query under way fails with CONNECTION_CLOSED, and the kept error fails the query the
 * connection next connects for, once the new socket's start-up ends and before that query is sent
 * (its `closed` resets neither the query under way nor the error). A FATAL error fails a query
 * at no other time: one during a connection's start-up fails the query it connects for, unsent
 * too. So such a query can be sent again.
 */
function failedUnsent(error: unknown): boolean {
  return error instanceof postgres.PostgresError && error.severity === "FATAL" &&
    /^57P0[12]$/.test(error.code);
}

/**
 * Runs `send` (one statement, or a transaction, whose BEGIN is what such an error fails) and
 * sends it again where postgres.js failed it unsent ({@linkcode failedUnsent}): at most once per
 * connection, each of which can keep one such error. (The study's retries took the first call
 * after a server's restart for a failure, and waited before trying it again.)
 */
async function sentAgain<T>(sql: postgres.Sql, send: () => Promise<T>): Promise<T> {
  for (let again = 0;; again++) {
    try {
      return await send();
    } catch (error) {
      if (again >= sql.options.max || !failedUnsent(error)) throw error;
    }
  }
}

/** How long {@linkcode PostgresStorage.close} lets the calls under way finish. */
const CLOSE_MS = 5_000;

/**
 * How long the calls under way when one of the storage's connections closed may go on before
 * they fail as lost (see PostgresStorage.#lost): the calls of a healthy connection take
 * milliseconds, and a worker's heartbeat held up much longer would have its trial reaped (after
 * 10 heartbeats, 10 s by default).
 */
const LOST_CALL_MS = 5_000;

/**
 * Whether a call failed because the storage ended its client (postgres.js's codes for a query of
 * a client ended, or ending): outside close() only a client replaced as one of its connections was
 * lost is ended.
 */
function endedClient(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return code === "CONNECTION_DESTROYED" || code === "CONNECTION_ENDED";
}

/** The error of a call given up with a replaced client: retried as any lost connection. */
function lostCallError(cause: unknown): Error {
  return Object.assign(
    new Error(
      `PostgreSQL connection closed: the call had no answer ${LOST_CALL_MS / 1000} s after one ` +
        "of the storage's connections closed, and was given up (the connections are replaced; " +
        "the call may be tried again)",
      { cause },
    ),
    { code: "CONNECTION_CLOSED" },
  );
}

let guarded = false;

/**
 * postgres.js 3.4.9 can write to a socket that closed under it: a write it deferred with
 * `setImmediate` runs after the server went away and throws `TypeError: Cannot read properties of
 * null (reading 'write')` outside any promise, which would end the process. The query it belonged
 * to fails on its own (connection closed) and the storage's retries take over, so that one error,
 * from that one place, is dropped with a warning; any other uncaught error stays fatal.
 */
export function guardDroppedSocketWrites(): void {
  if (guarded) return;
  guarded = true;
  globalThis.addEventListener("error", (event) => {
    const error = event.error;
    if (
      error instanceof TypeError && /reading 'write'/.test(error.message) &&
      /postgres[/\\]src[/\\]connection\.js/.test(error.stack ?? "")
    ) {
      event.preventDefault();
      console.warn(`anneal: PostgreSQL connection dropped mid-write (${error.message}); retrying`);
    }
  });
}

/**
 * `url` with its password as `***`: all of it up to the last `@` before the host, as the driver
 * reads an `@` left unescaped in a password (the first `@` printed the rest of it).
 */
const redact = redactedUrl;

function studyFrom(row: Row): Study {
  return {
    id: row.id,
    name: row.name,
    direction: row.direction,
    space: row.space,
    createdAt: row.created_at,
  };
}

function trialFrom(row: Row, intermediate = new Map<number, number>()): Trial {
  return {
    id: row.id,
    studyId: row.study_id,
    number: row.number,
    state: row.state,
    params: row.params,
    value: row.value,
    intermediate,
    workerId: row.worker_id,
    heartbeatAt: row.heartbeat_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    reason: row.reason,
    prunedStep: row.pruned_step,
    retryOf: row.retry_of,
    retries: row.retries,
    runDir: row.run_dir ?? null,
  };
}

class PostgresStorage implements StudyStorage {
  /** The client that new calls use. */
  #client: Client;
  #connect: () => Client;
  /** The calls under way (each settled, never rejecting), with the client each began on. */
  #calls = new Set<{ settled: Promise<void>; sql: postgres.Sql }>();
  /** The ends of the replaced clients (each ends its client at once; run once). */
  #replaced = new Set<() => Promise<void>>();
  /** Whether a connection of the client closed once close() had begun. */
  #closedWhileClosing = false;
  #closing: Promise<void> | undefined;
  /** The storage's URL, its password left out, as its errors name it. */
  readonly #url: string;

  constructor(first: Client, connect: () => Client, url: string) {
    this.#connect = connect;
    this.#url = url;
    this.#client = this.#watch(first);
  }

  get #sql(): postgres.Sql {
    return this.#client.sql;
  }

  /** `client`, with its connections' closes sent to {@linkcode PostgresStorage.#lost}. */
  #watch(client: Client): Client {
    client.onclose = () => this.#lost(client);
    return client;
  }

  /**
   * A connection of `client` closed: lost (a server gone or restarting, a network cut; the
   * client's connections are not ended for their age), or ended by the storage. postgres.js
   * 3.4.9 may keep a query sent on it as its socket failed, before it closed (a call made in
   * reaction to the call that failed then), neither answered nor failed, and leave that
   * connection unable to start up again (each try waited connect_timeout and failed, about ten
   * times over): see the storage's lost-connection tests. So the client is replaced at once: new
   * calls, and the next statements of those under way outside a transaction, go to a new client.
   * The old one is ended once the calls that began on it have settled (a transaction on one of
   * its healthy connections goes on to its end), or {@linkcode LOST_CALL_MS} after the close at
   * the latest: the calls that are then still under way on it fail, with an error the study's
   * retries take for a lost connection ({@linkcode lostCallError}).
   */
  #lost(client: Client): void {
    if (client !== this.#client) return; // a replaced client's, ended by the storage
    if (this.#closing) {
      this.#closedWhileClosing = true;
      return;
    }
    this.#client = this.#watch(this.#connect());
    let ended: Promise<void> | undefined;
    const end = () => {
      this.#replaced.delete(end);
      clearTimeout(timer);
      return ended ??= client.sql.end({ timeout: 0 }).catch(() => {});
    };
    this.#replaced.add(end);
    const timer = setTimeout(end, LOST_CALL_MS);
    const began = [...this.#calls].filter((call) => call.sql === client.sql);
    Promise.all(began.map((call) => call.settled)).then(end);
  }

  /** Runs one call of the storage's: refused once close() began, else kept for it to wait on. */
  #call<T>(run: () => Promise<T>): Promise<T> {
    if (this.#closing) return Promise.reject(closedError(this.#url));
    const sql = this.#sql;
    const call = run().catch((error) => {
      throw !this.#closing && endedClient(error) ? lostCallError(error) : error;
    });
    const entry = { settled: call.then(() => {}, () => {}), sql };
    this.#calls.add(entry);
    entry.settled.then(() => this.#calls.delete(entry));
    return call;
  }

  /** A statement outside a transaction, sent again where postgres.js failed it unsent. */
  #query(
    strings: TemplateStringsArray,
    ...values: postgres.ParameterOrFragment<never>[]
  ): Promise<postgres.RowList<Row[]>> {
    return sentAgain(this.#sql, () => this.#sql(strings, ...values));
  }

  async #trial(sql: Sql, id: number): Promise<Trial> {
    const [row] = await sql`SELECT * FROM anneal_trials WHERE id = ${id}`;
    if (!row) throw new AnnealError("storage", `Cannot find trial ${id}`, { where: `trial ${id}` });
    const steps = await sql`SELECT step, value FROM anneal_intermediate WHERE trial_id = ${id}`;
    return trialFrom(row, new Map(steps.map((s): [number, number] => [s.step, s.value ?? NaN])));
  }

  createStudy(
    name: string,
    direction: Direction,
    space: unknown,
    options: CreateStudyOptions = {},
  ): Promise<Study> {
    return this.#call(async () => {
      checkNewStudy(name, direction);
      const [inserted] = await this.#query`
        INSERT INTO anneal_studies (name, direction, space)
        VALUES (${name}, ${direction}, ${canonicalJson(space)}::text::jsonb)
        ON CONFLICT (name) DO NOTHING RETURNING *`;
      if (inserted) return studyFrom(inserted);
      if (!options.loadIfExists) throw studyError(name, true);
      const loaded = await this.#loadStudy(name);
      const study = checkSameStudy(loaded, direction, space, options.identity);
      if (!settingsChanged(study, space)) return study;
      const [updated] = await this.#query`
        UPDATE anneal_studies SET space = ${canonicalJson(space)}::text::jsonb
        WHERE id = ${study.id} RETURNING *`;
      return studyFrom(updated);
    });
  }

  loadStudy(name: string): Promise<Study> {
    return this.#call(() => this.#loadStudy(name));
  }

  studyNames(): Promise<string[]> {
    return this.#call(async () => {
      const rows = await this.#query`SELECT name FROM anneal_studies`;
      // (in JavaScript's order: the database's collation may sort another way)
      return rows.map((row) => String(row.name)).sort();
    });
  }

  async #loadStudy(name: string): Promise<Study> {
    const [row] = await this.#query`SELECT * FROM anneal_studies WHERE name = ${name}`;
    if (!row) throw studyError(name, false);
    return studyFrom(row);
  }

  async #insertTrial(
    sql: Sql,
    studyId: number,
    params: TrialParams,
    workerId: string | null,
    retryOf: number | null,
    retries: number,
    runDir: string | null = null,
  ): Promise<Trial> {
    const [row] = await sql`
      INSERT INTO anneal_trials (study_id, number, state, params, worker_id, heartbeat_at,
        started_at, retry_of, retries, run_dir)
      SELECT ${studyId}, COALESCE(MAX(number) + 1, 0), ${workerId === null ? "WAITING" : "RUNNING"},
        ${JSON.stringify(params)}::text::jsonb, ${workerId},
        CASE WHEN ${workerId}::text IS NULL THEN NULL ELSE now() END,
        CASE WHEN ${workerId}::text IS NULL THEN NULL ELSE now() END, ${retryOf}, ${retries},
        ${runDir}
      FROM anneal_trials WHERE study_id = ${studyId}
      RETURNING *`;
    return trialFrom(row);
  }

  createTrial(studyId: number, options: CreateTrialOptions): Promise<Trial | null> {
    return this.#call(() => this.#createTrial(studyId, options));
  }

  #createTrial(studyId: number, options: CreateTrialOptions): Promise<Trial | null> {
    return transaction(() => this.#sql, async (tx) => {
      // The study row's lock serialises numbering and the budget check across all workers.
      const [study] = await tx`SELECT id FROM anneal_studies WHERE id = ${studyId} FOR UPDATE`;
      if (!study) throw new AnnealError("storage", `Cannot find study ${studyId}`);
      const originals = (await tx`
        SELECT params FROM anneal_trials WHERE study_id = ${studyId} AND retry_of IS NULL
        ORDER BY number`).map((row) => row.params as TrialParams);
      const count = originals.length;
      if (options.maxTrials !== undefined && count >= options.maxTrials) return null;
      const params = typeof options.params === "function"
        ? options.params(count, originals)
        : options.params;
      if (params === null) return null;
      return await this.#insertTrial(tx, studyId, params, options.claimBy ?? null, null, 0);
    });
  }

  claimTrial(studyId: number, workerId: string): Promise<Trial | null> {
    return this.#call(async () => {
      const [row] = await this.#query`
        UPDATE anneal_trials SET state = 'RUNNING', worker_id = ${workerId},
          heartbeat_at = now(), started_at = now()
        WHERE id = (
          SELECT id FROM anneal_trials WHERE study_id = ${studyId} AND state = 'WAITING'
          ORDER BY number LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING *`;
      return row ? trialFrom(row) : null;
    });
  }

  async #requireRunning(sql: Sql, trialId: number, action: string): Promise<void> {
    const [row] = await sql`SELECT state FROM anneal_trials WHERE id = ${trialId} FOR UPDATE`;
    if (!row) throw new AnnealError("storage", `Cannot ${action} trial ${trialId}: no such trial`);
    if (row.state !== "RUNNING") throw notRunningError(trialId, action, row.state);
  }

  reportIntermediate(trialId: number, step: number, value: number): Promise<void> {
    return this.#call(async () => {
      checkReport(trialId, step, value);
      await transaction(() => this.#sql, async (tx) => {
        await this.#requireRunning(tx, trialId, "report to");
        await tx`
          INSERT INTO anneal_intermediate (trial_id, step, value)
          VALUES (${trialId}, ${step}, ${value})
          ON CONFLICT (trial_id, step) DO UPDATE SET value = EXCLUDED.value`;
        await tx`UPDATE anneal_trials SET heartbeat_at = now() WHERE id = ${trialId}`;
      });
    });
  }

  /** Ends a RUNNING trial; `valueOf` its value, or a function of the trial that reads it. */
  #finish(
    trialId: number,
    action: string,
    state: TrialState,
    valueOf: number | null | ((running: Trial) => number | null),
    reason: string | null,
    step: number | null,
  ): Promise<Trial> {
    return this.#call(() =>
      transaction(() => this.#sql, async (tx) => {
        await this.#requireRunning(tx, trialId, action);
        const value = typeof valueOf === "function"
          ? valueOf(await this.#trial(tx, trialId))
          : valueOf;
        await tx`
          UPDATE anneal_trials SET state = ${state}, value = ${value}, reason = ${reason},
            pruned_step = ${step}, finished_at = now()
          WHERE id = ${trialId}`;
        return await this.#trial(tx, trialId);
      })
    );
  }

  completeTrial(trialId: number, value: number): Promise<Trial> {
    try {
      checkObjective(trialId, value);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#finish(trialId, "complete", "COMPLETE", value, null, null);
  }

  failTrial(trialId: number, reason: string): Promise<Trial> {
    return this.#finish(trialId, "fail", "FAILED", null, reason, null);
  }

  pruneTrial(trialId: number, step: number, reason: string): Promise<Trial> {
    return this.#finish(
      trialId,
      "prune",
      "PRUNED",
      (running) => prunedValue(running.intermediate),
      reason,
      step,
    );
  }

  interruptTrial(trialId: number, reason: string): Promise<ReapResult> {
    return this.#call(() => this.#interruptTrial(trialId, reason));
  }

  #interruptTrial(trialId: number, reason: string): Promise<ReapResult> {
    return transaction(() => this.#sql, async (tx) => {
      // the study row's lock first (it serialises numbering), as createTrial and reapStale take it
      await tx`
        SELECT s.id FROM anneal_studies s JOIN anneal_trials t ON t.study_id = s.id
        WHERE t.id = ${trialId} FOR UPDATE OF s`;
      await this.#requireRunning(tx, trialId, "interrupt");
      const [row] = await tx`
        UPDATE anneal_trials SET state = 'FAILED', reason = ${reason}, finished_at = now()
        WHERE id = ${trialId} RETURNING *`;
      const retry = await this.#insertTrial(
        tx,
        row.study_id,
        row.params,
        null,
        row.retry_of ?? row.id,
        row.retries + 1,
        row.run_dir,
      );
      return { failed: [await this.#trial(tx, trialId)], retried: [retry] };
    });
  }

  setTrialRun(trialId: number, runDir: string): Promise<void> {
    return this.#call(() =>
      transaction(() => this.#sql, async (tx) => {
        await this.#requireRunning(tx, trialId, "record the run of");
        await tx`UPDATE anneal_trials SET run_dir = ${runDir} WHERE id = ${trialId}`;
      })
    );
  }

  heartbeat(trialId: number, workerId: string): Promise<boolean> {
    return this.#call(async () => {
      const result = await this.#query`
        UPDATE anneal_trials SET heartbeat_at = now()
        WHERE id = ${trialId} AND state = 'RUNNING' AND worker_id = ${workerId}`;
      return result.count === 1;
    });
  }

  reapStale(
    studyId: number,
    timeoutMs: number,
    maxRetries: number,
    deadWorkers: readonly string[] = [],
  ): Promise<ReapResult> {
    return this.#call(() => this.#reapStale(studyId, timeoutMs, maxRetries, deadWorkers));
  }

  #reapStale(
    studyId: number,
    timeoutMs: number,
    maxRetries: number,
    deadWorkers: readonly string[],
  ): Promise<ReapResult> {
    // (as JSON text: a list of none has no element for the driver to type an array by)
    const dead = JSON.stringify(deadWorkers);
    return transaction(() => this.#sql, async (tx) => {
      await tx`SELECT id FROM anneal_studies WHERE id = ${studyId} FOR UPDATE`;
      const stale = await tx`
        WITH dead AS (SELECT jsonb_array_elements_text((${dead}::text)::jsonb) AS worker_id)
        UPDATE anneal_trials SET state = 'FAILED', finished_at = now(),
          reason = 'worker ' || worker_id || ' stopped heart-beating (' || CASE
            WHEN worker_id IN (SELECT worker_id FROM dead) THEN 'its process is gone'
            ELSE 'no heartbeat for '
              || (EXTRACT(EPOCH FROM now() - heartbeat_at) * 1000)::bigint || ' ms'
          END || ')'
        WHERE study_id = ${studyId} AND state = 'RUNNING'
          AND (heartbeat_at < now() - make_interval(secs => ${timeoutMs / 1000})
            OR worker_id IN (SELECT worker_id FROM dead))
        RETURNING *`;
      const result: ReapResult = { failed: [], retried: [] };
      for (const row of [...stale].sort((a, b) => a.number - b.number)) {
        result.failed.push(await this.#trial(tx, row.id));
        // (the trials of its chain that a dead worker failed, this one included: an interrupted
        // trial's retries, Ctrl-C's, do not use up the retries a worker's death gets)
        const root = row.retry_of ?? row.id;
        const [{ n }] = await tx`
          SELECT COUNT(*)::int AS n FROM anneal_trials
          WHERE (id = ${root} OR retry_of = ${root}) AND state = 'FAILED'
            AND reason LIKE 'worker % stopped heart-beating (%'`;
        if (n <= maxRetries) {
          result.retried.push(
            await this.#insertTrial(
              tx,
              studyId,
              row.params,
              null,
              row.retry_of ?? row.id,
              row.retries + 1,
              row.run_dir,
            ),
          );
        }
      }
      return result;
    });
  }

  listTrials(studyId: number, states?: TrialState[]): Promise<Trial[]> {
    return this.#call(() => this.#listTrials(studyId, states));
  }

  async #listTrials(studyId: number, states?: TrialState[]): Promise<Trial[]> {
    const rows = await this.#query`
      SELECT * FROM anneal_trials WHERE study_id = ${studyId} ORDER BY number`;
    const steps = await this.#query`
      SELECT i.trial_id, i.step, i.value FROM anneal_intermediate i
      JOIN anneal_trials t ON t.id = i.trial_id WHERE t.study_id = ${studyId} ORDER BY i.step`;
    const byTrial = new Map<number, Map<number, number>>();
    for (const s of steps) {
      if (!byTrial.has(s.trial_id)) byTrial.set(s.trial_id, new Map());
      byTrial.get(s.trial_id)!.set(s.step, s.value ?? NaN);
    }
    const trials = rows.map((row) => trialFrom(row, byTrial.get(row.id)));
    return states ? trials.filter((t) => states.includes(t.state)) : trials;
  }

  bestTrial(studyId: number): Promise<Trial | undefined> {
    return this.#call(async () => {
      const [study] = await this.#query`
        SELECT direction FROM anneal_studies WHERE id = ${studyId}`;
      if (!study) throw new AnnealError("storage", `Cannot find study ${studyId}`);
      return pickBest(await this.#listTrials(studyId, ["COMPLETE"]), study.direction);
    });
  }

  /**
   * Lets the calls under way finish (for up to {@linkcode CLOSE_MS}; calls made meanwhile are
   * refused, as the storage was closed), then ends the connections. postgres.js's end
   * waits for each connection's query under way to be answered, and 3.4.9 keeps a query a
   * connection lost (a server gone, a network cut) as under way until the connection connects
   * again: its end waited its whole timeout (5 s) for an answer no socket could bring. So once the
   * storage's own calls have settled, with nothing of theirs left to answer, the clients replaced
   * as a connection of theirs closed end at once, and so does the client where one closed during
   * close() (postgres.js still sends the open connections their Terminate). Otherwise, as before,
   * the connections end as their sockets close.
   */
  close(): Promise<void> {
    return this.#closing ??= this.#close();
  }

  async #close(): Promise<void> {
    const started = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all([...this.#calls].map((call) => call.settled)),
      new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_MS))),
    ]);
    clearTimeout(timer);
    const left = Math.max(0, CLOSE_MS - (performance.now() - started)) / 1000;
    await Promise.all([
      this.#sql.end({ timeout: this.#closedWhileClosing ? 0 : left }),
      ...[...this.#replaced].map((end) => end()),
    ]);
  }
}
