/**
 * Whether a run's model can train through the dense WGSL step, and the layer plan if so.
 *
 * @module
 */
import type * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import type { RunConfig } from "../../config.ts";
import type { LossName } from "../../models/losses.ts";
import type { DensePlan } from "./gpu_program.ts";
import type { DenseActivation } from "./wgsl.ts";

const ACTIVATIONS: readonly string[] = ["relu", "tanh", "sigmoid"];

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
): DensePlan | string {
  const model = config.model;
  let activation: DenseActivation = "linear";
  if (model.kind === "mlp") {
    if (model.batchNorm) return "batch norm";
    if (model.dropout > 0) return "dropout";
    if (!ACTIVATIONS.includes(model.activation)) return `the ${model.activation} activation`;
    activation = model.activation as DenseActivation;
  } else if (model.kind !== "linear") {
    return `a ${model.kind} model`;
  }
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
  return { layers, loss, targetSize };
}
