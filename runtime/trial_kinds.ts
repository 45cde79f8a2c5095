/**
 * A trial that switches a section's kind (`optimizer.name` from sgd to adam, `scheduler.name`,
 * `model.kind`, `data.kind`) starts from the base config's section, which was read with the base
 * kind's defaults filled in: sgd's `momentum`, `dampening` and `nesterov`, which adam has not, and
 * its `weightDecay` 0, where adamw's default is 0.01. {@linkcode switchKinds} leaves those out, so
 * that the trial's section reads as if written with its own kind: a field the trial's kind has not
 * is dropped, and one at the base kind's default takes the trial kind's default. Fields set to
 * other values in the base (a `lr` both kinds have) and the trial's own parameters are kept.
 *
 * @module
 */
import { parseConfig, RunConfigSchema } from "../config.ts";
import type { Params, ParamValue } from "../sweeps/space.ts";
import {
  type ConditionedSpace,
  drawnParams,
  isDrawn,
  parentsOf,
  withEntry,
} from "../sweeps/conditions.ts";
import { conditionCases, firstCases } from "../sweeps/condition_cases.ts";
import { canonicalJson, fieldNames } from "../zod_paths.ts";

/** Each section whose kind a field names, and that field. */
export const KIND_FIELDS: Record<string, string> = {
  data: "kind",
  model: "kind",
  optimizer: "name",
  scheduler: "name",
};

type Sections = Record<string, Record<string, unknown> | undefined>;

/**
 * Whether `field` of the base's `section` holds what its kind would give it unwritten: the value
 * the base reads as with the field left out.
 */
function atDefault(base: Sections, section: string, field: string): boolean {
  const { [field]: value, ...rest } = base[section]!;
  try {
    const read = parseConfig({ ...base, [section]: rest }) as unknown as Sections;
    return canonicalJson(read[section]?.[field]) === canonicalJson(value);
  } catch {
    return false; // a field its kind needs: written by the user
  }
}

/**
 * `applied` (the base config with a trial's `params` set) with the fields of each section whose
 * kind the params switch that belong to the base kind only: those the trial's kind has not, and
 * those at the base kind's default. Returns `applied` itself, changed in place.
 *
 * @example
 * ```ts
 * import { switchKinds } from "./trial_kinds.ts";
 * import { parseConfig } from "../config.ts";
 * const base = parseConfig({ optimizer: { name: "sgd", lr: 0.05 } });
 * const applied = structuredClone(base) as unknown as Record<string, Record<string, unknown>>;
 * applied.optimizer.name = "adamw";
 * const section = switchKinds(base, { "optimizer.name": "adamw" }, applied).optimizer;
 * console.assert(section.lr === 0.05 && !("momentum" in section) && !("weightDecay" in section));
 * ```
 */
export function switchKinds<T extends Record<string, unknown>>(
  base: unknown,
  params: Params,
  applied: T,
): T {
  const sections = base as Sections;
  for (const [section, kindField] of Object.entries(KIND_FIELDS)) {
    const path = `${section}.${kindField}`;
    const was = sections[section];
    const now = (applied as Sections)[section];
    if (!(path in params) || !was || !now || now[kindField] === was[kindField]) continue;
    const fields = fieldNames(RunConfigSchema, [section], applied);
    for (const field of Object.keys(now)) {
      if (field === kindField || `${section}.${field}` in params) continue;
      if (!fields.includes(field) || atDefault(sections, section, field)) delete now[field];
    }
  }
  return applied;
}

/** A value that stands for a distribution in a check: a choice's first, a range's low end. */
type Representative = (path: string) => unknown;

/**
 * Refuses, before any trial runs, a space that switches a section's kind (a `choice` or `grid` of
 * `optimizer.name`, say) to a kind that cannot take the section the space gives it: one without a
 * field the space draws beside it (`optimizer.momentum` for adam, which every trial drawing adam
 * would fail on, unless a condition draws momentum only with sgd), one that needs a field neither
 * the base config's section nor the space has (step's `stepSize` where the base is a cosine), or
 * one that a section the space does not vary refuses (adam beside the base's cyclic, which cycles
 * a momentum only). Each kind is tried with the section's paths that a trial drawing it draws,
 * under each way of drawing the paths conditions name. `trialConfig` builds a trial's config from
 * its params, `representative` the value of a space path to try.
 */
export function checkKindSwitches(
  space: ConditionedSpace,
  trialConfig: (params: Params) => unknown,
  representative: Representative,
  fail: (path: string, message: string, hint: string) => never,
): void {
  for (const [section, kindField] of Object.entries(KIND_FIELDS)) {
    const kindPath = `${section}.${kindField}`;
    const values = space[kindPath]?.values;
    if (values === undefined || section in space) continue;
    for (const kind of values) {
      for (const params of kindCases(space, kindPath, kind as ParamValue, representative)) {
        try {
          trialConfig(params);
          continue;
        } catch (error) {
          if (!(error instanceof Error)) throw error;
          refuseKind(space, section, kind, params, error, trialConfig, representative, fail);
        }
      }
    }
  }
}

/** The most ways of drawing a kind's section that {@linkcode checkKindSwitches} tries. */
const MAX_KIND_CASES = 256;

/**
 * The params of a section that trials drawing `kind` at `kindPath` draw: each path of the section
 * at its representative value, under each way of drawing the paths that their conditions name
 * (those whose conditions fail left out), each set once; the first {@linkcode MAX_KIND_CASES} of
 * them where there are more (the others are not tried: no trial is refused on a guess).
 */
function kindCases(
  space: ConditionedSpace,
  kindPath: string,
  kind: ParamValue,
  representative: Representative,
): Params[] {
  const section = kindPath.split(".")[0];
  const inSection = (path: string) => path.startsWith(`${section}.`);
  const all = Object.fromEntries(
    Object.keys(space).map((path) => [path, representative(path) as ParamValue]),
  );
  const found = new Map<string, Params>();
  const paths = [kindPath, ...Object.keys(space).filter(inSection)];
  // (each way of drawing once: they are as many as the values of the paths conditions name)
  const { cases } = firstCases(conditionCases(space, paths), 100 * MAX_KIND_CASES);
  for (const drawn of cases) {
    if (Object.hasOwn(drawn, kindPath)) {
      if (canonicalJson(drawn[kindPath]) !== canonicalJson(kind)) continue;
    } else if (!isDrawn(space, kindPath, drawn)) continue;
    const trial = drawnParams(space, { ...all, ...drawn, [kindPath]: kind });
    const params = Object.fromEntries(Object.entries(trial).filter(([path]) => inSection(path)));
    found.set(canonicalJson(params), params);
    if (found.size === MAX_KIND_CASES) break;
  }
  return [...found.values()];
}

/** Says why a trial of `kind`, drawing `params`, fails, and how to fix it (see checkKindSwitches). */
function refuseKind(
  space: ConditionedSpace,
  section: string,
  kind: unknown,
  params: Params,
  error: Error,
  trialConfig: (params: Params) => unknown,
  representative: Representative,
  fail: (path: string, message: string, hint: string) => never,
): void {
  const kindField = KIND_FIELDS[section];
  const kindPath = `${section}.${kindField}`;
  const unknownIn = (failure: Error, path: string) =>
    failure.message.includes(`'${path}': unknown field`);
  const lacking = Object.keys(params).find((path) => unknownIn(error, path));
  const needed = /'([\w.]+)': is required/.exec(error.message)?.[1];
  const whole = `"${section}": { "type": "choice", "values": [{ "${kindField}": ` +
    `${JSON.stringify(kind)}, ... }, ...] }`;
  if (lacking !== undefined) {
    // the kinds that have the field: a condition may draw it with those only
    const having = (space[kindPath].values ?? []).filter((other) => {
      try {
        trialConfig({
          [kindPath]: other as ParamValue,
          [lacking]: representative(lacking) as ParamValue,
        });
        return true;
      } catch (failure) {
        return !(failure instanceof Error && unknownIn(failure, lacking));
      }
    });
    const when = withEntry(
      space[lacking].when,
      kindPath,
      having.length === 1 ? having[0] : having,
    );
    const entries = (alternative: Record<string, unknown>) =>
      `{ ${
        Object.entries(alternative).map(([path, allowed]) =>
          `${JSON.stringify(path)}: ${JSON.stringify(allowed)}`
        ).join(", ")
      } }`;
    const written = Array.isArray(when) ? `[${when.map(entries).join(", ")}]` : entries(when);
    const condition = having.length === 0
      ? ""
      : `draw it only with the ${kindField}s that have it, with a condition: "${lacking}": ` +
        `{ ..., "when": ${written} }; or `;
    fail(
      lacking,
      `Cannot sweep '${lacking}' beside '${kindPath}': ${JSON.stringify(kind)}, one of ` +
        `${kindPath}'s values, has no field '${lacking.slice(section.length + 1)}', so ` +
        `every trial that draws it${
          parentsOf(space[lacking]).includes(kindPath)
            ? ` (its condition allows ${JSON.stringify(kind)})`
            : ""
        } would fail`,
      `${condition}drop ${JSON.stringify(kind)} from ${kindPath}'s values or '${lacking}' from ` +
        `the space, or sample whole ${section} sections, each with its own fields (${whole})`,
    );
  }
  if (needed?.startsWith(`${section}.`)) {
    const base = (trialConfig({}) as Record<string, Record<string, unknown>>)[section]?.[kindField];
    fail(
      kindPath,
      `Cannot sweep '${kindPath}' over ${JSON.stringify(kind)}: it needs '${needed}', which the ` +
        `base config's ${section} (${kindField} ${JSON.stringify(base)}) has not and the space ` +
        `does not give, so every trial that draws it would fail`,
      `add '${needed}' to the space, drawn only with ${JSON.stringify(kind)} ("${needed}": ` +
        `{ ..., "when": { "${kindPath}": ${JSON.stringify(kind)} } }), or sample whole ` +
        `${section} sections, each with its own fields (${whole})`,
    );
  }
  // a setting of a section the space does not vary refuses the kind (a cyclic or onecycle that
  // cycles momentum, beside an optimizer that has none to cycle): every trial that draws the kind
  // fails on it, whatever else it draws
  const where = (error as { where?: unknown }).where;
  const at = typeof where === "string" ? where.split(/[.[]/)[0] : undefined;
  if (at && !Object.keys(space).some((path) => path.split(".")[0] === at)) {
    const reason = error.message.replace(/^Invalid trial config: /, "");
    fail(
      kindPath,
      `Cannot sweep '${kindPath}' over ${JSON.stringify(kind)}: the base config's ${at}, which ` +
        `the space does not vary, refuses it (${reason}), so every trial that draws it would fail`,
      `drop ${JSON.stringify(kind)} from ${kindPath}'s values, or change '${where}' in the base ` +
        `config so that every kind the space draws takes it`,
    );
  }
}
