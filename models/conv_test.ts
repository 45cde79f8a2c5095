import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { releaseWebGpu, selectBackend } from "../runtime/backend.ts";
import { conv2dWithBias } from "./conv.ts";

type Pad = "same" | "valid";
const CASES: { x: number[]; filter: number[]; strides: number; pad: Pad; bias: boolean }[] = [
  { x: [2, 6, 6, 3], filter: [3, 3, 3, 4], strides: 1, pad: "same", bias: true },
  { x: [3, 7, 5, 2], filter: [3, 3, 2, 5], strides: 2, pad: "valid", bias: true },
  { x: [2, 5, 5, 1], filter: [2, 2, 1, 3], strides: 1, pad: "same", bias: false },
];

/** Values and the gradients of x, filter and bias of a weighted sum, by either op. */
async function run(ours: boolean, c: typeof CASES[number], seed: number): Promise<Float32Array[]> {
  // read with data(): WebGPU has no synchronous read-back under Deno
  const tensors = tf.tidy(() => {
    const x = tf.randomNormal(c.x, 0, 1, "float32", seed);
    const filter = tf.randomNormal(c.filter, 0, 1, "float32", seed + 1);
    const bias = tf.randomNormal([c.filter[3]], 0, 1, "float32", seed + 2);
    const f = (x: tf.Tensor, filter: tf.Tensor, bias?: tf.Tensor) => {
      const args = [x as tf.Tensor4D, filter as tf.Tensor4D] as const;
      const b = bias as tf.Tensor1D | undefined;
      const y = ours
        ? conv2dWithBias(...args, b, c.strides, c.pad)
        : tf.fused.conv2d({ x: args[0], filter: args[1], bias: b, strides: c.strides, pad: c.pad });
      return tf.sum(tf.mul(y, tf.randomNormal(y.shape, 0, 1, "float32", seed + 3)));
    };
    const { value, grads } = tf.valueAndGrads(f)(c.bias ? [x, filter, bias] : [x, filter]);
    return [value, ...grads];
  });
  const values = await Promise.all(tensors.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(tensors);
  return values;
}

// webgpu: llvmpipe on CPU-only machines (tools/test.sh installs Mesa)
for (const backend of ["cpu", "wasm", "webgpu"] as const) {
  Deno.test(`conv2dWithBias on ${backend}: values and gradients equal tf.fused.conv2d's`, async () => {
    await selectBackend(backend);
    for (const [i, c] of CASES.entries()) {
      const expected = await run(false, c, 10 * i + 1), actual = await run(true, c, 10 * i + 1);
      actual.forEach((values, j) => {
        const scale = Math.max(1, ...expected[j].map(Math.abs));
        values.forEach((v, k) =>
          assert.ok(Math.abs(v - expected[j][k]) <= 1e-4 * scale, `case ${i} array ${j}[${k}]`)
        );
      });
    }
    if (backend === "webgpu") await releaseWebGpu(); // no device left alive at exit
  });
}

Deno.test("conv2dWithBias computes no input gradient for an input that needs none", async () => {
  await selectBackend("wasm");
  const x = tf.randomNormal([2, 6, 6, 3], 0, 1, "float32", 1);
  const filter = tf.variable(tf.randomNormal([3, 3, 3, 4], 0, 1, "float32", 2));
  const bias = tf.variable(tf.zeros([4]));
  const kernelsOf = async (f: () => tf.Scalar) =>
    (await tf.profile(() => {
      const { value, grads } = tf.variableGrads(f, [filter, bias]);
      return [value, ...Object.values(grads)];
    })).kernelNames;
  const ours = await kernelsOf(() =>
    tf.sum(conv2dWithBias(x as tf.Tensor4D, filter as tf.Tensor4D, bias as tf.Tensor1D, 1, "same"))
  );
  assert.ok(ours.includes("Conv2DBackpropFilter"));
  assert.ok(!ours.includes("Conv2DBackpropInput"), ours.join());
  // what tfjs's fused op does, which this op exists to avoid
  const fused = await kernelsOf(() =>
    tf.sum(
      tf.fused.conv2d({
        x: x as tf.Tensor4D,
        filter: filter as tf.Tensor4D,
        bias,
        pad: "same",
        strides: 1,
      }),
    )
  );
  assert.ok(fused.includes("Conv2DBackpropInput"));
});

Deno.test("the conv layer of anneal's models runs conv2dWithBias", async () => {
  await selectBackend("wasm");
  const { buildModel } = await import("./build.ts");
  const model = buildModel({ kind: "cnn", filters: [4], dense: [] }, {
    inputShape: [6, 6, 1],
    outputUnits: 3,
  }, 1);
  const { kernelNames } = await tf.profile(() =>
    model.apply(tf.ones([2, 6, 6, 1]), { training: true }) as tf.Tensor
  );
  assert.ok(kernelNames.includes("AnnealConv2D"), kernelNames.join());
  assert.equal(model.layers.find((l) => l.name === "conv0")?.getClassName(), "Conv2D");
});
