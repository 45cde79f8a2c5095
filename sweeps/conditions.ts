/**
 * Conditional paths of a search space. A distribution with `when` is drawn only in the trials whose
 * values of the paths it names are among those it allows (`"when": { "optimizer.name": "sgd" }`,
 * or a list: `["sgd", "rmsprop"]`), or not among those it excludes (`{ "not": ["sgd"] }`); several
 * paths must all hold, and a list of such conditions holds where any one does (`"when": [{ ... },
 * { ... }]`), as an Optuna objective asks for a parameter only inside an `if`. A trial that does
 * not draw a path has no value for it: its params leave it out, its config keeps the base's, and it
 * meets no condition that names it (`not` included). Conditions name `choice` or `grid` paths
 * only, so that the values a trial may draw for them are known before any trial runs. A condition
 * that names no path (`"when": {}`) holds in every trial, as no `when` does; an empty list of
 * conditions (`"when": []`) would hold in none, and is refused (`sweeps/condition_checks.ts`).
 *
 * @module
 */
import { canonicalJson } from "../zod_paths.ts";
import type { Params } from "./space.ts";

/** One condition: each path it names, with the values it allows (or `{ "not": values }`). */
export type Alternative = Record<string, unknown>;

/** What of a distribution conditions read: its type, a choice's values and its own condition. */
interface Conditioned {
  type: string;
  values?: unknown[];
  when?: Alternative | Alternative[];
}

/** A search space as conditions read it. */
export type ConditionedSpace = Record<string, Conditioned>;

/** The values a condition allows for one path: a list as written, a single value as a list of one. */
export function allowedValues(allowed: unknown): unknown[] {
  return Array.isArray(allowed) ? allowed : [allowed];
}

/** Whether a condition's entry excludes values: an object of `not` alone, `{ "not": ["sgd"] }`. */
export function isExclusion(allowed: unknown): allowed is { not: unknown } {
  return typeof allowed === "object" && allowed !== null && !Array.isArray(allowed) &&
    Object.keys(allowed).length === 1 && Object.hasOwn(allowed, "not");
}

/** What one entry of a condition says: the values it lists, and whether it allows or excludes them. */
export function entryTest(allowed: unknown): { values: unknown[]; excludes: boolean } {
  return isExclusion(allowed)
    ? { values: allowedValues(allowed.not), excludes: true }
    : { values: allowedValues(allowed), excludes: false };
}

/** Whether `value`, drawn for a path, meets the entry `allowed` of a condition on it. */
export function entryHolds(allowed: unknown, value: unknown): boolean {
  const { values, excludes } = entryTest(allowed);
  const key = canonicalJson(value);
  return values.some((listed) => canonicalJson(listed) === key) !== excludes;
}

/** The conditions of `when`, any one of which lets a trial draw the path (one, unless a list). */
export function alternativesOf(when: Alternative | Alternative[] | undefined): Alternative[] {
  return when === undefined ? [] : Array.isArray(when) ? when : [when];
}

/**
 * The condition of `when` that some trials fail, or `undefined` where every trial meets it: no
 * `when`, or one condition that names no path (`"when": {}`, read as no condition, as studies
 * stored before such conditions were refused hold it).
 */
export function conditionOf(
  when: Alternative | Alternative[] | undefined,
): Alternative | Alternative[] | undefined {
  return when !== undefined && !Array.isArray(when) && Object.keys(when).length === 0
    ? undefined
    : when;
}

/** The paths a distribution's condition names (in any of its alternatives). */
export function parentsOf(d: Conditioned): string[] {
  return [...new Set(alternativesOf(d.when).flatMap((alternative) => Object.keys(alternative)))];
}

/** Whether `drawn` meets one condition: each path it names drawn, with a value it lets through. */
export function alternativeHolds(alternative: Alternative, drawn: Params): boolean {
  return Object.entries(alternative).every(([parent, allowed]) =>
    Object.hasOwn(drawn, parent) && entryHolds(allowed, drawn[parent])
  );
}

/**
 * Whether a trial draws `path`, given `drawn`: the values it drew for the paths before it in
 * {@linkcode drawOrder} (a path it did not draw is absent, and so fails any condition naming it).
 */
export function isDrawn(space: ConditionedSpace, path: string, drawn: Params): boolean {
  const when = conditionOf(space[path].when);
  if (when === undefined) return true;
  return alternativesOf(when).some((alternative) => alternativeHolds(alternative, drawn));
}

/**
 * The space's paths in the order a trial draws them: the space's own, except that a path comes
 * after every path its condition names. A space whose conditions form a cycle has none (see
 * `sweeps/condition_checks.ts`); its paths in a cycle are left out.
 */
export function drawOrder(space: ConditionedSpace): string[] {
  const order: string[] = [];
  const placed = new Set<string>();
  const paths = Object.keys(space);
  for (let progress = true; progress;) {
    progress = false;
    for (const path of paths) {
      if (placed.has(path)) continue;
      if (parentsOf(space[path]).every((parent) => placed.has(parent) || !(parent in space))) {
        placed.add(path);
        order.push(path);
        progress = true;
        break; // the first one ready, in the space's order
      }
    }
  }
  return order;
}

/** `params` with its paths in the space's order (the order tables and the grid show them in). */
export function inSpaceOrder(space: ConditionedSpace, params: Params): Params {
  return Object.fromEntries(
    Object.keys(space).filter((path) => Object.hasOwn(params, path)).map((path) => [
      path,
      params[path],
    ]),
  );
}

/**
 * The parameters a trial draws when `values` gives a value to every path (or to some: a path
 * without one is not drawn): those whose conditions hold, in the space's order.
 *
 * @example
 * ```ts
 * import { drawnParams } from "./conditions.ts";
 * const space = {
 *   "optimizer.name": { type: "choice", values: ["sgd", "adam"] },
 *   "optimizer.momentum": { type: "uniform", when: { "optimizer.name": "sgd" } },
 * };
 * const adam = drawnParams(space, { "optimizer.name": "adam", "optimizer.momentum": 0.9 });
 * console.assert(!("optimizer.momentum" in adam));
 * ```
 */
export function drawnParams(space: ConditionedSpace, values: Params): Params {
  const drawn: Params = {};
  for (const path of drawOrder(space)) {
    if (Object.hasOwn(values, path) && isDrawn(space, path, drawn)) drawn[path] = values[path];
  }
  return inSpaceOrder(space, drawn);
}

/**
 * Whether `params` (a trial's, from any sampler) is a whole point of the space: it has a value at
 * every path that its own values draw (those at other paths are not part of the point).
 */
export function isWholePoint(space: ConditionedSpace, params: Params): boolean {
  const drawn: Params = {};
  for (const path of drawOrder(space)) {
    if (!isDrawn(space, path, drawn)) continue;
    if (!Object.hasOwn(params, path)) return false;
    drawn[path] = params[path];
  }
  return true;
}

/** The paths of the space that some condition names. */
export function conditionPaths(space: ConditionedSpace): Set<string> {
  return new Set(Object.values(space).flatMap(parentsOf));
}

/** The paths that the conditions of `paths` name, and theirs in turn (without `paths` themselves). */
export function ancestorsOf(space: ConditionedSpace, paths: Iterable<string>): Set<string> {
  const found = new Set<string>();
  const visit = (at: string) => {
    for (const parent of parentsOf(space[at])) {
      if (!found.has(parent) && parent in space) {
        found.add(parent);
        visit(parent);
      }
    }
  };
  for (const path of paths) visit(path);
  return found;
}

/** One entry of a condition in words: `optimizer.name is "sgd"`, `batchSize not in [16,32]`. */
function entryText(parent: string, allowed: unknown): string {
  const { values, excludes } = entryTest(allowed);
  return values.length === 1
    ? `${parent} is ${excludes ? "not " : ""}${canonicalJson(values[0])}`
    : `${parent} ${excludes ? "not in" : "in"} ${canonicalJson(values)}`;
}

/** One condition in words, its entries joined by `and`. */
export function alternativeText(alternative: Alternative): string {
  return Object.entries(alternative).map(([parent, allowed]) => entryText(parent, allowed))
    .join(" and ");
}

/**
 * A condition in words: `optimizer.name is "sgd"`, `optimizer.name in ["sgd","rmsprop"]`,
 * `optimizer.name is not "sgd"`; a list of them joined by `or`, each of several entries in
 * parentheses.
 */
export function conditionText(when: Alternative | Alternative[]): string {
  const alternatives = alternativesOf(when);
  if (alternatives.length === 1) return alternativeText(alternatives[0]);
  return alternatives.map((alternative) =>
    Object.keys(alternative).length > 1
      ? `(${alternativeText(alternative)})`
      : alternativeText(alternative)
  ).join(" or ");
}

/**
 * `when` with `path` restricted to `allowed` in each of its conditions (a new condition where it has
 * none): the condition a hint writes for a path that only some values of `path` can take.
 */
export function withEntry(
  when: Alternative | Alternative[] | undefined,
  path: string,
  allowed: unknown,
): Alternative | Alternative[] {
  if (conditionOf(when) === undefined) return { [path]: allowed };
  return Array.isArray(when)
    ? when.map((alternative) => ({ ...alternative, [path]: allowed }))
    : { ...when, [path]: allowed };
}
