import assert from "node:assert/strict";
import { EarlyStoppingSchema } from "../config.ts";
import fc from "npm:fast-check@4.10.2";
import type { EpochJudged } from "./protocol.ts";
import {
  divergenceHint,
  divideLrHint,
  initEarlyStopper,
  judgeEpoch,
  patienceMayStop,
  type StopGuard,
  stoppedAt,
  verdictNeeded,
} from "./early_stopper.ts";

const ended = (epoch: number, metrics: Record<string, number>) => ({
  type: "EpochEnded" as const,
  epoch,
  step: epoch * 10,
  metrics,
});

function run(
  spec: Record<string, unknown>,
  series: Record<string, number>[],
  optimizer?: Record<string, unknown>,
  scheduler?: Record<string, unknown>,
  lr = 0.1,
) {
  const parsed = EarlyStoppingSchema.parse(spec);
  let state = initEarlyStopper();
  const verdicts = [];
  for (const [epoch, metrics] of series.entries()) {
    const [next, verdict] = judgeEpoch(
      parsed,
      state,
      ended(epoch, metrics),
      lr,
      optimizer,
      scheduler,
    );
    state = next;
    verdicts.push(verdict);
    if (verdict.stop) break;
  }
  return verdicts;
}

Deno.test("early stopping stops after `patience` epochs without improvement, as Keras does", () => {
  const losses = [1, 0.8, 0.7, 0.75, 0.72, 0.71, 0.69];
  const verdicts = run({ patience: 3 }, losses.map((l) => ({ loss: 1, valLoss: l })));
  assert.equal(verdicts.length, 6, "stops at epoch 5: epochs 3, 4, 5 did not beat 0.7");
  assert.equal(verdicts.at(-1)!.status, "stopped");
  assert.deepEqual(verdicts.map((v) => v.isBest), [true, true, true, false, false, false]);
  assert.match(
    verdicts.at(-1)!.reason!,
    /valLoss did not improve for 3 epochs \(best 0.7 at epoch 2\)/,
  );
});

Deno.test("patience 0 stops at the first epoch without improvement, after the first, as Keras does", () => {
  const verdicts = run({ patience: 0 }, [1, 1.2, 0.9].map((l) => ({ loss: 1, valLoss: l })));
  assert.equal(verdicts.length, 2);
  assert.equal(verdicts[1].status, "stopped");
  assert.match(verdicts[1].reason!, /valLoss did not improve for 1 epoch \(best 1 at epoch 0\)$/);
});

Deno.test("a watched value not finite improves on nothing and counts towards the patience, as in Keras", () => {
  // a validation row with a target of 1e25: valLoss Infinity every epoch. It was passed over, and
  // the run of patience 1 completed all its epochs, with no best epoch
  const always = run({ patience: 1 }, [0, 1, 2, 3].map(() => ({ loss: 1, valLoss: Infinity })));
  assert.equal(always.length, 2, "stops at epoch 1, as Keras' wait reaches 1 there");
  assert.equal(always.at(-1)!.status, "stopped");
  assert.match(
    always.at(-1)!.reason!,
    /valLoss did not improve for 2 epochs \(no finite value yet\)$/,
  );
  assert.ok(always.every((verdict) => !verdict.isBest));
  // after a finite best, a NaN epoch is one more epoch without improvement
  const later = run({ patience: 2 }, [0.5, NaN, 0.6, 0.4].map((v) => ({ loss: 1, valLoss: v })));
  assert.equal(later.length, 3);
  assert.match(later.at(-1)!.reason!, /did not improve for 2 epochs \(best 0\.5 at epoch 0\)/);
});

Deno.test("minDelta: improvements smaller than minDelta do not count", () => {
  const verdicts = run(
    { patience: 2, minDelta: 0.05 },
    [1, 0.98, 0.97, 0.96].map((l) => ({ loss: 1, valLoss: l })),
  );
  assert.equal(verdicts.length, 3);
  assert.equal(verdicts.at(-1)!.stop, true);
});

Deno.test("mode max watches a metric that should grow", () => {
  const verdicts = run(
    { monitor: "valAccuracy", mode: "max", patience: 1 },
    [0.5, 0.6, 0.59, 0.7].map((a) => ({ loss: 1, valAccuracy: a })),
  );
  assert.equal(verdicts.length, 3);
  assert.deepEqual(verdicts.map((v) => v.isBest), [true, true, false]);
});

Deno.test("baseline: improving on the best but not on the baseline does not reset patience (Keras)", () => {
  const series = [0.9, 0.8, 0.7, 0.7, 0.7].map((l) => ({ loss: 1, valLoss: l }));
  const withBaseline = run({ patience: 2, baseline: 0.5 }, series);
  assert.equal(
    withBaseline.length,
    4,
    "never under 0.5: the first epoch without improvement stops",
  );
  assert.equal(withBaseline.at(-1)!.stop, true);
  // (its best improved two epochs before: the reason names the baseline it never beat)
  assert.equal(
    withBaseline.at(-1)!.reason,
    "early stopping: valLoss did not beat its baseline 0.5 in 4 epochs (best 0.7 at epoch 2)",
  );
  const without = run({ patience: 2 }, series);
  assert.equal(without.length, 5, "without a baseline, patience counts from the last improvement");
  assert.equal(
    without.at(-1)!.reason,
    "early stopping: valLoss did not improve for 2 epochs (best 0.7 at epoch 2)",
  );
  // a baseline beaten: patience counts from the last improvement past it, as without one
  const beaten = run({ patience: 2, baseline: 0.75 }, series);
  assert.equal(
    beaten.at(-1)!.reason,
    "early stopping: valLoss did not improve for 2 epochs (best 0.7 at epoch 2)",
  );
});

Deno.test("baseline with minDelta: a best past the baseline by minDelta or less is said to fall short by minDelta", () => {
  // 0.8 is above the baseline 0.75, but not by more than minDelta 0.05 (Keras' rule): patience
  // was never restarted, and the reason must not read as if 0.8 had not beaten 0.75
  const series = [0.7, 0.8, 0.78, 0.79].map((a) => ({ loss: 1, valAccuracy: a }));
  const verdicts = run({
    monitor: "valAccuracy",
    mode: "max",
    patience: 2,
    baseline: 0.75,
    minDelta: 0.05,
  }, series);
  assert.equal(verdicts.length, 3);
  assert.equal(
    verdicts.at(-1)!.reason,
    "early stopping: valAccuracy did not beat its baseline 0.75 by more than minDelta 0.05 in 3 epochs (best 0.8 at epoch 1)",
  );
});

Deno.test("without validation data, valLoss falls back to the training loss", () => {
  const verdicts = run({ patience: 1 }, [{ loss: 1 }, { loss: 2 }]);
  assert.equal(verdicts.at(-1)!.stop, true);
});

Deno.test("a non-finite loss or one above divergenceFactor x the first stops as diverged with a fix", () => {
  const nan = run({}, [{ loss: 1 }, { loss: NaN }]);
  assert.equal(nan.at(-1)!.status, "diverged");
  assert.match(nan.at(-1)!.hint!, /divide by 10 \(--set optimizer.lr=0.01\)/);
  const exploded = run({ divergenceFactor: 5 }, [{ loss: 1 }, { loss: 4 }, { loss: 6 }]);
  assert.equal(exploded.length, 3);
  assert.equal(exploded.at(-1)!.status, "diverged");
  assert.match(exploded.at(-1)!.reason!, /over 5x its first value/);
});

Deno.test("an epoch whose every step was skipped is said so; in epoch 0 the data is blamed, not the rate", () => {
  const spec = EarlyStoppingSchema.parse({});
  const skippedAll = (epoch: number) => ({ ...ended(epoch, { loss: NaN }), skippedAll: true });
  const [, first] = judgeEpoch(spec, initEarlyStopper(), skippedAll(0), 0.1);
  assert.equal(first.status, "diverged");
  assert.equal(first.stop, true);
  assert.match(first.reason!, /every step of epoch 0 was skipped, .* on the initial weights/);
  assert.doesNotMatch(first.reason!, /became NaN/);
  assert.match(first.hint!, /the learning rate is not the cause/);
  assert.doesNotMatch(first.hint!, /divide by 10/);
  // after an epoch that trained, the updates may be the cause: the rate's hint
  const [state] = judgeEpoch(spec, initEarlyStopper(), ended(0, { loss: 1 }), 0.1);
  const [, later] = judgeEpoch(spec, state, skippedAll(1), 0.1);
  assert.equal(later.status, "diverged");
  assert.match(later.reason!, /every step of epoch 1 was skipped/);
  assert.match(later.hint!, /divide by 10/);
});

Deno.test("an epoch end a late rollback discards (WebGPU windows) is never the best nor counted by patience, though a diverging loss still stops; one whose every step was undone is not judged", () => {
  const spec = EarlyStoppingSchema.parse({ patience: 1, monitor: "loss" });
  const [first, best] = judgeEpoch(spec, initEarlyStopper(), ended(0, { loss: 2 }), 0.1);
  assert.equal(best.isBest, true);
  // a better loss, but its weights are discarded: not the best, and no wait counted
  const discarded = { ...ended(1, { loss: 1 }), discarded: true };
  const [afterDiscarded, verdict] = judgeEpoch(spec, first, discarded, 0.1);
  assert.deepEqual([verdict.isBest, verdict.stop, verdict.status], [false, false, "running"]);
  assert.deepEqual([afterDiscarded.best, afterDiscarded.wait], [first.best, first.wait]);
  // every step undone: no loss to call NaN, nor every step skipped
  const allUndone = { ...ended(2, { loss: NaN }), discarded: true, allUndone: true };
  const [afterUndone, none] = judgeEpoch(spec, afterDiscarded, allUndone, 0.1);
  assert.deepEqual([none.isBest, none.stop, none.status], [false, false, "running"]);
  assert.deepEqual(afterUndone, afterDiscarded);
  const [, restored] = judgeEpoch(spec, initEarlyStopper(), {
    ...ended(0, { loss: NaN }),
    allUndone: true,
  }, 0.1);
  assert.equal(restored.stop, false);
  // the steps it counted (up to the bad one) diverging: a stop, as any epoch's
  const [, diverged] = judgeEpoch(spec, first, { ...ended(1, { loss: 50 }), discarded: true }, 0.1);
  assert.equal(diverged.status, "diverged");
  assert.match(diverged.reason!, /over 10x its first value/);
});

Deno.test("rmsprop with alpha above 1: a NaN or exploding loss is blamed on alpha, not on the learning rate", () => {
  const rmsprop = { name: "rmsprop", lr: 0.01, alpha: 1.5 };
  const nan = run({}, [{ loss: 1 }, { loss: NaN }], rmsprop).at(-1)!;
  assert.equal(nan.status, "diverged");
  assert.match(nan.hint!, /alpha 1\.5 is above 1: its square average .* turns negative/);
  assert.match(nan.hint!, /square root NaN/);
  assert.match(
    nan.hint!,
    /use alpha in \[0, 1\): --set optimizer\.alpha=0\.99 \(torch's default\)/,
  );
  assert.doesNotMatch(nan.hint!, /learning rate too high/);
  const exploded = run({}, [{ loss: 1 }, { loss: 20 }], rmsprop).at(-1)!;
  assert.match(exploded.hint!, /optimizer\.alpha=0\.99/);
  // alpha 1 keeps the square average at 0: every step is lr x grad / eps.
  assert.match(divergenceHint({ name: "rmsprop", alpha: 1 }, 0.01), /alpha 1 keeps its square/);
  // centered at alpha 0, the variance is all rounding
  assert.match(
    divergenceHint({ name: "rmsprop", alpha: 0, centered: true }, 0.01),
    /centered rmsprop's alpha 0 .* whatever the learning rate/,
  );
  // Within [0, 1) the learning rate is still the suspect.
  assert.match(divergenceHint({ name: "rmsprop", alpha: 0.99 }, 0.01), /learning rate too high/);
});

Deno.test("maximize: a rising loss is the optimizer working, never a divergence; a NaN one still stops", () => {
  const ascent = { name: "sgd", lr: 0.1, maximize: true };
  const rising = [1, 5, 40, 900, 1e6].map((loss) => ({ loss }));
  const verdicts = run({}, rising, ascent);
  assert.equal(verdicts.length, 5);
  assert.ok(verdicts.every((v) => !v.stop), "no divergence stop for a rising loss");
  assert.deepEqual(verdicts.at(-1)!.guard, { patienceFrom: null, lossAbove: null });
  assert.equal(verdictNeeded(verdicts.at(-1)!.guard, 5, 1e9), false, "no loss bound to wait on");
  // The same curve minimized is a divergence.
  assert.equal(run({}, rising).at(-1)!.status, "diverged");
  const nan = run({}, [{ loss: 1 }, { loss: Infinity }], ascent).at(-1)!;
  assert.equal(nan.status, "diverged");
  assert.match(nan.hint!, /optimizer\.maximize ascends the loss/);
  assert.match(nan.hint!, /--set optimizer\.maximize=false/);
  assert.match(nan.hint!, /--set optimizer\.lr=0\.01/);
});

Deno.test("the stop guard never lets the trainer go past an epoch that stops (random runs)", () => {
  // For any spec and metric series: every verdict that stops must be one the trainer waits for,
  // under the guard of the verdict just before it and of the older ones it may still hold.
  const metric = fc.oneof(
    { weight: 8, arbitrary: fc.double({ min: -5, max: 5, noNaN: true }) },
    { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, 0, 1) },
  );
  fc.assert(
    fc.property(
      fc.record({
        patience: fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }),
        mode: fc.constantFrom("min" as const, "max" as const),
        minDelta: fc.constantFrom(0, 0.01, 0.5),
        baseline: fc.option(fc.double({ min: -2, max: 2, noNaN: true }), { nil: undefined }),
        divergenceFactor: fc.constantFrom(1.5, 10),
        monitor: fc.constantFrom("valLoss", "loss", "accuracy", "missing"),
      }),
      fc.array(
        fc.tuple(fc.oneof(metric, fc.double({ min: 0, max: 30, noNaN: true })), metric, metric),
        {
          minLength: 1,
          maxLength: 30,
        },
      ),
      fc.boolean(),
      (spec, series, maximize) => {
        const parsed = EarlyStoppingSchema.parse(spec);
        const optimizer = { name: "adam", maximize };
        let state = initEarlyStopper();
        const guards: (StopGuard | undefined)[] = [];
        for (const [epoch, [loss, valLoss, accuracy]] of series.entries()) {
          const metrics = { loss, valLoss, accuracy };
          const [next, verdict] = judgeEpoch(
            parsed,
            state,
            ended(epoch, metrics),
            undefined,
            optimizer,
          );
          state = next;
          if (verdict.stop) {
            for (const guard of guards.slice(-4)) {
              assert.ok(
                verdictNeeded(guard, epoch, loss),
                `epoch ${epoch} stops (${verdict.reason}) but ${JSON.stringify(guard)} skips it`,
              );
            }
            return;
          }
          assert.ok(verdict.guard, "a verdict that does not stop carries a guard");
          guards.push(verdict.guard);
        }
      },
    ),
    { numRuns: 3000 },
  );
});

Deno.test("a checkpoint's early stopper state and metrics tell whether its epoch's verdict stopped the run, and why (random runs)", () => {
  // What a checkpoint of an epoch end keeps (the state the verdict left, the epoch's metrics) says
  // what that verdict was: a run killed after it is finished from there, not trained on.
  const metric = fc.oneof(
    { weight: 8, arbitrary: fc.double({ min: -5, max: 5, noNaN: true }) },
    { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, 0, 1) },
  );
  fc.assert(
    fc.property(
      fc.record({
        patience: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
        mode: fc.constantFrom("min" as const, "max" as const),
        minDelta: fc.constantFrom(0, 0.01, 0.5),
        baseline: fc.option(fc.double({ min: -2, max: 2, noNaN: true }), { nil: undefined }),
        monitor: fc.constantFrom("valLoss", "loss", "accuracy", "missing"),
      }),
      fc.array(fc.tuple(fc.double({ min: 0.5, max: 1, noNaN: true }), metric, metric), {
        minLength: 1,
        maxLength: 20,
      }),
      (spec, series) => {
        const parsed = EarlyStoppingSchema.parse(spec);
        let state = initEarlyStopper();
        for (const [epoch, [loss, valLoss, accuracy]] of series.entries()) {
          const metrics = { loss, valLoss, accuracy };
          const [next, verdict] = judgeEpoch(parsed, state, ended(epoch, metrics));
          state = next;
          assert.equal(stoppedAt(parsed, state, epoch, metrics), verdict.reason, `epoch ${epoch}`);
          if (verdict.stop) return;
        }
      },
    ),
    { numRuns: 3000 },
  );
});

Deno.test("the stop guard lets the trainer go on where no stop is possible", () => {
  const spec = EarlyStoppingSchema.parse({ patience: 3 });
  let state = initEarlyStopper();
  let verdict;
  // Improving every epoch: patience cannot stop before 3 flat epochs.
  for (const [epoch, loss] of [1, 0.8, 0.6].entries()) {
    [state, verdict] = judgeEpoch(spec, state, ended(epoch, { loss, valLoss: loss }));
  }
  assert.deepEqual(verdict!.guard, { patienceFrom: 5, lossAbove: 10 });
  assert.equal(verdictNeeded(verdict!.guard, 3, 0.5), false);
  assert.equal(verdictNeeded(verdict!.guard, 4, 0.5), false);
  assert.equal(verdictNeeded(verdict!.guard, 5, 0.5), true, "epochs 3, 4, 5 flat: a stop");
  assert.equal(verdictNeeded(verdict!.guard, 3, 11), true, "above 10x the first loss: diverged");
  assert.equal(verdictNeeded(verdict!.guard, 3, NaN), true);
  assert.equal(verdictNeeded(undefined, 3, 0.5), true, "no verdict yet: wait");
  // Before the epoch's loss is read: only patience (or no guard yet) rules out going on.
  assert.equal(patienceMayStop(verdict!.guard, 4), false);
  assert.equal(patienceMayStop(verdict!.guard, 5), true);
  assert.equal(patienceMayStop(undefined, 4), true);
  // Without patience only divergence can stop a run.
  const [, free] = judgeEpoch(
    EarlyStoppingSchema.parse({}),
    initEarlyStopper(),
    ended(0, { loss: 2 }),
  );
  assert.deepEqual(free.guard, { patienceFrom: null, lossAbove: 20 });
});

Deno.test("a divergence at a schedule's negative rate says the rate climbs the loss, not to divide it", () => {
  assert.match(divideLrHint(0.5), /divide by 10 \(--set optimizer\.lr=0\.05\)/);
  const hint = divideLrHint(-0.05);
  assert.match(hint, /the learning rate is negative \(-0\.05, from the schedule\)/);
  assert.match(hint, /climbs the loss/);
  assert.doesNotMatch(hint, /optimizer\.lr=/);
});

Deno.test("an epoch's divergence in a run that clips by norm already is not told to add clipping", () => {
  const judged = (clipping?: unknown) =>
    judgeEpoch(
      EarlyStoppingSchema.parse({}),
      { ...initEarlyStopper(), firstLoss: 1 },
      ended(1, { loss: 50 }),
      0.5,
      undefined,
      undefined,
      clipping,
    )[1];
  assert.match(judged().hint!, /or add clipping \(--set clipping\.maxNorm=1\)/);
  assert.equal(judged({ maxNorm: null }).hint, judged().hint, "clipping turned off");
  const clipped = judged({ maxNorm: 0.5 });
  assert.equal(clipped.status, "diverged");
  assert.doesNotMatch(clipped.hint!, /add clipping/);
  assert.match(clipped.hint!, /divide by 10 \(--set optimizer\.lr=0\.05\)$/);
});

Deno.test("under onecycle a divergence's hint divides its maxLr, which sets the rates, not optimizer.lr", () => {
  const onecycle = { name: "onecycle", maxLr: 4, totalSteps: 100 };
  const judged = (scheduler: unknown, metrics: Record<string, number>[]) => {
    const spec = EarlyStoppingSchema.parse({});
    let state = initEarlyStopper();
    let verdict;
    for (const [epoch, m] of metrics.entries()) {
      // the epoch's own rate (0.1) is wherever the cycle was: the hint reads maxLr instead
      [state, verdict] = judgeEpoch(spec, state, ended(epoch, m), 0.1, { name: "sgd" }, scheduler);
    }
    return verdict!;
  };
  for (const series of [[{ loss: 1 }, { loss: NaN }], [{ loss: 1 }, { loss: 20 }]]) {
    const verdict = judged(onecycle, series);
    assert.equal(verdict.status, "diverged");
    assert.match(
      verdict.hint!,
      /learning rate too high: divide by 10 \(--set scheduler\.maxLr=0\.4: onecycle's rates come from its maxLr, not optimizer\.lr\)/,
    );
    assert.doesNotMatch(verdict.hint!, /optimizer\.lr=/);
  }
  // a sequential's onecycle: --set cannot reach it, so the hint names the schedule to edit
  const nested = judged({ name: "sequential", schedulers: [onecycle], milestones: [] }, [
    { loss: 1 },
    { loss: NaN },
  ]);
  assert.match(
    nested.hint!,
    /set the maxLr of the sequential's onecycle, scheduler\.schedulers\[0\], to 0\.4/,
  );
  assert.doesNotMatch(nested.hint!, /--set (optimizer\.lr|scheduler\.schedulers)/);
  // a onecycle that maximizes: the ascent is slowed at maxLr too
  const ascent = divergenceHint({ name: "sgd", maximize: true }, 0.1, onecycle);
  assert.match(ascent, /slow it \(--set scheduler\.maxLr=0\.4: /);
  // any other schedule scales from the optimizer's lr: the step's rate, as before
  assert.match(divideLrHint(0.5, { name: "cosine", tMax: 10 }), /--set optimizer\.lr=0\.05\)/);
});

Deno.test("the stop guard of a huge patience is found at once, and where judging flat epochs finds it", () => {
  // (each flat epoch was judged one by one: seconds an epoch end at a patience of 1e7, minutes at
  // the 1e9 a user sets to keep restoreBest without stopping)
  for (const patience of [0, 1, 2, 3, 7, 1e9]) {
    const spec = EarlyStoppingSchema.parse({ patience });
    let state = initEarlyStopper();
    let judged: EpochJudged | undefined;
    const started = performance.now();
    for (const [epoch, valLoss] of [[0, 1], [1, 0.5], [2, 0.7], [3, 0.6]]) {
      [state, judged] = judgeEpoch(spec, state, ended(epoch, { loss: 2, valLoss }));
      if (judged.stop) break;
    }
    if (judged!.stop) continue; // (patience 0 to 2: stopped by epoch 3)
    // epoch 1 was the best: epochs 2 and 3 waited, a stop is possible once the wait reaches patience
    assert.equal(judged!.guard!.patienceFrom, 1 + patience, `patience ${patience}`);
    assert.ok(performance.now() - started < 5_000);
  }
});

Deno.test("a schedule that took the rate to Infinity is named without an 'Infinityx optimizer.lr'", () => {
  const verdicts = run(
    {},
    [{ loss: 1 }, { loss: Infinity }],
    { name: "sgd", lr: 0.1 },
    { name: "exponential", gamma: 1e200 },
    Infinity,
  );
  const hint = verdicts.at(-1)!.hint!;
  assert.match(hint, /the schedule had raised the step's rate to Infinity \(scheduler\.gamma/);
  assert.doesNotMatch(hint, /Infinityx/);
});
