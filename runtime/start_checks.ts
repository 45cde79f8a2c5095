/**
 * The checks a run makes once its data is known, before its first step: in one place for the
 * trainer actor and the in-process loop, so that neither trains what the other refuses.
 *
 * @module
 */
import type { RunConfig } from "../config.ts";
import { checkScheduleReach } from "../schedulers/raises.ts";
import { checkBatchNormBatches } from "../task_fit.ts";

/** What the start checks read of the loaded data. */
export interface StartData {
  /** A sample's shape. */
  inputShape: readonly number[];
  /** Training samples an epoch takes. */
  trainSize: number;
  /** Training batches an epoch takes (micro-batches, under gradient accumulation). */
  batchesPerEpoch: number;
}

/**
 * Refuses, before the first step, a run torch would fail partway: batch norm over one value a
 * channel (`checkBatchNormBatches`), and a schedule stepped as far as a step where torch raises
 * (`checkScheduleReach`; the run's length is its epochs, and `maxSteps` where it stops there).
 * Returns the optimizer steps an epoch takes. `resumeOf`: the directory of the run resumed, whose
 * schedule's refusal then tells to start a new run from its config (a resume keeps it).
 *
 * @example
 * ```ts
 * import { checkRunStart } from "./start_checks.ts";
 * import { parseConfig } from "../config.ts";
 * const config = parseConfig({ batchSize: 8, gradientAccumulation: 2 });
 * const data = { inputShape: [1], trainSize: 200, batchesPerEpoch: 25 };
 * console.assert(checkRunStart(config, data, config) === 13);
 * ```
 */
export function checkRunStart(
  config: RunConfig,
  data: StartData,
  { maxSteps }: { maxSteps?: number },
  resumeOf?: string,
): number {
  // batch norm over one value a channel (a batch of one sample): torch raises, anneal refuses
  checkBatchNormBatches(config.model, data.inputShape, {
    trainSize: data.trainSize,
    batchSize: config.batchSize,
    dropLast: config.data.dropLast,
  });
  const stepsPerEpoch = Math.ceil(data.batchesPerEpoch / config.gradientAccumulation);
  // where torch would raise at a step of the schedule this run gets to, it ends now, saying why
  // (a resumed run's fix is a new run: `resumeOf`, its directory, says how to start it)
  checkScheduleReach(
    config.scheduler,
    { stepsPerEpoch, epochs: config.epochs, maxSteps },
    resumeOf,
  );
  return stepsPerEpoch;
}
