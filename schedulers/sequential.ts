/**
 * torch `SequentialLR` in closed form: child `i` takes over at `milestones[i - 1]` and runs on
 * its own clock from 0 there (torch 1.13 calls the child's `step(0)` at its milestone, which
 * restarts it at its closed form for step 0).
 *
 * @module
 */

import type { LrFunction } from "./decay.ts";

/** A child schedule's curves, as built by `createSchedule`. */
export interface Piece {
  lr: LrFunction;
  momentum?: LrFunction;
}

/** Index of the child active at step `t`: the number of milestones `<= t`. */
export function activeChild(milestones: readonly number[], t: number): number {
  let index = 0;
  while (index < milestones.length && milestones[index] <= t) index++;
  return index;
}

/**
 * Joins child schedules at milestones (like Optax's `join_schedules`).
 *
 * @example
 * ```ts
 * import { joinSchedules } from "./sequential.ts";
 * const joined = joinSchedules([{ lr: (t) => 0.1 * t }, { lr: (t) => 1 - 0.1 * t }], [5]);
 * console.assert(joined.lr(4) === 0.4 && joined.lr(5) === 1 && joined.lr(6) === 0.9);
 * ```
 */
export function joinSchedules(pieces: readonly Piece[], milestones: readonly number[]): Piece {
  const at = (t: number) => {
    const index = activeChild(milestones, t);
    return { piece: pieces[index], local: index === 0 ? t : t - milestones[index - 1] };
  };
  const lr: LrFunction = (t) => {
    const { piece, local } = at(t);
    return piece.lr(local);
  };
  // Momentum is defined only when every child cycles it: torch would otherwise keep whatever
  // value the optimizer last had, which a pure function of the spec cannot know.
  if (!pieces.every((piece) => piece.momentum)) return { lr };
  const momentum: LrFunction = (t) => {
    const { piece, local } = at(t);
    return piece.momentum!(local);
  };
  return { lr, momentum };
}
