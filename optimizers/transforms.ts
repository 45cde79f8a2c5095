/**
 * The small gradient transformations shared by every optimizer: torch's `maximize` (`negate`),
 * weight decay (coupled L2 and decoupled), momentum (`trace`) and the final learning-rate scaling. The adaptive ones (Adam,
 * RMSprop, Adagrad, Lion, trust ratio, Adafactor) are in `adaptive.ts`.
 *
 * @module
 */

import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import type { Slots, Transform } from "./transform.ts";

/**
 * Negates the gradient: torch's `maximize`, which places it first, before weight decay and every
 * slot, so that the optimizer ascends the objective (negation is exact in float32).
 *
 * @example
 * ```ts
 * import { chain } from "./transform.ts";
 * import { negate, scaleByLearningRate } from "./transforms.ts";
 * const gradientAscent = chain(negate(), scaleByLearningRate());
 * console.assert(typeof gradientAscent.update === "function");
 * ```
 */
export function negate(): Transform {
  return { init: () => ({}), update: (update) => [tf.neg(update), {}] };
}

/**
 * Adds `weightDecay * param` to the update: torch's L2 `weight_decay` when placed before the
 * adaptive scaling (SGD, Adam, RMSprop, Adagrad), LAMB's decay when placed after it.
 *
 * @example
 * ```ts
 * import { chain } from "./transform.ts";
 * import { addDecayedWeights, scaleByLearningRate } from "./transforms.ts";
 * const sgdWithL2 = chain(addDecayedWeights(), scaleByLearningRate());
 * console.assert(typeof sgdWithL2.init === "function");
 * ```
 */
export function addDecayedWeights(): Transform {
  return {
    init: () => ({}),
    update: (update, _slots, { param, weightDecay }) => [
      weightDecay === 0 ? update : tf.add(update, tf.mul(param, weightDecay)),
      {},
    ],
  };
}

/**
 * Decoupled weight decay (Loshchilov & Hutter), torch's `param.mul_(1 - lr * wd)` before the
 * update that is already scaled by the learning rate lands: it returns the parameter's new value
 * `param * (1 - lr * wd) + update` (`returnsParam`), the factor computed in float64 and rounded to
 * float32 once, as torch's is. Subtracting `lr * wd * param` instead applies `1 - fl(lr * wd)`,
 * not `fl(1 - lr * wd)`: a different factor at every step, which drifts from torch linearly
 * (1.3e-5 after 400 steps at lr 0.01, wd 0.25). It is what turns Adam into AdamW, and comes last
 * in its chain.
 *
 * @example
 * ```ts
 * import { chain } from "./transform.ts";
 * import { decoupledWeightDecay, scaleByLearningRate } from "./transforms.ts";
 * const decayOnly = chain(scaleByLearningRate(), decoupledWeightDecay());
 * console.assert(typeof decayOnly.update === "function");
 * ```
 */
export function decoupledWeightDecay(): Transform {
  return {
    init: () => ({}),
    update: (update, _slots, { param, lr, weightDecay }) => [
      tf.add(weightDecay === 0 ? param : tf.mul(param, 1 - lr * weightDecay), update),
      {},
    ],
    returnsParam: true,
  };
}

/** Options of {@linkcode trace}. */
export interface TraceOptions {
  /** torch SGD's `dampening`: the new gradient enters the buffer with weight `1 - dampening`. */
  dampening: number;
  /** Nesterov momentum: step along `grad + momentum * buffer` instead of the buffer. */
  nesterov: boolean;
}

/**
 * Heavy-ball momentum with torch SGD's rules: no buffer while the momentum is 0; on the first step
 * with momentum the buffer is a copy of the update, then `buffer = momentum * buffer +
 * (1 - dampening) * update`. The momentum is read from the context at every step, so onecycle can
 * move it, even from 0 as torch's OneCycleLR does with plain SGD.
 *
 * The first buffer is a copy computed now (`* 1`, which keeps -0 and NaN), not `tf.clone`: a
 * clone shares the update's data, and the update may be a gradient tensor the WGSL training step
 * writes in place every step (`DenseGpuProgram.grads`), which would turn the buffer into each
 * later step's gradient.
 *
 * @example
 * ```ts
 * import { trace } from "./transforms.ts";
 * const momentum = trace({ dampening: 0, nesterov: true });
 * console.assert(typeof momentum.init === "function");
 * ```
 */
export function trace(options: TraceOptions): Transform {
  return {
    init: () => ({}),
    update(update, slots, { momentum }): [tf.Tensor, Slots] {
      const previous = slots.momentum_buffer;
      if (momentum === 0) return [update, previous ? { momentum_buffer: previous } : {}];
      const buffer = previous
        ? tf.add(tf.mul(previous, momentum), tf.mul(update, 1 - options.dampening))
        : tf.mul(update, 1);
      const out = options.nesterov ? tf.add(update, tf.mul(buffer, momentum)) : buffer;
      return [out, { momentum_buffer: buffer }];
    },
  };
}

/**
 * SGD's whole chain (`maximize`, L2 weight decay, momentum as {@linkcode trace}, the rate) as one
 * backend kernel per parameter, `AnnealSgdUpdate` (the wasm backend registers it: one SIMD pass
 * instead of 3-6 tfjs ops). The same slots and numbers as `chain(negate(), addDecayedWeights(),
 * trace(...), scaleByLearningRate())`, bit for bit: the kernel rounds each product and sum to
 * float32 in the chain's order, and takes its scalars as the chain's ops do (`1 - dampening` in
 * float64, then each scalar rounded to float32). It returns the parameter's new value
 * (`returnsParam`).
 *
 * @example
 * ```ts
 * import { fusedSgd } from "./transforms.ts";
 * const sgd = fusedSgd({ dampening: 0, nesterov: true, maximize: false });
 * console.assert(sgd.returnsParam === true);
 * ```
 */
export function fusedSgd(
  options: { dampening: number; nesterov: boolean; maximize: boolean },
): Transform {
  const { dampening, nesterov, maximize } = options;
  return {
    init: () => ({}),
    update(grad, slots, { param, lr, weightDecay, momentum }) {
      const previous = slots.momentum_buffer;
      // as trace: no buffer while the momentum is 0 (one made before is kept as it is)
      const useMomentum = momentum !== 0;
      const inputs: Record<string, tf.Tensor> = { param, grad };
      if (useMomentum && previous) inputs.buffer = previous;
      const attrs = {
        useMomentum,
        gradSign: maximize ? -1 : 1,
        weightDecay,
        momentum,
        dampened: 1 - dampening,
        nesterov,
        negLr: -lr,
      };
      const [stepped, buffer] = tf.engine().runKernel(
        "AnnealSgdUpdate",
        inputs,
        attrs as unknown as tf.NamedAttrMap,
      ) as tf.Tensor[];
      const kept = useMomentum ? buffer : previous;
      const own: Slots = kept ? { momentum_buffer: kept } : {};
      return [stepped, own];
    },
    returnsParam: true,
  };
}

/**
 * Multiplies by `-lr`, turning a descent direction into the change added to the parameter.
 * `lrDecay` is Adagrad's `lr / (1 + (step - 1) * lrDecay)`.
 *
 * @example
 * ```ts
 * import { scaleByLearningRate } from "./transforms.ts";
 * const adagradRate = scaleByLearningRate({ lrDecay: 0.01 });
 * console.assert(typeof adagradRate.update === "function");
 * ```
 */
export function scaleByLearningRate(options: { lrDecay?: number } = {}): Transform {
  const lrDecay = options.lrDecay ?? 0;
  return {
    init: () => ({}),
    update: (update, _slots, { lr, step }) => [
      tf.mul(update, -lr / (1 + (step - 1) * lrDecay)),
      {},
    ],
  };
}
