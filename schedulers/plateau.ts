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
  const resolved = parseSchedulerSpec(spec);
  if (resolved.name !== "plateau") {
    // (another schedule's spec was read as a plateau's without its settings: its patience
    // undefined, the rate never cut, the best metric never kept)
    throw new AnnealError(
      "config",
      `Cannot step a plateau schedule with a ${resolved.name} spec: initPlateau and stepPlateau ` +
        "take a plateau spec",
      {
        where: "name",
        hint: `pass { name: "plateau", ... }; a ${resolved.name} schedule is stepped by ` +
          `createSchedule(spec, lr)`,
      },
    );
  }
  return resolved;
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
 * `cooldown` metrics are ignored. Another schedule's spec, or a metric that is not a number,
 * throws an {@linkcode AnnealError} (a NaN metric is a bad epoch, as torch's).
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
