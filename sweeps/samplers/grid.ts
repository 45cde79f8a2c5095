/**
 * Grid search: the cartesian product of every parameter's values, in order (the first parameter
 * of the space varies slowest, like nested loops), each trial taking the first point that no
 * trial of the study has yet, whichever sampler drew it (a study switched to the grid after
 * random or TPE trials runs the points those left, each once). Only `grid`, `choice` and `int`
 * distributions have a finite set of values; a continuous one is an error, and so is asking for a
 * point once every one has a trial.
 *
 * @module
 */
import { AnnealError } from "../../errors.ts";
import { canonicalJson, formatPath } from "../../zod_paths.ts";
import type { Distribution, Params, ParamValue, SearchSpace } from "../space.ts";
import type { Sampler } from "./types.ts";

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

/** The number of points of the grid over `space`. */
export function gridSize(space: SearchSpace): number {
  return Object.entries(space).reduce((n, [path, d]) => n * valuesOf(path, d).length, 1);
}

/** The grid's points in order, the space's first path varying slowest. */
function* gridPoints(space: SearchSpace): Generator<Params> {
  const entries = Object.entries(space).map(([path, d]) => [path, valuesOf(path, d)] as const);
  const size = entries.reduce((n, [, values]) => n * values.length, 1);
  for (let index = 0; index < size; index++) {
    const params: Params = {};
    let rest = index;
    for (let i = entries.length - 1; i >= 0; i--) {
      const [path, values] = entries[i];
      params[path] = values[rest % values.length];
      rest = Math.floor(rest / values.length);
    }
    yield Object.fromEntries(entries.map(([path]) => [path, params[path]]));
  }
}

/**
 * The grid's points that no trial in `tried` has (its parameters at every path of the space equal
 * the point's, compared by their JSON with keys sorted, as PostgreSQL gives sections back in its
 * own order), in the grid's order.
 */
export function* untriedPoints(space: SearchSpace, tried: Params[]): Generator<Params> {
  const paths = Object.keys(space);
  const key = (params: Params) => canonicalJson(paths.map((path) => params[path]));
  const done = new Set(
    tried.filter((params) => paths.every((path) => path in params)).map(key),
  );
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
