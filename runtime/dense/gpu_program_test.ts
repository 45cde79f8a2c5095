/**
 * The dense WGSL step against tfjs's own forward and backward (the reference path), on the
 * machine's WebGPU adapter (llvmpipe in CI): the same engine built twice from one seed, fed the
 * same batches, must give the same losses, metrics, gradient norms, gradients and weights to
 * float rounding, for each activation, loss, accumulation and a smaller last batch.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { parseConfig, type RunConfig } from "../../config.ts";
import { selectBackend } from "../backend.ts";
import { type DataShape, type HostBatch, TrainingEngine } from "../engine.ts";
import { Rng } from "../../data/rng.ts";

const ready = selectBackend("webgpu", "mlp");

function batch(rng: () => number, size: number, inputs: number, shape: DataShape): HostBatch {
  const x = Float32Array.from({ length: size * inputs }, () => rng() * 2 - 1);
  const y = Float32Array.from(
    { length: size * shape.targetSize },
    () =>
      shape.task === "classification"
        ? Math.floor(rng() * shape.numClasses!)
        : shape.task === "binary"
        ? (rng() < 0.5 ? 0 : 1)
        : rng() * 2 - 1,
  );
  return { x, y, size };
}

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tol = 2e-5) {
  assert.equal(actual.length, expected.length, what);
  let scale = 1e-3;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(actual[i] - expected[i]);
    assert.ok(
      diff <= tol * scale,
      `${what}[${i}]: ${actual[i]} vs ${expected[i]} (scale ${scale})`,
    );
  }
}

interface Case {
  name: string;
  config: Record<string, unknown>;
  shape: DataShape;
  /** Micro-batch sizes of each step. */
  steps: number[][];
}

const classification: DataShape = {
  inputShape: [6, 5],
  targetSize: 1,
  task: "classification",
  numClasses: 7,
};

const CASES: Case[] = [
  {
    name: "mlp relu, cross-entropy, adam, a smaller last batch",
    config: { model: { kind: "mlp", hidden: [40, 33] }, optimizer: { name: "adam", lr: 0.01 } },
    shape: classification,
    steps: [[37], [37], [37], [11]],
  },
  {
    name: "mlp tanh, mse with 3 targets, sgd momentum",
    config: {
      model: { kind: "mlp", hidden: [70], activation: "tanh" },
      optimizer: { name: "sgd", lr: 0.05, momentum: 0.9 },
    },
    shape: { inputShape: [9], targetSize: 3, task: "regression" },
    steps: [[64], [64], [64]],
  },
  {
    name: "mlp sigmoid, binary cross-entropy, gradient accumulation",
    config: {
      model: { kind: "mlp", hidden: [17, 9], activation: "sigmoid" },
      optimizer: { name: "adamw", lr: 0.02 },
      gradientAccumulation: 2,
    },
    shape: { inputShape: [12], targetSize: 1, task: "binary" },
    steps: [[20, 20], [20, 5]],
  },
  {
    name: "linear, mse, rmsprop (tfjs optimizer on the reused gradients), clipping",
    config: {
      model: { kind: "linear" },
      optimizer: { name: "rmsprop", lr: 0.01 },
      clipping: { maxNorm: 0.5 },
    },
    shape: { inputShape: [3], targetSize: 1, task: "regression" },
    steps: [[16], [16], [16], [16]],
  },
];

for (const c of CASES) {
  Deno.test(`dense WGSL step matches tfjs: ${c.name}`, async () => {
    await ready;
    const config = parseConfig({ backend: "webgpu", seed: 5, ...c.config }) as RunConfig;
    const fused = new TrainingEngine(config, c.shape);
    const reference = new TrainingEngine({ ...config, fusedModel: false }, c.shape);
    const device = (tf.backend() as unknown as { device: GPUDevice }).device;
    device.pushErrorScope("validation");
    try {
      assert.equal(fused.fusedModel, true, fused.fusedModelReason);
      assert.equal(reference.fusedModel, false);
      const inputs = c.shape.inputShape.reduce((a, b) => a * b, 1);
      const gen = new Rng(11);
      const rng = () => gen.float();
      for (const [s, sizes] of c.steps.entries()) {
        const micro = sizes.map((size) => batch(rng, size, inputs, c.shape));
        const a = fused.computeGradients(micro);
        const b = reference.computeGradients(micro);
        const ga = await Promise.all(a.grads.map((g) => g.data()));
        const gb = await Promise.all(b.grads.map((g) => g.data()));
        ga.forEach((g, i) => close(g, gb[i], `step ${s} grad ${i}`));
        const maxNorm = config.clipping.maxNorm ?? undefined;
        fused.applyGradients(a, 0.01 * (s + 1), maxNorm);
        reference.applyGradients(b, 0.01 * (s + 1), maxNorm);
        const [va, vb] = [(await fused.readStats([a]))[0], (await reference.readStats([b]))[0]];
        close(
          [va.loss, va.gradNorm, ...va.metricSums],
          [vb.loss, vb.gradNorm, ...vb.metricSums],
          `step ${s} stats`,
        );
        assert.equal(va.samples, vb.samples);
      }
      const [wa, wb] = [await fused.readWeights(), await reference.readWeights()];
      const [la, lb] = [Object.values(wa), Object.values(wb)];
      assert.equal(la.length, lb.length);
      lb.forEach((w, i) => close(la[i].values, w.values, `weight ${i}`, 1e-4));
      assert.equal(await device.popErrorScope(), null);
    } finally {
      fused.dispose();
      reference.dispose();
    }
  });
}

Deno.test("dense WGSL step follows restored weights and leaks no tensors", async () => {
  await ready;
  const config = parseConfig({
    backend: "webgpu",
    model: { kind: "mlp", hidden: [8] },
    optimizer: { name: "sgd", lr: 0.1 },
  });
  const engine = new TrainingEngine(config, classification);
  try {
    assert.ok(engine.fusedModel);
    const gen = new Rng(3);
    const rng = () => gen.float();
    const data = batch(rng, 10, 30, classification);
    const saved = await engine.readWeights();
    const first = engine.computeGradients([data]);
    engine.applyGradients(first, 0.1);
    const [before] = await engine.readStats([first]);
    const tensors = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const step = engine.computeGradients([data]);
      engine.applyGradients(step, 0.1);
      await engine.readStats([step]);
    }
    assert.equal(tf.memory().numTensors, tensors);
    // Back to the start: the same batch must give the first step's loss again.
    engine.writeWeights(saved);
    engine.resetOptimizer();
    const again = engine.computeGradients([data]);
    engine.discardGradients(again);
    const [after] = await engine.readStats([again]);
    close([after.loss, after.gradNorm], [before.loss, before.gradNorm], "restored");
  } finally {
    engine.dispose();
  }
});

Deno.test("dense WGSL step is not used where it does not apply", async () => {
  await ready;
  const reasons: [Record<string, unknown>, string][] = [
    [{ model: { kind: "mlp", batchNorm: true } }, "batch norm"],
    [{ model: { kind: "mlp", dropout: 0.2 } }, "dropout"],
    [{ model: { kind: "mlp", activation: "gelu" } }, "the gelu activation"],
    [{ model: { kind: "mlp" }, fusedModel: false }, ""],
  ];
  for (const [overrides, reason] of reasons) {
    const engine = new TrainingEngine(
      parseConfig({ backend: "webgpu", ...overrides }),
      classification,
    );
    assert.equal(engine.fusedModel, false);
    assert.equal(engine.fusedModelReason ?? "", reason);
    engine.dispose();
  }
});
