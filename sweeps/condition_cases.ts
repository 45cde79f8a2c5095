/**
 * The ways a trial may draw the paths that a space's conditions name, for the checks and warnings
 * made before any trial runs. They are gone through lazily and only over the paths that matter
 * (those a condition of interest names, and theirs in turn), so that a space of many conditional
 * paths is not multiplied out whole: each of `n` independent pairs of a choice and a path drawn
 * with one of its values would otherwise make 4^n ways of drawing with choices of 4.
 *
 * @module
 */
import { canonicalJson } from "../zod_paths.ts";
import type { Params, ParamValue } from "./space.ts";
import {
  type Alternative,
  alternativesOf,
  ancestorsOf,
  type ConditionedSpace,
  drawOrder,
  entryHolds,
  entryTest,
  isDrawn,
} from "./conditions.ts";

/**
 * The ways a trial may draw the paths that the conditions of `paths` name, and theirs in turn
 * (each a choice or grid), lazily, in the order a trial draws them: a path whose own condition
 * fails has no value. One empty way for paths without conditions. `valuesOf` gives the values to
 * go through at each path (default: all its choice's).
 *
 * @example
 * ```ts
 * import { conditionCases } from "./condition_cases.ts";
 * const space = {
 *   "optimizer.name": { type: "choice", values: ["sgd", "adam"] },
 *   "optimizer.momentum": { type: "uniform", when: { "optimizer.name": "sgd" } },
 *   batchSize: { type: "choice", values: [16, 32] },
 * };
 * const cases = [...conditionCases(space, ["optimizer.momentum"])];
 * console.assert(JSON.stringify(cases) === '[{"optimizer.name":"sgd"},{"optimizer.name":"adam"}]');
 * ```
 */
export function* conditionCases(
  space: ConditionedSpace,
  paths: Iterable<string>,
  valuesOf: (path: string) => unknown[] = (path) => space[path].values ?? [],
): Generator<Params> {
  yield* casesOver(space, ancestorsOf(space, paths), valuesOf);
}

/**
 * The ways a trial may draw the choice or grid paths in `over`, lazily, in the order a trial draws
 * them (a path whose condition fails has no value): `over` holds the paths each one's condition
 * names, and theirs in turn, so that each way says which of them a trial draws.
 */
export function* casesOver(
  space: ConditionedSpace,
  over: Set<string>,
  valuesOf: (path: string) => unknown[] = (path) => space[path].values ?? [],
): Generator<Params> {
  const order = drawOrder(space).filter((path) => over.has(path));
  function* from(i: number, drawn: Params): Generator<Params> {
    if (i === order.length) {
      yield drawn;
      return;
    }
    const path = order[i];
    if (!isDrawn(space, path, drawn)) {
      yield* from(i + 1, drawn);
      return;
    }
    for (const value of valuesOf(path)) {
      yield* from(i + 1, { ...drawn, [path]: value as ParamValue });
    }
  }
  yield* from(0, {});
}

/**
 * The ways a trial that draws `path` may have drawn the paths its condition names, and theirs in
 * turn, each once (one empty way for a path without a condition), lazily: what a trial config of
 * `path` is to be tried beside.
 */
export function* drawingCases(space: ConditionedSpace, path: string): Generator<Params> {
  for (const drawn of conditionCases(space, [path])) {
    if (isDrawn(space, path, drawn)) yield drawn;
  }
}

/** The first `limit` of `cases`, and whether they are all there are. */
export function firstCases(
  cases: Iterable<Params>,
  limit: number,
): { cases: Params[]; complete: boolean } {
  const taken: Params[] = [];
  for (const drawn of cases) {
    if (taken.length === limit) return { cases: taken, complete: false };
    taken.push(drawn);
  }
  return { cases: taken, complete: true };
}

/**
 * One value of `path` for each set of its values that the space's conditions tell apart (those
 * that each entry naming `path` allows alike): as far as any condition can see, the others draw
 * what that one draws.
 */
export function distinctValues(space: ConditionedSpace, path: string): unknown[] {
  const entries = Object.values(space)
    .flatMap((d) => alternativesOf(d.when))
    .filter((alternative) => Object.hasOwn(alternative, path))
    .map((alternative) => alternative[path]);
  const seen = new Set<string>();
  return (space[path].values ?? []).filter((value) => {
    const signature = canonicalJson(entries.map((allowed) => entryHolds(allowed, value)));
    if (seen.has(signature)) return false;
    seen.add(signature);
    return true;
  });
}

/** The most steps {@linkcode canMeet} takes before it gives up. */
export const MAX_STEPS = 1_000_000;

/**
 * Whether some trial meets `alternative` (one condition of a path, its paths each a choice or grid
 * of the space, in no cycle): it searches the ways of drawing the paths the condition names, and
 * theirs in turn, in the order a trial draws them, one value for each set of values the conditions
 * tell apart, leaving a way as soon as the values drawn so far leave one of the condition's paths
 * no way to be drawn with a value it allows. `undefined` where that takes more than `limit` steps.
 *
 * @example
 * ```ts
 * import { canMeet } from "./condition_cases.ts";
 * const space = {
 *   b: { type: "choice", values: ["x", "y"], when: { c: 1 } },
 *   c: { type: "choice", values: [2, 1] },
 * };
 * console.assert(canMeet(space, { b: "x", c: 1 }) === true);
 * console.assert(canMeet(space, { b: "x", c: 2 }) === false);
 * ```
 */
export function canMeet(
  space: ConditionedSpace,
  alternative: Alternative,
  limit = MAX_STEPS,
): boolean | undefined {
  const named = Object.keys(alternative).filter((path) => path in space);
  const relevant = new Set([...named, ...ancestorsOf(space, named)]);
  const order = drawOrder(space).filter((path) => relevant.has(path));
  const place = new Map(order.map((path, i) => [path, i]));
  // each path's values and conditions read once, values by their JSON, tests as sets of them
  const values = order.map((path) => distinctValues(space, path).map((v) => canonicalJson(v)));
  const compile = (conditions: Alternative): [number, (key: string) => boolean][] =>
    Object.entries(conditions).map(([parent, allowed]) => {
      const { values: listed, excludes } = entryTest(allowed);
      const keys = new Set(listed.map((value) => canonicalJson(value)));
      return [place.get(parent)!, (key: string) => keys.has(key) !== excludes];
    });
  const own = order.map((path) => alternativesOf(space[path].when).map(compile));
  const target = compile(alternative);
  const drawn: (string | undefined)[] = []; // each placed path's value, undefined where not drawn
  // whether a condition holds on the paths placed before `i`, hopefully for those after
  const holds = (entries: ReturnType<typeof compile>, i: number, may: Map<number, boolean>) =>
    entries.every(([at, test]) =>
      at < i ? drawn[at] !== undefined && test(drawn[at]!) : mayBeDrawn(at, i, may)
    );
  const mayBeDrawn = (at: number, i: number, may: Map<number, boolean>): boolean => {
    if (!may.has(at)) {
      may.set(at, own[at].length === 0 || own[at].some((entries) => holds(entries, i, may)));
    }
    return may.get(at)!;
  };
  let steps = 0;
  const search = (i: number): boolean | undefined => {
    if (++steps > limit) return undefined;
    if (!holds(target, i, new Map())) return false;
    if (i === order.length) return true;
    if (own[i].length > 0 && !own[i].some((entries) => holds(entries, i, new Map()))) {
      drawn[i] = undefined;
      return search(i + 1);
    }
    for (const key of values[i]) {
      drawn[i] = key;
      const found = search(i + 1);
      if (found !== false) return found;
    }
    return false;
  };
  return search(0);
}
