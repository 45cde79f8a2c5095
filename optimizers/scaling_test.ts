import assert from "node:assert/strict";
import { AnnealError } from "../errors.ts";
import { LINEAR_SCALING_LIMIT, scaleLearningRate } from "./scaling.ts";

Deno.test("scaleLearningRate multiplies lr by effectiveBatch / baseBatch", () => {
  for (const [lr, base, effective] of [[0.1, 256, 1024], [3e-4, 64, 32], [0.5, 100, 100]]) {
    const result = scaleLearningRate(lr, base, effective);
    assert.equal(result.lr, lr * effective / base);
    assert.equal(result.warning, undefined);
  }
});

Deno.test("scaleLearningRate warns above an effective batch of 8192 only", () => {
  assert.equal(scaleLearningRate(0.1, 256, LINEAR_SCALING_LIMIT).warning, undefined);
  const above = scaleLearningRate(0.1, 256, LINEAR_SCALING_LIMIT * 2);
  assert.equal(above.lr, 0.1 * LINEAR_SCALING_LIMIT * 2 / 256);
  assert.match(above.warning ?? "", /effective batch 16384 is above 8192/);
});

Deno.test("scaleLearningRate rejects non-positive batch sizes naming the field", () => {
  assert.throws(
    () => scaleLearningRate(0.1, 0, 32),
    (error) =>
      error instanceof AnnealError &&
      error.message ===
        "Cannot scale the learning rate: 'baseBatch' must be > 0, current value is 0",
  );
  assert.throws(() => scaleLearningRate(0.1, 32, -1), /'effectiveBatch' must be > 0/);
  assert.throws(() => scaleLearningRate(-0.1, 32, 64), /'lr' must be >= 0/);
});
