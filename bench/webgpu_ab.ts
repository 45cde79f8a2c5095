/**
 * In-process A/B on the WebGPU backend: anneal's batch-norm kernels (WGSL,
 * `models/batch_norm_webgpu.ts`) against tfjs's composite ops, forward and gradient, the two
 * sides alternating. On CPU-only machines the adapter is llvmpipe (software): the ratio says how
 * much work and how many dispatches were saved, not what a GPU would do.
 *
 *   deno run -A bench/webgpu_ab.ts [--rounds 5] [--shape 32,28,28,32]
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import "npm:@tensorflow/tfjs-layers@4.22.0"; // tfjs's gradients
import { parseArgs } from "node:util";
import { releaseWebGpu, selectBackend } from "../runtime/backend.ts";
import { batchNormTraining, compositeBatchNormTraining } from "../models/batch_norm.ts";
import { median } from "./runner.ts";

const { values: flags } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    shape: { type: "string", default: "32,28,28,32" },
  },
});
const selection = await selectBackend("webgpu");
console.log(`# ${selection.reason}`);
const shape = flags.shape!.split(",").map(Number);
const channels = shape[shape.length - 1];
const x = tf.randomNormal(shape, 0, 1, "float32", 1);
const [scale, offset] = [tf.ones([channels]), tf.zeros([channels])];
const w = tf.randomNormal(shape, 0, 1, "float32", 2);
const step = (op: typeof batchNormTraining) => async () => {
  const start = performance.now();
  const grads = tf.grads((x: tf.Tensor, s: tf.Tensor, o: tf.Tensor) =>
    tf.sum(tf.mul(op(x, s, o, 1e-5).y, w))
  )([x, scale, offset]);
  await Promise.all(grads.map((g) => g.data())); // waits for the GPU
  tf.dispose(grads);
  return performance.now() - start;
};
const [before, after] = [step(compositeBatchNormTraining), step(batchNormTraining)];
await before(), await after(); // warm-up: pipelines compiled
const a: number[] = [], b: number[] = [];
for (let r = 0; r < Number(flags.rounds); r++) a.push(await before()), b.push(await after());
console.log("| kernel | tfjs ms | anneal ms | ratio |");
console.log("| --- | --- | --- | --- |");
console.log(
  `| batch norm, forward and gradient [${shape}] | ${median(a).toFixed(1)} | ${
    median(b).toFixed(1)
  } | ${(median(a) / median(b)).toFixed(1)}x |`,
);
await releaseWebGpu();
