/**
 * Batch normalization in training mode as one op with one gradient, instead of tfjs's chain.
 *
 * tfjs-layers normalizes a training batch with `moments` (Mean, Sub, Square, Mean, Cast) and
 * `batchNorm`, and autodiff turns that into ~50 element-wise ops over the activation per layer
 * (on wasm, a Fashion-MNIST CNN step spent ~140 ms of ~470 in them). Here the forward pass is
 * one kernel (`AnnealBatchNormTrain`: per-channel mean and biased variance, then the normalized
 * output, two passes over the input) and its gradient another (`AnnealBatchNormTrainGrad`: two
 * passes), registered on the `cpu` and `wasm` backends: per-channel arithmetic in TypeScript,
 * the passes over the tensor in anneal's SIMD kernels on wasm (`runtime/wasm_simd/`) and in
 * TypeScript loops on cpu; on `webgpu` WGSL programs (`batch_norm_webgpu.ts`). Other backends run
 * tfjs's composite ops, which give the same values: the composite path is the reference the
 * kernels are tested against.
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
import { AnnealError } from "../errors.ts";
import { heapFloats, wasmInternals } from "../runtime/wasm_heap.ts";
import { type SimdKernels, simdKernels } from "../runtime/wasm_simd/kernels.ts";
import {
  type KernelPool,
  kernelPool,
  PARALLEL_VALUES,
  splitRange,
} from "../runtime/wasm_simd/pool.ts";
import { webGpuForward, webGpuGradient } from "./batch_norm_webgpu.ts";

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
    throw new AnnealError(
      "internal",
      `batchNormTraining: x must be [..., channels] with scale and offset of [channels]; got x [${x.shape}], scale [${scale.shape}], offset [${offset.shape}]`,
      {
        where: "models/batch_norm.ts",
        hint: "pass one scale and one offset per channel (x's last axis)",
      },
    );
  }
  if (x.dtype === "float32" && tf.getKernel(FORWARD, tf.getBackend())) {
    const [y, mean, variance] = tf.tidy(() =>
      tf.engine().runKernel(
        FORWARD,
        { x, scale: tf.reshape(scale, [channels]), offset: tf.reshape(offset, [channels]) },
        { epsilon } as unknown as tf.NamedAttrMap,
      ) as tf.Tensor[]
    );
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
// The math, over flat channels-last arrays (rows of `channels` values). Each kernel is passes
// over the tensor (sums per channel, then one affine map per channel) with per-channel
// arithmetic between them; on wasm the passes run in anneal's SIMD kernels when available.

/**
 * s1[c] += p - cp[c], s2[c] += (p - cp[c]) * (q - cq[c]) (as the SIMD kernel `centredSums`):
 * the statistics are (x, shift, x, shift) with the first row as shift, which keeps the sums
 * small; the gradient's sums are (dy, 0, x, mean).
 */
function centredSums(
  p: Float32Array,
  cp: Float32Array,
  q: Float32Array,
  cq: Float32Array,
  s1: Float64Array,
  s2: Float64Array,
) {
  const channels = cp.length;
  for (let i = 0; i < p.length; i += channels) {
    for (let c = 0; c < channels; c++) {
      const d = p[i + c] - cp[c];
      s1[c] += d;
      s2[c] += d * (q[i + c] - cq[c]);
    }
  }
}

/** Mean and biased variance from the shifted sums over `rows` rows. */
function finishMoments(
  s1: Float64Array,
  s2: Float64Array,
  shift: Float32Array,
  rows: number,
  mean: Float32Array,
  variance: Float32Array,
) {
  for (let c = 0; c < mean.length; c++) {
    const m = s1[c] / rows;
    mean[c] = shift[c] + m;
    variance[c] = Math.max(0, s2[c] / rows - m * m);
  }
}

/** y = x * a + k per channel, the normalization with scale and offset folded in. */
function normalizeCoefficients(
  mean: Float32Array,
  variance: Float32Array,
  scale: Float32Array,
  offset: Float32Array,
  epsilon: number,
  a: Float32Array,
  k: Float32Array,
) {
  for (let c = 0; c < mean.length; c++) {
    a[c] = scale[c] / Math.sqrt(variance[c] + epsilon);
    k[c] = offset[c] - mean[c] * a[c];
  }
}

/** out = p * a + q * b + k per channel (no q term without q). */
function affine(
  p: Float32Array,
  q: Float32Array | undefined,
  out: Float32Array,
  a: Float32Array,
  b: Float32Array,
  k: Float32Array,
) {
  const channels = a.length;
  for (let i = 0; i < p.length; i += channels) {
    if (q) {
      for (let c = 0; c < channels; c++) out[i + c] = p[i + c] * a[c] + q[i + c] * b[c] + k[c];
    } else {
      for (let c = 0; c < channels; c++) out[i + c] = p[i + c] * a[c] + k[c];
    }
  }
}

/** dscale, doffset, and dx = dy * a + x * b + k per channel (see the module's formula). */
function gradientCoefficients(
  sdy: Float64Array,
  sdyx: Float64Array,
  rows: number,
  scale: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
  dmean: Float32Array | undefined,
  dvar: Float32Array | undefined,
  epsilon: number,
  out: {
    dscale: Float32Array;
    doffset: Float32Array;
    a: Float32Array;
    b: Float32Array;
    k: Float32Array;
  },
) {
  for (let c = 0; c < mean.length; c++) {
    const s = 1 / Math.sqrt(variance[c] + epsilon);
    out.dscale[c] = sdyx[c] * s;
    out.doffset[c] = sdy[c];
    out.a[c] = scale[c] * s;
    out.b[c] = -scale[c] * s * s * s * sdyx[c] / rows + (dvar ? 2 * dvar[c] / rows : 0);
    out.k[c] = -scale[c] * s * sdy[c] / rows + (dmean ? dmean[c] / rows : 0) -
      out.b[c] * mean[c];
  }
}

// ---------------------------------------------------------------------------------------------
// Kernels on the cpu and wasm backends

/** How a backend hands out float32 views of its tensors and makes new ones. */
interface Memory {
  /** Allocates the outputs (all of them before any view is taken: wasm's heap may move). */
  alloc(shapes: number[][]): tf.TensorInfo[];
  view(info: tf.TensorInfo): Float32Array;
  /** Frees a scratch tensor made by alloc. */
  free(info: tf.TensorInfo): void;
  /** anneal's SIMD kernels on this memory (wasm only). */
  simd?: SimdKernels;
  /** Their threads, on the threaded wasm backend. */
  pool?: KernelPool;
}

function memoryOf(backend: unknown, backendName: string): Memory {
  if (backendName === "wasm") {
    const wasm = wasmInternals(backend);
    return {
      alloc: (shapes) => shapes.map((shape) => wasm.makeOutput(shape, "float32")),
      view: (info) => heapFloats(wasm, info),
      free: (info) => wasm.disposeData(info.dataId, true),
      simd: simdKernels(backend),
      pool: kernelPool(backend),
    };
  }
  const cpu = backend as {
    data: { get(id: object): { values: tf.backend_util.TypedArray } };
    makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
    disposeData(dataId: object, force?: boolean): boolean;
  };
  return {
    alloc: (shapes) =>
      shapes.map((shape) =>
        cpu.makeTensorInfo(shape, "float32", new Float32Array(tf.util.sizeFromShape(shape)))
      ),
    view: (info) => cpu.data.get(info.dataId).values as Float32Array,
    free: (info) => cpu.disposeData(info.dataId, true),
  };
}

/** Per-channel scratch in the backend's memory: float64 sums and float32 coefficients. */
function scratch(memory: Memory, channels: number, sums: number, coefficients: number) {
  // a float64 takes two float32 slots; the sums come first, so they stay 8-byte aligned
  const [info] = memory.alloc([[channels * (2 * sums + coefficients)]]);
  return {
    info,
    /** Views, valid until the next allocation. */
    views() {
      const floats = memory.view(info);
      floats.fill(0, 0, 2 * sums * channels);
      const doubles = new Float64Array(floats.buffer, floats.byteOffset, sums * channels);
      return {
        sums: Array.from(
          { length: sums },
          (_, i) => doubles.subarray(i * channels, (i + 1) * channels),
        ),
        coefficients: Array.from(
          { length: coefficients },
          (_, i) => floats.subarray((2 * sums + i) * channels, (2 * sums + i + 1) * channels),
        ),
      };
    },
  };
}

/**
 * The two passes over a tensor, in anneal's SIMD kernels when loaded (split by rows over the
 * kernel pool's threads when there is one), else in JavaScript.
 */
function passes(memory: Memory, rows: number, channels: number) {
  const simd = memory.simd;
  const pool = rows * channels >= PARALLEL_VALUES ? memory.pool : undefined;
  const parts = pool ? splitRange(rows, pool.threads) : [];
  const rowBytes = 4 * channels;
  return {
    /** {@link centredSums}; `block`: 2 * channels float32 of scratch for the SIMD kernel. */
    sums(
      p: Float32Array,
      cp: Float32Array,
      q: Float32Array,
      cq: Float32Array,
      s1: Float64Array,
      s2: Float64Array,
      block: Float32Array,
    ) {
      if (!simd) return centredSums(p, cp, q, cq, s1, s2);
      const at = [p, cp, q, cq, s1, s2, block].map((v) => v.byteOffset);
      if (!pool || parts.length < 2) {
        simd.centredSums(at[0], at[1], at[2], at[3], rows, channels, at[4], at[5], at[6]);
        return;
      }
      // Part 0 sums into s1 and s2; each other part into float64 sums of its own (and its own
      // block scratch), added in after: 24 bytes a channel per part.
      const [extra] = memory.alloc([[(parts.length - 1) * 6 * channels]]);
      try {
        const own = memory.view(extra);
        own.fill(0);
        const calls = parts.map(([from, to], i) => {
          const sums = i === 0
            ? [at[4], at[5], at[6]]
            : [0, 8, 16].map((o) => own.byteOffset + ((i - 1) * 24 + o) * channels);
          const offset = from * rowBytes;
          return [at[0] + offset, at[1], at[2] + offset, at[3], to - from, channels, ...sums];
        });
        pool.run("centredSums", calls);
        const partSums = new Float64Array(
          own.buffer,
          own.byteOffset,
          3 * channels * (parts.length - 1),
        );
        for (let i = 0; i < parts.length - 1; i++) {
          for (let c = 0; c < channels; c++) {
            s1[c] += partSums[3 * channels * i + c];
            s2[c] += partSums[3 * channels * i + channels + c];
          }
        }
      } finally {
        memory.free(extra);
      }
    },
    /** {@link affine} (no q term without q). */
    apply(
      p: Float32Array,
      q: Float32Array | undefined,
      out: Float32Array,
      a: Float32Array,
      b: Float32Array,
      k: Float32Array,
    ) {
      if (!simd) return affine(p, q, out, a, b, k);
      const [pAt, qAt, outAt] = [p.byteOffset, q?.byteOffset ?? 0, out.byteOffset];
      const coefficients = [channels, a.byteOffset, b.byteOffset, k.byteOffset] as const;
      if (!pool || parts.length < 2) {
        simd.affine(pAt, qAt, outAt, rows, ...coefficients);
        return;
      }
      pool.run(
        "affine",
        parts.map(([from, to]) => {
          const offset = from * rowBytes;
          return [pAt + offset, q ? qAt + offset : 0, outAt + offset, to - from, ...coefficients];
        }),
      );
    },
  };
}

/** What a kernel body gets from {@link channelKernel}: views valid until the next allocation. */
interface ChannelKernelParts {
  inputs: Record<string, tf.TensorInfo>;
  epsilon: number;
  memory: Memory;
  rows: number;
  /** The outputs: [x's shape], [channels], [channels]. */
  outputs: Float32Array[];
  /** Two float64 per-channel sums, zeroed. */
  sums: Float64Array[];
  /** Per-channel float32 rows of scratch (the last two: block sums for the SIMD kernel). */
  coefficients: Float32Array[];
  pass: ReturnType<typeof passes>;
}

/**
 * A batch-norm kernel over `x` [..., channels]: allocates its three outputs and per-channel
 * scratch (two float64 sums, `coefficients` float32 rows), runs `body`, frees the scratch.
 */
function channelKernel(
  backendName: string,
  coefficients: number,
  body: (parts: ChannelKernelParts) => void,
): tf.KernelFunc {
  return ({ inputs, attrs, backend }) => {
    const { x } = inputs as Record<string, tf.TensorInfo>;
    const { epsilon } = attrs as unknown as { epsilon: number };
    const channels = x.shape[x.shape.length - 1];
    const rows = tf.util.sizeFromShape(x.shape) / channels;
    const memory = memoryOf(backend, backendName);
    const outputs = memory.alloc([x.shape, [channels], [channels]]);
    const work = scratch(memory, channels, 2, coefficients);
    try {
      body({
        inputs: inputs as Record<string, tf.TensorInfo>,
        epsilon,
        memory,
        rows,
        outputs: outputs.map((info) => memory.view(info)),
        ...work.views(),
        pass: passes(memory, rows, channels),
      });
    } finally {
      memory.free(work.info);
    }
    return outputs;
  };
}

const forwardKernel = (backendName: string) =>
  // coefficients a, k, then two rows of block sums for the SIMD kernel
  channelKernel(
    backendName,
    4,
    ({ inputs, epsilon, memory, rows, outputs, sums, coefficients, pass }) => {
      const [y, mean, variance] = outputs;
      const [s1, s2] = sums;
      const [a, k, block] = coefficients;
      const xs = memory.view(inputs.x);
      const shift = xs.subarray(0, mean.length);
      pass.sums(xs, shift, xs, shift, s1, s2, block);
      finishMoments(s1, s2, shift, rows, mean, variance);
      const [scale, offset] = [memory.view(inputs.scale), memory.view(inputs.offset)];
      normalizeCoefficients(mean, variance, scale, offset, epsilon, a, k);
      pass.apply(xs, undefined, y, a, a, k);
    },
  );

const gradientKernel = (backendName: string) =>
  // coefficients a, b, k, zeros, then two rows of block sums for the SIMD kernel
  channelKernel(
    backendName,
    6,
    ({ inputs, epsilon, memory, rows, outputs, sums, coefficients, pass }) => {
      const [dx, dscale, doffset] = outputs;
      const [sdy, sdyx] = sums;
      const [a, b, k, zeros, block] = coefficients;
      const { dy, x, scale, mean, variance, dmean, dvar } = inputs;
      const [dys, xs, means] = [memory.view(dy), memory.view(x), memory.view(mean)];
      pass.sums(dys, zeros.fill(0), xs, means, sdy, sdyx, block);
      gradientCoefficients(
        sdy,
        sdyx,
        rows,
        memory.view(scale),
        means,
        memory.view(variance),
        dmean ? memory.view(dmean) : undefined,
        dvar ? memory.view(dvar) : undefined,
        epsilon,
        { dscale, doffset, a, b, k },
      );
      pass.apply(dys, xs, dx, a, b, k);
    },
  );

let registered = false;

/**
 * Registers the two kernels on `cpu`, `wasm` and `webgpu` (WGSL, `batch_norm_webgpu.ts`) and the
 * forward kernel's gradient (once; called by {@link batchNormTraining}). Returns the backends
 * that have them.
 */
export function registerBatchNormKernels(): string[] {
  const backends = ["cpu", "wasm", "webgpu"];
  if (registered) return backends;
  registered = true;
  tf.registerKernel({ kernelName: FORWARD, backendName: "webgpu", kernelFunc: webGpuForward });
  tf.registerKernel({ kernelName: GRADIENT, backendName: "webgpu", kernelFunc: webGpuGradient });
  for (const backendName of ["cpu", "wasm"]) {
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

/** What a tfjs-layers batch-normalization layer holds: its axis, settings and weights. */
export interface BatchNormState {
  axis: number;
  /**
   * Moving averages: moving = moving - (moving - batch) * (1 - momentum), the batch's variance
   * unbiased (torch's running_var).
   */
  momentum: number;
  epsilon: number;
  gamma?: tfl.LayerVariable;
  beta?: tfl.LayerVariable;
  movingMean: tfl.LayerVariable;
  movingVariance: tfl.LayerVariable;
}
type Kwargs = Record<string, unknown>;
// tfjs-layers exports the layer's factory, not its class: take the class from an instance.
const Base = Object.getPrototypeOf(tfl.layers.batchNormalization({})).constructor as new (
  args?: LayerArgs,
) => tfl.layers.Layer & BatchNormState;

/**
 * tfjs-layers' `BatchNormalization` (same weights, config and inference) whose training pass runs
 * {@link batchNormTraining} when normalizing over the last axis, and moves the moving variance
 * with the batch's unbiased variance, as torch's `running_var` (tfjs-layers takes the biased one).
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
      // as tfjs-layers: moving = moving - (moving - batch) * (1 - momentum), but with the batch's
      // unbiased variance, as torch's BatchNorm (tfjs-layers and Keras take the biased one that
      // normalizes the batch): n / (n - 1), n the values per channel. torch refuses n = 1.
      const n = input.size / channels;
      const unbiased = n > 1 ? tf.mul(variance, n / (n - 1)) : variance;
      for (
        const [moving, batch] of [[this.movingMean, mean], [this.movingVariance, unbiased]] as const
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
