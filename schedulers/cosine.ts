/**
 * Closed forms of torch's `CosineAnnealingLR` and `CosineAnnealingWarmRestarts`.
 *
 * @module
 */

import type { LrFunction } from "./decay.ts";
import type { ChildSpecOf } from "./spec.ts";

/** `etaMin + (etaMax - etaMin) * (1 + cos(pi * tCur / tI)) / 2`, the SGDR curve. */
function annealCos(etaMax: number, etaMin: number, tCur: number, tI: number): number {
  return etaMin + (etaMax - etaMin) * (1 + Math.cos(Math.PI * tCur / tI)) / 2;
}

/**
 * torch `CosineAnnealingLR`, by the closed form torch documents (`_get_closed_form_lr`). Past
 * `tMax` the curve keeps going as a cosine, back up towards `baseLr`, as torch's recursive
 * form does (the conformance fixtures check it to 2 * tMax and beyond).
 *
 * @example
 * ```ts
 * import { cosineLr } from "./cosine.ts";
 * const lr = cosineLr({ name: "cosine", interval: "step", tMax: 10, etaMin: 0 }, 1);
 * console.assert(lr(0) === 1 && Math.abs(lr(5) - 0.5) < 1e-12 && lr(10) === 0);
 * ```
 */
export function cosineLr(spec: ChildSpecOf<"cosine">, baseLr: number): LrFunction {
  // tMax 0: torch starts at the base rate and raises at step 1 (or restarted, at once), so only
  // step 0 of a sequential's first schedule runs, handed over at milestone 1
  if (spec.tMax === 0) return () => baseLr;
  return (t) => annealCos(baseLr, spec.etaMin, t, spec.tMax);
}

/**
 * torch `CosineAnnealingWarmRestarts`: cycles of length `t0`, `t0 * tMult`, `t0 * tMult ** 2`,
 * ..., each restarting at `baseLr`.
 *
 * @example
 * ```ts
 * import { cosineWarmRestartsLr } from "./cosine.ts";
 * const lr = cosineWarmRestartsLr(
 *   { name: "cosineWarmRestarts", interval: "step", t0: 5, tMult: 2, etaMin: 0 },
 *   1,
 * );
 * console.assert(lr(5) === 1 && lr(15) === 1 && lr(14) < 0.05);
 * ```
 */
export function cosineWarmRestartsLr(
  spec: ChildSpecOf<"cosineWarmRestarts">,
  baseLr: number,
): LrFunction {
  return (t) => {
    const { tCur, tI } = restartPosition(t, spec.t0, spec.tMult);
    return annealCos(baseLr, spec.etaMin, tCur, tI);
  };
}

/** Where step `t` falls: steps since the last restart and the current cycle's length. */
export function restartPosition(
  t: number,
  t0: number,
  tMult: number,
): { tCur: number; tI: number } {
  if (tMult === 1) return { tCur: t % t0, tI: t0 };
  // Walk the cycles with integers (logarithmically many) rather than torch's float log formula,
  // which can land one cycle off at exact boundaries.
  let start = 0;
  let tI = t0;
  while (t >= start + tI) {
    start += tI;
    tI *= tMult;
  }
  return { tCur: t - start, tI };
}
