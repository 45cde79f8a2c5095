/**
 * The actors' Workers, and spare sets of them started ahead of the runs that will take them.
 *
 * A run's five Workers spend most of its start loading their modules (the trainer's tfjs and
 * wasm backend: ~0.3 s on a 2-core machine, several times a small model's training). A sweep
 * trains many such runs one after another, so each run of it starts a spare set for the next
 * once its own actors are up ({@linkcode SpareActors}): the next run then takes Workers whose
 * modules have loaded meanwhile. A spare's Workers are fresh (no run has used them), made with the
 * permissions the run would give its own: a run takes a spare only where they are the same (its
 * {@linkcode actorsKey}). Whatever a Worker sends or throws before a run takes it is held, then
 * handed to that run, in order.
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
  #held: [keyof WorkerHandlers, Event][] = [];

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

  /** How many of the Worker's events are held for the run that adopts it. */
  get held(): number {
    return this.#held.length;
  }

  /** Gives the Worker to a run: its handlers get what was held, then every later event. */
  adopt(handlers: WorkerHandlers): Worker {
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
}

/**
 * A set of the five actors' Workers started for runs of one key, one Worker a task: each
 * `new Worker` holds the thread that makes it for ~15-20 ms, and that thread supervises the run
 * going on meanwhile. A run that takes the set before it is whole starts the rest itself.
 */
class ActorSet {
  readonly workers = new Map<ActorName, ActorWorker>();
  /** Taken or terminated: no Worker is started for it after. */
  #over = false;

  /** Starts the set's Workers; `refused` is called where Deno refuses one (the set is then over). */
  constructor(
    readonly key: string,
    permissionsOf: PermissionsOf,
    refused: (set: ActorSet) => void,
  ) {
    const start = (index: number) => {
      if (this.#over || index >= ACTORS.length) return;
      const actor = ACTORS[index];
      try {
        this.workers.set(actor, new ActorWorker(actor, permissionsOf(actor)));
      } catch {
        this.terminate();
        refused(this);
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
    for (const each of this.workers.values()) each.worker.terminate();
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

  constructor(readonly limit = 1) {}

  /** How many spare sets wait. */
  get size(): number {
    return this.#sets.length;
  }

  /** How many Workers the waiting sets hold (a set is started one Worker a task). */
  get workers(): number {
    return this.#sets.reduce((sum, set) => sum + set.workers.size, 0);
  }

  /** A spare set of this key, taken out of the pool (its Workers are then the caller's). */
  take(key: string): Map<ActorName, ActorWorker> | undefined {
    const index = this.#sets.findIndex((set) => set.key === key);
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
    if (this.#closed || this.limit < 1) return;
    if (this.#sets.filter((set) => set.key === key).length >= this.limit) return;
    if (this.#sets.length >= this.limit) {
      const other = this.#sets.findIndex((set) => set.key !== key);
      this.#sets.splice(other, 1)[0].terminate();
    }
    const set = new ActorSet(key, permissionsOf, (refused) => {
      const index = this.#sets.indexOf(refused);
      if (index >= 0) this.#sets.splice(index, 1);
    });
    if (set.workers.size > 0) this.#sets.push(set);
  }

  /** Terminates every spare set, and starts none after. */
  close(): void {
    this.#closed = true;
    for (const set of this.#sets.splice(0)) set.terminate();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
