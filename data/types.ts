/**
 * The in-memory shape of a dataset: plain typed arrays, so batches can cross worker boundaries as
 * transferred ArrayBuffers without tfjs.
 *
 * @module
 */

/** What a model learns: real values, one of K classes, or yes/no. */
export type Task = "regression" | "classification" | "binary";

/** One split of a dataset, row-major: sample i's features are `x[i*F .. (i+1)*F)`. */
export interface Dataset {
  /** Features, `n * product(inputShape)` values. */
  x: Float32Array;
  /** Targets, `n * targetSize` values; class indices as floats for classification. */
  y: Float32Array;
  /** Number of samples. */
  n: number;
  /** Shape of one sample, e.g. `[2]` or `[28, 28, 1]`. */
  inputShape: number[];
  /** Values per target (1 for class indices and binary labels). */
  targetSize: number;
  /** What the targets are, which picks the default loss and metrics. */
  task: Task;
  /** Number of classes, for classification. */
  numClasses?: number;
  /** Class names in index order, when the labels were strings in a file. */
  labels?: string[];
  /** [height, width, channels] of an image sample, even when `inputShape` is flat (augmentation needs it). */
  imageShape?: [number, number, number];
  /**
   * Set when the features were read as bytes (IDX images): each value is `byteTable[b]` for the
   * byte b it was read from (256 entries). Batches may then travel as those bytes, a quarter of
   * the floats' size, and be turned back into the same floats where they are used.
   */
  byteTable?: Float32Array;
}

/** Feature normalization fitted on the training split: `normalized = (x - shift) / scale`. */
export interface Normalization {
  /** `standard`: mean and population std; `minmax`: minimum and range. */
  method: "standard" | "minmax";
  /** Per-feature value subtracted (mean or minimum). */
  shift: number[];
  /** Per-feature divisor (std or range; 1 for a constant feature). */
  scale: number[];
}

/** Something in the data that is likely a mistake, though it loads: what, where, and the fix. */
export interface DataWarning {
  /** What the data holds, and what the run makes of it. */
  message: string;
  /** Where: a data file, `file:line` when it is a line. */
  where: string;
  /** What to do about it. */
  hint: string;
}

/** The splits a run uses, and a fingerprint of exactly those bytes. */
export interface LoadedData {
  /** The split the optimizer trains on. */
  train: Dataset;
  /** Held-out split for per-epoch metrics, early stopping and plateau schedules. */
  validation?: Dataset;
  /** Split evaluated once at the end of a run. */
  test?: Dataset;
  /** SHA-256 hex over shapes and the x/y bytes of every split, after split and limit. */
  fingerprint: string;
  /** Present when CSV features were normalized; apply it to new inputs before predicting. */
  normalization?: Normalization;
  /**
   * A CSV's feature names, in the order of a sample's values: a column's name, `column=category`
   * for a one-hot feature of a `categorical` column (`data.drop`'s columns and the target not).
   */
  features?: string[];
  /** What in the data is likely a mistake (a run starts with these as `warning` events). */
  warnings?: DataWarning[];
}
