/**
 * The workloads of `torch_reference.py` built from plain tfjs-core ops (no trainer, no layers
 * package): same shapes, batch sizes, optimizers and clipping, random inputs and labels, PyTorch's
 * default initialisation bound U(-1/sqrt(fanIn), 1/sqrt(fanIn)). Layout is NHWC where torch uses
 * NCHW. Batch norm uses batch statistics (training mode) without running averages.
 *
 * @module
 */

import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
// Side effect: tfjs-layers registers the gradients of tfjs-core ops (core alone registers none).
import "npm:@tensorflow/tfjs-layers@4.22.0";
import { AnnealError } from "../errors.ts";
import { batchNormTraining } from "../models/batch_norm.ts";

/** A model ready to step: its variables and a loss over fixed random data. */
export interface Workload {
  name: string;
  batch: number;
  optimizer: "adam" | "sgd";
  lr: number;
  momentum?: number;
  clip?: number;
  vars: tf.Variable[];
  loss: () => tf.Scalar;
  dispose(): void;
}

/** The workload names, in the reference script's order. */
export const WORKLOAD_NAMES = ["mlp", "cnn", "lstm", "mlp_sgd"] as const;

let counter = 0;
function param(shape: number[], fanIn: number, seed: number): tf.Variable {
  const bound = 1 / Math.sqrt(fanIn);
  return tf.variable(
    tf.randomUniform(shape, -bound, bound, "float32", seed),
    true,
    `w${counter++}`,
  );
}

function dense(inputs: number, units: number, seed: number): [tf.Variable, tf.Variable] {
  return [param([inputs, units], inputs, seed), param([units], inputs, seed + 1)];
}

function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor2D): tf.Scalar {
  return tf.neg(tf.mean(tf.sum(tf.mul(labels, tf.logSoftmax(logits)), 1)));
}

function data(shape: number[], batch: number) {
  const x = tf.randomNormal([batch, ...shape], 0, 1, "float32", 1);
  const y = tf.oneHot(tf.randomUniform([batch], 0, 10, "int32", 2) as tf.Tensor1D, 10);
  return { x, y: tf.cast(y, "float32") as tf.Tensor2D };
}

function mlp(name: string, optimizer: "adam" | "sgd"): Workload {
  const batch = 256;
  const { x, y } = data([784], batch);
  const layers = [dense(784, 512, 10), dense(512, 512, 20), dense(512, 10, 30)];
  const loss = () =>
    tf.tidy(() => {
      let h: tf.Tensor2D = x as tf.Tensor2D;
      layers.forEach(([w, b], i) => {
        h = tf.add(tf.matMul(h, w), b);
        if (i < layers.length - 1) h = tf.relu(h);
      });
      return crossEntropy(h, y);
    });
  return finish({
    name,
    batch,
    optimizer,
    lr: optimizer === "adam" ? 1e-3 : 0.01,
    momentum: optimizer === "sgd" ? 0.9 : undefined,
    vars: layers.flat(),
    loss,
  }, [x, y]);
}

function cnn(): Workload {
  const batch = 128;
  const { x, y } = data([28, 28, 1], batch);
  const c1 = [param([3, 3, 1, 32], 9, 40), param([32], 9, 41)];
  const bn1 = [tf.variable(tf.ones([32])), tf.variable(tf.zeros([32]))];
  const c2 = [param([3, 3, 32, 64], 288, 42), param([64], 288, 43)];
  const bn2 = [tf.variable(tf.ones([64])), tf.variable(tf.zeros([64]))];
  const [f1w, f1b] = dense(64 * 7 * 7, 128, 44);
  const [f2w, f2b] = dense(128, 10, 46);
  const block = (h: tf.Tensor4D, [w, b]: tf.Variable[], [gamma, beta]: tf.Variable[]) => {
    const z = tf.add(tf.conv2d(h, w as tf.Tensor4D, 1, "same"), b) as tf.Tensor4D;
    // anneal's models normalize a training batch with this op (models/batch_norm.ts)
    const normed = batchNormTraining(z, gamma, beta, 1e-5).y;
    return tf.maxPool(tf.relu(normed) as tf.Tensor4D, 2, 2, "valid");
  };
  const loss = () =>
    tf.tidy(() => {
      const h = block(block(x as tf.Tensor4D, c1, bn1), c2, bn2);
      const flat = tf.reshape(h, [batch, 64 * 7 * 7]) as tf.Tensor2D;
      const hidden = tf.relu(tf.add(tf.matMul(flat, f1w as tf.Tensor2D), f1b)) as tf.Tensor2D;
      return crossEntropy(tf.add(tf.matMul(hidden, f2w as tf.Tensor2D), f2b), y);
    });
  const vars = [...c1, ...bn1, ...c2, ...bn2, f1w, f1b, f2w, f2b];
  return finish({ name: "cnn", batch, optimizer: "adam", lr: 1e-3, vars, loss }, [x, y]);
}

function lstm(): Workload {
  const batch = 64, steps = 32, inputs = 16, units = 128;
  const { x, y } = data([steps, inputs], batch);
  const kernel = param([inputs + units, 4 * units], units, 50);
  const bias = param([4 * units], units, 51);
  const [hw, hb] = dense(units, 10, 52);
  const loss = () =>
    tf.tidy(() => {
      let h = tf.zeros([batch, units]) as tf.Tensor2D;
      let c = tf.zeros([batch, units]) as tf.Tensor2D;
      const xs = tf.unstack(x, 1) as tf.Tensor2D[];
      for (const xt of xs) {
        const z = tf.add(tf.matMul(tf.concat([xt, h], 1), kernel as tf.Tensor2D), bias);
        const [i, f, g, o] = tf.split(z, 4, 1);
        c = tf.add(tf.mul(tf.sigmoid(f), c), tf.mul(tf.sigmoid(i), tf.tanh(g)));
        h = tf.mul(tf.sigmoid(o), tf.tanh(c));
      }
      return crossEntropy(tf.add(tf.matMul(h, hw as tf.Tensor2D), hb), y);
    });
  return finish({
    name: "lstm",
    batch,
    optimizer: "adam",
    lr: 1e-3,
    clip: 1,
    vars: [kernel, bias, hw, hb],
    loss,
  }, [x, y]);
}

function finish(w: Omit<Workload, "dispose">, data: tf.Tensor[]): Workload {
  return {
    ...w,
    dispose: () => [...w.vars, ...data].forEach((t) => t.dispose()),
  };
}

/**
 * Builds a workload by name on the current backend.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
 * import { buildWorkload } from "./workloads.ts";
 * await tf.setBackend("cpu");
 * const w = buildWorkload("mlp");
 * console.assert(w.vars.length === 6);
 * w.dispose();
 * ```
 */
export function buildWorkload(name: string): Workload {
  switch (name) {
    case "mlp":
      return mlp("mlp", "adam");
    case "mlp_sgd":
      return mlp("mlp_sgd", "sgd");
    case "cnn":
      return cnn();
    case "lstm":
      return lstm();
    default:
      throw new AnnealError(
        "usage",
        `Cannot build workload: '${name}' is not one of ${WORKLOAD_NAMES}`,
        {
          hint: "use --only with mlp, cnn, lstm, mlp_sgd, seed_linear or optim",
        },
      );
  }
}
