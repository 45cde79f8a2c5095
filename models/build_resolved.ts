/**
 * Builds a tfjs-layers model from a resolved model spec. Layers get fixed names (`dense0`,
 * `conv1`, `bn0`, `lstm0`, `head`, ...) so that weight names are the same on every build, and
 * PyTorch's default initialisation (see `init.ts`). It does not import the specs' schema, so the
 * trainer's Worker need not load zod; `buildModel` (build.ts) validates a spec as a user writes
 * it, then builds here.
 *
 * @module
 */

import * as tfl from "npm:@tensorflow/tfjs-layers@4.22.0";
import { AnnealError } from "../errors.ts";
import { batchNormalization } from "./batch_norm.ts";
import { conv2d } from "./conv.ts";
import { dense as denseLayer } from "./dense.ts";
import { dropout as dropoutLayer } from "./dropout.ts";
import { InitFactory } from "./init.ts";
import { recurrentLayer } from "./recurrent.ts";
import { stabilizeWeightNames } from "./names.ts";
import type { ResolvedModelSpec } from "./spec.ts";
import { seedFrom } from "../data/rng.ts";

/** The data-dependent shape of a model: per-sample input shape and the number of outputs. */
export interface ModelShape {
  /** Shape of one sample, e.g. [28, 28, 1] for images, [seqLen, features] for sequences. */
  inputShape: number[];
  /** Output units: 1 for binary or single-target regression, the class count for classification. */
  outputUnits: number;
}

type Sym = tfl.SymbolicTensor;

/** torch.nn.BatchNorm defaults: momentum 0.1 (Keras counts 1 - momentum), eps 1e-5. */
const batchNormArgs = { momentum: 0.9, epsilon: 1e-5 } as const;

/**
 * `buildModel` (build.ts) of a resolved spec (defaults filled in, validated), as a parsed run
 * config holds it: what the trainer's Worker calls, without loading the spec's schema (zod).
 * The shape and seed are checked here.
 */
export function buildResolvedModel(
  resolved: ResolvedModelSpec,
  shape: ModelShape,
  seed: number,
): tfl.LayersModel {
  checkShape(shape);
  if (typeof seed !== "number" || !Number.isFinite(seed)) {
    throw new AnnealError(
      "config",
      `Cannot build model: 'seed' must be a finite number, current value is ${
        typeof seed === "number" ? seed : JSON.stringify(seed) ?? String(seed)
      }`,
      { where: "seed", hint: "pass the run's seed, e.g. buildModel(spec, shape, 0)" },
    );
  }
  const init = new InitFactory(seed);
  const input = tfl.input({ shape: shape.inputShape, name: "input" });
  const output = body(resolved, input, shape, init);
  const model = tfl.model({ inputs: input, outputs: output, name: resolved.kind });
  stabilizeWeightNames(model);
  return model;
}

/**
 * The number of trainable parameters (PyTorch's `sum(p.numel() for p in model.parameters())`;
 * batch-norm running statistics are buffers and do not count).
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
 * import { buildModel, countParameters } from "./build.ts";
 * await tf.setBackend("cpu");
 * const model = buildModel({ kind: "linear" }, { inputShape: [4], outputUnits: 1 }, 1);
 * console.assert(countParameters(model) === 5);
 * model.dispose();
 * ```
 */
export function countParameters(model: tfl.LayersModel): number {
  let total = 0;
  for (const weight of model.trainableWeights) {
    total += (weight.shape as number[]).reduce((a, b) => a * b, 1);
  }
  return total;
}

function checkShape(shape: ModelShape): void {
  const { inputShape, outputUnits } = (shape ?? {}) as Partial<ModelShape>;
  if (
    !Array.isArray(inputShape) || inputShape.length === 0 ||
    inputShape.some((d) => !Number.isInteger(d) || d <= 0)
  ) {
    throw new AnnealError(
      "config",
      `Cannot build model: 'inputShape' must be positive integers, current value is ${
        Array.isArray(inputShape) ? `[${inputShape}]` : JSON.stringify(inputShape) ?? "undefined"
      }`,
      { where: "model", hint: "check the data section: every sample needs a non-empty shape" },
    );
  }
  if (typeof outputUnits !== "number" || !Number.isInteger(outputUnits) || outputUnits <= 0) {
    throw new AnnealError(
      "config",
      `Cannot build model: 'outputUnits' must be a positive integer, current value is ${outputUnits}`,
      { where: "model", hint: "use 1 for regression/binary data, the class count otherwise" },
    );
  }
}

function body(spec: ResolvedModelSpec, input: Sym, shape: ModelShape, init: InitFactory): Sym {
  switch (spec.kind) {
    case "linear":
      return head(flatten(input), shape.outputUnits, init);
    case "mlp":
      return mlp(spec, input, shape.outputUnits, init);
    case "cnn":
      return cnn(spec, input, shape, init);
    case "rnn":
      return rnn(spec, input, shape, init);
  }
}

function flatten(x: Sym): Sym {
  return x.shape.length > 2 ? tfl.layers.flatten({ name: "flatten" }).apply(x) as Sym : x;
}

function lastDim(x: Sym): number {
  return x.shape[x.shape.length - 1] as number;
}

function dense(x: Sym, units: number, name: string, init: InitFactory): Sym {
  return denseLayer({ units, name, ...init.layer(lastDim(x)) }).apply(x) as Sym;
}

function head(x: Sym, units: number, init: InitFactory): Sym {
  return dense(x, units, "head", init);
}

/**
 * Dropout at `rate` after `x` (layer `dropout${i}`): seeded masks (see dropout.ts), which the
 * engine names each training pass; its own stream (from the model's seed) serves a pass that
 * names none.
 */
function dropout(x: Sym, rate: number, i: number, seed: number): Sym {
  const own = Number.isSafeInteger(seed) ? seedFrom(seed, i) : i;
  return dropoutLayer({ rate, name: `dropout${i}`, seed: own }).apply(x) as Sym;
}

function mlp(
  spec: Extract<ResolvedModelSpec, { kind: "mlp" }>,
  input: Sym,
  outputUnits: number,
  init: InitFactory,
): Sym {
  let x = flatten(input);
  spec.hidden.forEach((units, i) => {
    x = dense(x, units, `dense${i}`, init);
    if (spec.batchNorm) {
      x = batchNormalization({ name: `bn${i}`, ...batchNormArgs }).apply(x) as Sym;
    }
    x = tfl.layers.activation({ activation: spec.activation, name: `act${i}` }).apply(x) as Sym;
    if (spec.dropout > 0) {
      x = dropout(x, spec.dropout, i, init.seed);
    }
  });
  return head(x, outputUnits, init);
}

function cnn(
  spec: Extract<ResolvedModelSpec, { kind: "cnn" }>,
  input: Sym,
  shape: ModelShape,
  init: InitFactory,
): Sym {
  let x = input;
  if (shape.inputShape.length === 2) {
    x = tfl.layers.reshape({ targetShape: [...shape.inputShape, 1], name: "channels" }).apply(
      x,
    ) as Sym;
  } else if (shape.inputShape.length !== 3) {
    throw new AnnealError(
      "config",
      `Cannot build cnn model: input must be images [height, width, channels], current shape is [${shape.inputShape}]`,
      {
        where: "model.kind",
        hint: "use kind 'mlp' for tabular data; for images, load IDX data without " +
          "data.flatten (flattened, an image is a vector: --set data.flatten=false)",
      },
    );
  }
  checkPooling(spec, shape.inputShape[0], shape.inputShape[1]);
  spec.filters.forEach((filters, i) => {
    const fanIn = spec.kernelSize * spec.kernelSize * lastDim(x);
    x = conv2d({
      filters,
      kernelSize: spec.kernelSize,
      padding: "same",
      name: `conv${i}`,
      ...init.layer(fanIn),
    }).apply(x) as Sym;
    if (spec.batchNorm) {
      x = batchNormalization({ name: `convbn${i}`, ...batchNormArgs }).apply(x) as Sym;
    }
    // conv-bn-relu-pool, with the relu after the pool: max-pooling commutes with relu (a
    // non-decreasing function), so the outputs are the same, and relu and its gradient run on
    // a quarter of the values (pool 2). The gradients differ only where a window holds equal
    // positive maxima (which one gets the gradient).
    if (spec.pool > 1) {
      x = tfl.layers.maxPooling2d({ poolSize: spec.pool, strides: spec.pool, name: `pool${i}` })
        .apply(x) as Sym;
    }
    x = tfl.layers.reLU({ name: `convrelu${i}` }).apply(x) as Sym;
  });
  x = flatten(x);
  spec.dense.forEach((units, i) => {
    x = dense(x, units, `dense${i}`, init);
    x = tfl.layers.reLU({ name: `relu${i}` }).apply(x) as Sym;
    if (spec.dropout > 0) {
      x = dropout(x, spec.dropout, i, init.seed);
    }
  });
  return head(x, shape.outputUnits, init);
}

/**
 * Each conv block keeps its maps' size ("same" padding) and its pool divides it, rounding down: a
 * map pooled below 1x1 has no values, and the dense layers after it none to read (their weights'
 * fan-in is 0, so they start NaN). torch's MaxPool2d raises there ("Output size is too small").
 */
function checkPooling(
  spec: Extract<ResolvedModelSpec, { kind: "cnn" }>,
  height: number,
  width: number,
): void {
  if (spec.pool <= 1) return;
  let [h, w] = [height, width];
  for (let block = 0; block < spec.filters.length; block++) {
    const [pooledH, pooledW] = [Math.floor(h / spec.pool), Math.floor(w / spec.pool)];
    if (pooledH === 0 || pooledW === 0) {
      const fits = block; // the blocks before this one
      throw new AnnealError(
        "config",
        `Cannot build cnn model: conv block ${block} gets ${h}x${w} maps, which its pool ` +
          `${spec.pool} makes ${pooledH}x${pooledW}: no values are left (from ${height}x${width} ` +
          `images, ${spec.filters.length} block${spec.filters.length === 1 ? "" : "s"} of pool ` +
          `${spec.pool})`,
        {
          where: "model.filters",
          hint: fits > 0
            ? `use at most ${fits} conv block${fits === 1 ? "" : "s"} for ${height}x${width} ` +
              `images (--set 'model.filters=${JSON.stringify(spec.filters.slice(0, fits))}'), ` +
              `or a smaller pool (model.pool)`
            : `use a pool of at most ${Math.min(height, width)} (model.pool), or 1 for none`,
        },
      );
    }
    [h, w] = [pooledH, pooledW];
  }
}

function rnn(
  spec: Extract<ResolvedModelSpec, { kind: "rnn" }>,
  input: Sym,
  shape: ModelShape,
  init: InitFactory,
): Sym {
  // Images [h, w, c] read as h steps of w*c features; a flat vector as n steps of one feature.
  const [steps, ...rest] = shape.inputShape;
  const features = rest.length === 0 ? 1 : rest.reduce((a, b) => a * b, 1);
  let x = input;
  if (shape.inputShape.length !== 2) {
    x = tfl.layers.reshape({ targetShape: [steps, features], name: "sequence" }).apply(x) as Sym;
  }
  for (let i = 0; i < spec.layers; i++) {
    const last = i === spec.layers - 1;
    // torch's nn.LSTM / nn.GRU: two biases, torch's GRU (see recurrent.ts)
    x = recurrentLayer({
      cell: spec.cell,
      units: spec.units,
      returnSequences: !last,
      name: `${spec.cell}${i}`,
      ...init.recurrent(spec.units),
    }).apply(x) as Sym;
    if (!last && spec.dropout > 0) {
      x = dropout(x, spec.dropout, i, init.seed);
    }
  }
  return head(x, shape.outputUnits, init);
}
