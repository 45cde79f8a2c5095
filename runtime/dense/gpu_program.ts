/**
 * The training step of a dense network (linear model or MLP: any of the activations, dropout,
 * batch norm; a cnn's conv blocks or an rnn's recurrent layers in front) in anneal's own WGSL
 * kernels on tfjs's WebGPU device: forward, loss, backward and the global gradient norm recorded
 * as one compute pass per micro-batch (the norm in the last one), with pipelines, buffers, bind
 * groups and each dispatch's workgroups made once. tfjs's path costs 60-120 us of JavaScript per
 * op (~25 ops forward and backward for a 3-layer MLP); here a step is ~20 dispatches at ~2 us
 * each to encode.
 *
 * The weights stay tfjs variables (the optimizer, checkpoints and evaluation use them as
 * before); gradients land in tensors this program owns and reuses every step.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { AnnealError } from "../../errors.ts";
import { dropoutKeys, dropoutLayerSeed, dropoutThreshold } from "../../models/dropout.ts";
import {
  copiedTensor,
  ensureExclusive,
  recordPass,
  submitLeftover,
  tensorBuffer,
  webGpuBackend,
  type WebGpuBackendInternals,
  writableBuffer,
} from "../../optimizers/fused/gpu.ts";
import type { HostBatch, HostByteBatch } from "../engine.ts";
import {
  BN_GRAD_STATS_WGSL,
  BN_STATS_WGSL,
  bnPartialsWgsl,
  bnStatsUniforms,
  CHANNEL_SLICES,
  channelFinishDispatch,
  channelPartialsDispatch,
  type ChannelReduction,
  type ConvBlock,
  ConvStage,
  pooledSize,
} from "./conv.ts";
import {
  normActivationBackwardWgsl,
  normBackwardWgsl,
  normGradPartialsWgsl,
  normOutputWgsl,
} from "./dense_norm.ts";
import { gateCount, type RecurrentPlan, RecurrentStage } from "./recurrent.ts";
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
  productSplit,
  SLOT,
  splitPartialFloats,
  storageBuffer,
  UNIFORM_BYTES,
} from "./dispatch.ts";
import {
  type DenseActivation,
  type DenseLoss,
  DROPOUT_BITS_WGSL,
  dropoutBackwardWgsl,
  type Epilogue,
  type HalfStorage,
  lossWgsl,
  NORM_GROUPS,
  NORM_SPAN,
  NORM_WGSL,
  outputWgsl,
  pairsWhole,
  splitForwardWgsl,
  SUMSQ_TENSORS,
  sumsqWgsl,
  TILE,
} from "./wgsl.ts";

/** One dense layer: `act(x · kernel + bias)`, kernel [inputs, units]. */
export interface DenseLayer {
  kernel: tf.Variable;
  bias: tf.Variable;
  inputs: number;
  units: number;
  activation: DenseActivation;
  /**
   * Batch normalization between the product and the activation (an MLP's `batchNorm`; a hidden
   * layer's, in float32): its weights, moving averages and settings.
   */
  norm?: ConvBlock["norm"];
}

/**
 * Per layer, the index of its kernel among the variables (and their gradients) from `start`:
 * kernel, bias[, gamma, beta] a layer.
 */
export function layerVariableStarts(layers: readonly DenseLayer[], start = 0): number[] {
  let at = start;
  return layers.map((l) => {
    const first = at;
    at += l.norm ? 4 : 2;
    return first;
  });
}

/** What the program trains: layers in order, the loss, and the targets per sample. */
export interface DensePlan {
  layers: DenseLayer[];
  loss: DenseLoss;
  /** Floats per sample in a batch's `y`: 1 (a class index or a binary label) or the outputs. */
  targetSize: number;
  /**
   * Dropout after every hidden layer's activation: the fraction of units dropped (torch's
   * inverted dropout, the kept ones scaled by `1 / (1 - dropout)`); absent or 0, none. A
   * micro-batch's masks are those tfjs's path draws for the same pass seed (`dropoutKeepBits` of
   * `dropoutLayerSeed(seed, layer)`), drawn as bits on the GPU (`DROPOUT_BITS_WGSL`).
   */
  dropout?: number;
  /**
   * Store the hidden layers' activations as float16 (mixed precision; the logits, gradients,
   * weights and arithmetic stay float32), and the conv blocks' convolution and pooled outputs
   * (see `ConvStage`), and the recurrent layers' input projections and saved gates, and with
   * even units their states and output sequences (see `RecurrentStage`). Two values to a 32-bit
   * word, which must not span two rows: a layer of an odd width (a hidden layer's units, a conv
   * block's filters, a GRU's 3 x units projections) keeps its activations float32.
   */
  halfActivations?: boolean;
  /**
   * Convolutional blocks before the dense layers (the `cnn` model): the batch's `x` holds images
   * [height, width, channels], and the first dense layer takes the last block's pooled output.
   */
  convs?: ConvBlock[];
  /**
   * Recurrent layers before the dense layers (the `rnn` model): the batch's `x` holds sequences
   * [steps, features], and the first dense layer takes the last layer's last output.
   */
  recurrent?: RecurrentPlan;
  /**
   * Samples an evaluation records at a time: as many as the plan's buffers may hold on the
   * device (an evaluation batch can be larger than the run's batch size, which the plan was
   * checked for); absent, the whole batch at once.
   */
  evalRows?: number;
}

/**
 * Layers before the dense ones (conv blocks, recurrent layers), recorded around them: their
 * output is the first dense layer's input, whose gradient they take back from there.
 */
interface FeatureStage {
  /** The activation the stage's output went through last (the head's backprop applies it). */
  readonly activation: DenseActivation;
  /** Whether its output, the head's input, is float16 pairs (a cnn's under mixed precision). */
  readonly halfFeatures: boolean;
  /** Their gradient tensors, in the variables' order (before the dense layers'). */
  gradients(): tf.Tensor[];
  features(): GPUBuffer;
  featuresGradient(): GPUBuffer;
  checkRows(rows: number): void;
  allocate(rows: number): void;
  /** The variables' buffers the dispatches bind (a change makes the bind groups again). */
  boundBuffers(): GPUBuffer[];
  /**
   * Values per sample of each of the stage's dropout layers (between an rnn's layers), in the
   * model's order of dropout layers (the stage's come before the dense layers'): the program
   * draws their masks, and hands the stage their buffers (`mask(k)`).
   */
  dropoutPerRow?(): { perRow: number; rate: number }[];
  forward(input: () => GPUBuffer, mask: (k: number) => GPUBuffer): Dispatch[];
  backward(
    input: () => GPUBuffer,
    grad: (j: number) => GPUBuffer,
    mask: (k: number) => GPUBuffer,
  ): Dispatch[];
  /** Floats held outside tfjs for micro-batches of `rows` samples, the batch's inputs among them. */
  extraFloats(rows: number): number;
  dispose(): void;
}

/**
 * A dense network's forward and backward pass in WGSL, on the webgpu backend.
 *
 * @example
 * ```ts ignore
 * import { DenseGpuProgram } from "./gpu_program.ts";
 * const program = new DenseGpuProgram(plan);
 * const { grads, stats } = program.computeGradients([batch]);
 * ```
 */
export class DenseGpuProgram {
  /**
   * Under mixed precision, the layers whose activations stay float32 because their width is odd
   * (two float16 values a 32-bit word, and a pair must not span two rows), as `hidden layer 1 (7
   * units)`, in the model's order; empty without mixed precision or where every width is even.
   */
  readonly float32Layers: string[];
  readonly #plan: DensePlan;
  readonly #stage?: FeatureStage;
  /** Index of the first dense layer's gradient in {@linkcode grads} (after the blocks'). */
  readonly #denseOffset: number;
  /** Per dense layer, the index of its kernel's gradient in {@linkcode grads}. */
  readonly #gradAt: number[];
  /**
   * Per dense layer with batch norm: its statistics ([mean..., 1/sqrt(var + eps)...]), its
   * gradient sums' means ([s1 / n..., s2 / n...]) and the reductions' partials; with the
   * normalized values of a micro-batch (`normed`, made with the per-sample buffers).
   */
  readonly #normBuffers: ({ stat: GPUBuffer; coef: GPUBuffer; parts: GPUBuffer } | undefined)[];
  #normed: (GPUBuffer | undefined)[] = [];
  readonly #backend: WebGpuBackendInternals;
  readonly #device: GPUDevice;
  /** Gradients, in the order kernel0, bias0, kernel1, ... (the variables' order). */
  readonly grads: tf.Tensor[];
  #dispatches: Dispatch[] = [];
  /**
   * What an evaluation records of the forward pass (the first of `#dispatches`): its dispatches
   * but those only training runs (`trainingOnly`: dropout's draws, batch norm's statistics of the
   * batch).
   */
  #evalForward: Dispatch[] = [];
  /** An evaluation's loss (into `#evalStats`, whose norm stays 0), with its own uniform slot. */
  #evalDispatches: Dispatch[] = [];
  #evalUniforms?: GPUBuffer;
  #evalUniformKey = "";
  #normDispatches: Dispatch[] = [];
  #capacity = 0;
  #x?: GPUBuffer;
  #y?: GPUBuffer;
  /** Per layer: its output (post-activation; logits for the last) and the loss gradient at z. */
  #acts: GPUBuffer[] = [];
  #deltas: GPUBuffer[] = [];
  /**
   * Per hidden layer, where its matmul does not make the next layer's input: that input (its
   * output after dropout, or after gelu, which the matmul leaves to a kernel of its own: gelu's
   * derivative needs the pre-activation, which `#acts` then holds); else undefined.
   */
  #outputs: (GPUBuffer | undefined)[] = [];
  /**
   * Per dropout layer, in the model's order (the stage's, then the dense hidden layers'): its
   * mask, a word saying whether to apply it (0 in inference: every unit passes as it is), then
   * the kept units' bits (`dropoutKeepBits`, drawn on the GPU by a training pass's first
   * dispatches), the values a sample, and the rate.
   */
  #masks: { buffer: GPUBuffer; perRow: number; rate: number }[] = [];
  /**
   * The keys of a micro-batch's masks (`dropoutKeys` of each layer's seed, 2 words a layer), which
   * the draws read: the host writes these 8 bytes a layer, not the masks.
   */
  #maskKeys?: GPUBuffer;
  #keyWords = new Uint32Array(0);
  /** The stage's dropout layers (the dense hidden layers' masks come after theirs). */
  readonly #stageDropout: { perRow: number; rate: number }[];
  /** Whether the masks' first words say "apply" (a training pass's were written last). */
  #masksOn = false;
  /**
   * Per layer: the split-K partials of its forward product where it is split (few output
   * tiles over a long K, see {@linkcode productSplit}), sized for every micro-batch up to the
   * capacity; else undefined.
   */
  #forwardPartials: (GPUBuffer | undefined)[] = [];
  /** Per layer: the split-K partials of its kernel's gradient where that product splits. */
  #gradPartials: (GPUBuffer | undefined)[] = [];
  readonly #stats: GPUBuffer;
  readonly #evalStats: GPUBuffer;
  readonly #partials: GPUBuffer;
  #uniforms?: GPUBuffer;
  #normUniforms?: GPUBuffer;
  #uniformKey = "";
  #boundKey: GPUBuffer[] = [];
  /**
   * The encoder holding this program's last pass and the copy of its stats, left for the next
   * submission (the optimizer's update pass, recorded next: one submission a step); undefined
   * once that is submitted, or when nothing is left.
   */
  #unsubmitted?: GPUCommandEncoder;
  /**
   * Byte inputs ({@linkcode HostByteBatch}): their upload buffer (4 bytes a word), the table of
   * their floats, and the dispatch that turns them into floats in `#x`; made at the first byte
   * batch (and again after `#allocate`).
   */
  #bytes?: { words: GPUBuffer; table: GPUBuffer; of: Float32Array; decode: Dispatch };

  /** Checks the plan and allocates what does not depend on the batch size. */
  constructor(plan: DensePlan) {
    this.#plan = plan;
    this.#backend = webGpuBackend("the dense WGSL step");
    this.#device = this.#backend.device;
    // Each side of a product has a workgroup per TILE values along a dispatch's axis, at most
    // MAX_GROUPS: a wider layer's dispatches would be invalid, and the step's results read as 0.
    const side = MAX_GROUPS * TILE;
    const wide = plan.layers.findIndex((layer) => Math.max(layer.inputs, layer.units) > side);
    if (wide >= 0) {
      const { inputs, units } = plan.layers[wide];
      throw new AnnealError(
        "config",
        `Dense layer ${wide} has ${inputs} inputs and ${units} units: the WGSL step's matrix ` +
          `products take at most ${side} a side (a workgroup per ${TILE}, at most ${MAX_GROUPS})`,
        {
          // (the first layer's inputs are the data's features, but a cnn's or an rnn's layers')
          where: wide === 0 && inputs > side && !plan.convs && !plan.recurrent ? "data" : "model",
          hint: "give the model fewer input features (a cnn pools images before its dense " +
            "layers) or fewer units",
        },
      );
    }
    plan.layers.forEach((layer, i) => {
      expectShape(layer.kernel, [layer.inputs, layer.units], `Dense layer ${i} kernel`);
      expectShape(layer.bias, [layer.units], `Dense layer ${i} bias`);
      if (i > 0 && layer.inputs !== plan.layers[i - 1].units) {
        throw new AnnealError("internal", `Dense layer ${i} does not take layer ${i - 1}'s units`);
      }
    });
    const convs = plan.convs ?? [];
    if (convs.length > 0) {
      const last = convs[convs.length - 1];
      const [ho, wo] = pooledSize(last);
      if (plan.layers[0].inputs !== ho * wo * last.outChannels) {
        throw new AnnealError(
          "internal",
          `Dense layer 0 takes ${plan.layers[0].inputs} inputs, the last conv block gives ` +
            `${ho}x${wo}x${last.outChannels}`,
        );
      }
      this.#stage = new ConvStage(this.#backend, convs, plan.halfActivations === true);
    }
    if (plan.recurrent) {
      if (this.#stage) throw new AnnealError("internal", "A plan with conv and recurrent layers");
      if (plan.layers[0].inputs !== plan.recurrent.units) {
        throw new AnnealError(
          "internal",
          `Dense layer 0 takes ${plan.layers[0].inputs} inputs, the recurrent layers give ` +
            `${plan.recurrent.units}`,
        );
      }
      // (a GRU's 3 gates a unit: with an odd unit count its rows of projections are odd, and
      // the layers keep float32)
      const width = gateCount(plan.recurrent.cell) * plan.recurrent.units;
      this.#stage = new RecurrentStage(
        this.#backend,
        plan.recurrent,
        plan.halfActivations === true && pairsWhole(width),
      );
    }
    this.float32Layers = plan.halfActivations ? oddWidths(plan) : [];
    this.#stageDropout = this.#stage?.dropoutPerRow?.() ?? [];
    const stageGrads = this.#stage?.gradients() ?? [];
    this.#denseOffset = stageGrads.length;
    if (
      plan.layers.some((l, i) => l.norm && i === plan.layers.length - 1)
    ) {
      throw new AnnealError("internal", "Batch norm in the dense step is a hidden layer's");
    }
    this.#gradAt = layerVariableStarts(plan.layers, stageGrads.length);
    this.grads = [
      ...stageGrads,
      ...plan.layers.flatMap((layer) => [
        tf.zeros(layer.kernel.shape),
        tf.zeros(layer.bias.shape),
        ...(layer.norm ? [tf.zeros(layer.norm.gamma.shape), tf.zeros(layer.norm.beta.shape)] : []),
      ]),
    ];
    this.#normBuffers = plan.layers.map((l) => {
      if (!l.norm) return undefined;
      const fixed = (floats: number, what: string) =>
        storageBuffer(this.#device, floats, `anneal dense batch norm ${what}`);
      return {
        stat: fixed(2 * l.units, "statistics"),
        coef: fixed(2 * l.units, "gradient sums"),
        parts: fixed(CHANNEL_SLICES * 2 * l.units, "partials"),
      };
    });
    this.#stats = this.#device.createBuffer({
      label: "anneal dense stats",
      size: 12,
      // tfjs copies it into a buffer of the same usage, which must take copies (COPY_DST).
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    this.#evalStats = this.#device.createBuffer({
      label: "anneal dense evaluation stats",
      size: 12,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    const partials = this.grads.length * NORM_GROUPS;
    this.#partials = this.#device.createBuffer({
      label: "anneal dense norm partials",
      size: partials * 4,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    });
    this.#buildNorm();
  }

  /**
   * Bytes of the buffers this program holds outside tfjs's accounting for micro-batches of
   * `rows` samples (inputs, targets, activations, their gradients, split products' and the
   * norm's partials).
   */
  extraBytes(rows: number): number {
    const { layers, targetSize } = this.#plan;
    const units = layers.reduce((n, l) => n + l.units, 0);
    // float16 activations take half the bytes (the logits stay float32, as does an odd width)
    const hidden = layers.reduce((n, l, i) => n + (this.#halfOut(i) ? l.units / 2 : 0), 0);
    // With conv blocks or recurrent layers the input is counted with their buffers.
    const perRow = (this.#stage ? 0 : layers[0].inputs) + targetSize + 2 * units - hidden;
    const stage = (this.#stage?.extraFloats(rows) ?? 0) + this.#outputFloats(rows);
    const partials = layers.reduce(
      (n, l) =>
        n + splitPartialFloats(rows, forwardDims(l)) + splitPartialFloats(rows, gradDims(l)),
      0,
    );
    return 4 * (rows * perRow + stage + partials + this.grads.length * NORM_GROUPS + 3);
  }

  /**
   * Floats (4-byte words) the hidden layers' own outputs ({@linkcode #outputs}, float16 pairs
   * under mixed precision) and dropout's masks take for micro-batches of `rows` samples.
   */
  #outputFloats(rows: number): number {
    const hidden = this.#plan.layers.slice(0, -1);
    const mask = (perRow: number) => Math.ceil(rows * perRow / 32) + 1 + 2; // (with its keys)
    const masks = this.#stageDropout.reduce((n, m) => n + mask(m.perRow), 0);
    return hidden.reduce(
      (n, l, i) =>
        n + (this.#ownOutput(l) ? Math.ceil(rows * l.units / (this.#halfOut(i) ? 2 : 1)) : 0) +
        (l.norm ? rows * l.units + (4 + 2 * CHANNEL_SLICES) * l.units : 0) +
        (this.#plan.dropout ? mask(l.units) : 0),
      masks,
    );
  }

  /**
   * Whether layer `i`'s activations are float16 pairs: a hidden layer's under mixed precision,
   * where its units are even (a pair never spans two rows); never the logits.
   */
  #halfOut(i: number): boolean {
    const { layers, halfActivations } = this.#plan;
    return halfActivations === true && i < layers.length - 1 && pairsWhole(layers[i].units);
  }

  /** Whether hidden layer `layer`'s output is made by a kernel of its own (see `#outputs`). */
  #ownOutput(layer: DenseLayer): boolean {
    return !!this.#plan.dropout || layer.activation === "gelu" || !!layer.norm;
  }

  /** Compute dispatches one micro-batch records, plus the norm's. */
  dispatchesPerStep(microBatches = 1): number {
    return this.#dispatches.length * microBatches + this.#normDispatches.length;
  }

  /**
   * Records forward, loss and backward for each micro-batch (gradients of the mean loss over all
   * of their samples, accumulated), then the global gradient norm. Returns the gradient tensors
   * (reused: valid until the next call) and a new `[mean loss, grad norm, metric sum]` tensor.
   * Under dropout, micro-batch `m`'s masks are those of the pass seed `passSeed(m)` (the engine's
   * `dropoutSeed(run seed, step, m)`; absent, `m`).
   */
  computeGradients(
    microBatches: (HostBatch | HostByteBatch)[],
    passSeed: (microBatch: number) => number = (m) => m,
  ): { grads: tf.Tensor[]; stats: tf.Tensor1D } {
    const total = microBatches.reduce((n, b) => n + b.size, 0);
    const largest = Math.max(...microBatches.map((b) => b.size));
    this.#stage?.checkRows(largest);
    this.#submitLeft();
    if (largest > this.#capacity) this.#allocate(largest);
    this.#bind();
    // One pass and one submission a micro-batch (the next one's uploads and uniforms are queue
    // writes, which must come after the commands reading the last ones); the norm's dispatches
    // end the last pass, after the gradients they read, rather than take a pass and a
    // submission of their own (each an encoder to finish, a submit, and wgpu's tracking). The
    // last pass and the copy of the stats into their tensor are left on tfjs's encoder, for the
    // optimizer's update to submit with its own pass (see `#submitLeft`).
    microBatches.forEach((batch, i) => {
      const decode = this.#upload(batch);
      this.#writeMaskKeys(passSeed(i));
      this.#writeUniforms(batch.size, i > 0 ? 1 : 0, 1 / total);
      const last = i === microBatches.length - 1;
      recordPass(this.#backend, (pass) => {
        if (decode) this.#record(pass, [decode], batch.size);
        this.#record(pass, this.#dispatches, batch.size);
        if (last) this.#record(pass, this.#normDispatches, 0);
      }, !last);
    });
    const stats = this.#statsTensor(this.#stats);
    return { grads: this.grads, stats };
  }

  /**
   * A new `[3]` tensor with `stats`' values, copied after the pass just recorded: the copy is
   * left on tfjs's encoder with that pass, unsubmitted (`tf.tensor({ buffer })` would submit
   * both at once), for the next submission to take.
   */
  #statsTensor(stats: GPUBuffer): tf.Tensor1D {
    const tensor = copiedTensor(this.#backend, stats, [3]) as tf.Tensor1D;
    this.#unsubmitted = this.#backend.commandEncoder ?? undefined;
    return tensor;
  }

  /**
   * Submits this program's last pass where nothing has submitted it since (the step's gradients
   * discarded, or not applied by a fused update): the queue writes of the next pass (its inputs,
   * its uniforms) must land after the commands that read the last ones.
   */
  #submitLeft(): void {
    submitLeftover(this.#backend, this.#unsubmitted);
    this.#unsubmitted = undefined;
  }

  /**
   * Writes the keys of the dropout masks of a micro-batch whose pass seed is `seed`, each layer's
   * as tfjs's path draws it (see `models/dropout.ts`): the pass's first dispatches draw the masks
   * from them.
   */
  #writeMaskKeys(seed: number): void {
    if (this.#masks.length === 0) return;
    this.#masks.forEach((_, k) =>
      this.#keyWords.set(dropoutKeys(dropoutLayerSeed(seed, k)), 2 * k)
    );
    this.#device.queue.writeBuffer(this.#maskKeys!, 0, this.#keyWords);
    this.#masksOn = true;
  }

  /** Turns dropout off for the passes recorded next (inference): the masks' first words to 0. */
  #masksOff(): void {
    if (!this.#masksOn) return;
    for (const { buffer } of this.#masks) {
      this.#device.queue.writeBuffer(buffer, 0, new Uint32Array(1));
    }
    this.#masksOn = false;
  }

  /** Whether the program has recurrent layers. */
  get recurrent(): boolean {
    return this.#plan.recurrent !== undefined;
  }

  /**
   * The mean loss and the metric sum of `batch` in inference mode, as the forward pass and the
   * loss of a step without its backward pass: a new `[mean loss, 0, metric sum]` tensor. In
   * inference dropout passes every unit as it is (its masks turned off), and batch norm
   * normalizes by its moving averages, which stay as they are (`BN_STATS_WGSL`'s uniform `train`
   * 0).
   */
  evaluate(batch: HostBatch | HostByteBatch): tf.Tensor1D {
    if (batch.size === 0) throw new AnnealError("internal", "An evaluation needs a sample");
    // in parts of at most `evalRows` samples (their sums accumulated, each loss scaled by the
    // whole batch's count), so that no buffer outgrows what the device may bind
    const rows = Math.min(batch.size, this.#plan.evalRows ?? batch.size);
    this.#stage?.checkRows(rows);
    this.#submitLeft();
    if (rows > this.#capacity) this.#allocate(rows);
    this.#bind();
    this.#masksOff();
    const inputs = this.#inputs();
    const targets = this.#plan.targetSize;
    for (let start = 0; start < batch.size; start += rows) {
      const end = Math.min(batch.size, start + rows);
      const part = {
        ...batch,
        x: batch.x.subarray(start * inputs, end * inputs),
        y: batch.y.subarray(start * targets, end * targets),
        size: end - start,
      } as HostBatch | HostByteBatch;
      const decode = this.#upload(part);
      this.#writeUniforms(part.size, 0, 1 / batch.size, false);
      const accumulate = start > 0 ? 1 : 0;
      const key = `${part.size}|${accumulate}|${batch.size}`;
      if (key !== this.#evalUniformKey) {
        this.#evalUniformKey = key;
        const words = this.#evalDispatches[0].uniforms(
          part.size,
          accumulate,
          1 / batch.size,
          false,
        );
        this.#device.queue.writeBuffer(this.#evalUniforms!, 0, new Uint32Array(words));
      }
      // (the last part's pass left with the copy of the stats into their tensor)
      recordPass(this.#backend, (pass) => {
        if (decode) this.#record(pass, [decode], part.size);
        this.#record(pass, this.#evalForward, part.size);
        this.#record(pass, this.#evalDispatches, part.size);
      }, end < batch.size);
    }
    return this.#statsTensor(this.#evalStats);
  }

  /**
   * Writes `batch`'s features and targets into `#x` and `#y`; returns the dispatch that turns
   * byte features into floats there, to record first, or undefined for floats.
   */
  #upload(batch: HostBatch | HostByteBatch): Dispatch | undefined {
    const inputs = this.#inputs();
    if (
      batch.x.length < batch.size * inputs || batch.y.length < batch.size * this.#plan.targetSize
    ) {
      throw new AnnealError(
        "internal",
        `A batch of ${batch.size} has ${batch.x.length} features and ${batch.y.length} targets`,
      );
    }
    const queue = this.#device.queue;
    // Offsets and sizes of a typed-array source count elements.
    const decode = "byteTable" in batch ? this.#uploadBytes(batch, inputs) : undefined;
    if (!decode) {
      const x = batch.x as Float32Array<ArrayBuffer>;
      queue.writeBuffer(this.#x!, 0, x, 0, batch.size * inputs);
    }
    const targets = batch.size * this.#plan.targetSize;
    queue.writeBuffer(this.#y!, 0, batch.y as Float32Array<ArrayBuffer>, 0, targets);
    return decode;
  }

  /**
   * Uploads a byte batch's features (a quarter of their floats' bytes) and returns the dispatch
   * that turns them into floats in `#x`, to record before the step's.
   */
  #uploadBytes(batch: HostByteBatch, inputs: number): Dispatch {
    const device = this.#device;
    if (!this.#bytes) {
      const table = device.createBuffer({
        label: "anneal dense byte table",
        size: 256 * 4,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
      });
      const words = storageBuffer(
        device,
        Math.ceil(this.#capacity * inputs / 4),
        "anneal dense input bytes",
        GPUBufferUsage.COPY_DST,
      );
      const decode: Dispatch = {
        pipeline: pipelineFor(device, "bytes", () => BYTES_TO_FLOATS_WGSL),
        buffers: () => [],
        uniforms: () => [],
        // one thread a word of 4 features
        groups: (rows) => grid(Math.ceil(rows * inputs / 4), 256),
      };
      decode.bindGroup = device.createBindGroup({
        layout: decode.pipeline.getBindGroupLayout(0),
        entries: [words, table, this.#x!].map((buffer, binding) => ({
          binding,
          resource: { buffer },
        })),
      });
      this.#bytes = { words, table, of: new Float32Array(0), decode };
    }
    const bytes = this.#bytes;
    if (bytes.of !== batch.byteTable) {
      if (batch.byteTable.length !== 256) {
        throw new AnnealError(
          "internal",
          `A byte batch's table has ${batch.byteTable.length} entries, not 256`,
        );
      }
      device.queue.writeBuffer(bytes.table, 0, batch.byteTable as Float32Array<ArrayBuffer>);
      bytes.of = batch.byteTable;
    }
    // A write's size must be a multiple of 4 bytes: the last word is padded when it is not.
    const count = batch.size * inputs;
    const size = Math.ceil(count / 4) * 4;
    const data = size === count ? batch.x : new Uint8Array(size);
    if (data !== batch.x) data.set(batch.x.subarray(0, count));
    device.queue.writeBuffer(bytes.words, 0, data as Uint8Array<ArrayBuffer>, 0, size);
    return bytes.decode;
  }

  /**
   * Times each dispatch of a step on `batch` (a benchmark's profile, not for training: the step's
   * results are left undefined, and batch norm's moving averages moved by every repeat). After
   * one whole step, each dispatch runs alone, repeated in one submission (8x more each try) until
   * the repeats take ~`targetMs` beyond the wait for an empty queue (~10 ms in Deno, measured
   * first and subtracted); its time is the mean of the repeats.
   * Returns, in the step's order, each dispatch's pipeline and time.
   */
  async profile(
    batch: HostBatch | HostByteBatch,
    targetMs = 100,
  ): Promise<{ name: string; ms: number }[]> {
    const stats = this.computeGradients([batch]).stats;
    this.#submitLeft();
    const queue = this.#device.queue;
    await queue.onSubmittedWorkDone();
    stats.dispose();
    const timed = async (list: Dispatch[], rows: number, times: number) => {
      const started = performance.now();
      recordPass(this.#backend, (pass) => {
        for (let t = 0; t < times; t++) this.#record(pass, list, rows);
      });
      await queue.onSubmittedWorkDone();
      return performance.now() - started;
    };
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) waits.push(await timed([], 0, 1));
    const wait = waits.sort((a, b) => a - b)[2];
    const out: { name: string; ms: number }[] = [];
    const decode = "byteTable" in batch ? [this.#bytes!.decode] : [];
    for (
      const [list, rows] of [
        [decode, batch.size],
        [this.#dispatches, batch.size],
        [this.#normDispatches, 0],
      ] as const
    ) {
      for (const d of list) {
        let times = 1;
        let ms = await timed([d], rows, times) - wait;
        while (ms < targetMs && times < 32768) {
          times *= 8;
          ms = await timed([d], rows, times) - wait;
        }
        out.push({
          name: d.pipeline.label.replace(/^anneal dense /, ""),
          ms: Math.max(0, ms) / times,
        });
      }
    }
    return out;
  }

  /**
   * Records `dispatches` for a micro-batch of `rows` samples. Each dispatch's workgroups are
   * worked out once per row count (its `groups` depend on nothing else) and kept on it, as its
   * bind group is: every step records the same dispatches over the same rows, and their closures
   * allocate. A pipeline already set (consecutive dispatches of one kernel) is not set again.
   */
  #record(pass: GPUComputePassEncoder, dispatches: Dispatch[], rows: number): void {
    let pipeline: GPUComputePipeline | undefined;
    for (const d of dispatches) {
      if (d.pipeline !== pipeline) pass.setPipeline(pipeline = d.pipeline);
      pass.setBindGroup(0, d.bindGroup!);
      if (d.recorded?.rows !== rows) {
        const [x, y = 1, z = 1] = d.groups(rows);
        d.recorded = { rows, x, y, z };
      }
      const { x, y, z } = d.recorded;
      pass.dispatchWorkgroups(x, y, z);
    }
  }

  /** The dispatches' uniforms for a micro-batch (`training` false: an evaluation's). */
  #writeUniforms(rows: number, accumulate: number, scale: number, training = true): void {
    const key = `${rows}|${accumulate}|${scale}|${training}`;
    if (key === this.#uniformKey) return;
    this.#uniformKey = key;
    const data = new Uint32Array(this.#dispatches.length * SLOT / 4);
    this.#dispatches.forEach((d, i) =>
      data.set(d.uniforms(rows, accumulate, scale, training), i * SLOT / 4)
    );
    this.#device.queue.writeBuffer(this.#uniforms!, 0, data);
  }

  /**
   * (Re)allocates the per-sample buffers for micro-batches of up to `rows` samples. Throws where
   * the products over a micro-batch's rows would have more workgroups along them than a dispatch
   * may ({@linkcode MAX_GROUPS}, one per {@linkcode TILE} rows): such a dispatch is invalid, and
   * with it the whole command buffer of the step, whose loss, gradients and norm would read as 0.
   */
  #allocate(rows: number): void {
    if (Math.ceil(rows / TILE) > MAX_GROUPS) {
      throw new AnnealError(
        "config",
        `The WGSL step takes at most ${MAX_GROUPS * TILE} samples a micro-batch (its matrix ` +
          `products have a workgroup per ${TILE} samples, at most ${MAX_GROUPS}); this one has ` +
          `${rows}`,
        {
          where: "batchSize",
          hint: "use a smaller batchSize (gradientAccumulation keeps the samples a step takes)",
        },
      );
    }
    this.#disposeBuffers();
    this.#capacity = rows;
    const buffer = (floats: number, label: string) =>
      storageBuffer(this.#device, floats, `anneal dense ${label}`, GPUBufferUsage.COPY_DST);
    const { layers, targetSize } = this.#plan;
    this.#x = buffer(rows * this.#inputs(), "x");
    this.#stage?.allocate(rows);
    this.#y = buffer(rows * targetSize, "y");
    // hidden layers' activations as float16 pairs (one u32 word each) under mixed precision
    const last = layers.length - 1;
    const words = (i: number) => Math.ceil(rows * layers[i].units / (this.#halfOut(i) ? 2 : 1));
    this.#acts = layers.map((_, i) => buffer(words(i), `activation ${i}`));
    this.#deltas = layers.map((l, i) => buffer(rows * l.units, `delta ${i}`));
    const hidden = layers.slice(0, last);
    this.#outputs = hidden.map((l, i) =>
      this.#ownOutput(l) ? buffer(words(i), `output ${i}`) : undefined
    );
    this.#normed = layers.map((l, i) =>
      l.norm ? buffer(rows * l.units, `normalized ${i}`) : undefined
    );
    const dropout = this.#plan.dropout;
    this.#masks = [
      ...this.#stageDropout,
      ...(dropout ? hidden.map((l) => ({ perRow: l.units, rate: dropout })) : []),
    ].map(({ perRow, rate }, k) => ({
      buffer: buffer(1 + Math.ceil(rows * perRow / 32), `dropout mask ${k}`),
      perRow,
      rate,
    }));
    this.#keyWords = new Uint32Array(2 * this.#masks.length);
    this.#maskKeys = this.#masks.length > 0
      ? buffer(this.#keyWords.length, "dropout keys")
      : undefined;
    this.#masksOn = false; // (a new buffer holds zeros: off until a training pass's are written)
    this.#forwardPartials = layers.map((l, i) => {
      const floats = splitPartialFloats(rows, forwardDims(l));
      return floats > 0 ? buffer(floats, `forward partials ${i}`) : undefined;
    });
    this.#gradPartials = layers.map((l, i) => {
      const floats = splitPartialFloats(rows, gradDims(l));
      return floats > 0 ? buffer(floats, `gradient partials ${i}`) : undefined;
    });
    this.#buildStep();
    this.#uniformKey = "";
    this.#boundKey = [];
  }

  /** The dispatches of one micro-batch. */
  #buildStep(): void {
    const device = this.#device;
    const { layers } = this.#plan;
    const last = layers.length - 1;
    const out: Dispatch[] = [];
    const matmul = (
      transA: boolean,
      transB: boolean,
      epilogue: Epilogue,
      dims: (rows: number) => [number, number, number],
      buffers: () => GPUBuffer[],
      half: HalfStorage = {},
    ): Dispatch => matmulDispatch(device, { transA, transB, epilogue, dims, buffers, half });
    const stage = this.#stage;
    // (a hidden layer's output where a kernel of its own makes it: dropout, gelu)
    const output = (i: number) => this.#outputs[i] ?? this.#acts[i];
    const input = (i: number) => i > 0 ? output(i - 1) : stage ? stage.features() : this.#x!;
    const grad = (j: number) => this.#gradBuffer(this.#denseOffset + j);
    const mask = (k: number) => this.#masks[k].buffer;
    // dropout's masks, drawn from the micro-batch's keys (a training pass's alone)
    this.#masks.forEach(({ perRow, rate }, k) =>
      out.push({
        pipeline: pipelineFor(device, "dropout-bits", () => DROPOUT_BITS_WGSL),
        buffers: () => [this.#maskKeys!, this.#masks[k].buffer],
        uniforms: (rows) => [rows * perRow, dropoutThreshold(rate), k, 0],
        groups: (rows) => grid(Math.ceil(rows * perRow / 32), 256),
        trainingOnly: true,
      })
    );
    if (stage) out.push(...stage.forward(() => this.#x!, mask));
    // Under mixed precision every hidden activation of an even width is float16: such a layer's
    // output, and the next layer's input (the first layer's where the stage's output is).
    const halfOut = (i: number) => this.#halfOut(i);
    const halfInput = (i: number) => i > 0 ? halfOut(i - 1) : stage?.halfFeatures === true;
    // Forward: a_i = act(a_{i-1} · W_i + b_i).
    layers.forEach((layer, i) => {
      // (gelu: the pre-activation stored, gelu applied by the layer's output kernel)
      const activation = i === last || layer.activation === "gelu" || layer.norm
        ? "linear"
        : layer.activation;
      const dims = forwardDims(layer);
      const partials = this.#forwardPartials[i];
      if (!partials) {
        out.push(matmul(
          false,
          false,
          { kind: "forward", activation },
          dims,
          () => [
            input(i),
            tensorBuffer(this.#backend, layer.kernel),
            tensorBuffer(this.#backend, layer.bias),
            this.#acts[i],
          ],
          { a: halfInput(i), out: halfOut(i) },
        ));
        out.push(...this.#normForward(i), ...this.#outputDispatch(i));
        return;
      }
      // Few output tiles over a long K: K's slices' products into the partials, then their
      // sums through the forward epilogue (the same dispatches serve an evaluation's rows).
      const split = (rows: number) => productSplit(...dims(rows));
      out.push(matmulDispatch(device, {
        transA: false,
        transB: false,
        epilogue: { kind: "partial" },
        dims,
        buffers: () => [input(i), tensorBuffer(this.#backend, layer.kernel), partials],
        half: { a: halfInput(i) },
        split,
      }));
      out.push({
        pipeline: pipelineFor(
          device,
          `split-forward-${activation}-${+halfOut(i)}`,
          () => splitForwardWgsl(activation, halfOut(i)),
        ),
        buffers: () => [partials, tensorBuffer(this.#backend, layer.bias), this.#acts[i]],
        uniforms: (rows) => [rows, layer.units, split(rows)[0], 0],
        groups: (rows) => grid(rows * layer.units / (halfOut(i) ? 2 : 1), 256),
      });
      out.push(...this.#normForward(i), ...this.#outputDispatch(i));
    });
    // Loss, and its gradient with respect to the logits.
    const outputs = layers[last].units;
    const loss = (stats: GPUBuffer): Dispatch => ({
      pipeline: pipelineFor(device, `loss-${this.#plan.loss}`, () => lossWgsl(this.#plan.loss)),
      buffers: () => [this.#acts[last], this.#y!, this.#deltas[last], stats],
      uniforms: (rows, accumulate, scale) => [rows, outputs, accumulate, floatBits(scale)],
      groups: () => [1, 1],
    });
    this.#evalForward = out.filter((d) => !d.trainingOnly);
    out.push(loss(this.#stats));
    this.#evalDispatches = [loss(this.#evalStats)];
    // Backward, last layer first: dW_i = a_{i-1}^T · d_i, db_i = colsum(d_i),
    // d_{i-1} = (d_i · W_i^T) * act'(a_{i-1}).
    for (let i = last; i >= 0; i--) {
      const layer = layers[i];
      const partials = this.#gradPartials[i];
      out.push(...gradDispatches(device, {
        dims: gradDims(layer),
        operands: () => [input(i), this.#deltas[i]],
        grad: () => grad(this.#gradAt[i] - this.#denseOffset),
        half: { a: halfInput(i) },
        partials: partials && (() => partials),
      }));
      out.push(columnSumDispatch(
        device,
        () => [this.#deltas[i], grad(this.#gradAt[i] - this.#denseOffset + 1)],
        (rows) => [rows, layer.units],
      ));
      if (i > 0) {
        out.push(matmul(
          false,
          true,
          // (batch norm's layer: its derivative taken with the normalization's, below)
          {
            kind: "backprop",
            activation: layers[i - 1].norm ? "linear" : layers[i - 1].activation,
          },
          (rows) => [rows, layer.inputs, layer.units],
          () => [
            this.#deltas[i],
            tensorBuffer(this.#backend, layer.kernel),
            this.#acts[i - 1],
            this.#deltas[i - 1],
          ],
          { prev: halfOut(i - 1) },
        ));
        out.push(
          ...(layers[i - 1].norm ? this.#normBackward(i - 1) : this.#dropoutBackward(i - 1)),
        );
      } else if (stage) {
        // Into the stage's output (the last conv block's pooled one, through its relu).
        out.push(matmul(
          false,
          true,
          { kind: "backprop", activation: stage.activation },
          (rows) => [rows, layer.inputs, layer.units],
          () => [
            this.#deltas[0],
            tensorBuffer(this.#backend, layer.kernel),
            stage.features(),
            stage.featuresGradient(),
          ],
          { prev: stage.halfFeatures },
        ));
      }
    }
    if (stage) out.push(...stage.backward(() => this.#x!, (j) => this.#gradBuffer(j), mask));
    this.#dispatches = out;
    this.#evalUniforms ??= device.createBuffer({
      label: "anneal dense evaluation uniforms",
      size: SLOT,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.#evalUniformKey = "";
    this.#uniforms?.destroy();
    this.#uniforms = device.createBuffer({
      label: "anneal dense uniforms",
      size: out.length * SLOT,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
  }

  /**
   * Hidden layer `i`'s output where a kernel of its own makes it (none elsewhere): its stored
   * values through gelu (the matmul stored its pre-activations) and dropout's factors (0, or
   * 1 / (1 - rate) where kept; 1 in inference).
   */
  #outputDispatch(i: number): Dispatch[] {
    const target = this.#outputs[i];
    if (!target || this.#plan.layers[i].norm) return [];
    const half = this.#halfOut(i);
    const activation = this.#plan.layers[i].activation === "gelu" ? "gelu" : "linear";
    const dropout = !!this.#plan.dropout;
    return [this.#elementDispatch(
      i,
      `output-${activation}-${+half}-${+dropout}`,
      () => outputWgsl(activation, half, dropout),
      () => [...(dropout ? [this.#denseMask(i)] : []), this.#acts[i], target],
      half,
    )];
  }

  /**
   * Hidden layer `i`'s dropout in the backward pass: the gradient at its pre-activations (the
   * gradient at its dropped output through the activation's derivative) times the mask's factors.
   */
  #dropoutBackward(i: number): Dispatch[] {
    if (!this.#plan.dropout) return [];
    return [this.#elementDispatch(
      i,
      "dropout-backward",
      () => dropoutBackwardWgsl(false),
      () => [this.#denseMask(i), this.#deltas[i]],
      false,
    )];
  }

  /**
   * Hidden layer `i`'s batch norm forward (none without one): the statistics of its stored
   * values over the micro-batch (the moving averages updated), then the normalized values, and
   * the layer's output through the activation [and dropout].
   */
  #normForward(i: number): Dispatch[] {
    const layer = this.#plan.layers[i];
    const norm = layer.norm;
    if (!norm) return [];
    const own = this.#normBuffers[i]!;
    const units = layer.units;
    const dropout = !!this.#plan.dropout;
    const half = this.#halfOut(i);
    const reduction = this.#unitReduction(i);
    return [
      {
        ...channelPartialsDispatch(reduction, `bn-partials-${+half}`, bnPartialsWgsl(half), () => [
          this.#acts[i],
        ]),
        trainingOnly: true,
      },
      channelFinishDispatch(
        reduction,
        "bn-stats",
        BN_STATS_WGSL,
        () => [
          own.stat,
          tensorBuffer(this.#backend, norm.movingMean),
          tensorBuffer(this.#backend, norm.movingVariance),
        ],
        (rows, _, slices, training) => bnStatsUniforms(rows, units, slices, norm, training),
      ),
      this.#elementDispatch(
        i,
        `norm-output-${layer.activation}-${+dropout}-${+half}`,
        () => normOutputWgsl(layer.activation, dropout, half),
        () => [
          this.#acts[i],
          own.stat,
          tensorBuffer(this.#backend, norm.gamma),
          tensorBuffer(this.#backend, norm.beta),
          this.#normed[i]!,
          this.#outputs[i]!,
          ...(dropout ? [this.#denseMask(i)] : []),
        ],
        half,
      ),
    ];
  }

  /**
   * Hidden layer `i`'s batch norm backward, on the gradient at its output (`#deltas[i]`, the
   * layer above's backprop): through dropout and the activation, gamma's and beta's gradients,
   * then through the normalization, in place.
   */
  #normBackward(i: number): Dispatch[] {
    const layer = this.#plan.layers[i];
    const norm = layer.norm!;
    const own = this.#normBuffers[i]!;
    const dropout = !!this.#plan.dropout;
    const g = this.#gradAt[i] - this.#denseOffset;
    const grad = (j: number) => this.#gradBuffer(this.#denseOffset + j);
    const half = this.#halfOut(i);
    const reduction = this.#unitReduction(i);
    return [
      this.#elementDispatch(
        i,
        `norm-activation-backward-${layer.activation}-${+dropout}`,
        () => normActivationBackwardWgsl(layer.activation, dropout),
        () => [this.#normed[i]!, this.#deltas[i], ...(dropout ? [this.#denseMask(i)] : [])],
        false,
      ),
      channelPartialsDispatch(
        reduction,
        `dense-bn-grad-partials-${+half}`,
        normGradPartialsWgsl(half),
        () => [this.#acts[i], own.stat, this.#deltas[i]],
      ),
      channelFinishDispatch(
        reduction,
        "bn-grad-stats",
        BN_GRAD_STATS_WGSL,
        () => [grad(g + 2), grad(g + 3), own.coef],
        (rows, accumulate, [slices]) => [slices, layer.units, rows, accumulate],
      ),
      this.#elementDispatch(
        i,
        `norm-backward-${+half}`,
        () => normBackwardWgsl(half),
        () => [
          this.#acts[i],
          own.stat,
          tensorBuffer(this.#backend, norm.gamma),
          own.coef,
          this.#deltas[i],
        ],
        false,
      ),
    ];
  }

  /**
   * Layer `i`'s per-unit reductions over a micro-batch's rows (see `channelPartialsDispatch` in
   * conv.ts), into its batch norm's partials.
   */
  #unitReduction(i: number): ChannelReduction {
    return {
      device: this.#device,
      channels: this.#plan.layers[i].units,
      count: (rows) => rows,
      parts: () => this.#normBuffers[i]!.parts,
    };
  }

  /** Dense hidden layer `i`'s dropout mask (after the stage's). */
  #denseMask(i: number): GPUBuffer {
    return this.#masks[this.#stageDropout.length + i].buffer;
  }

  /**
   * An element-wise dispatch over hidden layer `i`'s values of a micro-batch (float16 pairs under
   * `pairs`, a thread each), its uniforms the count and dropout's scale.
   */
  #elementDispatch(
    i: number,
    key: string,
    code: () => string,
    buffers: () => GPUBuffer[],
    pairs: boolean,
  ): Dispatch {
    const units = this.#plan.layers[i].units;
    // torch's and tfjs's mask value: 1 / (1 - rate) as float32
    const scale = floatBits(1 / (1 - (this.#plan.dropout ?? 0)));
    return {
      pipeline: pipelineFor(this.#device, key, code),
      buffers,
      // (the units a row last: batch norm's kernels read them)
      uniforms: (rows) => [rows * units, scale, 0, 0, units],
      // one thread a value (a float16 pair under `pairs`: units are even there)
      groups: (rows) => grid(rows * units / (pairs ? 2 : 1), 256),
    };
  }

  /** The two stages of the global gradient norm; their sizes never change. */
  #buildNorm(): void {
    const device = this.#device;
    // One dispatch per SUMSQ_TENSORS gradients (a binding each), NORM_GROUPS workgroups a tensor.
    const dispatches: Dispatch[] = [];
    for (let first = 0; first < this.grads.length; first += SUMSQ_TENSORS) {
      const chunk = this.grads.slice(first, first + SUMSQ_TENSORS);
      const sizes = Array.from({ length: 8 }, (_, i) => chunk[i]?.size ?? 0);
      dispatches.push({
        pipeline: pipelineFor(device, `sumsq${chunk.length}`, () => sumsqWgsl(chunk.length)),
        buffers: () => [...chunk.map((_, i) => this.#gradBuffer(first + i)), this.#partials],
        uniforms: () => [...sizes, first],
        // As many workgroups as the largest tensor's share (see sumsqWgsl).
        groups: () => [
          Math.min(NORM_GROUPS, Math.ceil(Math.max(...sizes) / NORM_SPAN)),
          chunk.length,
        ],
      });
    }
    dispatches.push({
      pipeline: pipelineFor(device, "norm", () => NORM_WGSL),
      buffers: () => [this.#partials, this.#stats],
      uniforms: () => [this.grads.length * NORM_GROUPS, 0, 0, 0],
      groups: () => [1, 1],
    });
    // Partials a tensor does not write stay zero.
    this.#normDispatches = dispatches;
    this.#normUniforms = device.createBuffer({
      label: "anneal dense norm uniforms",
      size: dispatches.length * SLOT,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    const data = new Uint32Array(dispatches.length * SLOT / 4);
    // Every dispatch's uniform block fits its 256-byte slot (at most 9 words here).
    dispatches.forEach((d, i) => data.set(d.uniforms(0, 0, 0, true), i * SLOT / 4));
    device.queue.writeBuffer(this.#normUniforms, 0, data);
    device.queue.writeBuffer(this.#partials, 0, new Float32Array(this.grads.length * NORM_GROUPS));
  }

  /**
   * Floats of one sample's `x`: an image for conv blocks, a sequence for recurrent layers, else
   * the first layer's inputs.
   */
  #inputs(): number {
    const first = this.#plan.convs?.[0];
    const recurrent = this.#plan.recurrent;
    return first
      ? first.height * first.width * first.inChannels
      : recurrent
      ? recurrent.steps * recurrent.layers[0].inputs
      : this.#plan.layers[0].inputs;
  }

  #gradBuffer(i: number): GPUBuffer {
    return tensorBuffer(this.#backend, this.grads[i]);
  }

  /**
   * Makes the bind groups again when a buffer they hold changed: the variables get new buffers
   * when weights are restored (or made exclusive by the fused optimizer).
   */
  #bind(): void {
    // Writing the gradients in place also drops any CPU copy tfjs cached after a read.
    const key = [
      ...this.#plan.layers.flatMap((l) => [
        tensorBuffer(this.#backend, l.kernel),
        tensorBuffer(this.#backend, l.bias),
        ...(l.norm ? normBuffers(this.#backend, l.norm) : []),
      ]),
      ...(this.#stage?.boundBuffers() ?? []),
      ...this.grads.map((g) => writableBuffer(this.#backend, g)),
    ];
    if (
      key.length === this.#boundKey.length && key.every((b, i) => b === this.#boundKey[i])
    ) return;
    this.#boundKey = key;
    const bind = (list: Dispatch[], uniforms: GPUBuffer) =>
      list.forEach((d, i) => {
        d.bindGroup = this.#device.createBindGroup({
          layout: d.pipeline.getBindGroupLayout(0),
          entries: [
            { binding: 0, resource: { buffer: uniforms, offset: i * SLOT, size: UNIFORM_BYTES } },
            ...d.buffers().map((buffer, j) => ({ binding: j + 1, resource: { buffer } })),
          ],
        });
      });
    bind(this.#dispatches, this.#uniforms!);
    bind(this.#evalDispatches, this.#evalUniforms!);
    bind(this.#normDispatches, this.#normUniforms!);
  }

  /** Frees the per-sample buffers (and the byte inputs' bind group with them). */
  #disposeBuffers(): void {
    for (
      const b of [
        this.#x,
        this.#y,
        ...this.#acts,
        ...this.#deltas,
        ...this.#outputs,
        ...this.#normed,
        ...this.#masks.map((m) => m.buffer),
        ...this.#forwardPartials,
        ...this.#gradPartials,
      ]
    ) b?.destroy();
    this.#forwardPartials = [];
    this.#gradPartials = [];
    this.#outputs = [];
    this.#normed = [];
    this.#masks = [];
    this.#maskKeys?.destroy();
    this.#maskKeys = undefined;
    this.#bytes?.words.destroy();
    this.#bytes?.table.destroy();
    this.#bytes = undefined;
  }

  /** Frees the buffers and the gradient tensors. */
  dispose(): void {
    this.#submitLeft(); // (its commands bind the buffers)
    this.#disposeBuffers();
    this.#stage?.dispose();
    this.#stats.destroy();
    this.#evalStats.destroy();
    for (const b of this.#normBuffers) {
      for (const buffer of [b?.stat, b?.coef, b?.parts]) buffer?.destroy();
    }
    this.#evalUniforms?.destroy();
    this.#partials.destroy();
    this.#uniforms?.destroy();
    this.#normUniforms?.destroy();
    tf.dispose(this.grads);
  }
}

/**
 * The buffers of a batch norm's variables the dispatches bind: gamma and beta, and the moving
 * averages its statistics kernel writes in place (made the variables' own first).
 */
function normBuffers(backend: WebGpuBackendInternals, norm: NonNullable<DenseLayer["norm"]>) {
  for (const v of [norm.movingMean, norm.movingVariance]) ensureExclusive(backend, v);
  return [
    tensorBuffer(backend, norm.gamma),
    tensorBuffer(backend, norm.beta),
    writableBuffer(backend, norm.movingMean),
    writableBuffer(backend, norm.movingVariance),
  ];
}

/** [M, N, K] of `layer`'s forward product for a micro-batch of `rows` samples. */
function forwardDims(layer: DenseLayer): (rows: number) => [number, number, number] {
  return (rows) => [rows, layer.units, layer.inputs];
}

/** [M, N, K] of `layer`'s kernel gradient's product (over a micro-batch's `rows` samples). */
function gradDims(layer: DenseLayer): (rows: number) => [number, number, number] {
  return (rows) => [layer.inputs, layer.units, rows];
}

/**
 * Byte inputs to floats: each thread takes a word of 4 bytes (little-endian: the first byte in
 * the low bits) and writes their floats from the table, within `x`'s length.
 */
const BYTES_TO_FLOATS_WGSL = `
@group(0) @binding(0) var<storage, read> words: array<u32>;
@group(0) @binding(1) var<storage, read> table: array<f32, 256>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let i = (wg.y * nw.x + wg.x) * 256u + li;
  if (i >= arrayLength(&words)) { return; }
  let word = words[i];
  let n = arrayLength(&x);
  for (var k = 0u; k < 4u; k++) {
    let e = 4u * i + k;
    if (e < n) { x[e] = table[(word >> (8u * k)) & 255u]; }
  }
}
`;

/**
 * The layers of `plan` whose width is odd, which mixed precision keeps float32 (see
 * {@linkcode DenseGpuProgram.float32Layers}): conv blocks by their filters, a GRU by its 3 x units
 * projections a row (an LSTM's 4 x units are even), hidden dense layers by their units.
 */
function oddWidths(plan: DensePlan): string[] {
  const convs = plan.convs ?? [];
  const odd = convs.flatMap((b, i) =>
    !pairsWhole(b.outChannels) ? [`conv block ${i} (${b.outChannels} filters)`] : []
  );
  const rnn = plan.recurrent;
  if (rnn && !pairsWhole(gateCount(rnn.cell) * rnn.units)) {
    const layers = rnn.layers.length === 1 ? "layer" : `${rnn.layers.length} layers`;
    odd.push(`the GRU's ${layers} (${rnn.units} units: ${gateCount(rnn.cell) * rnn.units} gates)`);
  }
  const what = convs.length > 0 ? "dense layer" : "hidden layer";
  plan.layers.slice(0, -1).forEach((l, i) => {
    if (!pairsWhole(l.units)) odd.push(`${what} ${i} (${l.units} units)`);
  });
  return odd;
}
