/**
 * The conv blocks of the WGSL step (`conv.ts`) against tfjs's own forward and backward of the same
 * `cnn` model, on the machine's WebGPU adapter (llvmpipe in CI): gradients (convolutions, batch
 * norm's scale and shift, dense layers), losses, metrics, gradient norms and every weight after
 * the updates, the batch-norm moving averages included, must agree to float rounding.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { parseConfig } from "../../config.ts";
import { AnnealError } from "../../errors.ts";
import { releaseWebGpu, selectBackend } from "../backend.ts";
import { type DataShape, TrainingEngine } from "../engine.ts";
import { checkWebGpuParity, type ParityCase } from "./_parity.ts";

const ready = selectBackend("webgpu", "cnn");

// Under batch norm a convolution's bias has a gradient of zero up to rounding noise, which Adam,
// AdamW and Lion turn into steps of +-lr: the cases with batch norm use SGD, whose step is the
// noise times lr.
const CASES: ParityCase[] = [
  {
    name: "two blocks with batch norm, pool 2, a dense layer, cross-entropy, sgd momentum",
    config: {
      model: { kind: "cnn", filters: [4, 6], dense: [5] },
      optimizer: { name: "sgd", lr: 0.05, momentum: 0.9 },
    },
    shape: { inputShape: [8, 8, 2], targetSize: 1, task: "classification", numClasses: 3 },
    steps: [[9], [9], [9], [5]],
    floor: 1e-2,
  },
  {
    name: "no batch norm, an even kernel, pool 3 (remainders), no dense layer, mse, adam, " +
      "accumulation",
    config: {
      model: { kind: "cnn", filters: [3, 5], kernelSize: 2, pool: 3, batchNorm: false, dense: [] },
      optimizer: { name: "adam", lr: 0.01 },
      gradientAccumulation: 2,
    },
    shape: { inputShape: [10, 10, 3], targetSize: 2, task: "regression" },
    steps: [[6, 6], [6, 3], [6, 6]],
  },
  {
    name: "grey 2-D images, pool 1, a 5x5 kernel, binary cross-entropy, L2 clipping",
    config: {
      model: { kind: "cnn", filters: [3], kernelSize: 5, pool: 1, dense: [4] },
      optimizer: { name: "sgd", lr: 0.1, nesterov: true, momentum: 0.5, weightDecay: 0.01 },
      clipping: { maxNorm: 0.5 },
    },
    shape: { inputShape: [6, 5], targetSize: 1, task: "binary" },
    steps: [[7], [7], [7]],
    floor: 1e-2,
  },
];

for (const c of CASES) {
  Deno.test(`WGSL conv step matches tfjs: ${c.name}`, async () => {
    await ready;
    await checkWebGpuParity(c);
  });
}

Deno.test("a cnn takes the WGSL step only where it applies, and says why not", async () => {
  await ready;
  const image: DataShape = {
    inputShape: [8, 8, 1],
    targetSize: 1,
    task: "classification",
    numClasses: 4,
  };
  const cases: [Record<string, unknown>, string][] = [
    [{ model: { kind: "cnn", filters: [2], dense: [3] } }, ""],
    [{ model: { kind: "cnn", filters: [2], dense: [3], dropout: 0.1 } }, "dropout"],
    [{ model: { kind: "cnn", filters: [2, 2, 2, 2], pool: 2 } }, "a pool of 2 over a 1x1 map"],
    [
      { model: { kind: "cnn", filters: [2] }, loss: "mse" },
      "targets of another size than the outputs",
    ],
    [
      { model: { kind: "cnn", filters: [2] }, batchSize: 40000 },
      "2560000 positions in a batch's first convolution (at most 2097120)",
    ],
    [{ model: { kind: "cnn", filters: [2] }, fusedModel: false }, ""],
  ];
  for (const [overrides, reason] of cases) {
    const config = parseConfig({ backend: "webgpu", ...overrides });
    const engine = new TrainingEngine(config, image);
    try {
      assert.equal(engine.fusedModelReason ?? "", reason);
      assert.equal(engine.modelPath, reason === "" && config.fusedModel ? "wgsl" : "tfjs");
    } finally {
      engine.dispose();
    }
  }
  assert.throws(
    () =>
      new TrainingEngine(
        parseConfig({
          backend: "webgpu",
          model: { kind: "cnn", filters: [2] },
          mixedPrecision: true,
        }),
        image,
      ),
    (e) => e instanceof AnnealError && /conv blocks keep float32/.test(e.message),
  );
});

Deno.test("tfjs's path on WebGPU reports the gradient norm of a model of more than 7 weight tensors", async () => {
  await ready;
  // tfjs-webgpu's AddN binds every input in one shader, past WebGPU's 8 storage buffers: the
  // engine summed the squares with it, an invalid pipeline that voided the step's commands.
  const config = parseConfig({
    backend: "webgpu",
    model: { kind: "mlp", hidden: [5, 5, 5], batchNorm: true },
    fusedModel: false,
  });
  const shape: DataShape = {
    inputShape: [6],
    targetSize: 1,
    task: "classification",
    numClasses: 3,
  };
  const engine = new TrainingEngine(config, shape);
  const device = (tf.backend() as unknown as { device: GPUDevice }).device;
  try {
    assert.ok(engine.variables.length > 7);
    device.pushErrorScope("validation");
    const x = Float32Array.from({ length: 24 }, (_, i) => Math.sin(i));
    const step = engine.computeGradients([{ x, y: Float32Array.of(0, 1, 2, 1), size: 4 }]);
    const grads = await Promise.all(step.grads.map((g) => g.data()));
    const [stats] = await engine.readStats([step]);
    assert.equal(await device.popErrorScope(), null);
    const norm = Math.sqrt(grads.flatMap((g) => Array.from(g)).reduce((s, v) => s + v * v, 0));
    assert.ok(norm > 0);
    assert.ok(Math.abs(stats.gradNorm - norm) <= 1e-5 * norm, `${stats.gradNorm} vs ${norm}`);
    engine.discardGradients(step);
  } finally {
    engine.dispose();
  }
});

Deno.test("release the WebGPU device", releaseWebGpu);
