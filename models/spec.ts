/**
 * The model section of a run config: one strict zod schema per architecture, discriminated on
 * `kind`. Defaults follow common PyTorch baselines (see each field).
 *
 * @module
 */

import { z } from "npm:zod@4.6.7";

export { dropoutHasLayers } from "./dropout_layers.ts";

const positiveInt = z.number().int().positive();
const dropoutRate = z.number().min(0).lt(1);

/** A single dense layer from the (flattened) input to the outputs: linear/logistic regression. */
export const LinearSpecSchema = z.strictObject({ kind: z.literal("linear") });

/** Multi-layer perceptron: dense -> [batch norm] -> activation -> [dropout], per hidden layer. */
export const MlpSpecSchema = z.strictObject({
  kind: z.literal("mlp"),
  /** Units of each hidden layer. */
  hidden: z.array(positiveInt).default([128]),
  activation: z.enum(["relu", "tanh", "gelu", "sigmoid"]).default("relu"),
  /** Dropout after each hidden activation; 0 disables it. */
  dropout: dropoutRate.default(0),
  /** Batch norm between each hidden dense layer and its activation. */
  batchNorm: z.boolean().default(false),
});

/**
 * Convnet: per entry of `filters` a block conv -> [batch norm] -> relu -> max pool, then dense
 * layers. The defaults are the Fashion-MNIST benchmark net (conv32, conv64, dense128).
 */
export const CnnSpecSchema = z.strictObject({
  kind: z.literal("cnn"),
  filters: z.array(positiveInt).min(1).default([32, 64]),
  /** Square kernel side; convolutions use "same" padding. */
  kernelSize: positiveInt.default(3),
  /** Max-pool window and stride after each conv block; 1 disables pooling. */
  pool: positiveInt.default(2),
  batchNorm: z.boolean().default(true),
  /** Dropout after each dense hidden layer. */
  dropout: dropoutRate.default(0),
  dense: z.array(positiveInt).default([128]),
});

/**
 * Recurrent net over inputs [seqLen, features]: stacked LSTM/GRU, last timestep, dense head. The
 * layers are torch's nn.LSTM and nn.GRU, with their two biases (see recurrent.ts).
 */
export const RnnSpecSchema = z.strictObject({
  kind: z.literal("rnn"),
  cell: z.enum(["lstm", "gru"]).default("lstm"),
  units: positiveInt.default(128),
  layers: positiveInt.default(1),
  /** Dropout between stacked recurrent layers, as torch.nn.LSTM's `dropout`. */
  dropout: dropoutRate.default(0),
});

/**
 * Any model spec.
 *
 * @example
 * ```ts
 * import { ModelSpecSchema } from "./spec.ts";
 * const spec = ModelSpecSchema.parse({ kind: "cnn" });
 * console.assert(spec.kind === "cnn" && spec.filters.length === 2);
 * ```
 */
export const ModelSpecSchema = z.discriminatedUnion("kind", [
  LinearSpecSchema,
  MlpSpecSchema,
  CnnSpecSchema,
  RnnSpecSchema,
]);

/** A model spec as written by the user (defaults optional). */
export type ModelSpec = z.input<typeof ModelSpecSchema>;
/** A model spec with every default filled in. */
export type ResolvedModelSpec = z.output<typeof ModelSpecSchema>;
/** The architecture names. */
export type ModelKind = ResolvedModelSpec["kind"];
