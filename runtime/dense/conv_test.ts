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
import {
  checkMixedPrecision,
  checkNaNInput,
  checkNormEvaluation,
  checkWebGpuParity,
  type ParityCase,
  runKernel,
} from "./_parity.ts";
import { type ConvBlock, ConvStage, UNFLATTEN } from "./conv.ts";
import type { WebGpuBackendInternals } from "../../optimizers/fused/gpu.ts";

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
    // K = 9 (<= DIRECT_MAX_K): the first convolution runs as the direct kernel, its 6 channels
    // a full group of 4 and a masked one of 2 (the second case's K = 12 and 3 channels: one)
    name: "grey images, a 3x3 kernel (the direct convolution), batch norm, sgd",
    config: {
      model: { kind: "cnn", filters: [6, 4], dense: [5] },
      optimizer: { name: "sgd", lr: 0.05 },
    },
    shape: { inputShape: [8, 8, 1], targetSize: 1, task: "classification", numClasses: 4 },
    steps: [[8], [8], [3]],
    floor: 1e-2,
  },
  {
    // 5120 positions (batch 20): batch norm's statistics merge 5 slices of rows, its gradient
    // sums 2; batch 19: 5 slices, the last one a row shorter
    name: "many positions (the per-channel sums over slices of rows), batch norm, sgd momentum",
    config: {
      model: { kind: "cnn", filters: [3, 2], dense: [] },
      optimizer: { name: "sgd", lr: 0.05, momentum: 0.9 },
    },
    shape: { inputShape: [16, 16, 1], targetSize: 1, task: "classification", numClasses: 3 },
    steps: [[20], [19], [7]],
    floor: 1e-2,
  },
  {
    // two blocks of 32 channels in the per-channel sums, the second one masked
    name: "40 channels, batch norm, sgd",
    config: {
      model: { kind: "cnn", filters: [40], dense: [] },
      optimizer: { name: "sgd", lr: 0.05 },
    },
    shape: { inputShape: [6, 6, 2], targetSize: 1, task: "classification", numClasses: 3 },
    steps: [[4], [4], [3]],
    floor: 1e-2,
  },
  {
    // 2x2 images, batches of 2 and 3: 8 and 12 values a channel, so that the moving variance's
    // unbiased batch variance (x n / (n - 1), torch's running_var) is 14% and 9% above the
    // biased one that normalizes the batch
    name: "tiny maps (torch's unbiased moving variance), batch norm, sgd",
    config: {
      model: { kind: "cnn", filters: [3], pool: 1, dense: [] },
      optimizer: { name: "sgd", lr: 0.05 },
    },
    shape: { inputShape: [2, 2, 1], targetSize: 1, task: "classification", numClasses: 2 },
    steps: [[2], [3], [2]],
    floor: 1e-2,
  },
  {
    name: "dropout 0.4 after two dense layers, batch norm, cross-entropy, sgd, accumulation",
    config: {
      model: { kind: "cnn", filters: [3], dense: [9, 6], dropout: 0.4 },
      optimizer: { name: "sgd", lr: 0.05, momentum: 0.5 },
      gradientAccumulation: 2,
    },
    shape: { inputShape: [6, 6, 1], targetSize: 1, task: "classification", numClasses: 3 },
    steps: [[8, 8], [8, 5]],
    floor: 1e-2,
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
    [{ model: { kind: "cnn", filters: [2], dense: [3], dropout: 0.1 } }, ""],
    [
      { model: { kind: "cnn", filters: [2] }, batchSize: 40000 },
      "2560000 positions in a batch's first convolution (at most 2097120)",
    ],
    [{ model: { kind: "cnn", filters: [2] }, fusedModel: false }, ""],
    // mixed precision with an odd number of filters or an odd dense width (it was refused): such
    // a block or layer keeps its activations float32
    [{ model: { kind: "cnn", filters: [4, 3] }, mixedPrecision: true }, ""],
    [{ model: { kind: "cnn", filters: [4], dense: [6, 5] }, mixedPrecision: true }, ""],
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
  const tensors = tf.memory().numTensors;
  // a pool over a 1x1 map leaves no values: refused when the model is built, on every path
  assert.throws(
    () =>
      new TrainingEngine(
        parseConfig({ backend: "webgpu", model: { kind: "cnn", filters: [2, 2, 2, 2], pool: 2 } }),
        image,
      ),
    (e) => e instanceof AnnealError && /conv block 3 gets 1x1 maps/.test(e.message),
  );
  assert.equal(tf.memory().numTensors, tensors, "nothing left behind");
});

// Mixed precision: each block's convolution output and pooled activations stored as float16
// pairs where its filters are even, float32 where they are odd (the images, gradients and
// arithmetic stay float32). `exact`: the first step's gradients on weights and inputs float16
// holds exactly (see checkMixedPrecision), then the steps compared to half rounding.
const MIXED: (ParityCase & { exact?: number })[] = [
  {
    // the first convolution direct (K = 9) on float32 images, the second gathered from float16
    // activations (forward, filter gradient), the input gradient through float16 activations
    name: "two blocks, a 3x3 kernel, no batch norm, exact",
    config: {
      model: { kind: "cnn", filters: [4, 6], batchNorm: false, dense: [] },
      optimizer: { name: "sgd", lr: 0.05, momentum: 0.9 },
    },
    shape: { inputShape: [8, 8, 1], targetSize: 1, task: "classification", numClasses: 3 },
    steps: [[9], [9], [5]],
    exact: 1e-5,
  },
  {
    // a 1x1 kernel: the second block's convolution and filter gradient are the direct kernels
    // (K = 4) on float16 input; 6 channels, a group of 4 and one of 2
    name: "two blocks, a 1x1 kernel (direct kernels on float16 input), pool 3, exact",
    config: {
      model: { kind: "cnn", filters: [4, 6], kernelSize: 1, pool: 3, batchNorm: false, dense: [] },
      optimizer: { name: "sgd", lr: 0.05 },
    },
    shape: { inputShape: [10, 10, 3], targetSize: 2, task: "regression" },
    steps: [[6], [6], [3]],
    exact: 1e-5,
  },
  {
    // an even kernel of 16 taps on grey images: the direct kernels at their largest K, the
    // second block's reading float16 activations, 'same' padding one more after than before
    name: "two blocks, a 4x4 kernel (direct kernels at K = 16), exact",
    config: {
      model: { kind: "cnn", filters: [4, 2], kernelSize: 4, batchNorm: false, dense: [] },
      optimizer: { name: "sgd", lr: 0.05 },
    },
    shape: { inputShape: [8, 9], targetSize: 1, task: "classification", numClasses: 3 },
    steps: [[3], [2]],
    exact: 1e-5,
  },
  {
    // batch norm's statistics, gradient sums and backward pass reading float16 convolution
    // outputs (gathered, K = 18); only the normalized activations round
    name: "one block with batch norm, exact up to the normalized activations",
    config: {
      model: { kind: "cnn", filters: [6], dense: [] },
      optimizer: { name: "sgd", lr: 0.05, momentum: 0.9 },
    },
    shape: { inputShape: [8, 8, 2], targetSize: 1, task: "classification", numClasses: 3 },
    steps: [[9], [9], [5]],
    floor: 1e-2,
    exact: 1e-2,
  },
  {
    name: "two blocks with batch norm, a dense layer, four steps",
    config: {
      model: { kind: "cnn", filters: [4, 6], dense: [6] },
      optimizer: { name: "sgd", lr: 0.05, momentum: 0.9 },
    },
    shape: { inputShape: [8, 8, 1], targetSize: 1, task: "classification", numClasses: 3 },
    steps: [[9], [9], [9], [5]],
    floor: 1e-2,
  },
  {
    // An odd number of filters keeps a block float32 (a pair must never span two positions):
    // the first block's output float32 (the direct kernel's, K = 9), read by the second block's
    // gathered convolution and filter gradient (K = 27), whose output is float16 pairs; the
    // input gradient through the first block's float32 activations
    name: "odd filters in the first block (float32 there, float16 after), exact",
    config: {
      model: { kind: "cnn", filters: [3, 4], batchNorm: false, dense: [] },
      optimizer: { name: "sgd", lr: 0.05, momentum: 0.9 },
    },
    shape: { inputShape: [8, 8, 1], targetSize: 1, task: "classification", numClasses: 3 },
    steps: [[9], [9], [5]],
    exact: 1e-5,
  },
  {
    // float16 into the last block (K = 36), float32 out of it: the head's input float32
    name: "odd filters in the last block (the head's input float32), exact",
    config: {
      model: { kind: "cnn", filters: [4, 5], batchNorm: false, dense: [] },
      optimizer: { name: "sgd", lr: 0.05, momentum: 0.9 },
    },
    shape: { inputShape: [8, 8, 1], targetSize: 1, task: "classification", numClasses: 3 },
    steps: [[9], [9], [5]],
    exact: 1e-5,
  },
  {
    // float16, float32, float16: the middle block reads pairs and writes float32, the last
    // reads float32 (K = 27) and writes pairs, all three gathered but the first (K = 9)
    name: "three blocks, the middle one odd (float16 pairs in, float32 out), exact",
    config: {
      model: { kind: "cnn", filters: [4, 3, 6], batchNorm: false, dense: [] },
      optimizer: { name: "sgd", lr: 0.05 },
    },
    shape: { inputShape: [8, 8, 1], targetSize: 1, task: "classification", numClasses: 3 },
    steps: [[9], [9], [5]],
    exact: 1e-5,
  },
  {
    // the direct kernels (2x2: K = 4 on the images, 16 on float16 pairs, 12 on float32)
    name: "three blocks, a 2x2 kernel (direct kernels), the middle one odd, exact",
    config: {
      model: { kind: "cnn", filters: [4, 3, 2], kernelSize: 2, batchNorm: false, dense: [] },
      optimizer: { name: "sgd", lr: 0.05 },
    },
    shape: { inputShape: [8, 8, 1], targetSize: 1, task: "classification", numClasses: 3 },
    steps: [[9], [9], [5]],
    exact: 1e-5,
  },
  {
    // batch norm's statistics, gradient sums and backward pass over a float32 block then a
    // float16 one
    name: "two blocks with batch norm, the first odd, a dense layer",
    config: {
      model: { kind: "cnn", filters: [3, 6], dense: [6] },
      optimizer: { name: "sgd", lr: 0.05, momentum: 0.9 },
    },
    shape: { inputShape: [8, 8, 1], targetSize: 1, task: "classification", numClasses: 3 },
    steps: [[9], [9], [9], [5]],
    floor: 1e-2,
  },
  {
    // a float16 block then a float32 one, whose output the first dense layer reads as float32
    // (it is float16 pairs itself, its width even), with dropout after it
    name: "two blocks with batch norm, the last odd, a dense layer, dropout 0.2",
    config: {
      model: { kind: "cnn", filters: [4, 5], dense: [6], dropout: 0.2 },
      optimizer: { name: "sgd", lr: 0.05, momentum: 0.9 },
    },
    shape: { inputShape: [8, 8, 1], targetSize: 1, task: "classification", numClasses: 3 },
    steps: [[9], [9], [9], [5]],
    floor: 1e-2,
  },
  {
    // the blocks' float16 output read by a dense layer of odd width (float32 activations), read
    // by one of even width (float16 pairs), with dropout after each
    name: "dense layers of odd then even width after float16 blocks, batch norm, dropout 0.2",
    config: {
      model: { kind: "cnn", filters: [4, 6], dense: [5, 6], dropout: 0.2 },
      optimizer: { name: "sgd", lr: 0.05, momentum: 0.9 },
    },
    shape: { inputShape: [8, 8, 1], targetSize: 1, task: "classification", numClasses: 3 },
    steps: [[9], [9], [9], [5]],
    floor: 1e-2,
  },
];

for (const c of MIXED) {
  Deno.test(`mixed precision in the WGSL conv step trains like float32 to half rounding: ${c.name}`, async () => {
    await ready;
    await checkMixedPrecision(c, c.exact);
  });
}

Deno.test("the conv stage counts the bytes of the buffers it makes, a block of odd filters float32 under mixed precision", () => {
  // [filters, mixed precision, which blocks store float16 pairs] on 8x8x2 images, pool 2
  const cases: [number[], boolean, boolean[]][] = [
    [[4, 6], false, [false, false]],
    [[4, 6], true, [true, true]],
    [[3, 4, 5], true, [false, true, false]],
    [[4, 3, 6], true, [true, false, true]],
  ];
  for (const [filters, half, halves] of cases) {
    // every buffer the stage makes, by label: a device that only records them (the stage's
    // buffers are made without the weights, nor a dispatch)
    const made = new Map<string, number>();
    const device = {
      limits: { maxStorageBufferBindingSize: 2 ** 27 },
      createBuffer: ({ label, size }: GPUBufferDescriptor) => {
        made.set(label ?? "", size);
        return { destroy() {} };
      },
    };
    let side = 8;
    const blocks: ConvBlock[] = filters.map((outChannels, i) => {
      const height = side;
      side /= 2;
      return {
        kernel: undefined as unknown as tf.Variable,
        bias: undefined as unknown as tf.Variable,
        height,
        width: height,
        inChannels: i === 0 ? 2 : filters[i - 1],
        outChannels,
        kernelSize: 3,
        pool: 2,
      };
    });
    const backend = { device } as unknown as WebGpuBackendInternals;
    const stage = new ConvStage(backend, blocks, half);
    const rows = 7;
    stage.allocate(rows);
    const what = `filters ${filters}, mixed precision ${half}`;
    assert.equal(stage.halfFeatures, halves[halves.length - 1], what);
    blocks.forEach((b, i) => {
      // z and the activations: a word a float16 pair where the block's are half
      const words = (values: number) => 4 * values / (halves[i] ? 2 : 1);
      const full = rows * b.height * b.width * b.outChannels;
      assert.equal(made.get(`anneal conv z ${i}`), words(full), `${what}: z ${i}`);
      assert.equal(made.get(`anneal conv activation ${i}`), words(full / 4), `${what}: act ${i}`);
    });
    // (the images are the program's buffer, counted with the stage's)
    const images = rows * 8 * 8 * 2;
    const bytes = [...made.values()].reduce((a, b) => a + b, 0);
    assert.equal(4 * (stage.extraFloats(rows) - images), bytes, what);
    stage.dispose();
  }
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

Deno.test("the kernels' integer division in f32 (udiv) is exact, at every quotient's edges, with a quotient 2 ULP off too", async () => {
  await ready;
  const device = (tf.backend() as unknown as { device: GPUDevice }).device;
  // Numerators at k*d - 1, k*d and k*d + 1, up to 2^24 and past it (where it divides in u32).
  // llvmpipe's f32 quotient is correctly rounded, and its floor already exact below 2^24; WGSL
  // allows 2.5 ULP, which the correction steps are for: the quotient is also moved 2 ULP up and
  // down (by its bits), as a GPU's division may be off (from 2^23 on, 2 whole numbers).
  const pairs: number[] = [];
  for (const d of [1, 2, 3, 7, 9, 28, 49, 255, 784, 1000, 4093, 100352, 16777215]) {
    for (const k of [0, 1, 2, 5, 17, 1000, 65535, 4194303, 16777215]) {
      for (const i of [k * d - 1, k * d, k * d + 1]) {
        if (i >= 0 && i < 2 ** 32) pairs.push(i, d);
      }
    }
    pairs.push(2 ** 24 - 1, d, 2 ** 24, d, 2 ** 32 - 1, d);
  }
  const n = pairs.length / 2;
  const input = device.createBuffer({
    size: pairs.length * 4,
    usage: GPUBufferUsage.STORAGE,
    mappedAtCreation: true,
  });
  new Uint32Array(input.getMappedRange()).set(pairs);
  input.unmap();
  const output = device.createBuffer({
    size: n * 4,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
  });
  const quotient = "f32(i) / f32(d)";
  assert.ok(UNFLATTEN.includes(quotient));
  const moved = (bits: string) =>
    `bitcast<f32>(${bits.replace("BITS", `bitcast<u32>(${quotient})`)})`;
  for (const off of [quotient, moved("BITS + 2u"), moved("max(BITS, 2u) - 2u")]) {
    const module = device.createShaderModule({
      code: `${UNFLATTEN.replace(quotient, off)}
@group(0) @binding(0) var<storage, read> pairs: array<u32>;
@group(0) @binding(1) var<storage, read_write> q: array<u32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  if (id.x < arrayLength(&q)) { q[id.x] = udiv(pairs[2u * id.x], pairs[2u * id.x + 1u]); }
}`,
    });
    const pipeline = device.createComputePipeline({
      layout: "auto",
      compute: { module, entryPoint: "main" },
    });
    const got = Array.from(
      new Uint32Array(
        await runKernel(device, pipeline, [input, output], [Math.ceil(n / 64)], output, n * 4),
      ),
    );
    const wrong = got.flatMap((q, j) => {
      const [i, d] = [pairs[2 * j], pairs[2 * j + 1]];
      return q === Math.floor(i / d) ? [] : [`${i}/${d} = ${q}`];
    });
    assert.deepEqual(wrong, [], off);
  }
  for (const b of [input, output]) b.destroy();
});

for (const batchNorm of [false, true]) {
  Deno.test(`a NaN input gives the WGSL conv step a NaN loss, as tfjs's (batch norm ${batchNorm})`, async () => {
    await ready;
    await checkNaNInput(
      { model: { kind: "cnn", filters: [3, 4], dense: [5], batchNorm } },
      { inputShape: [8, 8, 1], targetSize: 1, task: "classification", numClasses: 3 },
      "webgpu",
      "wgsl",
    );
  });
}

for (const mixed of [false, true]) {
  Deno.test(`the WGSL conv step evaluates a cnn with batch norm by its moving averages, as tfjs's inference, and moves none${mixed ? " (mixed precision)" : ""}`, async () => {
    await ready;
    await checkNormEvaluation(
      { model: { kind: "cnn", filters: [4, 6], dense: [6], dropout: 0.2 } },
      { inputShape: [8, 8, 2], targetSize: 1, task: "classification", numClasses: 3 },
      mixed,
    );
  });
}

Deno.test("release the WebGPU device", releaseWebGpu);
