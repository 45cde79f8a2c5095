/**
 * Small helpers every parser shares to turn a zod issue into a message: the field path as a
 * user writes it (`optimizer.betas[1]`), the value found there, and that value shown briefly;
 * and where two JSON values (two configs, two study definitions) differ, by such paths.
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
    // a key that is not a name (a sweep space's "optimizer.lr") is quoted: space["optimizer.lr"]
    if (typeof key === "string" && !/^[A-Za-z_$][\w$]*$/.test(key)) {
      return `${text}[${JSON.stringify(key)}]`;
    }
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

/** JSON with object keys sorted, so two equal values written in different orders compare equal. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v) =>
      v && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
        : v,
  );
}

/** One place where two JSON values differ: its path ("" for the values themselves), both sides. */
export interface JsonDifference {
  path: string;
  /** The first value there, `undefined` when absent. */
  stored: unknown;
  /** The second value there, `undefined` when absent. */
  given: unknown;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value);

/**
 * Where two JSON values differ, down to the leaves, keys in sorted order: objects key by key,
 * arrays of one length item by item (arrays of different lengths, or every array when
 * `arraysAsLeaves`, differ as a whole).
 *
 * @example
 * ```ts
 * import { jsonDifferences } from "./zod_paths.ts";
 * const [d] = jsonDifferences({ space: { "optimizer.lr": { low: 1 } } }, { space: { "optimizer.lr": { low: 2 } } });
 * console.assert(d.path === 'space["optimizer.lr"].low' && d.stored === 1 && d.given === 2);
 * ```
 */
export function jsonDifferences(
  stored: unknown,
  given: unknown,
  options: { arraysAsLeaves?: boolean } = {},
  path: PropertyKey[] = [],
): JsonDifference[] {
  if (canonicalJson(stored) === canonicalJson(given)) return [];
  if (isRecord(stored) && isRecord(given)) {
    const keys = [...new Set([...Object.keys(stored), ...Object.keys(given)])].sort();
    return keys.flatMap((key) => jsonDifferences(stored[key], given[key], options, [...path, key]));
  }
  if (
    !options.arraysAsLeaves && Array.isArray(stored) && Array.isArray(given) &&
    stored.length === given.length
  ) {
    return stored.flatMap((item, i) => jsonDifferences(item, given[i], options, [...path, i]));
  }
  return [{ path: formatPath(path), stored, given }];
}
