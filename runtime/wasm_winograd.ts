/**
 * 3x3 stride-1 convolutions on tfjs-backend-wasm by Winograd's F(2x2, 3x3) (Lavin and Gray, "Fast
 * Algorithms for Convolutional Neural Networks", 2015): every 2x2 output tile comes from its 4x4
 * input window as Y = At [(G g Gt) ⊙ (Bt d B)] A, so the multiply-adds over channels are 16
 * matrix products [tiles, inC] · [inC, outC] (16 per 4 outputs instead of 36): 2.25x fewer than
 * the direct convolution. The products run on XNNPACK (tfjs-wasm's BatchMatMul, on the backend's
 * threads); the input and output transforms are anneal's SIMD kernels (`winogradInput`,
 * `winogradOutput` in kernels.wat), the filter transform a loop here.
 *
 * A CNN's 3x3 layers after the first are such convolutions, forward and for the input gradient
 * (which `wasm_conv.ts` runs as a forward convolution with the flipped filter). The transforms
 * only add, subtract and halve, so the results equal the direct convolution's to float32
 * rounding of sums in another order (tests: ~1e-6 relative).
 *
 * Covers `Conv2D` and `FusedConv2D` (bias, linear or relu) in NHWC: 3x3 filters, stride 1, no
 * dilation, at most 1 of padding per side, channels in and out multiples of 4 (in: at least 8);
 * declines the rest (and problems too small to gain).
 *
 * @module
 */
import type * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { type SimdKernels, simdKernels } from "./wasm_simd/kernels.ts";
import { kernelPool, splitRange } from "./wasm_simd/pool.ts";
import { convCall } from "./conv_args.ts";
import {
  heapAddress,
  heapFloats,
  type KernelArgs,
  overrideWasmKernel,
  runWasmKernel,
  type WasmBackendInternals,
  wasmInternals,
} from "./wasm_heap.ts";

/** Output pixels below which the 16 products' fixed costs outweigh the saving. */
const MIN_OUTPUTS = 4096;

/**
 * The Winograd convolution as a kernel that declines (returns undefined for) what it does not
 * cover; `routeWinogradConv` puts it in front of wasm's own.
 */
export function winogradConv2D(args: KernelArgs): tf.TensorInfo | undefined {
  const call = convCall(args);
  if (
    !call || call.filter.shape[0] !== 3 || call.filter.shape[1] !== 3 ||
    call.x.shape[3] < 8 || call.x.shape[3] % 4 !== 0 || call.filter.shape[3] % 4 !== 0
  ) return;
  const { x, filter, bias, activation, conv } = call;
  const backend = args.backend;
  const { batchSize, inChannels, outHeight, outWidth, outChannels } = conv;
  const { top, left, bottom, right } = conv.padInfo;
  if (
    conv.strideHeight !== 1 || conv.strideWidth !== 1 || top > 1 || left > 1 || bottom > 1 ||
    right > 1 || batchSize * outHeight * outWidth < MIN_OUTPUTS
  ) return;
  const wasm = wasmInternals(backend);
  const simd = simdKernels(wasm);
  if (!simd) return;

  const tilesH = Math.ceil(outHeight / 2), tilesW = Math.ceil(outWidth / 2);
  const tiles = batchSize * tilesH * tilesW;
  const [ph, pw] = [2 * tilesH + 2, 2 * tilesW + 2];
  const owned: tf.TensorInfo[] = [];
  const alloc = (shape: number[], dtype: tf.DataType = "float32") => {
    const info = wasm.makeOutput(shape, dtype);
    owned.push(info);
    return info;
  };
  try {
    const padded = alloc([batchSize, ph, pw, inChannels]);
    const v = Array.from({ length: 16 }, () => alloc([1, tiles, inChannels]));
    const u = Array.from({ length: 16 }, () => alloc([1, inChannels, outChannels]));
    // images split over the kernel pool's threads for the two transforms, one table of the 16
    // matrices' addresses per part
    const pool = kernelPool(backend);
    const parts = pool ? splitRange(batchSize, pool.threads) : [[0, batchSize]];
    const table = alloc([16 * parts.length], "int32");
    const shift = alloc([outChannels]);
    // views after the last allocation (a malloc may move the heap)
    padInput(simd, heapAddress(wasm, x), heapAddress(wasm, padded), conv, ph, pw);
    transformFilter(
      heapFloats(wasm, filter),
      u.map((info) => heapFloats(wasm, info)),
      inChannels,
      outChannels,
    );
    const shiftValues = heapFloats(wasm, shift);
    if (bias) {
      const b = heapFloats(wasm, bias);
      for (let k = 0; k < outChannels; k++) shiftValues[k] = b[b.length === 1 ? 0 : k];
    } else shiftValues.fill(0);
    const tileBytes = 4 * tilesH * tilesW; // per image and channel
    const tables = heapAddress(wasm, table);
    writeTables(wasm, table, v, parts, tileBytes * inChannels);
    const inputCall = ([from, to]: number[], i: number) => [
      heapAddress(wasm, padded) + 4 * from * ph * pw * inChannels,
      tables + 64 * i,
      to - from,
      tilesH,
      tilesW,
      inChannels,
    ];
    if (pool && parts.length > 1) pool.run("winogradInput", parts.map(inputCall));
    else (simd.winogradInput as (...args: number[]) => void)(...inputCall(parts[0], 0));
    const m = v.map((vi, i) => {
      const product = runWasmKernel(
        "BatchMatMul",
        { a: vi, b: u[i] },
        { transposeA: false, transposeB: false },
        backend,
      );
      owned.push(product);
      return product;
    });
    const out = wasm.makeOutput([batchSize, outHeight, outWidth, outChannels], "float32");
    writeTables(wasm, table, m, parts, tileBytes * outChannels);
    const outputCall = ([from, to]: number[], i: number) => [
      tables + 64 * i,
      heapAddress(wasm, shift),
      heapAddress(wasm, out) + 4 * from * outHeight * outWidth * outChannels,
      to - from,
      tilesH,
      tilesW,
      outHeight,
      outWidth,
      outChannels,
      activation === "relu" ? 1 : 0,
    ];
    if (pool && parts.length > 1) pool.run("winogradOutput", parts.map(outputCall));
    else (simd.winogradOutput as (...args: number[]) => void)(...outputCall(parts[0], 0));
    return out;
  } finally {
    for (const info of owned) wasm.disposeData(info.dataId, true);
  }
}

/**
 * The heap addresses of the 16 matrices `infos` as int32 at `table`, once per part of the batch:
 * part i's 16 at 16i, each moved on by the part's first image (`imageBytes` a matrix per image).
 */
function writeTables(
  wasm: WasmBackendInternals,
  table: tf.TensorInfo,
  infos: tf.TensorInfo[],
  parts: number[][],
  imageBytes: number,
) {
  const view = wasm.typedArrayFromHeap(table) as Int32Array;
  parts.forEach(([from], part) =>
    infos.forEach((info, i) => (view[16 * part + i] = heapAddress(wasm, info) + from * imageBytes))
  );
}

/**
 * dL/dw of a 3x3 stride-1 convolution by the same F(2x2, 3x3), run backwards: for each of the
 * 16 positions ξ of a 4x4 tile, dU[ξ] = V[ξ]ᵀ · M[ξ] summed over every tile (V: the input
 * transform, as forward; M = A dY Aᵀ, `winogradGradient`), then dw = Gᵀ dU G per channel pair.
 * The 16 products [inC, tiles] · [tiles, outC] run as anneal's panel product (on the kernel
 * pool's threads when there is one): 2.25x fewer multiply-adds than patches · dy, and no
 * XNNPACK repacking of dy. Covers what the forward covers, with output channels a multiple of 8;
 * returns undefined for the rest.
 */
export function winogradFilterGradient(
  backend: unknown,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  conv: tf.backend_util.Conv2DInfo,
): tf.TensorInfo | undefined {
  const { batchSize, inChannels, outHeight, outWidth, outChannels } = conv;
  const { top, left, bottom, right } = conv.padInfo;
  if (
    conv.filterHeight !== 3 || conv.filterWidth !== 3 || conv.strideHeight !== 1 ||
    conv.strideWidth !== 1 || conv.dilationHeight !== 1 || conv.dilationWidth !== 1 ||
    top > 1 || left > 1 || bottom > 1 || right > 1 || inChannels < 8 || inChannels % 4 !== 0 ||
    outChannels % 8 !== 0 || batchSize * outHeight * outWidth < MIN_OUTPUTS
  ) return;
  const wasm = wasmInternals(backend);
  const simd = simdKernels(wasm);
  if (!simd) return;
  const tilesH = Math.ceil(outHeight / 2), tilesW = Math.ceil(outWidth / 2);
  const tiles = batchSize * tilesH * tilesW;
  const [ph, pw] = [2 * tilesH + 2, 2 * tilesW + 2];
  const pool = kernelPool(backend);
  const parts = pool ? splitRange(batchSize, pool.threads) : [[0, batchSize]];
  const owned: tf.TensorInfo[] = [];
  const alloc = (shape: number[], dtype: tf.DataType = "float32") => {
    const info = wasm.makeOutput(shape, dtype);
    owned.push(info);
    return info;
  };
  try {
    const padded = alloc([batchSize, ph, pw, inChannels]);
    const v = Array.from({ length: 16 }, () => alloc([tiles, inChannels]));
    const m = Array.from({ length: 16 }, () => alloc([tiles, outChannels]));
    const du = alloc([16, inChannels, outChannels]);
    const table = alloc([16 * parts.length], "int32");
    const out = wasm.makeOutput([3, 3, inChannels, outChannels], "float32");
    // addresses after the last allocation (a malloc may move the heap)
    padInput(simd, heapAddress(wasm, x), heapAddress(wasm, padded), conv, ph, pw);
    const tables = heapAddress(wasm, table);
    const tileBytes = 4 * tilesH * tilesW; // per image and channel
    const split = (kernel: "winogradInput" | "winogradGradient", calls: number[][]) => {
      if (pool && calls.length > 1) pool.run(kernel, calls);
      else (simd[kernel] as (...args: number[]) => void)(...calls[0]);
    };
    writeTables(wasm, table, v, parts, tileBytes * inChannels);
    split(
      "winogradInput",
      parts.map(([from, to], i) => [
        heapAddress(wasm, padded) + 4 * from * ph * pw * inChannels,
        tables + 64 * i,
        to - from,
        tilesH,
        tilesW,
        inChannels,
      ]),
    );
    writeTables(wasm, table, m, parts, tileBytes * outChannels);
    split(
      "winogradGradient",
      parts.map(([from, to], i) => [
        heapAddress(wasm, dy) + 4 * from * outHeight * outWidth * outChannels,
        tables + 64 * i,
        to - from,
        tilesH,
        tilesW,
        outHeight,
        outWidth,
        outChannels,
      ]),
    );
    // dU[ξ] [inC, outC] = V[ξ]ᵀ · M[ξ]: V[ξ] is [tiles, inC], read as its transpose
    const pair = 4 * inChannels * outChannels;
    const products = Array.from({ length: 16 }, (_, xi) => [
      heapAddress(wasm, v[xi]),
      heapAddress(wasm, m[xi]),
      heapAddress(wasm, du) + xi * pair,
      inChannels,
      tiles,
      outChannels,
      4,
      4 * inChannels,
    ]);
    const threads = pool?.threads ?? 1;
    for (let i = 0; i < 16; i += threads) {
      const group = products.slice(i, i + threads);
      if (pool && group.length > 1) pool.run("panelProduct", group);
      else for (const call of group) (simd.panelProduct as (...args: number[]) => void)(...call);
    }
    transformFilterGradient(heapFloats(wasm, du), heapFloats(wasm, out), inChannels, outChannels);
    return out;
  } finally {
    for (const info of owned) wasm.disposeData(info.dataId, true);
  }
}

/**
 * dw [3, 3, inC, outC] = Gᵀ dU G for every channel pair, dU [16, inC, outC] (the transpose of
 * `transformFilter`'s U = G g Gᵀ).
 */
function transformFilterGradient(du: Float32Array, dw: Float32Array, inC: number, outC: number) {
  const pairs = inC * outC;
  const d = new Float64Array(16);
  const h = new Float64Array(12); // Gᵀ dU: 3 x 4
  for (let at = 0; at < pairs; at++) {
    for (let t = 0; t < 16; t++) d[t] = du[t * pairs + at];
    for (let j = 0; j < 4; j++) {
      const [d0, d1, d2, d3] = [d[j], d[4 + j], d[8 + j], d[12 + j]];
      h[j] = d0 + (d1 + d2) / 2;
      h[4 + j] = (d1 - d2) / 2;
      h[8 + j] = (d1 + d2) / 2 + d3;
    }
    for (let r = 0; r < 3; r++) {
      const [h0, h1, h2, h3] = [h[4 * r], h[4 * r + 1], h[4 * r + 2], h[4 * r + 3]];
      dw[(3 * r) * pairs + at] = h0 + (h1 + h2) / 2;
      dw[(3 * r + 1) * pairs + at] = (h1 - h2) / 2;
      dw[(3 * r + 2) * pairs + at] = (h1 + h2) / 2 + h3;
    }
  }
}

/**
 * xp [batch, ph, pw, c]: the input at rows top.., columns left.., zeros around (and beyond, up
 * to whole tiles). Block copies and fills within the heap (memory.copy and memory.fill: typed
 * array copies run ~2x slower on the threaded build's shared memory).
 */
function padInput(
  simd: SimdKernels,
  x: number,
  xp: number,
  conv: tf.backend_util.Conv2DInfo,
  ph: number,
  pw: number,
) {
  const { batchSize, inHeight, inWidth, inChannels: c } = conv;
  const { top, left } = conv.padInfo;
  const pixel = 4 * c; // bytes
  const cols = Math.min(inWidth, pw - left);
  const rows = Math.min(inHeight, ph - top);
  const after = (pw - left - cols) * pixel;
  for (let b = 0; b < batchSize; b++) {
    const image = xp + b * ph * pw * pixel;
    if (top > 0) simd.zero(image, top * pw * pixel);
    for (let r = 0; r < rows; r++) {
      const to = image + (r + top) * pw * pixel;
      if (left > 0) simd.zero(to, left * pixel);
      simd.copy(to + left * pixel, x + (b * inHeight + r) * inWidth * pixel, cols * pixel);
      if (after > 0) simd.zero(to + (left + cols) * pixel, after);
    }
    const below = ph - top - rows;
    if (below > 0) simd.zero(image + (top + rows) * pw * pixel, below * pw * pixel);
  }
}

/**
 * U[4i + j][c, k] = (G g Gt)[i][j] for the filter g = w[:, :, c, k],
 * G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1].
 */
function transformFilter(w: Float32Array, u: Float32Array[], inC: number, outC: number) {
  const g = new Float64Array(9);
  const h = new Float64Array(12); // G g: 4 x 3
  for (let c = 0; c < inC; c++) {
    for (let k = 0; k < outC; k++) {
      for (let t = 0; t < 9; t++) g[t] = w[(t * inC + c) * outC + k];
      for (let j = 0; j < 3; j++) {
        const [g0, g1, g2] = [g[j], g[3 + j], g[6 + j]];
        h[j] = g0;
        h[3 + j] = (g0 + g1 + g2) / 2;
        h[6 + j] = (g0 - g1 + g2) / 2;
        h[9 + j] = g2;
      }
      const at = c * outC + k;
      for (let i = 0; i < 4; i++) {
        const [h0, h1, h2] = [h[3 * i], h[3 * i + 1], h[3 * i + 2]];
        u[4 * i][at] = h0;
        u[4 * i + 1][at] = (h0 + h1 + h2) / 2;
        u[4 * i + 2][at] = (h0 - h1 + h2) / 2;
        u[4 * i + 3][at] = h2;
      }
    }
  }
}

/**
 * Puts the Winograd convolution in front of wasm's `Conv2D` and `FusedConv2D` (which still run
 * every other case). Returns the kernels overridden.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { selectBackend } from "./backend.ts";
 * await selectBackend("wasm"); // routes 3x3 convolutions here
 * const y = tf.conv2d(tf.ones([16, 16, 16, 8]) as tf.Tensor4D, tf.ones([3, 3, 8, 4]) as tf.Tensor4D, 1, "same");
 * console.assert(Math.abs(y.dataSync()[(17 * 4)] - 72) < 1e-4); // pixel (1, 1): 9 taps x 8 channels
 * ```
 */
export function routeWinogradConv(): string[] {
  return ["Conv2D", "FusedConv2D"].filter((name) => overrideWasmKernel(name, winogradConv2D));
}
