/**
 * Batch normalization in training mode as one op with one gradient, instead of tfjs's chain.
 *
 * tfjs-layers normalizes a training batch with `moments` (Mean, Sub, Square, Mean, Cast) and
 * `batchNorm`, and autodiff turns that into ~50 element-wise ops over the activation per layer
 * (on wasm, a Fashion-MNIST CNN step spent ~140 ms of ~470 in them). Here the forward pass is
 * one kernel (`AnnealBatchNormTrain`: per-channel mean and biased variance, then the normalized
 * output, two passes over the input) and its gradient another (`AnnealBatchNormTrainGrad`: two
 * passes), both in TypeScript over the tensors' memory on the `cpu` and `wasm` backends. Other
 * backends (WebGPU) run tfjs's composite ops, which give the same values: the composite path is
 * the reference the kernels are tested against.
 *
 * The statistics are those of tfjs (and PyTorch's normalization in training): mean and biased
 * variance over every axis but the last (channels last), `y = (x - mean) / sqrt(var + eps) *
 * scale + offset`. The gradient is the full one, through the statistics: with `xc = x - mean`,
 * `s = 1 / sqrt(var + eps)` and `n` values per channel,
 * `dx = scale * s * (dy - sum(dy) / n - xc * s² * sum(dy * xc) / n) + dmean / n + 2 * dvar * xc / n`,
 * `dscale = s * sum(dy * xc)`, `doffset = sum(dy)` (`dmean`, `dvar`: gradients reaching the
 * returned statistics, usually none).
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import * as tfl from "npm:@tensorflow/tfjs-layers@4.22.0";
import { heapFloats, wasmInternals } from "../runtime/wasm_heap.ts";

const FORWARD = "AnnealBatchNormTrain";
const GRADIENT = "AnnealBatchNormTrainGrad";

/** The result of {@link batchNormTraining}. */
export interface BatchNormTraining {
  /** The normalized, scaled and shifted input (same shape as x). */
  y: tf.Tensor;
  /** Per-channel mean of the batch, [channels]. */
  mean: tf.Tensor1D;
  /** Per-channel biased variance of the batch, [channels]. */
  variance: tf.Tensor1D;
}

/**
 * Normalizes `x` ([..., channels]) with its own batch statistics over every axis but the last,
 * then scales and shifts per channel. Differentiable in x, scale and offset (and through the
 * returned statistics).
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
 * import { batchNormTraining } from "./batch_norm.ts";
 * await tf.setBackend("cpu");
 * const x = tf.tensor2d([[1, 10], [3, 30]]);
 * const { y, mean, variance } = batchNormTraining(x, tf.ones([2]), tf.zeros([2]), 1e-5);
 * console.assert(mean.dataSync()[1] === 20 && variance.dataSync()[0] === 1);
 * console.assert(Math.abs(y.dataSync()[0] + 1) < 1e-4); // (1 - 2) / 1
 * ```
 */
export function batchNormTraining(
  x: tf.Tensor,
  scale: tf.Tensor,
  offset: tf.Tensor,
  epsilon: number,
): BatchNormTraining {
  registerBatchNormKernels();
  const channels = x.shape[x.rank - 1];
  if (x.rank < 2 || scale.size !== channels || offset.size !== channels) {
    throw new Error(
      `batchNormTraining: x must be [..., channels] with scale and offset of [channels]; got x [${x.shape}], scale [${scale.shape}], offset [${offset.shape}]`,
    );
  }
  if (x.dtype === "float32" && tf.getKernel(FORWARD, tf.getBackend())) {
    const [y, mean, variance] = tf.engine().runKernel(
      FORWARD,
      { x, scale: tf.reshape(scale, [channels]), offset: tf.reshape(offset, [channels]) },
      { epsilon } as unknown as tf.NamedAttrMap,
    ) as tf.Tensor[];
    return { y, mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D };
  }
  return compositeBatchNormTraining(x, scale, offset, epsilon);
}

/** tfjs's own ops (moments, then batchNorm): the reference, and the path of other backends. */
export function compositeBatchNormTraining(
  x: tf.Tensor,
  scale: tf.Tensor,
  offset: tf.Tensor,
  epsilon: number,
): BatchNormTraining {
  return tf.tidy(() => {
    const axes = [...Array(x.rank - 1).keys()];
    const { mean, variance } = tf.moments(x, axes);
    const channels = x.shape[x.rank - 1];
    const y = tf.batchNorm(
      x,
      mean,
      variance,
      tf.reshape(offset, [channels]),
      tf.reshape(scale, [channels]),
      epsilon,
    );
    return { y, mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D };
  });
}

// ---------------------------------------------------------------------------------------------
// The math, over flat channels-last arrays (rows of `channels` values)

/** Per-channel mean and biased variance (float64 sums, shifted by the first row for accuracy). */
function statistics(x: Float32Array, channels: number, mean: Float32Array, variance: Float32Array) {
  const rows = x.length / channels;
  const s1 = new Float64Array(channels), s2 = new Float64Array(channels);
  const shift = x.slice(0, channels);
  for (let i = 0; i < x.length; i += channels) {
    for (let c = 0; c < channels; c++) {
      const d = x[i + c] - shift[c];
      s1[c] += d;
      s2[c] += d * d;
    }
  }
  for (let c = 0; c < channels; c++) {
    const m = s1[c] / rows;
    mean[c] = shift[c] + m;
    variance[c] = Math.max(0, s2[c] / rows - m * m);
  }
}

function normalize(
  x: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
  scale: Float32Array,
  offset: Float32Array,
  epsilon: number,
  y: Float32Array,
) {
  const channels = mean.length;
  const a = new Float32Array(channels), b = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    a[c] = scale[c] / Math.sqrt(variance[c] + epsilon);
    b[c] = offset[c] - mean[c] * a[c];
  }
  for (let i = 0; i < x.length; i += channels) {
    for (let c = 0; c < channels; c++) y[i + c] = x[i + c] * a[c] + b[c];
  }
}

function gradient(
  dy: Float32Array,
  x: Float32Array,
  scale: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
  dmean: Float32Array | undefined,
  dvar: Float32Array | undefined,
  epsilon: number,
  dx: Float32Array,
  dscale: Float32Array,
  doffset: Float32Array,
) {
  const channels = mean.length;
  const rows = x.length / channels;
  const sdy = new Float64Array(channels), sdyx = new Float64Array(channels);
  for (let i = 0; i < x.length; i += channels) {
    for (let c = 0; c < channels; c++) {
      const g = dy[i + c];
      sdy[c] += g;
      sdyx[c] += g * (x[i + c] - mean[c]);
    }
  }
  // dx = a * dy + b * (x - mean) + k, per channel
  const a = new Float32Array(channels), b = new Float32Array(channels);
  const k = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const s = 1 / Math.sqrt(variance[c] + epsilon);
    dscale[c] = sdyx[c] * s;
    doffset[c] = sdy[c];
    a[c] = scale[c] * s;
    b[c] = -scale[c] * s * s * s * sdyx[c] / rows + (dvar ? 2 * dvar[c] / rows : 0);
    k[c] = -scale[c] * s * sdy[c] / rows + (dmean ? dmean[c] / rows : 0) - b[c] * mean[c];
  }
  for (let i = 0; i < x.length; i += channels) {
    for (let c = 0; c < channels; c++) dx[i + c] = a[c] * dy[i + c] + b[c] * x[i + c] + k[c];
  }
}

// ---------------------------------------------------------------------------------------------
// Kernels on the cpu and wasm backends

/** How a backend hands out float32 views of its tensors and makes new ones. */
interface Memory {
  /** Allocates the outputs (all of them before any view is taken: wasm's heap may move). */
  alloc(shapes: number[][]): tf.TensorInfo[];
  view(info: tf.TensorInfo): Float32Array;
}

function memoryOf(backend: unknown, backendName: string): Memory {
  if (backendName === "wasm") {
    const wasm = wasmInternals(backend);
    return {
      alloc: (shapes) => shapes.map((shape) => wasm.makeOutput(shape, "float32")),
      view: (info) => heapFloats(wasm, info),
    };
  }
  const cpu = backend as {
    data: { get(id: object): { values: tf.backend_util.TypedArray } };
    makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
  };
  return {
    alloc: (shapes) =>
      shapes.map((shape) =>
        cpu.makeTensorInfo(shape, "float32", new Float32Array(tf.util.sizeFromShape(shape)))
      ),
    view: (info) => cpu.data.get(info.dataId).values as Float32Array,
  };
}

function forwardKernel(backendName: string): tf.KernelFunc {
  return ({ inputs, attrs, backend }) => {
    const { x, scale, offset } = inputs as Record<string, tf.TensorInfo>;
    const { epsilon } = attrs as unknown as { epsilon: number };
    const channels = x.shape[x.shape.length - 1];
    const memory = memoryOf(backend, backendName);
    const outputs = memory.alloc([x.shape, [channels], [channels]]);
    const [y, mean, variance] = outputs.map((info) => memory.view(info));
    const xs = memory.view(x);
    statistics(xs, channels, mean, variance);
    normalize(xs, mean, variance, memory.view(scale), memory.view(offset), epsilon, y);
    return outputs;
  };
}

function gradientKernel(backendName: string): tf.KernelFunc {
  return ({ inputs, attrs, backend }) => {
    const { dy, x, scale, mean, variance, dmean, dvar } = inputs as Record<string, tf.TensorInfo>;
    const { epsilon } = attrs as unknown as { epsilon: number };
    const channels = x.shape[x.shape.length - 1];
    const memory = memoryOf(backend, backendName);
    const outputs = memory.alloc([x.shape, [channels], [channels]]);
    const [dx, dscale, doffset] = outputs.map((info) => memory.view(info));
    gradient(
      memory.view(dy),
      memory.view(x),
      memory.view(scale),
      memory.view(mean),
      memory.view(variance),
      dmean ? memory.view(dmean) : undefined,
      dvar ? memory.view(dvar) : undefined,
      epsilon,
      dx,
      dscale,
      doffset,
    );
    return outputs;
  };
}

let registered = false;

/**
 * Registers the two kernels on `cpu` and `wasm` and the forward kernel's gradient (once; called
 * by {@link batchNormTraining}). Returns the backends that have them.
 */
export function registerBatchNormKernels(): string[] {
  const backends = ["cpu", "wasm"];
  if (registered) return backends;
  registered = true;
  for (const backendName of backends) {
    tf.registerKernel({ kernelName: FORWARD, backendName, kernelFunc: forwardKernel(backendName) });
    tf.registerKernel({
      kernelName: GRADIENT,
      backendName,
      kernelFunc: gradientKernel(backendName),
    });
  }
  tf.registerGradient({
    kernelName: FORWARD,
    inputsToSave: ["x", "scale"],
    outputsToSave: [false, true, true],
    gradFunc: (dys, saved, attrs) => {
      const [dy, dmean, dvar] = dys as (tf.Tensor | null)[];
      const [x, scale, mean, variance] = saved;
      // all three at once, here: tfjs runs each returned thunk in its own tidy
      const inputs: Record<string, tf.Tensor> = {
        dy: dy ?? tf.zerosLike(x),
        x,
        scale,
        mean,
        variance,
      };
      if (dmean) inputs.dmean = dmean;
      if (dvar) inputs.dvar = dvar;
      const [dx, dscale, doffset] = tf.engine().runKernel(
        GRADIENT,
        inputs,
        attrs as tf.NamedAttrMap,
      ) as tf.Tensor[];
      return { x: () => dx, scale: () => dscale, offset: () => doffset };
    },
  });
  return backends;
}

// ---------------------------------------------------------------------------------------------
// The layer

type LayerArgs = Parameters<typeof tfl.layers.batchNormalization>[0];
type Kwargs = Record<string, unknown>;
// tfjs-layers exports the layer's factory, not its class: take the class from an instance.
const Base = Object.getPrototypeOf(tfl.layers.batchNormalization({})).constructor as new (
  args?: LayerArgs,
) => tfl.layers.Layer & {
  axis: number;
  momentum: number;
  epsilon: number;
  gamma?: tfl.LayerVariable;
  beta?: tfl.LayerVariable;
  movingMean: tfl.LayerVariable;
  movingVariance: tfl.LayerVariable;
};

/**
 * tfjs-layers' `BatchNormalization` (same weights, config, inference and moving averages) whose
 * training pass runs {@link batchNormTraining} when normalizing over the last axis.
 */
class FusedBatchNormalization extends Base {
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    const axis = this.axis >= 0 ? this.axis : this.axis + input.rank;
    if (!kwargs["training"] || axis !== input.rank - 1 || input.rank < 2) {
      return super.call(inputs, kwargs);
    }
    return tf.tidy(() => {
      const channels = input.shape[axis];
      const scale = this.gamma ? this.gamma.read() : tf.ones([channels]);
      const offset = this.beta ? this.beta.read() : tf.zeros([channels]);
      const { y, mean, variance } = batchNormTraining(input, scale, offset, this.epsilon);
      // as tfjs-layers: moving = moving - (moving - batch) * (1 - momentum)
      for (
        const [moving, batch] of [[this.movingMean, mean], [this.movingVariance, variance]] as const
      ) {
        const current = moving.read();
        moving.write(tf.sub(current, tf.mul(tf.sub(current, batch), 1 - this.momentum)));
      }
      return y;
    });
  }
}

/**
 * A batch-normalization layer that is tfjs-layers' own (weights `gamma`, `beta`,
 * `moving_mean`, `moving_variance`; class name `BatchNormalization`), with a fused training
 * pass.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
 * import { batchNormalization } from "./batch_norm.ts";
 * await tf.setBackend("cpu");
 * const layer = batchNormalization({ momentum: 0.9, epsilon: 1e-5 });
 * const y = layer.apply(tf.tensor2d([[1], [3]]), { training: true }) as tf.Tensor;
 * console.assert(Math.abs(y.dataSync()[1] - 1) < 1e-3);
 * ```
 */
export function batchNormalization(args: LayerArgs): tfl.layers.Layer {
  return new FusedBatchNormalization(args);
}
