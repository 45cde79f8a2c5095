import assert from "node:assert/strict";
import process from "node:process";
import { AnnealError } from "../errors.ts";
import { loadData } from "./load.ts";
import { featureBytes } from "./batches.ts";
import { fingerprintSplits } from "./fingerprint.ts";
import { splitValidation } from "./split.ts";
import { loadResolvedRows } from "./load_resolved.ts";
import { DataSpecSchema, type ResolvedDataSpec } from "./spec.ts";
import { assertDataError, fixture, idxBytes } from "./_test_helpers.ts";

/** Least squares for y = w0*x0 + w1*x1 (2x2 normal equations). */
function fitTwoWeights(x: Float32Array, y: Float32Array): [number, number, number] {
  let a = 0, b = 0, c = 0, d = 0, e = 0;
  for (let i = 0; i < y.length; i++) {
    const x0 = x[2 * i], x1 = x[2 * i + 1];
    a += x0 * x0, b += x0 * x1, c += x1 * x1, d += x0 * y[i], e += x1 * y[i];
  }
  const det = a * c - b * b;
  const w0 = (c * d - b * e) / det, w1 = (a * e - b * d) / det;
  let residual = 0;
  for (let i = 0; i < y.length; i++) residual += (y[i] - w0 * x[2 * i] - w1 * x[2 * i + 1]) ** 2;
  return [w0, w1, Math.sqrt(residual / y.length)];
}

Deno.test("synthetic-linear is y = 2*x0 - 3*x1 + 0.5*noise on 200 standard normal samples", async () => {
  const data = await loadData({ kind: "synthetic-linear" }, 42);
  const { train } = data;
  assert.equal(train.n, 200);
  assert.deepEqual(train.inputShape, [2]);
  assert.equal(train.targetSize, 1);
  assert.equal(train.task, "regression");
  assert.equal(data.validation, undefined);
  assert.equal(data.test, undefined);
  const [w0, w1, noise] = fitTwoWeights(train.x, train.y);
  assert.ok(Math.abs(w0 - 2) < 0.1 && Math.abs(w1 + 3) < 0.1, `${w0}, ${w1}`);
  assert.ok(Math.abs(noise - 0.5) < 0.08, `noise ${noise}`);
  const big = await loadData({ kind: "synthetic-linear", n: 4000 }, 1);
  let sum = 0, squares = 0;
  for (const v of big.train.x) sum += v, squares += v * v;
  assert.ok(Math.abs(sum / 8000) < 0.05 && Math.abs(squares / 8000 - 1) < 0.06);
});

Deno.test("same spec and seed give the same data and fingerprint; another seed does not", async () => {
  const a = await loadData({ kind: "synthetic-linear" }, 7);
  const b = await loadData({ kind: "synthetic-linear" }, 7);
  const c = await loadData({ kind: "synthetic-linear" }, 8);
  assert.deepEqual(a.train.x, b.train.x);
  assert.equal(a.fingerprint, b.fingerprint);
  assert.match(a.fingerprint, /^[0-9a-f]{64}$/);
  assert.notEqual(a.fingerprint, c.fingerprint);
});

Deno.test("limit keeps the first samples and the seeded split partitions them", async () => {
  const full = await loadData({ kind: "synthetic-linear" }, 3);
  const data = await loadData({ kind: "synthetic-linear", limit: 50, validationSplit: 0.2 }, 3);
  assert.equal(data.train.n, 40);
  assert.equal(data.validation?.n, 10);
  // Every selected sample is one of the first 50, each used exactly once.
  const firstRows = new Map<string, number>();
  for (let i = 0; i < 50; i++) {
    firstRows.set(`${full.train.x[2 * i]},${full.train.x[2 * i + 1]}`, i);
  }
  const used = new Set<number>();
  for (const ds of [data.train, data.validation!]) {
    for (let i = 0; i < ds.n; i++) {
      const row = firstRows.get(`${ds.x[2 * i]},${ds.x[2 * i + 1]}`);
      assert.ok(row !== undefined);
      assert.equal(ds.y[i], full.train.y[row]);
      used.add(row);
    }
  }
  assert.equal(used.size, 50);
  const again = await loadData({ kind: "synthetic-linear", limit: 50, validationSplit: 0.2 }, 3);
  assert.deepEqual(again.validation?.x, data.validation?.x);
  const other = await loadData({ kind: "synthetic-linear", limit: 50, validationSplit: 0.3 }, 3);
  assert.notEqual(other.fingerprint, data.fingerprint);
});

Deno.test("a split that leaves no training data is an error", async () => {
  await assertDataError(
    () => loadData({ kind: "synthetic-linear", limit: 2, validationSplit: 0.9 }, 1),
    /leaves no training data/,
  );
});

Deno.test("an invalid spec is a config error naming the field", async () => {
  try {
    await loadData({ kind: "synthetic-linear", n: -1 }, 1);
    assert.fail("expected an error");
  } catch (error) {
    assert.ok(error instanceof AnnealError);
    assert.equal(error.code, "config");
    assert.equal(error.where, "data.n");
    assert.match(error.message, /'data\.n' .*current value is -1/);
  }
  // a missing field is named (zod's message was "expected string, received undefined")
  await assert.rejects(
    () => loadData({ kind: "csv" } as unknown as Parameters<typeof loadData>[0], 1),
    (error: unknown) =>
      error instanceof AnnealError && error.where === "data.path" &&
      error.message === "Cannot load data: 'data.path' is required (a string)",
  );
});

Deno.test("csv standardization is fitted on the training split and applied to validation", async () => {
  const path = fixture("good.csv");
  const data = await loadData({ kind: "csv", path, target: "y", validationSplit: 0.25 }, 5);
  assert.equal(data.train.n, 3);
  assert.equal(data.validation?.n, 1);
  const norm = data.normalization!;
  assert.equal(norm.method, "standard");
  for (let c = 0; c < 2; c++) {
    let mean = 0, variance = 0;
    for (let i = 0; i < 3; i++) mean += data.train.x[2 * i + c] / 3;
    for (let i = 0; i < 3; i++) variance += (data.train.x[2 * i + c] - mean) ** 2 / 3;
    assert.ok(Math.abs(mean) < 1e-6 && Math.abs(variance - 1) < 1e-5);
  }
  // Raw rows are (1,2), (4,5), (7,8), (10,11) with targets 3, 6, 9, 12: x0 = y - 2.
  const raw = data.validation!.x[0] * norm.scale[0] + norm.shift[0];
  assert.ok(Math.abs(raw - (data.validation!.y[0] - 2)) < 1e-5);
  const minmax = await loadData({
    kind: "csv",
    path,
    target: "y",
    normalize: "minmax",
    validationSplit: 0,
  }, 5);
  assert.deepEqual([...minmax.train.x].map((v) => Math.round(v * 3)), [0, 0, 1, 1, 2, 2, 3, 3]);
  const none = await loadData({
    kind: "csv",
    path,
    target: "y",
    normalize: "none",
    validationSplit: 0,
  }, 5);
  assert.deepEqual([...none.train.x], [1, 2, 4, 5, 7, 8, 10, 11]);
  assert.equal(none.normalization, undefined);
});

Deno.test("a validation split asked for holds out one sample at least, where n x split rounds to 0", async () => {
  const path = fixture("good.csv"); // 4 rows
  for (const validationSplit of [0.05, 0.1, 0.25]) {
    const data = await loadData({ kind: "csv", path, target: "y", validationSplit }, 5);
    assert.equal(data.validation?.n, 1, `validationSplit ${validationSplit}`);
    assert.equal(data.train.n, 3);
  }
  const none = await loadData({ kind: "csv", path, target: "y", validationSplit: 0 }, 5);
  assert.equal(none.validation, undefined);
  assert.equal(none.train.n, 4);
  // one sample cannot be split: it says so, and how to train on it
  const error = await assertDataError(
    () => loadData({ kind: "csv", path, target: "y", limit: 1 }, 5),
    /validationSplit 0\.1 of 1 samples leaves no training data/,
  );
  assert.match(error.hint!, /0 trains on every sample, without validation/);
  // a file of one row and no limit: the hint does not send to a limit that is not set
  const oneRow = await Deno.makeTempFile({ suffix: ".csv" });
  await Deno.writeTextFile(
    oneRow,
    (await Deno.readTextFile(path)).split("\n").slice(0, 2).join("\n"),
  );
  try {
    const single = await assertDataError(
      () => loadData({ kind: "csv", path: oneRow, target: "y" }, 5),
      /validationSplit 0\.1 of 1 samples leaves no training data/,
    );
    assert.match(single.hint!, /more rows in the data file/);
    assert.doesNotMatch(single.hint!, /raise limit$/);
  } finally {
    await Deno.remove(oneRow);
  }
});

Deno.test("csv classification maps sorted labels to indices, also in the test file", async () => {
  const data = await loadData({
    kind: "csv",
    path: fixture("classes.csv"),
    testPath: fixture("classes_test.csv"),
    target: "label",
    task: "classification",
    validationSplit: 0,
    normalize: "none",
  }, 1);
  assert.deepEqual(data.train.labels, ["9", "10", "100"]);
  assert.equal(data.train.numClasses, 3);
  assert.deepEqual([...data.train.y], [1, 0, 1, 2, 0, 0]);
  assert.deepEqual([...data.test!.y], [2, 0]);
  assert.deepEqual([...data.test!.x], [6, 7]);
});

Deno.test("a csv test label the training file lacks is refused, naming it, its line and the training labels", async () => {
  const dir = await Deno.makeTempDir({ prefix: "anneal-test-labels-" });
  try {
    const test = `${dir}/test.csv`;
    // (a row left out for its empty cell before it: "data row 3", one short, and no line)
    await Deno.writeTextFile(test, "f,label\n6,100\n,9\n7,9\n8,42\n");
    const error = await assertDataError(
      () =>
        loadData({
          kind: "csv",
          path: fixture("classes.csv"),
          testPath: test,
          target: "label",
          task: "classification",
          validationSplit: 0,
          missing: "drop",
        }, 1),
      /^Cannot encode label '42': it does not occur in the training data$/,
      new RegExp(`^${test}:5$`),
    );
    assert.equal(error.hint, "use one of the training labels: 9, 10, 100");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a csv test file must have the training file's columns in its order: features are read by position", async () => {
  const dir = await Deno.makeTempDir({ prefix: "anneal-test-columns-" });
  try {
    const train = `${dir}/train.csv`;
    await Deno.writeTextFile(train, "a,b,y\n1,10,1\n2,20,2\n3,30,3\n");
    const bare = `${dir}/bare.csv`; // no header
    await Deno.writeTextFile(bare, "1,10,1\n2,20,2\n3,30,3\n");
    const load = async (text: string, header = true) => {
      const test = `${dir}/test.csv`;
      await Deno.writeTextFile(test, text);
      return loadData({
        kind: "csv",
        path: header ? train : bare,
        testPath: test,
        target: header ? "y" : -1,
        header,
        validationSplit: 0,
        normalize: "none",
      }, 1);
    };
    // the same names in another order fed b to a's weight, silently
    const swapped = await assertDataError(
      () => load("b,a,y\n10,1,1\n"),
      new RegExp(`'${dir}/test\\.csv' has the columns b, a, y, and '${dir}/train\\.csv' a, b, y`),
      new RegExp(`^${dir}/test\\.csv:1$`),
    );
    assert.match(swapped.hint!, /in that order \(features are read by position\)/);
    // other names: named as such, not as a target to choose among them
    await assertDataError(() => load("f1,f2,label\n1,2,x\n"), /has the columns f1, f2, label, and/);
    await assertDataError(() => load("1,10\n", false), /has 2 columns, and '.*bare\.csv' 3/);
    const same = await load("a,b,y\n4,40,4\n");
    assert.deepEqual([...same.test!.x], [4, 40]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a csv testPath that is the training file (by its real path) loads with a warning: the test set holds the training samples", async () => {
  await withCsv(rows(40, (i) => String(i % 3)), async (path) => {
    const dir = path.slice(0, path.lastIndexOf("/"));
    const load = (testPath: string) =>
      loadData({ kind: "csv", path, testPath, target: "y", validationSplit: 0 }, 1);
    await Deno.symlink(path, `${dir}/link.csv`);
    // the same path, another spelling of it, a link to it
    for (const testPath of [path, `${dir}/./data.csv`, `${dir}/link.csv`]) {
      const data = await load(testPath);
      assert.equal(data.warnings?.length, 1, testPath);
      const [warning] = data.warnings!;
      assert.equal(
        warning.message,
        `data.testPath is the same file as data.path ('${path}'): the test set holds the ` +
          "training samples, so its metrics say how well the model fits what it trained on, not " +
          "how it does on data it has not seen",
      );
      assert.equal(warning.where, testPath);
      assert.match(warning.hint, /^point data\.testPath at a held-out file/);
    }
    // a copy is another file (its rows are the same, but so may a real test set's be): no warning
    await Deno.copyFile(path, `${dir}/copy.csv`);
    assert.equal((await load(`${dir}/copy.csv`)).warnings, undefined);
  });
});

Deno.test("csv binary accepts two string labels and rejects three", async () => {
  const quoted = fixture("quoted.csv");
  await assertDataError(
    () => loadData({ kind: "csv", path: quoted, target: "label", task: "binary" }, 1),
    /3 distinct labels/,
  );
  const data = await loadData({
    kind: "csv",
    path: quoted,
    target: "label",
    task: "binary",
    limit: 3,
    validationSplit: 0,
  }, 1);
  assert.deepEqual(data.train.labels, ['blue "navy"', "red, dark"]);
  assert.deepEqual([...data.train.y], [1, 0, 1]);
});

Deno.test("idx loads images as [h, w, 1] in [0, 1] with labels, train and test", async () => {
  const data = await loadData({ kind: "idx", dir: fixture("idx_ok"), validationSplit: 0 }, 1);
  assert.equal(data.train.n, 6);
  assert.equal(data.test?.n, 3);
  assert.deepEqual(data.train.inputShape, [4, 4, 1]);
  assert.deepEqual(data.train.imageShape, [4, 4, 1]);
  assert.equal(data.train.numClasses, 3);
  assert.deepEqual([...data.train.y], [0, 1, 2, 0, 1, 2]);
  assert.ok(Math.abs(data.train.x[16 + 5] - 15 / 255) < 1e-7);
  // the bytes the features were read from come back from their table
  const bytes = featureBytes(data.train)!;
  assert.equal(bytes[16 + 5], 15);
  assert.ok(bytes.every((b, i) => data.train.byteTable![b] === data.train.x[i]));
  const changed = { ...data.train, x: data.train.x.map((v) => v + 1e-3) };
  assert.equal(featureBytes(changed), undefined, "features changed after loading are not bytes");
  const flat = await loadData({
    kind: "idx",
    dir: fixture("idx_ok"),
    flatten: true,
    scale: false,
    limit: 4,
    testLimit: 2,
    validationSplit: 0.25,
  }, 1);
  assert.deepEqual(flat.train.inputShape, [16]);
  assert.equal(flat.train.n + flat.validation!.n, 4);
  assert.equal(flat.test?.n, 2);
  assert.equal(flat.train.x.length, flat.train.n * 16);
  assert.ok([...flat.train.x].every((v) => Number.isInteger(v)));
  assert.deepEqual([...featureBytes(flat.train)!], [...flat.train.x]);
});

Deno.test("idx test images that are the training images' file (by its real path) load with a warning", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const name of ["train-images-idx3-ubyte", "train-labels-idx1-ubyte.gz"]) {
      await Deno.copyFile(`${fixture("idx_ok")}/${name}`, `${dir}/${name}`);
    }
    await Deno.symlink(`${dir}/train-images-idx3-ubyte`, `${dir}/link-images`);
    const load = (testImages: string) =>
      loadData({
        kind: "idx",
        dir,
        testImages,
        testLabels: "train-labels-idx1-ubyte.gz",
        validationSplit: 0,
      }, 1);
    for (
      const testImages of ["train-images-idx3-ubyte", "./train-images-idx3-ubyte", "link-images"]
    ) {
      const data = await load(testImages);
      assert.equal(data.warnings?.length, 1, testImages);
      const [warning] = data.warnings!;
      assert.equal(
        warning.message,
        `data.testImages is the same file as data.trainImages ('${dir}/train-images-idx3-ubyte'): ` +
          "the test set holds the training samples, so its metrics say how well the model fits " +
          "what it trained on, not how it does on data it has not seen",
        testImages,
      );
      assert.match(warning.hint, /^point data\.testImages and data\.testLabels at the dataset's/);
    }
    // a copy is another file: no warning
    await Deno.copyFile(`${dir}/train-images-idx3-ubyte`, `${dir}/copy-images`);
    assert.equal((await load("copy-images")).warnings, undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("idx images and labels of different counts are an error", async () => {
  await assertDataError(
    () => loadData({ kind: "idx", dir: fixture("idx_mismatch") }, 1),
    /6 images but 4 labels/,
    /train-labels-idx1-ubyte at byte 4$/,
  );
});

/**
 * The CPU time this thread has used, in seconds: the work done, which a loaded machine does not
 * stretch as it stretches the time the work takes.
 */
function threadCpuSeconds(): number {
  const { user, system } = process.threadCpuUsage();
  return (user + system) / 1e6;
}

Deno.test("full Fashion-MNIST loads 60000 + 10000 balanced 28x28 samples", async () => {
  const cpuBefore = threadCpuSeconds();
  const data = await loadData({ kind: "idx", validationSplit: 0 }, 1);
  const seconds = threadCpuSeconds() - cpuBefore;
  assert.equal(data.train.n, 60000);
  assert.equal(data.test?.n, 10000);
  assert.deepEqual(data.train.inputShape, [28, 28, 1]);
  assert.equal(data.train.numClasses, 10);
  const counts = new Array(10).fill(0);
  for (const label of data.train.y) counts[label]++;
  assert.deepEqual(counts, new Array(10).fill(6000));
  let max = 0;
  for (const v of data.train.x) if (v > max) max = v;
  assert.equal(max, 1);
  // A generous bound on the CPU time (0.55 s measured, idle or loaded), not on the time taken:
  // 0.7 s on an idle machine, 8 s with one core shared by 11 busy threads.
  assert.ok(seconds < 15, `loading took ${seconds.toFixed(2)} s of CPU time`);
});

Deno.test("classification data of one class is refused as data, naming the file and the label", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const csv = `${dir}/one_class.csv`;
    await Deno.writeTextFile(csv, "a,b,label\n1,2,cat\n3,4,cat\n5,6,cat\n");
    const spec = { kind: "csv", path: csv, target: "label", task: "classification" } as const;
    const error = await assertDataError(
      () => loadData(spec, 1),
      /one class: every row's 'label' is 'cat'/,
      /one_class\.csv$/,
    );
    assert.match(error.hint!, /'target' is the label column: a classifier needs two classes/);
    // a limit that keeps one class is named in the hint
    await Deno.writeTextFile(csv, "a,b,label\n1,2,cat\n3,4,dog\n");
    const limited = await assertDataError(() => loadData({ ...spec, limit: 1 }, 1), /one class/);
    assert.match(limited.hint!, /raise 'limit' \(now 1\): the rows it keeps hold one class/);
    // binary 0/1 labels of one value are one class too, though 0 and 1 are both its classes
    await Deno.writeTextFile(csv, "a,b,label\n1,2,0\n3,4, 0\n5,6,0.0\n");
    const binary = { ...spec, task: "binary" } as const;
    await assertDataError(() => loadData(binary, 1), /one class: every row's 'label' is '0'/);
    await Deno.writeTextFile(csv, "a,b,label\n1,2,1\n3,4,1\n5,6,0\n");
    const limitedBinary = await assertDataError(() => loadData({ ...binary, limit: 2 }, 1), /one/);
    assert.match(limitedBinary.hint!, /raise 'limit' \(now 2\)/);
    assert.equal((await loadData({ ...binary, validationSplit: 0 }, 1)).train.n, 3);
    for (const split of ["train", "t10k"]) {
      await Deno.writeFile(
        `${dir}/${split}-images-idx3-ubyte`,
        idxBytes([3, 2, 2], new Array(12).fill(7)),
      );
      await Deno.writeFile(`${dir}/${split}-labels-idx1-ubyte`, idxBytes([3], [0, 0, 0]));
    }
    await assertDataError(
      () => loadData({ kind: "idx", dir }, 1),
      /one class: every label in the train and test files is 0/,
      /train-labels-idx1-ubyte$/, // the file read, not the .gz name asked for
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("IDX training images of one class are refused, as a CSV's rows: a limit that keeps one class names it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // a file sorted by label: its first images are all of class 0
    const sorted = [0, 0, 0, 0, 1, 2, 1, 2];
    await writeIdxPair(dir, { train: [8, 2, 2], test: [4, 2, 2] }, {
      train: sorted,
      test: [0, 1, 2, 1],
    });
    const limited = await assertDataError(
      () => loadData({ kind: "idx", dir, limit: 3, validationSplit: 0 }, 1),
      /one class: every training image's label is 0 \(the first 3, data\.limit\)/,
      /train-labels-idx1-ubyte$/,
    );
    assert.match(limited.hint!, /raise 'limit' \(now 3\): the images it keeps hold one class/);
    // enough images for two classes: it loads
    const loaded = await loadData({ kind: "idx", dir, limit: 5, validationSplit: 0 }, 1);
    assert.deepEqual([...loaded.train.y], [0, 0, 0, 0, 1]);
    // a training file of one class, its test file of three: refused too
    await writeIdxPair(dir, { train: [4, 2, 2], test: [4, 2, 2] }, {
      train: [2, 2, 2, 2],
      test: [0, 1, 2, 1],
    });
    const whole = await assertDataError(
      () => loadData({ kind: "idx", dir, validationSplit: 0 }, 1),
      /one class: every training image's label is 2$/,
    );
    assert.match(whole.hint!, /'trainLabels'/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Writes train and t10k IDX files of `images` (dims with the count first) and their labels. */
async function writeIdxPair(
  dir: string,
  dims: { train: number[]; test: number[] },
  labels: { train: number[]; test: number[] },
): Promise<void> {
  for (const [split, key] of [["train", "train"], ["t10k", "test"]] as const) {
    const shape = dims[key];
    const size = shape.reduce((a, b) => a * b, 1);
    const values = Array.from({ length: size }, (_, i) => (7 * i) % 256);
    await Deno.writeFile(`${dir}/${split}-images-idx3-ubyte`, idxBytes(shape, values));
    await Deno.writeFile(
      `${dir}/${split}-labels-idx1-ubyte`,
      idxBytes([labels[key].length], labels[key]),
    );
  }
}

Deno.test("idx loads 4-D images [n, h, w, c] as channels-last samples [h, w, c], bytes and all", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const labels = { train: [0, 1, 2, 1], test: [2, 0] };
    await writeIdxPair(dir, { train: [4, 2, 3, 3], test: [2, 2, 3, 3] }, labels);
    const data = await loadData({ kind: "idx", dir, validationSplit: 0 }, 1);
    assert.deepEqual(data.train.inputShape, [2, 3, 3]);
    assert.deepEqual(data.train.imageShape, [2, 3, 3]);
    assert.deepEqual(data.test?.inputShape, [2, 3, 3]);
    assert.equal(data.train.n, 4);
    assert.equal(data.train.numClasses, 3);
    assert.deepEqual([...data.train.y], labels.train);
    // the file's bytes in its order: sample 1, row 1, column 2, channel 1 is byte 18 + 9 + 6 + 1
    const bytes = featureBytes(data.train)!;
    assert.equal(bytes.length, 4 * 18);
    assert.deepEqual([...bytes], Array.from({ length: 72 }, (_, i) => (7 * i) % 256));
    assert.ok(Math.abs(data.train.x[34] - ((7 * 34) % 256) / 255) < 1e-7);
    assert.ok(bytes.every((b, i) => data.train.byteTable![b] === data.train.x[i]));
    const flat = await loadData(
      { kind: "idx", dir, flatten: true, limit: 3, validationSplit: 0 },
      1,
    );
    assert.deepEqual(flat.train.inputShape, [18]);
    assert.deepEqual(flat.train.imageShape, [2, 3, 3]);
    assert.deepEqual([...featureBytes(flat.train)!], [...bytes.subarray(0, 3 * 18)]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("idx: a 4-D shape that reads channels first is refused until data.layout says; nhwc then loads it as it is", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // strips 2 pixels high, 64 wide, of 8 channels: as a file it is [n, 2, 64, 8], which reads
    // as [n, 2 channels, 64, 8] just as well
    const labels = { train: [0, 1, 1], test: [1, 0] };
    await writeIdxPair(dir, { train: [3, 2, 64, 8], test: [2, 2, 64, 8] }, labels);
    await assert.rejects(
      () => loadData({ kind: "idx", dir, validationSplit: 0 }, 1),
      (error: AnnealError) => {
        assert.match(error.message, /shape 3x2x64x8: channels first .* or last/);
        assert.match(error.hint!, /data\.layout: "nchw" if each image is 2 planes of 64x8/);
        assert.match(error.hint!, /"nhwc" if it is 2x64 pixels of 8 channels/);
        assert.match(error.where!, /train-images-idx3-ubyte/);
        return true;
      },
    );
    const data = await loadData({ kind: "idx", dir, validationSplit: 0, layout: "nhwc" }, 1);
    assert.deepEqual(data.train.inputShape, [2, 64, 8]);
    assert.deepEqual(data.train.imageShape, [2, 64, 8]);
    assert.deepEqual(
      [...featureBytes(data.train)!],
      Array.from({ length: 3 * 2 * 64 * 8 }, (_, i) => (7 * i) % 256),
      "the file's bytes in its order",
    );
    // any other 4-D shape is channels last by default
    const square = await Deno.makeTempDir();
    try {
      await writeIdxPair(square, { train: [3, 8, 8, 3], test: [2, 8, 8, 3] }, labels);
      const byDefault = await loadData({ kind: "idx", dir: square, validationSplit: 0 }, 1);
      const explicit = await loadData(
        { kind: "idx", dir: square, validationSplit: 0, layout: "nhwc" },
        1,
      );
      assert.deepEqual(byDefault.train.imageShape, [8, 8, 3]);
      assert.equal(explicit.fingerprint, byDefault.fingerprint);
    } finally {
      await Deno.remove(square, { recursive: true });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("idx with layout nchw reads [n, c, h, w] files (as PyTorch stores images) and turns them channels last", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const labels = { train: [0, 1, 2, 1], test: [2, 0] };
    await writeIdxPair(dir, { train: [4, 3, 2, 5], test: [2, 3, 2, 5] }, labels);
    const data = await loadData({ kind: "idx", dir, validationSplit: 0, layout: "nchw" }, 1);
    assert.deepEqual(data.train.inputShape, [2, 5, 3]);
    assert.deepEqual(data.train.imageShape, [2, 5, 3]);
    assert.deepEqual(data.test?.imageShape, [2, 5, 3]);
    assert.deepEqual([...data.train.y], labels.train);
    // sample i, row r, column k, channel c is the file's byte i*30 + c*10 + r*5 + k
    const bytes = featureBytes(data.train)!;
    const file = (i: number) => (7 * i) % 256;
    for (let i = 0; i < 4; i++) {
      for (let r = 0; r < 2; r++) {
        for (let k = 0; k < 5; k++) {
          for (let c = 0; c < 3; c++) {
            assert.equal(bytes[i * 30 + (r * 5 + k) * 3 + c], file(i * 30 + c * 10 + r * 5 + k));
          }
        }
      }
    }
    const flat = await loadData(
      { kind: "idx", dir, validationSplit: 0, layout: "nchw", flatten: true, limit: 2 },
      1,
    );
    assert.deepEqual(flat.train.inputShape, [30]);
    assert.deepEqual([...featureBytes(flat.train)!], [...bytes.subarray(0, 60)]);
    // grey [n, h, w] files have no channel axis to move: the same under either layout
    await writeIdxPair(dir, { train: [4, 3, 2], test: [2, 3, 2] }, labels);
    const [grey, greyFirst] = await Promise.all([
      loadData({ kind: "idx", dir, validationSplit: 0 }, 1),
      loadData({ kind: "idx", dir, validationSplit: 0, layout: "nchw" }, 1),
    ]);
    assert.deepEqual(greyFirst.train.imageShape, [3, 2, 1]);
    assert.equal(greyFirst.fingerprint, grey.fingerprint);
    // a mismatch is named in samples' shape, [h, w, c]
    await writeIdxPair(dir, { train: [4, 3, 4, 4], test: [2, 1, 4, 4] }, labels);
    await assertDataError(
      () => loadData({ kind: "idx", dir, layout: "nchw" }, 1),
      /train images are 4x4x3, test images 4x4x1/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("idx files anneal cannot read are refused, naming the file: other shapes, counts or value types", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const labels = { train: [0, 1], test: [1, 0] };
    await writeIdxPair(dir, { train: [2, 4, 0, 3], test: [2, 4, 4, 3] }, labels);
    await assertDataError(
      () => loadData({ kind: "idx", dir }, 1),
      /images of shape 2x4x0x3: an image has no pixels/,
      /train-images-idx3-ubyte at byte 4$/,
    );
    await assertDataError(
      () => loadData({ kind: "idx", dir, layout: "hwc" as "nhwc" }, 1),
      /data\.layout/,
    );
    // colour train images, grey test images
    await writeIdxPair(dir, { train: [2, 4, 4, 3], test: [2, 4, 4] }, labels);
    await assertDataError(
      () => loadData({ kind: "idx", dir }, 1),
      /train images are 4x4x3, test images 4x4x1/,
    );
    // a label per image
    await writeIdxPair(dir, { train: [3, 4, 4, 3], test: [2, 4, 4, 3] }, labels);
    await assertDataError(
      () => loadData({ kind: "idx", dir }, 1),
      /3 images but 2 labels/,
      /train-labels-idx1-ubyte at byte 4$/,
    );
    // images of 5 dimensions, and of floats
    await writeIdxPair(dir, { train: [2, 4, 4, 3, 1], test: [2, 4, 4, 3] }, labels);
    await assertDataError(
      () => loadData({ kind: "idx", dir }, 1),
      /expected 3 or 4 dimensions, the header says 5/,
    );
    const floats = idxBytes([2, 4, 4], new Array(32).fill(0));
    floats[2] = 0x0d;
    await Deno.writeFile(`${dir}/train-images-idx3-ubyte`, floats);
    const typed = await assertDataError(
      () => loadData({ kind: "idx", dir }, 1),
      /the values are 32-bit floats \(type 0xd\); anneal reads unsigned bytes \(type 0x08\) only/,
      /train-images-idx3-ubyte at byte 2$/,
    );
    assert.match(typed.hint!, /unsigned bytes 0\.\.255/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Writes `text` as a CSV file in a temporary directory, for `use`. */
async function withCsv(text: string, use: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "anneal-test-labels-" });
  try {
    const path = `${dir}/data.csv`;
    await Deno.writeTextFile(path, text);
    await use(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** `n` rows `i,label(i)` under the header `x,y`. */
function rows(n: number, label: (i: number) => string): string {
  return ["x,y", ...Array.from({ length: n }, (_, i) => `${i},${label(i)}`)].join("\n") + "\n";
}

Deno.test("a classifier on numbers with fractions is refused as a continuous target, naming data.task=regression; whole numbers and names stay classes", async () => {
  const csv = (path: string, task: "classification" | "binary" | "regression") =>
    loadData({ kind: "csv", path, target: "y", task, validationSplit: 0 }, 1);
  await withCsv(rows(40, (i) => (0.137 + i * 0.61).toFixed(3)), async (path) => {
    const error = await assertDataError(
      () => csv(path, "classification"),
      /^Cannot train a classifier on 'y': it holds numbers with fractions \(0\.137, 0\.747, 1\.357, \.\.\.; 40 distinct values in 40 rows\), a continuous target/,
      new RegExp(`^${path}$`),
    );
    assert.match(error.hint!, /^to predict the number, --set data\.task=regression/);
    // binary: its count of labels is refused as before, with the same fix
    const binary = await assertDataError(() => csv(path, "binary"), /40 distinct labels/);
    assert.match(binary.hint!, /continuous target: --set data\.task=regression/);
    assert.equal((await csv(path, "regression")).train.n, 40);
  });
  // a few fractions among whole numbers are fractions too (2.5 among class ids)
  await withCsv(rows(12, (i) => (i === 5 ? "2.5" : String(i % 3))), async (path) => {
    await assertDataError(() => csv(path, "classification"), /with fractions \(2\.5; 4 distinct/);
  });
  // whole numbers, written as floats too, and names load as classes, with no warning
  for (const label of [(i: number) => `${i % 4}.0`, (i: number) => ["cat", "dog", "eel"][i % 3]]) {
    await withCsv(rows(40, label), async (path) => {
      const data = await csv(path, "classification");
      assert.ok(data.train.numClasses! >= 3);
      assert.equal(data.warnings, undefined);
    });
  }
});

Deno.test("a classifier whose labels are distinct for most rows loads with a warning (a quantity or an id), not below 11 classes", async () => {
  const load = (path: string, limit?: number) =>
    loadData({ kind: "csv", path, target: "y", task: "classification", limit }, 1);
  // whole-number prices: a quantity, most of them once
  await withCsv(rows(40, (i) => String(100_000 + 7919 * ((i * 13) % 31))), async (path) => {
    const data = await load(path);
    // (and the classes of one row the split sent to validation: never trained on)
    const warnings = data.warnings!.filter((w) => !w.message.includes("not in the training split"));
    assert.equal(warnings.length, 1);
    const [warning] = warnings;
    assert.match(
      warning.message,
      /^data\.task is 'classification', and 'y' holds 31 distinct values in 40 rows: most classes have one row/,
    );
    assert.equal(warning.where, path);
    assert.match(warning.hint, /--set data\.task=regression/);
    // a smoke run on the first 10 rows of 10 classes is not read as a quantity (the class of
    // its one validation row is said to be untrained, which it is)
    assert.deepEqual(
      (await load(path, 10)).warnings?.map((w) => w.message.split(":")[0]),
      ["a class is not in the training split"],
    );
  });
  // names that are ids: the target is likely the wrong column
  await withCsv(rows(30, (i) => `user${i}`), async (path) => {
    const [warning] = (await load(path)).warnings!;
    assert.match(warning.message, /30 distinct values in 30 rows/);
    assert.equal(warning.hint, "check that 'target' names the label column");
  });
});

Deno.test("a first line of numbers read as the header is a warning naming data.header=false; numbered columns are not; text where numbers go with data.header false is refused", async () => {
  const load = (path: string, header = true) =>
    loadData({ kind: "csv", path, target: -1, header, validationSplit: 0 }, 1);
  const data = "1.5,2,3\n4,5,6\n7,8,9\n";
  await withCsv(data, async (path) => {
    const read = await load(path);
    assert.equal(read.train.n, 2, "the first row was taken as the header");
    assert.equal(read.warnings?.length, 1);
    const [warning] = read.warnings!;
    assert.equal(
      warning.message,
      "data.header is true, and the first line holds only numbers (1.5, 2, 3): it is read as " +
        "the column names, and the run trains without it",
    );
    assert.equal(warning.where, `${path}:1`);
    assert.match(warning.hint, /^if the file has no header row, --set data\.header=false/);
    const bare = await load(path, false);
    assert.equal(bare.train.n, 3);
    assert.equal(bare.warnings, undefined);
  });
  // a test file beside it: their first lines differ as names, which is what to say
  await withCsv(data, async (path) => {
    const testPath = path.replace(/data\.csv$/, "test.csv");
    await Deno.writeTextFile(testPath, "2.5,1,0\n3,4,5\n");
    const spec = { kind: "csv" as const, path, testPath, target: -1, validationSplit: 0 };
    const error = await assertDataError(() => loadData(spec, 1), /has the columns 2\.5, 1, 0/);
    assert.match(error.hint!, /first lines of both hold numbers, not names: .*data\.header=false/);
  });
  // column numbers (pandas writes 0,1,2), years, wavelengths: names
  for (const header of ["0,1,2", "1,2", "2019,2020,2021", "400,410,420,430"]) {
    const width = header.split(",").length;
    const row = Array.from({ length: width }, (_, i) => i * 1.5 + 0.25).join(",");
    await withCsv(`${header}\n${row}\n${row}\n`, async (path) => {
      assert.equal((await load(path)).warnings, undefined, header);
    });
  }
  // a header with a number in it, read as data: refused at its line, naming data.header=true
  await withCsv("x1,x2,2020,y\n1,2,3,4\n", async (path) => {
    const error = await assertDataError(
      () => load(path, false),
      /data\.header is false, and the first line holds text where numbers go \("x1", "x2", "y"\)/,
      new RegExp(`^${path}:1$`),
    );
    assert.match(error.hint!, /set data\.header=true/);
  });
});

Deno.test("a classifier on a few values with fractions that rows share (half-star ratings) loads them as classes with a warning; many such values are refused", async () => {
  const load = (path: string) =>
    loadData({ kind: "csv", path, target: "y", task: "classification", validationSplit: 0 }, 1);
  // ratings 0.5 .. 5.0 in half stars, each given by 6 rows
  await withCsv(rows(60, (i) => ((i % 10) / 2 + 0.5).toFixed(1)), async (path) => {
    const data = await load(path);
    assert.equal(data.train.numClasses, 10);
    assert.equal(data.warnings?.length, 1);
    const [warning] = data.warnings!;
    assert.match(
      warning.message,
      /^data\.task is 'classification', and 'y' holds numbers with fractions \(0\.5, 1\.5, 2\.5, \.\.\.; 10 distinct values in 60 rows\): each value is read as a class$/,
    );
    assert.match(warning.hint, /nothing to do; to predict the number, --set data\.task=regression/);
  });
  // a measurement to one decimal: more values than classes are, shared or not
  await withCsv(rows(120, (i) => (20 + (i % 40) / 10).toFixed(1)), async (path) => {
    await assertDataError(
      () => load(path),
      /with fractions \(20\.1, 20\.2, 20\.3, \.\.\.; 40 distinct values in 120 rows\)/,
    );
  });
});

Deno.test("a classifier of two rows a class is no warning: most of its classes do not have one row", async () => {
  const load = (path: string) =>
    loadData({ kind: "csv", path, target: "y", task: "classification", validationSplit: 0 }, 1);
  // few-shot: 20 classes of 2 rows each, named and numbered
  for (const label of [(i: number) => `class${i % 20}`, (i: number) => String(i % 20)]) {
    await withCsv(rows(40, label), async (path) => {
      const data = await load(path);
      assert.equal(data.train.numClasses, 20);
      assert.equal(data.warnings, undefined);
    });
  }
});

Deno.test("idx labels that leave classes out (a stray 200, labels counted from 1) load with a warning naming them; every class present, none", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const dims = { train: [4, 2, 2], test: [2, 2, 2] };
    await writeIdxPair(dir, dims, { train: [0, 1, 200, 2], test: [1, 0] });
    const stray = await loadData({ kind: "idx", dir, validationSplit: 0 }, 1);
    assert.equal(stray.train.numClasses, 201, "the labels still name the classes");
    assert.equal(stray.warnings?.length, 1);
    const [warning] = stray.warnings!;
    assert.match(
      warning.message,
      /hold 4 distinct values, the largest 200: the classifier gets 201 classes \(0 to 200\), and 197 of them \(3, 4, 5, \.\.\., 199\) no image has/,
    );
    assert.match(warning.where, /train-labels-idx1-ubyte, .*t10k-labels-idx1-ubyte$/);
    assert.match(warning.hint, /renumber them from 0/);
    // counted from 1: class 0 is missing; a class only the test file has is not among those,
    // and is said apart: the model never trains on it
    await writeIdxPair(dir, dims, { train: [1, 2, 1, 2], test: [3, 1] });
    const fromOne = await loadData({ kind: "idx", dir, validationSplit: 0 }, 1);
    assert.match(fromOne.warnings![0].message, /gets 4 classes \(0 to 3\), and 1 of them \(0\)/);
    assert.match(
      fromOne.warnings![1].message,
      /^a class is not in the training split: '3' \(1 test row\)/,
    );
    await writeIdxPair(dir, dims, { train: [0, 1, 0, 1], test: [2, 1] });
    const testOnly = await loadData({ kind: "idx", dir, validationSplit: 0 }, 1);
    assert.deepEqual(testOnly.warnings?.map((w) => w.message.split(";")[0]), [
      "a class is not in the training split: '2' (1 test row)",
    ]);
    await writeIdxPair(dir, dims, { train: [0, 1, 0, 1], test: [0, 1] });
    assert.equal((await loadData({ kind: "idx", dir, validationSplit: 0 }, 1)).warnings, undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an idx file of no images is refused naming it, not reported as a split or a batch of nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const [train, test] of [[0, 2], [2, 0]]) {
      await writeIdxPair(
        dir,
        { train: [train, 2, 2], test: [test, 2, 2] },
        { train: [0, 1].slice(0, train), test: [1, 0].slice(0, test) },
      );
      const file = train === 0 ? "train" : "t10k";
      for (const validationSplit of [0, 0.1]) {
        await assertDataError(
          () => loadData({ kind: "idx", dir, validationSplit }, 1),
          /the file holds no images \(its header's count is 0, shape 0x2x2\)/,
          new RegExp(`${file}-images-idx3-ubyte at byte 4$`),
        );
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("idx images are turned to floats in chunks when the load pauses: the same values", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // 6,000 28x28 images: 4.7M values, two chunks
    const labels = (n: number) => Array.from({ length: n }, (_, i) => i % 10);
    await writeIdxPair(dir, { train: [6000, 28, 28], test: [10, 28, 28] }, {
      train: labels(6000),
      test: labels(10),
    });
    const spec = { kind: "idx", dir, validationSplit: 0 } as const;
    let pauses = 0;
    const paused = await loadData(spec, 1, {
      pause: () => Promise.resolve(void pauses++),
    });
    // (no split: every pause is a chunk's)
    assert.ok(pauses >= 3, `${pauses} pauses`);
    const plain = await loadData(spec, 1);
    assert.deepEqual(paused.train.x, plain.train.x);
    assert.deepEqual(paused.test!.x, plain.test!.x);
    assert.equal(paused.fingerprint, plain.fingerprint);
    const last = 28 * 28 * 5999 + 3;
    assert.equal(plain.train.x[last], Math.fround(((7 * last) % 256) * (1 / 255)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("idx images split as bytes: train, validation and test hold the floats of the rows a split of the float images picks", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // 300 images of 5x7, each row its own (a hash of its position), labels 0..9
    const n = 300, size = 5 * 7;
    let h = 12345;
    const pixels = Array.from(
      { length: n * size },
      () => (h = (h * 1103515245 + 12345) >>> 0) >>> 24,
    );
    const labels = Array.from({ length: n }, (_, i) => (i * 7) % 10);
    await Deno.writeFile(`${dir}/train-images-idx3-ubyte`, idxBytes([n, 5, 7], pixels));
    await Deno.writeFile(`${dir}/train-labels-idx1-ubyte`, idxBytes([n], labels));
    await Deno.writeFile(
      `${dir}/t10k-images-idx3-ubyte`,
      idxBytes([4, 5, 7], pixels.slice(0, 4 * size)),
    );
    await Deno.writeFile(`${dir}/t10k-labels-idx1-ubyte`, idxBytes([4], [3, 1, 4, 1]));
    for (const limit of [undefined, 250]) {
      const spec = { kind: "idx", dir, limit, validationSplit: 0.3 } as const;
      // the reference: every image as floats, split afterwards
      const whole = await loadData({ ...spec, validationSplit: 0 }, 5);
      const expected = splitValidation(whole.train, 0.3, 5);
      assert.equal(whole.train.x[size + 2], Math.fround(pixels[size + 2] * (1 / 255)));
      const pauses = { count: 0 };
      for (
        const data of [
          await loadData(spec, 5),
          await loadData(spec, 5, { pause: () => Promise.resolve(void pauses.count++) }),
        ]
      ) {
        assert.equal(data.train.n, Math.round((limit ?? n) * 0.7));
        assert.deepEqual(data.train.x, expected.train.x);
        assert.deepEqual(data.train.y, expected.train.y);
        assert.deepEqual(data.validation!.x, expected.validation!.x);
        assert.deepEqual(data.validation!.y, expected.validation!.y);
        assert.deepEqual(data.test!.x, whole.test!.x);
        assert.ok(
          data.train.x instanceof Float32Array && data.validation!.x instanceof Float32Array,
        );
        const { train, validation, test } = data;
        assert.equal(data.fingerprint, await fingerprintSplits({ train, validation, test }));
      }
      assert.ok(pauses.count > 0);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadData names a misspelt data field as unknown, with the one meant, not in zod's words", async () => {
  for (
    const [spec, where, text] of [
      [{ kind: "synthetic-linear", nn: 5 }, "data.nn", /unknown field 'nn' \(did you mean 'n'\?\)/],
      // (a misspelt required field: named, not the target it leaves missing)
      [{ kind: "csv", path: "x.csv", targt: "y" }, "data.targt", /did you mean 'target'/],
      [
        { kind: "synthetic-linear", augment: { flipp: true } },
        "data.augment.flipp",
        /'augment\.flip'/,
      ],
    ] as const
  ) {
    await assert.rejects(
      () => loadData(spec as never, 0),
      (error: unknown) => {
        assert.ok(error instanceof AnnealError, String(error));
        assert.equal(error.code, "config");
        assert.equal(error.where, where, error.message);
        assert.match(error.message, text);
        assert.doesNotMatch(error.message, /Unrecognized key/);
        assert.match(error.hint ?? "", /^rename '/);
        return true;
      },
    );
  }
});

Deno.test("a limit of a raw IDX file's images keeps only those: its splits hold no view of the whole file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "anneal-idx-raw-" });
  try {
    const n = 2000;
    const images = new Uint8Array(n * 16).map((_, i) => (i * 7) & 255);
    const labels = Uint8Array.from({ length: n }, (_, i) => i % 3);
    for (const split of ["train", "t10k"]) {
      await Deno.writeFile(`${dir}/${split}-images-idx3-ubyte`, idxBytes([n, 4, 4], images));
      await Deno.writeFile(`${dir}/${split}-labels-idx1-ubyte`, idxBytes([n], labels));
    }
    // (split or not: a split copies a few rows out of a larger buffer too)
    for (const validationSplit of [0.2, 0]) {
      const spec = { kind: "idx" as const, dir, flatten: true, limit: 100, validationSplit };
      const rows = await loadResolvedRows(DataSpecSchema.parse(spec) as ResolvedDataSpec, 5);
      const floats = await loadData(spec, 5);
      assert.equal(rows.train.n, validationSplit ? 80 : 100);
      for (const ds of [rows.train, rows.validation]) {
        if (!ds) continue;
        assert.ok(ds.x.buffer.byteLength <= 100 * 16, `${ds.x.buffer.byteLength} bytes kept`);
      }
      // the same rows as the floats' load
      const table = rows.train.byteTable!;
      assert.deepEqual(Array.from(rows.train.x, (b) => table[b]), Array.from(floats.train.x));
      assert.equal(rows.fingerprint, floats.fingerprint);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a class the split sends to validation alone is a warning: the model never trains on it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "anneal-rare-class-" });
  try {
    const path = `${dir}/rare.csv`;
    const rows = Array.from({ length: 40 }, (_, i) => `${i},${i % 2 ? "a" : "b"}`);
    rows.splice(17, 0, "100,rare");
    await Deno.writeTextFile(path, `f,label\n${rows.join("\n")}\n`);
    const spec = {
      kind: "csv" as const,
      path,
      target: "label",
      task: "classification" as const,
      validationSplit: 0.3,
    };
    let warned = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const data = await loadData(spec, seed);
      const rare = data.train.labels!.indexOf("rare");
      const trained = [...data.train.y].includes(rare);
      const warning = data.warnings?.find((w) => w.message.includes("not in the training split"));
      assert.equal(warning !== undefined, !trained, `seed ${seed}`);
      if (!warning) continue;
      warned++;
      assert.equal(
        warning.message,
        "a class is not in the training split: 'rare' (1 validation row); the model is never " +
          "trained on it, and its rows count against it (diagnose may read it as overfitting)",
      );
      assert.equal(warning.where, path);
      assert.match(warning.hint, /data\.stratify=true holds out a share of each class/);
      // stratified, the rare class's one row stays in training, and the common ones keep their
      // shares in both splits
      const stratified = await loadData({ ...spec, stratify: true }, seed);
      assert.ok([...stratified.train.y].includes(stratified.train.labels!.indexOf("rare")));
      assert.equal(stratified.warnings, undefined);
      const shares = (ds: { y: Float32Array; n: number }, label: number) =>
        [...ds.y].filter((y) => y === label).length / ds.n;
      const a = stratified.train.labels!.indexOf("a");
      assert.ok(Math.abs(shares(stratified.train, a) - shares(stratified.validation!, a)) < 0.1);
    }
    assert.ok(warned > 0 && warned < 12, `${warned} of 12 seeds sent 'rare' to validation`);
    // a binary task's alike (40 of one label, one of the other: it said nothing)
    const binary = `${dir}/binary.csv`;
    const zeros = Array.from({ length: 40 }, (_, i) => `${i},0`);
    await Deno.writeTextFile(binary, `f,label\n${[...zeros, "100,1"].join("\n")}\n`);
    const warnings = await Promise.all(
      Array.from({ length: 12 }, (_, i) => i + 1).map(async (seed) => {
        const data = await loadData(
          { kind: "csv", path: binary, target: "label", task: "binary", validationSplit: 0.5 },
          seed,
        );
        const untrained = ![...data.train.y].includes(1);
        const warning = data.warnings?.find((w) => w.message.includes("not in the training"));
        assert.equal(warning !== undefined, untrained, `seed ${seed}`);
        return warning;
      }),
    );
    assert.ok(
      warnings.some((w) => w?.message.startsWith("a class is not in the training split: '1'")),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("idx data without a test split: testImages and testLabels null read the training files alone; one null alone is refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeIdxPair(dir, { train: [4, 2, 2], test: [2, 2, 2] }, {
      train: [0, 1, 0, 1],
      test: [1, 0],
    });
    // the test files gone: it looked for t10k-* and failed, and testLimit 0 was refused
    await Deno.remove(`${dir}/t10k-images-idx3-ubyte`);
    await Deno.remove(`${dir}/t10k-labels-idx1-ubyte`);
    await assertDataError(() => loadData({ kind: "idx", dir }, 1), /Cannot open IDX file/);
    const data = await loadData(
      { kind: "idx", dir, testImages: null, testLabels: null, validationSplit: 0 },
      1,
    );
    assert.equal(data.train.n, 4);
    assert.equal(data.train.numClasses, 2);
    assert.equal(data.test, undefined);
    assert.throws(
      () => DataSpecSchema.parse({ kind: "idx", dir, testImages: null }),
      /testImages and testLabels are both files, or both null/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
