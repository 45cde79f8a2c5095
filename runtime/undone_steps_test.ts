import assert from "node:assert/strict";
import { UndoneSteps } from "./undone_steps.ts";

Deno.test("UndoneSteps: the steps after a decision up to the step it was acted on are undone; the decision's own counts unless not finite; an end among them is discarded", () => {
  const undone = new UndoneSteps();
  assert.equal(undone.undone(3), false);
  assert.equal(undone.pending, false);
  undone.decided(5);
  assert.equal(undone.pending, true, "decided, not acted on");
  undone.decided(7); // (a later one, before the first is acted on: the first counts)
  // not acted on yet: every later step is undone, every later end discarded
  assert.deepEqual([4, 5, 6, 100].map((step) => undone.undone(step)), [false, false, true, true]);
  assert.equal(undone.discards(6), true);
  assert.equal(undone.discards(5), false, "an end before the bad step");
  undone.rolledBack(16);
  assert.equal(undone.pending, false);
  assert.deepEqual([6, 15, 16, 17].map((step) => undone.undone(step)), [true, true, false, false]);
  assert.deepEqual([5, 6, 15, 16].map((end) => undone.discards(end)), [false, true, true, false]);
  // the bad step: counted where finite (as the CPU backends apply it), else skipped
  assert.equal(undone.counts(5, 1e30, 3), true);
  assert.equal(undone.counts(5, 1, Infinity), false);
  assert.equal(undone.counts(4, NaN, 1), true, "a step no decision was on is as read");
  assert.equal(undone.counts(10, 1, 1), false);
  // adaptive clipping takes in neither an undone step's norm nor the bad step's
  assert.deepEqual([4, 5, 6, 16].map((step) => undone.keepsNorm(step)), [true, false, false, true]);
  // an epoch of steps 10 to 19 had undone steps, one of 20 to 29 none
  assert.equal(undone.undoneWithin(10, 20), true);
  assert.equal(undone.undoneWithin(16, 20), false);
  // a second decision, after the rollback: a second span
  undone.decided(18);
  assert.deepEqual([17, 18, 19].map((step) => undone.undone(step)), [false, false, true]);
  assert.equal(undone.undoneWithin(16, 19), false);
  assert.equal(undone.undoneWithin(16, 20), true);
});
