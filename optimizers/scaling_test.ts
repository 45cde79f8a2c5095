import assert from "node:assert/strict";
import { AnnealError } from "../errors.ts";
import {
  batchScalingOf,
  LINEAR_SCALING_LIMIT,
  scaleLearningRate,
  scalingWords,
} from "./scaling.ts";

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

Deno.test("the sqrt rule multiplies lr by the square root of effectiveBatch / baseBatch", () => {
  for (const [lr, base, effective] of [[1e-3, 256, 1024], [3e-4, 64, 32], [0.5, 100, 100]]) {
    const result = scaleLearningRate(lr, base, effective, "sqrt");
    assert.equal(result.lr, lr * Math.sqrt(effective / base));
    assert.equal(result.warning, undefined);
  }
  assert.equal(scaleLearningRate(1e-3, 256, 1024, "sqrt").lr, 2e-3);
  assert.throws(
    () => scaleLearningRate(0.1, 32, 64, "cubic" as "sqrt"),
    /'rule' must be one of linear, sqrt, current value is "cubic"/,
  );
  assert.equal(scalingWords(64, 256, "sqrt"), "sqrt(256 / 64)");
  assert.equal(scalingWords(64, 256, "linear"), "256 / 64");
});

Deno.test("sgd scales linearly by default and every adaptive optimizer by the square root", () => {
  assert.equal(batchScalingOf({ name: "sgd" }), "linear");
  for (const name of ["adam", "adamw", "rmsprop", "adagrad", "lion", "lamb", "nadam", "radam"]) {
    assert.equal(batchScalingOf({ name }), "sqrt", name);
  }
  assert.equal(batchScalingOf({ name: "adam", batchScaling: "linear" }), "linear");
  assert.equal(batchScalingOf({ name: "sgd", batchScaling: "sqrt" }), "sqrt");
});
