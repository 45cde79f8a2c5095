/**
 * The tiled WebGPU matrix product (llvmpipe on CPU-only machines) against tfjs's cpu backend:
 * transposes, sizes that are and are not multiples of 4 (vec4 and element reads and writes),
 * edges of partial tiles, bias [N] and [1], relu, batches and broadcast batches; what it declines;
 * the route in front of tfjs's kernels; and its products recorded directly (anneal's pipelines,
 * uniforms and bind groups, kept) against the same through tfjs's `runWebGPUProgram`.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { agreeOnWebGpu } from "./_webgpu_agree.ts";
import { releaseWebGpu, selectBackend } from "./backend.ts";
import { replacedWasmKernel } from "./wasm_heap.ts";
import {
  MATMUL_VARIANTS,
  type MatMulVariant,
  MIN_TILES,
  takesTiledMatMul,
  tiledMatMul,
  tiledRecording,
} from "./webgpu_matmul.ts";

interface Case {
  a: number[];
  b: number[];
  transposeA?: boolean;
  transposeB?: boolean;
  bias?: number;
  activation?: "linear" | "relu";
}

/**
 * Element and vec4 reads and writes, transposes, edges of partial tiles, bias [N] and [1], relu,
 * batches (all but one case the checked code of every design).
 */
const PARTIAL: Case[] = [
  { a: [37, 50], b: [50, 29] }, // nothing a multiple of 4: element reads and writes
  { a: [64, 48], b: [48, 128], bias: 128, activation: "relu" }, // whole tiles, vec4 throughout
  { a: [48, 70], b: [48, 36], transposeA: true, bias: 36 }, // A stored [K, M]
  { a: [70, 40], b: [36, 40], transposeB: true, activation: "relu" }, // B stored [N, K]
  { a: [20, 66], b: [33, 20], transposeA: true, transposeB: true, bias: 1 },
  { a: [130, 17], b: [17, 131] }, // three partial tiles each way, K not a slice's multiple
  { a: [3, 17, 24], b: [3, 24, 40], bias: 40 }, // a batch
  { a: [2, 2, 9, 16], b: [16, 12] }, // A's batch dimensions, B shared
  { a: [1, 20, 16], b: [5, 16, 8], transposeB: false }, // A shared over B's batch
  { a: [4, 32, 19], b: [4, 33, 32], transposeA: true, transposeB: true },
];
/** Whole tiles and slices: the unchecked code (and `t128`'s edges over whole tiles of 64). */
const WHOLE: Case[] = [
  // whole tiles of 128 (so of 64) and slices: the unchecked code of `fast`, `fast_vec4`, `t128`
  { a: [128, 48], b: [48, 256], bias: 256, activation: "relu" },
  { a: [32, 128], b: [32, 128], transposeA: true, bias: 1 },
  { a: [256, 16], b: [128, 16], transposeB: true, activation: "relu" },
  { a: [2, 32, 128], b: [2, 128, 32], transposeA: true, transposeB: true, bias: 128 },
  { a: [2, 128, 64], b: [64, 128] }, // A's batch, B shared
  // whole tiles of 64 but not of 128: `t128` checks its edges where `fast` does not
  { a: [192, 32], b: [32, 64], bias: 64 },
];
const CASES = [...PARTIAL, ...WHOLE];

function inputs(c: Case, i: number) {
  return {
    a: tf.randomNormal(c.a, 0, 1, "float32", 3 * i + 1),
    b: tf.randomNormal(c.b, 0, 1, "float32", 3 * i + 2),
    bias: c.bias ? tf.randomNormal([c.bias], 0, 1, "float32", 3 * i + 3) : undefined,
  };
}

/**
 * Each case on the current backend: tfjs's op on cpu, the tiled kernel's `variant` itself on
 * webgpu.
 */
async function products(variant: MatMulVariant, cases = CASES): Promise<Float32Array[]> {
  const results: Float32Array[] = [];
  for (const c of cases) {
    const y = tf.tidy(() => {
      const { a, b, bias } = inputs(c, CASES.indexOf(c));
      const attrs = {
        transposeA: c.transposeA ?? false,
        transposeB: c.transposeB ?? false,
        activation: c.activation ?? "linear",
      };
      if (tf.getBackend() !== "webgpu") return tf.fused.matMul({ a, b, bias, ...attrs });
      const out = tiledMatMul(
        {
          inputs: bias ? { a, b, bias } : { a, b },
          attrs: attrs as unknown as tf.NamedAttrMap,
          backend: tf.backend(),
        },
        0,
        variant,
      );
      assert.ok(out, `the tiled kernel (${variant}) declined ${JSON.stringify(c)}`);
      return tf.engine().makeTensorFromTensorInfo(out);
    });
    results.push(await y.data() as Float32Array);
    y.dispose();
  }
  return results;
}

// Each design's cases, at most 4 to a test: on llvmpipe with an empty shader cache (a fresh
// machine's first run) each case is a pipeline that LLVM compiles, ~26 s apiece for `t128` alone
// and ~4x that beside the other test processes: one test of all 16 took 12m57s in such a CI, near
// the 16 minutes after which tools/test.sh takes a test for hung.
const CHUNK = 4;
const GROUPS = [["transposes, edges, batches", PARTIAL], ["whole tiles", WHOLE]] as const;
for (const variant of MATMUL_VARIANTS) {
  for (const [what, all] of GROUPS) {
    for (let at = 0; at < all.length; at += CHUNK) {
      const cases = all.slice(at, at + CHUNK);
      const which = `cases ${at + 1}-${at + cases.length} of ${all.length}`;
      Deno.test(`the tiled WebGPU matrix product (${variant}) equals the cpu's on ${what} (${which})`, async () => {
        await agreeOnWebGpu(() => products(variant, cases), cases, 1e-5, true);
      });
    }
  }
}

Deno.test("the tiled matrix product declines what it does not cover; tfjs's kernel answers", async () => {
  await selectBackend("webgpu");
  try {
    const declined = (a: tf.Tensor, b: tf.Tensor, attrs: Record<string, unknown> = {}) =>
      tf.tidy(() =>
        tiledMatMul({
          inputs: { a, b },
          attrs: { transposeA: false, transposeB: false, ...attrs } as unknown as tf.NamedAttrMap,
          backend: tf.backend(),
        }, 0) === undefined
      );
    assert.ok(declined(tf.ones([8, 20], "int32"), tf.ones([20, 8], "int32")), "int32");
    assert.ok(declined(tf.ones([8, 5]), tf.ones([5, 8])), "K below one slice");
    assert.ok(declined(tf.ones([8, 20]), tf.ones([20, 8]), { activation: "elu" }), "elu");
    assert.ok(declined(tf.ones([2, 8, 20]), tf.ones([3, 20, 8])), "batches 2 and 3");
    // two batches each, broadcast to four products: one operand would be read per product
    assert.ok(declined(tf.ones([2, 1, 8, 20]), tf.ones([1, 2, 20, 8])), "batches [2,1], [1,2]");
    assert.ok(declined(tf.ones([8, 20]), tf.ones([21, 8])), "K mismatch");
    // tfjs's own kernel still answers through the route
    const y = tf.matMul(tf.ones([8, 5]), tf.ones([5, 8]));
    assert.deepEqual([...await y.data()], new Array(64).fill(5));
    y.dispose();
  } finally {
    await releaseWebGpu();
  }
});

Deno.test("the route puts the tiled product in front of webgpu's BatchMatMul and _FusedMatMul", async () => {
  await selectBackend("webgpu");
  try {
    for (const name of ["BatchMatMul", "_FusedMatMul"]) {
      const tfjs = replacedWasmKernel(name, "webgpu");
      assert.ok(tfjs, `${name} was not overridden`);
      assert.notEqual(tf.getKernel(name, "webgpu")!.kernelFunc, tfjs);
    }
    // a product big enough for the route (64 tiles of 64x64), through tf.matMul: row r of the
    // result is r * K (A's rows hold their index, B is ones)
    const [m, k, n] = [512, 24, 512];
    assert.ok(takesTiledMatMul({ batch: 1, m, n, k }));
    const y = tf.tidy(() =>
      tf.matMul(tf.mul(tf.reshape(tf.range(0, m), [m, 1]), tf.ones([1, k])), tf.ones([k, n]))
    );
    const values = await y.data();
    y.dispose();
    for (const r of [0, 1, 63, 64, 511]) {
      assert.equal(values[r * n], r * k);
      assert.equal(values[r * n + n - 1], r * k);
    }
  } finally {
    await releaseWebGpu();
  }
});

Deno.test("the tiled product is taken from MIN_TILES output tiles of 64x64 and a slice of K", () => {
  assert.ok(takesTiledMatMul({ batch: 1, m: 4096, n: 4096, k: 4096 }));
  assert.ok(!takesTiledMatMul({ batch: 1, m: 256, n: 512, k: 784 })); // the MLP's first layer
  assert.ok(takesTiledMatMul({ batch: MIN_TILES, m: 64, n: 64, k: 16 }));
  assert.ok(!takesTiledMatMul({ batch: MIN_TILES, m: 64, n: 64, k: 15 }));
  assert.ok(!takesTiledMatMul({ batch: MIN_TILES - 1, m: 64, n: 64, k: 64 }));
  assert.ok(takesTiledMatMul({ batch: 1, m: 65, n: 65, k: 16 }, 4)); // partial tiles count
});

/**
 * `tiledMatMul` of `a`·`b` (no transposes, no bias; the `base` design, quick to compile on
 * llvmpipe) as a tensor; fails where it declines.
 */
function tiled(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const out = tiledMatMul(
    {
      inputs: { a, b },
      attrs: { transposeA: false, transposeB: false } as unknown as tf.NamedAttrMap,
      backend: tf.backend(),
    },
    0,
    "base",
  );
  assert.ok(out, `declined ${a.shape} by ${b.shape}`);
  return tf.engine().makeTensorFromTensorInfo(out);
}

/** Counts `GPUDevice.createBindGroup` and `GPUQueue.writeBuffer` calls while `body` runs. */
async function countCalls<T>(
  body: () => Promise<T>,
): Promise<{ result: T; bindGroups: number; writes: number }> {
  const [bind, write] = [GPUDevice.prototype.createBindGroup, GPUQueue.prototype.writeBuffer];
  const counts = { bindGroups: 0, writes: 0 };
  GPUDevice.prototype.createBindGroup = function (...args) {
    counts.bindGroups++;
    return bind.apply(this, args);
  };
  GPUQueue.prototype.writeBuffer = function (this: GPUQueue, ...args: Parameters<typeof write>) {
    counts.writes++;
    return write.apply(this, args);
  } as typeof write;
  try {
    return { result: await body(), ...counts };
  } finally {
    GPUDevice.prototype.createBindGroup = bind;
    GPUQueue.prototype.writeBuffer = write;
  }
}

Deno.test("a tiled product recorded directly equals the same through tfjs's runWebGPUProgram, bit for bit", async () => {
  await selectBackend("webgpu");
  try {
    // (four cases: operands read as scalars and as vec4s, bias [N] and [1], relu, both
    // transposes, a batch; each case a pipeline to compile on each side)
    const cases = [CASES[0], CASES[1], CASES[4], CASES[6]];
    const runs: Float32Array[][] = [];
    for (const direct of [true, false]) {
      tiledRecording.direct = direct;
      const before = tiledRecording.recorded;
      runs.push(await products("base", cases));
      // every product recorded directly, or none
      assert.equal(tiledRecording.recorded - before, direct ? cases.length : 0);
    }
    runs[0].forEach((values, i) => assert.deepEqual(values, runs[1][i], JSON.stringify(cases[i])));
  } finally {
    tiledRecording.direct = true;
    await releaseWebGpu();
  }
});

Deno.test("a tiled product recorded directly writes its uniforms once a shape and binds buffers bound before without a new bind group", async () => {
  await selectBackend("webgpu");
  try {
    const a = tf.ones([8, 48]), b = tf.ones([48, 8]);
    const first = await countCalls(async () => {
      const y = tiled(a, b);
      const values = await y.data();
      y.dispose();
      return values;
    });
    assert.deepEqual([...first.result], new Array(64).fill(48));
    assert.equal(first.bindGroups, 1);
    // the same operands, and the output in the buffer tfjs's pool hands out again: nothing new
    const again = await countCalls(async () => {
      const y = tiled(a, b);
      const values = await y.data();
      y.dispose();
      return values;
    });
    assert.deepEqual([...again.result], new Array(64).fill(48));
    assert.equal(again.bindGroups, 0, "a bind group made again for the same buffers");
    assert.equal(again.writes, 0, "the uniforms written again for the same shape");
    // the same operands while the first product's output is alive: another output buffer, so
    // another bind group (one keyed without its output would write the first output again)
    const kept = await countCalls(async () => {
      const [y1, y2] = [tiled(a, b), tiled(a, b)];
      const values = await Promise.all([y1.data(), y2.data()]);
      tf.dispose([y1, y2]);
      return values;
    });
    for (const values of kept.result) assert.deepEqual([...values], new Array(64).fill(48));
    assert.equal(kept.bindGroups, 1);
    // the operands' buffers read as a batch of 4 products of 4x24 by 24x4: the output buffer
    // handed out again (64 values), another shape's uniforms, so another bind group
    const batched = await countCalls(async () => {
      const y = tiled(tf.reshape(a, [4, 4, 24]), tf.reshape(b, [4, 24, 4]));
      const values = await y.data();
      y.dispose();
      return values;
    });
    assert.deepEqual([...batched.result], new Array(64).fill(24));
    assert.equal(batched.bindGroups, 1, "a bind group of another shape's uniforms reused");
    // another operand of the same shape: a bind group, no uniforms
    const c = tf.fill([48, 8], 2);
    const other = await countCalls(async () => {
      const y = tiled(a, c);
      const values = await y.data();
      y.dispose();
      return values;
    });
    assert.deepEqual([...other.result], new Array(64).fill(96));
    assert.equal(other.bindGroups, 1);
    assert.equal(other.writes, 0);
    tf.dispose([a, b, c]);
  } finally {
    await releaseWebGpu();
  }
});

Deno.test("a tiled product recorded directly keeps its disposed operands' buffers until its commands are submitted", async () => {
  await selectBackend("webgpu");
  try {
    const backend = tf.backend() as unknown as {
      bufferManager: { acquireBuffer(size: number, usage: number): GPUBuffer };
      device: GPUDevice;
    };
    // (made by an op: in buffers of tfjs's pool, their commands submitted by the reads)
    const a = tf.tidy(() => tf.add(tf.ones([16, 32]), 0));
    const b = tf.tidy(() => tf.add(tf.ones([32, 16]), 0));
    await Promise.all([a.data(), b.data()]);
    const y = tiled(a, b);
    // the operands disposed before the product is submitted: were their buffers back in tfjs's
    // pool, the next buffers of their size would be theirs, and these writes (which land before
    // the queued commands) would change the product
    tf.dispose([a, b]);
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const taken = [0, 1].map(() => backend.bufferManager.acquireBuffer(16 * 32 * 4, usage));
    for (const buffer of taken) {
      backend.device.queue.writeBuffer(buffer, 0, new Float32Array(16 * 32).fill(-7));
    }
    assert.deepEqual([...await y.data()], new Array(256).fill(32));
    y.dispose();
  } finally {
    await releaseWebGpu();
  }
});

Deno.test("tiled products recorded directly over more shapes than the uniforms kept, and under tf.time (through tfjs)", async () => {
  await selectBackend("webgpu");
  try {
    const a = tf.ones([8, 120]), b = tf.ones([120, 8]);
    // 80 depths of K (each its own uniforms), recorded with no submission between them (tfjs
    // submits every WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE dispatches: raised here), then read: the
    // oldest uniforms, still bound by queued products, go back to tfjs's pool only once those
    // are submitted (back at once, the later depths' uniforms would be written into them)
    const batchSize = tf.env().get("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE");
    tf.env().set("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE", 1000);
    const products: tf.Tensor[] = [];
    try {
      for (let k = 16; k < 96; k++) {
        products.push(
          tf.tidy(() => tiled(tf.slice(a, [0, 0], [8, k]), tf.slice(b, [0, 0], [k, 8]))),
        );
      }
    } finally {
      tf.env().set("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE", batchSize);
    }
    for (const [i, y] of products.entries()) {
      assert.deepEqual([...await y.data()], new Array(64).fill(16 + i), `K = ${16 + i}`);
    }
    tf.dispose(products);
    const y = tiled(tf.slice(a, [0, 0], [8, 16]), tf.slice(b, [0, 0], [16, 8]));
    assert.deepEqual([...await y.data()], new Array(64).fill(16), "K = 16 again");
    y.dispose();
    // tf.time times each kernel through tfjs's own recording (a pass and a query each)
    const before = tiledRecording.recorded;
    let z: tf.Tensor | undefined;
    const timing = await tf.time(() => {
      z = tiled(a, b);
    });
    assert.ok(timing.wallMs >= 0);
    assert.deepEqual([...await z!.data()], new Array(64).fill(120));
    z!.dispose();
    assert.equal(tiledRecording.recorded, before, "recorded directly under tf.time");
    tf.dispose([a, b]);
  } finally {
    await releaseWebGpu();
  }
});

Deno.test("the tiled product declines a grid past the device's workgroups per dimension", async () => {
  await selectBackend("webgpu");
  try {
    const most = (tf.backend() as unknown as { device: GPUDevice }).device.limits
      .maxComputeWorkgroupsPerDimension;
    const declined = tf.tidy(() =>
      tiledMatMul({
        inputs: { a: tf.ones([most + 1, 1, 16]), b: tf.ones([16, 4]) },
        attrs: { transposeA: false, transposeB: false } as unknown as tf.NamedAttrMap,
        backend: tf.backend(),
      }, 0) === undefined
    );
    assert.ok(declined, `a batch of ${most + 1} products`);
  } finally {
    await releaseWebGpu();
  }
});
