/**
 * The parity check of the dense steps (WGSL on WebGPU, TypeScript on the host) against tfjs's own
 * forward and backward: the same engine built twice from one seed, one with `fusedModel` and
 * `fusedOptimizer` off (tfjs's ops for the step and the update), fed the same batches, must give
 * the same gradients, losses, metrics, gradient norms, weights and evaluations (inference's loss
 * and metrics) to float rounding, for each
 * activation, loss, optimizer, clipping, accumulation, a smaller last batch and weights written
 * from outside between steps.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { parseConfig, type RunConfig } from "../../config.ts";
import { type DataShape, type HostBatch, TrainingEngine } from "../engine.ts";
import { Rng } from "../../data/rng.ts";
import { DenseGpuProgram } from "./gpu_program.ts";
import { cnnPlan, densePlan } from "./plan.ts";

/**
 * Runs one dispatch of `pipeline` (its bindings 0.. the `bindings`, in order) over `groups`
 * workgroups, and reads `bytes` of `result` (a binding made with `COPY_SRC`) back: a test of one
 * kernel, outside a step.
 */
export async function runKernel(
  device: GPUDevice,
  pipeline: GPUComputePipeline,
  bindings: GPUBuffer[],
  groups: [number, number?],
  result: GPUBuffer,
  bytes: number,
): Promise<ArrayBuffer> {
  const read = device.createBuffer({
    size: Math.max(16, bytes),
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(
    0,
    device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: bindings.map((buffer, binding) => ({ binding, resource: { buffer } })),
    }),
  );
  pass.dispatchWorkgroups(...groups);
  pass.end();
  encoder.copyBufferToBuffer(result, 0, read, 0, bytes);
  device.queue.submit([encoder.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const copy = read.getMappedRange().slice(0, bytes);
  read.unmap();
  read.destroy();
  return copy;
}

/** A random batch for data of `shape` (class indices, binary labels or real targets). */
export function batch(
  rng: () => number,
  size: number,
  inputs: number,
  shape: DataShape,
): HostBatch {
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

/** Asserts `actual` equals `expected` to `tol` relative to the largest magnitude. */
export function close(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what: string,
  tol = 2e-5,
  floor = 1e-3,
) {
  assert.equal(actual.length, expected.length, what);
  let scale = floor;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(actual[i] - expected[i]);
    assert.ok(
      diff <= tol * scale,
      `${what}[${i}]: ${actual[i]} vs ${expected[i]} (scale ${scale})`,
    );
  }
}

/** One parity case: config overrides, data shape, micro-batch sizes per step. */
export interface ParityCase {
  name: string;
  config: Record<string, unknown>;
  shape: DataShape;
  /** Micro-batch sizes of each step. */
  steps: number[][];
  /**
   * The smallest magnitude tolerances are relative to (1e-3). A convolution's bias followed by
   * batch norm has a gradient of zero up to rounding, which is relative to the upstream values.
   */
  floor?: number;
  /**
   * Gradients zero but for rounding, by position: a convolution's bias under batch norm, which
   * takes each channel's mean out (the bias moves nothing). Each is held to lie within
   * {@linkcode ZERO_GRAD} of zero on both paths, not to the other path's rounding: a sum over
   * every position of the batch, amplified by 1/sqrt(variance), which was drawn 2.5e-5 apart
   * (-1.5e-5 against -4.0e-5), more than 2e-5 of 1.
   */
  zeroGrads?: number[];
}

/**
 * How far from zero a gradient zero but for rounding may lie ({@linkcode ParityCase.zeroGrads}):
 * over ten times the largest drawn (4.0e-5), and far below a term of the loss's scale, as a wrong
 * index or a missed term in batch norm's backward pass would leave.
 */
const ZERO_GRAD = 5e-4;

/** Asserts every value of `actual` and `expected` lies within {@linkcode ZERO_GRAD} of zero. */
function nearZero(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string) {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs(actual[i]) <= ZERO_GRAD && Math.abs(expected[i]) <= ZERO_GRAD,
      `${what}[${i}]: ${actual[i]} and ${expected[i]}, zero but for rounding (${ZERO_GRAD})`,
    );
  }
}

/**
 * Writes `weights` (in `readWeights()`'s order) into `engine`: two engines name their layers
 * apart, so values are matched by position.
 */
async function writeByPosition(
  engine: TrainingEngine,
  weights: { shape: number[]; values: Float32Array }[],
): Promise<void> {
  const names = Object.keys(await engine.readWeights());
  engine.writeWeights(Object.fromEntries(names.map((name, i) => [name, weights[i]])));
}

/** A 7-class problem on 6x5 inputs. */
export const classification: DataShape = {
  inputShape: [6, 5],
  targetSize: 1,
  task: "classification",
  numClasses: 7,
};

/** The cases both dense paths are checked on. */
export const PARITY_CASES: ParityCase[] = [
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
    name: "mlp relu, cross-entropy, lion, value and inf-norm clipping",
    config: {
      model: { kind: "mlp", hidden: [24] },
      optimizer: { name: "lion", lr: 0.003, weightDecay: 0.1 },
      clipping: { value: 0.05, maxNorm: 0.02, normType: "inf" },
    },
    shape: classification,
    steps: [[30], [30], [30]],
  },
  {
    name: "linear, mse, sgd with nesterov and weight decay, L2 clipping",
    config: {
      model: { kind: "linear" },
      optimizer: { name: "sgd", lr: 0.05, momentum: 0.8, nesterov: true, weightDecay: 0.1 },
      clipping: { maxNorm: 0.3 },
    },
    shape: { inputShape: [5], targetSize: 2, task: "regression" },
    steps: [[16], [16], [16], [16]],
  },
  {
    name: "mlp tanh, mse, adam with maximize and L2 decay (the gradient negated first)",
    config: {
      model: { kind: "mlp", hidden: [20], activation: "tanh" },
      optimizer: { name: "adam", lr: 0.01, weightDecay: 0.1, maximize: true },
    },
    shape: { inputShape: [6], targetSize: 2, task: "regression" },
    steps: [[16], [16], [16]],
  },
  {
    // The step's gradient tensors are written in place every step: tfjs's SGD took its first
    // momentum buffer as a clone of the gradient (sharing its data), which then followed every
    // later gradient (the optimizer tfjs's as under onecycle's or cyclic's momentum cycling).
    name: "mlp relu, cross-entropy, tfjs's sgd with momentum on the reused gradients",
    config: {
      model: { kind: "mlp", hidden: [12] },
      optimizer: { name: "sgd", lr: 0.1, momentum: 0.9 },
      fusedOptimizer: false,
    },
    shape: classification,
    steps: [[20], [20], [20], [20]],
  },
  {
    // A mask a micro-batch and a layer: 31 units of 17 rows end the bits in a part-filled word.
    // The second micro-batch is larger than the first: the buffers are made again mid-step.
    name: "mlp relu with dropout 0.3, cross-entropy, adam, gradient accumulation",
    config: {
      model: { kind: "mlp", hidden: [40, 31], dropout: 0.3 },
      optimizer: { name: "adam", lr: 0.01 },
      gradientAccumulation: 2,
    },
    shape: classification,
    steps: [[17, 20], [20, 17], [20, 17], [9]],
  },
  {
    name: "mlp tanh with dropout 0.6, mse, sgd momentum",
    config: {
      model: { kind: "mlp", hidden: [33], activation: "tanh", dropout: 0.6 },
      optimizer: { name: "sgd", lr: 0.05, momentum: 0.9 },
    },
    shape: { inputShape: [9], targetSize: 3, task: "regression" },
    steps: [[25], [25], [25]],
  },
  {
    name: "mlp sigmoid with dropout 0.1, binary cross-entropy, lion",
    config: {
      model: { kind: "mlp", hidden: [12, 7], activation: "sigmoid", dropout: 0.1 },
      optimizer: { name: "lion", lr: 0.003 },
    },
    shape: { inputShape: [12], targetSize: 1, task: "binary" },
    steps: [[30], [30], [30]],
  },
  {
    name: "mlp gelu, cross-entropy, adamw",
    config: {
      model: { kind: "mlp", hidden: [24, 17], activation: "gelu" },
      optimizer: { name: "adamw", lr: 0.01 },
    },
    shape: classification,
    steps: [[32], [32], [32]],
  },
  {
    name: "mlp gelu with dropout 0.2, mse, sgd momentum, gradient accumulation",
    config: {
      model: { kind: "mlp", hidden: [19], activation: "gelu", dropout: 0.2 },
      optimizer: { name: "sgd", lr: 0.05, momentum: 0.9 },
      gradientAccumulation: 2,
    },
    shape: { inputShape: [9], targetSize: 2, task: "regression" },
    steps: [[16, 16], [16, 16], [16, 7]],
  },
  {
    name: "linear, mse, adamax (tfjs optimizer on the reused gradients), clipping",
    config: {
      model: { kind: "linear" },
      optimizer: { name: "adamax", lr: 0.01 },
      clipping: { maxNorm: 0.5 },
    },
    shape: { inputShape: [3], targetSize: 1, task: "regression" },
    steps: [[16], [16], [16], [16]],
  },
  {
    name: "mlp tanh, cross-entropy, rmsprop centered with momentum (the host's own on the host " +
      "step), clipping",
    config: {
      model: { kind: "mlp", hidden: [6], activation: "tanh" },
      optimizer: { name: "rmsprop", lr: 0.01, centered: true, momentum: 0.5, weightDecay: 0.01 },
      clipping: { maxNorm: 0.5 },
    },
    shape: { inputShape: [5], targetSize: 1, task: "classification", numClasses: 3 },
    steps: [[16], [16], [16], [16]],
  },
];

/**
 * An MLP's batch norm, on both dense steps. The dense bias before batch norm has a gradient of
 * zero up to rounding (the normalization takes each unit's mean out): SGD, whose step is that
 * rounding times lr, and those gradients held near zero (see {@linkcode ParityCase.zeroGrads}).
 */
export const NORM_PARITY_CASES: ParityCase[] = [
  {
    name: "mlp relu with batch norm, cross-entropy, sgd momentum, a smaller last batch",
    config: {
      model: { kind: "mlp", hidden: [24, 17], batchNorm: true },
      optimizer: { name: "sgd", lr: 0.05, momentum: 0.9 },
    },
    shape: classification,
    steps: [[32], [32], [32], [9]],
    floor: 1e-2,
    zeroGrads: [1, 5],
  },
  {
    name: "mlp tanh with batch norm and dropout 0.3, mse, sgd, gradient accumulation",
    config: {
      model: { kind: "mlp", hidden: [19], activation: "tanh", batchNorm: true, dropout: 0.3 },
      optimizer: { name: "sgd", lr: 0.05 },
      gradientAccumulation: 2,
    },
    shape: { inputShape: [9], targetSize: 2, task: "regression" },
    steps: [[16, 16], [16, 9], [16, 16]],
    floor: 1e-2,
    zeroGrads: [1],
  },
  {
    name: "mlp gelu with batch norm and dropout 0.2, binary cross-entropy, sgd",
    config: {
      model: { kind: "mlp", hidden: [12, 8], activation: "gelu", batchNorm: true, dropout: 0.2 },
      optimizer: { name: "sgd", lr: 0.1 },
    },
    shape: { inputShape: [12], targetSize: 1, task: "binary" },
    steps: [[24], [24], [24]],
    floor: 1e-2,
    zeroGrads: [1, 5],
  },
];

/** {@linkcode checkParity} on WebGPU's WGSL step, which must raise no validation error. */
export async function checkWebGpuParity(c: ParityCase): Promise<void> {
  const device = (tf.backend() as unknown as { device: GPUDevice }).device;
  device.pushErrorScope("validation");
  await checkParity(c, "webgpu", "wgsl");
  assert.equal(await device.popErrorScope(), null);
}

/** Trains `c` through the dense path (`path`) and through tfjs side by side, comparing each step. */
export async function checkParity(
  c: ParityCase,
  backend: "webgpu" | "wasm" | "cpu",
  path: "wgsl" | "host",
): Promise<void> {
  const config = parseConfig({ backend, seed: 5, ...c.config }) as RunConfig;
  const fused = new TrainingEngine(config, c.shape);
  // The reference: tfjs's ops for the step and for the update.
  const reference = new TrainingEngine(
    { ...config, fusedModel: false, fusedOptimizer: false },
    c.shape,
  );
  try {
    assert.equal(fused.modelPath, path, fused.fusedModelReason ?? "");
    assert.equal(reference.modelPath, "tfjs");
    assert.equal(reference.optimizerPath, "tfjs");
    // (rmsprop and adagrad have a host update, no WGSL one)
    const host = path === "host" ? ["rmsprop", "adagrad"] : [];
    const own = ["sgd", "adam", "adamw", "lion", ...host];
    const ownUpdate = config.fusedOptimizer && own.includes(config.optimizer.name);
    assert.equal(fused.optimizerPath, ownUpdate ? path : "tfjs");
    const inputs = c.shape.inputShape.reduce((a, b) => a * b, 1);
    const gen = new Rng(11);
    const rng = () => gen.float();
    for (const [s, sizes] of c.steps.entries()) {
      if (s === 2) {
        // New weights from outside the step (a checkpoint restored, a rollback): both must see them.
        const halved = Object.values(await reference.readWeights()).map((w) => ({
          shape: w.shape,
          values: w.values.map((v) => v * 0.5),
        }));
        for (const engine of [fused, reference]) await writeByPosition(engine, halved);
      }
      const micro = sizes.map((size) => batch(rng, size, inputs, c.shape));
      const a = fused.computeGradients(micro);
      const b = reference.computeGradients(micro);
      const ga = a.hostGrads ?? await Promise.all(a.grads.map((g) => g.data()));
      const gb = await Promise.all(b.grads.map((g) => g.data()));
      ga.forEach((g, i) =>
        c.zeroGrads?.includes(i)
          ? nearZero(g, gb[i], `step ${s} grad ${i}`)
          : close(g, gb[i], `step ${s} grad ${i}`, 2e-5, c.floor)
      );
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
      // Evaluation (inference: the WGSL forward pass and loss where the path takes them, an rnn
      // on llvmpipe, every model on a hardware GPU) of the step's first
      // micro-batch, on the updated weights; its norm is 0.
      const [ea, eb] = [
        (await fused.readStats([fused.evaluate(micro[0])]))[0],
        (await reference.readStats([reference.evaluate(micro[0])]))[0],
      ];
      close(
        [ea.loss, ea.gradNorm, ...ea.metricSums],
        [eb.loss, eb.gradNorm, ...eb.metricSums],
        `step ${s} evaluation`,
      );
      assert.equal(ea.gradNorm, 0);
      assert.equal(ea.samples, eb.samples);
    }
    const [wa, wb] = [await fused.readWeights(), await reference.readWeights()];
    const [la, lb] = [Object.values(wa), Object.values(wb)];
    assert.equal(la.length, lb.length);
    lb.forEach((w, i) => close(la[i].values, w.values, `weight ${i}`, 1e-4));
  } finally {
    fused.dispose();
    reference.dispose();
  }
}

/**
 * Mixed precision against float32 on WebGPU: `c` trained twice from one seed, with and without
 * `mixedPrecision`, on the same batches (`c.steps`); the losses, gradient norms and weights must
 * agree to half-precision rounding (1% of each tensor's largest magnitude, at least `c.floor`),
 * and must not all be equal (float16 rounds; not asked with `mustRound` false, as of a drawn
 * model whose units may all be dead), unless no layer stores float16 (every width odd: each such
 * layer keeps float32), where they must all be equal. Raises no validation error.
 *
 * Compared step by step, the gradients of a model with relu and max pooling can differ by more:
 * a value rounded to float16 can cross zero or change a window's maximum, and the position
 * getting a gradient changes. With `exact` (a tolerance), the convolution kernels are written as
 * quarters (-1/4, 0, 1/4), their biases 0, and the inputs halves (-1 to 1): every convolution
 * output is then a multiple of a power of two that float16 holds exactly, so without batch norm
 * the forward pass is exact and the first step's gradients must agree to `exact`; with batch
 * norm (a single block) only its normalized activations round, after the choices of relu and
 * pooling.
 */
export async function checkMixedPrecision(
  c: ParityCase,
  exact?: number,
  mustRound = true,
): Promise<void> {
  const device = (tf.backend() as unknown as { device: GPUDevice }).device;
  device.pushErrorScope("validation");
  const base = { backend: "webgpu", seed: 5, ...c.config };
  const mixed = new TrainingEngine(parseConfig({ ...base, mixedPrecision: true }), c.shape);
  const full = new TrainingEngine(parseConfig(base), c.shape);
  try {
    assert.equal(mixed.precision, "mixed");
    assert.equal(full.precision, "float32");
    assert.equal(mixed.modelPath, "wgsl");
    const inputs = c.shape.inputShape.reduce((a, b) => a * b, 1);
    const gen = new Rng(6);
    const rng = () => gen.float();
    if (exact !== undefined) {
      // (tfjs names a model's weights apart from an earlier one's: conv0/kernel_1, ...)
      const [kernel, bias] = [/^conv\d+\/kernel(_\d+)?$/, /^conv\d+\/bias(_\d+)?$/];
      const named = Object.entries(await full.readWeights());
      assert.ok(named.some(([name]) => kernel.test(name)), "the conv kernels to write are found");
      const weights = named.map(([name, w]) => ({
        shape: w.shape,
        values: kernel.test(name)
          ? w.values.map(() => (Math.floor(rng() * 3) - 1) / 4)
          : bias.test(name)
          ? w.values.map(() => 0)
          : w.values,
      }));
      for (const engine of [mixed, full]) await writeByPosition(engine, weights);
    }
    // (every width odd, the model keeps every activation float32: its numbers are float32's,
    // bit for bit)
    const halved = await mixed.extraStepBytes(32) < await full.extraStepBytes(32);
    let differs = false;
    for (const [s, sizes] of c.steps.entries()) {
      const micro = sizes.map((size) => {
        const data = batch(rng, size, inputs, c.shape);
        if (exact !== undefined) data.x = data.x.map((v) => Math.round(v * 2) / 2);
        return data;
      });
      const [a, b] = [mixed, full].map((engine) => engine.computeGradients(micro));
      if (exact !== undefined && s === 0) {
        const [ga, gb] = await Promise.all(
          [a, b].map((step) => Promise.all(step.grads.map((g) => g.data()))),
        );
        ga.forEach((g, i) => close(g, gb[i], `step ${s} grad ${i}`, exact, c.floor));
      }
      mixed.applyGradients(a, 0.01);
      full.applyGradients(b, 0.01);
      const [[va], [vb]] = [await mixed.readStats([a]), await full.readStats([b])];
      if (!halved) assert.deepEqual(va, vb, `step ${s}: no layer stores float16`);
      // float16 keeps ~3 decimal digits of each activation
      close([va.loss, va.gradNorm], [vb.loss, vb.gradNorm], `step ${s}`, 1e-2);
      differs ||= va.loss !== vb.loss || va.gradNorm !== vb.gradNorm;
    }
    if (halved && mustRound) assert.ok(differs, "the float16 path rounds");
    // (by position: tfjs names a later model's weights apart, `dense_Dense3/kernel`, ...)
    const [wa, wb] = [
      Object.values(await mixed.readWeights()),
      Object.values(await full.readWeights()),
    ];
    if (!halved) assert.deepEqual(wa, wb, "no layer stores float16: float32's weights");
    wb.forEach((w, i) => close(wa[i].values, w.values, `weight ${i}`, 1e-2, c.floor));
    // an evaluation (the forward alone: an rnn's in the WGSL step on any adapter, the others'
    // there on a hardware GPU) to half rounding too
    const held = batch(rng, 20, inputs, c.shape);
    const [ea, eb] = await Promise.all(
      [mixed, full].map(async (engine) => (await engine.readStats([engine.evaluate(held)]))[0]),
    );
    if (!halved) assert.deepEqual(ea, eb, "no layer stores float16: float32's evaluation");
    close([ea.loss], [eb.loss], "evaluation loss", 1e-2);
  } finally {
    mixed.dispose();
    full.dispose();
  }
  assert.equal(await device.popErrorScope(), null);
}

/**
 * `c` (every width odd: under mixed precision every layer keeps float32) trained with and without
 * mixed precision: the runs must be the same bit for bit (losses, gradient norms, weights, an
 * evaluation: {@linkcode checkMixedPrecision}), the mixed one's `precision` still `mixed`, and
 * its `float32Layers` `layers`.
 */
export async function checkMixedAllFloat32(c: ParityCase, layers: string[]): Promise<void> {
  const base = { backend: "webgpu", seed: 5, ...c.config };
  const mixed = new TrainingEngine(parseConfig({ ...base, mixedPrecision: true }), c.shape);
  const full = new TrainingEngine(parseConfig(base), c.shape);
  try {
    assert.equal(mixed.precision, "mixed");
    assert.deepEqual(mixed.float32Layers, layers);
    assert.equal(full.float32Layers, undefined);
    assert.equal(await mixed.extraStepBytes(32), await full.extraStepBytes(32), "nothing halved");
  } finally {
    mixed.dispose();
    full.dispose();
  }
  await checkMixedPrecision(c);
}

/**
 * `c`'s gradients at each of `steps` with and without mixed precision, on one batch of 32 from
 * the same weights (or, given `micro`, on micro-batches of `micro[k]`'s sizes at the k-th step:
 * a larger one after a smaller reads buffers the smaller wrote), held to 1% of each tensor's
 * largest magnitude; the gradients at `skip` (zero but for rounding) are not compared.
 */
export async function mixedGradients(
  c: ParityCase,
  steps: number[],
  skip: number[] = [],
  micro?: number[][],
) {
  const base = { backend: "webgpu", seed: 5, ...c.config };
  const mixed = new TrainingEngine(parseConfig({ ...base, mixedPrecision: true }), c.shape);
  const full = new TrainingEngine(parseConfig(base), c.shape);
  try {
    assert.equal(mixed.modelPath, "wgsl");
    const gen = new Rng(2);
    const inputs = c.shape.inputShape.reduce((a, b) => a * b, 1);
    const data = batch(() => gen.float(), 32, inputs, c.shape);
    for (const [k, step] of steps.entries()) {
      const batches = micro?.[k].map((size) => batch(() => gen.float(), size, inputs, c.shape)) ??
        [data];
      const [a, b] = await Promise.all([mixed, full].map((engine) => {
        const pending = engine.computeGradients(batches, step);
        return Promise.all(pending.grads.map((g) => g.data()));
      }));
      b.forEach((g, i) => skip.includes(i) || close(a[i], g, `step ${step} gradient ${i}`, 1e-2));
    }
  } finally {
    mixed.dispose();
    full.dispose();
  }
}

/**
 * A NaN in a batch's inputs reaches the loss as it does through tfjs's ops (and torch's: relu,
 * max pooling and the activations pass NaN on): `config` trained one step through the dense path
 * (`path`) and through tfjs on a batch whose sample 0 has a NaN feature; both losses and both
 * gradient norms must be NaN (the step skipped on both), not a finite loss from a relu that made
 * the NaN a 0.
 */
export async function checkNaNInput(
  overrides: Record<string, unknown>,
  shape: DataShape,
  backend: "webgpu" | "wasm" | "cpu",
  path: "wgsl" | "host",
): Promise<void> {
  const config = parseConfig({ backend, seed: 5, ...overrides }) as RunConfig;
  const fused = new TrainingEngine(config, shape);
  // (tfjs's path stores float32: mixedPrecision is the WGSL step's alone)
  const reference = new TrainingEngine(
    { ...config, fusedModel: false, fusedOptimizer: false, mixedPrecision: false },
    shape,
  );
  try {
    assert.equal(fused.modelPath, path, fused.fusedModelReason ?? "");
    const inputs = shape.inputShape.reduce((a, b) => a * b, 1);
    const gen = new Rng(13);
    const data = batch(() => gen.float(), 12, inputs, shape);
    data.x[Math.floor(inputs / 2)] = NaN;
    const [a, b] = await Promise.all([fused, reference].map(async (engine) => {
      const step = engine.computeGradients([data]);
      const [stats] = await engine.readStats([step]);
      engine.discardGradients(step);
      return stats;
    }));
    assert.ok(Number.isNaN(b.loss), `tfjs's loss is NaN (${b.loss})`);
    assert.ok(Number.isNaN(a.loss), `the ${path} step's loss is NaN, as tfjs's, not ${a.loss}`);
    assert.ok(!Number.isFinite(a.gradNorm), `the ${path} step's norm is not finite: ${a.gradNorm}`);
  } finally {
    fused.dispose();
    reference.dispose();
  }
}

/** The models {@linkcode checkNaNInput} runs on each dense step. */
export const NAN_INPUT_CASES: { name: string; config: Record<string, unknown> }[] = [
  { name: "mlp relu", config: { model: { kind: "mlp", hidden: [16, 8] } } },
  { name: "mlp tanh", config: { model: { kind: "mlp", hidden: [16], activation: "tanh" } } },
  {
    name: "mlp relu with batch norm and dropout",
    config: { model: { kind: "mlp", hidden: [16], batchNorm: true, dropout: 0.2 } },
  },
];

/**
 * The WGSL step's evaluation of a model with batch norm (`overrides`: an mlp or a cnn) against
 * tfjs's inference on the same variables: before any training pass (moving averages 0 and 1),
 * then after two training passes of the program moved them. Each evaluation of 11 samples runs
 * in parts of 5, 5 and 1 (each part normalized by the moving averages alike), must give tfjs's
 * loss and metric (to half rounding with `mixed`: the program's activations float16), and must
 * leave the moving averages as they were. (The engine evaluates in tfjs's ops on a software
 * adapter: the program is called here.)
 */
export async function checkNormEvaluation(
  overrides: Record<string, unknown>,
  shape: DataShape,
  mixed = false,
): Promise<void> {
  const config = parseConfig({ backend: "webgpu", seed: 4, fusedModel: false, ...overrides });
  const reference = new TrainingEngine(config, shape);
  const plan = config.model.kind === "cnn"
    ? cnnPlan(
      config,
      reference.model,
      reference.variables,
      "crossEntropy",
      shape.inputShape,
      shape.targetSize,
    )
    : densePlan(config, reference.variables, "crossEntropy", shape.targetSize, reference.model);
  if (typeof plan === "string") throw new Error(plan);
  const program = new DenseGpuProgram({ ...plan, evalRows: 5, halfActivations: mixed });
  try {
    const gen = new Rng(12);
    const inputs = shape.inputShape.reduce((a, b) => a * b, 1);
    const data = batch(() => gen.float(), 11, inputs, shape);
    const evaluations: number[][] = [];
    for (const trainedPasses of [0, 2]) {
      for (let k = 0; k < trainedPasses; k++) {
        const train = batch(() => gen.float(), 16, inputs, shape);
        train.x = train.x.map((v) => 3 * v + 1); // (statistics far from the initial 0 and 1)
        const { stats } = program.computeGradients([train]);
        await stats.data();
        stats.dispose();
      }
      const before = await reference.readWeights();
      const [want] = await reference.readStats([reference.evaluate(data)]);
      const stats = program.evaluate(data);
      const got = Array.from(await stats.data());
      stats.dispose();
      const what = `after ${trainedPasses} training passes`;
      close(got, [want.loss, 0, ...want.metricSums], what, mixed ? 1e-2 : 2e-5);
      evaluations.push(got);
      const after = await reference.readWeights();
      for (const [name, w] of Object.entries(before)) {
        assert.deepEqual(after[name].values, w.values, `${name} as it was`);
      }
    }
    // the training passes moved the moving averages, and the evaluation followed them
    assert.notDeepEqual(evaluations[0], evaluations[1]);
  } finally {
    program.dispose();
    reference.dispose();
  }
}
