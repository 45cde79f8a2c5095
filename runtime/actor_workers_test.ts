import assert from "node:assert/strict";
import { ACTORS, actorsKey, ActorWorker, SpareActors } from "./actor_workers.ts";
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
