import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import { diagnose, formatDiagnosis } from "./diagnose.ts";
import { applyOverrides, parseConfig } from "../config.ts";
import { readRun } from "./records.ts";
import { decay, FIXTURES, syntheticRun, syntheticSteps } from "./_synthetic.ts";
import type { Diagnosis } from "./types.ts";

const kinds = (d: Diagnosis) => d.findings.map((x) => x.kind);

Deno.test("diverged: a loss 10x its first value asks for the run's lr divided by 10", () => {
  const d = diagnose(syntheticRun([2, 5, 12, 30], { lr: 0.3 }));
  assert.deepEqual(kinds(d), ["diverged"]);
  assert.equal(d.findings[0].severity, "critical");
  assert.deepEqual(d.findings[0].set, ["optimizer.lr=0.03"]);
  assert.match(d.findings[0].evidence, /epoch 3/);
  assert.match(d.findings[0].fix, /clipping\.maxNorm=1/);
});

Deno.test("diverged: a loss that blows up far above its minimum and its start counts too", () => {
  const d = diagnose(syntheticRun([10, 5, 1, 0.5, 30]));
  assert.deepEqual(kinds(d), ["diverged"]);
  assert.match(d.findings[0].evidence, /60x its minimum/);
});

Deno.test("diverged: a loss that only climbed (5x, under the 10x) is not a rate too low", () => {
  // the loss never fell below its first value: a 0% drop, which read as lrTooLow (raise lr 10x)
  const d = diagnose(syntheticRun([1, 1.2, 1.5, 2, 3, 5], { lr: 0.3 }));
  assert.deepEqual(kinds(d), ["diverged"]);
  assert.deepEqual(d.findings[0].set, ["optimizer.lr=0.03"]);
  assert.match(d.findings[0].evidence, /from 1 \(epoch 0\) to 5 \(epoch 5\), 5x/);
  // a small dip first (a 2% drop read as lrTooLow; a 10% one as a plateau to decay)
  for (const dip of [0.98, 0.9]) {
    const climbed = diagnose(syntheticRun([1, dip, 1.5, 3, 5], { lr: 0.3 }));
    assert.deepEqual(kinds(climbed), ["diverged"], `${dip}: ${climbed.verdict}`);
    assert.match(climbed.findings[0].evidence, new RegExp(`its lowest ${dip}`));
  }
  // a flat loss that jitters about its start: its weights move (each epoch's loss another), the
  // loss does not fall: a plateau to decay, not a rate too low (a regression at its targets' noise
  // floor read so, and the 10x it advised ended higher)
  assert.deepEqual(kinds(diagnose(syntheticRun([1, 1.01, 0.99, 1.02, 1.01]))), ["plateauEarly"]);
  // ...where one creeping down every epoch barely moved
  assert.deepEqual(kinds(diagnose(syntheticRun([1, 0.999, 0.998, 0.997, 0.996]))), ["lrTooLow"]);
});

Deno.test("diverged: a loss that fell, then climbed most of the way back, is not a flat underfit", () => {
  // read as "underfitting: training and validation both high and flat": train longer, more capacity
  for (const losses of [[1, 0.5, 0.6, 1.5], [2, 1, 0.5, 0.4, 1.2, 1.9]]) {
    const d = diagnose(syntheticRun(losses, { lr: 0.3 }));
    assert.deepEqual(kinds(d), ["diverged"], `${losses}: ${d.verdict}`);
    assert.deepEqual(d.findings[0].set, ["optimizer.lr=0.03"]);
  }
  assert.match(
    diagnose(syntheticRun([2, 1, 0.5, 0.4, 1.2, 1.9])).findings[0].evidence,
    /fell from 2 to 0\.4 \(epoch 3\) and then climbed back to 1\.9 \(epoch 5\), 93\.75% of the way/,
  );
  // noise at a floor, or a bump under half the way back, is not it
  assert.ok(!kinds(diagnose(syntheticRun([2, 1, 0.5, 0.4, 0.45, 0.42]))).includes("diverged"));
  assert.ok(!kinds(diagnose(syntheticRun([2, 1, 0.5, 0.3, 0.9, 0.5, 0.3]))).includes("diverged"));
});

Deno.test("diverged: a loss that fell, then went back above its start, is not underfitting at any scale", () => {
  // a real run (Fashion-MNIST MLP, sgd lr 0.5 momentum 0.9): the cross-entropy fell to 1.83, then
  // collapsed to chance (ln 10) above its start; under 2x its minimum, it read as "underfitting:
  // more capacity", which trained to chance again
  const losses = [2.15, 1.875, 1.987, 1.828, 2.345, 2.3, 2.328, 2.326, 2.332, 2.323, 2.315, 2.317];
  const val = [1.761, 2.016, 1.737, 1.887, 2.327, 2.327, 2.333, 2.324, 2.325, 2.313, 2.31, 2.311];
  const accuracy = [0.3, 0.36, 0.33, 0.29, 0.25, 0.16, 0.091, 0.099, 0.092, 0.089, 0.098, 0.091];
  const d = diagnose(syntheticRun(losses, { val, accuracy, lr: 0.5 }));
  assert.deepEqual(kinds(d), ["diverged"], d.verdict);
  assert.deepEqual(d.findings[0].set, ["optimizer.lr=0.05"]);
  assert.match(
    d.findings[0].evidence,
    /fell from 2\.15 to 1\.828 \(epoch 3\).*above where it started/,
  );
  // the same shape at any scale (the rule reads the curve's own noise, not a level)
  const scaled = diagnose(syntheticRun(losses.map((l) => l * 100), { lr: 0.5 }));
  assert.deepEqual(kinds(scaled), ["diverged"], scaled.verdict);
  // a flat, noisy loss that ends a little above its start never fell by more than its noise
  const flat = [2.3, 2.29, 2.31, 2.28, 2.3, 2.29, 2.31, 2.3, 2.32];
  assert.ok(!kinds(diagnose(syntheticRun(flat))).includes("diverged"));
});

Deno.test("a loss that blew up in its first steps and came back is a rate too high, not healthy", () => {
  // a real run (Fashion-MNIST MLP, adam lr 0.1, batches of 64): its step loss went from 2.27 to
  // 42 and back within the first epoch, which the epoch curve shows only as a first mean of 8.1;
  // it ended at 1.4 (training accuracy 0.42), "healthy, levelled off"; lr 0.01 took its test accuracy from 0.29 to 0.80
  const losses = [8.099, 2.116, 1.99, 1.916, 1.881, 1.971, 1.782, 1.478, 1.412, 1.453, 1.45];
  const first = [2.27, 42.13, 16.25, 25.22, 23.28, 28.36, 16.19, 5.36, 5.84, 3.25, 2.85, 2.33];
  const steps = syntheticSteps(275, 25, () => 0.5).map((s) => ({ ...s, loss: first[s.step] }));
  const config = { batchSize: 64, optimizer: { name: "adam", lr: 0.1 } };
  const accuracy = losses.map(() => 0.4);
  const d = diagnose(syntheticRun(losses, { steps, config, accuracy, lr: 0.1 }));
  assert.ok(kinds(d).includes("diverged"), d.verdict);
  assert.ok(!kinds(d).includes("healthy"));
  const finding = d.findings.find((x) => x.kind === "diverged")!;
  assert.equal(finding.severity, "warning");
  assert.match(
    finding.evidence,
    /rose to 42\.13 at step 1 \(epoch 0\), 18\.56x its first steps' 2\.27/,
  );
  assert.deepEqual(finding.set, ["optimizer.lr=0.01"]);
  // small batches' noisy losses (several times the first, in blocks of 16 samples) are no blow-up
  const noisy = syntheticSteps(400, 100, () => 0.5).map((s) => ({
    ...s,
    loss: 2.3 * (s.step % 7 === 3 ? 8 : 1) * Math.exp(-s.step / 200),
  }));
  const small = { batchSize: 4, optimizer: { name: "sgd", lr: 0.01 } };
  assert.deepEqual(
    kinds(diagnose(syntheticRun(decay(4, 2.3, 0.4), { steps: noisy, config: small }))),
    [
      "healthy",
    ],
  );
});

Deno.test("diverged: a negative first loss is not 10x below every later one", () => {
  // peak > 10 * first held for any negative first loss: a falling loss read as diverged
  const d = diagnose(syntheticRun([-1, -2, -3, -4, -5]));
  assert.ok(!kinds(d).includes("diverged"), d.verdict);
});

Deno.test("overfitting: a negative validation minimum needs a 10% rise of its size", () => {
  const train = decay(20, -1, -5);
  // val falls to its minimum (about -6) at epoch 17, then rises by under 10% of its size
  const val = train.map((v) => v - 1);
  val[18] = val[17] + 0.05;
  val[19] = val[17] + 0.1;
  assert.ok(!kinds(diagnose(syntheticRun(train, { val }))).includes("overfitting"));
  val[19] = val[17] + 0.2 * Math.abs(val[17]);
  const d = diagnose(syntheticRun(train, { val }));
  assert.ok(kinds(d).includes("overfitting"), d.verdict);
  assert.match(d.findings.find((x) => x.kind === "overfitting")!.evidence, /\(\+20%\)/);
});

Deno.test("a run early stopping ended is sized by its config's epochs: train longer lengthens, cosine spans them", () => {
  const stopped = {
    status: "stopped" as const,
    stopReason: "early stopping: valLoss did not improve for 5 epochs",
  };
  // it stopped at 10 of its 60 epochs: "train longer" set epochs=20, a third of the run
  const flat = [2, 1.5, 1.4, 1.4, 1.4, 1.4, 1.4, 1.4, 1.4, 1.4];
  const under = diagnose(syntheticRun(flat, {
    val: flat.map((v) => v + 0.1),
    ...stopped,
    config: { epochs: 60, earlyStopping: { patience: 5 } },
  }));
  assert.deepEqual(kinds(under), ["underfitting"]);
  assert.ok(under.findings[0].set!.includes("epochs=120"), `${under.findings[0].set}`);
  // a cosine of tMax 80 steps (the 8 epochs it reached) climbs back up over the 60 it trains
  const losses = [2, 1, 0.5, 0.45, 0.45, 0.45, 0.45, 0.45];
  const plateau = diagnose(syntheticRun(losses, {
    steps: syntheticSteps(80, 10, () => 1),
    ...stopped,
    config: { epochs: 60, maxSteps: 500, earlyStopping: { patience: 4 } },
  }));
  assert.deepEqual(kinds(plateau), ["plateauEarly"]);
  assert.deepEqual(plateau.findings[0].set, ['scheduler={"name":"cosine","tMax":500}']);
});

Deno.test("stopped early watching the training loss, which still fell: minDelta or patience, not regularising", () => {
  const d = diagnose(syntheticRun(decay(14, 1, 0.1, 0.1), {
    status: "stopped",
    stopReason: "early stopping: loss did not improve for 2 epochs (best 0.5 at epoch 11)",
    config: { epochs: 40, earlyStopping: { monitor: "loss", patience: 2, minDelta: 0.05 } },
  }));
  assert.deepEqual(kinds(d), ["healthy"]);
  assert.match(d.findings[0].fix, /minDelta \(0\.05\)/);
  assert.doesNotMatch(d.findings[0].fix, /regularise/);
});

Deno.test("gradient spikes: a tiny norm after vanished (zero) gradients is no spike", () => {
  // median 0: 1e-6 > 10 x 0 read as a spike, with clipping.maxNorm suggested
  const steps = syntheticSteps(100, 20, (s) => s < 40 ? 1 : s === 80 ? 1e-6 : 0);
  assert.ok(!kinds(diagnose(syntheticRun(decay(5), { steps }))).includes("gradientSpikes"));
});

Deno.test("a validation loss that became NaN while the training loss stayed finite is a finding, not a crash", () => {
  // healthy() read val.indexOf(Math.min(...val)) = -1: "Cannot read properties of undefined"
  const d = diagnose(syntheticRun(decay(5), { val: [3, 2, NaN, NaN, NaN] }));
  assert.deepEqual(kinds(d), ["diverged"]);
  assert.match(d.findings[0].evidence, /validation loss became NaN at epoch 2/);
  assert.deepEqual(d.findings[0].set, ["optimizer.lr=0.001"]);
  assert.deepEqual(kinds(diagnose(syntheticRun(decay(6), { val: [3, 2, 1, 1, 1, Infinity] }))), [
    "diverged",
  ]);
});

Deno.test("a validation loss up in its last epoch is not said to track the training loss; one that blew up diverged", () => {
  // the overfitting check needs 2 epochs after the minimum; healthy said "1e+30 tracks it"
  const blew = diagnose(syntheticRun(decay(6), { val: [3, 2, 1.5, 1.2, 1.1, 1e30] }));
  assert.deepEqual(kinds(blew), ["diverged"]);
  assert.match(
    blew.findings[0].evidence,
    /validation loss fell to 1\.1 and then blew up to 1e\+30/,
  );
  const up = diagnose(syntheticRun(decay(6), { val: [3, 2, 1.5, 1.2, 1.1, 5] }));
  assert.deepEqual(kinds(up), ["healthy"]);
  assert.match(up.findings[0].evidence, /validation loss 5 rose from 1\.1 at epoch 4/);
  assert.doesNotMatch(up.findings[0].evidence, /tracks/);
  // a maximized loss rises by design: its validation loss's rise is no blow-up
  const ascending = syntheticRun([2, 5, 12, 30, 80, 200], {
    val: [3, 2, 1.5, 1.2, 1.1, 1e30],
    config: { optimizer: { name: "adam", lr: 0.01, maximize: true } },
  });
  assert.deepEqual(kinds(diagnose(ascending)), ["maximizing"]);
});

Deno.test("gradient spikes: the clip suggested is the percentile of the steps judged, under the spike", () => {
  // the first epoch's norms of 100 made the 90th percentile 100: a clip above the spike of 50
  const steps = syntheticSteps(100, 20, (s) => s < 20 ? 100 : s === 70 ? 50 : 1);
  const d = diagnose(syntheticRun(decay(5), { steps }));
  const spikes = d.findings.find((x) => x.kind === "gradientSpikes")!;
  assert.deepEqual(spikes.set, ["clipping.maxNorm=1"]);
});

Deno.test("a second half that rose is no flat plateau: a rate to decay, not underfitting, and said to rise", () => {
  // "underfitting: training and validation both high and flat", "then only to 1.5"
  const d = diagnose(syntheticRun([2, 1.2, 1, 1.1, 1.3, 1.5]));
  assert.deepEqual(kinds(d), ["plateauEarly"]);
  assert.match(d.findings[0].evidence, /then rose to 1\.5 by epoch 5/);
  // a flat one is still underfitting, "only to"
  const flat = diagnose(syntheticRun([2, 1.5, 1.4, 1.4, 1.4, 1.4]));
  assert.deepEqual(kinds(flat), ["underfitting"]);
  assert.match(flat.findings[0].evidence, /then only to 1\.4/);
});

Deno.test("healthy, still improving, stopped by its maxSteps: train longer raises the budget, not the epochs", () => {
  // --set epochs=20 would stop at maxSteps 40 again
  const d = diagnose(syntheticRun([2, 1.5, 1.1, 0.8], {
    steps: syntheticSteps(40, 10, () => 1),
    status: "stopped",
    stopReason: "budget: reached maxSteps = 40",
    config: { epochs: 10, maxSteps: 40 },
  }));
  assert.deepEqual(kinds(d), ["healthy"]);
  assert.deepEqual(d.findings[0].set, ["maxSteps=80"]);
  const timed = diagnose(syntheticRun([2, 1.5, 1.1, 0.8], {
    status: "stopped",
    stopReason: "budget: reached maxWallTimeSeconds = 60",
    config: { epochs: 10, maxWallTimeSeconds: 60 },
  }));
  assert.deepEqual(timed.findings[0].set, ["maxWallTimeSeconds=120"]);
  // ...or goes on from where the budget stopped it: more steps, or another budget of a process
  assert.equal(d.findings[0].resume, "anneal train --resume synthetic --runs-dir . --max-steps 80");
  assert.equal(timed.findings[0].resume, "anneal train --resume synthetic --runs-dir .");
});

Deno.test("train longer: a completed run is also told the resume that goes on from its end, where no schedule's end is stretched", () => {
  const losses = [14.63, 9.05, 5.612, 3.506, 2.252];
  const record = { ...syntheticRun(losses), id: "r1", dir: "/tmp/x/runs/r1" };
  const d = diagnose(record);
  assert.deepEqual(d.findings[0].set, ["epochs=10"]);
  assert.equal(d.findings[0].resume, "anneal train --resume r1 --runs-dir /tmp/x/runs --epochs 10");
  assert.match(
    formatDiagnosis(d),
    /\n {4}or: {7}anneal train --resume r1 --runs-dir \/tmp\/x\/runs --epochs 10 \(goes on/,
  );
  // in the default runs directory, no --runs-dir
  const here = diagnose({ ...record, dir: "runs/r1" });
  assert.equal(here.findings[0].resume, "anneal train --resume r1 --epochs 10");
  // a cosine whose tMax ends with the run is stretched by a longer run: a resume would train past
  // its end (cosine climbs back up), so none is offered
  const cosine = diagnose({
    ...record,
    config: { ...record.config, scheduler: { name: "cosine", tMax: 5, interval: "epoch" } },
  });
  assert.ok((cosine.findings[0].set ?? []).length > 1, String(cosine.findings[0].set));
  assert.equal(cosine.findings[0].resume, undefined);
  // nor where the run did not complete (a run early stopping ended has no more epochs to gain)
  const interrupted = diagnose({ ...record, summary: { status: "failed" } });
  assert.equal(interrupted.findings[0]?.resume, undefined);
});

Deno.test("healthy: a loss that reached 0 and stayed there levelled off, with no NaN", () => {
  const d = diagnose(syntheticRun([0.5, 0.1, 0, 0, 0]));
  assert.deepEqual(kinds(d), ["healthy"]);
  assert.doesNotMatch(d.findings[0].evidence, /NaN/);
});

Deno.test("diverged: a NaN step names the step and epoch", () => {
  const steps = syntheticSteps(30, 10, () => 1);
  steps[25].loss = NaN;
  const d = diagnose(syntheticRun([3, 2, 1.5], { steps, lr: 1 }));
  assert.deepEqual(kinds(d), ["diverged"]);
  assert.match(d.findings[0].evidence, /step 25 \(epoch 2\)/);
  assert.deepEqual(d.findings[0].set, ["optimizer.lr=0.1"]);
  assert.match(d.findings[0].fix, /or clip gradients \(--set clipping\.maxNorm=1\)/);
  // a run that clips by norm already, at a fixed norm or at a percentile, is not told to add it
  for (const clipping of [{ maxNorm: 0.5 }, { autoPercentile: 10 }]) {
    const clipped = diagnose(syntheticRun([3, 2, 1.5], { steps, lr: 1, config: { clipping } }));
    assert.doesNotMatch(clipped.findings[0].fix, /clip gradients/, JSON.stringify(clipping));
  }
});

Deno.test("diverged: a loss not finite at step 0, before any update, blames the data or model, with no rate to set", () => {
  const steps = syntheticSteps(1, 10, () => 1);
  steps[0].loss = Infinity;
  const d = diagnose(syntheticRun([], { steps, lr: 1, status: "diverged" }));
  assert.deepEqual(kinds(d), ["diverged"]);
  assert.match(d.findings[0].title, /the data or the model, not the learning rate/);
  assert.match(d.findings[0].evidence, /the loss became Infinity at step 0 \(epoch 0\)/);
  assert.match(d.findings[0].fix, /the learning rate is not the cause/);
  assert.match(d.findings[0].fix, /overflows float32/);
  assert.deepEqual(d.findings[0].set, []);
  // under mixedPrecision, float16's activations overflow first: its range, and float32's run
  const mixed = diagnose(
    syntheticRun([], { steps, lr: 1, status: "diverged", config: { mixedPrecision: true } }),
  );
  assert.match(mixed.findings[0].fix, /stored as float16, whose largest value is 65504/);
  assert.match(mixed.findings[0].fix, /--set mixedPrecision=false trains in float32/);
  assert.doesNotMatch(mixed.findings[0].fix, /overflows float32/);
  // (a model mixedPrecision stores nothing of as float16, a linear one: float32's overflow)
  const linear = diagnose(
    syntheticRun([], {
      steps,
      lr: 1,
      status: "diverged",
      config: { mixedPrecision: true, model: { kind: "linear" } },
    }),
  );
  assert.match(linear.findings[0].fix, /overflows float32/);
});

Deno.test("diverged: all-NaN curves are diverged, not healthy or too short", () => {
  const d = diagnose(syntheticRun([NaN, NaN, NaN, NaN]));
  assert.deepEqual(kinds(d), ["diverged"]);
  assert.match(d.findings[0].evidence, /every recorded epoch loss is NaN/);
});

Deno.test("diverged after rollbacks: the fix sets the rate below the ones the rollbacks cut it to", () => {
  const run = syntheticRun([1, 0.9], { status: "diverged", lr: 0.5 });
  const rolledBack = { ...run, summary: { ...run.summary, clip: { rollbacks: 2 } } };
  const [finding] = diagnose(rolledBack).findings;
  assert.deepEqual(finding.set, ["optimizer.lr=0.0005"]);
  assert.match(
    finding.fix!,
    /^learning rate too high: its 2 rollbacks had cut the rates 100x and it diverged again: divide it by 1000 in all/,
  );
  // none: a tenth of the rate, as ever
  assert.deepEqual(diagnose(run).findings[0].set, ["optimizer.lr=0.05"]);
});

Deno.test("diverged: a run the trainer stopped as diverged is diverged even with tame curves", () => {
  const d = diagnose(syntheticRun([1, 0.9], { status: "diverged" }));
  assert.deepEqual(kinds(d), ["diverged"]);
});

Deno.test("diverged: rmsprop with alpha above 1 blames alpha, with its fix, not the learning rate", () => {
  const steps = syntheticSteps(20, 10, () => 1);
  steps[1].loss = NaN;
  const d = diagnose(syntheticRun([3], {
    steps,
    status: "diverged",
    config: { optimizer: { name: "rmsprop", lr: 0.01, alpha: 1.5 } },
  }));
  assert.deepEqual(kinds(d), ["diverged"]);
  assert.equal(d.verdict, "diverged: rmsprop alpha above 1");
  assert.match(d.findings[0].evidence, /step 1 \(epoch 0\)/);
  assert.match(d.findings[0].fix, /square average .* turns negative and its square root NaN/);
  assert.match(d.findings[0].fix, /use alpha in \[0, 1\)/);
  assert.deepEqual(d.findings[0].set, ["optimizer.alpha=0.99"]);
  assert.doesNotMatch(d.findings[0].fix, /learning rate too high/);
});

const ascent = { optimizer: { name: "adam", lr: 0.01, maximize: true } };

Deno.test("maximizing: a rising loss is neither diverged nor a learning rate too low", () => {
  for (const losses of [[2, 5, 12, 30, 80], [2, 2.01, 2.02, 2.03, 2.05]]) {
    const d = diagnose(syntheticRun(losses, { config: ascent }));
    assert.deepEqual(kinds(d), ["maximizing"], `${losses}`);
    assert.equal(d.findings[0].severity, "info");
    assert.match(d.findings[0].evidence, /optimizer\.maximize is on/);
    assert.match(
      d.findings[0].evidence,
      new RegExp(`went from 2 at epoch 0 to ${losses.at(-1)}`),
    );
    // Minimized, the same curves are a divergence and a learning rate too low.
    assert.notDeepEqual(kinds(diagnose(syntheticRun(losses))), ["maximizing"]);
  }
  // Spikes are still read off the gradient norms.
  const steps = syntheticSteps(60, 10, (s) => (s === 45 ? 50 : 1));
  const spiky = diagnose(syntheticRun([1, 2, 3, 4, 5, 6], { steps, config: ascent }));
  assert.deepEqual(kinds(spiky), ["gradientSpikes", "maximizing"]);
});

Deno.test("maximizing: a loss that overflows is diverged, with the ascent's fix", () => {
  const d = diagnose(syntheticRun([2, 50, Infinity], { config: ascent, status: "diverged" }));
  assert.deepEqual(kinds(d), ["diverged"]);
  assert.equal(d.verdict, "diverged: the maximized loss overflowed");
  assert.match(d.findings[0].fix, /--set optimizer\.lr=0\.001/);
  assert.match(d.findings[0].fix, /--set optimizer\.maximize=false/);
});

Deno.test("diverged after the schedule made the rate negative: the fix is a rate >= 0, not a smaller one", () => {
  // torch runs a negative gamma as it is: every other decay the rate is negative and climbs the loss
  const steps = syntheticSteps(40, 10, () => 1).map((s) => ({ ...s, lr: 0.1 * (-1) ** s.epoch }));
  const d = diagnose(syntheticRun([2, 5, 12, 30], {
    steps,
    lr: 0.1,
    config: { scheduler: { name: "step", stepSize: 10, gamma: -1 } },
  }));
  assert.deepEqual(kinds(d), ["diverged"]);
  assert.equal(d.findings[0].title, "diverged: the learning rate went negative");
  assert.match(d.findings[0].evidence, /the schedule's rate was -0\.1 at step 10 \(epoch 1\)/);
  assert.deepEqual(d.findings[0].set, ["scheduler.gamma=1"]);
});

Deno.test("diverged at a negative rate inside a sequential: the fix replaces the whole scheduler section, its negative settings made >= 0", () => {
  const steps = syntheticSteps(40, 10, () => 1).map((s) => ({
    ...s,
    lr: s.epoch === 2 ? -0.1 : 0.1,
  }));
  const scheduler = {
    name: "sequential",
    schedulers: [
      { name: "linear", startFactor: 0.5, totalIters: 10 },
      { name: "step", stepSize: 10, gamma: -1 },
      { name: "cosine", tMax: 10, etaMin: -0.01 },
    ],
    milestones: [10, 20],
  };
  const run = syntheticRun([2, 5, 12, 30], { steps, lr: 0.1, config: { scheduler } });
  const d = diagnose(run);
  assert.equal(d.findings[0].title, "diverged: the learning rate went negative");
  // --set cannot reach into the list of schedules: the section goes whole
  const fixed = {
    ...scheduler,
    schedulers: [scheduler.schedulers[0], { ...scheduler.schedulers[1], gamma: 1 }, {
      ...scheduler.schedulers[2],
      etaMin: 0,
    }],
  };
  assert.deepEqual(d.findings[0].set, [`scheduler=${JSON.stringify(fixed)}`]);
  assert.match(d.findings[0].fix, /^keep the schedule's rates >= 0 \(--set 'scheduler=\{/);
  const applied = parseConfig(applyOverrides(run.config, d.findings[0].set!));
  assert.deepEqual(applied.scheduler, parseConfig({ scheduler: fixed }).scheduler);
  // a onecycle's negative peak and divisors on its own, as top-level settings
  const cycle = { name: "onecycle", maxLr: -0.5, totalSteps: 100, divFactor: -25 };
  const alone = diagnose(syntheticRun([2, 5, 12, 30], { steps, config: { scheduler: cycle } }));
  assert.deepEqual(alone.findings[0].set, ["scheduler.maxLr=0.5", "scheduler.divFactor=25"]);
});

Deno.test("lrTooLow: a loss that drops under 5% asks for 10x the run's lr", () => {
  const d = diagnose(syntheticRun([1, 0.995, 0.99, 0.985, 0.98, 0.978], { lr: 0.001 }));
  assert.deepEqual(kinds(d), ["lrTooLow"]);
  assert.deepEqual(d.findings[0].set, ["optimizer.lr=0.01"]);
  assert.match(d.findings[0].fix, /lr-find/);
});

Deno.test("lrTooLow: a loss that barely moved (under 0.5%) asks for 100x, as 10x would still crawl", () => {
  const d = diagnose(syntheticRun([2.3026, 2.3024, 2.3022, 2.3019, 2.3017, 2.3013], { lr: 1e-5 }));
  assert.deepEqual(kinds(d), ["lrTooLow"]);
  assert.deepEqual(d.findings[0].set, ["optimizer.lr=0.001"]);
  assert.match(d.findings[0].fix, /^multiply the learning rate by 100 \(/);
  // at 0.5% and over: 10x
  const moved = diagnose(syntheticRun([1, 0.999, 0.998, 0.997, 0.996, 0.995], { lr: 1e-5 }));
  assert.deepEqual(moved.findings[0].set, ["optimizer.lr=0.0001"]);
});

Deno.test("lrTooLow: a loss flat to float32's rounding (lr 1e-12: the weights never moved) is a rate too low, not a jitter", () => {
  // the seed at lr 1e-12 for 10 epochs, as recorded: up in half its epochs by 1e-8 of the loss,
  // read as a jitter at a level and the run as "healthy: no problem found"
  const flat = [
    17.90928363800049,
    17.909283714294432,
    17.909283752441407,
    17.909283485412598,
    17.909283752441407,
    17.90928379058838,
    17.909283599853516,
    17.909283714294432,
    17.909283485412598,
    17.90928363800049,
  ];
  const d = diagnose(syntheticRun(flat, { lr: 1e-12 }));
  assert.deepEqual(kinds(d), ["lrTooLow"], d.verdict);
  assert.deepEqual(d.findings[0].set, ["optimizer.lr=1e-10"]);
  // (its first 3 epochs, which ended above their start, read as no progress)
  assert.deepEqual(kinds(diagnose(syntheticRun(flat.slice(0, 3), { lr: 1e-12 }))), ["lrTooLow"]);
});

Deno.test("lrTooLow: rates held far below optimizer.lr are named; a warmup the run never finished is the fix", () => {
  const losses = [1, 0.995, 0.99, 0.985, 0.98, 0.978];
  // a sequential's long linear warmup kept every rate at 1% of optimizer.lr 0.1
  const steps = syntheticSteps(60, 10, () => 1).map((s) => ({ ...s, lr: 0.001 }));
  const held = diagnose(syntheticRun(losses, { lr: 0.1, steps }));
  assert.match(
    held.findings[0].evidence,
    /; it trained at rates of 0\.001 at most, 1% of optimizer\.lr$/,
  );
  assert.deepEqual(held.findings[0].set, ["optimizer.lr=1"]);
  // rates that reached optimizer.lr: nothing to add
  const full = diagnose(syntheticRun(losses, { lr: 0.01, steps: syntheticSteps(60, 10, () => 1) }));
  assert.doesNotMatch(full.findings[0].evidence, /trained at rates/);
  // a warmup of 1000 steps over a 60-step run: shorten it, not raise optimizer.lr
  const warm = diagnose(syntheticRun(losses, {
    lr: 0.1,
    steps,
    config: { scheduler: { name: "warmupLinear", warmupSteps: 1000, totalSteps: 2000 } },
  }));
  assert.equal(warm.findings[0].title, "learning rate too low: the warmup outlasted the run");
  assert.deepEqual(warm.findings[0].set, ["scheduler.warmupSteps=6", "scheduler.totalSteps=60"]);
  assert.match(
    warm.findings[0].evidence,
    /the run takes 60 optimizer steps, so its rate climbs to 5\.9%/,
  );
});

Deno.test("a run of 360,000 steps or more is diagnosed: the rates' highest is found without overflowing the stack", () => {
  // (Math.max(...rates) throws RangeError past ~150,000 arguments)
  const flat = diagnose(syntheticRun([1, 0.995, 0.99, 0.985, 0.98, 0.978], {
    lr: 0.1,
    steps: syntheticSteps(360_000, 60_000, () => 1),
  }));
  assert.deepEqual(kinds(flat), ["lrTooLow"]);
  assert.match(
    flat.findings[0].evidence,
    /trained at rates of 0\.01 at most, 10% of optimizer\.lr$/,
  );
  const raised = diagnose(syntheticRun([2, 5, 12, 30], {
    lr: 0.001,
    steps: syntheticSteps(400_000, 100_000, () => 1),
    config: { scheduler: { name: "step", stepSize: 5, gamma: 3 } },
  }));
  assert.deepEqual(kinds(raised), ["diverged"]);
  assert.match(raised.findings[0].fix, /the schedule raised the rate to 0\.01, 10x optimizer\.lr/);
});

const plateau = [10, 6, 4, 3.6, 3.5, 3.5, 3.49, 3.5, 3.49, 3.49];

/** Steps of 10 an epoch whose first three losses are `first`, above the first epoch's mean. */
function firstStepsAt(first: number, epochs: number) {
  return syntheticSteps(epochs * 10, 10, () => 1).map((s) =>
    s.step < 3 ? { ...s, loss: first } : s
  );
}

Deno.test("the loss a finding starts from is the first epoch's, as the run printed it, not its first steps'", () => {
  // the seed experiment: first steps at 15.58, epoch 0's mean 14.63 (what anneal train printed)
  const losses = [14.63, 9.05, 5.612, 3.506, 2.252];
  const healthy = diagnose(syntheticRun(losses, { steps: firstStepsAt(15.58, 5) }));
  assert.deepEqual(kinds(healthy), ["healthy"]);
  assert.match(
    healthy.findings[0].evidence,
    /^training loss fell from 14\.63 at epoch 0 to 2\.252 at epoch 4 \(-84\.61%\) over 5 epochs/,
  );
  assert.doesNotMatch(healthy.findings[0].evidence, /15\.58/);
  // a plateau quotes epoch 0's loss, and counts the drop achieved from the first steps, saying so
  const flat = diagnose(syntheticRun(plateau, {
    val: plateau.map((v) => v * 1.05),
    steps: firstStepsAt(12, 10),
  }));
  assert.deepEqual(kinds(flat), ["plateauEarly"]);
  assert.match(
    flat.findings[0].evidence,
    /^the training loss fell from 10 at epoch 0 to 3\.5 by epoch 5, then only to 3\.49 by epoch 9; it is still 41\.01% of the 8\.51 drop achieved from its first steps' loss 12$/,
  );
  // a learning rate too low: the drop quoted is the one judged, between the numbers quoted
  const crawl = [1, 0.995, 0.99, 0.985, 0.98, 0.978];
  const low = diagnose(syntheticRun(crawl, { lr: 0.001, steps: firstStepsAt(1.01, 6) }));
  assert.deepEqual(kinds(low), ["lrTooLow"]);
  assert.match(
    low.findings[0].evidence,
    /^the training loss went from 1 at epoch 0 to at best 0\.978 over 6 epochs, a 2\.2% drop/,
  );
  // ...and a loss that fell within its first epoch moved: its rate was not too low
  const fellFirst = diagnose(syntheticRun(crawl, { lr: 0.001, steps: firstStepsAt(3, 6) }));
  assert.ok(!kinds(fellFirst).includes("lrTooLow"), `${kinds(fellFirst)}`);
});

Deno.test("plateauEarly: flat second half while still high asks for a cosine schedule over the run", () => {
  const steps = syntheticSteps(100, 10, () => 1);
  const d = diagnose(syntheticRun(plateau, { val: plateau.map((v) => v * 1.05), steps }));
  assert.deepEqual(kinds(d), ["plateauEarly"]);
  assert.deepEqual(d.findings[0].set, ['scheduler={"name":"cosine","tMax":100}']);
  assert.match(d.findings[0].evidence, /epoch 5/);
  // quoted for the shell, in the fix's words as on the try: line
  assert.match(d.findings[0].fix, /\(--set 'scheduler=\{"name":"cosine","tMax":100\}'\)/);
  assert.match(
    formatDiagnosis({ ...d, config: "runs/a/config.json" }),
    /try: {6}anneal train -c runs\/a\/config\.json --set 'scheduler=\{"name":"cosine","tMax":100\}'$/m,
  );
  // no steps recorded: a cosine over the epochs, stepped once an epoch
  const epochs = diagnose(syntheticRun(plateau, { val: plateau.map((v) => v * 1.05) }));
  assert.deepEqual(epochs.findings[0].set, [
    'scheduler={"name":"cosine","tMax":10,"interval":"epoch"}',
  ]);
});

Deno.test("plateauEarly after a schedule cut the rate is blamed on the decay coming too soon, not the rate", () => {
  // a real run (Fashion-MNIST MLP, sgd lr 0.1 momentum 0.9, step schedule: x0.1 every 3 epochs)
  // that flattened once the rate was 1% of optimizer.lr was told to "decay the learning rate
  // with a schedule", as if it had none; cosine over the run took it from 0.40 to 0.25
  const losses = [
    1.446,
    0.848,
    0.72,
    0.499,
    0.454,
    0.436,
    0.411,
    0.408,
    0.405,
    0.403,
    0.403,
    0.4027,
  ];
  const config = { scheduler: { name: "step", stepSize: 3, gamma: 0.1, interval: "epoch" } };
  const steps = syntheticSteps(300, 25, () => 1).map((s) => ({
    ...s,
    lr: 0.1 * 0.1 ** Math.floor(s.epoch / 3),
  }));
  const d = diagnose(syntheticRun(losses, { lr: 0.1, steps, config }));
  assert.deepEqual(kinds(d), ["plateauEarly"]);
  assert.match(d.findings[0].title, /the schedule decayed the rate too soon/);
  assert.match(
    d.findings[0].evidence,
    /cut the rate to 0\.01 at most from epoch 3 on, 10% of optimizer\.lr/,
  );
  assert.match(d.findings[0].fix, /spread the decay over the whole run/);
  assert.deepEqual(d.findings[0].set, ['scheduler={"name":"cosine","tMax":300}']);
  // the epoch the rate got there, not the run's middle one: a step decay of gamma 0 at step 6
  // (epochs of 6 steps) froze the loss from epoch 1 (it said "from epoch 5 on")
  const frozen = syntheticSteps(60, 6, () => 1).map((s) => ({ ...s, lr: s.step < 6 ? 0.1 : 0 }));
  const zero = diagnose(
    syntheticRun([3.578, ...Array(9).fill(0.2928)], {
      lr: 0.1,
      steps: frozen,
      config: { scheduler: { name: "step", stepSize: 6, gamma: 0 } },
    }),
  );
  assert.match(
    zero.findings.map((x) => x.evidence).join("\n"),
    /cut the rate to 0 at most from epoch 1 on, 0% of optimizer\.lr/,
    zero.verdict,
  );
  // a decay that goes on (gamma 0.01 every 20 steps, epochs of 13): under half the rate from
  // epoch 2, where it said "1e-34 at most from epoch 25 on", the run's middle
  const decaying = syntheticSteps(650, 13, () => 1).map((s) => ({
    ...s,
    lr: 0.01 * 0.01 ** Math.floor(s.step / 20),
  }));
  const early = diagnose(
    syntheticRun([14.63, 10.2, 8.9, ...Array(47).fill(8.631)], {
      lr: 0.01,
      steps: decaying,
      config: { scheduler: { name: "step", stepSize: 20, gamma: 0.01 } },
    }),
  );
  assert.match(
    early.findings.map((x) => x.evidence).join("\n"),
    /cut the rate to 1e-4 at most from epoch 2 on, 1% of optimizer\.lr/,
    early.verdict,
  );
  // at its own rate throughout, the same curve is a plateau to decay
  const constant = steps.map((s) => ({ ...s, lr: 0.1 }));
  const flat = diagnose(syntheticRun(losses, { lr: 0.1, steps: constant }));
  assert.equal(flat.findings[0].title, "plateaued early");
  assert.match(flat.findings[0].fix, /^decay the learning rate with a schedule/);
});

Deno.test("plateauEarly replaces another schedule whole, and under onecycle carries its maxLr (its size) to optimizer.lr", () => {
  const steps = syntheticSteps(100, 10, () => 1);
  const val = plateau.map((v) => v * 1.05);
  // a step schedule: its stepSize and gamma are not cosine's, so the whole section is replaced
  const step = { scheduler: { name: "step", stepSize: 30, gamma: 0.5 } };
  const steppedRun = syntheticRun(plateau, { val, steps, config: step });
  const stepped = diagnose(steppedRun);
  assert.deepEqual(stepped.findings[0].set, ['scheduler={"name":"cosine","tMax":100}']);
  const applied = parseConfig(applyOverrides(steppedRun.config, stepped.findings[0].set!));
  assert.deepEqual(applied.scheduler, {
    name: "cosine",
    interval: "step",
    tMax: 100,
    etaMin: 0,
  });
  // onecycle with optimizer.lr 0 (it ignores it): cosine would train at 0 without the lr
  const config = {
    optimizer: { name: "sgd", lr: 0 },
    scheduler: { name: "onecycle", maxLr: 0.4, totalSteps: 100 },
  };
  const run = syntheticRun(plateau, { val, steps, config });
  const d = diagnose(run);
  assert.deepEqual(kinds(d), ["plateauEarly"]);
  assert.deepEqual(d.findings[0].set, [
    'scheduler={"name":"cosine","tMax":100}',
    "optimizer.lr=0.4",
  ]);
  const cosine = parseConfig(applyOverrides(run.config, d.findings[0].set!));
  assert.equal(cosine.optimizer.lr, 0.4);
  assert.equal(cosine.scheduler?.name, "cosine");
  // a sequential's onecycle: replaced whole too, its maxLr carried
  const sequential = {
    optimizer: { name: "sgd", lr: 0 },
    scheduler: { name: "sequential", schedulers: [config.scheduler], milestones: [] },
  };
  const nested = diagnose(syntheticRun(plateau, { val, steps, config: sequential }));
  assert.deepEqual(nested.findings[0].set, [
    'scheduler={"name":"cosine","tMax":100}',
    "optimizer.lr=0.4",
  ]);
  // a negative maxLr (torch runs it, its rates negative): cosine from its size, as optimizer.lr
  // takes no negative rate
  const negative = { ...config, scheduler: { ...config.scheduler, maxLr: -0.4 } };
  const negativeRun = syntheticRun(plateau, { val, steps, config: negative });
  const flipped = diagnose(negativeRun);
  assert.deepEqual(flipped.findings[0].set, [
    'scheduler={"name":"cosine","tMax":100}',
    "optimizer.lr=0.4",
  ]);
  assert.equal(
    parseConfig(applyOverrides(negativeRun.config, flipped.findings[0].set!)).optimizer.lr,
    0.4,
  );
});

Deno.test("underfitting: high, flat train and validation with low accuracy asks for capacity", () => {
  const accuracy = plateau.map(() => 0.45);
  const d = diagnose(syntheticRun(plateau, { val: plateau.map((v) => v * 1.05), accuracy }));
  assert.deepEqual(kinds(d), ["underfitting"]);
  assert.ok(d.findings[0].set!.includes("model.hidden=[16]"));
  assert.ok(d.findings[0].set!.includes(`epochs=${plateau.length * 2}`));
  // an MLP without hidden layers gets one (doubling none asked for the model it had)
  const headOnly = diagnose(syntheticRun(plateau, {
    val: plateau.map((v) => v * 1.05),
    accuracy,
    config: { model: { kind: "mlp", hidden: [], dropout: 0 } },
  }));
  assert.deepEqual(kinds(headOnly), ["underfitting"]);
  assert.ok(headOnly.findings[0].set!.includes("model.hidden=[128]"), headOnly.findings[0].fix);
});

Deno.test("oscillating: a zig-zag that still trends down asks for half the lr", () => {
  const losses = [10, 7, 8.5, 5.5, 7, 4, 5.5, 3, 4.2, 2.2, 3.2, 1.5];
  const d = diagnose(syntheticRun(losses, { lr: 0.2 }));
  assert.deepEqual(kinds(d), ["oscillating"]);
  assert.deepEqual(d.findings[0].set, ["optimizer.lr=0.1"]);
  assert.match(d.findings[0].evidence, /10 of 10 epoch-to-epoch changes flip sign/);
});

Deno.test("oscillating under a schedule that decays already: halve the lr, not add a decaying schedule", () => {
  // the seed at lr 1 under a cosine to 0 over its run zig-zagged, and was told to add one
  const losses = [10, 7, 8.5, 5.5, 7, 4, 5.5, 3, 4.2, 2.2, 3.2, 1.5];
  const total = losses.length * 4;
  const steps = Array.from({ length: total }, (_, step) => ({
    step,
    epoch: Math.floor(step / 4),
    loss: undefined as unknown as number,
    lr: 0.2 * (1 + Math.cos(Math.PI * step / total)) / 2,
  }));
  const cosine = { scheduler: { name: "cosine", tMax: total } };
  const d = diagnose(syntheticRun(losses, { lr: 0.2, steps, config: cosine }));
  assert.deepEqual(kinds(d), ["oscillating"], d.verdict);
  assert.deepEqual(d.findings[0].set, ["optimizer.lr=0.1"]);
  assert.doesNotMatch(d.findings[0].fix, /add a decaying schedule/);
  // at a constant rate it is still offered
  assert.match(diagnose(syntheticRun(losses, { lr: 0.2 })).findings[0].fix, /decaying schedule/);
});

Deno.test("oscillating: small noise at a converged floor is not oscillation", () => {
  const losses = decay(30).map((v, i) => v + (i % 2 ? 0.004 : -0.004));
  assert.deepEqual(kinds(diagnose(syntheticRun(losses))), ["healthy"]);
});

Deno.test("overfitting: reports the epoch of minimal validation loss, the gap, and early stopping", () => {
  const train = decay(20, 3, 0.01, 0.3);
  const val = train.map((_, e) => 0.5 + 0.02 * (e - 6) ** 2);
  const d = diagnose(
    syntheticRun(train, { val, config: { earlyStopping: { monitor: "valLoss" } } }),
  );
  assert.deepEqual(kinds(d), ["overfitting"]);
  const finding = d.findings[0];
  assert.match(finding.evidence, /lowest at epoch 6 \(0\.5\)/);
  assert.match(finding.evidence, /gap is now/);
  assert.deepEqual(finding.set, [
    "earlyStopping.patience=2",
    "optimizer.weightDecay=0.0001",
    "model.dropout=0.2",
  ]);
});

Deno.test("overfitting: a noisy validation curve's dip is no turn; a rise above its noise is", () => {
  // a real run (Fashion-MNIST MLP, batches of 8, 800 validation samples): the validation loss
  // zig-zags by about 0.06 an epoch around 0.55; its dip to 0.481 at epoch 7 and the bounce to
  // 0.535 read as "overfitting after epoch 7"
  const losses = [0.857, 0.573, 0.491, 0.455, 0.432, 0.386, 0.343, 0.321, 0.316, 0.3, 0.281, 0.276];
  const val = [0.65, 0.587, 0.561, 0.496, 0.566, 0.567, 0.584, 0.481, 0.615, 0.522, 0.612, 0.535];
  const noisy = diagnose(syntheticRun(losses, { val }));
  assert.ok(!kinds(noisy).includes("overfitting"), noisy.verdict);
  // the same dip with the curve rising past its noise afterwards turned
  const rising = [...val.slice(0, 9), 0.66, 0.7, 0.74];
  assert.deepEqual(kinds(diagnose(syntheticRun(losses, { val: rising }))), ["overfitting"]);
});

Deno.test("overfitting asks for more dropout only where the model has a layer it follows", () => {
  const train = decay(20, 3, 0.01, 0.3);
  const val = train.map((_, e) => 0.5 + 0.02 * (e - 6) ** 2);
  const asked = (model: Record<string, unknown>) =>
    diagnose(syntheticRun(train, { val, config: { model } })).findings
      .find((x) => x.kind === "overfitting")!.set!.filter((s) => s.startsWith("model.dropout"));
  // an rnn of one layer (the default, the LSTM example's): its dropout drops nothing
  assert.deepEqual(asked({ kind: "rnn", cell: "lstm", units: 128, layers: 1, dropout: 0 }), []);
  assert.deepEqual(asked({ kind: "rnn", layers: 2, dropout: 0.1 }), ["model.dropout=0.3"]);
  assert.deepEqual(asked({ kind: "cnn", filters: [8], dense: [], dropout: 0 }), []);
  assert.deepEqual(asked({ kind: "cnn", filters: [8], dense: [16], dropout: 0 }), [
    "model.dropout=0.2",
  ]);
  assert.deepEqual(asked({ kind: "mlp", hidden: [], dropout: 0 }), []);
  assert.deepEqual(asked({ kind: "linear" }), []);
});

Deno.test("overfitting: a patience that never ran out is replaced by one that would have stopped the run", () => {
  const train = decay(30, 3, 0.01, 0.3);
  const val = train.map((_, e) => 0.5 + 0.02 * (e - 6) ** 2);
  const d = diagnose(syntheticRun(train, { val, config: { earlyStopping: { patience: 100 } } }));
  const finding = d.findings.find((x) => x.kind === "overfitting")!;
  assert.equal(finding.set![0], "earlyStopping.patience=3", "a tenth of 30 epochs");
  assert.doesNotMatch(finding.fix, /patience=100/);
  assert.match(finding.fix, /patience 100 did not run out in the 23 epochs after it/);
  // watching a training metric: watch the validation loss
  const training = diagnose(syntheticRun(train, {
    val,
    config: { earlyStopping: { monitor: "loss", patience: 3 } },
  }));
  assert.deepEqual(
    training.findings.find((x) => x.kind === "overfitting")!.set!.slice(0, 1),
    ["earlyStopping.monitor=valLoss"],
  );
  // a run that early stopping ended 3 epochs after its best: regularise, nothing about patience
  const stopped = diagnose(syntheticRun(train.slice(0, 10), {
    val: val.slice(0, 10),
    status: "stopped",
    config: { earlyStopping: { patience: 3 } },
  }));
  const stoppedFinding = stopped.findings.find((x) => x.kind === "overfitting")!;
  assert.ok(stoppedFinding.set!.every((s) => !s.startsWith("earlyStopping")));
  assert.match(stoppedFinding.fix, /^early stopping ended the run 3 epochs after its best one/);
});

Deno.test("overfitting: never reported without validation", () => {
  const d = diagnose(syntheticRun(decay(20, 3, 0.01, 0.3)));
  assert.ok(!kinds(d).includes("overfitting"));
  assert.deepEqual(kinds(d), ["healthy"]);
});

Deno.test("gradientSpikes: one norm 50x its recent median is found, with a clip value from the run", () => {
  const steps = syntheticSteps(200, 20, (s) => (s === 120 ? 50 : 1 + (s % 3) * 0.1));
  const d = diagnose(syntheticRun(decay(10), { steps }));
  assert.deepEqual(kinds(d), ["gradientSpikes"]);
  assert.match(d.findings[0].evidence, /worst at step 120: 50 vs median 1\.1/);
  assert.deepEqual(d.findings[0].set, ["clipping.maxNorm=1.2"]);
});

Deno.test("gradientSpikes: a converged run's noise is no spike, however far above the norms before it", () => {
  // a CNN that fitted its data: norms ~3 in its first epoch, ~1e-4 after, a step at 0.0034 (34x
  // the median): read as a spike, with clipping.maxNorm=2e-4 suggested, which stalled the same
  // run at chance (it clips the first steps' norms of 3 to 2e-4)
  const steps = syntheticSteps(200, 20, (s) => s < 20 ? 3 : s === 150 ? 0.0034 : 1e-4);
  assert.deepEqual(kinds(diagnose(syntheticRun(decay(10), { steps }))), ["healthy"]);
  // the same spike where the first norms were of its size is one
  const alike = syntheticSteps(200, 20, (s) => s < 20 ? 0.01 : s === 150 ? 0.0034 : 1e-4);
  assert.deepEqual(kinds(diagnose(syntheticRun(decay(10), { steps: alike }))), ["gradientSpikes"]);
  // a start of large norms (100, unscaled features) does not hide a later spike (8 over 0.5)
  const large = syntheticSteps(200, 20, (s) => s < 20 ? 100 : s === 150 ? 8 : 0.5);
  assert.deepEqual(kinds(diagnose(syntheticRun(decay(10), { steps: large }))), ["gradientSpikes"]);
});

Deno.test("gradientSpikes: large norms in the first epoch are warm-up, not spikes", () => {
  const steps = syntheticSteps(200, 20, (s) => (s < 20 ? 40 / (s + 1) : 0.5));
  assert.deepEqual(kinds(diagnose(syntheticRun(decay(10), { steps }))), ["healthy"]);
});

Deno.test("gradientSpikes: most steps clipped asks for half the lr", () => {
  const steps = syntheticSteps(100, 10, () => 1).map((s) => ({ ...s, clipped: s.step % 4 !== 0 }));
  const d = diagnose(syntheticRun(decay(10), { steps, lr: 0.4 }));
  assert.deepEqual(kinds(d), ["gradientSpikes"]);
  assert.match(d.findings[0].evidence, /75% of steps were clipped/);
  assert.deepEqual(d.findings[0].set, ["optimizer.lr=0.2"]);
});

Deno.test("gradientSpikes: under a warmup schedule, most steps clipped asks for a longer warmup, not the warmupCosine it has", () => {
  const steps = syntheticSteps(100, 10, () => 1).map((s) => ({ ...s, clipped: s.step % 4 !== 0 }));
  for (const name of ["warmupCosine", "warmupLinear"]) {
    const scheduler = { name, warmupSteps: 20, totalSteps: 100 };
    const d = diagnose(syntheticRun(decay(10), { steps, lr: 0.4, config: { scheduler } }));
    assert.deepEqual(kinds(d), ["gradientSpikes"]);
    assert.deepEqual(d.findings[0].set, ["optimizer.lr=0.2"]);
    assert.match(d.findings[0].fix, /or add a longer warmup \(scheduler\.warmupSteps\)$/, name);
  }
  // (without a warmup, the one to add)
  const plain = diagnose(syntheticRun(decay(10), { steps, lr: 0.4 }));
  assert.match(plain.findings[0].fix, /or add warmup \(scheduler warmupCosine\)$/);
});

Deno.test("gradientSpikes: adaptive clipping's many clipped steps are its design, and another norm type's are not counted", () => {
  // autoPercentile 10 clips ~90% of the steps by design: it read "most steps clipped", with
  // the rate to halve
  const steps = syntheticSteps(100, 10, () => 1).map((s) => ({ ...s, clipped: s.step % 4 !== 0 }));
  const auto = diagnose(
    syntheticRun(decay(10), { steps, lr: 0.4, config: { clipping: { autoPercentile: 10 } } }),
  );
  assert.deepEqual(kinds(auto), ["healthy"]);
  const inf = diagnose(syntheticRun(decay(10), {
    steps,
    lr: 0.4,
    config: { clipping: { maxNorm: 0.5, normType: "inf" } },
  }));
  assert.deepEqual(kinds(inf), ["healthy"]);
});

Deno.test("healthy: a smooth decay to a low floor is healthy and the only finding", () => {
  const d = diagnose(syntheticRun(decay(30), { val: decay(30).map((v) => v * 1.04) }));
  assert.deepEqual(kinds(d), ["healthy"]);
  assert.match(d.verdict, /^healthy/);
});

Deno.test("healthy: a loss still falling at the end is not called levelled off, and the fix is to train longer", () => {
  const losses = [40, 30, 22, 16, 12, 9.05, 5.61];
  const d = diagnose(syntheticRun(losses, { config: { epochs: 7 } }));
  assert.deepEqual(kinds(d), ["healthy"]);
  const finding = d.findings[0];
  assert.doesNotMatch(finding.evidence, /levelled off/);
  assert.match(
    finding.evidence,
    /still falling at the end \(9\.05 to 5\.61 in the last epoch, -38\.01%\)/,
  );
  assert.deepEqual(finding.set, ["epochs=14"]);
  const floor = diagnose(syntheticRun(decay(30)));
  assert.match(floor.findings[0].evidence, /and levelled off \(-0(\.\d+)?% in the last epoch\)/);
  assert.equal(floor.findings[0].set, undefined);
});

Deno.test("healthy: a loss falling slowly but steadily at a high level has not levelled off, whatever its share of itself", () => {
  // a real run (Fashion-MNIST, a linear model, sgd lr 0.001): -1.5% in its last epoch read as
  // "levelled off, nothing to fix", while each epoch still took 74% of the run's mean drop; 30
  // epochs took it from 1.71 to 1.45
  const losses = [
    2.252,
    2.196,
    2.145,
    2.098,
    2.053,
    2.011,
    1.971,
    1.933,
    1.897,
    1.863,
    1.83,
    1.799,
  ];
  const d = diagnose(syntheticRun([...losses, 1.769, 1.741, 1.714]));
  assert.deepEqual(kinds(d), ["healthy"]);
  assert.match(d.findings[0].title, /still improving/);
  assert.match(d.findings[0].evidence, /still falling at the end, steadily \(1\.799 to 1\.714/);
  assert.deepEqual(d.findings[0].set, ["epochs=30"]);
  // the same pace at any scale
  assert.deepEqual(diagnose(syntheticRun(losses.map((l) => l * 1000))).findings[0].set, [
    "epochs=24",
  ]);
  // a floor it crawls along (a tiny share of the run's pace), or one that went up once in its
  // last epochs (noise), levelled off
  for (const tail of [[0.2535, 0.253, 0.2525], [0.26, 0.25, 0.255, 0.251]]) {
    const floor = diagnose(syntheticRun([...decay(30), ...tail]));
    assert.match(floor.findings[0].evidence, /levelled off/, tail.join());
  }
});

Deno.test("a run early stopping ended while its training loss still fell is not told to train longer: more epochs would stop the same way", () => {
  const losses = [40, 30, 22, 16, 12, 9.05, 5.61];
  const reason = "early stopping: valLoss did not improve for 3 epochs (best 11.2 at epoch 3)";
  const d = diagnose(
    syntheticRun(losses, {
      config: { epochs: 20 },
      val: [41, 31, 24, 11.2, 11.9, 12.4, 12.3],
      status: "stopped",
      stopReason: reason,
    }),
  );
  const healthy = d.findings.find((finding) => finding.kind === "healthy")!;
  assert.equal(healthy.title, "healthy, stopped early while the training loss still fell");
  assert.ok(healthy.evidence.endsWith(`; ${reason}`), healthy.evidence);
  assert.match(healthy.fix, /^more epochs would stop the same way/);
  assert.doesNotMatch(healthy.fix, /train longer/);
  assert.equal(healthy.set, undefined);
  // levelled off and stopped early: nothing to fix, and no "train longer" either
  const floor = diagnose(syntheticRun(decay(30), { status: "stopped", stopReason: reason }));
  assert.doesNotMatch(floor.findings[0].fix, /train longer/);
  // stopped by a budget (maxSteps), not by early stopping: more epochs is still the fix
  const budget = diagnose(
    syntheticRun(losses, { status: "stopped", stopReason: "maxSteps reached (70 steps)" }),
  );
  assert.match(budget.findings[0].fix, /^train longer/);
});

Deno.test("train longer under a schedule with an end stretches the schedule over the longer run", () => {
  const losses = [40, 30, 22, 16, 12, 9.05, 5.61];
  const schedules = [
    [{ name: "onecycle", maxLr: 0.1, totalSteps: 70 }, "totalSteps", 140],
    [{ name: "cosine", tMax: 70 }, "tMax", 140],
    [{ name: "warmupCosine", warmupSteps: 7, totalSteps: 70 }, "totalSteps", 140],
    [{ name: "cosine", tMax: 7, interval: "epoch" }, "tMax", 14],
  ] as const;
  for (const [scheduler, field, stretched] of schedules) {
    const run = syntheticRun(losses, { config: { epochs: 7, scheduler } });
    const finding = diagnose(run).findings[0];
    assert.equal(finding.set?.[0], "epochs=14");
    // the fix trains a config whose schedule ends where the longer run does
    const next = parseConfig(applyOverrides(run.config, finding.set!));
    assert.equal(next.epochs, 14);
    assert.equal((next.scheduler as Record<string, unknown>)[field], stretched, scheduler.name);
    assert.ok(finding.set?.includes(`scheduler.${field}=${stretched}`), finding.set?.join(" "));
  }
  // a schedule with no end keeps its cadence: only the epochs change
  const step = syntheticRun(losses, {
    config: { epochs: 7, scheduler: { name: "step", stepSize: 30 } },
  });
  assert.deepEqual(diagnose(step).findings[0].set, ["epochs=14"]);
  // underfitting's longer run too
  const accuracy = plateau.map(() => 0.45);
  const flat = syntheticRun(plateau, {
    val: plateau.map((v) => v * 1.05),
    accuracy,
    config: { scheduler: { name: "onecycle", maxLr: 0.1, totalSteps: plateau.length * 10 } },
  });
  const under = diagnose(flat).findings[0];
  assert.equal(under.kind, "underfitting");
  const next = parseConfig(applyOverrides(flat.config, under.set!));
  assert.equal((next.scheduler as { totalSteps: number }).totalSteps, plateau.length * 20);
});

Deno.test("one epoch: too short to judge, and not called healthy", () => {
  const d = diagnose(syntheticRun([1.5]));
  assert.deepEqual(d.findings, []);
  assert.match(d.verdict, /too short.*1 epoch/);
});

Deno.test("a run too short for every trend says what it could not read, and reads no plateau off one epoch", () => {
  // a real 3-epoch run (Fashion-MNIST MLP, adam 0.001) was "healthy: no problem found", a claim
  // its 3 epochs cannot back (oscillation is read from 6)
  const short = diagnose(syntheticRun([1.687, 1.003, 0.7902], { val: [1.16, 0.8327, 0.7245] }));
  assert.deepEqual(kinds(short), ["healthy"]);
  assert.equal(
    short.verdict,
    "healthy as far as 3 epochs tell: too few to read a plateau, which needs 5, or " +
      "oscillation, which needs 6",
  );
  // one flat epoch after a fall read as "plateaued early", with a schedule to add
  const flat = diagnose(syntheticRun([2, 0.9, 0.88], { val: [2.1, 0.95, 0.92] }));
  assert.deepEqual(kinds(flat), ["healthy"], flat.verdict);
  assert.match(
    diagnose(syntheticRun([2, 0.9, 0.88, 0.87, 0.87])).verdict,
    /^plateaued early$/,
  );
  assert.equal(
    diagnose(syntheticRun(decay(5))).verdict,
    "healthy as far as 5 epochs tell: too few to read oscillation, which needs 6",
  );
});

Deno.test("no data: an empty run has no findings", () => {
  const d = diagnose(syntheticRun([]));
  assert.deepEqual(d.findings, []);
  assert.match(d.verdict, /no data/);
});

Deno.test("healthy is never reported alongside a problem (random curves)", () => {
  const loss = fc.double({ min: 0.001, max: 100, noNaN: true });
  fc.assert(
    fc.property(fc.array(loss, { minLength: 1, maxLength: 25 }), fc.boolean(), (train, withVal) => {
      const val = withVal ? train.map((v, i) => v * (1 + 0.1 * i)) : undefined;
      const d = diagnose(syntheticRun(train, { val }));
      if (kinds(d).includes("healthy")) assert.equal(d.findings.length, 1);
      for (const finding of d.findings) {
        assert.ok(finding.evidence.length > 0 && finding.fix.length > 0);
      }
    }),
    { numRuns: 300 },
  );
});

Deno.test("fixtures: healthy, diverged and overfitting runs are told apart", async () => {
  assert.deepEqual(kinds(diagnose(await readRun(`${FIXTURES}healthy`))), ["healthy"]);
  const diverged = diagnose(await readRun(`${FIXTURES}diverged`));
  assert.deepEqual(kinds(diverged), ["diverged"]);
  assert.match(diverged.findings[0].evidence, /NaN at step \d+/);
  const record = await readRun(`${FIXTURES}overfitting`);
  const best = record.epochs.reduce((a, b) => (b.valLoss! < a.valLoss! ? b : a));
  const overfit = diagnose(record);
  assert.deepEqual(kinds(overfit), ["overfitting"]);
  assert.match(overfit.findings[0].evidence, new RegExp(`lowest at epoch ${best.epoch} `));
});

Deno.test("formatDiagnosis prints verdict, evidence, fix and a runnable --set line", () => {
  const text = formatDiagnosis(diagnose(syntheticRun([2, 5, 12, 30], { lr: 0.3 })));
  const lines = text.split("\n");
  assert.equal(lines[0], "Diagnosis: diverged: learning rate too high");
  assert.ok(lines.some((l) => l.includes("evidence: the loss rose from 2")));
  assert.ok(
    lines.some((l) =>
      l.trim() === "try:      anneal train -c synthetic/config.json --set optimizer.lr=0.03"
    ),
    "the fix applies to the run's own config, not the seed experiment",
  );
  const plateau = formatDiagnosis(diagnose(syntheticRun([10, 6, 4, 3.6, 3.5, 3.5, 3.49, 3.5], {
    val: [10, 6, 4, 3.6, 3.5, 3.5, 3.49, 3.5].map((v) => v * 1.05),
    accuracy: new Array(8).fill(0.45),
  })));
  assert.match(
    plateau,
    /try: {6}anneal train -c synthetic\/config\.json .*--set 'model\.hidden=\[16\]'/,
  );
});

Deno.test("a run whose config.json is lost or unreadable gets its fixes as --set words, not a command naming that file", () => {
  const losses = [10, 6, 4, 3.6, 3.5, 3.5, 3.49, 3.5];
  const run = syntheticRun(losses, {
    val: losses.map((v) => v * 1.05),
    accuracy: new Array(8).fill(0.45),
  });
  const diagnosis = diagnose({ ...run, config: {} });
  assert.equal(diagnosis.config, undefined);
  const text = formatDiagnosis(diagnosis);
  assert.ok(!text.includes("-c "), text);
  assert.match(
    text,
    /^ {4}try: {6}--set epochs=16 on the config the run was trained from \(its config\.json is missing or unreadable\)$/m,
  );
  // the resume, which takes the config its checkpoint keeps, is still offered
  assert.match(text, /^ {4}or: {7}anneal train --resume synthetic .*--epochs 16/m);
});

const oneCycle = (maxLr: number) => ({ name: "onecycle", maxLr, totalSteps: 100 });

Deno.test("under onecycle every rate fix changes its maxLr, which sets the rates, not optimizer.lr", () => {
  // optimizer.lr 0.3 does nothing here: the cycle peaks at maxLr
  const config = { scheduler: oneCycle(2) };
  const diverged = diagnose(syntheticRun([2, 5, 12, 30], { lr: 0.3, config }));
  assert.deepEqual(kinds(diverged), ["diverged"]);
  assert.deepEqual(diverged.findings[0].set, ["scheduler.maxLr=0.2"]);
  assert.match(
    diverged.findings[0].fix,
    /^learning rate too high: divide it by 10 \(--set scheduler\.maxLr=0\.2: onecycle's rates come from its maxLr, not optimizer\.lr\)/,
  );
  assert.match(
    formatDiagnosis(diverged),
    /try: {6}anneal train -c synthetic\/config\.json --set scheduler\.maxLr=0\.2$/m,
  );
  const low = diagnose(syntheticRun([1, 0.995, 0.99, 0.985, 0.98, 0.978], {
    lr: 0.001,
    config: { scheduler: oneCycle(0.004) },
  }));
  assert.deepEqual(kinds(low), ["lrTooLow"]);
  assert.deepEqual(low.findings[0].set, ["scheduler.maxLr=0.04"]);
  const zigzag = [10, 7, 8.5, 5.5, 7, 4, 5.5, 3, 4.2, 2.2, 3.2, 1.5];
  const oscillating = diagnose(
    syntheticRun(zigzag, { lr: 0.2, config: { scheduler: oneCycle(1) } }),
  );
  assert.deepEqual(kinds(oscillating), ["oscillating"]);
  assert.deepEqual(oscillating.findings[0].set, ["scheduler.maxLr=0.5"]);
  const steps = syntheticSteps(100, 10, () => 1).map((s) => ({ ...s, clipped: s.step % 4 !== 0 }));
  const clipped = diagnose(syntheticRun(decay(10), { steps, lr: 0.4, config }));
  assert.deepEqual(kinds(clipped), ["gradientSpikes"]);
  assert.deepEqual(clipped.findings[0].set, ["scheduler.maxLr=1"]);
  assert.match(clipped.findings[0].fix, /a longer warmup \(onecycle's pctStart\)/);
  // the maximized loss that overflowed is slowed at maxLr too
  const ascent = diagnose(syntheticRun([1, 2, NaN], {
    config: { scheduler: oneCycle(2), optimizer: { name: "sgd", lr: 0.3, maximize: true } },
  }));
  assert.deepEqual(ascent.findings[0].set, ["scheduler.maxLr=0.2"]);
});

Deno.test("under a sequential's onecycle the fix names the schedule to edit: --set cannot reach into the list", () => {
  const scheduler = { name: "sequential", schedulers: [oneCycle(2)], milestones: [] };
  const d = diagnose(syntheticRun([2, 5, 12, 30], { lr: 0.3, config: { scheduler } }));
  assert.deepEqual(kinds(d), ["diverged"]);
  assert.deepEqual(d.findings[0].set, [], "no --set that applyOverrides would refuse");
  assert.match(
    d.findings[0].fix,
    /divide it by 10 \(in the config file, set the maxLr of the sequential's onecycle, scheduler\.schedulers\[0\], to 0\.2: --set cannot reach into a list/,
  );
  assert.doesNotMatch(formatDiagnosis(d), /try:|optimizer\.lr=/);
});

/** Runs whose curves give every kind of finding that suggests a `--set`. */
function findingRuns(config: Record<string, unknown>) {
  const steps = syntheticSteps(100, 10, () => 1);
  const spiky = syntheticSteps(200, 20, (s) => (s === 120 ? 50 : 1 + (s % 3) * 0.1));
  const clipped = steps.map((s) => ({ ...s, clipped: s.step % 4 !== 0 }));
  const overfit = decay(20, 3, 0.01, 0.3);
  const lr = 0.3;
  return [
    syntheticRun([2, 5, 12, 30], { lr, config }),
    syntheticRun([1, 0.995, 0.99, 0.985, 0.98, 0.978], { lr, config }),
    syntheticRun(plateau, { val: plateau.map((v) => v * 1.05), steps, lr, config }),
    syntheticRun(plateau, { val: plateau.map((v) => v * 1.05), lr, config }),
    syntheticRun(plateau, {
      val: plateau.map((v) => v * 1.05),
      accuracy: plateau.map(() => 0.45),
      lr,
      config,
    }),
    syntheticRun([10, 7, 8.5, 5.5, 7, 4, 5.5, 3, 4.2, 2.2, 3.2, 1.5], { lr, config }),
    syntheticRun(overfit, {
      val: overfit.map((_, e) => 0.5 + 0.02 * (e - 6) ** 2),
      lr,
      config: { ...config, earlyStopping: { patience: 100 } },
    }),
    syntheticRun(decay(10), { steps: spiky, lr, config }),
    syntheticRun(decay(10), { steps: clipped, lr, config }),
    syntheticRun([40, 30, 22, 16, 12, 9.05, 5.61], { lr, config }),
    // a divergence after the schedule's rate went negative (under the schedules below that can)
    syntheticRun([2, 5, 12, 30], {
      steps: steps.map((s) => ({ ...s, lr: s.epoch === 2 ? -0.1 : 0.1 })),
      lr,
      config,
    }),
  ];
}

/** A run's schedules, as a user may have written them. */
const schedules: Record<string, unknown>[] = [
  {},
  { scheduler: { name: "step", stepSize: 30, gamma: 0.5 } },
  { scheduler: { name: "cosine", tMax: 50 } },
  { scheduler: { name: "plateau", factor: 0.5, patience: 2 } },
  { scheduler: { name: "warmupCosine", warmupSteps: 10, totalSteps: 100 } },
  { scheduler: oneCycle(2), optimizer: { name: "sgd", lr: 0 } },
  {
    scheduler: { name: "sequential", schedulers: [oneCycle(2)], milestones: [] },
    optimizer: { name: "adam", lr: 0.001 },
  },
  {
    scheduler: {
      name: "sequential",
      schedulers: [{ name: "linear", startFactor: 0.1, totalIters: 10 }, {
        name: "cosine",
        tMax: 90,
      }],
      milestones: [10],
    },
  },
  // settings torch takes that make the rates negative, on their own and inside a sequential
  { scheduler: { name: "step", stepSize: 30, gamma: -0.5 } },
  { scheduler: { name: "cosine", tMax: 50, etaMin: -0.01 } },
  { scheduler: { name: "plateau", factor: -0.5, minLr: -0.01 } },
  {
    scheduler: { ...oneCycle(-2), divFactor: -25, finalDivFactor: -1e4 },
    optimizer: { name: "sgd", lr: 0 },
  },
  {
    scheduler: { name: "sequential", schedulers: [oneCycle(-2)], milestones: [] },
    optimizer: { name: "sgd", lr: 0 },
  },
  {
    scheduler: {
      name: "sequential",
      schedulers: [
        { name: "exponential", gamma: -0.9 },
        { name: "multistep", milestones: [5], gamma: -0.5 },
        { name: "cosineWarmRestarts", t0: 10, etaMin: -0.001 },
      ],
      milestones: [10, 40],
    },
  },
];

Deno.test("every --set that diagnose suggests is one the run's config takes (every finding, every schedule)", () => {
  const seen = new Set<string>();
  const check = (config: Record<string, unknown>, d: Diagnosis) => {
    for (const finding of d.findings) {
      if (!finding.set?.length) continue;
      seen.add(finding.kind);
      if (finding.title.endsWith("went negative")) seen.add(`negative rate: ${finding.set[0]}`);
      try {
        parseConfig(applyOverrides(config, finding.set));
      } catch (error) {
        assert.fail(
          `${finding.kind}'s --set ${finding.set.join(" --set ")} is refused for ` +
            `${JSON.stringify(config.scheduler)}: ${(error as Error).message}`,
        );
      }
    }
  };
  for (const schedule of schedules) {
    for (const run of findingRuns(schedule)) check(run.config, diagnose(run));
  }
  for (
    const kind of [
      "diverged",
      "lrTooLow",
      "plateauEarly",
      "underfitting",
      "oscillating",
      "overfitting",
      "gradientSpikes",
      "healthy",
    ]
  ) assert.ok(seen.has(kind), `no case suggested a --set for ${kind}`);
  // a negative rate's fix, for every schedule above with a setting that makes one
  const negative = [...seen].filter((kind) => kind.startsWith("negative rate: "));
  assert.equal(negative.length, 6, negative.join("\n"));
  assert.equal(negative.filter((kind) => kind.includes("scheduler={")).length, 2);
  // and random curves, with or without validation and steps, under each schedule
  const loss = fc.double({ min: 0.001, max: 100, noNaN: true });
  fc.assert(
    fc.property(
      fc.array(loss, { minLength: 2, maxLength: 20 }),
      fc.boolean(),
      fc.boolean(),
      fc.constantFrom(...schedules),
      (train, withVal, withSteps, schedule) => {
        const val = withVal ? train.map((v, i) => v * (1 + 0.1 * i)) : undefined;
        const steps = withSteps ? syntheticSteps(train.length * 5, 5, (s) => 1 + s % 7) : [];
        const run = syntheticRun(train, { val, steps, config: schedule });
        check(run.config, diagnose(run));
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("healthy, still improving at a low training accuracy: train longer first, and the model's size named in case it stays low", () => {
  const losses = [2.2, 2.0, 1.9, 1.82, 1.76, 1.71, 1.67, 1.63];
  const low = diagnose(syntheticRun(losses, { accuracy: losses.map((_, i) => 0.2 + 0.015 * i) }));
  assert.equal(low.findings[0].title, "healthy, still improving");
  assert.match(
    low.findings[0].fix,
    /training accuracy is only 0\.305: if it stays low, the model may be too small/,
  );
  const fits = diagnose(syntheticRun(losses, { accuracy: losses.map((_, i) => 0.8 + 0.01 * i) }));
  assert.equal(fits.findings[0].title, "healthy, still improving");
  assert.doesNotMatch(fits.findings[0].fix, /too small/);
});

Deno.test("a run not ended (running, killed, interrupted) is read as far as it got: no 'train longer' for the epochs it has still to train", () => {
  const losses = decay(5);
  const config = { epochs: 30 };
  // completed after 5 epochs, still falling: train longer
  const done = diagnose(syntheticRun(losses));
  assert.equal(done.findings[0].title, "healthy, still improving");
  assert.deepEqual(done.findings[0].set, ["epochs=10"]);
  const running = diagnose(syntheticRun(losses, { config, status: "running" }));
  assert.equal(
    running.verdict,
    "healthy: no problem found in 5 epochs (still running: read " +
      "after 5 of its 30 epochs)",
  );
  assert.equal(running.findings[0].title, "healthy so far, still improving");
  assert.equal(running.findings[0].set, undefined);
  assert.match(running.findings[0].fix, /^it is still training: diagnose it again once it ends$/);
  const killed = syntheticRun(losses, { config, status: "crashed" });
  killed.summary.hint = "resume it from its last checkpoint: anneal train --resume synthetic";
  const crashed = diagnose(killed);
  assert.match(crashed.verdict, /\(crashed after 5 of its 30 epochs\)$/);
  assert.equal(
    crashed.findings[0].fix,
    "it ended before its last epoch (crashed): resume it from its last checkpoint: anneal " +
      "train --resume synthetic",
  );
  const stopped = diagnose(syntheticRun(losses, { config, status: "interrupted" }));
  assert.match(stopped.verdict, /\(interrupted after 5 of its 30 epochs\)$/);
  assert.match(stopped.findings[0].fix, /resume it: anneal train --resume synthetic$/);
  // counted in the singular for one: the epochs read and the epochs planned
  const one = diagnose(syntheticRun([2], { config: { epochs: 1 }, status: "crashed" }));
  assert.match(one.verdict, /\(crashed after 1 epoch\)$/);
  const none = diagnose(syntheticRun([2, 1.5], { config: { epochs: 1 }, status: "interrupted" }));
  assert.match(none.verdict, /\(interrupted after 2 epochs\)$/);
  // an early-stopped run ended as planned: read as it is
  const early = diagnose(syntheticRun(losses, { config, status: "stopped" }));
  assert.doesNotMatch(early.verdict, /\(/);
});

Deno.test("a run not ended is advised for the run its config plans, not the epochs it reached, and its trends are read 'so far'", () => {
  const val = plateau.map((v) => v * 1.05);
  const steps = syntheticSteps(100, 10, () => 1);
  // read after 10 of its 30 epochs, 10 steps each: a cosine over its 300 steps, not the 100 taken
  const flat = diagnose(
    syntheticRun(plateau, { val, steps, config: { epochs: 30 }, status: "running" }),
  );
  assert.equal(
    flat.verdict,
    "plateaued early so far (still running: read after 10 of its 30 epochs)",
  );
  assert.deepEqual(flat.findings[0].set, ['scheduler={"name":"cosine","tMax":300}']);
  // ...within its maxSteps
  const capped = diagnose(syntheticRun(plateau, {
    val,
    steps,
    config: { epochs: 30, maxSteps: 150 },
    status: "running",
  }));
  assert.deepEqual(capped.findings[0].set, ['scheduler={"name":"cosine","tMax":150}']);
  // an underfitting run killed after 10 of 30 epochs: twice its 30 epochs, not twice the 10
  const accuracy = plateau.map(() => 0.45);
  const underfit = diagnose(
    syntheticRun(plateau, { val, accuracy, config: { epochs: 30 }, status: "crashed" }),
  );
  assert.equal(
    underfit.findings[0].title,
    "underfitting: training and validation both high " +
      "and flat so far",
  );
  assert.ok(underfit.findings[0].set!.includes("epochs=60"), `${underfit.findings[0].set}`);

  // overfitting, interrupted after 12 of its 50 epochs: a patience of a tenth of 50 epochs
  const train = decay(12, 3, 0.01, 0.3);
  const rising = train.map((_, e) => 0.5 + 0.02 * (e - 6) ** 2);
  const overfit = diagnose(syntheticRun(train, {
    val: rising,
    config: { epochs: 50, earlyStopping: { patience: 100 } },
    status: "interrupted",
  }));
  const finding = overfit.findings.find((x) => x.kind === "overfitting")!;
  assert.equal(finding.title, "overfitting after epoch 6 so far");
  assert.equal(finding.set![0], "earlyStopping.patience=5");
  assert.match(finding.fix, /patience 100 did not run out in the 5 epochs after it so far/);
});

Deno.test("a run not ended is judged against the warmup of the run its config plans: still in a warmup that ends within it, or one that outlasts it", () => {
  const losses = [1, 0.995, 0.99, 0.985, 0.98, 0.978];
  // 6 of its 30 epochs, 10 steps each, at the rates of a warmup to 0.1 over 100 steps
  const steps = syntheticSteps(60, 10, () => 1).map((s) => ({ ...s, lr: 0.1 * s.step / 100 }));
  const warmup = { name: "warmupLinear", warmupSteps: 100, totalSteps: 300 };
  const warming = diagnose(syntheticRun(losses, {
    lr: 0.1,
    steps,
    config: { epochs: 30, scheduler: warmup },
    status: "running",
  }));
  assert.deepEqual(kinds(warming), ["lrTooLow"]);
  const [still] = warming.findings;
  assert.equal(still.title, "the loss barely moved so far: the run is still in its warmup");
  assert.equal(still.severity, "info");
  assert.match(
    still.evidence,
    /; its warmup climbs to optimizer\.lr over scheduler\.warmupSteps 100 steps, and it has trained 60 of them so far, of the 300 steps it is to train$/,
  );
  assert.equal(still.fix, "it is still training: diagnose it again once it ends");
  assert.equal(still.set, undefined);
  // a warmup longer than the whole planned run: shortened to a tenth of the 300 steps
  const long = diagnose(syntheticRun(losses, {
    lr: 0.1,
    steps,
    config: { epochs: 30, scheduler: { ...warmup, warmupSteps: 1000 } },
    status: "crashed",
  }));
  assert.equal(long.findings[0].title, "learning rate too low so far: the warmup outlasts the run");
  assert.deepEqual(long.findings[0].set, ["scheduler.warmupSteps=30"]);
  // the same curves of a run that ended there: its warmup outlasted it, sized by its 60 steps
  const ended = diagnose(syntheticRun(losses, {
    lr: 0.1,
    steps,
    config: { epochs: 30, scheduler: warmup },
    status: "stopped",
  }));
  assert.equal(ended.findings[0].title, "learning rate too low: the warmup outlasted the run");
  assert.deepEqual(ended.findings[0].set, ["scheduler.warmupSteps=6", "scheduler.totalSteps=60"]);
});

/** `run` with its data's task recorded, as `meta.json`'s `dataset` holds it. */
function withTask(run: ReturnType<typeof syntheticRun>, task: string, numClasses?: number) {
  return { ...run, meta: { ...run.meta, dataset: { task, ...(numClasses && { numClasses }) } } };
}

Deno.test("diverged: a classifier's loss stuck at chance level after steps that overshot it is a collapse, a rate too high", () => {
  // a real run (Fashion-MNIST MLP, sgd lr 1.5, batch 16): read as underfitting (more capacity),
  // whose advice left it at chance
  const losses = [2.621, 2.325, 2.323, 2.325, 2.328, 2.331, 2.325, 2.327];
  const accuracy = [0.115, 0.108, 0.099, 0.105, 0.094, 0.094, 0.107, 0.092];
  const steps = (peak: number) =>
    syntheticSteps(80, 10, () => 1).map((s) => ({
      ...s,
      lr: 1.5,
      loss: s.step === 16 ? peak : 2.3,
    }));
  const run = (peak: number) =>
    withTask(syntheticRun(losses, { lr: 1.5, accuracy, steps: steps(peak) }), "classification", 10);
  const d = diagnose(run(12.32));
  assert.deepEqual(kinds(d), ["diverged"]);
  assert.equal(d.findings[0].title, "diverged: collapsed to chance level, learning rate too high");
  assert.deepEqual(d.findings[0].set, ["optimizer.lr=0.15"]);
  assert.match(
    d.findings[0].evidence,
    /sat at chance level from epoch 4 on \(2\.327 at epoch 7; ln 10 = 2\.303 .* accuracy ended at 0\.092\), after steps that overshot it \(12\.32 at step 16, epoch 1\)/,
  );
  // no step above chance: a rate too low, whose loss also stays near ln K, is not read as one
  assert.ok(!kinds(diagnose(run(2.35))).includes("diverged"));
  // nor a start above it that came down (initial weights, not updates, made the loss large)
  const fromHigh = withTask(
    syntheticRun(losses, {
      lr: 1.5,
      accuracy,
      steps: steps(12.32).map((s) => s.step < 16 ? { ...s, loss: 12.5 - s.step * 0.6 } : s),
    }),
    "classification",
    10,
  );
  assert.ok(!kinds(diagnose(fromHigh)).includes("diverged"));
  // nor a loss whose chance level is unknown: a regression's, or a record without its task
  const regression = withTask(syntheticRun(losses, { lr: 1.5, steps: steps(12.32) }), "regression");
  assert.ok(!kinds(diagnose(regression)).includes("diverged"));
  assert.ok(
    !kinds(diagnose(syntheticRun(losses, { lr: 1.5, steps: steps(12.32) }))).includes("diverged"),
  );
  // a binary classifier's chance level is ln 2
  const binary = withTask(
    syntheticRun([0.75, 0.694, 0.695, 0.693, 0.694, 0.693], {
      lr: 1,
      steps: syntheticSteps(60, 10, () => 1).map((s) => ({
        ...s,
        lr: 1,
        loss: s.step === 3 ? 5 : 0.7,
      })),
    }),
    "binary",
  );
  assert.match(diagnose(binary).findings[0].evidence, /ln 2 = 0\.6931/);
});

Deno.test("a slow, even descent is a rate too low, whatever its share; a fall that slowed down is not", () => {
  // a real run (Fashion-MNIST MLP, Adam at 1e-5): -5.6% in 8 epochs, each faster than the one
  // before, training accuracy 0.31; read as healthy (train longer, the model may be too small)
  const d = diagnose(
    syntheticRun([2.3018, 2.2859, 2.2701, 2.2537, 2.2357, 2.2163, 2.1954, 2.1733], { lr: 1e-5 }),
  );
  assert.deepEqual(kinds(d), ["lrTooLow"]);
  assert.equal(d.findings[0].title, "learning rate too low: the loss falls slowly and evenly");
  assert.deepEqual(d.findings[0].set, ["optimizer.lr=0.0001"]);
  assert.match(
    d.findings[0].evidence,
    /a 5\.583% drop \(under 20%\), at an even pace to the end: 0\.0624 off in its second half against 0\.0661/,
  );
  // the same share of fall, mostly in its first epochs, then levelling off
  assert.ok(
    !kinds(diagnose(syntheticRun([1, 0.9, 0.86, 0.85, 0.845, 0.843]))).includes("lrTooLow"),
  );
});

Deno.test("a regression jittering at its targets' noise floor is no rate too low and no zig-zag", () => {
  // a real run (synthetic-linear, noise 20, sgd 0.01): read as lr too low (x10, which ended
  // higher), and at 10 epochs as oscillating
  const floor = [403.77, 400.66, 400.8, 400.64, 400.9, 400.96, 401, 400.8, 400.78, 400.44];
  const d = diagnose(withTask(syntheticRun(floor), "regression"));
  assert.ok(!kinds(d).includes("lrTooLow") && !kinds(d).includes("oscillating"), d.verdict);
  const higher = [410.11, 409.41, 406.14, 406.81, 408.78, 408.67, 408.56, 409.95, 409.95, 408.55];
  const flat = diagnose(withTask(syntheticRun(higher, { lr: 0.1 }), "regression"));
  assert.deepEqual(kinds(flat), ["underfitting"]);
  assert.equal(flat.findings[0].title, "underfitting: the training loss high and flat");
  assert.match(flat.findings[0].fix, /with noisy targets, this may be their noise floor/);
});

Deno.test("a schedule that cut the rate before the loss levelled off is blamed, not the model's capacity", () => {
  // a real run (sgd 0.05, step decay by 0.01 every 2 epochs): read as underfitting (more
  // capacity), which did not help
  const losses = [2.2555, 2.0755, 1.9089, 1.9047, 1.9025, 1.9024, 1.9024, 1.9024, 1.9024, 1.9024];
  const steps = syntheticSteps(100, 10, () => 1).map((s) => ({
    ...s,
    lr: 0.05 * 0.01 ** Math.floor(s.epoch / 2),
  }));
  const d = diagnose(
    syntheticRun(losses, {
      lr: 0.05,
      steps,
      accuracy: losses.map(() => 0.5),
      val: losses.map((l) => l + 0.01),
    }),
  );
  assert.deepEqual(kinds(d), ["plateauEarly"]);
  assert.equal(d.findings[0].title, "plateaued early: the schedule decayed the rate too soon");
});

Deno.test("a plateau under a schedule that decays already asks for a longer run, not the decay it has", () => {
  // (a run under warmupCosine over its steps was told to add a cosine over the same steps, and
  // that run again was told the same)
  const losses = [2, 1.2, 1.0, 0.95, 0.949, 0.948, 0.9475, 0.9474];
  const steps = syntheticSteps(80, 10, () => 1).map((s) => ({
    ...s,
    lr: 0.001 * 0.5 * (1 + Math.cos(Math.PI * s.step / 80)),
  }));
  const config = { scheduler: { name: "cosine", tMax: 80, interval: "step" } };
  const d = diagnose(syntheticRun(losses, { lr: 0.001, steps, config }));
  assert.deepEqual(kinds(d), ["plateauEarly"]);
  assert.equal(d.findings[0].title, "plateaued early under a decaying schedule");
  assert.deepEqual(d.findings[0].set, ["epochs=16", "scheduler.tMax=160"]);
  // without the schedule, the decay is the fix
  const flat = diagnose(syntheticRun(losses, { lr: 0.001 }));
  assert.match(flat.findings[0].set![0], /^scheduler=\{"name":"cosine"/);
});

Deno.test("a short run whose loss still fell at its end has not plateaued", () => {
  // a real run (warmupCosine, 6 epochs): -13% in its last two epochs, read as a plateau because
  // its first steps' loss (2.3) made the drop large against them
  const losses = [1.9611, 0.972, 0.7474, 0.6496, 0.5851, 0.566];
  const steps = syntheticSteps(60, 10, () => 1).map((s) => ({
    ...s,
    loss: s.step < 3 ? 2.3 : losses[s.epoch],
  }));
  assert.ok(!kinds(diagnose(syntheticRun(losses, { steps }))).includes("plateauEarly"));
});

Deno.test("a loss that rises in the epochs whose rate a warm restart raised is no zig-zag", () => {
  // a real run (sgd 0.1, momentum 0.9, cosineWarmRestarts t0 44 at 22 steps an epoch)
  const losses = [1.7735, 1.0005, 0.8305, 0.6825, 0.6707, 0.569, 0.605, 0.4805, 0.7113, 0.4959];
  assert.ok(kinds(diagnose(syntheticRun(losses, { lr: 0.1 }))).includes("oscillating"));
  const steps = syntheticSteps(220, 22, () => 1).map((s) => ({
    ...s,
    lr: 0.1 * 0.5 * (1 + Math.cos(Math.PI * (s.step % 44) / 44)),
  }));
  const d = diagnose(syntheticRun(losses, { lr: 0.1, steps }));
  assert.ok(!kinds(d).includes("oscillating"), d.verdict);
});

Deno.test("a classifier's loss at its labels' entropy is read as the class frequencies learnt, not a plateau; without the counts, or below it, as before", () => {
  // 9 of 10 rows one class: entropy 0.3251; the loss came down to it and stayed
  const atPrior = (losses: number[], counts: number[] | null = [90, 10]) => {
    const run = syntheticRun(losses, { config: { model: { kind: "mlp", hidden: [16] } } });
    run.meta.dataset = {
      task: "classification",
      numClasses: 2,
      ...(counts && { classCounts: counts }),
    };
    return diagnose(run);
  };
  const losses = [0.9, 0.5, 0.36, 0.33, 0.327, 0.3255, 0.3252, 0.3251];
  const d = atPrior(losses);
  assert.deepEqual(kinds(d), ["underfitting"]);
  assert.equal(
    d.findings[0].title,
    "learnt only the class frequencies: the loss sits at the labels' entropy",
  );
  assert.match(
    d.findings[0].evidence,
    /the entropy of the training labels' frequencies \(0\.3251:/,
  );
  assert.deepEqual(d.findings[0].set, ["model.hidden=[32]"]);
  // an older record, without the counts: as before
  assert.notEqual(atPrior(losses, null).findings[0].title, d.findings[0].title);
  // a loss that went below it learnt something of the features
  const below = atPrior([0.9, 0.5, 0.36, 0.33, 0.31, 0.3, 0.29, 0.28]);
  assert.ok(below.findings.every((finding) => finding.title !== d.findings[0].title));
});

Deno.test("a classifier of unbalanced classes collapsed at its labels' entropy after steps that overshot it diverged, as one at ln K", () => {
  // 9 of 10 rows one class: it sits at their entropy (0.3251), not at ln 2, once collapsed; it
  // read "blew up early" and "learnt only the class frequencies: give it capacity"
  const level = -(0.9 * Math.log(0.9) + 0.1 * Math.log(0.1));
  const losses = [level * 1.9, level * 1.001, level, level * 1.0005, level, level];
  const steps = Array.from({ length: 60 }, (_, s) => ({
    step: s,
    epoch: Math.floor(s / 10),
    loss: s < 10 ? (s === 3 ? level * 30 : level * 1.5) : losses[Math.floor(s / 10)],
    lr: 0.5,
    gradNorm: 1,
  }));
  const run = syntheticRun(losses, {
    steps,
    lr: 0.5,
    config: { optimizer: { name: "adam", lr: 0.5 } },
  });
  run.meta.dataset = { task: "classification", numClasses: 2, classCounts: [90, 10] };
  const d = diagnose(run);
  assert.deepEqual(kinds(d), ["diverged"]);
  assert.equal(d.verdict, "diverged: collapsed to chance level, learning rate too high");
  assert.match(
    d.findings[0].evidence,
    /0\.3251 is the entropy of the training labels' frequencies/,
  );
  assert.deepEqual(d.findings[0].set, ["optimizer.lr=0.05"]);
});

Deno.test("a classifier's step losses at 4x its first, a binary cross-entropy far above ln 2, blew up early (under a regression's 10x)", () => {
  // Adam at lr 1 on the churn example: steps 0.76, 2.64, 1.71, 3.16, ..., then a loss of 0.49
  // read "healthy, stopped early while the training loss still fell"
  const early = [0.7625, 2.641, 1.708, 3.156, 1.283, 1.593, 2.497, 1.227, 2.216, 1.461];
  const losses = [1.881, 0.9, 0.7, 0.62, 0.58, 0.55, 0.53, 0.515, 0.5, 0.492];
  const run = (stepLosses: number[], task?: string) => {
    const steps = Array.from({ length: 100 }, (_, s) => ({
      step: s,
      epoch: Math.floor(s / 10),
      loss: s < 10 ? stepLosses[s] : losses[Math.floor(s / 10)],
      lr: 1,
      gradNorm: 1,
    }));
    const record = syntheticRun(losses, {
      steps,
      lr: 1,
      config: { batchSize: 32, optimizer: { name: "adam", lr: 1 } },
    });
    if (task) record.meta.dataset = { task, classCounts: [150, 150] };
    return diagnose(record);
  };
  const blown = run(early, "binary");
  assert.equal(
    blown.findings[0].title,
    "the loss blew up early and came back: learning rate too high",
  );
  assert.match(
    blown.findings[0].evidence,
    /rose to 3\.156 at step 3 \(epoch 0\), 4\.139x its first steps' 0\.7625/,
  );
  assert.deepEqual(blown.findings[0].set, ["optimizer.lr=0.1"]);
  // a regression's squared error swings more between batches: 4x is not a blow-up there
  assert.ok(run(early).findings.every((finding) => finding.kind !== "diverged"));
  // a classifier whose first step sat below chance level is measured from chance level: a rise
  // to 4x that low start, 1.7x ln 2, is not a blow-up; one to 4.6x ln 2 is
  const low = [0.3, 1.2, 0.9, 1.1, 0.8, 0.7, 0.72, 0.69, 0.7, 0.68];
  assert.ok(run(low, "binary").findings.every((finding) => finding.kind !== "diverged"));
  const fromChance = run([0.3, 3.156, ...low.slice(2)], "binary");
  assert.match(
    fromChance.findings[0].evidence,
    /4\.553x chance level \(ln 2 = 0\.6931: a uniform guess's loss\)/,
  );
  // lr 0.01's steps on the same data stay within 1.1x of the first: no finding
  const calm = [0.763, 0.822, 0.761, 0.733, 0.748, 0.708, 0.697, 0.688, 0.701, 0.677];
  assert.ok(run(calm, "binary").findings.every((finding) => finding.kind !== "diverged"));
});

Deno.test("a plateau under onecycle with optimizer.baseBatch suggests the optimizer.lr that scales to the peak, by the run's rule", () => {
  // (it suggested optimizer.lr=0.01, the peak itself, which baseBatch would have scaled to 0.02)
  const losses = [2.0, 1.2, 1.0, 0.95, 0.94, 0.94, 0.939, 0.939, 0.9389, 0.9389];
  const plateau = (optimizer: Record<string, unknown>) => {
    const run = syntheticRun(losses, {
      val: losses.map((l) => l * 1.01),
      lr: 0.01,
      config: {
        batchSize: 16,
        optimizer: { name: "adam", lr: 0.001, baseBatch: 4, ...optimizer },
        scheduler: { name: "onecycle", maxLr: 0.01, totalSteps: 100 },
      },
    });
    return diagnose(run).findings[0].set;
  };
  // sqrt(16 / 4) = 2, as a run records adam's rule; a record without one is an older anneal's,
  // which scaled linearly (16 / 4)
  assert.ok(plateau({ batchScaling: "sqrt" })?.includes("optimizer.lr=0.005"));
  assert.ok(plateau({})?.includes("optimizer.lr=0.0025"));
});

Deno.test("clipping too tight: most steps clipped far below their norms is the clip's to fix, not the rate's (sgd: no 'rate too low')", () => {
  // sgd at 0.05 clipped at 0.001 against norms of ~5: a loss that crawls (7.73 to 7.61)
  const losses = Array.from({ length: 30 }, (_, e) => 7.734 - 0.0044 * e);
  const steps = syntheticSteps(300, 10, (s) => 5 + (s % 7) / 7).map((s) => ({
    ...s,
    clipped: true,
  }));
  const config = { clipping: { maxNorm: 0.001, spikeFactor: 10 } };
  const d = diagnose(syntheticRun(losses, { steps, lr: 0.05, config }));
  assert.deepEqual(kinds(d), ["gradientSpikes"], d.verdict);
  assert.equal(
    d.findings[0].title,
    "clipping too tight: most steps clipped, far below their gradient norms",
  );
  assert.match(d.findings[0].evidence, /100% of steps were clipped; the gradient norms' median/);
  assert.match(d.findings[0].evidence, /moved the weights lr x 0\.001 at most/);
  assert.deepEqual(d.findings[0].set, ["clipping.maxNorm=5.9"]);
  // an adaptive optimizer's update undoes the clip's rescaling (adam divides by the gradients'
  // own scale, lion takes their sign): its steps keep their size, nothing to fix
  for (const name of ["adam", "adamw", "lion", "rmsprop"]) {
    const adaptive = diagnose(syntheticRun(decay(30), {
      steps,
      config: { ...config, optimizer: { name, lr: 0.01 } },
    }));
    assert.deepEqual(kinds(adaptive), ["healthy"], `${name}: ${adaptive.verdict}`);
  }
  // a clip near the norms (2x under) still asks for a smaller rate, as before
  const near = diagnose(syntheticRun(decay(10), {
    steps: syntheticSteps(100, 10, () => 2).map((s) => ({ ...s, clipped: true })),
    lr: 0.4,
    config: { clipping: { maxNorm: 1, spikeFactor: 10 } },
  }));
  assert.deepEqual(near.findings[0].set, ["optimizer.lr=0.2"]);
});

Deno.test("heavy weight decay is named, its fix a usual value, and regularising more never raises it past the usual range", () => {
  // adam with L2 1: a noisy loss at 0.7 (0.1 without it), read as "overfitting: weightDecay=10"
  const noisy = (level: number, amp: number) =>
    Array.from(
      { length: 30 },
      (_, e) => (e < 3 ? level * (4 - e) : level + amp * Math.sin(e * 2.3)),
    );
  const config = { optimizer: { name: "adam", lr: 0.01, weightDecay: 1 } };
  const d = diagnose(syntheticRun(noisy(0.72, 0.04), { val: noisy(0.6, 0.1), config }));
  assert.deepEqual(kinds(d), ["underfitting"], d.verdict);
  assert.equal(d.findings[0].title, "weight decay far past the usual range");
  assert.match(
    d.findings[0].evidence,
    /optimizer\.weightDecay is 1 with adam \(L2 added to the gradient\)/,
  );
  assert.deepEqual(d.findings[0].set, ["optimizer.weightDecay=0.0001"]);
  // decoupled: adamw's past 1, lion's past 10; adamw's 0.1 is usual
  const adamw = (weightDecay: number, name = "adamw") =>
    kinds(
      diagnose(syntheticRun(decay(30), { config: { optimizer: { name, lr: 1e-3, weightDecay } } })),
    );
  assert.deepEqual(adamw(50), ["underfitting"]);
  assert.deepEqual(adamw(0.1), ["healthy"]);
  assert.deepEqual(adamw(5, "lion"), ["healthy"]);
  assert.deepEqual(adamw(10, "lion"), ["underfitting"]);
  // an overfit of an adam at weightDecay 0.02: 10x that is past the range, so not suggested
  const overfit = diagnose(syntheticRun(decay(20, 10, 0.1), {
    val: [...decay(10, 10, 0.3), 0.32, 0.34, 0.36, 0.38, 0.4, 0.42, 0.44, 0.46, 0.48, 0.5],
    config: { optimizer: { name: "adam", lr: 0.01, weightDecay: 0.02 } },
  }));
  assert.deepEqual(kinds(overfit), ["overfitting"]);
  assert.ok(!overfit.findings[0].set!.some((s) => s.startsWith("optimizer.weightDecay")));
});

Deno.test("overfitting: a validation loss below the training loss is none, and dropout past 0.5 is never 'more' at 0.5", () => {
  // dropout 0.9: the training loss (dropout on) at 3, the validation loss at 1.2 and noisy
  const train = Array.from({ length: 30 }, (_, e) => 3 + 3 * Math.exp(-e / 3));
  const val = Array.from(
    { length: 30 },
    (_, e) => 1.2 + 3 * Math.exp(-e / 3) + (e === 29 ? 0.35 : 0),
  );
  const config = { model: { kind: "mlp", hidden: [32], dropout: 0.9 } };
  const d = diagnose(syntheticRun(train, { val, config }));
  assert.ok(!kinds(d).includes("overfitting"), d.verdict);
  const dropout = d.findings.find((x) => x.title.startsWith("dropout too strong"));
  assert.ok(dropout, d.verdict);
  assert.deepEqual(dropout.set, ["model.dropout=0.45"]);
  // a real overfit at dropout 0.6: early stopping and weight decay, no dropout of 0.5
  const over = diagnose(syntheticRun(decay(20, 10, 0.1), {
    val: [...decay(10, 10, 0.3), 0.32, 0.34, 0.36, 0.38, 0.4, 0.42, 0.44, 0.46, 0.48, 0.5],
    config: { model: { kind: "mlp", hidden: [32], dropout: 0.6 } },
  }));
  const finding = over.findings.find((x) => x.kind === "overfitting");
  assert.ok(finding, over.verdict);
  assert.ok(!finding.set!.some((s) => s.startsWith("model.dropout")), finding.set!.join(" "));
});

Deno.test("overfitting: a training loss that fell to nothing while the validation loss got no better is memorising, under a 10% rise", () => {
  const train = Array.from({ length: 60 }, (_, e) => 2 * Math.exp(-e / 2.5));
  const val = Array.from(
    { length: 60 },
    (_, e) => (e < 13 ? 1.2 - 0.02 * e : 0.94 + 0.09 * (1 - Math.exp(-(e - 13) / 4))),
  );
  const d = diagnose(syntheticRun(train, { val }));
  assert.deepEqual(kinds(d), ["overfitting"], d.verdict);
  assert.equal(d.findings[0].title, "overfitting after epoch 13");
});

Deno.test("a validation loss that never beat a model ignoring the features is said, where it read 'healthy: tracks it'", () => {
  // three balanced classes of random labels: the training loss creeps under ln 3, the
  // validation loss stays above what predicting the frequencies scores on its rows
  const train = Array.from({ length: 30 }, (_, e) => 1.12 - 0.0035 * e);
  const val = Array.from({ length: 30 }, (_, e) => 1.12 + 0.0015 * e + (e % 3) * 0.005);
  const run = syntheticRun(train, { val, config: { optimizer: { name: "adam", lr: 0.01 } } });
  run.meta.dataset = {
    task: "classification",
    numClasses: 3,
    classCounts: [240, 240, 240],
    validationBaseline: 1.0995,
  };
  const d = diagnose(run);
  assert.deepEqual(kinds(d), ["overfitting"], d.verdict);
  assert.match(d.findings[0].title, /^nothing learnt carries to validation/);
  assert.match(
    d.findings[0].evidence,
    /at best 1\.12 \(epoch 0\), never below 1\.099, the loss of predicting/,
  );
  // without the recorded baseline (an older record) nothing is claimed of it, and healthy's
  // evidence does not say the validation loss "tracks" a training loss it never followed
  delete (run.meta.dataset as Record<string, unknown>).validationBaseline;
  const older = diagnose(run);
  assert.doesNotMatch(older.findings.map((x) => x.evidence).join(" "), /tracks it/);
  // a validation loss well under the baseline: no such finding
  (run.meta.dataset as Record<string, unknown>).validationBaseline = 1.3;
  assert.ok(!diagnose(run).findings.some((x) => x.title.startsWith("nothing learnt")));
});

Deno.test("a regression at its targets' variance learnt only the mean; one far above it is worse than the mean, with unscaled features named", () => {
  const flat = Array.from({ length: 30 }, (_, e) => (e < 2 ? 9 - e : 7.11 + 0.01 * Math.sin(e)));
  const run = syntheticRun(flat, { config: { optimizer: { name: "adam", lr: 0.01 } } });
  run.meta.dataset = { task: "regression", targetVariance: 7.14 };
  const d = diagnose(run);
  assert.deepEqual(kinds(d), ["underfitting"], d.verdict);
  assert.equal(d.findings[0].title, "learnt only the mean: the loss sits at the targets' variance");
  // far above it, normalization off: the features' scale is the fix, not the rate
  const worse = syntheticRun(decay(30, 1e6, 1200), {
    config: {
      optimizer: { name: "adam", lr: 0.01 },
      data: { kind: "csv", path: "x.csv", target: "y", normalize: "none" },
    },
  });
  worse.meta.dataset = { task: "regression", targetVariance: 10 };
  const w = diagnose(worse);
  assert.deepEqual(kinds(w), ["underfitting"], w.verdict);
  assert.equal(w.findings[0].title, "worse than predicting the mean");
  assert.deepEqual(w.findings[0].set, ["data.normalize=standard"]);
  // (a record without the variance, an older anneal's: neither is said)
  delete (worse.meta.dataset as Record<string, unknown>).targetVariance;
  assert.ok(!diagnose(worse).findings.some((x) => x.title === "worse than predicting the mean"));
});

Deno.test("a classifier far above the loss of predicting its labels' frequencies is worse than them, with unscaled features named; near it, not", () => {
  // (features of scale 1e6: a 3-class classifier's loss fell from 18710 to ~900 at chance
  // accuracy, read as "healthy")
  const losses = [18710, 2278, 1036, 883, 691, 533, 639, 592, 628, 701, 518, 541, 701, 690, 884];
  const config = {
    optimizer: { name: "adam", lr: 0.001 },
    data: { kind: "csv", path: "x.csv", target: "y", normalize: "none" },
  };
  const run = syntheticRun(losses, { config });
  run.meta.dataset = { task: "classification", numClasses: 3, classCounts: [400, 400, 400] };
  const d = diagnose(run);
  assert.deepEqual(kinds(d), ["underfitting"], d.verdict);
  assert.equal(d.findings[0].title, "worse than predicting the class frequencies");
  assert.match(
    d.findings[0].evidence,
    /ended at 884 \(epoch 14\), 804\.7x the loss of predicting the training labels' frequencies for every row \(1\.099\)/,
  );
  assert.deepEqual(d.findings[0].set, ["data.normalize=standard"]);
  // without the counts, against a uniform guess's ln 3; normalized, the rate is the fix
  delete (run.meta.dataset as Record<string, unknown>).classCounts;
  const normalized = syntheticRun(losses, { config: { optimizer: { name: "adam", lr: 0.001 } } });
  normalized.meta.dataset = { task: "classification", numClasses: 3 };
  const n = diagnose(normalized);
  assert.equal(n.findings[0].title, "worse than predicting the class frequencies");
  assert.match(n.findings[0].fix, /lower the learning rate/);
  assert.deepEqual(n.findings[0].set, ["optimizer.lr=0.0001"]);
  // a classifier whose loss ends under twice its baseline is not said to be worse than it
  const near = syntheticRun(decay(15, 5, 2), { config });
  near.meta.dataset = { task: "classification", numClasses: 3 };
  assert.ok(
    !diagnose(near).findings.some((x) => x.title.startsWith("worse than predicting")),
    diagnose(near).verdict,
  );
});

Deno.test("a first epoch that diverged with normalization off asks for standardized features before a smaller rate", () => {
  const run = syntheticRun([Infinity], {
    steps: [{ step: 1, epoch: 0, lr: 0.001, loss: Infinity, gradNorm: 1e12 }],
    config: { data: { kind: "csv", path: "x.csv", target: "y", normalize: "none" } },
    status: "diverged",
  });
  const d = diagnose(run);
  assert.equal(d.findings[0].title, "diverged in the first epoch: the features are not scaled");
  assert.deepEqual(d.findings[0].set, ["data.normalize=standard"]);
  // with normalization on, the rate as before
  run.config = { ...run.config, data: { kind: "csv", path: "x.csv", target: "y" } };
  assert.deepEqual(diagnose(run).findings[0].set, ["optimizer.lr=0.001"]);
});

Deno.test("a schedule that took the rate to nothing by the run's middle is a plateau whatever the loss's level", () => {
  // step decay 0.01 every 2 epochs: 1e-4 x lr by epoch 2; the loss frozen at 0.43 (of 5)
  const losses = [5, 1.2, 0.6, ...Array(27).fill(0.43)].map((v, e) =>
    v + (e > 2 ? 1e-4 * (e % 2) : 0)
  );
  const steps = Array.from({ length: 300 }, (_, s) => ({
    step: s,
    epoch: Math.floor(s / 10),
    lr: 0.01 * 0.01 ** Math.floor(s / 20),
    gradNorm: 1,
  })) as never;
  const d = diagnose(syntheticRun(losses, {
    steps,
    config: { scheduler: { name: "step", stepSize: 20, gamma: 0.01 } },
  }));
  assert.deepEqual(kinds(d), ["plateauEarly"], d.verdict);
  assert.equal(d.findings[0].title, "plateaued early: the schedule decayed the rate too soon");
});

Deno.test("a warmup that outlasted a run whose loss fell is said, not 'train longer' with the warmup stretched too", () => {
  const steps = Array.from({ length: 600 }, (_, s) => ({
    step: s,
    epoch: Math.floor(s / 20),
    lr: 0.01 * (s + 1) / 5000,
    gradNorm: 1,
  })) as never;
  const d = diagnose(syntheticRun(decay(30), {
    steps,
    config: { scheduler: { name: "warmupCosine", warmupSteps: 5000, totalSteps: 6000 } },
  }));
  assert.deepEqual(kinds(d), ["lrTooLow"], d.verdict);
  assert.equal(
    d.findings[0].title,
    "the warmup outlasted the run: its rate never reached optimizer.lr",
  );
  assert.ok(
    !d.findings[0].set!.some((s) => s === "scheduler.warmupSteps=10000"),
    d.findings[0].set!.join(" "),
  );
});

Deno.test("a loss that ended above its start, never clearly below it, made no progress: not healthy, nor 'fell ... (--4.9%)'", () => {
  const d = diagnose(syntheticRun([6.8, 6.9, 6.7, 7.1, 6.9, 7.136], {
    status: "stopped",
    stopReason: "early stopping: valLoss did not improve for 3 epochs",
  }));
  assert.deepEqual(kinds(d), ["plateauEarly"], d.verdict);
  assert.equal(d.findings[0].title, "no progress: the training loss ended above where it started");
  assert.match(
    d.findings[0].evidence,
    /went from 6\.8 at epoch 0 to 7\.136 at epoch 5 \(\+4\.941%\), never lower than 6\.7/,
  );
  // a healthy run's evidence of a loss that rose at its end within its fall still says "fell"
  assert.doesNotMatch(d.findings.map((x) => x.evidence).join(" "), /--/);
});

Deno.test("an epoch whose loss is no number while every recorded step is finite (a rollback on WebGPU undid all its steps) is no NaN divergence", () => {
  const losses = [2, 1.6, 1.3, 1.1, 1.0, 0.95];
  const steps = syntheticSteps(12, 2, () => 1);
  const undone = syntheticRun(losses, { steps });
  undone.epochs[5].loss = NaN; // (null in epochs.ndjson)
  const read = diagnose(undone);
  assert.ok(!read.findings.some((f) => /NaN/.test(f.evidence)), JSON.stringify(read.findings));
  // a step's NaN loss is one
  const nan = syntheticRun(losses, {
    steps: steps.map((s, i) => i === 11 ? { ...s, loss: NaN } : s),
  });
  nan.epochs[5].loss = NaN;
  assert.match(diagnose(nan).findings[0].evidence, /the loss became NaN at step 11 \(epoch 5\)/);
});

Deno.test("a validation loss that ended no lower than it began while the training loss fell is no gain on validation, not 'healthy, tracks it' nor a run to train longer", () => {
  // one training row (a split of 0.99): validation up every epoch, under the 10% turn
  const one = syntheticRun([4.266, 2, 1.2], { val: [8.664, 8.717, 8.781] });
  one.meta.dataset = { task: "regression", validationSize: 63 };
  const d = diagnose(one);
  assert.deepEqual(kinds(d), ["overfitting"], d.verdict);
  const [finding] = d.findings;
  assert.equal(
    finding.title,
    "no gain on validation: its loss ended above its first epoch's while the training loss fell",
  );
  assert.equal(
    finding.evidence,
    "validation loss 8.781 at epoch 2 against 8.664 at epoch 0, while the training loss fell " +
      "from 4.266 to 1.2 (-71.87%); 63 validation rows judge it",
  );
  assert.match(finding.fix, /^training longer would not help/);
  assert.match(finding.fix, /a larger data\.validationSplit/);
  assert.doesNotMatch(finding.fix, /stop at about/);
  assert.ok(!d.findings.some((x) => x.kind === "healthy"));
  // random labels on a small split: lowest at epoch 4, back at its start by the end, the
  // training loss down 12.6%
  const train = Array.from({ length: 12 }, (_, e) => 0.96 + 0.14 * Math.exp(-e / 3));
  const val = [1.094, 1.08, 1.07, 1.06, 1.053, 1.06, 1.07, 1.075, 1.08, 1.085, 1.09, 1.095];
  const random = syntheticRun(train, {
    val,
    config: { optimizer: { name: "adam", lr: 0.01 } },
  });
  random.epochs.forEach((epoch, i) => epoch.valAccuracy = i === 11 ? 0.3 : 0.33);
  random.meta.dataset = {
    task: "classification",
    numClasses: 3,
    classCounts: [80, 80, 80],
    validationSize: 60,
  };
  const r = diagnose(random);
  assert.deepEqual(kinds(r), ["overfitting"], r.verdict);
  assert.match(r.findings[0].evidence, /against 1\.094 at epoch 0 \(lowest 1\.053 at epoch 4\)/);
  assert.match(r.findings[0].evidence, /validation accuracy 0\.3, against 0\.3333 for always/);
  assert.match(r.findings[0].fix, /stop at about epoch 4 \(earlyStopping\)/);
  // what stays healthy: a validation loss that ends below its start; a model that had
  // converged in its first epoch (the training loss flat since: its first epoch's mean held the
  // steps before); a rise in the last epoch alone
  for (
    const [losses, validation] of [
      [[2, 1.5, 1.2, 1, 0.9], [1.6, 1.3, 1.1, 1.05, 1.0]],
      [[2, 0.5, 0.5, 0.499, 0.5], [0.5, 0.5, 0.51, 0.5, 0.505]],
      [[2, 1.5, 1.2, 1, 0.9], [1.6, 1.3, 1.1, 1.0, 1.7]],
    ]
  ) {
    const ok = diagnose(syntheticRun(losses, { val: validation }));
    assert.ok(
      !ok.findings.some((x) => x.title.startsWith("no gain on validation")),
      `${validation}: ${ok.verdict}`,
    );
  }
});

Deno.test("healthy: a loss up by more than a still-falling epoch's share in its last epoch is said to rise, not to level off", () => {
  const d = diagnose(syntheticRun([...decay(12), decay(12).at(-1)! * 1.076]));
  assert.deepEqual(kinds(d), ["healthy"], d.verdict);
  assert.match(
    d.findings[0].evidence,
    /and rose in the last epoch \(0\.7354 to 0\.7913, \+7\.6%\)$/,
  );
  // a rise within a still-falling epoch's share is a level
  const level = diagnose(syntheticRun([...decay(12), decay(12).at(-1)! * 1.01]));
  assert.match(level.findings[0].evidence, /and levelled off \(\+1% in the last epoch\)/);
});

Deno.test("a patience of 0 that stopped a run whose validation loss was still at its lowest is told to give it more, not to regularise", () => {
  const losses = [1.2, 0.9, 0.75, 0.68];
  const val = [1.0, 0.85, 0.76, 0.7088];
  const reason = "early stopping: valAccuracy did not improve for 1 epoch (best 0.75 at epoch 2)";
  const run = (patience: number) =>
    diagnose(syntheticRun(losses, {
      val,
      status: "stopped",
      stopReason: reason,
      config: { epochs: 10, earlyStopping: { patience, monitor: "valAccuracy" } },
    }));
  const d = run(0);
  assert.deepEqual(kinds(d), ["healthy"], d.verdict);
  assert.equal(
    d.findings[0].title,
    "healthy, stopped early by a patience of 0 while it still improved",
  );
  assert.match(d.findings[0].fix, /a patience of 0 stops at the first epoch/);
  assert.deepEqual(d.findings[0].set, ["earlyStopping.patience=3"]);
  assert.doesNotMatch(d.findings[0].fix, /regularise/);
  // a patience that had room: as before (the watched metric stopped improving)
  assert.doesNotMatch(run(3).findings[0].title, /patience/);
});

Deno.test("a longer run whose loss falls in a straight line, 21% in 50 epochs, has a rate too low, not 'healthy, train longer' again and again", () => {
  // the seed at lr 1e-4: 0.077 an epoch throughout (100 epochs took it 38%, the same again)
  const straight = Array.from({ length: 50 }, (_, e) => 17.87 - 0.077 * e);
  const d = diagnose(syntheticRun(straight, { lr: 1e-4 }));
  assert.deepEqual(kinds(d), ["lrTooLow"], d.verdict);
  assert.equal(d.findings[0].title, "learning rate too low: the loss falls slowly and evenly");
  assert.match(d.findings[0].evidence, /a 21\.11% drop \(under 50%\), at an even pace to the end/);
  assert.deepEqual(d.findings[0].set, ["optimizer.lr=0.001"]);
  // a curve that slows down (its second half a fifth of its first), or a run of a few epochs,
  // is read as before
  const bending = Array.from({ length: 50 }, (_, e) => 14 + 3.87 * Math.exp(-e / 15));
  assert.ok(!kinds(diagnose(syntheticRun(bending, { lr: 1e-4 }))).includes("lrTooLow"));
  const short = Array.from({ length: 8 }, (_, e) => 17.87 - 0.6 * e);
  assert.ok(!kinds(diagnose(syntheticRun(short, { lr: 1e-4 }))).includes("lrTooLow"));
});

Deno.test("oscillating under heavy dropout, the training loss above the validation loss, is the masks' noise: lower the dropout, not the rate", () => {
  const losses = [1, 0.6, 0.8, 0.5, 0.7, 0.45, 0.65, 0.42, 0.6, 0.4];
  const config = (dropout: number) => ({ model: { kind: "mlp", hidden: [16], dropout } });
  const val = losses.map((l) => l * 0.92);
  const d = diagnose(syntheticRun(losses, { val, config: config(0.9) }));
  assert.deepEqual(kinds(d), ["oscillating"], d.verdict);
  assert.equal(d.findings[0].title, "oscillating: the loss zig-zags under heavy dropout");
  assert.match(d.findings[0].evidence, /model\.dropout 0\.9 drops that share of the units/);
  assert.deepEqual(d.findings[0].set, ["model.dropout=0.45"]);
  // light dropout, or a validation loss above the training loss: the rate, as before
  for (
    const run of [
      syntheticRun(losses, { val, config: config(0.2) }),
      syntheticRun(losses, { val: losses.map((l) => l * 1.1), config: config(0.9) }),
    ]
  ) {
    const o = diagnose(run).findings.find((x) => x.kind === "oscillating")!;
    assert.match(o.fix, /^halve the learning rate/);
  }
});

Deno.test("a loss that jitters within 1% at the labels' entropy under heavy weight decay is held by the decay, not diverged", () => {
  // (0.6865, 0.6832, then up to 0.6939: read "diverged: learning rate too high", its fix a tenth
  // of the rate, which left it at 0.6885)
  const losses = [0.6865, 0.6832, 0.6851, 0.6874, 0.6902, 0.6921, 0.6939];
  const run = syntheticRun(losses, {
    val: losses.map((l) => l + 0.001),
    config: { optimizer: { name: "adam", lr: 0.01, weightDecay: 1 } },
  });
  run.meta.dataset = { task: "binary", classCounts: [300, 300] };
  const d = diagnose(run);
  assert.ok(!kinds(d).includes("diverged"), d.verdict);
  assert.ok(d.findings.some((finding) => /weightDecay/.test(finding.fix)), d.verdict);
  // a loss that went back by more (2.3 to 1, then 2.4) still went backwards
  const back = diagnose(syntheticRun([2.3, 1.6, 1, 1.2, 1.8, 2.4]));
  assert.equal(kinds(back)[0], "diverged");
});

Deno.test("a run whose steps blew up early is not also told its rate is too low (onecycle overshooting its warm-up)", () => {
  // a onecycle at a maxLr 100x too high: steps at 5x ln 2 in the warm-up, then a slow even fall
  // under the decay. It was told to lower maxLr to 0.1 and to raise it to 10 (which diverged)
  const losses = Array.from({ length: 12 }, (_, e) => 0.7 - 0.012 * e);
  const steps = Array.from({ length: 120 }, (_, s) => ({
    step: s,
    epoch: Math.floor(s / 10),
    loss: s === 3 ? 3.5 : losses[Math.floor(s / 10)],
    lr: 0.5,
    gradNorm: 1,
  }));
  const run = syntheticRun(losses, {
    steps,
    config: {
      batchSize: 32,
      optimizer: { name: "adam", lr: 0.01 },
      scheduler: { name: "onecycle", maxLr: 1, totalSteps: 120 },
    },
  });
  run.meta.dataset = { task: "binary", classCounts: [300, 300] };
  const d = diagnose(run);
  assert.equal(kinds(d)[0], "diverged");
  assert.ok(!d.findings.some((finding) => finding.title.startsWith("learning rate too low")));
});

Deno.test("a linear model that cannot fit is given an MLP, not a longer run", () => {
  // a spiral: flat at 1.067 from epoch 15, told to double its epochs at each run
  const losses = [1.38, 1.2, 1.12, 1.09, 1.075, 1.07, 1.068, 1.067, 1.067, 1.067, 1.067, 1.067];
  const run = syntheticRun(losses, {
    val: losses.map((l) => l * 1.01),
    accuracy: losses.map(() => 0.33),
    config: { model: { kind: "linear" }, optimizer: { name: "adam", lr: 0.01 } },
  });
  run.meta.dataset = { task: "classification", numClasses: 4, classCounts: [50, 50, 50, 50] };
  const d = diagnose(run);
  const finding = d.findings.find((f) => f.kind === "underfitting");
  assert.ok(finding, d.verdict);
  assert.deepEqual(finding.set, ['model={"kind":"mlp","hidden":[64]}']);
});

Deno.test("a blow-up on features left unscaled (data.normalize none) names their scale first, not a tenth of the rate again", () => {
  // sensors' rpm column of ~1450: the first step's loss 111, 100x ln 3; each tenth of the rate
  // was told to be cut again, and the third trained worse than the second
  const losses = [5, 0.9, 0.7, 0.6, 0.55, 0.52, 0.5];
  const steps = Array.from({ length: 70 }, (_, s) => ({
    step: s,
    epoch: Math.floor(s / 10),
    loss: s === 0 ? 1.1 : s === 2 ? 111 : losses[Math.floor(s / 10)],
    lr: 0.01,
    gradNorm: 1,
  }));
  const run = syntheticRun(losses, {
    steps,
    config: { batchSize: 32, data: { kind: "csv", normalize: "none" } },
  });
  run.meta.dataset = { task: "classification", numClasses: 3, classCounts: [10, 10, 10] };
  const finding = diagnose(run).findings[0];
  assert.equal(finding.title, "the loss blew up early and came back: learning rate too high");
  assert.match(
    finding.fix,
    /^data\.normalize is none: .*--set data\.normalize=standard\); or lower the learning rate/,
  );
  assert.deepEqual(finding.set, ["data.normalize=standard"]);
});

Deno.test("heavy dropout whose training accuracy stays far under validation's is named, though its losses' ratio falls under 1.5x", () => {
  // dropout 0.9 on Fashion-MNIST: training 1.541 (accuracy 0.35), validation ~1.05 (~0.67),
  // 1.47x: read "healthy", where halving the dropout took the test accuracy from 0.672 to 0.789
  const train = [2.2, 1.9, 1.75, 1.66, 1.6, 1.57, 1.56, 1.55, 1.545, 1.541];
  const val = [1.6, 1.35, 1.2, 1.12, 1.08, 1.05, 1.06, 1.05, 1.055, 1.051];
  const run = syntheticRun(train, {
    val,
    accuracy: train.map(() => 0.35),
    config: { model: { kind: "mlp", hidden: [64], dropout: 0.9 } },
  });
  run.epochs.forEach((e) => (e.valAccuracy = 0.67));
  const d = diagnose(run);
  const finding = d.findings.find((f) => f.title.startsWith("dropout too strong"));
  assert.ok(finding, d.verdict);
  assert.equal(
    finding.title,
    "dropout too strong: training accuracy stays 32 points under validation's",
  );
  assert.deepEqual(finding.set, ["model.dropout=0.45"]);
  // at dropout 0.5 it is not heavy: nothing said of it
  const light = syntheticRun(train, {
    val,
    accuracy: train.map(() => 0.35),
    config: { model: { kind: "mlp", hidden: [64], dropout: 0.5 } },
  });
  light.epochs.forEach((e) => (e.valAccuracy = 0.67));
  assert.ok(!diagnose(light).findings.some((f) => f.title.startsWith("dropout too strong")));
});

Deno.test("a regression worse than its mean on targets in the millions is told to scale the targets, not to lower the rate again", () => {
  // targets around 5e6: sgd's loss at 3.13e13, 1.0000x... told "steps too large to settle:
  // lower the learning rate" at each tenth of it
  const losses = Array.from({ length: 8 }, (_, e) => 6.4e13 - 1e8 * e);
  const run = syntheticRun(losses, { config: { data: { kind: "csv", normalize: "standard" } } });
  run.meta.dataset = { task: "regression", targetVariance: 3.13e13 };
  const finding = diagnose(run).findings.find((f) => f.title === "worse than predicting the mean");
  assert.ok(finding, diagnose(run).verdict);
  assert.match(
    finding.fix,
    /^the targets' variance, 3\.13e\+13 \(a spread of about 5\.595e\+6\), makes the squared error/,
  );
  assert.deepEqual(finding.set, []);
  // targets of an everyday scale: the rate, as before (here, barely moved: too low)
  const small = syntheticRun(losses.map((l) => l / 1e13), {
    config: { data: { kind: "csv", normalize: "standard" } },
  });
  small.meta.dataset = { task: "regression", targetVariance: 3.13 };
  const read = diagnose(small);
  assert.equal(read.findings[0].kind, "lrTooLow", read.verdict);
  assert.ok(!read.findings.some((f) => /targets' variance/.test(f.fix)));
});

Deno.test("a classifier's plateau whose validation loss was lowest in the run's first half may be its labels' noise floor, said with the fix", () => {
  // 40% of labels flipped: told to decay, then to train 60 and 120 epochs, fitting the noise
  const train = [0.75, 0.7, 0.69, 0.685, 0.682, 0.68, 0.6795, 0.679, 0.6788, 0.6787];
  const val = [0.7, 0.69, 0.688, 0.689, 0.69, 0.692, 0.693, 0.695, 0.696, 0.697];
  const run = syntheticRun(train, { val });
  run.meta.dataset = { task: "binary", classCounts: [300, 300] };
  const fixes = diagnose(run).findings.map((f) => f.fix).join(" | ");
  assert.match(
    fixes,
    /or, with noisy labels, this may be their noise floor: the validation loss was lowest at epoch 2, in the run's first half/,
  );
  // one whose validation loss fell to its end is not told so
  const still = syntheticRun(train, { val: val.map((_, i) => 0.7 - 0.002 * i) });
  still.meta.dataset = { task: "binary", classCounts: [300, 300] };
  assert.doesNotMatch(diagnose(still).findings.map((f) => f.fix).join(" | "), /noisy labels/);
});

/**
 * Steps of `epochs` epochs of `perEpoch` under a cosine from `lr` over `tMax` steps, and `before`:
 * the rate summed up to the middle of an epoch (its mean loss is the loss there, after the epochs
 * before and half its own), the time a loss falls in for each unit of rate.
 */
function cosineSteps(epochs: number, perEpoch: number, lr: number, tMax: number) {
  const steps = Array.from({ length: epochs * perEpoch }, (_, step) => ({
    step,
    epoch: Math.floor(step / perEpoch),
    loss: undefined as unknown as number,
    lr: lr * (1 + Math.cos(Math.PI * step / tMax)) / 2,
  }));
  const rates = Array.from(
    { length: epochs },
    (_, e) => steps.filter((s) => s.epoch === e).reduce((sum, s) => sum + s.lr, 0) / perEpoch,
  );
  const before = (e: number) => rates.slice(0, e).reduce((a, b) => a + b, 0) + rates[e] / 2;
  return { steps, before };
}

Deno.test("lrTooLow under a schedule that decays to 0: a loss that fell as much for each unit of rate in the second half as in the first, then levelled off with the rate, is a rate too low, not healthy", () => {
  // the seed at lr 1e-3 under a cosine over its 10 epochs of 13 steps: 17.54 to 14.05 (-20%),
  // levelled off as the rate went to 0 (a rate that suits it takes the loss to 0.25)
  const [epochs, perEpoch, lr] = [10, 13, 1e-3];
  const total = epochs * perEpoch;
  // (a loss that takes the same off for each unit of rate the steps give)
  const { steps, before } = cosineSteps(epochs, perEpoch, lr, total);
  const cosine = { scheduler: { name: "cosine", tMax: total } };
  const even = Array.from({ length: epochs }, (_, e) => 17.8 - 600 * before(e));
  const d = diagnose(syntheticRun(even, { lr, steps, config: cosine }));
  assert.deepEqual(kinds(d), ["lrTooLow"], d.verdict);
  assert.match(d.findings[0].evidence, /at a mean rate of .*, 100% as much for each unit of rate/);
  // (its halves are 5 epochs and 4: the share is of each half's fall over its mean rate times
  // its epochs, which the evidence gives, not of the fall over the mean rate alone, 80% here)
  assert.match(
    d.findings[0].evidence,
    /off in its second half, 4 epochs at a mean rate of .* in its first, 5 epochs at /,
  );
  assert.deepEqual(d.findings[0].set, ["optimizer.lr=0.01"]);
  // a run that took most of its fall early, and levelled off at its floor, is read as before;
  // so is one that fell half as much for each unit of rate in its second half (1.152 to 1.0046
  // over 8 epochs, 89% of it in the first half: near its floor, not held back by the rate)
  const bending = Array.from({ length: epochs }, (_, e) => 14 + 4 * Math.exp(-1.5 * e));
  assert.ok(
    !kinds(diagnose(syntheticRun(bending, { lr, steps, config: cosine }))).includes("lrTooLow"),
  );
  const eight = steps.filter((s) => s.epoch < 8).map((s) => ({
    ...s,
    lr: lr * (1 + Math.cos(Math.PI * s.step / (8 * perEpoch))) / 2,
  }));
  const nearFloor = Array.from({ length: 8 }, (_, e) => 1 + 0.25 * Math.exp(-0.5 * (e + 1)));
  const eightCosine = { scheduler: { name: "cosine", tMax: 8 * perEpoch } };
  assert.ok(
    !kinds(diagnose(syntheticRun(nearFloor, { lr, steps: eight, config: eightCosine })))
      .includes("lrTooLow"),
  );
  // the same even fall at a constant rate, as before: its second half fell less, and it levelled off
  const constant = steps.map((s) => ({ ...s, lr }));
  assert.ok(
    !kinds(diagnose(syntheticRun(even, { lr, steps: constant }))).includes("lrTooLow"),
  );
});

Deno.test("lrTooLow under a cosine shorter than the run: a loss that fell evenly for each unit of rate to the end, levelling off only in the cosine's last trough, is a rate too low, not healthy", () => {
  // the seed at lr 1e-4 under a cosine of tMax 200 over its 650 steps: 17.87 to 16.0 (-10%),
  // its rate back up by the second half (no decay by the halves' means), each epoch's fall
  // following its rate, and read healthy because the loss levelled off in the last trough
  const [epochs, perEpoch, lr, tMax] = [50, 13, 1e-4, 200];
  const { steps, before } = cosineSteps(epochs, perEpoch, lr, tMax);
  const even = Array.from({ length: epochs }, (_, e) => 17.9 - 600 * before(e));
  const cosine = { scheduler: { name: "cosine", tMax } };
  const d = diagnose(syntheticRun(even, { lr, steps, config: cosine }));
  assert.deepEqual(kinds(d), ["lrTooLow"], d.verdict);
  assert.deepEqual(d.findings[0].set, ["optimizer.lr=0.001"]);
});

Deno.test("lrTooLow under a plateau schedule: a loss that levelled off, and had its rate cut for it, is not a rate too low", () => {
  // 1.152 to 1.002 over 10 epochs, healthy at a constant rate; plateau cut the rate 10x at
  // epoch 5 because it levelled off, and read for each unit of rate the fall had kept its pace
  const per = 13;
  const lr = 0.01;
  const losses = Array.from({ length: 10 }, (_, e) => 1 + 0.25 * Math.exp(-0.5 * (e + 1)));
  const steps = Array.from({ length: 10 * per }, (_, step) => ({
    step,
    epoch: Math.floor(step / per),
    loss: undefined as unknown as number,
    lr: step < 5 * per ? lr : lr / 10,
  }));
  assert.deepEqual(kinds(diagnose(syntheticRun(losses, { lr }))), ["healthy"]);
  const plateau = { scheduler: { name: "plateau", patience: 1 } };
  const d = diagnose(syntheticRun(losses, { lr, steps, config: plateau }));
  assert.ok(!kinds(d).includes("lrTooLow"), d.verdict);
});
