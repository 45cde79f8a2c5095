/**
 * The dense kernels' code written for a GPU's latency: `stridedSum` (four loads in flight, the
 * sums in a plain loop's order) against a float32 sum in that order on the CPU, on the machine's
 * WebGPU adapter (llvmpipe in CI); and the matmul's staging as straight-line code, which trains
 * to the same bits as the loops it replaced.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { parseConfig, type RunConfigInput } from "../../config.ts";
import { releaseWebGpu, selectBackend } from "../backend.ts";
import { type DataShape, TrainingEngine } from "../engine.ts";
import { batch, runKernel } from "./_parity.ts";
import { Rng } from "../../data/rng.ts";
import { pipelineFor } from "./dispatch.ts";
import { DROPOUT_BITS_WGSL, matmulStaging, matmulWgsl, stridedSum } from "./wgsl.ts";
import {
  dropoutKeepBits,
  dropoutKeys,
  dropoutSeed,
  dropoutThreshold,
} from "../../models/dropout.ts";

const ready = selectBackend("webgpu", "mlp");

/** Threads of the test's kernel: thread t sums the terms of its own start, stride and count. */
const THREADS = 64;

/** Thread t's [start, stride, count]: every count from 0 to 13 (the remainder loop's 0-3). */
function plan(t: number): [number, number, number] {
  return [t % 5, 1 + (t % 3), t % 14];
}

Deno.test("stridedSum adds its terms in a plain loop's order: the same bits, for every count", async () => {
  await ready;
  const device = (tf.backend() as unknown as { device: GPUDevice }).device;
  // terms of very different sizes, so that another order of the sums gives other bits
  const d = Float32Array.from(
    { length: 64 },
    (_, i) => (i % 3 === 0 ? 3.1e7 : 0.37) * Math.sin(i + 1),
  );
  const code = `
@group(0) @binding(0) var<storage, read> d: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(${THREADS})
fn main(@builtin(local_invocation_index) t: u32) {
  let start = t % 5u;
  let stride = 1u + t % 3u;
  let end = start + stride * (t % 14u);
  var s = 0.0;
  ${stridedSum("s", "start", "end", "stride", (i) => `d[${i}]`)}
  out[t] = s;
}`;
  const storage = (bytes: number, data?: Float32Array<ArrayBuffer>) => {
    const buffer = device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
    });
    if (data) device.queue.writeBuffer(buffer, 0, data);
    return buffer;
  };
  const input = storage(d.byteLength, d);
  const out = storage(4 * THREADS);
  const got = new Float32Array(
    await runKernel(
      device,
      pipelineFor(device, "test-strided-sum", () => code),
      [input, out],
      [1],
      out,
      4 * THREADS,
    ),
  );
  for (const buffer of [input, out]) buffer.destroy();
  let reordered = 0;
  for (let t = 0; t < THREADS; t++) {
    const [start, stride, count] = plan(t);
    let sum = 0;
    for (let k = 0; k < count; k++) sum = Math.fround(sum + d[start + k * stride]);
    assert.equal(got[t], sum, `thread ${t}: ${count} terms from ${start}, every ${stride}`);
    // (the terms are such that the sums' order shows: pairwise sums give other bits)
    let pairs = 0;
    for (let k = 0; k < count; k += 2) {
      const next = k + 1 < count ? d[start + (k + 1) * stride] : 0;
      pairs = Math.fround(pairs + Math.fround(d[start + k * stride] + next));
    }
    if (pairs !== sum) reordered++;
  }
  assert.ok(reordered > 0, "the test's terms tell one order of the sums from another");
});

Deno.test("the matmul stages its slices without a loop: its loops are K's slices and their product", () => {
  // (text only: a gather's functions are named, not compiled)
  const gathers = [undefined, { fns: "", a: "gatherA" }, { fns: "", a: "gatherA", b: "gatherB" }];
  for (
    const [transA, transB, gather] of [false, true].flatMap((a) =>
      [false, true].flatMap((b) =>
        gathers.filter((g) => !g?.b || (!a && !b)).map((g) => [a, b, g] as const)
      )
    )
  ) {
    for (const half of [{}, { a: true, out: true, prev: true }]) {
      for (
        const epilogue of [
          { kind: "forward", activation: "relu" },
          { kind: "backprop", activation: "tanh" },
          { kind: "grad" },
          { kind: "partial" },
        ] as const
      ) {
        const code = matmulWgsl(transA, transB, epilogue, half, gather);
        const loops = code.match(/\bfor \(/g) ?? [];
        const what = `${transA} ${transB} ${epilogue.kind} ${JSON.stringify(gather)}`;
        assert.equal(loops.length, 2, `${what}: ${loops.length} loops`);
        // the gathered reads, dropped past the tile's bounds by a select (no branch)
        if (gather) assert.match(code, /select\([^;]*gatherA/, what);
        if (gather?.b) assert.match(code, /select\(0\.0, gatherB\(/, what);
        assert.match(code, /for \(var k0 = kStart; k0 < kEnd; k0 \+= 32u\)/);
        assert.match(code, /for \(var k = 1u; k < 32u; k\+\+\)/);
        // each of a thread's 16 (or 8 float16 pairs') elements of A, and 16 of B, loaded first
        assert.match(code, new RegExp(`var xa${half.a ? 7 : 15}:`));
        assert.match(code, /var xb15:/);
      }
    }
  }
});

/** The weights after three steps of the WGSL step on one batch, their bits. */
async function trainedBits(config: RunConfigInput, shape: DataShape): Promise<Uint32Array[]> {
  const engine = new TrainingEngine(
    parseConfig({ backend: "webgpu", seed: 3, optimizer: { name: "adam", lr: 0.01 }, ...config }),
    shape,
  );
  try {
    assert.equal(engine.modelPath, "wgsl");
    const gen = new Rng(11);
    const data = batch(() => gen.float(), 37, shape.inputShape[0], shape);
    for (let step = 0; step < 3; step++) {
      engine.applyGradients(engine.computeGradients([data]), 0.01);
    }
    const weights = await engine.readWeights();
    return Object.values(weights).map((w) => new Uint32Array(w.values.slice().buffer));
  } finally {
    engine.dispose();
  }
}

Deno.test("the matmul's straight-line staging trains to the bits of its loops: an mlp with split K and float16 activations", async () => {
  await ready;
  // forward products, one of them split along K (1100 inputs into 16 units), the backprop and
  // the weight gradients, with float16 activations (the loops' pipelines are compiled for this
  // test alone; the conv blocks' gathered operands are checked against tfjs in conv_test.ts)
  const config: RunConfigInput = { model: { kind: "mlp", hidden: [16, 12] }, mixedPrecision: true };
  const shape: DataShape = {
    inputShape: [1100],
    targetSize: 1,
    task: "classification",
    numClasses: 10,
  };
  const unrolled = await trainedBits(config, shape);
  matmulStaging.unrolled = false;
  try {
    // (the loops' own code, under its own pipelines' keys: not the unrolled form again)
    const forward = { kind: "forward", activation: "relu" } as const;
    assert.match(matmulWgsl(false, false, forward), /for \(var i = 0u; i < 16u; i\+\+\)/);
    // (and its pipelines made anew, not the unrolled form's taken from the cache)
    const labels: string[] = [];
    const make = GPUDevice.prototype.createComputePipeline;
    GPUDevice.prototype.createComputePipeline = function (descriptor) {
      labels.push(descriptor.label ?? "");
      return make.call(this, descriptor);
    };
    let loops: Uint32Array[];
    try {
      loops = await trainedBits(config, shape);
    } finally {
      GPUDevice.prototype.createComputePipeline = make;
    }
    assert.ok(labels.some((label) => label.endsWith("-loops")), labels.join(", "));
    assert.deepEqual(loops, unrolled);
  } finally {
    matmulStaging.unrolled = true;
  }
});

Deno.test("the GPU's dropout draw writes dropoutKeepBits' words after a first word of 1, from the keys of its layer, for any count of units", async () => {
  await ready;
  const device = (tf.backend() as unknown as { device: GPUDevice }).device;
  const buffer = (usage: number, words: Uint32Array<ArrayBuffer>) => {
    const b = device.createBuffer({ size: Math.max(16, words.byteLength), usage });
    device.queue.writeBuffer(b, 0, words);
    return b;
  };
  const pipeline = pipelineFor(device, "dropout-bits", () => DROPOUT_BITS_WGSL);
  const cases: [number, number][] = [[1, 0.5], [31, 0.3], [32, 0.9], [33, 0.05], [70_001, 0.2]];
  for (const [count, rate] of cases) {
    for (const step of [0, 9]) {
      // the second of two layers' keys (the first layer's differ: they must not be read)
      const seed = dropoutSeed(17, step, 1);
      const keys = new Uint32Array([1, 2, ...dropoutKeys(seed)]);
      const words = 1 + Math.ceil(count / 32);
      // a mask left from before: every word set, the one past the count's too
      const mask = buffer(
        GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
        new Uint32Array(words + 1).fill(0xffffffff),
      );
      const bound = [
        buffer(
          GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
          new Uint32Array([count, dropoutThreshold(rate), 1, 0]),
        ),
        buffer(GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, keys),
        mask,
      ];
      const groups = Math.ceil(Math.ceil(count / 32) / 256);
      const got = new Uint32Array(
        await runKernel(device, pipeline, bound, [groups], mask, 4 * (words + 1)),
      );
      for (const b of bound) b.destroy();
      const want = dropoutKeepBits(seed, count, rate);
      assert.equal(got[0], 1, `${count} units at ${rate}: the first word says apply`);
      assert.deepEqual(Array.from(got.subarray(1, words)), Array.from(want), `${count} at ${rate}`);
      assert.equal(got[words], 0xffffffff, "nothing written past the mask's words");
    }
  }
});

Deno.test("release the WebGPU device", releaseWebGpu);
