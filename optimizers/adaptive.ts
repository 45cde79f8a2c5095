/**
 * Adaptive gradient transformations: the per-coordinate scalings of Adam, RMSprop, Adagrad and
 * Adafactor, Lion's sign update and LAMB's trust ratio. Each keeps its own named slots, with
 * torch.optim's state names (`exp_avg`, `exp_avg_sq`, `square_avg`, `sum`, ...).
 *
 * @module
 */

import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import type { Slots, Transform } from "./transform.ts";

/** Options of {@linkcode scaleByAdam}; beta1 comes from the context's `momentum`. */
export interface AdamOptions {
  beta2: number;
  eps: number;
  amsgrad: boolean;
  /** Divide the moments by `1 - beta^t` (always in torch's Adam; optional in LAMB). */
  biasCorrection: boolean;
}

/**
 * Adam's direction `m̂ / (sqrt(v̂) + eps)` with torch's arithmetic (eps added after dividing
 * the square root by `sqrt(1 - beta2^t)`; `v`'s `(1 - beta2) * g²` is `((1 - beta2) * g) * g`, as
 * torch's addcmul_ orders it: finite where g² overflows float32); `amsgrad` uses the running
 * maximum of `v`.
 *
 * @example
 * ```ts
 * import { scaleByAdam } from "./adaptive.ts";
 * const adam = scaleByAdam({ beta2: 0.999, eps: 1e-8, amsgrad: false, biasCorrection: true });
 * console.assert(typeof adam.init === "function");
 * ```
 */
export function scaleByAdam(options: AdamOptions): Transform {
  const { beta2, eps, amsgrad, biasCorrection } = options;
  return {
    init(param) {
      const slots = { exp_avg: tf.zerosLike(param), exp_avg_sq: tf.zerosLike(param) };
      return amsgrad ? { ...slots, max_exp_avg_sq: tf.zerosLike(param) } : slots;
    },
    update(grad, slots, { step, momentum: beta1 }) {
      const expAvg = tf.add(tf.mul(slots.exp_avg, beta1), tf.mul(grad, 1 - beta1));
      const expAvgSq = tf.add(tf.mul(slots.exp_avg_sq, beta2), scaledSquare(grad, 1 - beta2));
      const own: Record<string, tf.Tensor> = { exp_avg: expAvg, exp_avg_sq: expAvgSq };
      let second = expAvgSq;
      if (amsgrad) {
        second = tf.maximum(slots.max_exp_avg_sq, expAvgSq);
        own.max_exp_avg_sq = second;
      }
      const correction1 = biasCorrection ? 1 - beta1 ** step : 1;
      const correction2 = biasCorrection ? 1 - beta2 ** step : 1;
      const denominator = tf.add(tf.div(tf.sqrt(second), Math.sqrt(correction2)), eps);
      return [tf.div(tf.div(expAvg, correction1), denominator), own];
    },
  };
}

/**
 * Adam's whole chain (Adam: L2 term, moments, learning rate; AdamW: moments, learning rate,
 * decoupled decay) as one backend kernel per parameter, `AnnealAdamUpdate` (the wasm backend
 * registers it: one SIMD pass instead of ~15 tfjs ops). The same slots and numbers as
 * `chain(addDecayedWeights(), scaleByAdam(...), scaleByLearningRate())` (Adam) or
 * `chain(scaleByAdam(...), scaleByLearningRate(), decoupledWeightDecay())` (AdamW), to float32
 * rounding; `maximize` negates the gradient in the kernel, as `negate()` first in the chain would.
 * It returns the parameter's new value (`returnsParam`), as `decoupledWeightDecay` does.
 *
 * @example
 * ```ts
 * import { fusedAdam } from "./adaptive.ts";
 * const adamw = fusedAdam({
 *   beta2: 0.999,
 *   eps: 1e-8,
 *   amsgrad: false,
 *   decoupled: true,
 *   maximize: false,
 * });
 * console.assert(typeof adamw.update === "function");
 * ```
 */
export function fusedAdam(
  options: { beta2: number; eps: number; amsgrad: boolean; decoupled: boolean; maximize: boolean },
): Transform {
  const { beta2, eps, amsgrad, decoupled, maximize } = options;
  const moments = scaleByAdam({ beta2, eps, amsgrad, biasCorrection: true });
  return {
    init: moments.init,
    update(grad, slots, { param, step, lr, weightDecay, momentum: beta1 }) {
      const inputs: Record<string, tf.Tensor> = {
        param,
        grad,
        m: slots.exp_avg,
        v: slots.exp_avg_sq,
      };
      if (amsgrad) inputs.vmax = slots.max_exp_avg_sq;
      const attrs = {
        amsgrad,
        beta1,
        beta2,
        eps,
        // float64 scalars, as torch's Python floats (1 - beta2 in float32 is 1 - fl(beta2))
        beta1c: 1 - beta1,
        beta2c: 1 - beta2,
        root2: Math.sqrt(1 - beta2 ** step),
        stepSize: lr / (1 - beta1 ** step),
        coupled: decoupled ? 0 : weightDecay,
        decay: decoupled ? 1 - lr * weightDecay : 1,
        gradSign: maximize ? -1 : 1,
      };
      const [stepped, m, v, vmax] = tf.engine().runKernel(
        "AnnealAdamUpdate",
        inputs,
        attrs as unknown as tf.NamedAttrMap,
      ) as tf.Tensor[];
      const own: Record<string, tf.Tensor> = { exp_avg: m, exp_avg_sq: v };
      if (amsgrad) own.max_exp_avg_sq = vmax;
      return [stepped, own];
    },
    // the kernel lands the parameter as torch does: AdamW's decay, then the step
    returnsParam: true,
  };
}

/**
 * RMSprop's direction `g / (sqrt(E[g²] - centered ? E[g]² : 0) + eps)`, the centered variance
 * rounded once as torch computes it (see {@linkcode subtractSquare}).
 *
 * @example
 * ```ts
 * import { scaleByRms } from "./adaptive.ts";
 * const rms = scaleByRms({ alpha: 0.99, eps: 1e-8, centered: true });
 * console.assert(typeof rms.update === "function");
 * ```
 */
export function scaleByRms(options: { alpha: number; eps: number; centered: boolean }): Transform {
  const averages = rmsAverages(options);
  return {
    init: averages.init,
    update(grad, slots) {
      const [denominator, own] = averages.update(grad, slots);
      return [tf.div(grad, denominator), own];
    },
  };
}

/** RMSprop's slots and its denominator `sqrt(E[g²] - centered ? E[g]² : 0) + eps`. */
function rmsAverages(options: { alpha: number; eps: number; centered: boolean }): {
  init: Transform["init"];
  update(grad: tf.Tensor, slots: Slots): [tf.Tensor, Slots];
} {
  const { alpha, eps, centered } = options;
  return {
    init(param) {
      const slots = { square_avg: tf.zerosLike(param) };
      return centered ? { ...slots, grad_avg: tf.zerosLike(param) } : slots;
    },
    update(grad, slots) {
      const squareAvg = tf.add(tf.mul(slots.square_avg, alpha), scaledSquare(grad, 1 - alpha));
      if (!centered) return [tf.add(tf.sqrt(squareAvg), eps), { square_avg: squareAvg }];
      const gradAvg = tf.add(tf.mul(slots.grad_avg, alpha), tf.mul(grad, 1 - alpha));
      const variance = subtractSquare(squareAvg, gradAvg);
      return [tf.add(tf.sqrt(variance), eps), { square_avg: squareAvg, grad_avg: gradAvg }];
    },
  };
}

/**
 * RMSprop's whole step after the L2 term, with torch 1.13's order of operations: with momentum,
 * `buf = momentum * buf + g / avg` (`momentum_buffer`, from 0) and the change `-lr * buf`; without
 * (a momentum of 0, at this step), torch's `param.addcdiv_(grad, avg, value=-lr)`, the change
 * `(-lr * g) / avg`, the rate applied first: at alpha 1 `avg` stays eps, and `g / eps` overflows
 * float32 where `lr * g / eps` does not. A buffer kept from steps with momentum stays as it is.
 *
 * @example
 * ```ts
 * import { rmspropUpdate } from "./adaptive.ts";
 * const rmsprop = rmspropUpdate({ alpha: 0.99, eps: 1e-8, centered: false });
 * console.assert(typeof rmsprop.update === "function");
 * ```
 */
export function rmspropUpdate(
  options: { alpha: number; eps: number; centered: boolean },
): Transform {
  const averages = rmsAverages(options);
  return {
    init: averages.init,
    update(grad, slots, { lr, momentum }) {
      const [denominator, own] = averages.update(grad, slots);
      const previous = slots.momentum_buffer;
      if (momentum === 0) {
        if (previous) own.momentum_buffer = previous;
        return [tf.div(tf.mul(grad, -lr), denominator), own];
      }
      const direction = tf.div(grad, denominator);
      // (torch's zero-initialised buffer: momentum * 0 + direction, the direction itself)
      const buffer = previous ? tf.add(tf.mul(previous, momentum), direction) : direction;
      return [tf.mul(buffer, -lr), { ...own, momentum_buffer: buffer }];
    },
  };
}

/**
 * `c * g²` as torch 1.13's `addcmul_(g, g, value=c)` orders it, `(c * g) * g`: at `c` 0 (RMSprop's
 * alpha 1, Adadelta's rho 1) that is 0 for any finite g, where `c * fl(g²)` is NaN once g²
 * overflows float32 (|g| above 1.8e19, which those settings' growing steps reach), and it
 * overflows only where torch's does (the Adam family's `(1 - beta2) * g²`: finite up to
 * |g| ~5.8e20 at beta2 0.999, where `c * fl(g²)` is Infinity from 1.8e19).
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
 * import { scaledSquare } from "./adaptive.ts";
 * await tf.setBackend("cpu");
 * console.assert(scaledSquare(tf.scalar(1e20), 0).dataSync()[0] === 0);
 * ```
 */
export function scaledSquare(grad: tf.Tensor, c: number): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(grad, c), grad));
}

/**
 * `a - b²` rounded once to float32, as torch 1.13's `a.addcmul(b, b, value=-1)` computes it where
 * its kernels fuse the multiply-add (its AVX2 CPU kernels, measured; `ATEN_CPU_CAPABILITY=default`
 * rounds twice): centered RMSprop's variance. Where `b²` is close to `a` the difference is all rounding, and the fused one differs
 * from `a - fl(b²)` in kind, not by an ulp: at alpha 0, `a` is `fl(g²)` and `b` is `g`, so torch
 * gets `fl(g²) - g²`, the rounding error of `g²` (negative: NaN after the square root; positive:
 * a step of lr * g / sqrt of it), where two roundings get 0 (a step of lr * g / eps).
 *
 * `b² = p + e` exactly, `p = fl(b²)` and `e` by Dekker's product (Veltkamp's split of `b` into two
 * halves of 12 bits, whose products float32 holds exactly); then `fl(fl(a - p) - e)`, which is the
 * fused result wherever `a - p` is exact (`p` within a factor 2 of `a`: wherever they cancel) and
 * within an ulp of it elsewhere. Where `b²` overflows, `e` is taken as 0, and an infinite `a`
 * is the result, as torch's fused one is (Infinity less a finite b²), not NaN (Infinity less
 * `fl(b²)`, Infinity): centered RMSprop's gradients above ~1.8e19 overflow both the square
 * average and `fl(grad_avg²)`, and torch's step is then 0, not NaN. Where `b²` falls below
 * float32's normal range (`|b|` < 1e-19), `e` is not exact.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
 * import { subtractSquare } from "./adaptive.ts";
 * await tf.setBackend("cpu");
 * const g = tf.tensor1d([0.1, 0.3, 0.5]);
 * // in float32, fl(g²) is above g² at 0.1, below it at 0.3, and g² is exact at 0.5
 * const [above, below, exact] = subtractSquare(tf.square(g), g).dataSync();
 * console.assert(above > 0 && below < 0 && exact === 0);
 * ```
 */
export function subtractSquare(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const product = tf.square(b);
    const scaled = tf.mul(b, 4097); // 2^12 + 1
    const high = tf.sub(scaled, tf.sub(scaled, b));
    const low = tf.sub(b, high);
    const error = tf.add(
      tf.add(tf.sub(tf.square(high), product), tf.mul(tf.mul(high, low), 2)),
      tf.square(low),
    );
    const finiteError = tf.where(tf.isFinite(product), error, tf.zerosLike(error));
    // an infinite `a` less a finite b² (exact in the fused multiply-add) stays `a`, where
    // `a - fl(b²)` is Infinity - Infinity, NaN
    const difference = tf.where(
      tf.logicalAnd(tf.isInf(a), tf.isInf(product)),
      a,
      tf.sub(a, product),
    );
    return tf.sub(difference, finiteError);
  });
}

/**
 * Adagrad's direction `g / (sqrt(Σ g²) + eps)`, the sum starting at `initialAccumulatorValue`.
 *
 * @example
 * ```ts
 * import { scaleByAdagrad } from "./adaptive.ts";
 * const adagrad = scaleByAdagrad({ initialAccumulatorValue: 0.1, eps: 1e-10 });
 * console.assert(typeof adagrad.init === "function");
 * ```
 */
export function scaleByAdagrad(
  options: { initialAccumulatorValue: number; eps: number },
): Transform {
  return {
    init: (param) => ({ sum: tf.fill(param.shape, options.initialAccumulatorValue) }),
    update(grad, slots) {
      const sum = tf.add(slots.sum, tf.square(grad));
      return [tf.div(grad, tf.add(tf.sqrt(sum), options.eps)), { sum }];
    },
  };
}

/**
 * Lion's direction `sign(beta1 * m + (1 - beta1) * g)`, then `m = beta2 * m + (1 - beta2) * g`
 * (Chen et al. 2023, Algorithm 2). beta1 comes from the context's `momentum`.
 *
 * @example
 * ```ts
 * import { scaleByLion } from "./adaptive.ts";
 * const lion = scaleByLion({ beta2: 0.99 });
 * console.assert(typeof lion.update === "function");
 * ```
 */
export function scaleByLion(options: { beta2: number }): Transform {
  return {
    init: (param) => ({ exp_avg: tf.zerosLike(param) }),
    update(grad, slots, { momentum: beta1 }) {
      const direction = sign(tf.add(tf.mul(slots.exp_avg, beta1), tf.mul(grad, 1 - beta1)));
      const expAvg = tf.add(tf.mul(slots.exp_avg, options.beta2), tf.mul(grad, 1 - options.beta2));
      return [direction, { exp_avg: expAvg }];
    },
  };
}

/**
 * The sign of each value: -1, 0 or 1, as `torch.sign`. tfjs-wasm 4.22's `Sign` kernel returns 0
 * for values within ~1e-7 of zero (measured: `sign(1e-7)` is 0 there, 1 on the cpu and WebGPU
 * backends), which would leave Lion's parameters still wherever its direction is small; on wasm
 * it is computed from two comparisons instead.
 */
export function sign(x: tf.Tensor): tf.Tensor {
  if (tf.getBackend() !== "wasm") return tf.sign(x);
  return tf.tidy(() => tf.sub(tf.cast(tf.greater(x, 0), x.dtype), tf.cast(tf.less(x, 0), x.dtype)));
}

/**
 * LAMB's layer-wise trust ratio `‖w‖ / ‖update‖` (1 when either norm is 0), applied where the
 * parameter has weight decay unless `alwaysAdapt`; `trustClip` caps it at 1 (timm's options).
 *
 * @example
 * ```ts
 * import { scaleByTrustRatio } from "./adaptive.ts";
 * const trust = scaleByTrustRatio({ alwaysAdapt: false, trustClip: false });
 * console.assert(typeof trust.update === "function");
 * ```
 */
export function scaleByTrustRatio(
  options: { alwaysAdapt: boolean; trustClip: boolean },
): Transform {
  return {
    init: () => ({}),
    update(update, _slots, { param, weightDecay }) {
      if (weightDecay === 0 && !options.alwaysAdapt) return [update, {}];
      const weightNorm = tf.norm(param);
      const updateNorm = tf.norm(update);
      const bothPositive = tf.logicalAnd(tf.greater(weightNorm, 0), tf.greater(updateNorm, 0));
      let ratio = tf.where(bothPositive, tf.div(weightNorm, updateNorm), tf.onesLike(weightNorm));
      if (options.trustClip) ratio = tf.minimum(ratio, 1);
      return [tf.mul(update, ratio), {}];
    },
  };
}
