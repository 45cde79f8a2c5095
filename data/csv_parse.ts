/**
 * A streaming RFC-4180 scanner over bytes: feed it chunks of UTF-8 of any size, and it hands each
 * field to a sink as a byte range, without making a string of it. Quoted fields may hold
 * delimiters, doubled quotes and line breaks; LF, CRLF and CR end records; blank lines are
 * skipped; a leading UTF-8 byte-order mark is dropped. Delimiters, quotes and line breaks are
 * ASCII, and no byte of a multi-byte UTF-8 character is ASCII, so scanning bytes is exact.
 *
 * @module
 */

import { AnnealError } from "../errors.ts";

/** One CSV record and the (1-based) line it starts on. */
export interface CsvRecord {
  fields: string[];
  line: number;
}

/** Receives what a {@linkcode CsvScanner} finds, as it finds it. */
export interface CsvSink {
  /**
   * The next field of the current record: `bytes[start, end)`, quotes removed and doubled quotes
   * undone. The bytes are only valid during the call.
   */
  field(bytes: Uint8Array, start: number, end: number): void;
  /** The current record, which began on `line`, ended. Return `false` to stop scanning. */
  record(line: number): boolean | void;
}

const QUOTE = 34;
const LF = 10;
const CR = 13;

/**
 * Incremental byte-level CSV scanner; `push` takes a chunk, `end` finishes the input.
 *
 * @example
 * ```ts
 * import { CsvScanner } from "./csv_parse.ts";
 * const widths: number[] = [];
 * const scanner = new CsvScanner("inline.csv", ",", {
 *   field: (_bytes, start, end) => widths.push(end - start),
 *   record: () => {},
 * });
 * scanner.push(new TextEncoder().encode('ab,"c,d"\n'));
 * scanner.end();
 * console.assert(widths.join() === "2,3");
 * ```
 */
export class CsvScanner {
  readonly #file: string;
  readonly #delimiter: number;
  readonly #sink: CsvSink;
  /** The current field's bytes when it is quoted or began in an earlier chunk. */
  #carry = new Uint8Array(256);
  #carryLength = 0;
  /** The current field as a range of the chunk being scanned (-1: none). */
  #sliceStart = -1;
  #sliceEnd = -1;
  #fieldsInRecord = 0;
  #quoted = false; // the current field began with a quote
  #inQuotes = false;
  #afterQuote = false; // the previous byte closed a quoted section
  #skipLf = false; // the previous byte was a CR outside quotes
  #atStart = true;
  #stopped = false;
  #line = 1;
  #recordLine = 1;

  /** `file` only names the source in errors; `delimiter` is one ASCII character. */
  constructor(file: string, delimiter: string, sink: CsvSink) {
    this.#file = file;
    this.#delimiter = delimiter.charCodeAt(0);
    this.#sink = sink;
  }

  /** True once the sink asked to stop; later input is ignored. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Scans a chunk, handing completed fields and records to the sink. */
  push(chunk: Uint8Array): void {
    const n = chunk.length;
    const delimiter = this.#delimiter;
    let i = 0;
    if (this.#atStart && n > 0) {
      this.#atStart = false;
      if (n >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) i = 3;
    }
    while (i < n && !this.#stopped) {
      if (this.#inQuotes) {
        i = this.#readQuoted(chunk, i);
        continue;
      }
      const c = chunk[i];
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
          this.#append(chunk, i, i + 1);
          this.#inQuotes = true;
          i++;
          continue;
        }
        if (c !== delimiter && c !== LF && c !== CR) this.#badAfterQuote(chunk, i);
      }
      if (c === delimiter) {
        this.#endField(chunk);
        i++;
      } else if (c === LF || c === CR) {
        this.#endRecord(chunk);
        this.#skipLf = c === CR;
        this.#line++;
        this.#recordLine = this.#line;
        i++;
      } else if (c === QUOTE && this.#carryLength === 0 && !this.#quoted) {
        this.#quoted = true;
        this.#inQuotes = true;
        i++;
      } else {
        // An unquoted run: up to the next delimiter or line break (quotes inside are literal).
        let j = i + 1;
        while (j < n) {
          const d = chunk[j];
          if (d === delimiter || d === LF || d === CR) break;
          j++;
        }
        if (this.#carryLength === 0) {
          this.#sliceStart = i;
          this.#sliceEnd = j;
        } else this.#append(chunk, i, j);
        i = j;
      }
    }
    // A field still open at the chunk's end continues in the next chunk: keep its bytes.
    if (this.#sliceStart !== -1) {
      this.#append(chunk, this.#sliceStart, this.#sliceEnd);
      this.#sliceStart = -1;
    }
  }

  /** Finishes the input; throws if a quoted field is still open. */
  end(): void {
    if (this.#stopped) return;
    if (this.#inQuotes) {
      throw new AnnealError("data", "Cannot parse CSV: a quoted field is never closed", {
        where: `${this.#file}:${this.#recordLine}`,
        hint: "add the closing quote, and double every quote inside a quoted field",
      });
    }
    this.#endRecord(this.#carry);
  }

  #append(bytes: Uint8Array, start: number, end: number): void {
    const needed = this.#carryLength + end - start;
    if (needed > this.#carry.length) {
      const bigger = new Uint8Array(Math.max(needed, this.#carry.length * 2));
      bigger.set(this.#carry.subarray(0, this.#carryLength));
      this.#carry = bigger;
    }
    this.#carry.set(bytes.subarray(start, end), this.#carryLength);
    this.#carryLength = needed;
  }

  #readQuoted(chunk: Uint8Array, start: number): number {
    const quote = chunk.indexOf(QUOTE, start);
    const stop = quote === -1 ? chunk.length : quote;
    this.#append(chunk, start, stop);
    for (let k = chunk.indexOf(LF, start); k !== -1 && k < stop; k = chunk.indexOf(LF, k + 1)) {
      this.#line++;
    }
    if (quote === -1) return chunk.length;
    this.#inQuotes = false;
    this.#afterQuote = true;
    return quote + 1;
  }

  #badAfterQuote(chunk: Uint8Array, at: number): never {
    const text = new TextDecoder().decode(chunk.subarray(at, Math.min(at + 4, chunk.length)));
    const character = String.fromCodePoint(text.codePointAt(0)!);
    throw new AnnealError(
      "data",
      `Cannot parse CSV: unexpected character ${JSON.stringify(character)} after a closing quote`,
      {
        where: `${this.#file}:${this.#line}`,
        hint: "quote the whole field, and double every quote inside it",
      },
    );
  }

  #endField(chunk: Uint8Array): void {
    if (this.#sliceStart !== -1) {
      this.#sink.field(chunk, this.#sliceStart, this.#sliceEnd);
      this.#sliceStart = -1;
    } else {
      this.#sink.field(this.#carry, 0, this.#carryLength);
      this.#carryLength = 0;
    }
    this.#quoted = false;
    this.#fieldsInRecord++;
  }

  #endRecord(chunk: Uint8Array): void {
    const blank = this.#fieldsInRecord === 0 && this.#sliceStart === -1 &&
      this.#carryLength === 0 && !this.#quoted;
    if (blank) return;
    this.#endField(chunk);
    this.#fieldsInRecord = 0;
    if (this.#sink.record(this.#recordLine) === false) this.#stopped = true;
  }
}

/**
 * Incremental CSV parser that returns whole records of strings (for small inputs and tests;
 * `readCsv` uses {@linkcode CsvScanner} directly and never makes strings of numbers).
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
  readonly #scanner: CsvScanner;
  readonly #encoder = new TextEncoder();
  #fields: string[] = [];
  #out: CsvRecord[] = [];

  /** `file` only names the source in errors; `delimiter` is one character. */
  constructor(file: string, delimiter = ",") {
    const decoder = new TextDecoder();
    this.#scanner = new CsvScanner(file, delimiter, {
      field: (bytes, start, end) => this.#fields.push(decoder.decode(bytes.subarray(start, end))),
      record: (line) => {
        this.#out.push({ fields: this.#fields, line });
        this.#fields = [];
      },
    });
  }

  /** Parses a chunk; returns the records it completed. */
  push(chunk: string | Uint8Array): CsvRecord[] {
    this.#scanner.push(typeof chunk === "string" ? this.#encoder.encode(chunk) : chunk);
    return this.#take();
  }

  /** Finishes the input; throws if a quoted field is still open. */
  end(): CsvRecord[] {
    this.#scanner.end();
    return this.#take();
  }

  #take(): CsvRecord[] {
    const out = this.#out;
    this.#out = [];
    return out;
  }
}
