/**
 * The recurrent layers of the WGSL step (`recurrent.ts`) against tfjs's own forward and backward
 * of the same `rnn` model (torch's LSTM and GRU cells, `models/recurrent.ts`), on the machine's
 * WebGPU adapter (llvmpipe in CI): gradients of every layer's four weights and of the head,
 * losses, metrics, gradient norms and every weight after the updates must agree to float
 * rounding.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../config.ts";
import { AnnealError } from "../../errors.ts";
import { releaseWebGpu, selectBackend } from "../backend.ts";
import { type DataShape, TrainingEngine } from "../engine.ts";
import {
  batch,
  checkMixedAllFloat32,
  checkMixedPrecision,
  checkNaNInput,
  checkWebGpuParity,
  close,
  mixedGradients,
  type ParityCase,
} from "./_parity.ts";
import { DenseGpuProgram } from "./gpu_program.ts";
import { rnnPlan } from "./plan.ts";
import { Rng } from "../../data/rng.ts";

const ready = selectBackend("webgpu", "rnn");

const CASES: ParityCase[] = [
  {
    name: "one LSTM layer, cross-entropy, adam, a smaller last batch",
    config: {
      model: { kind: "rnn", cell: "lstm", units: 6 },
      optimizer: { name: "adam", lr: 0.01 },
    },
    shape: { inputShape: [5, 3], targetSize: 1, task: "classification", numClasses: 4 },
    steps: [[9], [9], [9], [4]],
  },
  {
    name: "two GRU layers, mse with 2 targets, sgd momentum, gradient accumulation",
    config: {
      model: { kind: "rnn", cell: "gru", units: 5, layers: 2 },
      optimizer: { name: "sgd", lr: 0.05, momentum: 0.9 },
      gradientAccumulation: 2,
    },
    shape: { inputShape: [4, 2], targetSize: 2, task: "regression" },
    steps: [[6, 6], [6, 3], [6, 6]],
  },
  {
    // 70 units: two workgroups of units, the state staged in two chunks; 280 gates: five
    name: "two LSTM layers of 70 units, binary cross-entropy, adamw, L2 clipping",
    config: {
      model: { kind: "rnn", cell: "lstm", units: 70, layers: 2 },
      optimizer: { name: "adamw", lr: 0.003 },
      clipping: { maxNorm: 0.5 },
    },
    shape: { inputShape: [3, 4], targetSize: 1, task: "binary" },
    steps: [[5], [5], [5]],
  },
  {
    name: "a GRU over a flat vector (steps of one feature), 70 units, cross-entropy, lion",
    config: {
      model: { kind: "rnn", cell: "gru", units: 70 },
      optimizer: { name: "lion", lr: 0.001 },
    },
    shape: { inputShape: [7], targetSize: 1, task: "classification", numClasses: 3 },
    steps: [[8], [8], [8]],
  },
  {
    // 260 units: 17 workgroups of 16 units (the last of 4), the previous states staged in two
    // chunks forward, the 1040 gates in three backward; a micro-batch of one sample, then 6 (a
    // workgroup's 4 and one of 2)
    name: "an LSTM of 260 units, a micro-batch of one sample, binary cross-entropy, sgd",
    config: {
      model: { kind: "rnn", cell: "lstm", units: 260 },
      optimizer: { name: "sgd", lr: 0.01 },
    },
    shape: { inputShape: [3, 2], targetSize: 1, task: "binary" },
    steps: [[1], [6], [1]],
  },
  {
    // 200 units, two GRU layers: 600 gates, two chunks backward; a batch of one sample
    name: "two GRU layers of 200 units, a micro-batch of one sample, mse, sgd",
    config: {
      model: { kind: "rnn", cell: "gru", units: 200, layers: 2 },
      optimizer: { name: "sgd", lr: 0.01 },
    },
    shape: { inputShape: [3, 2], targetSize: 1, task: "regression" },
    steps: [[1], [5], [1]],
  },
  {
    name: "an LSTM over images (rows as steps), three layers, sgd",
    config: {
      model: { kind: "rnn", cell: "lstm", units: 4, layers: 3 },
      optimizer: { name: "sgd", lr: 0.1 },
    },
    shape: { inputShape: [4, 3, 2], targetSize: 1, task: "classification", numClasses: 3 },
    steps: [[6], [6], [6]],
  },
  {
    // dropout between the layers: tfjs draws each mask over [rows, steps, units], the step keeps
    // the sequences [steps, rows, units] (5 x 7 x 6: 210 values a mask, its last word partial)
    name: "three LSTM layers with dropout 0.3 between them, cross-entropy, adam, accumulation",
    config: {
      model: { kind: "rnn", cell: "lstm", units: 6, layers: 3, dropout: 0.3 },
      optimizer: { name: "adam", lr: 0.01 },
      gradientAccumulation: 2,
    },
    shape: { inputShape: [5, 3], targetSize: 1, task: "classification", numClasses: 4 },
    steps: [[7, 7], [7, 4], [7, 7]],
  },
  {
    name: "two GRU layers with dropout 0.5 between them, mse, sgd momentum",
    config: {
      model: { kind: "rnn", cell: "gru", units: 9, layers: 2, dropout: 0.5 },
      optimizer: { name: "sgd", lr: 0.05, momentum: 0.9 },
    },
    shape: { inputShape: [4, 2], targetSize: 1, task: "regression" },
    steps: [[8], [8], [5]],
  },
];

for (const c of CASES) {
  Deno.test(`WGSL recurrent step matches tfjs: ${c.name}`, async () => {
    await ready;
    await checkWebGpuParity(c);
  });
}

Deno.test("an rnn takes the WGSL step only where it applies, and says why not", async () => {
  await ready;
  const sequences: DataShape = {
    inputShape: [6, 2],
    targetSize: 1,
    task: "classification",
    numClasses: 3,
  };
  const cases: [Record<string, unknown>, string | RegExp][] = [
    [{ model: { kind: "rnn", units: 4 } }, ""],
    [{ model: { kind: "rnn", cell: "gru", units: 4, layers: 2 } }, ""],
    // (one layer: torch's dropout between layers has nothing to act on)
    [{ model: { kind: "rnn", units: 4, dropout: 0.2 } }, ""],
    [{ model: { kind: "rnn", units: 4, layers: 2, dropout: 0.2 } }, ""],
    // (llvmpipe, as most GPUs, binds at most 128 MiB, an H100 4 GiB: this is past both)
    [
      { model: { kind: "rnn", units: 4096 }, batchSize: 20_000 },
      /^7500 MiB of gates a batch in one buffer \(this device binds at most \d+ MiB\)$/,
    ],
    [{ model: { kind: "rnn", units: 4 }, fusedModel: false }, ""],
  ];
  for (const [overrides, reason] of cases) {
    const config = parseConfig({ backend: "webgpu", ...overrides });
    const engine = new TrainingEngine(config, sequences);
    try {
      if (typeof reason === "string") assert.equal(engine.fusedModelReason ?? "", reason);
      else assert.match(engine.fusedModelReason ?? "", reason);
      assert.equal(engine.modelPath, reason === "" && config.fusedModel ? "wgsl" : "tfjs");
    } finally {
      engine.dispose();
    }
  }
  // A micro-batch beyond the dispatch grids (larger than the plan's batch size) is a config error
  // that says what to change.
  const engine = new TrainingEngine(
    parseConfig({ backend: "webgpu", model: { kind: "rnn", units: 4 } }),
    sequences,
  );
  try {
    const size = 400_000;
    const batch = { x: new Float32Array(size * 12), y: new Float32Array(size), size };
    assert.throws(
      () => engine.computeGradients([batch]),
      (e) => e instanceof AnnealError && e.code === "config" && e.where === "batchSize",
    );
  } finally {
    engine.dispose();
  }
});

Deno.test("an rnn evaluates a batch larger than its buffers may be in parts, as tfjs's path does whole", async () => {
  await ready;
  const shape: DataShape = {
    inputShape: [5, 3],
    targetSize: 1,
    task: "classification",
    numClasses: 4,
  };
  const config = parseConfig({
    backend: "webgpu",
    seed: 3,
    batchSize: 4,
    fusedModel: false,
    model: { kind: "rnn", cell: "gru", units: 7, layers: 2 },
  });
  // tfjs's path evaluates the whole batch; a program on the same weights records parts of 4
  const reference = new TrainingEngine(config, shape);
  const plan = rnnPlan(config, reference.variables, "crossEntropy", [5, 3], 1, 2 ** 27);
  if (typeof plan === "string") throw new Error(plan);
  // (with room for a whole evaluation batch, it is recorded whole)
  assert.ok(plan.evalRows! >= 256, `${plan.evalRows}`);
  const program = new DenseGpuProgram({ ...plan, evalRows: 4 });
  try {
    const size = 11; // parts of 4, 4 and 3
    const floats = {
      x: Float32Array.from({ length: size * 15 }, (_, i) => Math.sin(i)),
      y: Float32Array.from({ length: size }, (_, i) => i % 4),
      size,
    };
    const bytes = {
      x: Uint8Array.from({ length: size * 15 }, (_, i) => (i * 37) % 256),
      byteTable: Float32Array.from({ length: 256 }, (_, b) => b / 255 - 0.5),
      y: floats.y,
      size,
    };
    for (const batch of [floats, bytes]) {
      const stats = program.evaluate(batch);
      const got = await stats.data();
      stats.dispose();
      const [want] = await reference.readStats([reference.evaluate(batch)]);
      close(got, [want.loss, want.gradNorm, ...want.metricSums], "stats");
    }
  } finally {
    program.dispose();
    reference.dispose();
  }
  // a batch's sequences past the matmul's grid: tfjs's path, saying why
  const engine = new TrainingEngine(
    parseConfig({ backend: "webgpu", batchSize: 300, model: { kind: "rnn", units: 4 } }),
    { inputShape: [10_000], targetSize: 1, task: "classification", numClasses: 2 },
  );
  try {
    assert.equal(engine.fusedModelReason, "3000000 steps in a batch's sequences (at most 2097120)");
    assert.equal(engine.modelPath, "tfjs");
  } finally {
    engine.dispose();
  }
});

for (const cell of ["lstm", "gru"] as const) {
  // (a NaN input reaches every gate, the sigmoids' too: this guards the step as a whole; the
  // test after it, a NaN in the candidate's weights alone, guards the cell's tanh)
  Deno.test(`a NaN input gives the WGSL recurrent step a NaN loss, as tfjs's (${cell})`, async () => {
    await ready;
    await checkNaNInput(
      { model: { kind: "rnn", cell, units: 6, layers: 2 } },
      { inputShape: [5, 3], targetSize: 1, task: "classification", numClasses: 3 },
      "webgpu",
      "wgsl",
    );
  });
}

for (const cell of ["lstm", "gru"] as const) {
  Deno.test(`a NaN in the candidate gate's weights alone reaches the loss through the cell's tanh, as tfjs's (${cell})`, async () => {
    await ready;
    const shape: DataShape = {
      inputShape: [5, 3],
      targetSize: 1,
      task: "classification",
      numClasses: 3,
    };
    const units = 6;
    const config = parseConfig({ backend: "webgpu", seed: 2, model: { kind: "rnn", cell, units } });
    const engines = [
      new TrainingEngine(config, shape),
      new TrainingEngine({ ...config, fusedModel: false, fusedOptimizer: false }, shape),
    ];
    try {
      assert.equal(engines[0].modelPath, "wgsl");
      // the first layer's kernel [3, gates x units]: unit 0 of the candidate (LSTM's g, GRU's n,
      // both the third gate) NaN
      const gen = new Rng(4);
      const data = batch(() => gen.float(), 8, 15, shape);
      const losses = [];
      for (const engine of engines) {
        const weights = await engine.readWeights();
        const [name, kernel] = Object.entries(weights)[0];
        assert.deepEqual(kernel.shape, [3, (cell === "lstm" ? 4 : 3) * units]);
        const values = kernel.values.slice();
        for (let r = 0; r < 3; r++) values[r * kernel.shape[1] + 2 * units] = NaN;
        engine.writeWeights({ ...weights, [name]: { shape: kernel.shape, values } });
        const step = engine.computeGradients([data]);
        losses.push((await engine.readStats([step]))[0].loss);
        engine.discardGradients(step);
      }
      assert.ok(Number.isNaN(losses[1]), `tfjs's loss is NaN (${losses[1]})`);
      assert.ok(Number.isNaN(losses[0]), `the WGSL step's loss is NaN, not ${losses[0]}`);
    } finally {
      for (const engine of engines) engine.dispose();
    }
  });
}

// Mixed precision: the projections and saved gates float16, and with even units the states, cell
// states and output sequences; the gradients float32. 70 units: pairs of projections across two
// workgroups of units; 34: a last workgroup of one pair of units; 5 (odd): the states float32.
const MIXED_CASES: ParityCase[] = [
  {
    // (SGD: Adam moves a weight by ~lr whatever its gradient's size, so a gradient near zero
    // whose sign float16 flips moves it apart by more than rounding)
    name: "two LSTM layers of 70 units with dropout 0.2, cross-entropy, sgd",
    config: {
      model: { kind: "rnn", cell: "lstm", units: 70, layers: 2, dropout: 0.2 },
      optimizer: { name: "sgd", lr: 0.1 },
    },
    shape: { inputShape: [6, 5], targetSize: 1, task: "classification", numClasses: 4 },
    steps: [[24], [24], [24], [17]],
  },
  {
    name: "a GRU of 6 units, mse with 2 targets, sgd momentum, gradient accumulation",
    config: {
      model: { kind: "rnn", cell: "gru", units: 6 },
      optimizer: { name: "sgd", lr: 0.05, momentum: 0.9 },
      gradientAccumulation: 2,
    },
    shape: { inputShape: [4, 3], targetSize: 2, task: "regression" },
    steps: [[12, 12], [12, 5], [12, 12]],
  },
  {
    name: "two GRU layers of 34 units with dropout 0.3, cross-entropy, sgd",
    config: {
      model: { kind: "rnn", cell: "gru", units: 34, layers: 2, dropout: 0.3 },
      optimizer: { name: "sgd", lr: 0.1 },
    },
    shape: { inputShape: [7, 3], targetSize: 1, task: "classification", numClasses: 3 },
    steps: [[18], [18], [11]],
  },
  {
    name: "two LSTM layers of 5 units (odd: float32 states), mse, sgd",
    config: {
      model: { kind: "rnn", cell: "lstm", units: 5, layers: 2 },
      optimizer: { name: "sgd", lr: 0.1 },
    },
    shape: { inputShape: [5, 4], targetSize: 1, task: "regression" },
    steps: [[16], [16], [9]],
  },
];

for (const c of MIXED_CASES) {
  Deno.test(`mixed precision in the recurrent layers trains like float32 to half rounding, gradient by gradient: ${c.name}`, async () => {
    await ready;
    await checkMixedPrecision(c);
    await mixedGradients(c, [0, 1]);
    // micro-batches larger than the ones before them: each pass's zero initial state is its own
    // (a smaller pass wrote its first states where a larger one's initial slot is)
    await mixedGradients(c, [2, 3], [], [[9], [3, 9, 1]]);
  });
}

Deno.test("mixed precision keeps a GRU of an odd number of units float32 (its rows of 3 x units projections), the same bit for bit, and says so", async () => {
  await ready;
  for (const layers of [1, 2]) {
    await checkMixedAllFloat32({
      name: `${layers} GRU layers of 5 units`,
      config: {
        model: { kind: "rnn", cell: "gru", units: 5, layers, dropout: layers > 1 ? 0.2 : 0 },
        optimizer: { name: "adam", lr: 0.01 },
      },
      shape: { inputShape: [4, 3], targetSize: 1, task: "classification", numClasses: 3 },
      steps: [[12], [12], [7]],
    }, [`the GRU's ${layers === 1 ? "layer" : "2 layers"} (5 units: 15 gates)`]);
  }
});

Deno.test("mixed precision halves the recurrent layers' projections and saved gates, with even units their states and outputs too, and says so in the plan's memory", async () => {
  await ready;
  const shape: DataShape = {
    inputShape: [10, 8],
    targetSize: 1,
    task: "classification",
    numClasses: 3,
  };
  const bytes = async (mixedPrecision: boolean, cell: string, units: number) => {
    const engine = new TrainingEngine(
      parseConfig({ backend: "webgpu", model: { kind: "rnn", cell, units }, mixedPrecision }),
      shape,
    );
    try {
      assert.equal(engine.precision, mixedPrecision ? "mixed" : "float32");
      return await engine.extraStepBytes(64);
    } finally {
      engine.dispose();
    }
  };
  const cases = [["lstm", 4, 32], ["gru", 3, 32], ["lstm", 4, 33], ["gru", 3, 33]] as const;
  for (const [cell, gates, units] of cases) {
    // per step of each sequence: gates x units projections and 4 x units saved values, halved
    // (but for a GRU of odd units: nothing); with even units also the states (T + 1 slots, an
    // LSTM's cell states too) and the last layer's output, the head's input (its gradient stays
    // float32)
    const gateValues = gates * units % 2 === 0 ? 64 * 10 * units * (gates + 4) : 0;
    const stateValues = units % 2 === 0
      ? (cell === "lstm" ? 2 : 1) * 11 * 64 * units + 64 * units
      : 0;
    const saved = 4 * (gateValues + stateValues) / 2;
    const what = `${cell} of ${units} units`;
    assert.equal(await bytes(false, cell, units) - await bytes(true, cell, units), saved, what);
  }
});

Deno.test("release the WebGPU device", releaseWebGpu);
