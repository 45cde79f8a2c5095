/**
 * Reads a CSV source into feature rows and raw targets, streaming: byte chunks go through
 * {@linkcode CsvScanner} and numbers are parsed from the bytes into float32 blocks, so the text is
 * never held (only ~4 bytes per value) and no string is made per numeric field.
 *
 * @module
 */

import { AnnealError } from "../errors.ts";
import { fileError } from "../file_errors.ts";
import { CsvScanner, type CsvSink } from "./csv_parse.ts";
import {
  DROP_EMPTY_TARGETS,
  isMissingMarker,
  looksNumeric,
  MISSING_SETTINGS,
  parseFloat32Bytes,
  parseNumber,
} from "./csv_number.ts";
import {
  CATEGORICAL,
  CategoryColumn,
  columnKinds,
  type CsvFeature,
  encodedFeatures,
  encodeRows,
  NUMERIC,
  sortedCategories,
  TARGET,
  type UnknownCategories,
} from "./csv_columns.ts";
import type { DataWarning } from "./types.ts";
import { counted } from "../number_format.ts";

/** What {@linkcode readCsv} needs to know about the file. */
export interface CsvReadOptions {
  header: boolean;
  delimiter: string;
  /** Column name (needs a header) or zero-based index, negative from the end. */
  target: string | number;
  /** Parse targets as numbers (regression) or keep them as label strings. */
  numericTarget: boolean;
  /** Stop after this many data rows. */
  limit?: number;
  /**
   * The file whose columns this one must have, in its order (a test file: the training file's):
   * features are read by position, so another order would feed them to the wrong weights. Its
   * `categories` are those the categorical columns are encoded with (else this file's own).
   */
  columnsOf?: { file: string; columns: string[]; categories?: Map<number, string[]> };
  /** Columns left out: names (with a header) or indexes, as `target` takes them. */
  drop?: readonly (string | number)[];
  /** String feature columns to one-hot encode, named as `drop`'s. */
  categorical?: readonly (string | number)[];
  /**
   * An empty cell: `error` refuses it; `drop` leaves its row out; `mean` leaves a feature's NaN
   * (every one-hot feature of a categorical column's), for the caller to fill.
   */
  missing?: "error" | "drop" | "mean";
}

/** Rows read from a CSV source. */
export interface CsvTable {
  /** Names of every column (`column0`, ... without a header). */
  columns: string[];
  /** Index of the target column. */
  targetIndex: number;
  n: number;
  /** Features, `n * features.length` values, row-major (NaN: an empty cell, `missing` "mean"). */
  x: Float32Array;
  /** The features of a row, in `x`'s order: the columns' but the target's and dropped ones. */
  features: CsvFeature[];
  /** Each categorical column's categories (sorted; `columnsOf`'s where given), by column index. */
  categories: Map<number, string[]>;
  /** Rows left out for an empty cell (`missing` "drop"). */
  droppedRows: number;
  /** Empty cells of each column `missing` took: in rows left out, or to be filled. */
  emptyCells: { column: string; cells: number }[];
  /** Numeric targets, when `numericTarget`. */
  targets?: Float32Array;
  /** Label strings (trimmed), when not `numericTarget`. */
  labels?: string[];
  /** The line each of `labels` is on (1-based), for errors that name one. */
  labelLines?: number[];
  /** What in the file is likely a mistake, though it reads (a header of numbers). */
  warnings: DataWarning[];
}

/**
 * Whether names that are all numbers read as column names: consecutive whole numbers (pandas'
 * `0,1,2`, years) or 3 or more in steps of one size (wavelengths `400,410,420`), which a row of
 * data seldom is.
 */
function numberedColumns(names: string[]): boolean {
  const values = names.map(Number);
  const step = values[1] - values[0];
  const even = values.every((value, i) =>
    i === 0 || Math.abs(value - values[i - 1] - step) <= 1e-9 * Math.abs(value)
  );
  return even && step !== 0 && (values.length >= 3 || (step === 1 && Number.isInteger(values[0])));
}

/**
 * A first line of numbers read as the header (`data.header` is true): unless they read as
 * column names ({@linkcode numberedColumns}), a data row is most likely lost as names.
 */
function numbersAsHeader(names: string[], where: string): DataWarning | undefined {
  if (!names.every(looksNumeric) || numberedColumns(names)) return undefined;
  return {
    message:
      `data.header is true, and the first line holds only numbers (${names.slice(0, 3).join(", ")}${
        names.length > 3 ? ", ..." : ""
      }): it is read as the column names, and the run trains ` +
      "without it",
    where,
    hint: "if the file has no header row, --set data.header=false (and 'target' an index, -1 " +
      "for the last column); if those are its column names, nothing to do",
  };
}

function resolveTarget(
  target: string | number,
  columns: string[],
  where: string,
  header: boolean,
): number {
  if (typeof target === "string" && !header && !columns.includes(target)) {
    const index = Number(target.trim());
    const inRange = Number.isInteger(index) && index >= -columns.length && index < columns.length;
    throw new AnnealError(
      "data",
      `Cannot read CSV: data.header is false, so the columns have no names, and 'target' is ` +
        `the name ${JSON.stringify(target)}`,
      {
        where,
        hint: inRange
          ? `write the index as a number, "target": ${index}, not the string "${target}"`
          : `set 'target' to the column's index, a number from 0 to ${columns.length - 1} (-1 ` +
            "for the last); or, if the first line names the columns, data.header=true",
      },
    );
  }
  if (typeof target === "string") {
    const index = columns.indexOf(target);
    const last = columns.lastIndexOf(target);
    if (index !== last) {
      // the first would be the target and the others features, by chance of the order
      const places = columns.flatMap((name, i) => name === target ? [i] : []);
      throw new AnnealError(
        "data",
        `Cannot read CSV: ${places.length} columns are named '${target}' (indexes ${
          places.join(", ")
        }), so the target is ambiguous`,
        {
          where,
          hint: `rename the columns so that one is '${target}', or set 'target' to the index ` +
            `of the one meant (e.g. ${places[0]})`,
        },
      );
    }
    if (index !== -1) return index;
    // a first line of numbers is a data row read as the header (data.header defaults to true)
    const numbers = columns.every(looksNumeric);
    throw new AnnealError("data", `Cannot read CSV: no column is named '${target}'`, {
      where,
      hint: numbers
        ? `the first line holds numbers (${columns.slice(0, 3).join(", ")}${
          columns.length > 3 ? ", ..." : ""
        }), not column names: if the file has no header row, set data.header=false and ` +
          `'target' to the column's index (-1 for the last)`
        : `set 'target' to one of ${columns.map((c) => `'${c}'`).join(", ")} or to an index`,
    });
  }
  const index = target < 0 ? columns.length + target : target;
  if (index >= 0 && index < columns.length) return index;
  // a column named as the number (a year, `2022`): `--set data.target=2022` reads it as JSON, a
  // number, where the name was meant
  const named = header ? columns.findIndex((name) => name.trim() === String(target)) : -1;
  throw new AnnealError(
    "data",
    `Cannot read CSV: target column index ${target} is out of range for ${columns.length} columns` +
      (named === -1 ? "" : `, and column ${named} is named '${columns[named]}'`),
    {
      where,
      hint: named === -1
        ? `use an index from 0 to ${columns.length - 1}, or -1 for the last column`
        : `to pick that column by its name, write the name as a string: "target": "${target}" ` +
          `(--set 'data.target="${target}"'), or its index, ${named}`,
    },
  );
}

/**
 * A number `target` that picks one column by index while another column is named as that number
 * (a header `a,2,1` and target `1`, as `--set data.target=1` writes it, JSON's number): the run
 * would train on the indexed column, silently, where the named one may be meant.
 */
function otherNamed(
  target: string | number,
  columns: string[],
  index: number,
  where: string,
): DataWarning | undefined {
  if (typeof target !== "number") return undefined;
  const named = columns.indexOf(String(target));
  if (named === -1 || named === index) return undefined;
  return {
    message: `'target' is the number ${target}, read as a column index: the target is column ` +
      `${index}, '${columns[index]}', and column ${named} is named '${columns[named]}'`,
    where,
    hint:
      `to use the column named '${target}', write the name as a string: "target": "${target}" ` +
      `(--set 'data.target="${target}"'); if column ${index} is meant, nothing to do`,
  };
}

/**
 * Header names the file gives more than one column (the target's is refused apart): a file
 * pasted beside itself, or a join that kept both copies of a column. Each trains as a feature of
 * its own, which a name in `drop` or `categorical` takes every one of.
 */
function namedTwice(columns: string[], where: string): DataWarning | undefined {
  const places = new Map<string, number[]>();
  columns.forEach((name, i) => {
    if (name.trim() !== "") places.set(name, [...places.get(name) ?? [], i]);
  });
  const twice = [...places].filter(([, at]) => at.length > 1);
  if (twice.length === 0) return undefined;
  const listed = twice.slice(0, 3).map(([name, at]) => `'${name}' (columns ${at.join(", ")})`);
  return {
    message: `the header names ${twice.length === 1 ? "a column" : `${twice.length} columns`} ` +
      `more than once: ${listed.join(", ")}${twice.length > 3 ? ", ..." : ""}; each is a feature ` +
      "of its own, and a name in data.drop or data.categorical takes every one",
    where,
    hint: "rename them apart, or drop the copies by index (data.drop: [1]) if they hold the " +
      "same values",
  };
}

/**
 * The `sed` command that removes a trailing `delimiter` (and the blanks after it) from every line
 * that has one, keeping a CR LF line end's CR (`s/,$//` matched no line of a Windows file: the
 * comma is followed by the CR); the delimiter escaped where `sed` reads it as a pattern.
 *
 * @example
 * ```ts
 * import { trailingDelimiterSed } from "./csv.ts";
 * console.assert(trailingDelimiterSed(",", false) === "s/,[ \\t]*$//");
 * console.assert(trailingDelimiterSed(",", true) === "s/,[ \\t]*\\(\\r\\?\\)$/\\1/");
 * console.assert(trailingDelimiterSed("\t", false) === "s/\\t[ \\t]*$//");
 * ```
 */
export function trailingDelimiterSed(delimiter: string, crLineEnds = false): string {
  const pattern = delimiter === "\t" ? "\\t" : delimiter.replace(/[.*[\]^$\\/]/g, "\\$&");
  // (a CR kept where a line has one: the last line of a file may end without its line break)
  return crLineEnds ? `s/${pattern}[ \\t]*\\(\\r\\?\\)$/\\1/` : `s/${pattern}[ \\t]*$//`;
}

/** Delimiters a file may use instead of the configured one, as a hint names them. */
const OTHER_DELIMITERS = [",", ";", "\t", "|"];

/**
 * A first record of one field: a run needs a target and a feature. Most often the file uses
 * another delimiter, so the hint names the one the line holds most of.
 */
function oneColumn(text: string, delimiter: string, where: string): AnnealError {
  const counts = OTHER_DELIMITERS.filter((d) => d !== delimiter)
    .map((d) => ({ d, count: text.split(d).length - 1 }))
    .filter(({ count }) => count > 0)
    .sort((a, b) => b.count - a.count);
  const shown = (d: string) => (d === "\t" ? "\\t" : d);
  return new AnnealError(
    "data",
    `Cannot read CSV: the first line has one field (split on '${shown(delimiter)}'), ` +
      "and a run needs a target and at least one feature column",
    {
      where,
      hint: counts.length > 0
        ? `the line holds '${shown(counts[0].d)}': set data.delimiter to ${
          JSON.stringify(counts[0].d)
        }`
        : `check the delimiter (now '${shown(delimiter)}'), and give the file a feature column`,
    },
  );
}

/**
 * Float32 values in blocks that are never copied while they fill: a table grows by at most one
 * block at a time (doubling one array would need three times the data at its peak).
 */
class FloatBlocks {
  #full: Float32Array<ArrayBuffer>[] = [];
  #current = new Float32Array(1024);
  #used = 0;
  length = 0;
  push(value: number): void {
    if (this.#used === this.#current.length) {
      this.#full.push(this.#current);
      this.#current = new Float32Array(Math.min(this.#current.length * 2, 1 << 20));
      this.#used = 0;
    }
    this.#current[this.#used++] = value;
    this.length++;
  }
  /** Takes back the last `count` values pushed. */
  pop(count: number): void {
    this.length -= count;
    while (count > 0) {
      if (this.#used === 0) {
        this.#current = this.#full.pop()!;
        this.#used = this.#current.length;
      }
      const taken = Math.min(count, this.#used);
      this.#used -= taken;
      count -= taken;
    }
  }
  /** One array of every value; the blocks are released as they are copied. */
  take(): Float32Array {
    const out = new Float32Array(this.length);
    let offset = 0;
    for (let block = this.#full.shift(); block; block = this.#full.shift()) {
      out.set(block, offset);
      offset += block.length;
    }
    out.set(this.#current.subarray(0, this.#used), offset);
    this.#current = new Float32Array(0);
    return out;
  }
}

/** Builds a {@linkcode CsvTable} from a scanner's fields: numbers go straight from bytes to floats. */
class TableBuilder implements CsvSink {
  /** UTF-8 that refuses bytes no UTF-8 text has (a Latin-1 `é`), see {@linkcode #text}. */
  readonly #decoder = new TextDecoder("utf-8", { fatal: true });
  readonly #lenient = new TextDecoder();
  /** The first text field of the current record that is not UTF-8: refused when it ends. */
  #notUtf8: { column: number; byte: number } | undefined;
  readonly #file: string;
  readonly #options: CsvReadOptions;
  readonly #limit: number;
  columns: string[] | undefined;
  targetIndex = -1;
  n = 0;
  readonly x = new FloatBlocks();
  readonly targets = new FloatBlocks();
  readonly labels: string[] = [];
  /** The line of each of `labels`. */
  readonly labelLines: number[] = [];
  readonly warnings: DataWarning[] = [];
  /** The first record's fields, as text (the header, or the row that fixes the column count). */
  #first: string[] = [];
  #column = 0;
  /** The first field of the current record that only {@linkcode parseNumber} can judge. */
  #bad: { column: number; text: string } | undefined;
  /** Each column's part ({@linkcode NUMERIC}, ...), once the first record fixed the columns. */
  #kinds = new Uint8Array(0);
  /** Numeric feature columns: the values `x` takes a row. */
  #numericWidth = 0;
  /** Each categorical column's categories and rows, by column index. */
  readonly categories = new Map<number, CategoryColumn>();
  /** The same, as a list (the end of every record goes through it). */
  #categoryList: CategoryColumn[] = [];
  /** Whether the current record's first field past the columns is blank (a trailing delimiter). */
  #extraBlank = false;
  readonly #missing: "error" | "drop" | "mean";
  /** The first empty cell's column in the current record, -1 for none. */
  #emptyColumn = -1;
  /** Empty cells of each column that `missing` took (rows left out, or cells to fill). */
  #emptyCells: number[] = [];
  /** Rows left out for an empty cell (missing "drop"). */
  droppedRows = 0;
  /**
   * Whether the file's lines end with CR LF (Windows'), as its first chunk says: a `sed` line
   * that a hint gives must keep the CR before the end of the line.
   */
  crLineEnds: boolean | undefined;

  constructor(file: string, options: CsvReadOptions) {
    this.#file = file;
    this.#options = options;
    this.#limit = options.limit ?? Infinity;
    this.#missing = options.missing ?? "error";
  }

  /** Each column's part ({@linkcode NUMERIC}, ...), once the first record fixed the columns. */
  get kinds(): Uint8Array {
    return this.#kinds;
  }

  /** The numeric feature values of a row. */
  get numericWidth(): number {
    return this.#numericWidth;
  }

  /** Empty cells `missing` took, by column name (none: an empty list). */
  emptyCells(): { column: string; cells: number }[] {
    return this.#emptyCells.flatMap((cells, column) =>
      cells > 0 ? [{ column: this.columns![column], cells }] : []
    );
  }

  field(bytes: Uint8Array, start: number, end: number): void {
    const column = this.#column++;
    if (this.columns === undefined) {
      this.#first.push(this.#text(bytes, start, end, column));
    } else if (column >= this.columns.length) {
      // a ragged row: reported when it ends (one blank field more: the line ends with the
      // delimiter, where the header does not)
      if (column === this.columns.length) this.#extraBlank = blank(bytes, start, end);
      return;
    } else {
      const kind = this.#kinds[column];
      if (kind === NUMERIC) this.x.push(this.#number(bytes, start, end, column));
      else if (kind === TARGET) this.#target(bytes, start, end, column);
      else if (kind === CATEGORICAL) {
        const text = this.#category(bytes, start, end);
        if (text === "") this.#empty(column, text);
        this.categories.get(column)!.push(text);
      }
      // (DROPPED: not read)
    }
  }

  /**
   * A category's text, trimmed: a short ASCII one from its char codes (a third of the time a
   * TextDecoder call takes on the categorical columns of a large file), else decoded.
   */
  #category(bytes: Uint8Array, start: number, end: number): string {
    if (end - start <= 32) {
      let text = "";
      for (let i = start; i < end; i++) {
        const byte = bytes[i];
        if (byte >= 0x80) return this.#text(bytes, start, end, this.#column - 1).trim();
        text += String.fromCharCode(byte);
      }
      return text.trim();
    }
    return this.#text(bytes, start, end, this.#column - 1).trim();
  }

  /**
   * A text field as UTF-8. Bytes that are not (a file saved as Latin-1 or Windows-1252) are
   * refused when the record ends, with its line: decoded leniently, `né` and `nè` both read
   * `n\uFFFD`, one class.
   */
  #text(bytes: Uint8Array, start: number, end: number, column: number): string {
    const field = bytes.subarray(start, end);
    try {
      return this.#decoder.decode(field);
    } catch {
      this.#notUtf8 ??= { column, byte: field.find((b) => b >= 0x80) ?? 0 };
      return this.#lenient.decode(field);
    }
  }

  #target(bytes: Uint8Array, start: number, end: number, column: number): void {
    if (this.#options.numericTarget) {
      this.targets.push(this.#number(bytes, start, end, column));
      return;
    }
    const label = this.#text(bytes, start, end, column).trim();
    // a missing label is no class of its own: reported with its line when the record ends (or,
    // with missing "drop", its row left out); R's NA, pandas' NaN and the other markers a numeric
    // cell takes for one are missing labels too, as pandas reads them (they were classes)
    if (label === "" || isMissingMarker(label)) this.#empty(column, label);
    this.labels.push(label);
  }

  /**
   * An empty cell of `column`: marks the row for `missing` "drop", is left to be filled for
   * "mean" (a feature's), and is reported with its line when the record ends otherwise.
   */
  #empty(column: number, text: string): void {
    const missing = this.#missing;
    const fills = missing === "drop" || (missing === "mean" && column !== this.targetIndex);
    if (fills && !this.#trailingDelimiter(column, text)) {
      if (this.#emptyColumn === -1) this.#emptyColumn = column;
      this.#emptyCells[column]++;
    } else this.#bad ??= { column, text };
  }

  record(line: number): boolean {
    const count = this.#column;
    this.#column = 0;
    const where = `${this.#file}:${line}`;
    if (this.#notUtf8) throw this.#notUtf8Error(this.#notUtf8, where);
    if (this.columns === undefined) return this.#firstRecord(line);
    if (count !== this.columns.length) {
      if (count === this.columns.length + 1 && this.#extraBlank) {
        throw this.#trailingDelimiterError(where, false);
      }
      throw new AnnealError(
        "data",
        `Cannot read CSV: expected ${this.columns.length} fields, found ${count}`,
        {
          where,
          hint: "make every row have as many fields as the first; quote fields that contain " +
            `'${this.#options.delimiter}'`,
        },
      );
    }
    // A field that failed the general path fails it again here, now with the record's line.
    if (this.#bad) {
      const { column, text } = this.#bad;
      if (this.#trailingDelimiter(column, text)) throw this.#trailingDelimiterError(where);
      const name = this.columns[column];
      const target = column === this.targetIndex;
      if (target && !this.#options.numericTarget) {
        const marker = text.trim();
        throw new AnnealError(
          "data",
          marker === ""
            ? `Cannot read CSV: the label column '${name}' is empty`
            : `Cannot read CSV: the label column '${name}' holds '${marker}', which marks a ` +
              "missing value",
          {
            where,
            hint: `fill in the row's label, or drop the row (${DROP_EMPTY_TARGETS})` +
              (marker === ""
                ? ""
                : `; if '${marker}' names a class, give it another name (anneal, as pandas, ` +
                  "reads it as no label)"),
          },
        );
      }
      if (this.#kinds[column] === CATEGORICAL) {
        throw new AnnealError(
          "data",
          `Cannot read CSV: the categorical column '${name}' is empty`,
          { where, hint: `fill in the category, or ${MISSING_SETTINGS}` },
        );
      }
      parseNumber(text, where, name, target);
    }
    if (this.#emptyColumn !== -1) {
      this.#emptyColumn = -1;
      if (this.#missing === "drop") {
        this.#forgetRow();
        return true;
      }
    }
    const categories = this.#categoryList;
    for (let i = 0; i < categories.length; i++) categories[i].keep(line);
    if (!this.#options.numericTarget) this.labelLines.push(line);
    this.n++;
    return this.n < this.#limit;
  }

  /** The error for a field that is not UTF-8, at `where`. */
  #notUtf8Error({ column, byte }: { column: number; byte: number }, where: string): AnnealError {
    const name = this.columns?.[column];
    return new AnnealError(
      "data",
      `Cannot read CSV: ${
        name !== undefined
          ? `column '${name}'`
          : this.#options.header
          ? "the header"
          : "the first line"
      } holds the byte 0x${byte.toString(16)}, which is no UTF-8 text: the file is in another ` +
        "encoding (Latin-1, Windows-1252), whose letters would read alike",
      {
        where,
        hint: `convert it to UTF-8 (iconv -f LATIN1 -t UTF-8 '${this.#file}' > data.csv; ` +
          '-f CP1252 for Windows\' encoding), or save it as "CSV UTF-8"',
      },
    );
  }

  /** Leaves the current row out (missing "drop"): its values already read are taken back. */
  #forgetRow(): void {
    this.droppedRows++;
    this.x.pop(this.#numericWidth);
    if (this.#options.numericTarget) this.targets.pop(1);
    else this.labels.pop();
    for (const column of this.#categoryList) column.forget();
  }

  /**
   * Whether an empty `text` in `column` is a trailing delimiter's: the last column, which the
   * header leaves unnamed, as a header line that ends with the delimiter does. (Without a header,
   * an empty last field is as likely a missing value: said as one.)
   */
  #trailingDelimiter(column: number, text: string): boolean {
    const columns = this.columns!;
    return this.#options.header && column === columns.length - 1 && columns[column] === "" &&
      text.trim() === "";
  }

  /**
   * The error for a line that ends with the delimiter: as the header does (`header`: a last
   * column with no name), or where the header does not (one field more than it names).
   */
  #trailingDelimiterError(where: string, header = true): AnnealError {
    const shown = this.#options.delimiter === "\t" ? "\\t" : this.#options.delimiter;
    const count = this.columns!.length;
    return new AnnealError(
      "data",
      header
        ? `Cannot read CSV: the line ends with '${shown}', as the header does: a last column ` +
          "with no name and no value"
        : `Cannot read CSV: the line ends with '${shown}', where the ${
          this.#options.header ? "header" : "first line"
        } does not: ${count + 1} fields, the last one empty, against the ${count} ${
          this.#options.header ? "columns it names" : "fields it has"
        }`,
      {
        where,
        hint: `remove the '${shown}' at the end of ${header ? "every line" : "the lines"} (sed ` +
          `-i '${trailingDelimiterSed(this.#options.delimiter, this.crLineEnds)}' FILE); anneal ` +
          "reads a trailing delimiter as one more column",
      },
    );
  }

  #number(bytes: Uint8Array, start: number, end: number, column: number): number {
    const value = parseFloat32Bytes(bytes, start, end);
    if (value === value) return value;
    const text = this.#text(bytes, start, end, column);
    if (text.trim() === "" || isMissingMarker(text)) {
      this.#empty(column, text);
      return NaN; // (filled, with missing "mean"; else its row is left out or refused)
    }
    try {
      return parseNumber(text, "", "");
    } catch {
      this.#bad ??= { column, text };
      return 0;
    }
  }

  /** Refuses columns other than those of `columnsOf`'s file (names with a header, else count). */
  #checkColumnsOf(line: number): void {
    const expected = this.#options.columnsOf;
    const columns = this.columns!;
    if (expected === undefined) return;
    const same = columns.length === expected.columns.length &&
      (!this.#options.header || columns.every((name, i) => name === expected.columns[i]));
    if (same) return;
    const list = (names: string[]) =>
      names.length > 8
        ? `${names.slice(0, 8).join(", ")}, ... (${names.length})`
        : names.join(", ");
    throw new AnnealError(
      "data",
      this.#options.header
        ? `Cannot read CSV: '${this.#file}' has the columns ${list(columns)}, and ` +
          `'${expected.file}' ${list(expected.columns)}`
        : `Cannot read CSV: '${this.#file}' has ${columns.length} columns, and ` +
          `'${expected.file}' ${expected.columns.length}`,
      {
        where: `${this.#file}:${line}`,
        hint: this.#options.header && [...columns, ...expected.columns].every(looksNumeric)
          ? "the first lines of both hold numbers, not names: if the files have no header row, " +
            "set data.header=false (and 'target' an index, -1 for the last column)"
          : `give it the columns of '${expected.file}', in that order (features are read by ` +
            "position)",
      },
    );
  }

  /** Fixes the columns from the first record, which is data too when there is no header. */
  #firstRecord(line: number): boolean {
    const fields = this.#first;
    this.#first = [];
    const { header, target, delimiter } = this.#options;
    if (fields.length < 2) throw oneColumn(fields[0] ?? "", delimiter, `${this.#file}:${line}`);
    if (!header && !fields.some(looksNumeric)) {
      const names = fields.slice(0, 3).map((f) => JSON.stringify(f.trim())).join(", ");
      throw new AnnealError(
        "data",
        `Cannot read CSV: data.header is false, and the first line holds no number ` +
          `(${names}${fields.length > 3 ? ", ..." : ""}): it reads as column names`,
        {
          where: `${this.#file}:${line}`,
          hint: "if it is the header, set data.header=true (the default) and name the target " +
            "column in 'target'",
        },
      );
    }
    this.columns = header ? fields.map((f) => f.trim()) : fields.map((_, i) => `column${i}`);
    this.#checkColumnsOf(line);
    this.targetIndex = resolveTarget(target, this.columns, `${this.#file}:${line}`, header);
    this.#kinds = columnKinds(
      this.columns,
      this.targetIndex,
      this.#options.drop ?? [],
      this.#options.categorical ?? [],
      header,
      `${this.#file}:${line}`,
    );
    this.#numericWidth = this.#kinds.filter((kind) => kind === NUMERIC).length;
    this.#emptyCells = new Array(this.columns.length).fill(0);
    this.#kinds.forEach((kind, column) => {
      if (kind === CATEGORICAL) this.categories.set(column, new CategoryColumn());
    });
    this.#categoryList = [...this.categories.values()];
    if (header) {
      const numbers = numbersAsHeader(this.columns, `${this.#file}:${line}`);
      if (numbers) this.warnings.push(numbers);
      // (a test file has the training file's columns: said once, for the training file)
      if (!this.#options.columnsOf) {
        const where = `${this.#file}:${line}`;
        const other = otherNamed(target, this.columns, this.targetIndex, where);
        const twice = namedTwice(this.columns, where);
        for (const warning of [other, twice]) if (warning) this.warnings.push(warning);
      }
      return true;
    }
    // text where numbers go, on the first line only: most likely a header with numbers in it
    const texts = fields.filter((field, i) =>
      (this.#kinds[i] === NUMERIC || (i === this.targetIndex && this.#options.numericTarget)) &&
      field.trim() !== "" && !looksNumeric(field)
    );
    if (texts.length > 0) {
      const names = texts.slice(0, 3).map((f) => JSON.stringify(f.trim())).join(", ");
      throw new AnnealError(
        "data",
        `Cannot read CSV: data.header is false, and the first line holds text where numbers go ` +
          `(${names}${texts.length > 3 ? ", ..." : ""}): it reads as column names`,
        {
          where: `${this.#file}:${line}`,
          hint: "if it is the header, set data.header=true (the default) and name the target " +
            "column in 'target'; if it is data, fix those values",
        },
      );
    }
    const encoder = new TextEncoder();
    for (const field of fields) {
      const bytes = encoder.encode(field);
      this.field(bytes, 0, bytes.length);
    }
    return this.record(line);
  }
}

/**
 * Reads a CSV from chunks of bytes (e.g. a file's `readable`) or text. Every malformed input
 * throws an {@linkcode AnnealError} with `where` = `file:line`. Only the parsed numbers are kept
 * (4 bytes each), never the text.
 *
 * @example
 * ```ts
 * import { readCsv } from "./csv.ts";
 * async function* chunks() { yield "a,b,y\n1,2,3\n"; yield "4,5,6\n"; }
 * const table = await readCsv(chunks(), "inline.csv", {
 *   header: true, delimiter: ",", target: "y", numericTarget: true,
 * });
 * console.assert(table.n === 2 && table.x[2] === 4 && table.targets?.[1] === 6);
 * ```
 */
export async function readCsv(
  chunks: AsyncIterable<Uint8Array | string>,
  file: string,
  options: CsvReadOptions,
): Promise<CsvTable> {
  const table = new TableBuilder(file, options);
  const scanner = new CsvScanner(file, options.delimiter, table);
  const encoder = new TextEncoder();
  for await (const chunk of chunks) {
    const bytes = typeof chunk === "string" ? encoder.encode(chunk) : chunk;
    if (table.crLineEnds === undefined && bytes.length > 0) table.crLineEnds = bytes.includes(13);
    scanner.push(bytes);
    if (scanner.stopped) break;
  }
  scanner.end();
  const { columns, n } = table;
  if (columns !== undefined && n === 0 && table.droppedRows > 0) {
    throw new AnnealError(
      "data",
      `Cannot read CSV: every one of its ${table.droppedRows} rows has a missing cell, and ` +
        `data.missing "drop" leaves them all out (${emptyCellsText(table.emptyCells())})`,
      {
        where: file,
        hint: 'set data.missing to "mean" to fill a feature\'s missing cells with its training ' +
          "mean, or leave a column that is mostly missing out with data.drop",
      },
    );
  }
  if (columns === undefined || n === 0) {
    throw new AnnealError(
      "data",
      columns === undefined
        ? "Cannot read CSV: the file is empty"
        : "Cannot read CSV: no data rows",
      {
        where: file,
        hint: "point 'path' at a CSV file with a header row and at least one data row",
      },
    );
  }
  const numeric = table.x.take();
  const kinds = table.kinds;
  const rowNames = rowNumbers(columns, kinds, numeric, table.numericWidth, n);
  if (rowNames) table.warnings.push(rowNames(file));
  const categories = new Map<number, string[]>();
  for (const [column, read] of table.categories) {
    categories.set(
      column,
      options.columnsOf?.categories?.get(column) ??
        sortedCategories(read, columns[column], file),
    );
  }
  const features = encodedFeatures(columns, kinds, categories);
  let x = numeric;
  if (categories.size > 0) {
    const encoded = encodeRows(
      n,
      numeric,
      table.numericWidth,
      features,
      table.categories,
      categories,
      columns,
    );
    x = encoded.x;
    for (const unknown of encoded.unknown) {
      table.warnings.push(unknownCategories(unknown, file, options.columnsOf!.file));
    }
  }
  return {
    columns,
    targetIndex: table.targetIndex,
    n,
    x,
    features,
    categories,
    droppedRows: table.droppedRows,
    emptyCells: table.emptyCells(),
    targets: options.numericTarget ? table.targets.take() : undefined,
    labels: options.numericTarget ? undefined : table.labels,
    labelLines: options.numericTarget ? undefined : table.labelLines,
    warnings: table.warnings,
  };
}

/** Empty cells by column for a message: `'age' 3, 'color' 1`. */
export function emptyCellsText(cells: { column: string; cells: number }[]): string {
  return cells.map(({ column, cells }) => `'${column}' ${cells}`).join(", ");
}

/**
 * A test file's categories its training file lacks: their rows' one-hot features are all 0 (a
 * run does not stop at its end for them), said with the values and the rows that have them.
 */
function unknownCategories(
  { column, values }: UnknownCategories,
  file: string,
  trainingFile: string,
): DataWarning {
  const shown =
    values.slice(0, 3).map(({ value, rows, line }) =>
      `${JSON.stringify(value)} (${counted(rows, "row")}, the first on line ${line})`
    ).join(", ") + (values.length > 3 ? `, and ${values.length - 3} more` : "");
  const them = values.length === 1 ? "it" : "them";
  return {
    message:
      `the categorical column '${column}' of '${file}' has ${
        values.length === 1 ? "a category" : `${values.length} categories`
      } the training file '${trainingFile}' lacks: ${shown}; the test rows of ${them} get ` +
      `all-zero '${column}' features, as no category the model trained on`,
    where: `${file}:${values[0].line}`,
    hint: "the categories are the training file's; if the value is a typo, fix it in the test " +
      "file; if it is a real category, the model can only learn it from training rows that have it",
  };
}

/** The names pandas and R give a first column the header leaves unnamed. */
const UNNAMED = new Set(["", "Unnamed: 0"]);

/**
 * A first column the header leaves unnamed (`""`, or pandas' `Unnamed: 0` once such a file was
 * read and written again) that holds the row numbers, 0, 1, 2, ... or 1, 2, 3, ...: the index
 * pandas' `to_csv` and R's `write.csv` write by default. It is read as a feature, which tells the
 * model where a row was in the file (on sorted rows, its target), so it is a warning.
 */
function rowNumbers(
  columns: string[],
  kinds: Uint8Array,
  x: Float32Array,
  features: number,
  n: number,
): ((file: string) => DataWarning) | undefined {
  // (the first numeric feature, as `x` holds them, is the first column where it is one)
  if (!UNNAMED.has(columns[0]) || kinds[0] !== NUMERIC || n < 3) return undefined;
  const first = x[0];
  if (first !== 0 && first !== 1) return undefined;
  for (let row = 1; row < n; row++) if (x[row * features] !== first + row) return undefined;
  return (file) => ({
    message:
      `the first column has no name in the header${
        columns[0] === "" ? "" : ` ('${columns[0]}')`
      } and holds the row numbers (${first}, ${first + 1}, ${first + 2}, ...), as the index ` +
      "pandas' to_csv and R's write.csv write: it is read as a feature",
    where: file,
    hint: "leave it out with --set 'data.drop=[0]', or write the file without it (pandas: " +
      "df.to_csv(path, index=False); R: write.csv(df, path, row.names = FALSE)); a row's " +
      "number tells the model nothing of it",
  });
}

/** Whether a field's bytes are spaces, tabs and carriage returns only (or none). */
function blank(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const byte = bytes[i];
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d) return false;
  }
  return true;
}

/** Whether bytes start with gzip's magic number (1f 8b), as a `.csv.gz` file does. */
function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * A file's bytes as they were written, gunzipped on the fly when they start with gzip's magic
 * number (as IDX files are read), so that a `.csv.gz` streams as its text.
 */
async function* plainBytes(file: Deno.FsFile, path: string): AsyncGenerator<Uint8Array> {
  const chunks = file.readable[Symbol.asyncIterator]();
  const first = await chunks.next();
  if (first.done) return;
  if (!isGzip(first.value)) {
    yield first.value;
    yield* { [Symbol.asyncIterator]: () => chunks };
    return;
  }
  const compressed = new ReadableStream<BufferSource>({
    start: (controller) => controller.enqueue(first.value),
    pull: async (controller) => {
      const next = await chunks.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel: async () => void await chunks.return?.(),
  });
  try {
    yield* compressed.pipeThrough(new DecompressionStream("gzip"));
  } catch (cause) {
    if (cause instanceof AnnealError) throw cause;
    throw new AnnealError("data", `Cannot gunzip CSV file: ${(cause as Error).message}`, {
      where: path,
      hint: "the gzip stream is damaged or cut short: re-download the file, or test it with " +
        "`gzip -t`",
      cause,
    });
  }
}

/**
 * Refuses a file that is not UTF-8 (or ASCII) text, judged on its first bytes: UTF-16, as Excel's
 * "Unicode Text" and Windows PowerShell write it, or a binary file, whose NUL bytes no text has.
 * Read as UTF-8, their fields would be names full of NULs and numbers that do not parse.
 */
function checkText(bytes: Uint8Array, path: string): void {
  const utf16 = (bytes[0] === 0xff && bytes[1] === 0xfe) ||
    (bytes[0] === 0xfe && bytes[1] === 0xff);
  const nul = bytes.subarray(0, 4096).indexOf(0);
  if (!utf16 && nul === -1) return;
  throw new AnnealError(
    "data",
    utf16
      ? "Cannot read CSV: the file is UTF-16 text (it starts with a UTF-16 byte order mark), and " +
        "anneal reads UTF-8"
      : `Cannot read CSV: the file holds a NUL byte (at byte ${nul}), which no UTF-8 text has: ` +
        "it is UTF-16 text or not text at all",
    {
      where: path,
      hint: `convert it to UTF-8 (iconv -f UTF-16 -t UTF-8 '${path}' > data.csv), or save it ` +
        'as "CSV UTF-8"; a binary file is no CSV',
    },
  );
}

/**
 * Streams a file's bytes (gunzipped when the file is gzip's), wrapping open and read failures in
 * {@linkcode AnnealError}.
 *
 * @example
 * ```ts ignore
 * import { fileChunks } from "./csv.ts";
 * for await (const chunk of fileChunks("data.csv")) console.log(chunk.length);
 * ```
 */
export async function* fileChunks(path: string): AsyncGenerator<Uint8Array> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (cause) {
    // a path Deno grants only to --allow-all (/dev/shm): said so, with the fix
    const special = cause instanceof Deno.errors.NotCapable
      ? fileError(cause, { action: "open the data file", path })
      : undefined;
    if (special) throw special;
    throw new AnnealError("data", `Cannot open data file '${path}': ${(cause as Error).message}`, {
      where: path,
      hint: "check the path (relative paths start at the working directory) and read permission",
      cause,
    });
  }
  try {
    let first = true;
    for await (const chunk of plainBytes(file, path)) {
      if (first) checkText(chunk, path);
      first = false;
      yield chunk;
    }
  } catch (cause) {
    if (cause instanceof AnnealError) throw cause;
    throw new AnnealError("data", `Cannot read data file '${path}': ${(cause as Error).message}`, {
      where: path,
      hint: "check that the path is a readable file",
      cause,
    });
  }
}
