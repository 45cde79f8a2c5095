/**
 * Reads a CSV source into feature rows and raw targets, streaming: text chunks go through
 * {@linkcode CsvRecordParser} and only the parsed numbers are kept, so a large file is never held
 * as text and as numbers at once.
 *
 * @module
 */

import { AnnealError } from "../errors.ts";
import { CsvRecordParser } from "./csv_parse.ts";

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
}

/** Rows read from a CSV source. */
export interface CsvTable {
  /** Names of every column (`column0`, ... without a header). */
  columns: string[];
  /** Index of the target column. */
  targetIndex: number;
  n: number;
  /** Features, `n * (columns.length - 1)` values, row-major. */
  x: Float32Array;
  /** Numeric targets, when `numericTarget`. */
  targets?: Float32Array;
  /** Label strings (trimmed), when not `numericTarget`. */
  labels?: string[];
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const NON_FINITE = /^[+-]?(nan|inf|infinity)$/i;

/**
 * Parses one CSV field as a finite float32, or throws an error naming file:line and column.
 *
 * @example
 * ```ts
 * import { parseNumber } from "./csv.ts";
 * console.assert(parseNumber(" -1.5e2 ", "a.csv:2", "x0") === -150);
 * ```
 */
export function parseNumber(text: string, where: string, column: string): number {
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
  if (NON_FINITE.test(trimmed)) {
    throw new AnnealError(
      "data",
      `Cannot read CSV: column '${column}' has ${trimmed}, a NaN or infinite value`,
      { where, hint: "replace missing or infinite values (impute them or drop the row)" },
    );
  }
  throw new AnnealError(
    "data",
    `Cannot read CSV: column '${column}' has ${JSON.stringify(text)}, which is not a number`,
    {
      where,
      hint: trimmed === ""
        ? "fill in the empty value or drop the row"
        : "fix the value, or set 'target' to this column with task 'classification' if it is a label",
    },
  );
}

function resolveTarget(target: string | number, columns: string[], where: string): number {
  if (typeof target === "string") {
    const index = columns.indexOf(target);
    if (index !== -1) return index;
    throw new AnnealError("data", `Cannot read CSV: no column is named '${target}'`, {
      where,
      hint: `set 'target' to one of ${columns.map((c) => `'${c}'`).join(", ")} or to an index`,
    });
  }
  const index = target < 0 ? columns.length + target : target;
  if (index >= 0 && index < columns.length) return index;
  throw new AnnealError(
    "data",
    `Cannot read CSV: target column index ${target} is out of range for ${columns.length} columns`,
    { where, hint: `use an index from 0 to ${columns.length - 1}, or -1 for the last column` },
  );
}

/** Grows a Float32Array by doubling, so appends are amortised O(1). */
class FloatBuffer {
  values = new Float32Array(1024);
  length = 0;
  push(value: number): void {
    if (this.length === this.values.length) {
      const bigger = new Float32Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.length++] = value;
  }
  take(): Float32Array {
    return this.values.slice(0, this.length);
  }
}

/**
 * Reads a CSV from text chunks (e.g. a file through `TextDecoderStream`). Every malformed input
 * throws an {@linkcode AnnealError} with `where` = `file:line`.
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
  chunks: AsyncIterable<string>,
  file: string,
  options: CsvReadOptions,
): Promise<CsvTable> {
  const parser = new CsvRecordParser(file, options.delimiter);
  const x = new FloatBuffer();
  const targets = new FloatBuffer();
  const labels: string[] = [];
  let columns: string[] | undefined;
  let targetIndex = -1;
  let n = 0;
  const limit = options.limit ?? Infinity;

  const accept = (fields: string[], line: number): void => {
    const where = `${file}:${line}`;
    if (columns === undefined) {
      columns = options.header ? fields.map((f) => f.trim()) : fields.map((_, i) => `column${i}`);
      targetIndex = resolveTarget(options.target, columns, where);
      if (options.header) return;
    }
    if (fields.length !== columns.length) {
      throw new AnnealError(
        "data",
        `Cannot read CSV: expected ${columns.length} fields, found ${fields.length}`,
        {
          where,
          hint: "make every row have as many fields as the first; quote fields that contain " +
            `'${options.delimiter}'`,
        },
      );
    }
    for (let c = 0; c < fields.length; c++) {
      if (c === targetIndex) {
        if (options.numericTarget) targets.push(parseNumber(fields[c], where, columns[c]));
        else labels.push(fields[c].trim());
      } else {
        x.push(parseNumber(fields[c], where, columns[c]));
      }
    }
    n++;
  };

  outer: for await (const chunk of chunks) {
    for (const record of parser.push(chunk)) {
      accept(record.fields, record.line);
      if (n >= limit) break outer;
    }
  }
  if (n < limit) { for (const record of parser.end()) accept(record.fields, record.line); }

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
  if (columns.length < 2) {
    throw new AnnealError(
      "data",
      "Cannot read CSV: need a target and at least one feature column",
      {
        where: `${file}:1`,
        hint: `check the delimiter (now '${options.delimiter}')`,
      },
    );
  }
  return {
    columns,
    targetIndex,
    n,
    x: x.take(),
    targets: options.numericTarget ? targets.take() : undefined,
    labels: options.numericTarget ? undefined : labels,
  };
}

/**
 * Streams a file's text, wrapping open and read failures in {@linkcode AnnealError}.
 *
 * @example
 * ```ts ignore
 * import { fileChunks } from "./csv.ts";
 * for await (const chunk of fileChunks("data.csv")) console.log(chunk.length);
 * ```
 */
export async function* fileChunks(path: string): AsyncGenerator<string> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (cause) {
    throw new AnnealError("data", `Cannot open data file '${path}': ${(cause as Error).message}`, {
      where: path,
      hint: "check the path (relative paths start at the working directory) and read permission",
      cause,
    });
  }
  try {
    yield* file.readable.pipeThrough(new TextDecoderStream());
  } catch (cause) {
    if (cause instanceof AnnealError) throw cause;
    throw new AnnealError("data", `Cannot read data file '${path}': ${(cause as Error).message}`, {
      where: path,
      hint: "check that the path is a readable file",
      cause,
    });
  }
}
