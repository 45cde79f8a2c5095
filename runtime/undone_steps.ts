/**
 * Steps a late rollback undoes. On WebGPU with `readbackEvery` above 1 the clip monitor's stop or
 * rollback on a step applies WINDOW_LAG windows after the step's own: the steps taken meanwhile
 * are computed from weights the run then stops at or discards. On the CPU backends, where each
 * step is read before the next, those steps are never taken, so here they count in no epoch's
 * loss or metrics, and an epoch end among them (its weights discarded) is neither the best epoch
 * nor one a later rollback returns to. The trainer and the in-process loop both keep one, so that
 * they count alike.
 *
 * @module
 */
import type { StepValues } from "./engine.ts";

/** A step read back in a window, held until its epoch's end is settled. */
export interface HeldStep {
  step: number;
  values: StepValues;
}

/** What an epoch end says in its `EpochEnded` of the steps that counted (see `endFlags`). */
export interface EndFlags {
  discarded?: true;
  allUndone?: true;
  skippedAll?: true;
}

/** A stop or rollback decided on step `after`, acted on before step `until` (absent: not yet). */
interface Span {
  after: number;
  until?: number;
}

/**
 * The spans of steps between each stop or rollback decided and the step it was acted on.
 *
 * @example
 * ```ts
 * import { UndoneSteps } from "./undone_steps.ts";
 * const undone = new UndoneSteps();
 * undone.decided(5); // the clip monitor rolls back at step 5
 * undone.rolledBack(16); // the trainer returned to the last good end before step 16
 * console.assert(!undone.undone(5) && undone.undone(6) && undone.undone(15) && !undone.undone(16));
 * console.assert(undone.discards(10) && !undone.discards(16));
 * ```
 */
export class UndoneSteps {
  readonly #spans: Span[] = [];

  /**
   * A stop or rollback was decided on `step`: the steps after it are undone until the run acts
   * on it (the first decision counts: the monitor decides nothing on those steps).
   */
  decided(step: number): void {
    const last = this.#spans.at(-1);
    if (last && last.until === undefined) return;
    if (last && step < last.until!) return; // (a step the last rollback undid)
    this.#spans.push({ after: step });
  }

  /** The run rolled back before `step`: the steps from it on count again. */
  rolledBack(step: number): void {
    const last = this.#spans.at(-1);
    if (last && last.until === undefined) last.until = step;
  }

  /** Whether a stop or rollback was decided and the run has not acted on it (yet). */
  get pending(): boolean {
    const last = this.#spans.at(-1);
    return last !== undefined && last.until === undefined;
  }

  /** Whether `step` was taken between a decision and the step the run acted on it. */
  undone(step: number): boolean {
    return this.#spans.some((span) =>
      step > span.after && (span.until === undefined || step < span.until)
    );
  }

  /**
   * Whether a step read back counts in its epoch's loss and metrics: not an undone one, and not
   * the decision's own step where it was not finite (the CPU backends skip it).
   */
  counts(step: number, loss: number, gradNorm: number): boolean {
    if (this.undone(step)) return false;
    if (Number.isFinite(loss) && Number.isFinite(gradNorm)) return true;
    return !this.#spans.some((span) => span.after === step);
  }

  /**
   * Adds to `totals` each step of `held` (in step order) that counts in its epoch (see
   * {@linkcode UndoneSteps.counts}), and empties `held`.
   */
  sumCounted(held: HeldStep[], totals: { add(values: StepValues): void }): void {
    for (const { step, values } of held) {
      if (this.counts(step, values.loss, values.gradNorm)) totals.add(values);
    }
    held.length = 0;
  }

  /**
   * The flags of the `EpochEnded` of an epoch that ended after `endStep` steps (of
   * `stepsPerEpoch`), `samples` of its samples counted: where its steps were read in windows,
   * `discarded` (see {@linkcode UndoneSteps.discards}) and `allUndone` where none counted because
   * steps were undone (the others skipped); else `skippedAll` where none counted.
   */
  endFlags(endStep: number, stepsPerEpoch: number, samples: number, windows: boolean): EndFlags {
    const discarded = windows && this.discards(endStep);
    const allUndone = windows && samples === 0 &&
      (discarded || this.undoneWithin(endStep - stepsPerEpoch, endStep));
    return {
      ...(discarded && { discarded: true }),
      ...(allUndone ? { allUndone: true } : samples === 0 && { skippedAll: true }),
    };
  }

  /** Whether any step from `from` up to `to` (not included) was undone. */
  undoneWithin(from: number, to: number): boolean {
    return this.#spans.some((span) =>
      Math.max(from, span.after + 1) < Math.min(to, span.until ?? Infinity)
    );
  }

  /**
   * Whether adaptive clipping takes in the norm of `step`: not an undone one's, nor the
   * decision's own (the CPU backends take in no norm of a step they stop or roll back at).
   */
  keepsNorm(step: number): boolean {
    return !this.undone(step) && !this.#spans.some((span) => span.after === step);
  }

  /**
   * Whether an epoch end after `steps` steps came between a decision and the step it was acted
   * on (a rollback at the epoch's last step is acted on before its end): its weights are
   * discarded.
   */
  discards(steps: number): boolean {
    return this.#spans.some((span) =>
      steps > span.after && (span.until === undefined || steps < span.until)
    );
  }
}
