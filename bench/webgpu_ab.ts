/**
 * In-process A/B on the WebGPU backend, the two sides alternating: anneal's batch-norm kernels
 * (WGSL, `models/batch_norm_webgpu.ts`) against tfjs's composite ops, forward and gradient; the
 * direct convolution for few input channels and the filter gradient (`runtime/webgpu_conv.ts`)
 * against tfjs's kernels. On CPU-only machines the adapter is llvmpipe (software): the ratio says how
 * much work and how many dispatches were saved, not what a GPU would do.
 *
 *   deno run -A bench/webgpu_ab.ts [--rounds 5] [--shape 32,28,28,32]
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import "npm:@tensorflow/tfjs-layers@4.22.0"; // tfjs's gradients
import { benchFlags } from "./flags.ts";
import { releaseWebGpu, selectBackend } from "../runtime/backend.ts";
import { batchNormTraining, compositeBatchNormTraining } from "../models/batch_norm.ts";
import { median } from "./runner.ts";
import { replacedWasmKernel } from "../runtime/wasm_heap.ts";

const flags = benchFlags(
  {
    rounds: { type: "string", default: "5" },
    shape: { type: "string", default: "32,28,28,32" },
  },
  `Usage: deno run -A bench/webgpu_ab.ts [--rounds 5] [--shape 32,28,28,32]

In-process A/B on the WebGPU backend, the two sides alternating: anneal's batch-norm kernels (WGSL)
against tfjs's composite ops, forward and gradient; the direct convolution for few input channels
and the filter gradient against tfjs's kernels. On CPU-only machines the adapter is llvmpipe
(software): the ratio says how much work and how many dispatches were saved, not what a GPU
would do.`,
);
const selection = await selectBackend("webgpu");
console.log(`# ${selection.reason}`);
const shape = flags.shape!.split(",").map(Number);
const channels = shape[shape.length - 1];
const x = tf.randomNormal(shape, 0, 1, "float32", 1);
const [scale, offset] = [tf.ones([channels]), tf.zeros([channels])];
const w = tf.randomNormal(shape, 0, 1, "float32", 2);
type Run = () => tf.Tensor[];
const timed = (run: Run) => async () => {
  const start = performance.now();
  const out = run();
  await Promise.all(out.map((t) => t.data())); // waits for the GPU
  tf.dispose(out);
  return performance.now() - start;
};
const bn = (op: typeof batchNormTraining): Run => () =>
  tf.grads((x: tf.Tensor, s: tf.Tensor, o: tf.Tensor) => tf.sum(tf.mul(op(x, s, o, 1e-5).y, w)))(
    [x, scale, offset],
  );
const image = tf.randomNormal([shape[0], 28, 28, 1], 0, 1, "float32", 3);
const filter = tf.randomNormal([3, 3, 1, 32], 0, 0.3, "float32", 4);
const convAttrs = { strides: 1, pad: "same", dataFormat: "NHWC", dilations: 1 };
const pairs: [string, Run, Run][] = [
  [
    `batch norm, forward and gradient [${shape}]`,
    bn(compositeBatchNormTraining),
    bn(batchNormTraining),
  ],
  [
    `3x3 conv of [${shape[0]},28,28,1] to 32 channels (before: tfjs's kernel)`,
    () => [
      tf.engine().makeTensorFromTensorInfo(
        replacedWasmKernel("Conv2D", "webgpu")!({
          inputs: { x: image, filter },
          attrs: convAttrs as unknown as tf.NamedAttrMap,
          backend: tf.backend(),
        }) as tf.TensorInfo,
      ),
    ],
    () => [tf.engine().runKernel("Conv2D", { x: image, filter }, convAttrs) as tf.Tensor],
  ],
  ...([[image, 32], [tf.randomNormal([shape[0], 14, 14, 32], 0, 1, "float32", 5), 64]] as [
    tf.Tensor,
    number,
  ][]).map(([input, outC]): [string, Run, Run] => {
    const x = input as tf.Tensor4D;
    const dy = tf.randomNormal([...x.shape.slice(0, 3), outC], 0, 1, "float32", 6);
    const attrs = { ...convAttrs, filterShape: [3, 3, x.shape[3], outC] };
    return [
      `conv filter gradient [${x.shape}] to ${outC} channels (before: tfjs's kernel)`,
      () => [
        tf.engine().makeTensorFromTensorInfo(
          replacedWasmKernel("Conv2DBackpropFilter", "webgpu")!({
            inputs: { x, dy },
            attrs: attrs as unknown as tf.NamedAttrMap,
            backend: tf.backend(),
          }) as tf.TensorInfo,
        ),
      ],
      () => [tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, attrs) as tf.Tensor],
    ];
  }),
];
console.log("| kernel | tfjs ms | anneal ms | ratio |");
console.log("| --- | --- | --- | --- |");
for (const [name, beforeRun, afterRun] of pairs) {
  const [before, after] = [timed(beforeRun), timed(afterRun)];
  await before(), await after(); // warm-up: pipelines compiled
  const a: number[] = [], b: number[] = [];
  for (let r = 0; r < Number(flags.rounds); r++) a.push(await before()), b.push(await after());
  console.log(
    `| ${name} | ${median(a).toFixed(1)} | ${median(b).toFixed(1)} | ${
      (median(a) / median(b)).toFixed(1)
    }x |`,
  );
}
await releaseWebGpu();
