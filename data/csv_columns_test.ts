import assert from "node:assert/strict";
import { type CsvReadOptions, readCsv } from "./csv.ts";
import { loadData } from "./load.ts";
import type { DataSpec } from "./spec.ts";
import { assertDataError } from "./_test_helpers.ts";

// CSV files as users have them: an id column that is no feature, string features, empty cells.

const options: CsvReadOptions = {
  header: true,
  delimiter: ",",
  target: "species",
  numericTarget: false,
};

async function* once(text: string) {
  yield text;
}

const read = (text: string, more: Partial<CsvReadOptions> = {}) =>
  readCsv(once(text), "f.csv", { ...options, ...more });

/** Writes `files` (name: text) into a temporary directory for `body`, then removes it. */
async function withFiles(
  files: Record<string, string>,
  body: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "anneal-test-csv-columns-" });
  try {
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const IRIS = 'id,"sepal length",sepal_width,color,species\n' +
  "0,1.85,1.26,red,setosa\n" +
  "1,1.5,1.0,blue,versicolor\n" +
  "2,2.5,1.1,green,setosa\n" +
  "3,1.0,1.3,blue,versicolor\n";

Deno.test("data.drop leaves columns out by name or index (negative from the end), unread: an id of strings too", async () => {
  const text = "id,a,b,y\nx-1,1,2,3\nx-2,4,5,6\n";
  const numeric = { target: "y", numericTarget: true };
  for (const drop of [["id"], [0], [-4]]) {
    const table = await read(text, { ...numeric, drop });
    assert.deepEqual(table.features.map((f) => f.name), ["a", "b"], JSON.stringify(drop));
    assert.deepEqual([...table.x], [1, 2, 4, 5]);
    assert.deepEqual([...table.targets!], [3, 6]);
  }
  // a column in the middle, and two at once
  const two = await read(text, { ...numeric, drop: ["id", "b"] });
  assert.deepEqual([...two.x], [1, 4]);
  // without a header, columns are dropped by index
  const bare = await read("9,1,2,3\n8,4,5,6\n", {
    ...numeric,
    header: false,
    target: -1,
    drop: [0],
  });
  assert.deepEqual([...bare.x], [1, 2, 4, 5]);
});

Deno.test("data.drop and data.categorical refuse an unknown column, naming the one meant; the target; every feature; an index out of range", async () => {
  const typo = await assertDataError(
    () => read(IRIS, { drop: ["sepal_length"] }),
    /^Cannot read CSV: data\.drop names the column 'sepal_length', which the file does not have$/,
    /^f\.csv:1$/,
  );
  assert.equal(
    typo.hint,
    "did you mean 'sepal length'? the columns are 'id', 'sepal length', 'sepal_width', " +
      "'color', 'species'",
  );
  const colour = await assertDataError(
    () => read(IRIS, { drop: ["id"], categorical: ["colour"] }),
    /data\.categorical names the column 'colour'/,
  );
  assert.match(colour.hint!, /^did you mean 'color'\?/);
  const target = await assertDataError(
    () => read(IRIS, { drop: ["id", "species"] }),
    /^Cannot read CSV: data\.drop holds the target column 'species' \("species"\)$/,
  );
  assert.match(target.hint!, /leave it out of data\.drop/);
  const encoded = await assertDataError(
    () => read(IRIS, { drop: ["id"], categorical: [-1] }),
    /data\.categorical holds the target column 'species' \(-1\): a target is no feature/,
  );
  assert.match(encoded.hint!, /data\.task 'classification'/);
  const all = await assertDataError(
    () => read(IRIS, { drop: ["id", "sepal length", "sepal_width", "color"] }),
    /^Cannot read CSV: data\.drop leaves no feature column: every column but the target 'species' is dropped$/,
  );
  assert.match(all.hint!, /keep at least one column/);
  await assertDataError(
    () => read(IRIS, { drop: [5] }),
    /data\.drop holds the column index 5, out of range for 5 columns/,
  );
  await assertDataError(
    () => read(IRIS, { drop: ["color"], categorical: ["color"] }),
    /column 'color' is in both data\.drop and data\.categorical/,
  );
  const bare = await assertDataError(
    () => read("1,2,3\n", { header: false, target: -1, numericTarget: true, drop: ["0"] }),
    /data\.header is false, so the columns have no names, and data\.drop holds the name "0"/,
  );
  assert.match(bare.hint!, /write the index as a number, 0/);
});

Deno.test("data.categorical one-hot encodes a string column in place: one 0/1 feature per category, sorted", async () => {
  const table = await read(IRIS, { drop: ["id"], categorical: ["color"] });
  assert.deepEqual(table.features.map((f) => f.name), [
    "sepal length",
    "sepal_width",
    "color=blue",
    "color=green",
    "color=red",
  ]);
  assert.deepEqual([...table.categories], [[3, ["blue", "green", "red"]]]);
  assert.deepEqual(
    [...table.x],
    [
      ...[1.85, 1.26, 0, 0, 1],
      ...[1.5, 1.0, 1, 0, 0],
      ...[2.5, 1.1, 0, 1, 0],
      ...[1.0, 1.3, 1, 0, 0],
    ].map(Math.fround),
  );
  // categories that look like numbers are strings too (a zip code): sorted as text
  const zips = await read("zip,y\n10115,1\n8001,2\n10115,3\n", {
    target: "y",
    numericTarget: true,
    categorical: ["zip"],
  });
  assert.deepEqual(table.features.length, 5);
  assert.deepEqual(zips.features.map((f) => f.category), ["10115", "8001"]);
  // UTF-8 categories, and spaces around one, are read as the text they are
  const words = await read(
    'c,y\n café ,1\n"naïve, long value of more than thirty-two bytes",2\ncafé,3\n',
    {
      target: "y",
      numericTarget: true,
      categorical: ["c"],
    },
  );
  assert.deepEqual(words.features.map((f) => f.category), [
    "café",
    "naïve, long value of more than thirty-two bytes",
  ]);
  assert.deepEqual([...words.x], [1, 0, 0, 1, 1, 0]);
  assert.deepEqual([...zips.x], [1, 0, 0, 1, 1, 0]);
});

Deno.test("without a header, a categorical column is named by index; a trailing delimiter's unnamed column can be dropped", async () => {
  const bare = await read("1,red,a\n2,blue,b\n", {
    header: false,
    target: -1,
    categorical: [1],
  });
  assert.deepEqual(bare.features.map((f) => f.name), ["column0", "column1=blue", "column1=red"]);
  assert.deepEqual([...bare.x], [1, 0, 1, 2, 1, 0]);
  assert.deepEqual(bare.labels, ["a", "b"]);
  // "a,y," and every row ending in ',': refused as a trailing delimiter, unless data.drop has it
  const text = "a,y,\n1,2,\n3,4,\n";
  const numeric = { target: "y", numericTarget: true };
  await assertDataError(() => read(text, numeric), /the line ends with ','/);
  await assertDataError(
    () => read(text, { ...numeric, missing: "mean" }),
    /the line ends with ','/,
  );
  const dropped = await read(text, { ...numeric, drop: [-1] });
  assert.deepEqual([...dropped.x], [1, 3]);
});

Deno.test("a categorical column of more than 1000 categories is refused, saying how many: it is likely an id", async () => {
  const rows = Array.from({ length: 1001 }, (_, i) => `user${i},${i % 2}`).join("\n");
  const error = await assertDataError(
    () => read(`name,y\n${rows}\n`, { target: "y", numericTarget: true, categorical: ["name"] }),
    /^Cannot read CSV: the categorical column 'name' has 1001 categories, and one-hot encoding takes at most 1000 \(one feature each\)$/,
  );
  assert.match(error.hint!, /an id or free text: leave it out with --set 'data\.drop=\["name"\]'/);
  // 1000 load
  const thousand = Array.from({ length: 1000 }, (_, i) => `user${i},${i % 2}`).join("\n");
  const table = await read(`name,y\n${thousand}\n`, {
    target: "y",
    numericTarget: true,
    categorical: ["name"],
  });
  assert.equal(table.features.length, 1000);
});

Deno.test("loadData: one-hot features are not normalized, numeric ones are; the encoding is the training file's whatever the seed", async () => {
  await withFiles({ "f.csv": IRIS }, async (dir) => {
    const spec: DataSpec = {
      kind: "csv",
      path: `${dir}/f.csv`,
      target: "species",
      task: "classification",
      drop: ["id"],
      categorical: ["color"],
      validationSplit: 0,
    };
    const data = await loadData(spec, 1);
    assert.deepEqual(data.train.inputShape, [5]);
    assert.deepEqual(data.features, [
      "sepal length",
      "sepal_width",
      "color=blue",
      "color=green",
      "color=red",
    ]);
    assert.deepEqual(data.normalization!.shift.slice(2), [0, 0, 0]);
    assert.deepEqual(data.normalization!.scale.slice(2), [1, 1, 1]);
    assert.notEqual(data.normalization!.shift[0], 0, "numeric features are standardized");
    const onehot = [...data.train.x].filter((_, i) => i % 5 >= 2);
    assert.deepEqual(onehot, [0, 0, 1, 1, 0, 0, 0, 1, 0, 1, 0, 0]);
    // another seed holds out other rows, and encodes the same categories in the same order
    const other = await loadData({ ...spec, validationSplit: 0.5 }, 2);
    assert.deepEqual(other.features, data.features);
    const minmax = await loadData({ ...spec, normalize: "minmax" }, 1);
    assert.deepEqual([...minmax.train.x].filter((_, i) => i % 5 >= 2), onehot);
  });
});

Deno.test("a test file is encoded with the training file's categories; one it lacks gets all-zero features and a warning naming the column and value", async () => {
  const train = "a,color,y\n1,red,1\n2,blue,2\n3,red,3\n4,green,4\n";
  // its own categories in another order, one the training file lacks (twice), one row each
  const test = "a,color,y\n5,green,1\n6,purple,2\n7,red,3\n8,purple,4\n";
  await withFiles({ "train.csv": train, "test.csv": test }, async (dir) => {
    const data = await loadData({
      kind: "csv",
      path: `${dir}/train.csv`,
      testPath: `${dir}/test.csv`,
      target: "y",
      categorical: ["color"],
      validationSplit: 0,
      normalize: "none",
    }, 1);
    assert.deepEqual(data.test!.inputShape, [4]);
    assert.deepEqual(
      [...data.test!.x],
      [...[5, 0, 1, 0], ...[6, 0, 0, 0], ...[7, 0, 0, 1], ...[8, 0, 0, 0]],
    );
    assert.equal(data.warnings?.length, 1);
    const [warning] = data.warnings!;
    assert.equal(
      warning.message,
      `the categorical column 'color' of '${dir}/test.csv' has a category the training file ` +
        `'${dir}/train.csv' lacks: "purple" (2 rows, the first on line 3); the test rows of it ` +
        "get all-zero 'color' features, as no category the model trained on",
    );
    assert.equal(warning.where, `${dir}/test.csv:3`);
    assert.match(warning.hint, /the categories are the training file's/);
  });
});

Deno.test("data.missing 'error', the default, refuses an empty feature cell naming its line and data.missing; a categorical one too", async () => {
  const numeric = await assertDataError(
    () => read("a,b,species\n1,2,x\n3,,y\n", {}),
    /^Cannot read CSV: column 'b' has an empty cell$/,
    /^f\.csv:3$/,
  );
  assert.match(numeric.hint!, /set data\.missing to "drop" .* or "mean"/);
  const category = await assertDataError(
    () => read("a,c,species\n1,u,x\n3, ,y\n", { categorical: ["c"] }),
    /^Cannot read CSV: the categorical column 'c' is empty$/,
    /^f\.csv:3$/,
  );
  assert.match(category.hint!, /^fill in the category, or set data\.missing to "drop"/);
});

Deno.test("data.missing 'drop' leaves rows with an empty cell out, counted in a warning; limit counts the rows kept", async () => {
  const text = "id,a,c,y\n" +
    "r1,1,u,10\n" +
    "r2,,u,20\n" + // empty feature
    "r3,3,,30\n" + // empty category: the row's new category is not kept either
    "r4,4,v,\n" + // empty target
    "r5,5,v,50\n" +
    "r6,6,u,60\n";
  const numeric = { target: "y", numericTarget: true, drop: ["id"], categorical: ["c"] };
  const table = await read(text, { ...numeric, missing: "drop" });
  assert.equal(table.n, 3);
  assert.equal(table.droppedRows, 3);
  assert.deepEqual([...table.x], [1, 1, 0, 5, 0, 1, 6, 1, 0]);
  assert.deepEqual([...table.targets!], [10, 50, 60]);
  assert.deepEqual(table.emptyCells, [
    { column: "a", cells: 1 },
    { column: "c", cells: 1 },
    { column: "y", cells: 1 },
  ]);
  const limited = await read(text, { ...numeric, missing: "drop", limit: 2 });
  assert.deepEqual([...limited.targets!], [10, 50]);
  // a category only dropped rows have is no feature
  const gone = await read("c,y\nu,1\nw,\nv,2\n", {
    target: "y",
    numericTarget: true,
    categorical: ["c"],
    missing: "drop",
  });
  assert.deepEqual(gone.features.map((f) => f.category), ["u", "v"]);
  // through loadData: the warning says how many rows, of which file
  await withFiles({ "f.csv": text }, async (dir) => {
    const data = await loadData({
      kind: "csv",
      path: `${dir}/f.csv`,
      target: "y",
      drop: ["id"],
      categorical: ["c"],
      missing: "drop",
      validationSplit: 0,
    }, 1);
    assert.equal(data.train.n, 3);
    assert.deepEqual(data.warnings?.map((w) => w.message), [
      `data.missing is "drop": 3 of the 6 rows of '${dir}/f.csv' have a missing cell and were ` +
      "left out, 3 kept (missing cells: 'a' 1, 'c' 1, 'y' 1)",
    ]);
  });
  // rows all dropped: said so, not "no data rows"
  await assertDataError(
    () => read("a,y\n,1\n2,\n", { target: "y", numericTarget: true, missing: "drop" }),
    /^Cannot read CSV: every one of its 2 rows has a missing cell, and data\.missing "drop" leaves them all out \('a' 1, 'y' 1\)$/,
  );
});

Deno.test("data.missing 'mean' fills empty cells with the training split's mean, in every split; an empty target is refused", async () => {
  // 10 rows; the validation split holds some out: the mean is that of the training rows only
  const rows = Array.from(
    { length: 10 },
    (_, i) => `${i === 3 ? "" : i * 10},${i < 5 ? "p" : "q"},${i}`,
  );
  rows[7] = "70,,7"; // an empty category
  const text = `a,c,y\n${rows.join("\n")}\n`;
  const test = "a,c,y\n,q,1\n5,,2\n";
  await withFiles({ "f.csv": text, "t.csv": test }, async (dir) => {
    const spec: DataSpec = {
      kind: "csv",
      path: `${dir}/f.csv`,
      testPath: `${dir}/t.csv`,
      target: "y",
      categorical: ["c"],
      missing: "mean",
      validationSplit: 0.3,
      normalize: "none",
    };
    const data = await loadData(spec, 5);
    const { train, validation } = data;
    // which rows trained: their targets are their row numbers
    const trained = [...train.y];
    const known = trained.filter((row) => row !== 3).map((row) => row * 10);
    const mean = known.reduce((a, b) => a + b, 0) / known.length;
    const categories = trained.filter((row) => row !== 7);
    const p = categories.filter((row) => row < 5).length / categories.length;
    const rowOf = (ds: typeof train, row: number) => {
      const i = [...ds.y].indexOf(row);
      return i === -1 ? undefined : [...ds.x.subarray(3 * i, 3 * i + 3)];
    };
    const approx = (got: number[] | undefined, want: number[]) => {
      assert.equal(got?.length, want.length);
      got!.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-5, `${got} vs ${want}`));
    };
    approx(rowOf(train, 3) ?? rowOf(validation!, 3), [mean, 1, 0]);
    approx(rowOf(train, 7) ?? rowOf(validation!, 7), [70, p, 1 - p]);
    approx([...data.test!.x], [mean, 0, 1, 5, p, 1 - p]);
    assert.deepEqual(data.warnings?.map((w) => w.message), [
      `data.missing is "mean": 4 missing cells were filled with their feature's mean over the ` +
      "training split ('a' 2, 'c' 2)",
    ]);
    // the validation rows' values are not in it: the whole file's mean is another
    const whole = await loadData({ ...spec, validationSplit: 0 }, 5);
    assert.ok(Math.abs(whole.test!.x[0] - 420 / 9) < 1e-4, `${whole.test!.x[0]}`);
    assert.ok(Math.abs(mean - 420 / 9) > 1, `${mean}`);
    // a target is never filled
    const target = await assertDataError(
      () => loadData({ ...spec, testPath: undefined, path: `${dir}/t.csv`, target: "a" }, 1),
      /^Cannot read CSV: column 'a' has an empty cell, and it is the target$/,
    );
    assert.match(
      target.hint!,
      /data\.missing "drop" leaves rows with a missing cell out; no setting fills a target/,
    );
  });
  // a column empty in every training row has no mean
  await withFiles({ "e.csv": "a,b,y\n1,,1\n2,,2\n" }, async (dir) => {
    const error = await assertDataError(
      () =>
        loadData({
          kind: "csv",
          path: `${dir}/e.csv`,
          target: "y",
          missing: "mean",
          validationSplit: 0,
        }, 1),
      /column 'b' has no value in any of the 2 training rows/,
    );
    assert.match(error.hint!, /--set 'data\.drop=\["b"\]'/);
  });
});

Deno.test("the fingerprint is that of the encoded data: another category, or another missing setting, changes it", async () => {
  const text = "id,a,c,y\n1,1,u,1\n2,,v,2\n3,3,u,3\n4,4,v,4\n";
  await withFiles({ "f.csv": text, "g.csv": text.replace("3,3,u", "3,3,w") }, async (dir) => {
    const spec: DataSpec = {
      kind: "csv",
      path: `${dir}/f.csv`,
      target: "y",
      drop: ["id"],
      categorical: ["c"],
      missing: "drop",
      validationSplit: 0,
    };
    const base = await loadData(spec, 1);
    assert.equal((await loadData(spec, 1)).fingerprint, base.fingerprint);
    const other = await loadData({ ...spec, path: `${dir}/g.csv` }, 1);
    assert.notEqual(other.fingerprint, base.fingerprint);
    const mean = await loadData({ ...spec, missing: "mean" }, 1);
    assert.notEqual(mean.fingerprint, base.fingerprint);
    // an id's values are no part of the data: another id, the same fingerprint
    await Deno.writeTextFile(`${dir}/h.csv`, text.replaceAll(/^\d,/gm, "x,"));
    const ids = await loadData({ ...spec, path: `${dir}/h.csv` }, 1);
    assert.equal(ids.fingerprint, base.fingerprint);
  });
});

Deno.test("data.missing takes a numeric cell's NA, NaN, null, ? (and the like) as it takes an empty one; a category's text stays a category", async () => {
  const text = "a,b,c,y\n" +
    "1,2,NA,10\n" +
    "NA,2,u,20\n" + // R's NA
    "3,NaN,u,30\n" + // pandas' NaN
    "4, null ,v,40\n" + // SQL's NULL, padded
    "?,5,v,50\n" + // UCI's ?
    "6,#N/A,u,60\n" + // a spreadsheet's
    "7,8,u,None\n" + // a numeric target's None
    "9,10,v,90\n";
  const more = { target: "y", numericTarget: true, categorical: ["c"] };
  const dropped = await read(text, { ...more, missing: "drop" });
  assert.equal(dropped.n, 2);
  assert.deepEqual([...dropped.targets!], [10, 90]);
  assert.deepEqual(dropped.emptyCells, [
    { column: "a", cells: 2 },
    { column: "b", cells: 3 },
    { column: "y", cells: 1 },
  ]);
  // "NA" in the categorical column is a category of its own (a category's name, whatever it says)
  assert.deepEqual(dropped.features.map((f) => f.category), [undefined, undefined, "NA", "v"]);
  // "mean": the features' markers are filled (NaN until loadData fills them); the target's refused
  await assertDataError(
    () => read(text, { ...more, missing: "mean" }),
    /^Cannot read CSV: column 'y' has None, a missing value, and it is the target$/,
  );
  const filled = await read(text.replace("7,8,u,None\n", ""), { ...more, missing: "mean" });
  assert.equal(filled.n, 7);
  assert.equal(filled.emptyCells.reduce((n, c) => n + c.cells, 0), 5);
  // "error" (the default) names the marker as a missing value, and the settings that take it
  const refused = await assertDataError(
    () => read("a,y\n1,2\nNA,3\n", { target: "y", numericTarget: true }),
    /^Cannot read CSV: column 'a' has NA, a missing value$/,
    /f\.csv:3$/,
  );
  assert.match(refused.hint!, /or set data\.missing to "drop" \(rows with a missing cell/);
  // infinities are no missing values: refused whatever data.missing says
  await assertDataError(
    () => read("a,y\n1,2\ninf,3\n", { target: "y", numericTarget: true, missing: "drop" }),
    /has inf, a NaN or infinite value/,
  );
});
