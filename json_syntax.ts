/**
 * JSON a user wrote (a config file, a `--scheduler` flag) parsed with errors that say where
 * (line and column, and the line itself) and what is wrong there in words a user knows: a
 * trailing comma, a comment, single quotes, a missing comma, an empty file, a cut-off end.
 *
 * @module
 */

import { AnnealError } from "./errors.ts";
import { formatPath } from "./zod_paths.ts";

/** Where and why `JSON.parse` refused a text. */
export interface JsonSyntax {
  /** 1-based line and column of the fault, when the parser names a position. */
  line?: number;
  column?: number;
  /** The line the fault is on, shortened around it. */
  excerpt?: string;
  /** What is wrong there: `a trailing comma before '}'`. */
  reason: string;
  /** How to fix it. */
  hint: string;
}

/** The 1-based line and column of offset `at` in `text`. */
function lineColumn(text: string, at: number): { line: number; column: number } {
  const before = text.slice(0, at).split("\n");
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

/** A key an object of the text has twice: its path, and the offsets of both. */
export interface DuplicateKey {
  /** The path of the key, as {@linkcode formatPath} takes it: `["optimizer", "lr"]`. */
  path: (string | number)[];
  /** Offsets of the key's first and second (opening quote). */
  first: number;
  second: number;
}

/**
 * Reads `text` by a small scanner of JSON's grammar. `fault`: the offset of the first character
 * where it stops being JSON, for the faults that `JSON.parse`'s message names by the character
 * alone, with no position (`Unexpected token '/', ... is not valid JSON`: a comment where a value
 * or the text starts, a trailing comma in a list, NaN, a bare word). `duplicate`: the first key an
 * object holds twice (which `JSON.parse` takes silently, the last one winning), with the scan
 * stopped there, where `duplicates` asks for it. Neither where the scanner finds none.
 */
function scan(text: string, duplicates: boolean): { fault?: number; duplicate?: DuplicateKey } {
  let i = 0;
  let duplicate: DuplicateKey | undefined;
  const path: (string | number)[] = [];
  const space = () => {
    while (i < text.length && " \t\n\r".includes(text[i])) i++;
  };
  // each returns false at the fault (or the duplicate key), with `i` on it
  const string = (): boolean => {
    for (i++; i < text.length; i++) {
      if (text[i] === '"') return i++, true;
      if (text[i] === "\\") i++;
      else if (text.charCodeAt(i) < 0x20) return false;
    }
    return false;
  };
  const number = (): boolean => {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!match) return false;
    i += match[0].length;
    return true;
  };
  const value = (): boolean => {
    space();
    const c = text[i];
    if (c === "{" || c === "[") {
      const close = c === "{" ? "}" : "]";
      // (an object's keys, each at the offset it was first written at)
      const keys = new Map<string, number>();
      i++;
      space();
      if (text[i] === close) return i++, true;
      for (let index = 0;; index++) {
        if (c === "{") {
          space();
          const start = i;
          if (text[i] !== '"' || !string()) return false;
          const key = JSON.parse(text.slice(start, i)) as string;
          const first = keys.get(key);
          if (duplicates && first !== undefined) {
            duplicate = { path: [...path, key], first, second: start };
            i = start;
            return false;
          }
          keys.set(key, start);
          path.push(key);
          space();
          if (text[i] !== ":") return false;
          i++;
        } else path.push(index);
        if (!value()) return false;
        path.pop();
        space();
        if (text[i] === close) return i++, true;
        if (text[i] !== ",") return false;
        i++;
        space();
      }
    }
    if (c === '"') return string();
    for (const word of ["true", "false", "null"]) {
      if (text.startsWith(word, i)) return i += word.length, true;
    }
    return number();
  };
  try {
    if (!value()) return duplicate ? { duplicate } : { fault: i };
  } catch (error) {
    // (lists nested deeper than the stack: no place to name)
    if (error instanceof RangeError) return {};
    throw error;
  }
  space();
  return i < text.length ? { fault: i } : {};
}

/**
 * The first key an object of `text` (JSON that `JSON.parse` reads) holds twice, or `undefined`.
 *
 * @example
 * ```ts
 * import { duplicateKey } from "./json_syntax.ts";
 * const found = duplicateKey('{"optimizer": {"lr": 0.1, "lr": 0.2}}');
 * console.assert(found?.path.join(".") === "optimizer.lr" && found.second === 26);
 * ```
 */
export function duplicateKey(text: string): DuplicateKey | undefined {
  return scan(text, true).duplicate;
}

/** What is wrong at offset `at` (the parser's position), and how to fix it. */
function fault(text: string, at: number, message: string): { reason: string; hint: string } {
  const here = text[at] ?? "";
  const previous = text.slice(0, at).trimEnd().at(-1);
  if (text.trim() === "") {
    return { reason: "it is empty", hint: 'write a JSON object, like {"epochs": 5}' };
  }
  if (at >= text.length || /end of JSON input/.test(message)) {
    return {
      reason: "it ends before the JSON does",
      hint: "close every '{' and '[' it opens (a '}' or ']' is missing at the end)",
    };
  }
  if (here === "/" && (text[at + 1] === "/" || text[at + 1] === "*")) {
    return { reason: "a comment", hint: "remove the comment: JSON has no comments" };
  }
  if ((here === "}" || here === "]") && previous === ",") {
    return {
      reason: `a trailing comma before '${here}'`,
      hint: "remove the comma after the last entry: JSON allows none there",
    };
  }
  if (here === "'") {
    return { reason: "a single-quoted string", hint: "write strings and names in double quotes" };
  }
  const word = /^(-?Infinity|NaN)\b/.exec(text.slice(at))?.[1];
  if (word !== undefined) {
    return {
      reason: `${word}, which JSON has no value for`,
      hint: "write a finite number (anneal refuses NaN and infinite settings)",
    };
  }
  if (/after (property value|array element)/.test(message)) {
    return {
      reason: "a missing comma",
      hint: "put a comma between two entries (at the end of the line before, if it ends one)",
    };
  }
  if (/property name/.test(message) && /[A-Za-z_$]/.test(here)) {
    return { reason: "a name without double quotes", hint: 'quote every name: "epochs": 5' };
  }
  if (/non-whitespace character after JSON/.test(message)) {
    return {
      reason: "more text after the JSON value",
      hint: "keep one JSON object: merge the two, or remove what follows the first",
    };
  }
  return { reason: "not JSON here", hint: "fix the JSON syntax (no comments, no trailing commas)" };
}

/**
 * Where and why `JSON.parse(text)` failed with `error` (see {@linkcode JsonSyntax}).
 *
 * @example
 * ```ts
 * import { jsonSyntax } from "./json_syntax.ts";
 * const text = '{\n  "epochs": 3,\n}';
 * try {
 *   JSON.parse(text);
 * } catch (error) {
 *   const syntax = jsonSyntax(text, error as SyntaxError);
 *   console.assert(syntax.line === 3 && syntax.reason === "a trailing comma before '}'");
 * }
 * ```
 */
export function jsonSyntax(text: string, error: SyntaxError): JsonSyntax {
  const position = error.message.match(/at position (\d+)/);
  const at = position
    ? Number(position[1])
    : /end of JSON input/.test(error.message)
    ? text.length
    : scan(text, false).fault;
  const { reason, hint } = fault(text, at ?? -1, error.message);
  if (at === undefined || text.trim() === "") return { reason, hint };
  const { line, column } = lineColumn(text, Math.min(at, text.length));
  const source = text.split("\n")[line - 1] ?? "";
  const from = Math.max(0, column - 40);
  const excerpt = `${from > 0 ? "..." : ""}${source.slice(from, column + 20).trim()}${
    source.length > column + 20 ? "..." : ""
  }`;
  return { line, column, excerpt: excerpt === "" ? undefined : excerpt, reason, hint };
}

/** A number of a JSON text that float64 cannot hold: its text, and what `JSON.parse` made of it. */
export interface OutOfRangeNumber {
  /** The path of the number, as {@linkcode formatPath} takes it (`[]`: the text is the number). */
  path: (string | number)[];
  /** The number as written: `1e-400`. */
  source: string;
  /** What it reads as: 0 (below float64's smallest), or ±Infinity (above its largest). */
  value: number;
}

/** Text that may hold a number beyond float64: an exponent of 3 digits or more, or 300 digits. */
const HUGE_OR_TINY = /[eE][+-]?0*\d{3}|\d{300}/;

/**
 * The first number in JSON `text` (valid JSON) that float64 cannot hold: one that reads as
 * ±Infinity (`1e400`), or as 0 though it is not zero (`1e-400`): `JSON.parse` takes either
 * silently, and a learning rate of 1e-400 was refused as "0". Texts with no such literal
 * (most) are not parsed again.
 *
 * @example
 * ```ts
 * import { outOfRangeNumber } from "./json_syntax.ts";
 * const found = outOfRangeNumber('{"optimizer": {"lr": 1e-400}}');
 * console.assert(found?.value === 0 && found.path.join(".") === "optimizer.lr");
 * console.assert(outOfRangeNumber('{"lr": 0e999, "x": 5e-324}') === undefined);
 * ```
 */
export function outOfRangeNumber(text: string): OutOfRangeNumber | undefined {
  if (!HUGE_OR_TINY.test(text)) return undefined;
  const marks = new Map<object, { source: string; value: number }>();
  const parsed = JSON.parse(text, (_key, value, context?: { source?: string }) => {
    if (typeof value !== "number" || context?.source === undefined) return value;
    // (a zero as written has no nonzero digit before its exponent: 0, -0.000, 0e-999)
    const zero = !/[1-9]/.test(context.source.replace(/[eE].*$/, ""));
    if (Number.isFinite(value) && (value !== 0 || zero)) return value;
    const mark = {};
    marks.set(mark, { source: context.source, value });
    return mark;
  });
  if (marks.size === 0) return undefined;
  const find = (node: unknown, path: (string | number)[]): OutOfRangeNumber | undefined => {
    if (node === null || typeof node !== "object") return undefined;
    const mark = marks.get(node);
    if (mark) return { path, ...mark };
    for (const [key, child] of Object.entries(node)) {
      const found = find(child, [...path, Array.isArray(node) ? Number(key) : key]);
      if (found) return found;
    }
    return undefined;
  };
  return find(parsed, []);
}

/**
 * The error for a number of `text` beyond float64 (see {@linkcode outOfRangeNumber}), or
 * undefined; `what` names the text as {@linkcode parseJsonText}'s does, `prefix` its path.
 */
export function outOfRangeError(
  text: string,
  what: string,
  code: "config" | "usage",
  at?: string,
  prefix: (string | number)[] = [],
): AnnealError | undefined {
  const found = outOfRangeNumber(text);
  if (found === undefined) return undefined;
  const path = [...prefix, ...found.path];
  const field = path.length > 0 ? ` at '${formatPath(path)}'` : "";
  const reads = found.value === 0
    ? "0: it is below float64's smallest number (about 5e-324)"
    : `${found.value}: it is beyond float64's largest number (about 1.8e308)`;
  return new AnnealError(
    code,
    `${what[0].toUpperCase()}${what.slice(1)} has the number ${found.source}${field}, which ` +
      `reads as ${reads}`,
    {
      where: at,
      hint: "write a number float64 holds (anneal computes in float64 and float32, whose " +
        "smallest normal number is about 1.2e-38)",
    },
  );
}

/**
 * Parses JSON a user wrote, named `what` in errors (`config file 'run.json'`); a byte-order mark
 * that an editor put first is skipped. A syntax error is an {@linkcode AnnealError} of `code`
 * whose `where` is `at:line:column` (`at`: the file, or the flag), its hint the fix, then `hint`.
 * So is a key an object holds twice (`{"epochs": 2, "epochs": 3}`, which `JSON.parse` reads as
 * its last value, silently), named by its path, under `prefix` (the path of a `--set` value).
 *
 * @example
 * ```ts
 * import { parseJsonText } from "./json_syntax.ts";
 * try {
 *   parseJsonText("{'epochs': 3}", "config file 'a.json'", "config", "a.json");
 * } catch (error) {
 *   console.assert((error as { where?: string }).where === "a.json:1:2");
 * }
 * ```
 */
export function parseJsonText(
  text: string,
  what: string,
  code: "config" | "usage",
  at?: string,
  hint?: string,
  prefix: (string | number)[] = [],
): unknown {
  const json = text.replace(/^\uFEFF/, "");
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (cause) {
    if (!(cause instanceof SyntaxError)) throw cause;
    const syntax = jsonSyntax(json, cause);
    const place = syntax.line === undefined
      ? ""
      : ` at line ${syntax.line}, column ${syntax.column}${
        syntax.excerpt ? ` (\`${syntax.excerpt}\`)` : ""
      }`;
    const where = syntax.line === undefined ? at : `${at ?? what}:${syntax.line}:${syntax.column}`;
    throw new AnnealError(
      code,
      `${what[0].toUpperCase()}${what.slice(1)} is not valid JSON${place}: ${syntax.reason}`,
      { where, hint: hint ? `${syntax.hint}; ${hint}` : syntax.hint, cause },
    );
  }
  const duplicate = duplicateKey(json);
  if (duplicate !== undefined) {
    // (offsets in the text as given: the byte-order mark counts no column)
    const first = lineColumn(json, duplicate.first);
    const second = lineColumn(json, duplicate.second);
    const key = formatPath([...prefix, ...duplicate.path]);
    throw new AnnealError(
      code,
      `${what[0].toUpperCase()}${
        what.slice(1)
      } has the key '${key}' twice, at line ${first.line}, ` +
        `column ${first.column} and at line ${second.line}, column ${second.column}`,
      {
        where: `${at ?? what}:${second.line}:${second.column}`,
        hint: "remove one of the two: JSON would keep the last one silently, and anneal does not " +
          "guess which one was meant",
      },
    );
  }
  const range = outOfRangeError(json, what, code, at, prefix);
  if (range) throw range;
  return value;
}

/**
 * The text of a JSON file's `bytes`, or an {@linkcode AnnealError} of `code` that says where it
 * is not UTF-8 (the first byte that is not, by line and column) and how to make it so, where
 * reading it as text turned such bytes into U+FFFD silently: a Latin-1 'é' in a data path gave a
 * path that does not exist, in a name an error about its characters. A file in UTF-16 (byte-order
 * mark FF FE or FE FF, as some Windows editors save "Unicode") is named so.
 *
 * @example
 * ```ts
 * import { decodeJsonFile } from "./json_syntax.ts";
 * const bytes = new Uint8Array([0x7b, 0x22, 0xe9, 0x22, 0x3a, 0x31, 0x7d]); // {"<é in Latin-1>":1}
 * try {
 *   decodeJsonFile(bytes, "config file 'a.json'", "config", "a.json");
 * } catch (error) {
 *   console.assert((error as { where?: string }).where === "a.json:1:3");
 * }
 * ```
 */
export function decodeJsonFile(
  bytes: Uint8Array,
  what: string,
  code: "config" | "usage",
  at: string,
): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    // (not UTF-8: said below)
  }
  const What = `${what[0].toUpperCase()}${what.slice(1)}`;
  const utf16 = (bytes[0] === 0xff && bytes[1] === 0xfe) ||
    (bytes[0] === 0xfe && bytes[1] === 0xff);
  if (utf16) {
    throw new AnnealError(code, `${What} is UTF-16 text, not UTF-8`, {
      where: at,
      hint: `save it as UTF-8 (in the editor's encoding menu, or iconv -f UTF-16 -t UTF-8 '${at}')`,
    });
  }
  // the characters before the first U+FFFD the lenient decoder gave were read as they are
  const lenient = new TextDecoder().decode(bytes);
  const bad = lenient.indexOf("\uFFFD");
  const { line, column } = lineColumn(lenient, bad);
  const offset = new TextEncoder().encode(lenient.slice(0, bad)).length;
  const byte = bytes[offset]?.toString(16).toUpperCase().padStart(2, "0") ?? "??";
  throw new AnnealError(
    code,
    `${What} is not UTF-8 text: byte 0x${byte} at line ${line}, column ${column} is not ` +
      "a character in UTF-8",
    {
      where: `${at}:${line}:${column}`,
      hint: "save it as UTF-8, as JSON is written (in the editor's encoding menu, or e.g. " +
        `iconv -f LATIN1 -t UTF-8 '${at}' for a Latin-1 file)`,
    },
  );
}
