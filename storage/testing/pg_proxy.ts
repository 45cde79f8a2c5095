/**
 * A TCP proxy in front of the test PostgreSQL server, for the storage's outage tests: it passes
 * everything through, except that it can end a connection at a chosen query the way
 * `pg_terminate_backend` or a server shutting down does (a FATAL 57P01 ErrorResponse, then the
 * socket closed), or the way a server killed or cut off does (the socket closed, or reset), and
 * drop every connection at once (a server gone away between queries).
 *
 * The clients' side is `node:net`'s (a Deno.Conn cannot be reset); the server's is Deno's.
 *
 * @module
 */
import net from "node:net";

/** The proxy's handle. */
export interface PgProxy {
  /** The test server's URL with the proxy's address. */
  url: string;
  /** The text of each query the proxy ended a connection at, in order. */
  killed: string[];
  /**
   * Ends the connection that sends the `nth` query from now (1: the next), whatever connection
   * it comes on: with PostgreSQL's FATAL 57P01 first, or (`fatal: false`) by closing it at once,
   * as a server killed or cut off does; `reset: true` (with `fatal: false`) resets it (a TCP RST:
   * the client's socket fails with ECONNRESET, then closes) where it is otherwise closed (FIN). A
   * query is a client's Query or Parse message (a transaction's `begin` is one; a statement
   * already prepared on the connection is not), or with `run: true` a Query or Bind message (each
   * statement run, a prepared one too; `killed` has the Bind's bytes, not the statement's text).
   */
  killQuery(nth?: number, options?: { fatal?: boolean; reset?: boolean; run?: boolean }): void;
  /** Closes every proxied connection. */
  dropAll(): void;
  /**
   * Takes the server away (`false`: every connection closed, new ones refused, as by a server
   * that is down) or brings it back on the same port (`true`; resolves once it listens).
   */
  serve(up: boolean): Promise<void>;
  /** Closes every connection and stops listening. */
  close(): void;
}

/** Starts a proxy on a free 127.0.0.1 port in front of the server at `target`. */
export async function pgProxy(target: URL): Promise<PgProxy> {
  let listener: net.Server | undefined;
  /** Each proxied connection's close. */
  const closers = new Set<() => void>();
  const killed: string[] = [];
  /** Queries still to pass before the one the proxy ends; undefined when it ends none. */
  let countdown: number | undefined;
  let fatal = true;
  let reset = false;
  /** The types of the messages counted as queries. */
  let counted = "QP";
  const forward = async (client: net.Socket) => {
    client.on("error", () => {});
    let server: Deno.Conn | undefined;
    const close = (how: "end" | "reset" = "end") => {
      closers.delete(close);
      if (how === "reset") client.resetAndDestroy();
      else client.destroy();
      try {
        server?.close();
      } catch { /* already closed */ }
    };
    closers.add(close);
    try {
      server = await Deno.connect({ hostname: target.hostname, port: Number(target.port || 5432) });
    } catch {
      close();
      return;
    }
    if (!closers.has(close)) return close(); // dropped while connecting
    const upstream = (async () => {
      const buffered: number[] = [];
      let startup = true;
      for await (const chunk of client as AsyncIterable<Uint8Array>) {
        buffered.push(...chunk);
        // Frame the client's messages: the startup message has no type byte, the others do.
        while (true) {
          const offset = startup ? 0 : 1;
          if (buffered.length < offset + 4) break;
          const length = new DataView(Uint8Array.from(buffered.slice(offset, offset + 4)).buffer)
            .getInt32(0);
          if (buffered.length < offset + length) break;
          const type = startup ? "" : String.fromCharCode(buffered[0]);
          if (
            type !== "" && counted.includes(type) && countdown !== undefined && --countdown === 0
          ) {
            countdown = undefined;
            killed.push(
              new TextDecoder().decode(Uint8Array.from(buffered.slice(5, offset + length))),
            );
            if (fatal) {
              client.end(terminationError(), () => close());
            } else close(reset ? "reset" : "end");
            return;
          }
          await server!.write(Uint8Array.from(buffered.splice(0, offset + length)));
          startup = false;
        }
      }
      close();
    })().catch(() => close());
    const downstream = (async () => {
      for await (const chunk of server!.readable) {
        if (client.destroyed) break;
        client.write(chunk);
      }
      close();
    })().catch(() => close());
    await Promise.all([upstream, downstream]);
  };
  let port = 0;
  const listen = async () => {
    const accepting = net.createServer((client) => void forward(client));
    await new Promise<void>((resolve, reject) => {
      accepting.once("error", reject);
      accepting.listen(port, "127.0.0.1", () => resolve());
    });
    port = (accepting.address() as net.AddressInfo).port;
    listener = accepting;
  };
  await listen();
  const url = new URL(target.href);
  url.hostname = "127.0.0.1";
  url.port = String(port);
  const dropAll = () => {
    for (const close of [...closers]) close();
  };
  const serve = async (up: boolean) => {
    if (up) {
      if (!listener) await listen();
      return;
    }
    listener?.close();
    listener = undefined;
    dropAll();
  };
  return {
    url: url.href,
    killed,
    killQuery(nth = 1, options = {}) {
      countdown = nth;
      fatal = options.fatal ?? true;
      reset = options.reset ?? false;
      counted = options.run ? "QB" : "QP";
    },
    dropAll,
    serve,
    close() {
      void serve(false);
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
