import assert from "node:assert/strict";
import { openPostgresStorage } from "./postgres.ts";
import { pgProxy } from "./testing/pg_proxy.ts";
import { testPostgresUrl } from "./testing/pg_url.ts";
import { isConnectionError, retryingStorage } from "../sweeps/study.ts";

Deno.test("a transaction whose connection is lost mid-way fails with a connection error and leaves the connection usable: the worker's next calls succeed", async () => {
  const proxy = pgProxy(new URL(await testPostgresUrl()));
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
