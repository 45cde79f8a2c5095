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
