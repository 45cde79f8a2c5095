/**
 * 3x3 stride-1 convolutions on tfjs-backend-wasm by Winograd's F(2x2, 3x3) (Lavin and Gray, "Fast
 * Algorithms for Convolutional Neural Networks", 2015): every 2x2 output tile comes from its 4x4
 * input window as Y = At [(G g Gt) ⊙ (Bt d B)] A, so the multiply-adds over channels are 16
 * matrix products [tiles, inC] · [inC, outC] (16 per 4 outputs instead of 36): 2.25x fewer than
 * the direct convolution. The products run on anneal's `gemm` kernel (`wasm_gemm.ts`; one
 * product per thread of the kernel pool), or XNNPACK where it does not cover them (output
 * channels not a multiple of 8); the input and output transforms are anneal's SIMD kernels
 * (`winogradInput`, `winogradOutput` in kernels.wat), the filter transform a loop here.
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
import type { PoolKernel } from "./wasm_simd/pool_layout.ts";
import { convCall } from "./conv_args.ts";
import { gemmCovers, runGemmCalls } from "./wasm_gemm.ts";
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
  if (!call || call.filter.shape[3] % 4 !== 0) return;
  const { x, filter, bias, activation, conv } = call;
  const work = winogradWork(args.backend, conv);
  if (!work) return;
  const { wasm, tiles, parts } = work;
  const { batchSize, inChannels, outHeight, outWidth, outChannels } = conv;
  try {
    const padded = work.alloc([batchSize, work.ph, work.pw, inChannels]);
    const v = Array.from({ length: 16 }, () => work.alloc([1, tiles, inChannels]));
    const u = Array.from({ length: 16 }, () => work.alloc([1, inChannels, outChannels]));
    const table = work.alloc([16 * parts.length], "int32");
    const shift = work.alloc([outChannels]);
    // views after the last allocation (a malloc may move the heap)
    work.transformInput(x, padded, v, table);
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
    // M[ξ] = V[ξ] · U[ξ]: on anneal's gemm, the 16 spread over the kernel pool's threads
    // (one thread each), else on XNNPACK
    const onGemm = gemmCovers(tiles, outChannels);
    const m = onGemm
      ? v.map(() => work.alloc([tiles, outChannels]))
      : v.map((vi, i) =>
        work.own(runWasmKernel(
          "BatchMatMul",
          { a: vi, b: u[i] },
          { transposeA: false, transposeB: false },
          args.backend,
        ))
      );
    if (onGemm) {
      runGemmCalls(
        wasm,
        v.map((vi, i) => ({
          a: heapAddress(wasm, vi),
          b: heapAddress(wasm, u[i]),
          out: heapAddress(wasm, m[i]),
          m: tiles,
          k: inChannels,
          n: outChannels,
          aRow: 4 * inChannels,
          aStep: 4,
        })),
      );
    }
    const out = wasm.makeOutput([batchSize, outHeight, outWidth, outChannels], "float32");
    const tables = work.writeTables(table, m, outChannels);
    work.split(
      "winogradOutput",
      parts.map(([from, to], i) => [
        tables + 64 * i,
        heapAddress(wasm, shift),
        heapAddress(wasm, out) + 4 * from * outHeight * outWidth * outChannels,
        to - from,
        work.tilesH,
        work.tilesW,
        outHeight,
        outWidth,
        outChannels,
        activation === "relu" ? 1 : 0,
      ]),
    );
    return out;
  } finally {
    work.release();
  }
}

/**
 * What the forward and the filter gradient share, for a convolution both cover (3x3, stride 1,
 * no dilation, at most 1 of padding a side, at least 8 input channels in fours, enough outputs),
 * else undefined: the tile geometry, the batch's parts over the kernel pool's threads, scratch
 * freed by `release`, and the input transform.
 */
function winogradWork(backend: unknown, conv: tf.backend_util.Conv2DInfo) {
  const { batchSize, inChannels, outHeight, outWidth } = conv;
  const { top, left, bottom, right } = conv.padInfo;
  if (
    conv.filterHeight !== 3 || conv.filterWidth !== 3 || conv.strideHeight !== 1 ||
    conv.strideWidth !== 1 || conv.dilationHeight !== 1 || conv.dilationWidth !== 1 ||
    top > 1 || left > 1 || bottom > 1 || right > 1 || inChannels < 8 || inChannels % 4 !== 0 ||
    batchSize * outHeight * outWidth < MIN_OUTPUTS
  ) return;
  const wasm = wasmInternals(backend);
  const simd = simdKernels(wasm);
  if (!simd) return;
  const tilesH = Math.ceil(outHeight / 2), tilesW = Math.ceil(outWidth / 2);
  const [ph, pw] = [2 * tilesH + 2, 2 * tilesW + 2];
  // images split over the kernel pool's threads for the transforms, one table of the 16
  // matrices' addresses per part
  const pool = kernelPool(backend);
  const parts = pool ? splitRange(batchSize, pool.threads) : [[0, batchSize]];
  const owned: tf.TensorInfo[] = [];
  const work = {
    wasm,
    simd,
    tilesH,
    tilesW,
    tiles: batchSize * tilesH * tilesW,
    ph,
    pw,
    parts,
    pool,
    /** Scratch, freed by `release`. */
    own(info: tf.TensorInfo): tf.TensorInfo {
      owned.push(info);
      return info;
    },
    alloc(shape: number[], dtype: tf.DataType = "float32"): tf.TensorInfo {
      return work.own(wasm.makeOutput(shape, dtype));
    },
    release(): void {
      for (const info of owned) wasm.disposeData(info.dataId, true);
    },
    /** Runs a transform once per part of the batch: on the pool's threads when there is one. */
    split(kernel: PoolKernel, calls: number[][]): void {
      if (pool && calls.length > 1) pool.run(kernel, calls);
      else (simd[kernel] as (...args: number[]) => void)(...calls[0]);
    },
    /** {@link writeTables} for 16 matrices of `channels` columns; returns the tables' address. */
    writeTables(table: tf.TensorInfo, infos: tf.TensorInfo[], channels: number): number {
      writeTables(wasm, table, infos, parts, 4 * tilesH * tilesW * channels);
      return heapAddress(wasm, table);
    },
    /** x padded into `padded`, then its 16 transformed matrices `v` [tiles, inC]. */
    transformInput(
      x: tf.TensorInfo,
      padded: tf.TensorInfo,
      v: tf.TensorInfo[],
      table: tf.TensorInfo,
    ): void {
      padInput(simd, heapAddress(wasm, x), heapAddress(wasm, padded), conv, ph, pw);
      const tables = work.writeTables(table, v, inChannels);
      work.split(
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
    },
  };
  return work;
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
 * The 16 products [inC, tiles] · [tiles, outC] run on anneal's `gemm` (one product per thread
 * of the kernel pool): 2.25x fewer multiply-adds than patches · dy, and no XNNPACK repacking of
 * dy. Covers what the forward covers, with output channels a multiple of 8;
 * returns undefined for the rest.
 */
export function winogradFilterGradient(
  backend: unknown,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  conv: tf.backend_util.Conv2DInfo,
): tf.TensorInfo | undefined {
  const { batchSize, inChannels, outHeight, outWidth, outChannels } = conv;
  if (outChannels % 8 !== 0) return;
  const work = winogradWork(backend, conv);
  if (!work) return;
  const { wasm, simd, tiles, parts, pool } = work;
  try {
    const padded = work.alloc([batchSize, work.ph, work.pw, inChannels]);
    const v = Array.from({ length: 16 }, () => work.alloc([tiles, inChannels]));
    const m = Array.from({ length: 16 }, () => work.alloc([tiles, outChannels]));
    const du = work.alloc([16, inChannels, outChannels]);
    const table = work.alloc([16 * parts.length], "int32");
    const out = wasm.makeOutput([3, 3, inChannels, outChannels], "float32");
    // addresses after the last allocation (a malloc may move the heap)
    work.transformInput(x, padded, v, table);
    const tables = work.writeTables(table, m, outChannels);
    work.split(
      "winogradGradient",
      parts.map(([from, to], i) => [
        heapAddress(wasm, dy) + 4 * from * outHeight * outWidth * outChannels,
        tables + 64 * i,
        to - from,
        work.tilesH,
        work.tilesW,
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
    if (gemmCovers(inChannels, outChannels)) {
      runGemmCalls(
        wasm,
        products.map(([a, b, out, m, k, n, aRow, aStep]) => ({ a, b, out, m, k, n, aRow, aStep })),
      );
    } else {
      // anneal's panel product (reads b in place: slower, `bench/kernels_ab.ts`'s before side)
      const threads = pool?.threads ?? 1;
      for (let i = 0; i < 16; i += threads) {
        const group = products.slice(i, i + threads);
        if (pool && group.length > 1) pool.run("panelProduct", group);
        else for (const call of group) (simd.panelProduct as (...args: number[]) => void)(...call);
      }
    }
    transformFilterGradient(heapFloats(wasm, du), heapFloats(wasm, out), inChannels, outChannels);
    return out;
  } finally {
    work.release();
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
