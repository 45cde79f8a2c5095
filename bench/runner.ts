/**
 * One training step of a workload: `tf.variableGrads` then an optimizer step, either tfjs's own
 * optimizers (`tfjs`: tf.train.adam with torch's eps 1e-8, tf.train.momentum, the clip in tfjs
 * ops) or the fused WGSL step (`fused`, webgpu only, clip on the device). Timing: ms per step as
 * the median of `repeats` blocks of `steps` steps after `warmup`, each block ending in a read of
 * its last loss (the only read-back).
 *
 * @module
 */

import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { createFusedStep } from "../optimizers/fused/mod.ts";
import type { Workload } from "./workloads.ts";

/** Which optimizer implementation a step uses. */
export type OptimizerPath = "tfjs" | "fused";

/** A step function that returns its loss (caller disposes) and releases its state. */
export interface Stepper {
  step(): tf.Scalar;
  dispose(): void;
}

function clipByGlobalNorm(grads: tf.Tensor[], maxNorm: number): tf.Tensor[] {
  const norm = tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g)))));
  const scale = tf.minimum(1, tf.div(maxNorm, tf.add(norm, 1e-6)));
  return grads.map((g) => tf.mul(g, scale));
}

/**
 * A stepper for `workload` through `path`.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
 * import { buildWorkload } from "./workloads.ts";
 * import { makeStepper } from "./runner.ts";
 * await tf.setBackend("cpu");
 * const w = buildWorkload("lstm");
 * const s = makeStepper(w, "tfjs");
 * s.step().dispose();
 * s.dispose();
 * w.dispose();
 * ```
 */
export function makeStepper(w: Workload, path: OptimizerPath): Stepper {
  const names = w.vars.map((v) => v.name);
  if (path === "fused") {
    const fused = createFusedStep(w.optimizer, {
      eps: 1e-8,
      momentum: w.momentum,
      maxGradNorm: w.clip,
    });
    return {
      step: () =>
        tf.tidy(() => {
          const { value, grads } = tf.variableGrads(w.loss, w.vars);
          fused.step(w.vars, names.map((n) => grads[n]), w.lr);
          return value;
        }),
      dispose: () => fused.dispose(),
    };
  }
  const optimizer = w.optimizer === "adam"
    ? tf.train.adam(w.lr, 0.9, 0.999, 1e-8)
    : tf.train.momentum(w.lr, w.momentum ?? 0);
  return {
    step: () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(w.loss, w.vars);
        let list = names.map((n) => grads[n]);
        if (w.clip !== undefined) list = clipByGlobalNorm(list, w.clip);
        optimizer.applyGradients(names.map((name, i) => ({ name, tensor: list[i] })));
        return value;
      }),
    dispose: () => optimizer.dispose(),
  };
}

/** Median of a list of numbers. */
export const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Milliseconds per step: median over `repeats` timed blocks of `steps` steps after `warmup`. */
export async function timeSteps(
  stepper: Stepper,
  steps: number,
  warmup: number,
  repeats: number,
): Promise<{ msPerStep: number; blocks: number[]; loss: number }> {
  for (let i = 0; i < warmup; i++) stepper.step().dispose();
  let loss = NaN;
  const blocks: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const start = performance.now();
    let last: tf.Scalar | undefined;
    for (let i = 0; i < steps; i++) {
      last?.dispose();
      last = stepper.step();
    }
    loss = (await last!.data())[0];
    last!.dispose();
    blocks.push((performance.now() - start) / steps);
  }
  return { msPerStep: median(blocks), blocks, loss };
}
