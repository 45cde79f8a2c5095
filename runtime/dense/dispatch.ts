/**
 * What the WGSL training step records: dispatches with their pipeline, buffers, uniform words and
 * workgroup counts per micro-batch size, and the cache of compiled pipelines per device. Shared by
 * the dense layers (`gpu_program.ts`) and the convolutional blocks (`conv.ts`).
 *
 * @module
 */
import { AnnealError } from "../../errors.ts";
import {
  BIAS_GRAD_WGSL,
  biasGradShape,
  type Epilogue,
  type Gather,
  type HalfStorage,
  matmulStaging,
  matmulWgsl,
  TILE,
} from "./wgsl.ts";

/**
 * Throws an internal error where a plan's weight (`what`, e.g. "Dense layer 0 kernel") does not
 * have the shape the step's kernels are built for.
 */
export function expectShape(weight: { shape: readonly number[] }, shape: number[], what: string) {
  if (weight.shape.join("x") !== shape.join("x")) {
    throw new AnnealError("internal", `${what} has shape [${weight.shape}], expected [${shape}]`);
  }
}

/** The uniform block of each dispatch lives in its own 256-byte slot. */
export const SLOT = 256;
/** Bytes bound of each slot: the largest block (a gathered matmul's 10 words, rounded up). */
export const UNIFORM_BYTES = 48;
/** Workgroups at most along one dimension of a dispatch (WebGPU's default limit). */
export const MAX_GROUPS = 65535;

/** One compute dispatch of the step. */
export interface Dispatch {
  pipeline: GPUComputePipeline;
  /** Buffers bound at 1, 2, ... (0 is the uniform slot). */
  buffers: () => GPUBuffer[];
  /**
   * Uniform words (u32; floats as their bits) for a micro-batch of `rows` samples (`training`:
   * false for an evaluation's forward pass, where batch norm normalizes by its moving averages).
   */
  uniforms: (rows: number, accumulate: number, scale: number, training: boolean) => number[];
  /** Workgroups (x, y[, z]) for a micro-batch of `rows` samples (a function of `rows` alone). */
  groups: (rows: number) => number[];
  /**
   * A forward dispatch an evaluation leaves out: dropout's draws, batch norm's statistics of the
   * batch (inference normalizes by the moving averages).
   */
  trainingOnly?: boolean;
  bindGroup?: GPUBindGroup;
  /** The workgroups of the last `rows` recorded (kept by the recorder: `groups` allocates). */
  recorded?: { rows: number; x: number; y: number; z: number };
}

/** The bits of `x` as an f32, for a float in a block of u32 words. */
export function floatBits(x: number): number {
  return new Uint32Array(Float32Array.of(x).buffer)[0];
}

const pipelineCache = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

/** The compute pipeline of `code` (made once per device and key). */
export function pipelineFor(
  device: GPUDevice,
  key: string,
  code: () => string,
): GPUComputePipeline {
  let perDevice = pipelineCache.get(device);
  if (!perDevice) pipelineCache.set(device, perDevice = new Map());
  let pipeline = perDevice.get(key);
  if (!pipeline) {
    const module = device.createShaderModule({ code: code(), label: `anneal dense ${key}` });
    pipeline = device.createComputePipeline({
      label: `anneal dense ${key}`,
      layout: "auto",
      compute: { module, entryPoint: "main" },
    });
    perDevice.set(key, pipeline);
  }
  return pipeline;
}

/**
 * A storage buffer of `floats` 4-byte words (at least 16 bytes), `label`ed for WebGPU's errors.
 * Throws where the device could not bind it whole (`maxStorageBufferBindingSize`, 128 MiB on
 * llvmpipe and by WebGPU's default): every dispatch binding it would be invalid, and with it the
 * whole command buffer of the step, whose loss, gradients and norm would then read as 0.
 */
export function storageBuffer(
  device: GPUDevice,
  floats: number,
  label: string,
  usage = 0,
): GPUBuffer {
  const size = Math.max(16, floats * 4);
  const limit = device.limits.maxStorageBufferBindingSize;
  if (size > limit) {
    const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
    throw new AnnealError(
      "config",
      `The WGSL step's buffer '${label.replace(/^anneal /, "")}' for a micro-batch takes ${
        mib(size)
      } MiB in one buffer, more than this device binds (${mib(limit)} MiB)`,
      {
        where: "batchSize",
        hint: "use a smaller batchSize (gradientAccumulation keeps the samples a step takes), " +
          "or a smaller model",
      },
    );
  }
  return device.createBuffer({ label, size, usage: GPUBufferUsage.STORAGE | usage });
}

/** Workgroups of `size` threads covering `n` items, as a 2-D grid within the per-axis limit. */
export function grid(n: number, size: number): [number, number] {
  const groups = Math.max(1, Math.ceil(n / size));
  const x = Math.min(groups, MAX_GROUPS);
  return [x, Math.ceil(groups / x)];
}

/** A matmul of the step (see {@linkcode matmulWgsl}). */
export interface MatmulUse {
  transA: boolean;
  transB: boolean;
  epilogue: Epilogue;
  /** [M, N, K] for a micro-batch of `rows` samples. */
  dims: (rows: number) => [number, number, number];
  buffers: () => GPUBuffer[];
  half?: HalfStorage;
  /** Gathered operands: their pipeline key, their code, their sizes (the extra uniform words). */
  gather?: { key: string; code: Gather; sizes: number[] };
  /** With the `partial` epilogue: the slices of K and the slice length for `rows` samples. */
  split?: (rows: number) => [number, number];
}

/** The dispatch of a tiled matmul: one workgroup per {@linkcode TILE}-square output tile. */
export function matmulDispatch(device: GPUDevice, use: MatmulUse): Dispatch {
  const { transA, transB, epilogue, half = {}, gather } = use;
  const key = `mm${+transA}${+transB}-${epilogue.kind}-${
    "activation" in epilogue ? epilogue.activation : ""
  }-${+!!half.a}${+!!half.out}${+!!half.prev}${gather ? `-${gather.key}` : ""}${
    matmulStaging.unrolled ? "" : "-loops"
  }`;
  return {
    pipeline: pipelineFor(
      device,
      key,
      () => matmulWgsl(transA, transB, epilogue, half, gather?.code),
    ),
    buffers: use.buffers,
    uniforms: (rows, accumulate) => [
      ...use.dims(rows),
      accumulate,
      ...(gather?.sizes ?? []),
      ...(use.split ? [use.split(rows)[1]] : []),
    ],
    groups: (rows) => {
      const [m, n] = use.dims(rows);
      return [Math.ceil(n / TILE), Math.ceil(m / TILE), use.split?.(rows)[0] ?? 1];
    },
  };
}

/**
 * Output tiles below which a product with a long K is split along K: a GPU has 100+ cores (an
 * H200 132), and a product of fewer 32x32 tiles (a dense head of 128 units over a batch of 128:
 * 16; an LSTM's recurrent kernel gradient, 128 x 512: 64) leaves many of them idle while each
 * workgroup walks all of K.
 */
export const SPLIT_MAX_TILES = 128;
/** K at least for a split: below it a slice's work is too short to pay for the finishing sum. */
export const SPLIT_MIN_K = 1024;
/** Workgroups a split product aims at in all (tiles x slices). */
export const SPLIT_GROUPS = 256;
/**
 * Slice length aimed at along K at least: K takes at most `ceil(K / SPLIT_MIN_SLICE)` slices
 * (the length rounded up to a multiple of {@linkcode TILE}; over 200 where K >= 1024).
 */
export const SPLIT_MIN_SLICE = 256;

/**
 * [slices, slice length] of K for an [M, N] product over `k`: more than one slice where the
 * product has fewer than {@linkcode SPLIT_MAX_TILES} output tiles and `k` is at least
 * {@linkcode SPLIT_MIN_K}, else `[1, k]` (the product as one dispatch, no partials). A split
 * aims at {@linkcode SPLIT_GROUPS} workgroups in all, at most `ceil(k / SPLIT_MIN_SLICE)`
 * slices, each a multiple of {@linkcode TILE} long (as the `partial` epilogue takes them).
 */
export function productSplit(m: number, n: number, k: number): [number, number] {
  const tiles = Math.ceil(m / TILE) * Math.ceil(n / TILE);
  if (tiles >= SPLIT_MAX_TILES || k < SPLIT_MIN_K) return [1, k];
  return sliceK(tiles, k);
}

/**
 * [slices, slice length] of a K of `k` for a product of `tiles` output tiles: about
 * {@linkcode SPLIT_GROUPS} workgroups in all, at most `ceil(k / SPLIT_MIN_SLICE)` slices, each
 * a multiple of {@linkcode TILE} long. The dense step's splits ({@linkcode productSplit}) and the
 * conv blocks' filter gradient (which always splits) take their slices from it.
 */
export function sliceK(tiles: number, k: number): [number, number] {
  const wanted = Math.max(
    1,
    Math.min(Math.ceil(SPLIT_GROUPS / tiles), Math.ceil(k / SPLIT_MIN_SLICE)),
  );
  const length = Math.ceil(Math.ceil(k / wanted) / TILE) * TILE;
  return [Math.ceil(k / length), length];
}

/**
 * Floats of the partials of an [M(rows), N] product over K that {@linkcode productSplit} splits,
 * for every micro-batch of up to `rows` samples (fewer rows have fewer tiles and may take more
 * slices); 0 where a micro-batch of `rows` samples does not split it (nor then one of fewer:
 * those splits are planned at the buffers' `rows`).
 */
export function splitPartialFloats(
  rows: number,
  dims: (rows: number) => [number, number, number],
): number {
  const [m, n, k] = dims(rows);
  if (productSplit(m, n, k)[0] === 1) return 0;
  let floats = 0;
  // (a split product has fewer than SPLIT_MAX_TILES tiles: at most a few thousand rows)
  for (let r = 1; r <= rows; r++) {
    const [mr, nr, kr] = dims(r);
    floats = Math.max(floats, productSplit(mr, nr, kr)[0] * mr * nr);
  }
  return floats;
}

/** A weight gradient's product `out (+)= A^T · D` (see {@linkcode gradDispatches}). */
export interface GradUse {
  /** [M, N, K] for a micro-batch of `rows` samples (K: the rows the gradient sums over). */
  dims: (rows: number) => [number, number, number];
  /** A (stored [K, M]) and D ([K, N]). */
  operands: () => [GPUBuffer, GPUBuffer];
  /** The gradient, [M, N]. */
  grad: () => GPUBuffer;
  half?: HalfStorage;
  /**
   * The split-K partials (of {@linkcode splitPartialFloats} floats) where the product splits at
   * the buffers' rows; absent, one product writes the gradient.
   */
  partials?: () => GPUBuffer;
}

/**
 * A {@linkcode BIAS_GRAD_WGSL} dispatch: the column sums of a [R, C] matrix (the first buffer)
 * into the second, added to it when micro-batches accumulate; `shape` gives [R, C] for a
 * micro-batch of `rows` samples. A bias gradient (R: the rows, or a sequence's steps x rows), or
 * the sum of a split-K product's partials (R: its slices, C: M x N).
 */
export function columnSumDispatch(
  device: GPUDevice,
  buffers: () => GPUBuffer[],
  shape: (rows: number) => [number, number],
): Dispatch {
  return {
    pipeline: pipelineFor(device, "bias-grad", () => BIAS_GRAD_WGSL),
    buffers,
    uniforms: (rows, accumulate) => {
      const [r, c] = shape(rows);
      return [r, c, accumulate, biasGradShape(r, c).lanes];
    },
    groups: (rows) => columnSumGroups(...shape(rows)),
  };
}

/**
 * The workgroups of a {@linkcode BIAS_GRAD_WGSL} dispatch over [rows, cols]: along x, and along y
 * too where they are more than one axis takes (65535: at 32 lanes, 8 columns a workgroup, a
 * layer of over 524,280 units, or an LSTM of over 131,070).
 */
export function columnSumGroups(rows: number, cols: number): [number, number] {
  return grid(biasGradShape(rows, cols).groups, 1);
}

/**
 * The dispatches of a weight gradient: one `grad` product, or (with partials) K's slices'
 * products into the partials (the `partial` epilogue, slices by {@linkcode productSplit}) and
 * their column sums into the gradient (the bias gradient's kernel, as the conv blocks' filter
 * gradient), which add into it when accumulating micro-batches as the `grad` epilogue does.
 */
export function gradDispatches(device: GPUDevice, use: GradUse): Dispatch[] {
  const { dims, operands, grad, half = {}, partials } = use;
  // A^T · D into `out`: the gradient itself, or the slices' partials
  const product = (
    epilogue: Epilogue,
    out: () => GPUBuffer,
    split?: (rows: number) => [number, number],
  ) =>
    matmulDispatch(device, {
      transA: true,
      transB: false,
      epilogue,
      dims,
      buffers: () => [...operands(), out()],
      half,
      split,
    });
  if (!partials) return [product({ kind: "grad" }, grad)];
  const split = (rows: number) => productSplit(...dims(rows));
  return [
    product({ kind: "partial" }, partials, split),
    // the slices' [M, N] partials summed: rows = slices, columns = M x N
    columnSumDispatch(device, () => [partials(), grad()], (rows) => {
      const [m, n] = dims(rows);
      return [split(rows)[0], m * n];
    }),
  ];
}
