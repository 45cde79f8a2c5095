/**
 * The actors' Workers, and spare sets of them for the runs that will take them.
 *
 * A run's five Workers spend most of its start loading their modules (the trainer's tfjs and
 * wasm backend: ~0.3 s on a 2-core machine, several times a small model's training). A sweep
 * trains many such runs one after another, so a pool ({@linkcode SpareActors}) keeps Workers for
 * the next: those of a run that ended cleanly, handed back (each actor runs once per `Init`, and a
 * Worker whose run is over takes the next one's), or else a set started once the run's own
 * actors are up, whose modules load meanwhile (or as the run ends, where it was to hand its own
 * back but failed). A set's Workers have the permissions the run would give its own: a run takes
 * a set only where they are the same (its {@linkcode actorsKey}). Whatever a Worker sends or
 * throws before a run takes it is held, then handed to that run, in order (a handed-back Worker's
 * answers to the run before's pings are dropped).
 *
 * @module
 */
import type { ActorName } from "../actors/protocol.ts";

/** Each actor's Worker module, relative to this one. */
const WORKER_FILES: Record<ActorName, string> = {
  dataLoader: "../actors/data_loader_worker.ts",
  trainer: "../actors/trainer_worker.ts",
  scheduler: "../actors/scheduler_worker.ts",
  earlyStopper: "../actors/early_stopper_worker.ts",
  clipMonitor: "../actors/clip_monitor_worker.ts",
};

/** The five actors, in the order their Workers start. */
export const ACTORS = Object.keys(WORKER_FILES) as ActorName[];

/**
 * Milliseconds a process waits, once it has terminated a Worker that made a WebGPU instance,
 * before it may end: Deno 2.9.6 tears the instance down on the Worker's thread as it ends, and a
 * process that exited meanwhile crashed now and then (a segfault or glibc's "double free or
 * corruption"; `bench/webgpu_exit.ts`). Measured on the 2-core VM with llvmpipe: a Worker that
 * asked for an adapter, terminated 50 ms after, crashed the exiting process in 14 of 100 runs;
 * with 10 to 300 ms of wait after the termination, in 0 of 230, under load too.
 */
export const WEBGPU_TEARDOWN_MS = 100;
/**
 * Milliseconds a process waits, once it has terminated a Worker that held a WebGPU device, before
 * it may end: on a real GPU (H100, Vulkan) a process that exited while such a Worker was still
 * being torn down crashed.
 */
export const GPU_TEARDOWN_MS = 300;
/**
 * Milliseconds a Worker told to let go of its WebGPU device ({@linkcode ActorWorker.mayHoldDevice})
 * has to answer before it is terminated regardless.
 */
const RELEASE_WAIT_MS = 5_000;
/** When the last Worker that made a WebGPU instance was terminated (`performance.now()`). */
let webGpuTerminatedAt = -Infinity;
/** Until when (`performance.now()`) the terminated Workers' WebGPU teardowns may run. */
let webGpuTeardownUntil = -Infinity;
/** How many Workers that made a WebGPU instance were terminated. */
let webGpuTerminated = 0;
/** How many Workers told to let go of their WebGPU device answered that they had. */
let webGpuReleased = 0;
/** Workers letting go of their device before their termination (see ActorWorker.terminate). */
const releasing = new Set<Promise<void>>();

/**
 * How many Workers that made a WebGPU instance this process has terminated, and when the last
 * was (`performance.now()`; -Infinity: none); how many of them, told to let go of their device
 * first, answered that they had. For tests.
 */
export function webGpuTerminations(): { count: number; lastAt: number; released: number } {
  return { count: webGpuTerminated, lastAt: webGpuTerminatedAt, released: webGpuReleased };
}

/**
 * Resolves once every Worker letting go of its WebGPU device has been terminated, and
 * {@linkcode WEBGPU_TEARDOWN_MS} have passed since the last Worker that made a WebGPU instance
 * ({@linkcode ActorWorker.madeWebGpu}) was terminated ({@linkcode GPU_TEARDOWN_MS} where it may
 * have held a device): at once where none was.
 *
 * @example
 * ```ts
 * import { webGpuTeardowns } from "./actor_workers.ts";
 * await webGpuTeardowns(); // (no such Worker here: at once)
 * ```
 */
export async function webGpuTeardowns(): Promise<void> {
  while (releasing.size > 0) await Promise.all(releasing);
  const waitMs = webGpuTeardownUntil - performance.now();
  if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
}

/** The permissions of each actor's Worker; undefined: the process's own (inherited). */
export type PermissionsOf = (actor: ActorName) => Deno.PermissionOptionsObject | undefined;

/**
 * What a run's actors need of their Workers, as one string: two runs of the same key can use the
 * same Workers. `narrow`: each actor's permissions; else every Worker inherits the process's.
 *
 * @example
 * ```ts
 * import { actorsKey } from "./actor_workers.ts";
 * console.assert(actorsKey(() => undefined) === "inherit");
 * console.assert(actorsKey(() => ({ read: false })) !== actorsKey(() => ({ read: true })));
 * ```
 */
export function actorsKey(permissionsOf: PermissionsOf): string {
  const each = ACTORS.map((actor) => permissionsOf(actor));
  return each.every((permissions) => permissions === undefined) ? "inherit" : JSON.stringify(each);
}

/** What a run does with its Worker's messages and errors. */
export interface WorkerHandlers {
  onmessage(event: MessageEvent): void;
  onerror(event: ErrorEvent): void;
  onmessageerror(event: MessageEvent): void;
}

/**
 * One actor's Worker, started now; what it sends or throws before {@linkcode adopt} is held (an
 * error's default, which would end the process, prevented) and handed to the run that adopts it.
 */
export class ActorWorker {
  readonly worker: Worker;
  /**
   * Whether the Worker's thread made a WebGPU instance (its trainer asked for an adapter): its
   * termination is then waited for by {@linkcode webGpuTeardowns}. It stays so while it lives.
   */
  madeWebGpu = false;
  /**
   * Whether the Worker may hold a live WebGPU device when it is terminated: its trainer trained on
   * WebGPU, or may have made a device before its run ended, or kept one for the next run
   * (`Init.keepDevice`). {@linkcode terminate} then tells it to let go of it first. It stays so
   * while the Worker lives (a later run's trainer may not have started before it is terminated).
   */
  mayHoldDevice = false;
  /** Told to let go of its device, to be terminated once it has. */
  #releasing = false;
  #held: [keyof WorkerHandlers, Event][] = [];
  /** How many runs adopted the Worker so far. */
  #runs = 0;

  /** Starts the Worker. Throws where Deno refuses it (permissions the process does not hold). */
  constructor(actor: ActorName, permissions?: Deno.PermissionOptionsObject) {
    this.worker = new Worker(new URL(WORKER_FILES[actor], import.meta.url).href, {
      type: "module",
      ...(permissions && { deno: { permissions } }),
    });
    this.worker.onmessage = (event) => this.#held.push(["onmessage", event]);
    this.worker.onerror = (event) => {
      event.preventDefault();
      this.#held.push(["onerror", event]);
    };
    this.worker.onmessageerror = (event) => this.#held.push(["onmessageerror", event]);
  }

  /**
   * Terminates the Worker, noted for {@linkcode webGpuTeardowns} if it made a WebGPU instance.
   * One that {@linkcode mayHoldDevice} is first told to let go of it (`Release`), and terminated
   * once it answers (at most {@linkcode RELEASE_WAIT_MS} later): `webGpuTeardowns` waits for that,
   * and {@linkcode GPU_TEARDOWN_MS} after.
   */
  terminate(): void {
    if (this.#releasing) return;
    if (!this.mayHoldDevice) return this.#end(WEBGPU_TEARDOWN_MS);
    this.#releasing = true;
    const released = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, RELEASE_WAIT_MS);
      const answered = () => {
        clearTimeout(timer);
        resolve();
      };
      this.worker.onmessage = (event) => {
        if ((event.data as { type?: string })?.type !== "actor.released") return;
        webGpuReleased += 1;
        answered();
      };
      this.worker.onerror = (event) => {
        event.preventDefault();
        answered();
      };
      this.worker.onmessageerror = () => {};
      this.worker.postMessage({ type: "Release" });
    }).then(() => {
      this.#end(GPU_TEARDOWN_MS);
      releasing.delete(released);
    });
    releasing.add(released);
  }

  #end(teardownMs: number): void {
    this.worker.terminate();
    if (!this.madeWebGpu) return;
    webGpuTerminatedAt = performance.now();
    webGpuTeardownUntil = Math.max(webGpuTeardownUntil, webGpuTerminatedAt + teardownMs);
    webGpuTerminated += 1;
  }

  /** How many of the Worker's events are held for the run that adopts it. */
  get held(): number {
    return this.#held.length;
  }

  /** How many runs adopted the Worker before this one (0: a fresh Worker). */
  get runsBefore(): number {
    return Math.max(0, this.#runs - 1);
  }

  /** Gives the Worker to a run: its handlers get what was held, then every later event. */
  adopt(handlers: WorkerHandlers): Worker {
    this.#runs += 1;
    this.worker.onmessage = (event) => handlers.onmessage(event);
    this.worker.onerror = (event) => handlers.onerror(event);
    this.worker.onmessageerror = (event) => handlers.onmessageerror(event);
    const held = this.#held;
    this.#held = [];
    for (const [kind, event] of held) {
      if (kind === "onerror") handlers.onerror(event as ErrorEvent);
      else handlers[kind](event as MessageEvent);
    }
    return this.worker;
  }

  /**
   * Takes the Worker back from a run that ended cleanly (every actor sent its result), for the
   * next run to adopt: what it sends meanwhile (answers to the ended run's pings) is dropped, and
   * `broken` is called where it throws or a message of its cannot be read (it is not to be used).
   */
  handBack(broken: () => void): void {
    this.#held = [];
    this.worker.onmessage = () => {};
    const fail = (event: Event) => {
      event.preventDefault();
      broken();
    };
    this.worker.onerror = fail;
    this.worker.onmessageerror = fail;
  }
}

/**
 * A set of the five actors' Workers for runs of one key: started for them one Worker a task (each
 * `new Worker` holds the thread that makes it for ~15-20 ms, and that thread supervises the run
 * going on meanwhile), or handed back by a run that ended cleanly. A run that takes the set before
 * it is whole starts the rest itself.
 */
class ActorSet {
  readonly workers = new Map<ActorName, ActorWorker>();
  /** Whether a run handed the set back (else it was started for the pool). */
  readonly fromRun: boolean;
  /** Taken or terminated: no Worker is started for it after. */
  #over = false;

  /**
   * Starts the set's Workers, or takes `used`'s; `refused` is called where Deno refuses one, or a
   * Worker handed back breaks (the set is then over).
   */
  constructor(
    readonly key: string,
    permissionsOf: PermissionsOf,
    refused: (set: ActorSet) => void,
    used?: Map<ActorName, ActorWorker>,
  ) {
    const broken = () => {
      this.terminate();
      refused(this);
    };
    this.fromRun = used !== undefined;
    if (used) {
      for (const [actor, each] of used) {
        this.workers.set(actor, each);
        each.handBack(broken);
      }
      return;
    }
    const start = (index: number) => {
      if (this.#over || index >= ACTORS.length) return;
      const actor = ACTORS[index];
      try {
        this.workers.set(actor, new ActorWorker(actor, permissionsOf(actor)));
      } catch {
        broken();
        return;
      }
      setTimeout(() => start(index + 1), 0);
    };
    start(0);
  }

  /** Takes the set's Workers (those started so far): none is started for it after. */
  take(): Map<ActorName, ActorWorker> {
    this.#over = true;
    return this.workers;
  }

  /** Terminates the Workers no run has taken, and starts no more. */
  terminate(): void {
    this.#over = true;
    for (const each of this.workers.values()) each.terminate();
    this.workers.clear();
  }
}

/**
 * Spare sets of actor Workers for the runs to come (a sweep's next trials): at most `limit` wait
 * at a time. Closing terminates those no run took; the owner closes it when its runs are done, or
 * their Workers keep the process alive.
 *
 * @example
 * ```ts
 * import { SpareActors } from "./actor_workers.ts";
 * using spares = new SpareActors(1);
 * console.assert(spares.take("inherit") === undefined); // none started yet
 * ```
 */
export class SpareActors {
  #sets: ActorSet[] = [];
  #closed = false;

  /**
   * `limit`: how many sets started ahead may wait (a set of fresh Workers holds ~130 MB);
   * `handedBack`: how many sets runs handed back may (as many as ran at once: their Workers were
   * held anyway).
   */
  constructor(readonly limit = 1, readonly handedBack = limit) {}

  /** How many spare sets wait. */
  get size(): number {
    return this.#sets.length;
  }

  /** How many Workers the waiting sets hold (a set is started one Worker a task). */
  get workers(): number {
    return this.#sets.reduce((sum, set) => sum + set.workers.size, 0);
  }

  /**
   * A spare set of this key, taken out of the pool (its Workers are then the caller's): one a run
   * handed back before one started ahead.
   */
  take(key: string): Map<ActorName, ActorWorker> | undefined {
    // (a set a run handed back first: whole, and its Workers have run the actors already)
    const handedBack = this.#sets.findIndex((set) => set.key === key && set.fromRun);
    const index = handedBack >= 0 ? handedBack : this.#sets.findIndex((set) => set.key === key);
    if (index < 0) return undefined;
    return this.#sets.splice(index, 1)[0].take();
  }

  /**
   * Starts a spare set for runs of `key`, unless `limit` sets of it wait already; where the pool
   * is full of other keys' sets, the oldest of them is terminated for it. Where Deno refuses a
   * Worker (the process lacks a permission), no set is kept: the run that would have taken it
   * starts its own, and says why it cannot.
   */
  prepare(key: string, permissionsOf: PermissionsOf): void {
    if (this.#closed || !this.#makeRoom(key, this.limit)) return;
    const set = new ActorSet(key, permissionsOf, (refused) => this.#drop(refused));
    if (set.workers.size > 0) this.#sets.push(set);
  }

  /**
   * Takes back the Workers of a run of `key` that ended cleanly, for the next run of that key to
   * take instead of starting its own; where `handedBack` sets of it wait already, or the pool is
   * closed, they are terminated. Where the pool is full of other keys' sets, the oldest of them is
   * terminated for it.
   */
  giveBack(key: string, workers: Map<ActorName, ActorWorker>): void {
    if (this.#closed || !this.#makeRoom(key, this.handedBack)) {
      for (const each of workers.values()) each.terminate();
      return;
    }
    this.#sets.push(new ActorSet(key, () => undefined, (broken) => this.#drop(broken), workers));
  }

  /**
   * Whether a set of `key` may join the pool under `limit`: not where `limit` sets of it wait
   * already (or `limit` is below 1); where the pool is full of other keys' sets, the oldest of them
   * is terminated for it.
   */
  #makeRoom(key: string, limit: number): boolean {
    if (limit < 1 || this.#sets.filter((set) => set.key === key).length >= limit) return false;
    if (this.#sets.length >= limit) {
      const other = this.#sets.findIndex((set) => set.key !== key);
      this.#sets.splice(other, 1)[0].terminate();
    }
    return true;
  }

  #drop(set: ActorSet): void {
    const index = this.#sets.indexOf(set);
    if (index >= 0) this.#sets.splice(index, 1);
  }

  /**
   * Terminates every spare set, and starts none after. A trainer that kept a WebGPU device is
   * terminated once it has let go of it: the owner's process may end only after
   * {@linkcode closeGently} (or `await using`).
   */
  close(): void {
    this.#closed = true;
    for (const set of this.#sets.splice(0)) set.terminate();
  }

  /**
   * As {@linkcode close}, then resolves once a trainer's WebGPU instance among the Workers it
   * terminated (or any terminated before) has had its teardown ({@linkcode webGpuTeardowns}):
   * the owner's process may end then.
   */
  async closeGently(): Promise<void> {
    this.close();
    await webGpuTeardowns();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.closeGently();
  }
}
