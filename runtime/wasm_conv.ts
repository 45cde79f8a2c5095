/**
 * The two gradients of an NHWC convolution on tfjs-backend-wasm, on XNNPACK instead of loops.
 *
 * - `Conv2DBackpropInput` (dL/dx): tfjs-wasm 4.22 runs it as a plain loop on one thread. It is a
 *   forward convolution of dy (spread out by the stride, zeros between) with the filter flipped
 *   in both spatial axes and its channel axes swapped, padded by `filter - 1 - pad` before, so
 *   it runs on wasm's own `Conv2D` (XNNPACK, SIMD, on the backend's threads).
 * - `Conv2DBackpropFilter` (dL/dw), missing from tfjs-wasm: the input's patches written out once,
 *   transposed, as a [kh*kw*inC, batch*outH*outW] matrix (im2col), then one product
 *   patchesᵀ·dy on XNNPACK, which is the filter's [kh, kw, inC, outC] laid flat.
 *
 * NCHW, dilated filters and paddings wider than the filter go to the kernels registered before.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { type SimdKernels, simdKernels } from "./wasm_simd/kernels.ts";
import { kernelPool, splitRange } from "./wasm_simd/pool.ts";
import { winogradFilterGradient } from "./wasm_winograd.ts";
import { convCall, filterGradientCall } from "./conv_args.ts";
import { fillRows, gemmCovers, runGemm } from "./wasm_gemm.ts";
import {
  heapAddress,
  heapFloats,
  type KernelArgs,
  overrideWasmKernel,
  runWasmKernel,
  type WasmBackendInternals,
  wasmInternals,
} from "./wasm_heap.ts";

type Shape4 = [number, number, number, number];

/** dL/dx as a stride-1 convolution of the spread-out dy with the flipped, transposed filter. */
function backpropInput({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo | undefined {
  const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const a = attrs as unknown as tf.Conv2DBackpropInputAttrs;
  if (a.dataFormat === "NCHW" || dy.dtype !== "float32" || filter.dtype !== "float32") return;
  const conv = tf.backend_util.computeConv2DInfo(
    a.inputShape as Shape4,
    filter.shape as Shape4,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = conv;
  const spreadHeight = (conv.outHeight - 1) * sh + 1;
  const spreadWidth = (conv.outWidth - 1) * sw + 1;
  const pads = [
    kh - 1 - conv.padInfo.top,
    conv.inHeight + conv.padInfo.top - spreadHeight,
    kw - 1 - conv.padInfo.left,
    conv.inWidth + conv.padInfo.left - spreadWidth,
  ];
  if (pads.some((p) => p < 0) || conv.batchSize === 0) return;
  const wasm = wasmInternals(backend);
  const flipped = flipFilter(wasm, filter);
  const spread = sh > 1 || sw > 1 ? spreadOut(wasm, dy, sh, sw) : dy;
  try {
    return runWasmKernel("Conv2D", { x: spread, filter: flipped }, {
      strides: 1,
      pad: [[0, 0], [pads[0], pads[1]], [pads[2], pads[3]], [0, 0]],
      dilations: 1,
      dataFormat: "NHWC",
    }, backend);
  } finally {
    wasm.disposeData(flipped.dataId, true);
    if (spread !== dy) wasm.disposeData(spread.dataId, true);
  }
}

/** [kh, kw, inC, outC] to [kh, kw, outC, inC] with both spatial axes reversed. */
function flipFilter(wasm: WasmBackendInternals, filter: tf.TensorInfo): tf.TensorInfo {
  const [kh, kw, inC, outC] = filter.shape;
  const out = wasm.makeOutput([kh, kw, outC, inC], "float32");
  const source = heapFloats(wasm, filter);
  const target = heapFloats(wasm, out);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const from = ((kh - 1 - i) * kw + (kw - 1 - j)) * inC * outC;
      const to = (i * kw + j) * outC * inC;
      for (let c = 0; c < inC; c++) {
        for (let o = 0; o < outC; o++) target[to + o * inC + c] = source[from + c * outC + o];
      }
    }
  }
  return out;
}

/** dy [n, h, w, c] to [n, (h-1)*sh+1, (w-1)*sw+1, c] with zeros between the rows and columns. */
function spreadOut(wasm: WasmBackendInternals, dy: tf.TensorInfo, sh: number, sw: number) {
  const [n, h, w, c] = dy.shape;
  const height = (h - 1) * sh + 1, width = (w - 1) * sw + 1;
  const out = wasm.makeOutput([n, height, width, c], "float32");
  const source = heapFloats(wasm, dy);
  const target = heapFloats(wasm, out);
  target.fill(0);
  for (let b = 0; b < n; b++) {
    for (let r = 0; r < h; r++) {
      for (let q = 0; q < w; q++) {
        const from = ((b * h + r) * w + q) * c;
        const to = ((b * height + r * sh) * width + q * sw) * c;
        target.set(source.subarray(from, from + c), to);
      }
    }
  }
  return out;
}

/**
 * How filter gradients run besides XNNPACK's product of patches and dy (`bench/kernels_ab.ts`
 * turns each off for its "before" side):
 * - `winograd`: 3x3 stride-1 layers with at least 8 input channels by Winograd's F(2x2, 3x3)
 *   (`wasm_winograd.ts`): 40 -> 22 ms for the CNN's second layer on the 2-core machine;
 * - `panelMaxTaps`: filters with at most this many rows of patches (kh * kw * inC) and a multiple
 *   of 8 output channels as anneal's `panelProduct` kernel: 2.3-3x faster at 9 taps (a 3x3
 *   filter over one channel), slower at 27 (three channels) and at 288. With `gemmProducts`
 *   on (`wasm_gemm.ts`), every product that kernel covers runs there instead, whatever its taps.
 */
export const filterGradients = { winograd: true, panelMaxTaps: 12 };

/**
 * dL/dw as patches(x)ᵀ · dy: one product on anneal's gemm (or XNNPACK's, through wasm's
 * BatchMatMul, where gemm does not cover it), or anneal's panel product for a few taps.
 */
function backpropFilter(args: KernelArgs): tf.TensorInfo | undefined {
  const call = filterGradientCall(args);
  if (!call) return;
  const { x, dy, conv } = call;
  const backend = args.backend;
  const [kh, kw, inC, outC] = (args.attrs as unknown as tf.Conv2DBackpropFilterAttrs).filterShape;
  const rows = conv.batchSize * conv.outHeight * conv.outWidth;
  if (rows === 0) return;
  const winograd = filterGradients.winograd
    ? winogradFilterGradient(backend, x, dy, conv)
    : undefined;
  if (winograd) return winograd;
  const wasm = wasmInternals(backend);
  // channels first ([inC, batch, h, w]) so that every patch row reads the input in order
  const planes = inC > 1 ? runWasmKernel("Transpose", { x }, { perm: [3, 0, 1, 2] }, backend) : x;
  const patches = transposedPatches(wasm, planes, conv);
  if (planes !== x) wasm.disposeData(planes.dataId, true);
  try {
    const simd = simdKernels(wasm);
    const taps = kh * kw * inC;
    if (simd && outC % 8 === 0 && taps <= filterGradients.panelMaxTaps) {
      // A first layer's few taps: XNNPACK's tiles would be mostly padding, and it first repacks
      // dy (or, swapped, transposes it). 20 -> 8 ms for the CNN's [128,28,28,1] to 32 channels.
      const out = wasm.makeOutput([kh, kw, inC, outC], "float32");
      const [a, b, c] = [patches, dy, out].map((info) => heapAddress(wasm, info));
      // rows of the result over the kernel pool's threads
      const threads = kernelPool(backend);
      if (gemmCovers(taps, outC)) {
        runGemm(backend, { a, b, out: c, m: taps, k: rows, n: outC, aRow: 4 * rows, aStep: 4 });
      } else if (threads) {
        threads.run(
          "panelProduct",
          splitRange(taps, threads.threads, 3).map(([from, to]) => [
            a + 4 * from * rows,
            b,
            c + 4 * from * outC,
            to - from,
            rows,
            outC,
            4 * rows,
            4,
          ]),
        );
      } else simd.panelProduct(a, b, c, taps, rows, outC, 4 * rows, 4);
      return out;
    }
    // One product over the whole batch: cutting the shared dimension into products of a few
    // hundred positions (each one's dy panel in cache), summed, measured 1.0-1.4x slower.
    const product = runWasmKernel(
      "BatchMatMul",
      { a: patches, b: { ...dy, shape: [rows, outC] } },
      { transposeA: false, transposeB: false },
      backend,
    );
    return { ...product, shape: [kh, kw, inC, outC] };
  } finally {
    wasm.disposeData(patches.dataId, true);
  }
}

/**
 * Largest kh * kw * inC of a forward convolution run as patches · filter on anneal's gemm: a first
 * layer's few taps, where XNNPACK's direct convolution reached ~5 GFLOP/s on the CNN's
 * [128,28,28,1] to 32 channels. Measured on the 2-core machine against XNNPACK's (one thread;
 * two): 9 taps 1.84x, 1.04x; 18 taps 1.12x, 0.98x; 27 taps (three channels) 0.90x, 0.71x.
 */
export const PATCH_CONV_MAX_TAPS = 12;

/**
 * A forward convolution with few taps as one product: the transposed patches [taps, positions]
 * (the filter gradient's, read through strides as [positions, taps]) times the filter, which
 * in NHWC is already [taps, outC] row-major, added to the bias. Declines activations, more taps,
 * and what gemm does not cover.
 */
function patchConv2D(args: KernelArgs): tf.TensorInfo | undefined {
  const call = convCall(args);
  if (!call || call.activation !== "linear") return;
  const { x, filter, bias, conv } = call;
  const { filterHeight: kh, filterWidth: kw, inChannels: inC, outChannels: outC } = conv;
  const taps = kh * kw * inC;
  const rows = conv.batchSize * conv.outHeight * conv.outWidth;
  const wasm = wasmInternals(args.backend);
  if (taps > PATCH_CONV_MAX_TAPS || !gemmCovers(rows, outC) || !simdKernels(wasm)) return;
  // channels first ([inC, batch, h, w]) so that every patch row reads the input in order
  const planes = inC > 1
    ? runWasmKernel("Transpose", { x }, { perm: [3, 0, 1, 2] }, args.backend)
    : x;
  const patches = transposedPatches(wasm, planes, conv);
  if (planes !== x) wasm.disposeData(planes.dataId, true);
  try {
    const out = wasm.makeOutput(
      [conv.batchSize, conv.outHeight, conv.outWidth, outC],
      "float32",
    );
    if (bias) fillRows(heapFloats(wasm, out), heapFloats(wasm, bias), rows, outC);
    runGemm(args.backend, {
      a: heapAddress(wasm, patches),
      b: heapAddress(wasm, filter),
      out: heapAddress(wasm, out),
      m: rows,
      k: taps,
      n: outC,
      aRow: 4,
      aStep: 4 * rows,
      accumulate: bias !== undefined,
    });
    return out;
  } finally {
    wasm.disposeData(patches.dataId, true);
  }
}

/**
 * The patches of the input under every output position, transposed: [kh*kw*inC,
 * batch*outH*outW] (row (i, j, c) holds input channel c at tap (i, j) of every window; zeros in
 * the padding), from the input laid out channels first (`planes`, [inC, batch, h, w]). Laid out
 * so that the product with dy needs no transpose: XNNPACK multiplies [288, 25088] by
 * [25088, 64] in ~35 ms where dyᵀ·patches, the same numbers, takes ~180 ms.
 */
function transposedPatches(
  wasm: WasmBackendInternals,
  planes: tf.TensorInfo,
  conv: tf.backend_util.Conv2DInfo,
): tf.TensorInfo {
  const { filterHeight: kh, filterWidth: kw, inChannels: c, inHeight, inWidth } = conv;
  const { batchSize, outHeight, outWidth, strideHeight: sh, strideWidth: sw } = conv;
  const { top, left } = conv.padInfo;
  const rows = batchSize * outHeight * outWidth;
  const out = wasm.makeOutput([kh * kw * c, rows], "float32");
  const source = heapFloats(wasm, planes);
  const target = heapFloats(wasm, out);
  if (sh === 1 && sw === 1 && outHeight === inHeight && outWidth === inWidth) {
    shiftedPatches(conv, source, target, simdKernels(wasm));
    return out;
  }
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      // output columns whose input column ow*sw + j - left lies inside the image
      const owFirst = Math.min(outWidth, Math.max(0, Math.ceil((left - j) / sw)));
      const owEnd = Math.max(owFirst, Math.min(outWidth, Math.ceil((inWidth + left - j) / sw)));
      for (let ch = 0; ch < c; ch++) {
        let to = ((i * kw + j) * c + ch) * rows;
        for (let b = 0; b < batchSize; b++) {
          for (let oh = 0; oh < outHeight; oh++, to += outWidth) {
            const r = oh * sh + i - top;
            if (r < 0 || r >= inHeight) {
              target.fill(0, to, to + outWidth);
              continue;
            }
            if (owFirst > 0) target.fill(0, to, to + owFirst);
            let from = ((ch * batchSize + b) * inHeight + r) * inWidth + owFirst * sw + j - left;
            for (let ow = owFirst; ow < owEnd; ow++, from += sw) target[to + ow] = source[from];
            if (owEnd < outWidth) target.fill(0, to + owEnd, to + outWidth);
          }
        }
      }
    }
  }
  return out;
}

/**
 * `transposedPatches` for stride 1 with the output as large as the input ("same" padding): the
 * patch row of tap (i, j) over one image is the image itself shifted by (i - top) rows and
 * (j - left) columns, so it is one block copy (within the heap's memory) per tap, channel and
 * image, then zeros where the shift reaches past the image's edges.
 */
function shiftedPatches(
  conv: tf.backend_util.Conv2DInfo,
  source: Float32Array,
  target: Float32Array,
  simd: SimdKernels | undefined,
) {
  const { filterHeight: kh, filterWidth: kw, inChannels: c, inHeight: h, inWidth: w } = conv;
  const { batchSize } = conv;
  const { top, left } = conv.padInfo;
  const plane = h * w;
  const rows = batchSize * plane;
  // one view of the whole heap: blocks move without allocating, by memory.copy and memory.fill
  // (anneal's SIMD module) or else copyWithin and fill (~2x slower on a shared memory)
  const heap = new Float32Array(target.buffer);
  const sourceAt = source.byteOffset / 4, targetAt = target.byteOffset / 4;
  const zero = simd
    ? (from: number, to: number) => simd.zero(4 * from, 4 * (to - from))
    : (from: number, to: number) => heap.fill(0, from, to);
  const copy = simd
    ? (to: number, from: number, end: number) => simd.copy(4 * to, 4 * from, 4 * (end - from))
    : (to: number, from: number, end: number) => heap.copyWithin(to, from, end);
  for (let i = 0; i < kh; i++) {
    // within [0, h], as the columns below: a tap may reach no row of the image
    const rowFirst = Math.min(h, Math.max(0, top - i));
    const rowEnd = Math.max(rowFirst, Math.min(h, h + top - i));
    for (let j = 0; j < kw; j++) {
      const dc = j - left;
      // within [0, w]: a filter wider than the image ("same" padding on a 1- or 2-wide map) has
      // taps that reach no column, whose rows are all zeros (unclamped, the zeroing loops below
      // wrote outside the row and the copy's length went negative: out of bounds)
      const colFirst = Math.min(w, Math.max(0, -dc));
      const colEnd = Math.max(colFirst, Math.min(w, w - dc));
      const shift = (i - top) * w + dc;
      for (let ch = 0; ch < c; ch++) {
        let to = targetAt + ((i * kw + j) * c + ch) * rows;
        for (let b = 0; b < batchSize; b++, to += plane) {
          const from = sourceAt + (ch * batchSize + b) * plane;
          if (rowFirst > 0) zero(to, to + rowFirst * w);
          if (rowEnd > rowFirst && colEnd === colFirst) zero(to + rowFirst * w, to + rowEnd * w);
          else if (rowEnd > rowFirst) {
            // a reach past the plane's ends only lands on the columns zeroed below
            const start = from + rowFirst * w + shift, end = from + rowEnd * w + shift;
            const lo = Math.max(start, sourceAt), hi = Math.min(end, sourceAt + source.length);
            copy(to + rowFirst * w + (lo - start), lo, hi);
            for (let r = rowFirst; r < rowEnd; r++) {
              for (let q = 0; q < colFirst; q++) heap[to + r * w + q] = 0;
              for (let q = colEnd; q < w; q++) heap[to + r * w + q] = 0;
            }
          }
          if (rowEnd < h) zero(to + rowEnd * w, to + plane);
        }
      }
    }
  }
}

/**
 * Puts the XNNPACK versions of `Conv2DBackpropInput` and `Conv2DBackpropFilter` in front of the
 * wasm kernels registered now (tfjs's loop; anneal's per-tap filter gradient), which still run
 * the cases these decline. Call after those are registered. Returns the kernels overridden.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { registerWasmTrainingKernels, selectBackend } from "./backend.ts";
 * import { routeConvGradients } from "./wasm_conv.ts";
 * await selectBackend("wasm");
 * registerWasmTrainingKernels();
 * routeConvGradients();
 * const dy = tf.ones([1, 4, 4, 2]) as tf.Tensor4D;
 * const dx = tf.conv2dTranspose(dy, tf.ones([3, 3, 1, 2]) as tf.Tensor4D, [1, 4, 4, 1], 1, "same");
 * console.assert(dx.dataSync()[5] === 18); // an inner pixel: 9 taps x 2 channels
 * ```
 */
export function routeConvGradients(): string[] {
  const routed: string[] = [];
  for (const name of ["Conv2D", "FusedConv2D"]) {
    if (overrideWasmKernel(name, patchConv2D)) routed.push(name);
  }
  if (overrideWasmKernel("Conv2DBackpropInput", backpropInput)) routed.push("Conv2DBackpropInput");
  if (overrideWasmKernel("Conv2DBackpropFilter", backpropFilter)) {
    routed.push("Conv2DBackpropFilter");
  }
  return routed;
}
