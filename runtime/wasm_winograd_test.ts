/**
 * The Winograd convolution on wasm against tfjs's cpu backend: forward (`Conv2D`, `FusedConv2D`
 * with bias and relu) and as the input gradient's convolution, for odd and even sizes, both
 * paddings and several channel counts; what it declines still comes out right (XNNPACK's kernel
 * answers); no buffer leaks.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import "npm:@tensorflow/tfjs-layers@4.22.0"; // registers the gradients
import { selectBackend } from "./backend.ts";
import { winogradConv2D } from "./wasm_winograd.ts";

interface Case {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  pad: "same" | "valid";
  bias: boolean;
  activation: "linear" | "relu";
  /** Whether the Winograd kernel takes it (else it declines). */
  taken: boolean;
}

const CASES: Case[] = [
  {
    x: [21, 14, 14, 32],
    filter: [3, 3, 32, 16],
    pad: "same",
    bias: true,
    activation: "linear",
    taken: true,
  },
  {
    x: [30, 15, 13, 8],
    filter: [3, 3, 8, 12],
    pad: "same",
    bias: true,
    activation: "relu",
    taken: true,
  },
  {
    x: [20, 17, 16, 16],
    filter: [3, 3, 16, 4],
    pad: "valid",
    bias: false,
    activation: "linear",
    taken: true,
  },
  {
    x: [6, 31, 29, 12],
    filter: [3, 3, 12, 8],
    pad: "valid",
    bias: true,
    activation: "relu",
    taken: true,
  },
  // declined: too few input channels, a 5x5 filter, too small a problem
  {
    x: [24, 14, 14, 4],
    filter: [3, 3, 4, 8],
    pad: "same",
    bias: true,
    activation: "linear",
    taken: false,
  },
  {
    x: [24, 14, 14, 8],
    filter: [5, 5, 8, 8],
    pad: "same",
    bias: false,
    activation: "linear",
    taken: false,
  },
  {
    x: [2, 6, 6, 8],
    filter: [3, 3, 8, 8],
    pad: "same",
    bias: false,
    activation: "relu",
    taken: false,
  },
];

function inputs(c: Case, i: number) {
  return {
    x: tf.randomNormal(c.x, 0, 1, "float32", 4 * i + 1) as tf.Tensor4D,
    filter: tf.randomNormal(c.filter, 0, 0.3, "float32", 4 * i + 2) as tf.Tensor4D,
    bias: c.bias ? tf.randomNormal([c.filter[3]], 0, 1, "float32", 4 * i + 3) : undefined,
  };
}

/** The convolution's output and the gradient of sum(output * w) with respect to x. */
function results(c: Case, i: number): { y: Float32Array; dx: Float32Array } {
  return tf.tidy(() => {
    const { x, filter, bias } = inputs(c, i);
    const conv = (input: tf.Tensor4D) =>
      tf.fused.conv2d({ x: input, filter, bias, strides: 1, pad: c.pad, activation: c.activation });
    const y = conv(x);
    const w = tf.randomNormal(y.shape, 0, 1, "float32", 4 * i + 4);
    const dx = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(conv(input as tf.Tensor4D), w)))(x);
    return { y: y.dataSync() as Float32Array, dx: dx.dataSync() as Float32Array };
  });
}

function assertClose(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, what);
  let scale = 1;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  actual.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - expected[j]))));
  assert.ok(worst <= 2e-6 * scale * 8, `${what}: off by ${worst} (largest value ${scale})`);
}

Deno.test("Winograd 3x3 convolutions on wasm equal the cpu's, forward and for dL/dx", async () => {
  await selectBackend("cpu");
  const expected = CASES.map(results);
  await selectBackend("wasm");
  const buffers = tf.engine().backend.numDataIds();
  const actual = CASES.map(results);
  assert.equal(tf.engine().backend.numDataIds(), buffers, "buffers leaked");
  actual.forEach((got, i) => {
    const what = JSON.stringify(CASES[i]);
    assertClose(got.y, expected[i].y, `y ${what}`);
    assertClose(got.dx, expected[i].dx, `dx ${what}`);
  });
});

Deno.test("the Winograd kernel takes the cases it covers and declines the rest", async () => {
  await selectBackend("wasm");
  const backend = tf.backend();
  CASES.forEach((c, i) => {
    tf.tidy(() => {
      const { x, filter, bias } = inputs(c, i);
      const attrs = {
        strides: 1,
        pad: c.pad,
        dataFormat: "NHWC",
        dilations: 1,
        activation: c.activation,
      } as unknown as tf.NamedAttrMap;
      const out = winogradConv2D({ inputs: { x, filter, bias: bias! }, attrs, backend });
      assert.equal(out !== undefined, c.taken, JSON.stringify(c));
      if (out) tf.engine().makeTensorFromTensorInfo(out); // tidied
    });
  });
  tf.tidy(() => {
    const { x, filter } = inputs(CASES[0], 0);
    const attrs = { strides: 2, pad: "same", dataFormat: "NHWC", dilations: 1 };
    const strided = winogradConv2D({
      inputs: { x, filter },
      attrs: attrs as unknown as tf.NamedAttrMap,
      backend,
    });
    assert.equal(strided, undefined, "stride 2 is declined");
  });
});
