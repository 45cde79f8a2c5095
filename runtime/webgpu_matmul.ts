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
 * It declines (tfjs's kernel answers) what it does not cover: non-float32 operands, activations
 * other than linear and relu, prelu weights, a bias other than [N] or [1], batch dimensions that
 * broadcast other than all-or-one, and products too small to fill a GPU with 64x64 tiles
 * (see {@linkcode takesTiledMatMul}).
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { type KernelArgs, overrideKernel } from "./wasm_heap.ts";
import { runProgram, type WebGpuProgram } from "./webgpu_program.ts";

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
 * WGSL of a function reading 4 consecutive values of an operand stored [batch, rows, cols] (as
 * `rows`, `cols` uniforms), along cols from `col`, zero outside the matrix; from a `vec4` binding
 * when `wide` (cols a multiple of 4).
 */
function reader(name: string, wide: boolean): string {
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
  return `fn read${name}(base : i32, row : i32, col : i32) -> vec4<f32> {
        ${body}
      }`;
}

/**
 * The product `op(a) · op(b)` (+ bias, relu) on the webgpu backend with 64x64 tiles; declines
 * (undefined) what it does not cover, see the module's note. `minTiles`: the size below which it
 * declines (0 takes every product it covers: the tests').
 */
export function tiledMatMul(args: KernelArgs, minTiles = MIN_TILES): tf.TensorInfo | undefined {
  const call = matMulCall(args);
  if (!call || !takesTiledMatMul(call.shape, minTiles)) return;
  const { a, b, bias, transposeA, transposeB, relu, shape, batchA, batchB } = call;
  const { batch, m, n, k } = shape;
  // storage shapes [rows, cols] of the two operands
  const [aRows, aCols] = transposeA ? [k, m] : [m, k];
  const [bRows, bCols] = transposeB ? [n, k] : [k, n];
  const [wideA, wideB, wideOut] = [aCols % 4 === 0, bCols % 4 === 0, n % 4 === 0];
  const biasAt = !bias
    ? "vec4<f32>(0.0)"
    : bias.shape[0] === 1
    ? "vec4<f32>(bias[0])"
    : "vec4<f32>(biasAt(col), biasAt(col + 1), biasAt(col + 2), biasAt(col + 3))";
  // a thread's 256-thread share of a slice: A's 64 rows x 16 and B's 16 x 64 columns, one vec4
  // each, read along the stored operand's contiguous dimension
  const loadA = transposeA
    ? `let kk = t / 16; let mm = (t % 16) * 4;
          As[kk * 16 + mm / 4] = readA(aBase, k0 + kk, m0 + mm);`
    : `let mm = t / 4; let kk = (t % 4) * 4;
          let v = readA(aBase, m0 + mm, k0 + kk);
          for (var i = 0; i < 4; i = i + 1) { As[(kk + i) * 16 + mm / 4][mm % 4] = v[i]; }`;
  const loadB = transposeB
    ? `let nn = t / 4; let kk = (t % 4) * 4;
          let v = readB(bBase, n0 + nn, k0 + kk);
          for (var i = 0; i < 4; i = i + 1) { Bs[(kk + i) * 16 + nn / 4][nn % 4] = v[i]; }`
    : `let kk = t / 16; let nn = (t % 16) * 4;
          Bs[kk * 16 + nn / 4] = readB(bBase, k0 + kk, n0 + nn);`;
  const store = wideOut
    ? `result[(cBase + row * uniforms.n + col) / 4] = v;`
    : `for (var i = 0; i < 4; i = i + 1) {
            if (col + i < uniforms.n) { result[cBase + row * uniforms.n + col + i] = v[i]; }
          }`;
  const variableNames = bias ? ["A", "B", "bias"] : ["A", "B"];
  const rank = call.outShape.length;
  const program: WebGpuProgram = {
    variableNames,
    variableComponents: [wideA ? 4 : 1, wideB ? 4 : 1, ...(bias ? [1] : [])],
    outputComponent: wideOut ? 4 : 1,
    outputShape: call.outShape,
    shaderKey: `anneal_matmul64_${transposeA}_${transposeB}_${wideA}_${wideB}_${wideOut}_${
      bias ? bias.shape[0] === 1 ? "bias1" : "bias" : "nobias"
    }_${relu}`,
    dispatchLayout: { x: [rank - 1], y: [rank - 2] },
    dispatch: [Math.ceil(n / MATMUL_TILE), Math.ceil(m / MATMUL_TILE), batch],
    workgroupSize: [256, 1, 1],
    size: false,
    uniforms: "m : i32, n : i32, k : i32, ARows : i32, ACols : i32, BRows : i32, BCols : i32, " +
      "batchA : i32, batchB : i32,",
    getUserCode: () => `
      var<workgroup> As : array<vec4<f32>, ${SLICE * 16}>;
      var<workgroup> Bs : array<vec4<f32>, ${SLICE * 16}>;
      ${reader("A", wideA)}
      ${reader("B", wideB)}
      ${
      bias && bias.shape[0] !== 1
        ? `fn biasAt(c : i32) -> f32 {
        if (c < uniforms.n) { return bias[c]; }
        return 0.0;
      }`
        : ""
    }
      fn main() {
        let t = i32(localId.x);
        let tx = t % 16;
        let ty = t / 16;
        let n0 = i32(workgroupId.x) * ${MATMUL_TILE};
        let m0 = i32(workgroupId.y) * ${MATMUL_TILE};
        let z = i32(workgroupId.z);
        let aBase = select(0, z, uniforms.batchA > 1) * uniforms.ARows * uniforms.ACols;
        let bBase = select(0, z, uniforms.batchB > 1) * uniforms.BRows * uniforms.BCols;
        var acc0 = vec4<f32>(0.0);
        var acc1 = vec4<f32>(0.0);
        var acc2 = vec4<f32>(0.0);
        var acc3 = vec4<f32>(0.0);
        for (var k0 = 0; k0 < uniforms.k; k0 = k0 + ${SLICE}) {
          {
            ${loadA}
          }
          {
            ${loadB}
          }
          workgroupBarrier();
          for (var kk = 0; kk < ${SLICE}; kk = kk + 1) {
            let av = As[kk * 16 + ty];
            let bv = Bs[kk * 16 + tx];
            acc0 = fma(vec4<f32>(av.x), bv, acc0);
            acc1 = fma(vec4<f32>(av.y), bv, acc1);
            acc2 = fma(vec4<f32>(av.z), bv, acc2);
            acc3 = fma(vec4<f32>(av.w), bv, acc3);
          }
          workgroupBarrier();
        }
        let col = n0 + tx * 4;
        if (col >= uniforms.n) { return; }
        let cBase = z * uniforms.m * uniforms.n;
        let b4 = ${biasAt};
        ${
      [0, 1, 2, 3].map((r) =>
        `{
          let row = m0 + ty * 4 + ${r};
          if (row < uniforms.m) {
            var v = acc${r} + b4;
            ${relu ? "v = max(v, vec4<f32>(0.0));" : ""}
            ${store}
          }
        }`
      ).join("\n        ")
    }
      }`,
  };
  const uniforms = [m, n, k, aRows, aCols, bRows, bCols, batchA, batchB]
    .map((value) => ({ type: "int32", data: [value] }));
  return runProgram(args.backend, program, bias ? [a, b, bias] : [a, b], uniforms);
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

/** The kernel the route installs (one function, so that routing twice chains it once). */
const routedMatMul = (args: KernelArgs) => tiledMatMul(args);
