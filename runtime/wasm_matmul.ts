/**
 * Transposed matrix products on XNNPACK for the wasm backend.
 *
 * tfjs-backend-wasm 4.22 multiplies through XNNPACK (SIMD, on the backend's threads) only when
 * neither operand is transposed; `matMul(a, b, transposeA, transposeB)` otherwise runs a plain
 * blocked loop on one thread. A dense layer's backward pass is exactly those products (dW = xᵀ·dy,
 * dx = dy·Wᵀ), as are the conv filter gradients of `backend.ts`: measured on a 2-core machine,
 * 256x784 by 256x512 takes ~190 ms in the loop and ~12-16 ms on XNNPACK. So wasm's `BatchMatMul`
 * is replaced by one that writes the transposed operand out first (wasm's `Transpose`, under a
 * millisecond for such sizes) and calls tfjs's own kernel untransposed. XNNPACK packs its right
 * operand on every call with a new tensor, at ~8 ns a value, so a product whose right operand is
 * far larger than its left is run swapped, as (Bᵀ·Aᵀ)ᵀ (`matMulPlan`). Batched products (more
 * than one matrix per operand) keep tfjs's path: XNNPACK's is for single matrices. Single
 * products that anneal's `gemm` kernel covers run there first (`wasm_gemm.ts`).
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { gemmMatMul, leftOperand, matrices } from "./wasm_gemm.ts";

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

interface WasmDataBackend {
  disposeData(dataId: object): boolean;
}

let stockMatMul: tf.KernelConfig | undefined;

/** Swaps the last two axes of `x` with wasm's Transpose kernel; the caller disposes the result. */
function swapLastAxes(x: tf.TensorInfo, backend: tf.KernelBackend): tf.TensorInfo {
  const perm = x.shape.map((_, axis) => axis);
  const rank = perm.length;
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  const transpose = tf.getKernel("Transpose", "wasm")!;
  return transpose.kernelFunc({ inputs: { x }, backend, attrs: { perm } }) as tf.TensorInfo;
}

/**
 * Nanoseconds per value, measured on a 2-core machine: XNNPACK packing the right operand (the
 * "weights" of its fully-connected operator, repacked whenever that tensor is new: for a
 * gradient, every step), and anneal's SIMD transpose.
 */
const PACK_NS = 8;
const TRANSPOSE_NS = 1.5;

/**
 * How to run A·B (A [m, k], B [k, n] after the transposes asked for) on XNNPACK: as it is,
 * packing B (k·n values), or as (Bᵀ·Aᵀ)ᵀ, packing Aᵀ (k·m values): whichever costs less with
 * the transposes each needs. A conv filter gradient [9, 100352]·[100352, 32] packs 3.2M values
 * as it is and 0.9M swapped (30.7 against 11.8 ms); dy·Wᵀ of a dense layer packs W's 400K
 * values as it is and dy's 16K swapped.
 */
export function matMulPlan(
  a: readonly number[],
  b: readonly number[],
  transposeA: boolean,
  transposeB: boolean,
): "direct" | "swapped" {
  const { m, k } = leftOperand(a, transposeA);
  const rb = b.length;
  const n = transposeB ? b[rb - 2] : b[rb - 1];
  const direct = PACK_NS * k * n +
    TRANSPOSE_NS * ((transposeA ? m * k : 0) + (transposeB ? k * n : 0));
  const swapped = PACK_NS * k * m +
    TRANSPOSE_NS * ((transposeB ? 0 : k * n) + (transposeA ? 0 : m * k) + m * n);
  return swapped < direct ? "swapped" : "direct";
}

const routedMatMul: tf.KernelFunc = (args) => {
  const stock = stockMatMul!.kernelFunc;
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = args.attrs as unknown as MatMulAttrs;
  if (matrices(a.shape) !== 1 || matrices(b.shape) !== 1) return stock(args);
  const backend = args.backend as tf.KernelBackend;
  const product = gemmMatMul(
    backend,
    a,
    b,
    transposeA,
    transposeB,
    (x) => swapLastAxes(x, backend),
  );
  if (product) return product;
  const swapped = matMulPlan(a.shape, b.shape, transposeA, transposeB) === "swapped";
  if (!swapped && !transposeA && !transposeB) return stock(args);
  const wasm = backend as unknown as WasmDataBackend;
  // direct: A·B; swapped: Bᵀ·Aᵀ, transposed back
  const left = swapped
    ? (transposeB ? b : swapLastAxes(b, backend))
    : (transposeA ? swapLastAxes(a, backend) : a);
  const right = swapped
    ? (transposeA ? a : swapLastAxes(a, backend))
    : (transposeB ? swapLastAxes(b, backend) : b);
  try {
    const product = stock({
      ...args,
      inputs: { a: left, b: right },
      attrs: { ...args.attrs, transposeA: false, transposeB: false },
    }) as tf.TensorInfo;
    if (!swapped) return product;
    try {
      return swapLastAxes(product, backend);
    } finally {
      wasm.disposeData(product.dataId);
    }
  } finally {
    if (left !== a && left !== b) wasm.disposeData(left.dataId);
    if (right !== a && right !== b) wasm.disposeData(right.dataId);
  }
};

/**
 * Makes wasm's `BatchMatMul` send transposed single-matrix products to XNNPACK (once; later
 * calls do nothing). Returns false when tfjs-backend-wasm has not registered the kernel.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-wasm@4.22.0";
 * import { routeTransposedMatMul } from "./wasm_matmul.ts";
 * console.assert(routeTransposedMatMul());
 * await tf.setBackend("wasm");
 * const dw = tf.matMul(tf.ones([4, 3]), tf.ones([4, 2]), true, false); // [3, 2] of 4s
 * ```
 */
export function routeTransposedMatMul(): boolean {
  const current = tf.getKernel("BatchMatMul", "wasm");
  if (!current) return false;
  if (current.kernelFunc === routedMatMul) return true;
  stockMatMul = current;
  tf.unregisterKernel("BatchMatMul", "wasm");
  tf.registerKernel({ ...current, kernelFunc: routedMatMul });
  return true;
}
