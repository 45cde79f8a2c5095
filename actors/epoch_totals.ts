/**
 * The trainer's running sums over an epoch or an evaluation pass: loss and metrics, weighted by
 * samples, summed on the host from values read back in windows (no tensor ops per step).
 *
 * @module
 */
import { AnnealError } from "../errors.ts";
import type { StepValues } from "../runtime/engine.ts";

/** The sums of an {@linkcode EpochTotals}, as a checkpoint keeps them. */
export interface EpochTotalsSnapshot {
  /** The loss's sum (by samples), then each metric's. */
  sums: number[];
  /** Samples summed. */
  samples: number;
}

/** Loss and metric sums of one epoch (or one evaluation pass). */
export class EpochTotals {
  #sums: number[];
  samples = 0;

  /** `metrics` are the engine's metric names, in the order sums are given. */
  constructor(readonly metrics: string[]) {
    this.#sums = new Array(metrics.length + 1).fill(0);
  }

  /** Adds a step (or an evaluated batch) read back: its mean loss and its metric sums. */
  add(values: StepValues): void {
    this.#sums[0] += values.loss * values.samples;
    values.metricSums.forEach((sum, i) => (this.#sums[i + 1] += sum));
    this.samples += values.samples;
  }

  /** The sums so far, for a checkpoint taken within an epoch (see {@linkcode restore}). */
  snapshot(): EpochTotalsSnapshot {
    return { sums: [...this.#sums], samples: this.samples };
  }

  /** Goes on from a {@linkcode snapshot}'s sums (an epoch resumed where it was stopped). */
  restore(snapshot: EpochTotalsSnapshot): void {
    if (snapshot.sums.length !== this.#sums.length) {
      throw new AnnealError(
        "checkpoint",
        `Cannot go on with an epoch's totals: the checkpoint holds ${snapshot.sums.length} sums, ` +
          `the model logs ${this.#sums.length} (loss, ${this.metrics.join(", ")})`,
        { hint: "the checkpoint is not this run's: start a new run from its config" },
      );
    }
    this.#sums = [...snapshot.sums];
    this.samples = snapshot.samples;
  }

  /** Means over the samples: `{ loss, accuracy | mae }`; NaN loss when no step counted. */
  means(): Record<string, number> {
    const out: Record<string, number> = {
      loss: this.samples > 0 ? this.#sums[0] / this.samples : NaN,
    };
    this.metrics.forEach((name, i) => (out[name] = this.#sums[i + 1] / this.samples));
    return out;
  }
}

/**
 * An epoch's metrics as the trainer sends them to the scheduler and the early stopper
 * (`EpochEnded`) and logs them (its `epoch` event): its training means, its validation pass's
 * means named `valX` (`loss` as `valLoss`; none without a validation pass), and `lr`, the rate
 * of its last step. The one naming of them, for the trainer and the in-process loop alike.
 *
 * @example
 * ```ts
 * import { epochMetrics } from "./epoch_totals.ts";
 * const metrics = epochMetrics({ loss: 0.5, mae: 0.4 }, { loss: 0.6, mae: 0.45 }, 0.01);
 * console.assert(metrics.valLoss === 0.6 && metrics.valMae === 0.45 && metrics.lr === 0.01);
 * ```
 */
export function epochMetrics(
  training: Record<string, number>,
  validation: Record<string, number> | undefined,
  lr: number,
): Record<string, number> {
  const metrics = { ...training };
  for (const [name, value] of Object.entries(validation ?? {})) {
    metrics[`val${name[0].toUpperCase()}${name.slice(1)}`] = value;
  }
  metrics.lr = lr;
  return metrics;
}
