/**
 * A streaming RFC-4180 record parser: feed it text chunks of any size, get back records with the
 * line they started on. Quoted fields may hold delimiters, doubled quotes and line breaks; LF,
 * CRLF and CR end records; blank lines are skipped.
 *
 * @module
 */

import { AnnealError } from "../errors.ts";

/** One CSV record and the (1-based) line it starts on. */
export interface CsvRecord {
  fields: string[];
  line: number;
}

const QUOTE = 34;
const LF = 10;
const CR = 13;

/**
 * Incremental CSV parser; `push` returns the records completed by a chunk, `end` the last one.
 *
 * @example
 * ```ts
 * import { CsvRecordParser } from "./csv_parse.ts";
 * const parser = new CsvRecordParser("inline.csv");
 * const records = [...parser.push('a,"b,c"\n1,"say ""hi"""\n'), ...parser.end()];
 * console.assert(records[1].fields[1] === 'say "hi"' && records[1].line === 2);
 * ```
 */
export class CsvRecordParser {
  readonly #file: string;
  readonly #delimiter: number;
  #fields: string[] = [];
  #field = "";
  #quoted = false; // the current field began with a quote
  #inQuotes = false;
  #afterQuote = false; // the previous character closed a quoted section
  #skipLf = false; // the previous character was a CR outside quotes
  #line = 1;
  #recordLine = 1;

  /** `file` only names the source in errors; `delimiter` is one character. */
  constructor(file: string, delimiter = ",") {
    this.#file = file;
    this.#delimiter = delimiter.charCodeAt(0);
  }

  /** Parses a chunk; returns the records it completed. */
  push(chunk: string): CsvRecord[] {
    const out: CsvRecord[] = [];
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.#inQuotes) {
        i = this.#readQuoted(chunk, i);
        continue;
      }
      const c = chunk.charCodeAt(i);
      if (this.#skipLf) {
        this.#skipLf = false;
        if (c === LF) {
          i++;
          continue;
        }
      }
      if (this.#afterQuote) {
        this.#afterQuote = false;
        if (c === QUOTE) { // a doubled quote inside a quoted field
          this.#field += '"';
          this.#inQuotes = true;
          i++;
          continue;
        }
        if (c !== this.#delimiter && c !== LF && c !== CR) this.#badAfterQuote(chunk[i]);
      }
      if (c === this.#delimiter) {
        this.#endField();
        i++;
      } else if (c === LF || c === CR) {
        this.#endRecord(out);
        this.#skipLf = c === CR;
        this.#line++;
        this.#recordLine = this.#line;
        i++;
      } else if (c === QUOTE && this.#field === "" && !this.#quoted) {
        this.#quoted = true;
        this.#inQuotes = true;
        i++;
      } else {
        let j = i + 1;
        while (j < n) {
          const d = chunk.charCodeAt(j);
          if (d === this.#delimiter || d === LF || d === CR) break;
          j++;
        }
        this.#field += chunk.slice(i, j);
        i = j;
      }
    }
    return out;
  }

  /** Finishes the input; throws if a quoted field is still open. */
  end(): CsvRecord[] {
    if (this.#inQuotes) {
      throw new AnnealError("data", "Cannot parse CSV: a quoted field is never closed", {
        where: `${this.#file}:${this.#recordLine}`,
        hint: "add the closing quote, and double every quote inside a quoted field",
      });
    }
    const out: CsvRecord[] = [];
    this.#endRecord(out);
    return out;
  }

  #readQuoted(chunk: string, start: number): number {
    const quote = chunk.indexOf('"', start);
    const stop = quote === -1 ? chunk.length : quote;
    const text = chunk.slice(start, stop);
    this.#field += text;
    for (let k = text.indexOf("\n"); k !== -1; k = text.indexOf("\n", k + 1)) this.#line++;
    if (quote === -1) return chunk.length;
    this.#inQuotes = false;
    this.#afterQuote = true;
    return quote + 1;
  }

  #badAfterQuote(character: string): never {
    throw new AnnealError(
      "data",
      `Cannot parse CSV: unexpected character ${JSON.stringify(character)} after a closing quote`,
      {
        where: `${this.#file}:${this.#line}`,
        hint: "quote the whole field, and double every quote inside it",
      },
    );
  }

  #endField(): void {
    this.#fields.push(this.#field);
    this.#field = "";
    this.#quoted = false;
  }

  #endRecord(out: CsvRecord[]): void {
    const blank = this.#fields.length === 0 && this.#field === "" && !this.#quoted;
    if (!blank) {
      this.#endField();
      out.push({ fields: this.#fields, line: this.#recordLine });
    }
    this.#fields = [];
    this.#field = "";
    this.#quoted = false;
  }
}
