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
 * The parts of a path as {@linkcode formatPath} writes it, and as `--set` takes it: dotted names,
 * a list's index in brackets, and a key that is not a name as a JSON string in brackets
 * (`sweep.space["optimizer.lr"].low`, which anneal's errors print); indices as their digits, as
 * the dotted form `optimizer.betas.1` has them. Undefined for a path that is not written so (an
 * unclosed bracket).
 *
 * @example
 * ```ts
 * import { parsePath } from "./zod_paths.ts";
 * const parts = parsePath('sweep.space["optimizer.lr"].low');
 * console.assert(JSON.stringify(parts) === '["sweep","space","optimizer.lr","low"]');
 * console.assert(JSON.stringify(parsePath("optimizer.betas[1]")) === '["optimizer","betas","1"]');
 * ```
 */
export function parsePath(text: string): string[] | undefined {
  const parts: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === "[") {
      const index = /^\[(\d+)\]/.exec(text.slice(i));
      if (index) {
        parts.push(index[1]);
        i += index[0].length;
      } else {
        // a JSON string: the first closing quote not escaped, then the bracket
        const quoted = /^\[("(?:[^"\\]|\\.)*")\]/.exec(text.slice(i));
        if (!quoted) return undefined;
        try {
          parts.push(JSON.parse(quoted[1]));
        } catch {
          return undefined;
        }
        i += quoted[0].length;
      }
    } else {
      if (text[i] === ".") {
        if (parts.length === 0) return undefined;
        i++;
      } else if (parts.length > 0 && text[i - 1] === "]") return undefined; // ("][" or "]x")
      const name = /^[^.[]*/.exec(text.slice(i))![0];
      parts.push(name);
      i += name.length;
    }
  }
  return parts;
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
  // (a scalar has no keys: as JSON.stringify writes it, without the replacer's call)
  if (typeof value !== "object" || value === null) return JSON.stringify(value);
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

/** Lower case without separators, so `val_loss` and `VALLOSS` read as `valLoss`. */
export const normalized = (name: string): string => name.toLowerCase().replace(/[^a-z0-9]/g, "");

/** Edits between two names: insertions, deletions, substitutions and swaps of neighbours. */
export function editDistance(a: string, b: string): number {
  // rows i - 2, i - 1 and i of the table (optimal string alignment: a swap is one edit)
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        previous[j] + 1,
        row[j - 1] + 1,
        previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        row[j] = Math.min(row[j], before[j - 2] + 1);
      }
    }
    [before, previous] = [previous, row];
  }
  return previous[b.length];
}

/**
 * Whether `wanted` is short name `name` with a slip of the fingers that keeps every letter of it
 * in place: a letter typed twice (`lrr`, `epps`), two neighbours swapped (`rl`, `esp`), or, for
 * two letters or more, one letter more at the end (`lrs`). Another letter in place of one of
 * its (`lt`, `mse` for `mae`) or one left out (`ep`) changes too much of a short name to say it
 * was meant.
 */
function slipOf(wanted: string, name: string): boolean {
  if (wanted.length === name.length) {
    const i = [...wanted].findIndex((letter, k) => letter !== name[k]);
    return i >= 0 && i + 1 < name.length && wanted[i] === name[i + 1] &&
      wanted[i + 1] === name[i] && wanted.slice(i + 2) === name.slice(i + 2);
  }
  if (wanted.length !== name.length + 1) return false;
  if (name.length >= 2 && wanted.startsWith(name)) return true;
  for (let i = 1; i < wanted.length; i++) {
    if (wanted[i] === wanted[i - 1] && wanted.slice(0, i) + wanted.slice(i + 1) === name) {
      return true;
    }
  }
  return false;
}

/**
 * The name a misspelled one most likely meant, if any is close: case and separators are ignored
 * (`val_loss` is `valLoss`), a prefix of 3 or more letters counts as close (`valAcc` for
 * `valAccuracy`), and so does a name of 4 or more letters that the misspelled one starts with
 * (`targetColumn` for `target`, `CosineAnnealingLR` for `cosine`) or one it is the end or middle
 * of, of 4 or more letters (`delta` for `minDelta`); else up to 2 edits (a swap of neighbours is
 * one), fewer for short names: one for 4 and 5 letters, and for 3 letters or fewer only a letter
 * typed twice, two neighbours swapped or one letter more at the end (`lrr` for `lr`; `f1` is not
 * `lr`, nor `mse` `mae`).
 *
 * @example
 * ```ts
 * import { closestName } from "./zod_paths.ts";
 * console.assert(closestName("optimzer", ["optimizer", "epochs"]) === "optimizer");
 * console.assert(closestName("f1", ["lr"]) === undefined);
 * console.assert(closestName("lrr", ["lr", "eps"]) === "lr");
 * console.assert(closestName("delta", ["minDelta", "patience"]) === "minDelta");
 * ```
 */
export function closestName(name: string, candidates: string[]): string | undefined {
  const wanted = normalized(name);
  let best: { name: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const other = normalized(candidate);
    // `valAcc` for `valAccuracy`: a prefix of 3 or more letters counts as close
    const distance = other === wanted ? 0 : (wanted.length >= 3 && other.startsWith(wanted)) ||
        (other.length >= 4 && wanted.startsWith(other))
      ? 1
      : wanted.length >= 4 && other.includes(wanted)
      ? 2
      : editDistance(wanted, other);
    // up to 2 edits, fewer for short names; names of 3 letters or fewer only a slip of the
    // fingers that keeps their letters (`lrr` is `lr`, `f1` is not)
    const allowed = other.length <= 3
      ? (slipOf(wanted, other) ? 1 : 0)
      : Math.min(2, Math.floor(other.length / 3));
    if (distance <= allowed && (!best || distance < best.distance)) {
      best = { name: candidate, distance };
    }
  }
  return best?.name;
}

/** The parts of a zod schema's definition that {@linkcode fieldNames} walks. */
interface SchemaDef {
  type: string;
  shape?: Record<string, { _zod: { def: SchemaDef } }>;
  innerType?: { _zod: { def: SchemaDef } };
  in?: { _zod: { def: SchemaDef } };
  options?: { _zod: { def: SchemaDef } }[];
  /** A discriminated union's discriminator (`kind`, `name`). */
  discriminator?: string;
  element?: { _zod: { def: SchemaDef } };
  valueType?: { _zod: { def: SchemaDef } };
  values?: unknown[];
}

/** A definition without its wrappers (optional, default, a pipe's input, ...). */
function unwrap(def: SchemaDef): SchemaDef {
  while (true) {
    const inner = def.innerType ?? (def.type === "pipe" ? def.in : undefined);
    if (!inner) return def;
    def = inner._zod.def;
  }
}

/** Whether an object schema's literal fields (a union's discriminator) accept `value`'s. */
function literalsMatch(def: SchemaDef, value: unknown): boolean {
  return Object.entries(def.shape ?? {}).every(([key, field]) => {
    const inner = unwrap(field._zod.def);
    if (inner.type !== "literal") return true;
    const given = (value as Record<string, unknown> | null)?.[key];
    return given === undefined || inner.values!.includes(given);
  });
}

/** A union's options that `value`'s literal fields select; all of them when none does. */
function selected(def: SchemaDef, value: unknown): SchemaDef[] {
  const options = def.options!.map((option) => unwrap(option._zod.def));
  const matching = options.filter((option) => literalsMatch(option, value));
  return matching.length > 0 ? matching : options;
}

/**
 * The schema definitions at `path` of `input` (unwrapped; a union on the way is narrowed to the
 * options the input's literal fields select, one at the end is left whole).
 */
function defsAt(
  schema: { _zod: { def: unknown } },
  path: readonly PropertyKey[],
  input: unknown,
): SchemaDef[] {
  const found: SchemaDef[] = [];
  const walk = (def: SchemaDef, depth: number, value: unknown) => {
    def = unwrap(def);
    if (depth === path.length) return void found.push(def);
    if (def.type === "union") {
      for (const option of selected(def, value)) walk(option, depth, value);
      return;
    }
    const key = path[depth];
    const next = (value as Record<PropertyKey, unknown> | null)?.[key];
    if (def.type === "object" && typeof key === "string" && def.shape![key]) {
      walk(def.shape![key]._zod.def, depth + 1, next);
    } else if (def.type === "array" && def.element) walk(def.element._zod.def, depth + 1, next);
    else if (def.type === "record" && def.valueType) walk(def.valueType._zod.def, depth + 1, next);
  };
  walk(schema._zod.def as SchemaDef, 0, input);
  return found;
}

/**
 * The field names an object schema knows at `path` of `input` (for a union, those of the options
 * whose literal fields, such as a `kind` or `name`, accept the input's; all options' when none
 * does), to name the field a misspelled key meant.
 *
 * @example
 * ```ts
 * import { z } from "npm:zod@4.6.7";
 * import { fieldNames } from "./zod_paths.ts";
 * const schema = z.strictObject({ a: z.strictObject({ lr: z.number() }).optional() });
 * console.assert(fieldNames(schema, ["a"], {}).join() === "lr");
 * ```
 */
export function fieldNames(
  schema: { _zod: { def: unknown } },
  path: readonly PropertyKey[],
  input: unknown,
): string[] {
  const names = new Set<string>();
  const value = valueAt(input, path);
  for (const def of defsAt(schema, path, input)) {
    for (const object of def.type === "union" ? selected(def, value) : [def]) {
      if (object.type === "object") {
        for (const name of Object.keys(object.shape!)) names.add(name);
      }
    }
  }
  return [...names];
}

/**
 * Whether the field at `path` of `input` may be left out: it is optional, or has a default.
 *
 * @example
 * ```ts
 * import { z } from "npm:zod@4.6.7";
 * import { optionalAt } from "./zod_paths.ts";
 * const schema = z.strictObject({ a: z.number().default(1), b: z.number() });
 * console.assert(optionalAt(schema, ["a"], {}) && !optionalAt(schema, ["b"], {}));
 * ```
 */
export function optionalAt(
  schema: { _zod: { def: unknown } },
  path: readonly PropertyKey[],
  input: unknown,
): boolean {
  return fieldDefsAt(schema, path, input).some((field) =>
    ["optional", "default", "prefault"].includes(field.type)
  );
}

/**
 * Whether the field at `path` of `input` takes `null` as a value (`z.number().nullable()`), as
 * opposed to being left out.
 *
 * @example
 * ```ts
 * import { z } from "npm:zod@4.6.7";
 * import { nullableAt } from "./zod_paths.ts";
 * const schema = z.strictObject({ a: z.number().nullable().optional(), b: z.number().optional() });
 * console.assert(nullableAt(schema, ["a"], {}) && !nullableAt(schema, ["b"], {}));
 * ```
 */
export function nullableAt(
  schema: { _zod: { def: unknown } },
  path: readonly PropertyKey[],
  input: unknown,
): boolean {
  return fieldDefsAt(schema, path, input).some((start) => {
    for (let field: typeof start | undefined = start; field !== undefined;) {
      if (field.type === "nullable" || field.type === "null") return true;
      field = (field.innerType ?? (field.type === "pipe" ? field.in : undefined))?._zod.def;
    }
    return false;
  });
}

/**
 * The definitions of the field at `path` of `input` in each object `schema` may read its parent
 * as (a union's by the branch `input` selects): none where the path ends in no field name.
 */
function fieldDefsAt(
  schema: { _zod: { def: unknown } },
  path: readonly PropertyKey[],
  input: unknown,
) {
  const key = path[path.length - 1];
  if (typeof key !== "string") return [];
  const parent = path.slice(0, -1);
  const value = valueAt(input, parent);
  return defsAt(schema, parent, input).flatMap((def) =>
    (def.type === "union" ? selected(def, value) : [def]).flatMap((object) => {
      const field = object.type === "object" ? object.shape?.[key]?._zod.def : undefined;
      return field === undefined ? [] : [field];
    })
  );
}

/** One option of a discriminated union: the value of its discriminator, and its fields. */
export interface UnionOption {
  value: unknown;
  fields: string[];
}

/**
 * The discriminated union at `path` of a schema (a section such as `optimizer`, chosen by its
 * `name`): its discriminator and every option, or undefined where there is none.
 *
 * @example
 * ```ts
 * import { z } from "npm:zod@4.6.7";
 * import { unionAt } from "./zod_paths.ts";
 * const schema = z.strictObject({
 *   opt: z.discriminatedUnion("name", [
 *     z.strictObject({ name: z.literal("sgd"), momentum: z.number() }),
 *     z.strictObject({ name: z.literal("adam"), betas: z.number() }),
 *   ]),
 * });
 * const union = unionAt(schema, ["opt"], {});
 * console.assert(union?.key === "name" && union.options[1].fields.join() === "name,betas");
 * ```
 */
export function unionAt(
  schema: { _zod: { def: unknown } },
  path: readonly PropertyKey[],
  input: unknown,
): { key: string; options: UnionOption[] } | undefined {
  const union = defsAt(schema, path, input).find((def) =>
    def.type === "union" && def.discriminator !== undefined
  );
  if (!union) return undefined;
  const key = union.discriminator!;
  const options = union.options!.map((option) => unwrap(option._zod.def)).flatMap((option) => {
    const literal = option.shape?.[key] && unwrap(option.shape[key]._zod.def);
    if (literal?.type !== "literal") return [];
    const fields = Object.keys(option.shape!);
    return literal.values!.map((value) => ({ value, fields }));
  });
  return { key, options };
}
