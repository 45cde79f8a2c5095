/**
 * `createOptimizer`: an optimizer from a spec as a user writes it, validated here, then created by
 * core.ts (which also holds the rest of this module's exports: the optimizer's interface, its
 * state, and the checks its kinds share).
 *
 * @module
 */

import { parseOptimizerSpec } from "./parse.ts";
import type { OptimizerSpec } from "./spec.ts";
import { type CreateOptimizerOptions, createResolvedOptimizer, type Optimizer } from "./core.ts";

export {
  checkCountAndLr,
  checkMomentum,
  checkStateOwner,
  checkStepArguments,
  type CreateOptimizerOptions,
  createResolvedOptimizer,
  groupSlots,
  hasFusedKernels,
  type Optimizer,
  type OptimizerState,
  readSlots,
  type SavedTensor,
  torchSlotNames,
} from "./core.ts";

/**
 * Creates an optimizer from a spec, validating it first.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
 * import { createOptimizer } from "./optimizer.ts";
 * await tf.setBackend("cpu");
 * const weight = tf.variable(tf.tensor2d([[1, 2], [3, 4]]), true, "w");
 * const optimizer = createOptimizer({ name: "sgd", lr: 0.1 });
 * optimizer.step([weight], [tf.onesLike(weight)]);
 * console.assert(Math.abs(weight.arraySync()[0][0] - 0.9) < 1e-6);
 * optimizer.dispose();
 * ```
 */
export function createOptimizer(
  input: OptimizerSpec,
  options: CreateOptimizerOptions = {},
): Optimizer {
  return createResolvedOptimizer(parseOptimizerSpec(input), options);
}
