/**
 * The engine mod.ts gives: a config from parseConfig that a script changed by hand has its model
 * and optimizer sections filled in or refused, as buildModel and createOptimizer do; engine.ts's
 * own engine builds them as a parsed config holds them.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
import { parseConfig, type RunConfig } from "../config.ts";
import { TrainingEngine } from "./checked_engine.ts";
import { type DataShape, floatBatch, TrainingEngine as ResolvedEngine } from "./engine.ts";
import { AnnealError } from "../errors.ts";

await tf.setBackend("cpu");

const shape: DataShape = { inputShape: [3], targetSize: 1, task: "regression" };
const base = parseConfig({ backend: "cpu", model: { kind: "mlp", hidden: [4] } });

/** The engine's weights and its model's outputs on fixed inputs (which its activation shapes). */
function behaviourOf(engine: ResolvedEngine): number[][] {
  const x = tf.tensor2d([[1, -2, 3], [-4, 5, -6], [0.5, 0.25, -1]]);
  const output = engine.model.predict(x) as tf.Tensor;
  const values = [...engine.variables.map((variable) => [...variable.dataSync()]), [
    ...output.dataSync(),
  ]];
  tf.dispose([x, output]);
  engine.dispose();
  return values;
}

Deno.test("mod.ts's engine fills in a hand-changed model or optimizer section, as parseConfig would", () => {
  // (a model section without its defaults: activation, batchNorm, dropout and the rest)
  const changed = {
    ...base,
    model: { kind: "mlp", hidden: [4] },
    optimizer: { name: "adam", lr: 0.01 },
  } as unknown as RunConfig;
  const engine = new TrainingEngine(changed, shape);
  assert.equal(engine.optimizerPath, new TrainingEngine(base, shape).optimizerPath);
  const parsed = parseConfig({
    backend: "cpu",
    model: { kind: "mlp", hidden: [4] },
    optimizer: { name: "adam", lr: 0.01 },
  });
  assert.deepEqual(behaviourOf(engine), behaviourOf(new ResolvedEngine(parsed, shape)));
});

Deno.test("mod.ts's engine refuses a hand-changed section as buildModel and createOptimizer do, naming the field", () => {
  const badModel = { ...base, model: { kind: "mlp", hidden: [0] } } as unknown as RunConfig;
  assert.throws(
    () => new TrainingEngine(badModel, shape),
    (error) =>
      error instanceof AnnealError && error.code === "config" && /hidden/.test(error.where ?? ""),
  );
  const misspelt = { ...base, optimizer: { name: "adam", lrr: 0.1 } } as unknown as RunConfig;
  assert.throws(
    () => new TrainingEngine(misspelt, shape),
    (error) => error instanceof AnnealError && error.code === "config" && /lrr/.test(error.message),
  );
  // (a config that is not one parseConfig gave at all is the engine's own refusal)
  const { model: _, ...noModel } = base;
  assert.throws(
    () => new TrainingEngine(noModel as RunConfig, shape),
    /its config is not one parseConfig gave \(no 'model' section\)/,
  );
});

Deno.test("an engine for classification data of one class is refused: its cross-entropy is 0, and trains nothing", () => {
  const one: DataShape = { inputShape: [3], targetSize: 1, task: "classification", numClasses: 1 };
  assert.throws(
    () => new TrainingEngine(base, one),
    (error) =>
      error instanceof AnnealError && error.code === "data" && error.where === "numClasses" &&
      /Cannot build a classifier of 1 class: 'numClasses' must be 2 or more/.test(error.message),
  );
  // two classes build, as before
  new TrainingEngine(base, { ...one, numClasses: 2 }).dispose();
});

Deno.test("a batch whose x or y does not hold its size's samples of the data shape is refused on every path", () => {
  // (the host step trained them to a loss of NaN, tfjs's threw its own shape errors)
  const need = (field: string, held: number, size: number, needed: number) =>
    new RegExp(
      `^Cannot compute the gradients: 'batch\\.${field}' holds ${held} values, ${size} samples ` +
        `of (input shape \\[3\\]|target size 1) need ${needed}$`,
    );
  const cases: [{ x: Float32Array; y: Float32Array; size: number }, RegExp][] = [
    [{ x: new Float32Array(5), y: new Float32Array(2), size: 2 }, need("x", 5, 2, 6)],
    [{ x: new Float32Array(7), y: new Float32Array(2), size: 2 }, need("x", 7, 2, 6)],
    [{ x: new Float32Array(6), y: new Float32Array(1), size: 2 }, need("y", 1, 2, 2)],
    [{ x: new Float32Array(6), y: new Float32Array(2), size: 3 }, need("x", 6, 3, 9)],
  ];
  for (const fusedModel of [true, false]) {
    const engine = new TrainingEngine({ ...base, fusedModel }, shape);
    try {
      assert.equal(engine.modelPath, fusedModel ? "host" : "tfjs");
      const before = tf.memory().numTensors;
      for (const [batch, message] of cases) {
        assert.throws(
          () => engine.computeGradients([batch]),
          (error) =>
            error instanceof AnnealError && error.code === "usage" && message.test(error.message),
        );
        assert.throws(
          () => engine.evaluate(batch),
          /: Cannot evaluate the batch: 'batch\.[xy]' holds/,
        );
      }
      assert.equal(tf.memory().numTensors, before);
    } finally {
      engine.dispose();
    }
  }
  assert.throws(
    () => floatBatch({} as never),
    (error) =>
      error instanceof AnnealError && error.where === "batch.x" &&
      /^Cannot read the batch: batch\.x must be an array of features, current value is undefined$/
        .test(error.message),
  );
});
