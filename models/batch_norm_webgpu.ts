/**
 * The two batch-norm kernels of `batch_norm.ts` (`AnnealBatchNormTrain`, its gradient) on
 * tfjs-backend-webgpu, as WGSL programs run through the backend (`runWebGPUProgram`): per-channel
 * reductions (one workgroup of 256 threads per channel, a tree in workgroup memory) and one
 * element-wise pass over the tensor each way. The forward pass is 3 dispatches (mean, variance,
 * the normalized output), the gradient 4 (sum of dy, the scale's gradient, dx's per-channel
 * coefficients, dx), where tfjs's composite ops make
 * ~50 under autodiff at 60-120 us each on WebGPU. Same formulas as the cpu and wasm kernels; the
 * statistics in two passes (mean, then the centred squares), in float32.
 *
 * @module
 */
import type * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import {
  disposeOutput,
  runProgram,
  type Uniform,
  type WebGpuProgram,
} from "../runtime/webgpu_program.ts";

const WORKGROUP = 256;

type Reduction = "mean" | "variance" | "sumDy" | "dscale";

/**
 * A per-channel reduction over x [rows, channels] (as flat arrays): one workgroup per channel.
 * `term` is the value summed at flat index `at` of channel `ch`; `finish` maps the sum `v`.
 */
function reduction(kind: Reduction, inputs: string[], channels: number): WebGpuProgram {
  const term: Record<Reduction, string> = {
    mean: "x[at]",
    variance: "(x[at] - mean[ch]) * (x[at] - mean[ch])",
    sumDy: "dy[at]",
    dscale: "dy[at] * (x[at] - mean[ch])",
  };
  const finish: Record<Reduction, string> = {
    mean: "v / f32(uniforms.rows)",
    variance: "v / f32(uniforms.rows)",
    sumDy: "v",
    dscale: "v * inverseSqrt(variance[ch] + uniforms.eps)",
  };
  return {
    variableNames: inputs,
    outputShape: [channels],
    shaderKey: `anneal_bn_${kind}`,
    dispatchLayout: { x: [0] },
    dispatch: [channels, 1, 1],
    workgroupSize: [WORKGROUP, 1, 1],
    size: true,
    uniforms: "rows : i32, eps : f32,",
    getUserCode: () => `
      var<workgroup> partial : array<f32, ${WORKGROUP}>;
      fn main(index : i32) {
        let ch = index / ${WORKGROUP};
        var acc = 0.0;
        if (ch < uniforms.size) {
          for (var r = i32(localId.x); r < uniforms.rows; r = r + ${WORKGROUP}) {
            let at = r * uniforms.size + ch;
            acc = acc + ${term[kind]};
          }
        }
        partial[localId.x] = acc;
        workgroupBarrier();
        for (var half = ${WORKGROUP / 2}u; half > 0u; half = half / 2u) {
          if (localId.x < half) {
            partial[localId.x] = partial[localId.x] + partial[localId.x + half];
          }
          workgroupBarrier();
        }
        if (localId.x == 0u && ch < uniforms.size) {
          let v = partial[0];
          setOutputAtIndex(ch, ${finish[kind]});
        }
      }`,
  };
}

/**
 * An element-wise pass over a [..., channels] output: `value` of flat index `index`, channel
 * `ch` (`helpers`: WGSL functions it may call).
 */
function elementwise(
  key: string,
  inputs: string[],
  shape: number[],
  value: string,
  helpers = "",
): WebGpuProgram {
  const size = shape.reduce((a, b) => a * b, 1);
  return {
    variableNames: inputs,
    outputShape: shape,
    shaderKey: `anneal_bn_${key}`,
    dispatchLayout: { x: shape.map((_, i) => i) },
    dispatch: [Math.ceil(size / 128), 1, 1],
    workgroupSize: [128, 1, 1],
    size: true,
    uniforms: "rows : i32, eps : f32, channels : i32,",
    getUserCode: () =>
      `${helpers}
      fn main(index : i32) {
        if (index < uniforms.size) {
          let ch = index % uniforms.channels;
          setOutputAtIndex(index, ${value});
        }
      }`,
  };
}

function uniforms(rows: number, epsilon: number, channels?: number): Uniform[] {
  const data = [{ type: "int32", data: [rows] }, { type: "float32", data: [epsilon] }];
  return channels === undefined ? data : [...data, { type: "int32", data: [channels] }];
}

/** `AnnealBatchNormTrain` on WebGPU: outputs y, mean, biased variance. */
export const webGpuForward: tf.KernelFunc = ({ inputs, attrs, backend }) => {
  const { x, scale, offset } = inputs as Record<string, tf.TensorInfo>;
  const { epsilon } = attrs as unknown as { epsilon: number };
  const channels = x.shape[x.shape.length - 1];
  const rows = x.shape.reduce((a, b) => a * b, 1) / channels;
  const flat = { ...x, shape: [rows, channels] };
  const mean = runProgram(
    backend,
    reduction("mean", ["x"], channels),
    [flat],
    uniforms(rows, epsilon),
  );
  const variance = runProgram(
    backend,
    reduction("variance", ["x", "mean"], channels),
    [flat, mean],
    uniforms(rows, epsilon),
  );
  const y = runProgram(
    backend,
    elementwise(
      "normalize",
      ["x", "mean", "variance", "scale", "offset"],
      x.shape,
      "(x[index] - mean[ch]) * inverseSqrt(variance[ch] + uniforms.eps) * scale[ch] + offset[ch]",
    ),
    [x, mean, variance, scale, offset],
    uniforms(rows, epsilon, channels),
  );
  return [y, mean, variance];
};

/** `AnnealBatchNormTrainGrad` on WebGPU: outputs dx, dscale, doffset (see batch_norm.ts). */
export const webGpuGradient: tf.KernelFunc = ({ inputs, attrs, backend }) => {
  const { dy, x, scale, mean, variance, dmean, dvar } = inputs as Record<
    string,
    tf.TensorInfo | undefined
  >;
  const { epsilon } = attrs as unknown as { epsilon: number };
  const channels = x!.shape[x!.shape.length - 1];
  const rows = x!.shape.reduce((a, b) => a * b, 1) / channels;
  const flat = (info: tf.TensorInfo) => ({ ...info, shape: [rows, channels] });
  const doffset = runProgram(
    backend,
    reduction("sumDy", ["dy"], channels),
    [flat(dy!)],
    uniforms(rows, epsilon),
  );
  const dscale = runProgram(
    backend,
    reduction("dscale", ["dy", "x", "mean", "variance"], channels),
    [flat(dy!), flat(x!), mean!, variance!],
    uniforms(rows, epsilon),
  );
  // dx = scale s (dy - sum(dy)/n - xc s dscale/n) [+ dmean/n + 2 dvar xc/n], s = 1/sqrt(var+eps),
  // xc = x - mean, as a dy + b x + k per channel (coefficients [3, channels]: a, b, k). Two
  // programs: WebGPU allows 8 storage buffers a shader, one pass over dy and x with every
  // per-channel input would need up to 10.
  const names = ["scale", "mean", "variance", "doffset", "dscale"];
  const tensors = [scale!, mean!, variance!, doffset, dscale];
  if (dmean) names.push("dmean"), tensors.push(dmean);
  if (dvar) names.push("dvar"), tensors.push(dvar);
  const coefficients = runProgram(
    backend,
    elementwise(
      `dx_coefficients${dmean ? "_dmean" : ""}${dvar ? "_dvar" : ""}`,
      names,
      [3, channels],
      `coefficient(index / uniforms.channels, ch)`,
      `
      fn coefficient(which : i32, ch : i32) -> f32 {
        let n = f32(uniforms.rows);
        let s = inverseSqrt(variance[ch] + uniforms.eps);
        let a = scale[ch] * s;
        let b = -a * s * dscale[ch] / n${dvar ? " + 2.0 * dvar[ch] / n" : ""};
        let k = -a * doffset[ch] / n${dmean ? " + dmean[ch] / n" : ""} - b * mean[ch];
        if (which == 0) { return a; }
        if (which == 1) { return b; }
        return k;
      }`,
    ),
    tensors,
    uniforms(rows, epsilon, channels),
  );
  const dx = runProgram(
    backend,
    elementwise(
      "dx",
      ["dy", "x", "coefficients"],
      x!.shape,
      "coefficients[ch] * dy[index] + coefficients[uniforms.channels + ch] * x[index] + " +
        "coefficients[2 * uniforms.channels + ch]",
    ),
    [dy!, x!, coefficients],
    uniforms(rows, epsilon, channels),
  );
  disposeOutput(backend, coefficients);
  return [dx, dscale, doffset];
};
