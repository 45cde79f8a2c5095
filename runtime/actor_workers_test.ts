import assert from "node:assert/strict";
import {
  ACTORS,
  actorsKey,
  ActorWorker,
  SpareActors,
  WEBGPU_TEARDOWN_MS,
  webGpuTeardowns,
  webGpuTerminations,
} from "./actor_workers.ts";
import { waitFor } from "../tests/_helpers.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `ready` holds (a Worker's modules load in seconds, under `deno test` slower). */
const until = (what: string, ready: () => boolean) =>
  waitFor(what, () => ready() || undefined, 120_000);

Deno.test("an actor's Worker started ahead holds what it sends until a run adopts it, then hands it over first, in order", async () => {
  const started = new ActorWorker("scheduler");
  try {
    // (an actor sends a heartbeat as soon as its module is loaded: before any run has it)
    await until("the scheduler's first heartbeat", () => started.held > 0);
    const got: string[] = [];
    const worker = started.adopt({
      onmessage: (event) => got.push(event.data.type),
      onerror: (event) => got.push(`error: ${event.message}`),
      onmessageerror: () => got.push("messageerror"),
    });
    assert.deepEqual(got, ["actor.heartbeat"], "handed over as the run adopts it");
    assert.equal(started.held, 0);
    worker.postMessage({ type: "Ping" });
    await until("the answer to a ping", () => got.length === 2);
    assert.deepEqual(got, ["actor.heartbeat", "actor.heartbeat"]);
  } finally {
    started.worker.terminate();
  }
});

Deno.test("spare actor sets: one of a key taken whole, none of another; at most `limit` wait; a full pool makes room for a new key; closed, none is started", async () => {
  const spares = new SpareActors(1);
  const taken: Worker[] = [];
  try {
    const inherit = actorsKey(() => undefined);
    const narrow = actorsKey(() => ({ read: false }));
    spares.prepare(inherit, () => undefined);
    spares.prepare(inherit, () => undefined);
    assert.equal(spares.size, 1, "a second set of the same key waits only where the limit allows");
    // (one Worker a task: let the set finish)
    await until("the set's five Workers", () => spares.workers === ACTORS.length);
    assert.equal(spares.take(narrow), undefined);
    const set = spares.take(inherit)!;
    taken.push(...[...set.values()].map((each) => each.worker));
    assert.deepEqual([...set.keys()], ACTORS);
    assert.equal(spares.size, 0);

    spares.prepare(inherit, () => undefined);
    spares.prepare(narrow, () => ({ read: false }));
    assert.equal(spares.size, 1, "the other key's set was terminated to make room");
    await until("the set's five Workers", () => spares.workers === ACTORS.length);
    assert.equal(spares.take(inherit), undefined);
    const other = spares.take(narrow)!;
    taken.push(...[...other.values()].map((each) => each.worker));
    assert.equal(other.size, ACTORS.length);

    spares.prepare(inherit, () => undefined);
    spares.close();
    assert.equal(spares.size, 0);
    spares.prepare(inherit, () => undefined);
    assert.equal(spares.size, 0, "none is started once closed");
  } finally {
    spares.close();
    for (const worker of taken) worker.terminate();
  }
});

Deno.test("a set taken before it is whole stops there: the run starts the rest itself", async () => {
  const spares = new SpareActors(2);
  try {
    spares.prepare("k", () => undefined);
    const set = spares.take("k")!;
    // (the first Worker is started at once, the rest one a task)
    assert.equal(set.size, 1);
    await sleep(100);
    assert.equal(set.size, 1, "no Worker is added to a set once taken");
    for (const each of set.values()) each.worker.terminate();
  } finally {
    spares.close();
  }
});

Deno.test("a spare set Deno refuses a Worker of (a permission it cannot grant) is not kept: the run starts its own, and says why it cannot", async () => {
  using spares = new SpareActors(1);
  const bad = { net: ["bad host:::"] };
  spares.prepare("first", () => bad);
  assert.equal(spares.size, 0, "the first Worker refused");
  // (a later one is refused a task later: the set is dropped then, its Workers terminated)
  spares.prepare("later", (actor) => actor === "scheduler" ? bad : undefined);
  assert.equal(spares.size, 1);
  await until("the refused set dropped", () => spares.size === 0);
  assert.equal(spares.take("later"), undefined);
});

Deno.test("a Worker handed back by a run drops what it sends until the next run adopts it, and counts the runs it served", async () => {
  const used = new ActorWorker("scheduler");
  try {
    const first: string[] = [];
    used.adopt({
      onmessage: (event) => first.push(event.data.type),
      onerror: () => first.push("error"),
      onmessageerror: () => first.push("messageerror"),
    });
    assert.equal(used.runsBefore, 0, "a fresh Worker");
    await until("the scheduler's first heartbeat", () => first.length > 0);
    let broken = 0;
    used.handBack(() => broken++);
    const heardBefore = first.length;
    used.worker.postMessage({ type: "Ping" });
    await sleep(300);
    assert.equal(first.length, heardBefore, "the run that handed it back hears no more of it");
    assert.equal(used.held, 0, "the answer to the run before's ping is not the next run's");
    const second: string[] = [];
    used.adopt({
      onmessage: (event) => second.push(event.data.type),
      onerror: () => second.push("error"),
      onmessageerror: () => second.push("messageerror"),
    });
    assert.equal(used.runsBefore, 1);
    assert.deepEqual(second, []);
    used.worker.postMessage({ type: "Ping" });
    await until("the answer to the next run's ping", () => second.length === 1);
    assert.deepEqual(second, ["actor.heartbeat"]);
    assert.equal(broken, 0);
  } finally {
    used.worker.terminate();
  }
});

Deno.test("sets handed back: taken by the next run of their key before one started ahead, at most `handedBack` of a key kept, none once closed, and one that breaks is dropped", () => {
  const spares = new SpareActors(1, 2);
  const made: ActorWorker[] = [];
  /** A run's five Workers, as a run hands them back. */
  const runsWorkers = () =>
    new Map(ACTORS.map((actor) => {
      const each = new ActorWorker(actor);
      made.push(each);
      return [actor, each];
    }));
  try {
    spares.prepare("k", () => undefined);
    const back = runsWorkers();
    spares.giveBack("k", back);
    assert.equal(spares.size, 2);
    const taken = spares.take("k")!;
    const same = (a: Map<string, ActorWorker>, b: Map<string, ActorWorker>) =>
      ACTORS.every((actor) => a.get(actor) === b.get(actor));
    assert.ok(same(taken, back), "the set handed back, not the one started ahead");
    spares.giveBack("k", taken);
    spares.giveBack("k", runsWorkers());
    assert.equal(spares.size, 2, "two of the key wait: a third is terminated");
    spares.giveBack("k", runsWorkers());
    assert.equal(spares.size, 2);
    // a Worker handed back that throws (its error event) is not to be used: its set is dropped
    const broken = spares.take("k")!;
    spares.giveBack("k", broken);
    const before = spares.size;
    broken.get("trainer")!.worker.onerror!(new ErrorEvent("error", { message: "boom" }));
    assert.equal(spares.size, before - 1);
    const left = spares.take("k");
    assert.ok(left && !same(left, broken));
    spares.close();
    spares.giveBack("k", runsWorkers());
    assert.equal(spares.size, 0, "none is kept once closed");
  } finally {
    spares.close();
    for (const each of made) each.worker.terminate();
  }
});

Deno.test("closing gently terminates a set handed back at once, where none made a WebGPU instance", async () => {
  const spares = new SpareActors(1);
  const workers = new Map(ACTORS.slice(0, 1).map((actor) => [actor, new ActorWorker(actor)]));
  try {
    spares.giveBack("k", workers);
    const before = webGpuTerminations().count;
    const started = performance.now();
    await spares.closeGently();
    // no teardown was waited for (a bound of the whole wait, not half: a loaded machine's pause)
    assert.equal(webGpuTerminations().count, before);
    assert.ok(performance.now() - started < WEBGPU_TEARDOWN_MS - 1);
    assert.equal(spares.size, 0);
    // (nothing was held open: a closed pool takes no set)
    spares.giveBack("k", new Map());
    assert.equal(spares.size, 0);
  } finally {
    for (const each of workers.values()) each.worker.terminate();
  }
});

Deno.test("a Worker that made a WebGPU instance, terminated, is given its teardown before the process may end: by itself, and when a pool closes gently", async () => {
  const plain = new ActorWorker("scheduler");
  const before = webGpuTerminations().count;
  plain.terminate();
  let started = performance.now();
  await webGpuTeardowns();
  assert.ok(performance.now() - started < WEBGPU_TEARDOWN_MS - 1, "none made one: at once");
  assert.equal(webGpuTerminations().count, before);

  const gpu = new ActorWorker("scheduler");
  gpu.madeWebGpu = true;
  started = performance.now();
  gpu.terminate();
  await webGpuTeardowns();
  assert.ok(performance.now() - started >= WEBGPU_TEARDOWN_MS - 1);
  assert.equal(webGpuTerminations().count, before + 1);

  // a set handed back whose trainer made one: closing the pool waits for its teardown too
  const spares = new SpareActors(1);
  const trainer = new ActorWorker("scheduler");
  trainer.madeWebGpu = true;
  spares.giveBack("k", new Map([["trainer", trainer]]));
  started = performance.now();
  await spares.closeGently();
  assert.ok(performance.now() - started >= WEBGPU_TEARDOWN_MS - 1);
  assert.equal(webGpuTerminations().count, before + 2);
});
