import assert from "node:assert/strict";
import postgres from "npm:postgres@3.4.9";
import { AnnealError } from "../errors.ts";
import { openPostgresStorage } from "./postgres.ts";
import { pgProxy } from "./testing/pg_proxy.ts";
import { testPostgresUrl } from "./testing/pg_url.ts";
import { isConnectionError, retryingStorage } from "../sweeps/study.ts";
import type { StudyStorage } from "./types.ts";

Deno.test("a transaction whose connection is lost mid-way fails with a connection error and leaves the connection usable: the worker's next calls succeed", async () => {
  const proxy = await pgProxy(new URL(await testPostgresUrl()));
  // postgres.js's write to the closed connection's socket, raised outside any promise
  const droppedWrites: string[] = [];
  const probe = (event: ErrorEvent) => {
    if (/reading 'write'/.test(event.error?.message ?? "")) droppedWrites.push(event.error.message);
  };
  globalThis.addEventListener("error", probe);
  // one connection, so that the next calls use the one that was lost
  const storage = await openPostgresStorage(proxy.url, { maxConnections: 1 });
  try {
    const name = `lost-${crypto.randomUUID()}`;
    const study = await storage.createStudy(name, "minimize", {});
    const trial = await storage.createTrial(study.id, { params: { lr: 0.1 }, claimBy: "w" });
    // reportIntermediate's transaction: its BEGIN passes, its first statement (not yet prepared
    // on this connection, so sent as a query) is where the server goes away, without a word
    proxy.killQuery(2, { fatal: false });
    await assert.rejects(storage.reportIntermediate(trial!.id, 0, 1), isConnectionError);
    assert.match(
      proxy.killed.join("\n"),
      /SELECT state FROM anneal_trials WHERE id = \$1 FOR UPDATE/,
    );
    // The worker's next calls (retried for up to 8 s, less than the 10 s a connection waits to
    // connect) succeed. postgres.js's own ROLLBACK after the lost query had been written to no
    // socket, and the connection could not send again: each connect waited those 10 s and
    // failed with CONNECT_TIMEOUT.
    const worker = retryingStorage(storage, 8_000);
    assert.equal((await worker.loadStudy(name)).id, study.id);
    await worker.reportIntermediate(trial!.id, 0, 1);
    assert.deepEqual(
      [...(await worker.listTrials(study.id))[0].intermediate],
      [[0, 1]],
      "reported once the connection was back",
    );
    assert.deepEqual(droppedWrites, []);
  } finally {
    globalThis.removeEventListener("error", probe);
    await storage.close();
    proxy.close();
  }
});

Deno.test("a server that takes no connection for connect_timeout (a network cut) is retried like one that refuses it", async () => {
  // A server that accepts TCP connections but never answers: postgres.js gives up after its
  // connect_timeout with CONNECT_TIMEOUT, which the study's retries did not know, so a worker
  // cut off from its database for longer than that ended instead of waiting for it.
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of silent) held.push(conn);
  })().catch(() => {});
  const port = (silent.addr as Deno.NetAddr).port;
  const sql = postgres(`postgres://nobody@127.0.0.1:${port}/none`, {
    connect_timeout: 1,
    fetch_types: false,
    onnotice: () => {},
  });
  let timedOut: unknown;
  try {
    await sql`SELECT 1`;
  } catch (error) {
    timedOut = error;
  } finally {
    await sql.end({ timeout: 0 });
    silent.close();
    for (const conn of held) conn.close();
    await accepting;
  }
  assert.equal((timedOut as { code?: string }).code, "CONNECT_TIMEOUT", String(timedOut));
  assert.ok(isConnectionError(timedOut));
  // the storage call that got it is tried again
  let calls = 0;
  const flaky = {
    loadStudy: () => (++calls === 1 ? Promise.reject(timedOut) : Promise.resolve({ id: 7 })),
  } as unknown as StudyStorage;
  assert.equal((await retryingStorage(flaky, 5_000).loadStudy("s")).id, 7);
  assert.equal(calls, 2);
});

Deno.test("a call on a storage closed meanwhile fails at once: the worker's retries do not take its own closing for an outage", async () => {
  const storage = await openPostgresStorage(await testPostgresUrl());
  await storage.close();
  // A lane still running when another's failure ended the sweep (which closes its storage), or a
  // heartbeat under way: each of their calls was retried for the whole retry time (2 minutes by
  // default), its timers holding the process (and a test) open.
  let calls = 0;
  const counted = new Proxy(storage, {
    get: (target, property) => {
      const value = Reflect.get(target, property);
      return property === "loadStudy"
        ? (...args: [string]) => (calls++, value.apply(target, args))
        : value;
    },
  });
  await assert.rejects(
    retryingStorage(counted, 5_000).loadStudy("any"),
    (error: unknown) =>
      error instanceof AnnealError && error.code === "usage" &&
      /it was closed$/.test(error.message),
  );
  assert.equal(calls, 1);
});

Deno.test("once a server that was down is back, the next call is answered at once, not after postgres.js's reconnection delay", async () => {
  const proxy = await pgProxy(new URL(await testPostgresUrl()));
  const storage = await openPostgresStorage(proxy.url, { maxConnections: 1 });
  try {
    const name = `back-${crypto.randomUUID()}`;
    await storage.createStudy(name, "minimize", {});
    await proxy.serve(false);
    // the calls of a worker during an outage, each refused
    for (let i = 0; i < 8; i++) await assert.rejects(storage.loadStudy(name), isConnectionError);
    await proxy.serve(true);
    // postgres.js 3.4.9 waits before reconnecting, by default up to 20 s after the 8 failures
    // (0.5 to 1 times 3 ** failures / 100 s): the worker's heartbeats, stalled that long, had its
    // trials reaped by other workers though the server was up again
    const started = performance.now();
    await storage.loadStudy(name);
    const seconds = (performance.now() - started) / 1000;
    assert.ok(seconds < 8, `answered ${seconds.toFixed(1)} s after the server was back`);
  } finally {
    await storage.close();
    proxy.close();
  }
});

Deno.test("close() after a connection was lost during a query returns at once, not after postgres.js's 5 s wait for that query's answer", async () => {
  const proxy = await pgProxy(new URL(await testPostgresUrl()));
  const storage = await openPostgresStorage(proxy.url);
  let seconds = Infinity;
  try {
    const name = `close-${crypto.randomUUID()}`;
    await storage.createStudy(name, "minimize", {});
    // the server goes away during loadStudy's query (its first use on the connection: a Parse)
    proxy.killQuery(1, { fatal: false });
    await assert.rejects(storage.loadStudy(name), isConnectionError);
    assert.equal(proxy.killed.length, 1);
  } finally {
    // postgres.js 3.4.9 keeps the lost query as the connection's query under way, and its end()
    // waited its whole timeout for an answer no socket could bring (5.0 s here)
    const started = performance.now();
    await storage.close();
    seconds = (performance.now() - started) / 1000;
    proxy.close();
  }
  assert.ok(seconds < 3, `close() took ${seconds.toFixed(2)} s`);
});

Deno.test("close() lets a call under way on a healthy connection finish (its write is kept), and refuses calls made meanwhile", async () => {
  const url = await testPostgresUrl();
  const storage = await openPostgresStorage(url);
  // two connections: one holds a lock in a transaction, the other looks on
  const admin = postgres(url, { max: 2, onnotice: () => {}, fetch_types: false });
  const lock = studyRowLock(admin);
  try {
    const name = `close-busy-${crypto.randomUUID()}`;
    const study = await storage.createStudy(name, "minimize", {});
    // Another session holds the study row, so that createTrial (which locks it) waits on it.
    await lock.hold(study.id);
    const created = storage.createTrial(study.id, { params: { lr: 0.5 } });
    await lock.waitedOn();
    const closing = storage.close();
    // a call made once close() began is refused at once, and not as an outage to retry
    await assert.rejects(
      storage.loadStudy(name),
      (error: unknown) =>
        error instanceof AnnealError && /it was closed$/.test(error.message) &&
        !isConnectionError(error),
    );
    await lock.release();
    const trial = await created;
    await closing;
    assert.equal(trial?.number, 0);
    const [{ trials }] = await admin`
      SELECT count(*)::int AS trials FROM anneal_trials WHERE study_id = ${study.id}`;
    assert.equal(trials, 1, "the trial createTrial committed while close() waited is stored");
  } finally {
    await lock.release();
    await storage.close();
    await admin.end({ timeout: 5 });
  }
});

Deno.test("postgres.js 3.4.9 hands the FATAL error of a connection the server ended during a query to the first query of its next connection, unsent (the cause the storage works around)", async () => {
  const proxy = await pgProxy(new URL(await testPostgresUrl()));
  const sent: string[] = [];
  const sql = postgres(proxy.url, {
    max: 1,
    fetch_types: false,
    onnotice: () => {},
    debug: (_connection, query) => sent.push(query),
  });
  try {
    await sql`SELECT 1 AS one`;
    proxy.killQuery();
    // the query under way fails as its socket closes...
    await assert.rejects(sql`SELECT 2 AS two`, (error: { code?: string }) => {
      return error.code === "CONNECTION_CLOSED";
    });
    // ...and the server's 57P01, which came before the close, is kept: the next connection's
    // first ReadyForQuery (at the end of its start-up) fails the query it connected for with it,
    // before sending it
    await assert.rejects(sql`SELECT 3 AS three`, (error: { code?: string; severity?: string }) => {
      return error.code === "57P01" && error.severity === "FATAL";
    });
    assert.deepEqual(sent, ["SELECT 1 AS one", "SELECT 2 AS two"]);
    assert.deepEqual([...await sql`SELECT 4 AS four`], [{ four: 4 }]);
  } finally {
    await sql.end({ timeout: 0 });
    proxy.close();
  }
});

Deno.test("the first call after the server ended a connection during a query (57P01: pg_terminate_backend, a shutdown) succeeds without a retry, a statement and a transaction alike", async () => {
  const proxy = await pgProxy(new URL(await testPostgresUrl()));
  // one connection, so that the next calls use the one that was ended
  const storage = await openPostgresStorage(proxy.url, { maxConnections: 1 });
  const calls: string[] = [];
  const counted = new Proxy(storage, {
    get: (target, property) => {
      const value = Reflect.get(target, property);
      return typeof value === "function"
        ? (...args: unknown[]) => (calls.push(String(property)), value.apply(target, args))
        : value;
    },
  });
  const worker = retryingStorage(counted, 5_000);
  try {
    const name = `terminated-${crypto.randomUUID()}`;
    const study = await storage.createStudy(name, "minimize", {});
    // a statement: the call under way fails (the worker retries that one), the next succeeds
    proxy.killQuery();
    await assert.rejects(storage.loadStudy(name), isConnectionError);
    assert.equal((await worker.loadStudy(name)).id, study.id);
    assert.deepEqual(calls, ["loadStudy"], "loadStudy called once: not retried");
    // a transaction (createTrial's): its BEGIN is the next connection's first query
    proxy.killQuery();
    await assert.rejects(storage.listTrials(study.id), isConnectionError);
    calls.length = 0;
    const trial = await worker.createTrial(study.id, { params: { lr: 0.1 } });
    assert.equal(trial?.number, 0);
    assert.deepEqual(calls, ["createTrial"], "createTrial called once: not retried");
    assert.equal(proxy.killed.length, 2);
    assert.equal((await storage.listTrials(study.id)).length, 1, "the trial was created once");
  } finally {
    await storage.close();
    proxy.close();
  }
});

/**
 * Another session's hold on a study's row (`FOR UPDATE`), so that a storage call that locks it
 * (createTrial) waits on it: `waitedOn` resolves once a call waits on a lock, `release` ends the
 * hold (its transaction commits; once more does nothing).
 */
function studyRowLock(admin: postgres.Sql) {
  let release = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  let holder: Promise<unknown> = Promise.resolve();
  // the holding session's backend: a call waits on this hold, not on another test's lock
  let holderPid = 0;
  return {
    async hold(studyId: number) {
      let holding = () => {};
      const held = new Promise<void>((resolve) => (holding = resolve));
      holder = admin.begin(async (tx) => {
        [{ pid: holderPid }] = await tx`SELECT pg_backend_pid() AS pid`;
        await tx`SELECT id FROM anneal_studies WHERE id = ${studyId} FOR UPDATE`;
        holding();
        await released;
      });
      await held;
    },
    async waitedOn() {
      for (let tries = 0;; tries++) {
        const [{ waiting }] = await admin`
          SELECT count(*)::int AS waiting FROM pg_stat_activity
          WHERE ${holderPid}::int = ANY(pg_blocking_pids(pid))`;
        if (waiting > 0) return;
        assert.ok(tries < 200, "createTrial never waited on the study row");
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    async release() {
      release();
      await holder;
    },
  };
}

/** `promise`'s outcome, or "pending" where it has not settled within `ms`. */
async function settledWithin<T>(
  promise: Promise<T>,
  ms: number,
): Promise<{ value: T } | { error: unknown } | "pending"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const pending = new Promise<"pending">((resolve) => (timer = setTimeout(resolve, ms, "pending")));
  try {
    return await Promise.race([
      promise.then((value) => ({ value }), (error) => ({ error })),
      pending,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("a call sent as a reset connection fails, between its socket's error and its close, is failed within seconds with a connection error, and the next calls are answered at once", async () => {
  const proxy = await pgProxy(new URL(await testPostgresUrl()));
  // one connection, so that the second call goes on the one that was reset
  const storage = await openPostgresStorage(proxy.url, { maxConnections: 1 });
  try {
    const name = `reset-${crypto.randomUUID()}`;
    const study = await storage.createStudy(name, "minimize", {});
    // loadStudy's statement prepared on the connection: postgres.js sends its next run without
    // waiting for a description (a Bind), and takes the connection for more queries meanwhile
    await storage.loadStudy(name);
    // The server goes away during the next loadStudy, resetting the connection (ECONNRESET).
    // postgres.js 3.4.9 fails the query under way in the socket's 'error' handler, and the
    // socket's 'close' follows once the promise reactions have run: a call made in reaction to
    // the failure (a worker recording it, another call of its own) is sent in between. Its query,
    // queued on the connection then closing, was never answered nor failed (a close with an
    // error fails nothing), and the connection's next start-up was never written (it waited
    // connect_timeout, 10 s, and failed, and so did the next ones, about ten times over).
    proxy.killQuery(1, { fatal: false, reset: true, run: true });
    let first: unknown;
    const second = storage.loadStudy(name).then(
      () => assert.fail("the first call was answered"),
      (error) => {
        first = error;
        return storage.loadStudy(name);
      },
    );
    const started = performance.now();
    const outcome = await settledWithin(second, 15_000);
    const seconds = (performance.now() - started) / 1000;
    assert.equal(proxy.killed.length, 1);
    assert.equal((first as { code?: string })?.code, "ECONNRESET", String(first));
    assert.notEqual(outcome, "pending", "the second call was neither answered nor failed in 15 s");
    assert.ok(seconds < 10, `the second call settled after ${seconds.toFixed(1)} s`);
    // (failed, with an error the study's retries know, or answered)
    if ("error" in (outcome as object)) {
      const { error } = outcome as { error: unknown };
      assert.ok(isConnectionError(error), String(error));
    }
    // the worker's next calls are answered at once, on a connection that starts up
    const again = performance.now();
    const worker = retryingStorage(storage, 8_000);
    assert.equal((await worker.loadStudy(name)).id, study.id);
    assert.equal((await worker.createTrial(study.id, { params: { lr: 0.1 } }))?.number, 0);
    const next = (performance.now() - again) / 1000;
    assert.ok(next < 3, `the next calls took ${next.toFixed(1)} s`);
  } finally {
    await storage.close();
    proxy.close();
  }
});

Deno.test("a connection lost while a call waits on another connection of the storage's (a row lock) lets that call finish, and the calls made meanwhile are answered", async () => {
  const url = await testPostgresUrl();
  const proxy = await pgProxy(new URL(url));
  // two connections: createTrial's transaction waits on one, loadStudy is lost on the other
  const storage = await openPostgresStorage(proxy.url, { maxConnections: 2 });
  const admin = postgres(url, { max: 2, onnotice: () => {}, fetch_types: false });
  const lock = studyRowLock(admin);
  try {
    const name = `lost-beside-${crypto.randomUUID()}`;
    const study = await storage.createStudy(name, "minimize", {});
    await lock.hold(study.id);
    const created = storage.createTrial(study.id, { params: { lr: 0.5 } });
    await lock.waitedOn();
    // the other connection is reset during loadStudy, and a call follows in reaction
    proxy.killQuery(1, { fatal: false, reset: true });
    const followed = storage.loadStudy(name).then(
      () => assert.fail("the lost call was answered"),
      () => storage.loadStudy(name),
    );
    assert.equal((await followed).id, study.id);
    assert.equal(proxy.killed.length, 1);
    // the waiting transaction is not failed for its neighbour's loss: it goes on once the lock
    // is released (a second later), and commits
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await lock.release();
    assert.equal((await created)?.number, 0);
    assert.equal((await storage.listTrials(study.id)).length, 1);
  } finally {
    await lock.release();
    await storage.close();
    await admin.end({ timeout: 5 });
    proxy.close();
  }
});
