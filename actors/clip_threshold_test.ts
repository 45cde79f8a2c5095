import assert from "node:assert/strict";
import { ClipThreshold, HISTORY_LIMIT, lagStart } from "./clip_threshold.ts";
import { percentile } from "./norm_history.ts";
import { decodeCheckpoint, encodeCheckpoint } from "../runtime/checkpoint.ts";
import type { ClipThresholdState } from "./clip_threshold.ts";

/** `state` as a resume reads it back: in a checkpoint's state, written and read. */
async function throughCheckpoint(state: ClipThresholdState): Promise<ClipThresholdState> {
  assert.ok(state.history === undefined || state.history instanceof Float64Array);
  const bytes = await encodeCheckpoint({ epoch: 0, step: 0, clip: state }, {});
  return (await decodeCheckpoint(bytes, "test.ckpt")).state.clip as ClipThresholdState;
}

Deno.test("adaptive clipping clips each step at the percentile of the norms before it, maxNorm until the first", () => {
  const clip = new ClipThreshold({ maxNorm: 7, autoPercentile: 10 });
  assert.equal(clip.value, 7);
  let seed = 5;
  const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const seen: number[] = [];
  for (let step = 0; step < HISTORY_LIMIT + 300; step++) {
    if (step > 0) assert.equal(clip.value, percentile(seen.slice(-HISTORY_LIMIT), 10), `${step}`);
    const norm = step % 97 === 5 ? NaN : random() * 3;
    clip.observe(norm); // (a non-finite norm is left out, as a skipped step's)
    if (Number.isFinite(norm)) seen.push(norm);
  }
});

Deno.test("a threshold restored from its checkpoint goes on as one never stopped; an older checkpoint's restarts its history", async () => {
  const clipping = { autoPercentile: 25 };
  const norms = Array.from({ length: 200 }, (_, i) => 1 + i / 50 + ((i * 37) % 11) / 3);
  const straight = new ClipThreshold(clipping);
  const first = new ClipThreshold(clipping);
  const values: (number | undefined)[] = [];
  for (const norm of norms.slice(0, 120)) {
    straight.observe(norm);
    first.observe(norm);
  }
  const resumed = new ClipThreshold(clipping, await throughCheckpoint(first.snapshot()));
  assert.equal(resumed.restarted, false);
  for (const norm of norms.slice(120)) {
    straight.observe(norm);
    resumed.observe(norm);
    values.push(straight.value);
    assert.equal(resumed.value, straight.value);
  }
  assert.ok(new Set(values).size > 1, "the threshold moved");

  const older = new ClipThreshold(clipping, { threshold: 1.5 });
  assert.equal(older.restarted, true);
  assert.equal(older.value, 1.5, "the checkpoint's threshold until the first norm");
  older.observe(4);
  assert.equal(older.value, 4, "then the percentile of the norms from there on");
  // a fixed maxNorm has no history: nothing restarts
  const fixed = new ClipThreshold({ maxNorm: 1 }, { threshold: 1 });
  assert.equal(fixed.restarted, false);
  fixed.observe(5);
  assert.equal(fixed.value, 1);
  assert.deepEqual(fixed.snapshot(), { threshold: 1 });
});

Deno.test("read in windows, the threshold moves at each window's end only, and a checkpoint within a window goes on as one never stopped", async () => {
  const clipping = { maxNorm: 9, autoPercentile: 50 };
  const norms = Array.from({ length: 40 }, (_, i) => 1 + ((i * 29) % 13) / 4);
  // windows of 8 steps: each step's threshold is the median of the windows' before its own
  const windowed = new ClipThreshold(clipping);
  norms.forEach((norm, i) => {
    const start = i - (i % 8);
    assert.equal(windowed.value, start === 0 ? 9 : percentile(norms.slice(0, start), 50), `${i}`);
    windowed.observe(norm, false);
    if ((i + 1) % 8 === 0) windowed.settle();
  });
  // stopped at step 13 (within the second window), resumed from its checkpoint
  const first = new ClipThreshold(clipping);
  norms.slice(0, 13).forEach((norm, i) => {
    first.observe(norm, false);
    if ((i + 1) % 8 === 0) first.settle();
  });
  const saved = await throughCheckpoint(first.snapshot());
  assert.equal(saved.threshold, percentile(norms.slice(0, 8), 50), "the window's threshold");
  assert.equal(saved.history?.length, 13, "and every norm");
  const resumed = new ClipThreshold(clipping, saved);
  norms.slice(13).forEach((norm, j) => {
    resumed.observe(norm, false);
    if ((13 + j + 1) % 8 === 0) resumed.settle();
  });
  resumed.settle();
  windowed.settle();
  assert.deepEqual(resumed.snapshot(), windowed.snapshot());
  // nothing taken in yet: settling keeps maxNorm
  const fresh = new ClipThreshold(clipping);
  fresh.settle();
  assert.equal(fresh.value, 9);
});

Deno.test("lagStart: the first step of the window lag - 1 windows back, across epoch ends", () => {
  // epochs of 10 steps in windows of 4, 4 and 2
  const starts = [0, 4, 8, 10, 14, 18, 20, 24, 28];
  starts.forEach((step, j) => {
    assert.equal(lagStart(step, 10, 4, 1), step, `the window itself at ${step}`);
    for (const lag of [2, 3, 5]) {
      assert.equal(lagStart(step, 10, 4, lag), j - lag + 1 <= 0 ? 0 : starts[j - lag + 1]);
    }
  });
});

Deno.test("deferred norms move the threshold only when taken in, in step order; a checkpoint keeps those still waiting, and goes on as one never stopped", async () => {
  const clipping = { maxNorm: 9, autoPercentile: 50 };
  const norms = Array.from({ length: 40 }, (_, i) => 1 + ((i * 29) % 13) / 4);
  // windows of 4; a window's norms taken in at the start of the window 3 after it
  const lagged = new ClipThreshold(clipping);
  const values: (number | undefined)[] = [];
  norms.forEach((norm, i) => {
    if (i % 4 === 0) lagged.takeInBefore(lagStart(i, 40, 4, 3));
    values.push(lagged.value);
    lagged.defer(i, norm);
    lagged.defer(i, NaN); // (left out)
  });
  norms.forEach((_, i) => {
    const before = lagStart(i - (i % 4), 40, 4, 3);
    assert.equal(values[i], before === 0 ? 9 : percentile(norms.slice(0, before), 50), `${i}`);
  });
  // stopped at step 22: the norms of steps 12-21 wait (taken in at 24 and 28)
  const first = new ClipThreshold(clipping);
  norms.slice(0, 22).forEach((norm, i) => {
    if (i % 4 === 0) first.takeInBefore(lagStart(i, 40, 4, 3));
    first.defer(i, norm);
  });
  const saved = await throughCheckpoint(first.snapshot());
  assert.equal(saved.history?.length, 12);
  assert.deepEqual(
    saved.pending?.map(([step]) => step),
    [...Array(10).keys()].map((k) => k + 12),
  );
  const resumed = new ClipThreshold(clipping, saved);
  norms.slice(22).forEach((norm, k) => {
    const i = 22 + k;
    if (i % 4 === 0) resumed.takeInBefore(lagStart(i, 40, 4, 3));
    assert.equal(resumed.value, values[i], `${i}`);
    resumed.defer(i, norm);
  });
  assert.deepEqual(resumed.snapshot(), lagged.snapshot());
  // without adaptive clipping nothing waits
  const fixed = new ClipThreshold({ maxNorm: 1 });
  fixed.defer(0, 5);
  fixed.takeInBefore(1);
  assert.deepEqual(fixed.snapshot(), { threshold: 1 });
});
