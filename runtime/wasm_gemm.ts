/**
 * Matrix products on anneal's own SIMD kernel (`gemm` in kernels.wat) for the wasm backend.
 *
 * tfjs-backend-wasm multiplies through XNNPACK, which repacks its right operand for every new
 * tensor (every step, for weights the optimizer replaced and for gradients) at ~8 ns a value,
 * and whose wasm build has no fused multiply-add. `gemm` packs b in blocks as it goes (under a
 * nanosecond a value), keeps 6 x 8 blocks of the result in registers, and uses relaxed SIMD's
 * fused multiply-add where the engine has it. On one thread of the 2-core machine, alternating
 * with XNNPACK in one process on the CNN's and the MLP's dense shapes, it ran at 1.05-1.9x
 * XNNPACK's throughput with XNNPACK's weights already packed (two runs); the CNN's training step
 * was 1.34x faster with it (`bench/kernels_ab.ts`, BENCHMARKS.md). A transposed left operand
 * costs nothing (it is read through strides); a transposed right operand is transposed first.
 *
 * Used by wasm's `BatchMatMul` (`wasm_matmul.ts`: every dense layer's backward products) and
 * `_FusedMatMul` (a dense layer's forward, with its bias), by the Winograd convolutions' 16
 * products, the conv filter gradients and a first layer's few-tap convolution (`wasm_conv.ts`),
 * for single matrices whose result has a multiple of 8 columns and at least 6 rows; the rest
 * stays on XNNPACK. Rows (or whole products) are split over anneal's kernel pool when one runs.
 *
 * @module
 */
import type * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { GEMM_PACK_BYTES, simdKernels } from "./wasm_simd/kernels.ts";
import { kernelPool, splitRange } from "./wasm_simd/pool.ts";
import {
  heapAddress,
  heapFloats,
  type KernelArgs,
  overrideWasmKernel,
  wasmInternals,
} from "./wasm_heap.ts";

/**
 * `enabled`: turned off, the products go to XNNPACK as before (`bench/kernels_ab.ts`'s "before"
 * side); `calls`: products run on gemm so far (tests check a path takes it).
 */
export const gemmProducts = { enabled: true, calls: 0 };

/** Multiply-adds below which a product runs on one thread (a fork-join costs ~20-50 us). */
const THREADED_MIN_WORK = 1 << 18;

/** Whether `gemm` takes a product of these sizes (m rows of result, n columns). */
export function gemmCovers(m: number, n: number): boolean {
  return gemmProducts.enabled && n % 8 === 0 && n > 0 && m >= 6;
}

/** The number of matrices in a tensor of `shape` (the product of its leading dimensions). */
export function matrices(shape: readonly number[]): number {
  return shape.slice(0, -2).reduce((product, size) => product * size, 1);
}

/**
 * The shape of A·B for single matrices A and B: [m, n] after as many leading 1s as the operand
 * of higher rank has batch axes (tfjs broadcasts the batch axes: [6, 4]·[1, 4, 8] is [1, 6, 8]).
 */
export function productShape(
  a: readonly number[],
  b: readonly number[],
  m: number,
  n: number,
): number[] {
  return [...new Array(Math.max(a.length, b.length) - 2).fill(1), m, n];
}

/**
 * The left operand of A·B as gemm reads it, from A's `shape` (its last two axes [m, k], or [k, m]
 * when `transposed`): its rows m, its depth k, and the byte strides between its rows and between
 * its consecutive k (row-major: 4k and 4; stored transposed: 4 and 4m).
 */
export function leftOperand(
  shape: readonly number[],
  transposed: boolean,
): { m: number; k: number; aRow: number; aStep: number } {
  const [rows, cols] = [shape[shape.length - 2], shape[shape.length - 1]];
  return transposed
    ? { m: cols, k: rows, aRow: 4, aStep: 4 * cols }
    : { m: rows, k: cols, aRow: 4 * cols, aStep: 4 };
}

/** One product for `gemm`: out [m, n] = a · b (+ out when `accumulate`); heap addresses. */
export interface GemmCall {
  a: number;
  b: number;
  out: number;
  m: number;
  k: number;
  n: number;
  /** Bytes between a's rows (row-major a: 4k; a stored transposed, [k, m]: 4). */
  aRow: number;
  /** Bytes between a's consecutive k (row-major a: 4; transposed: 4m). */
  aStep: number;
  accumulate?: boolean;
}

/**
 * Runs independent products (each writing its own out), each on one thread, as many at once as
 * the kernel pool has threads. Returns false (nothing done) where the SIMD kernels cannot run.
 */
export function runGemmCalls(backend: unknown, calls: GemmCall[]): boolean {
  const wasm = wasmInternals(backend);
  const simd = simdKernels(wasm);
  if (!simd) return false;
  const pool = kernelPool(backend);
  const threads = Math.min(pool?.threads ?? 1, calls.length);
  gemmProducts.calls += calls.length;
  const scratch = wasm.makeOutput([threads * GEMM_PACK_BYTES / 4], "float32");
  try {
    const pack = heapAddress(wasm, scratch);
    const args = (call: GemmCall, slot: number) => [
      call.a,
      call.b,
      call.out,
      call.m,
      call.k,
      call.n,
      call.aRow,
      call.aStep,
      pack + slot * GEMM_PACK_BYTES,
      call.accumulate ? 1 : 0,
    ];
    for (let i = 0; i < calls.length; i += threads) {
      const group = calls.slice(i, i + threads).map(args);
      if (pool && group.length > 1) pool.run("gemm", group);
      else (simd.gemm as (...args: number[]) => void)(...group[0]);
    }
    return true;
  } finally {
    wasm.disposeData(scratch.dataId, true);
  }
}

/**
 * One product on `gemm`, its rows split over the kernel pool's threads when it is large enough
 * to gain from them. Returns false (nothing done) where the SIMD kernels cannot run.
 */
export function runGemm(backend: unknown, call: GemmCall): boolean {
  const { m, k, n } = call;
  const pool = m * k * n >= THREADED_MIN_WORK ? kernelPool(backend) : undefined;
  return runGemmCalls(
    backend,
    splitRange(m, pool?.threads ?? 1, 6).map(([from, to]) => ({
      ...call,
      a: call.a + from * call.aRow,
      out: call.out + 4 * from * n,
      m: to - from,
    })),
  );
}

/**
 * A · B on `gemm` for single float32 matrices (shapes [.., m, k] and [.., k, n] after the
 * transposes, one matrix each): a new output of {@link productShape}, or undefined
 * where `gemm` does not cover it. `transposeB` costs a transpose of B (`transposeRight`).
 */
export function gemmMatMul(
  backend: tf.KernelBackend,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  transposeRight: (b: tf.TensorInfo) => tf.TensorInfo,
): tf.TensorInfo | undefined {
  if (a.dtype !== "float32" || b.dtype !== "float32") return;
  const { m, k, aRow, aStep } = leftOperand(a.shape, transposeA);
  const rb = b.shape.length;
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (!gemmCovers(m, n) || !simdKernels(backend)) return;
  const wasm = wasmInternals(backend);
  const right = transposeB ? transposeRight(b) : b;
  try {
    const out = wasm.makeOutput(productShape(a.shape, b.shape, m, n), "float32");
    runGemm(backend, {
      a: heapAddress(wasm, a),
      b: heapAddress(wasm, right),
      out: heapAddress(wasm, out),
      m,
      k,
      n,
      aRow,
      aStep,
    });
    return out;
  } finally {
    if (right !== b) wasm.disposeData(right.dataId, true);
  }
}

/** `out` [m, n]: every row `bias` (n values, or one for all); the start of a product with bias. */
export function fillRows(out: Float32Array, bias: Float32Array, m: number, n: number): void {
  const row = out.subarray(0, n);
  if (bias.length === 1) row.fill(bias[0]);
  else row.set(bias.subarray(0, n));
  // the rows filled so far copied after themselves: log2(m) copies, not m (a conv's 100K rows)
  for (let filled = 1; filled < m; filled *= 2) {
    out.copyWithin(filled * n, 0, Math.min(filled, m - filled) * n);
  }
}

/** A bias of n values (shape [n], [1, n], ...) or of one, added to every row. */
function rowBias(bias: tf.TensorInfo, n: number): boolean {
  if (bias.dtype !== "float32") return false;
  const size = bias.shape.reduce((product, s) => product * s, 1);
  return size === 1 || (size === n && bias.shape[bias.shape.length - 1] === n);
}

interface FusedMatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
  activation: string;
}

/**
 * wasm's `_FusedMatMul` (a dense layer's forward: x · W + bias) on `gemm`: the output starts as
 * the bias in every row and the product is added to it. Declines transposed B, activations,
 * batched products and what `gemm` does not cover.
 */
function fusedMatMul(args: KernelArgs): tf.TensorInfo | undefined {
  const { a, b, bias, preluActivationWeights } = args.inputs as Record<
    string,
    tf.TensorInfo | undefined
  >;
  const { transposeA, transposeB, activation } = args.attrs as unknown as FusedMatMulAttrs;
  if (!a || !b || preluActivationWeights || transposeB) return;
  // relu stays with XNNPACK: its clamp, not a comparison, decides what a NaN becomes
  if (activation !== "linear") return;
  if (a.dtype !== "float32" || b.dtype !== "float32") return;
  if (matrices(a.shape) !== 1 || matrices(b.shape) !== 1) return;
  const { m, k, aRow, aStep } = leftOperand(a.shape, transposeA);
  const n = b.shape[b.shape.length - 1];
  if (!gemmCovers(m, n)) return;
  if (bias && !rowBias(bias, n)) return;
  const wasm = wasmInternals(args.backend);
  if (!simdKernels(wasm)) return;
  const out = wasm.makeOutput(productShape(a.shape, b.shape, m, n), "float32");
  if (bias) fillRows(heapFloats(wasm, out), heapFloats(wasm, bias), m, n);
  runGemm(args.backend, {
    a: heapAddress(wasm, a),
    b: heapAddress(wasm, b),
    out: heapAddress(wasm, out),
    m,
    k,
    n,
    aRow,
    aStep,
    accumulate: bias !== undefined,
  });
  return out;
}

/**
 * Puts `gemm` in front of wasm's `_FusedMatMul` (once). Returns false when tfjs-backend-wasm has
 * not registered the kernel.
 */
export function routeGemmFusedMatMul(): boolean {
  return overrideWasmKernel("_FusedMatMul", fusedMatMul);
}
