/**
 * Closed forms of torch's multiplicative decays: `ConstantLR`, `StepLR`, `MultiStepLR`,
 * `ExponentialLR`, `LinearLR` and `PolynomialLR`. Each is `(spec, baseLr) => (t) => lr`, where
 * `t` is the number of scheduler steps taken (torch's `last_epoch`).
 *
 * torch 1.13 steps these schedules by their recursive forms (`get_lr`), from the rate at step 0,
 * and restarts a `SequentialLR`'s later schedule with the closed form (`step(0)`). The two agree
 * for every setting but a few torch does not check (a `totalIters` <= 0, a milestone below 0),
 * where they start differently: `restarted` (a later schedule of a sequential) picks the start
 * torch gives a restarted schedule, else the one it gives a schedule on its own or first.
 *
 * @module
 */

import type { ChildSpecOf } from "./spec.ts";

/** A learning rate as a function of the number of scheduler steps taken. */
export type LrFunction = (t: number) => number;

/**
 * torch `ConstantLR`: `baseLr * factor` until `totalIters`, then `baseLr`. With `totalIters` <= 0
 * torch's recursive form never reaches the step where it brings the base rate back: the factor
 * stays for good, unless the schedule is `restarted`, where torch's closed form starts it at the
 * base rate, and it stays there.
 *
 * @example
 * ```ts
 * import { constantLr } from "./decay.ts";
 * const lr = constantLr({ name: "constant", interval: "step", factor: 0.5, totalIters: 4 }, 0.1);
 * console.assert(lr(3) === 0.05 && lr(4) === 0.1);
 * ```
 */
export function constantLr(
  spec: ChildSpecOf<"constant">,
  baseLr: number,
  restarted = false,
): LrFunction {
  if (spec.totalIters <= 0) {
    const lr = restarted ? baseLr : baseLr * spec.factor;
    return () => lr;
  }
  return (t) => (t >= spec.totalIters ? baseLr : baseLr * spec.factor);
}

/**
 * torch `StepLR`: `baseLr * gamma ** floor(t / stepSize)`. A negative `stepSize` decays every
 * `|stepSize|` steps, as torch's `t % stepSize == 0` does; a negative `gamma` flips the sign at
 * every decay.
 *
 * @example
 * ```ts
 * import { stepLr } from "./decay.ts";
 * const lr = stepLr({ name: "step", interval: "step", stepSize: 10, gamma: 0.5 }, 1);
 * console.assert(lr(9) === 1 && lr(10) === 0.5);
 * ```
 */
export function stepLr(spec: ChildSpecOf<"step">, baseLr: number): LrFunction {
  // stepSize 0: torch starts at the base rate and raises at step 1 (or restarted, at once), so
  // only step 0 of a sequential's first schedule runs, handed over at milestone 1
  if (spec.stepSize === 0) return () => baseLr;
  const period = Math.abs(spec.stepSize);
  return (t) => baseLr * spec.gamma ** Math.floor(t / period);
}

/**
 * torch `MultiStepLR`: `baseLr * gamma ** (milestones passed)`; a milestone listed twice
 * counts twice, as in torch. A milestone below 0 is never reached by torch's recursive form (it
 * multiplies at the steps that equal one), but counts from the start when the schedule is
 * `restarted` (torch's closed form counts the milestones <= t).
 *
 * @example
 * ```ts
 * import { multistepLr } from "./decay.ts";
 * const lr = multistepLr({ name: "multistep", interval: "step", milestones: [2, 4], gamma: 0.1 }, 1);
 * console.assert(lr(1) === 1 && lr(2) === 0.1);
 * ```
 */
export function multistepLr(
  spec: ChildSpecOf<"multistep">,
  baseLr: number,
  restarted = false,
): LrFunction {
  const milestones = spec.milestones.filter((m) => restarted || m >= 0).sort((a, b) => a - b);
  return (t) => baseLr * spec.gamma ** milestones.filter((m) => m <= t).length;
}

/**
 * torch `ExponentialLR`: `baseLr * gamma ** t`.
 *
 * @example
 * ```ts
 * import { exponentialLr } from "./decay.ts";
 * console.assert(exponentialLr({ name: "exponential", interval: "step", gamma: 0.5 }, 1)(2) === 0.25);
 * ```
 */
export function exponentialLr(spec: ChildSpecOf<"exponential">, baseLr: number): LrFunction {
  return (t) => baseLr * spec.gamma ** t;
}

/**
 * torch `LinearLR`: the factor moves linearly from `startFactor` to `endFactor` over
 * `totalIters` steps, then stays. With `totalIters` <= 0 it stays at `startFactor`, as torch's
 * recursive form does; `restarted`, at `endFactor` (torch's closed form at step 0; `totalIters`
 * 0 divides by zero there, which the sequential's spec refuses).
 *
 * @example
 * ```ts
 * import { linearLr } from "./decay.ts";
 * const lr = linearLr(
 *   { name: "linear", interval: "step", startFactor: 0.5, endFactor: 1, totalIters: 4 },
 *   0.05,
 * );
 * console.assert(lr(0) === 0.025 && lr(4) === 0.05);
 * ```
 */
export function linearLr(
  spec: ChildSpecOf<"linear">,
  baseLr: number,
  restarted = false,
): LrFunction {
  const { startFactor, endFactor, totalIters } = spec;
  if (totalIters <= 0) {
    const lr = baseLr * (restarted ? endFactor : startFactor);
    return () => lr;
  }
  return (t) =>
    baseLr * (startFactor + (endFactor - startFactor) * Math.min(totalIters, t) / totalIters);
}

/**
 * torch `PolynomialLR`: `baseLr * (1 - min(t, totalIters) / totalIters) ** power`, so zero
 * from `totalIters` on. With `totalIters` <= 0 the rate stays at `baseLr`, as torch's recursive
 * form does; `restarted`, at `baseLr * 0 ** power` (torch's closed form at step 0; `totalIters`
 * 0 divides by zero there, which the sequential's spec refuses).
 *
 * @example
 * ```ts
 * import { polynomialLr } from "./decay.ts";
 * const lr = polynomialLr({ name: "polynomial", interval: "step", totalIters: 4, power: 1 }, 1);
 * console.assert(lr(1) === 0.75 && lr(9) === 0);
 * ```
 */
export function polynomialLr(
  spec: ChildSpecOf<"polynomial">,
  baseLr: number,
  restarted = false,
): LrFunction {
  const { totalIters, power } = spec;
  if (totalIters <= 0) {
    const lr = restarted ? baseLr * 0 ** power : baseLr;
    return () => lr;
  }
  return (t) => baseLr * (1 - Math.min(totalIters, t) / totalIters) ** power;
}
