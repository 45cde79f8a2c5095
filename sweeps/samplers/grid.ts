/**
 * Grid search: the cartesian product of every parameter's values, in order (the first parameter
 * of the space varies slowest, like nested loops), each trial taking the first point that no
 * trial of the study has yet, whichever sampler drew it (a study switched to the grid after
 * random or TPE trials runs the points those left, each once). Only `grid`, `choice` and `int`
 * distributions have a finite set of values; a continuous one is an error, and so is asking for a
 * point once every one has a trial. A conditional path (`when`) adds its values only to the points
 * whose values meet its condition: the grid holds no two points that differ only in a path neither
 * draws.
 *
 * No point is listed but those gone through to the first untried one: a grid of 10^8 points (eight
 * paths of ten values) or more is counted (`gridCount`) and sampled at once. Its points are counted
 * path by path in the order a trial draws them, each group of paths that conditions tie together
 * apart (the grid is the product of the groups'), the count of what is left after a path kept for
 * each way the values drawn so far leave the conditions still to be met (`sweeps/conditions.ts`).
 * A study's sampler counts a space once, and goes on from the point it took last (`gridSampler`).
 *
 * @module
 */
import { AnnealError } from "../../errors.ts";
import { canonicalJson, formatPath } from "../../zod_paths.ts";
import type { Distribution, Params, ParamValue, SearchSpace } from "../space.ts";
import type { Sampler } from "./types.ts";
import {
  type Alternative,
  alternativesOf,
  conditionPaths,
  drawOrder,
  entryHolds,
  inSpaceOrder,
  isDrawn,
} from "../conditions.ts";

/**
 * The values of one parameter of a grid, in the order the grid takes them, without listing an
 * `int` range's: how many there are, the `k`-th, and how many of them a value equals (by its JSON,
 * keys sorted; 0 for a value off the grid, 1 for one on it: a value listed twice is one value).
 */
export interface GridValues {
  readonly count: number;
  at(k: number): ParamValue;
  multiplicity(value: unknown): number;
  /** The values as listed (a `grid` or `choice`), undefined for an `int` range. */
  readonly list?: readonly ParamValue[];
}

/**
 * The values of `path`'s distribution as a grid takes them; a range without a grid (`uniform`,
 * `logUniform`, a log `int`) is refused, naming the path.
 *
 * @example
 * ```ts
 * import { gridValues } from "./grid.ts";
 * const values = gridValues("batchSize", { type: "int", low: 16, high: 1e9, step: 16, log: false });
 * console.assert(values.count === 62_500_000 && values.at(2) === 48);
 * console.assert(values.multiplicity(64) === 1 && values.multiplicity(65) === 0);
 * ```
 */
export function gridValues(path: string, d: Distribution): GridValues {
  if (d.type === "grid" || d.type === "choice") {
    // a value listed twice is one value (its first place): a trial that has it holds every copy,
    // so counted twice the grid had points no trial would run (values [1, 1, 2]: "3 points;
    // running 3 trials", and 2 ran)
    const keys = new Set<string>();
    const list = d.values.filter((value) => {
      const key = canonicalJson(value);
      return !keys.has(key) && keys.add(key);
    });
    return {
      count: list.length,
      at: (k) => list[k],
      multiplicity: (value) => keys.has(canonicalJson(value)) ? 1 : 0,
      list,
    };
  }
  if (d.type === "int" && !d.log) {
    const { low, step } = d;
    const count = Math.floor((d.high - d.low) / step) + 1;
    return {
      count,
      at: (k) => low + k * step,
      multiplicity: (value) => {
        if (typeof value !== "number") return 0;
        const k = (value - low) / step;
        return Number.isInteger(k) && k >= 0 && k < count ? 1 : 0;
      },
    };
  }
  const range = d.type === "int" ? "a log int" : `a ${d.type}`;
  throw new AnnealError("config", `Cannot grid-search '${path}': ${range} range has no grid`, {
    where: formatPath(["sweep", "space", path]),
    hint: `list the values: { "type": "grid", "values": [...] }, or use the random or tpe sampler`,
  });
}

/** Each path of the space with its values, in the order the grid draws them. */
function gridEntries(space: SearchSpace): [string, GridValues][] {
  // (every path's, drawn or not: a range without a grid is refused wherever it is)
  const values = Object.fromEntries(
    Object.entries(space).map(([path, d]) => [path, gridValues(path, d)]),
  );
  return drawOrder(space).map((path) => [path, values[path]]);
}

/**
 * The groups of paths that conditions tie together (a path and those its condition names, and
 * theirs in turn, and every other path naming one of them), each in the order a trial draws them:
 * what one group draws leaves every other group's points as they are.
 */
function conditionGroups(space: SearchSpace, order: string[]): string[][] {
  const root = new Map(order.map((path) => [path, path]));
  const find = (path: string): string => {
    while (root.get(path) !== path) path = root.get(path)!;
    return path;
  };
  for (const path of order) {
    for (const alternative of alternativesOf(space[path].when)) {
      for (const parent of Object.keys(alternative)) {
        if (root.has(parent)) root.set(find(parent), find(path));
      }
    }
  }
  const groups = new Map<string, string[]>();
  for (const path of order) {
    const at = find(path);
    groups.set(at, [...(groups.get(at) ?? []), path]);
  }
  return [...groups.values()];
}

/** The most states of one group's conditions {@linkcode gridCount} keeps before it gives up. */
export const MAX_GRID_STATES = 100_000;

/**
 * The number of points of one group of paths (`conditionGroups`): of the combinations of their
 * values, those that differ in the paths each draws. It counts what is left after each path once
 * for each state of the conditions still to be met there, not once for each way of drawing the
 * paths before it: of each later path's conditions, met already, or what those the values drawn so
 * far leave possible still ask of the paths not drawn yet. Where those states are too many, it
 * refuses the grid.
 */
function groupCount(space: SearchSpace, group: string[], values: Map<string, GridValues>): bigint {
  const place = new Map(group.map((path, i) => [path, i]));
  const parents = conditionPaths(space);
  // each path's conditions, each condition's entries with the place of the path it names
  const conditions = group.map((path) =>
    alternativesOf(space[path].when).map((alternative: Alternative) =>
      Object.entries(alternative).map(([parent, allowed]) => ({
        parent,
        at: place.get(parent) ?? -1, // (-1: a path no trial draws)
        allowed,
        text: JSON.stringify([parent, canonicalJson(allowed)]),
      }))
    )
  );
  const conditional = group.map((_, i) => i).filter((i) => conditions[i].length > 0);
  /** What the conditions of the paths from `i` on still ask, given `drawn` (the paths' before). */
  const state = (i: number, drawn: Params): string =>
    conditional.filter((j) => j >= i).map((j) => {
      const asks = new Set<string>();
      for (const entries of conditions[j]) {
        // an entry on a path drawn before `i` holds or fails; one on a later path may yet hold
        const fails = entries.some(({ parent, at, allowed }) =>
          at < i && !(Object.hasOwn(drawn, parent) && entryHolds(allowed, drawn[parent]))
        );
        if (fails) continue;
        const rest = entries.filter(({ at }) => at >= i);
        if (rest.length === 0) return "+";
        asks.add(rest.map(({ text }) => text).join(","));
      }
      return [...asks].sort().join("|");
    }).join(";");
  const memo = new Map<string, bigint>();
  const count = (i: number, drawn: Params): bigint => {
    if (i === group.length) return 1n;
    const key = `${i}:${state(i, drawn)}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    if (memo.size >= MAX_GRID_STATES) {
      throw new AnnealError(
        "config",
        `Cannot grid-search sweep.space: the conditions of its paths ${group.join(", ")} ` +
          `leave them too many ways of being drawn together to count the grid's points (more ` +
          `than ${MAX_GRID_STATES} states of their conditions)`,
        {
          where: formatPath(["sweep", "space"]),
          hint: "draw fewer of those paths under conditions on each other, or sample the space " +
            "with the random, quasiRandom or tpe sampler",
        },
      );
    }
    const path = group[i];
    const own = values.get(path)!;
    let total: bigint;
    if (!isDrawn(space, path, drawn)) total = count(i + 1, drawn);
    else if (!parents.has(path)) total = BigInt(own.count) * count(i + 1, drawn);
    else {
      // a path some condition names: what the rest holds depends on the value drawn
      total = 0n;
      for (let k = 0; k < own.count; k++) total += count(i + 1, { ...drawn, [path]: own.at(k) });
    }
    memo.set(key, total);
    return total;
  };
  return count(0, {});
}

/**
 * The number of points of the grid over `space`, exactly: of its combinations of values, those
 * that differ in the paths each draws (a conditional path adds its values only where its condition
 * holds). Counted without listing them; a space whose conditions tie its paths together in too
 * many ways to count ({@linkcode MAX_GRID_STATES}) is refused, saying so.
 *
 * @example
 * ```ts
 * import { gridCount } from "./grid.ts";
 * const ten = { type: "grid" as const, values: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] };
 * const space = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`model.p${i}`, ten]));
 * console.assert(gridCount(space) === 10n ** 20n);
 * ```
 */
export function gridCount(space: SearchSpace): bigint {
  // (a count is the space's alone: kept by its JSON, as a grid study asks for it before each trial)
  const key = canonicalJson(space);
  const known = counted.get(key);
  if (known !== undefined) return known;
  const entries = gridEntries(space);
  const values = new Map(entries);
  const count = conditionGroups(space, entries.map(([path]) => path))
    .reduce((total, group) => total * groupCount(space, group, values), 1n);
  counted.set(key, count);
  if (counted.size > COUNTS_KEPT) counted.delete(counted.keys().next().value!);
  return count;
}

/** The counts of the last spaces counted, by their JSON (keys sorted): see `gridCount`. */
const counted = new Map<string, bigint>();
/** How many spaces' counts {@linkcode gridCount} keeps. */
const COUNTS_KEPT = 16;

/**
 * The number of points of the grid over `space` (`gridCount` as a number: exact up to
 * `Number.MAX_SAFE_INTEGER`): of its combinations of values, those that differ in the paths each
 * draws (a conditional path adds its values only where its condition holds).
 */
export function gridSize(space: SearchSpace): number {
  return Number(gridCount(space));
}

/**
 * The grid's points in order, like nested loops: the space's first path varies slowest, except
 * that a path comes after the paths its condition names, and is left out of the points where the
 * condition fails (so no two points differ in a path they do not draw). Lazily: only the points
 * taken are made.
 */
function* gridPoints(
  space: SearchSpace,
  entries = gridEntries(space),
): Generator<Params> {
  function* from(i: number, drawn: Params): Generator<Params> {
    if (i === entries.length) {
      yield inSpaceOrder(space, drawn);
      return;
    }
    const [path, values] = entries[i];
    if (!isDrawn(space, path, drawn)) {
      yield* from(i + 1, drawn);
      return;
    }
    for (let k = 0; k < values.count; k++) yield* from(i + 1, { ...drawn, [path]: values.at(k) });
  }
  yield* from(0, {});
}

/**
 * The points of the grid that `tried` holds (a trial's params whose values at every path the
 * point draws are among that path's, compared by their JSON with keys sorted), each once, with how
 * many of the grid's points it is (more than one where a path lists a value more than once).
 */
function heldPoints(
  space: SearchSpace,
  tried: Params[],
  entries = gridEntries(space),
  seen?: Map<string, HeldPoint | null>,
): Map<string, HeldPoint> {
  const held = new Map<string, HeldPoint>();
  for (const params of tried) {
    // (`seen`: what params of the same JSON, as written, held before)
    const written = seen && JSON.stringify(params);
    let found = written === undefined ? undefined : seen!.get(written);
    if (found === undefined) {
      found = heldPoint(space, params, entries);
      if (written !== undefined) seen!.set(written, found);
    }
    if (found !== null) held.set(found.key, found);
  }
  return held;
}

/** A point of the grid that a trial holds: its key (JSON, keys sorted), and how many points it is. */
interface HeldPoint {
  key: string;
  point: Params;
  n: number;
}

/** The point of the grid that a trial's `params` hold (see `heldPoints`), or null for none. */
function heldPoint(
  space: SearchSpace,
  params: Params,
  entries: [string, GridValues][],
): HeldPoint | null {
  const drawn: Params = {};
  let n = 1;
  for (const [path, values] of entries) {
    if (!isDrawn(space, path, drawn)) continue;
    n *= Object.hasOwn(params, path) ? values.multiplicity(params[path]) : 0;
    if (n === 0) return null;
    drawn[path] = params[path];
  }
  const point = inSpaceOrder(space, drawn);
  return { key: canonicalJson(point), point, n };
}

/**
 * The points of the grid that trials with `tried` params hold already (each once), in no order:
 * those of the grid's points the study does not run again.
 */
export function triedPoints(space: SearchSpace, tried: Params[]): Params[] {
  return [...heldPoints(space, tried).values()].map(({ point }) => point);
}

/**
 * How many of the grid's points no trial in `tried` has (all of them for `[]`), exactly, counted
 * without listing them (`gridCount`).
 */
export function untriedCount(space: SearchSpace, tried: Params[]): bigint {
  return untriedOf(space, heldPoints(space, tried));
}

/** How many of the grid's points are not among `held` (`heldPoints`). */
function untriedOf(space: SearchSpace, held: Map<string, HeldPoint>): bigint {
  let count = 0; // (exact: a study holds fewer than 2^53 trials)
  for (const { n } of held.values()) count += n;
  return gridCount(space) - BigInt(count);
}

/**
 * The grid's points that no trial in `tried` has (its parameters at every path the point draws
 * equal the point's, compared by their JSON with keys sorted, as PostgreSQL gives sections back in
 * its own order), in the grid's order, lazily: taking the first goes through the points before it
 * only.
 */
export function* untriedPoints(space: SearchSpace, tried: Params[]): Generator<Params> {
  const entries = gridEntries(space);
  const done = heldPoints(space, tried, entries);
  for (const point of gridPoints(space, entries)) if (!done.has(canonicalJson(point))) yield point;
}

/**
 * Where a grid sampler's walk through one space's points stands (`gridSampler`): the points it
 * went past, each tried when it did, and the one it stopped at.
 */
interface GridWalk {
  /** The JSON of the space the walk goes through. */
  space: string;
  entries: [string, GridValues][];
  /** The point each trial's params held, by their JSON as written (`heldPoints`). */
  seen: Map<string, HeldPoint | null>;
  points: Generator<Params>;
  /** The keys of the points gone past, in order. */
  passed: string[];
  /** The point the walk stopped at (the last one it proposed), not yet known to be tried. */
  at?: { point: Params; key: string };
}

/**
 * The grid sampler: the first point, in the grid's order, that no trial in `context.tried`
 * (default: the history's) has. Neither it nor `untried` lists the grid: a grid of any size starts
 * at once.
 *
 * @example
 * ```ts
 * import { gridSampler } from "./grid.ts";
 * import { Rng } from "../../data/rng.ts";
 * const space = {
 *   batchSize: { type: "grid" as const, values: [16, 32] },
 *   "scheduler.name": { type: "grid" as const, values: ["cosine", "step"] },
 * };
 * const tried = [{ batchSize: 16, "scheduler.name": "cosine" }, { batchSize: 16, "scheduler.name": "step" }];
 * const third = gridSampler().sample(space, [], new Rng(0), { tried });
 * console.assert(third.batchSize === 32 && third["scheduler.name"] === "cosine");
 * console.assert(gridSampler().untried!(space, tried) === 2);
 * ```
 */
export function gridSampler(): Sampler {
  // A study asks before each trial: its walk goes on from the point it proposed last, where each
  // point it went past is still tried (trials only add points, any worker's; otherwise it starts
  // again from the grid's first point), and what each trial's params hold is read once; the count
  // is gridCount's, kept by the space's JSON.
  let walk: GridWalk | undefined;
  const walkOf = (space: SearchSpace): GridWalk => {
    const key = canonicalJson(space);
    if (walk?.space !== key) {
      const entries = gridEntries(space);
      walk = {
        space: key,
        entries,
        seen: new Map(),
        points: gridPoints(space, entries),
        passed: [],
      };
    }
    return walk;
  };
  const heldBy = (space: SearchSpace, tried: Params[]) => {
    const { entries, seen } = walkOf(space);
    return heldPoints(space, tried, entries, seen);
  };
  /** The first point, in the grid's order, that `held` has not. */
  const firstUntried = (space: SearchSpace, held: Map<string, HeldPoint>): Params | undefined => {
    const current = walkOf(space);
    if (!current.passed.every((key) => held.has(key))) {
      // (a point gone past is no longer tried: the walk starts again)
      current.points = gridPoints(space, current.entries);
      current.passed = [];
      current.at = undefined;
    }
    for (;;) {
      if (current.at === undefined) {
        const next = current.points.next();
        if (next.done) return undefined;
        current.at = { point: next.value, key: canonicalJson(next.value) };
      }
      if (!held.has(current.at.key)) return current.at.point;
      current.passed.push(current.at.key);
      current.at = undefined;
    }
  };
  return {
    name: "grid",
    // (a number: exact up to Number.MAX_SAFE_INTEGER, enough to compare with a budget)
    untried: (space, tried) => Number(untriedOf(space, heldBy(space, tried))),
    sample(space, history, _rng, context = {}) {
      const tried = context.tried ?? history.map((trial) => trial.params);
      const point = firstUntried(space, heldBy(space, tried));
      if (point === undefined) {
        const size = gridCount(space);
        throw new AnnealError(
          "config",
          `Cannot sample a grid point: every one of the grid's ${size} points has a trial`,
          { hint: `ask for at most ${size} trials of the grid, or use the random or tpe sampler` },
        );
      }
      return { ...point };
    },
  };
}
