/**
 * torch `ReduceLROnPlateau` as a reducer: `(spec, state, metric) => state`. The state is
 * JSON-safe so it can be checkpointed and sent between actors.
 *
 * @module
 */

import type { z } from "npm:zod@4.6.7";
import { AnnealError } from "../errors.ts";
import { parseSchedulerSpec } from "./parse.ts";
import type { PlateauSpec, PlateauSpecSchema } from "./spec.ts";

/** A plateau spec as a user writes it (defaults optional). */
export type PlateauSpecInput = z.input<typeof PlateauSpecSchema>;

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

function resolve(spec: PlateauSpecInput | PlateauSpec): PlateauSpec {
  return parseSchedulerSpec(spec) as PlateauSpec;
}

/**
 * The state before any metric: `lr = baseLr`.
 *
 * @example
 * ```ts
 * import { initPlateau } from "./plateau.ts";
 * const state = initPlateau({ name: "plateau" }, 0.1);
 * console.assert(state.lr === 0.1 && state.best === null && state.numBadEpochs === 0);
 * ```
 */
export function initPlateau(spec: PlateauSpecInput | PlateauSpec, baseLr: number): PlateauState {
  resolve(spec);
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
 * Feeds one metric (e.g. the validation loss of an epoch) and returns the next state. After
 * more than `patience` metrics without an improvement beyond `threshold`, the learning rate is
 * multiplied by `factor` (not below `minLr`, and only if it drops by more than `eps`); then
 * `cooldown` metrics are ignored.
 *
 * @example
 * ```ts
 * import { initPlateau, stepPlateau } from "./plateau.ts";
 * const spec = { name: "plateau", patience: 1, factor: 0.5 } as const;
 * let state = initPlateau(spec, 1);
 * for (const loss of [1, 1, 1]) state = stepPlateau(spec, state, loss);
 * console.assert(state.lr === 0.5);
 * ```
 */
export function stepPlateau(
  spec: PlateauSpecInput | PlateauSpec,
  state: PlateauState,
  metric: number,
): PlateauState {
  const s = resolve(spec);
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
