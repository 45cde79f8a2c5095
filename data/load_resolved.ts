/**
 * The loading behind `loadData` (load.ts), from a resolved data spec: train / validation / test
 * splits of plain typed arrays plus a fingerprint of exactly those bytes. It does not import the
 * spec's schema, so the data loader actor's Worker need not load zod.
 *
 * @module
 */

import { AnnealError } from "../errors.ts";
import { bytesToFloats } from "./batches.ts";
import { type CsvTable, emptyCellsText, fileChunks, readCsv } from "./csv.ts";
import type { CsvFeature } from "./csv_columns.ts";
import { fingerprintSplits } from "./fingerprint.ts";
import { readIdxFile } from "./idx.ts";
import { checkClassLabels, labelEncoding } from "./labels.ts";
import type { ResolvedCsvSpec, ResolvedDataSpec, ResolvedIdxSpec } from "./spec.ts";
import { idxFilePath } from "./paths.ts";
import {
  applyNormalization,
  featureMeans,
  featuresAreBytes,
  fillNaN,
  fillsHalfItsBuffer,
  fitNormalization,
  type Rows,
  splitValidation,
  splitValidationInChunks,
  takeFirst,
} from "./split.ts";
import { syntheticLinear, syntheticLinearInChunks } from "./synthetic.ts";
import { dropFlag } from "./csv_number.ts";
import { counted } from "../number_format.ts";
import type { Dataset, DataWarning, LoadedData, Normalization } from "./types.ts";

interface Sources {
  /** (An IDX file's images stay bytes: see {@linkcode asFloats}, {@linkcode loadResolvedRows}.) */
  pool: Rows;
  test?: Rows;
  warnings?: DataWarning[];
  /** A CSV's features (one-hot ones are not normalized; NaN ones are filled, `missing` "mean"). */
  features?: CsvFeature[];
}

async function idxSplit(
  spec: ResolvedIdxSpec,
  imagesName: string,
  labelsName: string,
  limit: number | undefined,
  pause?: () => Promise<void>,
): Promise<
  { ds: Rows; maxLabel: number; seen: Uint8Array; labelsPath: string; imagesPath: string }
> {
  const imagesPath = idxFilePath(spec.dir, imagesName);
  const labelsPath = idxFilePath(spec.dir, labelsName);
  // [n, height, width] (grey), or with a channel axis, last or first as `layout` says
  // (the first `limit` images only; every label, whose classes set the model's outputs)
  const images = await readIdxFile(imagesPath, [3, 4], pause, limit);
  const labels = await readIdxFile(labelsPath, 1, pause);
  if (images.dims[0] !== labels.dims[0]) {
    throw new AnnealError(
      "data",
      `Cannot read IDX data: ${images.dims[0]} images but ${labels.dims[0]} labels`,
      {
        where: `${labels.path} at byte 4`,
        hint: `pair '${images.path}' with its own labels file (train with train, t10k with t10k)`,
      },
    );
  }
  checkImageShape(images.dims, images.path, spec.layout);
  const count = images.dims[0];
  if (count === 0) {
    throw new AnnealError(
      "data",
      `Cannot read IDX images: the file holds no images (its header's count is 0, shape ${
        images.dims.join("x")
      })`,
      {
        where: `${images.path} at byte 4`,
        hint: "point the spec at the dataset's image files; the file was written from an empty " +
          "array",
      },
    );
  }
  const [height, width, channels] = imageShapeOf(images.dims, spec.layout ?? "nhwc");
  const n = Math.min(count, limit ?? count);
  const features = height * width * channels;
  const factor = spec.scale ? 1 / 255 : 1;
  const byteTable = new Float32Array(256);
  for (let b = 0; b < 256; b++) byteTable[b] = b * factor;
  let pixels = images.data.subarray(0, n * features);
  // (a limit's images out of a raw file's bytes: copied out, so that the rest of the file is not
  // kept alive by them for the run; a gzipped file's bytes are only those asked for)
  if (!fillsHalfItsBuffer(pixels)) pixels = pixels.slice();
  if (spec.layout === "nchw" && images.dims.length === 4) {
    pixels = channelsLast(pixels, n, [channels, height, width]);
  }
  const y = Float32Array.from(labels.data.subarray(0, n));
  let maxLabel = 0;
  const seen = new Uint8Array(256);
  for (const label of labels.data) {
    seen[label] = 1;
    if (label > maxLabel) maxLabel = label;
  }
  const ds: Rows = {
    x: pixels,
    y,
    n,
    inputShape: spec.flatten ? [features] : [height, width, channels],
    targetSize: 1,
    task: "classification",
    imageShape: [height, width, channels],
    byteTable,
  };
  return { ds, maxLabel, seen, labelsPath: labels.path, imagesPath: images.path };
}

/**
 * `ds` with its features as floats: where they are still bytes (IDX images), each byte's
 * `byteTable` entry. IDX images are split as bytes and turned to floats after: turned first, the
 * whole file's floats were made and then copied row by row into the splits, at four times the
 * bytes' memory (BENCHMARKS.md, "Forty-sixth session").
 */
async function asFloats(ds: Rows, pause: (() => Promise<void>) | undefined): Promise<Dataset> {
  if (!featuresAreBytes(ds)) return ds;
  return { ...ds, x: await floatsOf(ds.x, ds.byteTable, pause) };
}

/** `ds`, which holds floats (a CSV's or synthetic data's splits are never bytes, nor any split
 * {@linkcode loadResolvedData} keeps). */
function floatRows(ds: Rows): Dataset {
  if (featuresAreBytes(ds)) {
    throw new AnnealError(
      "internal",
      "Cannot load data: a split holds bytes where floats were due",
      {
        hint: "only IDX images are kept as bytes, by loadResolvedRows",
      },
    );
  }
  return ds;
}

/** Values turned to floats between two pauses of {@linkcode floatsOf}. */
const FLOATS_CHUNK = 1 << 22;

/**
 * {@linkcode bytesToFloats}, pausing every {@linkcode FLOATS_CHUNK} values where `pause` is given
 * (a data loader's Worker answers its pings meanwhile: 196 MB of images held it 0.3-1.2 s).
 */
async function floatsOf(
  bytes: Uint8Array,
  table: Float32Array,
  pause: (() => Promise<void>) | undefined,
): Promise<Float32Array> {
  if (!pause) return bytesToFloats(bytes, table);
  const x = new Float32Array(bytes.length);
  for (let from = 0; from < bytes.length; from += FLOATS_CHUNK) {
    const to = Math.min(bytes.length, from + FLOATS_CHUNK);
    bytesToFloats(bytes.subarray(from, to), table, x.subarray(from, to));
    await pause();
  }
  return x;
}

/**
 * The samples' shape `[height, width, channels]` of an images file's dimensions: `[n, h, w]` is
 * grey (one channel) whatever the layout; a 4-D file is `[n, h, w, c]` (`nhwc`, channels last) or
 * `[n, c, h, w]` (`nchw`, channels first). IDX has no flag for it: the config's `layout` says.
 */
export function imageShapeOf(dims: number[], layout: "nhwc" | "nchw"): [number, number, number] {
  if (dims.length === 3) return [dims[1], dims[2], 1];
  return layout === "nchw" ? [dims[2], dims[3], dims[1]] : [dims[1], dims[2], dims[3]];
}

/**
 * `n` images stored channels first (`[c, h, w]` each) as channels last (`[h, w, c]` each), the
 * samples anneal trains on.
 *
 * @example
 * ```ts
 * import { channelsLast } from "./load_resolved.ts";
 * // one 1x2 image of 2 channels: red [1, 2], green [3, 4]
 * const out = channelsLast(Uint8Array.of(1, 2, 3, 4), 1, [2, 1, 2]);
 * console.assert(out.join() === "1,3,2,4");
 * ```
 */
export function channelsLast(
  bytes: Uint8Array,
  n: number,
  [channels, height, width]: [number, number, number],
): Uint8Array {
  const plane = height * width;
  const size = plane * channels;
  const out = new Uint8Array(n * size);
  for (let i = 0; i < n; i++) {
    const from = i * size;
    for (let c = 0; c < channels; c++) {
      const source = from + c * plane;
      for (let p = 0; p < plane; p++) out[from + p * channels + c] = bytes[source + p];
    }
  }
  return out;
}

/**
 * Refuses image dimensions anneal would misread: an image of no pixels, and, where the config
 * does not say how the axes are ordered, a 4-D shape that reads more naturally channels first
 * ([n, 1..4, h, w] with w > 4, as PyTorch's [n, 3, 32, 32]). Whether a 4-D file's channels come
 * first or last cannot be told from its shape (short images of many channels are real too), so
 * such a file is read only once `data.layout` says; any other 4-D shape is `nhwc` by default.
 */
function checkImageShape(dims: number[], path: string, layout: "nhwc" | "nchw" | undefined): void {
  const shape = dims.join("x");
  if (layout === undefined && dims.length === 4 && dims[1] <= 4 && dims[3] > 4) {
    const [n, a, b, c] = dims;
    throw new AnnealError(
      "data",
      `IDX images of shape ${shape}: channels first ([${n}, ${a} channels, ${b}, ${c}]) or last ` +
        `([${n}, ${a}, ${b}, ${c} channels])? IDX does not record it, and this shape reads more ` +
        "naturally channels first",
      {
        where: path,
        hint: `set data.layout: "nchw" if each image is ${a} planes of ${b}x${c} (as PyTorch ` +
          `stores images), or "nhwc" if it is ${a}x${b} pixels of ${c} channels`,
      },
    );
  }
  if (dims.slice(1).includes(0)) {
    throw new AnnealError(
      "data",
      `Cannot read IDX images of shape ${shape}: an image has no pixels`,
      {
        where: `${path} at byte 4`,
        hint: "point the spec at the dataset's image files",
      },
    );
  }
}

async function loadIdx(spec: ResolvedIdxSpec, pause?: () => Promise<void>): Promise<Sources> {
  const train = await idxSplit(spec, spec.trainImages, spec.trainLabels, spec.limit, pause);
  // (testImages and testLabels null: no test split, the training files alone)
  const test = spec.testImages !== null && spec.testLabels !== null
    ? await idxSplit(spec, spec.testImages, spec.testLabels, spec.testLimit, pause)
    : undefined;
  if (test && train.ds.imageShape!.join() !== test.ds.imageShape!.join()) {
    throw new AnnealError(
      "data",
      `Cannot read IDX data: train images are ${train.ds.imageShape!.join("x")}, ` +
        `test images ${test.ds.imageShape!.join("x")}`,
      { where: test.imagesPath, hint: "use train and test files of one dataset" },
    );
  }
  const numClasses = Math.max(train.maxLabel, test?.maxLabel ?? 0) + 1;
  if (numClasses < 2) {
    throw oneClass(
      `every label in the train${test ? " and test" : ""} file${test ? "s" : ""} is 0`,
      train.labelsPath,
      `point 'trainLabels'${test ? " and 'testLabels'" : ""} at the dataset's label files`,
    );
  }
  // the training rows kept must hold two classes, as a CSV's must: the first `limit` images of a
  // file sorted by label are one class, and the run trained on it without a word
  const first = train.ds.y[0];
  if (train.ds.y.every((label) => label === first)) {
    throw oneClass(
      `every training image's label is ${first}` +
        (spec.limit === undefined ? "" : ` (the first ${train.ds.n}, data.limit)`),
      train.labelsPath,
      spec.limit === undefined
        ? "point 'trainLabels' at the dataset's training labels: a classifier needs two classes " +
          "or more"
        : `raise 'limit' (now ${spec.limit}): the images it keeps hold one class (the file is ` +
          "likely sorted by label)",
    );
  }
  const unused = test
    ? missingClasses(numClasses, train.seen, test.seen)
    : missingClasses(numClasses, train.seen);
  const warnings: DataWarning[] = unused
    ? [unused(test ? [train.labelsPath, test.labelsPath] : [train.labelsPath])]
    : [];
  const same = test && await testIsTraining(
    ["trainImages", train.imagesPath],
    ["testImages", test.imagesPath],
  );
  if (same) {
    warnings.push({
      ...same,
      hint: "point data.testImages and data.testLabels at the dataset's test files " +
        "(t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz for MNIST and Fashion-MNIST)",
    });
  }
  return {
    pool: { ...train.ds, numClasses },
    ...(test && { test: { ...test.ds, numClasses } }),
    ...(warnings.length > 0 && { warnings }),
  };
}

/**
 * IDX labels name no classes: a classifier gets one output a value from 0 to the largest label.
 * Values no label has among them (a stray 200 among 0..9, labels counted from 1) are outputs no
 * image trains, which a file of another dataset or a damaged one most often gives: a warning.
 */
function missingClasses(
  numClasses: number,
  ...seen: Uint8Array[]
): ((files: string[]) => DataWarning) | undefined {
  const missing: number[] = [];
  for (let label = 0; label < numClasses; label++) {
    if (!seen.some((labels) => labels[label] === 1)) missing.push(label);
  }
  if (missing.length === 0) return undefined;
  const some = missing.length > 4
    ? `${missing.slice(0, 3).join(", ")}, ..., ${missing.at(-1)}`
    : missing.join(", ");
  const distinct = numClasses - missing.length;
  return (files) => ({
    message:
      `the IDX labels hold ${distinct} distinct values, the largest ${
        numClasses - 1
      }: the classifier gets ${numClasses} classes (0 to ${numClasses - 1}), and ` +
      `${missing.length} of them (${some}) no image has`,
    where: files.join(", "),
    hint: "check the label files (labels are class indices from 0); a label file of another " +
      "dataset, or labels counted from 1, give such classes: renumber them from 0",
  });
}

/** A classifier needs two classes: with one, there is nothing to learn (and tfjs's oneHot fails). */
function oneClass(found: string, where: string, hint: string): AnnealError {
  return new AnnealError(
    "data",
    `Cannot train a classifier on one class: ${found}`,
    { where, hint },
  );
}

/**
 * Whether two paths name one file (by their real paths: `./a.csv` and `a.csv`, a link and its
 * target); false where either cannot be resolved.
 */
async function sameFile(a: string, b: string): Promise<boolean> {
  try {
    return await Deno.realPath(a) === await Deno.realPath(b);
  } catch {
    return false;
  }
}

/**
 * The warning's message and place where a test file (`[field, path]`) is the training file
 * itself: the test set then holds the training samples. Undefined where they are two files.
 */
async function testIsTraining(
  [trainField, trainPath]: [string, string],
  [testField, testPath]: [string, string],
): Promise<{ message: string; where: string } | undefined> {
  if (!await sameFile(trainPath, testPath)) return undefined;
  return {
    message: `data.${testField} is the same file as data.${trainField} ('${trainPath}'): the ` +
      "test set holds the training samples, so its metrics say how well the model fits what it " +
      "trained on, not how it does on data it has not seen",
    where: testPath,
  };
}

async function csvDataset(
  spec: ResolvedCsvSpec,
  path: string,
  limit: number | undefined,
  columnsOf?: { file: string; columns: string[]; categories: Map<number, string[]> },
) {
  const table = await readCsv(fileChunks(path), path, {
    header: spec.header,
    delimiter: spec.delimiter,
    target: spec.target,
    numericTarget: spec.task === "regression",
    limit,
    columnsOf,
    drop: spec.drop,
    categorical: spec.categorical,
    missing: spec.missing,
  });
  if (table.droppedRows > 0) table.warnings.push(droppedRows(table, path, spec.missing));
  return table;
}

/** The rows `missing` "drop" left out of a file, counted, with their empty cells by column. */
function droppedRows(table: CsvTable, path: string, missing: string): DataWarning {
  const kept = table.n;
  const dropped = table.droppedRows;
  return {
    message: `data.missing is "${missing}": ${dropped} of the ${
      kept + dropped
    } rows of '${path}' have a missing cell and were left out, ${kept} kept (missing cells: ${
      emptyCellsText(table.emptyCells)
    })`,
    where: path,
    hint: 'fill the cells in the file, or set data.missing to "mean" to fill a feature\'s ' +
      "missing cells with its mean over the training split (a target's are never filled); a " +
      "column that is mostly missing is better left out with data.drop",
  };
}

async function loadCsv(spec: ResolvedCsvSpec): Promise<Sources> {
  const table = await csvDataset(spec, spec.path, spec.limit);
  // the test file has the training file's columns, in its order, and its categories
  const testTable = spec.testPath === undefined
    ? undefined
    : await csvDataset(spec, spec.testPath, spec.testLimit, {
      file: spec.path,
      columns: table.columns,
      categories: table.categories,
    });
  const features = table.features;
  const base = {
    inputShape: [features.length],
    targetSize: 1,
    task: spec.task,
  };
  const warnings = [...table.warnings, ...(testTable?.warnings ?? [])];
  if (spec.testPath !== undefined) {
    const same = await testIsTraining(["path", spec.path], ["testPath", spec.testPath]);
    if (same) {
      warnings.push({
        ...same,
        hint: "point data.testPath at a held-out file with the same columns, or leave it out " +
          "(the validation split is then the run's held-out measure)",
      });
    }
  }
  if (spec.task === "regression") {
    return {
      pool: { ...base, x: table.x, y: table.targets!, n: table.n },
      test: testTable && { ...base, x: testTable.x, y: testTable.targets!, n: testTable.n },
      warnings,
      features,
    };
  }
  if (spec.task === "classification") {
    const column = table.columns[table.targetIndex];
    const labels = checkClassLabels(table.labels!, { file: spec.path, column });
    if (labels) warnings.push(labels);
  }
  const encoding = labelEncoding(table.labels!, spec.task, spec.path);
  const y = encoding.encode(table.labels!, spec.path, table.labelLines);
  // binary 0/1 labels are two classes whichever the rows hold: a file of 0s only is one class
  const present = spec.task === "binary" ? new Set(y).size : encoding.classes.length;
  if (present < 2) {
    throw oneClass(
      `every row's '${table.columns[table.targetIndex]}' is '${table.labels![0]}'`,
      spec.path,
      spec.limit === undefined
        ? "check that 'target' is the label column: a classifier needs two classes or more"
        : `raise 'limit' (now ${spec.limit}): the rows it keeps hold one class`,
    );
  }
  const extra = spec.task === "classification"
    ? { numClasses: encoding.classes.length, labels: encoding.classes }
    : { labels: encoding.classes };
  return {
    pool: {
      ...base,
      ...extra,
      x: table.x,
      y,
      n: table.n,
    },
    test: testTable && {
      ...base,
      ...extra,
      x: testTable.x,
      y: encoding.encode(testTable.labels!, spec.testPath!, testTable.labelLines),
      n: testTable.n,
    },
    warnings,
    features,
  };
}

/**
 * Fills the empty cells of a CSV's features (NaN, `missing` "mean") with each feature's mean over
 * the training split, in every split: a one-hot feature's is its category's share of the
 * training rows that have one. A feature of no value in the training split is refused; the
 * cells filled are a warning, counted by column.
 */
function fillMissing(
  train: Dataset,
  others: (Dataset | undefined)[],
  features: CsvFeature[],
  path: string,
): DataWarning | undefined {
  const means = featureMeans(train);
  const empty = means.findIndex((mean) => mean !== mean);
  if (empty !== -1) {
    const { columnName } = features[empty];
    throw new AnnealError(
      "data",
      `Cannot fill missing cells with the training mean (data.missing "mean"): column ` +
        `'${columnName}' has no value in any of the ${train.n} training rows`,
      {
        where: path,
        hint: `leave the column out with ${
          dropFlag(columnName)
        }: a column of no values tells the model nothing`,
      },
    );
  }
  const filled = new Array<number>(features.length).fill(0);
  for (const ds of [train, ...others]) {
    if (ds) fillNaN(ds, means).forEach((count, i) => filled[i] += count);
  }
  // a categorical column's empty cell is NaN in each of its features: counted once
  const cells = new Map<string, number>();
  features.forEach(({ columnName, category }, i) => {
    const first = i === 0 || features[i - 1].columnName !== columnName || category === undefined;
    if (first && filled[i] > 0) cells.set(columnName, (cells.get(columnName) ?? 0) + filled[i]);
  });
  if (cells.size === 0) return undefined;
  const total = [...cells.values()].reduce((a, b) => a + b, 0);
  return {
    message: `data.missing is "mean": ${
      total === 1
        ? "1 missing cell was filled with its"
        : `${total} missing cells were filled with their`
    } feature's mean over the training split (${
      emptyCellsText([...cells].map(([column, count]) => ({ column, cells: count })))
    })`,
    where: path,
    hint: "fill the cells in the file where the values are known; to leave rows with a missing " +
      'cell out instead, set data.missing to "drop"',
  };
}

/** How `loadData` (load.ts) and {@linkcode loadResolvedData} run. */
export interface LoadOptions {
  /**
   * Awaited between chunks of a long step (generating synthetic-linear samples, turning IDX
   * images to floats, the validation split, the fingerprint), so that a Worker loading the data
   * answers its messages meanwhile; it may throw, to give the load up.
   */
  pause?: () => Promise<void>;
}

/** The data's file, as a warning names it: the CSV, or the IDX training labels. */
function whereOf(resolved: ResolvedDataSpec): string {
  if (resolved.kind === "csv") return resolved.path;
  if (resolved.kind === "idx") return idxFilePath(resolved.dir, resolved.trainLabels);
  return "data";
}

/**
 * A classifier's rows per class (index order; a binary task's 0 and 1): the training split's,
 * which the data loader tells the trainer (`classCounts`, which `diagnose` reads the labels'
 * entropy off) and {@linkcode classesNotTrained} reads the untrained classes off. Undefined for
 * regression.
 */
export function classCounts(
  ds: { task: string; numClasses?: number; n: number; y: Float32Array },
): number[] | undefined {
  const classes = ds.task === "binary" ? 2 : ds.numClasses;
  if (ds.task === "regression" || classes === undefined) return undefined;
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < ds.n; i++) {
    const label = ds.y[i];
    if (label >= 0 && label < classes) counts[label]++;
  }
  return counts;
}

/**
 * A regression's training targets' variance, each target's (over the rows, as numpy's `var`)
 * averaged over the targets: the mse a model that predicts their mean for every row has on
 * them, the level `diagnose` reads a model that learnt nothing of its features at. Undefined for
 * a classifier, an empty split, or targets that are not all finite.
 *
 * @example
 * ```ts
 * import { targetVariance } from "./load_resolved.ts";
 * const y = Float32Array.from([1, 10, 3, 10]); // two rows of two targets
 * console.assert(targetVariance({ task: "regression", n: 2, targetSize: 2, y }) === 0.5);
 * ```
 */
export function targetVariance(
  ds: { task: string; n: number; targetSize: number; y: Float32Array },
): number | undefined {
  if (ds.task !== "regression" || !(ds.n > 0) || !(ds.targetSize > 0)) return undefined;
  return mseOfTrainingMean(ds, ds);
}

/**
 * The mse, averaged over the targets, of predicting `train`'s mean of each target for every row
 * of `rows` (its variance where `rows` is `train`); undefined where it is not finite. Two passes
 * in float64: the mean, then the squares about it (no cancellation at 1e6 + noise).
 */
function mseOfTrainingMean(
  train: { n: number; targetSize: number; y: Float32Array },
  rows: { n: number; y: Float32Array },
): number | undefined {
  const size = train.targetSize;
  let sum = 0;
  for (let t = 0; t < size; t++) {
    let mean = 0;
    for (let i = 0; i < train.n; i++) mean += train.y[i * size + t];
    mean /= train.n;
    let squares = 0;
    for (let i = 0; i < rows.n; i++) squares += (rows.y[i * size + t] - mean) ** 2;
    sum += squares / rows.n;
  }
  const loss = sum / size;
  return Number.isFinite(loss) ? loss : undefined;
}

/**
 * The validation loss of a model that ignores its features, fitted on the training split: a
 * classifier that predicts the training labels' frequencies for every row (its cross-entropy on
 * the validation labels), a regression that predicts the training targets' mean (its mse). What
 * a validation loss that learnt anything of the features beats; undefined where a validation
 * class has no training rows (that loss is infinite), or either split is empty.
 *
 * @example
 * ```ts
 * import { validationBaseline } from "./load_resolved.ts";
 * const split = (y: number[]) => ({ task: "binary", n: y.length, targetSize: 1, y: Float32Array.from(y) });
 * // predicting 1 with the training share 0.5: ln 2 a row, whatever the validation labels
 * console.assert(Math.abs(validationBaseline(split([0, 1]), split([1, 1, 0]))! - Math.log(2)) < 1e-12);
 * ```
 */
export function validationBaseline(
  train: { task: string; numClasses?: number; n: number; targetSize: number; y: Float32Array },
  validation: { n: number; targetSize: number; y: Float32Array },
): number | undefined {
  if (!(train.n > 0) || !(validation.n > 0)) return undefined;
  const counts = classCounts(train);
  if (counts) {
    let loss = 0;
    for (let i = 0; i < validation.n; i++) {
      const label = validation.y[i];
      if (!(label >= 0 && label < counts.length) || counts[label] === 0) return undefined;
      loss -= Math.log(counts[label] / train.n);
    }
    return loss / validation.n;
  }
  if (train.task !== "regression" || train.targetSize !== validation.targetSize) return undefined;
  return mseOfTrainingMean(train, validation);
}

/**
 * A classifier's classes that its validation or test split holds and its training split does
 * not (a rare class whose rows the split sent to validation, a test file's class): the model
 * is never trained on them, and each of their rows counts against it, which `diagnose` would
 * read as overfitting. Undefined where every class there is trained on.
 */
export function classesNotTrained(
  train: Rows,
  others: { validation?: Rows; test?: Rows },
  where: string,
): DataWarning | undefined {
  const counts = classCounts(train);
  if (counts === undefined) return undefined;
  const classes = counts.length;
  const rows = new Map<number, { validation: number; test: number }>();
  for (const split of ["validation", "test"] as const) {
    const ds = others[split];
    if (!ds) continue;
    for (let i = 0; i < ds.n; i++) {
      const label = ds.y[i];
      if (!(label >= 0 && label < classes) || counts[label] > 0) continue;
      const count = rows.get(label) ?? { validation: 0, test: 0 };
      count[split]++;
      rows.set(label, count);
    }
  }
  if (rows.size === 0) return undefined;
  const name = (label: number) => train.labels?.[label] ?? String(label);
  const listed = [...rows].sort(([a], [b]) => a - b).slice(0, 5).map(([label, count]) =>
    `'${name(label)}' (${
      [
        count.validation ? `${counted(count.validation, "validation row")}` : "",
        count.test ? `${counted(count.test, "test row")}` : "",
      ].filter(Boolean).join(", ")
    })`
  );
  return {
    message: `${rows.size === 1 ? "a class is" : `${rows.size} classes are`} not in the ` +
      `training split: ${listed.join(", ")}${rows.size > 5 ? ", ..." : ""}; the model is never ` +
      `trained on ${rows.size === 1 ? "it" : "them"}, and ${
        rows.size === 1 ? "its" : "their"
      } rows count against it (diagnose may read it as overfitting)`,
    where,
    hint: [...rows.values()].some((count) => count.validation > 0)
      ? "data.stratify=true holds out a share of each class, and leaves every class of two " +
        "rows or more one in training; else give the class more rows"
      : "train on data that has the test split's classes (the training files lack them)",
  };
}

/** {@linkcode LoadedData} whose splits may hold bytes (see {@linkcode loadResolvedRows}). */
export type LoadedRows = Omit<LoadedData, "train" | "validation" | "test"> & {
  train: Rows;
  validation?: Rows;
  test?: Rows;
};

/**
 * {@linkcode loadData} of a resolved spec (defaults filled in, validated), as a parsed run
 * config holds it, without loading the spec's schema (zod).
 */
export async function loadResolvedData(
  resolved: ResolvedDataSpec,
  seed: number,
  options: LoadOptions = {},
): Promise<LoadedData> {
  const { train, validation, test, ...rest } = await load(resolved, seed, options, false);
  const data: LoadedData = { ...rest, train: floatRows(train) };
  if (validation) data.validation = floatRows(validation);
  if (test) data.test = floatRows(test);
  return data;
}

/**
 * {@linkcode loadResolvedData}, its IDX images kept as the bytes they were read as (see `Rows`):
 * a quarter of their floats' memory, each batch's floats made as it is. What the data loader
 * actor's Worker calls. The fingerprint is the floats', as {@linkcode loadResolvedData}'s.
 */
export function loadResolvedRows(
  resolved: ResolvedDataSpec,
  seed: number,
  options: LoadOptions = {},
): Promise<LoadedRows> {
  return load(resolved, seed, options, true);
}

async function load(
  resolved: ResolvedDataSpec,
  seed: number,
  options: LoadOptions,
  keepBytes: boolean,
): Promise<LoadedRows> {
  let sources: Sources;
  if (resolved.kind === "synthetic-linear") {
    const generated = options.pause
      ? await syntheticLinearInChunks(resolved.n, resolved.noise, seed, options.pause)
      : syntheticLinear(resolved.n, resolved.noise, seed);
    sources = { pool: takeFirst(generated, resolved.limit) };
  } else if (resolved.kind === "csv") {
    sources = await loadCsv(resolved);
  } else {
    sources = await loadIdx(resolved, options.pause);
  }
  // (the pool was read here: its bytes are the split's to move)
  const splitOptions = { reuseBytes: true, stratify: resolved.stratify === true };
  const split = options.pause
    ? await splitValidationInChunks(
      sources.pool,
      resolved.validationSplit,
      seed,
      options.pause,
      splitOptions,
    )
    : splitValidation(sources.pool, resolved.validationSplit, seed, splitOptions);
  const kept = (ds: Rows) => keepBytes ? ds : asFloats(ds, options.pause);
  const train = await kept(split.train);
  const validation = split.validation && await kept(split.validation);
  const test = sources.test && takeFirst(await kept(sources.test), resolved.testLimit);
  if (resolved.kind === "csv" && resolved.missing === "mean") {
    const others = [validation, test].map((ds) => ds && floatRows(ds));
    const filled = fillMissing(floatRows(train), others, sources.features!, resolved.path);
    if (filled) (sources.warnings ??= []).push(filled);
  }
  let normalization: Normalization | undefined;
  if (resolved.kind === "csv" && resolved.normalize !== "none") {
    normalization = fitNormalization(floatRows(train), resolved.normalize);
    // one-hot features stay 0/1: their statistics are the identity
    sources.features!.forEach((feature, i) => {
      if (feature.category !== undefined) {
        normalization!.shift[i] = 0;
        normalization!.scale[i] = 1;
      }
    });
    for (const ds of [train, validation, test]) {
      if (ds) applyNormalization(floatRows(ds), normalization);
    }
  }
  const unseen = classesNotTrained(train, { validation, test }, whereOf(resolved));
  if (unseen) (sources.warnings ??= []).push(unseen);
  const fingerprint = await fingerprintSplits({ train, validation, test }, options.pause);
  const data: LoadedRows = { train, fingerprint };
  if (validation) data.validation = validation;
  if (test) data.test = test;
  if (normalization) data.normalization = normalization;
  if (sources.features) data.features = sources.features.map((feature) => feature.name);
  if (sources.warnings?.length) data.warnings = sources.warnings;
  return data;
}
