/**
 * Numbers in CSV fields: {@linkcode parseFloat32Bytes}, the quick path straight from a field's
 * bytes, and {@linkcode parseNumber}, the general path from text with the errors a user sees.
 *
 * @module
 */

import { AnnealError } from "../errors.ts";
import { shellWord } from "../shell_word.ts";

/**
 * The `--set` that leaves `column` out of the features (`data.drop`), as a hint gives it.
 *
 * @example
 * ```ts
 * import { dropFlag } from "./csv_number.ts";
 * console.assert(dropFlag("id") === `--set 'data.drop=["id"]'`);
 * ```
 */
export function dropFlag(column: string): string {
  return `--set ${shellWord(`data.drop=${JSON.stringify([column])}`)}`;
}

/** A hint's words for the settings that take empty feature cells. */
export const MISSING_SETTINGS = 'set data.missing to "drop" (rows with a missing cell are left ' +
  'out) or "mean" (a feature\'s missing cells get its mean over the training split)';
/** A hint's words for the setting that takes rows of an empty target. */
export const DROP_EMPTY_TARGETS = 'data.missing "drop" leaves rows with a missing cell out; no ' +
  "setting fills a target";

/**
 * What a numeric cell may hold for "no value", besides nothing: R's `NA`, pandas' and numpy's
 * `NaN`, SQL's `NULL`, Python's `None`, spreadsheets' `#N/A`, and the `?` of many UCI datasets.
 * `data.missing` takes them as it takes an empty cell, in a label column too, as pandas reads
 * them. (A categorical column's text is a category whatever it says.)
 *
 * @example
 * ```ts
 * import { isMissingMarker } from "./csv_number.ts";
 * console.assert(isMissingMarker(" NA") && isMissingMarker("nan") && isMissingMarker("?"));
 * console.assert(!isMissingMarker("") && !isMissingMarker("inf") && !isMissingMarker("0"));
 * ```
 */
export function isMissingMarker(text: string): boolean {
  return MISSING_MARKERS.has(text.trim());
}
const MISSING_MARKERS = new Set([
  "NA",
  "N/A",
  "n/a",
  "#N/A",
  "<NA>",
  "NaN",
  "nan",
  "NAN",
  "-NaN",
  "-nan",
  "NULL",
  "null",
  "Null",
  "None",
  "?",
]);

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const NON_FINITE = /^[+-]?(nan|inf|infinity)$/i;
/** A number written with a decimal comma or digit groups: `1,5`, `1.234,5`, `1,234.5`, `1 234`. */
const GROUPED = /^[+-]?\d{1,3}([.,\s\u00a0']\d{3})*([.,]\d+)?$|^[+-]?\d+,\d+$/;

/**
 * Whether a field's text reads as a decimal number (finite or not), as a column name seldom does.
 *
 * @example
 * ```ts
 * import { looksNumeric } from "./csv_number.ts";
 * console.assert(looksNumeric(" -1.5e2") && !looksNumeric("price"));
 * ```
 */
export function looksNumeric(text: string): boolean {
  const trimmed = text.trim();
  return NUMBER.test(trimmed) || NON_FINITE.test(trimmed);
}

/**
 * Parses one CSV field as a finite float32, or throws an error naming file:line and column (and,
 * for the `target` column, the task that reads labels).
 *
 * @example
 * ```ts
 * import { parseNumber } from "./csv_number.ts";
 * console.assert(parseNumber(" -1.5e2 ", "a.csv:2", "x0") === -150);
 * ```
 */
export function parseNumber(text: string, where: string, column: string, target = false): number {
  const trimmed = text.trim();
  if (NUMBER.test(trimmed)) {
    const value = Number(trimmed);
    if (Number.isFinite(Math.fround(value))) return value;
    throw new AnnealError(
      "data",
      `Cannot read CSV: column '${column}' has ${trimmed}, which is beyond float32 range`,
      { where, hint: "rescale the column so its values fit in ±3.4e38" },
    );
  }
  if (MISSING_MARKERS.has(trimmed)) {
    throw new AnnealError(
      "data",
      `Cannot read CSV: column '${column}' has ${trimmed}, a missing value${
        target ? ", and it is the target" : ""
      }`,
      {
        where,
        hint: target
          ? `fill in the row's target, or drop the row (${DROP_EMPTY_TARGETS})`
          : `fill in the value or drop the row; or ${MISSING_SETTINGS}`,
      },
    );
  }
  if (NON_FINITE.test(trimmed)) {
    throw new AnnealError(
      "data",
      `Cannot read CSV: column '${column}' has ${trimmed}, a NaN or infinite value`,
      {
        where,
        hint: "replace infinite values (clip them, or drop the row); a missing value, an empty " +
          "cell or NA, NaN, null, ?, is one data.missing can drop or fill",
      },
    );
  }
  if (trimmed === "") {
    throw new AnnealError(
      "data",
      `Cannot read CSV: column '${column}' has an empty cell${
        target ? ", and it is the target" : ""
      }`,
      {
        where,
        hint: target
          ? `fill in the row's target, or drop the row (${DROP_EMPTY_TARGETS})`
          : `fill in the empty value or drop the row; or ${MISSING_SETTINGS}`,
      },
    );
  }
  const encode = `--set ${shellWord(`data.categorical=${JSON.stringify([column])}`)}`;
  const drop = dropFlag(column);
  const label = "if it is the label, set 'target' to it with data.task 'classification'";
  throw new AnnealError(
    "data",
    `Cannot read CSV: column '${column}' has ${JSON.stringify(text)}, which is not a number`,
    {
      where,
      hint: GROUPED.test(trimmed)
        ? `${JSON.stringify(trimmed)} has a decimal comma or thousands separators, and anneal ` +
          "reads plain numbers ('1234.5'): write the file with '.' as the decimal point and no " +
          "separators (a spreadsheet's export settings, pandas' to_csv default), and a " +
          "delimiter that is not part of a number"
        : target
        ? "it is the target, read as a number for task 'regression': set data.task to " +
          "'classification' (or 'binary') if it holds labels, else fix the value"
        : /\p{L}/u.test(trimmed)
        ? `if the column holds categories (strings), one-hot encode it with data.categorical ` +
          `(${encode}); to leave it out, data.drop (${drop}); ${label}; else fix the value`
        : `fix the value; or, if the column holds categories, one-hot encode it (${encode}), ` +
          `leave it out (${drop}), or, ${label}`,
    },
  );
}

/** Powers of ten 10^0 .. 10^308, each the double nearest to it (exact up to 10^22). */
const POWERS_OF_TEN = Float64Array.from({ length: 309 }, (_, i) => Number(`1e${i}`));
/** Relative error bound of {@linkcode parseFloat32Bytes}'s estimate: truncation plus roundings. */
const ESTIMATE_ERROR = 1e-13;

/**
 * The float32 value of a plain ASCII decimal (`-1.5`, `.5`, `3e-7`, spaces around it allowed) in
 * `bytes[start, end)`, equal to `Math.fround(Number(text))`; NaN when the field needs the general
 * path ({@linkcode parseNumber}): other characters, an empty field, or a value this quick path
 * cannot round with certainty. Up to 15 significant digits and exponents within ±22 are exact
 * (Clinger's fast path); longer mantissas are estimated to 1e-13 and accepted only when both
 * ends of that error interval round to the same float32.
 *
 * @example
 * ```ts
 * import { parseFloat32Bytes } from "./csv_number.ts";
 * const bytes = new TextEncoder().encode(" -7.853981852531433105e-01");
 * console.assert(parseFloat32Bytes(bytes, 0, bytes.length) === Math.fround(-0.7853981852531433));
 * console.assert(Number.isNaN(parseFloat32Bytes(bytes, 0, 1)));
 * ```
 */
export function parseFloat32Bytes(bytes: Uint8Array, start: number, end: number): number {
  while (start < end && (bytes[start] === 32 || bytes[start] === 9)) start++;
  while (end > start && (bytes[end - 1] === 32 || bytes[end - 1] === 9)) end--;
  if (start === end) return NaN;
  let i = start;
  const negative = bytes[i] === 45;
  if (negative || bytes[i] === 43) i++;
  let mantissa = 0;
  let digits = 0; // significant digits kept in `mantissa` (at most 15: exact in a double)
  let exponent = 0; // decimal exponent of the kept digits
  let inexact = false; // a non-zero digit was dropped
  const integerStart = i;
  for (; i < end; i++) {
    const digit = bytes[i] - 48;
    if (digit < 0 || digit > 9) break;
    if (digits < 15) {
      mantissa = mantissa * 10 + digit;
      if (mantissa !== 0) digits++;
    } else {
      exponent++;
      if (digit !== 0) inexact = true;
    }
  }
  let seen = i > integerStart;
  if (i < end && bytes[i] === 46) {
    const fractionStart = ++i;
    for (; i < end; i++) {
      const digit = bytes[i] - 48;
      if (digit < 0 || digit > 9) break;
      if (digits < 15) {
        mantissa = mantissa * 10 + digit;
        if (mantissa !== 0) digits++;
        exponent--;
      } else if (digit !== 0) inexact = true;
    }
    seen ||= i > fractionStart;
  }
  if (!seen) return NaN;
  if (i < end) {
    if (bytes[i] !== 101 && bytes[i] !== 69) return NaN;
    if (++i === end) return NaN;
    const negativeExponent = bytes[i] === 45;
    if (negativeExponent || bytes[i] === 43) i++;
    if (i === end) return NaN;
    let written = 0;
    for (; i < end; i++) {
      const digit = bytes[i] - 48;
      if (digit < 0 || digit > 9 || written > 100_000) return NaN;
      written = written * 10 + digit;
    }
    exponent += negativeExponent ? -written : written;
  }
  if (mantissa === 0) return negative ? -0 : 0;
  if (exponent < -308 || exponent > 308) return NaN;
  const power = POWERS_OF_TEN[exponent < 0 ? -exponent : exponent];
  const estimate = exponent < 0 ? mantissa / power : mantissa * power;
  let value = Math.fround(estimate);
  if (
    (inexact || exponent < -22 || exponent > 22) &&
    (value !== Math.fround(estimate * (1 - ESTIMATE_ERROR)) ||
      value !== Math.fround(estimate * (1 + ESTIMATE_ERROR)))
  ) return NaN;
  if (value === Infinity) return NaN;
  if (negative) value = -value;
  return value;
}
