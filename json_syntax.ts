/**
 * JSON a user wrote (a config file, a `--scheduler` flag) parsed with errors that say where
 * (line and column, and the line itself) and what is wrong there in words a user knows: a
 * trailing comma, a comment, single quotes, a missing comma, an empty file, a cut-off end.
 *
 * @module
 */

import { AnnealError } from "./errors.ts";

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

/**
 * The offset of the first character where `text` stops being JSON, read by a small scanner of its
 * grammar: for the faults that `JSON.parse`'s message names by the character alone, with no
 * position (`Unexpected token '/', ... is not valid JSON`: a comment where a value or the text
 * starts, a trailing comma in a list, NaN, a bare word). `undefined` where the scanner finds none.
 */
function faultOffset(text: string): number | undefined {
  let i = 0;
  const space = () => {
    while (i < text.length && " \t\n\r".includes(text[i])) i++;
  };
  // each returns false at the fault, with `i` on it
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
      i++;
      space();
      if (text[i] === close) return i++, true;
      for (;;) {
        if (c === "{") {
          space();
          if (text[i] !== '"' || !string()) return false;
          space();
          if (text[i] !== ":") return false;
          i++;
        }
        if (!value()) return false;
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
    if (!value()) return i;
  } catch (error) {
    // (lists nested deeper than the stack: no place to name)
    if (error instanceof RangeError) return undefined;
    throw error;
  }
  space();
  return i < text.length ? i : undefined;
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
    : faultOffset(text);
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

/**
 * Parses JSON a user wrote, named `what` in errors (`config file 'run.json'`); a byte-order mark
 * that an editor put first is skipped. A syntax error is an {@linkcode AnnealError} of `code`
 * whose `where` is `at:line:column` (`at`: the file, or the flag), its hint the fix, then `hint`.
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
): unknown {
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (cause) {
    if (!(cause instanceof SyntaxError)) throw cause;
    const syntax = jsonSyntax(text.replace(/^\uFEFF/, ""), cause);
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
}
