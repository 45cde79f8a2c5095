/**
 * Small helpers every parser shares to turn a zod issue into a message: the field path as a
 * user writes it (`optimizer.betas[1]`), the value found there, and that value shown briefly.
 *
 * @module
 */

/**
 * A field path as a user writes it.
 *
 * @example
 * ```ts
 * import { formatPath } from "./zod_paths.ts";
 * console.assert(formatPath(["optimizer", "betas", 1]) === "optimizer.betas[1]");
 * ```
 */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, key) => {
    if (typeof key === "number") return `${text}[${key}]`;
    return text === "" ? String(key) : `${text}.${String(key)}`;
  }, "");
}

/**
 * The value at a path of an input, or undefined when the path does not exist.
 *
 * @example
 * ```ts
 * import { valueAt } from "./zod_paths.ts";
 * console.assert(valueAt({ a: { b: [1, 2] } }, ["a", "b", 1]) === 2);
 * ```
 */
export function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value: unknown = input;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/**
 * A value shown briefly in a message: strings quoted, the rest as JSON.
 *
 * @example
 * ```ts
 * import { showValue } from "./zod_paths.ts";
 * console.assert(showValue("x") === '"x"' && showValue(3) === "3");
 * ```
 */
export function showValue(value: unknown): string {
  if (typeof value === "string") return `"${value}"`;
  if (value === undefined) return "undefined";
  if (typeof value === "number") return String(value);
  return JSON.stringify(value) ?? String(value);
}
