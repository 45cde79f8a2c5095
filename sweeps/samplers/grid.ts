/**
 * Grid search: the cartesian product of every parameter's values, in order (the first parameter
 * of the space varies slowest, like nested loops), trial `index` taking point `index`. Only
 * `grid`, `choice` and `int` distributions have a finite set of values; a continuous one is an
 * error, and so is asking for more points than the grid has.
 *
 * @module
 */
import { AnnealError } from "../../errors.ts";
import { formatPath } from "../../zod_paths.ts";
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

/**
 * The grid sampler; `context.index` (default: the history's length) picks the point.
 *
 * @example
 * ```ts
 * import { gridSampler } from "./grid.ts";
 * import { Rng } from "../../data/rng.ts";
 * const space = {
 *   batchSize: { type: "grid" as const, values: [16, 32] },
 *   "scheduler.name": { type: "grid" as const, values: ["cosine", "step"] },
 * };
 * const third = gridSampler().sample(space, [], new Rng(0), { index: 2 });
 * console.assert(third.batchSize === 32 && third["scheduler.name"] === "cosine");
 * ```
 */
export function gridSampler(): Sampler {
  return {
    name: "grid",
    size: gridSize,
    sample(space, history, _rng, context = {}) {
      const entries = Object.entries(space).map(([path, d]) => [path, valuesOf(path, d)] as const);
      const size = entries.reduce((n, [, values]) => n * values.length, 1);
      const index = context.index ?? history.length;
      if (index >= size) {
        throw new AnnealError(
          "config",
          `Cannot sample grid point ${index}: the grid has only ${size} points`,
          { hint: `ask for at most ${size} trials, or use the random or tpe sampler` },
        );
      }
      const params: Params = {};
      let rest = index;
      for (let i = entries.length - 1; i >= 0; i--) {
        const [path, values] = entries[i];
        params[path] = values[rest % values.length];
        rest = Math.floor(rest / values.length);
      }
      return Object.fromEntries(entries.map(([path]) => [path, params[path]]));
    },
  };
}
