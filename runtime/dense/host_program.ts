/**
 * The training step of a small dense network in plain TypeScript on the CPU backends. For tiny
 * models (the seed experiment's 2-input linear regression, small tabular MLPs) a step is a few
 * hundred multiply-adds, and tfjs's ~40 ops of forward, backward, loss, metrics and norm cost
 * ~15-20 us each in dispatch alone; here forward, loss and backward are loops over Float32Arrays
 * (the same arithmetic as the WGSL kernels), and only the optimizer step stays in tfjs.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import type { HostBatch } from "../engine.ts";
import type { DensePlan } from "./gpu_program.ts";
import type { DenseActivation } from "./wgsl.ts";

/**
 * Multiply-adds of one step (batch times parameters, forward and backward) up to which the host
 * step beats tfjs on wasm: measured on a 2-core machine, tfjs's fixed cost (~0.5-0.8 ms a step)
 * equals ~4e5 plain-JS multiply-adds.
 */
export const HOST_STEP_MAX_WORK = 100_000;

function activate(kind: DenseActivation, z: number): number {
  switch (kind) {
    case "relu":
      return z > 0 ? z : 0;
    case "tanh":
      return Math.tanh(z);
    case "sigmoid":
      return 1 / (1 + Math.exp(-z));
    case "linear":
      return z;
  }
}

function derivative(kind: DenseActivation, a: number): number {
  switch (kind) {
    case "relu":
      return a > 0 ? 1 : 0;
    case "tanh":
      return 1 - a * a;
    case "sigmoid":
      return a * (1 - a);
    case "linear":
      return 1;
  }
}

/**
 * A dense network's forward and backward pass on the host.
 *
 * @example
 * ```ts ignore
 * import { DenseHostProgram } from "./host_program.ts";
 * const program = new DenseHostProgram(plan);
 * const { grads, stats } = program.computeGradients([batch]);
 * ```
 */
export class DenseHostProgram {
  readonly #plan: DensePlan;

  /** Takes the plan; the weights are read from its variables at every step. */
  constructor(plan: DensePlan) {
    this.#plan = plan;
  }

  /** Work of one step for micro-batches of `rows` samples (see {@linkcode HOST_STEP_MAX_WORK}). */
  static work(plan: DensePlan, rows: number): number {
    return rows * plan.layers.reduce((n, l) => n + l.inputs * l.units, 0);
  }

  /**
   * Gradients of the mean loss over all micro-batches (new tensors, owned by the caller) and the
   * step's `[mean loss, gradient norm, metric sum]`, computed on the host.
   */
  computeGradients(microBatches: HostBatch[]): { grads: tf.Tensor[]; stats: Float32Array } {
    const { layers, loss, targetSize } = this.#plan;
    const weights = layers.map((l) => ({
      kernel: l.kernel.dataSync() as Float32Array,
      bias: l.bias.dataSync() as Float32Array,
    }));
    const gradW = layers.map((l) => new Float64Array(l.inputs * l.units));
    const gradB = layers.map((l) => new Float64Array(l.units));
    const total = microBatches.reduce((n, b) => n + b.size, 0);
    const scale = 1 / total;
    let lossSum = 0;
    let metricSum = 0;
    const last = layers.length - 1;
    for (const batch of microBatches) {
      const rows = batch.size;
      // Forward: acts[i] holds layer i's outputs (post-activation; logits for the last).
      const acts: Float64Array[] = [];
      let input: ArrayLike<number> = batch.x;
      layers.forEach((layer, i) => {
        const { kernel, bias } = weights[i];
        const out = new Float64Array(rows * layer.units);
        const act = i === last ? "linear" : layer.activation;
        for (let r = 0; r < rows; r++) {
          for (let n = 0; n < layer.units; n++) {
            let z = bias[n];
            for (let k = 0; k < layer.inputs; k++) {
              z += input[r * layer.inputs + k] * kernel[k * layer.units + n];
            }
            out[r * layer.units + n] = activate(act, z);
          }
        }
        acts.push(out);
        input = out;
      });
      // Loss and the gradient of the mean loss with respect to the outputs.
      const outputs = layers[last].units;
      const logits = acts[last];
      let delta = new Float64Array(rows * outputs);
      for (let r = 0; r < rows; r++) {
        const base = r * outputs;
        if (loss === "crossEntropy") {
          let max = logits[base];
          let arg = 0;
          for (let c = 1; c < outputs; c++) {
            if (logits[base + c] > max) [max, arg] = [logits[base + c], c];
          }
          let sum = 0;
          for (let c = 0; c < outputs; c++) sum += Math.exp(logits[base + c] - max);
          const lse = max + Math.log(sum);
          const cls = batch.y[r];
          const valid = Number.isInteger(cls) && cls >= 0 && cls < outputs;
          if (valid) {
            lossSum += lse - logits[base + cls];
            if (arg === cls) metricSum += 1;
          }
          for (let c = 0; c < outputs; c++) {
            const p = Math.exp(logits[base + c] - lse);
            delta[base + c] = valid ? (p - (c === cls ? 1 : 0)) * scale : 0;
          }
        } else if (loss === "mse") {
          let se = 0;
          let ae = 0;
          for (let c = 0; c < outputs; c++) {
            const diff = logits[base + c] - batch.y[r * targetSize + c];
            se += diff * diff;
            ae += Math.abs(diff);
            delta[base + c] = (2 * diff / outputs) * scale;
          }
          lossSum += se / outputs;
          metricSum += ae / outputs;
        } else {
          const x = logits[r];
          const t = batch.y[r];
          lossSum += Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)));
          if ((x > 0) === (t > 0.5)) metricSum += 1;
          delta[r] = (1 / (1 + Math.exp(-x)) - t) * scale;
        }
      }
      // Backward, last layer first.
      for (let i = last; i >= 0; i--) {
        const layer = layers[i];
        const prev: ArrayLike<number> = i === 0 ? batch.x : acts[i - 1];
        const gw = gradW[i];
        const gb = gradB[i];
        for (let r = 0; r < rows; r++) {
          for (let n = 0; n < layer.units; n++) {
            const d = delta[r * layer.units + n];
            if (d === 0) continue;
            gb[n] += d;
            for (let k = 0; k < layer.inputs; k++) {
              gw[k * layer.units + n] += prev[r * layer.inputs + k] * d;
            }
          }
        }
        if (i > 0) {
          const kernel = weights[i].kernel;
          const below = layers[i - 1].activation;
          const next = new Float64Array(rows * layer.inputs);
          for (let r = 0; r < rows; r++) {
            for (let k = 0; k < layer.inputs; k++) {
              let s = 0;
              for (let n = 0; n < layer.units; n++) {
                s += delta[r * layer.units + n] * kernel[k * layer.units + n];
              }
              next[r * layer.inputs + k] = s * derivative(below, prev[r * layer.inputs + k]);
            }
          }
          delta = next;
        }
      }
    }
    let squares = 0;
    const grads: tf.Tensor[] = [];
    layers.forEach((layer, i) => {
      for (const g of [gradW[i], gradB[i]]) for (const v of g) squares += v * v;
      grads.push(tf.tensor(Float32Array.from(gradW[i]), layer.kernel.shape, "float32"));
      grads.push(tf.tensor(Float32Array.from(gradB[i]), layer.bias.shape, "float32"));
    });
    return {
      grads,
      stats: Float32Array.of(lossSum * scale, Math.sqrt(squares), metricSum),
    };
  }

  /** Bytes of the host arrays (float64 activations and their gradients) a step of `rows` needs. */
  extraBytes(rows: number): number {
    return 8 * 2 * rows * this.#plan.layers.reduce((n, l) => n + l.units, 0);
  }

  /** Nothing to free: every step's arrays are its own. */
  dispose(): void {}
}
