/**
 * The sampler interface: `sample(space, history, rng, context)` returns parameters. Samplers learn
 * nothing between calls: everything they know of the study comes from `history` (the finished
 * trials in storage) and `context.tried`, so trials from many machines feed one search (the grid
 * keeps its count and where its walk stopped, checked against `tried` at each call).
 *
 * @module
 */
import type { TrialState } from "../../storage/types.ts";
import type { Params, SearchSpace } from "../space.ts";

/** A source of uniform numbers in [0, 1); `data/rng.ts`'s `Rng` is one. */
export interface RandomSource {
  float(): number;
}

/** A trial as a sampler sees it. */
export interface FinishedTrial {
  number: number;
  state: TrialState;
  params: Params;
  /** The objective value of a COMPLETE trial. */
  value: number | null;
  intermediate?: Map<number, number>;
}

/** What a sampler may know besides the history. */
export interface SampleContext {
  /** The new trial's index among the study's original trials (quasi-random uses it). */
  index?: number;
  /**
   * The parameters of every original trial of the study, whatever its state (running, failed
   * too), read with `index`: the grid proposes a point none of them has. Default: the history's.
   */
  tried?: Params[];
  /** Which way is better; minimize when absent. */
  direction?: "minimize" | "maximize";
}

/** Proposes parameters for the next trial. */
export interface Sampler {
  readonly name: string;
  /**
   * For a sampler of finitely many points (grid): how many of them no trial in `tried` has (all
   * of them for `[]`). Its `sample` throws once that is 0.
   */
  untried?(space: SearchSpace, tried: Params[]): number;
  sample(
    space: SearchSpace,
    history: FinishedTrial[],
    rng: RandomSource,
    context?: SampleContext,
  ): Params;
}
