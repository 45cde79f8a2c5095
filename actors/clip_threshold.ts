/**
 * The threshold the trainer clips each step's gradients at by norm: `clipping.maxNorm`, or under
 * adaptive clipping (`clipping.autoPercentile`, AutoClip) the percentile of the norms of the
 * steps before it (the last {@linkcode HISTORY_LIMIT}, non-finite and skipped steps' left out;
 * `maxNorm`, if set, until the first one). The trainer sets it itself, from the norms it reads:
 * on the CPU backends, which read every step before the next, the threshold of each step is a
 * function of the steps before it alone, never of when another actor's answer arrives, so a run
 * clips the same way each time, and a resume (its state is in the checkpoint) as the run it
 * continues. Where they read steps in windows (`readbackEvery` above 1), the threshold moves at
 * each window's end only ({@linkcode ClipThreshold.settle}); a checkpoint within a window keeps
 * the threshold its steps were clipped at and every norm, for the window's end to take in. On
 * WebGPU, whose windows are read while the next steps run, a window's norms wait
 * ({@linkcode ClipThreshold.defer}) until a fixed number of windows later
 * ({@linkcode lagStart}), so that the steps they move the threshold at do not depend on when the
 * reads came back; a checkpoint keeps the norms still waiting.
 *
 * @module
 */
import {
  HISTORY_LIMIT,
  keptNorms,
  type NormHistory,
  normHistory,
  recordNorm,
  sortedPercentile,
} from "./norm_history.ts";

export { HISTORY_LIMIT };

/** What a checkpoint keeps of a {@linkcode ClipThreshold}. */
export interface ClipThresholdState {
  /** The threshold the next step is clipped at (undefined: none). */
  threshold?: number;
  /**
   * Adaptive clipping's norms, oldest first (absent without it): a Float64Array as the trainer
   * takes it, for the checkpoint it sends every epoch (one copy of bytes to send, see
   * `ClipMonitorSnapshot`); numbers as a checkpoint's JSON holds them.
   */
  history?: Float64Array | number[];
  /**
   * Norms read but not taken in yet, as `[step, norm]` in step order (WebGPU's windows: see
   * {@linkcode ClipThreshold.defer}); absent where none wait.
   */
  pending?: [number, number][];
}

/**
 * Where a lag of `lag` windows starts for the window that `step` starts (windows of `every` steps
 * from each epoch's first, of `stepsPerEpoch`; its last shorter): the first step of the window
 * `lag - 1` windows before it, 0 where there is none. With a lag of 1, the window itself: the
 * threshold of a window's steps is taken from the norms of every window before it.
 *
 * @example
 * ```ts
 * import { lagStart } from "./clip_threshold.ts";
 * // epochs of 10 steps in windows of 4, 4 and 2
 * console.assert(lagStart(14, 10, 4, 1) === 14);
 * console.assert(lagStart(14, 10, 4, 3) === 8); // windows 10-13 and 8-9 lie between
 * console.assert(lagStart(4, 10, 4, 3) === 0);
 * ```
 */
export function lagStart(step: number, stepsPerEpoch: number, every: number, lag: number): number {
  const perEpoch = Math.ceil(stepsPerEpoch / every);
  const epoch = Math.floor(step / stepsPerEpoch);
  const window = epoch * perEpoch + Math.floor((step - epoch * stepsPerEpoch) / every) - lag + 1;
  if (window <= 0) return 0;
  return Math.floor(window / perEpoch) * stepsPerEpoch + (window % perEpoch) * every;
}

/**
 * A run's clipping threshold by norm, step after step.
 *
 * @example
 * ```ts
 * import { ClipThreshold } from "./clip_threshold.ts";
 * const clip = new ClipThreshold({ autoPercentile: 50 });
 * for (const norm of [1, 3, 2]) clip.observe(norm);
 * console.assert(clip.value === 2);
 * const resumed = new ClipThreshold({ autoPercentile: 50 }, clip.snapshot());
 * resumed.observe(10);
 * console.assert(resumed.value === 2.5);
 * ```
 */
export class ClipThreshold {
  #value: number | undefined;
  readonly #percentile: number | undefined;
  #history: NormHistory | undefined;
  /** Norms waiting to be taken in, `[step, norm]` in step order. */
  readonly #pending: [number, number][];
  /**
   * Resumed under adaptive clipping from a checkpoint without its norms (an older anneal's):
   * the history starts over, from the checkpoint's threshold.
   */
  readonly restarted: boolean;

  /** Clipping as configured, or as a checkpoint's `saved` state left it. */
  constructor(
    clipping: { maxNorm?: number | null; autoPercentile?: number },
    saved?: ClipThresholdState,
  ) {
    this.#value = saved?.threshold ?? clipping.maxNorm ?? undefined;
    this.#percentile = clipping.autoPercentile;
    const adaptive = this.#percentile !== undefined;
    const kept = keptNorms(saved?.history);
    this.#history = adaptive ? normHistory(kept) : undefined;
    this.#pending = adaptive ? (saved?.pending ?? []).map(([step, norm]) => [step, norm]) : [];
    this.restarted = adaptive && saved !== undefined && kept === undefined;
  }

  /** The threshold of the next step (undefined: no clipping by norm). */
  get value(): number | undefined {
    return this.#value;
  }

  /**
   * Takes in the finite norm of a step that was applied. Adaptive clipping's threshold moves to
   * take it in at once, or (`settle` false) at the next {@linkcode ClipThreshold.settle}: on the
   * CPU backends, which read steps in windows of `readbackEvery`, only at a window's end.
   */
  observe(norm: number, settle = true): void {
    if (this.#history === undefined || !Number.isFinite(norm)) return;
    recordNorm(this.#history, norm);
    if (settle) this.settle();
  }

  /**
   * Keeps the finite norm of a step that was applied, `step`, until
   * {@linkcode ClipThreshold.takeInBefore} a later step (in step order).
   */
  defer(step: number, norm: number): void {
    if (this.#history === undefined || !Number.isFinite(norm)) return;
    this.#pending.push([step, norm]);
  }

  /**
   * Takes in the norms kept by {@linkcode ClipThreshold.defer} of the steps before `step`, and
   * then (`settle`) moves the threshold. Those of the steps `keeps` says not to are dropped (on
   * WebGPU, the steps a late stop or rollback undid: see runtime/undone_steps.ts).
   */
  takeInBefore(step: number, settle = true, keeps?: (step: number) => boolean): void {
    if (this.#history === undefined) return;
    while (this.#pending.length > 0 && this.#pending[0][0] < step) {
      const [at, norm] = this.#pending.shift()!;
      if (!keeps || keeps(at)) recordNorm(this.#history, norm);
    }
    if (settle) this.settle();
  }

  /**
   * Adaptive clipping's threshold of the next step: the percentile of every norm taken in (as it
   * was while none is).
   */
  settle(): void {
    if (this.#history === undefined || this.#history.norms.length === 0) return;
    this.#value = sortedPercentile(this.#history.sorted, this.#percentile!)!;
  }

  /** The state a checkpoint keeps (the norms copied: later steps do not change it). */
  snapshot(): ClipThresholdState {
    return {
      threshold: this.#value,
      ...(this.#history && { history: Float64Array.from(this.#history.norms) }),
      ...(this.#pending.length > 0 && {
        pending: this.#pending.map(([step, norm]) => [step, norm] as [number, number]),
      }),
    };
  }
}
