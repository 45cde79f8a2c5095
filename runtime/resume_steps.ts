/**
 * Where a resumed run's checkpoint sits in its epochs: a checkpoint is written at an epoch's end,
 * and a resume goes on from there only where that end is where the run's epochs end now
 * ({@linkcode checkResumedSteps}). Kept apart from resume.ts so the trainer's Worker loads only
 * this.
 *
 * @module
 */
import { batchesPerEpoch } from "../data/batches.ts";
import { AnnealError } from "../errors.ts";
import { shellWord } from "../shell_word.ts";

/** How a run's epochs are made into steps now, to check a checkpoint's position against. */
export interface EpochSteps {
  /** Training samples (after the validation split). */
  trainSize: number;
  /** `batchSize`. */
  batchSize: number;
  /** `data.dropLast`. */
  dropLast: boolean;
  /** `gradientAccumulation`: batches a step. */
  accumulation: number;
}

/** The optimizer steps of one epoch, as the trainer takes them. */
export function stepsPerEpoch(
  { trainSize, batchSize, dropLast, accumulation }: EpochSteps,
): number {
  return Math.ceil(batchesPerEpoch(trainSize, batchSize, dropLast, accumulation) / accumulation);
}

/**
 * The steps an epoch took before anneal dropped, with `dropLast`, the micro-batches that do not
 * fill a whole step (commit 93f3c04): every whole batch, the last step over the ones left.
 */
function stepsPerEpochBefore({ trainSize, batchSize, accumulation }: EpochSteps): number {
  return Math.ceil(Math.floor(trainSize / batchSize) / accumulation);
}

/**
 * Refuses to resume from a checkpoint that is not where the run makes its epochs' steps now: the
 * checkpoint of epoch `epoch`'s end (zero-based) is at step `(epoch + 1) x stepsPerEpoch`
 * (skipped steps count, and a rollback keeps the count); that of a run stopped within the next
 * epoch (`within`: its batches trained) that many steps on, short of that epoch's end. Where it
 * is not, every later step would get a learning rate planned for another step (the schedule, its
 * epochs and its total are planned from the steps an epoch takes), and no resume can make it up without guessing what was meant. Such a checkpoint
 * was written by an anneal whose epochs with `dropLast` and `gradientAccumulation` above 1 took
 * one more, shorter step (said so when its count matches), or the training data changed since.
 */
export function checkResumedSteps(
  state: { epoch: number; step: number; within?: unknown },
  now: EpochSteps,
  run: { runId: string; dir: string },
): void {
  const perEpoch = stepsPerEpoch(now);
  const { trainSize, batchSize, dropLast, accumulation } = now;
  const within = (state.within as { batches?: unknown } | undefined)?.batches;
  const trained = typeof within === "number" ? within : 0;
  const withinSteps = Math.ceil(trained / accumulation);
  const epochs = state.epoch + 1;
  const expected = epochs * perEpoch + withinSteps;
  const fits = trained < batchesPerEpoch(trainSize, batchSize, dropLast, accumulation);
  // no step an epoch: the loader refuses such a run, saying why
  if (perEpoch === 0 || (fits && state.step === expected)) return;
  const { runId, dir } = run;
  const where = `${dir}/checkpoints/last.ckpt`;
  const fresh = `start a new run from its config: \`anneal train -c ${
    shellWord(`${dir}/config.json`)
  }\``;
  const before = stepsPerEpochBefore(now);
  if (trained === 0 && dropLast && accumulation > 1 && state.step === epochs * before) {
    const whole = Math.floor(trainSize / batchSize);
    throw new AnnealError(
      "checkpoint",
      `Cannot resume run '${runId}': its checkpoint was written by an older anneal, whose epochs ` +
        `took ${before} steps (step ${state.step} after epoch ${state.epoch}), and this one ` +
        `takes ${perEpoch}: of the ${whole} batches of ${batchSize} that data.dropLast makes ` +
        `of the ${trainSize} training samples, the ${whole % accumulation} that do not fill a ` +
        `step of gradientAccumulation ${accumulation} are now dropped too, where the older one ` +
        `took one more, shorter step over them. Resumed, every later step would get a learning ` +
        `rate planned for another step (the schedule and its total steps are planned from the ` +
        `steps an epoch takes)`,
      {
        where,
        hint: `${fresh} (its epochs take ${perEpoch} steps from the start; a schedule whose ` +
          `horizon is in steps, as onecycle's totalSteps, may want setting again for them); or ` +
          "finish this one with the anneal that trained it",
      },
    );
  }
  const ended = `${epochs} epoch${epochs === 1 ? "" : "s"} of ${perEpoch} steps`;
  const position = trained === 0
    ? `at step ${state.step} after epoch ${state.epoch}, not at step ${expected} (${ended}), ` +
      "where that epoch ends"
    : !fits
    ? `at step ${state.step}, ${trained} batches into epoch ${epochs}, more batches than an ` +
      "epoch holds"
    : `at step ${state.step}, ${trained} batches into epoch ${epochs}, not at step ${expected} ` +
      `(${ended}, then ${withinSteps}), where those batches end`;
  throw new AnnealError(
    "checkpoint",
    `Cannot resume run '${runId}': its checkpoint is ${position} as this run makes its epochs ` +
      `now (${trainSize} training samples, batchSize ${batchSize}, gradientAccumulation ` +
      `${accumulation}, dropLast ${dropLast}): its training data has changed since it was ` +
      `written, or the checkpoint is not this run's. Resumed, every later step would get a ` +
      "learning rate planned for another step",
    {
      where,
      hint: `${fresh}; or, if the data changed by mistake, put the data it trained on back and ` +
        "resume it",
    },
  );
}

/**
 * Refuses to resume a run on data other than the data it trained on: its `meta.json` records the
 * SHA-256 of the samples it loaded (training, validation and test: `recorded`), and `now` is that
 * of the samples loaded now. A file edited in place since (the same number of rows, other values)
 * would otherwise go on training, and be judged, on other samples than its checkpoint's epochs,
 * without a word. A run whose record holds no fingerprint (killed before it loaded its data) is
 * not checked.
 */
export function checkResumedData(
  recorded: string | undefined,
  now: string,
  run: { runId: string; dir: string },
): void {
  if (recorded === undefined || recorded === now) return;
  const { runId, dir } = run;
  throw new AnnealError(
    "checkpoint",
    `Cannot resume run '${runId}': its data is not the data it trained on (SHA-256 ` +
      `${recorded.slice(0, 12)}... in ${dir}/meta.json, ${now.slice(0, 12)}... now): a data ` +
      "file changed since (its training, validation or test samples)",
    {
      where: `${dir}/meta.json`,
      hint: "restore the data it trained on, then resume it; or start a new run on the data " +
        `as it is: \`anneal train -c ${shellWord(`${dir}/config.json`)}\``,
    },
  );
}
