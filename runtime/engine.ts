/**
 * The training step itself, with no actors around it: model, loss, optimizer, clipping, and
 * evaluation. The trainer actor drives it; the LR range test and the benchmarks use it in-process.
 *
 * Nothing here reads a tensor back to the CPU: the caller decides when to pay for a read-back.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import type * as tfl from "npm:@tensorflow/tfjs-layers@4.22.0";
import type { RunConfig } from "../config.ts";
import { buildResolvedModel } from "../models/build_resolved.ts";
import { forward } from "../models/forward.ts";
import { dropoutSeed } from "../models/dropout.ts";
import { lossFunction } from "../models/losses.ts";
import { accuracy, mae } from "../models/metrics.ts";
import { createResolvedOptimizer, hasFusedKernels, type Optimizer } from "../optimizers/core.ts";
import { clipGradNorm, clipGradValue } from "../optimizers/clipping.ts";
import {
  createFusedOptimizer,
  type GlobalClipStep,
  type GuardedStep,
  hasFusedKernel,
} from "../optimizers/fused/adapter.ts";
import { AnnealError } from "../errors.ts";
import { readTensors, readVectors } from "./read_back.ts";
import { bytesToFloats } from "../data/batches.ts";
import { featureSize } from "../data/split.ts";
import { DenseGpuProgram } from "./dense/gpu_program.ts";
import { takeWebGpuError, webGpuIsSoftware } from "./backend.ts";
import { webGpuBackend } from "../optimizers/fused/gpu.ts";
import { DenseHostProgram, hostStepMaxWork } from "./dense/host_program.ts";
import {
  clipHostNorm,
  clipHostValue,
  createHostOptimizer,
  hasHostKernel,
  isHostOptimizer,
} from "../optimizers/host.ts";
import { cnnPlan, densePlan, rnnPlan } from "./dense/plan.ts";
import { checkLossFits, defaultLossName, metricNames, shapeTask } from "../task_fit.ts";
import { shellWord } from "../shell_word.ts";
import { checkArgument, isObject } from "../option_names.ts";
import { checkStepMemory } from "./wasm_memory.ts";

/** What the engine must know about the data to build a model. */
export interface DataShape {
  /** Shape of one sample, e.g. `[2]` or `[28, 28, 1]`. */
  inputShape: number[];
  /** Values per target (1 for class indices and binary labels). */
  targetSize: number;
  /** What the targets are, which picks the output units, the default loss and the metrics. */
  task: "regression" | "classification" | "binary";
  /** Number of classes, for classification (the model's output units). */
  numClasses?: number;
}

/** A batch as plain arrays (what the data loader sends). */
export interface HostBatch {
  /** Features of `size` samples, row-major. */
  x: Float32Array;
  /** Targets of `size` samples, row-major. */
  y: Float32Array;
  /** Number of samples. */
  size: number;
}

/**
 * A batch whose features are the bytes they were read from (image data, see
 * `Dataset.byteTable`): feature i is `byteTable[x[i]]`. The WGSL step on WebGPU uploads the
 * bytes, a quarter of the floats, and turns them into floats on the GPU
 * ({@linkcode TrainingEngine.takesByteInputs}); other paths turn them into floats first.
 */
export interface HostByteBatch {
  /** One byte per feature of `size` samples, row-major. */
  x: Uint8Array;
  /** The float of each byte value (256 entries). */
  byteTable: Float32Array;
  /** Targets of `size` samples, row-major. */
  y: Float32Array;
  /** Number of samples. */
  size: number;
}

/** `batch` with float features (a byte batch's looked up in its table). */
export function floatBatch(batch: HostBatch | HostByteBatch): HostBatch {
  checkBatchFields(batch, "read the batch");
  if (!("byteTable" in batch)) return batch;
  return { x: bytesToFloats(batch.x, batch.byteTable), y: batch.y, size: batch.size };
}

/** Throws a usage error unless `batch` is an object with a batch's x, y and size. */
function checkBatchFields(batch: HostBatch | HostByteBatch, what: string): void {
  const hint = "pass a batch makeBatch gives";
  checkArgument(isObject(batch), batch, what, "batch", "a batch (x, y and size)", hint);
  const arrayLike = (value: unknown) => ArrayBuffer.isView(value) || Array.isArray(value);
  checkArgument(arrayLike(batch.x), batch.x, what, "batch.x", "an array of features", hint);
  checkArgument(arrayLike(batch.y), batch.y, what, "batch.y", "an array of targets", hint);
  const whole = Number.isInteger(batch.size) && batch.size >= 0;
  checkArgument(whole, batch.size, what, "batch.size", "a sample count (an integer >= 0)", hint);
}

/**
 * Throws a usage error unless `batch` holds `size` samples of `shape`: `x` their features, `y`
 * their targets. Every path took the lengths as they came: tfjs as a shape error, the host step
 * read past a short batch's end or stopped short of a long one's (a loss of NaN, or of part of
 * the batch).
 */
function checkBatch(batch: HostBatch | HostByteBatch, shape: DataShape, what: string): void {
  checkBatchFields(batch, what);
  const rows: [string, number, number, string][] = [
    ["x", batch.x.length, featureSize(shape), `input shape ${JSON.stringify(shape.inputShape)}`],
    ["y", batch.y.length, shape.targetSize, `target size ${shape.targetSize}`],
  ];
  for (const [field, held, each, of] of rows) {
    if (held === batch.size * each) continue;
    throw new AnnealError(
      "usage",
      `Cannot ${what}: 'batch.${field}' holds ${held} values, ${batch.size} samples of ${of} ` +
        `need ${batch.size * each}`,
      {
        where: `batch.${field}`,
        hint: "make batches with makeBatch from a dataset of the shape the engine was built for, " +
          "and set 'size' to their sample count",
      },
    );
  }
}

/**
 * Device-side results of one step (or of one evaluated batch): a vector
 * `[mean loss, gradient norm, ...metric sums]`, metric sums in the order of
 * `TrainingEngine.metrics`. Read it with {@linkcode TrainingEngine.readStats}, which frees it.
 */
export interface StepTensors {
  /**
   * `[mean loss, global L2 gradient norm before clipping (0 when evaluating), ...metric sums]`:
   * on the device, or already on the host when the step ran there (small dense models on CPU).
   */
  stats: tf.Tensor1D | Float32Array;
  /** Number of samples the step covered. */
  samples: number;
}

/** A step's results read back to the host. */
export interface StepValues {
  /** Mean loss over the step's samples. */
  loss: number;
  /** Global L2 norm of the gradients before clipping (0 for an evaluated batch). */
  gradNorm: number;
  /** Per-metric sums over the step's samples, in the order of `TrainingEngine.metrics`. */
  metricSums: number[];
  /** Number of samples the step covered. */
  samples: number;
}

/** Gradients computed but not yet applied. */
export interface PendingStep extends StepTensors {
  /**
   * Gradients in the order of `TrainingEngine.variables`; the engine frees them when applied.
   * Empty while the gradients are only on the host (`hostGrads`).
   */
  grads: tf.Tensor[];
  /** The gradients as host arrays, when the step ran on the host (in `variables` order). */
  hostGrads?: Float32Array[];
  /** Whether `grads` are this step's own tensors (false: buffers the engine reuses every step). */
  ownsGrads: boolean;
}

/**
 * Whether the config's schedule moves momentum/beta1 each step (onecycle, cyclic), which fused
 * kernels cannot.
 */
function cyclesMomentum(config: RunConfig): boolean {
  const specs = config.scheduler?.name === "sequential"
    ? (config.scheduler as { schedulers: { name: string; cycleMomentum?: boolean }[] }).schedulers
    : config.scheduler
    ? [config.scheduler as { name: string; cycleMomentum?: boolean }]
    : [];
  return specs.some((spec) =>
    (spec.name === "onecycle" || spec.name === "cyclic") && spec.cycleMomentum !== false
  );
}

/** The model's output units for data of `shape`: its classes, 1 for binary, else its targets. */
export function outputUnits(shape: DataShape): number {
  if (shape.task === "classification") {
    if (!shape.numClasses) {
      throw new AnnealError("data", "Classification data without a class count", {
        hint: "check the dataset's labels",
      });
    }
    if (!(shape.numClasses >= 2)) {
      // (one output: its log-softmax is 0, so the cross-entropy and its gradients are 0 whatever
      // the weights, and the run trained nothing; loadData refuses such data)
      throw new AnnealError(
        "data",
        `Cannot build a classifier of ${shape.numClasses} class: 'numClasses' must be 2 or more`,
        {
          where: "numClasses",
          hint: "check the dataset's labels: a classifier needs two classes or more (one " +
            "class's cross-entropy is 0, and trains nothing)",
        },
      );
    }
    return shape.numClasses;
  }
  return shape.task === "binary" ? 1 : shape.targetSize;
}

/** Model, optimizer and the step, for one run. */
export class TrainingEngine {
  /** The tfjs model built from the config. */
  readonly model: tfl.LayersModel;
  #optimizer: Optimizer;
  /** The trainable variables, in the order the optimizer sees them. */
  readonly variables: tf.Variable[];
  /** Metrics logged besides the loss: `mae` for regression, else `accuracy`. */
  readonly metrics: string[];
  /** Whether the optimizer runs fused WGSL kernels (WebGPU). */
  readonly fused: boolean;
  /**
   * Where the optimizer's update runs: fused WGSL kernels (WebGPU), plain TypeScript on host
   * copies of the weights (with the host step: sgd, adam, adamw, rmsprop, adagrad, lion), one
   * SIMD kernel per parameter (Adam, AdamW and SGD on wasm), or tfjs ops.
   */
  readonly optimizerPath: "tfjs" | "wgsl" | "host" | "simd";
  /**
   * Where forward and backward run: tfjs ops, anneal's dense WGSL kernels (WebGPU), or plain
   * TypeScript on the host (small dense models on the CPU backends).
   */
  readonly modelPath: "tfjs" | "wgsl" | "host";
  /**
   * `mixed` when the activations (hidden layers, conv blocks, recurrent projections and gates) are
   * stored as float16 (`mixedPrecision`).
   */
  readonly precision: "float32" | "mixed";
  /**
   * Under mixed precision, the layers that keep float32 activations because their width is odd
   * (`hidden layer 1 (7 units)`, ...: see `DenseGpuProgram.float32Layers`); absent where none do.
   */
  readonly float32Layers?: string[];
  /** Why forward and backward run in tfjs although `fusedModel` is on. */
  readonly fusedModelReason?: string;
  readonly #dense?: DenseGpuProgram | DenseHostProgram;
  /** The config's `byteInputs`, or (absent) whether the GPU is hardware. */
  readonly #byteInputs: boolean;
  readonly #loss: (output: tf.Tensor, target: tf.Tensor) => tf.Scalar;
  readonly #shape: DataShape;
  readonly #config: RunConfig;
  /** Result tensors whose read-back is on its way (see `unreadResults`). */
  readonly #reading = new Set<tf.Tensor>();
  /** The step `computeGradients` takes when it is given none: the one after the last it took. */
  #nextStep = 0;

  /**
   * Builds the model and optimizer of `config` for data of the given shape. `config` is one
   * `parseConfig` gave (its defaults filled in): a config as written is refused, saying so. Its
   * model and optimizer sections are built as they are, without their schemas (the trainer's
   * Worker loads no zod); checked_engine.ts's engine, the one mod.ts gives, parses them first.
   */
  constructor(config: RunConfig, shape: DataShape) {
    const sections = ["model", "optimizer", "data"] as const;
    const missing = sections.find((name) => typeof config?.[name] !== "object");
    if (missing !== undefined || typeof config.seed !== "number") {
      // (it said "Cannot build model: the spec must be an object", of a model the config left to
      // its default)
      throw new AnnealError(
        "usage",
        `Cannot build the training engine: its config is not one parseConfig gave (${
          missing === undefined ? "'seed' is missing" : `no '${missing}' section`
        }): the engine takes a config with its defaults filled in`,
        { hint: "pass new TrainingEngine(parseConfig(config), shape)" },
      );
    }
    this.#config = config;
    this.#shape = shape;
    const lossName = config.loss ?? defaultLossName(shape.task);
    // Also here, for configs that did not come through parseConfig or data that is not what its
    // spec said: a loss that does not fit the data trains nothing, or fails as a tfjs shape error.
    checkLossFits(lossName, shapeTask(shape));
    const modelShape = { inputShape: shape.inputShape, outputUnits: outputUnits(shape) };
    // (a step takes one sample at least; a run checks its own smallest batch before this)
    checkStepMemory(config.model, modelShape, 1, tf.getBackend());
    this.model = buildResolvedModel(config.model, modelShape, config.seed);
    // A constructor that throws (a config the paths cannot run) leaves no tensors behind.
    try {
      this.variables = this.model.trainableWeights.map((weight) => weight.read() as tf.Variable);
      this.fused = config.fusedOptimizer && tf.getBackend() === "webgpu" &&
        hasFusedKernel(config.optimizer) &&
        !cyclesMomentum(config);
      this.#loss = lossFunction(lossName);
      this.metrics = metricNames(shape.task);
      let path: TrainingEngine["modelPath"] = "tfjs";
      if (config.fusedModel) {
        const webgpu = tf.getBackend() === "webgpu";
        const plan = config.model.kind === "cnn" && webgpu
          ? cnnPlan(
            config,
            this.model,
            this.variables,
            lossName,
            shape.inputShape,
            shape.targetSize,
          )
          : config.model.kind === "rnn" && webgpu
          ? rnnPlan(
            config,
            this.variables,
            lossName,
            shape.inputShape,
            shape.targetSize,
            webGpuBackend("the WGSL recurrent step").device.limits.maxStorageBufferBindingSize,
          )
          : densePlan(config, this.variables, lossName, shape.targetSize, this.model);
        const work = typeof plan === "string" ? 0 : DenseHostProgram.work(plan, config.batchSize);
        if (typeof plan === "string") {
          this.fusedModelReason = plan;
        } else if (tf.getBackend() === "webgpu") {
          this.#dense = new DenseGpuProgram({
            ...plan,
            halfActivations: config.mixedPrecision,
            // (the plan's, or the batch size its buffers were checked for)
            evalRows: plan.evalRows ?? config.batchSize,
          });
          path = "wgsl";
        } else if (
          work <= hostStepMaxWork(
            plan.layers.length,
            plan.layers.some((layer) => layer.activation === "gelu"),
          )
        ) {
          this.#dense = new DenseHostProgram(plan);
          path = "host";
        } else {
          this.fusedModelReason =
            `${work} multiply-adds a step: faster in tfjs's ${tf.getBackend()} kernels`;
        }
      }
      this.modelPath = path;
      this.#byteInputs = config.byteInputs ?? !webGpuIsSoftware();
      if (config.mixedPrecision && path !== "wgsl") {
        const why = this.fusedModelReason ??
          (tf.getBackend() === "webgpu"
            ? "fusedModel is off"
            : `the backend is ${tf.getBackend()}`);
        throw new AnnealError(
          "config",
          `mixedPrecision needs the WGSL training step (a linear model, an MLP, a cnn or an ` +
            `rnn on WebGPU); here the forward and backward run in ${
              path === "host" ? "TypeScript" : "tfjs"
            }: ${why}`,
          {
            where: "mixedPrecision",
            // (on WebGPU the backend is not what keeps the model off the WGSL step)
            hint: "drop mixedPrecision (everything then trains in float32)" + (
              tf.getBackend() !== "webgpu"
                ? ", or train with --backend webgpu"
                : !config.fusedModel
                ? ", or leave fusedModel on (its default)"
                : `, or do without what keeps the model off the WGSL step (${why})`
            ),
          },
        );
      }
      this.precision = config.mixedPrecision ? "mixed" : "float32";
      if (this.#dense instanceof DenseGpuProgram && this.#dense.float32Layers.length > 0) {
        this.float32Layers = this.#dense.float32Layers;
      }
      this.optimizerPath = this.fused
        ? "wgsl"
        : path === "host" && config.fusedOptimizer && hasHostKernel(config.optimizer)
        ? "host"
        : config.fusedOptimizer && hasFusedKernels(config.optimizer)
        ? "simd"
        : "tfjs";
      this.#optimizer = this.#createOptimizer();
    } catch (error) {
      this.#dense?.dispose();
      this.model.dispose();
      throw error;
    }
  }

  /** The optimizer (its state moves with every step). */
  get optimizer(): Optimizer {
    return this.#optimizer;
  }

  #createOptimizer(): Optimizer {
    const spec = this.#config.optimizer;
    switch (this.optimizerPath) {
      case "wgsl":
        return createFusedOptimizer(spec);
      case "host":
        return createHostOptimizer(spec);
      case "simd":
        return createResolvedOptimizer(spec, { fusedKernels: true });
      default:
        return createResolvedOptimizer(spec);
    }
  }

  /**
   * Whether a step applied whose loss or gradient norm is not finite is skipped on the device
   * (the fused WGSL optimizer: weights and optimizer state left as they are, the step not counted),
   * where its results are not read before it is applied (WebGPU's windows). Elsewhere only a
   * step read first is skipped (by not applying it).
   */
  get skipsOnDevice(): boolean {
    return "guardNextStep" in this.#optimizer;
  }

  /**
   * The caller read that `count` steps applied since the optimizer's state was last set or reset
   * were skipped on the device ({@linkcode TrainingEngine.skipsOnDevice}): the optimizer counts
   * its steps without them from now on (their bias corrections were already right).
   */
  stepsSkipped(count: number): void {
    if (count > 0) (this.#optimizer as Partial<GuardedStep>).stepsSkipped?.(count);
  }

  /** Puts `optimizer` in place and returns the one it replaces (the LR range test steps a probe). */
  useOptimizer(optimizer: Optimizer): Optimizer {
    const previous = this.#optimizer;
    this.#optimizer = optimizer;
    return previous;
  }

  /** Replaces the optimizer with a fresh one (no moments, step 0), e.g. to roll back to the start. */
  resetOptimizer(): void {
    this.#optimizer.dispose();
    this.#optimizer = this.#createOptimizer();
  }

  #tensors(batch: HostBatch): { x: tf.Tensor; y: tf.Tensor } {
    const x = tf.tensor(batch.x, [batch.size, ...this.#shape.inputShape]);
    const y = tf.tensor(batch.y, [batch.size, this.#shape.targetSize]);
    return { x, y };
  }

  /** `[loss, gradNorm, ...metric sums]` for one batch's output. */
  #stats(output: tf.Tensor, y: tf.Tensor, loss: tf.Scalar, gradNorm: tf.Scalar): tf.Tensor1D {
    return tf.stack([
      loss,
      gradNorm,
      ...this.metrics.map((name) => name === "accuracy" ? accuracy(output, y) : mae(output, y)),
    ]) as tf.Tensor1D;
  }

  /**
   * Whether the trainer should send {@linkcode HostByteBatch}es: the step uploads their bytes as
   * they are (the WGSL step on WebGPU: a quarter of the bytes to copy to the GPU), and the config's
   * `byteInputs` (absent: a hardware adapter) asks for it. Every path takes such batches, but
   * others turn them into floats on the CPU first, which costs what the bytes save.
   */
  get takesByteInputs(): boolean {
    return this.#dense instanceof DenseGpuProgram && this.#byteInputs;
  }

  /**
   * On the WGSL step (WebGPU), each of its dispatches' time on `batch` (see
   * `DenseGpuProgram.profile`; `bench/dense_overhead.ts --profile`); undefined on other paths.
   * It leaves the step's gradients undefined (and batch norm's moving averages moved by every
   * repeat of its statistics): for benchmarks only.
   */
  profileWgslStep(
    batch: HostBatch | HostByteBatch,
  ): Promise<{ name: string; ms: number }[]> | undefined {
    checkBatch(batch, this.#shape, "profile the step");
    return this.#dense instanceof DenseGpuProgram ? this.#dense.profile(batch) : undefined;
  }

  /**
   * Gradients of the mean loss over all micro-batches (gradient accumulation): each micro-batch
   * contributes its summed loss divided by the total sample count, so k micro-batches give the
   * same update as one batch of their union (up to dropout, whose masks differ between them,
   * and batch norm, which normalizes each micro-batch by its own statistics and moves its moving
   * averages once per micro-batch, as torch's accumulation loop does).
   *
   * `step` is the run's optimizer step this is (from 0): micro-batch m's dropout masks are those
   * of `dropoutSeed(config.seed, step, m)`, so a run trained again, or resumed, draws the same
   * ones. Without it, the step after the last one computed (0 at first).
   */
  computeGradients(microBatches: (HostBatch | HostByteBatch)[], step?: number): PendingStep {
    for (const batch of microBatches) checkBatch(batch, this.#shape, "compute the gradients");
    const total = microBatches.reduce((sum, batch) => sum + batch.size, 0);
    if (total === 0) throw new AnnealError("internal", "A step needs at least one sample");
    const at = step ?? this.#nextStep;
    this.#nextStep = at + 1;
    // (micro-batch m's dropout masks, on every path)
    const passSeed = (m: number) => dropoutSeed(this.#config.seed, at, m);
    if (this.#dense instanceof DenseGpuProgram) {
      const { grads, stats } = this.#dense.computeGradients(microBatches, passSeed);
      return { grads, stats, samples: total, ownsGrads: false };
    }
    if (this.#dense) {
      const { grads, stats } = this.#dense.computeGradients(
        microBatches.map(floatBatch),
        passSeed,
      );
      return { grads: [], hostGrads: grads, stats, samples: total, ownsGrads: true };
    }
    let grads: tf.Tensor[] | undefined;
    let stats: tf.Tensor1D | undefined;
    for (const [m, batch] of microBatches.map(floatBatch).entries()) {
      const { x, y } = this.#tensors(batch);
      let output: tf.Tensor | undefined;
      const masks = passSeed(m);
      const { value, grads: named } = tf.variableGrads(() => {
        output = forward(this.model, x, true, masks);
        tf.keep(output);
        return tf.mul(this.#loss(output, y), batch.size / total) as tf.Scalar;
      }, this.variables);
      const partial = this.variables.map((variable) => named[variable.name]);
      if (grads) {
        // the sums so far and this micro-batch's gradients both freed: only the new sums live
        const sums = grads.map((g, i) => tf.add(g, partial[i]));
        for (const g of [...grads, ...partial]) g.dispose();
        grads = sums;
      } else grads = partial;
      const batchStats = tf.tidy(() => this.#stats(output!, y, value, tf.scalar(0)));
      stats = stats ? addDispose(stats, batchStats) : batchStats;
      value.dispose();
      output!.dispose();
      x.dispose();
      y.dispose();
    }
    const withNorm = tf.tidy(() => {
      // stack, not addN: tfjs-webgpu's AddN binds every input in one shader, and WebGPU allows 8
      // storage buffers a shader (a model of more than 7 weight tensors made an invalid pipeline,
      // which voids the whole command buffer it was recorded in); its concat splits the inputs.
      const norm = tf.sqrt(tf.sum(tf.stack(grads!.map((g) => tf.sum(tf.square(g))))));
      // [loss, 0, ...] + [0, norm, 0...]
      return tf.add(stats!, tf.mul(tf.oneHot(1, stats!.size), norm)) as tf.Tensor1D;
    });
    stats!.dispose();
    return { grads: grads!, stats: withNorm, samples: total, ownsGrads: true };
  }

  /** Clips (as configured, or at `maxNorm`) and applies the gradients; frees them. */
  applyGradients(pending: PendingStep, lr: number, maxNorm?: number): void {
    const clipping = this.#config.clipping;
    if (pending.hostGrads) {
      const host = pending.hostGrads;
      pending.hostGrads = undefined;
      if (this.#dense instanceof DenseHostProgram && isHostOptimizer(this.#optimizer)) {
        if (clipping.value !== undefined) clipHostValue(host, clipping.value);
        if (maxNorm !== undefined) clipHostNorm(host, maxNorm, clipping.normType);
        this.#dense.apply(this.#optimizer, host, lr);
        return;
      }
      // Another optimizer in place (the LR range test's probe): the tfjs path.
      pending.grads = host.map((g, i) => tf.tensor(g, this.variables[i].shape, "float32"));
    }
    const original = pending.grads;
    let grads = original;
    if (clipping.value !== undefined) {
      grads = replace(grads, clipGradValue(grads, clipping.value), original, pending.ownsGrads);
    }
    const fusedClip = this.#optimizer as Partial<GlobalClipStep>;
    // a step whose loss or gradient norm is not finite is skipped on the device (fused kernels),
    // where its results are not read yet (read already, and freed: the caller skipped it or not)
    if (pending.stats instanceof tf.Tensor && !pending.stats.isDisposed) {
      (this.#optimizer as Partial<GuardedStep>).guardNextStep?.(pending.stats);
    }
    if (maxNorm !== undefined && clipping.normType === 2 && fusedClip.stepClipped) {
      // The fused optimizer clips by the global L2 norm on the device, in its own pass.
      fusedClip.stepClipped(this.variables, grads, lr, maxNorm);
    } else {
      if (maxNorm !== undefined) {
        const normType = clipping.normType === "inf" ? Infinity : clipping.normType;
        const clipped = clipGradNorm(grads, maxNorm, normType);
        clipped.totalNorm.dispose();
        grads = replace(grads, clipped.grads, original, pending.ownsGrads);
      }
      this.#optimizer.step(this.variables, grads, lr);
    }
    for (let i = 0; i < grads.length; i++) {
      if (pending.ownsGrads || grads[i] !== original[i]) grads[i].dispose();
    }
    pending.grads = [];
  }

  /** Frees a step's gradients without applying them (a skipped step). */
  discardGradients(pending: PendingStep): void {
    if (pending.ownsGrads) { for (const g of pending.grads) g.dispose(); }
    pending.grads = [];
    pending.hostGrads = undefined;
  }

  /** Mean loss and metric sums of a batch in inference mode. */
  evaluate(batch: HostBatch | HostByteBatch): StepTensors {
    checkBatch(batch, this.#shape, "evaluate the batch");
    // The WGSL forward pass and loss in inference (dropout off, batch norm by its moving
    // averages): for recurrent layers always (tfjs unrolls each step of a sequence into its own
    // ops: on llvmpipe the LSTM workload's evaluation 1.3-1.9x faster here), for the others on a
    // hardware GPU, where tfjs's cost per op dominates; on a software adapter, bound by
    // arithmetic, tfjs's kernels evaluated an MLP and a cnn 1.1-1.4x faster (its large products
    // take a 64x64-tile kernel, this step's 32x32 tiles).
    if (
      this.#dense instanceof DenseGpuProgram &&
      (this.#dense.recurrent || !webGpuIsSoftware())
    ) {
      return { stats: this.#dense.evaluate(batch), samples: batch.size };
    }
    return tf.tidy(() => {
      const { x, y } = this.#tensors(floatBatch(batch));
      const output = forward(this.model, x, false);
      return {
        stats: this.#stats(output, y, this.#loss(output, y), tf.scalar(0)),
        samples: batch.size,
      };
    });
  }

  /**
   * Reads the results of steps (or evaluated batches) in one read-back and frees their tensors.
   * On WebGPU every vector is copied into one staging buffer: one `mapAsync` for all of them;
   * where WebGPU raised an error since the last read (a command it rejected, memory it could not
   * give), this throws it ({@linkcode takeWebGpuError}) instead of returning what was read.
   */
  async readStats(steps: StepTensors[]): Promise<StepValues[]> {
    const onDevice = steps.map((s) => s.stats).filter((s): s is tf.Tensor1D =>
      s instanceof tf.Tensor
    );
    for (const t of onDevice) this.#reading.add(t);
    let read: Float32Array[];
    try {
      read = await readVectors(onDevice);
    } finally {
      for (const t of onDevice) this.#reading.delete(t);
    }
    const rejected = takeWebGpuError();
    if (rejected) throw rejected;
    let next = 0;
    const vectors = steps.map((s) => (s.stats instanceof tf.Tensor ? read[next++] : s.stats));
    return steps.map((step, i) => ({
      loss: vectors[i][0],
      gradNorm: vectors[i][1],
      metricSums: Array.from(vectors[i].subarray(2)),
      samples: step.samples,
    }));
  }

  /**
   * tfjs memory held by results whose read-back is on its way (freed once it lands): what an
   * epoch end the trainer leaves before its reads are back must not count as the model's.
   */
  unreadResults(): { numTensors: number; numBytes: number } {
    let numTensors = 0;
    let numBytes = 0;
    for (const t of this.#reading) {
      if (t.isDisposed) continue;
      numTensors++;
      numBytes += 4 * t.size;
    }
    return { numTensors, numBytes };
  }

  /**
   * Memory a step of `rows` samples uses outside tfjs's accounting (`tf.memory()`,
   * `tf.profile`): the dense step's own buffers (WGSL) or arrays (host: the batch, activations,
   * gradients, the weights' host copies), and a host optimizer's slots (counted from its state);
   * 0 on tfjs's path.
   */
  async extraStepBytes(rows: number): Promise<number> {
    const dense = this.#dense?.extraBytes(rows) ?? 0;
    if (this.optimizerPath !== "host") return dense;
    const { slots } = await this.#optimizer.getState();
    return dense + Object.values(slots).reduce((bytes, slot) => bytes + 4 * slot.values.length, 0);
  }

  /** Frees results that will not be read. */
  releaseStats(steps: StepTensors[]): void {
    for (const step of steps) if (step.stats instanceof tf.Tensor) step.stats.dispose();
  }

  /** Every weight (trainable and not, e.g. batch-norm statistics), by name. */
  async readWeights(): Promise<Record<string, { shape: number[]; values: Float32Array }>> {
    const out: Record<string, { shape: number[]; values: Float32Array }> = {};
    const values = this.model.weights.map((weight) => weight.read());
    // the host step's weights from its own copies (each step's values, stored in the variables)
    const host = this.#dense instanceof DenseHostProgram ? this.#dense : undefined;
    const copies = host?.valuesOf(values) ?? values.map(() => undefined);
    // the rest in one read-back (on WebGPU one mapAsync, ~11 ms, instead of one a weight)
    const read = await readTensors(values.filter((_, i) => copies[i] === undefined));
    let next = 0;
    this.model.weights.forEach((weight, i) => {
      out[weight.name] = { shape: values[i].shape.slice(), values: copies[i] ?? read[next++] };
    });
    return out;
  }

  /**
   * Restores weights saved by {@linkcode readWeights}; every name and shape must match. `from`
   * names the checkpoint they were read from and the config the model was built from (a resume):
   * the error for weights of another model names both, and how to go on.
   */
  writeWeights(
    weights: Record<string, { shape: number[]; values: Float32Array }>,
    from?: { checkpoint: string; config: string; runId: string },
  ): void {
    const refuse = (checkpointHas: string, modelHas: string, older = false) => {
      // (anneal's LSTM and GRU layers had one bias, and its GRU tfjs's reset gate, before they
      // were torch's: such a run's weights are another model's)
      const why = older
        ? "the checkpoint was written by an older anneal, whose LSTM and GRU layers had one " +
          "bias where torch's have two (and whose GRU was not torch's); start a new run " +
          "instead of resuming"
        : "the checkpoint was written for a different model; start a new run instead of resuming";
      if (from === undefined) {
        return new AnnealError("checkpoint", `Checkpoint ${checkpointHas}, the model ${modelHas}`, {
          hint: why,
        });
      }
      // resumed: the model of config.json is not the one the checkpoint was trained as
      const { checkpoint, config, runId } = from;
      return new AnnealError(
        "checkpoint",
        `Cannot resume run '${runId}': checkpoint ${checkpoint} ${checkpointHas}, where the ` +
          `model of ${config} ${modelHas}`,
        {
          where: checkpoint,
          hint: older ? `${why}: \`anneal train -c ${shellWord(config)}\`` : "the checkpoint was " +
            `trained as another model than ${config} describes (was its model edited?): put ` +
            `back the model the run was started with to resume it, or start a new run of the ` +
            `model it describes now: \`anneal train -c ${shellWord(config)}\``,
        },
      );
    };
    for (const weight of this.model.weights) {
      const saved = weights[weight.name];
      if (!saved) {
        throw refuse(
          `has no weight '${weight.name}'`,
          `has one (of shape [${weight.shape}])`,
          weight.name.endsWith("/recurrent_bias"),
        );
      }
      if (saved.shape.join("x") !== weight.shape.join("x")) {
        throw refuse(
          `has weight '${weight.name}' of shape [${saved.shape}]`,
          `needs [${weight.shape}]`,
        );
      }
      const value = tf.tensor(saved.values, saved.shape);
      weight.write(value);
      value.dispose();
    }
  }

  /** Frees the model's and the optimizer's tensors. */
  dispose(): void {
    this.#dense?.dispose();
    this.#optimizer.dispose();
    this.model.dispose();
  }
}

function addDispose<T extends tf.Tensor>(a: T, b: T): T {
  const sum = tf.add(a, b) as T;
  a.dispose();
  b.dispose();
  return sum;
}

/** Swaps in `next`, freeing what it replaces unless the engine reuses it (`original`, not owned). */
function replace(
  old: tf.Tensor[],
  next: tf.Tensor[],
  original: tf.Tensor[],
  ownsOriginal: boolean,
): tf.Tensor[] {
  for (let i = 0; i < old.length; i++) {
    if (old[i] !== next[i] && (ownsOriginal || old[i] !== original[i])) old[i].dispose();
  }
  return next;
}
