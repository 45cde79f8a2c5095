/**
 * Label encoding for CSV targets: classification maps the sorted distinct labels to 0..K-1
 * (numeric order when every label is a number, else code-unit order); binary accepts 0/1 or any
 * two labels.
 *
 * @module
 */

import { AnnealError } from "../errors.ts";

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Sorted class names and a function that encodes labels as class indices. */
export interface LabelEncoding {
  classes: string[];
  encode(labels: string[], file: string): Float32Array;
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
  const key = numeric ? (label: string) => String(Number(label)) : (label: string) => label;
  const distinct = [...new Set(labels.map(key))];
  if (numeric) distinct.sort((a, b) => Number(a) - Number(b));
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
        { where: file, hint: "use labels 0/1 or exactly two values, or task 'classification'" },
      );
    }
  }
  const index = new Map(classes.map((name, i) => [name, i]));
  return {
    classes,
    encode(values: string[], source: string): Float32Array {
      const y = new Float32Array(values.length);
      for (let i = 0; i < values.length; i++) {
        const value = values[i];
        const found = index.get(numeric && NUMBER.test(value) ? String(Number(value)) : value);
        if (found === undefined) {
          throw new AnnealError(
            "data",
            `Cannot encode label '${value}': it does not occur in the training data`,
            { where: source, hint: `use one of the training labels: ${classes.join(", ")}` },
          );
        }
        y[i] = found;
      }
      return y;
    },
  };
}
