import postgres from "npm:postgres@3.4.9";
import { registerStorageConformance } from "./conformance.ts";
import { openPostgresStorage } from "./postgres.ts";
import { testPostgresUrl } from "./testing/pg_url.ts";

const url = await testPostgresUrl();

/** The tables of an anneal from before trials recorded their run (no `run_dir`). */
const LEGACY_SCHEMA = [
  `CREATE TABLE anneal_studies (
    id serial PRIMARY KEY, name text NOT NULL UNIQUE, direction text NOT NULL,
    space jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`,
  `CREATE TABLE anneal_trials (
    id serial PRIMARY KEY, study_id integer NOT NULL REFERENCES anneal_studies(id),
    number integer NOT NULL, state text NOT NULL, params jsonb NOT NULL,
    value double precision, worker_id text, heartbeat_at timestamptz, started_at timestamptz,
    finished_at timestamptz, reason text, pruned_step integer, retry_of integer,
    retries integer NOT NULL DEFAULT 0, UNIQUE (study_id, number))`,
  `CREATE INDEX anneal_trials_state ON anneal_trials (study_id, state, number)`,
  `CREATE TABLE anneal_intermediate (
    trial_id integer NOT NULL REFERENCES anneal_trials(id), step integer NOT NULL,
    value double precision, PRIMARY KEY (trial_id, step))`,
  `INSERT INTO anneal_studies (name, direction, space) VALUES ('old', 'minimize', '{}')`,
  `INSERT INTO anneal_trials (study_id, number, state, params, value, worker_id, heartbeat_at,
    started_at, finished_at) VALUES
    (1, 0, 'COMPLETE', '{"lr":0.1}', 0.5, 'w', now(), now(), now()),
    (1, 1, 'RUNNING', '{"lr":0.1}', NULL, 'w', now(), now(), NULL),
    (1, 2, 'WAITING', '{"lr":0.1}', NULL, NULL, NULL, NULL, NULL)`,
  `INSERT INTO anneal_intermediate VALUES (1, 0, 0.7)`,
];

registerStorageConformance("postgres", {
  open: () => openPostgresStorage(url),
  url,
  // a database of its own on the test server, dropped at the end
  fresh: async () => {
    const name = `anneal_fresh_${crypto.randomUUID().slice(0, 8)}`;
    const admin = postgres(url, { max: 1, onnotice: () => {} });
    await admin.unsafe(`CREATE DATABASE ${name}`);
    const address = new URL(url);
    address.pathname = `/${name}`;
    const freshUrl = address.href;
    const inside = postgres(freshUrl, { max: 1, onnotice: () => {} });
    return {
      open: (options) => openPostgresStorage(freshUrl, options),
      created: async () => {
        const [{ tables }] = await inside`SELECT count(*)::integer AS tables FROM pg_tables
          WHERE tablename LIKE 'anneal_%'`;
        return tables > 0;
      },
      writeLegacy: async () => {
        for (const statement of LEGACY_SCHEMA) await inside.unsafe(statement);
      },
      [Symbol.asyncDispose]: async () => {
        await inside.end({ timeout: 5 });
        await admin.unsafe(`DROP DATABASE ${name} WITH (FORCE)`);
        await admin.end({ timeout: 5 });
      },
    };
  },
});
