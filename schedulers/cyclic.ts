/**
 * torch `CyclicLR` in closed form: the rate runs between `baseLr` and `maxLr` in cycles of
 * `stepSizeUp + stepSizeDown` steps (Leslie Smith's cyclical learning rates), its height kept
 * (`triangular`), halved each cycle (`triangular2`) or multiplied by `gamma` each step
 * (`exp_range`), with momentum cycled the other way.
 *
 * @module
 */

import type { LrFunction } from "./decay.ts";
import type { SpecOf } from "./spec.ts";

/** The learning rate and momentum curves of a cyclic schedule. */
export interface Cyclic {
  lr: LrFunction;
  /** Present when `cycleMomentum` is true. */
  momentum?: LrFunction;
}

/**
 * Where step `t` is in its cycle, as torch 1.13's `CyclicLR.get_lr` computes it (in its float
 * arithmetic, step for step): the cycle's number (from 1), and the fraction of the height the
 * rate is at (0 at the cycle's start, 1 at its peak).
 */
function position(spec: SpecOf<"cyclic">, t: number): { cycle: number; fraction: number } {
  const up = spec.stepSizeUp;
  const total = up + (spec.stepSizeDown ?? up);
  const ratio = up / total;
  const cycle = Math.floor(1 + t / total);
  const x = 1 + t / total - cycle;
  return { cycle, fraction: x <= ratio ? x / ratio : (x - 1) / (ratio - 1) };
}

/** The factor on the height at step `t` in cycle `cycle`: torch's `scale_fn` for `mode`. */
function scaleOf(spec: SpecOf<"cyclic">, t: number, cycle: number): number {
  switch (spec.mode) {
    case "triangular":
      return 1;
    case "triangular2":
      return 1 / 2 ** (cycle - 1);
    case "exp_range":
      return spec.gamma ** t;
  }
}

/**
 * Builds the cyclic curves. Like torch, the schedule ignores the optimizer's own learning rate:
 * it starts at `baseLr` (torch sets the optimizer's rate to it when built). Momentum starts at
 * `maxMomentum` and falls to `baseMomentum` at each peak of the rate.
 *
 * @example
 * ```ts
 * import { SchedulerSpecSchema } from "./spec.ts";
 * import { cyclic } from "./cyclic.ts";
 * const spec = SchedulerSpecSchema.parse({ name: "cyclic", baseLr: 0.01, maxLr: 0.1, stepSizeUp: 4 });
 * const { lr, momentum } = cyclic(spec as Extract<typeof spec, { name: "cyclic" }>);
 * console.assert(lr(0) === 0.01 && Math.abs(lr(4) - 0.1) < 1e-12 && lr(8) === 0.01);
 * console.assert(momentum!(0) === 0.9 && Math.abs(momentum!(4) - 0.8) < 1e-12);
 * ```
 */
export function cyclic(spec: SpecOf<"cyclic">): Cyclic {
  const lr: LrFunction = (t) => {
    const { cycle, fraction } = position(spec, t);
    const height = (spec.maxLr - spec.baseLr) * fraction;
    return spec.baseLr + height * scaleOf(spec, t, cycle);
  };
  if (!spec.cycleMomentum) return { lr };
  const momentum: LrFunction = (t) => {
    const { cycle, fraction } = position(spec, t);
    const height = (spec.maxMomentum - spec.baseMomentum) * fraction;
    return spec.maxMomentum - height * scaleOf(spec, t, cycle);
  };
  return { lr, momentum };
}

/**
 * The first step at which torch 1.13's float arithmetic overflows for `spec` (OverflowError:
 * Python raises where JavaScript gives Infinity), or undefined: `triangular2` halves the height
 * by `2 ** (cycle - 1)`, which overflows in cycle 1025; `exp_range` takes `gamma ** t`, which
 * overflows for `|gamma|` > 1.
 *
 * @example
 * ```ts
 * import { SchedulerSpecSchema } from "./spec.ts";
 * import { cyclicOverflowStep } from "./cyclic.ts";
 * const spec = SchedulerSpecSchema.parse({ name: "cyclic", baseLr: 0.01, maxLr: 0.1, stepSizeUp: 1, mode: "triangular2" });
 * console.assert(cyclicOverflowStep(spec as Extract<typeof spec, { name: "cyclic" }>) === 2048);
 * ```
 */
export function cyclicOverflowStep(spec: SpecOf<"cyclic">): number | undefined {
  if (spec.mode === "triangular2") {
    const total = spec.stepSizeUp + (spec.stepSizeDown ?? spec.stepSizeUp);
    // the first step of cycle 1025, found as torch finds the cycle (near 1024 * total)
    return firstStepFrom(
      Math.floor(1024 * total) - 2,
      (t) => Math.floor(1 + t / total) >= 1025,
    );
  }
  if (spec.mode !== "exp_range" || !(Math.abs(spec.gamma) > 1)) return undefined;
  const size = Math.abs(spec.gamma);
  return firstStepFrom(
    Math.floor(Math.log(Number.MAX_VALUE) / Math.log(size)) - 2,
    (t) => !Number.isFinite(size ** t),
  );
}

/**
 * The first whole step from `start` (at least 0) where `reached` holds, or undefined where there
 * is none up to `Number.MAX_SAFE_INTEGER`: no run takes more steps (`maxSteps` is a safe integer),
 * and past it `t + 1` is `t` in float64, so a search step by step would stand still (a `gamma`
 * within 8e-14 of 1, whose powers overflow only after some 1e17 steps, hung it for good).
 */
function firstStepFrom(start: number, reached: (t: number) => boolean): number | undefined {
  for (let t = Math.max(0, start); t <= Number.MAX_SAFE_INTEGER; t++) {
    if (reached(t)) return t;
  }
  return undefined;
}
