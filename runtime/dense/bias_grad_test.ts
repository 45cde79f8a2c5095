/**
 * The column sum of the WGSL steps (`BIAS_GRAD_WGSL`, the bias gradients) against a float64 sum
 * on the CPU, on the machine's WebGPU adapter (llvmpipe in CI): the parity tests' micro-batches
 * are a few rows, where one lane sums them all, so here the shapes reach each lane count, the
 * LSTM's 2048 rows of 512 gates among them, with and without gradient accumulation.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { releaseWebGpu, selectBackend } from "../backend.ts";
import { Rng } from "../../data/rng.ts";
import { runKernel } from "./_parity.ts";
import { columnSumGroups, MAX_GROUPS, pipelineFor } from "./dispatch.ts";
import { BIAS_GRAD_WGSL, biasGradShape } from "./wgsl.ts";

const ready = selectBackend("webgpu", "mlp");

/** `out` after one dispatch summing `d` (`rows` x `cols`) into it, `accumulate` 1 or 0. */
async function columnSum(
  device: GPUDevice,
  d: Float32Array<ArrayBuffer>,
  rows: number,
  cols: number,
  out: Float32Array<ArrayBuffer>,
  accumulate: number,
): Promise<Float32Array> {
  const storage = (data: Float32Array<ArrayBuffer>, extra = 0) => {
    const buffer = device.createBuffer({
      size: Math.max(16, data.byteLength),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | extra,
    });
    device.queue.writeBuffer(buffer, 0, data);
    return buffer;
  };
  const { lanes } = biasGradShape(rows, cols);
  const uniforms = device.createBuffer({
    size: 16,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(uniforms, 0, Uint32Array.of(rows, cols, accumulate, lanes));
  const input = storage(d);
  const sums = storage(out, GPUBufferUsage.COPY_SRC);
  const pipeline = pipelineFor(device, "bias-grad", () => BIAS_GRAD_WGSL);
  const result = new Float32Array(
    await runKernel(
      device,
      pipeline,
      [uniforms, input, sums],
      columnSumGroups(rows, cols),
      sums,
      out.byteLength,
    ),
  );
  for (const buffer of [uniforms, input, sums]) buffer.destroy();
  return result;
}

Deno.test("the bias gradient's column sum matches a CPU sum, for every lane count and accumulation", async () => {
  await ready;
  const device = (tf.backend() as unknown as { device: GPUDevice }).device;
  const rng = new Rng(7);
  // [rows, cols]: one lane (3 rows, fewer columns than a workgroup's 256), 2, 8 and 16 lanes with
  // columns not a multiple of a workgroup's, and the LSTM's 2048 x 512 (32 lanes, the cap)
  const shapes = [[3, 5], [20, 300], [100, 1000], [256, 512], [2048, 512], [5000, 7]];
  for (const [rows, cols] of shapes) {
    const d = Float32Array.from({ length: rows * cols }, () => 2 * rng.float() - 1);
    const prior = Float32Array.from({ length: cols }, () => 2 * rng.float() - 1);
    for (const accumulate of [0, 1]) {
      const got = await columnSum(device, d, rows, cols, prior, accumulate);
      for (let n = 0; n < cols; n++) {
        let sum = accumulate ? prior[n] : 0;
        let scale = Math.abs(sum);
        for (let r = 0; r < rows; r++) {
          sum += d[r * cols + n];
          scale += Math.abs(d[r * cols + n]);
        }
        assert.ok(
          Math.abs(got[n] - sum) <= 1e-4 * Math.max(1, scale),
          `${rows} x ${cols}, accumulate ${accumulate}, column ${n}: ${got[n]} against ${sum}`,
        );
      }
      // a fixed order of the sums: the same bits again
      const again = await columnSum(device, d, rows, cols, prior, accumulate);
      assert.deepEqual(again, got, `${rows} x ${cols}: the same sums twice`);
    }
  }
});

Deno.test("a column sum of more workgroups than one axis takes spreads them over two, every column summed", async () => {
  await ready;
  const device = (tf.backend() as unknown as { device: GPUDevice }).device;
  // a row (one lane, 256 columns a workgroup) of 65,536 workgroups' columns and 100 more: two
  // axes, the last workgroups of the second past the last column (67 MB, within llvmpipe's
  // 128 MiB binding, which two rows would pass)
  const [rows, cols] = [1, (MAX_GROUPS + 1) * 256 + 100];
  assert.deepEqual(columnSumGroups(rows, cols), [MAX_GROUPS, 2]);
  const d = Float32Array.from({ length: rows * cols }, (_, i) => (i % 1009) - 504);
  const prior = Float32Array.from({ length: cols }, (_, n) => n % 7);
  const got = await columnSum(device, d, rows, cols, prior, 1);
  for (let n = 0; n < cols; n++) {
    const sum = prior[n] + d[n];
    if (got[n] !== sum) assert.fail(`column ${n} of ${cols}: ${got[n]} against ${sum}`);
  }
});

Deno.test("the column sum's lanes: at most 16 rows each up to 32, a workgroup's columns covered", () => {
  assert.deepEqual(biasGradShape(3, 5), { lanes: 1, groups: 1 });
  assert.deepEqual(biasGradShape(256, 512), { lanes: 16, groups: 32 });
  assert.deepEqual(biasGradShape(2048, 512), { lanes: 32, groups: 64 });
  // the conv step's per-channel finish counts a workgroup 64 channels: its at most 64 slices
  assert.equal(biasGradShape(64, 1).lanes, 4);
});

Deno.test("release the WebGPU device", releaseWebGpu);
