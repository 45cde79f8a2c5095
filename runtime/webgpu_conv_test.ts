/**
 * The direct convolution for few input channels on WebGPU (llvmpipe on CPU-only machines)
 * against tfjs's cpu backend: filter sizes, strides, paddings, bias and relu; a case it declines
 * still comes out right (tfjs's kernel answers).
 *
 * @module
 */
import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { agreeOnWebGpu } from "./_webgpu_agree.ts";
import { filterGradientChunk, smallChannelConv2D } from "./webgpu_conv.ts";

interface Case {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number | [number, number];
  pad: "same" | "valid" | [[number, number], [number, number], [number, number], [number, number]];
  bias: boolean;
  activation: "linear" | "relu";
  taken: boolean;
}

const CASES: Case[] = [
  {
    x: [3, 9, 8, 1],
    filter: [3, 3, 1, 8],
    strides: 1,
    pad: "same",
    bias: true,
    activation: "linear",
    taken: true,
  },
  {
    x: [2, 11, 10, 3],
    filter: [5, 5, 3, 6],
    strides: 2,
    pad: "same",
    bias: true,
    activation: "relu",
    taken: true,
  },
  {
    x: [2, 7, 9, 4],
    filter: [2, 3, 4, 5],
    strides: [1, 2],
    pad: "valid",
    bias: false,
    activation: "linear",
    taken: true,
  },
  {
    x: [1, 6, 6, 2],
    filter: [3, 3, 2, 4],
    strides: 1,
    pad: [[0, 0], [2, 0], [1, 1], [0, 0]],
    bias: false,
    activation: "relu",
    taken: true,
  },
  {
    x: [2, 6, 6, 8],
    filter: [3, 3, 8, 4],
    strides: 1,
    pad: "same",
    bias: true,
    activation: "linear",
    taken: false,
  },
];

async function outputs(): Promise<Float32Array[]> {
  const results: Float32Array[] = [];
  for (const [i, c] of CASES.entries()) {
    const y = tf.tidy(() =>
      tf.fused.conv2d({
        x: tf.randomNormal(c.x, 0, 1, "float32", 3 * i + 1) as tf.Tensor4D,
        filter: tf.randomNormal(c.filter, 0, 1, "float32", 3 * i + 2) as tf.Tensor4D,
        bias: c.bias ? tf.randomNormal([c.filter[3]], 0, 1, "float32", 3 * i + 3) : undefined,
        strides: c.strides,
        pad: c.pad,
        activation: c.activation,
      })
    );
    results.push(await y.data() as Float32Array);
    y.dispose();
  }
  return results;
}

Deno.test("the direct WebGPU convolution for few channels equals the cpu's", async () => {
  await agreeOnWebGpu(outputs, CASES, 1e-4, false, () => {
    for (const c of CASES) {
      tf.tidy(() => {
        const out = smallChannelConv2D({
          inputs: { x: tf.zeros(c.x), filter: tf.zeros(c.filter) },
          attrs: {
            strides: c.strides,
            pad: c.pad,
            dataFormat: "NHWC",
            dilations: 1,
          } as unknown as tf.NamedAttrMap,
          backend: tf.backend(),
        });
        assert.equal(out !== undefined, c.taken, JSON.stringify(c));
        if (out) tf.engine().makeTensorFromTensorInfo(out); // tidied
      });
    }
  });
});

interface FilterCase {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number | [number, number];
  pad: "same" | "valid";
}

const FILTER_CASES: FilterCase[] = [
  { x: [3, 28, 28, 1], filter: [3, 3, 1, 32], strides: 1, pad: "same" }, // 2352 positions
  { x: [2, 14, 14, 20], filter: [3, 3, 20, 40], strides: 1, pad: "same" },
  { x: [2, 11, 9, 3], filter: [5, 5, 3, 5], strides: 2, pad: "same" },
  { x: [1, 9, 8, 2], filter: [2, 3, 2, 7], strides: [1, 2], pad: "valid" },
];

async function filterGradients(): Promise<Float32Array[]> {
  const results: Float32Array[] = [];
  for (const [i, c] of FILTER_CASES.entries()) {
    const dw = tf.tidy(() => {
      const conv = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad);
      return tf.engine().runKernel("Conv2DBackpropFilter", {
        x: tf.randomNormal(c.x, 0, 1, "float32", 5 * i + 1),
        dy: tf.randomNormal(conv.outShape, 0, 1, "float32", 5 * i + 2),
      }, {
        strides: c.strides,
        pad: c.pad,
        dataFormat: "NHWC",
        filterShape: c.filter,
      }) as tf.Tensor;
    });
    results.push(await dw.data() as Float32Array);
    dw.dispose();
  }
  return results;
}

Deno.test("the WebGPU filter gradient (chunked, staged in workgroup memory) equals the cpu's", async () => {
  await agreeOnWebGpu(filterGradients, FILTER_CASES, 1e-5, true);
});

Deno.test("the filter gradient's chunks grow so that its partials stay under 64 MiB", () => {
  assert.equal(filterGradientChunk(100352, 288), 1024);
  // a 3x3 512-to-512 layer over 50176 positions: 49 chunks of 1024 would need 462 MB
  const filterSize = 3 * 3 * 512 * 512;
  const chunk = filterGradientChunk(50176, filterSize);
  assert.ok(chunk % 64 === 0 && chunk > 1024);
  assert.ok(Math.ceil(50176 / chunk) * filterSize <= 16 * 1024 * 1024);
});
