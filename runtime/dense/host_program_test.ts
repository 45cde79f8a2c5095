/**
 * The host (TypeScript) dense step against tfjs's forward and backward on the wasm backend, and
 * the size rule that sends bigger models to tfjs.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { parseConfig } from "../../config.ts";
import { selectBackend } from "../backend.ts";
import { TrainingEngine } from "../engine.ts";
import {
  checkNaNInput,
  checkParity,
  classification,
  NAN_INPUT_CASES,
  NORM_PARITY_CASES,
  PARITY_CASES,
} from "./_parity.ts";
import { hostProducts } from "./host_program.ts";
import { cnnPlan, densePlan } from "./plan.ts";
import { buildModel } from "../../models/build.ts";

const ready = selectBackend("wasm", "mlp");

for (const c of [...PARITY_CASES, ...NORM_PARITY_CASES]) {
  Deno.test(`host dense step matches tfjs on wasm: ${c.name}`, async () => {
    await ready;
    await checkParity(c, "wasm", "host");
  });
}

for (const c of NAN_INPUT_CASES) {
  Deno.test(`a NaN input gives the host step a NaN loss, as tfjs's: ${c.name}`, async () => {
    await ready;
    await checkNaNInput(c.config, classification, "wasm", "host");
  });
}

Deno.test("host dense step is for small models only; big ones, cnns and rnns stay in tfjs", async () => {
  await ready;
  const big = new TrainingEngine(
    parseConfig({ backend: "wasm", model: { kind: "mlp", hidden: [512, 512] }, batchSize: 256 }),
    { inputShape: [784], targetSize: 1, task: "classification", numClasses: 10 },
  );
  assert.equal(big.modelPath, "tfjs");
  assert.match(big.fusedModelReason ?? "", /multiply-adds a step/);
  big.dispose();
  // the bound: 7.5e5 of work (batch times weights) up to two dense layers, 5e5 more a layer
  // after, 1.75e6 at most
  const tabular = {
    inputShape: [20],
    targetSize: 1,
    task: "classification" as const,
    numClasses: 10,
  };
  const path = (hidden: number[], batchSize: number, activation = "relu") => {
    const engine = new TrainingEngine(
      parseConfig({ backend: "wasm", model: { kind: "mlp", hidden, activation }, batchSize }),
      tabular,
    );
    engine.dispose();
    return engine.modelPath;
  };
  assert.equal(path([256], 96), "host"); // 96 x (20 x 256 + 256 x 10) = 737,280
  assert.equal(path([256], 100), "tfjs"); // 768,000
  assert.equal(path([64, 64], 207), "host"); // 207 x 6,016 = 1,245,312: three layers, 1.25e6
  assert.equal(path([64, 64], 208), "tfjs"); // 1,251,328
  assert.equal(path([64, 64, 64], 173), "host"); // 173 x 10,112 = 1,749,376: four layers, 1.75e6
  assert.equal(path([64, 64, 64], 174), "tfjs"); // 1,759,488
  // (and no more however deep: 1.75e6 at most)
  assert.equal(path([32, 32, 32, 32, 32, 32], 287), "host"); // 287 x 6,080 = 1,744,960
  assert.equal(path([32, 32, 32, 32, 32, 32], 288), "tfjs"); // 1,751,040: seven layers, 1.75e6
  // gelu, its erf in TypeScript: half
  assert.equal(path([256], 48, "gelu"), "host"); // 368,640
  assert.equal(path([256], 49, "gelu"), "tfjs"); // 376,320: two layers, 3.75e5
  assert.equal(path([256], 49, "tanh"), "host");
  const cnn = new TrainingEngine(parseConfig({ backend: "wasm", model: { kind: "cnn" } }), {
    ...classification,
    inputShape: [8, 8, 1],
  });
  assert.equal(cnn.modelPath, "tfjs");
  assert.equal(cnn.fusedModelReason, "a cnn model");
  cnn.dispose();
  // (recurrent layers take the WGSL step on WebGPU only)
  const rnn = new TrainingEngine(
    parseConfig({ backend: "wasm", model: { kind: "rnn", units: 4 } }),
    classification,
  );
  assert.equal(rnn.modelPath, "tfjs");
  assert.equal(rnn.fusedModelReason, "an rnn model");
  rnn.dispose();
});

Deno.test("an MLP without hidden layers takes the host step, whatever its batchNorm, dropout and activation", async () => {
  await ready;
  // hidden [] builds the head alone: no batch-norm, dropout or gelu layer to send to tfjs's path
  const headOnly = new TrainingEngine(
    parseConfig({
      backend: "wasm",
      model: { kind: "mlp", hidden: [], batchNorm: true, dropout: 0.3, activation: "gelu" },
    }),
    classification,
  );
  assert.equal(headOnly.modelPath, "host", headOnly.fusedModelReason);
  headOnly.dispose();
  // (dropout and batch norm run in the host step: PARITY_CASES, NORM_PARITY_CASES)
  const hidden = new TrainingEngine(
    parseConfig({ backend: "wasm", model: { kind: "mlp", hidden: [4], batchNorm: true } }),
    classification,
  );
  assert.equal(hidden.modelPath, "host", hidden.fusedModelReason);
  hidden.dispose();
});

Deno.test("a cnn's plan for the WGSL step has its dropout after its dense layers, none where it has none (dense: [])", async () => {
  await ready;
  const plan = (model: Record<string, unknown>) => {
    const config = parseConfig({ backend: "wasm", model: { kind: "cnn", filters: [2], ...model } });
    const built = buildModel(config.model, { inputShape: [4, 4, 1], outputUnits: 3 }, 1);
    const variables = built.trainableWeights.map((w) => w.read() as tf.Variable);
    const result = cnnPlan(config, built, variables, "crossEntropy", [4, 4, 1], 1);
    built.dispose();
    return typeof result === "string" ? result : `planned, dropout ${result.dropout ?? 0}`;
  };
  assert.equal(plan({ dense: [], dropout: 0.3 }), "planned, dropout 0");
  assert.equal(plan({ dense: [4], dropout: 0.3 }), "planned, dropout 0.3");
  assert.equal(plan({ dense: [4] }), "planned, dropout 0");
});

Deno.test("a plan names an activation its steps lack, with batch norm or without (a config not from the schema)", async () => {
  await ready;
  for (const batchNorm of [false, true]) {
    const config = parseConfig({ backend: "wasm", model: { kind: "mlp", hidden: [4], batchNorm } });
    const built = buildModel(config.model, { inputShape: [3], outputUnits: 2 }, 1);
    const variables = built.trainableWeights.map((w) => w.read() as tf.Variable);
    // (the schema allows the four the steps run: a config made by other means may hold another)
    (config.model as { activation: string }).activation = "elu";
    assert.equal(densePlan(config, variables, "crossEntropy", 1, built), "the elu activation");
    built.dispose();
  }
});

Deno.test("the host step stores new weights in the variables' own data, never under an earlier reader", async () => {
  await ready;
  const shape = { inputShape: [3], targetSize: 1, task: "regression" as const };
  const batch = {
    x: Float32Array.of(1, 2, 3, -1, 0.5, 2),
    y: Float32Array.of(1, -1),
    size: 2,
  };
  for (const backend of ["wasm", "cpu"] as const) {
    await selectBackend(backend, "linear");
    const engine = new TrainingEngine(
      parseConfig({ backend, model: { kind: "linear" }, optimizer: { name: "sgd", lr: 0.1 } }),
      shape,
    );
    const hostless = new TrainingEngine(
      parseConfig({ backend, model: { kind: "linear" }, fusedModel: false }),
      shape,
    );
    const step = () => engine.applyGradients(engine.computeGradients([batch]), 0.1);
    // tfjs's forward pass sees the step's weights: the engine's evaluation (on wasm XNNPACK's
    // product, whose operator keeps a packed copy of the weights it first saw) as another's
    // given the same weights
    const agree = async (label: string) => {
      for (const [i, variable] of engine.variables.entries()) {
        // (a copy: an assign of the variable itself would share its data)
        const copy = tf.tensor(variable.dataSync(), variable.shape, "float32");
        hostless.variables[i].assign(copy);
        copy.dispose();
      }
      const tfjs = await hostless.readStats([hostless.evaluate(batch)]);
      const host = await engine.readStats([engine.evaluate(batch)]);
      assert.deepEqual(host, tfjs, `${backend}: ${label}`);
      // the weights a checkpoint takes (the host step's own copies) are the variables' values
      const read = Object.values(await engine.readWeights()).map((w) => Array.from(w.values));
      assert.deepEqual(read, engine.variables.map((v) => Array.from(v.dataSync())), label);
    };
    const [kernel] = engine.variables;
    assert.equal(engine.modelPath, "host");
    step(); // (the first step may assign: the variable can share its initial tensor's data)
    await agree("after the first step");
    // held by the variable alone: the next step's values land in its own data
    const id = kernel.dataId;
    const read = kernel.dataSync(); // on cpu the storage array itself
    const before = Array.from(read);
    step();
    const after = Array.from(kernel.dataSync());
    assert.notDeepEqual(after, before, backend);
    assert.deepEqual(Array.from(read), before, `${backend}: an earlier read changed`);
    if (backend === "wasm") assert.equal(kernel.dataId, id, "wasm: written in place");
    await agree("after a step written in place");
    // a clone shares the data: the step then assigns new data, and the clone keeps its values
    const clone = kernel.clone();
    step();
    assert.deepEqual(Array.from(clone.dataSync()), after, `${backend}: the clone changed`);
    assert.notDeepEqual(Array.from(kernel.dataSync()), after, backend);
    await agree("after a step assigned");
    clone.dispose();
    hostless.dispose();
    engine.dispose();
  }
  await selectBackend("wasm", "mlp");
});

/**
 * The host step's gradients as its loops first computed them, one value at a time: a layer's
 * value its bias plus its products in the order of its inputs, the weight gradients added row by
 * row skipping output gradients of 0, an input's gradient the sum of its products in the order of
 * the units (float64 throughout, a layer's outputs rounded to float32). For a relu MLP under
 * cross-entropy.
 */
function referenceGradients(
  weights: Float32Array[],
  sizes: number[],
  x: Float32Array,
  y: Float32Array,
  rows: number,
): Float32Array[] {
  const layers = sizes.length - 1;
  const acts: Float64Array[] = [];
  const inputs: ArrayLike<number>[] = [x];
  let input: ArrayLike<number> = x;
  for (let i = 0; i < layers; i++) {
    const [kernel, bias, k, u] = [weights[2 * i], weights[2 * i + 1], sizes[i], sizes[i + 1]];
    const out = new Float64Array(rows * u);
    for (let r = 0; r < rows; r++) {
      for (let n = 0; n < u; n++) {
        let z = bias[n];
        for (let j = 0; j < k; j++) z += input[r * k + j] * kernel[j * u + n];
        out[r * u + n] = Math.fround(i === layers - 1 || z >= 0 ? z : 0);
      }
    }
    acts.push(out);
    inputs.push(out);
    input = out;
  }
  const classes = sizes[layers];
  const logits = acts[layers - 1];
  let delta = new Float64Array(rows * classes);
  for (let r = 0; r < rows; r++) {
    const base = r * classes;
    let max = logits[base];
    for (let c = 1; c < classes; c++) max = Math.max(max, logits[base + c]);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(logits[base + c] - max);
    const lse = max + Math.log(sum);
    const valid = Number.isInteger(y[r]) && y[r] >= 0 && y[r] < classes;
    for (let c = 0; c < classes; c++) {
      const p = Math.fround(Math.exp(logits[base + c] - lse));
      delta[base + c] = valid ? (p - (c === y[r] ? 1 : 0)) / rows : 0;
    }
  }
  const grads: Float64Array[] = [];
  for (let i = layers - 1; i >= 0; i--) {
    const [k, u] = [sizes[i], sizes[i + 1]];
    const gw = new Float64Array(k * u);
    const gb = new Float64Array(u);
    for (let r = 0; r < rows; r++) {
      for (let n = 0; n < u; n++) {
        const d = delta[r * u + n];
        if (d === 0) continue;
        gb[n] += d;
        for (let j = 0; j < k; j++) gw[j * u + n] += inputs[i][r * k + j] * d;
      }
    }
    grads.unshift(gw, gb);
    if (i > 0) {
      const next = new Float64Array(rows * k);
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < k; j++) {
          let s = 0;
          for (let n = 0; n < u; n++) s += delta[r * u + n] * weights[2 * i][j * u + n];
          next[r * k + j] = s * (acts[i - 1][r * k + j] > 0 ? 1 : 0);
        }
      }
      delta = next;
    }
  }
  return grads.map((g) => new Float32Array(g));
}

for (const simd of [true, false]) {
  Deno.test(`the host step's gradients are those of its loops one value at a time, to the bit, an infinite input under a zero gradient included (products ${simd ? "on gemm64" : "in JavaScript"})`, async () => {
    await ready;
    hostProducts.simd = simd;
    const calls = hostProducts.calls;
    // (layers above and below the blocked loops' size, 37 x 23 x 18 and 37 x 9 x 5, and widths that
    // are not multiples of 4: the blocks of four and their remainders)
    const sizes = [23, 18, 9, 5];
    const rows = 37;
    const engine = new TrainingEngine(
      parseConfig({ backend: "wasm", seed: 3, model: { kind: "mlp", hidden: sizes.slice(1, -1) } }),
      { inputShape: [sizes[0]], targetSize: 1, task: "classification", numClasses: sizes.at(-1) },
    );
    assert.equal(engine.modelPath, "host");
    let seed = 11;
    const next = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 4 - 2;
    const x = Float32Array.from({ length: rows * sizes[0] }, next);
    const y = Float32Array.from({ length: rows }, (_, r) => r % sizes.at(-1)!);
    const check = (label: string) => {
      const weights = engine.variables.map((v) => new Float32Array(v.dataSync() as Float32Array));
      const pending = engine.computeGradients([{ x, y, size: rows }]);
      const expected = referenceGradients(weights, sizes, x, y, rows);
      assert.equal(pending.hostGrads?.length, expected.length);
      for (const [i, grad] of pending.hostGrads!.entries()) {
        const same = grad.every((value, k) => Object.is(value, expected[i][k]));
        assert.ok(same, `${label}, gradient ${i}: ${grad} against ${expected[i]}`);
        assert.ok(grad.every(Number.isFinite), `${label}: gradient ${i} is finite`);
      }
    };
    check("finite inputs");
    // (on gemm64, the blocked layers' products: the first two layers' forward and kernel
    // gradients, and the second's input gradient; the last layer's are under the blocked size;
    // and every layer's bias gradient, a product with a row of ones)
    assert.equal(hostProducts.calls - calls, simd ? 8 : 0);
    // Rows with a class outside the range have output gradients of 0, so they add nothing: their
    // infinite and NaN features (and the infinities and NaNs they leave in the hidden layers) must
    // not make a NaN out of their products with those zeros.
    x[2 * sizes[0] + 1] = Infinity;
    x[2 * sizes[0] + 4] = -Infinity;
    x[5 * sizes[0]] = NaN;
    y[2] = 99;
    y[5] = -1;
    check("infinite and NaN inputs under zero gradients");
    engine.dispose();
    hostProducts.simd = true;
  });
}

// The SIMD passes (products, relu, bias gradients) against the JavaScript loops they replace:
// the same gradients, statistics and weights, to the bit, over every activation, dropout, batch
// norm, each loss, accumulation of micro-batches of two sizes, and three steps of an optimizer.
const SIMD_CASES = [
  { name: "relu, cross-entropy, adam", model: { hidden: [24, 12] }, task: "classification" },
  {
    name: "tanh, mse, sgd with momentum",
    model: { hidden: [20], activation: "tanh" },
    task: "regression",
    optimizer: { name: "sgd", lr: 0.05, momentum: 0.9 },
  },
  {
    name: "gelu with dropout 0.3, binary cross-entropy",
    model: { hidden: [16, 16], activation: "gelu", dropout: 0.3 },
    task: "binary",
  },
  {
    name: "sigmoid with batch norm, cross-entropy, rmsprop",
    model: { hidden: [32], activation: "sigmoid", batchNorm: true },
    task: "classification",
    optimizer: { name: "rmsprop", lr: 0.01 },
  },
  {
    name: "relu with batch norm and dropout 0.2, accumulation of 3",
    model: { hidden: [28, 8], batchNorm: true, dropout: 0.2 },
    task: "classification",
    accumulation: 3,
  },
  {
    name: "linear model, mse, adagrad",
    model: { hidden: [] },
    task: "regression",
    optimizer: { name: "adagrad", lr: 0.1 },
  },
] as const;
for (const c of SIMD_CASES) {
  Deno.test(`the host step's SIMD passes give the JavaScript loops' gradients, statistics and weights to the bit: ${c.name}`, async () => {
    await ready;
    const features = 19;
    const outputs = c.task === "classification" ? 7 : c.task === "regression" ? 3 : 1;
    const shape = c.task === "classification"
      ? {
        inputShape: [features],
        targetSize: 1,
        task: "classification" as const,
        numClasses: outputs,
      }
      : c.task === "regression"
      ? { inputShape: [features], targetSize: outputs, task: "regression" as const }
      : { inputShape: [features], targetSize: 1, task: "binary" as const };
    const accumulation = "accumulation" in c ? c.accumulation : 1;
    const config = parseConfig({
      backend: "wasm",
      seed: 5,
      model: { kind: "mlp", ...c.model },
      optimizer: "optimizer" in c ? c.optimizer : { name: "adam", lr: 0.01 },
      batchSize: 37,
      gradientAccumulation: accumulation,
    });
    let seed = 3;
    const next = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 4 - 2;
    // micro-batches of 37 and one of 21 (a short last one)
    const batches = Array.from({ length: accumulation + 1 }, (_, m) => {
      const size = m === accumulation ? 21 : 37;
      const y = Float32Array.from(
        { length: size * shape.targetSize },
        (_, i) => c.task === "classification" ? i % outputs : c.task === "binary" ? i % 2 : next(),
      );
      return { x: Float32Array.from({ length: size * features }, next), y, size };
    });
    const run = (simd: boolean) => {
      hostProducts.simd = simd;
      const calls = hostProducts.calls;
      const engine = new TrainingEngine(config, shape);
      assert.equal(engine.modelPath, "host");
      const seen: Float32Array[] = [];
      try {
        for (let step = 0; step < 3; step++) {
          // (the last step's micro-batches: the short one among them)
          const group = step < 2 ? batches.slice(0, accumulation) : batches.slice(1);
          const pending = engine.computeGradients(group);
          seen.push(...pending.hostGrads!.map((g) => g.slice()), pending.stats as Float32Array);
          engine.applyGradients(pending, 0.01);
        }
        seen.push(...engine.variables.map((v) => new Float32Array(v.dataSync() as Float32Array)));
        return { seen, calls: hostProducts.calls - calls };
      } finally {
        engine.dispose();
        hostProducts.simd = true;
      }
    };
    const simd = run(true);
    const loops = run(false);
    assert.ok(simd.calls > 0, "the SIMD products ran");
    assert.equal(loops.calls, 0);
    // a step whose arrays would take more than the arena may reserve: the loops, on the heap
    hostProducts.maxArenaBytes = 4096;
    const capped = (() => {
      try {
        return run(true);
      } finally {
        hostProducts.maxArenaBytes = 2 ** 30;
      }
    })();
    assert.equal(capped.calls, 0);
    assert.deepEqual(capped.seen, loops.seen);
    assert.equal(simd.seen.length, loops.seen.length);
    simd.seen.forEach((values, i) => {
      const same = values.every((v, k) => Object.is(v, loops.seen[i][k]));
      assert.ok(same, `array ${i}: ${values.slice(0, 6)} against ${loops.seen[i].slice(0, 6)}`);
    });
  });
}
