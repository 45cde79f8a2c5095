/**
 * The forward pass with an explicit training flag: dropout is active and batch norm uses (and
 * updates) batch statistics only when `training` is true. A training pass's dropout masks are
 * those of the seed it is given (see dropout.ts's `dropoutSeed`: run seed, step, micro-batch).
 *
 * @module
 */

import type * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import type * as tfl from "npm:@tensorflow/tfjs-layers@4.22.0";
import { checkArgument } from "../option_names.ts";
import { withDropoutSeed } from "./dropout.ts";

/**
 * Runs `model` on a batch `x` ([batch, ...inputShape]) and returns its outputs [batch, units].
 * In training, its dropout layers draw the masks of `dropoutSeed` (each layer its own), the same
 * masks for the same seed; without one, each layer draws a new mask each pass from its own stream.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
 * import { buildModel } from "./build.ts";
 * import { forward } from "./forward.ts";
 * await tf.setBackend("cpu");
 * const model = buildModel({ kind: "linear" }, { inputShape: [3], outputUnits: 2 }, 1);
 * const y = forward(model, tf.ones([5, 3]), false);
 * console.assert(y.shape[0] === 5 && y.shape[1] === 2);
 * ```
 */
export function forward(
  model: tfl.LayersModel,
  x: tf.Tensor,
  training: boolean,
  dropoutSeed?: number,
): tf.Tensor {
  checkArgument(
    typeof (model as { apply?: unknown } | null)?.apply === "function",
    model === null || typeof model !== "object" ? model : "an object without apply",
    "run the model forward",
    "model",
    "a model",
    "pass the model buildModel(spec, shape) gives",
  );
  return withDropoutSeed(
    model,
    training ? dropoutSeed : undefined,
    () => model.apply(x, { training }) as tf.Tensor,
  );
}
