/**
 * Stable weight names. tfjs-layers makes every weight name unique per process by appending `_1`,
 * `_2`, ... each time a layer of the same name is built again, so a second `buildModel` in the
 * same process would name its weights `head/kernel_1`. Checkpoints and optimizer state are keyed
 * by name, so after each build we give the variables back their plain names (`head/kernel`)
 * whenever no live variable holds that name (i.e. earlier models were disposed).
 *
 * @module
 */

import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import type * as tfl from "npm:@tensorflow/tfjs-layers@4.22.0";

/**
 * Renames the model's variables to their layer-scoped names where that name is free; returns how
 * many were renamed.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
 * import { buildModel } from "./build.ts";
 * import { stabilizeWeightNames } from "./names.ts";
 * await tf.setBackend("cpu");
 * const model = buildModel({ kind: "linear" }, { inputShape: [2], outputUnits: 1 }, 0);
 * console.assert(stabilizeWeightNames(model) === 0); // buildModel already did it
 * ```
 */
export function stabilizeWeightNames(model: tfl.LayersModel): number {
  const registry = tf.engine().state.registeredVariables;
  let renamed = 0;
  for (const weight of model.weights) {
    const variable = weight.read() as tf.Variable;
    const stable = weight.originalName;
    if (variable.name === stable || registry[stable] !== undefined) continue;
    delete registry[variable.name];
    variable.name = stable;
    registry[stable] = variable;
    (weight as { name: string }).name = stable;
    renamed++;
  }
  return renamed;
}

/**
 * The model's variables by name: trainable ones first, then batch-norm running statistics.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
 * import { buildModel } from "./build.ts";
 * import { namedWeights } from "./names.ts";
 * await tf.setBackend("cpu");
 * const model = buildModel({ kind: "linear" }, { inputShape: [2], outputUnits: 1 }, 0);
 * const names = namedWeights(model).map((w) => w.name);
 * // (["head/kernel_1", "head/bias_1"] where a model built before, not disposed, holds the names)
 * const plain = names.map((name) => name.replace(/_\d+$/, ""));
 * console.assert(plain.join() === "head/kernel,head/bias");
 * ```
 */
export function namedWeights(
  model: tfl.LayersModel,
): { name: string; variable: tf.Variable; trainable: boolean }[] {
  return model.weights.map((weight) => {
    const variable = weight.read() as tf.Variable;
    return { name: variable.name, variable, trainable: weight.trainable };
  });
}
