import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { AnnealError, parseConfig, selectBackend, TrainingEngine } from "./mod.ts";
import { checkBatchNormBatches } from "./task_fit.ts";

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

/** The config error parseConfig gives for a config, or undefined when it parses. */
function configError(input: Record<string, unknown>): AnnealError | undefined {
  try {
    parseConfig(input);
    return undefined;
  } catch (error) {
    assert.ok(error instanceof AnnealError);
    return error;
  }
}

const IMAGES = { kind: "idx", dir: "/fashion", validationSplit: 0.1 };

Deno.test("early stopping's monitor must be a metric the run logs: the error lists them and suggests the closest", () => {
  const typo = configError({ data: IMAGES, earlyStopping: { monitor: "valAcc", mode: "max" } })!;
  assert.equal(typo.code, "config");
  assert.equal(typo.where, "earlyStopping.monitor");
  assert.match(typo.message, /Cannot watch 'valAcc' for early stopping: no epoch logs it/);
  assert.match(typo.message, /log loss, accuracy, valLoss, valAccuracy$/);
  assert.equal(
    typo.hint,
    "did you mean 'valAccuracy'? (--set earlyStopping.monitor=valAccuracy)",
  );
  // an accuracy watched in mode min would stop on improvement: the fix says so
  const minMode = configError({
    data: IMAGES,
    earlyStopping: { monitor: "val_accuracy", mode: "min" },
  })!;
  assert.match(minMode.hint!, /monitor=valAccuracy --set earlyStopping\.mode=max\)$/);
  // (an accuracy's mode defaults to max: without one, the fix is the name alone)
  const noMode = configError({ data: IMAGES, earlyStopping: { monitor: "val_accuracy" } })!;
  assert.match(noMode.hint!, /\(--set earlyStopping\.monitor=valAccuracy\)$/);
  // a metric of another task
  const regression = configError({ earlyStopping: { monitor: "accuracy", patience: 3 } })!;
  assert.match(
    regression.message,
    /'accuracy' is logged for classification and binary tasks only, and the synthetic-linear data is a regression/,
  );
  assert.match(regression.message, /log loss, mae \(no validation split: valLoss and valMae/);
  assert.equal(regression.hint, "watch 'mae' instead (--set earlyStopping.monitor=mae)");
  const unknown = configError({ data: IMAGES, earlyStopping: { monitor: "f1" } })!;
  assert.match(unknown.hint!, /watch one of loss, accuracy, valLoss, valAccuracy \(/);
});

Deno.test("every metric of the model a run logs can be watched, and val metrics without a validation split watch the training ones", () => {
  for (const monitor of ["loss", "accuracy", "valLoss", "valAccuracy"]) {
    assert.equal(configError({ data: IMAGES, earlyStopping: { monitor } }), undefined, monitor);
  }
  for (const monitor of ["loss", "mae", "valLoss", "valMae"]) {
    assert.equal(configError({ earlyStopping: { monitor } }), undefined, monitor);
  }
});

Deno.test("the learning rate an epoch logs (lr) is refused as early stopping's or a plateau schedule's monitor, naming a metric of the model", () => {
  const refused = configError({ data: IMAGES, earlyStopping: { monitor: "lr" } })!;
  assert.equal(refused.code, "config");
  assert.equal(refused.where, "earlyStopping.monitor");
  assert.equal(
    refused.message,
    "Cannot watch 'lr' for early stopping: 'lr' is the learning rate an epoch ended at, which " +
      "the optimizer and the schedule set, not a measure of the model; the epochs of this run " +
      "log loss, accuracy, valLoss, valAccuracy",
  );
  assert.match(
    refused.hint!,
    /^watch a metric of the model, e\.g\. 'valLoss' \(--set earlyStopping\.monitor=valLoss\); to search the learning rate, anneal lr-find/,
  );
  // a plateau schedule watches the same monitor; mode max (set for the rate) needs min for the loss
  const plateau = configError({
    scheduler: { name: "plateau", patience: 2 },
    earlyStopping: { monitor: "lr", mode: "max" },
  })!;
  assert.equal(plateau.where, "earlyStopping.monitor");
  assert.match(plateau.message, /^Cannot watch 'lr' for early stopping: 'lr' is the learning rate/);
  assert.match(
    plateau.hint!,
    /e\.g\. 'valLoss' \(--set earlyStopping\.monitor=valLoss --set earlyStopping\.mode=min\)/,
  );
});

Deno.test("batch norm on a training batch of one value a channel is refused, as torch raises there", () => {
  const mlp = { kind: "mlp", batchNorm: true };
  const refused = (
    model: Parameters<typeof checkBatchNormBatches>[0],
    inputShape: number[],
    run: Parameters<typeof checkBatchNormBatches>[2],
  ) => {
    try {
      checkBatchNormBatches(model, inputShape, run);
      return undefined;
    } catch (error) {
      assert.ok(error instanceof AnnealError);
      return error;
    }
  };
  // 61 samples in batches of 10: a last batch of one sample (torch: "Expected more than 1 value
  // per channel when training").
  const last = refused(mlp, [2], { trainSize: 61, batchSize: 10, dropLast: false })!;
  assert.equal(
    last.message,
    "Cannot train with batch norm on the epoch's last batch: 61 training samples in batches of " +
      "10 leave a last batch of one sample, and batch norm normalizes each of its hidden " +
      "layers' units over the batch; torch's BatchNorm raises there ('Expected more than 1 " +
      "value per channel when training'): one value has no variance",
  );
  assert.equal(last.where, "batchSize");
  assert.match(last.hint!, /--set data\.dropLast=true\), or .* \(--set batchSize=9\)/);
  // a step larger than the training set: dropLast would leave an epoch no step (train refuses it)
  const whole = refused(mlp, [2], {
    trainSize: 17,
    batchSize: 4,
    dropLast: false,
    accumulation: 5,
  })!;
  assert.doesNotMatch(whole.hint!, /dropLast/);
  assert.match(whole.hint!, /^take batches that leave none of one sample \(--set batchSize=3\)$/);
  const fits = refused(mlp, [2], {
    trainSize: 17,
    batchSize: 4,
    dropLast: false,
    accumulation: 4,
  })!;
  assert.match(fits.hint!, /--set data\.dropLast=true/);
  // the suggested size leaves no batch of one: 7 samples, batches of 2 -> 4 (3 leaves one too)
  const seven = refused(mlp, [2], { trainSize: 7, batchSize: 2, dropLast: false })!;
  assert.match(seven.hint!, /--set batchSize=4\)/);
  assert.equal(refused(mlp, [2], { trainSize: 61, batchSize: 10, dropLast: true }), undefined);
  assert.equal(refused(mlp, [2], { trainSize: 60, batchSize: 10, dropLast: false }), undefined);
  assert.equal(refused(mlp, [2], { trainSize: 62, batchSize: 10, dropLast: false }), undefined);
  // batches of one sample
  const one = refused(mlp, [2], { trainSize: 40, batchSize: 1, dropLast: true })!;
  assert.match(one.message, /on batches of one sample: 'batchSize' is 1/);
  assert.match(one.hint!, /--set model\.batchNorm=false/);
  // the size it suggests leaves no last batch of one either (17 samples: not 16)
  const seventeen = refused(mlp, [2], { trainSize: 17, batchSize: 1, dropLast: false })!;
  assert.match(seventeen.hint!, /--set batchSize=15\)/);
  // one training sample: no batch size helps (the hint named batchSize=16, the size it had)
  const single = refused(mlp, [2], { trainSize: 1, batchSize: 16, dropLast: false })!;
  assert.match(single.message, /on 1 training sample: every batch holds one sample/);
  assert.equal(single.where, "data");
  assert.doesNotMatch(single.hint!, /batchSize/);
  assert.match(single.hint!, /2 training samples or more/);
  // without batch norm, or another model, nothing to refuse
  assert.equal(
    refused({ kind: "mlp", batchNorm: false }, [2], {
      trainSize: 61,
      batchSize: 10,
      dropLast: false,
    }),
    undefined,
  );
  assert.equal(
    refused({ kind: "linear" }, [2], { trainSize: 1, batchSize: 1, dropLast: false }),
    undefined,
  );
  // an MLP without hidden layers has no batch-norm layer (its head alone, torch's Linear)
  assert.equal(
    refused({ ...mlp, hidden: [] }, [2], { trainSize: 40, batchSize: 1, dropLast: false }),
    undefined,
  );
  assert.equal(
    refused({ ...mlp, hidden: [] }, [2], { trainSize: 1, batchSize: 16, dropLast: false }),
    undefined,
  );
  assert.match(
    refused({ ...mlp, hidden: [3] }, [2], { trainSize: 40, batchSize: 1, dropLast: false })!
      .message,
    /on batches of one sample/,
  );
  // a cnn normalizes a channel over the batch's positions: one sample is refused only where a
  // block's map is 1x1 (a 4x4 image pooled by 2 twice before its third block)
  const cnn = { kind: "cnn", batchNorm: true, filters: [2, 2], pool: 2 };
  assert.equal(
    refused(cnn, [4, 4, 1], { trainSize: 61, batchSize: 10, dropLast: false }),
    undefined,
  );
  const deep = { ...cnn, filters: [2, 2, 2] };
  assert.match(
    refused(deep, [4, 4, 1], { trainSize: 61, batchSize: 10, dropLast: false })!.message,
    /a channel of its 1x1 map/,
  );
});
