/**
 * Two convolution kernels for tfjs-backend-webgpu in WGSL. The filter gradient (see
 * `filterGradient`), and convolutions of images with few channels (a CNN's first layer:
 * grayscale or RGB) as a direct kernel: one thread per output value, the filter's taps
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
import { convCall, convUniforms, filterGradientCall } from "./conv_args.ts";
import { type KernelArgs, overrideKernel } from "./wasm_heap.ts";
import { disposeOutput, runProgram, type WebGpuProgram } from "./webgpu_program.ts";

/** Input channels up to which the direct kernel runs. */
const MAX_IN_CHANNELS = 4;

/**
 * The direct convolution as a kernel that declines what it does not cover; the webgpu backend's
 * `Conv2D` and `FusedConv2D` run it first (`routeWebGpuSmallConv`).
 */
export function smallChannelConv2D(args: KernelArgs): tf.TensorInfo | undefined {
  const call = convCall(args);
  if (!call || call.x.shape[3] > MAX_IN_CHANNELS) return;
  const { x, filter, bias, activation, conv } = call;
  const { filterHeight: kh, filterWidth: kw, inChannels, outChannels } = conv;
  const size = tf.util.sizeFromShape(conv.outShape);
  if (size === 0) return;
  const biasAt = bias ? (bias.shape[0] === 1 ? "bias[0]" : "bias[co]") : "0.0";
  const program: WebGpuProgram = {
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
  return runProgram(
    args.backend,
    program,
    bias ? [x, filter, bias] : [x, filter],
    convUniforms(conv),
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

/** Output positions one workgroup of the filter gradient sums (its partial is one of many). */
const CHUNK = 1024;
/** Values of the partials buffer (chunks x filter) above which chunks grow instead (64 MiB). */
const MAX_PARTIALS = 16 * 1024 * 1024;
/** Positions staged in workgroup memory at a time. */
const STAGE = 64;

/** The smallest power of two >= n. */
const pow2 = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

/**
 * Output positions per chunk of the filter gradient: CHUNK, or more (whole stages) where the
 * partials (chunks x filter values) would pass MAX_PARTIALS.
 *
 * @example
 * ```ts
 * import { filterGradientChunk } from "./webgpu_conv.ts";
 * console.assert(filterGradientChunk(25088, 18432) === 1024); // the CNN's second layer
 * ```
 */
export function filterGradientChunk(positions: number, filterSize: number): number {
  const most = Math.max(1, Math.floor(MAX_PARTIALS / filterSize));
  return Math.max(CHUNK, STAGE * Math.ceil(positions / (STAGE * most)));
}

/**
 * dL/dfilter of an NHWC convolution on WebGPU in two programs. The first runs one workgroup per
 * (filter tap, block of input channels, block of output channels, chunk of output positions:
 * 1024 or more, see `filterGradientChunk`), one thread per input channel and 4 output channels
 * of the block (up to 8x32 channels: 64 threads; llvmpipe took 34 s to compile a 256-thread
 * variant, 8 s this one). It stages 64 positions of the input window and of dy at a time in
 * workgroup memory, and every thread sums its 4 pairs over the chunk. The second program sums
 * the chunks' partials. tfjs-webgpu's kernel gives each filter value one thread, which loops
 * over every output position alone (25088 for the CNN's second layer, 100352 for its first).
 */
export function filterGradient(args: KernelArgs): tf.TensorInfo | undefined {
  const call = filterGradientCall(args);
  if (!call) return;
  const { x, dy, conv } = call;
  const backend = args.backend;
  const { filterHeight: kh, filterWidth: kw, inChannels, outChannels } = conv;
  const positions = conv.batchSize * conv.outHeight * conv.outWidth;
  // a block of up to 8 input x 32 output channels per workgroup, narrower where the channels
  // are fewer (a first layer's single input channel: 1x32); a thread holds 4 output channels in
  // a vec4, so at most 64 threads a workgroup
  const bci = Math.min(8, pow2(inChannels));
  const bco = Math.max(4, Math.min(32, pow2(outChannels)));
  const lanes = bco / 4;
  const threads = bci * lanes;
  const [ciBlocks, coBlocks] = [Math.ceil(inChannels / bci), Math.ceil(outChannels / bco)];
  const filterSize = kh * kw * inChannels * outChannels;
  const chunkLength = filterGradientChunk(positions, filterSize);
  const chunks = Math.ceil(positions / chunkLength);
  const groups = kh * kw * ciBlocks * coBlocks;
  if (positions === 0 || groups > 65535 || chunks > 65535) return;
  const partialProgram: WebGpuProgram = {
    variableNames: ["x", "dy"],
    outputShape: [chunks, filterSize],
    shaderKey: `anneal_conv_dw_${kh}_${kw}_${inChannels}_${outChannels}_${bci}_${bco}`,
    dispatchLayout: { x: [1], y: [0] },
    dispatch: [groups, chunks, 1],
    workgroupSize: [threads, 1, 1],
    size: false,
    uniforms: "padTop : i32, padLeft : i32, strideH : i32, strideW : i32, inH : i32, " +
      "inW : i32, outH : i32, outW : i32, positions : i32, chunk : i32, stage : i32,",
    getUserCode: () => `
      var<workgroup> xs : array<f32, ${STAGE * bci}>;
      var<workgroup> ds : array<vec4<f32>, ${STAGE * lanes}>;
      fn dyAt(p : i32, co : i32) -> f32 {
        if (co < ${outChannels}) { return dy[p * ${outChannels} + co]; }
        return 0.0;
      }
      fn main() {
        let t = i32(localId.x);
        let tci = t / ${lanes};
        let tco = t % ${lanes};
        let g = i32(workgroupId.x);
        let coBlock = g % ${coBlocks};
        let ciBlock = (g / ${coBlocks}) % ${ciBlocks};
        let tap = g / (${coBlocks} * ${ciBlocks});
        let i = tap / ${kw};
        let j = tap % ${kw};
        let chunk = i32(workgroupId.y);
        var acc = vec4<f32>(0.0);
        // (loop bounds from uniforms: constant ones get unrolled, and llvmpipe then takes
        // ~20 s to compile each variant)
        for (var stage = 0; stage < uniforms.chunk; stage = stage + uniforms.stage) {
          // the stage's input window values (STAGE x bci) and dy values (STAGE x bco, as vec4)
          for (var e = t; e < ${STAGE * bci}; e = e + ${threads}) {
            let p = chunk * uniforms.chunk + stage + e / ${bci};
            let ci = ciBlock * ${bci} + e % ${bci};
            var v = 0.0;
            if (p < uniforms.positions && ci < ${inChannels}) {
              let ox = p % uniforms.outW;
              let oy = (p / uniforms.outW) % uniforms.outH;
              let b = p / (uniforms.outW * uniforms.outH);
              let iy = oy * uniforms.strideH + i - uniforms.padTop;
              let ix = ox * uniforms.strideW + j - uniforms.padLeft;
              if (iy >= 0 && iy < uniforms.inH && ix >= 0 && ix < uniforms.inW) {
                v = x[((b * uniforms.inH + iy) * uniforms.inW + ix) * ${inChannels} + ci];
              }
            }
            xs[e] = v;
          }
          for (var e = t; e < ${STAGE * lanes}; e = e + ${threads}) {
            let p = chunk * uniforms.chunk + stage + e / ${lanes};
            let co = coBlock * ${bco} + (e % ${lanes}) * 4;
            var v = vec4<f32>(0.0);
            if (p < uniforms.positions) {
              v = vec4<f32>(dyAt(p, co), dyAt(p, co + 1), dyAt(p, co + 2), dyAt(p, co + 3));
            }
            ds[e] = v;
          }
          workgroupBarrier();
          for (var q = 0; q < uniforms.stage; q = q + 1) {
            acc = acc + xs[q * ${bci} + tci] * ds[q * ${lanes} + tco];
          }
          workgroupBarrier();
        }
        let ci = ciBlock * ${bci} + tci;
        if (ci < ${inChannels}) {
          for (var k = 0; k < 4; k = k + 1) {
            let co = coBlock * ${bco} + tco * 4 + k;
            if (co < ${outChannels}) {
              setOutputAtIndex(
                chunk * ${filterSize} + (tap * ${inChannels} + ci) * ${outChannels} + co, acc[k]);
            }
          }
        }
      }`,
  };
  const uniforms = convUniforms(
    conv,
    conv.outHeight,
    conv.outWidth,
    positions,
    chunkLength,
    STAGE,
  );
  const partials = runProgram(backend, partialProgram, [x, dy], uniforms);
  const sumProgram: WebGpuProgram = {
    variableNames: ["partials"],
    outputShape: [kh, kw, inChannels, outChannels],
    shaderKey: `anneal_conv_dw_sum_${chunks}_${filterSize}`,
    dispatchLayout: { x: [0, 1, 2, 3] },
    dispatch: [Math.ceil(filterSize / 64), 1, 1],
    workgroupSize: [64, 1, 1],
    size: true,
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          var acc = 0.0;
          for (var c = 0; c < ${chunks}; c = c + 1) {
            acc = acc + partials[c * ${filterSize} + index];
          }
          setOutputAtIndex(index, acc);
        }
      }`,
  };
  try {
    return runProgram(backend, sumProgram, [partials]);
  } finally {
    disposeOutput(backend, partials);
  }
}

/**
 * Puts {@linkcode filterGradient} in front of webgpu's `Conv2DBackpropFilter`; returns whether
 * it did.
 */
export function routeWebGpuFilterGradient(): boolean {
  return overrideKernel("webgpu", "Conv2DBackpropFilter", filterGradient);
}
