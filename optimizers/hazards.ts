/**
 * What an optimizer's settings mean for a run's loss, for the parts of anneal that judge it (the
 * divergence guards, the LR range test, the diagnosis, the config's warnings):
 * - settings torch accepts that break the update whatever the learning rate (RMSprop's `alpha`
 *   at or above 1, or 0 when centered), so that a NaN or exploding loss is blamed on them, not on the learning rate;
 * - torch's `maximize`, under which the loss rises by design: a rising loss is the optimizer
 *   working, not diverging.
 *
 * Pure, and lenient about its input: it reads a resolved optimizer spec as well as a run record's
 * `optimizer` as plain JSON (anything else reads as no setting at all).
 *
 * @module
 */

/** A setting that breaks the update: where it is, what it does, and the fix. */
export interface SettingFault {
  /** The config path of the setting, e.g. `optimizer.alpha`. */
  field: string;
  /** A headline, e.g. `rmsprop alpha above 1`. */
  title: string;
  /** What the setting does to the update, e.g. `rmsprop's alpha 1.5 is above 1: ...`. */
  message: string;
  /** What to do about it, with a `--set` the user can paste. */
  hint: string;
  /** That `--set`'s override (`optimizer.alpha=0.99`). */
  set: string;
  /**
   * True when no learning rate avoids the failure (a NaN at the first step), so that rolling back
   * and cutting the learning rate, or skipping the bad steps, cannot help.
   */
  anyLr: boolean;
}

function fieldOf(optimizer: unknown, key: string): unknown {
  return optimizer !== null && typeof optimizer === "object"
    ? (optimizer as Record<string, unknown>)[key]
    : undefined;
}

/**
 * Whether the optimizer ascends the loss (torch's `maximize: true`; sgd, adam, adamw, rmsprop,
 * adagrad, adamax and adadelta have it).
 *
 * @example
 * ```ts
 * import { maximizes } from "./hazards.ts";
 * console.assert(maximizes({ name: "adam", maximize: true }));
 * console.assert(!maximizes({ name: "adam" }) && !maximizes(undefined));
 * ```
 */
export function maximizes(optimizer: unknown): boolean {
  return fieldOf(optimizer, "maximize") === true;
}

/**
 * The setting of `optimizer` that breaks its update whatever the learning rate, if any:
 * - RMSprop's `alpha` above 1 (torch 1.13 checks only `alpha >= 0`): the square average
 *   `alpha * avg + (1 - alpha) * grad²` starts negative, its square root is NaN, and every weight
 *   with a gradient is NaN after the first step, in torch as in anneal;
 * - RMSprop's `alpha` of exactly 1: the square average never moves from 0, so every step is
 *   `lr * grad / eps`: 1e8 times plain gradient descent's step at the default eps;
 * - centered RMSprop's `alpha` of 0: its variance `g² - g²` is the rounding error of `g²`
 *   (torch rounds the subtraction once, a fused multiply-add, and so does anneal), so after the
 *   first step a weight is NaN where `g²` rounded down and took a step of `lr * g / sqrt(error)`
 *   where it rounded up, whatever the learning rate.
 *
 * @example
 * ```ts
 * import { settingFault } from "./hazards.ts";
 * console.assert(settingFault({ name: "rmsprop", alpha: 1.5 })?.field === "optimizer.alpha");
 * console.assert(settingFault({ name: "rmsprop", alpha: 0, centered: true })?.anyLr === true);
 * console.assert(settingFault({ name: "rmsprop", alpha: 0.99 }) === undefined);
 * ```
 */
export function settingFault(optimizer: unknown): SettingFault | undefined {
  const alpha = fieldOf(optimizer, "alpha");
  if (fieldOf(optimizer, "name") !== "rmsprop" || typeof alpha !== "number") return undefined;
  if (alpha === 0 && fieldOf(optimizer, "centered") === true) {
    return {
      field: "optimizer.alpha",
      title: "centered rmsprop alpha of 0",
      message: "centered rmsprop's alpha 0 makes its variance (square average - average²) the " +
        "gradient² minus itself, 0 but for rounding: the weights whose gradient² rounded down " +
        "are NaN after the first step, the others take steps of lr x gradient / sqrt(rounding " +
        "error), whatever the learning rate (torch 1.13 does the same)",
      hint: "use alpha in (0, 1): --set optimizer.alpha=0.99 (torch's default), or " +
        "--set optimizer.centered=false",
      set: "optimizer.alpha=0.99",
      anyLr: true,
    };
  }
  if (!(alpha >= 1)) return undefined;
  const fix = {
    field: "optimizer.alpha",
    hint: "use alpha in [0, 1): --set optimizer.alpha=0.99 (torch's default)",
    set: "optimizer.alpha=0.99",
  };
  if (alpha > 1) {
    return {
      ...fix,
      title: "rmsprop alpha above 1",
      message: `rmsprop's alpha ${alpha} is above 1: its square average (alpha x average + ` +
        `(1 - alpha) x gradient²) turns negative and its square root NaN, so the weights are NaN ` +
        `after the first step whatever the learning rate (torch 1.13 does the same)`,
      anyLr: true,
    };
  }
  return {
    ...fix,
    title: "rmsprop alpha of 1",
    message: "rmsprop's alpha 1 keeps its square average at 0, so every step is the learning " +
      "rate x gradient / eps (eps is there only to avoid a division by zero)",
    anyLr: false,
  };
}
