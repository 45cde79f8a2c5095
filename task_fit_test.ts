import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { AnnealError, parseConfig, selectBackend, TrainingEngine } from "./mod.ts";

const LOSSES = ["mse", "crossEntropy", "binaryCrossEntropy"] as const;

/** Data specs of each task, the loss that fits, and how the data is described. */
const DATA = [
  {
    data: { kind: "synthetic-linear" },
    fits: "mse",
    described: /synthetic-linear data is a regression with 1 continuous target/,
  },
  {
    data: { kind: "csv", path: "wine.csv", target: "quality" },
    fits: "mse",
    described: /wine\.csv is a regression with 1 continuous target \(column 'quality'/,
  },
  {
    data: { kind: "csv", path: "iris.csv", target: -1, task: "classification" },
    fits: "crossEntropy",
    described: /iris\.csv is a classification with class labels \(column -1/,
  },
  {
    data: { kind: "csv", path: "spam.csv", target: "spam", task: "binary" },
    fits: "binaryCrossEntropy",
    described: /spam\.csv is a binary classification with two labels/,
  },
  {
    data: { kind: "idx", dir: "/fashion" },
    fits: "crossEntropy",
    described: /IDX data in \/fashion is a classification/,
  },
] as const;

Deno.test("a loss that does not fit the data's task is a config error naming the loss, the data and the loss that fits", () => {
  for (const { data, fits, described } of DATA) {
    assert.equal(parseConfig({ data, loss: fits }).loss, fits);
    for (const loss of LOSSES.filter((name) => name !== fits)) {
      assert.throws(
        () => parseConfig({ data, loss }),
        (error: AnnealError) => {
          assert.ok(error instanceof AnnealError);
          assert.equal(error.code, "config");
          assert.equal(error.where, "loss");
          assert.match(error.message, new RegExp(`Cannot train with loss '${loss}': it needs `));
          assert.match(error.message, described);
          assert.match(error.hint!, new RegExp(`is '${fits}' \\(--set loss=${fits}`));
          // a CSV file's task is the user's to set; the others' is fixed by the data
          assert.equal(/--set data\.task=/.test(error.hint!), data.kind === "csv");
          return true;
        },
        `${data.kind} ${"task" in data ? data.task : ""} with ${loss}`,
      );
    }
  }
});

Deno.test("the engine refuses a loss that does not fit the loaded data, before building a model", async () => {
  await selectBackend("cpu", "linear");
  const before = tf.memory().numTensors;
  const shape = { inputShape: [4], targetSize: 1, task: "classification" as const, numClasses: 10 };
  assert.throws(
    () => new TrainingEngine(parseConfig({ backend: "cpu", loss: "mse" }), shape),
    (error: AnnealError) =>
      error.code === "config" && error.where === "loss" &&
      /loss 'mse'.*the data is a classification with 10 classes/.test(error.message),
  );
  assert.equal(tf.memory().numTensors, before, "nothing left behind");
  const engine = new TrainingEngine(parseConfig({ backend: "cpu" }), shape);
  engine.dispose();
});
