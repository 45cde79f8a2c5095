/**
 * What anneal's convolution and pooling kernels (wasm and WebGPU) share: reading a
 * `Conv2D`/`FusedConv2D`, `Conv2DBackpropFilter` or `MaxPoolGrad` call into tensors and tfjs's
 * `Conv2DInfo`, declining the cases none of them covers, and the padding/stride/size uniforms of
 * the WGSL ones.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import type { KernelArgs } from "./wasm_heap.ts";
import type { Uniform } from "./webgpu_program.ts";

type Shape4 = [number, number, number, number];

/** A forward convolution call anneal's kernels may take. */
export interface ConvCall {
  x: tf.TensorInfo;
  filter: tf.TensorInfo;
  /** [outC] or [1]. */
  bias?: tf.TensorInfo;
  activation: "linear" | "relu";
  conv: tf.backend_util.Conv2DInfo;
}

/**
 * A `Conv2D` or `FusedConv2D` call as a {@linkcode ConvCall}; undefined for what no anneal kernel
 * covers: NCHW, dilation, prelu or activations other than relu, other dtypes than float32, a
 * bias that is not one value per output channel (or one for all).
 */
export function convCall({ inputs, attrs }: KernelArgs): ConvCall | undefined {
  const { x, filter, bias, preluActivationWeights } = inputs as Record<
    string,
    tf.TensorInfo | undefined
  >;
  const a = attrs as unknown as tf.FusedConv2DAttrs;
  const activation = a.activation ?? "linear";
  if (
    !x || !filter || preluActivationWeights || a.dataFormat === "NCHW" ||
    (activation !== "linear" && activation !== "relu") ||
    x.dtype !== "float32" || filter.dtype !== "float32" ||
    !tf.backend_util.tupleValuesAreOne(a.dilations ?? 1) ||
    (bias && (bias.dtype !== "float32" || bias.shape.length !== 1 ||
      (bias.shape[0] !== filter.shape[3] && bias.shape[0] !== 1)))
  ) return undefined;
  const conv = tf.backend_util.computeConv2DInfo(
    x.shape as Shape4,
    filter.shape as Shape4,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
  return { x, filter, bias, activation, conv };
}

/** A `Conv2DBackpropFilter` call in NHWC float32 with its `Conv2DInfo`; else undefined. */
export function filterGradientCall(
  { inputs, attrs }: KernelArgs,
): { x: tf.TensorInfo; dy: tf.TensorInfo; conv: tf.backend_util.Conv2DInfo } | undefined {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const a = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (a.dataFormat === "NCHW" || x.dtype !== "float32" || dy.dtype !== "float32") return;
  const conv = tf.backend_util.computeConv2DInfo(
    x.shape as Shape4,
    a.filterShape,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
  return { x, dy, conv };
}

/**
 * The int32 uniforms `padTop, padLeft, strideH, strideW, inH, inW` of a WGSL convolution (and
 * `extra` after them), as tfjs-webgpu's `runWebGPUProgram` takes them.
 */
export function convUniforms(
  conv: tf.backend_util.Conv2DInfo,
  ...extra: number[]
): Uniform[] {
  return [
    conv.padInfo.top,
    conv.padInfo.left,
    conv.strideHeight,
    conv.strideWidth,
    conv.inHeight,
    conv.inWidth,
    ...extra,
  ].map((value) => ({ type: "int32", data: [value] }));
}

/** A `MaxPoolGrad` call anneal's kernels may take. */
export interface PoolGradCall {
  dy: tf.TensorInfo;
  input: tf.TensorInfo;
  /** The forward pass's output, where the caller gave it. */
  output?: tf.TensorInfo;
  pool: tf.backend_util.Conv2DInfo;
}

/**
 * A `MaxPool` call's input and window; undefined for other dtypes than float32, for a 1x1 window
 * that keeps the shape, which tfjs's kernels answer with the input itself, and for a window larger
 * than the input by more than its padding (a negative output size: tfjs's kernels throw).
 */
export function poolCall(
  { inputs, attrs }: KernelArgs,
): { x: tf.TensorInfo; pool: tf.backend_util.Conv2DInfo } | undefined {
  const { x } = inputs as { x: tf.TensorInfo };
  const a = attrs as unknown as tf.MaxPoolAttrs;
  if (x.dtype !== "float32") return;
  const pool = tf.backend_util.computePool2DInfo(
    x.shape as Shape4,
    a.filterSize,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
  if (
    pool.filterHeight === 1 && pool.filterWidth === 1 &&
    tf.util.arraysEqual(pool.inShape, pool.outShape)
  ) return;
  if (pool.outHeight < 0 || pool.outWidth < 0) return;
  return { x, pool };
}

/** A `MaxPoolGrad` call as a {@linkcode PoolGradCall}; undefined for other dtypes than float32. */
export function poolGradCall({ inputs, attrs }: KernelArgs): PoolGradCall | undefined {
  const { dy, input, output } = inputs as {
    dy: tf.TensorInfo;
    input: tf.TensorInfo;
    output?: tf.TensorInfo;
  };
  const a = attrs as unknown as tf.MaxPoolGradAttrs;
  if (input.dtype !== "float32" || dy.dtype !== "float32") return;
  const pool = tf.backend_util.computePool2DInfo(
    input.shape as Shape4,
    a.filterSize,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
  return { dy, input, output, pool };
}
