/**
 * Closed forms of torch's multiplicative decays: `ConstantLR`, `StepLR`, `MultiStepLR`,
 * `ExponentialLR`, `LinearLR` and `PolynomialLR`. Each is `(spec, baseLr) => (t) => lr`, where
 * `t` is the number of scheduler steps taken (torch's `last_epoch`).
 *
 * @module
 */

import type { SpecOf } from "./spec.ts";

/** A learning rate as a function of the number of scheduler steps taken. */
export type LrFunction = (t: number) => number;

/**
 * torch `ConstantLR`: `baseLr * factor` until `totalIters`, then `baseLr`.
 *
 * @example
 * ```ts
 * import { constantLr } from "./decay.ts";
 * const lr = constantLr({ name: "constant", interval: "step", factor: 0.5, totalIters: 4 }, 0.1);
 * console.assert(lr(3) === 0.05 && lr(4) === 0.1);
 * ```
 */
export function constantLr(spec: SpecOf<"constant">, baseLr: number): LrFunction {
  return (t) => (t >= spec.totalIters ? baseLr : baseLr * spec.factor);
}

/**
 * torch `StepLR`: `baseLr * gamma ** floor(t / stepSize)`.
 *
 * @example
 * ```ts
 * import { stepLr } from "./decay.ts";
 * const lr = stepLr({ name: "step", interval: "step", stepSize: 10, gamma: 0.5 }, 1);
 * console.assert(lr(9) === 1 && lr(10) === 0.5);
 * ```
 */
export function stepLr(spec: SpecOf<"step">, baseLr: number): LrFunction {
  return (t) => baseLr * spec.gamma ** Math.floor(t / spec.stepSize);
}

/**
 * torch `MultiStepLR`: `baseLr * gamma ** (milestones passed)`; a milestone listed twice
 * counts twice, as in torch.
 *
 * @example
 * ```ts
 * import { multistepLr } from "./decay.ts";
 * const lr = multistepLr({ name: "multistep", interval: "step", milestones: [2, 4], gamma: 0.1 }, 1);
 * console.assert(lr(1) === 1 && lr(2) === 0.1);
 * ```
 */
export function multistepLr(spec: SpecOf<"multistep">, baseLr: number): LrFunction {
  const milestones = [...spec.milestones].sort((a, b) => a - b);
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
export function exponentialLr(spec: SpecOf<"exponential">, baseLr: number): LrFunction {
  return (t) => baseLr * spec.gamma ** t;
}

/**
 * torch `LinearLR`: the factor moves linearly from `startFactor` to `endFactor` over
 * `totalIters` steps, then stays.
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
export function linearLr(spec: SpecOf<"linear">, baseLr: number): LrFunction {
  const { startFactor, endFactor, totalIters } = spec;
  return (t) =>
    baseLr * (startFactor + (endFactor - startFactor) * Math.min(totalIters, t) / totalIters);
}

/**
 * torch `PolynomialLR`: `baseLr * (1 - min(t, totalIters) / totalIters) ** power`, so zero
 * from `totalIters` on.
 *
 * @example
 * ```ts
 * import { polynomialLr } from "./decay.ts";
 * const lr = polynomialLr({ name: "polynomial", interval: "step", totalIters: 4, power: 1 }, 1);
 * console.assert(lr(1) === 0.75 && lr(9) === 0);
 * ```
 */
export function polynomialLr(spec: SpecOf<"polynomial">, baseLr: number): LrFunction {
  const { totalIters, power } = spec;
  return (t) => baseLr * (1 - Math.min(totalIters, t) / totalIters) ** power;
}
