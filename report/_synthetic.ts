/**
 * Test helpers: run records built from synthetic curves, and the fixture runs' directory.
 *
 * @module
 */
import type { EpochRecord, RunRecord, StepRecord } from "./types.ts";

/** tests/fixtures/report/, where the generator wrote the fixture runs. */
export const FIXTURES = new URL("../tests/fixtures/report/", import.meta.url).pathname;

/** Options of {@linkcode syntheticRun}. */
export interface SyntheticOptions {
  val?: number[];
  accuracy?: number[];
  lr?: number;
  steps?: StepRecord[];
  config?: Record<string, unknown>;
  status?: RunRecord["summary"]["status"];
  /** The summary's stopReason. */
  stopReason?: string;
}

/** A run record whose epoch curves are exactly the given losses. */
export function syntheticRun(losses: number[], options: SyntheticOptions = {}): RunRecord {
  const epochs: EpochRecord[] = losses.map((loss, epoch) => ({
    epoch,
    loss,
    ...(options.val ? { valLoss: options.val[epoch] } : {}),
    ...(options.accuracy ? { accuracy: options.accuracy[epoch] } : {}),
    lr: options.lr ?? 0.01,
    seconds: 0.1,
  }));
  return {
    id: "synthetic",
    dir: "synthetic",
    config: {
      optimizer: { name: "sgd", lr: options.lr ?? 0.01, weightDecay: 0 },
      model: { kind: "mlp", hidden: [8], dropout: 0 },
      batchSize: 16,
      epochs: losses.length,
      clipping: { spikeFactor: 10 },
      ...options.config,
    },
    meta: { id: "synthetic", createdAt: "2026-01-01T00:00:00.000Z" },
    // Steps without a loss of their own take their epoch's.
    steps: (options.steps ?? []).map((s) => ({ ...s, loss: s.loss ?? losses[s.epoch] ?? NaN })),
    epochs,
    summary: {
      status: options.status ?? "completed",
      ...(options.stopReason && { stopReason: options.stopReason }),
    },
    warnings: [],
  };
}

/** Steps whose gradient norms follow `norm(step)`, `perEpoch` steps per epoch; loss from the epoch. */
export function syntheticSteps(
  count: number,
  perEpoch: number,
  norm: (step: number) => number,
): StepRecord[] {
  return Array.from({ length: count }, (_, step) => ({
    step,
    epoch: Math.floor(step / perEpoch),
    loss: undefined as unknown as number,
    lr: 0.01,
    gradNorm: norm(step),
  }));
}

/** A smooth decay from `start` to a floor: what a healthy run's loss looks like. */
export function decay(epochs: number, start = 10, floor = 0.25, rate = 0.25): number[] {
  return Array.from(
    { length: epochs },
    (_, e) => floor + (start - floor) * Math.exp(-rate * (e + 1)),
  );
}
