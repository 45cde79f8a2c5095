/**
 * Optimizers for tfjs variables with torch.optim's names, defaults and numbers, built Optax-style
 * from small gradient transformations; gradient clipping and the batch-size scaling rules (linear, sqrt).
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
 * import { createOptimizer } from "./mod.ts";
 * await tf.setBackend("cpu");
 * const w = tf.variable(tf.zeros([2, 2]), true, "example/kernel");
 * const adamw = createOptimizer({ name: "adamw", lr: 1e-3 });
 * adamw.step([w], [tf.onesLike(w)]);
 * adamw.dispose();
 * ```
 *
 * @module
 */

export {
  createOptimizer,
  type Optimizer,
  type OptimizerState,
  type SavedTensor,
} from "./optimizer.ts";
export {
  type OptimizerName,
  type OptimizerSpec,
  OptimizerSpecSchema,
  ParamGroupSchema,
  type ResolvedOptimizerSpec,
} from "./spec.ts";
export { parseOptimizerSpec } from "./parse.ts";
export { AutoClip, clipGradNorm, clipGradValue, type ClipResult } from "./clipping.ts";
export {
  type BatchScaling,
  batchScalingOf,
  type ScaledLearningRate,
  scaleLearningRate,
} from "./scaling.ts";
export { chain, type Slots, type Transform, type TransformContext } from "./transform.ts";
