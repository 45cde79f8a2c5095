import assert from "node:assert/strict";
import { openPostgresStorage } from "./postgres.ts";
import { testPostgresUrl } from "./testing/pg_url.ts";
import { isConnectionError } from "../sweeps/study.ts";

/**
 * A TCP proxy in front of the test server that, while `armed`, ends the next connection at its
 * first query the way `pg_terminate_backend` (or a server shutting down) does: a FATAL 57P01
 * ErrorResponse, then the socket closed. Everything else passes through.
 */
function terminatingProxy(target: URL) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const state = { armed: 0, killed: [] as string[] };
  const conns = new Set<Deno.Conn>();
  const serve = async (client: Deno.Conn) => {
    const server = await Deno.connect({
      hostname: target.hostname,
      port: Number(target.port || 5432),
    });
    conns.add(client);
    conns.add(server);
    const close = () => {
      for (const c of [client, server]) {
        conns.delete(c);
        try {
          c.close();
        } catch { /* already closed */ }
      }
    };
    const upstream = (async () => {
      const buffered: number[] = [];
      let startup = true;
      for await (const chunk of client.readable) {
        buffered.push(...chunk);
        // Frame the client's messages: the startup message has no type byte, the others do.
        while (true) {
          const offset = startup ? 0 : 1;
          if (buffered.length < offset + 4) break;
          const length = new DataView(Uint8Array.from(buffered.slice(offset, offset + 4)).buffer)
            .getInt32(0);
          if (buffered.length < offset + length) break;
          const type = startup ? "" : String.fromCharCode(buffered[0]);
          if ((type === "Q" || type === "P") && state.armed > 0) {
            state.armed--;
            const text = new TextDecoder().decode(
              Uint8Array.from(buffered.slice(5, offset + length)),
            );
            state.killed.push(text);
            await client.write(terminationError());
            close();
            return;
          }
          await server.write(Uint8Array.from(buffered.splice(0, offset + length)));
          startup = false;
        }
      }
      close();
    })().catch(close);
    const downstream = (async () => {
      for await (const chunk of server.readable) await client.write(chunk);
      close();
    })().catch(close);
    await Promise.all([upstream, downstream]);
  };
  (async () => {
    for await (const client of listener) serve(client).catch(() => client.close());
  })().catch(() => {});
  const port = (listener.addr as Deno.NetAddr).port;
  const url = new URL(target.href);
  url.hostname = "127.0.0.1";
  url.port = String(port);
  return {
    url: url.href,
    state,
    /** Closes every proxied connection (a server gone away between queries). */
    dropAll() {
      for (const c of [...conns]) {
        conns.delete(c);
        try {
          c.close();
        } catch { /* already closed */ }
      }
    },
    close() {
      this.dropAll();
      listener.close();
    },
  };
}

/** A FATAL ErrorResponse as PostgreSQL sends it to a terminated backend's client. */
function terminationError(): Uint8Array {
  const fields = "SFATAL\0VFATAL\0C57P01\0Mterminating connection due to administrator command\0\0";
  const body = new TextEncoder().encode(fields);
  const message = new Uint8Array(5 + body.length);
  message[0] = "E".charCodeAt(0);
  new DataView(message.buffer).setInt32(1, 4 + body.length);
  message.set(body, 5);
  return message;
}

Deno.test("a PostgreSQL connection terminated at its first query fails that query alone: no unhandled rejection ends the process, and the next query reconnects", async () => {
  const proxy = terminatingProxy(new URL(await testPostgresUrl()));
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
    proxy.state.armed = 1;
    proxy.dropAll();
    await new Promise((resolve) => setTimeout(resolve, 300)); // postgres.js sees it closed
    await assert.rejects(
      () => storage.loadStudy(name),
      (error) => isConnectionError(error),
      "the query on the terminated connection fails with an error the study's retries know",
    );
    // postgres.js 3.4.9's own first query on a connection (its array types), had it been the
    // one terminated, would have rejected with no one awaiting it.
    assert.equal(proxy.state.killed.length, 1);
    assert.doesNotMatch(proxy.state.killed[0], /pg_type/);
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
