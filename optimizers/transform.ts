/**
 * The one mechanism behind every optimizer, after Optax: a gradient transformation is a pair
 * `init(param) -> slots` and `update(update, slots, context) -> [update, slots]`, and the familiar
 * optimizers are chains of small ones (`adamw = chain(scaleByAdam, scaleByLearningRate,
 * decoupledWeightDecay)`). Transformations work on one parameter at a time, like torch.optim's
 * single-tensor loops; the final update is added to the parameter.
 *
 * Ownership: `update` runs inside the optimizer's `tf.tidy`; the slots it returns are kept by the
 * optimizer, which disposes the previous ones.
 *
 * @module
 */

import type * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { AnnealError } from "../errors.ts";

/** The state of one transformation for one parameter: named tensors ("exp_avg", ...). */
export type Slots = Record<string, tf.Tensor>;

/** What a transformation may know about the parameter and the step besides the update. */
export interface TransformContext {
  /** The parameter's value before this step. */
  readonly param: tf.Tensor;
  /** Number of steps taken including this one (torch's `state["step"]`), starting at 1. */
  readonly step: number;
  /** This parameter's learning rate for this step (scheduler value times group multiplier). */
  readonly lr: number;
  /** This parameter's weight decay (0 for biases and norm parameters by default). */
  readonly weightDecay: number;
  /** Current momentum (SGD, RMSprop) or beta1 (Adam family, Lion, LAMB); onecycle moves it. */
  readonly momentum: number;
}

/** A gradient transformation: explicit state in, explicit state out. */
export interface Transform {
  /** Creates the slots of one parameter (zeros, usually). */
  init(param: tf.Tensor): Slots;
  /** Maps the incoming update to the outgoing one and returns the new slots. */
  update(update: tf.Tensor, slots: Slots, context: TransformContext): [tf.Tensor, Slots];
}

/**
 * Composes transformations left to right. Slot names must be distinct across the chain so that
 * checkpoints stay readable (`"layer1/kernel/exp_avg"`).
 *
 * @example
 * ```ts
 * import { chain } from "./transform.ts";
 * import { scaleByLearningRate, trace } from "./transforms.ts";
 * const sgdWithMomentum = chain(trace({ dampening: 0, nesterov: false }), scaleByLearningRate());
 * console.assert(typeof sgdWithMomentum.update === "function");
 * ```
 */
export function chain(...transforms: Transform[]): Transform {
  return {
    init(param) {
      const slots: Slots = {};
      for (const transform of transforms) {
        for (const [name, tensor] of Object.entries(transform.init(param))) {
          if (name in slots) {
            throw new AnnealError(
              "internal",
              `Cannot chain transforms: slot '${name}' is used twice`,
            );
          }
          slots[name] = tensor;
        }
      }
      return slots;
    },
    update(update, slots, context) {
      const next: Slots = {};
      let current = update;
      for (const transform of transforms) {
        const [updated, own] = transform.update(current, slots, context);
        current = updated;
        Object.assign(next, own);
      }
      return [current, next];
    },
  };
}
