import assert from "node:assert/strict";
import { EarlyStoppingSchema } from "../config.ts";
import { initEarlyStopper, judgeEpoch } from "./early_stopper.ts";

const ended = (epoch: number, metrics: Record<string, number>) => ({
  type: "EpochEnded" as const,
  epoch,
  step: epoch * 10,
  metrics,
});

function run(spec: Record<string, unknown>, series: Record<string, number>[]) {
  const parsed = EarlyStoppingSchema.parse(spec);
  let state = initEarlyStopper();
  const verdicts = [];
  for (const [epoch, metrics] of series.entries()) {
    const [next, verdict] = judgeEpoch(parsed, state, ended(epoch, metrics), 0.1);
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
  const without = run({ patience: 2 }, series);
  assert.equal(without.length, 5, "without a baseline, patience counts from the last improvement");
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
