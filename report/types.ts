/**
 * The shapes of a run record as `report/` reads it back from `runs/<id>/` (see
 * docs/contracts.md, "Run records"). Every field a trainer may leave out is optional, so records
 * from older or killed runs still read.
 *
 * @module
 */

/** One optimizer step (`steps.ndjson`). */
export interface StepRecord {
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  gradNorm?: number;
  /** The step's gradient was clipped. */
  clipped?: boolean;
  /** The step was skipped (non-finite loss or gradient). */
  skipped?: boolean;
  momentum?: number;
}

/** One epoch (`epochs.ndjson`): mean training loss, validation metrics, the LR and wall time. */
export interface EpochRecord {
  epoch: number;
  loss: number;
  valLoss?: number;
  accuracy?: number;
  valAccuracy?: number;
  mae?: number;
  valMae?: number;
  lr?: number;
  seconds?: number;
  step?: number;
  [metric: string]: number | undefined;
}

/** How a run ended. */
export type RunStatus = "running" | "completed" | "stopped" | "diverged" | "failed";

/** `summary.json`. */
export interface RunSummary {
  status: RunStatus;
  stopReason?: string;
  hint?: string;
  bestEpoch?: number | null;
  best?: { metric: string; value: number };
  test?: Record<string, number>;
  diagnosis?: unknown;
  epochs?: number;
  steps?: number;
  metrics?: Record<string, number>;
  backend?: string;
  clip?: { threshold?: number; fractionClipped?: number; spikes?: number; [key: string]: unknown };
  seconds?: number;
  [key: string]: unknown;
}

/** `meta.json`. */
export interface RunMeta {
  id: string;
  createdAt?: string;
  seed?: number;
  fingerprint?: string;
  version?: string;
  git?: string;
  deno?: string;
  tfjs?: string;
  backend?: string;
  adapter?: unknown;
  [key: string]: unknown;
}

/** `lr_find.json`: an LR range test. `suggestions` maps a method name to its LR. */
export interface LrFindRecord {
  lrs: number[];
  losses: number[];
  smoothed?: number[];
  suggestions?: Record<string, number> | number[] | { lr: number; method?: string }[];
}

/** The resolved config as written to `config.json` (read loosely: reports never validate it). */
export type RunConfigRecord = Record<string, unknown>;

/** A whole run directory, read back. */
export interface RunRecord {
  /** The run id (from meta.json, else the directory name). */
  id: string;
  dir: string;
  config: RunConfigRecord;
  meta: RunMeta;
  steps: StepRecord[];
  epochs: EpochRecord[];
  summary: RunSummary;
  lrFind?: LrFindRecord;
  /** What was skipped or missing while reading (a torn last line of a killed run, ...). */
  warnings: string[];
}

/** What a finding is about. */
export type FindingKind =
  | "diverged"
  | "lrTooLow"
  | "plateauEarly"
  | "oscillating"
  | "overfitting"
  | "underfitting"
  | "gradientSpikes"
  | "healthy";

/** One thing the curves show, why we think so, and what to do next. */
export interface Finding {
  kind: FindingKind;
  severity: "critical" | "warning" | "info";
  /** A short headline, e.g. "learning rate too high". */
  title: string;
  /** The numbers that show it (epochs, values). */
  evidence: string;
  /** One concrete next step. */
  fix: string;
  /** The `--set` overrides of that step, from the run's own config values. */
  set?: string[];
}

/** The findings, worst first, and a one-line verdict. */
export interface Diagnosis {
  verdict: string;
  findings: Finding[];
}
