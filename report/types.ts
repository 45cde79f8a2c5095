/**
 * The shapes of a run record as `report/` reads it back from `runs/<id>/` (see
 * docs/contracts.md, "Run records"). Every field a trainer may leave out is optional, so records
 * from older or killed runs still read.
 *
 * @module
 */

import type { Liveness, RunProcess } from "../runtime/liveness.ts";

/** One optimizer step (`steps.ndjson`). */
export interface StepRecord {
  /** Global step index. */
  step: number;
  /** Zero-based epoch of the step. */
  epoch: number;
  /** Training loss of the step. */
  loss: number;
  /** Learning rate used. */
  lr: number;
  /** Gradient L2 norm before clipping. */
  gradNorm?: number;
  /** The step's gradient was clipped. */
  clipped?: boolean;
  /** The step was skipped (non-finite loss or gradient). */
  skipped?: boolean;
  /** Momentum (or Adam's beta1), when the schedule cycles it. */
  momentum?: number;
}

/** One epoch (`epochs.ndjson`): mean training loss, validation metrics, the LR and wall time. */
export interface EpochRecord {
  /** Zero-based epoch index. */
  epoch: number;
  /** Mean training loss. */
  loss: number;
  /** Validation loss. */
  valLoss?: number;
  /** Training accuracy (0-1). */
  accuracy?: number;
  /** Validation accuracy (0-1). */
  valAccuracy?: number;
  /** Training mean absolute error. */
  mae?: number;
  /** Validation mean absolute error. */
  valMae?: number;
  /** Learning rate at the end of the epoch. */
  lr?: number;
  /** Wall time of the epoch in seconds. */
  seconds?: number;
  /** Global steps taken at the end of the epoch. */
  step?: number;
  /** Any other logged metric. */
  [metric: string]: number | undefined;
}

/**
 * How a run ended. `crashed`, `corrupt` and `unreadable` are never written: readers derive
 * `crashed` from a record that says `running` whose process is gone (killed without warning; see
 * runtime/liveness.ts), `corrupt` from a `summary.json` that does not parse, and `unreadable`
 * from one that cannot be read (permission denied, a directory or a symbolic link loop in its
 * place).
 */
export type RunStatus =
  | "running"
  | "completed"
  | "stopped"
  | "interrupted"
  | "diverged"
  | "failed"
  | "crashed"
  | "corrupt"
  | "unreadable";

/** `summary.json`. */
export interface RunSummary {
  /** How the run ended, or `running`. */
  status: RunStatus;
  /** Why the run ended, in words. */
  stopReason?: string;
  /** Where `status` is `stopped`: asked for (a user, a sweep) or by the wall-time budget (true: a resume goes on), or by the run itself (false). */
  stopRequested?: boolean;
  /** What to do about it. */
  hint?: string;
  /** Zero-based epoch with the best monitored metric. */
  bestEpoch?: number | null;
  /** The monitored metric and its best value. */
  best?: { metric: string; value: number };
  /** Test-split metrics. */
  test?: Record<string, number>;
  /** The run's `Diagnosis`, as written. */
  diagnosis?: unknown;
  /** Epochs completed. */
  epochs?: number;
  /** Optimizer steps taken. */
  steps?: number;
  /** The last epoch's metrics. */
  metrics?: Record<string, number>;
  /** The tfjs backend used. */
  backend?: string;
  /**
   * An LR range test's data fingerprint (a training run's is meta.json's `fingerprint`); absent
   * from the records of anneals before it was recorded.
   */
  fingerprint?: string;
  /**
   * Gradient clipping summary: threshold, fraction of steps clipped (null under a
   * `clipping.normType` other than 2, whose clipped steps the L2 norms do not tell), norm spikes.
   */
  clip?: {
    threshold?: number;
    fractionClipped?: number | null;
    spikes?: number;
    [key: string]: unknown;
  };
  /** Wall time of the run in seconds. */
  seconds?: number;
  /** The process that ran it (the last one, for a resumed run): pid, host and start time. */
  process?: RunProcess;
  /** Fields added by newer versions. */
  [key: string]: unknown;
}

/** `meta.json`. */
export interface RunMeta {
  /** The run id. */
  id: string;
  /** ISO 8601 creation time. */
  createdAt?: string;
  /** The config's seed. */
  seed?: number;
  /** SHA-256 of the data the run trained on. */
  fingerprint?: string;
  /** anneal version. */
  version?: string;
  /** Git revision of anneal, when recorded. */
  git?: string;
  /** Deno version. */
  deno?: string;
  /** tfjs version. */
  tfjs?: string;
  /** tfjs backend name. */
  backend?: string;
  /** WebGPU adapter info, when on WebGPU. */
  adapter?: unknown;
  /**
   * The warnings the run gave at its start (its config's, its data's, its schedule's over its
   * length), and at a resume's where their words changed: a resume does not repeat them. One a
   * later resume's start did not give again is marked with that resume (`noLongerApplies`).
   */
  warnings?: {
    actor: string;
    message: string;
    hint?: string;
    noLongerApplies?: { resumedAt: string; step: number };
  }[];
  /** Fields added by newer versions. */
  [key: string]: unknown;
}

/** `lr_find.json`: an LR range test. `suggestions` maps a method name to its LR. */
export interface LrFindRecord {
  /** Learning rate of each step. */
  lrs: number[];
  /** Raw training loss of each step. */
  losses: number[];
  /** Smoothed (EMA) loss of each step. */
  smoothed?: number[];
  /** Suggested learning rates, in any of the formats written so far. */
  suggestions?: Record<string, number> | number[] | { lr: number; method?: string }[];
  /** The test's verdict on its suggestion, and why it is unreliable where it is (since it was kept). */
  agreement?: { verdict?: string; reasons?: string[] };
}

/** The resolved config as written to `config.json` (read loosely: reports never validate it). */
export type RunConfigRecord = Record<string, unknown>;

/** A whole run directory, read back. */
export interface RunRecord {
  /** The run id: the directory's name (meta.json's `id` is the name it was created under). */
  id: string;
  /** Path of the run directory. */
  dir: string;
  /** The resolved config (`config.json`). */
  config: RunConfigRecord;
  /** `meta.json`. */
  meta: RunMeta;
  /** `steps.ndjson`, in order. */
  steps: StepRecord[];
  /** `epochs.ndjson`, in order. */
  epochs: EpochRecord[];
  /**
   * `summary.json` (`status: running` when absent), with `status: crashed`, a stop reason and a
   * hint when it says `running` but its process is gone from this host (the file is unchanged).
   */
  summary: RunSummary;
  /**
   * What the check of a `running` record's process found: alive, gone (then `summary.status` is
   * `crashed`) or unchecked (another host, or a record that names no process), with why.
   */
  liveness?: Liveness;
  /** `lr_find.json`, when the run has one. */
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
  | "healthy"
  /** The run maximizes its loss (torch's `maximize`): the checks of a falling loss do not apply. */
  | "maximizing";

/** One thing the curves show, why we think so, and what to do next. */
export interface Finding {
  /** What the finding is about. */
  kind: FindingKind;
  /** `critical`: the run failed or is wasted; `info`: nothing to fix. */
  severity: "critical" | "warning" | "info";
  /** A short headline, e.g. "learning rate too high". */
  title: string;
  /** The numbers that show it (epochs, values). */
  evidence: string;
  /** One concrete next step. */
  fix: string;
  /** The `--set` overrides of that step, from the run's own config values. */
  set?: string[];
  /**
   * Where `set` only trains the run longer (more `epochs` under a schedule without an end, a
   * larger `maxSteps` or another `maxWallTimeSeconds`) and the run ended as planned: the command
   * that goes on from its last checkpoint to the same end (`anneal train --resume ID --epochs N`),
   * instead of training it again from the start.
   */
  resume?: string;
}

/** The findings, worst first, and a one-line verdict. */
export interface Diagnosis {
  /** One line summing up the findings. */
  verdict: string;
  /** The findings, worst first. */
  findings: Finding[];
  /** The run's resolved config (`runs/<id>/config.json`), which the `--set` fixes apply to. */
  config?: string;
}
