/**
 * The two benchmarks beside the step workloads: the seed experiment (`seed_linear`, wall time of
 * its whole training loop) and the optimizer step alone (`optim_*`: tfjs's Adam against the fused
 * kernel on the MLP's six tensors; encode time, wall time per step, dispatches per step).
 *
 * @module
 */

import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { createFusedStep } from "../optimizers/fused/mod.ts";
import { buildWorkload } from "./workloads.ts";
import { median } from "./runner.ts";

/** 200x2 linear data, batch 16, SGD lr 0.01, 50 epochs, one loss read per epoch. */
export async function seedLinear(): Promise<{ wallMs: number; finalLoss: number }> {
  const n = 200, batch = 16;
  const x = tf.randomNormal([n, 2], 0, 1, "float32", 42);
  const y = tf.tidy(() => {
    const [a, b] = tf.split(x, 2, 1);
    return tf.add(
      tf.sub(tf.mul(a, 2), tf.mul(b, 3)),
      tf.randomNormal([n, 1], 0, 0.5, "float32", 43),
    );
  });
  const w = tf.variable(tf.randomUniform([2, 1], -0.7, 0.7, "float32", 44));
  const b = tf.variable(tf.zeros([1]));
  const sgd = tf.train.sgd(0.01);
  const order = Array.from({ length: n }, (_, i) => i);
  let finalLoss = NaN;
  const start = performance.now();
  for (let epoch = 0; epoch < 50; epoch++) {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    let total: tf.Tensor = tf.scalar(0);
    for (let s = 0; s < n; s += batch) {
      const idx = tf.tensor1d(order.slice(s, s + batch), "int32");
      const next = tf.tidy(() => {
        const xb = tf.gather(x, idx), yb = tf.gather(y, idx);
        const loss = sgd.minimize(
          () => tf.mean(tf.square(tf.sub(tf.add(tf.matMul(xb, w), b), yb))),
          true,
        )!;
        return tf.add(total, tf.mul(loss, idx.size));
      });
      idx.dispose();
      total.dispose();
      total = next;
    }
    finalLoss = (await total.data())[0] / n;
    total.dispose();
  }
  const wallMs = performance.now() - start;
  [x, y, w, b].forEach((t) => t.dispose());
  sgd.dispose();
  return { wallMs, finalLoss };
}

/** One optimizer-only measurement. */
export interface OptimTiming {
  path: "tfjs" | "fused";
  encodeMs: number;
  msPerStep: number;
  kernelsPerStep: number;
}

/** tfjs Adam vs fused Adam on the MLP's parameters with fixed gradients (webgpu only). */
export async function optimizerOnly(steps: number, repeats: number): Promise<OptimTiming[]> {
  const w = buildWorkload("mlp");
  const grads = w.vars.map((v) => tf.randomNormal(v.shape, 0, 0.01, "float32", 7));
  const named = w.vars.map((v, i) => ({ name: v.name, tensor: grads[i] }));
  const adam = tf.train.adam(1e-3, 0.9, 0.999, 1e-8);
  const fused = createFusedStep("adam", { eps: 1e-8 });
  const runs: Record<OptimTiming["path"], () => void> = {
    tfjs: () => tf.tidy(() => adam.applyGradients(named)),
    fused: () => fused.step(w.vars, grads, 1e-3),
  };
  const out: OptimTiming[] = [];
  for (const path of ["tfjs", "fused"] as const) {
    for (let i = 0; i < 5; i++) runs[path]();
    await w.vars[0].data();
    const encode: number[] = [], wall: number[] = [];
    for (let r = 0; r < repeats; r++) {
      let inCalls = 0;
      const start = performance.now();
      for (let i = 0; i < steps; i++) {
        const t0 = performance.now();
        runs[path]();
        inCalls += performance.now() - t0;
      }
      await w.vars[0].data();
      wall.push((performance.now() - start) / steps);
      encode.push(inCalls / steps);
    }
    const profile = await tf.profile(() => runs[path]());
    out.push({
      path,
      encodeMs: median(encode),
      msPerStep: median(wall),
      kernelsPerStep: path === "fused" ? fused.dispatchesPerStep() : profile.kernels.length,
    });
  }
  adam.dispose();
  fused.dispose();
  grads.forEach((g) => g.dispose());
  w.dispose();
  return out;
}
