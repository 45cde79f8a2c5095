/**
 * The trainer's running sums over an epoch or an evaluation pass: loss and metrics, weighted by
 * samples, summed on the host from values read back in windows (no tensor ops per step).
 *
 * @module
 */
import type { StepValues } from "../runtime/engine.ts";

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

  /** Means over the samples: `{ loss, accuracy | mae }`; NaN loss when no step counted. */
  means(): Record<string, number> {
    const out: Record<string, number> = {
      loss: this.samples > 0 ? this.#sums[0] / this.samples : NaN,
    };
    this.metrics.forEach((name, i) => (out[name] = this.#sums[i + 1] / this.samples));
    return out;
  }
}
