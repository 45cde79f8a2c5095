import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { buildModel, countParameters } from "../models/build.ts";
import { ModelSpecSchema } from "../models/spec.ts";
import { modelSize } from "../models/size.ts";
import { parseConfig } from "../config.ts";
import { AnnealError } from "../errors.ts";
import { checkStepMemory, smallestBatch, stepFloorBytes, WASM_HEAP_MAX } from "./wasm_memory.ts";
import { trainInProcess } from "./in_process.ts";
import { findBatchSize } from "./batch_size.ts";
import { selectBackend } from "./backend.ts";
import { TrainingEngine } from "./engine.ts";

const dims = (max: number) => fc.array(fc.integer({ min: 1, max }), { minLength: 1, maxLength: 3 });

/** Model specs of each kind, small enough to build, with the data shapes they take. */
const cases = fc.oneof(
  fc.record({
    spec: fc.constant({ kind: "linear" }),
    inputShape: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 }),
  }),
  fc.record({
    spec: fc.record({
      kind: fc.constant("mlp"),
      hidden: dims(12),
      batchNorm: fc.boolean(),
      dropout: fc.constantFrom(0, 0.25),
    }),
    inputShape: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 }),
  }),
  fc.record({
    spec: fc.record({
      kind: fc.constant("cnn"),
      filters: dims(5),
      kernelSize: fc.integer({ min: 1, max: 3 }),
      pool: fc.constantFrom(1, 2),
      batchNorm: fc.boolean(),
      dense: fc.array(fc.integer({ min: 1, max: 8 }), { maxLength: 2 }),
    }),
    // 8x8 maps pool to 1x1 at the third block; a third entry is channels
    inputShape: fc.tuple(fc.integer({ min: 8, max: 10 }), fc.integer({ min: 8, max: 10 }))
      .chain((hw) =>
        fc.oneof(fc.constant(hw), fc.integer({ min: 1, max: 3 }).map((c) => [...hw, c]))
      ),
  }),
  fc.record({
    spec: fc.record({
      kind: fc.constant("rnn"),
      cell: fc.constantFrom("lstm", "gru"),
      units: fc.integer({ min: 1, max: 6 }),
      layers: fc.integer({ min: 1, max: 3 }),
    }),
    inputShape: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }),
  }),
);

Deno.test("modelSize counts, from the spec alone, the parameters of the model buildModel makes", async () => {
  await tf.setBackend("cpu");
  fc.assert(
    fc.property(cases, fc.integer({ min: 1, max: 4 }), ({ spec, inputShape }, outputUnits) => {
      const shape = { inputShape, outputUnits };
      const model = buildModel(spec, shape, 7);
      try {
        assert.equal(
          modelSize(ModelSpecSchema.parse(spec), shape).parameters,
          countParameters(model),
        );
      } finally {
        model.dispose();
      }
    }),
    { numRuns: 60 },
  );
});

Deno.test("modelSize names the widest tensor one sample makes: the input, a dense or conv layer's output", () => {
  const mlp = ModelSpecSchema.parse({ kind: "mlp", hidden: [50, 300] });
  assert.deepEqual(modelSize(mlp, { inputShape: [10, 10], outputUnits: 3 }).widest, {
    floats: 300,
    name: "layer dense1",
  });
  assert.deepEqual(modelSize(mlp, { inputShape: [28, 28], outputUnits: 3 }).widest, {
    floats: 784,
    name: "the input",
  });
  // the first conv's 28x28 maps of 32 filters, before its pool
  const cnn = ModelSpecSchema.parse({ kind: "cnn" });
  assert.deepEqual(modelSize(cnn, { inputShape: [28, 28, 1], outputUnits: 10 }).widest, {
    floats: 28 * 28 * 32,
    name: "layer conv0",
  });
  const rnn = ModelSpecSchema.parse({ kind: "rnn", units: 64 });
  assert.deepEqual(modelSize(rnn, { inputShape: [5, 2], outputUnits: 1 }).widest, {
    floats: 64,
    name: "layer lstm0",
  });
});

Deno.test("checkStepMemory refuses on wasm a step past 4 GiB, on cpu one past the machine's memory, and nothing at or below them", () => {
  const linear = ModelSpecSchema.parse({ kind: "linear" });
  // a linear model of n inputs: n + 1 parameters, its input the widest tensor
  const fits = (features: number, batch: number) => {
    try {
      checkStepMemory(linear, { inputShape: [features], outputUnits: 1 }, batch, "wasm");
      return true;
    } catch (error) {
      assert.equal((error as AnnealError).code, "backend");
      assert.equal((error as AnnealError).where, "model");
      return false;
    }
  };
  // weights and gradients: 8 bytes a parameter
  const most = WASM_HEAP_MAX / 8 - 1;
  assert.equal(
    stepFloorBytes(modelSize(linear, { inputShape: [most], outputUnits: 1 }), 1),
    WASM_HEAP_MAX,
  );
  assert.ok(fits(most, 1));
  assert.ok(!fits(most + 1, 1));
  // the weights and the input of a batch: the batch decides
  assert.ok(fits(1000, 1_073_000));
  assert.ok(!fits(1000, 1_074_000));
  // (cpu's tensors take the machine's memory, past which a step is refused: 80 TB of weights
  // and gradients, more than any machine here)
  checkStepMemory(linear, { inputShape: [1e7], outputUnits: 1 }, 1, "cpu");
  assert.throws(
    () => checkStepMemory(linear, { inputShape: [1e13], outputUnits: 1 }, 1, "cpu"),
    (error: AnnealError) => {
      assert.equal(error.code, "backend");
      assert.match(
        error.message,
        /^Out of memory on backend cpu: a training step of this model holds at least 74505\.8 GiB at once, and this machine has [\d.]+ GiB of memory in all\./,
      );
      assert.doesNotMatch(error.hint!, /backend cpu/);
      return true;
    },
  );
});

Deno.test("an epoch's smallest batch is its remainder, unless dropLast drops it", () => {
  assert.equal(smallestBatch(200, 16, false), 8);
  assert.equal(smallestBatch(192, 16, false), 16);
  assert.equal(smallestBatch(200, 16, true), 16);
  assert.equal(smallestBatch(5, 16, false), 5);
  assert.equal(smallestBatch(5, 16, true), 5);
});

Deno.test("on wasm the in-process loop and the batch-size finder refuse a step past 4 GiB before building the model, and a batch whose allocation fails is its row's error, not the process's end", async () => {
  // 1e9 hidden units: the loop would draw 4e9 weights (minutes) before failing
  const huge = parseConfig({
    backend: "wasm",
    epochs: 1,
    model: { kind: "mlp", hidden: [1_000_000_000] },
  });
  await assert.rejects(trainInProcess(huge), (error: AnnealError) => {
    assert.equal(error.code, "backend");
    assert.match(error.message, /Out of memory on backend wasm: .*4,000,000,001 parameters/);
    return true;
  });
  // 1e6 hidden units: batches of 8 fit (16 MB of weights); one of 2048 makes 8 GB of dense0's values
  const wide = parseConfig({
    backend: "wasm",
    data: { kind: "synthetic-linear", n: 2048 },
    model: { kind: "mlp", hidden: [1_000_000] },
    optimizer: { name: "sgd", lr: 0.01 },
  });
  const found = await findBatchSize(wide, { sizes: [8, 2048], steps: 1 });
  assert.equal(found.rows[0].fits, true, found.rows[0].error);
  assert.equal(found.rows[1].fits, false);
  assert.match(found.rows[1].error ?? "", /layer dense0's values for a batch of 2048 samples/);
  assert.equal(found.largest, 8);
  // 1024: 4.1 GB by that floor, within 4 GiB, but not with the step's other tensors; the failed
  // allocation is the row's error, saying so (under tf.profile it ended the process, uncaught)
  const tried = await findBatchSize(wide, { sizes: [8, 1024, 2048], steps: 1 });
  assert.deepEqual(tried.rows.map((row) => row.fits), [true, false, false]);
  assert.match(
    tried.rows[1].error ?? "",
    /^Out of memory on backend wasm: an allocation failed \(.*\)\. The model has 4,000,001 parameters/,
  );
  assert.match(tried.rows[2].skipped ?? "", /a smaller batch, 1024, did not fit/);
  assert.equal(found.largest, 8);
});

Deno.test("on wasm a cnn given no images is refused as on the other backends, by its input's shape, not as out of memory", async () => {
  await selectBackend("wasm");
  for (const inputShape of [[2], [784]]) {
    const config = parseConfig({ backend: "wasm", model: { kind: "cnn" } });
    const shape = { inputShape, targetSize: 1, task: "regression" as const };
    assert.throws(
      () => new TrainingEngine(config, shape),
      (e: unknown) =>
        e instanceof AnnealError && e.code === "config" &&
        /input must be images \[height, width, channels\]/.test(e.message) &&
        !/NaN|memory/.test(e.message),
      `input [${inputShape}]`,
    );
  }
});
