import assert from "node:assert/strict";
import { ClippingSchema } from "../config.ts";
import { decodeCheckpoint, encodeCheckpoint } from "../runtime/checkpoint.ts";
import {
  type ClipMonitorSnapshot,
  clipMonitorSnapshot,
  type ClipStats,
  HISTORY_LIMIT,
  initClipMonitor,
  MAX_CONSECUTIVE_SKIPS,
  observeSteps,
  percentile,
  RECENT_NORMS,
  restoreClipMonitor,
  rolledBack,
  spikeRatio,
  stats,
} from "./clip_monitor.ts";

/** `snapshot` as a resume reads it back: in a checkpoint's state, written and read. */
async function throughCheckpoint(snapshot: ClipMonitorSnapshot): Promise<ClipMonitorSnapshot> {
  const bytes = await encodeCheckpoint({ epoch: 0, step: 0, clipMonitor: snapshot }, {});
  return (await decodeCheckpoint(bytes, "test.ckpt")).state.clipMonitor as ClipMonitorSnapshot;
}

const window = (fromStep: number, norms: number[], losses = norms.map(() => 1)) => ({
  type: "StepsObserved" as const,
  fromStep,
  gradNorms: norms,
  losses,
  skipped: norms.map((n, i) => !Number.isFinite(n) || !Number.isFinite(losses[i])),
  lr: norms.map(() => 0.5),
});

Deno.test("percentile interpolates like numpy", () => {
  assert.equal(percentile([1, 2, 3, 4], 50), 2.5);
  assert.equal(percentile([5], 90), 5);
  assert.equal(percentile([], 50), null);
});

Deno.test("the clip monitor tracks norms, the clipped fraction, and flags spikes with a fix", () => {
  const clipping = ClippingSchema.parse({ maxNorm: 1.5 });
  const norms = Array.from({ length: 30 }, (_, i) => 1 + (i % 3) * 0.5);
  let [state, out] = observeSteps(clipping, initClipMonitor(clipping, 16), window(0, norms));
  const stats = out.events.at(-1) as { fractionClipped: number; p50: number; max: number };
  assert.equal(stats.max, 2);
  assert.ok(Math.abs(stats.fractionClipped - 10 / 30) < 1e-12);
  [state, out] = observeSteps(clipping, state, window(30, [50]));
  const warning = out.events.find((e) => e.type === "warning") as { message: string; hint: string };
  // (the norms as every command prints one: formatNumber's 4 significant digits, no padding)
  assert.equal(
    warning.message,
    "gradient-norm spike at step 30: 50 is 33.3x the median 1.5 of the 30 steps before it",
  );
  // clipped at maxNorm 1.5 already: the rate or a warmup (it said "--set clipping.maxNorm=1",
  // a setting the run had, at a value picked from nothing)
  assert.equal(
    warning.hint,
    "the step was clipped to 1.5; if spikes recur, lower the learning rate or add warmup",
  );
  assert.equal(state.spikes, 1);
  // unclipped: a clip at the 90th percentile of the recent norms (2 here)
  const none = ClippingSchema.parse({});
  const [unclipped] = observeSteps(none, initClipMonitor(none, 16), window(0, norms));
  const [, spiked] = observeSteps(none, unclipped, window(30, [50]));
  const hintOf = (out: { events: unknown[] }) =>
    (out.events.find((e) => (e as { type?: string }).type === "warning") as { hint: string })
      .hint;
  assert.match(
    hintOf(spiked),
    /^clip gradients \(--set clipping\.maxNorm=2, about the 90th percentile of the last 100 norms\)/,
  );
  // a first epoch of large norms (100) is not among the recent ones, and the clip is below the
  // spike (it said maxNorm=100 for a spike of 8)
  const start = [...Array(15).fill(100), ...Array(100).fill(0.5)];
  const [late] = observeSteps(none, initClipMonitor(none, 16), window(0, start));
  const [, eight] = observeSteps(none, late, window(115, [8]));
  assert.match(hintOf(eight), /^clip gradients \(--set clipping\.maxNorm=0\.5,/);
  // a clip above the spike lets it through
  const high = ClippingSchema.parse({ maxNorm: 100 });
  const [below] = observeSteps(high, initClipMonitor(high, 16), window(0, norms));
  const [, through] = observeSteps(high, below, window(30, [50]));
  assert.match(
    (through.events.find((e) => e.type === "warning") as { hint: string }).hint,
    /^the clip, 100, is above it: lower it \(clipping\.maxNorm\)/,
  );
  // small norms in exponent form below 1e-3, as formatNumber writes a rate
  const tiny = norms.map((n) => n * 1e-4);
  [state, out] = observeSteps(clipping, initClipMonitor(clipping, 16), window(0, tiny));
  [state, out] = observeSteps(clipping, state, window(30, [0.0123456]));
  assert.equal(
    (out.events.find((e) => e.type === "warning") as { message: string }).message,
    "gradient-norm spike at step 30: 0.01235 is 82.3x the median 1.5e-4 of the 30 steps before it",
  );
});

Deno.test("the clipped fraction counts each step against the threshold the trainer clipped it at", () => {
  // adaptive clipping: the trainer's thresholds (none before the first norm)
  const clipping = ClippingSchema.parse({ autoPercentile: 50 });
  const [state, out] = observeSteps(clipping, initClipMonitor(clipping, 16), {
    ...window(0, [1, 4, 2, 5]),
    thresholds: [null, 1, 2.5, 2],
  });
  assert.deepEqual(out.toTrainer, [], "the trainer sets the threshold; the monitor only counts");
  assert.equal(state.clipped, 2, "4 > 1 and 5 > 2; 2 <= 2.5");
  assert.equal(state.threshold, 2);
  assert.equal((out.events.at(-1) as ClipStats).fractionClipped, 0.5);
});

Deno.test("a clip by another norm type than the observed L2 counts no clipped steps and suggests no maxNorm in the wrong units", async () => {
  // (normType inf at 9, L2 norms 10 and 12: an inf norm is at most the L2, so which steps it
  // clipped the L2 cannot say; 0.29 had been reported where torch clipped 0.14)
  for (const normType of ["inf", 1] as const) {
    const clipping = ClippingSchema.parse({ maxNorm: 9, normType });
    const [state, out] = observeSteps(clipping, initClipMonitor(clipping, 16), {
      ...window(0, [10, 12, 3, 4]),
      thresholds: [9, 9, 9, 9],
    });
    const last = out.events.at(-1) as ClipStats;
    assert.equal(last.fractionClipped, null, String(normType));
    assert.equal(last.suggestedMaxNorm, null, String(normType));
    assert.equal(last.p50, 7, "the L2 norms' statistics stay");
    // a resumed run's monitor keeps it, from its config, not from the checkpoint
    const restored = restoreClipMonitor(
      initClipMonitor(clipping, 16),
      await throughCheckpoint(clipMonitorSnapshot(state)),
    );
    assert.equal(stats(restored, 3).fractionClipped, null);
  }
  const l2 = ClippingSchema.parse({ maxNorm: 9 });
  const [, out] = observeSteps(l2, initClipMonitor(l2, 16), {
    ...window(0, [10, 12, 3, 4]),
    thresholds: [9, 9, 9, 9],
  });
  assert.equal((out.events.at(-1) as ClipStats).fractionClipped, 0.5);
});

Deno.test("a monitor restored from its checkpoint's snapshot goes on as one never stopped", async () => {
  const clipping = ClippingSchema.parse({ maxNorm: 2, onNonFinite: "rollback" });
  const fresh = () => initClipMonitor(clipping, 4);
  let seed = 3;
  const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const windows = Array.from({ length: 12 }, (_, w) => {
    const norms = Array.from({ length: 10 }, () => random() < 0.05 ? 40 : 1 + random());
    // a NaN in window 7 (rolled back); later, a loss far above its early level (rolled back)
    const losses = norms.map((_, i) =>
      w === 7 && i === 3 ? NaN : w === 10 && i === 5 ? 1e4 : 1 + random()
    );
    return { ...window(10 * w, norms, losses), thresholds: norms.map(() => 2) };
  });
  const run = (state: ReturnType<typeof fresh>, from: number, to: number) => {
    const outputs = [];
    for (const message of windows.slice(from, to)) {
      let out;
      [state, out] = observeSteps(clipping, state, message);
      outputs.push(out);
      // the trainer rolls back before the verdict's next step, and says so
      for (const handled of out.toTrainer) state = rolledBack(state, handled.step + 1);
    }
    return { state, outputs };
  };
  const straight = run(fresh(), 0, 12);
  const first = run(fresh(), 0, 5);
  // through a checkpoint's bytes, as a resume reads it (its norms as numbers in the JSON header)
  const snapshot = clipMonitorSnapshot(first.state);
  assert.ok(snapshot.norms instanceof Float64Array, "in a message, the norms are one typed array");
  const saved = await throughCheckpoint(snapshot);
  assert.ok(Array.isArray(saved.norms));
  assert.deepEqual(saved.norms, first.state.norms, "the same values, exactly");
  // (the same, sent to the monitor in a message: ClipStateRestore)
  assert.deepEqual(restoreClipMonitor(fresh(), snapshot), restoreClipMonitor(fresh(), saved));
  // the last step observed (window 4's last), whose statistics the run's summary gives
  assert.equal(restoreClipMonitor(fresh(), saved).lastStep, 49);
  const { lastStep: _, ...older } = saved;
  assert.equal(restoreClipMonitor(fresh(), older).lastStep, undefined, "an older anneal's: none");
  const resumed = run(restoreClipMonitor(fresh(), saved), 5, 12);
  assert.deepEqual(resumed.outputs, straight.outputs.slice(5));
  assert.deepEqual(resumed.state, straight.state);
  assert.equal(straight.state.rollbacks, 2, "the counts go on too");
  // an older anneal's checkpoint holds none: the statistics start over
  assert.deepEqual(restoreClipMonitor(fresh(), undefined), fresh());
});

Deno.test("after rollbacks, a divergence's hint sets the rate below the ones the rollbacks cut it to", () => {
  const clipping = ClippingSchema.parse({ onNonFinite: "rollback" });
  const optimizer = { name: "sgd", lr: 1 };
  let state = initClipMonitor(clipping, 16, optimizer);
  const handled: { action: string; hint: string }[] = [];
  for (let i = 0; i < 4; i++) {
    const from = 10 * (i + 1);
    let out;
    [state, out] = observeSteps(clipping, state, window(from, [1, 1], [1, NaN]), optimizer);
    handled.push(...out.toTrainer as unknown as { action: string; hint: string }[]);
    state = rolledBack(state, from + 2);
  }
  assert.deepEqual(handled.map((h) => h.action), ["rollback", "rollback", "rollback", "stop"]);
  assert.match(
    handled[0].hint,
    /^learning rate too high: divide by 10 \(--set optimizer\.lr=0\.1\)/,
  );
  assert.match(
    handled[1].hint,
    /^learning rate too high: its 1 rollback had cut the rates 10x and it diverged again: divide by 100 in all \(--set optimizer\.lr=0\.01\)/,
  );
  assert.match(
    handled[3].hint,
    /its 3 rollbacks had cut the rates 1000x and it diverged again: divide by 10000 in all \(--set optimizer\.lr=0\.0001\)/,
  );
  // the run's summary counts them, for diagnose
  assert.equal(stats(state, 41).rollbacks, 3);
});

Deno.test("a NaN loss gets the configured action, and endless skipping turns into a stop", () => {
  const stop = ClippingSchema.parse({});
  const [, out] = observeSteps(stop, initClipMonitor(stop, 16), window(7, [1, 1], [1, NaN]));
  assert.equal(out.toTrainer.length, 1);
  const handled = out.toTrainer[0] as {
    action: string;
    step: number;
    reason: string;
    hint: string;
  };
  assert.equal(handled.action, "stop");
  assert.equal(handled.step, 8);
  assert.match(handled.reason, /loss became NaN/);
  assert.match(handled.hint, /learning rate too high: divide by 10 \(--set optimizer.lr=0.05\)/);

  const skip = ClippingSchema.parse({ onNonFinite: "skip" });
  const nans = Array.from({ length: MAX_CONSECUTIVE_SKIPS }, () => NaN);
  const [, skipped] = observeSteps(skip, initClipMonitor(skip, 16), window(0, nans));
  const actions = skipped.toTrainer.map((m) => (m as { action: string }).action);
  assert.equal(actions.at(-1), "stop");
  assert.ok(actions.slice(0, -1).every((a) => a === "skip"));
});

Deno.test("a loss or gradient not finite at step 0, before any update, is blamed on the data or model, not the learning rate", () => {
  const stop = ClippingSchema.parse({});
  for (
    const [norms, losses, what] of [
      [[1], [Infinity], /the loss became Infinity on the initial weights, before any update/],
      [[NaN], [1], /the gradient norm became NaN on the initial weights, before any update/],
    ] as [number[], number[], RegExp][]
  ) {
    const [, out] = observeSteps(stop, initClipMonitor(stop, 16), window(0, norms, losses));
    const handled = out.toTrainer[0] as { action: string; reason: string; hint: string };
    assert.equal(handled.action, "stop");
    assert.match(handled.reason, /^training diverged at step 0: /);
    assert.match(handled.reason, what);
    assert.match(handled.hint, /the learning rate is not the cause/);
    assert.doesNotMatch(handled.hint, /divide by 10/);
    // (a run under mixedPrecision: float16's range, which overflows long before float32's)
    const [, mixed] = observeSteps(
      stop,
      initClipMonitor(stop, 16),
      window(0, norms, losses),
      undefined,
      undefined,
      true,
    );
    assert.match((mixed.toTrainer[0] as { hint: string }).hint, /float16, whose largest value/);
  }
  // the same loss a step later, after an update, is the learning rate's to answer for
  const [, later] = observeSteps(stop, initClipMonitor(stop, 16), window(0, [1, 1], [1, Infinity]));
  assert.match(
    (later.toTrainer[0] as { hint: string }).hint,
    /learning rate too high: divide by 10/,
  );
});

Deno.test("rmsprop with alpha above 1: a NaN step stops at once, blaming alpha; rollback and skip cannot help", () => {
  const rmsprop = { name: "rmsprop", lr: 0.01, alpha: 1.5 };
  for (const onNonFinite of ["stop", "skip", "rollback"] as const) {
    const clipping = ClippingSchema.parse({ onNonFinite });
    const [, out] = observeSteps(
      clipping,
      initClipMonitor(clipping, 16, rmsprop),
      window(0, [1, 1], [1, NaN]),
      rmsprop,
    );
    const handled = out.toTrainer[0] as { action: string; reason: string; hint: string };
    assert.equal(handled.action, "stop", onNonFinite);
    assert.match(handled.hint, /alpha 1\.5 is above 1: its square average/);
    assert.match(handled.hint, /--set optimizer\.alpha=0\.99/);
    assert.doesNotMatch(handled.hint, /learning rate too high/);
    if (onNonFinite !== "stop") {
      assert.match(handled.reason, new RegExp(`\\(${onNonFinite} cannot help: optimizer\\.alpha`));
    }
  }
});

Deno.test("maximize: a rising loss is never an explosion, growing norms are no spikes; NaN still stops", () => {
  const ascent = { name: "adam", lr: 0.01, maximize: true };
  const stop = ClippingSchema.parse({});
  const losses = Array.from({ length: 60 }, (_, i) => 13 * 1.3 ** i);
  const norms = losses.map(Math.sqrt);
  const [, minimized] = observeSteps(stop, initClipMonitor(stop, 16), window(0, norms, losses));
  assert.equal((minimized.toTrainer[0] as { action: string }).action, "stop", "minimized: stop");
  let [state, out] = observeSteps(
    stop,
    initClipMonitor(stop, 16, ascent),
    window(0, norms, losses),
    ascent,
  );
  assert.deepEqual(out.toTrainer, [], "no stop for a loss 5e6x its start");
  assert.equal(state.spikes, 0, "norms that grow with the loss are judged on recent ones");
  // A real spike stands out from the recent norms.
  const recent = percentile(norms.slice(-RECENT_NORMS), 50)!;
  [state, out] = observeSteps(stop, state, window(60, [recent * 50], [losses[59]]), ascent);
  const warning = out.events.find((e) => e.type === "warning") as { message: string };
  assert.match(warning.message, /spike at step 60: .* the median .* of the last 25 steps/);
  [, out] = observeSteps(stop, state, window(61, [1], [Infinity]), ascent);
  const handled = out.toTrainer[0] as { action: string; hint: string };
  assert.equal(handled.action, "stop");
  assert.match(handled.hint, /optimizer\.maximize ascends the loss/);
});

Deno.test("a loss that explodes past 100x its early level is stopped before it overflows", () => {
  const stop = ClippingSchema.parse({});
  const losses = [13, 4000, 2e6];
  const [, out] = observeSteps(stop, initClipMonitor(stop, 16), window(0, [1, 1, 1], losses));
  const handled = out.toTrainer[0] as { action: string; step: number; reason: string };
  assert.equal(handled.action, "stop");
  assert.equal(handled.step, 1, "caught at the first exploded step");
  assert.match(handled.reason, /exploded to 4000, 308x its early level 13/);
  const healthy = [2.3, 2.1, 1.9, 1.2, 0.8, 0.5, 0.4, 0.6, 3.5];
  const [, calm] = observeSteps(
    stop,
    initClipMonitor(stop, 16),
    window(0, healthy.map(() => 1), healthy),
  );
  assert.equal(calm.toTrainer.length, 0, "ordinary batch-to-batch noise is not an explosion");
});

Deno.test("a diverging run that clips by norm already is not told to add clipping (maxNorm=1 would loosen 0.5)", () => {
  const losses = [13, 4000, 2e6];
  const hint = (clipping: Record<string, unknown>) => {
    const spec = ClippingSchema.parse(clipping);
    const [, out] = observeSteps(spec, initClipMonitor(spec, 16), window(0, [1, 1, 1], losses));
    return (out.toTrainer[0] as { hint: string }).hint;
  };
  assert.match(hint({}), /or add clipping \(--set clipping\.maxNorm=1\)/);
  for (const maxNorm of [0.5, 1]) {
    assert.doesNotMatch(hint({ maxNorm }), /add clipping/, `maxNorm ${maxNorm}`);
    assert.match(hint({ maxNorm }), /divide by 10 \(--set optimizer\.lr=0\.05\)$/);
  }
  // (an adaptive clip, at a percentile of the norms, clips by norm too)
  assert.doesNotMatch(hint({ autoPercentile: 10 }), /add clipping/);
});

Deno.test("under onNonFinite skip an exploding loss trains on, with one warning naming it and the settings that act on it", () => {
  const skip = ClippingSchema.parse({ onNonFinite: "skip" });
  const losses = [13, 4000, 2e6, 5, 3e7];
  const [state, out] = observeSteps(
    skip,
    initClipMonitor(skip, 16),
    window(0, [1, 1, 1, 1, 1], losses),
  );
  assert.deepEqual(out.toTrainer, [], "no stop, no rollback: skip acts on NaN/Inf steps only");
  const warnings = out.events.filter((e) => e.type === "warning") as {
    message: string;
    hint: string;
  }[];
  assert.equal(warnings.length, 1, "once, not at every exploded step");
  assert.equal(
    warnings[0].message,
    "training diverged at step 1: the loss exploded to 4000, 308x its early level 13; " +
      "clipping.onNonFinite 'skip' skips only NaN/Inf steps, so the run trains on",
  );
  assert.match(
    warnings[0].hint,
    /^'stop' \(the default\) ends such a run here, 'rollback' returns/,
  );
  assert.match(warnings[0].hint, /optimizer\.lr=0\.05/);
  // nor again in the next window
  const [, later] = observeSteps(skip, state, window(5, [1, 1], [9e7, 2e8]));
  assert.equal(later.events.filter((e) => e.type === "warning").length, 0);
});

Deno.test("at batch size 1 the explosion is judged on block means, not on one easy sample", () => {
  const stop = ClippingSchema.parse({});
  // The report's losses: an easy first sample, then an ordinary one 508x it.
  const losses = [0.04765, 24.22, 6.1, 0.9, 13.4];
  const norms = losses.map(() => 1);
  const [, calm] = observeSteps(stop, initClipMonitor(stop, 1), window(0, norms, losses));
  assert.equal(calm.toTrainer.length, 0);
  const [, exploded] = observeSteps(stop, initClipMonitor(stop, 16), window(0, norms, losses));
  assert.equal((exploded.toTrainer[0] as { step: number }).step, 1, "as whole batches they are");
});

Deno.test("the rolling sorted history gives the same percentiles as sorting the last norms", () => {
  const clipping = ClippingSchema.parse({ autoPercentile: 80 });
  let state = initClipMonitor(clipping, 16);
  let seed = 9;
  const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  // Past HISTORY_LIMIT, with repeated values, in windows of uneven length.
  for (let from = 0; from < HISTORY_LIMIT + 700;) {
    const norms = Array.from(
      { length: 1 + Math.floor(random() * 40) },
      () => random() < 0.1 ? 1 : random() * 5,
    );
    let out;
    [state, out] = observeSteps(clipping, state, window(from, norms));
    from += norms.length;
    const stats = out.events.at(-1) as ClipStats;
    assert.deepEqual(state.sorted, [...state.norms].sort((a, b) => a - b));
    assert.equal(stats.p50, percentile(state.norms, 50));
    assert.equal(stats.p95, percentile(state.norms, 95));
  }
  assert.equal(state.norms.length, HISTORY_LIMIT);
});

Deno.test("under onecycle a NaN or exploding loss is met with a tenth of its maxLr, not of optimizer.lr", () => {
  const sgd = { name: "sgd", lr: 0.01 };
  const onecycle = { name: "onecycle", maxLr: 3, totalSteps: 50 };
  for (
    const [losses, what] of [[[1, NaN], "NaN"], [
      [1, 1, 1, 1, 500, 500, 500, 500],
      "explosion",
    ]] as const
  ) {
    const clipping = ClippingSchema.parse({});
    const [, out] = observeSteps(
      clipping,
      initClipMonitor(clipping, 16, sgd),
      window(0, losses.map(() => 1), [...losses]),
      sgd,
      onecycle,
    );
    const handled = out.toTrainer[0] as { action: string; hint: string };
    assert.equal(handled?.action, "stop", what);
    assert.match(
      handled.hint,
      /divide by 10 \(--set scheduler\.maxLr=0\.3: onecycle's rates come from its maxLr, not optimizer\.lr\)/,
      what,
    );
  }
});

Deno.test("after a stop or a rollback the steps the trainer took before acting on it are left out, until it says where it rolled back", async () => {
  const rollback = ClippingSchema.parse({ onNonFinite: "rollback" });
  let state = initClipMonitor(rollback, 16);
  const actions = (out: { toTrainer: unknown[] }) =>
    out.toTrainer.map((m) => `${(m as { step: number }).step} ${(m as { action: string }).action}`);
  // the verdict on step 1; steps 2-9 (WebGPU's windows read later) go on from its weights
  let out;
  [state, out] = observeSteps(rollback, state, window(0, [1, 1, 1, 1], [1, NaN, 1, NaN]));
  assert.deepEqual(actions(out), ["1 rollback"]);
  [state, out] = observeSteps(rollback, state, window(4, [1, NaN, 50, 1], [NaN, 1, 1, 1]));
  assert.deepEqual(actions(out), [], "no verdict again on the steps it took meanwhile");
  assert.equal(state.nonFinite, 1);
  assert.equal(state.steps, 1, "nor their norms in the statistics");
  // rolled back before step 10 (the message may come before the last of those steps)
  state = rolledBack(state, 10);
  [state, out] = observeSteps(rollback, state, window(8, [1, 1, 1], [NaN, 1, NaN]));
  assert.deepEqual(actions(out), ["10 rollback"], "step 8 left out, step 10 judged");
  assert.equal(state.rollbacks, 2);
  // after a stop, nothing is judged again
  const stop = ClippingSchema.parse({});
  let stopped = initClipMonitor(stop, 16);
  [stopped, out] = observeSteps(stop, stopped, window(0, [1, 1], [1, NaN]));
  assert.deepEqual(actions(out), ["1 stop"]);
  [stopped, out] = observeSteps(stop, stopped, window(2, [1, 1], [NaN, 1]));
  assert.deepEqual(actions(out), []);
  assert.equal(stopped.nonFinite, 1);
  // a checkpoint does not keep what is left out: a run resumed from it (from an epoch's end whose
  // last step was rolled back from, the monitor's state taken before the trainer said where) has
  // no verdict left to act on, and is judged on every step it takes
  let left = initClipMonitor(rollback, 16);
  [left] = observeSteps(rollback, left, window(0, [1, 1], [1, NaN]));
  const restored = restoreClipMonitor(
    initClipMonitor(rollback, 16),
    await throughCheckpoint(clipMonitorSnapshot(left)),
  );
  assert.equal(restored.ignoring, undefined);
  [, out] = observeSteps(rollback, restored, window(2, [1, 1], [NaN, 1]));
  assert.deepEqual(actions(out), ["2 rollback"]);
});

Deno.test("a spike's ratio to the median reads with one decimal, or as anneal writes numbers where it is huge", () => {
  assert.equal(spikeRatio(12.34), "12.3");
  assert.equal(spikeRatio(9999.94), "9999.9");
  assert.equal(spikeRatio(2.5e12), "2.5e+12");
});
