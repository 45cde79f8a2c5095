import assert from "node:assert/strict";
import {
  BASELINE_BLOCKS,
  explosionReason,
  initLossWatch,
  type LossExplosion,
  observeLoss,
} from "./loss_watch.ts";

/** Feeds losses from step 0 on; the first explosion, if any. */
function watch(samplesPerStep: number, losses: number[]): LossExplosion | undefined {
  let state = initLossWatch(samplesPerStep);
  for (let step = 0; step < losses.length; step++) {
    const [next, explosion] = observeLoss(state, step, losses[step]);
    if (explosion) return explosion;
    state = next;
  }
  return undefined;
}

/** One sample's squared error when the residuals are normal with the given spread (seeded). */
function sampleLosses(count: number, spread: (step: number) => number, seed = 7): number[] {
  let s = seed;
  const uniform = () => ((s = (s * 1103515245 + 12345) >>> 0) + 1) / (2 ** 32 + 1);
  return Array.from({ length: count }, (_, step) => {
    const z = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
    return (spread(step) * z) ** 2;
  });
}

Deno.test("a block holds at least 16 samples: 16 steps at batch size 1, one at 16 or more", () => {
  assert.equal(initLossWatch(1).span, 16);
  assert.equal(initLossWatch(2).span, 8);
  assert.equal(initLossWatch(4).span, 4);
  assert.equal(initLossWatch(16).span, 1);
  assert.equal(initLossWatch(500).span, 1);
  assert.throws(() => initLossWatch(0), /'samplesPerStep' must be >= 1, current value is 0/);
});

Deno.test("one easy sample at batch size 1 is not a yardstick: its neighbours do not explode", () => {
  // The losses of the report: an easy first sample, then an ordinary one 508x it.
  assert.equal(watch(1, [0.04765, 24.22, 3.1, 0.5]), undefined);
  // The same two losses as whole batches are an explosion.
  assert.equal(watch(16, [0.04765, 24.22])?.step, 1);
});

Deno.test("per-sample noise of tiny batches never reads as an explosion over many seeds", () => {
  // Squared errors of a regression whose error shrinks from 2.5 to 0.5: heavy-tailed, and
  // often near zero. Steps of 1, 2 and 4 samples (a step's loss is the mean of its samples).
  for (const batch of [1, 2, 4]) {
    for (let seed = 1; seed <= 40; seed++) {
      const samples = sampleLosses(
        4000 * batch,
        (i) => 0.5 + 2 * Math.exp(-i / (500 * batch)),
        seed,
      );
      const losses = Array.from(
        { length: 4000 },
        (_, step) =>
          samples.slice(step * batch, (step + 1) * batch).reduce((a, b) => a + b) / batch,
      );
      const explosion = watch(batch, losses);
      assert.equal(
        explosion,
        undefined,
        `batch ${batch}, seed ${seed}: ${explosion && explosionReason(explosion)}`,
      );
    }
  }
});

Deno.test("a loss exploding from the second step is caught at once, its level never raised", () => {
  const explosion = watch(16, [13, 4000, 2e6])!;
  assert.deepEqual(explosion, { fromStep: 1, step: 1, mean: 4000, level: 13 });
  assert.equal(
    explosionReason(explosion),
    "training diverged at step 1: the loss exploded to 4000, 308x its early level 13",
  );
});

Deno.test("a loss exploding by orders of magnitude gives its ratio as anneal prints numbers", () => {
  // (rmsprop's alpha 1 took the seed's loss from 16.45 to 4.388e+13 in one step)
  const explosion = watch(16, [16.45, 4.388e13])!;
  assert.equal(
    explosionReason(explosion),
    "training diverged at step 1: the loss exploded to 4.388e+13, 2.667e+12x its early level 16.45",
  );
});

Deno.test("at batch size 1 a diverging loss is caught within its block, before the block ends", () => {
  // 16 healthy steps set the level; then the loss grows 3x a step.
  const healthy = sampleLosses(16, () => 2);
  const level = healthy.reduce((a, b) => a + b) / 16;
  const growing = Array.from({ length: 40 }, (_, i) => level * 3 ** (i + 1));
  const explosion = watch(1, [...healthy, ...growing])!;
  assert.equal(explosion.fromStep, 16);
  // The block's sum passes 16 * 100 * level when 3^k * 1.5 > 1600: at its 7th step.
  assert.equal(explosion.step, 22);
  assert.ok(Math.abs(explosion.level - level) < 1e-12 * level);
  assert.match(
    explosionReason(explosion),
    /the mean loss of steps 16-22 exploded to .*x its early level/,
  );
});

Deno.test("the early level is the lowest of the first block means, then stays", () => {
  let state = initLossWatch(8); // blocks of two steps
  const losses = [8, 6, 4, 2, 1, 5, 3, 3, 9, 9, 4, 4, 0.5, 0.5];
  losses.forEach((loss, step) => [state] = observeLoss(state, step, loss));
  assert.deepEqual(state.earlyMeans, [7, 3, 3, 3, 9]);
  assert.equal(state.earlyMeans.length, BASELINE_BLOCKS);
  assert.equal(state.level, 3, "later, lower blocks do not lower it");
});

Deno.test("a maximized loss rises by design: its watch never reports an explosion", () => {
  const rising = [1, 10, 1e3, 1e5, 1e8, 1e12, 1e20];
  assert.equal(watch(16, rising)?.step, 2, "minimized, the same curve explodes");
  let state = initLossWatch(16, { maximize: true });
  for (const [step, loss] of rising.entries()) {
    const [next, explosion] = observeLoss(state, step, loss);
    assert.equal(explosion, undefined, `step ${step}`);
    state = next;
  }
});

Deno.test("an epoch's short last step counts by its samples: one sample is never the yardstick", () => {
  // Steps of 20 samples (batch 10, two micro-batches); 61 samples an epoch leave a last step of
  // one sample, whose loss is that one easy sample's. The losses of such a run (torch's as
  // anneal's): the next ordinary step is 142x that sample, and no explosion.
  const losses = [16.08, 12.23, 12.03, 0.1012, 14.38, 11.64, 13.32, 1.32, 16.1];
  const samples = [20, 20, 20, 1, 20, 20, 20, 1, 20];
  let state = initLossWatch(20);
  for (const [step, loss] of losses.entries()) {
    const [next, explosion] = observeLoss(state, step, loss, samples[step]);
    assert.equal(explosion, undefined, `step ${step}: ${explosion && explosionReason(explosion)}`);
    state = next;
  }
  // The short step joined the next one's block: a mean over 21 samples, weighted by them.
  const means = [16.08, 12.23, 12.03, (0.1012 + 14.38 * 20) / 21];
  means.forEach((mean, i) => assert.ok(Math.abs(state.earlyMeans[i] - mean) < 1e-12, `${i}`));
  // Steps of the full size are as before: blocks of `span` steps, their plain means.
  let full = initLossWatch(8);
  for (const [step, loss] of [8, 6, 4, 2].entries()) [full] = observeLoss(full, step, loss, 8);
  assert.deepEqual(full.earlyMeans, [7, 3]);
  // A block of tiny steps: at batch size 4 a block is 4 steps (16 samples); a last step of 1
  // sample leaves it a quarter step short, so the next step completes it.
  let tiny = initLossWatch(4);
  for (const [step, [loss, n]] of [[1, 4], [1, 4], [1, 4], [3, 1], [2, 4]].entries()) {
    [tiny] = observeLoss(tiny, step, loss, n);
  }
  assert.equal(tiny.earlyMeans.length, 1);
  assert.ok(Math.abs(tiny.earlyMeans[0] - (12 + 3 + 8) / 17) < 1e-12);
});
