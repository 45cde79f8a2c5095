import assert from "node:assert/strict";
import { parseConfig } from "../config.ts";
import { divergedAt, divergedEnd, endMetrics } from "./diverged_end.ts";

const config = parseConfig({ epochs: 6, maxSteps: 40 });
const end = divergedEnd(
  config,
  {
    reason: "training diverged at step 7: the loss became NaN",
    hint: "divide optimizer.lr by 10",
    steps: 8,
    metrics: { loss: NaN, valLoss: Infinity, lr: 0.5 },
  },
  2,
  { steps: 7 },
);

Deno.test("a divergence kept in a checkpoint comes back through JSON with its metrics that are not finite", () => {
  const read = divergedAt(config, JSON.parse(JSON.stringify({ epoch: 1, step: 6, diverged: end })));
  assert.ok(read);
  assert.equal(read.reason, end.reason);
  assert.equal(read.hint, end.hint);
  assert.equal(read.steps, 8);
  assert.equal(read.epochs, 2);
  assert.deepEqual(read.clipMonitor, { steps: 7 });
  assert.deepEqual(endMetrics(read), { loss: NaN, valLoss: Infinity, lr: 0.5 });
});

Deno.test("a divergence is not the end of a resume that raised the run's epochs or maxSteps", () => {
  assert.equal(divergedAt({ ...config, epochs: 7 }, { diverged: end }), undefined);
  assert.equal(divergedAt({ ...config, maxSteps: 41 }, { diverged: end }), undefined);
  assert.equal(divergedAt({ ...config, maxSteps: undefined }, { diverged: end }), undefined);
  const unbounded = parseConfig({ epochs: 6 });
  const kept = divergedEnd(unbounded, { reason: "diverged", steps: 3, metrics: {} }, 1, {});
  assert.equal(divergedAt(unbounded, JSON.parse(JSON.stringify({ diverged: kept })))?.steps, 3);
});

Deno.test("a checkpoint without a divergence, or with a damaged one, is trained on from", () => {
  assert.equal(divergedAt(config, { epoch: 1, step: 6 }), undefined);
  assert.equal(divergedAt(config, { diverged: null }), undefined);
  assert.equal(divergedAt(config, { diverged: { ...end, steps: "8" } }), undefined);
  assert.equal(divergedAt(config, { diverged: { ...end, length: undefined } }), undefined);
  assert.equal(divergedAt(config, { diverged: { ...end, length: null } }), undefined);
});
