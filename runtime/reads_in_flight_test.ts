import assert from "node:assert/strict";
import { ReadsInFlight } from "./reads_in_flight.ts";

interface Window {
  id: number;
  read: Promise<number>;
}

/** Windows whose reads come back when the test says so. */
function windows(count: number) {
  const back: ((value: number) => void)[] = [];
  const fail: ((error: Error) => void)[] = [];
  const list: Window[] = Array.from({ length: count }, (_, id) => ({
    id,
    read: new Promise<number>((resolve, reject) => {
      back.push(resolve);
      fail.push(reject);
    }),
  }));
  return { list, back, fail };
}

/** Lets every settled promise's handlers run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

function recorder(limit: number) {
  const finished: number[] = [];
  const reads = new ReadsInFlight<Window>(limit, async (w) => {
    await w.read;
    finished.push(w.id);
  });
  return { finished, reads };
}

Deno.test("reads on their way hold nothing back until more than the limit are", async () => {
  const { list, back } = windows(4);
  const { finished, reads } = recorder(3);
  for (const w of list.slice(0, 3)) await reads.add(w);
  assert.deepEqual(finished, [], "no read was back, and 3 may be on their way");
  let added = false;
  const fourth = reads.add(list[3]).then(() => (added = true));
  await settle();
  assert.equal(added, false, "a fourth window waits for the oldest read");
  back[0](0);
  await fourth;
  assert.deepEqual(finished, [0]);
  assert.equal(reads.size, 3);
});

Deno.test("windows finish in step order as their reads come back, never out of order", async () => {
  const { list, back } = windows(4);
  const { finished, reads } = recorder(4);
  await reads.add(list[0]);
  await reads.add(list[1]);
  back[1](1); // the later read is back first
  await settle();
  await reads.add(list[2]);
  assert.deepEqual(finished, [], "window 1 waits for window 0");
  back[0](0);
  await settle();
  await reads.add(list[3]);
  assert.deepEqual(finished, [0, 1], "both finished once the front is back");
  back[2](2);
  back[3](3);
  await reads.finishAll();
  assert.deepEqual(finished, [0, 1, 2, 3]);
  assert.equal(reads.size, 0);
});

Deno.test("finishAll waits for every read; a failed read is thrown there, a dropped one is not", async () => {
  const { list, back, fail } = windows(3);
  const { finished, reads } = recorder(2);
  await reads.add(list[0]);
  await reads.add(list[1]);
  setTimeout(() => back[0](0), 5);
  setTimeout(() => fail[1](new Error("device lost")), 10);
  await assert.rejects(reads.finishAll(), /device lost/);
  assert.deepEqual(finished, [0]);
  // a window dropped unfinished (undone steps) whose read then fails: no unhandled rejection
  await reads.add(list[2]);
  reads.clear();
  fail[2](new Error("dropped"));
  await settle();
  assert.equal(reads.size, 0);
  assert.throws(() => new ReadsInFlight(0, async () => {}), /at least 1/);
});

Deno.test("finishWhile finishes the front windows that hold, waiting for their reads, and leaves the rest on their way", async () => {
  const { list, back } = windows(4);
  const { finished, reads } = recorder(4);
  for (const w of list) await reads.add(w);
  let done = false;
  const through = reads.finishWhile((w) => w.id < 2).then(() => (done = true));
  await settle();
  assert.equal(done, false, "it waits for window 0's read");
  back[3](3); // a later read back changes nothing
  back[0](0);
  back[1](1);
  await through;
  assert.deepEqual(finished, [0, 1]);
  assert.equal(reads.size, 2, "windows 2 and 3 stay on their way");
  await reads.finishWhile(() => false);
  assert.deepEqual(finished, [0, 1]);
});
