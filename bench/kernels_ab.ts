/**
 * In-process A/B timings of anneal's training kernels on wasm against what tfjs runs in their
 * place, on the Fashion-MNIST CNN's and the MLP's shapes: the two sides alternate in one process
 * (this machine's speed swings between processes, not within one), median of the rounds.
 *
 * Usage: `deno run -A bench/kernels_ab.ts [--rounds 7] [--threads 1]`
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import "npm:@tensorflow/tfjs-layers@4.22.0"; // tfjs's gradients
import { benchFlags } from "./flags.ts";
import { selectBackend } from "../runtime/backend.ts";
import { batchNormTraining, compositeBatchNormTraining } from "../models/batch_norm.ts";
import { conv2dWithBias } from "../models/conv.ts";
import { matMulWithBias } from "../models/dense.ts";
import { filterGradients } from "../runtime/wasm_conv.ts";
import { gemmProducts } from "../runtime/wasm_gemm.ts";
import { median } from "./runner.ts";
import { replacedWasmKernel } from "../runtime/wasm_heap.ts";
import { createOptimizer } from "../optimizers/optimizer.ts";

const flags = benchFlags(
  {
    rounds: { type: "string", default: "7" },
    threads: { type: "string", default: "1" },
  },
  `Usage: deno run -A bench/kernels_ab.ts [--rounds 7] [--threads 1]

In-process A/B timings of anneal's training kernels on wasm against what tfjs runs in their place,
on the Fashion-MNIST CNN's and the MLP's shapes: the two sides alternate in one process, median of
the rounds. --threads is the wasm backend's number of threads.`,
);
const selection = await selectBackend("wasm", "cnn", { wasmThreads: Number(flags.threads) });
console.log(`# ${selection.reason}`);

type Run = () => tf.TensorContainer | void;
// [name, before, after, untidied]: `untidied` runs keep what they make (an optimizer's slots)
const pairs: [string, Run, Run, boolean?][] = [];
/** `run` with anneal's gemm kernel on or off (off: those products on XNNPACK, as before it). */
const withGemm = (enabled: boolean, run: Run): Run => () => {
  gemmProducts.enabled = enabled;
  try {
    return run();
  } finally {
    gemmProducts.enabled = true;
  }
};

{
  const x = tf.randomNormal([128, 28, 28, 32], 0, 1, "float32", 1);
  const scale = tf.ones([32]), offset = tf.zeros([32]);
  const w = tf.randomNormal([128, 28, 28, 32], 0, 1, "float32", 2);
  const step = (op: typeof batchNormTraining) => () =>
    tf.grads((x: tf.Tensor, s: tf.Tensor, o: tf.Tensor) => tf.sum(tf.mul(op(x, s, o, 1e-5).y, w)))(
      [x, scale, offset],
    );
  pairs.push([
    "batch norm, forward and gradient [128,28,28,32]",
    step(compositeBatchNormTraining),
    step(batchNormTraining),
  ]);
  const relu = tf.relu(x);
  pairs.push([
    "relu gradient [128,28,28,32]",
    () => tf.mul(w, tf.cast(tf.step(relu), "float32")),
    () => tf.engine().runKernel("AnnealReluGrad", { dy: w, x: relu }, {}) as tf.Tensor,
  ]);
  const y = tf.maxPool(relu as tf.Tensor4D, 2, 2, "valid");
  const dy = tf.randomNormal(y.shape, 0, 1, "float32", 3);
  const attrs = { filterSize: 2, strides: 2, pad: "valid" };
  pairs.push([
    "max-pool gradient [128,28,28,32] (before: the general loop)",
    // an output of another shape sends the kernel to its general loop
    () => tf.engine().runKernel("MaxPoolGrad", { dy, input: relu, output: tf.zeros([1]) }, attrs),
    () => tf.engine().runKernel("MaxPoolGrad", { dy, input: relu, output: y }, attrs),
  ]);
}
{
  const x = tf.randomNormal([128, 28, 28, 1], 0, 1, "float32", 4) as tf.Tensor4D;
  const filter = tf.variable(tf.randomNormal([3, 3, 1, 32], 0, 0.3, "float32", 5));
  const bias = tf.variable(tf.zeros([32]));
  const grads = (f: () => tf.Tensor) => () => {
    const { value, grads } = tf.variableGrads(() => tf.sum(f()) as tf.Scalar, [filter, bias]);
    return [value, ...Object.values(grads)];
  };
  pairs.push([
    "first conv layer, forward and gradients (data [128,28,28,1])",
    grads(() =>
      tf.fused.conv2d({ x, filter: filter as tf.Tensor4D, bias, strides: 1, pad: "same" })
    ),
    grads(() => conv2dWithBias(x, filter as tf.Tensor4D, bias as tf.Tensor1D, 1, "same")),
  ]);
  const forwardAttrs = {
    strides: 1,
    pad: "same",
    dataFormat: "NHWC",
    dilations: 1,
    activation: "linear",
  };
  const forwardInputs = { x, filter, bias };
  pairs.push([
    "first conv layer's forward (before: XNNPACK's direct convolution)",
    () =>
      tf.engine().makeTensorFromTensorInfo(
        replacedWasmKernel("FusedConv2D")!({
          inputs: forwardInputs,
          attrs: forwardAttrs as unknown as tf.NamedAttrMap,
          backend: tf.backend(),
        }) as tf.TensorInfo,
      ),
    () => tf.engine().runKernel("FusedConv2D", forwardInputs, forwardAttrs) as tf.Tensor,
  ]);
  const dy = tf.randomNormal([128, 28, 28, 32], 0, 1, "float32", 8);
  const filterGradient = (maxTaps: number) => () => {
    filterGradients.panelMaxTaps = maxTaps;
    const attrs = { strides: 1, pad: "same", dataFormat: "NHWC", filterShape: [3, 3, 1, 32] };
    return tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, attrs) as tf.Tensor;
  };
  const panelTaps = filterGradients.panelMaxTaps;
  pairs.push([
    "first conv layer's filter gradient (before: an XNNPACK product)",
    withGemm(false, filterGradient(0)),
    filterGradient(panelTaps),
  ]);
}
{
  const x = tf.randomNormal([256, 784], 0, 1, "float32", 6) as tf.Tensor2D;
  const kernel = tf.variable(tf.randomNormal([784, 512], 0, 0.05, "float32", 7));
  const bias = tf.variable(tf.zeros([512]));
  const grads = (f: () => tf.Tensor) => () => {
    const { value, grads } = tf.variableGrads(() => tf.sum(f()) as tf.Scalar, [kernel, bias]);
    return [value, ...Object.values(grads)];
  };
  pairs.push([
    "first dense layer, forward and gradients (data [256,784])",
    grads(() => tf.fused.matMul({ a: x, b: kernel as tf.Tensor2D, bias })),
    grads(() => matMulWithBias(x, kernel as tf.Tensor2D, bias as tf.Tensor1D)),
  ]);
}

{
  // XNNPACK's direct convolution (the kernel the Winograd one is put in front of) against it
  const direct = (inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown>) => () => {
    const info = replacedWasmKernel("Conv2D")!({
      inputs,
      attrs: attrs as tf.NamedAttrMap,
      backend: tf.backend(),
    }) as tf.TensorInfo;
    return tf.engine().makeTensorFromTensorInfo(info);
  };
  const attrs = { strides: 1, pad: "same", dataFormat: "NHWC", dilations: 1 };
  const x = tf.randomNormal([128, 14, 14, 32], 0, 1, "float32", 8);
  const filter = tf.randomNormal([3, 3, 32, 64], 0, 0.1, "float32", 9);
  pairs.push([
    "3x3 conv [128,14,14,32] to 64 channels (before: XNNPACK direct)",
    direct({ x, filter }, attrs),
    () => tf.engine().runKernel("Conv2D", { x, filter }, attrs) as tf.Tensor,
  ]);
  const dy = tf.randomNormal([128, 14, 14, 64], 0, 1, "float32", 10);
  const flipped = tf.randomNormal([3, 3, 64, 32], 0, 0.1, "float32", 11);
  pairs.push([
    "3x3 conv [128,14,14,64] to 32 channels (the input gradient's; before: XNNPACK direct)",
    direct({ x: dy, filter: flipped }, attrs),
    () => tf.engine().runKernel("Conv2D", { x: dy, filter: flipped }, attrs) as tf.Tensor,
  ]);
  // A new dy each time, as in training: XNNPACK repacks a right operand it has not seen.
  const filterGradient = (winograd: boolean) => () => {
    filterGradients.winograd = winograd;
    const fresh = tf.add(dy, 0);
    const attrs = { strides: 1, pad: "same", dataFormat: "NHWC", filterShape: [3, 3, 32, 64] };
    const dw = tf.engine().runKernel("Conv2DBackpropFilter", { x, dy: fresh }, attrs);
    fresh.dispose();
    return dw as tf.Tensor;
  };
  pairs.push([
    "3x3 conv's filter gradient [128,14,14,32] to 64 (before: patches · dy on XNNPACK)",
    withGemm(false, filterGradient(false)),
    filterGradient(true),
  ]);
}

{
  for (const [batch, inputs, units] of [[128, 3136, 128], [256, 784, 512], [256, 512, 512]]) {
    const x = tf.randomNormal([batch, inputs], 0, 1, "float32", 50) as tf.Tensor2D;
    const kernel = tf.variable(tf.randomNormal([inputs, units], 0, 0.05, "float32", 51));
    const bias = tf.variable(tf.zeros([units]));
    // x needs its gradient too, as every dense layer but the first does
    const run = () => {
      const { value, grads } = tf.variableGrads(
        () => tf.sum(matMulWithBias(tf.mul(x, 1), kernel as tf.Tensor2D, bias as tf.Tensor1D)),
        [kernel, bias],
      );
      const dx = tf.grad((input: tf.Tensor) =>
        tf.sum(matMulWithBias(input as tf.Tensor2D, kernel as tf.Tensor2D, bias as tf.Tensor1D))
      )(x);
      return [value, dx, ...Object.values(grads)];
    };
    pairs.push([
      `dense [${batch},${inputs}] to ${units}: forward, dW, dx, forward again (before: XNNPACK)`,
      withGemm(false, run),
      withGemm(true, run),
    ]);
  }
  const attrs = { strides: 1, pad: "same", dataFormat: "NHWC", dilations: 1 };
  const x = tf.randomNormal([128, 14, 14, 32], 0, 1, "float32", 52);
  const filter = tf.randomNormal([3, 3, 32, 64], 0, 0.1, "float32", 53);
  const conv = () => tf.engine().runKernel("Conv2D", { x, filter }, attrs) as tf.Tensor;
  pairs.push([
    "Winograd 3x3 conv [128,14,14,32] to 64 (before: its 16 products on XNNPACK)",
    withGemm(false, conv),
    withGemm(true, conv),
  ]);
}

{
  const x = tf.randomNormal([128, 14, 14, 32], 0, 1, "float32", 12);
  const attrs = { perm: [3, 0, 1, 2] };
  pairs.push([
    "transpose [128,14,14,32] to channels first (before: tfjs-wasm's loop)",
    () =>
      tf.engine().makeTensorFromTensorInfo(
        replacedWasmKernel("Transpose")!({
          inputs: { x },
          attrs,
          backend: tf.backend(),
        }) as tf.TensorInfo,
      ),
    () => tf.engine().runKernel("Transpose", { x }, attrs) as tf.Tensor,
  ]);
}

{
  // the CNN's parameters; each side its own variables (an optimizer keys its state by name)
  const shapes = [[3, 3, 1, 32], [32], [32], [32], [3, 3, 32, 64], [64], [64], [64], [3136, 128]];
  const variables = (side: string) =>
    [...shapes, [128], [128, 10], [10]].map((shape, i) =>
      tf.variable(tf.randomNormal(shape, 0, 0.1, "float32", 20 + i), true, `adam-${side}-${i}`)
    );
  const [a, b] = [variables("a"), variables("b")];
  const grads = a.map((v, i) => tf.randomNormal(v.shape, 0, 1, "float32", 40 + i));
  const [chain, fused] = [
    createOptimizer({ name: "adam", lr: 1e-3 }),
    createOptimizer({ name: "adam", lr: 1e-3 }, { fusedKernels: true }),
  ];
  pairs.push([
    "Adam step over the CNN's parameters (before: the chain of tfjs ops)",
    () => chain.step(a, grads),
    () => fused.step(b, grads),
    true,
  ]);
}

const time = (run: Run, untidied = false) => {
  const start = performance.now();
  if (untidied) run();
  else tf.dispose(tf.tidy(run));
  return performance.now() - start;
};
console.log("| kernel | tfjs ms | anneal ms | ratio |");
console.log("| --- | --- | --- | --- |");
for (const [name, before, after, untidied] of pairs) {
  time(before, untidied), time(after, untidied); // warm-up
  const a: number[] = [], b: number[] = [];
  for (let r = 0; r < Number(flags.rounds); r++) {
    a.push(time(before, untidied)), b.push(time(after, untidied));
  }
  const [ma, mb] = [median(a), median(b)];
  console.log(`| ${name} | ${ma.toFixed(1)} | ${mb.toFixed(1)} | ${(ma / mb).toFixed(1)}x |`);
}
