import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { releaseWebGpu, selectBackend } from "../runtime/backend.ts";
import { matMulWithBias } from "./dense.ts";

/** Values and gradients (x, kernel, bias) of a weighted sum, by either op. */
async function run(ours: boolean, withBias: boolean, seed: number): Promise<Float32Array[]> {
  // read with data(): WebGPU has no synchronous read-back under Deno
  const tensors = tf.tidy(() => {
    const x = tf.randomNormal([5, 7], 0, 1, "float32", seed);
    const kernel = tf.randomNormal([7, 3], 0, 1, "float32", seed + 1);
    const bias = tf.randomNormal([3], 0, 1, "float32", seed + 2);
    const weights = tf.randomNormal([5, 3], 0, 1, "float32", seed + 3);
    const f = (x: tf.Tensor, kernel: tf.Tensor, bias?: tf.Tensor) => {
      const [a, b, c] = [x as tf.Tensor2D, kernel as tf.Tensor2D, bias as tf.Tensor1D | undefined];
      const y = ours ? matMulWithBias(a, b, c) : tf.fused.matMul({ a, b, bias: c });
      return tf.sum(tf.mul(y, weights));
    };
    const { value, grads } = tf.valueAndGrads(f)(withBias ? [x, kernel, bias] : [x, kernel]);
    return [value, ...grads];
  });
  const values = await Promise.all(tensors.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(tensors);
  return values;
}

// webgpu: llvmpipe on CPU-only machines (tools/test.sh installs Mesa)
for (const backend of ["cpu", "wasm", "webgpu"] as const) {
  Deno.test(`matMulWithBias on ${backend}: values and gradients equal tf.fused.matMul's`, async () => {
    await selectBackend(backend);
    for (const [i, withBias] of [true, false].entries()) {
      const expected = await run(false, withBias, 10 * i + 1);
      const actual = await run(true, withBias, 10 * i + 1);
      actual.forEach((values, j) =>
        values.forEach((v, k) =>
          assert.ok(Math.abs(v - expected[j][k]) <= 1e-5 * Math.max(1, Math.abs(expected[j][k])))
        )
      );
    }
    if (backend === "webgpu") await releaseWebGpu(); // no device left alive at exit
  });
}

Deno.test("anneal's MLP computes no gradient for its data", async () => {
  await selectBackend("wasm");
  const { buildModel } = await import("./build.ts");
  const model = buildModel({ kind: "mlp", hidden: [6] }, { inputShape: [5], outputUnits: 3 }, 1);
  const x = tf.randomNormal([4, 5], 0, 1, "float32", 3);
  const { kernelNames, kernels } = await tf.profile(() => {
    const { value, grads } = tf.variableGrads(
      () => tf.sum(model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
      model.trainableWeights.map((w) => w.read() as tf.Variable),
    );
    return [value, ...Object.values(grads)];
  });
  assert.ok(kernelNames.includes("AnnealMatMul"), kernelNames.join());
  // backward products: dW of both layers, dx of the second only (none of shape [4, 5])
  const products = kernels.filter((k) => k.name === "BatchMatMul" || k.name === "_FusedMatMul");
  assert.ok(
    !products.some((k) => k.outputShapes.some((s) => s.filter((d) => d !== 1).join() === "4,5")),
    products.map((k) => `${k.name} ${k.outputShapes.map((s) => s.join("x"))}`).join("; "),
  );
});
