import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { registerWasmTrainingKernels, selectBackend } from "./backend.ts";
import { PATCH_CONV_MAX_TAPS, routeConvGradients } from "./wasm_conv.ts";
import { gemmProducts } from "./wasm_gemm.ts";

type Pad = "same" | "valid" | [
  [number, number],
  [number, number],
  [number, number],
  [number, number],
];
interface Case {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number | [number, number];
  pad: Pad;
}

const CASES: Case[] = [
  { x: [2, 5, 5, 3], filter: [3, 3, 3, 4], strides: 1, pad: "same" },
  { x: [2, 6, 6, 4], filter: [3, 3, 4, 8], strides: 2, pad: "same" },
  { x: [3, 7, 6, 2], filter: [3, 3, 2, 5], strides: 2, pad: "valid" },
  { x: [2, 8, 8, 16], filter: [2, 2, 16, 32], strides: 1, pad: "valid" },
  { x: [2, 7, 7, 1], filter: [4, 4, 1, 6], strides: 1, pad: "same" },
  { x: [2, 9, 8, 3], filter: [3, 2, 3, 2], strides: [2, 1], pad: "same" },
  { x: [2, 10, 10, 32], filter: [3, 3, 32, 64], strides: 1, pad: "same" },
  { x: [9, 10, 10, 8], filter: [3, 3, 8, 16], strides: 1, pad: "same" },
  { x: [2, 6, 5, 2], filter: [3, 3, 2, 3], strides: 1, pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
  // few taps and a multiple of 8 output channels: the filter gradient's panel product (3-row
  // blocks with 1 or 2 rows left over; the shared dimension in chunks of 256 and a rest)
  { x: [3, 28, 28, 1], filter: [3, 3, 1, 32], strides: 1, pad: "same" },
  { x: [2, 9, 7, 1], filter: [2, 2, 1, 8], strides: 2, pad: "valid" },
  { x: [2, 11, 9, 1], filter: [2, 5, 1, 16], strides: 1, pad: "same" },
  { x: [2, 6, 6, 8], filter: [1, 1, 8, 24], strides: 1, pad: "valid" },
  // three channels in (an RGB image's first layer: 27 taps; its filter gradient on gemm)
  { x: [3, 9, 9, 3], filter: [3, 3, 3, 16], strides: 1, pad: "same" },
  { x: [2, 10, 9, 3], filter: [3, 3, 3, 8], strides: 2, pad: "valid" },
  // 3x3 stride 1, >= 8 channels in, a multiple of 8 out, >= 4096 outputs: the filter gradient
  // by Winograd (whole and partial tiles, same and valid padding)
  { x: [16, 16, 16, 8], filter: [3, 3, 8, 16], strides: 1, pad: "same" },
  { x: [20, 15, 15, 12], filter: [3, 3, 12, 8], strides: 1, pad: "same" },
  { x: [20, 17, 17, 8], filter: [3, 3, 8, 16], strides: 1, pad: "valid" },
  // "same" filters wider or taller than the image (a map pooled down to 1 or 2 pixels): the
  // filter gradient's shifted patches have taps that reach no column or no row
  { x: [1, 1, 1, 1], filter: [5, 5, 1, 8], strides: 1, pad: "same" },
  { x: [2, 2, 2, 3], filter: [7, 7, 3, 4], strides: 1, pad: "same" },
  { x: [3, 1, 4, 2], filter: [4, 4, 2, 8], strides: 1, pad: "same" },
  { x: [2, 3, 1, 2], filter: [9, 5, 2, 8], strides: 1, pad: "same" },
  // padding wider than the filter: dL/dx declines it (the stock kernel answers)
  { x: [1, 5, 5, 2], filter: [3, 3, 2, 3], strides: 1, pad: [[0, 0], [3, 3], [4, 3], [0, 0]] },
];

function gradients(c: Case, i: number): { dx: number[]; dw: number[] } {
  return tf.tidy(() => {
    const conv = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad);
    const x = tf.randomNormal(c.x, 0, 1, "float32", 3 * i + 1);
    const filter = tf.randomNormal(c.filter, 0, 1, "float32", 3 * i + 2);
    const dy = tf.randomNormal(conv.outShape, 0, 1, "float32", 3 * i + 3);
    const common = { strides: c.strides, pad: c.pad, dataFormat: "NHWC" };
    const dx = tf.engine().runKernel("Conv2DBackpropInput", { dy, filter }, {
      ...common,
      inputShape: c.x,
    }) as tf.Tensor;
    const dw = tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
      ...common,
      filterShape: c.filter,
    }) as tf.Tensor;
    assert.deepEqual(dx.shape, c.x);
    assert.deepEqual(dw.shape, c.filter);
    return { dx: Array.from(dx.dataSync()), dw: Array.from(dw.dataSync()) };
  });
}

function assertClose(actual: number[], expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((v, j) =>
    assert.ok(
      Math.abs(v - expected[j]) <= 1e-4 * Math.max(1, Math.abs(expected[j])),
      `${what}[${j}]: ${v} vs ${expected[j]}`,
    )
  );
}

Deno.test("wasm's conv gradients equal the cpu's for strides, paddings and channel counts", async () => {
  await selectBackend("cpu");
  const expected = CASES.map(gradients);
  await selectBackend("wasm");
  registerWasmTrainingKernels();
  assert.deepEqual(routeConvGradients(), [
    "Conv2D",
    "FusedConv2D",
    "Conv2DBackpropInput",
    "Conv2DBackpropFilter",
  ]);
  const buffers = tf.engine().backend.numDataIds();
  const actual = CASES.map(gradients);
  assert.equal(tf.engine().backend.numDataIds(), buffers);
  actual.forEach((got, i) => {
    const what = JSON.stringify(CASES[i]);
    assertClose(got.dx, expected[i].dx, `dx ${what}`);
    assertClose(got.dw, expected[i].dw, `dw ${what}`);
  });
});

/** Forward convolutions: with a bias per channel, without, with relu. */
function forwards(c: Case, i: number): number[][] {
  return tf.tidy(() => {
    const x = tf.randomNormal(c.x, 0, 1, "float32", 5 * i + 1) as tf.Tensor4D;
    const filter = tf.randomNormal(c.filter, 0, 1, "float32", 5 * i + 2) as tf.Tensor4D;
    const bias = tf.randomNormal([c.filter[3]], 0, 1, "float32", 5 * i + 3);
    const common = { x, filter, strides: c.strides, pad: c.pad };
    return [
      tf.fused.conv2d({ ...common, bias }),
      tf.conv2d(x, filter, c.strides, c.pad),
      tf.fused.conv2d({ ...common, bias, activation: "relu" }),
    ].map((y) => Array.from(y.dataSync()));
  });
}

Deno.test("wasm's forward convolutions (few taps: patches times filter on gemm) equal the cpu's", async () => {
  await selectBackend("cpu");
  const expected = CASES.map(forwards);
  await selectBackend("wasm");
  registerWasmTrainingKernels();
  CASES.map(forwards); // first use: kernels registered, buffers settled
  const buffers = tf.engine().backend.numDataIds();
  const actual = CASES.map(forwards);
  assert.equal(tf.engine().backend.numDataIds(), buffers);
  // the few-tap cases with a multiple of 8 output channels run on gemm: two of the three
  // forwards each (relu stays with XNNPACK)
  const onGemm = CASES.filter((c) =>
    c.filter[0] * c.filter[1] * c.filter[2] <= PATCH_CONV_MAX_TAPS && c.filter[3] % 8 === 0
  );
  assert.ok(onGemm.length >= 4);
  const before = gemmProducts.calls;
  onGemm.forEach(forwards);
  assert.ok(gemmProducts.calls - before >= 2 * onGemm.length);
  actual.forEach((got, i) =>
    got.forEach((values, k) =>
      assertClose(values, expected[i][k], `forward ${k} ${JSON.stringify(CASES[i])}`)
    )
  );
});
