import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import * as tfl from "npm:@tensorflow/tfjs-layers@4.22.0";
import { releaseWebGpu, selectBackend } from "../runtime/backend.ts";
import { simdKernels } from "../runtime/wasm_simd/kernels.ts";
import { batchNormalization, batchNormTraining, compositeBatchNormTraining } from "./batch_norm.ts";

const SHAPES = [[6, 5, 4, 3], [16, 7], [2, 3, 3, 8], [1, 2, 2, 1], [8, 9, 9, 5]];

/** Values and gradients of a loss that uses y and (lightly) the statistics, by either path. */
async function run(fused: boolean, shape: number[], seed: number): Promise<Float32Array[]> {
  const tensors = tf.tidy(() => {
    const channels = shape[shape.length - 1];
    // an offset and a spread per channel, so that the shifted sums matter
    // (from JavaScript: tf.linspace of one value is NaN on WebGPU)
    const spaced = (from: number, to: number) =>
      tf.tensor1d(
        Array.from({ length: channels }, (_, c) => from + (to - from) * c / (channels - 1 || 1)),
      );
    const x = tf.add(
      tf.mul(tf.randomNormal(shape, 0, 1, "float32", seed), spaced(0.5, 3)),
      spaced(-40, 100),
    );
    const scale = tf.randomNormal([channels], 1, 0.3, "float32", seed + 1);
    const offset = tf.randomNormal([channels], 0, 1, "float32", seed + 2);
    const weights = tf.randomNormal(shape, 0, 1, "float32", seed + 3);
    const op = fused ? batchNormTraining : compositeBatchNormTraining;
    const f = (xs: tf.Tensor, s: tf.Tensor, o: tf.Tensor) => {
      const { y, mean, variance } = op(xs, s, o, 1e-3);
      return tf.addN([
        tf.sum(tf.mul(tf.square(y), weights)),
        tf.mul(tf.sum(mean), 0.7),
        tf.mul(tf.sum(variance), 0.5),
      ]);
    };
    const { value, grads } = tf.valueAndGrads(f)([x, scale, offset]);
    const { y, mean, variance } = op(x, scale, offset, 1e-3);
    return [value, y, mean, variance, ...grads];
  });
  // (read with data(): WebGPU in Deno has no synchronous read-back)
  const values = await Promise.all(tensors.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(tensors);
  return values;
}

function assertClose(actual: Float32Array[], expected: Float32Array[], label: string) {
  const names = ["loss", "y", "mean", "variance", "dx", "dscale", "doffset"];
  actual.forEach((values, i) => {
    assert.equal(values.length, expected[i].length, `${label} ${names[i]}`);
    const magnitude = Math.max(1, ...expected[i].map(Math.abs));
    values.forEach((v, j) => {
      assert.ok(
        Math.abs(v - expected[i][j]) <= 2e-4 * magnitude,
        `${label} ${names[i]}[${j}]: ${v} vs ${expected[i][j]}`,
      );
    });
  });
}

// webgpu: llvmpipe on CPU-only machines (tools/test.sh installs Mesa)
for (const backend of ["cpu", "wasm", "webgpu"] as const) {
  Deno.test(`batchNormTraining on ${backend}: values and gradients equal tfjs's composite ops`, async () => {
    await selectBackend(backend);
    // on wasm the passes run in anneal's SIMD kernels (kernels.wat): those are under test here
    assert.equal(simdKernels(tf.engine().backend) !== undefined, backend === "wasm");
    for (const [i, shape] of SHAPES.entries()) {
      const expected = await run(false, shape, 10 * i + 1);
      const buffers = tf.engine().backend.numDataIds();
      const actual = await run(true, shape, 10 * i + 1);
      assert.equal(tf.engine().backend.numDataIds(), buffers, "no buffers left behind");
      assertClose(actual, expected, `${backend} [${shape}]`);
    }
    if (backend === "webgpu") await releaseWebGpu(); // no device left alive at exit
  });
}

Deno.test("batchNormTraining refuses a scale that does not match the channels", async () => {
  await selectBackend("cpu");
  assert.throws(
    () => batchNormTraining(tf.ones([4, 3]), tf.ones([2]), tf.zeros([3]), 1e-5),
    /scale and offset of \[channels\]; got x \[4,3\], scale \[2\]/,
  );
});

Deno.test("the fused layer trains and infers as tfjs-layers' BatchNormalization, but for torch's moving variance", async () => {
  await selectBackend("wasm");
  const args = { momentum: 0.9, epsilon: 1e-5 };
  const build = (fused: boolean) => {
    const input = tfl.input({ shape: [5, 5, 4] });
    const conv = tfl.layers.conv2d({
      filters: 6,
      kernelSize: 3,
      padding: "same",
      kernelInitializer: tfl.initializers.glorotUniform({ seed: 7 }),
    }).apply(input) as tfl.SymbolicTensor;
    const norm = (fused ? batchNormalization(args) : tfl.layers.batchNormalization(args))
      .apply(conv) as tfl.SymbolicTensor;
    return tfl.model({ inputs: input, outputs: norm });
  };
  const models = [build(false), build(true)];
  const x = tf.randomNormal([8, 5, 5, 4], 2, 3, "float32", 3);
  const target = tf.randomNormal([8, 5, 5, 6], 0, 1, "float32", 4);
  const results = models.map((model) => {
    const loss = () =>
      tf.mean(
        tf.square(tf.sub(model.apply(x, { training: true }) as tf.Tensor, target)),
      ) as tf.Scalar;
    const { value, grads } = tf.variableGrads(
      loss,
      model.trainableWeights.map((w) => w.read() as tf.Variable),
    );
    void value;
    // after one training call (variableGrads ran it once): the moving statistics. tfjs-layers
    // moves the variance by the batch's biased one, the fused layer by the unbiased one, as
    // torch: from 1, 0.9 + 0.1 v against 0.9 + 0.1 v n / (n - 1), n = 8 x 5 x 5 values a
    // channel. tfjs-layers' is set to torch's, so that the inference compares too.
    if (model === models[0]) {
      const norm = model.layers[2];
      const n = 8 * 5 * 5;
      const [gamma, beta, movingMean, movingVariance] = norm.getWeights();
      const torchVariance = tf.add(0.9, tf.mul(tf.sub(movingVariance, 0.9), n / (n - 1)));
      norm.setWeights([gamma, beta, movingMean, torchVariance]);
    }
    const stats = model.getWeights().map((w) => w.dataSync() as Float32Array);
    const inference = (model.apply(x, { training: false }) as tf.Tensor).dataSync() as Float32Array;
    const gradValues = Object.values(grads).map((g) => g.dataSync() as Float32Array);
    return [...stats, inference, ...gradValues];
  });
  assert.equal(models[1].layers[2].getClassName(), "BatchNormalization");
  assert.deepEqual(
    models[1].layers[2].weights.map((w) => w.name.split("/").pop()),
    ["gamma", "beta", "moving_mean", "moving_variance"],
  );
  results[1].forEach((values, i) => {
    const magnitude = Math.max(1, ...results[0][i].map(Math.abs));
    values.forEach((v, j) =>
      assert.ok(
        Math.abs(v - results[0][i][j]) <= 2e-4 * magnitude,
        `array ${i}[${j}]: ${v} vs ${results[0][i][j]}`,
      )
    );
  });
});

Deno.test("the moving variance takes the batch's unbiased variance, as torch's BatchNorm does", async () => {
  await selectBackend("cpu");
  // torch: running_var = 0.9 * running_var + 0.1 * var * n / (n - 1), with n the values per
  // channel (batch x positions); the batch is normalized with its biased variance.
  // Dense [n, channels]: two samples 1 and 3 (mean 2, biased variance 1, unbiased 2), and a
  // channel of four values in a [1, 2, 2, 1] map (values 0, 0, 4, 4: variance 4, unbiased 16/3).
  for (
    const [input, shape, mean, unbiased] of [
      [[1, 3], [2, 1], 2, 2],
      [[0, 0, 4, 4], [1, 2, 2, 1], 2, 16 / 3],
    ] as const
  ) {
    const layer = batchNormalization({ momentum: 0.9, epsilon: 1e-5 });
    const x = tf.tensor(input as unknown as number[], shape as unknown as number[]);
    const y = layer.apply(x, { training: true }) as tf.Tensor;
    const [movingMean, movingVariance] = layer.getWeights().slice(2).map((w) => w.dataSync()[0]);
    assert.ok(Math.abs(movingMean - 0.1 * mean) < 1e-6, `moving mean ${movingMean}`);
    assert.ok(
      Math.abs(movingVariance - (0.9 + 0.1 * unbiased)) < 1e-6,
      `moving variance ${movingVariance}, torch's ${0.9 + 0.1 * unbiased}`,
    );
    // normalized by the biased variance: the first value is one standard deviation below
    assert.ok(Math.abs(y.dataSync()[0] + 1) < 1e-4, `normalized ${y.dataSync()[0]}`);
    tf.dispose([x, y]);
    layer.dispose();
  }
});
