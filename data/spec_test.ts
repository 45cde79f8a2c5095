import assert from "node:assert/strict";
import { AugmentSchema, DataSpecSchema } from "./spec.ts";
import { AUGMENT_FIELDS } from "./augment.ts";
import { loadData } from "./load.ts";
import { AnnealError } from "../errors.ts";

Deno.test("synthetic-linear defaults to the seed experiment, trained on all samples", () => {
  const spec = DataSpecSchema.parse({ kind: "synthetic-linear" });
  assert.deepEqual(spec, {
    kind: "synthetic-linear",
    n: 200,
    noise: 0.5,
    validationSplit: 0,
    shuffle: true,
    dropLast: false,
  });
});

Deno.test("csv and idx hold out 10% for validation by default", () => {
  const csv = DataSpecSchema.parse({ kind: "csv", path: "a.csv", target: "y" });
  assert.equal(csv.validationSplit, 0.1);
  assert.equal(csv.kind === "csv" && csv.normalize, "standard");
  assert.equal(csv.kind === "csv" && csv.task, "regression");
  const idx = DataSpecSchema.parse({ kind: "idx" });
  assert.equal(idx.validationSplit, 0.1);
  assert.equal(idx.kind === "idx" && idx.dir, "/usr/share/datasets/fashion-mnist");
});

Deno.test("unknown keys and unknown kinds are rejected", () => {
  assert.equal(DataSpecSchema.safeParse({ kind: "synthetic-linear", nn: 3 }).success, false);
  assert.equal(DataSpecSchema.safeParse({ kind: "parquet" }).success, false);
  assert.equal(DataSpecSchema.safeParse({ kind: "idx", validationSplit: 1 }).success, false);
  assert.equal(
    DataSpecSchema.safeParse({ kind: "csv", path: "a", target: 0, delimiter: '"' }).success,
    false,
  );
});

Deno.test("augment is accepted for images and rejected for other data", () => {
  const idx = DataSpecSchema.parse({ kind: "idx", augment: { flip: true } });
  assert.deepEqual(idx.augment, { flip: true, cropPadding: 0, rotateDegrees: 0, noiseStd: 0 });
  const bad = DataSpecSchema.safeParse({ kind: "synthetic-linear", augment: { flip: true } });
  assert.equal(bad.success, false);
  assert.deepEqual(bad.error?.issues[0].path, ["augment"]);
});

Deno.test("augment.ts names the fields AugmentSchema has", () => {
  // (makeBatch refuses the others with them, without loading zod in the data loader's Worker)
  assert.deepEqual([...AUGMENT_FIELDS].sort(), Object.keys(AugmentSchema.shape).sort());
});

Deno.test("stratify is for classifiers: a regression's, or synthetic-linear's, is refused naming the task", () => {
  assert.throws(
    () => DataSpecSchema.parse({ kind: "csv", path: "a.csv", target: "y", stratify: true }),
    /stratify holds out a share of each class, and task 'regression' has no classes/,
  );
  assert.throws(
    () => DataSpecSchema.parse({ kind: "synthetic-linear", stratify: true }),
    /kind 'synthetic-linear' has no classes/,
  );
  const csv = DataSpecSchema.parse({
    kind: "csv",
    path: "a.csv",
    target: "y",
    task: "binary",
    stratify: true,
  });
  assert.equal(csv.stratify, true);
  assert.equal(DataSpecSchema.parse({ kind: "idx", stratify: true }).stratify, true);
});

Deno.test("a delimiter beyond ASCII is refused as a config error, not read as the byte it ends in", async () => {
  // ('§' in a UTF-8 file was refused as Latin-1 text, with an iconv line to convert it; '，' was
  // a first line of one field)
  for (const delimiter of ["§", "¦", "，"]) {
    const parsed = DataSpecSchema.safeParse({ kind: "csv", path: "a.csv", target: "y", delimiter });
    assert.equal(parsed.success, false, delimiter);
    assert.deepEqual(parsed.error?.issues[0].path, ["delimiter"]);
    assert.match(parsed.error!.issues[0].message, /delimiter must be an ASCII character/);
  }
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/a.csv`;
    await Deno.writeTextFile(path, "a§b§y\n1§2§3\n4§5§6\n");
    await assert.rejects(
      () => loadData({ kind: "csv", path, target: "y", delimiter: "§" }, 1),
      (error: unknown) => {
        assert.ok(error instanceof AnnealError);
        assert.equal(error.code, "config");
        assert.equal(error.where, "data.delimiter");
        assert.match(error.message, /ASCII/);
        return true;
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  for (const delimiter of [",", ";", "\t", "|", " "]) {
    assert.ok(
      DataSpecSchema.safeParse({ kind: "csv", path: "a.csv", target: "y", delimiter }).success,
    );
  }
});
