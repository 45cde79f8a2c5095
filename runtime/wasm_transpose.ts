/**
 * Transposes on tfjs-backend-wasm as anneal's SIMD kernel (`transpose` in kernels.wat: 4x4 blocks
 * in registers) instead of tfjs-wasm's element loop: [25088, 32] to [32, 25088] (a conv filter
 * gradient's input, channels first) took ~5 ms there. Covers every permutation that is, once
 * neighbouring axes that stay together are merged, a matrix transpose ([a, b] to [b, a]) or a
 * batch of them ([n, a, b] to [n, b, a]), of 4-byte values; declines the rest.
 *
 * @module
 */
import type * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { simdKernels } from "./wasm_simd/kernels.ts";
import { heapAddress, type KernelArgs, overrideWasmKernel, wasmInternals } from "./wasm_heap.ts";

/**
 * `perm` of `shape` as `count` transposes of [rows, cols] matrices, or undefined when it is not
 * one (or moves nothing).
 *
 * @example
 * ```ts
 * import { asMatrixTranspose } from "./wasm_transpose.ts";
 * // NHWC to CNHW: [N*H*W, C] transposed
 * console.assert(JSON.stringify(asMatrixTranspose([2, 3, 4, 5], [3, 0, 1, 2])) ===
 *   JSON.stringify({ count: 1, rows: 24, cols: 5 }));
 * ```
 */
export function asMatrixTranspose(
  shape: readonly number[],
  perm: readonly number[],
): { count: number; rows: number; cols: number } | undefined {
  const groups: number[][] = [];
  for (const axis of perm) {
    const last = groups[groups.length - 1];
    if (last && axis === last[last.length - 1] + 1) last.push(axis);
    else groups.push([axis]);
  }
  const size = (group: number[]) => group.reduce((n, axis) => n * shape[axis], 1);
  if (groups.length === 2 && groups[0][0] > groups[1][0]) {
    return { count: 1, rows: size(groups[1]), cols: size(groups[0]) };
  }
  if (groups.length === 3 && groups[0][0] === 0 && groups[1][0] > groups[2][0]) {
    return { count: size(groups[0]), rows: size(groups[2]), cols: size(groups[1]) };
  }
  return undefined;
}

function simdTranspose({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo | undefined {
  const { x } = inputs as { x: tf.TensorInfo };
  const { perm } = attrs as unknown as { perm: number[] };
  if (x.dtype !== "float32" && x.dtype !== "int32") return;
  const matrix = asMatrixTranspose(x.shape, perm);
  if (!matrix || matrix.rows * matrix.cols * matrix.count === 0) return;
  const wasm = wasmInternals(backend);
  const simd = simdKernels(wasm);
  if (!simd) return;
  const out = wasm.makeOutput(perm.map((axis) => x.shape[axis]), x.dtype);
  simd.transpose(
    heapAddress(wasm, x),
    heapAddress(wasm, out),
    matrix.count,
    matrix.rows,
    matrix.cols,
  );
  return out;
}

/** Puts the SIMD transpose in front of wasm's `Transpose`; returns the kernels overridden. */
export function routeSimdTranspose(): string[] {
  return overrideWasmKernel("Transpose", simdTranspose) ? ["Transpose"] : [];
}
