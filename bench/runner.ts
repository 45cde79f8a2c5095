/**
 * One training step of a workload: `tf.variableGrads` then an optimizer step, either tfjs's own
 * optimizers (`tfjs`: tf.train.adam with torch's eps 1e-8, tf.train.momentum, the clip in tfjs
 * ops) or the fused WGSL step (`fused`, webgpu only, clip on the device); or, for the MLPs, what
 * `anneal train` runs (`engine`: the trainer's TrainingEngine fed a host batch every step, so
 * the upload is timed too; on webgpu the dense WGSL step and the fused optimizer). Timing: ms per step as
 * the median of `repeats` blocks of `steps` steps after `warmup`, each block ending in a read of
 * its last loss (the only read-back).
 *
 * @module
 */

import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { createFusedStep } from "../optimizers/fused/mod.ts";
import type { Workload } from "./workloads.ts";
import { parseConfig } from "../config.ts";
import { floatBatch, type HostByteBatch, TrainingEngine } from "../runtime/engine.ts";

/** Which implementation a step uses. */
/**
 * How a workload's step runs: tfjs's optimizers, the fused WGSL optimizers, anneal's training
 * engine, or the engine with `mixedPrecision` (float16 activations, float32 weights; WebGPU).
 */
export type OptimizerPath = "tfjs" | "fused" | "engine" | "engine-f16";

/** A step function that returns a tensor whose first value is its loss (caller disposes). */
export interface Stepper {
  step(): tf.Tensor;
  dispose(): void;
}

/**
 * The MLP, CNN and LSTM workloads (same layers, cross-entropy, batch) through anneal's
 * TrainingEngine, with the workload's optimizer, learning rate and clipping; random images or
 * sequences (bytes, as `anneal train` sends Fashion-MNIST's) and labels.
 */
export function makeEngineStepper(w: Workload, mixedPrecision = false): Stepper {
  // the same networks as the workloads (and torch_reference.py), built by anneal's model builder
  const models = {
    mlp: { model: { kind: "mlp", hidden: [512, 512] }, inputShape: [784] },
    mlp_sgd: { model: { kind: "mlp", hidden: [512, 512] }, inputShape: [784] },
    cnn: { model: { kind: "cnn" }, inputShape: [28, 28, 1] }, // conv-bn-relu-pool x2, dense 128
    // nn.LSTM(16, 128) over 32 steps, a dense head (on webgpu the WGSL recurrent step)
    lstm: { model: { kind: "rnn", cell: "lstm", units: 128 }, inputShape: [32, 16] },
  } as const;
  const chosen = models[w.name as keyof typeof models];
  if (!chosen) {
    throw new Error(
      `The engine path runs the mlp, mlp_sgd, cnn and lstm workloads, not ${w.name}`,
    );
  }
  const config = parseConfig({
    backend: tf.getBackend() as "webgpu",
    seed: 1,
    model: chosen.model,
    mixedPrecision,
    optimizer: w.optimizer === "adam"
      ? { name: "adam", lr: w.lr, eps: 1e-8 }
      : { name: "sgd", lr: w.lr, momentum: w.momentum },
  });
  const inputShape: number[] = [...chosen.inputShape];
  const engine = new TrainingEngine(config, {
    inputShape,
    targetSize: 1,
    task: "classification",
    numClasses: 10,
  });
  let seed = 7;
  const next = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  // Images as `anneal train` sends Fashion-MNIST's: their bytes where the step uploads them to
  // the GPU (the WGSL step), else their floats.
  const images: HostByteBatch = {
    x: Uint8Array.from(
      { length: w.batch * inputShape.reduce((a, b) => a * b) },
      () => Math.floor(next() * 256),
    ),
    byteTable: Float32Array.from({ length: 256 }, (_, b) => b / 255),
    y: Float32Array.from({ length: w.batch }, () => Math.floor(next() * 10)),
    size: w.batch,
  };
  const batch = engine.takesByteInputs ? images : floatBatch(images);
  return {
    step: () => {
      const pending = engine.computeGradients([batch]);
      // (the workload's clipping by global norm, as its other paths and torch clip)
      engine.applyGradients(pending, w.lr, w.clip);
      const stats = pending.stats;
      return stats instanceof tf.Tensor ? stats : tf.tensor1d(stats);
    },
    dispose: () => engine.dispose(),
  };
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
  if (path === "engine" || path === "engine-f16") {
    return makeEngineStepper(w, path === "engine-f16");
  }
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
    let last: tf.Tensor | undefined;
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

/** Milliseconds the main thread has spent in `GPUQueue.submit` since the clock was installed. */
let submitMs = 0;
let submitWrapped = false;

/**
 * Installs (once) a wrapper on `GPUQueue.prototype.submit` that adds each call's time to a clock,
 * and returns the clock's reader: the main thread's time in submissions so far, in ms. On a
 * software adapter (llvmpipe) a submission runs the GPU's work before it returns, so a bench takes
 * it out of the main thread's time to leave what a GPU's host spends.
 */
export function submitClock(): () => number {
  if (!submitWrapped) {
    submitWrapped = true;
    const submit = GPUQueue.prototype.submit;
    GPUQueue.prototype.submit = function (buffers) {
      const started = performance.now();
      try {
        return submit.call(this, buffers);
      } finally {
        submitMs += performance.now() - started;
      }
    };
  }
  return () => submitMs;
}
