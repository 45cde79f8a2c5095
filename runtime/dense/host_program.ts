/**
 * The training step of a small dense network in plain TypeScript on the CPU backends. For tiny
 * models (the seed experiment's 2-input linear regression, small tabular MLPs) a step is a few
 * hundred multiply-adds, and tfjs's ~40 ops of forward, backward, loss, metrics and norm cost
 * ~15-20 us each in dispatch alone; here forward, loss and backward are loops over float64 arrays
 * (the same arithmetic as the WGSL kernels). Where a layer is large enough for it, its products,
 * relu and bias gradients run on kernels.wat's float64 SIMD kernels (`gemm64`, `hostActivate`,
 * `hostReluGrad`) over arrays in a WebAssembly memory of the program's own, value for value
 * those loops (`hostProducts.simd` off, or no SIMD: the loops). The weights are read once and kept on the host
 * (re-read only when a variable was assigned elsewhere: a checkpoint restored, a rollback); with
 * a host optimizer (`optimizers/host.ts`) the update runs on them too, and the new values are
 * written back to the variables after every step (into their own storage where nothing else
 * holds it), so tfjs always sees the current weights. Dropout draws tfjs's path's masks, and
 * batch norm's moving averages are written to their variables after every micro-batch, as tfjs's
 * layer moves them in its forward pass.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { dropoutLayerSeed, dropoutMask } from "../../models/dropout.ts";
import type { HostOptimizer, HostParam } from "../../optimizers/host.ts";
import type { HostBatch } from "../engine.ts";
import type { ProductArgs, SimdKernels } from "../wasm_simd/kernels.ts";
import { kernelBytes } from "../wasm_simd/pool_layout.ts";
import { type DensePlan, layerVariableStarts } from "./gpu_program.ts";
import type { DenseActivation } from "./wgsl.ts";

/** What {@linkcode storeValues} reads of the cpu and wasm backends. */
interface HostBackend {
  refCount(dataId: object): number;
  /** The cpu backend's storage: each tensor's values, the array itself. */
  data?: { has(dataId: object): boolean; get(dataId: object): { values: unknown } };
  /** The wasm backend's tensors on its heap: its own id of each, and where it lies. */
  dataIdMap?: {
    has(dataId: object): boolean;
    get(dataId: object): { id: number; memoryOffset: number };
  };
  typedArrayFromHeap?(info: tf.TensorInfo): tf.backend_util.TypedArray;
  /** tfjs-wasm's C++ side: a tensor id forgotten (with what is cached for it) and registered. */
  wasm?: {
    tfjs: {
      disposeData(id: number): void;
      registerTensor(id: number, size: number, memoryOffset: number): void;
    };
  };
}

/**
 * Stores `values` as `variable`'s data without a new tensor, where the variable alone holds its
 * data (no clone shares it). On wasm they are written into its buffer on the heap (every read of
 * wasm's data copies it out, so no earlier read sees the change), then its id is forgotten and
 * registered again on tfjs-wasm's C++ side: forgetting an id runs the disposal callbacks of what
 * is cached for it (XNNPACK's operators, which hold a packed copy of a product's weights), as a
 * new tensor's new id would. On the cpu backend a new array replaces the old one (a read there
 * hands out the array itself, which must not change under an earlier reader). False where it
 * cannot (another backend, shared data): the caller assigns a new tensor.
 *
 * A new tensor and an assign cost ~2 us a variable once tfjs's code is compiled, and far more in
 * a new Worker while it is not: the seed's 650 steps through the actors took 1.3x as long.
 */
function storeValues(variable: tf.Variable, values: Float32Array): boolean {
  if (variable.dtype !== "float32") return false;
  const backend = tf.engine().backend as unknown as HostBackend;
  const id = variable.dataId;
  if (backend.dataIdMap?.has(id) && backend.typedArrayFromHeap && backend.wasm?.tfjs) {
    if (backend.refCount(id) !== 1) return false;
    const view = backend.typedArrayFromHeap(variable);
    if (!(view instanceof Float32Array) || view.length !== values.length) return false;
    view.set(values);
    const { id: cppId, memoryOffset } = backend.dataIdMap.get(id);
    backend.wasm.tfjs.disposeData(cppId);
    backend.wasm.tfjs.registerTensor(cppId, values.length, memoryOffset);
    return true;
  }
  if (backend.data?.has(id) && !backend.dataIdMap) {
    const stored = backend.data.get(id);
    if (backend.refCount(id) !== 1 || !(stored.values instanceof Float32Array)) return false;
    if (stored.values.length !== values.length) return false;
    stored.values = values.slice();
    return true;
  }
  return false;
}

/**
 * Work of one step (batch times the layers' weights: a third of its multiply-adds, forward and
 * backward) up to which the host step beats tfjs on wasm, for a network of one or two dense layers
 * (see {@linkcode hostStepMaxWork} for deeper ones). Measured on a 2-core machine (wasm on one
 * thread, as `anneal train` runs it there), both paths alternated in one process: tfjs's step
 * takes ~0.5-1 ms whatever the model below ~1e6, its per-op cost. With its products, relu and
 * bias gradients on SIMD kernels (`gemm64`, `hostActivate`, `hostReluGrad`) the host step was
 * 1.85x faster than tfjs's at 4.9e5, 1.46x at 7.4e5, and 0.9-1.2x at 1e6 (a linear model of 784
 * inputs 0.91x, a hidden layer of 512 0.93x, of 256 1.23x); with all of it in JavaScript's loops
 * (engines without SIMD, or `hostProducts.simd` off) it ran 1.8-3.7x as long.
 */
export const HOST_STEP_MAX_WORK = 750_000;

/**
 * The host step's bound for a network of `layers` dense layers (the output layer included): tfjs's
 * step grows by a dozen ops a layer, so a deeper network keeps the host step's lead to more work.
 * {@linkcode HOST_STEP_MAX_WORK} up to two layers, then 5e5 more a layer, to at most 1.75e6 (four
 * layers' bound, the deepest measured: with three layers the host step was 1.7x faster than tfjs's
 * at 7.7e5, 1.3x at 1.16e6 and 1.1x at 1.3e6; with four 1.4x at 1.3e6 and 1.14x at 1.9e6). The cap
 * keeps a deep network's host arrays bounded too: they grow with the batch, which a bound that grew
 * with every layer would let grow with it. Measured with relu; tanh, dropout and batch norm (whose
 * element-wise passes stay in TypeScript) kept 1.1-1.6x at these bounds. gelu (its erf in
 * TypeScript, ~3x relu's step at these sizes) takes half: its host step was 1.0x tfjs's at 3.7e5
 * with two layers, 1.14x at 7.7e5 with three and 0.96x at 1.16e6, 1.48x at 6.5e5 with four.
 */
export function hostStepMaxWork(layers: number, gelu = false): number {
  const bound = Math.min(HOST_STEP_MAX_WORK + 500_000 * Math.max(0, layers - 2), 1_750_000);
  return gelu ? bound / 2 : bound;
}

function activate(kind: DenseActivation, z: number): number {
  switch (kind) {
    case "relu":
      return z < 0 ? 0 : z; // (a NaN passes, as through tfjs's and torch's relu)
    case "tanh":
      return Math.tanh(z);
    case "sigmoid":
      return 1 / (1 + Math.exp(-z));
    case "gelu":
      return z * geluCdf(z);
    case "linear":
      return z;
  }
}

/** The derivative at `a`: the activation's output, but gelu's pre-activation (see wgsl.ts). */
function derivative(kind: DenseActivation, a: number): number {
  switch (kind) {
    case "relu":
      return a > 0 ? 1 : 0;
    case "tanh":
      return 1 - a * a;
    case "sigmoid":
      return a * (1 - a);
    case "gelu":
      // (tfjs's gradient through its ops: the CDF plus z times the normal density)
      return geluCdf(a) + a * Math.exp(-0.5 * a * a) / Math.sqrt(2 * Math.PI);
    case "linear":
      return 1;
  }
}

/**
 * Batch norm's backward pass, in place on `d` (`rows` x `units`: the gradient at the normalized
 * output, made the gradient at its input `z`): `dz = gamma * inv * (dy - mean(dy) - xhat *
 * mean(dy * xhat))`, with gamma's and beta's gradients added to `gradGamma` and `gradBeta`.
 */
function normBackward(
  d: Float64Array,
  rows: number,
  units: number,
  norm: { xhat: Float64Array; inv: Float64Array },
  gamma: Float32Array,
  gradGamma: Float64Array,
  gradBeta: Float64Array,
): void {
  const { xhat, inv } = norm;
  for (let c = 0; c < units; c++) {
    let s1 = 0;
    let s2 = 0;
    for (let r = 0; r < rows; r++) {
      const e = r * units + c;
      s1 += d[e];
      s2 += d[e] * xhat[e];
    }
    gradBeta[c] += s1;
    gradGamma[c] += s2;
    const [m1, m2] = [s1 / rows, s2 / rows];
    for (let r = 0; r < rows; r++) {
      const e = r * units + c;
      d[e] = gamma[c] * inv[c] * (d[e] - m1 - xhat[e] * m2);
    }
  }
}

/**
 * The normal CDF at `x`, 0.5 * (1 + erf(x / sqrt(2))), with erf as tfjs approximates it
 * (Abramowitz and Stegun 7.1.26, within 1.5e-7), as its gelu computes it.
 */
function geluCdf(x: number): number {
  const v = x / Math.SQRT2;
  const u = Math.abs(v);
  const t = 1 / (1 + 0.3275911 * u);
  const poly =
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
    t;
  return 0.5 * (1 + Math.sign(v) * (1 - poly * Math.exp(-u * u)));
}

/**
 * Products of at least this many multiply-adds take the blocked loops below, whose float64 copies
 * and transposes cost more than they save on smaller ones (the seed's 16 x 2 x 1 step took 1.2x
 * as long through them); both add the same terms in the same order.
 */
const BLOCKED_MIN_WORK = 2048;

/** `values` as a Float64Array (itself if it is one; a copy, exact, otherwise). */
function float64(values: ArrayLike<number>): Float64Array {
  return values instanceof Float64Array ? values : Float64Array.from(values);
}

/**
 * `simd`: whether the host step's blocked products run on kernels.wat's `gemm64` (where this
 * engine has WebAssembly SIMD); false keeps them in the JavaScript loops (the reference the tests
 * compare it with bit for bit, and an A/B's other side). `calls`: products run on `gemm64` so far
 * (tests check a path takes it). `maxArenaBytes`: the most a program's arena of float64 arrays
 * reserves (1 GiB, well inside wasm32's 4 GiB and its signed offsets); a step that needs more
 * keeps its arrays on the JavaScript heap, and its loops.
 */
export const hostProducts = { simd: true, calls: 0, maxArenaBytes: 2 ** 30 };

/** kernels.wat compiled for a plain memory; null where this engine cannot (no SIMD). */
let productsModule: WebAssembly.Module | null | undefined;

/**
 * Float64 arrays of a step in a WebAssembly memory of the program's own, where kernels.wat's
 * `gemm64` (float64 SIMD, two values side by side, each adding its products in the same order
 * as the JavaScript loops: bit for bit their results) multiplies them without a copy. Arrays are
 * taken one after the other; `reserve` at a step's start makes room for all of them before the
 * first (growing a memory detaches the arrays over it), `mark` and `release` let a micro-batch's
 * arrays go for the next one's. Past the room reserved, `array` gives a plain Float64Array (its
 * products then take the JavaScript loops).
 */
class ProductArena {
  readonly #memory: WebAssembly.Memory;
  readonly #kernels: SimdKernels;
  #top = 0;

  private constructor(memory: WebAssembly.Memory, kernels: SimdKernels) {
    this.#memory = memory;
    this.#kernels = kernels;
  }

  /** An arena, or undefined where the kernels cannot run here. */
  static create(): ProductArena | undefined {
    if (productsModule === undefined) {
      try {
        productsModule = new WebAssembly.Module(kernelBytes(false));
      } catch {
        productsModule = null;
      }
    }
    if (!productsModule) return undefined;
    const memory = new WebAssembly.Memory({ initial: 1 });
    const instance = new WebAssembly.Instance(productsModule, { env: { memory } });
    return new ProductArena(memory, instance.exports as unknown as SimdKernels);
  }

  /** `gemm64` (see kernels.wat) on arrays of the arena, by their byte offsets. */
  gemm64(...args: ProductArgs): void {
    hostProducts.calls++;
    this.#kernels.gemm64(...args);
  }

  /** Where the arena holds a 1 (float64), before its arrays. */
  static readonly ONE = 0;
  /** The bytes before the arrays: the 1, rounded up to the arrays' 16-byte alignment. */
  static readonly HEADER = 16;

  /**
   * Room for `bytes` of arrays (the arrays taken before are let go); false where the memory
   * cannot grow so far.
   */
  reserve(bytes: number): boolean {
    const short = ProductArena.HEADER + bytes - this.#memory.buffer.byteLength;
    if (short > 0) {
      try {
        this.#memory.grow(Math.ceil(short / 65536));
      } catch {
        return false; // (out of memory)
      }
    }
    new Float64Array(this.#memory.buffer, ProductArena.ONE, 1)[0] = 1;
    this.#top = ProductArena.HEADER;
    return true;
  }

  /** `kernels.wat`'s `hostActivate` on `values`: relu (or none) and float32 rounding, in place. */
  activate(values: Float64Array, relu: boolean): void {
    this.#kernels.hostActivate(values.byteOffset, values.length, relu ? 1 : 0);
  }

  /** `kernels.wat`'s `hostReluGrad`: `gradients` times relu's derivative at `outputs`, in place. */
  reluGrad(gradients: Float64Array, outputs: Float64Array): void {
    this.#kernels.hostReluGrad(gradients.byteOffset, outputs.byteOffset, gradients.length);
  }

  /** Where the next array would start. */
  mark(): number {
    return this.#top;
  }

  /** Lets go of the arrays taken since `mark` gave `at`. */
  release(at: number): void {
    this.#top = at;
  }

  /** `n` zeros, in the arena where there is room (16-byte aligned), else on the JavaScript heap. */
  array(n: number): Float64Array {
    const at = this.#top;
    const end = at + 8 * n;
    if (end > this.#memory.buffer.byteLength) return new Float64Array(n);
    this.#top = Math.ceil(end / 16) * 16;
    return new Float64Array(this.#memory.buffer, at, n).fill(0);
  }

  /** Whether `values` lie in the arena (a Float64Array over its memory). */
  holds(values: ArrayLike<number>): values is Float64Array {
    return values instanceof Float64Array && values.buffer === this.#memory.buffer;
  }

  /** `values` in the arena: themselves where they lie there, else a copy (exact), if it fits. */
  place(values: ArrayLike<number>): Float64Array | undefined {
    if (this.holds(values)) return values;
    const copy = this.array(values.length);
    if (!this.holds(copy)) return undefined;
    copy.set(values);
    return copy;
  }
}

/** Bytes of the arena arrays of a step whose micro-batches have at most `rows` samples. */
function arenaBytes(plan: DensePlan, rows: number): number {
  const { layers } = plan;
  const weights = layers.reduce((n, l) => n + l.inputs * l.units, 0);
  const biases = layers.reduce((n, l) => n + l.units, 0);
  // the persistent kernel and bias gradients; per micro-batch the features, per layer its
  // outputs, its next layer's input (after gelu and after dropout), its input gradients, and a
  // copy of its kernel (as it is and transposed) and of its input; the output gradients; each
  // array's end rounded up to 16 bytes (at most 10 arrays a layer and 4 more)
  const perLayer = layers.reduce((n, l) => n + rows * (3 * l.units + 2 * l.inputs), 0);
  const values = weights + biases + rows * layers[0].inputs + perLayer + 2 * weights +
    rows * layers.at(-1)!.units;
  return 8 * values + 16 * (10 * layers.length + 4);
}

/**
 * `out` (`rows` x `units`) = `input` (`rows` x `inputs`) times `kernel` (`inputs` x `units`) plus
 * `bias`, in float64: each value starts at its bias and adds its products in the order of `k`.
 * Above {@linkcode BLOCKED_MIN_WORK}, each value is a dot product of two contiguous runs (the
 * kernel transposed, as float64), four values of a row at a time (the input read once for them).
 */
function affine(
  input: ArrayLike<number>,
  kernel: Float32Array,
  bias: Float32Array,
  rows: number,
  inputs: number,
  units: number,
  out: Float64Array,
  arena?: ProductArena,
): void {
  if (rows * inputs * units < BLOCKED_MIN_WORK) {
    for (let r = 0; r < rows; r++) {
      for (let n = 0; n < units; n++) {
        let z = bias[n];
        for (let k = 0; k < inputs; k++) z += input[r * inputs + k] * kernel[k * units + n];
        out[r * units + n] = z;
      }
    }
    return;
  }
  for (let r = 0; r < rows; r++) out.set(bias, r * units);
  const a = arena?.holds(out) ? arena.place(input) : undefined;
  const b = a && arena!.place(kernel);
  if (a && b) {
    arena!.gemm64(
      a.byteOffset,
      b.byteOffset,
      out.byteOffset,
      rows,
      inputs,
      units,
      8 * inputs,
      8,
    );
    return;
  }
  const kt = transpose(kernel, inputs, units, new Float64Array(kernel.length));
  addProducts(float64(input), rows, kt, units, inputs, out);
}

/**
 * Adds to each `out[i * rowsB + j]` the dot product of row `i` of `a` (`rowsA` x `length`) and
 * row `j` of `b` (`rowsB` x `length`), its `length` products in order, four values of a row of
 * `out` at a time (the row of `a` read once for them): the blocked loops' one kernel.
 */
function addProducts(
  a: Float64Array,
  rowsA: number,
  b: Float64Array,
  rowsB: number,
  length: number,
  out: Float64Array,
): void {
  const blocked = rowsB - (rowsB % 4);
  for (let i = 0; i < rowsA; i++) {
    const x = i * length;
    const o = i * rowsB;
    let j = 0;
    for (; j < blocked; j += 4) {
      const b0 = j * length;
      const b1 = b0 + length;
      const b2 = b1 + length;
      const b3 = b2 + length;
      let z0 = out[o + j];
      let z1 = out[o + j + 1];
      let z2 = out[o + j + 2];
      let z3 = out[o + j + 3];
      for (let k = 0; k < length; k++) {
        const v = a[x + k];
        z0 += v * b[b0 + k];
        z1 += v * b[b1 + k];
        z2 += v * b[b2 + k];
        z3 += v * b[b3 + k];
      }
      out[o + j] = z0;
      out[o + j + 1] = z1;
      out[o + j + 2] = z2;
      out[o + j + 3] = z3;
    }
    for (; j < rowsB; j++) {
      const b0 = j * length;
      let z = out[o + j];
      for (let k = 0; k < length; k++) z += a[x + k] * b[b0 + k];
      out[o + j] = z;
    }
  }
}

/** `to` (`columns` x `rows`) = `from` (`rows` x `columns`) transposed, as float64. */
function transpose(
  from: ArrayLike<number>,
  rows: number,
  columns: number,
  to: Float64Array,
): Float64Array {
  for (let r = 0; r < rows; r++) {
    const f = r * columns;
    for (let c = 0; c < columns; c++) to[c * rows + r] = from[f + c];
  }
  return to;
}

/** Whether every value of `values` is finite. */
function allFinite(values: ArrayLike<number>): boolean {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) return false;
  }
  return true;
}

/**
 * Adds a layer's kernel and bias gradients to `gw` (`inputs` x `units`) and `gb`: per row, its
 * input `prev` times its output gradient `delta`, rows in order. An output gradient of 0 adds
 * nothing, not even an input's NaN or infinity times it. Where every input is finite, adding its
 * product with a 0 changes no sum (none is -0: each starts at +0, and a sum of values that
 * cancel is +0), so each value is then a dot product over the rows of the transposed inputs and
 * output gradients (four values at a time); else, and below {@linkcode BLOCKED_MIN_WORK}, the rows
 * are added one by one, skipping zeros.
 */
function weightGradients(
  prev: ArrayLike<number>,
  delta: Float64Array,
  rows: number,
  inputs: number,
  units: number,
  gw: Float64Array,
  gb: Float64Array,
  arena?: ProductArena,
): void {
  if (arena?.holds(gb) && arena.holds(delta)) {
    // (gb [1, units] += ones [1, rows] times delta: 1 x d is d, and adding a zero changes no sum
    // (none is -0: each starts at +0, and values that cancel sum to +0), so this adds what the
    // loop below adds, in its order)
    arena.gemm64(ProductArena.ONE, delta.byteOffset, gb.byteOffset, 1, rows, units, 0, 0);
  } else {
    for (let r = 0; r < rows; r++) {
      const o = r * units;
      for (let n = 0; n < units; n++) {
        const d = delta[o + n];
        if (d !== 0) gb[n] += d;
      }
    }
  }
  if (rows * inputs * units < BLOCKED_MIN_WORK || !allFinite(prev)) {
    for (let r = 0; r < rows; r++) {
      const o = r * units;
      const x = r * inputs;
      for (let n = 0; n < units; n++) {
        const d = delta[o + n];
        if (d === 0) continue;
        for (let k = 0; k < inputs; k++) gw[k * units + n] += prev[x + k] * d;
      }
    }
    return;
  }
  // gw [inputs, units] += prev transposed (read through strides) times delta
  const a = arena?.holds(gw) && arena.holds(delta) ? arena.place(prev) : undefined;
  if (a) {
    arena!.gemm64(
      a.byteOffset,
      delta.byteOffset,
      gw.byteOffset,
      inputs,
      rows,
      units,
      8,
      8 * inputs,
    );
    return;
  }
  const pt = transpose(prev, rows, inputs, new Float64Array(rows * inputs));
  const dt = transpose(delta, rows, units, new Float64Array(rows * units));
  addProducts(pt, inputs, dt, units, rows, gw);
}

/**
 * `next` (`rows` x `inputs`) = `delta` (`rows` x `units`) times the transposed `kernel`: each
 * value the sum of its row's products in the order of `n`, in float64, four values at a time.
 */
function inputGradients(
  delta: Float64Array,
  kernel: Float32Array,
  rows: number,
  inputs: number,
  units: number,
  next: Float64Array,
  arena?: ProductArena,
): void {
  next.fill(0);
  if (arena?.holds(next) && arena.holds(delta) && rows * inputs * units >= BLOCKED_MIN_WORK) {
    // next [rows, inputs] += delta times the kernel transposed ([units, inputs], as float64)
    const kt = arena.array(kernel.length);
    if (arena.holds(kt)) {
      transpose(kernel, inputs, units, kt);
      arena.gemm64(
        delta.byteOffset,
        kt.byteOffset,
        next.byteOffset,
        rows,
        units,
        inputs,
        8 * units,
        8,
      );
      return;
    }
  }
  // (as float64, exactly: the products' one kernel then reads one kind of array, which V8 keeps
  // fast; read as float32 beside the others' float64 it ran 1.3-1.5x as long)
  addProducts(delta, rows, float64(kernel), inputs, units, next);
}

/**
 * A dense network's forward and backward pass on the host.
 *
 * @example
 * ```ts ignore
 * import { DenseHostProgram } from "./host_program.ts";
 * const program = new DenseHostProgram(plan);
 * const { grads, stats } = program.computeGradients([batch]);
 * ```
 */
export class DenseHostProgram {
  readonly #plan: DensePlan;
  readonly #variables: tf.Variable[];
  /** Host copies of the variables, and the tfjs data each copy was read from (or written to). */
  readonly #cache: { dataId: unknown; param: HostParam }[] = [];

  /** The arena of the products' arrays (undefined where the SIMD kernels cannot run). */
  #arena: ProductArena | null | undefined;

  /** Takes the plan; the weights are read from its variables when first needed. */
  constructor(plan: DensePlan) {
    this.#plan = plan;
    this.#variables = plan.layers.flatMap((layer) => [
      layer.kernel,
      layer.bias,
      ...(layer.norm ? [layer.norm.gamma, layer.norm.beta] : []),
    ]);
  }

  /**
   * The variables' current values on the host, in the order kernel, bias per layer. A copy is
   * re-read when its variable holds other data than the copy was made from (tfjs's `assign`
   * gives a variable new data). The one writer of a variable's data in place is this program
   * (`storeValues`, keeping the data's id): the same id then means the values it stored. A
   * second program over the same variables, or a cache keyed by a data id elsewhere, would not
   * see those writes; the engine makes one program a model, and nothing else keys on data ids.
   */
  params(): HostParam[] {
    return this.#variables.map((variable, i) => this.#read(variable, i));
  }

  /** `variable`'s host copy in cache slot `slot` (see {@linkcode params}). */
  #read(variable: tf.Variable, slot: number): HostParam {
    const cached = this.#cache[slot];
    if (cached?.dataId === variable.dataId) return cached.param;
    const param = {
      name: variable.name,
      shape: variable.shape,
      values: new Float32Array(variable.dataSync() as Float32Array),
    };
    this.#cache[slot] = { dataId: variable.dataId, param };
    return param;
  }

  /**
   * The arena a step of micro-batches of at most `rows` samples keeps its arrays in (made at the
   * first that takes one): where `hostProducts.simd` is on, a layer takes the blocked products,
   * its arrays fit in `hostProducts.maxArenaBytes`, and this engine has SIMD. Undefined elsewhere:
   * the step's arrays on the JavaScript heap, and its loops.
   */
  #arenaFor(rows: number): ProductArena | undefined {
    const { layers } = this.#plan;
    if (!hostProducts.simd) return undefined;
    if (!layers.some((l) => rows * l.inputs * l.units >= BLOCKED_MIN_WORK)) return undefined;
    if (ProductArena.HEADER + arenaBytes(this.#plan, rows) > hostProducts.maxArenaBytes) {
      return undefined;
    }
    if (this.#arena === undefined) this.#arena = ProductArena.create() ?? null;
    return this.#arena ?? undefined;
  }

  /** Writes `param`'s values (its host copy in cache slot `slot`) to `variable`. */
  #write(variable: tf.Variable, param: HostParam, slot: number): void {
    if (storeValues(variable, param.values)) return;
    // A copy: the cpu backend keeps the array it is given as the tensor's storage.
    const next = tf.tensor(param.values.slice(), variable.shape, "float32");
    variable.assign(next);
    next.dispose();
    this.#cache[slot] = { dataId: variable.dataId, param };
  }

  /**
   * The current values of each of `tensors` (copies) that is one of this step's variables: what
   * reading them from tfjs gives, without tfjs's ops. Undefined for any other tensor.
   */
  valuesOf(tensors: readonly tf.Tensor[]): (Float32Array | undefined)[] {
    const params = this.params();
    return tensors.map((tensor) => {
      const i = this.#variables.indexOf(tensor as tf.Variable);
      return i < 0 ? undefined : params[i].values.slice();
    });
  }

  /**
   * Steps `optimizer` on the host copies with `grads` (in {@linkcode params}' order) and writes
   * the new values to the variables.
   */
  apply(optimizer: HostOptimizer, grads: readonly ArrayLike<number>[], lr: number): void {
    const params = this.params();
    optimizer.stepArrays(params, grads, lr);
    params.forEach((param, i) => this.#write(this.#variables[i], param, i));
  }

  /** Work of one step for micro-batches of `rows` samples (see {@linkcode hostStepMaxWork}). */
  static work(plan: DensePlan, rows: number): number {
    return rows * plan.layers.reduce((n, l) => n + l.inputs * l.units, 0);
  }

  /**
   * Gradients of the mean loss over all micro-batches (float32, in {@linkcode params}' order) and
   * the step's `[mean loss, gradient norm, metric sum]`, computed on the host. Under dropout,
   * micro-batch `m`'s masks are those of the pass seed `passSeed(m)` (as tfjs's path draws them;
   * absent, `m`).
   */
  computeGradients(
    microBatches: HostBatch[],
    passSeed: (microBatch: number) => number = (m) => m,
  ): { grads: Float32Array[]; stats: Float32Array } {
    const { layers, loss, targetSize } = this.#plan;
    const rate = this.#plan.dropout ?? 0;
    const params = this.params();
    const first = layerVariableStarts(layers);
    const weights = layers.map((_, i) => ({
      kernel: params[first[i]].values,
      bias: params[first[i] + 1].values,
    }));
    // (the products' arrays in the arena where a layer takes the blocked products)
    const rowsMost = microBatches.reduce((n, b) => Math.max(n, b.size), 0);
    const room = this.#arenaFor(rowsMost);
    const arena = room?.reserve(arenaBytes(this.#plan, rowsMost)) ? room : undefined;
    const f64 = (n: number) => arena?.array(n) ?? new Float64Array(n);
    const gradW = layers.map((l) => f64(l.inputs * l.units));
    const gradB = layers.map((l) => f64(l.units));
    // batch norm's: gamma's and beta's gradients, and the moving averages' host copies
    const gradGamma = layers.map((l) => new Float64Array(l.norm ? l.units : 0));
    const gradBeta = layers.map((l) => new Float64Array(l.norm ? l.units : 0));
    // (cache slots after the trainable variables')
    let slot = this.#variables.length;
    const moving = layers.map((l) => {
      if (!l.norm) return undefined;
      slot += 2;
      return {
        slot: slot - 2,
        mean: this.#read(l.norm.movingMean, slot - 2),
        variance: this.#read(l.norm.movingVariance, slot - 1),
      };
    });
    const total = microBatches.reduce((n, b) => n + b.size, 0);
    const scale = 1 / total;
    let lossSum = 0;
    let metricSum = 0;
    const last = layers.length - 1;
    const start = arena?.mark() ?? 0;
    for (const [m, batch] of microBatches.entries()) {
      arena?.release(start);
      const rows = batch.size;
      // Forward: acts[i] holds layer i's outputs (post-activation; logits for the last; gelu's
      // pre-activation, which its derivative takes), and inputs[i + 1] what the next layer
      // takes: after gelu, and after dropout (with the factor of each value).
      const acts: Float64Array[] = [];
      // (the features as float64 in the arena: the first layer's products read them there)
      const features = arena?.place(batch.x) ?? batch.x;
      const inputs: ArrayLike<number>[] = [features];
      const factors: Float32Array[] = [];
      // per layer with batch norm: its normalized values and 1 / sqrt(variance + eps) per unit
      const norms: ({ xhat: Float64Array; inv: Float64Array } | undefined)[] = [];
      let input: ArrayLike<number> = features;
      layers.forEach((layer, i) => {
        const { kernel, bias } = weights[i];
        const out = f64(rows * layer.units);
        const act = i === last ? "linear" : layer.activation;
        // (gelu's pre-activation kept, gelu applied below, as the WGSL step does)
        const stored = act === "gelu" ? "linear" : act;
        affine(input, kernel, bias, rows, layer.inputs, layer.units, out, arena);
        const kind = layer.norm ? "linear" : stored;
        if (arena?.holds(out) && (kind === "relu" || kind === "linear")) {
          arena.activate(out, kind === "relu"); // (the loop below, two values at a time)
        } else {
          for (let e = 0; e < out.length; e++) {
            // float32, as torch holds a layer's outputs: a saturated tanh or sigmoid is then
            // exactly 1 (or 0), its derivative exactly 0, where a float64 one leaves ~1e-11 that
            // an adaptive optimizer or Lion's sign turns into a step of about lr
            out[e] = Math.fround(activate(kind, out[e]));
          }
        }
        norms.push(
          layer.norm
            ? this.#normalize(
              out,
              rows,
              layer,
              params[first[i] + 2].values,
              params[first[i] + 3].values,
              moving[i]!,
              stored,
            )
            : undefined,
        );
        acts.push(out);
        input = out;
        if (act === "gelu") {
          const activated = f64(out.length);
          for (let e = 0; e < out.length; e++) activated[e] = Math.fround(activate("gelu", out[e]));
          input = activated;
        }
        if (rate > 0 && i < last) {
          const size = rows * layer.units;
          // (tfjs's path's mask itself: 0, or 1 / (1 - rate) as float32)
          const factor = dropoutMask(dropoutLayerSeed(passSeed(m), i), size, rate);
          const dropped = f64(size);
          for (let e = 0; e < size; e++) {
            // (float32, as tfjs multiplies by the mask; a NaN stays NaN)
            dropped[e] = Math.fround(input[e] * factor[e]);
          }
          factors.push(factor);
          input = dropped;
        }
        inputs.push(input);
      });
      // Loss and the gradient of the mean loss with respect to the outputs.
      const outputs = layers[last].units;
      const logits = acts[last];
      let delta = f64(rows * outputs);
      for (let r = 0; r < rows; r++) {
        const base = r * outputs;
        if (loss === "crossEntropy") {
          let max = logits[base];
          let arg = 0;
          for (let c = 1; c < outputs; c++) {
            if (logits[base + c] > max) [max, arg] = [logits[base + c], c];
          }
          let sum = 0;
          for (let c = 0; c < outputs; c++) sum += Math.exp(logits[base + c] - max);
          const lse = max + Math.log(sum);
          const cls = batch.y[r];
          const valid = Number.isInteger(cls) && cls >= 0 && cls < outputs;
          if (valid) {
            lossSum += lse - logits[base + cls];
            if (arg === cls) metricSum += 1;
          }
          for (let c = 0; c < outputs; c++) {
            const p = Math.fround(Math.exp(logits[base + c] - lse)); // (torch's float32 softmax)
            delta[base + c] = valid ? (p - (c === cls ? 1 : 0)) * scale : 0;
          }
        } else if (loss === "mse") {
          let se = 0;
          let ae = 0;
          for (let c = 0; c < outputs; c++) {
            const diff = logits[base + c] - batch.y[r * targetSize + c];
            se += diff * diff;
            ae += Math.abs(diff);
            delta[base + c] = (2 * diff / outputs) * scale;
          }
          lossSum += se / outputs;
          metricSum += ae / outputs;
        } else {
          const x = logits[r];
          const t = batch.y[r];
          lossSum += Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)));
          if ((x > 0) === (t > 0.5)) metricSum += 1;
          delta[r] = (Math.fround(1 / (1 + Math.exp(-x))) - t) * scale; // (float32 sigmoid)
        }
      }
      // Backward, last layer first.
      for (let i = last; i >= 0; i--) {
        const layer = layers[i];
        // (the layer's input, after dropout where there is one)
        const prev = inputs[i];
        weightGradients(prev, delta, rows, layer.inputs, layer.units, gradW[i], gradB[i], arena);
        if (i > 0) {
          const kernel = weights[i].kernel;
          const below = layers[i - 1].activation;
          const activations = acts[i - 1];
          const factor = factors[i - 1];
          const next = f64(rows * layer.inputs);
          inputGradients(delta, kernel, rows, layer.inputs, layer.units, next, arena);
          if (!factor && below === "relu" && arena?.holds(next) && arena.holds(activations)) {
            arena.reluGrad(next, activations); // (the loop below, two values at a time)
          } else {
            for (let e = 0; e < next.length; e++) {
              const s = factor ? next[e] * factor[e] : next[e];
              next[e] = s * derivative(below, activations[e]);
            }
          }
          const norm = norms[i - 1];
          if (norm) {
            normBackward(
              next,
              rows,
              layer.inputs,
              norm,
              params[first[i - 1] + 2].values,
              gradGamma[i - 1],
              gradBeta[i - 1],
            );
          }
          delta = next;
        }
      }
    }
    let squares = 0;
    const grads: Float32Array[] = [];
    for (let i = 0; i < layers.length; i++) {
      const norm = layers[i].norm ? [gradGamma[i], gradBeta[i]] : [];
      for (const g of [gradW[i], gradB[i], ...norm]) {
        for (let k = 0; k < g.length; k++) squares += g[k] * g[k];
        grads.push(new Float32Array(g)); // (each value rounded to float32, as Float32Array.from)
      }
    }
    return {
      grads,
      stats: Float32Array.of(lossSum * scale, Math.sqrt(squares), metricSum),
    };
  }

  /**
   * Batch norm of a layer's `z` (`rows` x `units`, in place: its values become the normalized,
   * scaled and shifted ones, through `activation` but gelu, whose pre-activation is kept, as the
   * step keeps it), over the rows (the biased variance, as tfjs's layer normalizes), the moving
   * averages moved as torch's running ones (the unbiased variance) and written to their
   * variables. Returns the normalized values and 1 / sqrt(variance + eps) per unit.
   */
  #normalize(
    z: Float64Array,
    rows: number,
    layer: DensePlan["layers"][number],
    gamma: Float32Array,
    beta: Float32Array,
    moving: { slot: number; mean: HostParam; variance: HostParam },
    activation: DenseActivation,
  ): { xhat: Float64Array; inv: Float64Array } {
    const norm = layer.norm!;
    const units = layer.units;
    const xhat = new Float64Array(rows * units);
    const inv = new Float64Array(units);
    const decay = 1 - norm.momentum;
    for (let c = 0; c < units; c++) {
      let sum = 0;
      for (let r = 0; r < rows; r++) sum += z[r * units + c];
      const mean = sum / rows;
      let squares = 0;
      for (let r = 0; r < rows; r++) squares += (z[r * units + c] - mean) ** 2;
      const variance = squares / rows;
      inv[c] = 1 / Math.sqrt(variance + norm.epsilon);
      for (let r = 0; r < rows; r++) {
        const e = r * units + c;
        xhat[e] = (z[e] - mean) * inv[c];
        z[e] = Math.fround(activate(activation, Math.fround(xhat[e] * gamma[c] + beta[c])));
      }
      const [m, v] = [moving.mean.values, moving.variance.values];
      m[c] = m[c] - (m[c] - mean) * decay;
      // (torch's running_var: the unbiased variance; batch norm refuses a batch of one)
      v[c] = v[c] - (v[c] - variance * rows / Math.max(rows - 1, 1)) * decay;
    }
    this.#write(norm.movingMean, moving.mean, moving.slot);
    this.#write(norm.movingVariance, moving.variance, moving.slot + 1);
    return { xhat, inv };
  }

  /**
   * Bytes of the host arrays a step of `rows` needs: the batch's float32 inputs and targets, float64
   * activations and their gradients (under dropout or gelu also the hidden layers' outputs as the
   * next layer takes them, and dropout's float32 factors), per parameter its host copy, its float64
   * gradient sum and its float32 gradient, and the blocked products' float64 copies (the
   * features, the kernels, a layer's inputs and output gradients; each transposed but the
   * features; and a kernel as it is, for its input gradients). Where the products run on
   * `gemm64`, the float64 arrays of the products are the arena's instead (its memory as reserved,
   * whole pages; the kernel gradients' sums are counted twice, as a parameter's and in it).
   */
  extraBytes(rows: number): number {
    const { layers, targetSize } = this.#plan;
    const parameters = layers.reduce((n, l) => n + (l.inputs + 1) * l.units, 0);
    const batch = 4 * rows * (layers[0].inputs + targetSize);
    const units = layers.reduce((n, l) => n + l.units, 0);
    const hidden = layers.slice(0, -1);
    // (a hidden layer's next input apart from its outputs: after gelu, and after dropout with
    // its factors; with both, the two arrays at once)
    const gelu = (l: { activation: string }) => l.activation === "gelu";
    const own = hidden.reduce(
      (n, l) => n + l.units * ((this.#plan.dropout ? 1 : 0) + (gelu(l) ? 1 : 0)),
      0,
    );
    const masked = this.#plan.dropout ? hidden.reduce((n, l) => n + l.units, 0) : 0;
    // batch norm: the normalized values a row, gamma and beta as parameters, the moving averages
    const normed = hidden.reduce((n, l) => n + (l.norm ? l.units : 0), 0);
    // the blocked products' float64 copies (layers of BLOCKED_MIN_WORK or more): the batch's
    // features, each kernel transposed, and a layer's inputs and output gradients transposed (one
    // layer's at a time)
    const blocked = layers.filter((l) => rows * l.inputs * l.units >= BLOCKED_MIN_WORK);
    // (and the float64 kernel of the layer whose input gradients are computed, one at a time)
    const products = (blocked[0] === layers[0] ? 8 * rows * layers[0].inputs : 0) +
      8 * blocked.reduce((n, l) => n + l.inputs * l.units, 0) +
      8 * rows * blocked.reduce((n, l) => Math.max(n, l.inputs + l.units), 0) +
      8 * layers.slice(1).reduce((n, l) => Math.max(n, l.inputs * l.units), 0);
    const arena = this.#arenaFor(rows)
      ? Math.ceil(arenaBytes(this.#plan, rows) / 65536) * 65536
      : undefined;
    return batch + (arena ?? 8 * 2 * rows * units + 8 * rows * own + products) +
      4 * rows * masked + 8 * rows * normed + 16 * (parameters + 2 * normed) + 8 * normed;
  }

  /** Drops the host copies of the weights. */
  dispose(): void {
    this.#cache.length = 0;
    this.#arena = undefined;
  }
}
