/**
 * The `sweep` section of a config: what to search, how, and what counts as better.
 *
 * @module
 */
import { z } from "npm:zod@4.6.7";
import { SearchSpaceSchema } from "./space.ts";

/** A sweep over config fields. */
export const SweepSpecSchema = z.strictObject({
  /** Dotted config paths and their distributions, e.g. `{ "optimizer.lr": { "type": "logUniform", ... } }`. */
  space: SearchSpaceSchema,
  /** The epoch metric to optimise; a trial's value is its best epoch's. */
  metric: z.string().default("valLoss"),
  /** Default: maximize for accuracy-like metrics, minimize otherwise. */
  direction: z.enum(["minimize", "maximize"]).optional(),
  /** Trials in the study (all workers together). */
  trials: z.number().int().positive().default(20),
  /** TPE is Optuna's default and beats random search after its 10 random start-up trials. */
  sampler: z.enum(["grid", "random", "quasiRandom", "tpe"]).default("tpe"),
  /** Prunes trials whose intermediate metric is worse than the median of finished trials at the same epoch. */
  pruner: z.enum(["none", "median", "asha", "hyperband"]).default("median"),
  /** Trials run at once by one process (each through its own five actors). */
  parallel: z.number().int().positive().max(32).default(1),
  /** Seed of the sampler. */
  seed: z.number().int().nonnegative().default(0),
});

/** A sweep section as written. */
export type SweepSpecInput = z.input<typeof SweepSpecSchema>;
/** A sweep section with defaults. */
export type SweepSpec = z.output<typeof SweepSpecSchema>;

/** The direction a metric should move: up for accuracy-like metrics, down for losses and errors. */
export function directionOf(
  spec: Pick<SweepSpec, "metric" | "direction">,
): "minimize" | "maximize" {
  return spec.direction ??
    (/acc|auc|f1|precision|recall/i.test(spec.metric) ? "maximize" : "minimize");
}
