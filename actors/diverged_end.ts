/**
 * The divergence that ended a run, as its last checkpoint keeps it. A diverged run checkpoints
 * nothing of the steps that diverged: its `last.ckpt` stays at the state before them, which a
 * resume with more epochs or steps goes on from. Once it has diverged, the trainer writes that
 * checkpoint again with the divergence's verdict beside it (`diverged`), so that a run killed
 * before its end was recorded is finished by its resume as it ended, without training the steps
 * that diverged again (which, off the cpu, need not diverge the same way).
 *
 * @module
 */
import type { RunConfig } from "../config.ts";

/** What `last.ckpt` keeps (its state's `diverged`) of the divergence that ended its run. */
export interface DivergedEnd {
  /** The run's stop reason, as its summary records it. */
  reason: string;
  /** What to do about it. */
  hint?: string;
  /** Optimizer steps the run took, the one that diverged included. */
  steps: number;
  /** Epochs the run ended, one whose end diverged included. */
  epochs: number;
  /** The metrics the run ended with (a value that is not finite as its string: JSON has none). */
  metrics: Record<string, number | string>;
  /** The clip monitor's state once it judged the divergence: its statistics are the summary's. */
  clipMonitor: unknown;
  /** The run's length it diverged at: a resume that raised either trains on instead. */
  length: { epochs: number; maxSteps: number | null };
}

/**
 * The {@linkcode DivergedEnd} of a run of `config` that diverged with `result` and the clip
 * monitor's state `clipMonitor`, the run having ended `epochs` epochs in all.
 *
 * @example
 * ```ts
 * import { parseConfig } from "../config.ts";
 * import { divergedEnd } from "./diverged_end.ts";
 * const end = divergedEnd(parseConfig({ epochs: 4 }), {
 *   reason: "training diverged at step 3: the loss became NaN",
 *   steps: 4,
 *   metrics: { loss: NaN },
 * }, 1, {});
 * console.assert(end.metrics.loss === "NaN" && end.length.epochs === 4);
 * ```
 */
export function divergedEnd(
  config: RunConfig,
  result: { reason: string; hint?: string; steps: number; metrics: Record<string, number> },
  epochs: number,
  clipMonitor: unknown,
): DivergedEnd {
  const metrics = Object.fromEntries(
    Object.entries(result.metrics).map(([name, value]) => [
      name,
      Number.isFinite(value) ? value : String(value),
    ]),
  );
  return {
    reason: result.reason,
    ...(result.hint !== undefined && { hint: result.hint }),
    steps: result.steps,
    epochs,
    metrics,
    clipMonitor,
    length: { epochs: config.epochs, maxSteps: config.maxSteps ?? null },
  };
}

/**
 * The divergence a resume of `config` finishes its run with, read from its last checkpoint's
 * `state`: the run had diverged after that checkpoint, at the length it is resumed at. `undefined`
 * where the run goes on from the checkpoint: it did not diverge after it (or an older anneal,
 * which kept no verdict, wrote it), or the resume raised its epochs or maxSteps since (a run
 * whose record says it diverged trains on so too).
 *
 * @example
 * ```ts
 * import { parseConfig } from "../config.ts";
 * import { divergedEnd, divergedAt } from "./diverged_end.ts";
 * const config = parseConfig({ epochs: 4 });
 * const diverged = divergedEnd(config, { reason: "diverged", steps: 9, metrics: {} }, 2, {});
 * console.assert(divergedAt(config, { diverged })?.steps === 9);
 * console.assert(divergedAt({ ...config, epochs: 8 }, { diverged }) === undefined);
 * ```
 */
export function divergedAt(
  config: RunConfig,
  state: Record<string, unknown>,
): DivergedEnd | undefined {
  const end = state.diverged as Partial<DivergedEnd> | undefined;
  if (
    typeof end !== "object" || end === null || typeof end.reason !== "string" ||
    typeof end.steps !== "number" || typeof end.epochs !== "number" ||
    typeof end.metrics !== "object" || end.metrics === null || typeof end.length !== "object" ||
    end.length === null
  ) {
    return undefined;
  }
  const length = end.length as DivergedEnd["length"];
  if (length.epochs !== config.epochs || length.maxSteps !== (config.maxSteps ?? null)) {
    return undefined;
  }
  return end as DivergedEnd;
}

/** The metrics a {@linkcode DivergedEnd} keeps, as numbers again. */
export function endMetrics(end: DivergedEnd): Record<string, number> {
  return Object.fromEntries(
    Object.entries(end.metrics).map(([name, value]) => [name, Number(value)]),
  );
}
