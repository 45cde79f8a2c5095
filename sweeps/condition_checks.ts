/**
 * What is refused of a search space's conditions (`sweeps/conditions.ts`) as the space is read,
 * before any trial runs: each refusal names the entry (`sweep.space["optimizer.momentum"].when
 * ["optimizer.name"]`) and the fix.
 *
 * @module
 */
import { AnnealError } from "../errors.ts";
import { canonicalJson, closestName, formatPath } from "../zod_paths.ts";
import {
  type Alternative,
  alternativesOf,
  alternativeText,
  ancestorsOf,
  type ConditionedSpace,
  conditionOf,
  drawOrder,
  entryTest,
  isExclusion,
  parentsOf,
} from "./conditions.ts";
import { canMeet, MAX_STEPS } from "./condition_cases.ts";

/** How a condition is written, for the hints. */
const EXAMPLE = `"when": { "optimizer.name": "sgd" }, a list of the values allowed ` +
  `({ "optimizer.name": ["sgd", "rmsprop"] }) or of those excluded ({ "optimizer.name": ` +
  `{ "not": ["sgd"] } })`;

function refuse(
  path: string,
  at: (string | number)[],
  message: string,
  hint: string,
): never {
  throw new AnnealError("config", `Cannot read sweep.space["${path}"]'s condition: ${message}`, {
    where: formatPath(["sweep", "space", path, "when", ...at]),
    hint,
  });
}

/**
 * Refuses a condition that cannot work: an empty list of them, or an empty one in a list (one
 * that names no path on its own, `"when": {}`, holds in every trial); one that names a
 * path the space has not, or one that is not a `choice` or `grid`; a value that path cannot draw,
 * an empty list, or values that leave none of the path's; conditions that form a cycle; and a
 * condition (each of a list) that no trial can meet, as it names values its paths are never drawn
 * with together. Where the ways of drawing a condition's paths are too many to go through, it is
 * refused too, saying so.
 *
 * @example
 * ```ts
 * import { checkConditions } from "./condition_checks.ts";
 * const space = {
 *   "optimizer.name": { type: "choice", values: ["sgd", "adam"] },
 *   "optimizer.momentum": { type: "uniform", when: { "optimizer.name": { not: ["adamw"] } } },
 * };
 * let refused = "";
 * try { checkConditions(space); } catch (error) { refused = (error as Error).message; }
 * console.assert(refused.includes('"adamw" is not one of'));
 * ```
 */
export function checkConditions(space: ConditionedSpace): void {
  for (const [path, d] of Object.entries(space)) {
    // (`"when": {}` names no path: every trial meets it, as it does no `when`)
    if (conditionOf(d.when) === undefined) continue;
    const listed = Array.isArray(d.when);
    if (listed && alternativesOf(d.when).length === 0) {
      refuse(
        path,
        [],
        "it is an empty list of conditions, so no trial would draw it",
        `give one condition, ${EXAMPLE}, or a list of them, any one of which draws it ` +
          `([{ "optimizer.name": "sgd" }, { "batchSize": 32 }]); or leave "when" out (or ` +
          `write "when": {}) to draw '${path}' in every trial`,
      );
    }
    alternativesOf(d.when).forEach((alternative, i) => {
      const at = listed ? [i] : [];
      if (listed && Object.keys(alternative).length === 0) {
        refuse(
          path,
          at,
          `its condition [${i}] names no path (an empty condition), so every trial would meet ` +
            `the list`,
          `name the choice or grid paths it draws '${path}' beside, ${EXAMPLE}; or drop that ` +
            `condition from the list; or leave "when" out (or write "when": {}) to draw ` +
            `'${path}' in every trial`,
        );
      }
      for (const [parent, allowed] of Object.entries(alternative)) {
        checkEntry(space, path, [...at, parent], parent, allowed);
      }
    });
  }
  checkCycles(space);
  for (const path of drawOrder(space)) checkMet(space, path);
}

/** Refuses one entry of a condition of `path` that names `parent` (see checkConditions). */
function checkEntry(
  space: ConditionedSpace,
  path: string,
  at: (string | number)[],
  parent: string,
  allowed: unknown,
): void {
  const paths = Object.keys(space);
  if (parent === path) {
    refuse(
      path,
      at,
      "it names its own path",
      `a condition names another path of the space: ${EXAMPLE}`,
    );
  }
  if (!(parent in space)) {
    const others = paths.filter((other) => other !== path);
    const meant = closestName(parent, others);
    refuse(
      path,
      at,
      `it names '${parent}', which the space has not`,
      `${meant === undefined ? "" : `did you mean '${meant}'? `}a condition names a choice or ` +
        `grid path of the same space (the space's other paths: ${others.join(", ") || "none"}), ` +
        `e.g. ${EXAMPLE}`,
    );
  }
  const target = space[parent];
  if (target.type !== "choice" && target.type !== "grid") {
    refuse(
      path,
      at,
      `it names '${parent}', a ${target.type} range: a condition may name only a choice or ` +
        `grid path, whose values a trial draws one of`,
      `make '${parent}' a choice of the values to try ({ "type": "choice", "values": ` +
        `[...] }), or drop it from the condition`,
    );
  }
  const values = target.values ?? [];
  const keys = new Set(values.map((value) => canonicalJson(value)));
  const { values: listed, excludes } = entryTest(allowed);
  const shown = values.map((value) => canonicalJson(value)).join(", ");
  if (listed.length === 0) {
    refuse(
      path,
      at,
      excludes
        ? `it excludes no value of '${parent}' (an empty list), so it says nothing`
        : `it allows no value of '${parent}' (an empty list), so no trial would draw it`,
      excludes
        ? `list the values of '${parent}' under which not to draw '${path}' (of ${shown}), or ` +
          `drop '${parent}' from the condition`
        : `list the values of '${parent}' under which to draw '${path}' (of ${shown}), or ` +
          `drop '${path}' from the space`,
    );
  }
  const stranger = listed.find((value) => !keys.has(canonicalJson(value)));
  if (stranger !== undefined) {
    // a value that reads as a list of values, or as { "not": ... }, goes inside a list
    const literal = values.find((value) => Array.isArray(value) || isExclusion(value));
    const inside = literal === undefined
      ? ""
      : Array.isArray(literal)
      ? `; a list is read as the values allowed, so a list value goes inside one: ` +
        `[${canonicalJson(literal)}]`
      : `; { "not": ... } is read as the values excluded, so a value written so goes inside a ` +
        `list: [${canonicalJson(literal)}]`;
    const exclusion = !excludes && typeof allowed === "object" && allowed !== null &&
        Object.hasOwn(allowed, "not")
      ? `; to exclude values, write { "not": [...] } with no other field`
      : "";
    refuse(
      path,
      at,
      `${canonicalJson(stranger)} is not one of the values of '${parent}' (${shown}), so ` +
        `no trial draws it`,
      `name values of '${parent}' as its ${target.type} lists them, or add ` +
        `${canonicalJson(stranger)} to them${inside}${exclusion}`,
    );
  }
  if (
    excludes && keys.size > 0 &&
    [...keys].every((key) => listed.some((value) => canonicalJson(value) === key))
  ) {
    refuse(
      path,
      at,
      `it excludes every value of '${parent}' (${shown}), so no trial would draw it`,
      `exclude only the values of '${parent}' under which not to draw '${path}', or drop ` +
        `'${path}' from the space`,
    );
  }
}

/** Refuses a condition of `path` (each of a list) that no trial can meet, or too many to check. */
function checkMet(space: ConditionedSpace, path: string): void {
  const { when } = space[path];
  const alternatives = alternativesOf(when);
  alternatives.forEach((alternative: Alternative, i) => {
    const met = canMeet(space, alternative);
    if (met === true) return;
    const at = Array.isArray(when) ? [i] : [];
    const which = Array.isArray(when) ? `its condition [${i}]` : "it";
    const named = Object.keys(alternative);
    if (met === undefined) {
      const depends = [...new Set([...named, ...ancestorsOf(space, named)])];
      refuse(
        path,
        at,
        `${which} (${alternativeText(alternative)}) depends on ${depends.length} paths ` +
          `(${depends.join(", ")}: those it names and those their conditions name in turn), ` +
          `whose ways of being drawn are too many to check that a trial can meet it (more ` +
          `than ${MAX_STEPS})`,
        `draw '${path}' under a condition whose paths carry fewer conditions of their own, or ` +
          `make paths that always go together one choice of whole sections`,
      );
    }
    refuse(
      path,
      at,
      `no trial can meet ${which} (${alternativeText(alternative)}): the conditions of the ` +
        `paths it names never let a trial draw those values together`,
      `allow values of ${named.join(" and ")} that a trial draws together, or ${
        Array.isArray(when) && alternatives.length > 1
          ? "drop that condition from the list"
          : `drop '${path}' from the space`
      }`,
    );
  });
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
      const alternatives = alternativesOf(space[ring[0]].when);
      const index = alternatives.findIndex((alternative) => Object.hasOwn(alternative, ring[1]));
      refuse(
        ring[0],
        [...(Array.isArray(space[ring[0]].when) ? [index] : []), ring[1]],
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
