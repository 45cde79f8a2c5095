/**
 * What each column of a CSV file is to a run: a numeric feature, the target, a column left out
 * (`data.drop`) or a string feature one-hot encoded (`data.categorical`), and the encoding of
 * the categorical ones: their categories, and the features they become.
 *
 * @module
 */

import { AnnealError } from "../errors.ts";
import { dropFlag } from "./csv_number.ts";
import { closestName } from "../zod_paths.ts";

/** Categories a `categorical` column may have in the training file: one feature each. */
export const MAX_CATEGORIES = 1000;

/** A column read as a number feature. */
export const NUMERIC = 0;
/** The target column. */
export const TARGET = 1;
/** A column `data.drop` leaves out: its fields are not read. */
export const DROPPED = 2;
/** A string feature column, one-hot encoded. */
export const CATEGORICAL = 3;

/** A column as `target`, `drop` and `categorical` name it. */
export type ColumnRef = string | number;

/** One feature of the encoded rows: a column's number, or one category of a categorical column. */
export interface CsvFeature {
  /** The file's column it comes from, and its name. */
  column: number;
  columnName: string;
  /** The column's name, `name=category` for a one-hot feature. */
  name: string;
  /** The category whose rows hold 1, for a one-hot feature. */
  category?: string;
}

/** A list of names for a message: the first 8, and how many there are past that. */
function listed(names: string[]): string {
  const quoted = names.map((name) => `'${name}'`);
  return quoted.length > 8
    ? `${quoted.slice(0, 8).join(", ")}, ... (${quoted.length} columns)`
    : quoted.join(", ");
}

/**
 * The column indexes one `data.drop` or `data.categorical` entry names: every column of a name
 * (without a header, `column0`, ...), or an index, negative from the end. An unknown name is
 * refused naming the one likely meant; an index out of range, or a name where the file names no
 * columns, too.
 */
function columnsOf(
  ref: ColumnRef,
  field: "drop" | "categorical",
  columns: string[],
  header: boolean,
  where: string,
): number[] {
  if (typeof ref === "number") {
    const index = ref < 0 ? columns.length + ref : ref;
    if (index >= 0 && index < columns.length) return [index];
    throw new AnnealError(
      "data",
      `Cannot read CSV: data.${field} holds the column index ${ref}, out of range for ` +
        `${columns.length} columns`,
      { where, hint: `use an index from 0 to ${columns.length - 1}, or -1 for the last column` },
    );
  }
  const found = columns.flatMap((name, i) => name === ref ? [i] : []);
  if (found.length > 0) return found;
  if (!header) {
    const index = Number(ref.trim());
    const inRange = Number.isInteger(index) && index >= -columns.length &&
      index < columns.length;
    throw new AnnealError(
      "data",
      `Cannot read CSV: data.header is false, so the columns have no names, and data.${field} ` +
        `holds the name ${JSON.stringify(ref)}`,
      {
        where,
        hint: inRange
          ? `write the index as a number, ${index}, not the string "${ref}"`
          : `give the column's index, a number from 0 to ${columns.length - 1} (-1 for the ` +
            "last); or, if the first line names the columns, data.header=true",
      },
    );
  }
  const meant = closestName(ref, columns);
  throw new AnnealError(
    "data",
    `Cannot read CSV: data.${field} names the column '${ref}', which the file does not have`,
    {
      where,
      hint: (meant === undefined ? "" : `did you mean '${meant}'? `) +
        `the columns are ${listed(columns)}`,
    },
  );
}

/**
 * Each column's part in a run ({@linkcode NUMERIC}, {@linkcode TARGET}, {@linkcode DROPPED},
 * {@linkcode CATEGORICAL}), from the resolved target and the `drop` and `categorical` lists.
 * Refuses dropping the target or every feature, encoding the target, and a column in both lists.
 *
 * @example
 * ```ts
 * import { CATEGORICAL, columnKinds, DROPPED, NUMERIC, TARGET } from "./csv_columns.ts";
 * const kinds = columnKinds(["id", "x", "color", "y"], 3, ["id"], ["color"], true, "f.csv:1");
 * console.assert(kinds.join() === [DROPPED, NUMERIC, CATEGORICAL, TARGET].join());
 * ```
 */
export function columnKinds(
  columns: string[],
  targetIndex: number,
  drop: readonly ColumnRef[],
  categorical: readonly ColumnRef[],
  header: boolean,
  where: string,
): Uint8Array<ArrayBuffer> {
  const kinds = new Uint8Array(columns.length); // NUMERIC
  kinds[targetIndex] = TARGET;
  const target = columns[targetIndex];
  for (const ref of drop) {
    for (const index of columnsOf(ref, "drop", columns, header, where)) {
      if (index === targetIndex) {
        throw new AnnealError(
          "data",
          `Cannot read CSV: data.drop holds the target column '${target}' (${JSON.stringify(ref)})`,
          {
            where,
            hint: "leave it out of data.drop: the run learns the target from the other " +
              "columns; to learn another column, set 'target' to it",
          },
        );
      }
      kinds[index] = DROPPED;
    }
  }
  for (const ref of categorical) {
    for (const index of columnsOf(ref, "categorical", columns, header, where)) {
      if (index === targetIndex) {
        throw new AnnealError(
          "data",
          `Cannot read CSV: data.categorical holds the target column '${target}' (${
            JSON.stringify(ref)
          }): a target is no feature to one-hot encode`,
          {
            where,
            hint: "leave it out of data.categorical; a target of labels is read as classes " +
              "with data.task 'classification' (or 'binary')",
          },
        );
      }
      if (kinds[index] === DROPPED) {
        throw new AnnealError(
          "data",
          `Cannot read CSV: column '${columns[index]}' is in both data.drop and ` +
            "data.categorical",
          {
            where,
            hint: "keep it in data.categorical to one-hot encode it, or in data.drop to leave " +
              "it out",
          },
        );
      }
      kinds[index] = CATEGORICAL;
    }
  }
  if (!kinds.some((kind) => kind === NUMERIC || kind === CATEGORICAL)) {
    throw new AnnealError(
      "data",
      `Cannot read CSV: data.drop leaves no feature column: every column but the target ` +
        `'${target}' is dropped`,
      { where, hint: "keep at least one column the model can learn the target from" },
    );
  }
  return kinds;
}

/**
 * One categorical column as it is read: its categories in the order rows first have them, their
 * lines, and each kept row's category (-1: an empty cell, to be filled).
 */
export class CategoryColumn {
  readonly index = new Map<string, number>();
  readonly values: string[] = [];
  /** The line of the first row of each category. */
  readonly lines: number[] = [];
  readonly codes: number[] = [];
  /** The current row brought a category no earlier row had. */
  #added = false;

  /** The current row's category (trimmed); an empty one is -1. */
  push(text: string): void {
    if (text === "") {
      this.codes.push(-1);
      return;
    }
    let code = this.index.get(text);
    if (code === undefined) {
      code = this.values.length;
      this.index.set(text, code);
      this.values.push(text);
      this.#added = true;
    }
    this.codes.push(code);
  }

  /** The current row is kept, and it began on `line`. */
  keep(line: number): void {
    if (this.#added) this.lines.push(line);
    this.#added = false;
  }

  /** The current row is left out: its category, and one it brought, are forgotten. */
  forget(): void {
    this.codes.pop();
    if (this.#added) this.index.delete(this.values.pop()!);
    this.#added = false;
  }
}

/**
 * The sorted categories of a training file's categorical column; more than
 * {@linkcode MAX_CATEGORIES} are refused, saying how many.
 */
export function sortedCategories(column: CategoryColumn, name: string, file: string): string[] {
  const count = column.values.length;
  if (count === 0) {
    throw new AnnealError(
      "data",
      `Cannot read CSV: the categorical column '${name}' is empty in every row, so it has no ` +
        "category to encode",
      {
        where: file,
        hint: `leave it out with ${dropFlag(name)}: a column of no values tells the model nothing`,
      },
    );
  }
  if (count > MAX_CATEGORIES) {
    throw new AnnealError(
      "data",
      `Cannot read CSV: the categorical column '${name}' has ${count} categories, and one-hot ` +
        `encoding takes at most ${MAX_CATEGORIES} (one feature each)`,
      {
        where: file,
        hint: "a column of that many distinct strings is most likely an id or free text: leave " +
          `it out with ${dropFlag(name)}, or group its ` +
          "values into fewer categories in the file",
      },
    );
  }
  return [...column.values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** A test file's categories its training file lacks, by column: the rows that have each. */
export interface UnknownCategories {
  column: string;
  values: { value: string; rows: number; line: number }[];
}

/**
 * The encoded features: each column but the target and the dropped ones in the file's order,
 * a categorical one as one feature per category.
 */
export function encodedFeatures(
  columns: string[],
  kinds: Uint8Array,
  categories: Map<number, string[]>,
): CsvFeature[] {
  return columns.flatMap((name, column): CsvFeature[] => {
    if (kinds[column] === NUMERIC) return [{ column, columnName: name, name }];
    if (kinds[column] !== CATEGORICAL) return [];
    return categories.get(column)!.map((category) => ({
      column,
      columnName: name,
      name: `${name}=${category}`,
      category,
    }));
  });
}

/**
 * Rows of numeric features (`numeric`, `numericWidth` a row, NaN where a cell was empty) and
 * categorical columns' categories as rows of `features`: a numeric value copied, a category
 * one 1 among its column's zeros, an empty category NaN in each of its column's features (to be
 * filled), a category `categories` lacks (a test file's) all zeros, reported in `unknown`.
 */
export function encodeRows(
  n: number,
  numeric: Float32Array,
  numericWidth: number,
  features: CsvFeature[],
  read: Map<number, CategoryColumn>,
  categories: Map<number, string[]>,
  columns: string[],
): { x: Float32Array; unknown: UnknownCategories[] } {
  const width = features.length;
  const x = new Float32Array(n * width);
  const unknown: UnknownCategories[] = [];
  // per categorical column: the position of its first feature, and each read category's offset
  // from it (-1: not a training category)
  const blocks = [...read].map(([column, got]) => {
    const first = features.findIndex((feature) => feature.column === column);
    const known = new Map(categories.get(column)!.map((category, i) => [category, i]));
    const offsets = Int32Array.from(got.values, (value) => known.get(value) ?? -1);
    const size = known.size;
    const missing = got.values.flatMap((value, code) =>
      offsets[code] === -1 ? [{ value, code }] : []
    );
    if (missing.length > 0) {
      const rows = new Map(missing.map(({ code }) => [code, 0]));
      for (const code of got.codes) if (rows.has(code)) rows.set(code, rows.get(code)! + 1);
      unknown.push({
        column: columns[column],
        values: missing.map(({ value, code }) => ({
          value,
          rows: rows.get(code)!,
          line: got.lines[code],
        })),
      });
    }
    return { first, offsets, size, codes: got.codes };
  });
  const numericAt = Int32Array.from(
    features.flatMap((feature, i) => feature.category === undefined ? [i] : []),
  );
  for (let row = 0; row < n; row++) {
    const out = row * width;
    const from = row * numericWidth;
    for (let j = 0; j < numericWidth; j++) x[out + numericAt[j]] = numeric[from + j];
    for (const { first, offsets, size, codes } of blocks) {
      const code = codes[row];
      if (code === -1) x.fill(NaN, out + first, out + first + size);
      else if (offsets[code] !== -1) x[out + first + offsets[code]] = 1;
    }
  }
  return { x, unknown };
}
