/**
 * Adadelta's transformation (Zeiler 2012, as torch 1.13's `torch/optim/adadelta.py` computes it
 * on its single-tensor path): the update's units come from a running average of the past
 * updates' squares, so the learning rate (torch's default 1) only scales it.
 *
 * @module
 */

import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { scaledSquare } from "./adaptive.ts";
import type { Transform } from "./transform.ts";

/**
 * Adadelta's direction `delta = sqrt(E[Δx²] + eps) / sqrt(E[g²] + eps) * g`, with
 * `E[g²] = rho * E[g²] + (1 - rho) * g²` before it and `E[Δx²] = rho * E[Δx²] + (1 - rho) *
 * delta²` after it (torch's `square_avg` and `acc_delta`). At rho 1 neither average moves from 0
 * and the direction is the gradient, as in torch (the averages' `(1 - rho) * g²` is `((1 - rho) * g) *
 * g`, as torch's addcmul_ orders it: 0 even where g² overflows float32).
 *
 * @example
 * ```ts
 * import { scaleByAdadelta } from "./adadelta.ts";
 * const adadelta = scaleByAdadelta({ rho: 0.9, eps: 1e-6 });
 * console.assert(typeof adadelta.init === "function");
 * ```
 */
export function scaleByAdadelta(options: { rho: number; eps: number }): Transform {
  const { rho, eps } = options;
  return {
    init: (param) => ({ square_avg: tf.zerosLike(param), acc_delta: tf.zerosLike(param) }),
    update(grad, slots) {
      const squareAvg = tf.add(tf.mul(slots.square_avg, rho), scaledSquare(grad, 1 - rho));
      const std = tf.sqrt(tf.add(squareAvg, eps));
      const delta = tf.mul(tf.div(tf.sqrt(tf.add(slots.acc_delta, eps)), std), grad);
      const accDelta = tf.add(tf.mul(slots.acc_delta, rho), scaledSquare(delta, 1 - rho));
      return [delta, { square_avg: squareAvg, acc_delta: accDelta }];
    },
  };
}
