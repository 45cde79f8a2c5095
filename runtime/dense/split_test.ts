/**
 * Split-K in the WGSL step: a dense layer's forward product with few output tiles over a long K
 * (a cnn's head over its flattened features) runs as K's slices into partials and a finishing
 * kernel through the forward epilogue; a weight gradient's likewise (a dense layer's over a large
 * batch, a recurrent layer's over every step), its slices' column sums added into the gradient
 * as micro-batches accumulate. The plan (which products split, into what slices), and parity
 * with tfjs on models whose products take that path: float32 and mixed precision, a smaller
 * last batch, accumulation and evaluation.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../config.ts";
import { releaseWebGpu, selectBackend } from "../backend.ts";
import { TrainingEngine } from "../engine.ts";
import { Rng } from "../../data/rng.ts";
import { batch, checkMixedPrecision, checkWebGpuParity, type ParityCase } from "./_parity.ts";
import {
  productSplit,
  SPLIT_GROUPS,
  SPLIT_MAX_TILES,
  SPLIT_MIN_K,
  SPLIT_MIN_SLICE,
  splitPartialFloats,
} from "./dispatch.ts";
import { TILE } from "./wgsl.ts";

const ready = selectBackend("webgpu", "mlp");

Deno.test("productSplit splits only few tiles over a long K, into slices of whole tiles", () => {
  // the benchmark cnn's head: 128 samples x 128 units (16 tiles) over 3136 features
  assert.deepEqual(productSplit(128, 128, 3136), [13, 256]);
  // enough tiles, or a short K: one product
  assert.deepEqual(productSplit(2048, 128, 3136), [1, 3136]);
  assert.deepEqual(productSplit(128, 128, SPLIT_MIN_K - 1), [1, SPLIT_MIN_K - 1]);
  for (const m of [1, 7, 32, 33, 100, 500, 1000, 2000]) {
    for (const n of [1, 10, 64, 128, 300]) {
      for (const k of [SPLIT_MIN_K, 1100, 3136, 50000]) {
        const [slices, length] = productSplit(m, n, k);
        const tiles = Math.ceil(m / TILE) * Math.ceil(n / TILE);
        if (tiles >= SPLIT_MAX_TILES) {
          assert.deepEqual([slices, length], [1, k]);
          continue;
        }
        assert.ok(slices > 1, `${m}x${n} over ${k}`);
        assert.equal(length % TILE, 0);
        // about SPLIT_MIN_SLICE at least: no more slices than K has of them
        assert.ok(slices <= Math.ceil(k / SPLIT_MIN_SLICE));
        // the slices cover K, none empty
        assert.ok((slices - 1) * length < k && slices * length >= k, `${m}x${n} over ${k}`);
        assert.ok(slices <= Math.ceil(SPLIT_GROUPS / tiles));
      }
    }
  }
});

Deno.test("the partials are sized for every micro-batch up to the buffers' rows", () => {
  const dims = (rows: number): [number, number, number] => [rows, 16, 1024];
  const floats = splitPartialFloats(40, dims);
  for (let r = 1; r <= 40; r++) {
    assert.ok(productSplit(...dims(r))[0] * r * 16 <= floats, `${r} rows`);
  }
  // (a product that does not split has none)
  assert.equal(splitPartialFloats(40, (rows) => [rows, 16, 512]), 0);
});

const CASES: ParityCase[] = [
  {
    name: "mlp relu over 1024 features, 16 units, cross-entropy, adam, a smaller last batch",
    config: { model: { kind: "mlp", hidden: [16] }, optimizer: { name: "adam", lr: 0.005 } },
    shape: { inputShape: [1024], targetSize: 1, task: "classification", numClasses: 5 },
    steps: [[40], [40], [40], [7]],
  },
  {
    // 1100 = 4 slices of 288, the last one of 236 (not a whole tile)
    name: "mlp tanh over 1100 features, mse, sgd momentum, accumulation",
    config: {
      model: { kind: "mlp", hidden: [24], activation: "tanh" },
      optimizer: { name: "sgd", lr: 0.05, momentum: 0.9 },
      gradientAccumulation: 2,
    },
    shape: { inputShape: [1100], targetSize: 2, task: "regression" },
    steps: [[20, 20], [20, 5], [20, 20]],
  },
  {
    name: "linear over 2048 features (the output layer split), binary cross-entropy, adamw",
    config: { model: { kind: "linear" }, optimizer: { name: "adamw", lr: 0.01 } },
    shape: { inputShape: [2048], targetSize: 1, task: "binary" },
    steps: [[33], [33], [9]],
  },
  {
    // 8 x 8 x 16 = 1024 features into the dense layer (no pooling: a small convolution), read as
    // float16 under mixed precision
    name: "cnn without batch norm, its dense layer over 1024 features, adam",
    config: {
      model: { kind: "cnn", filters: [16], pool: 1, batchNorm: false, dense: [8] },
      optimizer: { name: "adam", lr: 0.005 },
    },
    shape: { inputShape: [8, 8, 1], targetSize: 1, task: "classification", numClasses: 3 },
    steps: [[12], [12], [12], [5]],
  },
];

/** Whether `c`'s first dense layer's forward product splits at each of its micro-batch sizes. */
function splitsFirstLayer(c: ParityCase): boolean {
  const model = c.config.model as { kind: string; hidden?: number[]; dense?: number[] };
  const k = model.kind === "cnn" ? 1024 : c.shape.inputShape.reduce((a, b) => a * b, 1);
  const units = model.hidden?.[0] ?? model.dense?.[0] ?? c.shape.targetSize;
  return c.steps.flat().every((rows) => productSplit(rows, units, k)[0] > 1);
}

for (const c of CASES) {
  Deno.test(`a split forward product matches tfjs: ${c.name}`, async () => {
    await selectBackend("webgpu", (c.config.model as { kind: string }).kind);
    assert.ok(splitsFirstLayer(c), "the case takes the split path");
    await checkWebGpuParity(c);
  });
}

// (with SGD: Adam's steps of +-lr on the gradients a float16 rounding turns from 0 to not 0, a
// relu's unit or a pooling window flipping, outgrow half rounding over 1024 inputs)
for (const c of [CASES[0], CASES[3]]) {
  const sgd = { ...c, config: { ...c.config, optimizer: { name: "sgd", lr: 0.05 } } };
  Deno.test(`a split forward product under mixed precision: ${c.name}`, async () => {
    await selectBackend("webgpu", (c.config.model as { kind: string }).kind);
    await checkMixedPrecision(sgd);
  });
}

Deno.test("the step records the split product and its finishing kernel", async () => {
  await ready;
  const shape = CASES[0].shape;
  const engine = new TrainingEngine(
    parseConfig({ backend: "webgpu", seed: 5, model: { kind: "mlp", hidden: [16] } }),
    shape,
  );
  try {
    const gen = new Rng(3);
    const profile = await engine.profileWgslStep(batch(() => gen.float(), 8, 1024, shape));
    const names = profile!.map((p) => p.name);
    assert.ok(names.includes("mm00-partial--000"), names.join(", "));
    assert.ok(names.includes("split-forward-relu-0"), names.join(", "));
    // the output layer (16 inputs) is one product
    assert.ok(names.includes("mm00-forward-linear-000"), names.join(", "));
  } finally {
    engine.dispose();
  }
});

// Weight gradients over K = the micro-batch's rows (times the steps of an rnn): a micro-batch of
// 1100 (or 70 sequences of 16 steps) splits; the buffers are then sized for it, and a later
// micro-batch under SPLIT_MIN_K takes one slice through the same dispatches.
const GRADIENT_CASES: (ParityCase & { products: [number, number, number][] })[] = [
  {
    name: "mlp over a large batch (its kernels' gradients split), accumulation, adam",
    config: {
      model: { kind: "mlp", hidden: [16] },
      optimizer: { name: "adam", lr: 0.005 },
      gradientAccumulation: 2,
    },
    shape: { inputShape: [20], targetSize: 1, task: "classification", numClasses: 7 },
    steps: [[1100, 600], [1100, 1100], [300, 1100]],
    products: [[20, 16, 1100], [16, 7, 1100]],
  },
  {
    name: "two LSTM layers over 16 steps (their kernels' gradients split), accumulation, sgd",
    config: {
      model: { kind: "rnn", cell: "lstm", units: 8, layers: 2 },
      optimizer: { name: "sgd", lr: 0.1, momentum: 0.9 },
      gradientAccumulation: 2,
    },
    shape: { inputShape: [16, 3], targetSize: 1, task: "classification", numClasses: 3 },
    steps: [[70, 70], [70, 40]],
    products: [[3, 32, 1120], [8, 32, 1120]],
  },
];

for (const c of GRADIENT_CASES) {
  Deno.test(`a split weight gradient matches tfjs: ${c.name}`, async () => {
    await selectBackend("webgpu", (c.config.model as { kind: string }).kind);
    for (const dims of c.products) assert.ok(productSplit(...dims)[0] > 1, `${dims} splits`);
    await checkWebGpuParity(c);
  });
}

Deno.test("a split mlp gradient under mixed precision (float16 inputs to the second layer)", async () => {
  await ready;
  await checkMixedPrecision({
    ...GRADIENT_CASES[0],
    config: { ...GRADIENT_CASES[0].config, optimizer: { name: "sgd", lr: 0.05 } },
  });
});

// Last in this file: no WebGPU device left alive when the test process ends.
Deno.test("release the WebGPU device", releaseWebGpu);
