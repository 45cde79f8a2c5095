/**
 * The data section of a run config: which dataset, how it is split, limited and augmented.
 * Defaults live in the schema so that a resolved config records every choice that shaped a run.
 *
 * @module
 */

import { z } from "npm:zod@4.6.7";
import { MAX_CATEGORIES } from "./csv_columns.ts";
import { unexpanded } from "../file_errors.ts";

/**
 * A path a config names (a data file, the runs directory). A leading `~`, a `$HOME` or `${HOME}`
 * is refused: only a shell expands them, and a JSON config (or a quoted flag) gives them as
 * written: a runsDir of "~/anneal-runs" made a directory named '~' in the working directory (of
 * "$HOME/runs" one named '$HOME'), a data path with one was not found.
 */
export const PathSchema = z.string().min(1).superRefine((path, context) => {
  const shellWord = unexpanded(path);
  if (shellWord) {
    context.addIssue({ code: "custom", message: `${shellWord.why}: ${shellWord.fix}` });
  }
});

/** Image augmentation, applied per sample when a batch is made; every part is off by default. */
export const AugmentSchema = z.strictObject({
  /** Random horizontal flip with probability 1/2. */
  flip: z.boolean().default(false),
  /** Zero-pad by this many pixels, then crop back at a random offset (a random shift). */
  cropPadding: z.int().min(0).max(64).default(0),
  /** Random rotation, uniform in ±rotateDegrees, bilinear, zero fill. */
  rotateDegrees: z.number().min(0).max(180).default(0),
  /** Standard deviation of additive gaussian noise. */
  noiseStd: z.number().min(0).default(0),
});

/** Fields every data kind shares; `validationSplit`'s default differs per kind. */
function common(defaultSplit: number) {
  return {
    /**
     * Fraction of the (limited) training pool held out, chosen by a seeded shuffle: round(n *
     * fraction) samples, at least one when above 0.
     */
    validationSplit: z.number().min(0).lt(1).default(defaultSplit),
    /** Use only the first N samples of the training source (before the validation split). */
    limit: z.int().positive().optional(),
    /** Use only the first N test samples. */
    testLimit: z.int().positive().optional(),
    /** Reshuffle the training order every epoch (seeded by run seed and epoch). */
    shuffle: z.boolean().default(true),
    /** Drop the last, smaller batch of an epoch. */
    dropLast: z.boolean().default(false),
    /**
     * Hold out `validationSplit` of each class, not of the whole pool (sklearn's
     * `train_test_split(stratify=y)`): both splits keep the classes' shares, and a class of two
     * rows or more keeps one in training. Classifiers only; absent: false.
     */
    stratify: z.boolean().optional().describe(
      "Hold out validationSplit of each class (sklearn's stratify): both splits keep the " +
        "classes' shares, and every class of 2+ rows keeps one in training. Classifiers only.",
    ),
    augment: AugmentSchema.optional(),
  };
}

/** The seed experiment: y = 2*x0 - 3*x1 + noise*eps with x, eps ~ N(0, 1). */
export const SyntheticLinearSpecSchema = z.strictObject({
  kind: z.literal("synthetic-linear"),
  /** 200 samples: the size of the seed experiment. */
  n: z.int().positive().default(200),
  /** Noise standard deviation of the seed experiment. */
  noise: z.number().min(0).default(0.5),
  // The seed experiment trains on all 200 samples.
  ...common(0),
});

/** A CSV column as `target` names it: a header name, or a zero-based index (negative from the end). */
const ColumnSchema = z.union([z.string().min(1), z.int()]);

/**
 * A CSV file with a header (by default), one target column and feature columns: numbers, or
 * strings one-hot encoded (`categorical`); columns `drop` names are not read.
 */
export const CsvSpecSchema = z.strictObject({
  kind: z.literal("csv"),
  path: PathSchema,
  /** Optional held-out test file with the same columns. */
  testPath: PathSchema.optional(),
  /** Target column: a header name, or a zero-based index (negative counts from the end). */
  target: z.union([z.string().min(1), z.int()]),
  /** Most CSV files name their columns. */
  header: z.boolean().default(true),
  delimiter: z.string().length(1).refine((d) => d !== '"' && d !== "\n" && d !== "\r", {
    message: "delimiter cannot be a quote or a line break",
  }).refine((d) => d.length !== 1 || d.charCodeAt(0) < 0x80, {
    // (the file is split on one byte: '§', two bytes in UTF-8, left its first byte in every
    // field, refused as Latin-1 text with an iconv line that would garble a UTF-8 file; '，',
    // three, split nothing)
    message: "delimiter must be an ASCII character: the file is split on one byte, and a " +
      "character beyond ASCII is several bytes in UTF-8",
  }).default(","),
  /** Features on different scales slow SGD down; statistics come from the training split only. */
  normalize: z.enum(["standard", "minmax", "none"]).default("standard"),
  /** Regression unless told otherwise; classification maps sorted labels to 0..K-1. */
  task: z.enum(["regression", "classification", "binary"]).default("regression"),
  /**
   * Columns left out, not features (an `id`, free text): header names, or zero-based indexes as
   * `target` takes them. Neither the target nor every feature can be dropped.
   */
  drop: z.array(ColumnSchema).default([]).describe(
    "Columns left out, not features (an id, free text): header names, or zero-based indexes as " +
      "target takes them (negative from the end). Neither the target nor every feature can be " +
      "dropped.",
  ),
  /**
   * String feature columns to one-hot encode: one 0/1 feature per category, the categories those
   * of the training file (`path`), sorted (by code point), so that every run, resume and trial of
   * one file encodes alike. A category of `testPath` the training file lacks gets all-zero
   * features and a warning. One-hot features are not normalized. At most
   * {@linkcode MAX_CATEGORIES} categories a column.
   */
  categorical: z.array(ColumnSchema).default([]).describe(
    "String feature columns to one-hot encode, named as drop's: one 0/1 feature per category of " +
      `the training file (path), sorted; not normalized; at most ${MAX_CATEGORIES} a column. ` +
      "A testPath category the training file lacks gets all-zero features and a warning.",
  ),
  /**
   * A missing feature cell (empty, or in a numeric column `NA`, `NaN`, `null`, `None`, `#N/A`,
   * `?`: see `isMissingMarker`): `error` refuses it (naming its line), `drop` leaves its row out (a
   * warning counts them), `mean` fills it with the column's mean over the training split (as
   * normalization's statistics; a categorical column's one-hot features get each category's
   * share). An empty target is never filled: `drop` leaves its row out, else it is refused.
   */
  missing: z.enum(["error", "drop", "mean"]).default("error").describe(
    "A missing feature cell (empty, or NA, NaN, null, None, #N/A, ? in a numeric column): " +
      "error refuses it; drop leaves its row out (a warning counts them); " +
      "mean fills it with the feature's mean over the training split. An empty target is " +
      "never filled: drop leaves its row out, else it is refused.",
  ),
  ...common(0.1),
});

/** IDX files (MNIST format), by default Debian's dataset-fashion-mnist package. */
export const IdxSpecSchema = z.strictObject({
  kind: z.literal("idx"),
  /** Where Debian's dataset-fashion-mnist installs the files. */
  dir: PathSchema.default("/usr/share/datasets/fashion-mnist"),
  trainImages: z.string().min(1).default("train-images-idx3-ubyte.gz"),
  trainLabels: z.string().min(1).default("train-labels-idx1-ubyte.gz"),
  /** The test split's files; both `null` for data without one (its training files only). */
  testImages: z.string().min(1).nullable().default("t10k-images-idx3-ubyte.gz"),
  testLabels: z.string().min(1).nullable().default("t10k-labels-idx1-ubyte.gz"),
  /** Keep [h, w, c] so that CNNs get images; MLPs may ask for flat vectors. */
  flatten: z.boolean().default(false),
  /**
   * How 4-D image files order their axes, which IDX does not record: `nhwc` [n, height, width,
   * channels] (channels last), or `nchw` [n, channels, height, width] (channels first, as
   * PyTorch stores images), turned channels last on load. Samples are [h, w, c] either way; a
   * 3-D file [n, h, w] is grey under both. Absent: `nhwc`, except for a shape that reads more
   * naturally channels first ([n, 1..4, h, w] with w > 4, as PyTorch's [n, 3, 32, 32]): that
   * one is refused until `layout` says which it is.
   */
  layout: z.enum(["nhwc", "nchw"]).optional(),
  /** Bytes 0..255 become [0, 1], the range initialisers and learning rates assume. */
  scale: z.boolean().default(true),
  ...common(0.1),
}).refine((spec) => (spec.testImages === null) === (spec.testLabels === null), {
  message: "testImages and testLabels are both files, or both null (no test split): one " +
    "without the other pairs no images with labels",
  path: ["testImages"],
});

/**
 * Any data spec, discriminated on `kind`; `augment` is accepted for image data only.
 *
 * @example
 * ```ts
 * import { DataSpecSchema } from "./spec.ts";
 * const spec = DataSpecSchema.parse({ kind: "synthetic-linear" });
 * console.assert(spec.kind === "synthetic-linear" && spec.n === 200 && spec.validationSplit === 0);
 * ```
 */
export const DataSpecSchema = z
  .discriminatedUnion("kind", [SyntheticLinearSpecSchema, CsvSpecSchema, IdxSpecSchema])
  .superRefine((spec, ctx) => {
    const task = spec.kind === "csv"
      ? spec.task
      : spec.kind === "idx"
      ? "classification"
      : "regression";
    if (spec.stratify === true && task === "regression") {
      ctx.addIssue({
        code: "custom",
        path: ["stratify"],
        message: `stratify holds out a share of each class, and ${
          spec.kind === "csv" ? "task 'regression'" : `kind '${spec.kind}'`
        } has no classes (set data.task to classification or binary, or leave stratify out)`,
      });
    }
    if (spec.augment !== undefined && spec.kind !== "idx") {
      ctx.addIssue({
        code: "custom",
        path: ["augment"],
        message: `augment applies to image data only, and kind '${spec.kind}' is not images`,
      });
    }
  });

/** A data spec as written by a user (defaults optional). */
export type DataSpec = z.input<typeof DataSpecSchema>;
/** A data spec with every default filled in. */
export type ResolvedDataSpec = z.output<typeof DataSpecSchema>;
/** Augmentation as written by a user. */
export type AugmentSpec = z.input<typeof AugmentSchema>;
/** Augmentation with defaults filled in, as makeBatch takes it. */
export type ResolvedAugment = z.output<typeof AugmentSchema>;
/** A resolved CSV spec. */
export type ResolvedCsvSpec = z.output<typeof CsvSpecSchema>;
/** A resolved IDX spec. */
export type ResolvedIdxSpec = z.output<typeof IdxSpecSchema>;
/** A resolved synthetic-linear spec. */
export type ResolvedSyntheticLinearSpec = z.output<typeof SyntheticLinearSpecSchema>;
