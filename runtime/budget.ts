/**
 * A run's budgets (`maxSteps`, `maxWallTimeSeconds`): whether one is spent, in the words a run
 * stopped by it ends with. One definition for the trainer actor and the in-process loop.
 *
 * @module
 */
import type { RunConfig } from "../config.ts";

/**
 * The reason a run stops after `step` optimizer steps and `seconds` of training, where a budget
 * is spent (`maxSteps` first); undefined where none is.
 *
 * @example
 * ```ts
 * import { budgetSpent } from "./budget.ts";
 * import { parseConfig } from "../config.ts";
 * const config = parseConfig({ maxSteps: 30, maxWallTimeSeconds: 60 });
 * console.assert(budgetSpent(config, 29, 1) === undefined);
 * console.assert(budgetSpent(config, 30, 1) === "budget: reached maxSteps = 30");
 * console.assert(budgetSpent(config, 3, 61) === "budget: reached maxWallTimeSeconds = 60");
 * ```
 */
export function budgetSpent(
  config: Pick<RunConfig, "maxSteps" | "maxWallTimeSeconds">,
  step: number,
  seconds: number,
): string | undefined {
  if (stepsSpent(config, step)) {
    return `budget: reached maxSteps = ${config.maxSteps}`;
  }
  if (config.maxWallTimeSeconds !== undefined && seconds >= config.maxWallTimeSeconds) {
    return `budget: reached maxWallTimeSeconds = ${config.maxWallTimeSeconds}`;
  }
  return undefined;
}

/**
 * Whether `maxSteps` is spent after `step` optimizer steps: the run ends there, as at its last
 * step, so on WebGPU every stop or rollback decided on its steps acts before it ends.
 *
 * @example
 * ```ts
 * import { stepsSpent } from "./budget.ts";
 * console.assert(!stepsSpent({ maxSteps: 30 }, 29) && stepsSpent({ maxSteps: 30 }, 30));
 * console.assert(!stepsSpent({}, 1e9));
 * ```
 */
export function stepsSpent(config: Pick<RunConfig, "maxSteps">, step: number): boolean {
  return config.maxSteps !== undefined && step >= config.maxSteps;
}
