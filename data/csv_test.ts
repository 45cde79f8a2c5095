import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import { AnnealError } from "../errors.ts";
import { type CsvReadOptions, fileChunks, readCsv } from "./csv.ts";
import { parseFloat32Bytes, parseNumber } from "./csv_number.ts";
import { assertDataError, fixture } from "./_test_helpers.ts";

const numeric: CsvReadOptions = { header: true, delimiter: ",", target: "y", numericTarget: true };

function readFile(name: string, options: Partial<CsvReadOptions> = {}) {
  return readCsv(fileChunks(fixture(name)), fixture(name), { ...numeric, ...options });
}

async function* once(text: string) {
  yield text;
}

Deno.test("readCsv reads features row-major and the target column apart", async () => {
  const table = await readFile("good.csv");
  assert.equal(table.n, 4);
  assert.deepEqual(table.columns, ["x0", "x1", "y"]);
  assert.deepEqual([...table.x], [1, 2, 4, 5, 7, 8, 10, 11]);
  assert.deepEqual([...table.targets!], [3, 6, 9, 12]);
});

Deno.test("target may be a middle column given by index, negative from the end", async () => {
  const middle = await readFile("good.csv", { target: 1 });
  assert.deepEqual([...middle.targets!], [2, 5, 8, 11]);
  assert.deepEqual([...middle.x.slice(0, 2)], [1, 3]);
  const last = await readFile("good.csv", { target: -1 });
  assert.deepEqual([...last.targets!], [3, 6, 9, 12]);
});

Deno.test("limit stops reading after N data rows", async () => {
  const table = await readFile("good.csv", { limit: 2 });
  assert.equal(table.n, 2);
  assert.deepEqual([...table.targets!], [3, 6]);
});

Deno.test("quoted fields with commas, quotes and newlines are read, CRLF files too", async () => {
  const table = await readFile("quoted.csv", { target: "label", numericTarget: false });
  assert.deepEqual(table.columns, ["x0", "x,1", "label"]);
  assert.deepEqual([...table.x], [1.5, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.deepEqual(table.labels, [
    "red, dark",
    'blue "navy"',
    "red, dark",
    "green\non two lines",
    'blue "navy"',
  ]);
});

Deno.test("other delimiters and header-less files work", async () => {
  const semi = await readFile("semicolon.csv", { delimiter: ";" });
  assert.deepEqual([...semi.targets!], [0, 1, 1]);
  const bare = await readFile("no_header.csv", { header: false, target: 2 });
  assert.equal(bare.n, 2);
  assert.deepEqual(bare.columns, ["column0", "column1", "column2"]);
});

Deno.test("a ragged row is an error naming file:line", async () => {
  await assertDataError(
    () => readFile("ragged.csv"),
    /expected 3 fields, found 4/,
    /ragged\.csv:3$/,
  );
});

Deno.test("a non-number is an error naming file:line and the column", async () => {
  await assertDataError(() => readFile("non_number.csv"), /'x1' has "abc"/, /non_number\.csv:3$/);
  const empty = await assertDataError(() => readFile("empty_field.csv"), /an empty cell/, /:2$/);
  assert.match(empty.hint!, /empty/);
});

Deno.test("NaN (a missing value) and infinite values are errors naming file:line", async () => {
  const nan = await assertDataError(
    () => readFile("nan.csv"),
    /^Cannot read CSV: column 'x1' has NaN, a missing value$/,
    /nan\.csv:3$/,
  );
  assert.match(nan.hint!, /set data\.missing to "drop" \(rows with a missing cell are left out\)/);
  await assertDataError(() => readFile("inf.csv"), /NaN or infinite/, /inf\.csv:3$/);
  assert.throws(() => parseNumber("1e39", "a:1", "x"), /float32 range/);
});

Deno.test("empty files and header-only files are errors", async () => {
  await assertDataError(() => readFile("empty.csv"), /file is empty/, /empty\.csv$/);
  await assertDataError(() => readFile("header_only.csv"), /no data rows/);
});

Deno.test("a missing target column is an error listing the columns", async () => {
  const error = await assertDataError(() => readFile("good.csv", { target: "price" }), /'price'/);
  assert.match(error.hint!, /'x0', 'x1', 'y'/);
  await assertDataError(() => readFile("good.csv", { target: 3 }), /out of range/);
});

Deno.test("a number target out of range that a column is named says to write the name as a string", async () => {
  // --set data.target=2022 reads the value as JSON: the number, where the column '2022' was meant
  const text = "a,2021,2022\n1,2,3\n4,5,6\n";
  const error = await assertDataError(
    () => readCsv(once(text), "years.csv", { ...numeric, target: 2022 }),
    /index 2022 is out of range for 3 columns, and column 2 is named '2022'/,
  );
  assert.match(error.hint!, /"target": "2022"/);
  assert.match(error.hint!, /--set 'data\.target="2022"'/);
  const byName = await readCsv(once(text), "years.csv", { ...numeric, target: "2022" });
  assert.deepEqual([...byName.targets!], [3, 6]);
  // without a header the columns have no names: the plain range hint
  const headerless = await assertDataError(
    () => readCsv(once("1,2,2022\n4,5,6\n"), "n.csv", { ...numeric, header: false, target: 2022 }),
    /out of range for 3 columns$/,
  );
  assert.match(headerless.hint!, /use an index from 0 to 2/);
});

Deno.test("a number target that indexes one column while another is named as it is a warning", async () => {
  const text = "a,2,1\n10,20,30\n40,50,60\n";
  const table = await readCsv(once(text), "n.csv", { ...numeric, target: 1 });
  assert.deepEqual([...table.targets!], [20, 50]); // the index, as documented
  assert.equal(table.warnings.length, 1);
  assert.match(table.warnings[0].message, /target is column 1, '2', and column 2 is named '1'/);
  assert.match(table.warnings[0].hint, /"target": "1"/);
  assert.equal(table.warnings[0].where, "n.csv:1");
  // pandas' numbered header: the index is the name, nothing to say
  const numbered = await readCsv(once("0,1,2\n1,2,3\n"), "p.csv", { ...numeric, target: 2 });
  assert.deepEqual(numbered.warnings, []);
  // a test file has the training file's columns: not said again
  const test = await readCsv(once(text), "t.csv", {
    ...numeric,
    target: 1,
    columnsOf: { file: "n.csv", columns: ["a", "2", "1"] },
  });
  assert.deepEqual(test.warnings, []);
});

Deno.test("a target name that two columns have is refused, naming their indexes; an index picks one", async () => {
  const text = "y,b,y\n1,2,3\n4,5,6\n";
  const error = await assertDataError(
    () => readCsv(once(text), "dup.csv", numeric),
    /2 columns are named 'y' \(indexes 0, 2\), so the target is ambiguous/,
  );
  assert.equal(error.where, "dup.csv:1");
  assert.match(error.hint!, /set 'target' to the index of the one meant \(e\.g\. 0\)/);
  const byIndex = await readCsv(once(text), "dup.csv", { ...numeric, target: 2 });
  assert.deepEqual([...byIndex.targets!], [3, 6]);
  assert.deepEqual([...byIndex.x], [1, 2, 4, 5]);
  // features may share a name: they are read by position
  const features = await readCsv(once("a,a,y\n1,2,3\n"), "dup.csv", numeric);
  assert.deepEqual([...features.x], [1, 2]);
});

Deno.test("a header setting the file contradicts says so: a first line of numbers read as names, or of names read as data", async () => {
  // no header row, but data.header is true (the default): the first row became the names
  const numbers = await assertDataError(
    () => readCsv(once("1.5,2,3\n4,5,6\n"), "bare.csv", numeric),
    /no column is named 'y'/,
    /^bare\.csv:1$/,
  );
  assert.match(
    numbers.hint!,
    /the first line holds numbers \(1\.5, 2, 3\), not column names: .*set data\.header=false/,
  );
  // a header row, but data.header is false
  const names = await assertDataError(
    () =>
      readCsv(once("a,b,label\n1,2,x\n"), "named.csv", { ...numeric, header: false, target: -1 }),
    /data\.header is false, and the first line holds no number \("a", "b", "label"\)/,
    /^named\.csv:1$/,
  );
  assert.match(names.hint!, /set data\.header=true/);
  // a first line with a number in it stays a data row (a label column is text)
  const labelled = await readCsv(once("1,2,x\n3,4,y\n"), "labels.csv", {
    ...numeric,
    header: false,
    target: -1,
    numericTarget: false,
  });
  assert.deepEqual(labelled.labels, ["x", "y"]);
});

Deno.test("a gzipped CSV is read as its text, as IDX files are; a damaged one is a data error naming it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "anneal-csv-gz-" });
  try {
    const text = await Deno.readFile(fixture("good.csv"));
    const gzipped = new Uint8Array(
      await new Response(new Blob([text]).stream().pipeThrough(new CompressionStream("gzip")))
        .arrayBuffer(),
    );
    const path = `${dir}/good.csv.gz`;
    await Deno.writeFile(path, gzipped);
    const plain = await readFile("good.csv");
    const read = await readCsv(fileChunks(path), path, numeric);
    assert.deepEqual(read, plain);
    // stopped early by a limit, the file is let go (no leaked resource fails the test)
    assert.equal((await readCsv(fileChunks(path), path, { ...numeric, limit: 1 })).n, 1);
    const cut = `${dir}/cut.csv.gz`;
    await Deno.writeFile(cut, gzipped.subarray(0, gzipped.length - 6));
    const error = await assertDataError(
      () => readCsv(fileChunks(cut), cut, numeric),
      /^Cannot gunzip CSV file: /,
      new RegExp(`^${cut}$`),
    );
    assert.match(error.hint!, /damaged or cut short/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an empty label is refused naming its line, not made a class of its own", async () => {
  const labels = { ...numeric, target: "species", numericTarget: false };
  for (const text of ["f,species\n1,a\n2,\n3,b\n", 'f,species\n1,a\n2," "\n3,b\n']) {
    const error = await assertDataError(
      () => readCsv(once(text), "gaps.csv", labels),
      /^Cannot read CSV: the label column 'species' is empty$/,
      /^gaps\.csv:3$/,
    );
    assert.match(error.hint!, /fill in the row's label, or drop the row/);
  }
  // without a header, the first row's label is checked too
  await assertDataError(
    () => readCsv(once("1,\n2,a\n"), "bare.csv", { ...labels, header: false, target: -1 }),
    /label column 'column1' is empty/,
    /^bare\.csv:1$/,
  );
  const whole = await readCsv(once("f,species\n1,a\n2,b\n"), "whole.csv", labels);
  assert.deepEqual(whole.labels, ["a", "b"]);
});

Deno.test("a label column's missing-value markers (R's NA, pandas' NaN) are missing labels, not classes", async () => {
  const labels = { ...numeric, target: "species", numericTarget: false };
  const text = "f,species\n1,a\n2,NA\n3,b\n4, NaN\n";
  const error = await assertDataError(
    () => readCsv(once(text), "na.csv", labels),
    /^Cannot read CSV: the label column 'species' holds 'NA', which marks a missing value$/,
    /^na\.csv:3$/,
  );
  assert.match(error.hint!, /if 'NA' names a class, give it another name/);
  const dropped = await readCsv(once(text), "na.csv", { ...labels, missing: "drop" });
  assert.deepEqual(dropped.labels, ["a", "b"]);
  assert.deepEqual([...dropped.x], [1, 3]);
});

Deno.test("a file in another encoding than UTF-8 is refused with its line, not read with its letters alike", async () => {
  const labels = { ...numeric, target: "y", numericTarget: false };
  // Latin-1: 'n\xe9' and 'n\xe8' both read "n\uFFFD", one class where there were two
  const latin1 = Uint8Array.from("f,y\n1,n\xe9\n2,n\xe8\n3,no\n", (c) => c.charCodeAt(0));
  const chunks = async function* () {
    yield latin1;
  };
  const error = await assertDataError(
    () => readCsv(chunks(), "latin1.csv", labels),
    /^Cannot read CSV: column 'y' holds the byte 0xe9, which is no UTF-8 text/,
    /^latin1\.csv:2$/,
  );
  assert.match(error.hint!, /iconv -f LATIN1 -t UTF-8 'latin1\.csv'/);
  // in a categorical column, and in the header, alike
  const header = Uint8Array.from("f,\xe9t\xe9\n1,a\n", (c) => c.charCodeAt(0));
  await assertDataError(
    () =>
      readCsv(
        (async function* () {
          yield header;
        })(),
        "h.csv",
        { ...labels, target: -1 },
      ),
    /^Cannot read CSV: the header holds the byte 0xe9/,
    /^h\.csv:1$/,
  );
  // UTF-8's own letters read as they are
  const utf8 = await readCsv(once("f,y\n1,n\u00e9\n2,n\u00e8\n"), "u.csv", labels);
  assert.deepEqual(utf8.labels, ["n\u00e9", "n\u00e8"]);
});

Deno.test("a UTF-16 or binary file is refused as not UTF-8 text, not read as columns full of NULs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "anneal-csv-text-" });
  try {
    const text = "a,b,y\n1,2,3\n";
    const utf16 = new Uint8Array(2 + 2 * text.length);
    utf16.set([0xff, 0xfe]); // little-endian, as Excel's "Unicode Text" and PowerShell write it
    for (let i = 0; i < text.length; i++) utf16[2 + 2 * i] = text.charCodeAt(i);
    const cases: [Uint8Array, RegExp][] = [
      [utf16, /the file is UTF-16 text \(it starts with a UTF-16 byte order mark\)/],
      [utf16.subarray(2), /holds a NUL byte \(at byte 1\).*UTF-16 text or not text at all/],
      [new Uint8Array([0x41, 0x2c, 0x00, 0x01, 0x0a]), /holds a NUL byte \(at byte 2\)/],
    ];
    for (const [bytes, message] of cases) {
      const path = `${dir}/data.csv`;
      await Deno.writeFile(path, bytes);
      const error = await assertDataError(
        () => readCsv(fileChunks(path), path, numeric),
        message,
        new RegExp(`^${path}$`),
      );
      assert.match(error.hint!, /convert it to UTF-8 \(iconv -f UTF-16 -t UTF-8 /);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("unterminated quotes and a missing file are data errors", async () => {
  await assertDataError(() => readFile("unterminated.csv"), /never closed/, /unterminated\.csv:3$/);
  await assertDataError(() => readFile("after_quote.csv"), /after a closing quote/, /:2$/);
  await assertDataError(() => readFile("does_not_exist.csv"), /Cannot open/);
});

Deno.test("property: random numeric tables round-trip to float32", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), {
          minLength: 3,
          maxLength: 3,
        }),
        { minLength: 1, maxLength: 10 },
      ),
      async (rows) => {
        const text = "a,b,y\n" + rows.map((r) => r.map((v) => String(v)).join(",")).join("\n");
        const table = await readCsv(once(text), "p.csv", numeric);
        assert.equal(table.n, rows.length);
        // String(-0) is "0": compare with ===, which treats the two zeros as equal.
        rows.forEach((row, i) => {
          assert.ok(table.x[2 * i] === row[0], `${table.x[2 * i]} vs ${row[0]}`);
          assert.ok(table.x[2 * i + 1] === row[1], `${table.x[2 * i + 1]} vs ${row[1]}`);
          assert.ok(table.targets![i] === row[2], `${table.targets![i]} vs ${row[2]}`);
        });
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("property: random garbage never throws anything but AnnealError", async () => {
  const garbage = fc.string({
    unit: fc.oneof(
      fc.constantFrom(",", '"', "\n", "\r", ";", "1", "-", ".", "e", "x"),
      fc.string(),
    ),
  });
  await fc.assert(
    fc.asyncProperty(
      garbage,
      fc.boolean(),
      fc.constantFrom<string | number>("x", 0, -1, 5),
      fc.boolean(),
      async (text, header, target, numericTarget) => {
        try {
          await readCsv(once(text), "g.csv", { header, delimiter: ",", target, numericTarget });
        } catch (error) {
          assert.ok(error instanceof AnnealError, `threw ${error}`);
        }
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("property: decimals parsed from bytes equal Math.fround(Number(text)), long ones too", async () => {
  const encoder = new TextEncoder();
  const digits = (min: number, max: number) =>
    fc.string({ unit: fc.constantFrom(..."0123456789"), minLength: min, maxLength: max });
  const decimal = fc.tuple(
    fc.constantFrom("", "-", "+"),
    digits(0, 22),
    fc.option(digits(0, 22)),
    fc.option(fc.tuple(fc.constantFrom("e", "E"), fc.constantFrom("", "-", "+"), digits(1, 3))),
    fc.constantFrom("", " ", "\t "),
  ).map(([sign, whole, fraction, exponent, pad]) =>
    pad + sign + whole + (fraction === null ? "" : `.${fraction}`) +
    (exponent === null ? "" : exponent.join("")) + pad
  );
  let quick = 0;
  let total = 0;
  await fc.assert(
    fc.asyncProperty(decimal, async (text) => {
      const bytes = encoder.encode(`..${text}..`);
      const value = parseFloat32Bytes(bytes, 2, bytes.length - 2);
      const trimmed = text.trim();
      const valid = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(trimmed);
      const expected = Math.fround(Number(trimmed));
      if (valid && Number.isFinite(expected)) total++;
      if (!Number.isNaN(value)) {
        quick++;
        assert.ok(valid, `accepted ${JSON.stringify(text)}`);
        assert.ok(Object.is(value, expected), `${JSON.stringify(text)}: ${value} vs ${expected}`);
      }
      // readCsv falls back to the general path: the same value, or the same error.
      const parsed = readCsv(once(`a,y\n${text},1\n`), "d.csv", numeric);
      if (valid && Number.isFinite(expected)) {
        assert.ok(Object.is((await parsed).x[0], expected), JSON.stringify(text));
      } else {
        await assertDataError(() => parsed, /column 'a'/, /^d\.csv:2$/);
      }
    }),
    { numRuns: 3000 },
  );
  // The quick path takes almost every valid decimal (the rest: out-of-range exponents, and
  // values too close to a float32 rounding boundary to decide from a 15-digit estimate).
  assert.ok(quick > 0.8 * total && total > 1000, `${quick} of ${total}`);
});

Deno.test("a first line of one field names the delimiter the line holds", async () => {
  const options = { ...numeric, target: -1 };
  // read with ',' (the default), a ';' file fails at its first line, not at a 'not a number'
  const semi = await assertDataError(
    () => readFile("semicolon.csv", options),
    /first line has one field \(split on ','\)/,
    /semicolon\.csv:1$/,
  );
  assert.match(semi.hint!, /the line holds ';': set data.delimiter to ";"/);
  const tab = await assertDataError(
    () => readCsv(once("a\tb\ty\n1\t2\t3\n"), "tab.csv", options),
    /one field/,
  );
  assert.match(tab.hint!, /the line holds '\\t': set data.delimiter to "\\t"/);
  const single = await assertDataError(
    () => readCsv(once("y\n1\n"), "single.csv", { ...numeric, header: false, target: 0 }),
    /one field/,
    /single\.csv:1$/,
  );
  assert.match(single.hint!, /check the delimiter \(now ','\)/);
});

Deno.test("a label in a regression target says to set data.task, not to set 'target'", async () => {
  const text = "a,label\n1,cat\n2,dog\n";
  const target = await assertDataError(
    () => readCsv(once(text), "labels.csv", { ...numeric, target: "label" }),
    /'label' has "cat", which is not a number/,
    /labels\.csv:2$/,
  );
  assert.match(target.hint!, /it is the target.*set data.task to 'classification'/);
  // a label in a feature column keeps the hint that names 'target', after the settings that
  // take a column of strings: one-hot encoding it, or leaving it out
  const feature = await assertDataError(
    () => readCsv(once("label,y\ncat,1\n"), "features.csv", numeric),
    /'label' has "cat"/,
  );
  assert.match(
    feature.hint!,
    /^if the column holds categories \(strings\), one-hot encode it with data\.categorical \(--set 'data\.categorical=\["label"\]'\); to leave it out, data\.drop \(--set 'data\.drop=\["label"\]'\); if it is the label, set 'target' to it with data\.task 'classification'; else fix the value$/,
  );
});

Deno.test("a line that ends with the delimiter is refused as a trailing delimiter, not as a missing value", async () => {
  const text = "a,b,y,\r\n1,2,3,\r\n4,5,9,\r\n";
  const header = await assertDataError(
    () => readCsv(once(text), "trailing.csv", numeric),
    /the line ends with ',', as the header does: a last column with no name and no value/,
    /trailing\.csv:2$/,
  );
  assert.match(header.hint!, /remove the ',' at the end of every line/);
  // a classifier's labels, and the target the unnamed last column: said the same way
  for (const options of [{ target: "y", numericTarget: false }, { target: -1 }]) {
    await assertDataError(
      () => readCsv(once(text), "trailing.csv", { ...numeric, ...options }),
      /the line ends with ','/,
    );
  }
  // data lines that end with it where the header does not: one (blank) field more than the
  // header names, said as a trailing delimiter, not as a field to quote
  const lines = await assertDataError(
    () => readCsv(once("a,y\r\n0.3,1,\r\n0.6,0, \r\n"), "lines.csv", numeric),
    /the line ends with ',', where the header does not: 3 fields, the last one empty, against the 2 columns it names$/,
    /lines\.csv:2$/,
  );
  assert.match(
    lines.hint!,
    /remove the ',' at the end of the lines \(sed -i 's\/,\[ \\t\]\*\\\(\\r\\\?\\\)\$\/\\1\/' FILE\)/,
  );
  const tabs = await assertDataError(
    () =>
      readCsv(once("1\t2\n3\t4\t\n"), "tabs.tsv", {
        ...numeric,
        header: false,
        delimiter: "\t",
        target: -1,
      }),
    /the line ends with '\\t', where the first line does not: 3 fields, the last one empty, against the 2 fields it has$/,
    /tabs\.tsv:2$/,
  );
  assert.doesNotMatch(tabs.hint!, /quote/);
  // a field more that is not blank is a ragged row, as before
  const ragged = await assertDataError(
    () => readCsv(once("a,y\n0.3,1,7\n"), "ragged.csv", numeric),
    /expected 2 fields, found 3$/,
  );
  assert.match(ragged.hint!, /quote fields that contain ','/);
  // an empty value elsewhere is a missing value, as before
  const missing = await assertDataError(
    () => readCsv(once("a,b,y\n1,,3\n"), "missing.csv", numeric),
    /column 'b' has an empty cell$/,
  );
  assert.match(missing.hint!, /fill in the empty value/);
  assert.match(missing.hint!, /set data\.missing to "drop" .* or "mean"/);
});

Deno.test("the sed line a trailing delimiter's hint gives fixes the file, CR LF line ends too", async () => {
  // (it said 's/,$//' of every file: no line of a Windows file, whose comma the CR follows, was
  // changed, and the fixed file was refused again)
  const sed = async (command: string, text: string) => {
    const child = new Deno.Command("sed", { args: [command], stdin: "piped", stdout: "piped" })
      .spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(text));
    await writer.close();
    const { stdout } = await child.output();
    return new TextDecoder().decode(stdout);
  };
  const cases: [string, CsvReadOptions][] = [
    ["a,b,y,\r\n1,2,3,\r\n4,5,9,\r\n", numeric],
    // (the last line without its line break)
    ["a,b,y,\r\n1,2,3,\r\n4,5,9,", numeric],
    ["a,b,y,\n1,2,3,\n4,5,9,\n", numeric],
    ["a,y\r\n0.3,1,\r\n0.6,0, \r\n", numeric],
    ["a|y|\r\n0.3|1|\r\n", { ...numeric, delimiter: "|" }],
    ["a/y/\n3/1/\n", { ...numeric, delimiter: "/" }],
    ["1\t2\n3\t4\t\n", { ...numeric, header: false, delimiter: "\t", target: -1 }],
  ];
  for (const [text, options] of cases) {
    const error = await assertDataError(
      () => readCsv(once(text), "trailing.csv", options),
      /the line ends with/,
    );
    const command = error.hint!.match(/sed -i '([^']*)' FILE/)![1];
    const fixed = await sed(command, text);
    assert.equal(fixed.includes("\r"), text.includes("\r"), "the line ends are kept");
    const table = await readCsv(once(fixed), "fixed.csv", options);
    const rows = text.split("\n").filter((line) => line.trim() !== "").length;
    assert.equal(table.n, rows - (options.header ? 1 : 0), command);
  }
});

Deno.test("an unnamed first column of row numbers (pandas' or R's index) is a warning naming index=False", async () => {
  for (
    const [text, first] of [
      [",a,y\n0,5,1\n1,7,2\n2,3,3\n3,1,4\n", 0], // pandas' df.to_csv(path)
      ['"","a","y"\n"1",5,1\n"2",7,2\n"3",3,3\n', 1], // R's write.csv(df, path)
      ["Unnamed: 0,a,y\n0,5,1\n1,7,2\n2,3,3\n", 0], // pandas' read and written again
    ] as const
  ) {
    const table = await readCsv(once(text), "indexed.csv", numeric);
    assert.equal(table.warnings.length, 1, text);
    const [warning] = table.warnings;
    assert.match(warning.message, new RegExp(`holds the row numbers \\(${first}, ${first + 1},`));
    assert.match(warning.message, /it is read as a feature/);
    assert.equal(warning.where, "indexed.csv");
    assert.match(warning.hint, /index=False/);
    assert.equal(table.x[0], first, "the column is still read, as the file has it");
  }
  // a named first column, or an unnamed one of other values, or the target itself: no warning
  for (const text of ["id,a,y\n0,5,1\n1,7,2\n2,3,3\n", ",a,y\n4,5,1\n9,7,2\n2,3,3\n"]) {
    assert.deepEqual((await readCsv(once(text), "plain.csv", numeric)).warnings, []);
  }
  const target = await readCsv(once(",a\n0,5\n1,7\n2,3\n"), "t.csv", { ...numeric, target: 0 });
  assert.deepEqual(target.warnings, []);
});

Deno.test("a number with a decimal comma or thousands separators says so, not only 'fix the value'", async () => {
  const error = await assertDataError(
    () => readCsv(once("a;b;y\n1,5;2;3\n"), "euro.csv", { ...numeric, delimiter: ";" }),
    /column 'a' has "1,5", which is not a number/,
    /euro\.csv:2$/,
  );
  assert.match(error.hint!, /"1,5" has a decimal comma or thousands separators/);
  assert.match(error.hint!, /'\.' as the decimal point/);
  for (const text of ["1.234,5", "1,234.5", "1 234", "-0,25", "12'000"]) {
    assert.throws(() => parseNumber(text, "a.csv:2", "x"), (e: AnnealError) => {
      assert.match(e.hint!, /decimal comma or thousands separators/, text);
      return true;
    });
  }
  // text that is no number keeps its hint
  assert.throws(() => parseNumber("1.2.3", "a.csv:2", "x"), (e: AnnealError) => {
    assert.match(e.hint!, /^fix the value/);
    return true;
  });
});

Deno.test("a target named in a file without a header says the columns have no names, and how to give an index", async () => {
  const bare = { ...numeric, header: false };
  const quoted = await assertDataError(
    () => readCsv(once("1,2,3\n4,5,9\n"), "bare.csv", { ...bare, target: "2" }),
    /data\.header is false, so the columns have no names, and 'target' is the name "2"/,
    /bare\.csv:1$/,
  );
  assert.match(quoted.hint!, /write the index as a number, "target": 2, not the string "2"/);
  const named = await assertDataError(
    () => readCsv(once("1,2,3\n4,5,9\n"), "bare.csv", { ...bare, target: "y" }),
    /the name "y"/,
  );
  assert.match(named.hint!, /a number from 0 to 2 \(-1 for the last\).*data\.header=true/);
  // the names anneal gives such columns still name them
  const table = await readCsv(once("1,2,3\n4,5,9\n"), "bare.csv", { ...bare, target: "column1" });
  assert.deepEqual([...table.targets!], [2, 5]);
});

Deno.test("a header that names a feature column twice is a warning naming both columns", async () => {
  const table = await readCsv(once("x,x,y\n1,2,3\n4,5,6\n"), "dup.csv", numeric);
  assert.equal(table.x.length, 4, "both train as features");
  assert.deepEqual(table.warnings.map((w) => [w.message.split(":")[0], w.where]), [
    ["the header names a column more than once", "dup.csv:1"],
  ]);
  assert.match(table.warnings[0].message, /'x' \(columns 0, 1\)/);
  const apart = await readCsv(once("a,b,y\n1,2,3\n"), "apart.csv", numeric);
  assert.deepEqual(apart.warnings, []);
});
