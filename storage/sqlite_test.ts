import { DatabaseSync } from "node:sqlite";
import { registerStorageConformance } from "./conformance.ts";
import { openSqliteStorage } from "./sqlite.ts";

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
