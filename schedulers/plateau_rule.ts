/**
 * torch `ReduceLROnPlateau`'s rule on a resolved plateau spec (defaults filled in, as a parsed run
 * config holds it): the state before any metric, and the state after one. Without the specs'
 * schemas, so that the scheduler actor's Worker need not load zod; `initPlateau` and
 * `stepPlateau` (plateau.ts) take a spec as a user writes it, validate it, then step here.
 *
 * @module
 */

import { AnnealError } from "../errors.ts";
import type { PlateauSpec } from "./spec.ts";

/** Everything `ReduceLROnPlateau` remembers between metrics. */
export interface PlateauState {
  /** The learning rate to use now. */
  lr: number;
  /** Best metric so far; `null` before the first one (torch's `inf`/`-inf`, not JSON-safe). */
  best: number | null;
  /** Metrics since the last improvement (torch's `num_bad_epochs`). */
  numBadEpochs: number;
  /** Metrics left to ignore after a reduction (torch's `cooldown_counter`). */
  cooldownCounter: number;
  /** Metrics seen so far (torch's `last_epoch`). */
  lastEpoch: number;
}

/**
 * The state before any metric: `lr = baseLr`.
 *
 * @example
 * ```ts
 * import { startPlateau } from "./plateau_rule.ts";
 * const state = startPlateau(0.1);
 * console.assert(state.lr === 0.1 && state.best === null && state.numBadEpochs === 0);
 * ```
 */
export function startPlateau(baseLr: number): PlateauState {
  if (!(Number.isFinite(baseLr) && baseLr >= 0)) {
    throw new AnnealError(
      "config",
      `Cannot create plateau schedule: 'baseLr' must be a finite number >= 0, current value is ${baseLr}`,
      { where: "lr", hint: "set the optimizer's 'lr' to a positive number" },
    );
  }
  return { lr: baseLr, best: null, numBadEpochs: 0, cooldownCounter: 0, lastEpoch: 0 };
}

/**
 * Feeds one metric (e.g. the validation loss of an epoch) to a resolved plateau spec's rule and
 * returns the next state: see `stepPlateau` (plateau.ts), which validates the spec first.
 *
 * @example
 * ```ts
 * import { applyPlateau, startPlateau } from "./plateau_rule.ts";
 * const spec = {
 *   name: "plateau", mode: "min", factor: 0.5, patience: 1, threshold: 1e-4,
 *   thresholdMode: "rel", cooldown: 0, minLr: 0, eps: 1e-8, interval: "epoch",
 * } as const;
 * let state = startPlateau(1);
 * for (const loss of [1, 1, 1]) state = applyPlateau(spec, state, loss);
 * console.assert(state.lr === 0.5);
 * ```
 */
export function applyPlateau(s: PlateauSpec, state: PlateauState, metric: number): PlateauState {
  if (typeof metric !== "number") {
    // (a string was compared as one, and kept as the best)
    throw new AnnealError(
      "usage",
      `Cannot step the plateau schedule: the metric must be a number, current value is ${
        JSON.stringify(metric) ?? String(metric)
      }`,
      { where: "metric", hint: "pass the epoch's metric, e.g. its validation loss, as a number" },
    );
  }
  const best = state.best ?? (s.mode === "min" ? Infinity : -Infinity);
  const next = { ...state, lastEpoch: state.lastEpoch + 1 };
  if (isBetter(s, metric, best)) {
    next.best = metric;
    next.numBadEpochs = 0;
  } else {
    next.numBadEpochs = state.numBadEpochs + 1;
  }
  if (next.cooldownCounter > 0) {
    next.cooldownCounter -= 1;
    next.numBadEpochs = 0; // torch ignores bad epochs in cooldown
  }
  if (next.numBadEpochs > s.patience) {
    const reduced = Math.max(next.lr * s.factor, s.minLr);
    if (next.lr - reduced > s.eps) next.lr = reduced;
    next.cooldownCounter = s.cooldown;
    next.numBadEpochs = 0;
  }
  return next;
}

function isBetter(spec: PlateauSpec, metric: number, best: number): boolean {
  const { mode, thresholdMode, threshold } = spec;
  if (mode === "min") {
    return thresholdMode === "rel" ? metric < best * (1 - threshold) : metric < best - threshold;
  }
  return thresholdMode === "rel" ? metric > best * (1 + threshold) : metric > best + threshold;
}
