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
