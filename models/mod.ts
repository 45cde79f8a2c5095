/**
 * Models: specs, builders with PyTorch-style initialisation, the forward pass, losses and
 * metrics.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
 * import { buildModel, forward, lossFunction } from "./mod.ts";
 * await tf.setBackend("cpu");
 * const model = buildModel({ kind: "mlp", hidden: [4] }, { inputShape: [2], outputUnits: 3 }, 0);
 * const loss = lossFunction("crossEntropy")(forward(model, tf.ones([2, 2]), true), tf.tensor1d([0, 2]));
 * console.assert(Number.isFinite(loss.dataSync()[0]));
 * ```
 *
 * @module
 */

export {
  CnnSpecSchema,
  LinearSpecSchema,
  MlpSpecSchema,
  type ModelKind,
  type ModelSpec,
  ModelSpecSchema,
  type ResolvedModelSpec,
  RnnSpecSchema,
} from "./spec.ts";
export { buildModel, countParameters, type ModelShape } from "./build.ts";
export { forward } from "./forward.ts";
export { namedWeights, stabilizeWeightNames } from "./names.ts";
export {
  defaultLoss,
  type LossFunction,
  lossFunction,
  type LossName,
  type Reduction,
  type Task,
} from "./losses.ts";
export { accuracy, mae } from "./metrics.ts";
