/**
 * The recurrent layers of the WGSL training step (the `rnn` model on WebGPU): stacked LSTM or GRU
 * layers as torch's nn.LSTM and nn.GRU (two biases a layer, torch's GRU; see
 * `models/recurrent.ts`), the last layer's last step feeding the dense head.
 *
 * tfjs's path unrolls a sequence of T steps into ~15 ops a step forward and ~30 backward, each
 * 60-120 us of JavaScript on WebGPU; here a layer is 2T + 6 dispatches (2T + 7 above the first),
 * and one makes the inputs time-major, recorded once:
 *
 * - forward: the input projections of every step at once (`x W + b`, one tiled matmul over T x
 *   batch rows), then one dispatch a step: a workgroup takes 16 units of 4 samples, its threads
 *   slices of the gates' recurrent products (`h U`, the previous states staged in workgroup
 *   memory, each weight loaded once for the 4) whose partial sums it adds, then writes the
 *   gates, the cell state and the output;
 * - backward through time: one dispatch a step, from the last: the gradient at the step's output
 *   (from above, plus the recurrent product of the next step's gate gradients with `U`, read
 *   transposed for coalesced loads, split into slices as forward), then the gates' gradients and
 *   the carried cell-state (LSTM) or direct (GRU) gradient; then the weight gradients as two tiled
 *   matmuls over every step, the biases' as column sums, and (below the last layer) the gradient
 *   into the layer beneath.
 *
 * Under mixed precision (`half`) the input projections and the saved gates are stored as float16
 * pairs (`pack2x16float`), and so, where the units are even (`halfStates`: a pair of units never
 * spans two rows), are the states, the LSTM's cell states and the output sequences: every
 * activation the stage keeps. The recurrence then carries each state rounded to float16 into
 * the next step, as a float16 LSTM does. The gradients and all arithmetic stay float32.
 *
 * Everything inside the stage is time-major (row `t * batch + b`): the batch's inputs, stored
 * batch-major, are transposed once. The state sequence keeps a zero slot before the first step,
 * so that the recurrent weights' gradient, `sum over t of h_{t-1}^T dZ_t`, is one product over
 * contiguous rows.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { AnnealError } from "../../errors.ts";
import { tensorBuffer, type WebGpuBackendInternals } from "../../optimizers/fused/gpu.ts";
import {
  columnSumDispatch,
  type Dispatch,
  expectShape,
  floatBits,
  gradDispatches,
  grid,
  matmulDispatch,
  MAX_GROUPS,
  pipelineFor,
  splitPartialFloats,
  storageBuffer,
} from "./dispatch.ts";
import {
  dropoutBackwardWgsl,
  element,
  HALF_WGSL,
  NAN_OR_WGSL,
  outputWgsl,
  pairsWhole,
  TILE,
  word,
} from "./wgsl.ts";

/** One recurrent layer's weights (torch's `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`). */
export interface RecurrentLayer {
  /** [inputs, gates x units] */
  kernel: tf.Variable;
  /** [units, gates x units] */
  recurrentKernel: tf.Variable;
  /** [gates x units] */
  bias: tf.Variable;
  /** [gates x units] */
  recurrentBias: tf.Variable;
  /** Features a step: the input's for the first layer, `units` above it. */
  inputs: number;
}

/** What the recurrent stage trains: the cell, its size, the sequence's shape and the layers. */
export interface RecurrentPlan {
  cell: "lstm" | "gru";
  units: number;
  /** Steps of a sequence (T). */
  steps: number;
  layers: RecurrentLayer[];
  /**
   * Dropout between the layers (torch's nn.LSTM `dropout`): each output sequence but the last
   * layer's, before the next layer takes it; absent or 0, none.
   */
  dropout?: number;
}

/** Gates a cell computes: LSTM i, f, g, o; GRU z, r, n (tfjs's orders, see recurrent.ts). */
export function gateCount(cell: RecurrentPlan["cell"]): number {
  return cell === "lstm" ? 4 : 3;
}

/**
 * Samples each thread of the step kernels takes in its recurrent product: every weight it loads
 * serves that many (on llvmpipe one sample a thread made the forward pass 1.8x slower than
 * tfjs's).
 */
const STEP_SAMPLES = 4;
/**
 * Units a step kernel's workgroup takes (of `STEP_SAMPLES` samples): its threads are
 * `STEP_UNITS` units by the slices of the recurrent product's sum, thread `li` unit
 * `li % STEP_UNITS` and slice `li / STEP_UNITS`, so that a warp's lanes read 16 consecutive
 * weights of a row (coalesced) and a slice's lanes one staged value (a broadcast).
 *
 * The steps are latency bound (the benchmark LSTM, 128 units of a batch of 64: a backward step is
 * an 8.4 MFLOP product), so what counts is how many threads share a step and how long each one's
 * chain of dependent loads and FMAs is. Before, a thread took a whole unit's sum, 64 to a
 * workgroup: 2 x 16 = 32 workgroups (2048 threads) a step, each thread's chain 512 gates long
 * backward and 128 states (x 4 gates) forward. Split into slices, whose partial sums the
 * workgroup adds in its memory, that LSTM's steps are 8 x 16 = 128 workgroups; backward 256
 * threads each (32768 in all), a chain of 512 / 16 = 32 gates then 16 partials; forward 128
 * threads each (16384), a chain of 128 / 8 = 16 states (x 4 gates) then 8 partials a gate.
 */
const STEP_UNITS = 16;
/**
 * Slices of the backward product's sum (over the next step's gate gradients): 16 x 16 = 256
 * threads, WebGPU's guaranteed largest workgroup.
 */
const BACKWARD_SLICES = 16;
/**
 * Slices of the forward product's sum (over the previous states): 8, as its partial sums, one a
 * gate, take 4 x 128 x 16 bytes = 8 KiB of workgroup memory (of 16 KiB guaranteed) beside the
 * staged states.
 */
const FORWARD_SLICES = 8;
/**
 * Values staged at a time in workgroup memory, 4 samples' each (16 bytes): backward the next
 * step's gate gradients (8 KiB; the benchmark's 512 in one go), forward the previous states
 * (4 KiB).
 */
const BACKWARD_CHUNK = 512;
const FORWARD_CHUNK = 256;

/** Per layer, the buffers of micro-batches of up to `rows` samples. */
interface LayerBuffers {
  /** The input projections, `x W + b`, [T, rows, gates x units] (float16 pairs under `half`). */
  gx: GPUBuffer;
  /**
   * Per step and unit 4 saved values: LSTM i, f, g, o; GRU z, r, n, and `h U_n + b_hn` (a
   * `vec4<f32>`, or under `half` two words of float16 pairs).
   */
  acts: GPUBuffer;
  /**
   * The outputs, [T + 1, rows, units]: slot 0 zero (the initial state), slot t + 1 = h_t (float16
   * pairs under `halfStates`, as are `cs`, `out` and `dropped`).
   */
  hs: GPUBuffer;
  /** LSTM's cell states, laid out as `hs`. */
  cs?: GPUBuffer;
  /** The outputs again, [T, rows, units] (the next layer's input), or the last step's [rows, units]. */
  out: GPUBuffer;
  /** Under dropout (a layer but the last), `out` after it: the next layer's input. */
  dropped?: GPUBuffer;
  /** The gradient at `out`, from the layer above (or the head). */
  dout: GPUBuffer;
  /** The gates' pre-activation gradients on the input side, [T, rows, gates x units]. */
  dzx: GPUBuffer;
  /** GRU: those on the recurrent side (its candidate's differs); LSTM uses `dzx`. */
  dzh?: GPUBuffer;
  /** The gradient carried to the step before: LSTM's cell state, GRU's direct path. */
  carry: GPUBuffer;
  /** The recurrent kernel transposed, [gates x units, units] (made each step: it changes). */
  ut: GPUBuffer;
  /**
   * The split-K partials of the kernel's and the recurrent kernel's gradients, where their
   * products (few output tiles over every step of the batch) split.
   */
  kernelParts?: GPUBuffer;
  recurrentParts?: GPUBuffer;
}

/**
 * The recurrent layers' buffers and dispatches; `DenseGpuProgram` records them before its dense
 * head, which takes the last layer's last output.
 */
export class RecurrentStage {
  readonly plan: RecurrentPlan;
  /** The head's input has no activation of its own here. */
  readonly activation = "linear" as const;
  /** Whether the projections and saved gates are float16 pairs (mixed precision). */
  readonly half: boolean;
  /**
   * Whether the states, cell states and output sequences are float16 pairs too: under mixed
   * precision with an even number of units (a pair of units a word, within a row).
   */
  readonly halfStates: boolean;
  /** Whether the head's input (the last layer's last output) is float16 pairs: `halfStates`. */
  get halfFeatures(): boolean {
    return this.halfStates;
  }
  readonly #backend: WebGpuBackendInternals;
  readonly #device: GPUDevice;
  #buffers: LayerBuffers[] = [];
  /** The time-major copy of the batch's inputs, [T, rows, features]. */
  #xt?: GPUBuffer;

  /**
   * `half`: mixed precision, which needs an even width of the gates (a GRU's units even: a pair
   * of projections must not span two rows).
   */
  constructor(backend: WebGpuBackendInternals, plan: RecurrentPlan, half = false) {
    this.plan = plan;
    this.half = half;
    this.halfStates = half && pairsWhole(plan.units);
    this.#backend = backend;
    this.#device = backend.device;
    const width = gateCount(plan.cell) * plan.units;
    if (half && !pairsWhole(width)) {
      throw new AnnealError("internal", `Float16 pairs of ${width} gates a row`);
    }
    plan.layers.forEach((layer, i) => {
      const what = `Recurrent layer ${i}`;
      expectShape(layer.kernel, [layer.inputs, width], `${what} kernel`);
      expectShape(layer.recurrentKernel, [plan.units, width], `${what} recurrent kernel`);
      expectShape(layer.bias, [width], `${what} bias`);
      expectShape(layer.recurrentBias, [width], `${what} recurrent bias`);
      if (i > 0 && layer.inputs !== plan.units) {
        throw new AnnealError("internal", `Recurrent layer ${i} does not take ${plan.units} units`);
      }
    });
  }

  /** Gradient tensors, in the variables' order: per layer kernel, recurrent kernel, two biases. */
  gradients(): tf.Tensor[] {
    return this.plan.layers.flatMap((l) =>
      [l.kernel, l.recurrentKernel, l.bias, l.recurrentBias].map((v) => tf.zeros(v.shape))
    );
  }

  /** The last layer's last output (the head's input) and the gradient there. */
  features(): GPUBuffer {
    return this.#buffers[this.#buffers.length - 1].out;
  }

  featuresGradient(): GPUBuffer {
    return this.#buffers[this.#buffers.length - 1].dout;
  }

  /** Throws unless a micro-batch of `rows` sequences fits the dispatch grids. */
  checkRows(rows: number): void {
    const sequenceRows = rows * this.plan.steps;
    if (rows > MAX_GROUPS || Math.ceil(sequenceRows / TILE) > MAX_GROUPS) {
      throw new AnnealError(
        "config",
        `A micro-batch of ${rows} sequences of ${this.plan.steps} steps is more than the WGSL ` +
          `recurrent step takes (${MAX_GROUPS} sequences and ${MAX_GROUPS * TILE} steps in all)`,
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
    const { steps, units, layers, cell } = this.plan;
    const width = gateCount(cell) * units;
    const seq = steps * rows;
    this.#xt = this.#storage(seq * layers[0].inputs, "inputs, time-major");
    // (the states' and sequences' float16 pairs: units even, so each count is)
    const states = (floats: number, what: string, i: number) =>
      this.#storage(floats / this.#statesHalved, `${what} ${i}`);
    this.#buffers = layers.map((layer, i) => {
      const top = i === layers.length - 1;
      const parts = (floats: number, what: string) =>
        floats > 0 ? this.#storage(floats, `${what} gradient partials ${i}`) : undefined;
      return {
        gx: this.#storage(seq * width / this.#halved, `projections ${i}`),
        acts: this.#storage(seq * 4 * units / this.#halved, `gates ${i}`),
        hs: states((steps + 1) * rows * units, "outputs", i),
        cs: cell === "lstm" ? states((steps + 1) * rows * units, "cells", i) : undefined,
        out: states((top ? 1 : steps) * rows * units, "sequence", i),
        dropped: this.plan.dropout && !top
          ? states(seq * units, "sequence after dropout", i)
          : undefined,
        dout: this.#storage((top ? 1 : steps) * rows * units, `sequence gradient ${i}`),
        dzx: this.#storage(seq * width, `gate gradients ${i}`),
        dzh: cell === "gru"
          ? this.#storage(seq * width, `recurrent gate gradients ${i}`)
          : undefined,
        carry: this.#storage(rows * units, `carried gradient ${i}`),
        ut: this.#storage(units * width, `recurrent kernel transposed ${i}`),
        kernelParts: parts(splitPartialFloats(rows, this.#kernelDims(layer)), "kernel"),
        recurrentParts: parts(splitPartialFloats(rows, this.#recurrentDims()), "recurrent kernel"),
      };
    });
  }

  /** The variables' buffers the dispatches bind. */
  boundBuffers(): GPUBuffer[] {
    return this.plan.layers.flatMap((l) =>
      [l.kernel, l.recurrentKernel, l.bias, l.recurrentBias].map((v) =>
        tensorBuffer(this.#backend, v)
      )
    );
  }

  /**
   * Values a sample of each dropout layer between the layers (each output sequence but the
   * last), with the rate: none without dropout.
   */
  dropoutPerRow(): { perRow: number; rate: number }[] {
    const { dropout, layers, steps, units } = this.plan;
    if (!dropout) return [];
    return layers.slice(1).map(() => ({ perRow: steps * units, rate: dropout }));
  }

  /** 2 where the projections and saved gates are float16 pairs, else 1. */
  get #halved(): number {
    return this.half ? 2 : 1;
  }

  /** 2 where the states and output sequences are float16 pairs, else 1. */
  get #statesHalved(): number {
    return this.halfStates ? 2 : 1;
  }

  /** Layer `i`'s output sequence as the next layer takes it (after dropout, where it drops). */
  #sequence(i: number): GPUBuffer {
    return this.#buffers[i].dropped ?? this.#buffers[i].out;
  }

  /**
   * Dropout on layer `i`'s output sequence (time-major), forward into its `dropped` or backward
   * on its gradient in place, with the mask of dropout layer `i` (`mask(i)`), drawn by tfjs's
   * order of the values ([rows, T, units]).
   */
  #dropoutDispatch(
    i: number,
    direction: "forward" | "backward",
    mask: (k: number) => GPUBuffer,
  ): Dispatch {
    const { steps, units } = this.plan;
    const own = this.#buffers;
    const scale = floatBits(1 / (1 - this.plan.dropout!));
    // (forward: float16 pairs under halfStates, a thread a pair; the gradients float32)
    const pairs = direction === "forward" && this.halfStates;
    return {
      pipeline: pipelineFor(
        this.#device,
        `sequence-dropout-${direction}-${+pairs}`,
        () =>
          direction === "forward"
            ? outputWgsl("linear", pairs, true, true)
            : dropoutBackwardWgsl(true),
      ),
      buffers: () =>
        direction === "forward" ? [mask(i), own[i].out, own[i].dropped!] : [mask(i), own[i].dout],
      uniforms: (rows) => [steps * rows * units, scale, rows, steps],
      groups: (rows) => grid(steps * rows * units / (pairs ? 2 : 1), 256),
    };
  }

  /** Forward: the inputs made time-major; per layer the projections, then a dispatch a step. */
  forward(input: () => GPUBuffer, mask: (k: number) => GPUBuffer): Dispatch[] {
    const device = this.#device;
    const { steps, units, layers, cell } = this.plan;
    const width = gateCount(cell) * units;
    const out: Dispatch[] = [];
    const features = layers[0].inputs;
    // x [rows, T, F] -> [T, rows, F]
    out.push(transposeDispatch(
      device,
      () => [input(), this.#xt!],
      (rows) => [rows, steps, features],
    ));
    layers.forEach((layer, i) => {
      const own = this.#buffers[i];
      const below = i === 0 ? () => this.#xt! : () => this.#sequence(i - 1);
      out.push(matmulDispatch(device, {
        transA: false,
        transB: false,
        epilogue: { kind: "forward", activation: "linear" },
        dims: (rows) => [steps * rows, width, layer.inputs],
        buffers: () => [
          below(),
          tensorBuffer(this.#backend, layer.kernel),
          tensorBuffer(this.#backend, layer.bias),
          this.#buffers[i].gx,
        ],
        half: { a: i > 0 && this.halfStates, out: this.half },
      }));
      const top = i === layers.length - 1;
      for (let t = 0; t < steps; t++) {
        out.push(this.#stepDispatch("forward", forwardStepWgsl, t, top, () => [
          own.gx,
          tensorBuffer(this.#backend, layer.recurrentKernel),
          tensorBuffer(this.#backend, layer.recurrentBias),
          own.hs,
          own.acts,
          own.out,
          ...(own.cs ? [own.cs] : []),
        ]));
      }
      if (this.plan.dropout && !top) out.push(this.#dropoutDispatch(i, "forward", mask));
    });
    return out;
  }

  /**
   * Backward through time, the last layer first: per layer the transposed recurrent kernel, a
   * dispatch a step from the last, the gradient into the layer beneath, and the weight gradients
   * (`grad(j)`: the buffer of the stage's j-th gradient tensor).
   */
  backward(
    _input: () => GPUBuffer,
    grad: (j: number) => GPUBuffer,
    mask: (k: number) => GPUBuffer,
  ): Dispatch[] {
    const device = this.#device;
    const { steps, units, layers, cell } = this.plan;
    const width = gateCount(cell) * units;
    const out: Dispatch[] = [];
    for (let i = layers.length - 1; i >= 0; i--) {
      const layer = layers[i];
      const own = this.#buffers[i];
      const top = i === layers.length - 1;
      const dzh = own.dzh ?? own.dzx;
      out.push(transposeDispatch(
        device,
        () => [tensorBuffer(this.#backend, layer.recurrentKernel), own.ut],
        () => [units, width, 1],
      ));
      for (let t = steps - 1; t >= 0; t--) {
        out.push(this.#stepDispatch("backward", backwardStepWgsl, t, top, () => [
          own.ut,
          own.acts,
          cell === "lstm" ? own.cs! : own.hs,
          own.dout,
          own.dzx,
          own.carry,
          ...(own.dzh ? [own.dzh] : []),
        ]));
      }
      const input = i === 0 ? () => this.#xt! : () => this.#sequence(i - 1);
      if (i > 0) {
        // dX = dZx W^T, into the layer beneath's output sequence (no activation between them)
        const beneath = this.#buffers[i - 1];
        out.push(matmulDispatch(device, {
          transA: false,
          transB: true,
          epilogue: { kind: "backprop", activation: "linear" },
          dims: (rows) => [steps * rows, layer.inputs, width],
          buffers: () => [
            own.dzx,
            tensorBuffer(this.#backend, layer.kernel),
            beneath.out,
            beneath.dout,
          ],
          half: { prev: this.halfStates },
        }));
        // (through the dropout between them: the gradient at the layer beneath's output)
        if (this.plan.dropout) out.push(this.#dropoutDispatch(i - 1, "backward", mask));
      }
      const first = 4 * i;
      // dW = X^T dZx; dU = [h_{-1} .. h_{T-2}]^T dZh (the zero slot first); the biases' sums
      // (over every step of the batch: few output tiles over a long K, split where so)
      const { kernelParts, recurrentParts } = own;
      out.push(...gradDispatches(device, {
        dims: this.#kernelDims(layer),
        operands: () => [input(), own.dzx],
        grad: () => grad(first),
        half: { a: i > 0 && this.halfStates },
        partials: kernelParts && (() => kernelParts),
      }));
      out.push(...gradDispatches(device, {
        dims: this.#recurrentDims(),
        operands: () => [own.hs, dzh],
        grad: () => grad(first + 1),
        half: { a: this.halfStates },
        partials: recurrentParts && (() => recurrentParts),
      }));
      for (const [j, source] of [[first + 2, own.dzx], [first + 3, dzh]] as const) {
        out.push(
          columnSumDispatch(device, () => [source, grad(j)], (rows) => [steps * rows, width]),
        );
      }
    }
    return out;
  }

  /**
   * The dispatch of step `t` of a layer (`top`: the last layer) forward or backward: a workgroup
   * `STEP_UNITS` units of `STEP_SAMPLES` samples, the step kernels' sizes in its uniforms (see
   * `STEP_DIMS`).
   */
  #stepDispatch(
    direction: "forward" | "backward",
    code: (cell: RecurrentPlan["cell"], half: boolean, halfStates: boolean) => string,
    t: number,
    top: boolean,
    buffers: () => GPUBuffer[],
  ): Dispatch {
    const { cell, units, steps } = this.plan;
    const { half, halfStates } = this;
    return {
      pipeline: pipelineFor(
        this.#device,
        `${cell}-${direction}-${+half}${+halfStates}`,
        () => code(cell, half, halfStates),
      ),
      buffers,
      uniforms: (rows) => [rows, units, t, steps, top ? 1 : 0],
      groups: (rows) => [Math.ceil(units / STEP_UNITS), Math.ceil(rows / STEP_SAMPLES)],
    };
  }

  /** [M, N, K] of `layer`'s kernel gradient's product: inputs by gates, over every step. */
  #kernelDims(layer: RecurrentLayer): (rows: number) => [number, number, number] {
    const { steps, units, cell } = this.plan;
    return (rows) => [layer.inputs, gateCount(cell) * units, steps * rows];
  }

  /** [M, N, K] of a recurrent kernel's gradient's product: units by gates, over every step. */
  #recurrentDims(): (rows: number) => [number, number, number] {
    const { steps, units, cell } = this.plan;
    return (rows) => [units, gateCount(cell) * units, steps * rows];
  }

  /** Floats this stage holds outside tfjs for micro-batches of `rows` samples. */
  extraFloats(rows: number): number {
    const { steps, units, layers, cell } = this.plan;
    const width = gateCount(cell) * units;
    const seq = steps * rows;
    const inputs = 2 * seq * layers[0].inputs; // the batch's and the time-major copy
    return layers.reduce((floats, _, i) => {
      const top = i === layers.length - 1;
      // (the states, and the sequences but their gradient, float16 pairs under halfStates)
      const states = (cell === "lstm" ? 2 : 1) * (steps + 1) * rows * units / this.#statesHalved;
      const sequence = (top ? 1 : steps) * rows * units;
      const sequences = sequence +
        (this.plan.dropout && !top ? 2 : 1) * sequence / this.#statesHalved;
      // (the projections and saved gates float16 pairs under `half`; the gate gradients float32)
      const gates = (cell === "gru" ? 2 : 1) * seq * width + (seq * width + seq * 4 * units) /
          this.#halved;
      const parts = splitPartialFloats(rows, this.#kernelDims(layers[i])) +
        splitPartialFloats(rows, this.#recurrentDims());
      return floats + states + sequences + gates + rows * units + units * width + parts;
    }, inputs);
  }

  #storage(floats: number, label: string): GPUBuffer {
    return storageBuffer(this.#device, floats, `anneal recurrent ${label}`);
  }

  dispose(): void {
    this.#destroyPerSample();
  }

  #destroyPerSample(): void {
    this.#xt?.destroy();
    this.#xt = undefined;
    for (const b of this.#buffers) {
      for (const buffer of Object.values(b)) (buffer as GPUBuffer | undefined)?.destroy();
    }
    this.#buffers = [];
  }
}

/**
 * `[A, B, C]` -> `[B, A, C]` (uniform words A, B, C): the batch's sequences made time-major, or
 * (C = 1) a matrix transposed. One thread an element of the output.
 */
function transposeDispatch(
  device: GPUDevice,
  buffers: () => GPUBuffer[],
  sizes: (rows: number) => [number, number, number],
): Dispatch {
  return {
    pipeline: pipelineFor(device, "transpose", () => TRANSPOSE_WGSL),
    buffers,
    uniforms: (rows) => sizes(rows),
    groups: (rows) => grid(sizes(rows).reduce((a, b) => a * b, 1), 256),
  };
}

const TRANSPOSE_WGSL = `
struct Dims { A: u32, B: u32, C: u32, pad: u32 }
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let e = (wg.y * nw.x + wg.x) * 256u + li;
  if (e >= dims.A * dims.B * dims.C) { return; }
  // e indexes dst [B, A, C]
  let c = e % dims.C;
  let ba = e / dims.C;
  let a = ba % dims.A;
  let b = ba / dims.A;
  dst[e] = src[(a * dims.B + b) * dims.C + c];
}
`;

/** The step kernels' sizes: rows (the micro-batch), units, the step, the steps, the top layer. */
const STEP_DIMS = `
struct Dims { B: u32, H: u32, t: u32, T: u32, top: u32 }
@group(0) @binding(0) var<uniform> dims: Dims;`;

/**
 * The step kernels' shared part: sigmoid and tanh as the dense kernels compute them (tanh
 * clamped: exp cannot overflow), and the start of `main` for `slices` slices: the sizes, the
 * workgroup's first sample `b0`, the thread's unit `j` and slice, and the gates' width.
 */
const stepMain = (gates: number, slices: number) => `
fn sigm(z: f32) -> f32 { return 1.0 / (1.0 + exp(-z)); }
fn tanhc(z: f32) -> f32 { return nanOr(z, tanh(clamp(z, -15.0, 15.0))); }${NAN_OR_WGSL}

@compute @workgroup_size(${STEP_UNITS * slices})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let H = dims.H;
  let B = dims.B;
  let t = dims.t;
  let b0 = wg.y * ${STEP_SAMPLES}u;
  let u = li % ${STEP_UNITS}u;
  let slice = li / ${STEP_UNITS}u;
  let j = wg.x * ${STEP_UNITS}u + u;
  let width = ${gates}u * H;`;

/**
 * The cell's part of a step kernel: the first `STEP_UNITS x STEP_SAMPLES` threads, thread `li`
 * unit `j` (as in its product) of sample `b0 + li / STEP_UNITS`, after the partial sums are in
 * workgroup memory; the others, and those past the units or the micro-batch, are done.
 */
const cellThread = `
  if (li >= ${STEP_UNITS * STEP_SAMPLES}u) { return; }
  let s = li / ${STEP_UNITS}u;
  let b = b0 + s;
  if (j >= H || b >= B) { return; }`;

/**
 * One step forward. The recurrent products of the gates, `h_{t-1} U`, for a workgroup's 4 samples
 * at once (one vec4 a gate, a weight loaded once for them): the previous states staged in
 * workgroup memory, `FORWARD_CHUNK` units at a time; thread (unit j, slice) sums the states
 * `slice, slice + FORWARD_SLICES, ...` of each chunk (skipped before the first step, whose
 * previous state is zero), the workgroup then adds the slices' partials. Then per (unit, sample)
 * torch's cell (each product with its bias, then their sum): LSTM `c = f c' + i g`,
 * `h = o tanh(c)`; GRU `n = tanh(x_n + r (h U_n + b_hn))`, `h = n + z (h' - n)`. Writes the gates
 * (and GRU's `h U_n + b_hn`), the state, and the output: every step's below the top layer, the
 * last one's at the top. Under `halfStates` (float16 pairs of states and outputs) a thread takes
 * the cells of a pair of units, whose values it writes as one word.
 */
function forwardStepWgsl(cell: RecurrentPlan["cell"], half: boolean, halfStates: boolean): string {
  const gates = gateCount(cell);
  // the projection of gate k (0 ..) at unit j of the row starting at g
  const gx = (k: number) => element("gx", `g + ${k ? `${k}u * H + ` : ""}j`, half);
  const threads = STEP_UNITS * FORWARD_SLICES;
  const accs = Array.from({ length: gates }, (_, k) => `acc${k}`);
  const state = (buffer: string, e: string) => element(buffer, e, halfStates);
  const body = cell === "lstm"
    ? `
  let cPrev = select(0.0, ${state("cs", "prev")}, t > 0u);
  let ig = sigm(${gx(0)} + (sum0 + bh[j]));
  let fg = sigm(${gx(1)} + (sum1 + bh[H + j]));
  let gg = tanhc(${gx(2)} + (sum2 + bh[2u * H + j]));
  let og = sigm(${gx(3)} + (sum3 + bh[3u * H + j]));
  let c = fg * cPrev + ig * gg;
  let h = og * tanhc(c);
  let saved = vec4<f32>(ig, fg, gg, og);`
    : `
  let hPrev = select(0.0, ${state("hs", "prev")}, t > 0u);
  let z = sigm(${gx(0)} + (sum0 + bh[j]));
  let r = sigm(${gx(1)} + (sum1 + bh[H + j]));
  let hn = sum2 + bh[2u * H + j];
  let n = tanhc(${gx(2)} + r * hn);
  let h = n + z * (hPrev - n);
  let c = 0.0;
  let saved = vec4<f32>(z, r, n, hn);`;
  // Writes the state (h, and LSTM's c), the output and (step 0) the zero slot: of the thread's
  // unit `j`, or under halfStates of its pair `j0`, `j0 + 1` (`lo`, `hi`) as one word.
  const lstm = cell === "lstm";
  const writes = halfStates
    ? `
  let h = pack2x16float(vec2<f32>(lo.x, hi.x));
  let prev = ((t * B + b) * H + j0) >> 1u;
  let next = (((t + 1u) * B + b) * H + j0) >> 1u;
  hs[next] = h;
  ${lstm ? "cs[next] = pack2x16float(vec2<f32>(lo.y, hi.y));" : ""}
  if (t == 0u) {
    hs[prev] = 0u;
    ${lstm ? "cs[prev] = 0u;" : ""}
  }
  if (dims.top == 0u) {
    outs[((t * B + b) * H + j0) >> 1u] = h;
  } else if (t + 1u == dims.T) {
    outs[(b * H + j0) >> 1u] = h;
  }`
    : `
  let h = hc.x;
  let prev = (t * B + b) * H + j;
  let next = ((t + 1u) * B + b) * H + j;
  hs[next] = h;
  ${lstm ? "cs[next] = hc.y;" : ""}
  if (t == 0u) {
    // slot 0, the initial state, is zero: written here, as a smaller micro-batch before wrote
    // its own slot 1 there (the backward pass and the recurrent kernel's gradient read it)
    hs[prev] = 0.0;
    ${lstm ? "cs[prev] = 0.0;" : ""}
  }
  if (dims.top == 0u) {
    outs[(t * B + b) * H + j] = h;
  } else if (t + 1u == dims.T) {
    outs[b * H + j] = h;
  }`;
  // The cell threads: one a unit of a sample (as `cellThread`), or a pair of units
  const cells = halfStates
    ? `
  if (li >= ${(STEP_UNITS / 2) * STEP_SAMPLES}u) { return; }
  let s = li / ${STEP_UNITS / 2}u;
  let b = b0 + s;
  let pair = (li % ${STEP_UNITS / 2}u) * 2u;
  let j0 = wg.x * ${STEP_UNITS}u + pair;
  // (units even: j0 + 1 < H where j0 < H)
  if (j0 >= H || b >= B) { return; }
  let lo = cellAt(pair, j0, s, b);
  let hi = cellAt(pair + 1u, j0 + 1u, s, b);`
    : `${cellThread}
  let hc = cellAt(u, j, s, b);`;
  return `${STEP_DIMS}
@group(0) @binding(1) var<storage, read> gx: array<${word(half)}>;
@group(0) @binding(2) var<storage, read> U: array<f32>;
@group(0) @binding(3) var<storage, read> bh: array<f32>;
@group(0) @binding(4) var<storage, read_write> hs: array<${word(halfStates)}>;
@group(0) @binding(5) var<storage, read_write> acts: array<${savedWord(half)}>;${
    half ? HALF_WGSL : ""
  }
@group(0) @binding(6) var<storage, read_write> outs: array<${word(halfStates)}>;
${lstm ? `@group(0) @binding(7) var<storage, read_write> cs: array<${word(halfStates)}>;` : ""}
var<workgroup> staged: array<vec4<f32>, ${FORWARD_CHUNK}>;
// gate k's partial sums at [k * ${threads} + li]
var<workgroup> partial: array<vec4<f32>, ${gates * threads}>;

// The cell of unit j (the workgroup's unit u) of sample b (the workgroup's s), from the
// partial sums: writes its saved gates, returns (h, c) (GRU: c 0).
fn cellAt(u: u32, j: u32, s: u32, b: u32) -> vec2<f32> {
  let H = dims.H;
  let B = dims.B;
  let t = dims.t;
  let width = ${gates}u * H;
  ${accs.map((_, k) => `var sum${k} = 0.0;`).join(" ")}
  for (var k = 0u; k < ${FORWARD_SLICES}u; k++) {
    let at = k * ${STEP_UNITS}u + u;
    ${accs.map((_, k) => `sum${k} += partial[${k ? `${k * threads}u + ` : ""}at][s];`).join(" ")}
  }
  let prev = (t * B + b) * H + j;
  let g = (t * B + b) * width;
  ${body}
  acts[(t * B + b) * H + j] = ${
    half ? "vec2<u32>(pack2x16float(saved.xy), pack2x16float(saved.zw))" : "saved"
  };
  return vec2<f32>(h, c);
}
${stepMain(gates, FORWARD_SLICES)}
  ${accs.map((a) => `var ${a} = vec4<f32>(0.0);`).join(" ")}
  if (t > 0u) {
    for (var m0 = 0u; m0 < H; m0 += ${FORWARD_CHUNK}u) {
      let count = min(${FORWARD_CHUNK}u, H - m0);
      // the previous states (slot t) of the ${STEP_SAMPLES} samples at units m0 .. m0 + count
      for (var m = li; m < count; m += ${threads}u) {
        var v = vec4<f32>(0.0);
        for (var s = 0u; s < ${STEP_SAMPLES}u; s++) {
          if (b0 + s < B) { v[s] = ${state("hs", "(t * B + b0 + s) * H + m0 + m")}; }
        }
        staged[m] = v;
      }
      workgroupBarrier();
      if (j < H) {
        for (var m = slice; m < count; m += ${FORWARD_SLICES}u) {
          let hv = staged[m];
          let row = (m0 + m) * width + j;
          ${accs.map((a, k) => `${a} += hv * U[row${k ? ` + ${k}u * H` : ""}];`).join(" ")}
        }
      }
      workgroupBarrier();
    }
  }
  ${accs.map((a, k) => `partial[${k ? `${k * threads}u + ` : ""}li] = ${a};`).join(" ")}
  workgroupBarrier();
  ${cells}
  ${writes}
}
`;
}

/**
 * One step backward. The gradient at the step's output: from above (every step's below the top
 * layer, the last one's at the top), plus the recurrent product of the next step's
 * recurrent-side gate gradients with `U` (read transposed, coalesced; the workgroup's 4 samples'
 * gradients staged in workgroup memory, `BACKWARD_CHUNK` gates at a time, a weight loaded once
 * for them; thread (unit j, slice) sums the gates `slice, slice + BACKWARD_SLICES, ...`, the
 * workgroup then adds the slices' partials), plus (GRU) the direct path carried from the next
 * step; then per (unit, sample) the gates' pre-activation gradients and the gradient carried to
 * the step before (LSTM: the cell state's).
 */
function backwardStepWgsl(
  cell: RecurrentPlan["cell"],
  half: boolean,
  halfStates: boolean,
): string {
  const gates = gateCount(cell);
  const threads = STEP_UNITS * BACKWARD_SLICES;
  const state = (e: string) => element("state", e, halfStates);
  const body = cell === "lstm"
    ? `
  let c = ${state("next")};
  let cPrev = ${state("prev")};
  let tc = tanhc(c);
  var dc = dh * sv.w * (1.0 - tc * tc);
  if (later) { dc += carry[b * H + j]; }
  let di = dc * sv.z * sv.x * (1.0 - sv.x);
  let df = dc * cPrev * sv.y * (1.0 - sv.y);
  let dg = dc * sv.x * (1.0 - sv.z * sv.z);
  let dOut = dh * tc * sv.w * (1.0 - sv.w);
  dzx[g + j] = di;
  dzx[g + H + j] = df;
  dzx[g + 2u * H + j] = dg;
  dzx[g + 3u * H + j] = dOut;
  carry[b * H + j] = dc * sv.y;`
    : `
  if (later) { dh += carry[b * H + j]; }
  let hPrev = ${state("prev")};
  let z = sv.x;
  let r = sv.y;
  let n = sv.z;
  let dn = dh * (1.0 - z) * (1.0 - n * n);
  let dz = dh * (hPrev - n) * z * (1.0 - z);
  let dr = dn * sv.w * r * (1.0 - r);
  dzx[g + j] = dz;
  dzx[g + H + j] = dr;
  dzx[g + 2u * H + j] = dn;
  dzh[g + j] = dz;
  dzh[g + H + j] = dr;
  dzh[g + 2u * H + j] = dn * r;
  carry[b * H + j] = dh * z;`;
  // The next step's recurrent-side gate gradients: LSTM's are its dzx (both sides alike).
  const recurrent = cell === "lstm" ? "dzx" : "dzh";
  return `${STEP_DIMS}
@group(0) @binding(1) var<storage, read> ut: array<f32>;
@group(0) @binding(2) var<storage, read> acts: array<${savedWord(half)}>;
@group(0) @binding(3) var<storage, read> state: array<${word(halfStates)}>;${
    halfStates ? HALF_WGSL : ""
  }
@group(0) @binding(4) var<storage, read> dout: array<f32>;
@group(0) @binding(5) var<storage, read_write> dzx: array<f32>;
@group(0) @binding(6) var<storage, read_write> carry: array<f32>;
${cell === "gru" ? "@group(0) @binding(7) var<storage, read_write> dzh: array<f32>;" : ""}
var<workgroup> staged: array<vec4<f32>, ${BACKWARD_CHUNK}>;
var<workgroup> partial: array<vec4<f32>, ${threads}>;
${stepMain(gates, BACKWARD_SLICES)}
  let later = t + 1u < dims.T;
  // sum over the next step's gate gradients of dZ[t + 1, b, n] U[j, n] (U^T stored [n, j])
  var dhs = vec4<f32>(0.0);
  if (later) {
    for (var n0 = 0u; n0 < width; n0 += ${BACKWARD_CHUNK}u) {
      let count = min(${BACKWARD_CHUNK}u, width - n0);
      for (var n = li; n < count; n += ${threads}u) {
        var v = vec4<f32>(0.0);
        for (var s = 0u; s < ${STEP_SAMPLES}u; s++) {
          if (b0 + s < B) { v[s] = ${recurrent}[((t + 1u) * B + b0 + s) * width + n0 + n]; }
        }
        staged[n] = v;
      }
      workgroupBarrier();
      if (j < H) {
        for (var n = slice; n < count; n += ${BACKWARD_SLICES}u) {
          dhs += staged[n] * ut[(n0 + n) * H + j];
        }
      }
      workgroupBarrier();
    }
  }
  partial[li] = dhs;
  workgroupBarrier();
  ${cellThread}
  var dh = 0.0;
  for (var k = 0u; k < ${BACKWARD_SLICES}u; k++) { dh += partial[k * ${STEP_UNITS}u + u][s]; }
  if (dims.top == 0u) {
    dh += dout[(t * B + b) * H + j];
  } else if (!later) {
    dh += dout[b * H + j];
  }
  ${
    half
      ? `let packed = acts[(t * B + b) * H + j];
  let sv = vec4<f32>(unpack2x16float(packed.x), unpack2x16float(packed.y));`
      : "let sv = acts[(t * B + b) * H + j];"
  }
  let prev = (t * B + b) * H + j;
  let next = ((t + 1u) * B + b) * H + j;
  let g = (t * B + b) * width;
  ${body}
}
`;
}

/** The WGSL type of a unit's 4 saved gate values: float32, or (`half`) two float16 pairs. */
function savedWord(half: boolean): string {
  return half ? "vec2<u32>" : "vec4<f32>";
}
