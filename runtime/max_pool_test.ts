import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { selectBackend } from "./backend.ts";
import { replacedWasmKernel } from "./wasm_heap.ts";
import { simdKernels } from "./wasm_simd/kernels.ts";
import { kernelPool } from "./wasm_simd/pool.ts";
import { poolCall } from "./conv_args.ts";
import { NAN_MODELS, nanBatchLosses } from "./_nan_batch.ts";

type Pad = "same" | "valid" | number;
type Rounding = "floor" | "round" | "ceil" | undefined;

/** A pooling case: the input's shape and values, the window, its strides and padding. */
interface PoolCase {
  shape: [number, number, number, number];
  values: Float32Array;
  filter: [number, number];
  strides: [number, number];
  pad: Pad;
  rounding: Rounding;
}

/**
 * Values from a few levels (ties common, -0 among them) with NaN and -Infinity at `special`'s
 * rate; never +Infinity, which the reference below stands a NaN for.
 */
function drawValues(size: number, seed: number, special: number): Float32Array {
  return Float32Array.from({ length: size }, (_, i) => {
    const u = Math.abs(Math.sin(seed + i * 2.71)) % 1;
    if (u < special / 2) return NaN;
    if (u < special) return -Infinity;
    return Math.round(Math.sin(seed * 3 + i) * 3) / 2;
  });
}

const cases: fc.Arbitrary<PoolCase> = fc.record({
  batch: fc.integer({ min: 0, max: 3 }),
  h: fc.integer({ min: 1, max: 9 }),
  w: fc.integer({ min: 1, max: 9 }),
  // channels a multiple of 4 half the time (the SIMD kernel's)
  c: fc.oneof(fc.integer({ min: 1, max: 6 }), fc.constantFrom(4, 8, 12)),
  // the 2x2 stride 2 window often (the SIMD kernel's), other windows and strides too
  window: fc.oneof(
    fc.constant({ filter: [2, 2] as [number, number], strides: [2, 2] as [number, number] }),
    fc.record({
      filter: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })),
      strides: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
    }),
  ),
  pad: fc.oneof(
    fc.constantFrom<{ pad: Pad; rounding: Rounding }>(
      { pad: "valid", rounding: undefined },
      { pad: "same", rounding: undefined },
    ),
    fc.record({
      pad: fc.integer({ min: 0, max: 1 }) as fc.Arbitrary<Pad>,
      rounding: fc.constantFrom<Rounding>("floor", "round", "ceil"),
    }),
  ),
  special: fc.constantFrom(0, 0.1, 0.5),
  seed: fc.integer({ min: 1, max: 1e6 }),
}).filter(({ batch, h, w, c, window, pad }) => {
  try {
    const info = tf.backend_util.computePool2DInfo(
      [batch, h, w, c],
      window.filter,
      window.strides,
      1,
      pad.pad,
      pad.rounding,
    );
    return info.outHeight > 0 && info.outWidth > 0;
  } catch {
    return false; // a case tfjs itself refuses
  }
}).map(({ batch, h, w, c, window, pad, special, seed }) => ({
  shape: [batch, h, w, c],
  values: drawValues(batch * h * w * c, seed, special),
  ...window,
  ...pad,
}));

/** Float32 bits, every NaN as one (torch's rule keeps a window's NaN, not one of a given sign). */
function bits(values: Float32Array): number[] {
  return Array.from(new Uint32Array(values.map((v) => Number.isNaN(v) ? NaN : v).buffer));
}

/** `MaxPool` of a case by `kernel` where given, else by the backend's registered kernel. */
function pooled(c: PoolCase, kernel?: tf.KernelFunc): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor4d(c.values, c.shape);
    const attrs = {
      filterSize: c.filter,
      strides: c.strides,
      pad: c.pad,
      dimRoundingMode: c.rounding,
    };
    const y = kernel
      ? tf.engine().makeTensorFromTensorInfo(
        kernel({
          inputs: { x },
          attrs: attrs as unknown as tf.NamedAttrMap,
          backend: tf.backend(),
        }) as tf.TensorInfo,
      )
      : tf.maxPool(x, c.filter, c.strides, c.pad as "same", c.rounding);
    return y.dataSync() as Float32Array;
  });
}

/**
 * torch's max pooling of a case from tfjs's own cpu kernel: its value where the window holds no
 * NaN (a maximum is exact), NaN where it holds one (the windows tfjs's kernel gives +Infinity
 * with every NaN read as +Infinity, which the draws never hold).
 */
function torchRule(c: PoolCase, tfjsKernel: tf.KernelFunc): Float32Array {
  const skipped = pooled(c, tfjsKernel);
  const flagged = pooled(
    { ...c, values: c.values.map((v) => Number.isNaN(v) ? Infinity : v) },
    tfjsKernel,
  );
  return skipped.map((v, i) => flagged[i] === Infinity ? NaN : v);
}

await selectBackend("cpu");
const tfjsCpu = replacedWasmKernel("MaxPool", "cpu");
assert.ok(tfjsCpu, "anneal's cpu MaxPool is in front of tfjs's, which is kept");
const drawn = fc.sample(cases, { numRuns: 200, seed: 20261206 });
const expected = drawn.map((c) => torchRule(c, tfjsCpu!));

Deno.test("the draws hold windows with and without a NaN, and 2x2 stride 2 windows over channels of a multiple of 4", () => {
  const nanWindows = expected.flatMap((y) => Array.from(y)).filter(Number.isNaN).length;
  assert.ok(nanWindows > 50, `${nanWindows} windows with a NaN`);
  const simd = drawn.filter((c) =>
    c.filter[0] === 2 && c.filter[1] === 2 && c.strides[0] === 2 && c.strides[1] === 2 &&
    c.shape[3] % 4 === 0 && c.shape[0] > 0 && c.values.some(Number.isNaN)
  );
  assert.ok(simd.length >= 10, `${simd.length} cases for the SIMD kernel`);
});

Deno.test("the cpu's MaxPool gives tfjs's kernel's values, and NaN for a window that holds one (torch's rule)", () => {
  // tfjs's kernel skips a NaN: the rule this replaces
  const x = tf.tensor4d([NaN, 1, 2, 3], [1, 2, 2, 1]);
  assert.equal(
    pooled({
      shape: [1, 2, 2, 1],
      values: x.dataSync() as Float32Array,
      filter: [2, 2],
      strides: [2, 2],
      pad: "valid",
      rounding: undefined,
    }, tfjsCpu)[0],
    3,
  );
  x.dispose();
  drawn.forEach((c, i) =>
    assert.deepEqual(
      bits(pooled(c)),
      bits(expected[i]),
      JSON.stringify({ ...c, values: Array.from(c.values) }),
    )
  );
  // a 1x1 window that keeps the shape is tfjs's (the input itself)
  const same = tf.tensor4d([NaN, 1], [1, 1, 2, 1]);
  assert.ok(Number.isNaN(tf.maxPool(same, 1, 1, "valid").dataSync()[0]));
  same.dispose();
});

// large enough for the kernel pool's threads
const big: PoolCase = {
  shape: [16, 28, 28, 32],
  values: drawValues(16 * 28 * 28 * 32, 7, 0.01),
  filter: [2, 2],
  strides: [2, 2],
  pad: "valid",
  rounding: undefined,
};
const bigExpected = torchRule(big, tfjsCpu!);

for (const threads of [1, 2]) {
  Deno.test(`wasm's MaxPool (${threads} thread(s)) gives the same values, in anneal's SIMD kernel and in its loop, and leaves no buffers behind`, async () => {
    await selectBackend("wasm", "cnn", { wasmThreads: threads });
    assert.ok(simdKernels(tf.engine().backend), "the SIMD kernels load on this machine");
    assert.equal(kernelPool(tf.engine().backend) !== undefined, threads > 1, "the kernel pool");
    const buffers = tf.engine().backend.numDataIds();
    drawn.forEach((c, i) =>
      assert.deepEqual(
        bits(pooled(c)),
        bits(expected[i]),
        JSON.stringify({ ...c, values: Array.from(c.values) }),
      )
    );
    assert.deepEqual(bits(pooled(big)), bits(bigExpected));
    assert.equal(tf.engine().backend.numDataIds(), buffers);
  });
}

Deno.test("a window larger than the input and its padding is left to tfjs's kernels, which refuse it", async () => {
  await selectBackend("cpu");
  for (const shape of [[2, 1, 1, 4], [1, 1, 5, 4]] as [number, number, number, number][]) {
    const x = tf.ones(shape) as tf.Tensor4D;
    const attrs = { filterSize: 4, strides: 1, pad: "valid" } as unknown as tf.NamedAttrMap;
    // (wasm's and cpu's kernels take the same call; tfjs-wasm's then traps out of its memory)
    assert.equal(poolCall({ inputs: { x }, attrs, backend: tf.backend() }), undefined);
    assert.throws(() => tf.maxPool(x, 4, 1, "valid").dataSync(), `[${shape}]`);
    x.dispose();
  }
});

Deno.test("a batch with a NaN feature is evaluated and trained to a NaN loss on the cpu and wasm backends, by every model kind, as in torch", async () => {
  // (the cnn of 1x1 convolutions without batch norm keeps the NaN to one pixel of one pooling
  // window with three numbers: tfjs's kernels made that window a number, and the cpu's loss was
  // the clean batch's, wasm's another finite one)
  for (const backend of ["cpu", "wasm"] as const) {
    await selectBackend(backend);
    for (const { model, inputShape } of NAN_MODELS) {
      const losses = await nanBatchLosses(backend, model, inputShape);
      const which = `${backend} ${JSON.stringify(model)}: ${JSON.stringify(losses)}`;
      assert.ok(Number.isFinite(losses.clean), which);
      assert.ok(Number.isNaN(losses.evaluated), which);
      assert.ok(Number.isNaN(losses.trained), which);
    }
  }
});
