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
 * @module
 */
import { AnnealError } from "../../errors.ts";
import { canonicalJson, formatPath } from "../../zod_paths.ts";
import type { Distribution, Params, ParamValue, SearchSpace } from "../space.ts";
import type { Sampler } from "./types.ts";
import {
  conditionPaths,
  drawnParams,
  drawOrder,
  inSpaceOrder,
  isDrawn,
  isWholePoint,
} from "../conditions.ts";

/** The values of one parameter of a grid, in the order the grid takes them. */
export function valuesOf(path: string, d: Distribution): ParamValue[] {
  if (d.type === "grid" || d.type === "choice") return d.values;
  if (d.type === "int" && !d.log) {
    const values: number[] = [];
    for (let v = d.low; v <= d.high; v += d.step) values.push(v);
    return values;
  }
  const range = d.type === "int" ? "a log int" : `a ${d.type}`;
  throw new AnnealError("config", `Cannot grid-search '${path}': ${range} range has no grid`, {
    where: formatPath(["sweep", "space", path]),
    hint: `list the values: { "type": "grid", "values": [...] }, or use the random or tpe sampler`,
  });
}

/** Each path of the space with its values, in the order the grid draws them. */
function gridEntries(space: SearchSpace): [string, ParamValue[]][] {
  // (every path's, drawn or not: a range without a grid is refused wherever it is)
  const values = Object.fromEntries(
    Object.entries(space).map(([path, d]) => [path, valuesOf(path, d)]),
  );
  return drawOrder(space).map((path) => [path, values[path]]);
}

/**
 * The number of points of the grid over `space`: of its combinations of values, those that differ
 * in the paths each draws (a conditional path adds its values only where its condition holds).
 */
export function gridSize(space: SearchSpace): number {
  const entries = gridEntries(space);
  const parents = conditionPaths(space);
  const count = (i: number, drawn: Params): number => {
    if (i === entries.length) return 1;
    const [path, values] = entries[i];
    if (!isDrawn(space, path, drawn)) return count(i + 1, drawn);
    // a path no condition names multiplies the rest; one that some names decides what it holds
    if (!parents.has(path)) return values.length * count(i + 1, drawn);
    return values.reduce<number>((n, value) => n + count(i + 1, { ...drawn, [path]: value }), 0);
  };
  return count(0, {});
}

/**
 * The grid's points in order, like nested loops: the space's first path varies slowest, except
 * that a path comes after the paths its condition names, and is left out of the points where the
 * condition fails (so no two points differ in a path they do not draw).
 */
function* gridPoints(space: SearchSpace): Generator<Params> {
  const entries = gridEntries(space);
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
    for (const value of values) yield* from(i + 1, { ...drawn, [path]: value });
  }
  yield* from(0, {});
}

/**
 * The grid's points that no trial in `tried` has (its parameters at every path the point draws
 * equal the point's, compared by their JSON with keys sorted, as PostgreSQL gives sections back in
 * its own order), in the grid's order.
 */
export function* untriedPoints(space: SearchSpace, tried: Params[]): Generator<Params> {
  const key = (params: Params) => canonicalJson(drawnParams(space, params));
  const done = new Set(tried.filter((params) => isWholePoint(space, params)).map(key));
  for (const point of gridPoints(space)) if (!done.has(key(point))) yield point;
}

/**
 * The grid sampler: the first point, in the grid's order, that no trial in `context.tried`
 * (default: the history's) has.
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
  return {
    name: "grid",
    untried(space, tried) {
      let count = 0;
      for (const _ of untriedPoints(space, tried)) count++;
      return count;
    },
    sample(space, history, _rng, context = {}) {
      const tried = context.tried ?? history.map((trial) => trial.params);
      const next = untriedPoints(space, tried).next();
      if (next.done) {
        const size = gridSize(space);
        throw new AnnealError(
          "config",
          `Cannot sample a grid point: every one of the grid's ${size} points has a trial`,
          { hint: `ask for at most ${size} trials of the grid, or use the random or tpe sampler` },
        );
      }
      return next.value;
    },
  };
}
