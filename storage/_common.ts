/**
 * Pieces both storages share: canonical JSON for comparing spaces, the errors they throw, and
 * picking the best trial.
 *
 * @module
 */
import { AnnealError } from "../errors.ts";
import type { Direction, Study, Trial } from "./types.ts";

/** JSON with object keys sorted, so two equal spaces written in different orders compare equal. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v) =>
      v && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
        : v,
  );
}

/** Checks that an existing study matches what a caller asked to create. */
export function checkSameStudy(study: Study, direction: Direction, space: unknown): Study {
  if (study.direction !== direction) {
    throw new AnnealError(
      "storage",
      `Cannot load study '${study.name}': it was created to ${study.direction}, not to ${direction}`,
      { where: study.name, hint: "use the study's direction or pick a new study name" },
    );
  }
  if (canonicalJson(study.space) !== canonicalJson(space)) {
    throw new AnnealError(
      "storage",
      `Cannot load study '${study.name}': its search space differs from the one given`,
      { where: study.name, hint: "pick a new study name for a new search space" },
    );
  }
  return study;
}

/** The error for a study that exists when it should not, or the reverse. */
export function studyError(name: string, exists: boolean): AnnealError {
  return exists
    ? new AnnealError("storage", `Cannot create study '${name}': it already exists`, {
      where: name,
      hint: "load it, pass loadIfExists, or pick another name",
    })
    : new AnnealError("storage", `Cannot load study '${name}': no such study`, {
      where: name,
      hint: "create it first (anneal sweep creates it)",
    });
}

/** The error for finishing a trial that is not RUNNING (e.g. reaped after its worker stalled). */
export function notRunningError(trialId: number, action: string, state: string): AnnealError {
  return new AnnealError(
    "storage",
    `Cannot ${action} trial ${trialId}: it is ${state}, not RUNNING`,
    {
      where: `trial ${trialId}`,
      hint: "a trial whose worker stopped heart-beating is reaped; its retry runs elsewhere",
    },
  );
}

/** The best of `trials` (COMPLETE ones with a finite value) for `direction`; ties: lower number. */
export function pickBest(trials: Trial[], direction: Direction): Trial | undefined {
  let best: Trial | undefined;
  for (const trial of trials) {
    if (trial.state !== "COMPLETE" || trial.value === null || Number.isNaN(trial.value)) continue;
    if (
      !best || (direction === "minimize" ? trial.value < best.value! : trial.value > best.value!)
    ) best = trial;
  }
  return best;
}
