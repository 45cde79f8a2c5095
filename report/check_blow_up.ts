/**
 * A loss that blew up early and came back down: the run went on (the trainer stops only a loss
 * 100x its early level, or not finite), but from weights the blow-up had thrown far off, which a
 * learning rate too high does and the epoch curve hides (its first mean is the blow-up's).
 *
 * @module
 */
import { configValue } from "./records.ts";
import {
  chanceLoss,
  changeRate,
  type Curves,
  DIVERGE_FROM_FIRST,
  f,
  finite,
  mean,
  setText,
  unscaledFeatures,
} from "./checks.ts";
import type { Finding } from "./types.ts";
// (a block of steps holds at least these many samples, as the trainer's loss watch averages them)
import { BLOCK_SAMPLES } from "../actors/loss_watch.ts";

/**
 * A classifier's blow-up: a block's mean loss above this multiple of its yardstick, the larger of
 * its first block's mean and chance level (ln K: the loss of a uniform guess, where torch's
 * initialisations start a classifier). Lower than a regression's DIVERGE_FROM_FIRST: a
 * cross-entropy three times a uniform guess's, over BLOCK_SAMPLES samples or more, is a model
 * confidently wrong, which only updates that overshot make (Adam at lr 1 on a binary churn set:
 * steps at 4-7x ln 2, where lr 0.01's stay within 1.1x of it), while a regression's squared error
 * swings by more between batches at the start.
 */
export const BLEW_UP_CLASSIFIER = 3;

/**
 * The step losses averaged in blocks of at least BLOCK_SAMPLES samples (one batch's loss is too
 * noisy a yardstick at small batch sizes), each with its first step.
 */
function blocks(record: Curves["record"]): { step: number; epoch: number; mean: number }[] {
  const batch = configValue(record.config, "batchSize");
  const span = Math.max(1, Math.ceil(BLOCK_SAMPLES / (typeof batch === "number" ? batch : 1)));
  const out = [];
  for (let i = 0; i + span <= record.steps.length; i += span) {
    const losses = finite(record.steps.slice(i, i + span).map((s) => s.loss));
    if (losses.length) {
      out.push({ step: record.steps[i].step, epoch: record.steps[i].epoch, mean: mean(losses) });
    }
  }
  return out;
}

/**
 * The step losses rose above DIVERGE_FROM_FIRST times their first block's mean (a classifier's,
 * BLEW_UP_CLASSIFIER times the larger of that and chance level), and the run went on: the rate was
 * too high for the start of training (the fix: a tenth of it, or warmup).
 *
 * @example
 * ```ts
 * import { checkBlowUp } from "./check_blow_up.ts";
 * import { curves } from "./checks.ts";
 * const steps = [2.3, 42, 25, 9, 2.2, 2].map((loss, step) => ({ step, epoch: 0, loss, lr: 0.1 }));
 * const finding = checkBlowUp(curves({
 *   id: "x", dir: "x", meta: { id: "x" }, warnings: [], steps, summary: { status: "completed" },
 *   config: { batchSize: 64, optimizer: { name: "adam", lr: 0.1 } },
 *   epochs: [{ epoch: 0, loss: 13.7 }],
 * }));
 * console.assert(finding?.set?.[0] === "optimizer.lr=0.01");
 * ```
 */
export function checkBlowUp({ record, train, lr, rate, maximize }: Curves): Finding | undefined {
  if (maximize) return undefined; // its loss rises by design
  const means = blocks(record);
  const first = means[0]?.mean;
  if (!(first > 0)) return undefined;
  const peak = means.reduce((a, b) => (b.mean > a.mean ? b : a), means[0]);
  const chance = chanceLoss(record);
  // (a classifier whose first block sat below chance level, its bias already on the larger class,
  // is measured from chance level: a rise to 3x a low start may be a step's noise)
  const byChance = chance !== undefined && chance.loss > first;
  const yardstick = byChance ? chance.loss : first;
  const factor = chance ? BLEW_UP_CLASSIFIER : DIVERGE_FROM_FIRST;
  if (!(peak.mean > factor * yardstick)) return undefined;
  const slower = Number.isFinite(lr) && lr > 0 ? changeRate(rate, lr / 10) : undefined;
  // features on their own scales (data.normalize none) make the first steps as large whatever
  // the rate: a tenth of it, then a tenth again, trained worse (sensors' rpm column of ~1450)
  const scale = unscaledFeatures(record);
  const accuracy = record.epochs.at(-1)?.accuracy;
  return {
    kind: "diverged",
    severity: "warning",
    title: "the loss blew up early and came back: learning rate too high",
    evidence: `the step loss rose to ${f(peak.mean)} at step ${peak.step} (epoch ${peak.epoch}), ` +
      `${f(peak.mean / yardstick)}x ${
        byChance
          ? `chance level (ln ${chance.classes} = ${f(chance.loss)}: a uniform guess's loss)`
          : `its first steps' ${f(first)}`
      }, and the run went on from there to ` +
      `${f(train.at(-1))}${accuracy === undefined ? "" : ` (training accuracy ${f(accuracy)})`}`,
    fix: scale
      ? `${scale.text} (${setText(scale.set)}); or lower the learning rate${
        slower ? ` (${slower.text})` : ""
      }`
      : `lower the learning rate${slower ? ` (${slower.text})` : ""}, or warm it up ` +
        "(scheduler warmupCosine)",
    set: scale ? scale.set : slower?.set ?? [],
  };
}
