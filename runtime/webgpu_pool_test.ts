/**
 * The WGSL `MaxPoolGrad` (`webgpu_pool.ts`) on the machine's WebGPU adapter (llvmpipe in CI):
 * ties go to each window's first maximum in row order, as in torch, on inputs full of ties, for
 * tiling, overlapping and padded windows. And its `MaxPool`: torch's rule for NaN, as anneal's cpu
 * and wasm kernels (`max_pool.ts`), over drawn windows.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { releaseWebGpu, selectBackend } from "./backend.ts";
import { Rng } from "../data/rng.ts";
import { maxPoolInto } from "./max_pool.ts";
import "npm:@tensorflow/tfjs-layers@4.22.0"; // registers tfjs's gradients, as in anneal's runs

const ready = selectBackend("webgpu", "cnn");

/** dL/dx of sum(maxPool(x) * dy), ties to the first maximum in row order, padding ignored. */
function reference(
  x: Float32Array,
  [n, h, w, c]: number[],
  dy: Float32Array,
  pool: tf.backend_util.Conv2DInfo,
): Float32Array {
  const dx = new Float32Array(x.length);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < pool.outHeight; oy++) {
      for (let ox = 0; ox < pool.outWidth; ox++) {
        for (let ch = 0; ch < c; ch++) {
          let best = -Infinity;
          let at = -1;
          for (let i = 0; i < pool.filterHeight; i++) {
            const iy = oy * pool.strideHeight - pool.padInfo.top + i;
            if (iy < 0 || iy >= h) continue;
            for (let j = 0; j < pool.filterWidth; j++) {
              const ix = ox * pool.strideWidth - pool.padInfo.left + j;
              if (ix < 0 || ix >= w) continue;
              const k = ((b * h + iy) * w + ix) * c + ch;
              if (at < 0 || x[k] > best) [best, at] = [x[k], k];
            }
          }
          dx[at] += dy[((b * pool.outHeight + oy) * pool.outWidth + ox) * c + ch];
        }
      }
    }
  }
  return dx;
}

Deno.test("webgpu MaxPoolGrad gives a tied window's gradient to its first maximum, as torch", async () => {
  await ready;
  // torch.nn.functional.max_pool2d(x, 2, 2).sum().backward() on this 4x4 map of four tied
  // windows gives x.grad = [1,0,1,0, 0,0,0,0, 1,0,1,0, 0,0,0,0] (torch 1.13)
  const x = tf.tensor4d([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 0.5, 0.5, 3, 3, 0.5, 0.5], [1, 4, 4, 1]);
  const grad = tf.grad((t: tf.Tensor) => tf.sum(tf.maxPool(t as tf.Tensor4D, 2, 2, "valid")))(x);
  assert.deepEqual(Array.from(await grad.data()), [1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0]);
  tf.dispose([x, grad]);
});

const CASES: {
  shape: [number, number, number, number];
  size: number;
  stride: number;
  pad: "valid" | "same";
}[] = [
  { shape: [3, 8, 8, 5], size: 2, stride: 2, pad: "valid" }, // the cnn's pooling
  { shape: [2, 10, 7, 3], size: 3, stride: 3, pad: "valid" }, // remainders in no window
  { shape: [2, 9, 9, 2], size: 3, stride: 2, pad: "same" }, // overlapping, padded
  { shape: [1, 6, 5, 4], size: 2, stride: 1, pad: "same" },
];

for (const c of CASES) {
  Deno.test(`webgpu MaxPoolGrad matches the first-maximum rule: ${c.size}x${c.size}, stride ${c.stride}, ${c.pad}, [${c.shape}]`, async () => {
    await ready;
    const rng = new Rng(3);
    // values from a few levels: most windows hold ties
    const values = Float32Array.from(
      { length: tf.util.sizeFromShape(c.shape) },
      () => Math.floor(rng.float() * 3) - 1,
    );
    const x = tf.tensor4d(values, c.shape);
    const y = tf.maxPool(x, c.size, c.stride, c.pad);
    const dyValues = Float32Array.from({ length: y.size }, () => rng.float() + 0.5);
    const dy = tf.tensor4d(dyValues, y.shape as [number, number, number, number]);
    const dx = tf.engine().runKernel("MaxPoolGrad", { dy, input: x, output: y }, {
      filterSize: c.size,
      strides: c.stride,
      pad: c.pad,
    }) as tf.Tensor;
    const pool = tf.backend_util.computePool2DInfo(c.shape, c.size, c.stride, 1, c.pad);
    const expected = reference(values, c.shape, dyValues, pool);
    const got = await dx.data();
    expected.forEach((e, i) =>
      assert.ok(Math.abs(got[i] - e) < 1e-5, `dx[${i}]: ${got[i]} vs ${e}`)
    );
    tf.dispose([x, y, dy, dx]);
  });
}

Deno.test("webgpu MaxPool gives NaN for a window that holds one, and each other window's maximum, as torch", async () => {
  await ready;
  const rng = new Rng(11);
  const windows: [number, number, "valid" | "same"][] = [
    [2, 2, "valid"],
    [3, 2, "same"],
    [2, 1, "same"],
    [3, 3, "valid"],
    [1, 2, "valid"],
  ];
  for (const [size, stride, pad] of windows) {
    for (
      const shape of [[2, 7, 6, 3], [1, 8, 8, 4], [3, 5, 9, 1]] as [
        number,
        number,
        number,
        number,
      ][]
    ) {
      // a few levels, -0 among them (ties), with NaN and -Infinity
      const values = Float32Array.from({ length: tf.util.sizeFromShape(shape) }, () => {
        const u = rng.float();
        return u < 0.05 ? NaN : u < 0.1 ? -Infinity : Math.round(rng.float() * 4 - 2) / 2;
      });
      const pool = tf.backend_util.computePool2DInfo(shape, size, stride, 1, pad);
      const expected = new Float32Array(tf.util.sizeFromShape(pool.outShape));
      maxPoolInto(pool, values, expected);
      const x = tf.tensor4d(values, shape);
      const y = tf.maxPool(x, size, stride, pad);
      const got = await y.data();
      const where = `${size}x${size}, stride ${stride}, ${pad}, [${shape}]`;
      assert.ok(expected.some(Number.isNaN), `${where}: a window holds a NaN`);
      expected.forEach((e, i) =>
        assert.ok(Object.is(got[i], e), `${where}: y[${i}] ${got[i]} vs ${e}`)
      );
      tf.dispose([x, y]);
    }
  }
});

Deno.test("release the WebGPU device", releaseWebGpu);
