/**
 * Conditional paths of a search space. A distribution with `when` is drawn only in the trials whose
 * values of the paths it names are among those it allows (`"when": { "optimizer.name": "sgd" }`,
 * or a list: `["sgd", "rmsprop"]`; several paths must all hold), as an Optuna objective asks for a
 * parameter only inside an `if`. A trial that does not draw a path has no value for it: its params
 * leave it out, and its config keeps the base's. Conditions name `choice` or `grid` paths only, so
 * that the values a trial may draw for them are known before any trial runs.
 *
 * @module
 */
import { AnnealError } from "../errors.ts";
import { canonicalJson, closestName, formatPath } from "../zod_paths.ts";
import type { Params, ParamValue } from "./space.ts";

/** What of a distribution conditions read: its type, a choice's values and its own condition. */
interface Conditioned {
  type: string;
  values?: unknown[];
  when?: Record<string, unknown>;
}

/** A search space as conditions read it. */
export type ConditionedSpace = Record<string, Conditioned>;

/** The values a condition allows for one path: a list as written, a single value as a list of one. */
export function allowedValues(allowed: unknown): unknown[] {
  return Array.isArray(allowed) ? allowed : [allowed];
}

/** The paths a distribution's condition names. */
export function parentsOf(d: Conditioned): string[] {
  return Object.keys(d.when ?? {});
}

/**
 * Whether a trial draws `path`, given `drawn`: the values it drew for the paths before it in
 * {@linkcode drawOrder} (a path it did not draw is absent, and so fails any condition naming it).
 */
export function isDrawn(space: ConditionedSpace, path: string, drawn: Params): boolean {
  const when = space[path].when;
  if (when === undefined) return true;
  return Object.entries(when).every(([parent, allowed]) =>
    Object.hasOwn(drawn, parent) &&
    allowedValues(allowed).some((value) => canonicalJson(value) === canonicalJson(drawn[parent]))
  );
}

/**
 * The space's paths in the order a trial draws them: the space's own, except that a path comes
 * after every path its condition names. A space whose conditions form a cycle has none (see
 * {@linkcode checkConditions}); its paths in a cycle are left out.
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

/**
 * Every way a trial may draw the paths that conditions name (each a choice or grid), as a
 * trial draws them: a path whose own condition fails has no value. `[{}]` for a space without
 * conditions.
 */
export function conditionCases(space: ConditionedSpace): Params[] {
  const parents = conditionPaths(space);
  let cases: Params[] = [{}];
  for (const path of drawOrder(space)) {
    if (!parents.has(path)) continue;
    const values = (space[path].values ?? []) as ParamValue[];
    cases = cases.flatMap((drawn) =>
      isDrawn(space, path, drawn) ? values.map((value) => ({ ...drawn, [path]: value })) : [drawn]
    );
  }
  return cases;
}

/**
 * The ways a trial that draws `path` may have drawn the paths its condition names, and theirs in
 * turn (each once; `[{}]` for a path without a condition): what a trial config of `path` is to be
 * tried beside.
 */
export function drawingCases(space: ConditionedSpace, path: string): Params[] {
  const ancestors = new Set<string>();
  const visit = (at: string) => {
    for (const parent of parentsOf(space[at])) {
      if (!ancestors.has(parent) && parent in space) {
        ancestors.add(parent);
        visit(parent);
      }
    }
  };
  visit(path);
  const found = new Map<string, Params>();
  for (const drawn of conditionCases(space)) {
    if (!isDrawn(space, path, drawn)) continue;
    const own = Object.fromEntries(Object.entries(drawn).filter(([at]) => ancestors.has(at)));
    found.set(canonicalJson(own), own);
  }
  return [...found.values()];
}

/** A condition in words: `optimizer.name is "sgd"`, `optimizer.name in ["sgd","rmsprop"]`. */
export function conditionText(when: Record<string, unknown>): string {
  return Object.entries(when).map(([parent, allowed]) =>
    Array.isArray(allowed) && allowed.length !== 1
      ? `${parent} in ${canonicalJson(allowed)}`
      : `${parent} is ${canonicalJson(allowedValues(allowed)[0])}`
  ).join(" and ");
}

function refuse(path: string, parent: string | undefined, message: string, hint: string): never {
  const at = parent === undefined ? [path, "when"] : [path, "when", parent];
  throw new AnnealError("config", `Cannot read sweep.space["${path}"]'s condition: ${message}`, {
    where: formatPath(["sweep", "space", ...at]),
    hint,
  });
}

/**
 * Refuses a condition that cannot work: one that names a path the space has not, or one that is
 * not a `choice` or `grid`, or a value that path cannot draw; conditions that form a cycle; and a
 * path whose condition no trial can meet (it names values its parent is never drawn with).
 *
 * @example
 * ```ts
 * import { checkConditions } from "./conditions.ts";
 * const space = {
 *   "optimizer.name": { type: "choice", values: ["sgd", "adam"] },
 *   "optimizer.momentum": { type: "uniform", when: { "optimizer.name": "adamw" } },
 * };
 * let refused = "";
 * try { checkConditions(space); } catch (error) { refused = (error as Error).message; }
 * console.assert(refused.includes('"adamw" is not one of'));
 * ```
 */
export function checkConditions(space: ConditionedSpace): void {
  const paths = Object.keys(space);
  for (const [path, d] of Object.entries(space)) {
    for (const [parent, allowed] of Object.entries(d.when ?? {})) {
      const example = `"when": { "optimizer.name": "sgd" } or "when": { "optimizer.name": ` +
        `["sgd", "rmsprop"] }`;
      if (parent === path) {
        refuse(
          path,
          parent,
          "it names its own path",
          `a condition names another path of the space: ${example}`,
        );
      }
      if (!(parent in space)) {
        const meant = closestName(parent, paths.filter((other) => other !== path));
        refuse(
          path,
          parent,
          `it names '${parent}', which the space has not`,
          `${meant === undefined ? "" : `did you mean '${meant}'? `}a condition names a ` +
            `choice or grid path of the same space (the space's other paths: ${
              paths.filter((other) => other !== path).join(", ") || "none"
            }), e.g. ${example}`,
        );
      }
      const target = space[parent];
      if (target.type !== "choice" && target.type !== "grid") {
        refuse(
          path,
          parent,
          `it names '${parent}', a ${target.type} range: a condition may name only a choice or ` +
            `grid path, whose values a trial draws one of`,
          `make '${parent}' a choice of the values to try ({ "type": "choice", "values": ` +
            `[...] }), or drop it from the condition`,
        );
      }
      const values = target.values ?? [];
      const keys = new Set(values.map((value) => canonicalJson(value)));
      const listed = allowedValues(allowed);
      const shown = values.map((value) => canonicalJson(value)).join(", ");
      if (listed.length === 0) {
        refuse(
          path,
          parent,
          `it allows no value of '${parent}' (an empty list), so no trial would draw it`,
          `list the values of '${parent}' under which to draw '${path}' (of ${shown}), or ` +
            `drop '${path}' from the space`,
        );
      }
      const stranger = listed.find((value) => !keys.has(canonicalJson(value)));
      if (stranger !== undefined) {
        const lists = values.some(Array.isArray)
          ? `; a list is read as the values allowed, so a list value goes inside one: ` +
            `[${canonicalJson(values.find(Array.isArray))}]`
          : "";
        refuse(
          path,
          parent,
          `${canonicalJson(stranger)} is not one of the values of '${parent}' (${shown}), so ` +
            `no trial draws it`,
          `name values of '${parent}' as its ${target.type} lists them, or add ` +
            `${canonicalJson(stranger)} to them${lists}`,
        );
      }
    }
  }
  checkCycles(space);
  const cases = conditionCases(space);
  const order = drawOrder(space);
  for (const path of order) {
    const { when } = space[path];
    if (when === undefined) continue;
    if (cases.some((drawn) => isDrawn(space, path, drawn))) continue;
    refuse(
      path,
      undefined,
      `no trial can meet it (${conditionText(when)}): the conditions of the paths it names ` +
        `never let a trial draw those values together`,
      `allow values of ${Object.keys(when).join(" and ")} that a trial draws together, or ` +
        `drop '${path}' from the space`,
    );
  }
}

/** Refuses conditions that name each other in a ring, naming the ring. */
function checkCycles(space: ConditionedSpace): void {
  const order = new Set(drawOrder(space));
  const left = Object.keys(space).filter((path) => !order.has(path));
  if (left.length === 0) return;
  // follow conditions from a path left out until one repeats: that stretch is the ring
  const walk = [left[0]];
  for (;;) {
    const next = parentsOf(space[walk.at(-1)!]).find((parent) => left.includes(parent))!;
    const at = walk.indexOf(next);
    if (at >= 0) {
      const ring = [...walk.slice(at), next];
      refuse(
        ring[0],
        ring[1],
        `the conditions form a cycle (${
          ring.slice(0, -1).map((at, i) => `${at}'s names ${ring[i + 1]}`).join(", ")
        }), so none of those paths can be drawn first`,
        `drop the condition on one of them: a condition names a path drawn before it, which ` +
          `does not itself depend on the conditioned path`,
      );
    }
    walk.push(next);
  }
}
