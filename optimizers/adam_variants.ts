/**
 * Adam's variants in torch 1.13 (`torch/optim/adamax.py`, `nadam.py`, `radam.py`, their
 * single-tensor paths): Adamax's infinity norm, NAdam's Nesterov momentum with its warming
 * schedule, RAdam's rectified adaptive step. Adamax's and RAdam's are the direction the learning
 * rate then scales, NAdam's the whole update (see `nadamUpdate`); beta1 comes from the context's `momentum` at every step (onecycle moves it, as torch's
 * OneCycleLR moves `betas[0]`), and the slots have torch's state names.
 *
 * @module
 */

import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { scaledSquare } from "./adaptive.ts";
import { hostScalar, hostValue, type Transform } from "./transform.ts";

/** The first moment `beta1 * m + (1 - beta1) * g`, as torch's `mul_(beta1).add_(g, alpha=1 - beta1)`. */
function firstMoment(previous: tf.Tensor, grad: tf.Tensor, beta1: number): tf.Tensor {
  return tf.add(tf.mul(previous, beta1), tf.mul(grad, 1 - beta1));
}

/**
 * The second moment `beta2 * v + (1 - beta2) * g²`, its product `((1 - beta2) * g) * g` as torch's
 * addcmul_ orders it (see {@linkcode scaledSquare}).
 */
function secondMoment(previous: tf.Tensor, grad: tf.Tensor, beta2: number): tf.Tensor {
  return tf.add(tf.mul(previous, beta2), scaledSquare(grad, 1 - beta2));
}

/**
 * Adamax's direction `m / ((1 - beta1^t) u)`, `u = max(beta2 * u, |g| + eps)` (the infinity
 * norm, eps inside the maximum as torch has it).
 *
 * @example
 * ```ts
 * import { scaleByAdamax } from "./adam_variants.ts";
 * const adamax = scaleByAdamax({ beta2: 0.999, eps: 1e-8 });
 * console.assert(typeof adamax.init === "function");
 * ```
 */
export function scaleByAdamax(options: { beta2: number; eps: number }): Transform {
  const { beta2, eps } = options;
  return {
    init: (param) => ({ exp_avg: tf.zerosLike(param), exp_inf: tf.zerosLike(param) }),
    update(grad, slots, { step, momentum: beta1 }) {
      const expAvg = firstMoment(slots.exp_avg, grad, beta1);
      const expInf = tf.maximum(tf.mul(slots.exp_inf, beta2), tf.add(tf.abs(grad), eps));
      const direction = tf.div(tf.div(expAvg, expInf), 1 - beta1 ** step);
      return [direction, { exp_avg: expAvg, exp_inf: expInf }];
    },
  };
}

/**
 * NAdam's whole update (Dozat 2016, as torch 1.13 computes it): with `mu_t = beta1 * (1 - 0.5 *
 * 0.96 ** (t * momentumDecay))` and `denom = sqrt(v / (1 - beta2^t)) + eps`, the parameter takes
 * `-lr (1 - mu_t) / (1 - Π mu) * g / denom`, then `-lr mu_{t+1} / (1 - Π mu * mu_{t+1}) * m /
 * denom`. The two terms land on the parameter one after the other, each rounded to float32 as
 * torch's two `addcdiv_` round them (one sum of the two strays from torch by 10x more), so this
 * transformation scales by the learning rate itself and comes last in its chain: it returns the
 * parameter's new value (`returnsParam`; the difference from the old one, added back, strays by an
 * ulp where the parameter is near 0). The product of the mus is a float32 scalar slot,
 * `mu_product`, as torch 1.13 keeps it (a float32 tensor, `mu_product *= mu` rounding at every
 * step; it depends on every beta1 so far, which onecycle may have moved), so a checkpoint carries
 * it; it is kept on the host too (`hostScalar`), because torch takes `1 - mu_product.item()` and
 * the two coefficients as Python floats: they are computed here in float64 and rounded to float32
 * once (float32 tensor arithmetic rounded every operation and was an ulp off at some steps;
 * generate.py's nadam-fed cases follow torch bit for bit for 400 steps).
 *
 * @example
 * ```ts
 * import { nadamUpdate } from "./adam_variants.ts";
 * const nadam = nadamUpdate({ beta2: 0.999, eps: 1e-8, momentumDecay: 4e-3 });
 * console.assert(typeof nadam.update === "function");
 * ```
 */
export function nadamUpdate(
  options: { beta2: number; eps: number; momentumDecay: number },
): Transform {
  const { beta2, eps, momentumDecay } = options;
  const muAt = (beta1: number, t: number) => beta1 * (1 - 0.5 * 0.96 ** (t * momentumDecay));
  return {
    init: (param) => ({
      exp_avg: tf.zerosLike(param),
      exp_avg_sq: tf.zerosLike(param),
      mu_product: hostScalar(1),
    }),
    update(grad, slots, { param, step, lr, momentum: beta1 }) {
      const mu = muAt(beta1, step);
      const muNext = muAt(beta1, step + 1);
      // float32 products of float32 factors, as torch's tensor `mu_product *= mu` and its
      // `mu_product * mu * mu_next` (which has mu twice); a product of two float32s is exact in
      // float64, so Math.fround rounds it once, as float32 arithmetic does
      const muProduct = Math.fround(hostValue(slots.mu_product) * Math.fround(mu));
      const muProductNext = Math.fround(
        Math.fround(muProduct * Math.fround(mu)) * Math.fround(muNext),
      );
      const expAvg = firstMoment(slots.exp_avg, grad, beta1);
      const expAvgSq = secondMoment(slots.exp_avg_sq, grad, beta2);
      const denominator = tf.add(tf.sqrt(tf.div(expAvgSq, 1 - beta2 ** step)), eps);
      // Python floats in torch (`1. - mu_product.item()`), rounded to float32 by addcdiv_ only
      const gradScale = -lr * (1 - mu) / (1 - muProduct);
      const momentumScale = -lr * muNext / (1 - muProductNext);
      const halfway = tf.add(param, tf.div(tf.mul(grad, gradScale), denominator));
      const stepped = tf.add(halfway, tf.div(tf.mul(expAvg, momentumScale), denominator));
      return [
        stepped,
        { exp_avg: expAvg, exp_avg_sq: expAvgSq, mu_product: hostScalar(muProduct) },
      ];
    },
    returnsParam: true,
  };
}

/**
 * RAdam's direction (Liu et al. 2020, as torch 1.13 computes it): `m / (1 - beta1^t)`, times
 * `r_t * sqrt(1 - beta2^t) / (sqrt(v) + eps)` once the length of the approximated SMA `rho_t`
 * is above 5 (`r_t` the variance rectification term); before that the plain bias-corrected
 * momentum. With beta2 0, `rho_t` is 1 at every step, so every step is the plain one.
 *
 * @example
 * ```ts
 * import { scaleByRadam } from "./adam_variants.ts";
 * const radam = scaleByRadam({ beta2: 0.999, eps: 1e-8 });
 * console.assert(typeof radam.init === "function");
 * ```
 */
export function scaleByRadam(options: { beta2: number; eps: number }): Transform {
  const { beta2, eps } = options;
  const rhoInf = 2 / (1 - beta2) - 1;
  return {
    init: (param) => ({ exp_avg: tf.zerosLike(param), exp_avg_sq: tf.zerosLike(param) }),
    update(grad, slots, { step, momentum: beta1 }) {
      const correction2 = 1 - beta2 ** step;
      const expAvg = firstMoment(slots.exp_avg, grad, beta1);
      const expAvgSq = secondMoment(slots.exp_avg_sq, grad, beta2);
      const own = { exp_avg: expAvg, exp_avg_sq: expAvgSq };
      const corrected = tf.div(expAvg, 1 - beta1 ** step);
      const rho = rhoInf - 2 * step * beta2 ** step / correction2;
      if (!(rho > 5)) return [corrected, own];
      const rectification = Math.sqrt(
        (rho - 4) * (rho - 2) * rhoInf / ((rhoInf - 4) * (rhoInf - 2) * rho),
      );
      const adaptive = tf.div(Math.sqrt(correction2), tf.add(tf.sqrt(expAvgSq), eps));
      return [tf.mul(tf.mul(corrected, adaptive), rectification), own];
    },
  };
}
