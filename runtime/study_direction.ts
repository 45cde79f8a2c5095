/**
 * A sweep run on a study stored with the other direction. A study keeps the direction it was
 * created with: each trial's value is its best epoch in that direction, and its best trial the
 * best of those, so trials ranked the other way do not compare with its own, and the storage
 * refuses to load it so. The sweep says more than the storage can: which way its metric goes and
 * why (`sweep.direction`, or, for the loss, `optimizer.maximize`, which older anneals did not
 * follow: they stored a study of a maximized loss to minimize it), and the ways on.
 *
 * @module
 */
import { AnnealError } from "../errors.ts";
import { maximizes } from "../optimizers/hazards.ts";
import { counted } from "../number_format.ts";
import type { Direction, Study, StudyStorage } from "../storage/types.ts";
import type { SweepSpec } from "../sweeps/spec.ts";
import { LOSS_METRICS } from "../task_fit.ts";
import { jsonDifferences } from "../zod_paths.ts";

/** What of a study's definition the direction check reads (a `StudyDefinition`). */
export interface DefinitionOfDirection {
  /** The sweep: its metric, and the direction it sets, if any. */
  sweep: Pick<SweepSpec, "metric" | "direction">;
  /** The trials' base config: its optimizer says which way the loss goes. */
  base: { optimizer: unknown };
}

/** Options of {@linkcode checkStudyDirection}. */
export interface StudyDirectionOptions {
  /** What makes two definitions the same study (`studyIdentity`). */
  identity: (definition: unknown) => unknown;
  /** Whether `anneal worker` runs it (its definition is the stored one: the hint differs). */
  worker?: boolean;
}

/**
 * Refuses, before any trial, to run the stored study `studyName` in `direction` when it was
 * created in the other, saying what, why and how to go on ({@linkcode studyDirectionError}). A
 * study that does not exist, cannot be loaded, or whose definition differs in more than its
 * direction is left to the storage to report (a different definition: each difference named).
 */
export async function checkStudyDirection(
  storage: StudyStorage,
  studyName: string,
  definition: DefinitionOfDirection,
  direction: Direction,
  options: StudyDirectionOptions,
): Promise<void> {
  const study = await storage.loadStudy(studyName).catch(() => undefined);
  if (!study || study.direction === direction) return;
  const { identity } = options;
  if (jsonDifferences(identity(study.space), identity(definition)).length > 0) return;
  const trials = await storage.listTrials(study.id).then((all) => all.length, () => undefined);
  throw studyDirectionError(study, definition, direction, { trials, worker: options.worker });
}

/**
 * The refusal of a sweep in `direction` on a `study` created in the other: what (the two
 * directions, the trials recorded), why (the sweep's `sweep.direction`, or for the loss its
 * `optimizer.maximize`, which older anneals stored to minimize, or the metric's own way), and how
 * to go on: a new study (`--study NAME`), or this one in its own direction
 * (`--set sweep.direction=...`).
 *
 * @example
 * ```ts
 * import { studyDirectionError } from "./study_direction.ts";
 * const study = { id: 1, name: "sw", direction: "minimize" as const, space: {}, createdAt: new Date() };
 * const definition = {
 *   sweep: { metric: "valLoss" },
 *   base: { optimizer: { name: "sgd", lr: 0.01, maximize: true } },
 * };
 * const error = studyDirectionError(study, definition, "maximize", { trials: 4 });
 * console.assert(error.message.startsWith("Cannot run study 'sw' to maximize valLoss"));
 * console.assert(error.hint!.includes("--study NAME") && error.hint!.includes("sweep.direction=minimize"));
 * ```
 */
export function studyDirectionError(
  study: Study,
  definition: DefinitionOfDirection,
  direction: Direction,
  options: { trials?: number; worker?: boolean } = {},
): AnnealError {
  const { metric } = definition.sweep;
  const stored = study.direction;
  const maximizedLoss = LOSS_METRICS.includes(metric) && maximizes(definition.base.optimizer);
  const set = definition.sweep.direction !== undefined;
  const why = set
    ? `its sweep.direction is '${definition.sweep.direction}'`
    : maximizedLoss
    ? `for the loss the direction follows optimizer.maximize, which every trial has`
    : `${metric} is better ${direction === "maximize" ? "higher" : "lower"}`;
  // a study of a maximized loss from an anneal whose direction did not follow maximize
  const older = !set && maximizedLoss && stored === "minimize"
    ? `; anneals before the loss's direction followed optimizer.maximize created such a study ` +
      `to minimize it`
    : "";
  const count = options.trials === undefined
    ? "its trials"
    : `its ${counted(options.trials, "trial")}`;
  const keep = `--set sweep.direction=${stored}`;
  const then = maximizedLoss && stored === "minimize"
    ? ` (its best trial is then the one whose ${metric} rose least)`
    : "";
  const hint = options.worker
    ? `a worker runs a study as it is stored: start a new study for the workers with ` +
      `\`anneal sweep -c CONFIG --storage URL --study NAME\` (its trials run again) and join ` +
      `that one; or go on with '${study.name}' in its own direction: \`anneal sweep -c CONFIG ` +
      `--storage URL --study ${study.name} ${keep}\`${then} (the study then holds that ` +
      `setting)`
    : `start a new study for this sweep, whose trials run again: \`anneal sweep -c CONFIG ` +
      `--study NAME\`; or go on with '${study.name}' in its own direction: ${keep}${then}`;
  return new AnnealError(
    "storage",
    `Cannot run study '${study.name}' to ${direction} ${metric} (${why}): it was created to ` +
      `${stored} ${metric}, and ${count} were recorded that way${older}. A trial's value is its ` +
      `best ${metric} in the study's direction, and the study's best trial the best of those: ` +
      `trials ranked the other way would not compare with them`,
    { where: study.name, hint },
  );
}
