/**
 * What the actors decide about a run whose loss or gradients go non-finite, or whose loss
 * explodes, for a loop that trains in one thread (the in-process loop): the clip monitor's own
 * reducer decides on the steps (skip, stop or roll back, by `clipping.onNonFinite`), and the
 * trainer's mirror of its loss watch says at once which step it will find exploding. Only the
 * decisions are kept: no events. (Each epoch's end is the early stopper's to judge: the loop
 * calls its reducer itself.)
 *
 * @module
 */
import type { RunConfig } from "../config.ts";
import { float16Stored } from "../report/first_step.ts";
import {
  type ClipMonitorState,
  initClipMonitor,
  observeSteps,
  rolledBack,
} from "../actors/clip_monitor.ts";
import { initLossWatch, type LossWatchState, observeLoss } from "../actors/loss_watch.ts";
import type { NonFiniteHandled } from "../actors/protocol.ts";
import { maximizes } from "../optimizers/hazards.ts";

/** One step as read back: its loss, gradient norm before clipping, samples and rate. */
export interface ReadStep {
  step: number;
  loss: number;
  gradNorm: number;
  samples: number;
  lr: number;
  /** Not applied (read before it was: its loss or gradient norm was not finite). */
  skipped: boolean;
}

/** A decision that ends the run or rolls it back, as the clip monitor sends it. */
export type Decision = Omit<NonFiniteHandled, "type" | "action"> & {
  action: "stop" | "rollback";
};

/** Steps the monitor is given at once at most (the trainer's report window). */
const WINDOW = 32;

/** The clip monitor's decisions on one run's steps. */
export class DivergenceWatch {
  #config: RunConfig;
  #monitor: ClipMonitorState;
  #watch: LossWatchState;
  #pending: ReadStep[] = [];
  #rolledBackAt = 0;
  /** The first stop or rollback decided and not yet acted on. */
  decision: Decision | undefined;

  constructor(config: RunConfig) {
    this.#config = config;
    const samplesPerStep = config.batchSize * config.gradientAccumulation;
    this.#monitor = initClipMonitor(config.clipping, samplesPerStep, config.optimizer);
    this.#watch = initLossWatch(samplesPerStep, { maximize: maximizes(config.optimizer) });
  }

  /**
   * Takes in a step read before the next (every step on the CPU backends). Returns whether the
   * monitor finds its loss exploding: then, as in the trainer, adaptive clipping does not take
   * in its norm (unless `onNonFinite` is skip). A skipped or exploding step is judged at once.
   */
  readStep(read: ReadStep): boolean {
    let alarming = false;
    if (!read.skipped) {
      const [watched, explosion] = observeLoss(this.#watch, read.step, read.loss, read.samples);
      this.#watch = watched;
      alarming = explosion !== undefined;
    }
    this.#pending.push(read);
    if (read.skipped || alarming || this.#pending.length >= WINDOW) this.judgeSteps();
    return alarming;
  }

  /** Takes in a window of steps read after they were applied (on WebGPU), and judges them. */
  readWindow(reads: ReadStep[]): void {
    this.#pending.push(...reads);
    this.judgeSteps();
  }

  /** Gives the monitor the steps read so far; keeps its first stop or rollback. */
  judgeSteps(): void {
    if (this.#pending.length === 0) return;
    const steps = this.#pending;
    this.#pending = [];
    const [next, out] = observeSteps(
      this.#config.clipping,
      this.#monitor,
      {
        type: "StepsObserved",
        fromStep: steps[0].step,
        gradNorms: steps.map((s) => s.gradNorm),
        losses: steps.map((s) => s.loss),
        skipped: steps.map((s) => s.skipped),
        lr: steps.map((s) => s.lr),
        samples: steps.map((s) => s.samples),
      },
      this.#config.optimizer,
      this.#config.scheduler,
      float16Stored(this.#config),
    );
    this.#monitor = next;
    for (const handled of out.toTrainer) {
      // (a decision on a step before the last rollback: computed from the weights it discarded)
      if (handled.action === "skip" || handled.step < this.#rolledBackAt) continue;
      const { type: _, action, ...rest } = handled;
      this.decision ??= { ...rest, action };
    }
  }

  /** The loop rolled back before `step`: the decision is acted on. */
  rolledBack(step: number): void {
    this.#rolledBackAt = step;
    this.decision = undefined;
    this.#monitor = rolledBack(this.#monitor, step);
  }
}
