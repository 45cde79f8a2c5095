import postgres from "npm:postgres@3.4.9";
import { registerStorageConformance } from "./conformance.ts";
import assert from "node:assert/strict";
import { AnnealError } from "../errors.ts";
import { openFailureHint, openPostgresStorage } from "./postgres.ts";
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

Deno.test("a PostgreSQL storage that cannot be opened says how to fix its cause: the database, the role, the port, the password, deno's --allow-net", async () => {
  // Every cause had one hint, "check that PostgreSQL runs and the URL ... is right".
  const at = (change: (address: URL) => void) => {
    const address = new URL(url);
    change(address);
    return address.href;
  };
  const refused = async (where: string, message: RegExp, hint: RegExp) => {
    await assert.rejects(() => openPostgresStorage(where), (error) => {
      assert.ok(error instanceof AnnealError);
      assert.equal(error.code, "storage");
      assert.match(error.message, message);
      assert.match(error.hint ?? "", hint);
      return true;
    });
  };
  const database = `anneal_absent_${crypto.randomUUID().slice(0, 8)}`;
  const user = new URL(url).username;
  await refused(
    at((address) => (address.pathname = `/${database}`)),
    new RegExp(`database "${database}" does not exist`),
    new RegExp(`createdb -O ${user} ${database}`),
  );
  await refused(
    at((address) => (address.username = "anneal_no_such_role")),
    /role "anneal_no_such_role" does not exist/,
    /createuser --pwprompt anneal_no_such_role/,
  );
  // a port nothing listens on (the kernel's free one, closed again)
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await refused(
    at((address) => (address.port = String(port))),
    /ECONNREFUSED/,
    new RegExp(`nothing accepts connections at 127\\.0\\.0\\.1:${port}: start PostgreSQL there`),
  );
  // (the test server trusts every password, and the tests run with every host allowed: the
  // errors those causes raise, as the driver and deno give them)
  const wrongPassword = Object.assign(new Error('password authentication failed for user "ann"'), {
    code: "28P01",
  });
  assert.match(
    openFailureHint(wrongPassword, "postgres://ann:secret@db.example:5433/studies"),
    /the password of ann in the URL \(postgres:\/\/ann:PASSWORD@db\.example:5433\/studies\)/,
  );
  // a URL that names no database: the server looked for the user's own
  const noDatabase = Object.assign(new Error('database "ann" does not exist'), { code: "3D000" });
  assert.match(
    openFailureHint(noDatabase, "postgres://ann@db.example:5433/"),
    /\(`createdb -O ann ann`\)/,
  );
  const lookUp = Object.assign(new Error("getaddrinfo EPERM db.example"), {
    code: "EPERM",
    syscall: "getaddrinfo",
  });
  const notAllowed = new Deno.errors.NotCapable('Requires net access to "10.0.0.9:5432"');
  assert.match(
    openFailureHint(lookUp, "postgres://ann@db.example/studies"),
    /may not reach db\.example:5432: .*--allow-net=db\.example:5432/,
  );
  assert.match(
    openFailureHint(notAllowed, "postgres://ann@10.0.0.9/studies"),
    /--allow-net=10\.0\.0\.9:5432/,
  );
});

Deno.test("a PostgreSQL URL the driver cannot read (a port that is no number, a % that starts no escape) is a usage error that names no password", async () => {
  // Both threw the driver's TypeError ("Invalid URL: 'postgres://ann:secret@...'") or URIError,
  // the password printed, with the hint to report a bug.
  for (
    const [where, detail] of [
      ["postgres://ann:secret@127.0.0.1:abc/studies", /check its host and port/],
      ["postgres://ann:secret%zz@127.0.0.1:5432/studies", /a % in it starts no %XX escape/],
      ["postgres://ann:secret@127.0.0.1:99999/studies", /check its host and port/],
    ] as const
  ) {
    await assert.rejects(() => openPostgresStorage(where), (error) => {
      assert.ok(error instanceof AnnealError, String(error));
      assert.equal(error.code, "usage");
      assert.match(error.message, /Cannot open study storage at postgres:\/\/ann:\*\*\*@127/);
      assert.match(error.message, detail);
      assert.doesNotMatch(`${error.message} ${error.hint}`, /secret/);
      assert.match(error.hint ?? "", /postgres:\/\/USER:PASSWORD@HOST:PORT\/DATABASE/);
      return true;
    });
  }
});

Deno.test("a PostgreSQL URL whose port answers as no PostgreSQL server does (an HTTP server) is refused, not connected to again without end", async () => {
  // Each connection it closed as it started, postgres.js opened the next for the same query:
  // opening the storage never ended.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  let connections = 0;
  const serving = (async () => {
    for await (const connection of listener) {
      connections++;
      await connection.read(new Uint8Array(1024)).catch(() => null);
      await connection.write(
        new TextEncoder().encode("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n"),
      ).catch(() => 0);
      connection.close();
    }
  })();
  try {
    await assert.rejects(
      () =>
        openPostgresStorage(`postgres://ann:secret@127.0.0.1:${port}/studies`, {
          openTimeoutMs: 2_000,
        }),
      (error) => {
        assert.ok(error instanceof AnnealError, String(error));
        assert.equal(error.code, "storage");
        assert.match(error.message, /no answer as PostgreSQL gives one in 2 s/);
        assert.match(
          error.hint ?? "",
          new RegExp(`127\\.0\\.0\\.1:${port} takes connections but gives no PostgreSQL answer`),
        );
        return true;
      },
    );
    // and it tries no more once refused (a connection under way as it was may still come)
    const wait = () => new Promise((resolve) => setTimeout(resolve, 500));
    await wait();
    const after = connections;
    await wait();
    assert.equal(connections, after);
  } finally {
    listener.close();
    await serving.catch(() => {});
  }
});
