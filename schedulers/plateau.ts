/**
 * torch `ReduceLROnPlateau` as a reducer: `(spec, state, metric) => state`. The state is
 * JSON-safe so it can be checkpointed and sent between actors. The spec is validated here; the
 * rule itself, on a resolved spec, is plateau_rule.ts's.
 *
 * @module
 */

import type { z } from "npm:zod@4.6.7";
import { AnnealError } from "../errors.ts";
import { applyPlateau, type PlateauState, startPlateau } from "./plateau_rule.ts";
import { parseSchedulerSpec } from "./parse.ts";
import type { PlateauSpec, PlateauSpecSchema } from "./spec.ts";

export type { PlateauState } from "./plateau_rule.ts";

/** A plateau spec as a user writes it (defaults optional). */
export type PlateauSpecInput = z.input<typeof PlateauSpecSchema>;

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
  return startPlateau(baseLr);
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
  const resolved = resolve(spec);
  checkState(state);
  return applyPlateau(resolved, state, metric);
}

/**
 * Throws a usage error unless `state` is a plateau state: a state of `{}` stepped to one with no
 * `lr` (the rate then undefined), `null` threw a TypeError.
 */
function checkState(state: unknown): asserts state is PlateauState {
  const hint = "pass the state initPlateau (or the last stepPlateau) returned";
  if (typeof state !== "object" || state === null || Array.isArray(state)) {
    throw new AnnealError(
      "usage",
      `Cannot step the plateau schedule: its state must be an object, current value is ${
        JSON.stringify(state) ?? String(state)
      }`,
      { where: "state", hint },
    );
  }
  const s = state as Record<string, unknown>;
  // (types only: torch checks none of the settings that move them, so a negative factor's rate,
  // a negative or fractional cooldown's counter, are its states too)
  const number = (value: unknown) => typeof value === "number";
  const fields: [string, boolean, string][] = [
    ["lr", number(s.lr), "a number"],
    ["best", s.best === null || number(s.best), "a number, or null before any metric"],
    ["numBadEpochs", number(s.numBadEpochs), "a number"],
    ["cooldownCounter", number(s.cooldownCounter), "a number"],
    ["lastEpoch", number(s.lastEpoch), "a number"],
  ];
  for (const [field, ok, rule] of fields) {
    if (ok) continue;
    throw new AnnealError(
      "usage",
      `Cannot step the plateau schedule: its state's '${field}' must be ${rule}, current value ` +
        `is ${JSON.stringify(s[field]) ?? String(s[field])}`,
      { where: `state.${field}`, hint },
    );
  }
}
