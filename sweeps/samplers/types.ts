/**
 * The sampler interface: `sample(space, history, rng, context)` returns parameters. Samplers keep
 * no state between calls: everything they learn comes from `history` (the finished trials in
 * storage), so trials from many machines feed one search.
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
  /** The new trial's index among the study's original trials (grid and quasi-random use it). */
  index?: number;
  /** Which way is better; minimize when absent. */
  direction?: "minimize" | "maximize";
}

/** Proposes parameters for the next trial. */
export interface Sampler {
  readonly name: string;
  /** The number of distinct points, when finite (grid). */
  size?(space: SearchSpace): number;
  sample(
    space: SearchSpace,
    history: FinishedTrial[],
    rng: RandomSource,
    context?: SampleContext,
  ): Params;
}
