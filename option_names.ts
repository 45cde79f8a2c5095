/**
 * The check that an options object of a module function names only options it takes: a
 * misspelt name (`{ budjet: 4 }`, `{ iteration: 50 }`) is refused naming the one likely meant,
 * where it was ignored and the function ran with its default.
 *
 * @module
 */

import { AnnealError } from "./errors.ts";
import { closestName } from "./zod_paths.ts";

/**
 * Throws an {@linkcode AnnealError} (`usage`, `where`: the option) for an option name of
 * `options` that `known` does not hold, or for `options` that is not an object; `what` is what
 * the function does (`Cannot ${what}: ...`). Undefined options pass.
 *
 * @example
 * ```ts
 * import { checkOptionNames } from "./option_names.ts";
 * try {
 *   checkOptionNames({ budjet: 4 }, ["budget", "onTrial"], "tune");
 * } catch (error) {
 *   console.assert((error as Error).message === "Cannot tune: unknown option 'budjet'");
 * }
 * ```
 */
export function checkOptionNames(
  options: unknown,
  known: readonly string[],
  what: string,
): void {
  if (options === undefined) return;
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new AnnealError(
      "usage",
      `Cannot ${what}: its options must be an object, current value is ${
        JSON.stringify(options) ?? String(options)
      }`,
      { where: "options", hint: `pass an object of ${known.join(", ")}, or leave it out` },
    );
  }
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const close = closestName(key, [...known]);
    throw new AnnealError("usage", `Cannot ${what}: unknown option '${key}'`, {
      where: key,
      hint: `${close ? `did you mean '${close}'? ` : ""}its options are ${known.join(", ")}`,
    });
  }
}

/**
 * Throws an {@linkcode AnnealError} (`usage`, `where`) unless `ok`: an argument of a module
 * function that a plain-JS caller gave of the wrong kind (undefined, a number, a string where an
 * object goes), said as `Cannot ${what}: ${where} must be ${expected}, current value is ...`,
 * where the function threw a TypeError from inside.
 *
 * @example
 * ```ts
 * import { checkArgument } from "./option_names.ts";
 * const change: unknown = undefined;
 * try {
 *   checkArgument(typeof change === "object", change, "apply the change", "change", "an object", "pass { path: value }");
 * } catch (error) {
 *   console.assert((error as Error).message.endsWith("current value is undefined"));
 * }
 * ```
 */
export function checkArgument(
  ok: boolean,
  value: unknown,
  what: string,
  where: string,
  expected: string,
  hint: string,
): void {
  if (ok) return;
  let shown: string;
  try {
    shown = JSON.stringify(value) ?? String(value);
  } catch {
    shown = String(value);
  }
  if (shown.length > 80) shown = `${shown.slice(0, 77)}...`;
  throw new AnnealError(
    "usage",
    `Cannot ${what}: ${where} must be ${expected}, current value is ${shown}`,
    { where, hint },
  );
}

/** Whether `value` is an object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
