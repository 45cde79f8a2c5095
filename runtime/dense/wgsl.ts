/**
 * WGSL sources of the dense training step: a tiled matmul with three epilogues (forward layer,
 * backpropagation through an activation, weight gradient), a loss kernel that also writes the
 * gradient of the logits, a bias-gradient column sum, and the two stages of the global gradient
 * norm. Every kernel reads its sizes from a uniform block, so one pipeline serves every batch
 * size; what differs per use (transposes, activation, loss) is compiled in.
 *
 * @module
 */

/**
 * The activations the dense kernels compile in (`linear` for the output layer). `gelu` is
 * tfjs-layers' (x times the normal CDF, erf as tfjs approximates it: Abramowitz and Stegun
 * 7.1.26, within 1.5e-7 of torch's exact erf); its derivative needs the pre-activation, not the
 * output, so a matmul never applies it: the step stores z and applies gelu after (see
 * {@linkcode outputWgsl}), and the backprop epilogue reads z.
 */
export type DenseActivation = "relu" | "tanh" | "sigmoid" | "gelu" | "linear";

/** The losses the loss kernel implements, with the metric each one sums. */
export type DenseLoss = "crossEntropy" | "mse" | "binaryCrossEntropy";

/**
 * WGSL that sums each workgroup array in `arrays` into its element 0 (a tree over
 * {@linkcode REDUCE_THREADS} invocations, `li` the local index; barriers in uniform control flow).
 */
export function treeSum(arrays: string[]): string {
  const adds = arrays.map((a) => `${a}[li] += ${a}[li + h2];`).join(" ");
  return `for (var h2 = ${REDUCE_THREADS / 2}u; h2 > 0u; h2 = h2 / 2u) {
    if (li < h2) { ${adds} }
    workgroupBarrier();
  }`;
}

/**
 * WGSL adding `term(i)` to `acc` for i = `start`, `start + stride`, ... below `end`, in that
 * order, with four terms' loads in flight at a time (a loop of one load a turn waits out each
 * load's latency: see {@link Staging}); the sums' order, and so their bits, are a plain loop's.
 * `term` is an expression of its index (code, evaluated once per index; the index it is given is
 * parenthesized). The loop's own names (`sumAt`, `sumTerm0..3`) hide any of the caller's.
 */
export function stridedSum(
  acc: string,
  start: string,
  end: string,
  stride: string,
  term: (i: string) => string,
): string {
  const index = (j: number) => j === 0 ? "sumAt" : `(sumAt + ${j}u * (${stride}))`;
  const terms = [0, 1, 2, 3].map((j) => `let sumTerm${j} = ${term(index(j))};`);
  return `{
    var sumAt = ${start};
    for (; sumAt + 3u * (${stride}) < (${end}); sumAt += 4u * (${stride})) {
      ${terms.join("\n      ")}
      ${[0, 1, 2, 3].map((j) => `${acc} += sumTerm${j};`).join(" ")}
    }
    for (; sumAt < (${end}); sumAt += ${stride}) { ${acc} += ${term("sumAt")}; }
  }`;
}

/** Side of the square output tile one matmul workgroup computes. */
export const TILE = 32;
/** Threads of the one-workgroup reductions (loss, norm). */
export const REDUCE_THREADS = 256;
/** Workgroups at most per tensor in the first stage of the gradient norm. */
export const NORM_GROUPS = 64;
/** Values per workgroup at least in that stage (64 a thread) before another workgroup joins. */
export const NORM_SPAN = 64 * REDUCE_THREADS;

/**
 * `nanOr(x, y)`: `x` where it is a NaN, else `y`. WGSL lets an implementation assume no NaN:
 * llvmpipe's `max` and `clamp` drop one (as a GPU's `max` returns the other operand), and a
 * compiler may fold a comparison with one, so relu, tanh's clamp and max pooling would turn a NaN
 * into a number, and a step whose inputs hold a NaN would report a finite loss where tfjs's and
 * torch's report NaN. Its bits (exponent all ones, a mantissa) are integers no implementation
 * assumes away.
 */
export const NAN_OR_WGSL = `
fn isNanBits(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn nanOr(x: f32, y: f32) -> f32 { return select(y, x, isNanBits(x)); }`;

/**
 * Each activation's value at `z`, and its derivative at `a`: the output it gave, but for gelu,
 * whose `a` is the pre-activation (see {@linkcode DenseActivation}); `fns`, WGSL helpers either
 * needs.
 */
const ACTIVATIONS: Record<
  DenseActivation,
  { forward: string; derivative: string; fns?: string }
> = {
  // (a NaN passes, as through tfjs's and torch's: see NAN_OR_WGSL)
  relu: { forward: "nanOr(z, max(z, 0.0))", derivative: "select(0.0, 1.0, a > 0.0)" },
  // tanh(15) is 1 in f32; the clamp keeps implementations that use exp() from overflowing.
  tanh: { forward: "nanOr(z, tanh(clamp(z, -15.0, 15.0)))", derivative: "1.0 - a * a" },
  sigmoid: { forward: "1.0 / (1.0 + exp(-z))", derivative: "a * (1.0 - a)" },
  // tfjs's: x * 0.5 * (1 + erf(x / sqrt(2))); its gradient through tfjs's ops is that CDF plus
  // x times the normal density (erf's exact derivative, as tfjs's Erf gradient has it)
  gelu: {
    forward: "z * geluCdf(z)",
    derivative: "geluCdf(a) + a * exp(-0.5 * a * a) * 0.3989422804014327",
    fns: `
fn geluCdf(x: f32) -> f32 {
  let v = x * 0.7071067811865476;
  let u = abs(v);
  let t = 1.0 / (1.0 + 0.3275911 * u);
  let poly = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t +
    0.254829592) * t;
  let erf = sign(v) * (1.0 - poly * exp(-u * u));
  return 0.5 * (1.0 + erf);
}`,
  },
  linear: { forward: "z", derivative: "1.0" },
};

/**
 * WGSL of `activation` for element-wise kernels: `forward`, the function `activate(z)` (with the
 * helpers it needs); `derivative`, statements setting `slope` to its derivative at the
 * pre-activation `y` (calling `activate` where the derivative is the output's).
 */
export function activationWgsl(
  activation: DenseActivation,
): { forward: string; derivative: string } {
  const { forward, derivative, fns } = ACTIVATIONS[activation];
  return {
    forward: `${NAN_OR_WGSL}${fns ?? ""}
fn activate(z: f32) -> f32 {
  return ${forward};
}`,
    derivative: `let a = ${activation === "gelu" ? "y" : "activate(y)"};
  let slope = ${derivative};`,
  };
}

/** What a matmul does with its product tile. */
export type Epilogue =
  /** `out = act(acc + bias)`: a layer's forward pass. */
  | { kind: "forward"; activation: DenseActivation }
  /** `out = acc * act'(a)`: the gradient through the previous layer's activation. */
  | { kind: "backprop"; activation: DenseActivation }
  /** `out = acc` or `out += acc` (uniform flag): a weight gradient, accumulated over micro-batches. */
  | { kind: "grad" }
  /**
   * Split K: workgroup z sums K's slice [z * KC, (z + 1) * KC) (`KC`, a multiple of 32, the last
   * uniform word) into `out[z * M * N + ...]`: partials [slices, M * N], whose column sums
   * ({@linkcode BIAS_GRAD_WGSL}) are the product.
   * For products whose few output tiles would leave most of a GPU idle over a long K.
   */
  | { kind: "partial" };

/**
 * Which of a matmul's activation operands are stored as float16, two to a u32 word
 * (`pack2x16float`, core WGSL: no `shader-f16` needed); the arithmetic stays float32.
 */
export interface HalfStorage {
  /**
   * A (a layer's input activations); its contiguous dimension (K, or M when `transA`) must be
   * even: A is staged a pair of neighbours per load.
   */
  a?: boolean;
  /** The forward epilogue's output; N must be even (a word never spans two threads). */
  out?: boolean;
  /** The backprop epilogue's previous activations. */
  prev?: boolean;
}

/**
 * Operands a matmul computes from another tensor instead of reading them stored (a convolution
 * as an implicit GEMM). With gathers the uniform block also holds a convolution's sizes: `H`, `W`
 * (spatial, input = output), `C` (channels of the gathered tensor), `KS` (kernel side), `P`
 * (padding before), `CI` (the filter's input channels).
 */
export interface Gather {
  /**
   * WGSL helpers: `position(row) -> vec3<u32>` and `tap(col) -> vec3<u32>` split A's row (an
   * image position, M, or K when `transA`) and column (a kernel tap and channel), and `a` reads
   * from the two splits.
   */
  fns: string;
  /**
   * The name of the function reading A's element from its row's and column's splits,
   * `a(p, t) -> f32`; under `half.a` also `a2(p, t) -> vec2<f32>`, the element and the next
   * channel, from one float16 pair. The staging splits each row once per workgroup (in
   * workgroup memory) and each column once per thread and K slice, not once per element: the
   * splits divide, and dividing is slow on GPUs and on llvmpipe. The staging calls it for a
   * tile's rows past M and a slice's columns past K too, and drops what it reads there (a
   * `select`, not a branch): it must be safe to call there, as a read past a storage buffer's
   * end is in WGSL (it gives one of the buffer's values, or zero).
   */
  a: string;
  /**
   * The name of the function reading B's element (k, n) from k's split as A's column,
   * `b(t, n) -> f32` (neither operand transposed): the slice's 32 columns are split once, into
   * workgroup memory that both operands' staging read. Called past K and N too (as `a`).
   */
  b?: string;
}

/**
 * Whether rows of `width` values can be stored as float16 pairs: a pair must not span two rows, so
 * mixed precision stores a layer's activations as pairs only where its width is even, and keeps
 * float32 where it is odd. The one rule behind each stage's choice and `float32Layers`' names.
 */
export function pairsWhole(width: number): boolean {
  return width % 2 === 0;
}

/** WGSL reading element `e` of `buffer`, an array of f32 or (half) of packed f16 pairs. */
export function element(buffer: string, e: string, half: boolean | undefined): string {
  return half ? `half(${buffer}[(${e}) >> 1u], ${e})` : `${buffer}[${e}]`;
}

/** WGSL's element type of an array stored as float32, or (`half`) as float16 pairs. */
export function word(half: boolean | undefined): "u32" | "f32" {
  return half ? "u32" : "f32";
}

/** WGSL `half(w, e)`: element `e` of an array of float16 pairs, given its word `w`. */
export const HALF_WGSL = `
fn half(w: u32, e: u32) -> f32 {
  let pair = unpack2x16float(w);
  return select(pair.x, pair.y, (e & 1u) == 1u);
}`;

/**
 * A thread's staging of one operand's 32x32 slice, as straight-line code: every load first (into
 * its own variable), then every store into workgroup memory. On an H200 the step's products took
 * ~8 us per 32 of K whatever their number of workgroups (8 to 400): the latency of about 32 loads
 * in turn, as a loop whose every turn loads then stores waits out each load before the next. (Most
 * likely why the driver did not unroll that loop of 16: naga gives each WGSL loop a counter of its
 * own in SPIR-V since early 2025, so that none is unbounded, and the trip count is no longer
 * plain.) Written out, a thread's loads are in flight together; the reads guard their bounds
 * with `select`, not a branch. (The product over the staged slice stays a loop: written out,
 * llvmpipe took twice as long to compile each variant, which CI compiles.)
 */
interface Staging {
  /** Code before the loads (gathered operands: the slice's splits). */
  prologue: string;
  /** Declares and loads the thread's elements. */
  loads: string;
  /** Stores them into workgroup memory. */
  stores: string;
}

/**
 * How the matmul stages its slices: `unrolled` (the default), as {@link Staging} says; turned
 * off, as a loop of a load and a store a turn, and the slice's product a plain loop (the
 * staging's form before the forty-ninth session; the loads' bounds are still `select`s and the
 * epilogue is still written out): `bench/dense_overhead.ts --staging loops`, the A/B on a GPU.
 * Its pipelines are cached under their own keys.
 */
export const matmulStaging = { unrolled: true };

/**
 * `count` copies of a staging step, the i-th with `bind(i)`'s `let`s (`i` a WGSL expression) in
 * a block of its own: the loads (`read(x)` assigns the element to `x`, declared as `type`), then
 * the stores; or, where {@linkcode matmulStaging} says loops, a loop of both.
 */
function unrollStaging(
  count: number,
  name: string,
  type: string,
  bind: (i: string) => string,
  read: (x: string) => string,
  store: (x: string) => string,
): { loads: string; stores: string } {
  if (!matmulStaging.unrolled) {
    return {
      loads: `for (var i = 0u; i < ${count}u; i++) {
      var ${name}: ${type};
      ${bind("i")}
      ${read(name)}
      ${store(name)}
    }`,
      stores: "",
    };
  }
  const steps = Array.from({ length: count }, (_, i) => i);
  return {
    loads: steps.map((i) =>
      `var ${name}${i}: ${type};
    { ${bind(`${i}u`)}
      ${read(`${name}${i}`)} }`
    ).join("\n    "),
    stores: steps.map((i) =>
      `{ ${bind(`${i}u`)}
      ${store(`${name}${i}`)} }`
    ).join("\n    "),
  };
}

/**
 * WGSL staging A's 32x32 slice into `As`, a k-major [32 k][8 vec4 of m]. Each of the 64 threads
 * loads 16 elements, or (`pairs`, a float16 A) 8 pairs of neighbours along A's contiguous
 * dimension (m when `transA`, else k), which is even, as is a pair's first index (tiles and K
 * slices start at multiples of 32), so the two share one word. A thread's index along that
 * dimension is the same for all its loads (`fixed`), the other steps (`varying`).
 * A `gathered` A (the name of its read, see {@link Gather.a}) reads its rows' splits from
 * `rowsAt` and splits its column `t` once: per K slice (k, when not `transA`) or once for the
 * whole product (m, see {@link gatheredSetup}). `sharedCols`: the slice's columns are split
 * into `colsAt`, for a gathered B (see {@link Gather.b}) too.
 */
function stageA(
  transA: boolean,
  pairs: boolean,
  gathered?: string,
  sharedCols = false,
): Staging {
  const [fixed, varying, count] = pairs
    ? ["(li % 16u) * 2u", (i: string) => `li / 16u + ${i} * 4u`, 8]
    : ["li % 32u", (i: string) => `li / 32u + ${i} * 2u`, 16];
  const [f, v] = transA ? ["ma", "ka"] : ["ka", "ma"];
  const at = "As[ka * 8u + ma / 4u][ma % 4u]";
  const store = (x: string) =>
    !pairs ? `${at} = ${x};` : transA
      ? `${at} = ${x}.x;
      As[ka * 8u + ma / 4u][ma % 4u + 1u] = ${x}.y;`
      : `${at} = ${x}.x;
      As[(ka + 1u) * 8u + ma / 4u][ma % 4u] = ${x}.y;`;
  const zero = pairs ? "vec2<f32>(0.0)" : "0.0";
  const read = (x: string) =>
    gathered
      ? `${x} = select(${zero}, ${gathered}${
        pairs ? "2" : ""
      }(rowsAt[${v}], t), (m0 + ma < dims.M) & (k0 + ka < dims.K));`
      : `${x} = loadA${pairs ? "2" : ""}(m0 + ma, k0 + ka);`;
  const prologue = !gathered ? "" : transA
    ? `if (li < 32u) { rowsAt[li] = position(k0 + li); }
    workgroupBarrier();`
    : sharedCols
    ? `if (li < 32u) { colsAt[li] = tap(k0 + li); }
    workgroupBarrier();
    let t = colsAt[${fixed}];`
    : `let t = tap(k0 + ${fixed});`;
  const { loads, stores } = unrollStaging(
    count,
    "xa",
    pairs ? "vec2<f32>" : "f32",
    (i) => `let ${f} = ${fixed}; let ${v} = ${varying(i)};`,
    read,
    store,
  );
  return { prologue, loads, stores };
}

/**
 * WGSL staging B's 32x32 slice into `Bs`, a k-major [32 k][8 vec4 of n]: element `e` of the
 * thread's 16 is `li + 64 e` of the slice, along B's contiguous dimension (k when `transB`, else
 * n). A gathered B (the name of its read, see {@link Gather.b}) takes k's splits from `colsAt`.
 */
function stageB(transB: boolean, gatherB?: string): Staging {
  const { loads, stores } = unrollStaging(
    16,
    "xb",
    "f32",
    (i) =>
      `let e = li + ${i} * 64u; ${
        transB ? "let nb = e / 32u; let kb = e % 32u;" : "let kb = e / 32u; let nb = e % 32u;"
      }`,
    (x) =>
      gatherB
        ? `${x} = select(0.0, ${gatherB}(colsAt[kb], n0 + nb), (k0 + kb < dims.K) & (n0 + nb < dims.N));`
        : `${x} = loadB(k0 + kb, n0 + nb);`,
    (x) => `Bs[kb * 8u + nb / 4u][nb % 4u] = ${x};`,
  );
  return { prologue: "", loads, stores };
}

/**
 * The product of the two staged slices into the thread's four accumulators. Staged as
 * {@link Staging} says, each step's two workgroup loads are those of the step after (their
 * latency behind this step's 16 multiply-adds, not before them); the sums in the same order.
 * Staged in loops (the form before, {@linkcode matmulStaging}), a plain loop.
 */
function slicedProduct(): string {
  const sums = (a: string, b: string) =>
    [0, 1, 2, 3].map((r) => `acc${r} += ${a}.${"xyzw"[r]} * ${b};`).join("\n      ");
  if (!matmulStaging.unrolled) {
    return `for (var k = 0u; k < 32u; k++) {
      let a = As[k * 8u + lid.y];
      let b = Bs[k * 8u + lid.x];
      ${sums("a", "b")}
    }`;
  }
  return `var a = As[lid.y];
    var b = Bs[lid.x];
    for (var k = 1u; k < 32u; k++) {
      let nextA = As[k * 8u + lid.y];
      let nextB = Bs[k * 8u + lid.x];
      ${sums("a", "b")}
      a = nextA;
      b = nextB;
    }
    ${sums("a", "b")}`;
}

/**
 * Before the K loop of a gathered A (see {@link stageA}): the tile's rows' splits into `rowsAt`
 * when they are fixed (not `transA`), else the thread's column's split `t`, fixed for the whole
 * product.
 */
function gatheredSetup(transA: boolean, pairs: boolean): string {
  return transA
    ? `let t = tap(m0 + ${pairs ? "(li % 16u) * 2u" : "li % 32u"});`
    : `if (li < 32u) { rowsAt[li] = position(m0 + li); }
  workgroupBarrier();`;
}

/**
 * `C[M,N] = op(A) · op(B)` with the epilogue applied per element; `transA` reads A stored [K,M],
 * `transB` reads B stored [N,K]. Workgroups of 8x8 threads, each computing a 4x4 block held in
 * four vec4 accumulators (named variables stay in registers; arrays indexed in loops do not),
 * over K in slices of 32 staged in workgroup memory, loaded along the contiguous dimension. The
 * tiles are stored as vec4s, so the product reads a thread's 4 rows and 4 columns of a k in two
 * loads (scalar loads, 8 of them, made it 3x slower on llvmpipe).
 * `half` stores activations as float16 (see {@link HalfStorage}); a float16 A is staged a pair
 * of elements per load.
 */
export function matmulWgsl(
  transA: boolean,
  transB: boolean,
  epilogue: Epilogue,
  half: HalfStorage = {},
  gather?: Gather,
): string {
  const act = epilogue.kind === "grad" || epilogue.kind === "partial"
    ? undefined
    : ACTIVATIONS[epilogue.activation];
  const split = epilogue.kind === "partial";
  // float16 A staged a pair per load: half the loads and unpacks
  const pairs = half.a === true;
  const gatherB = gather?.b;
  if (gatherB && (transA || transB)) throw new Error("a gathered B needs untransposed operands");
  const a = stageA(transA, pairs, gather?.a, gatherB !== undefined);
  const b = stageB(transB, gatherB);
  const bindings = epilogue.kind === "forward"
    ? `@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<${word(half.out)}>;`
    : epilogue.kind === "backprop"
    ? `@group(0) @binding(3) var<storage, read> prev: array<${word(half.prev)}>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;`
    : `@group(0) @binding(3) var<storage, read_write> out: array<f32>;`;
  const write = (j: number) =>
    epilogue.kind === "forward"
      ? `out[idx] = activate(v[${j}] + bias[n]);`
      : epilogue.kind === "backprop"
      ? `let a = ${element("prev", "idx", half.prev)};
    out[idx] = v[${j}] * (${act!.derivative});`
      : split
      ? `out[slice * dims.M * dims.N + idx] = v[${j}];`
      : `out[idx] = select(0.0, out[idx], dims.accumulate == 1u) + v[${j}];`;
  // float16 output: columns n and n + 1 (n even, N even) packed into one word by one thread
  const store = epilogue.kind === "forward" && half.out
    ? `fn store(row: u32, col: u32, v: vec4<f32>) {
  if (row >= dims.M) { return; }
  ${
      [0, 2].map((j) =>
        `{ let n = col + ${j}u;
  if (n < dims.N) {
    let pair = vec2<f32>(activate(v[${j}] + bias[n]), activate(v[${j + 1}] + bias[n + 1u]));
    out[(row * dims.N + n) >> 1u] = pack2x16float(pair);
  } }`
      ).join("\n  ")
    }
}`
    : `fn store(row: u32, col: u32, v: vec4<f32>${split ? ", slice: u32" : ""}) {
  if (row >= dims.M) { return; }
  ${
      [0, 1, 2, 3].map((j) =>
        `{ let n = col + ${j}u;
  if (n < dims.N) {
    let idx = row * dims.N + n;
    ${write(j)}
  } }`
      ).join("\n  ")
    }
}`;
  return `
struct Dims { M: u32, N: u32, K: u32, accumulate: u32${
    gather ? ", H: u32, W: u32, C: u32, KS: u32, P: u32, CI: u32" : ""
  }${split ? ", KC: u32" : ""} }
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> A: array<${word(half.a)}>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
${bindings}
var<workgroup> As: array<vec4<f32>, 256>;
var<workgroup> Bs: array<vec4<f32>, 256>;
${gather ? "var<workgroup> rowsAt: array<vec3<u32>, 32>;" : ""}
${gatherB ? "var<workgroup> colsAt: array<vec3<u32>, 32>;" : ""}
${HALF_WGSL}
${epilogue.kind === "forward" ? activationWgsl(epilogue.activation).forward : (act?.fns ?? "")}
${gather?.fns ?? ""}
fn loadA(m: u32, k: u32) -> f32 {
  let inside = (m < dims.M) & (k < dims.K);
  return select(0.0, ${
    element("A", `select(0u, ${transA ? "k * dims.M + m" : "m * dims.K + k"}, inside)`, half.a)
  }, inside);
}

fn loadA2(m: u32, k: u32) -> vec2<f32> {
  let inside = (m < dims.M) & (k < dims.K);
  return ${
    pairs
      ? `select(vec2<f32>(0.0), unpack2x16float(A[select(0u, ${
        transA ? "k * dims.M + m" : "m * dims.K + k"
      }, inside) >> 1u]), inside)`
      : "vec2<f32>(0.0)"
  };
}

fn loadB(k: u32, n: u32) -> f32 {
  let inside = (k < dims.K) & (n < dims.N);
  return select(0.0, B[select(0u, ${
    transB ? "n * dims.K + k" : "k * dims.N + n"
  }, inside)], inside);
}

${store}

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let m0 = wg.y * 32u;
  let n0 = wg.x * 32u;
  let tm = lid.y * 4u;
  let tn = lid.x * 4u;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  ${
    split
      ? `let kStart = wg.z * dims.KC;
  let kEnd = min(dims.K, kStart + dims.KC);`
      : `let kStart = 0u;
  let kEnd = dims.K;`
  }
  ${gather ? gatheredSetup(transA, pairs) : ""}
  for (var k0 = kStart; k0 < kEnd; k0 += 32u) {
    ${a.prologue}
    ${a.loads}
    ${b.loads}
    ${a.stores}
    ${b.stores}
    workgroupBarrier();
    ${slicedProduct()}
    workgroupBarrier();
  }
  ${
    [0, 1, 2, 3].map((r) =>
      `store(m0 + tm${r ? ` + ${r}u` : ""}, n0 + tn, acc${r}${split ? ", wg.z" : ""});`
    ).join("\n  ")
  }
}
`;
}

/** Threads of a {@linkcode BIAS_GRAD_WGSL} workgroup, shared between its columns and lanes. */
const BIAS_GRAD_THREADS = 256;

/**
 * Row lanes at most of a {@linkcode BIAS_GRAD_WGSL} workgroup: with 32, it still reads 8
 * neighbouring columns a row, a 32-byte segment for each of a GPU's loads.
 */
const BIAS_GRAD_MAX_LANES = 32;

/** Rows a {@linkcode BIAS_GRAD_WGSL} lane sums, at most, before the lanes reach their cap. */
const BIAS_GRAD_LANE_ROWS = 16;

/**
 * `out[n] (+)= sum over rows of D[r, n]`: a bias gradient, or the sum of a split-K product's (or
 * a per-channel reduction's) partials. A workgroup of 256 threads takes `256 / lanes` neighbouring
 * columns, and `lanes` threads a column each sum every `lanes`-th row, so that neighbouring
 * threads read neighbouring words of a row; the lanes' sums then meet in a tree in workgroup
 * memory. One thread per column (8 workgroups for 512 gates) left an H200 idle on an LSTM's 2048
 * rows: 0.37 ms for each of its bias gradients. The order of the sums is fixed by the rows and
 * `lanes` alone, so a step gives the same bits each time. Uniforms: rows, cols, accumulate (1:
 * add to `out`, for gradient accumulation) and lanes (a power of two up to 32, as
 * {@linkcode biasGradShape} picks).
 */
export const BIAS_GRAD_WGSL = `
struct Dims { rows: u32, cols: u32, accumulate: u32, lanes: u32 }
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> D: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

var<workgroup> sums: array<f32, ${BIAS_GRAD_THREADS}>;

@compute @workgroup_size(${BIAS_GRAD_THREADS})
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) nw: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let lanes = dims.lanes;
  let width = ${BIAS_GRAD_THREADS}u / lanes;
  let lane = t / width;
  let col = t % width;
  // (the workgroups over two axes where they are more than one takes: see columnSumGroups)
  let n = (wg.y * nw.x + wg.x) * width + col;
  var s = 0.0;
  // (no early return past the last column: every thread meets the barriers below)
  if (n < dims.cols) {
    ${stridedSum("s", "lane", "dims.rows", "lanes", (r) => `D[(${r}) * dims.cols + n]`)}
  }
  sums[t] = s;
  // Halve the lanes each round: lane l adds lane l + apart's sum (apart: half the lanes still
  // summing). A round reads only slots the round before wrote, and writes none another thread
  // reads in it, so one barrier a round.
  for (var apart = lanes / 2u; apart > 0u; apart /= 2u) {
    workgroupBarrier();
    if (lane < apart) {
      s += sums[t + apart * width];
      sums[t] = s;
    }
  }
  if (lane == 0u && n < dims.cols) {
    out[n] = select(0.0, out[n], dims.accumulate == 1u) + s;
  }
}
`;

/**
 * The lanes (the fourth uniform) and workgroups in all of a {@linkcode BIAS_GRAD_WGSL} dispatch
 * summing `rows` rows of `cols` columns: lanes enough that each sums at most 16 rows, up to 32
 * (2048 rows: 64 each, in 64 workgroups for 512 columns); a single lane, 256 columns a
 * workgroup, for a few rows, as split-K's partials.
 */
export function biasGradShape(rows: number, cols: number): { lanes: number; groups: number } {
  let lanes = 1;
  while (lanes < BIAS_GRAD_MAX_LANES && lanes * BIAS_GRAD_LANE_ROWS < rows) lanes *= 2;
  return { lanes, groups: Math.ceil(cols / (BIAS_GRAD_THREADS / lanes)) };
}

const LOSS_ROWS: Record<DenseLoss, string> = {
  // Softmax cross-entropy against class indices; the metric is the count of correct argmaxes
  // (the first maximum, as tf.argMax).
  crossEntropy: `
    let base = r * C;
    var mx = outs[base];
    var arg = 0u;
    for (var c = 1u; c < C; c++) {
      let v = outs[base + c];
      if (v > mx) { mx = v; arg = c; }
    }
    var s = 0.0;
    for (var c = 0u; c < C; c++) { s += exp(outs[base + c] - mx); }
    let lse = mx + log(s);
    let cls = u32(labels[r]);
    if (cls < C) {
      loss += lse - outs[base + cls];
      metric += select(0.0, 1.0, arg == cls);
    }
    for (var c = 0u; c < C; c++) {
      let p = exp(outs[base + c] - lse);
      let hit = select(0.0, 1.0, c == cls);
      grad[base + c] = select(0.0, (p - hit) * dims.scale, cls < C);
    }`,
  // Mean over outputs of the squared error; the metric sums each row's mean absolute error.
  mse: `
    let base = r * C;
    var se = 0.0;
    var ae = 0.0;
    for (var c = 0u; c < C; c++) {
      let diff = outs[base + c] - labels[base + c];
      se += diff * diff;
      ae += abs(diff);
      grad[base + c] = 2.0 * diff / f32(C) * dims.scale;
    }
    loss += se / f32(C);
    metric += ae / f32(C);`,
  // Sigmoid + binary cross-entropy from logits, in the overflow-free form; accuracy at 0.
  binaryCrossEntropy: `
    let x = outs[r];
    let t = labels[r];
    loss += max(x, 0.0) - x * t + log(1.0 + exp(-abs(x)));
    metric += select(0.0, 1.0, (x > 0.0) == (t > 0.5));
    grad[r] = (1.0 / (1.0 + exp(-x)) - t) * dims.scale;`,
};

/**
 * The loss of one micro-batch in one workgroup: per row the loss, the metric and the gradient of
 * the mean loss (over the whole step's samples: `scale` = 1 / total) with respect to the outputs;
 * then `stats[0] (+)= sum of losses * scale` and `stats[2] (+)= sum of metrics`.
 */
export function lossWgsl(loss: DenseLoss): string {
  return `
struct Dims { rows: u32, cols: u32, accumulate: u32, scale: f32 }
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> outs: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;
var<workgroup> lossSum: array<f32, ${REDUCE_THREADS}>;
var<workgroup> metricSum: array<f32, ${REDUCE_THREADS}>;

@compute @workgroup_size(${REDUCE_THREADS})
fn main(@builtin(local_invocation_index) li: u32) {
  let C = dims.cols;
  var loss = 0.0;
  var metric = 0.0;
  for (var r = li; r < dims.rows; r += ${REDUCE_THREADS}u) {${LOSS_ROWS[loss]}
  }
  lossSum[li] = loss;
  metricSum[li] = metric;
  workgroupBarrier();
  ${treeSum(["lossSum", "metricSum"])}
  if (li == 0u) {
    let keep = dims.accumulate == 1u;
    stats[0] = select(0.0, stats[0], keep) + lossSum[0] * dims.scale;
    stats[2] = select(0.0, stats[2], keep) + metricSum[0];
  }
}
`;
}

/** Gradient tensors one sum-of-squares dispatch reads (each its own binding). */
export const SUMSQ_TENSORS = 6;

/**
 * First stage of the global norm over up to {@linkcode SUMSQ_TENSORS} tensors in one dispatch:
 * workgroup (x, y) sums the squares of a grid-stride share of tensor y into
 * `partials[(offset + y) * NORM_GROUPS + x]`, x below the tensor's share of workgroups (one per
 * {@linkcode NORM_SPAN} values, at most {@linkcode NORM_GROUPS}).
 */
export function sumsqWgsl(count: number): string {
  const bindings = Array.from(
    { length: count },
    (_, t) => `@group(0) @binding(${t + 1}) var<storage, read> g${t}: array<f32>;`,
  ).join("\n");
  const cases = Array.from({ length: count }, (_, t) => `case ${t}u: { return g${t}[i]; }`)
    .join("\n    ");
  return `
struct Dims { sizes: array<vec4<u32>, 2>, offset: u32 }
@group(0) @binding(0) var<uniform> dims: Dims;
${bindings}
@group(0) @binding(${count + 1}) var<storage, read_write> partials: array<f32>;
var<workgroup> acc: array<f32, ${REDUCE_THREADS}>;

fn value(t: u32, i: u32) -> f32 {
  switch t {
    ${cases}
    default: { return 0.0; }
  }
}

fn square(v: f32) -> f32 {
  return v * v;
}

@compute @workgroup_size(${REDUCE_THREADS})
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let t = wg.y;
  let n = dims.sizes[t / 4u][t % 4u];
  // The tensor's workgroups: one per ${NORM_SPAN} values, at most ${NORM_GROUPS}; the grid has as
  // many as its largest tensor's, and the others return at once (uniformly: the whole workgroup).
  // On llvmpipe each workgroup costs ~50 us even so: 64 a tensor made the norm half of a step.
  let groups = min(${NORM_GROUPS}u, (n + ${NORM_SPAN - 1}u) / ${NORM_SPAN}u);
  if (wg.x >= groups) {
    if (li == 0u) { partials[(dims.offset + t) * ${NORM_GROUPS}u + wg.x] = 0.0; }
    return;
  }
  var s = 0.0;
  ${
    stridedSum(
      "s",
      `wg.x * ${REDUCE_THREADS}u + li`,
      "n",
      `groups * ${REDUCE_THREADS}u`,
      (i) => `square(value(t, ${i}))`,
    )
  }
  acc[li] = s;
  workgroupBarrier();
  ${treeSum(["acc"])}
  if (li == 0u) { partials[(dims.offset + t) * ${NORM_GROUPS}u + wg.x] = acc[0]; }
}
`;
}

/** Second stage: `stats[1] = sqrt(sum of partials)`. */
export const NORM_WGSL = `
struct Dims { count: u32, pad0: u32, pad1: u32, pad2: u32 }
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;
var<workgroup> acc: array<f32, ${REDUCE_THREADS}>;

@compute @workgroup_size(${REDUCE_THREADS})
fn main(@builtin(local_invocation_index) li: u32) {
  var s = 0.0;
  for (var i = li; i < dims.count; i += ${REDUCE_THREADS}u) { s += partials[i]; }
  acc[li] = s;
  workgroupBarrier();
  ${treeSum(["acc"])}
  if (li == 0u) { stats[1] = sqrt(acc[0]); }
}
`;

/**
 * The forward epilogue after a split-K product (see the `partial` {@link Epilogue}): `out =
 * act(sum of the slices' partials + bias)`, stored as the forward epilogue stores it: float32,
 * or (`halfOut`, N even) columns n and n + 1 packed into one float16 pair by one thread. One
 * thread per output word, on a 2-D grid of workgroups of 256 (a row of `num_workgroups.x`).
 * Uniforms: M, N, slices.
 */
export function splitForwardWgsl(activation: DenseActivation, halfOut: boolean): string {
  const sum = (e: string) =>
    `var s${e} = 0.0;
  ${stridedSum(`s${e}`, "0u", "dims.slices", "1u", (s) => `partials[(${s}) * size + e + ${e}u]`)}`;
  return `
struct Dims { M: u32, N: u32, slices: u32, pad: u32 }
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<${word(halfOut)}>;

${activationWgsl(activation).forward}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let i = (wg.y * nw.x + wg.x) * 256u + li;
  let size = dims.M * dims.N;
  let e = i${halfOut ? " * 2u" : ""};
  if (e >= size) { return; }
  let n = e % dims.N;
  ${sum("0")}
  ${
    halfOut
      ? `${sum("1")}
  let pair = vec2<f32>(activate(s0 + bias[n]), activate(s1 + bias[n + 1u]));
  out[i] = pack2x16float(pair);`
      : "out[i] = activate(s0 + bias[n]);"
  }
}
`;
}

/**
 * The uniforms of the element-wise kernels over a layer's values (dropout's, batch norm's in
 * dense_norm.ts): the values' count, dropout's scale for the kept units, for a sequence stored
 * time-major the batch's rows and steps, and the units a row (`C`).
 */
export const ELEMENT_DIMS_WGSL = `
struct Dims { count: u32, scale: f32, rows: u32, steps: u32, C: u32, p0: u32, p1: u32, p2: u32 }
@group(0) @binding(0) var<uniform> dims: Dims;`;

/**
 * Draws a dropout layer's mask on the GPU: the words `models/dropout.ts`'s `dropoutKeepBits`
 * computes (unit `i` kept where `fmix32(fmix32(i + k1) ^ k2)` is at least the threshold), one
 * thread a word of 32 units, after a first word of 1 (a training pass: apply). The keys come from
 * a storage buffer the host writes a micro-batch's pass seeds into (2 words a dropout layer, this
 * layer's at `2 * dims.layer`), so that the uniforms stay those of the shape. Uniforms: the
 * units, the threshold, the layer; bindings: keys, mask.
 */
export const DROPOUT_BITS_WGSL = `
struct Dims { count: u32, threshold: u32, layer: u32, pad: u32 }
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> keys: array<u32>;
@group(0) @binding(2) var<storage, read_write> mask: array<u32>;

fn fmix32(v: u32) -> u32 {
  var h = v;
  h ^= h >> 16u;
  h *= 0x85ebca6bu;
  h ^= h >> 13u;
  h *= 0xc2b2ae35u;
  h ^= h >> 16u;
  return h;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let w = (wg.y * nw.x + wg.x) * 256u + li;
  if (w == 0u) { mask[0] = 1u; }
  if (w >= (dims.count + 31u) / 32u) { return; }
  let k1 = keys[2u * dims.layer];
  let k2 = keys[2u * dims.layer + 1u];
  let end = min(32u, dims.count - 32u * w);
  var word = 0u;
  for (var k = 0u; k < end; k++) {
    let h = fmix32(fmix32(32u * w + k + k1) ^ k2);
    word |= select(0u, 1u << k, h >= dims.threshold);
  }
  mask[1u + w] = word;
}
`;

/**
 * Dropout's factor for value `e`: 0 where its unit is dropped, `dims.scale` where kept, 1 where
 * the mask's first word is 0 (inference: its bits are not read). With `timeMajor`, `e` indexes a
 * sequence stored [steps, rows, units] (the recurrent layers'), whose mask tfjs draws for
 * [rows, steps, units].
 */
export function dropoutFactorWgsl(timeMajor: boolean): string {
  const at = timeMajor
    ? `let units = dims.count / (dims.rows * dims.steps);
  let u = e % units;
  let q = e / units;
  let b = ((q % dims.rows) * dims.steps + q / dims.rows) * units + u;`
    : "let b = e;";
  return `
fn factor(e: u32) -> f32 {
  ${at}
  let kept = ((mask[1u + (b >> 5u)] >> (b & 31u)) & 1u) == 1u;
  return select(select(0.0, dims.scale, kept), 1.0, mask[0] == 0u);
}`;
}

/**
 * A hidden layer's output where a matmul's epilogue does not make it (see gpu_program.ts): its
 * stored values `z` through `activation` (gelu, which a matmul leaves to this kernel, or linear),
 * then, with `dropout`, times each unit's factor, as tfjs multiplies by the mask (so a NaN stays
 * NaN): 0 where the unit is dropped, `scale` (1 / (1 - rate), a uniform) where kept, 1 where
 * the mask's first word is 0 (inference); the mask's bits follow that word
 * (`dropoutKeepBits`). One thread a value, or under `half` a float16 pair (units even). Bindings:
 * [mask,] values, out; uniforms: count (values), scale's bits, and with `timeMajor` (a
 * recurrent layer's output sequence, see `dropoutFactorWgsl`) the rows and steps.
 */
export function outputWgsl(
  activation: "gelu" | "linear",
  half: boolean,
  dropout: boolean,
  timeMajor = false,
): string {
  const binding = (b: number) => b - (dropout ? 0 : 1);
  const value = (v: string, e: string) => `activate(${v})${dropout ? ` * factor(${e})` : ""}`;
  return `${ELEMENT_DIMS_WGSL}
${dropout ? "@group(0) @binding(1) var<storage, read> mask: array<u32>;" : ""}
@group(0) @binding(${binding(2)}) var<storage, read> values: array<${word(half)}>;
@group(0) @binding(${binding(3)}) var<storage, read_write> out: array<${word(half)}>;
${activationWgsl(activation).forward}
${dropout ? dropoutFactorWgsl(timeMajor) : ""}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let i = (wg.y * nw.x + wg.x) * 256u + li;
  let e = i${half ? " * 2u" : ""};
  if (e >= dims.count) { return; }
  ${
    half
      ? `let pair = unpack2x16float(values[i]);
  out[i] = pack2x16float(vec2<f32>(${value("pair.x", "e")}, ${value("pair.y", "e + 1u")}));`
      : `out[i] = ${value("values[i]", "e")};`
  }
}
`;
}

/**
 * Dropout's backward kernel: each of `count` gradients (at a hidden layer's pre-activations, or
 * `timeMajor` at a recurrent layer's output sequence) times its unit's factor (see
 * {@linkcode outputWgsl}), in place. Bindings: mask, gradients.
 */
export function dropoutBackwardWgsl(timeMajor: boolean): string {
  return `${ELEMENT_DIMS_WGSL}
@group(0) @binding(1) var<storage, read> mask: array<u32>;
@group(0) @binding(2) var<storage, read_write> values: array<f32>;
${dropoutFactorWgsl(timeMajor)}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let i = (wg.y * nw.x + wg.x) * 256u + li;
  if (i >= dims.count) { return; }
  values[i] = values[i] * factor(i);
}
`;
}
