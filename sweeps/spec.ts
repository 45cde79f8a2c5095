/**
 * The `sweep` section of a config: what to search, how, and what counts as better.
 *
 * @module
 */
import { z } from "npm:zod@4.6.7";
import { SearchSpaceSchema } from "./space.ts";
import { higherIsBetter } from "../task_fit.ts";
import { SAMPLER_NAMES } from "./samplers/named.ts";
import { PRUNER_NAMES } from "./pruners/types.ts";

/** A sweep over config fields. */
export const SweepSpecSchema = z.strictObject({
  /**
   * Dotted config paths and their distributions, e.g. `{ "optimizer.lr": { "type": "logUniform",
   * ... } }`. None by default: `anneal sweep` refuses an empty space, saying what to write;
   * `anneal tune`, which reads only the section's metric and direction, needs none
   * (`--set sweep.metric=loss`).
   */
  space: SearchSpaceSchema.default({}),
  /** The epoch metric to optimise; a trial's value is its best epoch's. */
  metric: z.string().default("valLoss"),
  /**
   * Default: for the loss itself (`loss`, `valLoss`), the trials' optimizer's direction (maximize
   * when `optimizer.maximize` is on in every trial; a space over it is refused for the loss); for
   * other metrics, maximize for accuracy-like ones, minimize otherwise. See `sweepDirection`.
   */
  direction: z.enum(["minimize", "maximize"]).optional().describe(
    "Default: for loss and valLoss, the optimizer's direction (maximize with optimizer.maximize); " +
      "otherwise maximize for accuracy-like metrics, minimize for the others.",
  ),
  /** Trials in the study (all workers together). */
  trials: z.number().int().positive().default(20),
  /** TPE is Optuna's default and beats random search after its 10 random start-up trials. */
  sampler: z.enum(SAMPLER_NAMES).default("tpe"),
  /** Prunes trials whose intermediate metric is worse than the median of finished trials at the same epoch. */
  pruner: z.enum(PRUNER_NAMES).default("median"),
  /** Trials run at once by one process (each through its own five actors). */
  parallel: z.number().int().positive().max(32).default(1),
  /** Seed of the sampler. */
  seed: z.number().int().nonnegative().default(0),
});

/** A sweep section as written. */
export type SweepSpecInput = z.input<typeof SweepSpecSchema>;
/** A sweep section with defaults. */
export type SweepSpec = z.output<typeof SweepSpecSchema>;

/**
 * The direction a metric should move by its name: up for accuracy-like metrics, down for losses
 * and errors. It does not know the optimizer: a sweep's objective comes from `sweepDirection`
 * (runtime/sweep.ts), which reads `optimizer.maximize` for the loss.
 */
export function directionOf(
  spec: Pick<SweepSpec, "metric" | "direction">,
): "minimize" | "maximize" {
  return spec.direction ?? (higherIsBetter(spec.metric, false) ? "maximize" : "minimize");
}
