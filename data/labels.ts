/**
 * Label encoding for CSV targets: classification maps the sorted distinct labels to 0..K-1
 * (numeric order when every label is a number, else code-unit order); binary accepts 0/1 or any
 * two labels.
 *
 * @module
 */

import { AnnealError } from "../errors.ts";
import type { DataWarning } from "./types.ts";

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
/** A whole number in digits alone, too long for a float64 to hold every value of. */
const LONG_INTEGER = /^[+-]?\d{16,}$/;

/**
 * A numeric label's class: the number it is (`1`, `1.0` and `01` one class), where a float64
 * holds it; a whole number of 16 digits or more by its digits (ids such as 90000000000000000001
 * and ...02 are one float64, and were one class).
 */
function numericKey(label: string): string {
  return LONG_INTEGER.test(label) ? BigInt(label).toString() : String(Number(label));
}

/** The order of two numeric labels' keys: by value, exactly for long whole numbers. */
function byValue(a: string, b: string): number {
  if (LONG_INTEGER.test(a) || LONG_INTEGER.test(b)) {
    if (/^-?\d+$/.test(a) && /^-?\d+$/.test(b)) {
      const [x, y] = [BigInt(a), BigInt(b)];
      return x < y ? -1 : x > y ? 1 : 0;
    }
  }
  return Number(a) - Number(b);
}

/** A few values, as a message lists them. */
function some(values: string[]): string {
  return `${values.slice(0, 3).join(", ")}${values.length > 3 ? ", ..." : ""}`;
}

/** Whether a label is a number with a fraction (`0.137`, `2.5`; not `3`, `3.0` or `1e3`). */
function fractional(label: string): boolean {
  return NUMBER.test(label) && !Number.isInteger(Number(label));
}

/**
 * The most distinct values a target with fractions may hold and still be read as class names
 * (half-star ratings `0.5` .. `5.0`, codes `1.1`, `2.3`); more are a measured quantity.
 */
export const MAX_FRACTIONAL_CLASSES = 20;

/**
 * What a classifier's training labels say of the target (`column` of `file`): numbers with
 * fractions are refused as a continuous target, of which every value would be a class of its
 * own (the fix is task 'regression'), where they hold more than
 * {@linkcode MAX_FRACTIONAL_CLASSES} distinct values or a value with a fraction only one row has
 * (`2.5` among class ids); a few such values that rows share (half-star ratings) stay classes,
 * with a warning naming task 'regression'. More than 10 classes, most of them of one row, are a
 * warning too, as a quantity or an id has. Whole numbers and names stay classes.
 *
 * @example
 * ```ts
 * import { checkClassLabels } from "./labels.ts";
 * const where = { file: "a.csv", column: "y" };
 * console.assert(checkClassLabels(["0", "1", "2", "1"], where) === undefined);
 * let refused = false;
 * try {
 *   checkClassLabels(["0.137", "2.5", "1.25"], where);
 * } catch {
 *   refused = true;
 * }
 * console.assert(refused);
 * // ratings in half stars, each shared by rows: classes, with a warning
 * console.assert(checkClassLabels(["0.5", "1.5", "0.5", "1.5", "2"], where) !== undefined);
 * ```
 */
export function checkClassLabels(
  labels: string[],
  { file, column }: { file: string; column: string },
): DataWarning | undefined {
  const numeric = labels.every((label) => NUMBER.test(label));
  const rows = new Map<string, number>();
  for (const label of labels) {
    const key = numeric ? numericKey(label) : label;
    rows.set(key, (rows.get(key) ?? 0) + 1);
  }
  const distinct = rows.size;
  const counted = `${distinct} distinct values in ${labels.length} rows`;
  const regression = "to predict the number, --set data.task=regression (the default task)";
  if (numeric && labels.some(fractional)) {
    const fractions = [...new Set(labels.filter(fractional))];
    const once = fractions.some((label) => rows.get(numericKey(label)) === 1);
    if (distinct > MAX_FRACTIONAL_CLASSES || once) {
      throw new AnnealError(
        "data",
        `Cannot train a classifier on '${column}': it holds numbers with fractions ` +
          `(${some(fractions)}; ${counted}), a continuous target, and each value would be a ` +
          "class of its own",
        {
          where: file,
          hint: `${regression}; if the values do name classes, write them as whole numbers or ` +
            "names",
        },
      );
    }
    return {
      message: `data.task is 'classification', and '${column}' holds numbers with fractions ` +
        `(${some(fractions)}; ${counted}): each value is read as a class`,
      where: file,
      hint: `if they name classes (ratings in half steps, codes), nothing to do; ${regression}`,
    };
  }
  // most classes of one row: a quantity, or an id
  const single = [...rows.values()].filter((count) => count === 1).length;
  if (distinct <= 10 || !(single * 2 > distinct)) return undefined;
  return {
    message: `data.task is 'classification', and '${column}' holds ${counted}: most classes ` +
      "have one row, as when the target is a quantity or an id",
    where: file,
    hint: numeric
      ? `${regression}; else check that 'target' names the label column`
      : "check that 'target' names the label column",
  };
}

/** Sorted class names and a function that encodes labels as class indices. */
export interface LabelEncoding {
  classes: string[];
  /** The labels' classes; one not among them is refused at `file:lines[i]` (without: its row). */
  encode(labels: string[], file: string, lines?: number[]): Float32Array;
}

/**
 * Builds the encoding from the training labels.
 *
 * @example
 * ```ts
 * import { labelEncoding } from "./labels.ts";
 * const encoding = labelEncoding(["10", "9", "10"], "classification", "a.csv");
 * console.assert(encoding.classes.join() === "9,10");
 * console.assert(encoding.encode(["10", "9"], "a.csv").join() === "1,0");
 * ```
 */
export function labelEncoding(
  labels: string[],
  task: "classification" | "binary",
  file: string,
): LabelEncoding {
  const numeric = labels.every((label) => NUMBER.test(label));
  const key = numeric ? numericKey : (label: string) => label;
  const distinct = [...new Set(labels.map(key))];
  if (numeric) distinct.sort(byValue);
  else distinct.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let classes = distinct;
  if (task === "binary") {
    if (numeric && distinct.every((label) => label === "0" || label === "1")) {
      classes = ["0", "1"];
    } else if (distinct.length !== 2) {
      throw new AnnealError(
        "data",
        `Cannot encode binary labels: found ${distinct.length} distinct labels ` +
          `(${distinct.slice(0, 5).join(", ")}${distinct.length > 5 ? ", ..." : ""})`,
        {
          where: file,
          hint: numeric && labels.some(fractional)
            ? "numbers with fractions are a continuous target: --set data.task=regression"
            : distinct.length < 2
            // (task 'classification' refuses one class too: no fix to point at)
            ? "check that 'target' is the label column: a classifier needs two classes or more"
            : "use labels 0/1 or exactly two values, or task 'classification'",
        },
      );
    }
  }
  const index = new Map(classes.map((name, i) => [name, i]));
  return {
    classes,
    encode(values: string[], source: string, lines?: number[]): Float32Array {
      const y = new Float32Array(values.length);
      for (let i = 0; i < values.length; i++) {
        const value = values[i];
        const found = index.get(numeric && NUMBER.test(value) ? numericKey(value) : value);
        if (found === undefined) {
          const line = lines?.[i];
          throw new AnnealError(
            "data",
            `Cannot encode label '${value}'${
              line === undefined ? ` (data row ${i + 1})` : ""
            }: it does not occur in the training data`,
            {
              where: line === undefined ? source : `${source}:${line}`,
              hint: `use one of the training labels: ${classes.join(", ")}`,
            },
          );
        }
        y[i] = found;
      }
      return y;
    },
  };
}
