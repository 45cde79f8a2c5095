/**
 * A large-tile matrix product for tfjs-backend-webgpu in WGSL, in front of its `BatchMatMul` and
 * `_FusedMatMul` (a dense layer's forward pass with bias and relu; `AnnealMatMul` delegates to it).
 *
 * tfjs-webgpu computes a 32x32 output tile per workgroup of 64 threads: on the H100 its fp32
 * matmul reached 2.7 TFLOP/s at 4096 against PyTorch's 51.6 (../shared/DEVICE.md). A hand-written
 * WGSL SGEMM through Deno on the same GPU reached 21 TFLOP/s with 64x64 tiles, 16x16 threads, 4x4
 * outputs per thread in four named `vec4` accumulators and K slices of 16; that is the kernel
 * here. The 16x64 slices of both operands are staged in workgroup memory as `vec4`s along the
 * output's rows (A) and columns (B), so a thread's inner step is two `vec4` reads and four `vec4`
 * multiply-adds. Operands whose contiguous dimension is a multiple of 4 are read from global
 * memory as `vec4`s; others element by element.
 *
 * Other designs are kept beside it as named variants ({@linkcode MATMUL_VARIANTS}), all tested on
 * the same cases, for `bench/matmul.ts` to measure. On an H200 (timed by blocks that end with a
 * one-element read) `base` reached 2.5, 20.4, 22.2 and 22.6 TFLOP/s at n = 512, 1024, 2048 and
 * 4096, and `t128` (128x128 tiles, 8x8 outputs a thread) 3.3, 20.6, 28.6 and 29.7: 0.31-0.58x
 * `torch.mm`'s 10.6-51.4, and 1.4-5.2x tfjs's kernel. The route runs `t128`
 * ({@linkcode ROUTE_VARIANT}).
 *
 * It declines (tfjs's kernel answers) what it does not cover: non-float32 operands, activations
 * other than linear and relu, prelu weights, a bias other than [N] or [1], batch dimensions that
 * broadcast other than all-or-one, grids past the device's workgroups per dimension, and
 * products too small to fill a GPU with 64x64 tiles (see {@linkcode takesTiledMatMul}).
 *
 * Its products are recorded onto tfjs's command encoder without tfjs's `runWebGPUProgram`
 * ({@linkcode tiledRecording}), which writes a new uniform buffer and makes a new bind group for
 * every product: 110-140 us of the host's time a product through `tf.matMul` on the 2-core VM
 * (~75 us a kernel on the H200's host, where a product of 512 took 80-111 us in all). Recorded
 * directly, a product's uniforms are written once per shape and its bind group made once per set
 * of buffers: 40-57 us (BENCHMARKS.md, fiftieth session).
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { type KernelArgs, overrideKernel } from "./wasm_heap.ts";
import { runProgram, type WebGpuProgram } from "./webgpu_program.ts";
import { newOutput, type WebGpuBackendInternals } from "../optimizers/fused/gpu.ts";

/** Side of the output tile one workgroup computes. */
export const MATMUL_TILE = 64;
/** The shared dimension's slice staged per step. */
const SLICE = 16;
/**
 * Output tiles (of 64x64, over all batches) from which the tiled kernel runs: below that a GPU
 * has too few workgroups to keep busy (on the H100 a 1024 product, 256 tiles, reached 3.2 TFLOP/s
 * against 21 at 4096), and tfjs's smaller tiles or split-K programs spread the work wider. A first
 * guess from those figures, to be set from `bench/matmul.ts` on a GPU.
 */
export const MIN_TILES = 64;

/** The shapes of one product: `batch` products of [M, K] by [K, N]. */
export interface MatMulShape {
  batch: number;
  m: number;
  n: number;
  k: number;
}

/**
 * Whether a product of this shape is worth the tiled kernel: at least {@linkcode MIN_TILES}
 * output tiles, and a shared dimension of at least one slice.
 *
 * @example
 * ```ts
 * import { takesTiledMatMul } from "./webgpu_matmul.ts";
 * console.assert(takesTiledMatMul({ batch: 1, m: 4096, n: 4096, k: 4096 }));
 * console.assert(!takesTiledMatMul({ batch: 1, m: 256, n: 512, k: 784 })); // 32 tiles
 * ```
 */
export function takesTiledMatMul(shape: MatMulShape, minTiles = MIN_TILES): boolean {
  const tiles = shape.batch * Math.ceil(shape.m / MATMUL_TILE) * Math.ceil(shape.n / MATMUL_TILE);
  return tiles >= minTiles && shape.k >= SLICE;
}

/** What the tiled kernel needs of a `BatchMatMul` or `_FusedMatMul` call. */
interface MatMulCall {
  a: tf.TensorInfo;
  b: tf.TensorInfo;
  bias?: tf.TensorInfo;
  transposeA: boolean;
  transposeB: boolean;
  relu: boolean;
  shape: MatMulShape;
  batchA: number;
  batchB: number;
  outShape: number[];
}

function matMulCall({ inputs, attrs }: KernelArgs): MatMulCall | undefined {
  const { a, b, bias, preluActivationWeights } = inputs as Record<
    string,
    tf.TensorInfo | undefined
  >;
  const { transposeA = false, transposeB = false, activation = "linear" } = attrs as {
    transposeA?: boolean;
    transposeB?: boolean;
    activation?: string;
  };
  if (!a || !b || preluActivationWeights || a.shape.length < 2 || b.shape.length < 2) return;
  if (a.dtype !== "float32" || b.dtype !== "float32") return;
  if (activation !== "linear" && activation !== "relu") return;
  const [ra, rb] = [a.shape.length, b.shape.length];
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (k !== kb) return; // tfjs's kernel reports the mismatch
  const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
  const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return;
  if (
    bias && (bias.dtype !== "float32" || bias.shape.length !== 1 ||
      (bias.shape[0] !== n && bias.shape[0] !== 1))
  ) return;
  let outer: number[];
  try {
    outer = tf.broadcast_util.assertAndGetBroadcastShape(
      a.shape.slice(0, -2),
      b.shape.slice(0, -2),
    );
  } catch {
    return;
  }
  const batch = Math.max(batchA, batchB);
  // every product reads the one operand batch of its index, or the shared one: batch shapes
  // that broadcast each other into more products ([2, 1] and [1, 2]: 4) go to tfjs
  if (tf.util.sizeFromShape(outer) !== batch) return;
  if (batch === 0 || m === 0 || n === 0) return;
  return {
    a,
    b,
    bias,
    transposeA,
    transposeB,
    relu: activation === "relu",
    shape: { batch, m, n, k },
    batchA,
    batchB,
    outShape: [...outer, m, n],
  };
}

/**
 * The kernel's designs, chosen by name in {@linkcode tiledMatMul} and measured side by side by
 * `bench/matmul.ts`, to find which part of the design costs the H100 experiment's speed here:
 *
 * - `base`: the kernel as first written (64x64 tiles, bounds-checked reads through functions that
 *   read the uniforms, operands stored along K scattered into workgroup memory component by
 *   component). The default.
 * - `fast`: `base` with no bounds checks when M and N are multiples of the tile and K of the slice
 *   (other shapes run `base`'s checked code), the uniforms read once into `let`s, and the global
 *   reads inlined: every load is then one unconditional `vec4` read.
 * - `vec4`: operands stored along K (A not transposed, B transposed) staged with whole-`vec4`
 *   workgroup stores: a thread reads 4 scalars 4 rows apart at one k, where `base` reads one `vec4`
 *   along K and writes its 4 components to 4 rows of workgroup memory (dynamic component writes,
 *   4-way bank conflicts).
 * - `fast_vec4`: both.
 * - `t128`: `fast` with 128x128 tiles, 8x8 outputs per thread in sixteen named `vec4`
 *   accumulators (4 rows x 4 columns in each quadrant, 64 apart), the same 256 threads: twice the
 *   multiply-adds per workgroup-memory read (the raw WebGPU experiment's 23.6 TFLOP/s design).
 */
export const MATMUL_VARIANTS = ["base", "fast", "vec4", "fast_vec4", "t128"] as const;
/** The name of one of {@linkcode MATMUL_VARIANTS}. */
export type MatMulVariant = typeof MATMUL_VARIANTS[number];

interface Design {
  /** Output tile side: 64 (4x4 per thread) or 128 (8x8). */
  tile: 64 | 128;
  /** Unchecked, hoisted code when the shape is a whole number of tiles and slices. */
  unchecked: boolean;
  /** Whole-`vec4` workgroup stores for operands stored along K. */
  wholeStores: boolean;
}

const DESIGNS: Record<MatMulVariant, Design> = {
  base: { tile: 64, unchecked: false, wholeStores: false },
  fast: { tile: 64, unchecked: true, wholeStores: false },
  vec4: { tile: 64, unchecked: false, wholeStores: true },
  fast_vec4: { tile: 64, unchecked: true, wholeStores: true },
  t128: { tile: 128, unchecked: true, wholeStores: false },
};

/**
 * WGSL of the checked readers of an operand stored [batch, rows, cols] (as `rows`, `cols`
 * uniforms): `read<name>` 4 consecutive values along cols from `col`, `read<name>1` one value,
 * zero outside the matrix; from a `vec4` binding when `wide` (cols a multiple of 4, so a row
 * starts on a `vec4`).
 */
function readers(name: string, wide: boolean): string {
  const rows = `uniforms.${name}Rows`, cols = `uniforms.${name}Cols`;
  const body = wide
    ? `if (row >= ${rows} || col >= ${cols}) { return vec4<f32>(0.0); }
        return ${name}[(base + row * ${cols} + col) / 4];`
    : `var v = vec4<f32>(0.0);
        if (row >= ${rows}) { return v; }
        let at = base + row * ${cols};
        for (var i = 0; i < 4; i = i + 1) {
          if (col + i < ${cols}) { v[i] = ${name}[at + col + i]; }
        }
        return v;`;
  const one = wide ? `${name}[at / 4][at % 4]` : `${name}[at]`;
  return `fn read${name}(base : i32, row : i32, col : i32) -> vec4<f32> {
        ${body}
      }
      fn read${name}1(base : i32, row : i32, col : i32) -> f32 {
        if (row >= ${rows} || col >= ${cols}) { return 0.0; }
        let at = base + row * ${cols} + col;
        return ${one};
      }`;
}

/**
 * WGSL staging one operand's slice (16 along K by `tile` along the output's side) into workgroup
 * memory `S`, laid out [k][side / 4] as `vec4`s; `t` is the thread, 256 of them, each storing
 * `tile / 64` `vec4`s. `alongK`: the operand is stored with K contiguous (A not transposed, B
 * transposed). `read(row, col)` and `read1(row, col)` are WGSL expressions reading 4 values along
 * the stored operand's row, and one value.
 */
function stage(
  S: string,
  tile: number,
  alongK: boolean,
  wholeStores: boolean,
  side0: string,
  read: (row: string, col: string) => string,
  read1: (row: string, col: string) => string,
): string {
  const R = tile / 4; // vec4s per k in workgroup memory
  const parts: string[] = [];
  for (let l = 0; l < tile / 64; l++) {
    const idx = `(t + ${256 * l})`;
    if (!alongK) {
      // stored [K, side]: a vec4 along the side is a vec4 of workgroup memory
      parts.push(`{
            let kk = ${idx} / ${R}; let q = ${idx} % ${R};
            ${S}[kk * ${R} + q] = ${read(`k0 + kk`, `${side0} + q * 4`)};
          }`);
    } else if (wholeStores) {
      // 4 scalars 4 rows apart at one k: consecutive threads store consecutive vec4s
      const rows = [0, 1, 2, 3].map((j) => read1(`${side0} + q * 4 + ${j}`, `k0 + kk`));
      parts.push(`{
            let kk = ${idx} / ${R}; let q = ${idx} % ${R};
            ${S}[kk * ${R} + q] = vec4<f32>(${rows.join(", ")});
          }`);
    } else {
      // one vec4 along K, its 4 components to 4 k rows of workgroup memory
      parts.push(`{
            let s = ${idx} / 4; let kq = (${idx} % 4) * 4;
            let v = ${read(`${side0} + s`, `k0 + kq`)};
            ${
        ["x", "y", "z", "w"].map((c, i) => `${S}[(kq + ${i}) * ${R} + s / 4][s % 4] = v.${c};`)
          .join("\n            ")
      }
          }`);
    }
  }
  return parts.join("\n          ");
}

/**
 * The product `op(a) · op(b)` (+ bias, relu) on the webgpu backend with 64x64 (`t128`: 128x128)
 * tiles; declines
 * (undefined) what it does not cover, see the module's note. `minTiles`: the size below which it
 * declines (0 takes every product it covers: the tests'). `variant`: the kernel's design, one of
 * {@linkcode MATMUL_VARIANTS} (`base` unless given; the route runs {@linkcode ROUTE_VARIANT}).
 */
export function tiledMatMul(
  args: KernelArgs,
  minTiles = MIN_TILES,
  variant: MatMulVariant = "base",
): tf.TensorInfo | undefined {
  const call = matMulCall(args);
  if (!call || !takesTiledMatMul(call.shape, minTiles)) return;
  const design = DESIGNS[variant];
  if (!design) throw new Error(`unknown matmul variant ${variant}`);
  const { a, b, bias, transposeA, transposeB, relu, shape, batchA, batchB } = call;
  const { batch, m, n, k } = shape;
  const T = design.tile;
  // A grid past the device's workgroups per dimension would be folded by tfjs into other axes,
  // which this kernel does not read back (its tile and batch are the workgroup's x, y and z).
  const most = (args.backend as { device: GPUDevice }).device.limits
    .maxComputeWorkgroupsPerDimension;
  if (Math.max(Math.ceil(n / T), Math.ceil(m / T), batch) > most) return;
  // storage shapes [rows, cols] of the two operands
  const [aRows, aCols] = transposeA ? [k, m] : [m, k];
  const [bRows, bCols] = transposeB ? [n, k] : [k, n];
  const [wideA, wideB, wideOut] = [aCols % 4 === 0, bCols % 4 === 0, n % 4 === 0];
  // whole tiles and slices: every read in bounds, and every operand and the output vec4-wide
  const unchecked = design.unchecked && m % T === 0 && n % T === 0 && k % SLICE === 0;
  const R = T / 4;
  const halves = T / 64; // vec4 rows and columns per thread: 1 (4x4) or 2 (8x8)
  const readOf = (name: string, base: string, cols: string) =>
    unchecked
      ? {
        read: (row: string, col: string) => `${name}[(${base} + (${row}) * ${cols} + ${col}) / 4]`,
        read1: (row: string, col: string) =>
          `${name}[(${base} + (${row}) * ${cols} + ${col}) / 4][(${col}) % 4]`,
      }
      : {
        read: (row: string, col: string) => `read${name}(${base}, ${row}, ${col})`,
        read1: (row: string, col: string) => `read${name}1(${base}, ${row}, ${col})`,
      };
  const rA = readOf("A", "aBase", "aColsU"), rB = readOf("B", "bBase", "bColsU");
  const loadA = stage("As", T, !transposeA, design.wholeStores, "m0", rA.read, rA.read1);
  const loadB = stage("Bs", T, transposeB, design.wholeStores, "n0", rB.read, rB.read1);
  const biasAt = (col: string) =>
    !bias
      ? "vec4<f32>(0.0)"
      : bias.shape[0] === 1
      ? "vec4<f32>(bias[0])"
      : unchecked
      ? `vec4<f32>(bias[${col}], bias[${col} + 1], bias[${col} + 2], bias[${col} + 3])`
      : `vec4<f32>(biasAt(${col}), biasAt(${col} + 1), biasAt(${col} + 2), biasAt(${col} + 3))`;
  const store = (row: string, col: string, v: string) =>
    unchecked
      ? `result[(cBase + ${row} * nU + ${col}) / 4] = ${v};`
      : wideOut
      ? `if (${row} < mU && ${col} < nU) { result[(cBase + ${row} * nU + ${col}) / 4] = ${v}; }`
      : `if (${row} < mU) {
            for (var i = 0; i < 4; i = i + 1) {
              if (${col} + i < nU) { result[cBase + ${row} * nU + ${col} + i] = ${v}[i]; }
            }
          }`;
  // accumulator acc<r>_<c>: the thread's row ty * 4 + r % 4 + 64 * (r / 4), columns from
  // tx * 4 + 64 * c; named variables, since arrays indexed in loops were not kept in registers
  const accs: string[] = [], steps: string[] = [], stores: string[] = [];
  const xyzw = ["x", "y", "z", "w"];
  for (let h = 0; h < halves; h++) {
    steps.push(`let av${h} = As[kk * ${R} + ty + ${16 * h}];`);
    steps.push(`let bv${h} = Bs[kk * ${R} + tx + ${16 * h}];`);
  }
  for (let c = 0; c < halves; c++) {
    stores.push(`let b4_${c} = ${biasAt(`n0 + tx * 4 + ${64 * c}`)};`);
  }
  for (let r = 0; r < 4 * halves; r++) {
    for (let c = 0; c < halves; c++) {
      const acc = `acc${r}_${c}`;
      accs.push(`var ${acc} = vec4<f32>(0.0);`);
      steps.push(
        `${acc} = fma(vec4<f32>(av${Math.floor(r / 4)}.${xyzw[r % 4]}), bv${c}, ${acc});`,
      );
      const row = `(m0 + ty * 4 + ${(r % 4) + 64 * Math.floor(r / 4)})`;
      const col = `(n0 + tx * 4 + ${64 * c})`;
      stores.push(`{
          var v = ${acc} + b4_${c};
          ${relu ? "v = max(v, vec4<f32>(0.0));" : ""}
          ${store(row, col, "v")}
        }`);
    }
  }
  const variableNames = bias ? ["A", "B", "bias"] : ["A", "B"];
  const rank = call.outShape.length;
  const program: WebGpuProgram = {
    variableNames,
    variableComponents: [wideA ? 4 : 1, wideB ? 4 : 1, ...(bias ? [1] : [])],
    outputComponent: wideOut ? 4 : 1,
    outputShape: call.outShape,
    shaderKey:
      `anneal_matmul_${variant}_${unchecked}_${transposeA}_${transposeB}_${wideA}_${wideB}_${wideOut}_${
        bias ? bias.shape[0] === 1 ? "bias1" : "bias" : "nobias"
      }_${relu}`,
    dispatchLayout: { x: [rank - 1], y: [rank - 2] },
    dispatch: [Math.ceil(n / T), Math.ceil(m / T), batch],
    workgroupSize: [256, 1, 1],
    size: false,
    uniforms: "m : i32, n : i32, k : i32, ARows : i32, ACols : i32, BRows : i32, BCols : i32, " +
      "batchA : i32, batchB : i32,",
    getUserCode: () => `
      var<workgroup> As : array<vec4<f32>, ${SLICE * R}>;
      var<workgroup> Bs : array<vec4<f32>, ${SLICE * R}>;
      ${unchecked ? "" : readers("A", wideA)}
      ${unchecked ? "" : readers("B", wideB)}
      ${
      bias && bias.shape[0] !== 1 && !unchecked
        ? `fn biasAt(c : i32) -> f32 {
        if (c < uniforms.n) { return bias[c]; }
        return 0.0;
      }`
        : ""
    }
      fn main() {
        // the uniforms once, as lets: the loops' bounds and strides
        let mU = uniforms.m;
        let nU = uniforms.n;
        let kU = uniforms.k;
        let aColsU = uniforms.ACols;
        let bColsU = uniforms.BCols;
        let t = i32(localId.x);
        let tx = t % 16;
        let ty = t / 16;
        let n0 = i32(workgroupId.x) * ${T};
        let m0 = i32(workgroupId.y) * ${T};
        let z = i32(workgroupId.z);
        let aBase = select(0, z, uniforms.batchA > 1) * uniforms.ARows * aColsU;
        let bBase = select(0, z, uniforms.batchB > 1) * uniforms.BRows * bColsU;
        ${accs.join("\n        ")}
        for (var k0 = 0; k0 < kU; k0 = k0 + ${SLICE}) {
          ${loadA}
          ${loadB}
          workgroupBarrier();
          for (var kk = 0; kk < ${SLICE}; kk = kk + 1) {
            ${steps.join("\n            ")}
          }
          workgroupBarrier();
        }
        let cBase = z * mU * nU;
        ${stores.join("\n        ")}
      }`,
  };
  const words = [m, n, k, aRows, aCols, bRows, bCols, batchA, batchB];
  const operands = bias ? [a, b, bias] : [a, b];
  if (tiledRecording.direct) {
    const out = recordDirect(args.backend, program, operands, words);
    if (out) return out;
  }
  const uniforms = words.map((value) => ({ type: "int32", data: [value] }));
  return runProgram(args.backend, program, operands, uniforms);
}

/**
 * How {@linkcode tiledMatMul} records its product. `direct` (the default): on anneal's own
 * pipeline, with a uniform buffer made once per shape and bind groups kept for the buffers they
 * bind, onto tfjs's command encoder (see {@linkcode recordDirect}). Off: through tfjs's
 * `runWebGPUProgram`, which writes a new uniform buffer and makes a bind group for every product
 * (`bench/matmul.ts --via-tfjs t128`: the A/B). `recorded` counts the products recorded directly.
 */
export const tiledRecording = { direct: true, recorded: 0 };

/** Uniform buffers (by their words) and bind groups (by their buffers) kept at most. */
const KEPT = 64;

/** A backend's pipelines, uniform buffers and bind groups of the directly recorded products. */
interface DirectState {
  pipelines: Map<string, GPUComputePipeline>;
  /** By the uniforms' words; oldest first (a Map keeps insertion order). */
  uniforms: Map<string, GPUBuffer>;
  /** By the pipeline's key and the ids of the buffers bound; oldest first. */
  bindGroups: Map<string, GPUBindGroup>;
}
const directStates = new WeakMap<object, DirectState>();
/** A number per buffer, for the bind groups' keys (buffers are compared by identity). */
const bufferIds = new WeakMap<GPUBuffer, number>();
let nextBufferId = 0;
const idOf = (buffer: GPUBuffer) => {
  let id = bufferIds.get(buffer);
  if (id === undefined) bufferIds.set(buffer, id = nextBufferId++);
  return id;
};

/** Takes `key`'s entry out of `map` and puts it back last (most recently used); or undefined. */
function touch<V>(map: Map<string, V>, key: string): V | undefined {
  const value = map.get(key);
  if (value !== undefined) {
    map.delete(key);
    map.set(key, value);
  }
  return value;
}

/**
 * The WGSL module of a tiled product recorded directly: what tfjs's `runWebGPUProgram` puts
 * around `getUserCode` for it (bindings `result`, the operands, the uniforms last; `localId` and
 * `workgroupId`), with its own uniforms only (tfjs's shapes and strides are not read).
 */
function directShader(program: WebGpuProgram): string {
  const element = (width: number) => width === 4 ? "vec4<f32>" : "f32";
  const operands = program.variableNames.map((name, i) =>
    `@group(0) @binding(${i + 1}) var<storage, read> ${name} : array<${
      element(program.variableComponents?.[i] ?? 1)
    }>;`
  );
  const fields = program.uniforms!.split(",").map((f) => f.trim()).filter((f) => f !== "");
  return `
      struct Uniforms { ${fields.join(", ")} }
      @group(0) @binding(0) var<storage, read_write> result : array<${
    element(program.outputComponent ?? 1)
  }>;
      ${operands.join("\n      ")}
      @group(0) @binding(${operands.length + 1}) var<uniform> uniforms : Uniforms;
      var<private> localId : vec3<u32>;
      var<private> workgroupId : vec3<u32>;
      ${program.getUserCode()}
      @compute @workgroup_size(${program.workgroupSize.join(", ")})
      fn _start(@builtin(local_invocation_id) lid : vec3<u32>,
                @builtin(workgroup_id) wid : vec3<u32>) {
        localId = lid;
        workgroupId = wid;
        main();
      }`;
}

/**
 * Records `program` (a tiled product: int32 uniforms `words`, in its struct's order) onto tfjs's
 * command encoder as tfjs's `runWebGPUProgram` would, with less host work per product: its
 * pipeline is made once per shader key, its uniforms are written once per shape into a buffer
 * kept for the next product of that shape, and a bind group is made only for buffers not bound
 * together before (tfjs's pool hands the same buffers out again). tfjs's bookkeeping is kept: the
 * operands and the output are marked in use by the queued commands (so that a tensor disposed
 * meanwhile keeps its buffer until they are submitted), the dispatch is counted in tfjs's pass, and
 * the pass is submitted when tfjs would submit it. Returns undefined (nothing recorded) where tfjs
 * must run it: while tfjs times its programs (`tf.time`: a pass and a timestamp query each) or
 * compiles in parallel, or for an operand not in a buffer (a texture).
 */
function recordDirect(
  backend: unknown,
  program: WebGpuProgram,
  operands: tf.TensorInfo[],
  words: number[],
): tf.TensorInfo | undefined {
  const b = backend as WebGpuBackendInternals;
  if (b.activeTimers != null || tf.env().getBool("WEBGPU_ENGINE_COMPILE_ONLY")) return;
  const device = b.device;
  const buffers: GPUBuffer[] = [];
  for (const operand of operands) {
    b.uploadToGPU(operand.dataId);
    const resource = b.tensorMap.get(operand.dataId)?.resource;
    if (!(resource instanceof GPUBuffer)) return;
    buffers.push(resource);
  }
  let state = directStates.get(backend as object);
  if (!state) {
    state = { pipelines: new Map(), uniforms: new Map(), bindGroups: new Map() };
    directStates.set(backend as object, state);
  }
  let pipeline = state.pipelines.get(program.shaderKey);
  if (!pipeline) {
    pipeline = device.createComputePipeline({
      label: program.shaderKey,
      layout: "auto",
      compute: { module: device.createShaderModule({ code: directShader(program) }) },
    });
    state.pipelines.set(program.shaderKey, pipeline);
  }
  const wordsKey = words.join(",");
  let uniforms = touch(state.uniforms, wordsKey);
  if (!uniforms) {
    const usage = GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST;
    // (a struct of i32s: its size rounded up to 16 bytes)
    uniforms = b.bufferManager.acquireBuffer(Math.ceil(words.length / 4) * 16, usage);
    // A queue write lands before the encoder's queued commands: none of them binds this buffer
    // (a new one, or one tfjs's pool took back once the commands binding it were submitted).
    device.queue.writeBuffer(uniforms, 0, new Int32Array(words));
    state.uniforms.set(wordsKey, uniforms);
    if (state.uniforms.size > KEPT) {
      const [oldest, buffer] = state.uniforms.entries().next().value!;
      state.uniforms.delete(oldest);
      // back to tfjs's pool once the commands queued so far (which may bind it) are submitted
      b.uniformPendingDisposal.push(buffer);
    }
  }
  const { info: output, buffer: target } = newOutput(b, program.outputShape);
  const bound = [target, ...buffers, uniforms];
  const groupKey = `${program.shaderKey}|${bound.map(idOf).join(",")}`;
  let bindGroup = touch(state.bindGroups, groupKey);
  if (!bindGroup) {
    bindGroup = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: bound.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    state.bindGroups.set(groupKey, bindGroup);
    if (state.bindGroups.size > KEPT) {
      state.bindGroups.delete(state.bindGroups.keys().next().value!);
    }
  }
  for (const operand of operands) b.commandQueueOwnedIds.add(operand.dataId);
  b.ensureCommandEncoderReady();
  b.computePassEncoder ??= b.commandEncoder!.beginComputePass({});
  const pass = b.computePassEncoder;
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(...program.dispatch);
  tiledRecording.recorded++;
  if (++b.dispatchCountInPass >= tf.env().getNumber("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE")) {
    b.endComputePassEncoder();
    b.submitQueue();
  }
  return output;
}

/**
 * Puts {@linkcode tiledMatMul} in front of webgpu's `BatchMatMul` and `_FusedMatMul` (which still
 * run what it declines). Returns the kernels overridden.
 */
export function routeWebGpuMatMul(): string[] {
  return ["BatchMatMul", "_FusedMatMul"].filter((name) =>
    overrideKernel("webgpu", name, routedMatMul)
  );
}

/**
 * The design the route runs: on the H200 the fastest at n = 512, 2048 and 4096, and within 3% of
 * the fastest (`fast`) at 1024 (BENCHMARKS.md, forty-first session).
 */
export const ROUTE_VARIANT: MatMulVariant = "t128";

/** The kernel the route installs (one function, so that routing twice chains it once). */
const routedMatMul = (args: KernelArgs) => tiledMatMul(args, MIN_TILES, ROUTE_VARIANT);
