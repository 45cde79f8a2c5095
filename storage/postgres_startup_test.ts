import assert from "node:assert/strict";
import { openPostgresStorage } from "./postgres.ts";
import { testPostgresUrl } from "./testing/pg_url.ts";
import { pgProxy } from "./testing/pg_proxy.ts";
import { isConnectionError } from "../sweeps/study.ts";

Deno.test("a PostgreSQL connection terminated at its first query fails that query alone: no unhandled rejection ends the process, and the next query reconnects", async () => {
  const proxy = await pgProxy(new URL(await testPostgresUrl()));
  const unhandled: unknown[] = [];
  const onUnhandled = (event: PromiseRejectionEvent) => {
    unhandled.push(event.reason);
    event.preventDefault();
  };
  globalThis.addEventListener("unhandledrejection", onUnhandled);
  const storage = await openPostgresStorage(proxy.url);
  try {
    const name = `startup-${crypto.randomUUID()}`;
    const study = await storage.createStudy(name, "minimize", {}, { loadIfExists: true });
    // The server goes away between queries; the next connection is terminated at its first
    // query, as when a restarting server or a failover kills backends still starting up.
    proxy.killQuery();
    proxy.dropAll();
    // A query sent before postgres.js saw its connection closed (a loaded machine: a fixed
    // 300 ms wait for it was a guess) fails on that connection; the next goes on a new one.
    for (let tries = 1; proxy.killed.length === 0; tries++) {
      assert.ok(tries <= 3, "no query reached a new connection");
      await assert.rejects(
        () => storage.loadStudy(name),
        (error) => isConnectionError(error),
        "the query on the terminated connection fails with an error the study's retries know",
      );
    }
    // postgres.js 3.4.9's own first query on a connection (its array types), had it been the
    // one terminated, would have rejected with no one awaiting it.
    assert.equal(proxy.killed.length, 1);
    assert.doesNotMatch(proxy.killed[0], /pg_type/);
    const again = await storage.loadStudy(name);
    assert.equal(again?.id, study.id);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(unhandled.map(String), []);
  } finally {
    globalThis.removeEventListener("unhandledrejection", onUnhandled);
    await storage.close();
    proxy.close();
  }
});
