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

import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { AnnealError } from "../errors.ts";

/** The state of one transformation for one parameter: named tensors ("exp_avg", ...). */
export type Slots = Record<string, tf.Tensor>;

// The host's copy of each scalar slot made by `hostScalar` (see there).
const hostValues = new WeakMap<tf.Tensor, number>();

/**
 * A float32 scalar slot whose value the host also keeps, for bookkeeping that torch does on the
 * host in float64 from a float32 tensor's `.item()` (NAdam's `1 - mu_product.item()`): the
 * transformation reads it back with `hostValue` without a device read-back, and the slot is
 * checkpointed as any other (shape `[]`, one float32).
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
 * import { hostScalar, hostValue } from "./transform.ts";
 * await tf.setBackend("cpu");
 * const product = hostScalar(0.1);
 * console.assert(hostValue(product) === Math.fround(0.1));
 * product.dispose();
 * ```
 */
export function hostScalar(value: number): tf.Tensor {
  const exact = Math.fround(value);
  const tensor = tf.scalar(exact, "float32");
  hostValues.set(tensor, exact);
  return tensor;
}

/**
 * The value of a scalar slot: the host's copy where `hostScalar` made it, else read from the
 * backend (a scalar slot made otherwise).
 */
export function hostValue(tensor: tf.Tensor): number {
  return hostValues.get(tensor) ?? tensor.dataSync()[0];
}

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
  /**
   * `update` returns the parameter's new value, not the change to add to it: for a step that
   * lands on the parameter in two roundings, as torch's NAdam does (two `addcdiv_`), which no
   * change added once reproduces (`param + (stepped - param)` is not `stepped` where the
   * parameter is near 0). Only the last transformation of a chain may have it.
   */
  readonly returnsParam?: boolean;
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
  if (transforms.slice(0, -1).some((transform) => transform.returnsParam)) {
    throw new AnnealError(
      "internal",
      "Cannot chain transforms: only the last one may return the parameter's new value",
    );
  }
  return {
    returnsParam: transforms.at(-1)?.returnsParam,
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
