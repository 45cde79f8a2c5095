/**
 * The convolutional blocks of the WGSL training step (the `cnn` model on WebGPU): per block a
 * "same"-padded, stride-1 convolution with bias, batch normalization with the batch's statistics
 * (optional), max pooling (window = stride) and relu, as anneal's model builder makes them
 * (`models/build.ts`: conv, batch norm, pool, relu).
 *
 * The convolutions run as implicit GEMMs on the dense step's tiled matmul, whose operands are
 * gathered from the images instead of read from an unfolded copy: the forward pass (rows: output
 * positions, columns: output channels, K: kernel taps x input channels), the filter gradient (the
 * same gather, transposed, against the output gradient) and the input gradient (the output
 * gradient gathered at the reflected taps, against the filter read as [taps x out, in]), the
 * latter with the previous block's relu derivative in its epilogue. A gather's index splits (a
 * row into image and position, a column into tap and channel) divide, so the staging splits each
 * once per tile or slice, not once per element. Batch normalization's
 * statistics are a two-stage per-channel reduction: workgroups over blocks of 32 channels and
 * slices of rows, reading whole rows of neighbouring channels, then a thread per channel merging
 * the slices (within a slice two passes, mean then centred squares, as tfjs's `moments`; the
 * slices merged as Chan et al.; the moving averages updated in place as torch does). They
 * are folded into the pooling kernel, which keeps each window's argmax for the backward pass.
 * Backward, the pooled gradient goes back to its argmax and through batch normalization (the full
 * gradient, through the statistics) in one pass per element, after a per-channel reduction (the
 * same two stages) for the two sums it needs; the bias gradient is a third.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { AnnealError } from "../../errors.ts";
import {
  ensureExclusive,
  tensorBuffer,
  type WebGpuBackendInternals,
  writableBuffer,
} from "../../optimizers/fused/gpu.ts";
import {
  columnSumDispatch,
  type Dispatch,
  floatBits,
  grid,
  matmulDispatch,
  MAX_GROUPS,
  pipelineFor,
  sliceK,
  SPLIT_GROUPS,
  storageBuffer,
} from "./dispatch.ts";
import {
  BIAS_GRAD_WGSL,
  biasGradShape,
  element,
  type Gather,
  HALF_WGSL,
  NAN_OR_WGSL,
  pairsWhole,
  TILE,
  word,
} from "./wgsl.ts";

/** Batch normalization after a convolution: its weights, statistics and settings. */
export interface ConvNorm {
  gamma: tf.Variable;
  beta: tf.Variable;
  movingMean: tf.Variable;
  movingVariance: tf.Variable;
  /** tfjs-layers' momentum: moving = moving - (moving - batch) * (1 - momentum). */
  momentum: number;
  epsilon: number;
}

/** One block: conv (kernel [side, side, in, out], bias [out]), [batch norm], max pool, relu. */
export interface ConvBlock {
  kernel: tf.Variable;
  bias: tf.Variable;
  norm?: ConvNorm;
  /** The block's input (and convolution output) height and width. */
  height: number;
  width: number;
  inChannels: number;
  outChannels: number;
  kernelSize: number;
  /** Max-pool window and stride (1: none). */
  pool: number;
}

/** Height and width after the block's pooling (tfjs's "valid" pooling drops the remainder). */
export function pooledSize(block: ConvBlock): [number, number] {
  return [Math.floor(block.height / block.pool), Math.floor(block.width / block.pool)];
}

/** Values of block `b`'s convolution output ("full") or pooled output for `rows` samples. */
function mapCount(b: ConvBlock, rows: number, map: "full" | "pooled"): number {
  const [h, w] = map === "full" ? [b.height, b.width] : pooledSize(b);
  return rows * h * w * b.outChannels;
}

/** Gradient tensors of a block: kernel, bias, and batch norm's scale and shift. */
function gradientCount(b: ConvBlock): number {
  return b.norm ? 4 : 2;
}

/** Spatial positions of a micro-batch's convolution above which a dispatch grid overflows. */
export const MAX_CONV_ROWS = MAX_GROUPS * TILE;

/** The filter gradient's product of block `b`: [M, N] and its output tiles. */
function filterTiles(b: ConvBlock): { m: number; n: number; tiles: number } {
  const m = b.kernelSize * b.kernelSize * b.inChannels;
  const n = b.outChannels;
  return { m, n, tiles: Math.ceil(m / TILE) * Math.ceil(n / TILE) };
}

/** Slices of K at most for block `b` (the partials buffer holds this many [M, N] products). */
function maxSplits(b: ConvBlock): number {
  return Math.max(1, Math.ceil(SPLIT_GROUPS / filterTiles(b).tiles));
}

/**
 * [slices, slice length (a multiple of 32)] of a K of `k` for block `b`: its filter gradient's
 * product has few output tiles (taps x in by out) and a long K (every position of the batch), so
 * K is always split to keep a GPU's cores busy ({@linkcode sliceK}).
 */
export function splitK(b: ConvBlock, k: number): [number, number] {
  return sliceK(filterTiles(b).tiles, k);
}

// ---------------------------------------------------------------------------------------------
// WGSL

/**
 * `i` of a row-major [.., Y, X] as (index over the leading axes, y, x), with two divisions. The
 * kernels split an index per element, and integer division is slow on GPUs (emulated) and on
 * llvmpipe (no vector instruction: one scalar division per lane): `udiv` divides in f32 and
 * corrects the quotient. WGSL lets f32 division be 2.5 ULP off: for integers below 2^24 the
 * quotient truncated may then be up to 3 off (one ULP is 1 from 2^23 on, 0.5 from 2^22), so the
 * correction steps by one as many times as it takes, at most 4 (llvmpipe's division is exact,
 * and takes none).
 */
export const UNFLATTEN = `
fn udiv(i: u32, d: u32) -> u32 {
  if (i >= 16777216u) { return i / d; }
  var q = u32(f32(i) / f32(d));
  var r = i32(i) - i32(q * d);
  for (var k = 0; k < 4 && r < 0; k++) {
    q -= 1u;
    r += i32(d);
  }
  for (var k = 0; k < 4 && r >= i32(d); k++) {
    q += 1u;
    r -= i32(d);
  }
  return q;
}

fn unflatten(i: u32, Y: u32, X: u32) -> vec3<u32> {
  let q = udiv(i, X);
  let lead = udiv(q, Y);
  return vec3<u32>(lead, q - lead * Y, i - q * X);
}`;

/**
 * A row as (b, h, w) and a column as (kh, kw, c): the gathers' splits (the matmul splits a
 * tile's rows once, a thread's column once per K slice); `at()` reads the gathered tensor `A`,
 * float16 pairs when `half`, and `at2()` (`half`) an even channel and the next from one pair;
 * 0 in the padding, chosen by `select` rather than a branch (see `Staging` in wgsl.ts). For a
 * tile's rows past the batch (b past its last image) they read past `A`'s end, which WGSL
 * allows (one of the buffer's values, or zero): the matmul's staging drops those reads.
 */
const splits = (half: boolean) =>
  `${UNFLATTEN}

fn position(row: u32) -> vec3<u32> {
  return unflatten(row, dims.H, dims.W);
}

fn tap(col: u32) -> vec3<u32> {
  return unflatten(col, dims.KS, dims.C);
}

fn inMap(h: i32, w: i32) -> bool {
  return (h >= 0) & (w >= 0) & (h < i32(dims.H)) & (w < i32(dims.W));
}

fn at(b: u32, h: i32, w: i32, c: u32) -> f32 {
  let inside = inMap(h, w);
  let e = select(0u, ((b * dims.H + u32(h)) * dims.W + u32(w)) * dims.C + c, inside);
  return select(0.0, ${element("A", "e", half)}, inside);
}${
    half
      ? `

fn at2(b: u32, h: i32, w: i32, c: u32) -> vec2<f32> {
  let inside = inMap(h, w);
  let e = select(0u, ((b * dims.H + u32(h)) * dims.W + u32(w)) * dims.C + c, inside);
  return select(vec2<f32>(0.0), unpack2x16float(A[e >> 1u]), inside);
}`
      : ""
  }`;

/**
 * `im2col(p, t)`: the unfolded input at row p = (b, h, w) and column t = (kh, kw, c); 0 in the
 * padding. The input is float16 pairs when `half` (a previous block's activations under mixed
 * precision, its channels even), and `im2col2` reads channels c and c + 1 (c even) from one pair.
 */
const im2col = (half: boolean): Gather["fns"] =>
  `${splits(half)}

fn im2col(p: vec3<u32>, t: vec3<u32>) -> f32 {
  return at(p.x, i32(p.y + t.x) - i32(dims.P), i32(p.z + t.y) - i32(dims.P), t.z);
}${
    half
      ? `

fn im2col2(p: vec3<u32>, t: vec3<u32>) -> vec2<f32> {
  return at2(p.x, i32(p.y + t.x) - i32(dims.P), i32(p.z + t.y) - i32(dims.P), t.z);
}`
      : ""
  }`;

/**
 * The input gradient's operands: the output gradient at the taps reflected about input position
 * p (column t = (kh, kw, co)), and the filter [kh, kw, ci, co] read at t x ci.
 */
const REFLECTED: Gather["fns"] = `${splits(false)}

fn reflected(p: vec3<u32>, t: vec3<u32>) -> f32 {
  return at(p.x, i32(p.y) - i32(t.x) + i32(dims.P), i32(p.z) - i32(t.y) + i32(dims.P), t.z);
}

fn filterT(t: vec3<u32>, n: u32) -> f32 {
  return B[((t.x * dims.KS + t.y) * dims.CI + n) * dims.C + t.z];
}`;

/**
 * Convolutions whose K (kernel taps x input channels) is at most this run forward as a direct
 * kernel, not on the matmul's 32-wide tiles: a first layer on grey images (K = 9) would be 3.5x
 * padding there, with a gather for every staged element.
 */
export const DIRECT_MAX_K = 16;

/**
 * WGSL `fn name(at, n) -> vec4<f32>`: `buffer[at + j]` for the j < n of a group of 4 channels, 0
 * past them (WGSL passes no storage array to a function: one function per buffer).
 */
function group4(name: string, buffer: string): string {
  return `fn ${name}(at: u32, n: u32) -> vec4<f32> {
  let last = at + n - 1u;
  return vec4<f32>(
    ${buffer}[at],
    select(0.0, ${buffer}[min(at + 1u, last)], n > 1u),
    select(0.0, ${buffer}[min(at + 2u, last)], n > 2u),
    select(0.0, ${buffer}[min(at + 3u, last)], n > 3u),
  );
}`;
}

/**
 * The direct convolution: a thread per output position and group of 4 output channels (the last
 * group masked) sums the taps, in the matmul's order (kh, kw, c), onto the bias; `at()` reads 0
 * in the padding, as the matmul's gather does. `halfIn` / `halfOut`: the input / output as
 * float16 pairs (the output's channels even, so a group's pairs never straddle two threads).
 */
const directConvWgsl = (halfIn: boolean, halfOut: boolean) => `
struct Dims { total: u32, H: u32, W: u32, C: u32, KS: u32, P: u32, CO: u32, Q: u32 }
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> A: array<${word(halfIn)}>;
@group(0) @binding(2) var<storage, read> kernel: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> z: array<${word(halfOut)}>;
${HALF_WGSL}
${splits(halfIn)}

${group4("group4", "kernel")}
${group4("group4_bias", "bias")}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let i = (wg.y * nw.x + wg.x) * 256u + li;
  if (i >= dims.total) { return; }
  let row = udiv(i, dims.Q);
  let co = (i - row * dims.Q) * 4u;
  let CO = dims.CO;
  let n = min(4u, CO - co);
  let p = position(row);
  var acc = group4_bias(co, n);
  for (var kh = 0u; kh < dims.KS; kh++) {
    let h = i32(p.y + kh) - i32(dims.P);
    for (var kw = 0u; kw < dims.KS; kw++) {
      let w = i32(p.z + kw) - i32(dims.P);
      let k0 = (kh * dims.KS + kw) * dims.C * CO + co;
      for (var c = 0u; c < dims.C; c++) {
        acc += at(p.x, h, w, c) * group4(k0 + c * CO, n);
      }
    }
  }
  let o = row * CO + co;
  ${
  halfOut
    ? `z[o >> 1u] = pack2x16float(acc.xy);
  if (n > 2u) { z[(o >> 1u) + 1u] = pack2x16float(acc.zw); }`
    : `z[o] = acc.x;
  if (n > 1u) { z[o + 1u] = acc.y; }
  if (n > 2u) { z[o + 2u] = acc.z; }
  if (n > 3u) { z[o + 3u] = acc.w; }`
}
}
`;

/**
 * The direct filter gradient (K at most {@linkcode DIRECT_MAX_K}): a thread per filter entry
 * (tap, output channel) and slice of the batch's positions sums input x output gradient over the
 * slice, walking the positions (b, h, w) without a division, into the split-K partials
 * [slices, taps x out] that {@linkcode BIAS_GRAD_WGSL} sums, as the matmul's would be. `halfIn`:
 * the input as float16 pairs.
 */
const directFilterWgsl = (halfIn: boolean) => `
struct Dims { MN: u32, H: u32, W: u32, C: u32, KS: u32, P: u32, CO: u32, rows: u32, KC: u32 }
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> A: array<${word(halfIn)}>;
@group(0) @binding(2) var<storage, read> dz: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${HALF_WGSL}
${splits(halfIn)}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let j = wg.x * 64u + li;
  if (j >= dims.MN) { return; }
  let CO = dims.CO;
  let t = udiv(j, CO);
  let co = j - t * CO;
  let kt = tap(t);
  let H = dims.H;
  let W = dims.W;
  let start = wg.y * dims.KC;
  let end = min(dims.rows, start + dims.KC);
  let s = position(start);
  var b = s.x;
  var h = s.y;
  var w = s.z;
  var acc = 0.0;
  for (var r = start; r < end; r++) {
    let x = at(b, i32(h + kt.x) - i32(dims.P), i32(w + kt.y) - i32(dims.P), kt.z);
    acc += x * dz[r * CO + co];
    w++;
    if (w == W) {
      w = 0u;
      h++;
      if (h == H) { h = 0u; b++; }
    }
  }
  out[wg.y * dims.MN + j] = acc;
}
`;

/** Uniform block of the per-element kernels: sizes of the block's maps. */
const MAP_DIMS =
  `struct Dims { total: u32, C: u32, H: u32, W: u32, Ho: u32, Wo: u32, p: u32, rows: u32 }
@group(0) @binding(0) var<uniform> dims: Dims;`;

/**
 * A kernel with a thread per value of a block's map [b, Y, X, C] (`Y, X`: the uniform fields), in a
 * 2-D grid of 256-thread workgroups (`grid()`), `total` bounding it: `body` sees the value's index
 * `i`, its channel `c` (of `C`) and `s` = (b, y, x). With `pairs`, a thread per two neighbouring
 * values (C even): `i` and `c` are the first's (even), and the grid has half the threads.
 */
function mapKernel(bindings: string, yx: string, body: string, pairs = false): string {
  return `
${MAP_DIMS}
${bindings}
${UNFLATTEN}
${HALF_WGSL}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let i = ((wg.y * nw.x + wg.x) * 256u + li)${pairs ? " * 2u" : ""};
  if (i >= dims.total) { return; }
  let C = dims.C;
  let q = udiv(i, C);
  let c = i - q * C;
  let s = unflatten(q, ${yx});
  let b = s.x;
  ${body}
}
`;
}

/**
 * Per pooled output (b, ho, wo, c): the window's maximum of the (normalized) convolution output,
 * through relu, and the window offset where it is (the first maximum, or the first NaN, which
 * pooling and relu pass on as torch's do). `half`: the convolution
 * output and the pooled output are float16 pairs, and a thread takes a pair of channels (one
 * word of the output).
 */
function poolWgsl(norm: boolean, half: boolean): string {
  const bindings = norm
    ? `@group(0) @binding(2) var<storage, read> stat: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read_write> act: array<${word(half)}>;
@group(0) @binding(6) var<storage, read_write> args: array<u32>;`
    : `@group(0) @binding(2) var<storage, read_write> act: array<${word(half)}>;
@group(0) @binding(3) var<storage, read_write> args: array<u32>;`;
  // (relu of the window's maximum, its offset) for channel c of window (b, ho, wo)
  const window = `${NAN_OR_WGSL}
fn window(b: u32, ho: u32, wo: u32, c: u32) -> vec2<f32> {
  let C = dims.C;
  ${
    norm
      ? `let a = gamma[c] * stat[C + c];
  let k = beta[c] - stat[c] * a;`
      : "let a = 1.0; let k = 0.0;"
  }
  let p = dims.p;
  var best = 0.0;
  var arg = 0u;
  for (var dh = 0u; dh < p; dh++) {
    for (var dw = 0u; dw < p; dw++) {
      let e = ((b * dims.H + ho * p + dh) * dims.W + wo * p + dw) * C + c;
      let v = ${element("z", "e", half)} * a + k;
      // (the first NaN wins, and stays: torch's max pooling passes it on; tested on its bits, as
      // an implementation may assume a comparison with a NaN away)
      if ((dh == 0u && dw == 0u) || (!isNanBits(best) && (v > best || isNanBits(v)))) {
        best = v;
        arg = dh * p + dw;
      }
    }
  }
  return vec2<f32>(nanOr(best, max(best, 0.0)), f32(arg));
}`;
  return mapKernel(
    `@group(0) @binding(1) var<storage, read> z: array<${word(half)}>;
${bindings}
${window}`,
    "dims.Ho, dims.Wo",
    half
      ? `let r0 = window(b, s.y, s.z, c);
  let r1 = window(b, s.y, s.z, c + 1u);
  act[i >> 1u] = pack2x16float(vec2<f32>(r0.x, r1.x));
  args[i] = u32(r0.y);
  args[i + 1u] = u32(r1.y);`
      : `let r = window(b, s.y, s.z, c);
  act[i] = r.x;
  args[i] = u32(r.y);`,
    half,
  );
}

/**
 * Per convolution output (b, h, w, c): the pooled gradient if this is its window's argmax (else
 * 0), then through batch normalization:
 * `dz = gamma / sqrt(var + eps) * (dy - s1 / n - xhat * s2 / n)`. `half`: the convolution output
 * is float16 pairs (its gradient stays float32).
 */
function unpoolWgsl(norm: boolean, half: boolean): string {
  const bindings = norm
    ? `@group(0) @binding(3) var<storage, read> z: array<${word(half)}>;
@group(0) @binding(4) var<storage, read> stat: array<f32>;
@group(0) @binding(5) var<storage, read> gamma: array<f32>;
@group(0) @binding(6) var<storage, read> coef: array<f32>;
@group(0) @binding(7) var<storage, read_write> dz: array<f32>;`
    : `@group(0) @binding(3) var<storage, read_write> dz: array<f32>;`;
  return mapKernel(
    `@group(0) @binding(1) var<storage, read> dpool: array<f32>;
@group(0) @binding(2) var<storage, read> args: array<u32>;
${bindings}`,
    "dims.H, dims.W",
    `let h = s.y;
  let w = s.z;
  let p = dims.p;
  let ho = h / p;
  let wo = w / p;
  var dy = 0.0;
  if (ho < dims.Ho && wo < dims.Wo) {
    let j = ((b * dims.Ho + ho) * dims.Wo + wo) * C + c;
    if (args[j] == (h % p) * p + w % p) { dy = dpool[j]; }
  }
  ${
      norm
        ? `let inv = stat[C + c];
  let xhat = (${element("z", "i", half)} - stat[c]) * inv;
  dz[i] = gamma[c] * inv * (dy - coef[c] - xhat * coef[C + c]);`
        : "dz[i] = dy;"
    }`,
  );
}

// ---------------------------------------------------------------------------------------------
// Per-channel reductions: batch norm's statistics and gradient sums, a convolution's bias gradient

/** Threads of a per-channel reduction's workgroup. */
const CHANNEL_THREADS = 256;
/** Rows one workgroup of a per-channel reduction aims to sum. */
const CHANNEL_SPAN = 1024;
/** Row slices at most (its partials buffer holds this many per channel and sum). */
export const CHANNEL_SLICES = 64;

/**
 * Channels a workgroup of a per-channel reduction reads side by side: consecutive in memory, so
 * that a GPU's neighbouring threads load neighbouring words (a power of two, at most 32).
 */
function channelWidth(channels: number): number {
  return Math.min(32, 2 ** Math.ceil(Math.log2(channels)));
}

/** [slices, rows a slice] of a per-channel reduction over `rows` rows. */
function channelSlices(rows: number): [number, number] {
  const wanted = Math.max(1, Math.min(CHANNEL_SLICES, Math.ceil(rows / CHANNEL_SPAN)));
  const span = Math.ceil(rows / wanted);
  return [Math.ceil(rows / span), span];
}

/** One loop of a per-channel reduction over its rows: `row` adds row `r`'s terms to `sums`. */
interface ChannelPass {
  sums: string[];
  row: string;
}

/**
 * The first stage of a per-channel reduction over a map's rows (`[rows, C]`, row-major): a
 * workgroup per `width` channels and slice of rows (grid [ceil(C / width), slices]), each
 * thread a channel and every (256 / width)-th row of the slice. Each pass sums its terms over the
 * slice, after which its sums' totals are `<sum>T` for the passes and `out` after it. The first
 * thread of each channel writes `out` to `part[(slice * out.length + k) * C + c]`.
 *
 * The uniform block has the fields `rows, C, span` (the slices' rows), then `fields`; `inputs`
 * (`name: array<type>`) are bound read-only at 1, 2, ..., `part` after them; `fns`: WGSL
 * functions the passes call. Each pass's loop sees `r`, `c`, `C` and `count` (the slice's rows).
 */
export function channelPartialsWgsl(width: number, spec: {
  fields?: string;
  inputs: string[];
  fns?: string;
  passes: ChannelPass[];
  out: string[];
}): string {
  const { passes, out } = spec;
  const bindings = [
    ...spec.inputs.map((input, i) => `@group(0) @binding(${i + 1}) var<storage, read> ${input};`),
    `@group(0) @binding(${spec.inputs.length + 1}) var<storage, read_write> part: array<f32>;`,
  ];
  const head = `struct Dims { rows: u32, C: u32, span: u32, ${spec.fields ?? "pad: u32"} }
@group(0) @binding(0) var<uniform> dims: Dims;
${bindings.join("\n")}
${spec.fns ?? ""}`;
  const lanes = CHANNEL_THREADS / width;
  const arrays = Math.max(...passes.map((p) => p.sums.length));
  const shared = Array.from(
    { length: arrays },
    (_, k) => `var<workgroup> acc${k}: array<f32, ${CHANNEL_THREADS}>;`,
  ).join("\n");
  const loops = passes.map(({ sums, row }) => {
    const each = (f: (sum: string, k: number) => string) => sums.map(f).join(" ");
    return `
  ${each((s) => `var ${s} = 0.0;`)}
  for (var r = start + lane; live && r < end; r += ${lanes}u) {
    ${row}
  }
  ${each((s, k) => `acc${k}[li] = ${s};`)}
  workgroupBarrier();
  for (var h = ${lanes / 2}u; h > 0u; h = h / 2u) {
    if (lane < h) { ${each((_, k) => `acc${k}[li] += acc${k}[li + h * ${width}u];`)} }
    workgroupBarrier();
  }
  ${each((s, k) => `let ${s}T = acc${k}[ch];`)}
  workgroupBarrier();`;
  }).join("\n");
  return `${head}
${shared}

@compute @workgroup_size(${CHANNEL_THREADS})
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let C = dims.C;
  let ch = li % ${width}u;
  let lane = li / ${width}u;
  let c = wg.x * ${width}u + ch;
  let live = c < C;
  let start = wg.y * dims.span;
  let end = min(dims.rows, start + dims.span);
  let count = f32(end - start);
  ${loops}
  if (lane == 0u && live) {
    ${out.map((o, k) => `part[(wg.y * ${out.length}u + ${k}u) * C + c] = ${o};`).join("\n    ")}
  }
}
`;
}

/**
 * A per-channel reduction's sizes: `channels` channels (the values' last axis) over `count(rows)`
 * rows for a micro-batch of `rows` samples, its first stage's partials in `parts()`.
 */
export interface ChannelReduction {
  device: GPUDevice;
  channels: number;
  count: (rows: number) => number;
  parts: () => GPUBuffer;
}

/**
 * The first stage's dispatch of a reduction (its kernel made by `wgsl` for the channel width:
 * see {@linkcode channelPartialsWgsl}): a workgroup per `width` channels and slice of rows.
 * `buffers` are bound before the partials; `extra` uniform words follow rows, C and span.
 */
export function channelPartialsDispatch(
  reduction: ChannelReduction,
  key: string,
  wgsl: (width: number) => string,
  buffers: () => GPUBuffer[],
  extra: number[] = [0],
): Dispatch {
  const { channels, count } = reduction;
  const width = channelWidth(channels);
  return {
    pipeline: pipelineFor(reduction.device, `${key}-${width}`, () => wgsl(width)),
    buffers: () => [...buffers(), reduction.parts()],
    uniforms: (rows) => [count(rows), channels, channelSlices(count(rows))[1], ...extra],
    groups: (rows) => [Math.ceil(channels / width), channelSlices(count(rows))[0]],
  };
}

/**
 * A second stage's uniform words for a micro-batch of `rows` (a dispatch's `accumulate` and
 * `training`, see `Dispatch.uniforms`), given the first stage's [slices, span].
 */
export type ChannelFinishUniforms = (
  rows: number,
  accumulate: number,
  slices: [number, number],
  training: boolean,
) => number[];

/**
 * The second stage's dispatch: `code` (64 threads a workgroup, a thread per channel) reads the
 * partials, bound first, then `buffers`; `uniforms` also gets the first stage's [slices, span].
 */
export function channelFinishDispatch(
  reduction: ChannelReduction,
  key: string,
  code: string,
  buffers: () => GPUBuffer[],
  uniforms: ChannelFinishUniforms,
): Dispatch {
  return {
    pipeline: pipelineFor(reduction.device, key, () => code),
    buffers: () => [reduction.parts(), ...buffers()],
    uniforms: (rows, accumulate, _, training) =>
      uniforms(rows, accumulate, channelSlices(reduction.count(rows)), training),
    groups: () => [Math.ceil(reduction.channels / 64), 1],
  };
}

/**
 * The second stage of a per-channel reduction: a thread per channel `c` (of `C`), reading the
 * first stage's partials `part` ([slice, 2, C], binding 1) and writing `outputs` (bindings 2, 3,
 * ...). `fields`: the uniform block's fields, `C: u32` among them.
 */
function channelFinishWgsl(fields: string, outputs: string[], body: string): string {
  const bindings = outputs.map((name, i) =>
    `@group(0) @binding(${i + 2}) var<storage, read_write> ${name}: array<f32>;`
  );
  return `
struct Dims { ${fields} }
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> part: array<f32>;
${bindings.join("\n")}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let C = dims.C;
  if (c >= C) { return; }
  ${body}
}
`;
}

/**
 * Batch norm's statistics, first stage: per channel and slice of rows, the sum of the slice's
 * values and the sum of their squares about the slice's own mean (two passes, as tfjs's
 * `moments`, within the slice). `half`: the convolution output is float16 pairs.
 */
export const bnPartialsWgsl = (half: boolean) => (width: number) =>
  channelPartialsWgsl(width, {
    inputs: [`z: array<${word(half)}>`],
    fns: HALF_WGSL,
    passes: [
      { sums: ["s"], row: `s += ${element("z", "r * C + c", half)};` },
      { sums: ["q"], row: `let d = ${element("z", "r * C + c", half)} - sT / count; q += d * d;` },
    ],
    out: ["sT", "qT"],
  });

/**
 * Batch norm's statistics, second stage (a thread per channel): the slices' sums and squares
 * merged (Chan et al.: each slice's squares about its own mean, plus its rows times its mean's
 * squared distance to the batch's), `stat = [mean..., 1/sqrt(var + eps)...]` (the biased
 * variance), and the moving averages updated in place (the variance's with the unbiased one, as
 * torch's running_var). In inference (`train` 0: an evaluation's forward pass) the moving
 * averages normalize instead, `stat = [movingMean..., 1/sqrt(movingVar + eps)...]`, as tfjs's
 * and torch's batch norm in inference, and stay as they are. Uniforms: see
 * {@linkcode bnStatsUniforms}.
 */
export const BN_STATS_WGSL = channelFinishWgsl(
  "rows: u32, C: u32, span: u32, slices: u32, decay: f32, eps: f32, train: u32",
  ["stat", "movingMean", "movingVar"],
  `if (dims.train == 0u) {
    stat[c] = movingMean[c];
    stat[C + c] = 1.0 / sqrt(movingVar[c] + dims.eps);
    return;
  }
  var s = 0.0;
  for (var k = 0u; k < dims.slices; k++) { s += part[2u * k * C + c]; }
  let n = f32(dims.rows);
  let mean = s / n;
  var m2 = 0.0;
  for (var k = 0u; k < dims.slices; k++) {
    let start = k * dims.span;
    let count = f32(min(dims.rows, start + dims.span) - start);
    let d = part[2u * k * C + c] / count - mean;
    m2 += part[(2u * k + 1u) * C + c] + count * d * d;
  }
  let variance = m2 / n;
  stat[c] = mean;
  stat[C + c] = 1.0 / sqrt(variance + dims.eps);
  let m = movingMean[c];
  movingMean[c] = m - (m - mean) * dims.decay;
  let v = movingVar[c];
  // torch's running_var: the unbiased variance (n / (n - 1); n = 1 is refused before training)
  movingVar[c] = v - (v - variance * n / max(n - 1.0, 1.0)) * dims.decay;`,
);

/**
 * {@linkcode BN_STATS_WGSL}'s uniforms: the rows and channels reduced, the reduction's slices,
 * the moving averages' decay and epsilon of `norm`, and whether the pass trains.
 */
export function bnStatsUniforms(
  rows: number,
  channels: number,
  [slices, span]: [number, number],
  norm: { momentum: number; epsilon: number },
  training: boolean,
): number[] {
  return [
    rows,
    channels,
    span,
    slices,
    floatBits(1 - norm.momentum),
    floatBits(norm.epsilon),
    training ? 1 : 0,
  ];
}

/** Per channel and slice of rows: the sum of `D[r, c]` (a bias gradient's partials). */
const channelSumWgsl = (width: number) =>
  channelPartialsWgsl(width, {
    inputs: ["D: array<f32>"],
    passes: [{ sums: ["s"], row: "s += D[r * C + c];" }],
    out: ["sT"],
  });

/**
 * Batch norm's gradient sums, first stage: per channel and slice of the pooled positions (only a
 * window's argmax gets a gradient), s1 = the sum of the gradient at batch norm's output and s2 =
 * its sum times the normalized input. `half`: the convolution output is float16 pairs.
 */
const bnGradPartialsWgsl = (half: boolean) => (width: number) =>
  channelPartialsWgsl(width, {
    fields: "H: u32, W: u32, Ho: u32, Wo: u32, p: u32",
    inputs: [
      `z: array<${word(half)}>`,
      "stat: array<f32>",
      "args: array<u32>",
      "dpool: array<f32>",
    ],
    fns: `${UNFLATTEN}\n${HALF_WGSL}`,
    passes: [{
      sums: ["s1", "s2"],
      row: `let i = r * C + c;
    let off = args[i];
    let at = unflatten(r, dims.Ho, dims.Wo);
    let h = at.y * dims.p + off / dims.p;
    let w = at.z * dims.p + off % dims.p;
    let e = ((at.x * dims.H + h) * dims.W + w) * C + c;
    let xhat = (${element("z", "e", half)} - stat[c]) * stat[C + c];
    let dy = dpool[i];
    s1 += dy;
    s2 += dy * xhat;`,
    }],
    out: ["s1T", "s2T"],
  });

/**
 * Batch norm's gradient sums, second stage (a thread per channel): `dbeta (+)= s1`, `dgamma (+)=
 * s2`, `coef = [s1 / n..., s2 / n...]` for the pass back through batch norm (`n`: the map's
 * positions).
 */
export const BN_GRAD_STATS_WGSL = channelFinishWgsl(
  "slices: u32, C: u32, n: u32, accumulate: u32",
  ["dgamma", "dbeta", "coef"],
  `var s1 = 0.0;
  var s2 = 0.0;
  for (var k = 0u; k < dims.slices; k++) {
    s1 += part[2u * k * C + c];
    s2 += part[(2u * k + 1u) * C + c];
  }
  let keep = dims.accumulate == 1u;
  dbeta[c] = select(0.0, dbeta[c], keep) + s1;
  dgamma[c] = select(0.0, dgamma[c], keep) + s2;
  coef[c] = s1 / f32(dims.n);
  coef[C + c] = s2 / f32(dims.n);`,
);

// ---------------------------------------------------------------------------------------------
// The stage

interface BlockBuffers {
  /** Convolution output [rows, h, w, out] (float16 pairs where the block's are half). */
  z: GPUBuffer;
  /**
   * Pooled, relu'd output [rows, ho, wo, out] (float16 pairs where the block's are half), and
   * each window's argmax offset.
   */
  act: GPUBuffer;
  args: GPUBuffer;
  /** Gradient at the pooled output, before relu (the relu derivative applied). */
  dpool: GPUBuffer;
  /** Gradient at the convolution output. */
  dz: GPUBuffer;
}

/**
 * The convolutional blocks' buffers and dispatches; `DenseGpuProgram` records them around its
 * dense layers. With `half` (mixed precision) a block with an even number of output channels
 * stores its convolution output and pooled activations as float16 pairs; one with an odd number
 * keeps them float32 (a pair must never span two positions), and the next block reads its input
 * in whichever form that is. The images, gradients and all arithmetic stay float32.
 */
export class ConvStage {
  readonly blocks: ConvBlock[];
  /** Mixed precision asked for: the blocks of an even number of filters store float16 pairs. */
  readonly half: boolean;
  /** The pooled output of the last block, the head's input, is float16 pairs where it is half. */
  get halfFeatures(): boolean {
    return this.#halves[this.#halves.length - 1];
  }
  /**
   * Per block: its convolution output and pooled activations are float16 pairs (under `half`,
   * with an even number of output channels).
   */
  readonly #halves: boolean[];
  /** Each block ends in relu (after pooling): the dense head's gradient goes back through it. */
  readonly activation = "relu" as const;
  readonly #backend: WebGpuBackendInternals;
  readonly #device: GPUDevice;
  #buffers: BlockBuffers[] = [];
  /** Per block with batch norm: [mean, 1/std] and [s1/n, s2/n] per channel. */
  readonly #stat: GPUBuffer[];
  readonly #coef: GPUBuffer[];
  /** Per block: the filter gradient's split-K partials. */
  readonly #partials: GPUBuffer[];
  /** Per block: the per-channel reductions' partials, [slice, 2, channel]. */
  readonly #channelParts: GPUBuffer[];

  constructor(backend: WebGpuBackendInternals, blocks: ConvBlock[], half = false) {
    this.blocks = blocks;
    this.half = half;
    this.#halves = blocks.map((b) => half && pairsWhole(b.outChannels));
    this.#backend = backend;
    this.#device = backend.device;
    this.#stat = blocks.map((b, i) => this.#storage(2 * b.outChannels, `statistics ${i}`));
    this.#coef = blocks.map((b, i) => this.#storage(2 * b.outChannels, `gradient sums ${i}`));
    this.#partials = blocks.map((b, i) => {
      const { m, n } = filterTiles(b);
      return this.#storage(maxSplits(b) * m * n, `filter gradient partials ${i}`);
    });
    this.#channelParts = blocks.map((b, i) =>
      this.#storage(2 * CHANNEL_SLICES * b.outChannels, `per-channel partials ${i}`)
    );
  }

  /** Gradient tensors of the blocks, in the variables' order: kernel, bias, [gamma, beta]. */
  gradients(): tf.Tensor[] {
    return this.blocks.flatMap((b) => [
      tf.zeros(b.kernel.shape),
      tf.zeros(b.bias.shape),
      ...(b.norm ? [tf.zeros(b.norm.gamma.shape), tf.zeros(b.norm.beta.shape)] : []),
    ]);
  }

  /** The last block's output (the dense layers' input) and the gradient there. */
  features(): GPUBuffer {
    return this.#buffers[this.#buffers.length - 1].act;
  }

  featuresGradient(): GPUBuffer {
    return this.#buffers[this.#buffers.length - 1].dpool;
  }

  /** Throws unless a micro-batch of `rows` samples fits the dispatch grids. */
  checkRows(rows: number): void {
    const first = this.blocks[0];
    const positions = rows * first.height * first.width;
    if (positions > MAX_CONV_ROWS) {
      throw new AnnealError(
        "config",
        `A micro-batch of ${rows} images of ${first.height}x${first.width} has ${positions} ` +
          `positions, more than the WGSL convolution step's ${MAX_CONV_ROWS}`,
        {
          where: "batchSize",
          hint: "use a smaller batchSize (or gradientAccumulation), or set fusedModel: false",
        },
      );
    }
  }

  /** (Re)allocates the per-sample buffers for micro-batches of up to `rows` samples. */
  allocate(rows: number): void {
    this.#destroyPerSample();
    this.#buffers = this.blocks.map((b, i) => {
      const full = mapCount(b, rows, "full");
      const pooled = mapCount(b, rows, "pooled");
      const words = (values: number) => this.#halves[i] ? Math.ceil(values / 2) : values;
      return {
        z: this.#storage(words(full), `z ${i}`),
        act: this.#storage(words(pooled), `activation ${i}`),
        args: this.#storage(pooled, `argmax ${i}`),
        dpool: this.#storage(pooled, `pooled gradient ${i}`),
        dz: this.#storage(full, `z gradient ${i}`),
      };
    });
  }

  /** The variables' buffers the dispatches bind (moving averages made writable in place). */
  boundBuffers(): GPUBuffer[] {
    return this.blocks.flatMap((b) => {
      const own = [tensorBuffer(this.#backend, b.kernel), tensorBuffer(this.#backend, b.bias)];
      if (!b.norm) return own;
      for (const v of [b.norm.movingMean, b.norm.movingVariance]) {
        ensureExclusive(this.#backend, v);
      }
      return [
        ...own,
        tensorBuffer(this.#backend, b.norm.gamma),
        tensorBuffer(this.#backend, b.norm.beta),
        writableBuffer(this.#backend, b.norm.movingMean),
        writableBuffer(this.#backend, b.norm.movingVariance),
      ];
    });
  }

  /** Forward dispatches: per block the convolution, [the statistics], pooling with relu. */
  forward(input: () => GPUBuffer): Dispatch[] {
    const device = this.#device;
    const out: Dispatch[] = [];
    this.blocks.forEach((b, i) => {
      const into = i === 0 ? input : () => this.#buffers[i - 1].act;
      const [halfIn, halfOut] = [this.#halfIn(i), this.#halves[i]];
      const taps = b.kernelSize * b.kernelSize;
      const positions = (rows: number) => rows * b.height * b.width;
      if (taps * b.inChannels <= DIRECT_MAX_K) {
        const groups = Math.ceil(b.outChannels / 4);
        const padding = Math.floor((b.kernelSize - 1) / 2);
        out.push({
          pipeline: pipelineFor(
            device,
            `conv-direct-${+halfIn}${+halfOut}`,
            () => directConvWgsl(halfIn, halfOut),
          ),
          buffers: () => [
            into(),
            tensorBuffer(this.#backend, b.kernel),
            tensorBuffer(this.#backend, b.bias),
            this.#buffers[i].z,
          ],
          uniforms: (rows) => [
            positions(rows) * groups,
            b.height,
            b.width,
            b.inChannels,
            b.kernelSize,
            padding,
            b.outChannels,
            groups,
          ],
          groups: (rows) => grid(positions(rows) * groups, 256),
        });
      } else {
        out.push(matmulDispatch(device, {
          transA: false,
          transB: false,
          epilogue: { kind: "forward", activation: "linear" },
          half: { a: halfIn, out: halfOut },
          dims: (rows) => [positions(rows), b.outChannels, taps * b.inChannels],
          buffers: () => [
            into(),
            tensorBuffer(this.#backend, b.kernel),
            tensorBuffer(this.#backend, b.bias),
            this.#buffers[i].z,
          ],
          gather: {
            key: "conv",
            code: { fns: im2col(halfIn), a: "im2col" },
            sizes: this.#sizes(b, b.inChannels),
          },
        }));
      }
      const norm = b.norm;
      if (norm) {
        out.push({
          ...this.#channelPartials(
            i,
            `bn-partials-${+halfOut}`,
            bnPartialsWgsl(halfOut),
            positions,
            () => [
              this.#buffers[i].z,
            ],
          ),
          trainingOnly: true,
        });
        out.push(this.#channelFinish(
          i,
          "bn-stats",
          BN_STATS_WGSL,
          positions,
          () => [
            this.#stat[i],
            tensorBuffer(this.#backend, norm.movingMean),
            tensorBuffer(this.#backend, norm.movingVariance),
          ],
          (rows, _, slices, training) =>
            bnStatsUniforms(positions(rows), b.outChannels, slices, norm, training),
        ));
      }
      out.push({
        pipeline: pipelineFor(
          device,
          `pool-${+!!norm}${+halfOut}`,
          () => poolWgsl(!!norm, halfOut),
        ),
        buffers: () => [
          this.#buffers[i].z,
          ...(norm
            ? [
              this.#stat[i],
              tensorBuffer(this.#backend, norm.gamma),
              tensorBuffer(this.#backend, norm.beta),
            ]
            : []),
          this.#buffers[i].act,
          this.#buffers[i].args,
        ],
        uniforms: (rows) => this.#mapUniforms(b, rows, "pooled"),
        // a thread per value, or per pair of values where they are float16
        groups: (rows) => grid(mapCount(b, rows, "pooled") / (halfOut ? 2 : 1), 256),
      });
    });
    return out;
  }

  /**
   * Backward dispatches, last block first: the gradient back through pooling [and batch norm],
   * the bias and filter gradients, and (but for the first block) the input gradient through the
   * previous block's relu. `grad(j)` is the buffer of the blocks' j-th gradient tensor.
   */
  backward(input: () => GPUBuffer, grad: (j: number) => GPUBuffer): Dispatch[] {
    const device = this.#device;
    const out: Dispatch[] = [];
    // the index of each block's first gradient, walked back from the end
    let next = this.blocks.reduce((j, b) => j + gradientCount(b), 0);
    for (let i = this.blocks.length - 1; i >= 0; i--) {
      const b = this.blocks[i];
      const [halfIn, halfOut] = [this.#halfIn(i), this.#halves[i]];
      const bufs = () => this.#buffers[i];
      // a constant per block: the dispatches' closures read it when they are bound
      const g = next -= gradientCount(b);
      const norm = b.norm;
      const positions = (rows: number) => rows * b.height * b.width;
      if (norm) {
        const windows = (rows: number) => mapCount(b, rows, "pooled") / b.outChannels;
        const [ho, wo] = pooledSize(b);
        out.push(this.#channelPartials(
          i,
          `bn-grad-partials-${+halfOut}`,
          bnGradPartialsWgsl(halfOut),
          windows,
          () => [bufs().z, this.#stat[i], bufs().args, bufs().dpool],
          [b.height, b.width, ho, wo, b.pool],
        ));
        out.push(this.#channelFinish(
          i,
          "bn-grad-stats",
          BN_GRAD_STATS_WGSL,
          windows,
          () => [grad(g + 2), grad(g + 3), this.#coef[i]],
          (rows, accumulate, [slices]) => [slices, b.outChannels, positions(rows), accumulate],
        ));
      }
      out.push({
        pipeline: pipelineFor(
          device,
          `unpool-${+!!norm}${+halfOut}`,
          () => unpoolWgsl(!!norm, halfOut),
        ),
        buffers: () => [
          bufs().dpool,
          bufs().args,
          ...(norm
            ? [bufs().z, this.#stat[i], tensorBuffer(this.#backend, norm.gamma), this.#coef[i]]
            : []),
          bufs().dz,
        ],
        uniforms: (rows) => this.#mapUniforms(b, rows, "full"),
        groups: (rows) => grid(mapCount(b, rows, "full"), 256),
      });
      out.push(this.#channelPartials(i, "channel-sum", channelSumWgsl, positions, () => [
        bufs().dz,
      ]));
      // the slices' column sums (the dense step's bias gradient kernel): at most CHANNEL_SLICES
      // (64) rows take at most 4 lanes, so 64 columns a workgroup or more, as the finish's
      // workgroups count them
      out.push(this.#channelFinish(
        i,
        "bias-grad",
        BIAS_GRAD_WGSL,
        positions,
        () => [grad(g + 1)],
        (_, accumulate, [slices]) => [
          slices,
          b.outChannels,
          accumulate,
          biasGradShape(slices, b.outChannels).lanes,
        ],
      ));
      const into = i === 0 ? input : () => this.#buffers[i - 1].act;
      const { m, n } = filterTiles(b);
      if (m <= DIRECT_MAX_K) {
        out.push({
          pipeline: pipelineFor(
            device,
            `conv-filter-direct-${+halfIn}`,
            () => directFilterWgsl(halfIn),
          ),
          buffers: () => [into(), bufs().dz, this.#partials[i]],
          uniforms: (rows) => [
            m * n,
            ...this.#sizes(b, b.inChannels).slice(0, 5),
            n,
            positions(rows),
            splitK(b, positions(rows))[1],
          ],
          groups: (rows) => [Math.ceil(m * n / 64), splitK(b, positions(rows))[0]],
        });
      } else {
        out.push(matmulDispatch(device, {
          transA: true,
          transB: false,
          epilogue: { kind: "partial" },
          half: { a: halfIn },
          dims: (rows) => [m, n, positions(rows)],
          buffers: () => [into(), bufs().dz, this.#partials[i]],
          gather: {
            key: "conv-filter",
            code: { fns: im2col(halfIn), a: "im2col" },
            sizes: this.#sizes(b, b.inChannels),
          },
          split: (rows) => splitK(b, positions(rows)),
        }));
      }
      // the partials' column sums
      out.push(columnSumDispatch(
        device,
        () => [this.#partials[i], grad(g)],
        (rows) => [splitK(b, positions(rows))[0], m * n],
      ));
      if (i > 0) {
        const taps = b.kernelSize * b.kernelSize;
        const previous = () => this.#buffers[i - 1];
        out.push(matmulDispatch(device, {
          transA: false,
          transB: false,
          epilogue: { kind: "backprop", activation: "relu" },
          half: { prev: halfIn },
          dims: (rows) => [positions(rows), b.inChannels, taps * b.outChannels],
          buffers: () => [
            bufs().dz,
            tensorBuffer(this.#backend, b.kernel),
            previous().act,
            previous().dpool,
          ],
          gather: {
            key: "conv-input",
            code: { fns: REFLECTED, a: "reflected", b: "filterT" },
            sizes: this.#sizes(b, b.outChannels),
          },
        }));
      }
    }
    return out;
  }

  /**
   * Whether block `i`'s input is float16 pairs: the images (block 0's) stay float32, a previous
   * block's pooled activations are where that block's are half.
   */
  #halfIn(i: number): boolean {
    return i > 0 && this.#halves[i - 1];
  }

  /**
   * The first stage of a per-channel reduction of block `i` over `count(rows)` rows (see
   * {@linkcode channelPartialsDispatch}), into the block's per-channel partials.
   */
  #channelPartials(
    i: number,
    key: string,
    wgsl: (width: number) => string,
    count: (rows: number) => number,
    buffers: () => GPUBuffer[],
    extra: number[] = [0],
  ): Dispatch {
    return channelPartialsDispatch(this.#reduction(i, count), key, wgsl, buffers, extra);
  }

  /** The second stage of block `i`'s reduction (see {@linkcode channelFinishDispatch}). */
  #channelFinish(
    i: number,
    key: string,
    code: string,
    count: (rows: number) => number,
    buffers: () => GPUBuffer[],
    uniforms: ChannelFinishUniforms,
  ): Dispatch {
    return channelFinishDispatch(this.#reduction(i, count), key, code, buffers, uniforms);
  }

  /** Block `i`'s per-channel reductions over `count(rows)` rows, into its partials. */
  #reduction(i: number, count: (rows: number) => number): ChannelReduction {
    return {
      device: this.#device,
      channels: this.blocks[i].outChannels,
      count,
      parts: () => this.#channelParts[i],
    };
  }

  /** Floats this stage holds outside tfjs for micro-batches of `rows` samples. */
  extraFloats(rows: number): number {
    const first = this.blocks[0];
    const images = rows * first.height * first.width * first.inChannels;
    return this.blocks.reduce((floats, b, i) => {
      const { m, n } = filterTiles(b);
      // z and the activations take half the bytes where the block's are float16 pairs
      const maps = this.#halves[i] ? 0.5 : 1;
      return floats + (1 + maps) * mapCount(b, rows, "full") +
        (2 + maps) * mapCount(b, rows, "pooled") +
        4 * b.outChannels + maxSplits(b) * m * n + 2 * CHANNEL_SLICES * b.outChannels;
    }, images);
  }

  #storage(floats: number, label: string): GPUBuffer {
    return storageBuffer(this.#device, floats, `anneal conv ${label}`);
  }

  dispose(): void {
    this.#destroyPerSample();
    for (const b of [...this.#stat, ...this.#coef, ...this.#partials, ...this.#channelParts]) {
      b.destroy();
    }
  }

  #destroyPerSample(): void {
    for (const b of this.#buffers) {
      for (const buffer of [b.z, b.act, b.args, b.dpool, b.dz]) buffer.destroy();
    }
    this.#buffers = [];
  }

  /** A gathered matmul's extra uniform words: H, W, C (gathered channels), KS, P, CI. */
  #sizes(b: ConvBlock, channels: number): number[] {
    const padding = Math.floor((b.kernelSize - 1) / 2);
    return [b.height, b.width, channels, b.kernelSize, padding, b.inChannels];
  }

  /**
   * The map kernels' sizes: the first word counts the pooled or the full map's elements; then C,
   * H, W, Ho, Wo, p, positions.
   */
  #mapUniforms(b: ConvBlock, rows: number, over: "pooled" | "full"): number[] {
    const [ho, wo] = pooledSize(b);
    const count = mapCount(b, rows, over);
    return [count, b.outChannels, b.height, b.width, ho, wo, b.pool, rows * b.height * b.width];
  }
}
