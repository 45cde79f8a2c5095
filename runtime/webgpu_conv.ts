/**
 * Convolutions of images with few channels (a CNN's first layer: grayscale or RGB) on
 * tfjs-backend-webgpu as a direct WGSL kernel: one thread per output value, the filter's taps
 * and input channels looped in registers. tfjs-webgpu runs them as a tiled matrix product whose
 * shared dimension (filter taps times input channels: 9 for a 3x3 filter on one channel) is far
 * below its tile's, so almost all of its work is padding: on llvmpipe [32, 28, 28, 1] by
 * [3, 3, 1, 32] took ~950 ms there (the 32-channel layer after it, 16x the arithmetic, ~130 ms).
 *
 * Covers `Conv2D` and `FusedConv2D` (bias, linear or relu) in NHWC with at most 4 input
 * channels, any filter size, stride and padding, no dilation; declines the rest.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { type KernelArgs, overrideKernel } from "./wasm_heap.ts";

/** Input channels up to which the direct kernel runs. */
const MAX_IN_CHANNELS = 4;

type Shape4 = [number, number, number, number];

interface WebGpuBackend {
  runWebGPUProgram(
    program: Record<string, unknown>,
    inputs: tf.TensorInfo[],
    dtype: tf.DataType,
    uniforms?: { type: string; data: number[] }[],
  ): tf.TensorInfo;
}

/**
 * The direct convolution as a kernel that declines what it does not cover; the webgpu backend's
 * `Conv2D` and `FusedConv2D` run it first (`routeWebGpuSmallConv`).
 */
export function smallChannelConv2D(
  { inputs, attrs, backend }: KernelArgs,
): tf.TensorInfo | undefined {
  const { x, filter, bias, preluActivationWeights } = inputs as Record<
    string,
    tf.TensorInfo | undefined
  >;
  const a = attrs as unknown as tf.FusedConv2DAttrs;
  const activation = a.activation ?? "linear";
  if (
    !x || !filter || preluActivationWeights || a.dataFormat === "NCHW" ||
    (activation !== "linear" && activation !== "relu") ||
    x.dtype !== "float32" || filter.dtype !== "float32" || x.shape[3] > MAX_IN_CHANNELS ||
    !tf.backend_util.tupleValuesAreOne(a.dilations ?? 1) ||
    (bias && (bias.dtype !== "float32" || bias.shape.length !== 1 ||
      (bias.shape[0] !== filter.shape[3] && bias.shape[0] !== 1)))
  ) return;
  const conv = tf.backend_util.computeConv2DInfo(
    x.shape as Shape4,
    filter.shape as Shape4,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
  const { filterHeight: kh, filterWidth: kw, inChannels, outChannels } = conv;
  const size = tf.util.sizeFromShape(conv.outShape);
  if (size === 0) return;
  const biasAt = bias ? (bias.shape[0] === 1 ? "bias[0]" : "bias[co]") : "0.0";
  const program = {
    variableNames: bias ? ["x", "w", "bias"] : ["x", "w"],
    outputShape: conv.outShape,
    shaderKey:
      `anneal_conv_direct_${kh}_${kw}_${inChannels}_${outChannels}_${biasAt}_${activation}`,
    dispatchLayout: { x: [0, 1, 2, 3] },
    dispatch: [Math.ceil(size / 64), 1, 1],
    workgroupSize: [64, 1, 1],
    size: true,
    uniforms: "padTop : i32, padLeft : i32, strideH : i32, strideW : i32, inH : i32, inW : i32,",
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let coords = getCoordsFromIndex(index);
          let co = coords[3];
          var acc = ${biasAt};
          for (var i = 0; i < ${kh}; i = i + 1) {
            let iy = coords[1] * uniforms.strideH + i - uniforms.padTop;
            if (iy < 0 || iy >= uniforms.inH) { continue; }
            for (var j = 0; j < ${kw}; j = j + 1) {
              let ix = coords[2] * uniforms.strideW + j - uniforms.padLeft;
              if (ix < 0 || ix >= uniforms.inW) { continue; }
              let at = ((coords[0] * uniforms.inH + iy) * uniforms.inW + ix) * ${inChannels};
              for (var c = 0; c < ${inChannels}; c = c + 1) {
                acc = acc + x[at + c] * w[((i * ${kw} + j) * ${inChannels} + c) * ${outChannels} + co];
              }
            }
          }
          ${activation === "relu" ? "acc = max(acc, 0.0);" : ""}
          setOutputAtIndex(index, acc);
        }
      }`,
  };
  const uniforms = [
    conv.padInfo.top,
    conv.padInfo.left,
    conv.strideHeight,
    conv.strideWidth,
    conv.inHeight,
    conv.inWidth,
  ].map((value) => ({ type: "int32", data: [value] }));
  return (backend as unknown as WebGpuBackend).runWebGPUProgram(
    program,
    bias ? [x, filter, bias] : [x, filter],
    "float32",
    uniforms,
  );
}

/**
 * Puts the direct kernel in front of webgpu's `Conv2D` and `FusedConv2D` (which still run every
 * other case). Returns the kernels overridden.
 */
export function routeWebGpuSmallConv(): string[] {
  return ["Conv2D", "FusedConv2D"].filter((name) =>
    overrideKernel("webgpu", name, smallChannelConv2D)
  );
}
