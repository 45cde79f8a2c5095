import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import { AnnealError } from "../errors.ts";
import { type CsvRecord, CsvRecordParser } from "./csv_parse.ts";

function parseAll(chunks: string[], delimiter = ","): CsvRecord[] {
  const parser = new CsvRecordParser("t.csv", delimiter);
  return [...chunks.flatMap((chunk) => parser.push(chunk)), ...parser.end()];
}

function quote(field: string, delimiter: string): string {
  const needs = field === "" || field.includes(delimiter) || /["\r\n]/.test(field);
  return needs ? `"${field.replaceAll('"', '""')}"` : field;
}

Deno.test("quoted fields keep delimiters, doubled quotes and line breaks", () => {
  const records = parseAll(['a,"b,c",d\n"x ""y""","multi\nline",z\n', "last,row,here"]);
  assert.deepEqual(records.map((r) => r.fields), [
    ["a", "b,c", "d"],
    ['x "y"', "multi\nline", "z"],
    ["last", "row", "here"],
  ]);
  assert.deepEqual(records.map((r) => r.line), [1, 2, 4]);
});

Deno.test("CRLF, CR and LF all end records and blank lines are skipped", () => {
  const records = parseAll(["a,b\r\n\r\nc,d\re,f\n\n"]);
  assert.deepEqual(records.map((r) => r.fields), [["a", "b"], ["c", "d"], ["e", "f"]]);
  assert.deepEqual(records.map((r) => r.line), [1, 3, 4]);
});

Deno.test("a CRLF split across chunks counts as one line break", () => {
  const records = parseAll(["a,b\r", "\nc,d\n"]);
  assert.deepEqual(records.map((r) => [r.fields, r.line]), [[["a", "b"], 1], [["c", "d"], 2]]);
});

Deno.test("an unterminated quote names the line where its record started", () => {
  assert.throws(
    () => parseAll(['a,b\n"open,field\nmore\n']),
    (e) => e instanceof AnnealError && e.where === "t.csv:2" && /never closed/.test(e.message),
  );
});

Deno.test("text after a closing quote is an error naming the line", () => {
  assert.throws(
    () => parseAll(['a,b\n"x"y,2\n']),
    (e) => e instanceof AnnealError && e.where === "t.csv:2",
  );
});

Deno.test("property: random tables round-trip through quoting and arbitrary chunking", () => {
  const field = fc.string({ unit: fc.constantFrom("a", "1", ",", ";", '"', "\n", "\r", " ", "é") });
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 4 }).chain((columns) =>
        fc.array(fc.array(field, { minLength: columns, maxLength: columns }), {
          minLength: 1,
          maxLength: 8,
        })
      ),
      fc.constantFrom(",", ";", "\t"),
      fc.constantFrom("\n", "\r\n"),
      fc.array(fc.nat(), { maxLength: 6 }),
      (rows, delimiter, newline, cuts) => {
        const text = rows.map((row) => row.map((f) => quote(f, delimiter)).join(delimiter))
          .join(newline) + newline;
        const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        const chunks = [0, ...points].map((p, i, all) => text.slice(p, all[i + 1] ?? text.length));
        const records = parseAll(chunks, delimiter);
        assert.deepEqual(records.map((r) => r.fields), rows);
      },
    ),
  );
});

Deno.test("property: arbitrary text never throws anything but AnnealError", () => {
  fc.assert(
    fc.property(
      fc.string({ unit: fc.constantFrom("a", ",", '"', "\n", "\r", "1", "") }),
      (text) => {
        try {
          parseAll([text]);
        } catch (error) {
          assert.ok(error instanceof AnnealError);
        }
      },
    ),
  );
});
