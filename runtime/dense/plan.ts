/**
 * Whether a run's model can train through the dense WGSL step, and the layer plan if so.
 *
 * @module
 */
import type * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import type * as tfl from "npm:@tensorflow/tfjs-layers@4.22.0";
import type { RunConfig } from "../../config.ts";
import type { BatchNormState } from "../../models/batch_norm.ts";
import type { LossName } from "../../models/losses.ts";
import { type ConvBlock, MAX_CONV_ROWS } from "./conv.ts";
import type { DensePlan } from "./gpu_program.ts";
import { gateCount, type RecurrentLayer } from "./recurrent.ts";
import { MAX_GROUPS } from "./dispatch.ts";
import { dropoutHasLayers } from "../../models/dropout_layers.ts";
import { TILE } from "./wgsl.ts";
import type { DenseActivation } from "./wgsl.ts";

const ACTIVATIONS: readonly string[] = ["relu", "tanh", "sigmoid", "gelu"];

/**
 * The plan for `variables` (kernel, bias per dense layer, as the model builder orders them), or
 * the reason the model needs tfjs's path.
 *
 * @example
 * ```ts ignore
 * import { densePlan } from "./plan.ts";
 * const plan = densePlan(config, engine.variables, "crossEntropy", 1);
 * if (typeof plan === "string") console.log(`tfjs path: ${plan}`);
 * ```
 */
export function densePlan(
  config: RunConfig,
  variables: tf.Variable[],
  loss: LossName,
  targetSize: number,
  built?: tfl.LayersModel,
): DensePlan | string {
  const model = config.model;
  let activation: DenseActivation = "linear";
  let dropout = 0;
  if (model.kind === "mlp") {
    // (an MLP without hidden layers has no batch norm or dropout layer: its head alone, which
    // this plan takes, where it was sent to tfjs's path for layers it does not have)
    if (model.batchNorm && model.hidden.length > 0) {
      if (!built) return "batch norm";
      return normPlan(config, built, variables, loss, targetSize);
    }
    if (model.hidden.length > 0) {
      if (!ACTIVATIONS.includes(model.activation)) return `the ${model.activation} activation`;
      activation = model.activation as DenseActivation;
    }
    if (dropoutHasLayers(model)) dropout = model.dropout;
  } else if (model.kind !== "linear") {
    return kindReason(model.kind);
  }
  return headPlan(variables, activation, loss, targetSize, dropout);
}

/**
 * The plan of an MLP with batch norm: per hidden layer kernel, bias, gamma and beta (the
 * variables' order), its batch-norm layer `bn<i>` read from the built model; then the head.
 */
function normPlan(
  config: RunConfig,
  built: tfl.LayersModel,
  variables: tf.Variable[],
  loss: LossName,
  targetSize: number,
): DensePlan | string {
  const spec = config.model;
  if (spec.kind !== "mlp") return kindReason(spec.kind);
  if (!ACTIVATIONS.includes(spec.activation)) return `the ${spec.activation} activation`;
  const hidden = spec.hidden.length;
  const head = headPlan(
    [
      ...Array.from({ length: hidden }, (_, i) => variables.slice(4 * i, 4 * i + 2)).flat(),
      ...variables.slice(4 * hidden),
    ],
    spec.activation as DenseActivation,
    loss,
    targetSize,
    dropoutHasLayers(spec) ? spec.dropout : 0,
  );
  if (typeof head === "string") return head;
  for (let i = 0; i < hidden; i++) {
    const norm = batchNorm(built, `bn${i}`, variables.slice(4 * i + 2, 4 * i + 4), i);
    if (typeof norm === "string") return norm;
    head.layers[i].norm = norm;
  }
  return head;
}

/**
 * Batch-norm layer `name` of the built model (the `i`-th of its kind) for the WGSL step, whose
 * trainable weights must be `[gamma, beta]`, or the reason it is not there.
 */
function batchNorm(
  model: tfl.LayersModel,
  name: string,
  [gamma, beta]: tf.Variable[],
  i: number,
): NonNullable<ConvBlock["norm"]> | string {
  let layer: BatchNormState;
  try {
    layer = model.getLayer(name) as unknown as BatchNormState;
  } catch {
    return `no batch-norm layer ${name}`;
  }
  if (!layer.gamma || layer.gamma.read() !== gamma || layer.beta?.read() !== beta) {
    return `weights ${gamma?.name} and ${beta?.name} are not batch norm ${i}'s`;
  }
  return {
    gamma,
    beta,
    movingMean: layer.movingMean.read() as tf.Variable,
    movingVariance: layer.movingVariance.read() as tf.Variable,
    momentum: layer.momentum,
    epsilon: layer.epsilon,
  };
}

/** The reason a plan does not take a model of `kind`: "a cnn model", "an rnn model". */
function kindReason(kind: string): string {
  return `${/^[aeiou]|^rnn|^mlp/.test(kind) ? "an" : "a"} ${kind} model`;
}

/**
 * Dense layers from (kernel, bias) pairs, hidden ones with `activation` followed by dropout at
 * `dropout` (0: none), and the loss checks.
 */
function headPlan(
  variables: tf.Variable[],
  activation: DenseActivation,
  loss: LossName,
  targetSize: number,
  dropout = 0,
): DensePlan | string {
  if (variables.length % 2 !== 0) return "an odd number of weights";
  const layers: DensePlan["layers"] = [];
  for (let i = 0; i < variables.length; i += 2) {
    const [kernel, bias] = [variables[i], variables[i + 1]];
    if (kernel.rank !== 2 || bias.rank !== 1 || bias.shape[0] !== kernel.shape[1]) {
      return `weights ${kernel.name} and ${bias.name} are not a dense layer`;
    }
    layers.push({
      kernel,
      bias,
      inputs: kernel.shape[0],
      units: kernel.shape[1],
      activation: i + 2 === variables.length ? "linear" : activation,
    });
  }
  const outputs = layers[layers.length - 1].units;
  if (loss === "crossEntropy" && targetSize !== 1) return "one-hot targets";
  if (loss === "binaryCrossEntropy" && (outputs !== 1 || targetSize !== 1)) {
    return "a binary loss over several outputs";
  }
  if (loss === "mse" && targetSize !== outputs) return "targets of another size than the outputs";
  return dropout > 0 && layers.length > 1
    ? { layers, loss, targetSize, dropout }
    : { layers, loss, targetSize };
}

/**
 * The plan of a `cnn` model for the WGSL step (conv blocks, then the dense layers), or the reason
 * it needs tfjs's path. `model` is the built model (its batch-norm layers' statistics and
 * settings), `variables` its trainable weights in order, `inputShape` one sample's.
 *
 * @example
 * ```ts ignore
 * import { cnnPlan } from "./plan.ts";
 * const plan = cnnPlan(config, engine.model, engine.variables, "crossEntropy", [28, 28, 1], 1);
 * if (typeof plan !== "string") console.log(`${plan.convs?.length} conv blocks in WGSL`);
 * ```
 */
export function cnnPlan(
  config: RunConfig,
  model: tfl.LayersModel,
  variables: tf.Variable[],
  loss: LossName,
  inputShape: number[],
  targetSize: number,
): DensePlan | string {
  const spec = config.model;
  if (spec.kind !== "cnn") return kindReason(spec.kind);
  if (inputShape.length !== 2 && inputShape.length !== 3) return `inputs of shape [${inputShape}]`;
  let [height, width, channels = 1] = inputShape;
  const convs: ConvBlock[] = [];
  let v = 0;
  for (const [i, filters] of spec.filters.entries()) {
    const [kernel, bias] = [variables[v], variables[v + 1]];
    const side = spec.kernelSize;
    if (
      kernel?.shape.join("x") !== [side, side, channels, filters].join("x") ||
      bias?.shape.join("x") !== `${filters}`
    ) {
      return `weights ${kernel?.name} and ${bias?.name} are not conv block ${i}`;
    }
    let norm: ConvBlock["norm"];
    if (spec.batchNorm) {
      const found = batchNorm(model, `convbn${i}`, variables.slice(v + 2, v + 4), i);
      if (typeof found === "string") return found;
      norm = found;
    }
    convs.push({
      kernel,
      bias,
      norm,
      height,
      width,
      inChannels: channels,
      outChannels: filters,
      kernelSize: side,
      pool: spec.pool,
    });
    v += norm ? 4 : 2;
    [height, width, channels] = [
      Math.floor(height / spec.pool),
      Math.floor(width / spec.pool),
      filters,
    ];
  }
  const positions = config.batchSize * convs[0].height * convs[0].width;
  if (positions > MAX_CONV_ROWS) {
    return `${positions} positions in a batch's first convolution (at most ${MAX_CONV_ROWS})`;
  }
  const dropout = dropoutHasLayers(spec) ? spec.dropout : 0;
  const head = headPlan(variables.slice(v), "relu", loss, targetSize, dropout);
  if (typeof head === "string") return head;
  if (head.layers[0].inputs !== height * width * channels) {
    return `a first dense layer of ${
      head.layers[0].inputs
    } inputs after ${height}x${width}x${channels}`;
  }
  return { ...head, convs };
}

/**
 * The plan of an `rnn` model for the WGSL step (its recurrent layers, then the dense head), or
 * the reason it needs tfjs's path. `variables` are its trainable weights in order (per layer
 * kernel, recurrent kernel, bias, recurrent bias; then the head's), `inputShape` one sample's,
 * `maxBindingBytes` the device's largest storage binding (each step's gates for a whole batch's
 * sequences are one).
 *
 * @example
 * ```ts ignore
 * import { rnnPlan } from "./plan.ts";
 * const plan = rnnPlan(config, engine.variables, "crossEntropy", [32, 16], 1, 2 ** 27);
 * if (typeof plan !== "string") console.log(`${plan.recurrent?.layers.length} layers in WGSL`);
 * ```
 */
export function rnnPlan(
  config: RunConfig,
  variables: tf.Variable[],
  loss: LossName,
  inputShape: number[],
  targetSize: number,
  maxBindingBytes: number,
): DensePlan | string {
  const spec = config.model;
  if (spec.kind !== "rnn") return kindReason(spec.kind);
  if (inputShape.length === 0) return "inputs without steps";
  // as the model builder reads them: [steps, ...features] (a flat vector: steps of one feature)
  const [steps, ...rest] = inputShape;
  const features = rest.reduce((a, b) => a * b, 1);
  const width = gateCount(spec.cell) * spec.units;
  // the largest buffer: a layer's saved gates (4 values a unit, each step of each sequence), or
  // the inputs made time-major
  const largest = 4 * steps * config.batchSize * Math.max(4 * spec.units, features);
  const rows = steps * config.batchSize;
  if (Math.ceil(rows / TILE) > MAX_GROUPS) {
    return `${rows} steps in a batch's sequences (at most ${MAX_GROUPS * TILE})`;
  }
  if (largest > maxBindingBytes) {
    return `${(largest / 2 ** 20).toFixed(0)} MiB of gates a batch in one buffer (this ` +
      `device binds at most ${(maxBindingBytes / 2 ** 20).toFixed(0)} MiB)`;
  }
  const layers: RecurrentLayer[] = [];
  for (let i = 0; i < spec.layers; i++) {
    const [kernel, recurrentKernel, bias, recurrentBias] = variables.slice(4 * i, 4 * i + 4);
    const inputs = i === 0 ? features : spec.units;
    const shapes = [[inputs, width], [spec.units, width], [width], [width]];
    const found = [kernel, recurrentKernel, bias, recurrentBias];
    if (found.some((v, k) => v?.shape.join("x") !== shapes[k].join("x"))) {
      return `weights ${found.map((v) => v?.name).join(", ")} are not recurrent layer ${i}'s`;
    }
    layers.push({ kernel, recurrentKernel, bias, recurrentBias, inputs });
  }
  const head = headPlan(variables.slice(4 * spec.layers), "linear", loss, targetSize);
  if (typeof head === "string") return head;
  if (head.layers[0].inputs !== spec.units) {
    return `a first dense layer of ${head.layers[0].inputs} inputs after ${spec.units} units`;
  }
  // An evaluation batch (at least 256 samples) is recorded whole where its buffers fit too.
  const evalRows = Math.min(
    Math.floor(maxBindingBytes / (largest / config.batchSize)),
    Math.floor((MAX_GROUPS * TILE) / steps),
    MAX_GROUPS,
  );
  // (torch's nn.LSTM dropout: between stacked layers only)
  const dropout = spec.layers > 1 && spec.dropout > 0 ? spec.dropout : undefined;
  return {
    ...head,
    recurrent: { cell: spec.cell, units: spec.units, steps, layers, dropout },
    evalRows,
  };
}
