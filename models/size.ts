/**
 * A model's size from its resolved spec and the data's shape, before it is built: its trainable
 * parameters (as `countParameters` counts them on the built model) and the largest tensor one
 * sample surely makes in a training pass. Building a model draws every weight's initial value
 * (seconds for 1e8 parameters), so a model too large for the backend's memory can be refused
 * before that, from this alone. Imports neither tfjs nor the spec's schema.
 *
 * @module
 */
import type { ResolvedModelSpec } from "./spec.ts";
import type { ModelShape } from "./build_resolved.ts";

/** What a model of a spec holds, counted from the spec (see {@linkcode modelSize}). */
export interface ModelSize {
  /** Trainable parameters: `sum(p.numel() for p in model.parameters())` in torch's terms. */
  parameters: number;
  /**
   * The largest tensor a training pass surely makes for one sample, in floats: the input, or the
   * output of one of the model's layers (a dense or conv layer, a recurrent layer's last step).
   * A batch of b samples makes b times as many.
   */
  widest: { floats: number; name: string };
}

const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/**
 * The trainable parameters of the model `spec` builds for data of `shape`, and its widest tensor
 * for one sample (see {@linkcode ModelSize}); the layers are those `buildResolvedModel` makes,
 * under the same names.
 *
 * @example
 * ```ts
 * import { modelSize } from "./size.ts";
 * import { ModelSpecSchema } from "./spec.ts";
 * const spec = ModelSpecSchema.parse({ kind: "mlp", hidden: [64] });
 * const size = modelSize(spec, { inputShape: [784], outputUnits: 10 });
 * console.assert(size.parameters === 784 * 64 + 64 + 64 * 10 + 10);
 * console.assert(size.widest.name === "the input" && size.widest.floats === 784);
 * ```
 */
export function modelSize(spec: ResolvedModelSpec, shape: ModelShape): ModelSize {
  let parameters = 0;
  let widest = { floats: product(shape.inputShape), name: "the input" };
  const output = (floats: number, name: string) => {
    if (floats > widest.floats) widest = { floats, name };
  };
  /** A dense layer from `inputs` features to `units`, then its output. */
  const dense = (inputs: number, units: number, name: string) => {
    parameters += inputs * units + units;
    output(units, `layer ${name}`);
    return units;
  };
  const head = (inputs: number) => dense(inputs, shape.outputUnits, "head");
  switch (spec.kind) {
    case "linear":
      head(product(shape.inputShape));
      break;
    case "mlp": {
      let features = product(shape.inputShape);
      spec.hidden.forEach((units, i) => {
        features = dense(features, units, `dense${i}`);
        if (spec.batchNorm) parameters += 2 * units; // scale and offset
      });
      head(features);
      break;
    }
    case "cnn": {
      // [h, w] images have one channel; "same" padding keeps a map's size, each pool divides it
      let [height, width, channels] = [
        shape.inputShape[0],
        shape.inputShape[1],
        shape.inputShape[2] ?? 1,
      ];
      spec.filters.forEach((filters, i) => {
        parameters += spec.kernelSize * spec.kernelSize * channels * filters + filters;
        output(height * width * filters, `layer conv${i}`);
        if (spec.batchNorm) parameters += 2 * filters;
        if (spec.pool > 1) {
          [height, width] = [Math.floor(height / spec.pool), Math.floor(width / spec.pool)];
        }
        channels = filters;
      });
      let features = height * width * channels;
      spec.dense.forEach((units, i) => (features = dense(features, units, `dense${i}`)));
      head(features);
      break;
    }
    case "rnn": {
      // images [h, w, c] are h steps of w*c features; a flat vector n steps of one feature
      const rest = shape.inputShape.slice(1);
      let features = rest.length === 0 ? 1 : product(rest);
      // torch's nn.LSTM and nn.GRU: a kernel, a recurrent kernel and two biases a gate
      const gates = spec.cell === "lstm" ? 4 : 3;
      for (let i = 0; i < spec.layers; i++) {
        parameters += gates * spec.units * (features + spec.units) + 2 * gates * spec.units;
        output(spec.units, `layer ${spec.cell}${i}`);
        features = spec.units;
      }
      head(features);
      break;
    }
  }
  return { parameters, widest };
}
