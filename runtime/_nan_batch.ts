/**
 * For tests: the losses a model's engine gives a batch of six samples, clean and with one feature
 * NaN (the first sample's tenth value: an image's pixel (1, 1) at width 8), in evaluation and in a
 * training step, on the backend selected.
 *
 * @module
 */
import { parseConfig } from "../config.ts";
import { TrainingEngine } from "./engine.ts";

/**
 * A model of each kind and option a NaN could be lost in, with its input shape: an MLP of each
 * activation, with batch norm, with dropout; a cnn with 3x3 convolutions and batch norm, one
 * with 1x1 convolutions (the NaN stays one pixel of one pooling window); an LSTM; a GRU; a
 * linear model.
 */
export const NAN_MODELS: { model: Record<string, unknown>; inputShape: number[] }[] = [
  ...["relu", "tanh", "gelu", "sigmoid"].map((activation) => ({
    model: { kind: "mlp", hidden: [6], activation },
    inputShape: [64],
  })),
  { model: { kind: "mlp", hidden: [6], batchNorm: true }, inputShape: [64] },
  { model: { kind: "mlp", hidden: [6], dropout: 0.3 }, inputShape: [64] },
  { model: { kind: "cnn", filters: [4], dense: [5] }, inputShape: [8, 8, 1] },
  {
    model: { kind: "cnn", filters: [4], dense: [], kernelSize: 1, batchNorm: false },
    inputShape: [8, 8, 1],
  },
  { model: { kind: "rnn", cell: "lstm", units: 5 }, inputShape: [8, 8] },
  { model: { kind: "rnn", cell: "gru", units: 5 }, inputShape: [8, 8] },
  { model: { kind: "linear" }, inputShape: [64] },
];

/** The losses of {@linkcode nanBatchLosses}. */
export interface NanBatchLosses {
  clean: number;
  evaluated: number;
  trained: number;
}

/**
 * Evaluates the clean batch, then the one with a NaN, then takes a training step's gradients on
 * it, with a new engine of `model` for 3 classes on `backend` (selected by the caller).
 */
export async function nanBatchLosses(
  backend: "cpu" | "wasm" | "webgpu",
  model: Record<string, unknown>,
  inputShape: number[],
): Promise<NanBatchLosses> {
  const config = parseConfig({ backend, seed: 5, model, optimizer: { name: "sgd", lr: 1e-2 } });
  const engine = new TrainingEngine(config, {
    inputShape,
    targetSize: 1,
    task: "classification",
    numClasses: 3,
  });
  try {
    const size = 6 * inputShape.reduce((a, b) => a * b);
    const y = Float32Array.from({ length: 6 }, (_, i) => i % 3);
    const clean = Float32Array.from({ length: size }, (_, i) => Math.sin(i * 0.7));
    const x = clean.slice();
    x[9] = NaN;
    const [cleanStats] = await engine.readStats([engine.evaluate({ x: clean, y, size: 6 })]);
    const [evaluated] = await engine.readStats([engine.evaluate({ x, y, size: 6 })]);
    const [trained] = await engine.readStats([engine.computeGradients([{ x, y, size: 6 }])]);
    return { clean: cleanStats.loss, evaluated: evaluated.loss, trained: trained.loss };
  } finally {
    engine.dispose();
  }
}
