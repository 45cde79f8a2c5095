/**
 * Transposed matrix products on XNNPACK for the wasm backend.
 *
 * tfjs-backend-wasm 4.22 multiplies through XNNPACK (SIMD, on the backend's threads) only when
 * neither operand is transposed; `matMul(a, b, transposeA, transposeB)` otherwise runs a plain
 * blocked loop on one thread. A dense layer's backward pass is exactly those products (dW = xᵀ·dy,
 * dx = dy·Wᵀ), as are the conv filter gradients of `backend.ts`: measured on a 2-core machine,
 * 256x784 by 256x512 takes ~190 ms in the loop and ~12-16 ms on XNNPACK. So wasm's `BatchMatMul`
 * is replaced by one that writes the transposed operand out first (wasm's `Transpose`, under a
 * millisecond for such sizes) and calls tfjs's own kernel untransposed. Batched products (more
 * than one matrix per operand) keep tfjs's path: XNNPACK's is for single matrices.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

interface WasmDataBackend {
  disposeData(dataId: object): boolean;
}

let stockMatMul: tf.KernelConfig | undefined;

/** The number of matrices in a tensor of `shape` (the product of its leading dimensions). */
function matrices(shape: number[]): number {
  return shape.slice(0, -2).reduce((product, size) => product * size, 1);
}

/** Swaps the last two axes of `x` with wasm's Transpose kernel; the caller disposes the result. */
function swapLastAxes(x: tf.TensorInfo, backend: tf.KernelBackend): tf.TensorInfo {
  const perm = x.shape.map((_, axis) => axis);
  const rank = perm.length;
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  const transpose = tf.getKernel("Transpose", "wasm")!;
  return transpose.kernelFunc({ inputs: { x }, backend, attrs: { perm } }) as tf.TensorInfo;
}

const routedMatMul: tf.KernelFunc = (args) => {
  const stock = stockMatMul!.kernelFunc;
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = args.attrs as unknown as MatMulAttrs;
  if ((!transposeA && !transposeB) || matrices(a.shape) !== 1 || matrices(b.shape) !== 1) {
    return stock(args);
  }
  const backend = args.backend as tf.KernelBackend;
  const plainA = transposeA ? swapLastAxes(a, backend) : a;
  const plainB = transposeB ? swapLastAxes(b, backend) : b;
  try {
    return stock({
      ...args,
      inputs: { a: plainA, b: plainB },
      attrs: { ...args.attrs, transposeA: false, transposeB: false },
    });
  } finally {
    const wasm = backend as unknown as WasmDataBackend;
    if (plainA !== a) wasm.disposeData(plainA.dataId);
    if (plainB !== b) wasm.disposeData(plainB.dataId);
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
