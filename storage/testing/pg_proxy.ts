/**
 * A TCP proxy in front of the test PostgreSQL server, for the storage's outage tests: it passes
 * everything through, except that it can end a connection at a chosen query the way
 * `pg_terminate_backend` or a server shutting down does (a FATAL 57P01 ErrorResponse, then the
 * socket closed), and drop every connection at once (a server gone away between queries).
 *
 * @module
 */

/** The proxy's handle. */
export interface PgProxy {
  /** The test server's URL with the proxy's address. */
  url: string;
  /** The text of each query the proxy ended a connection at, in order. */
  killed: string[];
  /**
   * Ends the connection that sends the `nth` query from now (1: the next), whatever connection
   * it comes on: with PostgreSQL's FATAL 57P01 first, or (`fatal: false`) by closing it at once,
   * as a server killed or cut off does. A query is a client's Query or Parse message (a
   * transaction's `begin` is one; a statement already prepared on the connection is not).
   */
  killQuery(nth?: number, options?: { fatal?: boolean }): void;
  /** Closes every proxied connection. */
  dropAll(): void;
  /**
   * Takes the server away (`false`: every connection closed, new ones refused, as by a server
   * that is down) or brings it back on the same port (`true`).
   */
  serve(up: boolean): void;
  /** Closes every connection and stops listening. */
  close(): void;
}

/** Starts a proxy on a free 127.0.0.1 port in front of the server at `target`. */
export function pgProxy(target: URL): PgProxy {
  let listener: Deno.Listener | undefined;
  const conns = new Set<Deno.Conn>();
  const killed: string[] = [];
  /** Queries still to pass before the one the proxy ends; undefined when it ends none. */
  let countdown: number | undefined;
  let fatal = true;
  const forward = async (client: Deno.Conn) => {
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
          if ((type === "Q" || type === "P") && countdown !== undefined && --countdown === 0) {
            countdown = undefined;
            killed.push(
              new TextDecoder().decode(Uint8Array.from(buffered.slice(5, offset + length))),
            );
            if (fatal) await client.write(terminationError());
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
  let port = 0;
  const listen = () => {
    const accepting = Deno.listen({ hostname: "127.0.0.1", port });
    port = (accepting.addr as Deno.NetAddr).port;
    listener = accepting;
    (async () => {
      for await (const client of accepting) forward(client).catch(() => client.close());
    })().catch(() => {});
  };
  listen();
  const url = new URL(target.href);
  url.hostname = "127.0.0.1";
  url.port = String(port);
  const dropAll = () => {
    for (const c of [...conns]) {
      conns.delete(c);
      try {
        c.close();
      } catch { /* already closed */ }
    }
  };
  return {
    url: url.href,
    killed,
    killQuery(nth = 1, options = {}) {
      countdown = nth;
      fatal = options.fatal ?? true;
    },
    dropAll,
    serve(up) {
      if (up) {
        if (!listener) listen();
        return;
      }
      listener?.close();
      listener = undefined;
      dropAll();
    },
    close() {
      this.serve(false);
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
