/**
 * Which models' `dropout` drops anything, read from a spec without its schema: the trainer's
 * dense plans ask it, and its Worker does not load zod for it.
 *
 * @module
 */

/**
 * Whether a model's `dropout` has a layer to follow: an MLP's hidden layers, a cnn's dense ones,
 * the gaps between an rnn's stacked layers (torch's nn.LSTM's `dropout`). Without one (an rnn of
 * one layer, `hidden: []`, `dense: []`, a linear model) it drops nothing. Reads a spec as written
 * or as a run's config.json holds it: an absent `hidden` or `dense` is the default, one layer.
 *
 * @example
 * ```ts
 * import { dropoutHasLayers } from "./dropout_layers.ts";
 * console.assert(dropoutHasLayers({ kind: "rnn", layers: 2 }));
 * console.assert(!dropoutHasLayers({ kind: "rnn" }) && !dropoutHasLayers({ kind: "mlp", hidden: [] }));
 * ```
 */
export function dropoutHasLayers(
  model: { kind?: unknown; hidden?: unknown; dense?: unknown; layers?: unknown },
): boolean {
  switch (model.kind) {
    case "mlp":
      return !Array.isArray(model.hidden) || model.hidden.length > 0;
    case "cnn":
      return !Array.isArray(model.dense) || model.dense.length > 0;
    case "rnn":
      return typeof model.layers === "number" && model.layers > 1;
    default:
      return false;
  }
}
