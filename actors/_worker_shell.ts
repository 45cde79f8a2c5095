/**
 * What every actor's Worker entry shares: receive `Init` (registered before any `await`, since
 * messages that arrive earlier are lost), answer the supervisor's pings, turn anything thrown
 * into an `actor.error` message, and the test-only fault hooks (throw, stall, a probe that tries
 * to read or write a path, to show what an actor's permissions allow, and an event sent as is).
 *
 * @module
 */
import { AnnealError, serializeError } from "../errors.ts";
import type { ActorName, Init } from "./protocol.ts";
import { initProblem } from "./init_check.ts";

/** What an actor's body receives. */
export interface ActorContext {
  init: Init;
  /** Sends an event to the supervisor (forwarded to the run's event stream). */
  emit(event: Record<string, unknown>): void;
  /**
   * Sends an epoch end's checkpoint to the supervisor, which writes it (`last.ckpt`, and
   * `best.ckpt` where `files` names it). The weights and state are copied, not transferred.
   */
  checkpoint(files: ("last" | "best")[], state: unknown, weights: unknown): void;
  /**
   * Resolves once the supervisor says the run's first checkpoint is on disk, or when the run is
   * stopped.
   */
  firstCheckpointWritten(): Promise<void>;
  /**
   * Resolves once the supervisor says the end of `epoch` (or a later one) was judged and the run
   * goes on (`EpochCleared`, in a run with `Init.epochGate`), or when the run is stopped.
   */
  epochCleared(epoch: number): Promise<void>;
  /**
   * Test-only fault point: throws, stalls, waits or sends an event when `init.fault.at` names
   * this point.
   */
  faultPoint(at: string): Promise<void>;
  /** Resolves when the supervisor sends `Stop`. */
  stopped: Promise<string>;
  /** The reason of a `Stop` received so far, if any (the trainer checks it between steps). */
  stopRequested(): string | undefined;
  /** Whether that `Stop` was an interruption (the run will be resumed). */
  interruptRequested(): boolean;
}

declare const self: {
  onmessage: ((event: MessageEvent) => void) | null;
  postMessage(message: unknown): void;
  close(): void;
};

/**
 * Runs an actor's body inside a Worker, once per `Init`: a Worker whose run ended cleanly may be
 * given the next run (a sweep's next trial, see runtime/actor_workers.ts), its modules loaded. A
 * run's `Stop` and `CheckpointWritten` are that run's; an `Init` while a run goes on is ignored.
 * `Release` (the Worker is about to be terminated) runs `release`, which lets go of what the
 * actor holds that must not outlive it (the trainer's WebGPU device, one a run kept for the next
 * or one in use), then answers `actor.released`.
 */
export function runActor(
  name: ActorName,
  body: (context: ActorContext) => Promise<unknown>,
  release: () => Promise<void> = () => Promise.resolve(),
): void {
  /** The run going on: its handlers of the supervisor's messages to it. */
  let current:
    | {
      stop(reason: string, interrupted: boolean): void;
      written(): void;
      cleared(epoch: number): void;
    }
    | undefined;
  self.onmessage = (event: MessageEvent) => {
    const message = event.data as {
      type: string;
      reason?: string;
      interrupted?: boolean;
      epoch?: number;
    };
    if (message.type === "CheckpointWritten") {
      current?.written();
    } else if (message.type === "EpochCleared") {
      current?.cleared(message.epoch ?? -1);
    } else if (message.type === "Ping") {
      // The Worker's own V8 heap (its isolate's); the soak benchmark watches it per actor. Under
      // --v8-flags=--expose-gc (the soak) collect first, so it is the live heap, not garbage.
      (globalThis as { gc?: () => void }).gc?.();
      self.postMessage({
        type: "actor.heartbeat",
        actor: name,
        heapUsed: Deno.memoryUsage().heapUsed,
      });
    } else if (message.type === "Stop") {
      current?.stop(message.reason ?? "stopped", message.interrupted === true);
    } else if (message.type === "Release") {
      // (the Worker will be terminated: a device its actor holds, kept or in use, goes first)
      release().catch(() => {}).then(() =>
        self.postMessage({ type: "actor.released", actor: name })
      );
    } else if (message.type === "Init" && !current) {
      // Checked as it enters the actor (what InitSchema accepts), without loading zod here.
      const problem = initProblem(message);
      if (problem !== undefined) {
        const error = new AnnealError(
          "internal",
          `actor '${name}' got a malformed Init: ${problem}`,
        );
        self.postMessage({ type: "actor.error", actor: name, error: serializeError(error) });
        return;
      }
      const run = startRun(name, message as unknown as Init, body);
      current = run;
      run.settled.then(() => {
        if (current === run) current = undefined;
      });
    }
  };
  // Loaded: tell the supervisor at once, so its watchdog stops allowing for module loading.
  self.postMessage({ type: "actor.heartbeat", actor: name, heapUsed: Deno.memoryUsage().heapUsed });
}

/** Runs the body for one `Init`; `settled` resolves once its result or error is sent. */
function startRun(
  name: ActorName,
  init: Init,
  body: (context: ActorContext) => Promise<unknown>,
): {
  stop(reason: string, interrupted: boolean): void;
  written(): void;
  cleared(epoch: number): void;
  settled: Promise<void>;
} {
  let resolveStop: (reason: string) => void = () => {};
  const stopped = new Promise<string>((resolve) => (resolveStop = resolve));
  let stopReason: string | undefined;
  let interrupted = false;
  let resolveWritten: () => void = () => {};
  const firstWritten = new Promise<void>((resolve) => (resolveWritten = resolve));
  /** The last epoch end the supervisor cleared, and who waits for a later one. */
  let clearedTo = -1;
  let clearWaiters: { epoch: number; resolve: () => void }[] = [];
  const context: ActorContext = {
    init,
    emit: (payload) => self.postMessage({ type: "actor.event", actor: name, event: payload }),
    checkpoint: (files, state, weights) =>
      self.postMessage({ type: "actor.checkpoint", actor: name, files, state, weights }),
    firstCheckpointWritten: () => Promise.race([firstWritten, stopped.then(() => {})]),
    epochCleared: (epoch) => {
      if (epoch <= clearedTo) return Promise.resolve();
      const cleared = new Promise<void>((resolve) => clearWaiters.push({ epoch, resolve }));
      return Promise.race([cleared, stopped.then(() => {})]);
    },
    faultPoint: async (at) => {
      // (`silent` is the supervisor's to play: it drops what this Worker sends)
      if (init.fault?.at !== at || init.fault.kind === "silent") return;
      if (init.fault.kind === "throw") throw new Error(`injected fault at '${at}'`);
      if (init.fault.kind === "emit") return context.emit(init.fault.event);
      if (init.fault.kind === "delay") {
        const ms = init.fault.ms;
        return await new Promise((resolve) => setTimeout(resolve, ms));
      }
      if (init.fault.kind === "touch") {
        // Least-privilege probe: a permission error propagates as the actor's error.
        const { path, access } = init.fault;
        if (access === "read") await Deno.readFile(path);
        else await Deno.writeTextFile(path, "probe\n");
        throw new Error(`injected probe at '${at}': ${access} of '${path}' was allowed`);
      }
      self.onmessage = null; // stall: stop answering anything, pings included
      await new Promise(() => {});
    },
    stopped,
    stopRequested: () => stopReason,
    interruptRequested: () => interrupted,
  };
  const settled = body(context).then(
    (result) => self.postMessage({ type: "actor.done", actor: name, result }),
    (error) => self.postMessage({ type: "actor.error", actor: name, error: serializeError(error) }),
  );
  return {
    stop: (reason, wasInterrupt) => {
      if (stopReason === undefined) interrupted = wasInterrupt;
      stopReason ??= reason;
      resolveStop(stopReason);
    },
    written: () => resolveWritten(),
    cleared: (epoch) => {
      clearedTo = Math.max(clearedTo, epoch);
      const due = clearWaiters.filter((waiter) => waiter.epoch <= clearedTo);
      clearWaiters = clearWaiters.filter((waiter) => waiter.epoch > clearedTo);
      for (const waiter of due) waiter.resolve();
    },
    settled,
  };
}

/** A mailbox over a MessagePort: handlers for some types, a queue for the rest. */
export class Mailbox<T extends { type: string }> {
  #queue: T[] = [];
  #waiters: { match: (message: T) => boolean; resolve: (message: T) => void }[] = [];
  #handlers = new Map<string, (message: T) => void>();

  constructor(readonly port: MessagePort) {
    port.onmessage = (event: MessageEvent) => this.push(event.data as T);
  }

  /** Handles messages of `type` as they arrive instead of queueing them. */
  on(type: string, handler: (message: T) => void): void {
    this.#handlers.set(type, handler);
  }

  push(message: T): void {
    const handler = this.#handlers.get(message.type);
    if (handler) return handler(message);
    const index = this.#waiters.findIndex((waiter) => waiter.match(message));
    if (index >= 0) {
      const [waiter] = this.#waiters.splice(index, 1);
      waiter.resolve(message);
    } else this.#queue.push(message);
  }

  /** The first queued (or next arriving) message that matches. */
  take<U extends T>(match: (message: T) => message is U): Promise<U>;
  take(match: (message: T) => boolean): Promise<T>;
  take(match: (message: T) => boolean): Promise<T> {
    const index = this.#queue.findIndex(match);
    // shift() is O(1) on V8's arrays where splice(0, 1) moves every element left
    if (index === 0) return Promise.resolve(this.#queue.shift()!);
    if (index > 0) return Promise.resolve(this.#queue.splice(index, 1)[0]);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  /** Drops queued messages that match (stale batches after an early stop). */
  drop(match: (message: T) => boolean): void {
    this.#queue = this.#queue.filter((message) => !match(message));
  }

  send(message: unknown, transfer: Transferable[] = []): void {
    this.port.postMessage(message, transfer);
  }

  close(): void {
    this.port.close();
  }
}

/** Yields to the event loop (a macrotask), so port messages and pings are handled. */
export function yieldToEventLoop(): Promise<void> {
  // A message to ourselves is a macrotask without a timer's ~1 ms granularity.
  return new Promise((resolve) => {
    yielder.port2.onmessage = () => resolve();
    yielder.port1.postMessage(0);
  });
}

const yielder = new MessageChannel();
// Unref'ed: a pending yield must not keep a finished Worker (or process) alive.
(yielder.port1 as unknown as { unref?: () => void }).unref?.();
(yielder.port2 as unknown as { unref?: () => void }).unref?.();

/**
 * Serves a peer's port until the supervisor sends `Stop`: `handle` runs for each message, and a
 * handler that throws ends the actor with that error (the supervisor then ends the run).
 */
export async function servePort(
  context: ActorContext,
  port: MessagePort,
  handle: (message: { type: string } & Record<string, unknown>) => unknown,
): Promise<void> {
  let failure: unknown;
  let stop = () => {};
  const done = new Promise<void>((resolve) => {
    stop = resolve;
    context.stopped.then(() => resolve());
  });
  port.onmessage = async (event: MessageEvent) => {
    try {
      await handle(event.data);
    } catch (error) {
      failure = error;
      stop();
    }
  };
  await done;
  port.close();
  if (failure) throw failure;
}
