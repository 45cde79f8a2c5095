/**
 * Broadcast and reduction kernels for the batch-norm gradient on tfjs-backend-wasm.
 *
 * tfjs's `FusedBatchNorm` gradient tiles 1/sqrt(var+eps) from [1, 1, 1, C] to the activation's
 * full shape and sums four activation-sized products over the batch and spatial axes; `moments`
 * takes means over the same axes. tfjs-wasm 4.22 tiles element by element through index
 * arithmetic (~150 ms for [128, 28, 28, 32] on one core) and reduces over leading axes by first
 * transposing them to the end. Here:
 *
 * - `Tile`: the input is written once, then every axis is repeated by copying whole contiguous
 *   blocks (`copyWithin`), innermost axis first: memory speed.
 * - `Sum` and `Mean` over leading axes (`[0, 1, 2]` of NHWC): rows added into a float64
 *   accumulator in one pass, no transpose. Other axes go to tfjs's kernels.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { simdKernels } from "./wasm_simd/kernels.ts";
import {
  heapFloats,
  type KernelArgs,
  overrideWasmKernel,
  type WasmBackendInternals,
  wasmInternals,
} from "./wasm_heap.ts";

/** `Tile` by block copies: axis d's first copy is built from the axes inside it, then repeated. */
function tile({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo | undefined {
  const { x } = inputs as { x: tf.TensorInfo };
  const reps = (attrs as unknown as tf.TileAttrs).reps;
  if (x.dtype === "string" || x.dtype === "complex64" || reps.length !== x.shape.length) return;
  const shape = x.shape.map((size, axis) => size * reps[axis]);
  const wasm = wasmInternals(backend);
  const out = wasm.makeOutput(shape, x.dtype);
  if (shape.some((size) => size === 0)) return out;
  const source = wasm.typedArrayFromHeap(x);
  const target = wasm.typedArrayFromHeap(out);
  const rank = shape.length;
  const inStrides = [...tf.util.computeStrides(x.shape), 1];
  const outStrides = [...tf.util.computeStrides(shape), 1];
  const fill = (axis: number, from: number, to: number): void => {
    if (axis === rank - 1) {
      target.set(source.subarray(from, from + x.shape[axis]), to);
    } else {
      for (let i = 0; i < x.shape[axis]; i++) {
        fill(axis + 1, from + i * inStrides[axis], to + i * outStrides[axis]);
      }
    }
    const block = x.shape[axis] * outStrides[axis];
    const end = to + block * reps[axis];
    for (let filled = block; filled < block * reps[axis]; filled *= 2) {
      target.copyWithin(to + filled, to, Math.min(to + filled, end - filled));
    }
  };
  if (rank === 0) target[0] = source[0];
  else fill(0, 0, 0);
  return out;
}

/**
 * The size of the leading axes reduced and of the rest, when `axes` are exactly the leading
 * axes of `shape` (and not all of them innermost as well, which tfjs's kernels do well).
 */
function leadingReduction(shape: number[], axis: number | number[]) {
  const axes = tf.util.parseAxisParam(axis, shape).sort((p, q) => p - q);
  if (axes.length === 0 || axes.length === shape.length) return undefined;
  if (axes.some((a, i) => a !== i)) return undefined;
  const outer = tf.util.sizeFromShape(shape.slice(0, axes.length));
  const inner = tf.util.sizeFromShape(shape.slice(axes.length));
  return { axes, outer, inner, outShape: shape.slice(axes.length) };
}

/** Sums (or averages) the `outer` rows of `inner` values of x into a new heap tensor. */
function reduceRows(
  wasm: WasmBackendInternals,
  x: tf.TensorInfo,
  reduction: NonNullable<ReturnType<typeof leadingReduction>>,
  keepDims: boolean,
  average: boolean,
): tf.TensorInfo {
  const { axes, outer, inner, outShape } = reduction;
  const shape = keepDims ? tf.backend_util.expandShapeToKeepDim(outShape, axes) : outShape;
  const out = wasm.makeOutput(shape, "float32");
  const simd = simdKernels(wasm);
  // float64 sums: on the heap for anneal's SIMD kernel, else in JavaScript
  const scratch = simd ? wasm.makeOutput([2 * inner], "float32") : undefined;
  const source = heapFloats(wasm, x);
  const target = heapFloats(wasm, out);
  let accumulator: Float64Array;
  if (simd && scratch) {
    const floats = heapFloats(wasm, scratch);
    accumulator = new Float64Array(floats.buffer, floats.byteOffset, inner).fill(0);
    simd.columnSums(source.byteOffset, outer, inner, accumulator.byteOffset);
  } else {
    accumulator = new Float64Array(inner);
    for (let row = 0, offset = 0; row < outer; row++, offset += inner) {
      for (let k = 0; k < inner; k++) accumulator[k] += source[offset + k];
    }
  }
  const scale = average ? 1 / outer : 1;
  for (let k = 0; k < inner; k++) target[k] = accumulator[k] * scale;
  if (scratch) wasm.disposeData(scratch.dataId, true);
  return out;
}

function reduceKernel(average: boolean) {
  return ({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo | undefined => {
    const { x } = inputs as { x: tf.TensorInfo };
    const { axis, keepDims } = attrs as unknown as tf.SumAttrs;
    if (x.dtype !== "float32") return;
    const reduction = leadingReduction(x.shape, axis);
    if (!reduction || reduction.inner === 0 || reduction.outer === 0) return;
    return reduceRows(wasmInternals(backend), x, reduction, keepDims, average);
  };
}

/**
 * Puts the block-copy `Tile` and the leading-axes `Sum` and `Mean` in front of tfjs-wasm's
 * kernels, which still run the cases these decline. Returns the kernels overridden.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { selectBackend } from "./backend.ts";
 * import { routeBroadcastReductions } from "./wasm_reduce.ts";
 * await selectBackend("wasm");
 * routeBroadcastReductions();
 * const tiled = tf.tile(tf.tensor4d([1, 2], [1, 1, 1, 2]), [3, 2, 2, 1]); // [3, 2, 2, 2]
 * console.assert(tf.sum(tiled, [0, 1, 2]).dataSync()[1] === 24);
 * ```
 */
export function routeBroadcastReductions(): string[] {
  const kernels: [string, (args: KernelArgs) => tf.TensorInfo | undefined][] = [
    ["Tile", tile],
    ["Sum", reduceKernel(false)],
    ["Mean", reduceKernel(true)],
  ];
  return kernels.filter(([name, kernel]) => overrideWasmKernel(name, kernel)).map(([name]) => name);
}
