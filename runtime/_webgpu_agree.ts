/**
 * A test helper for anneal's WGSL kernels: the same computation on tfjs's cpu backend (the
 * reference) and on WebGPU (llvmpipe on CPU-only machines), value by value.
 *
 * @module
 */
import assert from "node:assert/strict";
import { releaseWebGpu, selectBackend } from "./backend.ts";

/**
 * Runs `compute` on the cpu backend, then on WebGPU, and asserts every value agrees to `tol`
 * relative to max(1, |expected|) (`scaled`: to the largest |expected| of the case instead).
 */
export async function agreeOnWebGpu(
  compute: () => Promise<Float32Array[]>,
  labels: unknown[],
  tol: number,
  scaled: boolean,
  more: () => void = () => {},
) {
  await selectBackend("cpu");
  const expected = await compute();
  await selectBackend("webgpu");
  try {
    const actual = await compute();
    actual.forEach((values, i) => {
      const what = JSON.stringify(labels[i]);
      assert.equal(values.length, expected[i].length, what);
      const largest = Math.max(1, ...expected[i].map(Math.abs));
      values.forEach((v, j) => {
        const scale = scaled ? largest : Math.max(1, Math.abs(expected[i][j]));
        assert.ok(
          Math.abs(v - expected[i][j]) <= tol * scale,
          `${what}[${j}]: ${v} vs ${expected[i][j]}`,
        );
      });
    });
    more();
  } finally {
    await releaseWebGpu(); // no device left alive at exit
  }
}
