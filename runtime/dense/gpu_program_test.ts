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
import { parseConfig, type RunConfigInput } from "../../config.ts";
import { releaseWebGpu, selectBackend } from "../backend.ts";
import { type DataShape, floatBatch, type HostByteBatch, TrainingEngine } from "../engine.ts";
import { AnnealError } from "../../errors.ts";
import { MAX_CONV_ROWS } from "./conv.ts";
import { DenseGpuProgram } from "./gpu_program.ts";
import { densePlan } from "./plan.ts";
import { Rng } from "../../data/rng.ts";
import {
  batch,
  checkMixedAllFloat32,
  checkMixedPrecision,
  checkNaNInput,
  checkNormEvaluation,
  checkWebGpuParity,
  classification,
  close,
  mixedGradients,
  NAN_INPUT_CASES,
  NORM_PARITY_CASES,
  PARITY_CASES,
  type ParityCase,
} from "./_parity.ts";

const ready = selectBackend("webgpu", "mlp");

// (a WebGPU case only: the host step is for models small enough that tfjs's per-op cost dominates)
const WIDE: ParityCase = {
  // a kernel of 300 x 120 = 36000 values: the norm's first stage gives it 3 workgroups
  name: "a wide first layer (the gradient norm split across workgroups), adam",
  config: { model: { kind: "mlp", hidden: [120] }, optimizer: { name: "adam", lr: 0.005 } },
  shape: { inputShape: [300], targetSize: 1, task: "classification", numClasses: 5 },
  steps: [[24], [24]],
};

// An MLP's batch norm over many features and rows (NORM_PARITY_CASES, _parity.ts, the small ones
// both steps run).
const NORM_CASES: ParityCase[] = [
  {
    // 1100 features: the first product splits along K; 70 units: three workgroups of 32 units
    // in the per-unit sums, the last one masked
    name: "mlp gelu with batch norm over 1100 features (a split product), binary, sgd nesterov",
    config: {
      model: { kind: "mlp", hidden: [70], activation: "gelu", batchNorm: true },
      optimizer: { name: "sgd", lr: 0.05, momentum: 0.5, nesterov: true },
    },
    shape: { inputShape: [1100], targetSize: 1, task: "binary" },
    steps: [[12], [12], [12]],
    floor: 1e-2,
    zeroGrads: [1],
  },
  {
    // 1500 rows: the per-unit sums over two slices of rows
    name: "mlp sigmoid with batch norm and dropout 0.2, a micro-batch of 1500 rows, sgd",
    config: {
      model: { kind: "mlp", hidden: [6, 5], activation: "sigmoid", batchNorm: true, dropout: 0.2 },
      optimizer: { name: "sgd", lr: 0.1 },
      batchSize: 1500,
    },
    shape: { inputShape: [4], targetSize: 1, task: "classification", numClasses: 3 },
    steps: [[1500], [1500]],
    floor: 1e-2,
    zeroGrads: [1, 5],
  },
];

for (const c of [...PARITY_CASES, WIDE, ...NORM_PARITY_CASES, ...NORM_CASES]) {
  Deno.test(`dense WGSL step matches tfjs: ${c.name}`, async () => {
    await ready;
    await checkWebGpuParity(c);
  });
}

Deno.test("a micro-batch whose buffer the device cannot bind whole is refused, not trained as 0", async () => {
  await ready;
  const device = (tf.backend() as unknown as { device: GPUDevice }).device;
  const limit = device.limits.maxStorageBufferBindingSize;
  // a hidden layer's activations, and a conv block's output, of just over the limit
  const units = 1000;
  const rows = Math.ceil(limit / 4 / units) + 1;
  const side = 28;
  // enough filters that the conv output passes the binding limit before the batch's positions
  // pass the convolution's grid (MAX_CONV_ROWS): a device that binds 2 GiB (the H200) needs 257
  const filters = Math.max(32, Math.ceil(limit / 4 / (MAX_CONV_ROWS - 2 * side * side)));
  const images = Math.ceil(limit / 4 / (side * side * filters)) + 1;
  const cases: [Record<string, unknown>, DataShape, number][] = [
    [{ model: { kind: "mlp", hidden: [units] } }, { ...classification, inputShape: [1] }, rows],
    [
      { model: { kind: "cnn", filters: [filters], batchNorm: false, dense: [] } },
      { ...classification, inputShape: [side, side] },
      images,
    ],
  ];
  for (const [overrides, shape, size] of cases) {
    const engine = new TrainingEngine(
      parseConfig({ backend: "webgpu", batchSize: size, ...overrides } as RunConfigInput),
      shape,
    );
    try {
      assert.equal(engine.modelPath, "wgsl", engine.fusedModelReason);
      const inputs = shape.inputShape.reduce((a, b) => a * b, 1);
      const data = { x: new Float32Array(size * inputs), y: new Float32Array(size), size };
      // (before: every dispatch binding it invalid, the step's loss and norm read as 0)
      assert.throws(
        () => engine.computeGradients([data]),
        (e: unknown) =>
          e instanceof AnnealError && e.code === "config" &&
          /MiB in one buffer, more than this device binds/.test(e.message),
      );
    } finally {
      engine.dispose();
    }
  }
});

Deno.test("a micro-batch of more samples, or a layer of more inputs, than the products' grid takes is refused, not trained as 0", async () => {
  await ready;
  // a linear model of one input: buffers of a few MiB, but one workgroup per 32 rows, at most
  // 65535 of them along a dispatch's y
  const size = 65535 * 32 + 1;
  const shape: DataShape = { inputShape: [1], targetSize: 1, task: "regression" };
  const engine = new TrainingEngine(
    parseConfig({ backend: "webgpu", batchSize: size, model: { kind: "linear" } }),
    shape,
  );
  try {
    assert.equal(engine.modelPath, "wgsl", engine.fusedModelReason);
    const data = { x: new Float32Array(size).fill(1), y: new Float32Array(size), size };
    // (before: the products' dispatches invalid, the step's loss and norm read as 0)
    assert.throws(
      () => engine.computeGradients([data]),
      (e: unknown) =>
        e instanceof AnnealError && e.code === "config" && e.where === "batchSize" &&
        /at most 2097120 samples a micro-batch .*; this one has 2097121/.test(e.message),
    );
    // one sample fewer trains
    const fits = { x: data.x.subarray(1), y: data.y.subarray(1), size: size - 1 };
    const [stats] = await engine.readStats([engine.computeGradients([fits])]);
    assert.ok(stats.gradNorm > 0, `${stats.gradNorm}`);
  } finally {
    engine.dispose();
  }
  // as many input features, along the products' other sides: refused when the model is built
  const tensors = tf.memory().numTensors;
  assert.throws(
    () =>
      new TrainingEngine(
        parseConfig({ backend: "webgpu", batchSize: 2, model: { kind: "linear" } }),
        { ...shape, inputShape: [size] },
      ),
    (e: unknown) =>
      e instanceof AnnealError && e.code === "config" && e.where === "data" &&
      /Dense layer 0 has 2097121 inputs and 1 units: .* at most 2097120 a side/.test(e.message),
  );
  assert.equal(tf.memory().numTensors, tensors, "nothing left behind");
});

Deno.test("dense WGSL step follows restored weights and leaks no tensors", async () => {
  await ready;
  const config = parseConfig({
    backend: "webgpu",
    model: { kind: "mlp", hidden: [8] },
    optimizer: { name: "sgd", lr: 0.1 },
  });
  const engine = new TrainingEngine(config, classification);
  try {
    assert.equal(engine.modelPath, "wgsl");
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
    [{ model: { kind: "mlp" }, fusedModel: false }, ""],
  ];
  for (const [overrides, reason] of reasons) {
    const engine = new TrainingEngine(
      parseConfig({ backend: "webgpu", ...overrides }),
      classification,
    );
    assert.equal(engine.modelPath, "tfjs");
    assert.equal(engine.fusedModelReason ?? "", reason);
    engine.dispose();
  }
});

Deno.test("fused global-norm clipping (AdamW, two parameter groups) matches tfjs's clipping", async () => {
  await ready;
  const base = {
    backend: "webgpu",
    seed: 3,
    model: { kind: "mlp", hidden: [24] },
    optimizer: { name: "adamw", lr: 0.05, weightDecay: 0.1 },
    clipping: { maxNorm: 0.05 },
  };
  const fused = new TrainingEngine(parseConfig(base), classification);
  const reference = new TrainingEngine(
    parseConfig({ ...base, fusedOptimizer: false }),
    classification,
  );
  try {
    assert.ok(fused.fused && !reference.fused);
    const gen = new Rng(4);
    const rng = () => gen.float();
    for (let s = 0; s < 4; s++) {
      const data = batch(rng, 16, 30, classification);
      // The clip threshold changes from step to step, as AutoClip's does.
      const maxNorm = 0.05 * (s + 1);
      for (const engine of [fused, reference]) {
        const step = engine.computeGradients([data]);
        engine.applyGradients(step, 0.05, maxNorm);
        const [values] = await engine.readStats([step]);
        assert.ok(values.gradNorm > maxNorm, "the step was clipped");
      }
    }
    const [wa, wb] = [
      Object.values(await fused.readWeights()),
      Object.values(await reference.readWeights()),
    ];
    wb.forEach((w, i) => close(wa[i].values, w.values, `weight ${i}`, 1e-4));
  } finally {
    fused.dispose();
    reference.dispose();
  }
});

Deno.test("mixed precision (float16 activations) trains like float32 to half rounding: mlp relu, adam", async () => {
  await ready;
  await checkMixedPrecision({
    name: "mlp relu, adam",
    config: { model: { kind: "mlp", hidden: [40, 32] }, optimizer: { name: "adam", lr: 0.01 } },
    shape: classification,
    steps: [[24], [24], [24], [24], [24]],
  });
});

Deno.test("mixed precision with dropout (float16 pairs through the masks) trains like float32 to half rounding, gradient by gradient", async () => {
  await ready;
  const c: ParityCase = {
    name: "mlp relu, dropout 0.25, sgd",
    config: {
      model: { kind: "mlp", hidden: [40, 18], dropout: 0.25 },
      optimizer: { name: "sgd", lr: 0.05 },
    },
    shape: classification,
    steps: [[32], [32], [21]],
  };
  await checkMixedPrecision(c);
  // Losses and weights agree to 1% whatever mask a step draws (any mask's loss is alike): each
  // unit's gradient is held to its mask, the same on both (relu's choices survive float16).
  await mixedGradients(c, [0, 1]);
});

Deno.test("mixed precision with gelu (float16 pre-activations, gelu after) trains like float32 to half rounding", async () => {
  await ready;
  await checkMixedPrecision({
    name: "mlp gelu, dropout 0.1, adam",
    config: {
      model: { kind: "mlp", hidden: [30, 12], activation: "gelu", dropout: 0.1 },
      optimizer: { name: "adam", lr: 0.01 },
    },
    shape: classification,
    steps: [[24], [24], [9]],
  });
});

Deno.test("mixed precision with batch norm (float16 products, float32 statistics) trains like float32 to half rounding, gradient by gradient", async () => {
  await ready;
  const c: ParityCase = {
    name: "mlp tanh, batch norm, dropout 0.2, sgd",
    config: {
      model: { kind: "mlp", hidden: [40, 18], activation: "tanh", batchNorm: true, dropout: 0.2 },
      optimizer: { name: "sgd", lr: 0.05 },
    },
    shape: classification,
    steps: [[32], [32], [21]],
  };
  await checkMixedPrecision(c);
  // (the dense biases before batch norm: zero but for rounding, on both)
  await mixedGradients(c, [0], [1, 5]);
});

// An odd width keeps float32 (a float16 pair must not span two rows), each layer on its own: the
// layers around it stay float16, and read or write it as float32.
// (`skip`: the gradients of the dense biases before batch norm, zero but for rounding)
for (
  const [hidden, extra, skip] of [
    [[7, 16], {}, []],
    [[16, 7], {}, []],
    [[16, 7, 10], { dropout: 0.25 }, []],
    [[9, 12, 5], { activation: "tanh", batchNorm: true, dropout: 0.2 }, [1, 5, 9]],
    [[11, 6], { activation: "gelu" }, []],
  ] as const
) {
  const name = `mlp ${hidden.join("-")} ${JSON.stringify(extra)}, sgd`;
  Deno.test(`mixed precision keeps an odd hidden width float32, the even ones float16, and trains like float32 to half rounding: ${name}`, async () => {
    await ready;
    const c: ParityCase = {
      name,
      config: {
        model: { kind: "mlp", hidden: [...hidden], ...extra },
        optimizer: { name: "sgd", lr: 0.05 },
      },
      shape: classification,
      steps: [[24], [24], [9]],
    };
    await checkMixedPrecision(c);
    await mixedGradients(c, [0, 1], [...skip]);
    const engine = new TrainingEngine(
      parseConfig({ backend: "webgpu", mixedPrecision: true, ...c.config }),
      classification,
    );
    try {
      const odd = hidden.flatMap((u, i) => u % 2 ? [`hidden layer ${i} (${u} units)`] : []);
      assert.deepEqual(engine.float32Layers, odd);
    } finally {
      engine.dispose();
    }
  });
}

Deno.test("mixed precision over odd widths alone trains in float32, the same bit for bit, and says which layers kept it", async () => {
  await ready;
  await checkMixedAllFloat32({
    name: "mlp 7-5, dropout 0.2, adam",
    config: {
      model: { kind: "mlp", hidden: [7, 5], dropout: 0.2 },
      optimizer: { name: "adam", lr: 0.01 },
    },
    shape: classification,
    steps: [[24], [24], [9]],
  }, ["hidden layer 0 (7 units)", "hidden layer 1 (5 units)"]);
});

Deno.test("mixed precision halves the even hidden layers' activations alone in the plan's memory", async () => {
  await ready;
  const bytes = async (mixedPrecision: boolean, hidden: number[], extra = {}) => {
    const engine = new TrainingEngine(
      parseConfig({
        backend: "webgpu",
        model: { kind: "mlp", hidden, ...extra },
        mixedPrecision,
      }),
      classification,
    );
    try {
      return await engine.extraStepBytes(64);
    } finally {
      engine.dispose();
    }
  };
  const cases: [number[], Record<string, unknown>][] = [
    [[16, 7, 10], {}],
    [[16, 7, 10], { dropout: 0.2 }],
    [[9, 5], {}],
  ];
  for (const [hidden, extra] of cases) {
    // each even layer's activations (and, where a kernel of its own makes its output, that
    // output) take half their bytes; an odd layer's all of theirs
    const copies = "dropout" in extra ? 2 : 1;
    const saved = hidden.reduce((n, u) => n + (u % 2 ? 0 : 4 * 64 * u / 2 * copies), 0);
    const what = `${hidden.join("-")} ${JSON.stringify(extra)}`;
    assert.equal(await bytes(false, hidden, extra) - await bytes(true, hidden, extra), saved, what);
  }
});

Deno.test("mixedPrecision where the WGSL step cannot store float16 fails at the start, saying why", async () => {
  await ready;
  // (the hints said to train 'an MLP or a cnn with --backend webgpu' to an MLP on WebGPU)
  const cases: [Record<string, unknown>, RegExp, string, RegExp][] = [
    [
      { model: { kind: "mlp", hidden: [8] }, fusedModel: false },
      /fusedModel is off/,
      "mixedPrecision",
      /, or leave fusedModel on \(its default\)$/,
    ],
  ];
  for (const [overrides, message, where, hint] of cases) {
    const config = parseConfig({ backend: "webgpu", mixedPrecision: true, ...overrides });
    const tensors = tf.memory().numTensors;
    assert.throws(
      () => new TrainingEngine(config, classification),
      (error: unknown) =>
        error instanceof AnnealError && message.test(error.message) && error.where === where &&
        hint.test(error.hint ?? ""),
    );
    assert.equal(tf.memory().numTensors, tensors, "nothing left behind");
  }
});

Deno.test("a step's pass is left for the update to submit; a step not applied is submitted before the next one's inputs are written", async () => {
  await ready;
  const shape = { ...classification, inputShape: [12] };
  const config = parseConfig({
    backend: "webgpu",
    model: { kind: "mlp", hidden: [10] },
    optimizer: { name: "adam", lr: 0.01 },
    seed: 5,
  });
  const rng = new Rng(50);
  const [first, second] = [8, 6].map((size) => batch(() => rng.float(), size, 12, shape));
  const submits = { count: 0 };
  const submit = GPUQueue.prototype.submit;
  GPUQueue.prototype.submit = function (this: GPUQueue, buffers: GPUCommandBuffer[]) {
    submits.count++;
    return submit.call(this, buffers);
  };
  const engines: TrainingEngine[] = [];
  try {
    const engine = (): TrainingEngine => {
      const made = new TrainingEngine(config, shape);
      engines.push(made);
      assert.equal(made.modelPath, "wgsl", made.fusedModelReason);
      return made;
    };
    // each step's own results, each read at once: the reference
    const alone = engine();
    const expected = [];
    for (const b of [first, second]) {
      const step = alone.computeGradients([b]);
      expected.push((await alone.readStats([step]))[0]);
      alone.discardGradients(step);
    }
    // a step applied: its pass and its update go in one submission
    const applied = engine();
    const warm = applied.computeGradients([first]);
    applied.applyGradients(warm, 0.01);
    await applied.readStats([warm]);
    const before = submits.count;
    const step = applied.computeGradients([second]);
    assert.equal(submits.count, before, "the step's pass submitted before its update");
    applied.applyGradients(step, 0.01);
    assert.equal(submits.count, before + 1, "the step and its update in one submission");
    await applied.readStats([step]);
    // the first step discarded, unread and unsubmitted: the second's inputs, written to the
    // queue, would land before its pass (which would then read them) were it not submitted first
    const skipping = engine();
    const skipped = skipping.computeGradients([first]);
    skipping.discardGradients(skipped);
    const next = skipping.computeGradients([second]);
    const [a, b] = await skipping.readStats([skipped, next]);
    skipping.discardGradients(next);
    assert.deepEqual([a.loss, a.gradNorm], [expected[0].loss, expected[0].gradNorm]);
    assert.deepEqual([b.loss, b.gradNorm], [expected[1].loss, expected[1].gradNorm]);
  } finally {
    GPUQueue.prototype.submit = submit;
    for (const e of engines) e.dispose();
  }
});

Deno.test("steps left unread train as steps read one by one: two micro-batches, tfjs's optimizer after the WGSL step", async () => {
  await ready;
  const shape = { ...classification, inputShape: [12] };
  const config = parseConfig({
    backend: "webgpu",
    model: { kind: "mlp", hidden: [10] },
    optimizer: { name: "sgd", lr: 0.05, momentum: 0.9 },
    fusedOptimizer: false,
    seed: 6,
  });
  const rng = new Rng(60);
  const batches = [8, 6, 7].map((size) => batch(() => rng.float(), size, 12, shape));
  const steps = [[batches[0], batches[1]], [batches[2]], [batches[1], batches[0]]];
  const train = async (readEach: boolean) => {
    const engine = new TrainingEngine(config, shape);
    try {
      assert.equal(engine.modelPath, "wgsl", engine.fusedModelReason);
      const pending = [];
      const values = [];
      for (const micro of steps) {
        const step = engine.computeGradients(micro);
        if (readEach) values.push(...await engine.readStats([step]));
        engine.applyGradients(step, 0.05);
        pending.push(step);
      }
      if (!readEach) values.push(...await engine.readStats(pending));
      return { values, weights: await engine.readWeights() };
    } finally {
      engine.dispose();
    }
  };
  const [left, read] = [await train(false), await train(true)];
  assert.deepEqual(left.values, read.values);
  assert.deepEqual(left.weights, read.weights);
});

for (const activation of ["relu", "gelu"] as const) {
  Deno.test(`under dropout the WGSL step's evaluation drops nothing, between training steps that do (${activation})`, async () => {
    await ready;
    // (the engine evaluates in tfjs's ops on a software adapter: the program is called here)
    const config = parseConfig({
      backend: "webgpu",
      seed: 3,
      fusedModel: false,
      model: { kind: "mlp", hidden: [24, 9], dropout: 0.5, activation },
    });
    const reference = new TrainingEngine(config, classification);
    const plan = densePlan(config, reference.variables, "crossEntropy", 1);
    if (typeof plan === "string") throw new Error(plan);
    assert.equal(plan.dropout, 0.5);
    // an evaluation in parts of 4 rows, each through the same dispatches as a step's forward pass
    const program = new DenseGpuProgram({ ...plan, evalRows: 4 });
    try {
      const gen = new Rng(9);
      const data = batch(() => gen.float(), 10, 30, classification);
      const [want] = await reference.readStats([reference.evaluate(data)]);
      const evaluated = async () => {
        const stats = program.evaluate(data);
        const got = Array.from(await stats.data());
        stats.dispose();
        close(got, [want.loss, want.gradNorm, ...want.metricSums], "evaluation");
        return got;
      };
      const trained = async () => {
        const { grads, stats } = program.computeGradients([data], () => 17);
        const values = [...await stats.data(), ...await grads[0].data()];
        stats.dispose();
        return values;
      };
      const first = await evaluated();
      const step = await trained();
      // a training pass drops units: its loss is not inference's
      assert.ok(Math.abs(step[0] - first[0]) > 1e-3, `${step[0]} against ${first[0]}`);
      assert.deepEqual(await evaluated(), first);
      assert.deepEqual(await trained(), step);
    } finally {
      program.dispose();
      reference.dispose();
    }
  });
}

for (const [activation, mixed] of [["relu", false], ["gelu", false], ["relu", true]] as const) {
  Deno.test(`the WGSL step evaluates an MLP with batch norm by its moving averages, as tfjs's inference, and moves none (${activation}, dropout${mixed ? ", mixed precision" : ""})`, async () => {
    await ready;
    await checkNormEvaluation(
      { model: { kind: "mlp", hidden: [12, 10], batchNorm: true, dropout: 0.3, activation } },
      classification,
      mixed,
    );
  });
}

for (const c of NAN_INPUT_CASES) {
  Deno.test(`a NaN input gives the WGSL step a NaN loss, as tfjs's: ${c.name}`, async () => {
    await ready;
    await checkNaNInput(c.config, classification, "webgpu", "wgsl");
  });
}

for (const kind of ["mlp", "rnn"] as const) {
  Deno.test(`a NaN input gives the WGSL step a NaN loss under mixed precision too (float16 pairs keep it: ${kind})`, async () => {
    await ready;
    await checkNaNInput(
      {
        model: kind === "mlp" ? { kind, hidden: [16, 8] } : { kind, cell: "lstm", units: 6 },
        mixedPrecision: true,
      },
      classification,
      "webgpu",
      "wgsl",
    );
  });
}

// Last in this file: no WebGPU device left alive when the test process ends.
Deno.test("release the WebGPU device", releaseWebGpu);

/** A batch of random bytes for `shape`, and the same batch as floats (`floatBatch`). */
function byteBatch(rng: () => number, size: number, shape: DataShape, byteTable: Float32Array) {
  const inputs = shape.inputShape.reduce((a, b) => a * b, 1);
  const { y } = batch(rng, size, inputs, shape);
  const x = Uint8Array.from({ length: size * inputs }, () => Math.floor(rng() * 256));
  const bytes: HostByteBatch = { x, byteTable, y, size };
  return { bytes, floats: floatBatch(bytes) };
}

// Image inputs uploaded as bytes and turned into floats on the GPU must train exactly as the same
// floats uploaded: the same weights, losses and gradient norms, bit for bit.
for (
  const c of [
    {
      name: "mlp, accumulation, 3-feature rows (words padded), a larger batch later",
      config: { model: { kind: "mlp" as const, hidden: [6] }, gradientAccumulation: 2 },
      shape: { inputShape: [3], targetSize: 1, task: "classification", numClasses: 4 },
      steps: [[5, 3], [5, 5], [9, 1]],
    },
    {
      name: "cnn, grey images",
      config: { model: { kind: "cnn" as const, filters: [4, 2], dense: [] } },
      shape: { inputShape: [8, 8, 1], targetSize: 1, task: "classification", numClasses: 3 },
      steps: [[6], [6], [3]],
    },
  ] satisfies { name: string; config: RunConfigInput; shape: DataShape; steps: number[][] }[]
) {
  Deno.test(`dense WGSL step trains byte inputs as their floats: ${c.name}`, async () => {
    await selectBackend("webgpu", c.config.model.kind); // (a test above moves to the cpu backend)
    const config = parseConfig({
      ...c.config,
      backend: "webgpu",
      seed: 5,
      byteInputs: true,
      optimizer: { name: "adam", lr: 0.01 },
    });
    const viaBytes = new TrainingEngine(config, c.shape);
    const viaFloats = new TrainingEngine(config, c.shape);
    try {
      assert.equal(viaBytes.modelPath, "wgsl");
      assert.ok(viaBytes.takesByteInputs);
      const gen = new Rng(11);
      const rng = () => gen.float();
      // a table that is not b / 255: the GPU must use the table it is given
      const table = Float32Array.from({ length: 256 }, (_, b) => (b - 100) / 37);
      for (const sizes of c.steps) {
        const micro = sizes.map((size) => byteBatch(rng, size, c.shape, table));
        const a = viaBytes.computeGradients(micro.map((m) => m.bytes));
        const b = viaFloats.computeGradients(micro.map((m) => m.floats));
        viaBytes.applyGradients(a, 0.01);
        viaFloats.applyGradients(b, 0.01);
        const [[sa], [sb]] = [await viaBytes.readStats([a]), await viaFloats.readStats([b])];
        assert.deepEqual([sa.loss, sa.gradNorm], [sb.loss, sb.gradNorm], `step of ${sizes}`);
      }
      // (the two models' layers have different names: compare the weights in order)
      const weights = async (engine: TrainingEngine) =>
        Object.values(await engine.readWeights()).map((w) => w.values);
      assert.deepEqual(await weights(viaBytes), await weights(viaFloats));
    } finally {
      viaBytes.dispose();
      viaFloats.dispose();
    }
  });
}
