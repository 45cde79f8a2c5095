/**
 * Pieces both storages share: canonical JSON for comparing spaces, the errors they throw, and
 * picking the best trial.
 *
 * @module
 */
import { AnnealError } from "../errors.ts";
import type { Direction, Study, Trial } from "./types.ts";
import { canonicalJson, type JsonDifference, jsonDifferences } from "../zod_paths.ts";

export { canonicalJson } from "../zod_paths.ts";

/**
 * A storage's URL as messages give it: a PostgreSQL password left out, up to the last `@` before
 * the host, as the driver reads an `@` left unescaped in it.
 *
 * @example
 * ```ts
 * import { redactedUrl } from "./_common.ts";
 * console.assert(redactedUrl("postgres://ann:p@ss@db/x") === "postgres://ann:***@db/x");
 * console.assert(redactedUrl("sqlite:runs/sweeps.db") === "sqlite:runs/sweeps.db");
 * ```
 */
export function redactedUrl(url: string): string {
  return url.replace(/\/\/([^:@/?#]+):[^/?#]*@/, "//$1:***@");
}

function describeValue(value: unknown): string {
  return value === undefined ? "absent" : canonicalJson(value);
}

/** `space["optimizer.lr"].low: 0.0001 stored, 0.001 given; ...` (the first five, then a count). */
export function describeDifferences(differences: JsonDifference[]): string {
  const shown = differences.slice(0, 5).map(({ path, stored, given }) =>
    `${path || "(the whole definition)"}: ${describeValue(stored)} stored, ${
      describeValue(given)
    } given`
  );
  const more = differences.length - shown.length;
  return shown.join("; ") + (more > 0 ? `; and ${more} more` : "");
}

/**
 * How each caller of a study names a new one: the hints said `anneal sweep --study NAME` to
 * `optimize`'s callers too, whose study is an option.
 */
const NEW_STUDY = '--study NAME for anneal sweep, study: "NAME" for optimize';

/**
 * The refusal of a study asked for in the other direction than the one it was created in: its
 * trials' values (each a trial's best in the study's direction) and its best trial were recorded
 * for that direction, so trials ranked the other way would not compare with them.
 */
function directionError(study: Study, direction: Direction): AnnealError {
  return new AnnealError(
    "storage",
    `Cannot load study '${study.name}' to ${direction} its objective: it was created to ` +
      `${study.direction} it, and its trials' values and its best trial were recorded that way; ` +
      `trials ranked the other way would not compare with them`,
    {
      where: study.name,
      hint: `start a new study under another name (${NEW_STUDY}), or ${study.direction} as ` +
        "the study does",
    },
  );
}

/**
 * Checks that an existing study matches what a caller asked to create: the same `identity` of
 * the stored and the given space (default: the whole space), then the same direction (a
 * difference in the space says more than the direction that may follow from it).
 */
export function checkSameStudy(
  study: Study,
  direction: Direction,
  space: unknown,
  identity: (space: unknown) => unknown = (whole) => whole,
): Study {
  const differences = jsonDifferences(identity(study.space), identity(space));
  if (differences.length > 0) {
    throw new AnnealError(
      "storage",
      `Cannot load study '${study.name}': its definition differs from the one given: ${
        describeDifferences(differences)
      }`,
      {
        where: study.name,
        hint: "a study's trials are only comparable under one definition: give the stored " +
          `values back, or start a new study under another name (${NEW_STUDY})`,
      },
    );
  }
  if (study.direction !== direction) throw directionError(study, direction);
  return study;
}

/**
 * Whether a study loaded with a matching identity should store the given space in place of its
 * own (the two differ outside their identity, e.g. in a sweep's trial budget or sampler).
 */
export function settingsChanged(study: Study, space: unknown): boolean {
  return canonicalJson(study.space) !== canonicalJson(space);
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

/** A command-line word as the shell reads it back (quoted where it has to be). */
const shellWord = (word: string) =>
  /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;

/**
 * The refusal of a storage that is not there (no file, no tables), opened only to load or join a
 * study (`create: false`): nothing was created; the study (and its storage) is made by
 * `anneal sweep`.
 */
export function missingStorageError(url: string, missing: string, study?: string): AnnealError {
  const subject = study === undefined ? `open study storage '${url}'` : `join study '${study}'`;
  return new AnnealError("storage", `Cannot ${subject}: ${missing}, so it holds no study`, {
    where: url,
    hint: `create the study first: \`anneal sweep -c CONFIG --storage ${shellWord(url)} --study ` +
      `${study ?? "NAME"}\` creates the storage and the study, then \`anneal worker\` joins it; ` +
      `or check the storage URL`,
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

/**
 * Throws a usage error unless a new study's `name` is a non-empty string and its `direction`
 * minimize or maximize: a study stored with another was refused only by the sweep that loaded it.
 */
export function checkNewStudy(name: unknown, direction: unknown): void {
  if (typeof name !== "string" || name === "") {
    throw new AnnealError(
      "usage",
      `Cannot create study: its name must be a non-empty string, current value is ${
        JSON.stringify(name) ?? String(name)
      }`,
      { where: "name", hint: 'name the study, e.g. "lr-sweep"' },
    );
  }
  if (direction !== "minimize" && direction !== "maximize") {
    throw new AnnealError(
      "usage",
      `Cannot create study '${name}': its direction must be "minimize" or "maximize", current ` +
        `value is ${JSON.stringify(direction) ?? String(direction)}`,
      { where: "direction", hint: 'pass "minimize" for a loss, "maximize" for an accuracy' },
    );
  }
}

/**
 * Throws a usage error unless `step` and `value` are a report `trial.report` (sweeps/optimize.ts)
 * takes, as Optuna's does: a whole step >= 0, and a number (NaN, a diverged trial's, is one: the
 * pruners read it back so). A step of -1 or 1.5 was stored, and read by the pruners' rungs.
 */
export function checkReport(trialId: number, step: unknown, value: unknown): void {
  const where = `trial ${trialId}`;
  if (typeof step !== "number" || !Number.isInteger(step) || step < 0) {
    throw new AnnealError(
      "usage",
      `Cannot report to trial ${trialId}: 'step' must be a whole number >= 0, current value is ${
        typeof step === "number" ? String(step) : JSON.stringify(step) ?? String(step)
      }`,
      { where, hint: "report the epoch or step count the value was reached at" },
    );
  }
  if (typeof value !== "number") {
    throw new AnnealError(
      "usage",
      `Cannot report to trial ${trialId} at step ${step}: 'value' must be a number, current ` +
        `value is ${JSON.stringify(value) ?? String(value)}`,
      { where, hint: "report the objective's value at that step" },
    );
  }
}

/**
 * Throws a usage error unless `value`, a completed trial's, is a finite number: NaN was stored
 * as a COMPLETE trial without a value (null), which no best trial or sampler can rank.
 */
export function checkObjective(trialId: number, value: unknown): void {
  if (typeof value === "number" && Number.isFinite(value)) return;
  throw new AnnealError(
    "usage",
    `Cannot complete trial ${trialId}: its value must be a finite number, current value is ${
      typeof value === "number" ? String(value) : JSON.stringify(value) ?? String(value)
    }`,
    {
      where: `trial ${trialId}`,
      hint: "fail the trial (failTrial) when its objective has no finite value, as optimize does",
    },
  );
}

/**
 * The refusal of a call made on a storage once its `close()` was called (SQLite's was a bare
 * "database is not open"); `usage`, so that a study's calls take it for no lost connection nor
 * a reaped trial (a `storage` error).
 */
export function closedError(storage: string): AnnealError {
  return new AnnealError("usage", `Cannot use study storage ${storage}: it was closed`, {
    where: storage,
    hint: "open it again (openStorage(url)) for more calls, and close it after the last one",
  });
}

/**
 * The value a pruned trial keeps, as Optuna records it: its intermediate value at its last step
 * (the furthest it got), where that is finite; null where it reported none, or NaN or an infinity
 * there. It is no objective's value: the best trial is a COMPLETE one ({@linkcode pickBest}).
 *
 * @example
 * ```ts
 * import { prunedValue } from "./_common.ts";
 * console.assert(prunedValue(new Map([[0, 5], [3, 4], [1, 2]])) === 4);
 * console.assert(prunedValue(new Map([[0, 5], [1, NaN]])) === null);
 * ```
 */
export function prunedValue(intermediate: Map<number, number>): number | null {
  // (a loop: spread into Math.max, the steps of a long objective overflow the stack)
  let last = -1;
  for (const step of intermediate.keys()) if (step > last) last = step;
  const value = intermediate.get(last);
  return value !== undefined && Number.isFinite(value) ? value : null;
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
