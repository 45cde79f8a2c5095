/**
 * What an unknown field most likely meant, for every parser of the config (the run config, a
 * schedule or an optimizer parsed on its own): a field of the same object spelled alike
 * (`weight_decay`: `weightDecay`), or a field of another option of the section's kind, which the
 * error then names with how to select it (`momentum` with adam: sgd and rmsprop have it).
 *
 * @module
 */

import {
  closestName,
  editDistance,
  fieldNames,
  formatPath,
  normalized,
  showValue,
  unionAt,
  valueAt,
} from "./zod_paths.ts";

/** What an unknown key likely meant (see {@linkcode suggestField}). */
export interface FieldSuggestion {
  /** The field meant: the key itself when only other options have it. */
  name: string;
  /** Why, where the field meant is not a spelling of the key (torch's form of a setting). */
  why?: string;
  /**
   * Where only other options of the object's kind have it: the discriminator (`name`), the
   * values that have the field, and the one the object has.
   */
  owners?: { key: string; values: unknown[]; current: unknown };
}

type Schema = { _zod: { def: unknown } };

/**
 * What `key`, unknown in the object at `parent` of `input`, most likely meant: the key itself as
 * a field of other options of the object's discriminated union (`betas` with sgd: adam's); else a
 * field of the object spelled alike; else one of another option spelled alike. Undefined when
 * nothing is close.
 *
 * @example
 * ```ts
 * import { z } from "npm:zod@4.6.7";
 * import { suggestField } from "./unknown_fields.ts";
 * const schema = z.discriminatedUnion("name", [
 *   z.strictObject({ name: z.literal("sgd"), lr: z.number(), momentum: z.number() }),
 *   z.strictObject({ name: z.literal("adam"), lr: z.number(), betas: z.array(z.number()) }),
 * ]);
 * const meant = suggestField(schema, [], "beta", { name: "sgd", beta: 0.9 });
 * console.assert(meant?.name === "betas" && meant.owners?.values.join() === "adam");
 * ```
 */
export function suggestField(
  schema: Schema,
  parent: readonly PropertyKey[],
  key: string,
  input: unknown,
): FieldSuggestion | undefined {
  const here = fieldNames(schema, parent, input).filter((name) => name !== key);
  const union = unionAt(schema, parent, input);
  const current = union && (valueAt(input, parent) as Record<string, unknown>)?.[union.key];
  const others = union?.options.filter((option) => option.value !== current) ?? [];
  const owners = (name: string) =>
    union && {
      key: union.key,
      values: others.filter((option) => option.fields.includes(name)).map((o) => o.value),
      current,
    };
  // (torch's name: lower case, without separators)
  const plain = normalized(key);
  // torch's OneCycleLR takes epochs and steps_per_epoch in place of total_steps; anneal's
  // onecycle takes only the product ("did you mean 'epochs'", the run's, had been said)
  if (
    (plain === "epochs" || plain === "stepsperepoch") && current === "onecycle" &&
    here.includes("totalSteps")
  ) {
    return {
      name: "totalSteps",
      why: "torch's epochs and steps_per_epoch stand for their product, which onecycle takes " +
        "as totalSteps",
    };
  }
  // torch's param group sets its own lr; anneal's scales the run's rate (it said "did you mean
  // 'optimizer.lr'", the rate of every group)
  if (plain === "lr" && here.includes("lrMultiplier")) {
    return {
      name: "lrMultiplier",
      why: "a group's rate is the run's times it (torch's group lr / optimizer.lr), so that the " +
        "schedule drives every group",
    };
  }
  if (others.some((option) => option.fields.includes(key))) {
    return { name: key, owners: owners(key) };
  }
  // torch's names for what anneal names otherwise (clip_grad_value_'s clip_value, and its
  // error_if_nonfinite, which anneal's onNonFinite replaces)
  const torch = TORCH_NAMES[plain];
  if (torch !== undefined && here.includes(torch)) return { name: torch };
  const close = closestName(key, here);
  if (close !== undefined) return { name: close };
  const elsewhere = closestName(key, [...new Set(others.flatMap((option) => option.fields))]);
  return elsewhere === undefined ? undefined : { name: elsewhere, owners: owners(elsewhere) };
}

/**
 * Which of the options that have a field to suggest selecting: the one whose name is nearest the
 * current option's (`nadam` with `maximize`: `adam`, not the list's first, `sgd`).
 */
function nearestOwner(owners: NonNullable<FieldSuggestion["owners"]>): unknown {
  const current = String(owners.current ?? "");
  let best = owners.values[0];
  let distance = Infinity;
  for (const value of owners.values) {
    const d = editDistance(current, String(value));
    if (d < distance) [best, distance] = [value, d];
  }
  return best;
}

/**
 * Fields named as torch names their arguments where anneal's name is not a spelling of it (a
 * spelling, `T_max`, `weight_decay`, is found as one): by the name lower-cased without separators.
 */
const TORCH_NAMES: Record<string, string> = {
  clipvalue: "value",
  errorifnonfinite: "onNonFinite",
};

/** How a message names things: a field's path, and how to select an option of its kind. */
export interface SuggestionStyle {
  /** The path a field is named by (`optimizer.betas`, or `betas` in a spec of its own). */
  field: (name: string) => string;
  /** How to select the option `value` of discriminator `key` (`--set optimizer.name=adam`). */
  select: (key: string, value: unknown) => string;
}

/**
 * The words that follow "unknown field" for a suggestion: `(did you mean 'optimizer.betas'?)`,
 * with the options that have it where the object's own has not (`'adam' and 'adamw' have it, not
 * 'sgd': select one with --set optimizer.name=adam`).
 *
 * @example
 * ```ts
 * import { describeSuggestion } from "./unknown_fields.ts";
 * const text = describeSuggestion(
 *   { name: "betas", owners: { key: "name", values: ["adam"], current: "sgd" } },
 *   "beta",
 *   { field: (name) => `optimizer.${name}`, select: (key, value) => `--set optimizer.${key}=${value}` },
 * );
 * console.assert(text === "(did you mean 'optimizer.betas'? 'adam' has it, not 'sgd': select it with --set optimizer.name=adam)");
 * ```
 */
export function describeSuggestion(
  suggestion: FieldSuggestion,
  key: string,
  style: SuggestionStyle,
): string {
  const { name, owners, why } = suggestion;
  const meant = name === key ? "" : `did you mean '${style.field(name)}'?${why ? ` ${why}` : ""}`;
  if (!owners || owners.values.length === 0) return meant ? `(${meant})` : "";
  const values = owners.values.map((value) => `'${String(value)}'`);
  const list = values.length === 1
    ? values[0]
    : `${values.slice(0, -1).join(", ")} and ${values[values.length - 1]}`;
  const not = owners.current === undefined ? "" : `, not ${showName(owners.current)}`;
  const which = values.length === 1 ? "it" : "one";
  const owned = `${list} ${values.length === 1 ? "has" : "have"} it${not}: select ${which} with ` +
    style.select(owners.key, nearestOwner(owners));
  return meant ? `(${meant} ${owned})` : `(${owned})`;
}

function showName(value: unknown): string {
  return typeof value === "string" ? `'${value}'` : showValue(value);
}

/**
 * The style of a spec parsed on its own (`anneal schedule --scheduler`): fields by their path in
 * it, a kind selected by writing its discriminator (`"name": "step"`).
 */
export function specStyle(parent: readonly PropertyKey[]): SuggestionStyle {
  return {
    field: (name) => formatPath([...parent, name]),
    select: (key, value) =>
      `"${key}": ${showValue(value)}${parent.length > 0 ? ` in '${formatPath(parent)}'` : ""}`,
  };
}

/**
 * The style of the run config's messages: fields by their whole path, a kind selected by
 * `--set` where it can reach it (not inside a list, nor under a key with a dot: there
 * `"name": "step" in 'scheduler.schedulers[1]'`).
 */
export function configStyle(parent: readonly PropertyKey[]): SuggestionStyle {
  const reachable = parent.every((key) => typeof key === "string" && !key.includes("."));
  const inFile = specStyle(parent);
  return {
    field: inFile.field,
    select: (key, value) =>
      reachable
        ? `--set ${formatPath([...parent, key])}=${String(value)}`
        : inFile.select(key, value),
  };
}

/**
 * What to do about an unknown field: rename it to the field it likely meant, select the kind
 * that has it, or (nothing close) remove it.
 *
 * @example
 * ```ts
 * import { specStyle, suggestionHint } from "./unknown_fields.ts";
 * console.assert(suggestionHint({ name: "tMax" }, "T_max", specStyle([])) === "rename 'T_max' to 'tMax'");
 * ```
 */
export function suggestionHint(
  suggestion: FieldSuggestion | undefined,
  key: string,
  style: SuggestionStyle,
): string {
  const field = `'${style.field(key)}'`;
  if (!suggestion) return `remove ${field} or check its spelling`;
  const { name, owners } = suggestion;
  const rename = name === key ? "" : `rename ${field} to '${style.field(name)}'`;
  if (!owners || owners.values.length === 0) return rename;
  const select = `select one that has it (${style.select(owners.key, nearestOwner(owners))})`;
  return `${rename ? `${rename} and ` : ""}${select}, or remove ${field}`;
}

/**
 * "unknown field 'x' (did you mean ...)" for the unknown `keys` of the object at `parent` of a
 * spec parsed on its own, each named by its path and with what it likely meant; and what to do
 * about the first.
 *
 * @example
 * ```ts
 * import { unknownFields } from "./unknown_fields.ts";
 * import { SchedulerSpecSchema } from "./schedulers/spec.ts";
 * const { message, hint } = unknownFields(SchedulerSpecSchema, [], ["T_max"], { name: "cosine", T_max: 5 });
 * console.assert(message === "unknown field 'T_max' (did you mean 'tMax'?)");
 * console.assert(hint === "rename 'T_max' to 'tMax'");
 * ```
 */
export function unknownFields(
  schema: Schema,
  parent: readonly PropertyKey[],
  keys: readonly string[],
  input: unknown,
): { message: string; hint: string } {
  const style = specStyle(parent);
  const suggestions = keys.map((key) => suggestField(schema, parent, key, input));
  const each = keys.map((key, i) => {
    const suggestion = suggestions[i];
    const meant = suggestion ? describeSuggestion(suggestion, key, style) : "";
    return `'${formatPath([...parent, key])}'${meant ? ` ${meant}` : ""}`;
  });
  return {
    message: `unknown field${keys.length > 1 ? "s" : ""} ${each.join(", ")}`,
    hint: suggestionHint(suggestions[0], keys[0], style),
  };
}
