/**
 * anneal's SIMD kernels (`kernels.wat`), instantiated on tfjs-backend-wasm's own memory so that
 * they work in place on its tensors. TypeScript kernels over the wasm heap (batch norm, pooling
 * gradients) call these for their element-wise passes: ~4x fewer instructions than a JavaScript
 * loop over the same Float32Array.
 *
 * @module
 */
import { kernelBytes } from "./pool_layout.ts";

/**
 * A product's arguments: a, b and out (byte offsets), out's rows, the depth, out's columns, and
 * the byte strides of a between rows and between consecutive k.
 */
export type ProductArgs = [
  a: number,
  b: number,
  out: number,
  rows: number,
  depth: number,
  cols: number,
  aRow: number,
  aStep: number,
];

/** The exports of kernels.wat; pointers are byte offsets in tfjs-wasm's memory. */
export interface SimdKernels {
  /**
   * s1[c] += p - cp[c], s2[c] += (p - cp[c]) * (q - cq[c]) over [rows, channels] (float64 sums;
   * float32 within blocks of 64 rows, in `block`: 2 * channels float32 of scratch).
   */
  centredSums(
    p: number,
    cp: number,
    q: number,
    cq: number,
    rows: number,
    channels: number,
    s1: number,
    s2: number,
    block: number,
  ): void;
  /** out = p * a[c] + q * b[c] + k[c] over [rows, channels]; q = 0 leaves out the q term. */
  affine(
    p: number,
    q: number,
    out: number,
    rows: number,
    channels: number,
    a: number,
    b: number,
    k: number,
  ): void;
  /** sums[c] += x[r, c] over x [rows, columns] (float64 sums). */
  columnSums(x: number, rows: number, columns: number, sums: number): void;
  /** dx = dy where x > 0, else 0, over n values. */
  reluGrad(dy: number, x: number, dx: number, n: number): void;
  /** Copies `bytes` bytes from `from` to `to` (memory.copy; the ranges may overlap). */
  copy(to: number, from: number, bytes: number): void;
  /** Zeroes `bytes` bytes at `to` (memory.fill). */
  zero(to: number, bytes: number): void;
  /**
   * Winograd F(2x2, 3x3) input transform: the 4x4 windows of the padded input xp [batch,
   * 2 * tilesH + 2, 2 * tilesW + 2, channels] to the 16 matrices [tiles, channels] whose
   * addresses are the 16 int32 at `table`.
   */
  winogradInput(
    xp: number,
    table: number,
    batch: number,
    tilesH: number,
    tilesW: number,
    channels: number,
  ): void;
  /**
   * Winograd F(2x2, 3x3) output transform: the 16 matrices [tiles, channels] at the addresses
   * in `table` to out [batch, outH, outW, channels], plus bias [channels], relu when `relu` is 1.
   */
  winogradOutput(
    table: number,
    bias: number,
    out: number,
    batch: number,
    tilesH: number,
    tilesW: number,
    outH: number,
    outW: number,
    channels: number,
    relu: number,
  ): void;
  /**
   * out [rows, cols] = a [rows, depth] · b [depth, cols], b and out row-major, out overwritten;
   * `cols` must be a multiple of 8. a is read with byte strides `aRow` between rows and `aStep`
   * between consecutive k (row-major a: depth * 4 and 4). For a long `depth` and a small result
   * (a filter gradient).
   */
  panelProduct(...args: ProductArgs): void;
  /**
   * out [rows, cols] = a [rows, depth] · b [depth, cols], plus out's own values when
   * `accumulate` is 1 (else out is overwritten): b and out row-major, `cols` a multiple of 8, a
   * read with byte strides `aRow` and `aStep` as in `panelProduct`. `pack` is
   * {@link GEMM_PACK_BYTES} of scratch (one per concurrent call). For any size.
   */
  gemm(...args: [...ProductArgs, pack: number, accumulate: number]): void;
  /**
   * out [rows, cols] += a [rows, depth] · b [depth, cols] in float64, each value adding its
   * products in the order of k as a multiply then an add: bit for bit the scalar loop. b and out
   * row-major, a read with byte strides `aRow` and `aStep` as in `gemm`; any `cols`.
   */
  gemm64(...args: ProductArgs): void;
  /**
   * In place over n float64 values: x = fround(relu(x)) when `relu` is 1 (a NaN and -0 pass),
   * else x = fround(x); as the host step's JavaScript loop, value for value.
   */
  hostActivate(x: number, n: number, relu: number): void;
  /** In place over n float64 values: d = d * (a > 0 ? 1 : 0), as the host step's loop. */
  hostReluGrad(d: number, a: number, n: number): void;
  /**
   * Winograd F(2x2, 3x3) for the filter gradient: the 16 matrices [tiles, channels] at the
   * addresses in `table` get A dY At of every 2x2 tile of dy [batch, outH, outW, channels].
   */
  winogradGradient(
    dy: number,
    table: number,
    batch: number,
    tilesH: number,
    tilesW: number,
    outH: number,
    outW: number,
    channels: number,
  ): void;
  /** dst [cols, rows] = src [rows, cols] transposed, `count` matrices in a row (4-byte values). */
  transpose(src: number, dst: number, count: number, rows: number, cols: number): void;
  /**
   * One Adam/AdamW step over n values into new buffers: m', v' (and vmax' when amsgrad is 1),
   * and the parameter's new value p' = decay p - (stepSize m') / (sqrt(s) / root2 + eps), where
   * d = gradSign * g + coupled * p (gradSign -1 for torch's maximize, else 1), s = v' (or
   * max(vmax, v')), m' = beta1 m + beta1c d and v' = beta2 v + (beta2c d) d (torch's addcmul_ order); beta1c (1 - beta1),
   * beta2c, stepSize (lr / (1 - beta1^t)) and decay (AdamW's 1 - lr wd, else 1) are torch's
   * float64 scalars, rounded once.
   */
  adamUpdate(
    p: number,
    g: number,
    m: number,
    v: number,
    vmax: number,
    outP: number,
    outM: number,
    outV: number,
    outVmax: number,
    n: number,
    amsgrad: number,
    beta1: number,
    beta2: number,
    eps: number,
    beta1c: number,
    beta2c: number,
    root2: number,
    stepSize: number,
    coupled: number,
    decay: number,
    gradSign: number,
  ): void;
  /**
   * One SGD step of n values (see kernels.wat's `sgdUpdate`): p' to outP and, with momentum,
   * the buffer to outBuf; flags as 0 or 1.
   */
  sgdUpdate(
    p: number,
    g: number,
    buf: number,
    outP: number,
    outBuf: number,
    n: number,
    useMomentum: number,
    hasBuf: number,
    nesterov: number,
    hasWd: number,
    gradSign: number,
    wd: number,
    momentum: number,
    damp1: number,
    negLr: number,
  ): void;
  /**
   * An LSTM cell's step, torch's gates (i, f, g, o): from z [rows, 4 units] and c [rows, units],
   * cn = sigmoid(f) c + sigmoid(i) tanh(g) and h = sigmoid(o) tanh(cn) [rows, units].
   */
  lstmCell(z: number, c: number, h: number, cn: number, rows: number, units: number): void;
  /**
   * The gradient of `lstmCell` at z (into dz [rows, 4 units]) and at c (into dc [rows, units])
   * from dh and dcn [rows, units], the gates computed again from z.
   */
  lstmCellGrad(
    z: number,
    c: number,
    dh: number,
    dcn: number,
    dz: number,
    dc: number,
    rows: number,
    units: number,
  ): void;
  /**
   * A GRU cell's step, torch's (gates z, r, n in tfjs's order): from xp and hp [rows, 3 units] and
   * h [rows, units], out = n + z (h - n) [rows, units].
   */
  gruCell(xp: number, hp: number, h: number, out: number, rows: number, units: number): void;
  /**
   * The gradient of `gruCell` at xp and hp (into dxp and dhp [rows, 3 units]) and at h (into dh
   * [rows, units]) from dy [rows, units], the gates computed again.
   */
  gruCellGrad(
    xp: number,
    hp: number,
    h: number,
    dy: number,
    dxp: number,
    dhp: number,
    dh: number,
    rows: number,
    units: number,
  ): void;
  /**
   * dL/dx of 2x2 stride 2 max pooling, windows from (0, 0) inside the image, channels a
   * multiple of 4; returns 1 when an output is NaN (dx then incomplete).
   */
  maxPoolGrad2x2(
    x: number,
    y: number,
    dy: number,
    dx: number,
    batch: number,
    inH: number,
    inW: number,
    channels: number,
    outH: number,
    outW: number,
  ): number;
  /**
   * 2x2 stride 2 max pooling, windows from (0, 0) inside the image, channels a multiple of 4, by
   * torch's rule (a window holding a NaN gives NaN; ties keep the first maximum).
   */
  maxPool2x2(
    x: number,
    y: number,
    batch: number,
    inH: number,
    inW: number,
    channels: number,
    outH: number,
    outW: number,
  ): void;
}

/** Bytes of scratch a `gemm` call packs b into (128 rows of 256 float32 columns). */
export const GEMM_PACK_BYTES = 128 * 256 * 4;

const instances = new WeakMap<WebAssembly.Memory, SimdKernels | null>();

/** tfjs-wasm's memory, from the backend object (its emscripten module's). */
export function kernelMemory(backend: unknown): WebAssembly.Memory | undefined {
  const module = (backend as {
    wasm?: { wasmMemory?: WebAssembly.Memory; asm?: { memory?: WebAssembly.Memory } };
  }).wasm;
  const memory = module?.wasmMemory ?? module?.asm?.memory;
  return memory instanceof WebAssembly.Memory ? memory : undefined;
}

/**
 * The kernels on `backend`'s memory (a tfjs-backend-wasm backend), or undefined where they
 * cannot run (no WebAssembly SIMD, or a backend that is not tfjs-wasm): callers then use their
 * TypeScript loops. Instantiated once per memory.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { selectBackend } from "../backend.ts";
 * import { simdKernels } from "./kernels.ts";
 * await selectBackend("wasm");
 * console.assert(simdKernels(tf.engine().backend) !== undefined);
 * ```
 */
export function simdKernels(backend: unknown): SimdKernels | undefined {
  const memory = kernelMemory(backend);
  if (!memory) return undefined;
  let kernels = instances.get(memory);
  if (kernels === undefined) {
    try {
      const shared = typeof SharedArrayBuffer !== "undefined" &&
        memory.buffer instanceof SharedArrayBuffer;
      const module = new WebAssembly.Module(kernelBytes(shared));
      const instance = new WebAssembly.Instance(module, { env: { memory } });
      kernels = instance.exports as unknown as SimdKernels;
    } catch {
      kernels = null; // no SIMD in this engine: the TypeScript loops run
    }
    instances.set(memory, kernels);
  }
  return kernels ?? undefined;
}
