/**
 * Faster training kernels for tfjs's cpu backend, with tfjs's values to the bit (max pooling: but
 * for a window that holds a NaN, by torch's rule).
 *
 * tfjs-backend-cpu 4.22 computes `Conv2DBackpropFilter` one filter element at a time: for each
 * (tap, inC, outC) it sums over the batch's output positions, reading both operands through
 * `TensorBuffer.get` (an index computed from the shape on every read), `x` at a stride of `inC`
 * and `dy` at a stride of `outC`. Its `MaxPoolGrad` visits every input pixel and, for every window
 * that may cover it, reads the window's argmax through `TensorBuffer.get` again. On the benchmark
 * CNN (Fashion-MNIST, batch 128) the two took ~60 s and ~1.5 s of a ~100 s training step.
 *
 * Here the same sums run in other loop orders, the rows read and written contiguously:
 *
 * - dL/dfilter: for each output position and tap, the outer product of the input pixel's
 *   channels and `dy`'s, added into a float64 accumulator of the filter's shape;
 * - max pooling's dL/dx: each window searched once for all channels of a pixel at a time, and its
 *   `dy` added where its first maximum is (`max_pool_grad.ts`, which wasm's kernel shares), into a
 *   float64 accumulator of the input's shape;
 * - a slice, and each piece of a split: copied in runs, each as long as the slice's last axis
 *   that is cut short times the whole axes after it;
 * - a sum over leading axes: row after row added into a float64 accumulator of the kept axes'
 *   shape, no transpose;
 * - max pooling (`max_pool.ts`): each window searched once, by torch's rule for NaN. This one is
 *   not tfjs's to the bit: tfjs's kernel skips a NaN (`value > max` is false for it), anneal's
 *   gives NaN for a window that holds one, as torch does; other windows get tfjs's values.
 *
 * Each gradient element or sum still gets its terms in tfjs's order (batch, output row, output
 * column), added in float64 from 0, the same products of the same float32 values, rounded to
 * float32 once: the same bits, but for a NaN's sign, which V8 keeps to no one rule where NaNs
 * meet (tfjs's own kernel gives either from one call to the next). The slices copy the same
 * values into an array of the dtype's type, as tfjs's do. `cpu_kernels_test.ts` compares them all
 * with tfjs's kernels over drawn cases. What these decline runs tfjs's kernels: channels first,
 * other dtypes, contiguous slices (tfjs's views), sums of other axes, and the inputs tfjs's
 * kernels refuse (shapes that do not agree, negative or fractional sizes, an unknown format).
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { filterGradientCall, poolCall, poolGradCall } from "./conv_args.ts";
import { type KernelArgs, overrideKernel } from "./wasm_heap.ts";
import { addMaxPoolGrad } from "./max_pool_grad.ts";
import { maxPoolInto } from "./max_pool.ts";

/** The cpu backend's store of tensor values (tfjs-backend-cpu's `MathBackendCPU`). */
interface CpuBackend {
  data: { get(dataId: object): { values: tf.backend_util.BackendValues } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: NumericValues): tf.TensorInfo;
}

/** The values of a numeric tensor on the cpu backend. */
type NumericValues = Float32Array | Int32Array | Uint8Array;

/**
 * Puts anneal's `Conv2DBackpropFilter`, `MaxPoolGrad`, `MaxPool`, `Slice`, `SplitV` and `Sum`
 * in front of the cpu backend's (once; tfjs's answer what they decline). Returns the names of the
 * kernels overridden: none where tfjs-backend-cpu is not loaded.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
 * import { registerCpuTrainingKernels } from "./cpu_kernels.ts";
 * await tf.setBackend("cpu");
 * console.assert(registerCpuTrainingKernels().length === 6);
 * const x = tf.ones([1, 3, 3, 1]) as tf.Tensor4D;
 * const dy = tf.ones([1, 3, 3, 1]) as tf.Tensor4D;
 * const attrs = { strides: 1, pad: "same", dataFormat: "NHWC", filterShape: [3, 3, 1, 1] };
 * const dw = tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, attrs) as tf.Tensor;
 * console.assert(dw.dataSync()[4] === 9); // the centre tap sees every pixel
 * ```
 */
export function registerCpuTrainingKernels(): string[] {
  return [
    overrideKernel("cpu", "Conv2DBackpropFilter", conv2dFilterGradCpu) && "Conv2DBackpropFilter",
    overrideKernel("cpu", "MaxPoolGrad", maxPoolGradCpu) && "MaxPoolGrad",
    overrideKernel("cpu", "MaxPool", maxPoolCpu) && "MaxPool",
    overrideKernel("cpu", "Slice", sliceCpu) && "Slice",
    overrideKernel("cpu", "SplitV", splitVCpu) && "SplitV",
    overrideKernel("cpu", "Sum", sumCpu) && "Sum",
  ].filter((name): name is string => typeof name === "string");
}

/**
 * dL/dfilter [filterH, filterW, inC, outC] of an NHWC float32 convolution (no dilation) from its
 * input `x` [batch, h, w, inC] and `dy` [batch, outH, outW, outC], with tfjs's attributes and
 * values; undefined (declined) for channels-first data, other dtypes, and what tfjs's kernel
 * refuses.
 */
export function conv2dFilterGradCpu(args: KernelArgs): tf.TensorInfo | undefined {
  const call = filterGradientCall(args);
  // (what tfjs's kernel refuses, a format it does not know or a dy or filter of other shapes
  // than the convolution's, is left to it)
  if (!call || (args.attrs as { dataFormat?: string }).dataFormat !== "NHWC") return;
  const { conv } = call;
  if (
    !tf.util.arraysEqual(call.dy.shape, conv.outShape) || conv.filterShape[2] !== call.x.shape[3]
  ) return;
  const cpu = args.backend as unknown as CpuBackend;
  const x = cpu.data.get(call.x.dataId).values as Float32Array;
  const dy = cpu.data.get(call.dy.dataId).values as Float32Array;
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = conv;
  const { filterHeight, filterWidth, strideHeight, strideWidth } = conv;
  const top = conv.padInfo.top, left = conv.padInfo.left;
  const sums = new Float64Array(filterHeight * filterWidth * inChannels * outChannels);
  const tapSize = inChannels * outChannels;
  for (let b = 0; b < batchSize; b++) {
    for (let yR = 0; yR < outHeight; yR++) {
      for (let yC = 0; yC < outWidth; yC++) {
        const dyRow = ((b * outHeight + yR) * outWidth + yC) * outChannels;
        for (let wR = 0; wR < filterHeight; wR++) {
          const xR = yR * strideHeight + wR - top;
          if (xR < 0 || xR >= inHeight) continue;
          for (let wC = 0; wC < filterWidth; wC++) {
            const xC = yC * strideWidth + wC - left;
            if (xC < 0 || xC >= inWidth) continue;
            const xRow = ((b * inHeight + xR) * inWidth + xC) * inChannels;
            let out = (wR * filterWidth + wC) * tapSize;
            for (let d1 = 0; d1 < inChannels; d1++, out += outChannels) {
              const xv = x[xRow + d1];
              for (let d2 = 0; d2 < outChannels; d2++) sums[out + d2] += xv * dy[dyRow + d2];
            }
          }
        }
      }
    }
  }
  return cpu.makeTensorInfo(conv.filterShape, "float32", Float32Array.from(sums));
}

/**
 * dL/dx of a float32 max pooling (NHWC, no dilation) from its input and `dy`, with tfjs's
 * attributes and values: each window's `dy` goes to its first maximum in row order (a window of
 * NaNs or -Infinity passes none); undefined (declined) for other dtypes, and a `dy` of another
 * shape than the pooling's.
 */
export function maxPoolGradCpu(args: KernelArgs): tf.TensorInfo | undefined {
  const call = poolGradCall(args);
  if (
    !call || !tf.util.arraysEqual(call.dy.shape, call.pool.outShape) ||
    call.output?.dtype === "complex64"
  ) return;
  const cpu = args.backend as unknown as CpuBackend;
  const x = cpu.data.get(call.input.dataId).values as Float32Array;
  const dy = cpu.data.get(call.dy.dataId).values as Float32Array;
  const sums = new Float64Array(x.length);
  addMaxPoolGrad(call.pool, x, dy, sums);
  return cpu.makeTensorInfo(call.input.shape, "float32", Float32Array.from(sums));
}

/**
 * Max pooling of NHWC float32 data by torch's rule (`max_pool.ts`): tfjs's values, but a window
 * that holds a NaN gives NaN, where tfjs's kernel skips it; undefined (declined) for other dtypes
 * and the 1x1 window tfjs answers with its input.
 */
export function maxPoolCpu(args: KernelArgs): tf.TensorInfo | undefined {
  const call = poolCall(args);
  if (!call) return;
  const cpu = args.backend as unknown as CpuBackend;
  const x = cpu.data.get(call.x.dataId).values as Float32Array;
  const y = new Float32Array(tf.util.sizeFromShape(call.pool.outShape));
  maxPoolInto(call.pool, x, y);
  return cpu.makeTensorInfo(call.pool.outShape, "float32", y);
}

/**
 * `x`'s slice from `begin` of `size` (tfjs's `Slice` attributes, -1 sizes included), copied in
 * runs; undefined (declined) for a contiguous slice, which tfjs's kernel takes as a view, and for
 * strings and complex numbers.
 */
export function sliceCpu(args: KernelArgs): tf.TensorInfo | undefined {
  const x = args.inputs.x as tf.TensorInfo;
  if (x.dtype === "string" || x.dtype === "complex64") return;
  const a = args.attrs as unknown as tf.SliceAttrs;
  const [begin, size] = tf.slice_util.parseSliceParams(x, a.begin, a.size);
  tf.slice_util.assertParamsValid(x, begin, size);
  if (!wholeCounts(begin) || !wholeCounts(size)) return; // (tfjs's kernel refuses these)
  if (tf.slice_util.isSliceContinous(x.shape, begin, size)) return;
  const cpu = args.backend as unknown as CpuBackend;
  const values = cpu.data.get(x.dataId).values as NumericValues;
  return cpu.makeTensorInfo(size, x.dtype, copySlice(x.dtype, values, x.shape, begin, size));
}

/**
 * `x` split along `axis` (tfjs's `SplitV` attributes), each piece copied in runs; undefined
 * (declined) where every piece is contiguous (the axes before `axis` all 1), and for strings and
 * complex numbers.
 */
export function splitVCpu(args: KernelArgs): tf.TensorInfo[] | undefined {
  const x = args.inputs.x as tf.TensorInfo;
  if (x.dtype === "string" || x.dtype === "complex64") return;
  const a = args.attrs as unknown as tf.SplitVAttrs;
  const axis = tf.util.parseAxisParam(a.axis, x.shape)[0];
  if (x.shape.slice(0, axis).every((n) => n === 1)) return;
  const sizes = tf.backend_util.prepareSplitSize(x, a.numOrSizeSplits, axis);
  if (!wholeCounts(sizes)) return; // (tfjs's kernel refuses these)
  const cpu = args.backend as unknown as CpuBackend;
  const values = cpu.data.get(x.dataId).values as NumericValues;
  const begin = x.shape.map(() => 0);
  const strides = tf.util.computeStrides(x.shape);
  return sizes.map((piece) => {
    const size = x.shape.slice();
    size[axis] = piece;
    // (a piece that is contiguous, the whole axis or an empty one, is a view, as tfjs's)
    const from = tf.slice_util.computeFlatOffset(begin, strides);
    const out = cpu.makeTensorInfo(
      size,
      x.dtype,
      tf.slice_util.isSliceContinous(x.shape, begin, size)
        ? values.subarray(from, from + tf.util.sizeFromShape(size))
        : copySlice(x.dtype, values, x.shape, begin, size),
    );
    begin[axis] += piece;
    return out;
  });
}

/**
 * The block of `values` (of `shape`, row-major) from `begin` of `size`: the axes after the last
 * one cut short are whole, so the block is runs of `size[cut]` times their length, one for each
 * index of the axes before `cut`.
 */
function copySlice(
  dtype: tf.DataType,
  values: NumericValues,
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
): NumericValues {
  // (an array of the dtype's type, as tfjs's kernel makes: an int32 tensor's values may be held
  // in a Float32Array, and are then truncated as tfjs's copy truncates them)
  const out = tf.util.getArrayFromDType(dtype, tf.util.sizeFromShape([...size])) as NumericValues;
  if (out.length === 0) return out;
  let cut = shape.length - 1;
  while (cut > 0 && size[cut] === shape[cut]) cut--;
  // (tfjs's strides leave out the last axis's, 1)
  const strides = [...tf.util.computeStrides([...shape]), 1];
  const run = size[cut] * strides[cut];
  const index = new Array<number>(cut).fill(0);
  for (let o = 0; o < out.length; o += run) {
    let from = begin[cut] * strides[cut];
    for (let j = 0; j < cut; j++) from += (begin[j] + index[j]) * strides[j];
    if (run < 32) {
      for (let i = 0; i < run; i++) out[o + i] = values[from + i];
    } else {
      out.set(values.subarray(from, from + run), o);
    }
    for (let j = cut - 1; j >= 0 && ++index[j] === size[j]; j--) index[j] = 0;
  }
  return out;
}

/**
 * The float32 sum of `x` over its leading axes, `axis` exactly [0, 1, ..., k - 1] with k below the
 * rank (tfjs's `Sum` attributes; `keepDims` keeps them as 1s): each output gets the rows in
 * row-major order, as tfjs's transposed layout gives them, in float64 from 0. Undefined
 * (declined) for other axes (tfjs sums innermost ones without a transpose) and other dtypes.
 */
export function sumCpu(args: KernelArgs): tf.TensorInfo | undefined {
  const x = args.inputs.x as tf.TensorInfo;
  if (x.dtype !== "float32") return;
  const a = args.attrs as unknown as tf.SumAttrs;
  const axes = tf.util.parseAxisParam(a.axis, x.shape);
  const rank = x.shape.length;
  if (axes.length === 0 || axes.length >= rank || axes.some((axis, i) => axis !== i)) return;
  const kept = x.shape.slice(axes.length);
  const width = kept.reduce((p, n) => p * n, 1);
  const cpu = args.backend as unknown as CpuBackend;
  const values = cpu.data.get(x.dataId).values as Float32Array;
  const sums = new Float64Array(width);
  for (let from = 0; from < values.length; from += width) {
    for (let c = 0; c < width; c++) sums[c] += values[from + c];
  }
  const shape = a.keepDims ? [...axes.map(() => 1), ...kept] : kept;
  return cpu.makeTensorInfo(shape, "float32", Float32Array.from(sums));
}

/** Whether every value is a whole number, 0 or more. */
function wholeCounts(values: readonly number[]): boolean {
  return values.every((n) => Number.isInteger(n) && n >= 0);
}
