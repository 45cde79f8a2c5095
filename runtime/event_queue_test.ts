import assert from "node:assert/strict";
import { EventQueue } from "./event_queue.ts";
import { train } from "../mod.ts";
import type { RunEvent } from "../mod.ts";
import { tempRunsDir } from "../tests/_helpers.ts";

async function readAll<T>(events: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const event of events) out.push(event);
  return out;
}

Deno.test("two iterators made together each read every event, in order, to the end", async () => {
  const queue = new EventQueue<number>();
  queue.push(0);
  const both = Promise.all([readAll(queue.iterate()), readAll(queue.iterate())]);
  for (let i = 1; i < 6; i++) {
    queue.push(i);
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  queue.close();
  assert.deepEqual(await both, [[0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 5]]);
});

Deno.test("events are held until every iterator has read them, and only so long", async () => {
  const queue = new EventQueue<number>();
  for (let i = 0; i < 4; i++) queue.push(i);
  const first = queue.iterate()[Symbol.asyncIterator]();
  assert.deepEqual(await first.next(), { value: 0, done: false });
  assert.deepEqual(await first.next(), { value: 1, done: false });
  // made after 0 and 1 were read by every iterator there was: they are gone
  const second = queue.iterate()[Symbol.asyncIterator]();
  assert.deepEqual(await second.next(), { value: 2, done: false });
  // the first iterator left: it holds nothing back, and ends
  await first.return!();
  assert.deepEqual(await first.next(), { value: undefined, done: true });
  queue.close();
  assert.deepEqual(await readAll({ [Symbol.asyncIterator]: () => second }), [3]);
});

Deno.test("an iterator made after the stream ended, before any was read, gets every event; one made after it read them, none", async () => {
  const queue = new EventQueue<string>();
  queue.push("a");
  queue.push("b");
  queue.close();
  assert.deepEqual(await readAll(queue.iterate()), ["a", "b"]);
  // ...and one made after that iterator read them all gets none (nothing is held for it: a
  // long run's events are not kept for a loop that may never come), as train()'s doc says
  assert.deepEqual(await readAll(queue.iterate()), []);
});

Deno.test("an event pushed after the stream closed is dropped: the closing event stays the last", async () => {
  const queue = new EventQueue<string>();
  const reading = readAll(queue.iterate());
  queue.push("run.started");
  queue.push("run.finished");
  queue.close();
  // (a Worker's message still on its way as the run ended)
  queue.push("late");
  assert.deepEqual(await reading, ["run.started", "run.finished"]);
  assert.deepEqual(await readAll(queue.iterate()), []);
});

Deno.test("train(): two loops over run.events() each get every event of the run, run.finished included", async () => {
  await using runs = await tempRunsDir();
  {
    const run = train({ backend: "cpu", epochs: 3, runsDir: runs.dir });
    const [a, b] = await Promise.all([readAll(run.events()), readAll(run.events())]);
    const types = (events: RunEvent[]) => events.map((event) => event.type);
    assert.deepEqual(types(a), types(b));
    assert.equal(a.at(-1)?.type, "run.finished");
    assert.equal(a.filter((event) => event.type === "epoch").length, 3);
    assert.equal((await run.result).status, "completed");
  }
});

Deno.test("once the only loop has left (break), events are held for no one: a loop made later gets only those after it", async () => {
  // (a 40-epoch run's 123 events were all kept after its loop broke off at the first)
  const queue = new EventQueue<string>();
  queue.push("a");
  for await (const event of queue.iterate()) {
    assert.equal(event, "a");
    break;
  }
  queue.push("b");
  queue.push("c");
  await Promise.resolve();
  const late = queue.iterate();
  queue.push("d");
  queue.close();
  assert.deepEqual(await readAll(late), ["d"]);
});

Deno.test("a loop made in the same tick as the last one left starts at the next event, not at one held for the loop gone", async () => {
  const queue = new EventQueue<string>();
  queue.push("a");
  queue.push("b");
  const first = queue.iterate()[Symbol.asyncIterator]();
  assert.deepEqual(await first.next(), { value: "a", done: false });
  first.return!();
  queue.push("c");
  const next = queue.iterate();
  queue.push("d");
  queue.close();
  // (it read "b", which the loop gone had left unread; "c" came while no loop was there)
  assert.deepEqual(await readAll(next), ["d"]);
});
