import { DatabaseSync } from "node:sqlite";
import { registerStorageConformance } from "./conformance.ts";
import { openError, openSqliteStorage } from "./sqlite.ts";
import assert from "node:assert/strict";
import { AnnealError } from "../errors.ts";
import { retryingStorage } from "../sweeps/study.ts";
import { canMount, smallDisk } from "../tests/_tmpfs.ts";

const dir = Deno.makeTempDirSync({ prefix: "anneal_sqlite_test_" });
const path = `${dir}/studies.db`;

/** The tables of an anneal from before trials recorded their run (no `run_dir`). */
const LEGACY_SCHEMA = `
CREATE TABLE studies (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, direction TEXT NOT NULL,
  space TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE trials (
  id INTEGER PRIMARY KEY, study_id INTEGER NOT NULL REFERENCES studies(id), number INTEGER NOT NULL,
  state TEXT NOT NULL, params TEXT NOT NULL, value REAL, worker_id TEXT, heartbeat_at INTEGER,
  started_at INTEGER, finished_at INTEGER, reason TEXT, pruned_step INTEGER,
  retry_of INTEGER, retries INTEGER NOT NULL DEFAULT 0, UNIQUE (study_id, number));
CREATE INDEX trials_state ON trials (study_id, state, number);
CREATE TABLE intermediate (
  trial_id INTEGER NOT NULL REFERENCES trials(id), step INTEGER NOT NULL, value REAL,
  PRIMARY KEY (trial_id, step));
`;

function writeLegacy(file: string): void {
  const db = new DatabaseSync(file);
  const now = Date.now();
  db.exec(LEGACY_SCHEMA);
  db.prepare("INSERT INTO studies VALUES (1, 'old', 'minimize', '{}', ?)").run(now);
  const trial = db.prepare(
    `INSERT INTO trials (id, study_id, number, state, params, value, worker_id, heartbeat_at,
       started_at, finished_at) VALUES (?, 1, ?, ?, '{"lr":0.1}', ?, ?, ?, ?, ?)`,
  );
  trial.run(1, 0, "COMPLETE", 0.5, "w", now, now, now);
  trial.run(2, 1, "RUNNING", null, "w", now, now, null);
  trial.run(3, 2, "WAITING", null, null, null, null, null);
  db.exec("INSERT INTO intermediate VALUES (1, 0, 0.7)");
  db.close();
}

registerStorageConformance("sqlite", {
  open: () => Promise.resolve(openSqliteStorage(path)),
  url: `sqlite:${path}`,
  fresh: () => {
    const file = `${dir}/fresh-${crypto.randomUUID().slice(0, 8)}.db`;
    return Promise.resolve({
      open: async (options) => await openSqliteStorage(file, options),
      created: () => Deno.stat(file).then(() => true, () => false),
      writeLegacy: () => Promise.resolve(writeLegacy(file)),
      [Symbol.asyncDispose]: async () => {
        for (const suffix of ["", "-wal", "-shm"]) await Deno.remove(file + suffix).catch(() => {});
      },
    });
  },
});

globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

Deno.test("a study storage that is not a SQLite database, a directory or in a missing directory is named, with the fix", () => {
  // SQLite said only "file is not a database" / "unable to open database file", and the CLI
  // printed it as a possible bug.
  const text = `${dir}/notes.db`;
  Deno.writeTextFileSync(text, "hello, not a database\n");
  const refused = (at: string, pattern: RegExp, hint: RegExp) => {
    for (const create of [true, false]) {
      let error: { code?: string; message: string; hint?: string } | undefined;
      try {
        openSqliteStorage(at, { create });
      } catch (e) {
        error = e as typeof error;
      }
      if (
        error?.code !== "storage" || !pattern.test(error.message) || !hint.test(error.hint ?? "")
      ) {
        throw new Error(`${at} (create ${create}): ${error?.message} / ${error?.hint}`);
      }
    }
  };
  refused(
    text,
    new RegExp(`^Cannot open study storage sqlite:${text}: ${text} is not a SQLite database`),
    /name another database file with --storage .*move it away/,
  );
  if (Deno.readTextFileSync(text) !== "hello, not a database\n") throw new Error("file changed");
  refused(dir, /: it is a directory, not a file/, /name another database file with --storage/);
  let missing: { code?: string; message: string; hint?: string } | undefined;
  try {
    openSqliteStorage(`${dir}/no/such/dir/s.db`);
  } catch (e) {
    missing = e as typeof missing;
  }
  if (
    missing?.code !== "storage" ||
    !missing.message.includes(`its directory ${dir}/no/such/dir does not exist`) ||
    !missing.hint?.startsWith(`create the directory (mkdir -p ${dir}/no/such/dir)`)
  ) throw new Error(`${missing?.message} / ${missing?.hint}`);
});

/**
 * `openError`'s error for SQLite's "unable to open database file" at `at`, where opening `at`
 * with the options `refused` picks fails as on a read-only file system (EROFS).
 */
function onReadOnly(
  at: string,
  refused: (options?: Deno.OpenOptions) => boolean,
): { code?: string; message: string; hint?: string } | undefined {
  const open = Deno.openSync;
  Deno.openSync = ((target: string | URL, options?: Deno.OpenOptions) => {
    if (String(target) === at && refused(options)) {
      throw Object.assign(new Error(`Read-only file system (os error 30): open '${at}'`), {
        code: "EROFS",
      });
    }
    return open(target, options);
  }) as typeof Deno.openSync;
  try {
    return openError(at, new Error("unable to open database file")) as ReturnType<
      typeof onReadOnly
    >;
  } finally {
    Deno.openSync = open;
  }
}

Deno.test("a study database that cannot be created in its directory (read-only, full) says so, not only that SQLite cannot open it", () => {
  // SQLite says "unable to open database file" on a read-only file system; the file is made here
  // as SQLite would make it, and fails as it did on a read-only tmpfs
  const at = `${dir}/readonly.db`;
  const error = onReadOnly(at, () => true);
  if (
    error?.code !== "storage" ||
    !error.message.startsWith(`Cannot open study storage sqlite:${at}: cannot create`) ||
    !/the file system is read-only/.test(error.message) ||
    !/choose a path on a writable file system/.test(error.hint ?? "")
  ) throw new Error(`${error?.message} / ${error?.hint}`);
  // where the file can be made, the probe leaves nothing behind
  openError(at, new Error("unable to open database file"));
  let left = true;
  try {
    Deno.statSync(at);
  } catch {
    left = false;
  }
  if (left) throw new Error("the probe left a file");
});

Deno.test({
  name: "a study database whose disk fills says so with the fix, not SQLite's 'cannot rollback' " +
    "or 'disk I/O error' (root only: it mounts a tmpfs)",
  ignore: !canMount,
  fn: async () => {
    const at = Deno.makeTempDirSync({ prefix: "anneal_sqlite_full_" });
    let error: { code?: string; message: string; hint?: string } | undefined;
    try {
      await using disk = await smallDisk(at, "96k");
      if (!disk) return;
      const storage = openSqliteStorage(`${at}/studies.db`);
      try {
        const study = await storage.createStudy("full", "minimize", {});
        // trials of 8 KiB of parameters each, until the disk has no room for one
        for (let i = 0; i < 100; i++) {
          await storage.createTrial(study.id, { params: { note: "x".repeat(8192), i } });
        }
      } catch (thrown) {
        error = thrown as typeof error;
      } finally {
        await storage.close().catch(() => {});
      }
    } finally {
      Deno.removeSync(at, { recursive: true });
    }
    if (
      error?.code !== "storage" ||
      !error.message.startsWith(`Cannot write study storage sqlite:${at}/studies.db: `) ||
      !/disk is full/.test(error.message) ||
      !error.hint?.startsWith(`free space on the disk that holds ${at} (df -h '${at}')`)
    ) throw new Error(`${error?.message} / ${error?.hint}`);
  },
});

Deno.test("a study database another process holds locked is said so, of its file, at open and at a write; a study's calls wait for the lock, then say it was held throughout", async () => {
  const file = `${dir}/locked.db`;
  const storage = openSqliteStorage(file, { busyTimeoutMs: 50 });
  const study = await storage.createStudy("locked", "minimize", {});
  // another connection, as another process's, holds the write lock
  const other = new DatabaseSync(file);
  other.exec("BEGIN IMMEDIATE");
  try {
    const locked = (e: unknown) =>
      e instanceof AnnealError && e.code === "storage" && e.where === file &&
      /fuser/.test(e.hint ?? "");
    assert.throws(
      () => openSqliteStorage(file, { busyTimeoutMs: 50 }),
      (e: unknown) =>
        locked(e) && /another process holds its write lock/.test((e as Error).message),
    );
    await assert.rejects(
      storage.createTrial(study.id, { params: { x: 1 } }),
      (e: unknown) =>
        locked(e) && (e as { busy?: boolean }).busy === true &&
        /locked by another process \(SQLite: database is locked\)/.test((e as Error).message),
    );
    // a study's calls retry it as a lost server's: held throughout, said so
    await assert.rejects(
      retryingStorage(storage, 300).createTrial(study.id, { params: { x: 2 } }),
      (e: unknown) =>
        e instanceof AnnealError &&
        /^Lost the study storage: the SQLite database/.test(e.message) &&
        /for 0.3 s$/.test(e.message),
    );
    // let go while a call waits: it goes through, once
    setTimeout(() => other.exec("COMMIT"), 400);
    const trial = await retryingStorage(storage, 10_000).createTrial(study.id, {
      params: { x: 3 },
    });
    assert.deepEqual(trial?.params, { x: 3 });
    assert.equal((await storage.listTrials(study.id)).length, 1);
  } finally {
    if (other.isTransaction) other.exec("ROLLBACK");
    other.close();
    await storage.close();
  }
});

Deno.test("a study database cut short is named damaged, with how to go on, not as a bug to report", async () => {
  // (the CLI said "database disk image is malformed", and to report it with --debug)
  const at = `${dir}/cut.db`;
  const db = new DatabaseSync(at);
  db.exec(LEGACY_SCHEMA);
  db.exec("CREATE TABLE filler (x TEXT)");
  const insert = db.prepare("INSERT INTO filler VALUES (?)");
  for (let i = 0; i < 200; i++) insert.run("x".repeat(500));
  db.close();
  await Deno.truncate(at, 5000);
  await assert.rejects(
    () => Promise.resolve().then(() => openSqliteStorage(at)),
    (error: unknown) => {
      assert.ok(error instanceof AnnealError, String(error));
      assert.equal(error.code, "storage");
      assert.match(
        error.message,
        new RegExp(`${at} is damaged \\(SQLite: database disk image is malformed\\)`),
      );
      assert.match(error.hint!, /restore it from a backup, or move it away and run again/);
      return true;
    },
  );
});

Deno.test("a study database that is there but cannot be written (a read-only file system) says so, and how to go on with its studies", () => {
  // SQLite says "unable to open database file" of a database on a read-only tmpfs: that was
  // printed as "SQLite cannot open or create it", with the hint to name another file
  const at = `${dir}/kept.db`;
  Deno.writeTextFileSync(at, "");
  const error = onReadOnly(at, (options) => options?.write === true);
  if (
    error?.code !== "storage" ||
    !error.message.startsWith(`Cannot open study storage sqlite:${at}: cannot write`) ||
    !/the file system is read-only/.test(error.message) ||
    !/copy the file \(its studies are in it\)/.test(error.hint ?? "")
  ) throw new Error(`${error?.message} / ${error?.hint}`);
  // a file that can be written is said as before
  const other = openError(at, new Error("unable to open database file")) as typeof error;
  if (!other?.message.includes("SQLite cannot open or create it")) {
    throw new Error(other?.message);
  }
});
