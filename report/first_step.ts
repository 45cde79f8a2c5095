/**
 * A loss or gradient that is not finite at a run's first step: it was computed on the initial
 * weights, before any update, so the learning rate cannot be its cause (a tenth of it would fail
 * the same way). The data or the model is: values so large that the loss overflows float32, or
 * NaN/Infinity reaching the model. Said alike by the clip monitor's stop and by `diagnose`.
 *
 * @module
 */

/** The step whose loss and gradient are computed before any update: the run's first. */
export const FIRST_STEP = 0;

/**
 * What to do about a loss or gradient norm (`what`, e.g. "the loss became Infinity") that is not
 * finite at the first step (`mixedPrecision`: the run's, whose float16 activations overflow first).
 *
 * @example
 * ```ts
 * import { firstStepFault } from "./first_step.ts";
 * const fault = firstStepFault("the loss became Infinity");
 * console.assert(fault.reason.includes("before any update"));
 * console.assert(!fault.hint.includes("divide"));
 * console.assert(firstStepFault("the loss became NaN", true).hint.includes("float16"));
 * ```
 */
export function firstStepFault(
  what: string,
  mixedPrecision = false,
): { reason: string; title: string; hint: string } {
  return {
    reason: `training diverged at step ${FIRST_STEP}: ${what} on the initial weights, ` +
      "before any update",
    title: "diverged at the first step: the data or the model, not the learning rate",
    hint: "no update had been made, so the learning rate is not the cause: " +
      // (under mixedPrecision the activations are float16's, which overflow past 65504: data of
      // a million trained in float32 and was said to overflow float32)
      (mixedPrecision
        ? `under mixedPrecision the activations are stored as float16, whose largest value is ` +
          `${FLOAT16_MAX}: values that large overflow it (--set mixedPrecision=false trains in ` +
          "float32), or NaN/Infinity reaches the model; "
        : "the loss overflows float32 (~3.4e38) on the data as it is, or NaN/Infinity reaches " +
          "the model; ") +
      "scale values that large down (a CSV's data.normalize scales its features, not its " +
      "target), and check the data for NaN or infinite values",
  };
}

/** The largest finite float16, where mixed precision's stored activations overflow. */
export const FLOAT16_MAX = 65504;

/**
 * Whether a run's config (as written or recorded) stores activations as float16: `mixedPrecision`
 * with a model that has a layer it stores so. A linear model has none; an mlp's hidden layers
 * and an rnn's states are float16 only at an even width (a pair of units is one 32-bit word);
 * a cnn's maps are.
 *
 * @example
 * ```ts
 * import { float16Stored } from "./first_step.ts";
 * console.assert(float16Stored({ mixedPrecision: true, model: { kind: "mlp", hidden: [64] } }));
 * console.assert(!float16Stored({ mixedPrecision: true, model: { kind: "mlp", hidden: [63] } }));
 * console.assert(!float16Stored({ mixedPrecision: true, model: { kind: "linear" } }));
 * ```
 */
export function float16Stored(config: unknown): boolean {
  const { mixedPrecision, model } = (config ?? {}) as { mixedPrecision?: unknown; model?: unknown };
  if (mixedPrecision !== true) return false;
  const { kind, hidden, units } = (model ?? {}) as {
    kind?: unknown;
    hidden?: unknown;
    units?: unknown;
  };
  if (kind === "mlp") return Array.isArray(hidden) && hidden.some((h) => h % 2 === 0);
  if (kind === "rnn") return typeof units === "number" && units % 2 === 0;
  return kind === "cnn";
}
