/**
 * The one schema that describes a whole run, and how a user's JSON plus `--set` overrides become
 * a validated config. Unknown keys are errors (as nanoGPT rejects unknown config keys).
 *
 * @module
 */
import { z } from "npm:zod@4.6.7";
import { DataSpecSchema, PathSchema } from "./data/spec.ts";
import { dropoutHasLayers, ModelSpecSchema } from "./models/spec.ts";
import { OptimizerSpecSchema } from "./optimizers/spec.ts";
import { SchedulerSpecSchema, type SpecOf } from "./schedulers/spec.ts";
import { oneCycle } from "./schedulers/onecycle.ts";
import { cyclic } from "./schedulers/cyclic.ts";
import { SweepSpecSchema } from "./sweeps/spec.ts";
import { AnnealError } from "./errors.ts";
import {
  fieldNames,
  formatPath,
  nullableAt,
  optionalAt,
  parsePath,
  showValue,
  unionAt,
  valueAt,
} from "./zod_paths.ts";
import { closestOption, issueText, optionIssues } from "./issue_text.ts";
import { decodeJsonFile, outOfRangeError, parseJsonText } from "./json_syntax.ts";
import { configStyle, describeSuggestion, suggestField, suggestionHint } from "./unknown_fields.ts";
import { fileError } from "./file_errors.ts";
import {
  batchScalingOf,
  type ScaledLearningRate,
  scaleLearningRate,
  scalingWords,
} from "./optimizers/scaling.ts";
import { maximizes, settingFault } from "./optimizers/hazards.ts";
import { checkLossFits, checkMonitor, dataTask, higherIsBetter, LOSS_METRICS } from "./task_fit.ts";
import { checkArgument, isObject } from "./option_names.ts";

/** Gradient clipping and the clip monitor's policy. */
export const ClippingSchema = z.strictObject({
  /**
   * Clip the global norm to this value (torch.nn.utils.clip_grad_norm_). When absent: 1.0 for
   * RNNs (the seeds' default for recurrent nets, which torch's nn.LSTM does not clip by itself),
   * off otherwise; `null` turns it off for RNNs too.
   */
  maxNorm: z.number().positive({
    message: "must be > 0: torch 1.13 accepts it, but a max_norm of 0 zeroes every gradient " +
      "and a negative one turns them around, so anneal refuses it (leave maxNorm out, or set it " +
      "to null, for no clipping by norm)",
  }).nullable().optional(),
  /**
   * Norm type for `maxNorm`: 2 (default, as torch) or `Infinity`/"inf". torch's 0 (a count of
   * the nonzero elements), negative orders and `-inf` (the smallest element) are refused.
   */
  normType: z.union([
    z.number().positive({
      message: 'must be > 0 or "inf": torch 1.13 takes 0, negative orders and -inf too, but ' +
        "their norms (a count of nonzero elements, a minimum) do not bound the gradient, so " +
        "anneal refuses them; 2 is torch's default",
    }),
    z.literal("inf"),
  ]).default(2),
  /** Clip every gradient element to [-value, value] (clip_grad_value_); off when absent. */
  value: z.number().positive({
    message: "must be > 0: torch 1.13 accepts it, but a clip_value of 0 zeroes every gradient " +
      "and a negative one sets every element to it, so anneal refuses it (leave value out for " +
      "no clipping by value)",
  }).optional(),
  /** AutoClip: clip at this percentile of the norms seen so far (e.g. 10); off when absent. */
  autoPercentile: z.number().gt(0).lte(100).optional(),
  /** What to do when the loss or a gradient is NaN/Inf: skip the step, stop, or cut the LR 10x and roll back. */
  onNonFinite: z.enum(["skip", "stop", "rollback"]).default("stop"),
  /** A step whose norm is above this many times the running median counts as a spike. */
  spikeFactor: z.number().gt(1).default(10),
});

/** Early stopping, divergence and budget stops. */
export const EarlyStoppingSchema = z.strictObject({
  /**
   * The metric to watch: one the run's epochs log (`loss`, `mae` or `accuracy` by task, their
   * `val` versions, `lr`); without a validation split `valX` watches `x`. Others are refused.
   */
  monitor: z.string().default("valLoss"),
  /**
   * `min`: lower is better; `max`: higher is better. Default `min`, but `max` for an accuracy
   * monitor (`accuracy`, `valAccuracy`) and for a loss monitor (`loss`, `valLoss`) when
   * `optimizer.maximize` is on (set by `parseConfig`, which sees both).
   */
  mode: z.enum(["min", "max"]).default("min").describe(
    "min: lower is better, max: higher is better. Default min; max when the monitor is an " +
      "accuracy (accuracy, valAccuracy), or the loss (loss, valLoss) with optimizer.maximize on.",
  ),
  /** Epochs without improvement before stopping; no metric-based stopping when absent. */
  patience: z.number().int().nonnegative().optional(),
  /** Improvement smaller than this does not count (Keras' min_delta). */
  minDelta: z.number().nonnegative().default(0),
  /**
   * Keras' baseline: the patience count restarts only at an epoch that beats both the best value
   * so far and this. An epoch that improves on the best never stops the run, so a run improving
   * each epoch trains on below the baseline; once it stops improving, it stops when the count
   * (from the last epoch that beat the baseline, else the first) reaches `patience`.
   */
  baseline: z.number().optional(),
  /** End the run with the best epoch's weights (Keras' restore_best_weights). */
  restoreBest: z.boolean().default(true),
  /**
   * Stop as diverged when the training loss exceeds this multiple of its first value (never with
   * `optimizer.maximize`, whose loss rises by design).
   */
  divergenceFactor: z.number().gt(1).default(10),
});

/** The backends a run's `backend` takes (`auto`: WebGPU where a real adapter is found, else wasm). */
export const BACKEND_NAMES = ["auto", "webgpu", "wasm", "cpu"] as const;

/** A whole run. Defaults reproduce the seed experiment (linear data, batch 16, SGD 0.01, 50 epochs). */
export const RunConfigSchema = z.strictObject({
  /** A name for the run directory; letters, digits, `.`, `_`, `-` (never a path). */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, {
    message:
      "must be 1-64 ASCII letters (a-z, A-Z), digits, '.', '_' or '-', starting with a letter or digit",
  }).optional(),
  seed: z.number().int().nonnegative().default(42),
  backend: z.enum(BACKEND_NAMES).default("auto"),
  data: DataSpecSchema.prefault({ kind: "synthetic-linear" }),
  model: ModelSpecSchema.prefault({ kind: "linear" }),
  /**
   * Loss: MSE for regression, cross-entropy for classification, BCE for binary; the task's own
   * when absent. Each fits only its task: any other is refused here (see task_fit.ts).
   */
  loss: z.enum(["mse", "crossEntropy", "binaryCrossEntropy"]).optional(),
  optimizer: OptimizerSpecSchema.prefault({ name: "sgd", lr: 0.01 }),
  /** Learning-rate schedule; constant when absent. */
  scheduler: SchedulerSpecSchema.optional(),
  batchSize: z.number().int().positive().default(16),
  epochs: z.number().int().positive().default(50),
  /** Stop after this many optimizer steps (budget). */
  maxSteps: z.number().int().positive().optional(),
  /** Stop after this many seconds of training (budget). */
  maxWallTimeSeconds: z.number().positive().optional(),
  /** Micro-batches per optimizer step; the effective batch is batchSize x this. */
  gradientAccumulation: z.number().int().positive().default(1),
  clipping: ClippingSchema.prefault({}),
  earlyStopping: EarlyStoppingSchema.prefault({}),
  /** Where run directories go. */
  runsDir: PathSchema.default("runs"),
  /**
   * Batches the data loader may have in flight ahead of the trainer, at least; small batches get
   * more (up to 4 MiB or 256 batches in flight), sent several to a message.
   */
  prefetch: z.number().int().positive().max(64).default(4),
  /**
   * On WebGPU, update sgd/adam/adamw/lion parameters with fused WGSL kernels (one dispatch per
   * tensor instead of tfjs's ~15 ops); same numbers as the reference path to float rounding.
   */
  fusedOptimizer: z.boolean().default(true),
  /**
   * Run the forward and backward passes of linear models and MLPs (any activation, with or
   * without dropout and batch norm) outside tfjs: on WebGPU in anneal's own WGSL kernels (one
   * compute pass per step instead of tfjs's ~25 ops), as cnn and rnn models there, on the CPU
   * backends in plain TypeScript when the model is small (tfjs's per-op cost dominates there).
   * Same numbers as tfjs to float rounding; dropout draws the same masks.
   */
  fusedModel: z.boolean().default(true),
  /**
   * Mixed precision: store the activations as float16 (half the memory and bandwidth: an MLP's
   * hidden layers, a cnn's conv blocks, an rnn's input projections and saved gates, and with
   * even units its states and outputs) while
   * weights, gradients, optimizer state and arithmetic stay float32, so no loss scaling is
   * needed. A layer of odd width (hidden units, filters, a GRU's units) keeps float32: a float16
   * pair must not span two rows. Only where the WGSL step runs (WebGPU); any other run asking for
   * it fails at the start, saying why.
   */
  mixedPrecision: z.boolean().default(false),
  /** Steps between read-backs of losses and norms; 1 on CPU backends, 16 on WebGPU when absent. */
  readbackEvery: z.number().int().positive().optional(),
  /**
   * Send images read as bytes (IDX, no value-changing augmentation) to the WGSL step on WebGPU as
   * those bytes, turned into the same floats on the GPU: a quarter of the upload, one dispatch
   * more. Absent: on a hardware adapter only (on a software one, llvmpipe, that dispatch costs
   * more than the smaller upload saves). Elsewhere inputs are floats either way.
   */
  byteInputs: z.boolean().optional(),
  /** A hyperparameter search over this config (`anneal sweep`); ignored by `anneal train`. */
  sweep: SweepSpecSchema.optional(),
}).superRefine((config, context) => {
  // torch accepts lr = 0, but a run with it never changes the weights: almost surely a mistake,
  // so anneal refuses it on purpose. Not under onecycle or cyclic, whose rates ignore the
  // optimizer's.
  if (!((config.optimizer.lr as number) > 0) && !setsItsOwnRates(config.scheduler)) {
    context.addIssue({
      code: "custom",
      path: ["optimizer", "lr"],
      message: "must be > 0: torch 1.13 accepts 0, but a zero learning rate never changes the " +
        "weights, so anneal refuses it",
    });
  }
  // The same for a cyclic whose two rates are 0: every rate of its cycle is 0.
  if (
    config.scheduler?.name === "cyclic" && config.scheduler.baseLr === 0 &&
    config.scheduler.maxLr === 0
  ) {
    context.addIssue({
      code: "custom",
      path: ["scheduler", "maxLr"],
      message: "must not be 0 when baseLr is 0 too: torch 1.13 accepts it, but every rate of " +
        "the cycle is then 0, which never changes the weights, so anneal refuses it",
    });
  }
  const name = config.optimizer.name;
  if (config.scheduler?.name === "cyclic" && config.scheduler.cycleMomentum) {
    for (const { field, message } of cyclicMomentumIssues(config.scheduler, name)) {
      context.addIssue({ code: "custom", path: ["scheduler", field], message });
    }
    return;
  }
  // torch's OneCycleLR refuses an optimizer without momentum or betas when it cycles momentum;
  // anneal's adagrad, adadelta and adafactor have neither, and would fail only at the first step.
  const cycling = cyclingOneCycle(config.scheduler);
  if (!cycling) return;
  if (name === "adagrad" || name === "adadelta" || name === "adafactor") {
    context.addIssue({
      code: "custom",
      path: ["scheduler", ...cycling.path, "cycleMomentum"],
      message: `must be false with optimizer ${name}, which has no momentum or beta1 to cycle`,
    });
    return;
  }
  for (const { field, message } of cycledMomentumIssues(cycling.spec, name)) {
    context.addIssue({ code: "custom", path: ["scheduler", ...cycling.path, field], message });
  }
});

/**
 * What is wrong with the momenta a cycling onecycle hands optimizer `name`. torch's OneCycleLR
 * hands them over unchecked, so torch 1.13 accepts any; anneal keeps them to what the optimizer's
 * own constructor takes (sgd and rmsprop: a momentum >= 0; the others: a beta1 in [0, 1)), which
 * also refuses the two ways torch fails: the bias correction `1 - beta1 ** t` of Adam, AdamW,
 * Adamax and RAdam divides by zero at a step where the cycle is exactly at 1, and RMSprop, whose
 * first step had momentum 0, has no momentum buffer when a later step has some (KeyError).
 * NAdam's momentum schedule keeps its mu below beta1, so a beta1 of 1 breaks nothing there, but
 * its constructor refuses it as the others' do.
 */
function cycledMomentumIssues(
  spec: SpecOf<"onecycle">,
  name: "sgd" | "adam" | "adamw" | "rmsprop" | "lion" | "lamb" | "adamax" | "nadam" | "radam",
): { field: "baseMomentum" | "maxMomentum"; message: string }[] {
  const betaLike = name !== "sgd" && name !== "rmsprop";
  const fits = (value: number) => value >= 0 && (!betaLike || value < 1);
  const issues = (["baseMomentum", "maxMomentum"] as const).filter((field) => !fits(spec[field]))
    .map((field) => ({
      field,
      message: betaLike
        ? `must be in [0, 1) with optimizer ${name}, whose beta1 it sets: torch 1.13 accepts ` +
          "any value and hands it over unchecked" +
          (["adam", "adamw", "adamax", "radam"].includes(name)
            ? ` (at 1 exactly, ${name}'s bias correction 1 - beta1 ** t divides by zero)`
            : "") +
          "; anneal refuses what the optimizer's own betas refuse"
        : negativeMomentum(name),
    }));
  if (issues.length > 0 || name !== "rmsprop") return issues;
  const t = momentumRise(oneCycle(spec).momentum!, spec.totalSteps - 1);
  if (t === undefined) return [];
  return [{
    field: "maxMomentum",
    message: `must not start the cycle at momentum 0 with optimizer rmsprop when it rises ` +
      `later (at step ${t}): ${RMSPROP_RISE}`,
  }];
}

/** Why a cycled momentum below 0 is refused for optimizer `name` (sgd, rmsprop). */
const negativeMomentum = (name: string) =>
  `must be >= 0 with optimizer ${name}, whose momentum it sets: torch 1.13 accepts any value ` +
  "and hands it over unchecked; anneal refuses what the optimizer's own momentum refuses";

/** How torch's RMSprop fails where a cycled momentum rises from 0 (see momentumRise). */
const RMSPROP_RISE = "torch's RMSprop keeps no momentum buffer after a first step without " +
  "momentum, and fails at the first step with some (KeyError)";

/**
 * The first step of 1..`lastStep` at which a cycled momentum that starts at 0 rises above it
 * (where torch's RMSprop fails), or undefined: it starts above 0, or never rises.
 */
function momentumRise(momentum: (t: number) => number, lastStep: number): number | undefined {
  if (momentum(0) !== 0) return undefined;
  for (let t = 1; t <= lastStep; t++) if (momentum(t) > 0) return t;
  return undefined;
}

/**
 * What is wrong with a cyclic schedule that cycles the momentum of optimizer `name`. torch 1.13's
 * CyclicLR cycles an optimizer's `momentum` only (its SGD and RMSprop have one; Adam's beta1 it
 * does not cycle) and raises when built for one without. The momenta it hands over unchecked are
 * kept to what the optimizer's own constructor takes (>= 0), as under onecycle; with `exp_range`
 * a `gamma` outside [0, 1] takes the momentum outside [baseMomentum, maxMomentum], below 0 at
 * some step, so it is refused too. RMSprop, whose first step had momentum 0, has no momentum
 * buffer when a later step has some (KeyError in torch).
 */
function cyclicMomentumIssues(
  spec: SpecOf<"cyclic">,
  name: z.output<typeof OptimizerSpecSchema>["name"],
): { field: string; message: string }[] {
  if (name !== "sgd" && name !== "rmsprop") {
    return [{
      field: "cycleMomentum",
      message: `must be false with optimizer ${name} (torch's default is true): torch 1.13's ` +
        "CyclicLR cycles an optimizer's momentum only (sgd, rmsprop), not a beta1, and raises " +
        "when built for one without (ValueError: optimizer must support momentum with " +
        "`cycle_momentum` option enabled)",
    }];
  }
  const issues: { field: string; message: string }[] = (["baseMomentum", "maxMomentum"] as const)
    .filter((field) => !(spec[field] >= 0)).map((field) => ({
      field,
      message: negativeMomentum(name),
    }));
  if (
    spec.mode === "exp_range" && !(spec.gamma >= 0 && spec.gamma <= 1) &&
    spec.baseMomentum !== spec.maxMomentum
  ) {
    issues.push({
      field: "gamma",
      message: "must be in [0, 1] when cycleMomentum is true: gamma ** t then takes the " +
        "momentum outside [baseMomentum, maxMomentum], below 0 at some step, which the " +
        "optimizer's own momentum refuses; torch 1.13 accepts it and hands that momentum over " +
        "unchecked, anneal refuses it",
    });
  }
  if (issues.length > 0 || name !== "rmsprop") return issues;
  // the momentum starts at maxMomentum: from 0 it rises in the first cycle, or never
  const total = spec.stepSizeUp + (spec.stepSizeDown ?? spec.stepSizeUp);
  const t = momentumRise(cyclic(spec).momentum!, Math.min(Math.ceil(total) + 1, 100_000));
  if (t === undefined) return [];
  return [{
    field: "maxMomentum",
    message: `must not be 0 with optimizer rmsprop when the momentum rises from it later ` +
      `(at step ${t}): ${RMSPROP_RISE}`,
  }];
}

/**
 * Whether the schedule's rates ignore the optimizer's `lr`: a onecycle, alone or as the only child
 * of a sequential (torch's OneCycleLR runs from `maxLr / divFactor`), or a cyclic (torch's
 * CyclicLR runs between its `baseLr` and `maxLr`).
 */
function setsItsOwnRates(scheduler: RunConfigOutputScheduler): boolean {
  if (scheduler?.name === "onecycle" || scheduler?.name === "cyclic") return true;
  return scheduler?.name === "sequential" && scheduler.schedulers.length === 1 &&
    scheduler.schedulers[0].name === "onecycle";
}

/**
 * A onecycle that cycles momentum and its path below `scheduler`; undefined when there is none.
 */
function cyclingOneCycle(
  scheduler: RunConfigOutputScheduler,
): { spec: SpecOf<"onecycle">; path: (string | number)[] } | undefined {
  if (scheduler?.name === "onecycle") {
    return scheduler.cycleMomentum ? { spec: scheduler, path: [] } : undefined;
  }
  if (scheduler?.name !== "sequential") return undefined;
  const index = scheduler.schedulers.findIndex((child) =>
    child.name === "onecycle" && child.cycleMomentum
  );
  return index < 0
    ? undefined
    : { spec: scheduler.schedulers[index] as SpecOf<"onecycle">, path: ["schedulers", index] };
}

type RunConfigOutputScheduler = z.output<typeof SchedulerSpecSchema> | undefined;

/** A run config as a user writes it (every default optional). */
export type RunConfigInput = z.input<typeof RunConfigSchema>;
/** A validated run config with every default filled in. */
export type RunConfig = z.output<typeof RunConfigSchema>;

/** A zod issue, with an unknown key's path ending at that key (one entry per key). */
interface FieldIssue {
  path: PropertyKey[];
  issue: z.core.$ZodIssue;
  /** The key no schema field has, for an `unrecognized_keys` issue. */
  unknown?: string;
}

function fieldIssues(error: z.ZodError): FieldIssue[] {
  // (a union's issues as its one option of the value's type has them: a sweep condition's)
  return error.issues.flatMap(optionIssues).flatMap((issue): FieldIssue[] =>
    issue.code === "unrecognized_keys"
      ? issue.keys.map((key) => ({ path: [...issue.path, key], issue, unknown: key }))
      : [{ path: issue.path, issue }]
  );
}

/**
 * The fields an unknown key most likely meant: a field of the same object spelled alike
 * (`optimzer`: `optimizer`), else the fields of that name one level down (`patience` at the top:
 * `scheduler.patience`, `earlyStopping.patience`) or up (`optimizer.epochs`: `epochs`).
 */
function meantFields(key: string, parent: PropertyKey[], input: unknown): string {
  const dotted = dottedPath(key, parent, input);
  if (dotted) return `(a path as one key: did you mean '${formatPath(dotted)}', nested?)`;
  const suggestion = suggestField(RunConfigSchema, parent, key, input);
  if (suggestion) return describeSuggestion(suggestion, key, configStyle(parent));
  const here = fieldNames(RunConfigSchema, parent, input).filter((name) => name !== key);
  const meant = (paths: PropertyKey[][]) =>
    `(did you mean ${paths.map((path) => `'${formatPath(path)}'`).join(" or ")}?)`;
  const below = here.filter((section) =>
    fieldNames(RunConfigSchema, [...parent, section], input).includes(key)
  );
  if (below.length > 0) return meant(below.map((section) => [...parent, section, key]));
  for (let depth = parent.length - 1; depth >= 0; depth--) {
    const above = parent.slice(0, depth);
    if (fieldNames(RunConfigSchema, above, input).includes(key)) return meant([[...above, key]]);
  }
  return "";
}

/**
 * The path an unknown key names where it is a dotted path of fields written as one key
 * (`"optimizer.lr"` at the top: `optimizer.lr`, the form of `--set`); undefined otherwise.
 */
function dottedPath(key: string, parent: PropertyKey[], input: unknown): PropertyKey[] | undefined {
  const names = key.split(".");
  if (names.length < 2 || names.some((name) => name === "")) return undefined;
  const path = [...parent];
  for (const name of names) {
    if (!fieldNames(RunConfigSchema, path, input).includes(name)) return undefined;
    path.push(name);
  }
  return path;
}

/** What to do about unknown field `key` of the object at `parent`: see `suggestionHint`. */
function unknownFieldHint(key: string, parent: PropertyKey[], input: unknown): string {
  const dotted = dottedPath(key, parent, input);
  if (dotted) {
    // (it said to rename "optimizer.lr" to 'optimizer', a section, dropping the setting)
    const value = valueAt(input, [...parent, key]);
    const nested = dotted.slice(parent.length).reduceRight<string>(
      (inner, name) => `{ "${String(name)}": ${inner} }`,
      JSON.stringify(value) ?? "...",
    );
    return `write it nested: ${nested.slice(2, -2)} (a dotted path is --set's form, ` +
      `which applyOverrides(config, ["${key}=..."]) takes)`;
  }
  const suggestion = suggestField(RunConfigSchema, parent, key, input);
  return suggestion
    ? suggestionHint(suggestion, key, configStyle(parent))
    : "remove or rename the field";
}

/**
 * Formats the first zod issues as `field path: message, current value is ...`, one per field (a
 * value that breaks two rules, like lr -1, is named once; an unknown field says which field it
 * likely meant); `sourceOf` may name where an issue's value came from (`in --set 'epochs=0'`),
 * said after its path.
 */
export function describeIssues(
  error: z.ZodError,
  input: unknown,
  sourceOf: (path: PropertyKey[]) => string | undefined = () => undefined,
): string {
  const fields = new Set<string>();
  return fieldIssues(error).filter(({ path }) => {
    const field = path.length ? formatPath(path) : "(root)";
    return !fields.has(field) && fields.add(field);
  }).slice(0, 5).map(({ path, issue, unknown }) => {
    const field = path.length ? formatPath(path) : "(root)";
    const source = sourceOf(path);
    const where = `'${field}'${source ? ` (${source})` : ""}`;
    if (unknown !== undefined) {
      const meant = meantFields(unknown, path.slice(0, -1), input);
      return `${where}: unknown field${meant ? ` ${meant}` : ""}`;
    }
    const value = valueAt(input, path);
    // JSON reads 1e400 as Infinity, which zod calls "received Infinity" and JSON writes as null
    const message = typeof value === "number" && !Number.isFinite(value)
      ? "must be a finite number"
      : value === undefined && issue.code === "invalid_union" && issue.discriminator
      ? missingDiscriminator(
        path.slice(0, -1),
        issue.discriminator,
        discriminatorValues(issue),
        input,
      )
      : issueText(issue, value) + sectionChoice(issue, path, value, input) +
        (value === null && optionalAt(RunConfigSchema, path, input)
          ? " (leave the field out for its default)"
          : "");
    // (a key refused is the fault, not the value under it)
    const got = value === undefined || issue.code === "invalid_key"
      ? ""
      : `, current value is ${showValue(value)}`;
    // (a null on a field that may not be left out: `--set data.target=null` removes nothing)
    const required = value === null && !optionalAt(RunConfigSchema, path, input) &&
        !nullableAt(RunConfigSchema, path, input) &&
        fieldNames(RunConfigSchema, path.slice(0, -1), input).includes(String(path.at(-1)))
      ? " (the field is required: null does not remove it, give it a value)"
      : "";
    return `${where}: ${message}${got}${required}`;
  }).join("; ");
}

/**
 * A section written as the name of its kind (`--set optimizer=adam`): how to choose that kind
 * (`--set optimizer.name=adam`), where the name is one, or close to one.
 */
function sectionChoice(
  issue: z.core.$ZodIssue,
  path: PropertyKey[],
  value: unknown,
  input: unknown,
): string {
  if (issue.code !== "invalid_type" || issue.expected !== "object") return "";
  const union = unionAt(RunConfigSchema, path, input);
  const meant = union && closestOption(value, union.options.map((option) => option.value));
  if (!union || meant === undefined) return "";
  const written = `${formatPath(path)}: {"${union.key}": ${showValue(meant)}, ...}`;
  const set = path.every((key) => typeof key === "string")
    ? `--set ${formatPath([...path, union.key])}=${meant}, or `
    : "";
  return ` (to choose ${showValue(meant)}: ${set}${written})`;
}

/**
 * What to say of a section without its discriminator (`kind`, `name`) that is not the default
 * kind's (see `withSectionDefaults`): the values it may take, what the default would have been,
 * and the ones whose fields hold every field given.
 */
function missingDiscriminator(
  parent: PropertyKey[],
  key: string,
  options: unknown[],
  input: unknown,
): string {
  const given = Object.keys(valueAt(input, parent) as Record<string, unknown>);
  const fieldsOf = (option: unknown) => {
    const withOption = structuredClone(input) as Record<PropertyKey, unknown>;
    const section = valueAt(withOption, parent) as Record<string, unknown>;
    section[key] = option;
    return fieldNames(RunConfigSchema, parent, withOption);
  };
  const fits = options.filter((option) => given.every((name) => fieldsOf(option).includes(name)));
  const names = (values: unknown[], or: string) =>
    values.map((value) => `'${String(value)}'`).join(or);
  const defaults = parent.length === 1 ? SECTION_DEFAULTS[String(parent[0])] : undefined;
  const foreign = defaults ? given.filter((name) => !fieldsOf(defaults[key]).includes(name)) : [];
  const fallback = defaults
    ? `; without it the section would be the default ${names([defaults[key]], "")}, which has ` +
      `no field ${names(foreign, " or ")}`
    : "";
  // no kind has every field given: which kinds have the ones the default lacks
  const known = foreign.filter((name) => options.some((option) => fieldsOf(option).includes(name)));
  const owners = options.filter((option) => known.some((name) => fieldsOf(option).includes(name)));
  const suggestion = fits.length > 0 && fits.length < options.length
    ? `; the fields given fit ${names(fits, " or ")} (add "${key}": ${showValue(fits[0])})`
    : owners.length > 0
    ? `; ${names(known, " and ")} belong${known.length > 1 ? "" : "s"} to ${names(owners, " or ")}`
    : "";
  return `missing (one of ${names(options, ", ")})${fallback}${suggestion}`;
}

/** The values a discriminated union's issue lists for its discriminator. */
function discriminatorValues(issue: z.core.$ZodIssue): unknown[] {
  const { options } = issue as { options?: unknown };
  return Array.isArray(options) ? options : [];
}

/**
 * The last `--set` override that wrote the value at `path` or around it (`data={...}` for
 * `data.validationSplit`, `optimizer.name=x` for `optimizer`), if any.
 */
function overrideAt(path: PropertyKey[], overrides: string[]): string | undefined {
  if (path.length === 0) return undefined;
  const field = path.map(String);
  return overrides.findLast((override) => {
    // (joined: a space's key is a dotted path, `sweep.space["optimizer.lr"].high`)
    const [set, at] = [override.slice(0, override.indexOf("=")), field.join(".")];
    return set === at || set.startsWith(`${at}.`) || at.startsWith(`${set}.`);
  });
}

/**
 * Validates a config object.
 *
 * @example
 * ```ts
 * import { parseConfig } from "./config.ts";
 * const config = parseConfig({ epochs: 5 });
 * console.assert(config.batchSize === 16);
 * ```
 */
export function parseConfig(input: unknown, source = "config"): RunConfig {
  if (typeof input === "string") {
    // (train("config.json") from plain JS: the config a path names is read by loadConfig)
    const json = /^\s*[{[]/.test(input);
    throw new AnnealError(
      "config",
      `Invalid ${source}: it must be a config object, current value is the string ${
        JSON.stringify(input.length > 80 ? `${input.slice(0, 77)}...` : input)
      }`,
      {
        where: "config",
        hint: json
          ? "parse the JSON text first: JSON.parse(text), or read its file with " +
            "await loadConfig(path)"
          : `a config file is read with loadConfig: pass await loadConfig(${
            JSON.stringify(input)
          }) (it gives a config object every function that takes one accepts)`,
      },
    );
  }
  if (!isObject(input)) {
    // (undefined from a field a caller's own object lacks, a number, a list: zod said
    // "'(root)': is required (an object)", hint "fix the field named above")
    const shown = Array.isArray(input) ? "a list" : input === null ? "null" : typeof input ===
        "undefined"
      ? "undefined"
      : `the ${typeof input} ${String(input)}`;
    throw new AnnealError(
      "config",
      `Invalid ${source}: it must be a config object, current value is ${shown}`,
      {
        where: "config",
        hint: "pass a config object ({} for every default: the seed experiment), or a config " +
          "file's, read with await loadConfig(path)",
      },
    );
  }
  return parseWithOverrides(input, source, []);
}

/**
 * Validates a config made of `source` and `--set` overrides; an invalid value is blamed on the
 * override that wrote it, if one did, else on `source`. `flags` names the command-line flag an
 * override stands for (`epochs=0` is `--epochs 0`), so that the error names what was typed.
 */
function parseWithOverrides(
  input: unknown,
  source: string,
  overrides: string[],
  flags: Record<string, string> = {},
): RunConfig {
  input = withoutSchemaLink(input);
  input = withSectionDefaults(input);
  // (whether the config sets early stopping's mode, or takes the one that follows its monitor)
  const modeSet = modeOf(input) !== undefined;
  input = withDirectionDefaults(input);
  const result = RunConfigSchema.safeParse(input);
  if (result.success) {
    checkFit(result.data, modeSet);
    return withSeedDefaults(result.data);
  }
  const first = fieldIssues(result.error)[0];
  const blamed = first && overrideAt(first.path, overrides);
  const typed = (override: string) => flags[override] ?? `--set '${override}'`;
  const header = blamed ? typed(blamed) : source;
  // Issues from elsewhere than the first one's source say where they come from.
  const sourceOf = (path: PropertyKey[]) => {
    const override = overrideAt(path, overrides);
    if (override === blamed) return undefined;
    return override ? `in ${typed(override)}` : `in ${source}`;
  };
  const flag = blamed && flags[blamed] ? flags[blamed].split(" ")[0] : "--set";
  throw new AnnealError(
    // a flag's value the command does not take is a usage error (exit 2), as every command's
    // flags are; a config's or a --set's, a config error
    flag === "--set" ? "config" : "usage",
    `Invalid ${header}: ${describeIssues(result.error, input, sourceOf)}`,
    {
      where: first ? formatPath(first.path) || undefined : undefined,
      hint: (first?.unknown !== undefined
        ? kindSwitchHint(first.path, input, overrides) ??
          `${unknownFieldHint(first.unknown, first.path.slice(0, -1), input)}${
            blamed ? ` in the ${flag}` : ""
          }`
        : blamed
        ? `change the ${flag} value`
        : "fix the field named above") +
        "; `anneal schema` prints every field and what it allows",
    },
  );
}

/**
 * The hint for an unknown field `path` of the config file in a section whose kind a `--set`
 * switched (`--set model.kind=cnn` on a file's mlp, whose `hidden` cnn has not): the --set that
 * removes it, and the one that replaces the whole section; undefined otherwise.
 */
function kindSwitchHint(
  path: PropertyKey[],
  input: unknown,
  overrides: string[],
): string | undefined {
  if (path.length !== 2 || typeof path[0] !== "string") return undefined;
  const section = path[0];
  const key = DISCRIMINATORS[section]?.key;
  if (key === undefined || overrideAt(path, overrides) !== undefined) return undefined;
  const kind = overrides.findLast((o) => o.startsWith(`${section}.${key}=`));
  if (kind === undefined) return undefined;
  const value = valueAt(input, [section, key]);
  const unknown = Object.keys(valueAt(input, [section]) as object).filter((name) =>
    !fieldNames(RunConfigSchema, [section], input).includes(name)
  );
  return `--set '${kind}' keeps the other fields of the file's '${section}', and ` +
    `${showValue(value)} has not ${unknown.map((name) => `'${name}'`).join(", ")}: remove ` +
    `${unknown.length > 1 ? "them" : "it"} (${
      unknown.map((name) => `--set ${section}.${name}=null`).join(" ")
    }), or give the whole section: --set '${section}={"${key}":${JSON.stringify(value)}, ...}'`;
}

/**
 * Checks what the data's task asks of the rest of the config (the loss, the metric early
 * stopping watches), before any file is read.
 */
function checkFit(config: RunConfig, modeSet: boolean): void {
  const data = dataTask(config.data);
  if (config.loss !== undefined) checkLossFits(config.loss, data);
  const { monitor, mode } = config.earlyStopping;
  checkMonitor(
    monitor,
    modeSet ? mode : undefined,
    data,
    config.data.validationSplit > 0,
    maximizes(config.optimizer),
  );
}

/** The early-stopping mode a config's input sets, if any. */
function modeOf(input: unknown): unknown {
  const stopping = isObject(input) ? input.earlyStopping : undefined;
  return isObject(stopping) ? stopping.mode : undefined;
}

/**
 * Whether `config` maximizes the loss while early stopping watches it: then the best epoch is
 * the one with the highest loss, and the monitor's mode (and a plateau schedule's) should be max.
 */
function watchesMaximizedLoss(config: { optimizer?: unknown; earlyStopping?: unknown }): boolean {
  const stopping = config.earlyStopping as { monitor?: unknown } | undefined;
  const monitor = stopping?.monitor ?? "valLoss";
  return maximizes(config.optimizer) && LOSS_METRICS.includes(monitor as string);
}

/**
 * Whether early stopping (and a plateau schedule, which watches the same metric) watches one that
 * is better higher: an accuracy, or the loss under `optimizer.maximize`.
 */
function watchesHigherIsBetter(config: { optimizer?: unknown; earlyStopping?: unknown }): boolean {
  const stopping = config.earlyStopping as { monitor?: unknown } | undefined;
  const monitor = stopping?.monitor ?? "valLoss";
  return typeof monitor === "string" && higherIsBetter(monitor, maximizes(config.optimizer));
}

/**
 * Defaults that follow the watched metric's direction, filled into the input before it is
 * validated (a mode the input sets is kept): early stopping and a plateau schedule default to mode
 * `max` where a higher value of their metric is better, as Keras' `mode: "auto"` does: an
 * accuracy (`valAccuracy`), and the loss under `optimizer.maximize`, which pushes it up. Anything
 * that is not the shape of a config is left for the schema to reject.
 */
function withDirectionDefaults(input: unknown): unknown {
  if (input === null || typeof input !== "object" || Array.isArray(input)) return input;
  const config = input as Record<string, unknown>;
  const stopping = config.earlyStopping ?? {};
  if (typeof stopping !== "object" || stopping === null || !watchesHigherIsBetter(config)) {
    return input;
  }
  const withMax = (section: object) => {
    const fields = section as Record<string, unknown>;
    return fields.mode === undefined ? { ...fields, mode: "max" } : fields;
  };
  const out: Record<string, unknown> = { ...config, earlyStopping: withMax(stopping) };
  const scheduler = config.scheduler as Record<string, unknown> | undefined;
  if (scheduler !== null && typeof scheduler === "object" && scheduler.name === "plateau") {
    out.scheduler = withMax(scheduler);
  }
  return out;
}

/** Something in a valid config that is likely a mistake: what, the field, and the fix. */
export interface ConfigWarning {
  /** The config path of the setting, e.g. `optimizer.alpha`. */
  field: string;
  /** What the setting does. */
  message: string;
  /** What to do about it. */
  hint: string;
  /**
   * What to do about it on a resume of a run recorded with the setting, where `hint`'s change
   * cannot be made (a resume refuses a change of its config); absent where `hint` holds.
   */
  resumeHint?: string;
}

/**
 * What in a valid config is likely a mistake: settings torch accepts, so anneal does too, but
 * that make the run fail or mean something else than intended. A run starts with these as
 * `warning` events. Takes a config as written or as {@linkcode parseConfig} gives it; one that
 * is not valid throws parseConfig's {@linkcode AnnealError} (`config`).
 * - RMSprop's `alpha` >= 1: above 1 the weights are NaN after the first step; at 1 every step is
 *   the learning rate x gradient / eps.
 * - `optimizer.maximize` with early stopping or a plateau schedule watching the loss in mode
 *   `min`: their best epoch is then the lowest loss, which the optimizer pushes away from (the
 *   mode defaults to `max` there; this is a `min` the config sets).
 * - Early stopping or a plateau schedule watching an accuracy in mode `min` (a `min` the config
 *   sets: the mode defaults to `max` there): the best epoch is then the least accurate.
 * - Early stopping or a plateau schedule watching the loss or mae of a run that minimizes its
 *   loss in mode `max`: the best epoch is then the worst (early stopping stops as the loss
 *   falls, and `restoreBest` puts back the first epoch's weights).
 * - An `interval` that changes nothing (see {@linkcode unusedIntervals}).
 * - A `data.testLimit` where the data has no test set (synthetic-linear data, a CSV without
 *   `testPath`): it limits nothing.
 * - A `model.dropout` the model has no layer for (see {@linkcode unusedDropout}): it drops
 *   nothing.
 * - `clipping.normType` without a clip by norm, early stopping's `minDelta` or `baseline` without
 *   a `patience` (see {@linkcode idleSettings}): they change nothing.
 * - An adaptive optimizer's `eps` of {@linkcode LARGE_EPS} or more: its steps shrink; of 0: a
 *   gradient of 0 makes a NaN.
 * - A weight decay that grows the weights by itself at the rate set (see {@linkcode decayFactor}):
 *   the run diverges whatever the data.
 *
 * @example
 * ```ts
 * import { configWarnings, parseConfig } from "./config.ts";
 * const config = parseConfig({ optimizer: { name: "rmsprop", alpha: 1.5 } });
 * console.assert(configWarnings(config)[0].field === "optimizer.alpha");
 * ```
 */
export function configWarnings(input: RunConfigInput | RunConfig): ConfigWarning[] {
  // (a config as written, not parsed first, threw a TypeError from inside: its defaults were
  // missing; one that does not parse throws parseConfig's error, naming the field)
  const config = parseConfig(input);
  const warnings: ConfigWarning[] = [];
  const fault = settingFault(config.optimizer);
  if (fault) warnings.push({ field: fault.field, message: fault.message, hint: fault.hint });
  const baseBatch = (config.optimizer as { baseBatch?: number }).baseBatch;
  const rule = batchScalingOf(config.optimizer);
  const effective = config.batchSize * config.gradientAccumulation;
  const scale = (lr: number) =>
    Number(scaleLearningRate(lr, baseBatch!, effective, rule).lr.toPrecision(6));
  if (baseBatch !== undefined && config.scheduler?.name === "cyclic") {
    // The scaling rule scales optimizer.lr; cyclic runs between its baseLr and maxLr.
    const { baseLr, maxLr } = config.scheduler;
    warnings.push({
      field: "optimizer.baseBatch",
      message: `optimizer.baseBatch scales optimizer.lr to the effective batch (${effective} of ` +
        `${baseBatch}), but cyclic does not use optimizer.lr: its rates run between ` +
        "scheduler.baseLr and scheduler.maxLr, which are not scaled",
      hint: "scale the cycle's rates yourself and drop baseBatch: " +
        `--set scheduler.baseLr=${scale(baseLr)} --set scheduler.maxLr=${scale(maxLr)} ` +
        `(each x ${scalingWords(baseBatch, effective, rule)})`,
    });
  } else if (baseBatch !== undefined && setsItsOwnRates(config.scheduler)) {
    // The scaling rule scales optimizer.lr; onecycle takes its rates from maxLr.
    const only = config.scheduler?.name === "sequential";
    const cycle = (only
      ? (config.scheduler as { schedulers: unknown[] }).schedulers[0]
      : config.scheduler) as SpecOf<"onecycle">;
    const scaled = scale(cycle.maxLr);
    warnings.push({
      field: "optimizer.baseBatch",
      message: `optimizer.baseBatch scales optimizer.lr to the effective batch (${effective} of ` +
        `${baseBatch}), but onecycle does not use optimizer.lr: its rates come from ` +
        "scheduler.maxLr, which is not scaled",
      hint: "scale the cycle's peak yourself and drop baseBatch: " +
        (only
          ? `set schedulers[0].maxLr to ${scaled} in the scheduler section`
          : `--set scheduler.maxLr=${scaled}`) +
        ` (${cycle.maxLr} x ${scalingWords(baseBatch, effective, rule)})`,
    });
  }
  // A mode set by hand against the watched metric's direction: the loss under maximize, or an
  // accuracy (both better higher), watched in mode min; or the loss or mae of a run that
  // minimizes its loss (better lower) watched in mode max, which takes the worst epoch as the
  // best (early stopping stops as the loss falls, and restoreBest puts back the first epoch's
  // weights).
  const { monitor } = config.earlyStopping;
  const lowerIsBetter = !maximizes(config.optimizer) &&
    (LOSS_METRICS.includes(monitor) || monitor === "mae" || monitor === "valMae");
  const against = watchesMaximizedLoss(config)
    ? {
      wrong: "min",
      right: "max",
      lowest: "lowest",
      why: "optimizer.maximize pushes the loss up",
      default: "with maximize it defaults to max for a loss monitor",
    }
    : !LOSS_METRICS.includes(monitor) && watchesHigherIsBetter(config)
    ? {
      wrong: "min",
      right: "max",
      lowest: "lowest",
      why: `${monitor} is better higher`,
      default: "it defaults to max for an accuracy",
    }
    : lowerIsBetter
    ? {
      wrong: "max",
      right: "min",
      lowest: "highest",
      why: `${monitor} is better lower (the optimizer minimizes the loss)`,
      default: `it defaults to min for ${monitor}`,
    }
    : undefined;
  if (against) {
    const watchers = [
      { field: "earlyStopping.mode", mode: config.earlyStopping.mode, what: "early stopping" },
      ...(config.scheduler?.name === "plateau"
        ? [{ field: "scheduler.mode", mode: config.scheduler.mode, what: "the plateau schedule" }]
        : []),
    ];
    for (const { field, mode, what } of watchers) {
      if (mode !== against.wrong) continue;
      warnings.push({
        field,
        message: `${field} is '${against.wrong}' while ${against.why}: ${what} takes the epoch ` +
          `with the ${against.lowest} ${monitor} as the best`,
        hint: `leave ${field} out (${against.default}), or --set ${field}=${against.right}`,
        // (a run recorded with the former default, min for every monitor, is resumed with it)
        resumeHint: `a resume keeps the config the run was recorded with, ${field} ` +
          `'${against.wrong}' included (it refuses a change); for ${what} to take the ` +
          `${against.lowest === "lowest" ? "highest" : "lowest"} ${monitor}, start a new run ` +
          `from the run's config.json with --set ${field}=${against.right}`,
      });
    }
  }
  warnings.push(...unusedIntervals(config.scheduler));
  const watched = trainingMetricWatched(config);
  if (watched) warnings.push(watched);
  const testLimit = unusedTestLimit(config.data);
  if (testLimit) warnings.push(testLimit);
  const large = largeSyntheticData(config.data);
  if (large) warnings.push(large);
  const dropout = unusedDropout(config.model);
  if (dropout) warnings.push(dropout);
  warnings.push(...idleSettings(config));
  const eps = largeEps(config.optimizer) ?? zeroEps(config.optimizer);
  if (eps) warnings.push(eps);
  // (at the rate the run applies: optimizer.baseBatch scales optimizer.lr to the batch)
  const decay = decayGrows(
    config,
    baseBatch === undefined ? undefined : scale(config.optimizer.lr),
  );
  if (decay) warnings.push(decay);
  return warnings;
}

/**
 * The factor by which weight decay alone multiplies a weight's size each step, where the decay
 * is the whole update (a weight the loss does not pull): the spectral radius of the update's map
 * on (weight, momentum buffer) with the gradient `weightDecay x weight`, as torch's SGD adds it
 * (momentum, dampening, nesterov), and `|1 - lr x weightDecay|` where the decay is decoupled
 * (AdamW, Lion: torch's `p.mul_(1 - lr * weight_decay)`); undefined for the optimizers whose
 * decay goes through the adaptive scaling.
 *
 * @example
 * ```ts
 * import { decayFactor } from "./config.ts";
 * console.assert(decayFactor({ name: "sgd", lr: 0.5, weightDecay: 6 }) === 2);
 * console.assert(decayFactor({ name: "adamw", lr: 1e-3, weightDecay: 0.01 })! < 1);
 * ```
 */
export function decayFactor(
  optimizer: {
    name: string;
    lr: number;
    weightDecay?: number;
    momentum?: number;
    dampening?: number;
    nesterov?: boolean;
  },
): number | undefined {
  const { name, lr, weightDecay = 0, momentum = 0, dampening = 0, nesterov = false } = optimizer;
  const step = lr * weightDecay;
  if (name === "adamw" || name === "lion") return Math.abs(1 - step);
  if (name !== "sgd") return undefined;
  if (momentum === 0) return Math.abs(1 - step);
  // (state: the weight and the momentum buffer; the buffer takes (1 - dampening) x the gradient)
  const fed = (1 - dampening) * weightDecay;
  const [m11, m12] = nesterov
    ? [1 - step - lr * momentum * fed, -lr * momentum * momentum]
    : [1 - lr * fed, -lr * momentum];
  const [m21, m22] = [fed, momentum];
  const trace = m11 + m22;
  const det = m11 * m22 - m12 * m21;
  const disc = trace * trace / 4 - det;
  return disc >= 0
    ? Math.max(Math.abs(trace / 2 + Math.sqrt(disc)), Math.abs(trace / 2 - Math.sqrt(disc)))
    : Math.sqrt(det);
}

/**
 * A weight decay so strong against the rate that it alone grows the weights: each step takes a
 * weight the loss does not hold across zero and further out ({@linkcode decayFactor} above 1),
 * so the run diverges whatever the data, where a tenth of the rate may not mend it (torch does
 * the same; the divergence read as a rate too high).
 */
function decayGrows(config: RunConfig, scaledLr?: number): ConfigWarning | undefined {
  const set = config.optimizer as Parameters<typeof decayFactor>[0];
  const optimizer = { ...set, lr: scaledLr ?? set.lr };
  const scaled = scaledLr === undefined
    ? ""
    : ` (optimizer.lr ${set.lr} scaled by optimizer.baseBatch)`;
  const factor = decayFactor(optimizer);
  if (factor === undefined || !(factor > 1 + 1e-9)) return undefined;
  // (the largest weightDecay that keeps the factor at 1 at this rate: plain SGD's and the
  // decoupled decay's 2 / lr, found by halving for momentum's)
  let [low, high] = [0, optimizer.weightDecay!];
  for (let i = 0; i < 60; i++) {
    const mid = (low + high) / 2;
    if (decayFactor({ ...optimizer, weightDecay: mid })! > 1) high = mid;
    else low = mid;
  }
  const usable = Number((low / 2).toPrecision(1));
  return {
    field: "optimizer.weightDecay",
    message:
      `optimizer.weightDecay ${optimizer.weightDecay} at lr ${optimizer.lr}${scaled} grows the ` +
      `weights by itself: each step multiplies a weight the loss does not hold by ` +
      `${Number(factor.toPrecision(3))} in size, flipping its sign (${optimizer.name}'s decay ` +
      `is lr x weightDecay = ${Number((optimizer.lr * optimizer.weightDecay!).toPrecision(3))} ` +
      "of the weight a step), so the run diverges whatever the data, as in torch",
    hint: `weight decay is usually 1e-4 to 0.1: --set optimizer.weightDecay=${usable} (half ` +
      `the most this rate takes), or leave it out`,
    resumeHint: "a resume keeps the config the run was recorded with (it refuses a change)",
  };
}

/**
 * An adaptive optimizer's `eps` of 0: a parameter whose gradient is 0 at every step (the weights
 * of a feature that is always 0, as an image's blank border pixels, or of a unit that never fires)
 * is divided 0 by 0, and turns NaN at the first step, as in torch, where it read as a rate too
 * high. torch accepts it.
 */
function zeroEps(optimizer: RunConfig["optimizer"]): ConfigWarning | undefined {
  const eps = (optimizer as { eps?: unknown }).eps;
  if (eps !== 0) return undefined;
  const usual = (OptimizerSpecSchema.parse({ name: optimizer.name }) as { eps?: number }).eps;
  return {
    field: "optimizer.eps",
    message: `optimizer.eps is 0: ${optimizer.name} divides each step by the gradients' scale ` +
      "plus eps, so a weight whose gradient is 0 at every step (a feature that is always 0, a " +
      "unit that never fires) takes 0 / 0, and the weights turn NaN (in torch too)",
    hint: `--set optimizer.eps=${usual} (torch's default), or leave it out`,
    resumeHint: "a resume keeps the config the run was recorded with (it refuses a change)",
  };
}

/** An adaptive optimizer's `eps` at or above which its start warns (torch's defaults: 1e-10 to 1e-6). */
export const LARGE_EPS = 0.1;

/**
 * An adaptive optimizer's `eps` far above its default: each step is divided by
 * `sqrt(second moment) + eps`, so where the gradients are smaller than eps every step shrinks to
 * about lr x gradient / eps, a rate far lower than the one set (Adam at eps 1 read as a run to
 * train longer, run after run). torch accepts it; adadelta's eps, inside both square roots, and
 * adafactor's pair are left out.
 */
function largeEps(optimizer: RunConfig["optimizer"]): ConfigWarning | undefined {
  const eps = (optimizer as { eps?: unknown }).eps;
  if (typeof eps !== "number" || !(eps >= LARGE_EPS) || optimizer.name === "adadelta") {
    return undefined;
  }
  const usual = (OptimizerSpecSchema.parse({ name: optimizer.name }) as { eps?: number }).eps;
  return {
    field: "optimizer.eps",
    message: `optimizer.eps ${eps} is far above ${optimizer.name}'s usual ${usual}: eps is ` +
      "added to the gradients' scale each step is divided by, so where they are smaller than " +
      `${eps} the steps shrink to about lr x gradient / eps, a rate far lower than optimizer.lr`,
    hint: `--set optimizer.eps=${usual} (torch's default), or leave it out`,
    resumeHint: "a resume keeps the config the run was recorded with (it refuses a change); " +
      "its steps stay shrunk by eps",
  };
}

/**
 * Settings that act only with another the config leaves out: `clipping.normType` without a clip
 * by norm (`maxNorm`, `autoPercentile`; an rnn's default 1 is one), and early stopping's
 * `minDelta` or `baseline` without `patience` (no early stopping by a metric then; Keras' default
 * patience is 0, anneal's none). Each changes nothing, and the run trains without what it asks.
 */
function idleSettings(config: RunConfig): ConfigWarning[] {
  const found: ConfigWarning[] = [];
  const { maxNorm, normType, autoPercentile } = config.clipping;
  const byNorm = typeof maxNorm === "number" || autoPercentile !== undefined ||
    (maxNorm === undefined && config.model.kind === "rnn");
  if (normType !== 2 && !byNorm) {
    found.push({
      field: "clipping.normType",
      message: `clipping.normType is ${JSON.stringify(normType)}, and no clip by norm is set ` +
        "(clipping.maxNorm, clipping.autoPercentile): it changes nothing",
      hint: "set the clip it is for (--set clipping.maxNorm=1), or remove clipping.normType",
      resumeHint: "a resume keeps the config the run was recorded with (it refuses a change); " +
        "clipping.normType changes nothing in it",
    });
  }
  const { patience, minDelta, baseline } = config.earlyStopping;
  const idle = [
    ...(minDelta !== 0 ? [`minDelta ${minDelta}`] : []),
    ...(baseline !== undefined ? [`baseline ${baseline}`] : []),
  ];
  if (patience === undefined && idle.length > 0) {
    found.push({
      field: `earlyStopping.${idle[0].split(" ")[0]}`,
      message: `earlyStopping.${idle.join(" and earlyStopping.")} ${
        idle.length === 1 ? "is" : "are"
      } set, and earlyStopping.patience is not: the run stops on no metric, and ${
        idle.length === 1 ? "it changes" : "they change"
      } nothing`,
      hint: "set the patience (--set earlyStopping.patience=5), or remove them",
      resumeHint: "a resume keeps the config the run was recorded with (it refuses a change); " +
        "without a patience its early stopping stops on no metric",
    });
  }
  return found;
}

/**
 * A `model.dropout` where the model has no layer it follows: an rnn of one layer (its dropout
 * acts between stacked recurrent layers, as torch's nn.LSTM's, which warns there too), a cnn
 * without dense hidden layers (`dense: []`), an MLP without hidden ones (`hidden: []`). It drops
 * nothing, and the run trains without the regularization the config asks for.
 */
function unusedDropout(model: RunConfig["model"]): ConfigWarning | undefined {
  if (model.kind === "linear" || model.dropout === 0 || dropoutHasLayers(model)) return undefined;
  const found = model.kind === "rnn"
    ? {
      why: "the rnn has one recurrent layer, and its dropout acts between stacked layers only " +
        "(torch's nn.LSTM and nn.GRU warn likewise)",
      fix: "stack two layers (--set model.layers=2) for dropout between them",
    }
    : model.kind === "cnn"
    ? {
      why: "the cnn has no dense hidden layers (model.dense is []), and its dropout follows " +
        "each of them only",
      fix: "add a dense hidden layer (--set 'model.dense=[128]')",
    }
    : {
      why: "the mlp has no hidden layers (model.hidden is []), and its dropout follows each " +
        "of them only",
      fix: "add a hidden layer (--set 'model.hidden=[128]')",
    };
  return {
    field: "model.dropout",
    message: `model.dropout is ${model.dropout}, and ${found.why}: it drops nothing`,
    hint: `${found.fix}, or remove model.dropout`,
    resumeHint: "a resume keeps the config the run was recorded with (it refuses a change); " +
      "model.dropout drops nothing in it",
  };
}

/**
 * Early stopping on a validation metric (`valLoss`, the default) over data with no validation
 * split: it watches the training metric instead, as documented, but said nothing, and its best
 * epoch (the one restoreBest puts back) was the training loss's lowest.
 */
function trainingMetricWatched(config: RunConfig): ConfigWarning | undefined {
  const { monitor, patience } = config.earlyStopping;
  if (patience === undefined || !monitor.startsWith("val") || config.data.validationSplit > 0) {
    return undefined;
  }
  const training = monitor[3].toLowerCase() + monitor.slice(4);
  return {
    field: "earlyStopping.monitor",
    message: `early stopping watches ${monitor}, and the data has no validation split ` +
      `(data.validationSplit 0): it watches the training ${training} instead, and takes the ` +
      `epoch with the best training ${training} as the best`,
    hint: `hold out a validation split (--set data.validationSplit=0.1), or say what it ` +
      `watches: --set earlyStopping.monitor=${training}`,
    resumeHint: "a resume keeps the config the run was recorded with (it refuses a change); " +
      `its early stopping watches the training ${training}`,
  };
}

/** Samples of synthetic-linear above which its start warns of the memory and time it takes. */
export const LARGE_SYNTHETIC_N = 1e7;

/**
 * A synthetic-linear set of more than {@linkcode LARGE_SYNTHETIC_N} samples: it is generated in
 * the data loader's memory, 20 bytes a sample (two float32 features, a float32 target and a
 * float64 noise draw), at about 6 million samples a second on the 2-core machine, before the
 * first step. A warning, not a refusal: a machine with the memory trains it.
 */
function largeSyntheticData(data: RunConfig["data"]): ConfigWarning | undefined {
  if (data.kind !== "synthetic-linear" || data.n <= LARGE_SYNTHETIC_N) return undefined;
  const gigabytes = (data.n * 20) / 1e9;
  return {
    field: "data.n",
    message: `${data.n} synthetic-linear samples are generated before the first step: about ` +
      `${Number(gigabytes.toPrecision(2))} GB of memory (20 bytes a sample) and ${
        Number((data.n / 6e6).toPrecision(2))
      } s or more`,
    hint: `a few thousand samples fit the two weights (the default is 200): --set data.n=${1e4}`,
  };
}

/**
 * A `data.testLimit` of data that has no test set: synthetic-linear data, a CSV file without a
 * `testPath`. It limits nothing (a limit of the training rows is `data.limit`).
 */
function unusedTestLimit(data: RunConfig["data"]): ConfigWarning | undefined {
  if (data.testLimit === undefined) return undefined;
  if (data.kind === "idx" || (data.kind === "csv" && data.testPath !== undefined)) return undefined;
  const which = data.kind === "csv"
    ? "this CSV data has no test file (data.testPath)"
    : `${data.kind} data has no test set`;
  return {
    field: "data.testLimit",
    message: `data.testLimit is ${data.testLimit}, and ${which}: it limits nothing`,
    hint: "to train on fewer rows, set data.limit (it counts the training rows, before the " +
      "validation split); else remove data.testLimit" +
      (data.kind === "csv" ? ", or give the test file as data.testPath" : ""),
    resumeHint: "a resume keeps the config the run was recorded with (it refuses a change); " +
      "data.testLimit changes nothing in it",
  };
}

/**
 * An `interval` written where it changes nothing: a plateau schedule's (it changes the rate at
 * epoch ends, on its metric), and `step` on a schedule of a sequential that counts epochs (they
 * all count the sequential's interval, as torch's SequentialLR steps them at once; `epoch` in a
 * sequential of steps is refused by the schema). Neither has a default, so a config holds one
 * only where it was written, but a config.json saved before holds `step` in both: warnings,
 * not refusals (a resume drops those, see `readSavedConfig`).
 */
function unusedIntervals(scheduler: RunConfigOutputScheduler): ConfigWarning[] {
  if (scheduler?.name === "plateau" && scheduler.interval !== undefined) {
    return [{
      field: "scheduler.interval",
      message: `scheduler.interval is '${scheduler.interval}', and a plateau schedule has none: ` +
        "it changes the rate at epoch ends only, on the metric it watches (torch's " +
        "ReduceLROnPlateau.step(metric) after each validation)",
      hint: "leave scheduler.interval out",
    }];
  }
  if (scheduler?.name !== "sequential" || scheduler.interval !== "epoch") return [];
  return scheduler.schedulers.flatMap((child, i) => {
    if (child.interval !== "step") return [];
    const field = `scheduler.schedulers[${i}].interval`;
    return [{
      field,
      message: `${field} is 'step', and the sequential counts epochs (scheduler.interval is ` +
        "'epoch'): its schedules all count epochs, as torch's SequentialLR steps them all at " +
        `once, and so does this ${child.name} schedule`,
      hint: "leave the schedules' interval out; to count steps, set the sequential's " +
        "(scheduler.interval: 'step', its milestones then count steps too)",
    }];
  });
}

/**
 * Defaults that depend on other fields: clip RNN gradients at 1.0 unless told otherwise. Clipping
 * turned off (`maxNorm: null`) stays null, so that a parsed config parsed again (as `train` and
 * the tools that re-read a config do) is the same config, not an rnn's default of 1.
 */
function withSeedDefaults(config: RunConfig): RunConfig {
  const clipping = { ...config.clipping };
  if (clipping.maxNorm === undefined && config.model.kind === "rnn") clipping.maxNorm = 1;
  return { ...config, clipping };
}

/**
 * Parses one `--set a.b=value` override value: JSON when it parses, else a plain string. A value
 * that opens an object or a list is JSON meant, not a string: where it breaks is named (a cut-off
 * `[0.9` would otherwise be the string "[0.9", "must be an array, like ["[0.9"]"), and so is a
 * key it holds twice, and a number float64 cannot hold (`1e-400` read as 0). `flag` is the flag
 * the override stands for (`--lr 1e-400`), named in the error in its place.
 */
function parseValue(raw: string, override: string, flag?: string): unknown {
  // the field's path, as errors name it (a list's index as a number: `optimizer.betas[1]`)
  const at = overridePath(override.slice(0, override.indexOf("=")).trim())
    .map((key) => /^\d+$/.test(key) ? Number(key) : key);
  if (/^\s*[[{]/.test(raw)) {
    return parseJsonText(
      raw,
      `the value of --set '${override}'`,
      "usage",
      "--set",
      `quote it for the shell, e.g. --set 'optimizer={"name":"adam","lr":0.001}' (a string ` +
        "that starts with '{' or '[' is written as a JSON string, in double quotes)",
      at,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return raw;
  }
  // (`--lr 1e-400` was refused as "0", `1e400` as Infinity)
  const range = outOfRangeError(
    raw,
    flag ?? `--set '${override}'`,
    "usage",
    flag?.split(" ")[0] ?? "--set",
    at,
  );
  if (range) throw range;
  return value;
}

/**
 * Sections whose schema needs a discriminator: an override into an absent section starts from
 * the section's default, so `--set optimizer.lr=0.1` means "the default SGD, with lr 0.1" (but an
 * override of the discriminator itself, `--set optimizer.name=adam`, starts from that kind's own
 * defaults, as a section naming it does); and a section given without its discriminator is the
 * default with its fields changed (see `withSectionDefaults`).
 */
const SECTION_DEFAULTS: Record<string, Record<string, unknown>> = {
  data: { kind: "synthetic-linear" },
  model: { kind: "linear" },
  optimizer: { name: "sgd", lr: 0.01 },
};

/** The discriminator of each section of {@linkcode SECTION_DEFAULTS}, and the values it takes. */
const DISCRIMINATORS: Record<string, { key: string; values: string[] }> = {
  data: { key: "kind", values: DataSpecSchema.options.map((option) => option.shape.kind.value) },
  model: { key: "kind", values: ModelSpecSchema.options.map((option) => option.shape.kind.value) },
  optimizer: {
    key: "name",
    values: OptimizerSpecSchema.options.map((option) => option.shape.name.value),
  },
};

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * A section given without its discriminator is the default section with those fields changed,
 * as a `--set` into an absent section is: `data: { validationSplit: 0.2 }` is the default
 * synthetic-linear data with a validation split, `optimizer: { momentum: 0.9 }` the default SGD
 * (lr 0.01) with momentum. Not when a field given is another kind's and not the default's
 * (`data: { path: "x.csv", target: "y" }`, a CSV file's): that section is left for the schema,
 * whose error says the discriminator is missing and which kinds have those fields (see
 * `missingDiscriminator`). A field no kind has is an unknown field of the default, named with
 * the field it likely meant.
 */
function withSectionDefaults(input: unknown): unknown {
  if (!isPlainObject(input)) return input;
  let out = input;
  for (const [section, defaults] of Object.entries(SECTION_DEFAULTS)) {
    const given = input[section];
    const { key, values } = DISCRIMINATORS[section];
    if (!isPlainObject(given) || key in given) continue;
    const fieldsOf = (value: unknown) =>
      fieldNames(RunConfigSchema, [section], { [section]: { [key]: value } });
    const foreign = Object.keys(given).filter((name) => !fieldsOf(defaults[key]).includes(name));
    if (values.some((value) => foreign.some((name) => fieldsOf(value).includes(name)))) continue;
    out = { ...out, [section]: { ...structuredClone(defaults), ...given } };
  }
  return out;
}

/**
 * Applies `--set path=value` overrides to a config object (a deep copy is returned). `flags`
 * names the flag an override stands for (`{"optimizer.lr=0.1": "--lr 0.1"}`), for its errors.
 *
 * @example
 * ```ts
 * import { applyOverrides } from "./config.ts";
 * const out = applyOverrides({}, ["optimizer.lr=0.1", "epochs=3"]);
 * console.assert((out.optimizer as { lr: number }).lr === 0.1);
 * ```
 */
export function applyOverrides(
  input: Record<string, unknown>,
  overrides: string[],
  flags: Record<string, string> = {},
): Record<string, unknown> {
  checkArgument(
    isObject(input),
    input,
    "apply overrides",
    "input",
    "a config object",
    "pass the config as written (the object of a JSON config file), e.g. { epochs: 5 }",
  );
  if (!Array.isArray(overrides) || overrides.some((override) => typeof override !== "string")) {
    // (a string was taken letter by letter: "epochs=3" was the override 'e')
    throw new AnnealError(
      "usage",
      `Cannot apply overrides: they must be an array of 'path=value' strings, current value is ${
        JSON.stringify(overrides) ?? String(overrides)
      }`,
      { hint: 'pass e.g. ["epochs=3", "optimizer.lr=0.001"]' },
    );
  }
  const out = structuredClone(input);
  for (const override of overrides) {
    const before = structuredClone(out);
    const eq = override.indexOf("=");
    if (eq <= 0) {
      throw new AnnealError("usage", `Cannot apply --set '${override}': expected path=value`, {
        hint: "write it like --set optimizer.lr=0.001",
      });
    }
    const path = spacePath(out, overridePath(override.slice(0, eq)));
    if (override.slice(eq + 1) === "") {
      throw new AnnealError("usage", `Cannot apply --set '${override}': no value after '='`, {
        hint: `write --set ${override}VALUE, the value in JSON (0.1, true, [1, 2], ` +
          `{"name": "adam"}); for an empty string --set '${override}""'`,
      });
    }
    if (path.some((part) => part === "" || part === "__proto__" || part === "constructor")) {
      throw new AnnealError("usage", `Cannot apply --set '${override}': bad field path`, {
        hint: "use dotted field names like optimizer.lr",
      });
    }
    if (path.length > 1 && out[path[0]] === undefined && SECTION_DEFAULTS[path[0]]) {
      // The section's kind named (`optimizer.name=adam`) is that kind with its own defaults, as
      // a config file's section naming it is (the default SGD's lr 0.01 was Adam's, Lion's 100x
      // its own); another field, the default section with that field changed.
      out[path[0]] = path.length === 2 && path[1] === DISCRIMINATORS[path[0]].key
        ? {}
        : structuredClone(SECTION_DEFAULTS[path[0]]);
    }
    let node: Record<string, unknown> = out;
    for (const [depth, key] of path.slice(0, -1).entries()) {
      const next = node[key];
      if (next === undefined) {
        // a list left to its default (`optimizer.betas.1=0.99` on adam): refused as a --set
        // into that list is, with the default list, its element changed
        const list = /^\d+$/.test(path[depth + 1])
          ? defaultAt(before, path.slice(0, depth + 1))
          : undefined;
        if (Array.isArray(list)) {
          throw notAnObject(override, path.slice(0, depth + 1), list, path.slice(depth + 1), true);
        }
        node[key] = {};
      } else if (next === null || typeof next !== "object" || Array.isArray(next)) {
        throw notAnObject(override, path.slice(0, depth + 1), next, path.slice(depth + 1));
      }
      node = node[key] as Record<string, unknown>;
    }
    const value = parseValue(override.slice(eq + 1), override, flags[override]);
    const key = path[path.length - 1];
    /** The section held the field before this --set (a config file's, an earlier --set's). */
    const held = Object.hasOwn(node, key);
    node[key] = value;
    // `null` for a field that may be left out, and does not take null: the field is removed, its
    // default applies (how a --set drops a config file's scheduler); so is a field the section
    // has not, where it held one (a config file's `model.hidden` after `--set model.kind=cnn`).
    // A null for a field it has not and did not hold (misspelt: `optimizer.lrr=null`) removes
    // nothing: it stays, and is refused as the unknown field it is, as any other value would be.
    if (
      value === null &&
      (optionalAt(RunConfigSchema, path, out) && !nullableAt(RunConfigSchema, path, out) ||
        (path.length > 1 && held &&
          !fieldNames(RunConfigSchema, path.slice(0, -1), out).includes(key)))
    ) {
      delete node[path[path.length - 1]];
    }
  }
  return out;
}

/**
 * The refusal of a `--set` whose path goes on past `at`, whose value (`value`) is not an object:
 * a list (`model.hidden.0=32`, which --set cannot index into) is named with the whole list to
 * give instead, the element changed where `rest` names one; any other value with the --set that
 * replaces it.
 */
function notAnObject(
  override: string,
  at: string[],
  value: unknown,
  rest: string[],
  isDefault = false,
): AnnealError {
  const field = at.join(".");
  const given = override.slice(override.indexOf("=") + 1);
  if (Array.isArray(value)) {
    const index = Number(rest[0]);
    const changed = [...value];
    if (Number.isInteger(index) && index >= 0 && index < value.length) {
      if (rest.length === 1) changed[index] = parseValue(given, override);
      else if (isPlainObject(value[index])) {
        // (a field of an element: `scheduler.schedulers.0.tMax=10`)
        try {
          changed[index] = applyOverrides(value[index], [`${rest.slice(1).join(".")}=${given}`]);
        } catch { /* the list as it is */ }
      }
    }
    return new AnnealError(
      "usage",
      `Cannot apply --set '${override}': '${field}' is a list (${isDefault ? "by default " : ""}${
        JSON.stringify(value)
      }), and --set does not reach into a list`,
      { hint: `give the whole list: --set '${field}=${JSON.stringify(changed)}'` },
    );
  }
  return new AnnealError(
    "usage",
    `Cannot apply --set '${override}': '${field}' is not an object (it is ${
      JSON.stringify(value)
    })`,
    { hint: `set it as a whole: --set ${field}=VALUE` },
  );
}

/**
 * The value a config's section gives `path` once its defaults are filled in (a field left out,
 * like adam's `betas`), or undefined where the section, as it is, does not parse.
 */
function defaultAt(config: Record<string, unknown>, path: string[]): unknown {
  const section = path[0] as keyof typeof RunConfigSchema.shape;
  const schema = RunConfigSchema.shape[section];
  if (schema === undefined) return undefined;
  const input = (withSectionDefaults({ [section]: config[section] ?? {} }) as Record<
    string,
    unknown
  >)[section];
  const parsed = schema.safeParse(input);
  return parsed.success ? valueAt(parsed.data, path.slice(1)) : undefined;
}

/** The fields of a search-space distribution (`sweeps/space.ts`). */
const DISTRIBUTION_FIELDS = ["type", "low", "high", "step", "log", "values", "when"];

/**
 * An override's path as its parts: dotted names, and the bracketed keys and indices anneal's
 * errors print (`sweep.space["optimizer.lr"].low`, `optimizer.betas[1]`); split at its dots
 * where it is not written so (its errors then name the part that is wrong).
 */
function overridePath(text: string): string[] {
  return parsePath(text) ?? text.split(".");
}

/**
 * An override's path with the key under `sweep.space` read as the space reads its keys: a dotted
 * config path (`sweep.space.optimizer.lr.high` sets `high` of the space's `"optimizer.lr"`). The
 * key is the longest run of the path's parts that the space has, else (a new one) the parts
 * before a distribution's field, or all of them. After `when`, the rest is one dotted path too
 * (`sweep.space.optimizer.momentum.when.optimizer.name=sgd`).
 */
function spacePath(config: Record<string, unknown>, path: string[]): string[] {
  if (path.length < 4 || path[0] !== "sweep" || path[1] !== "space") return path;
  const sweep = config.sweep as { space?: unknown } | undefined;
  const space = typeof sweep?.space === "object" && sweep.space !== null ? sweep.space : {};
  const rest = path.slice(2);
  const when = rest.indexOf("when");
  if (when > 0 && when < rest.length - 1) {
    return [
      "sweep",
      "space",
      rest.slice(0, when).join("."),
      "when",
      rest.slice(when + 1).join("."),
    ];
  }
  for (let i = rest.length; i >= 1; i--) {
    const key = rest.slice(0, i).join(".");
    if (Object.hasOwn(space, key)) return ["sweep", "space", key, ...rest.slice(i)];
  }
  const last = rest[rest.length - 1];
  return DISTRIBUTION_FIELDS.includes(last)
    ? ["sweep", "space", rest.slice(0, -1).join("."), last]
    : ["sweep", "space", rest.join(".")];
}

/** The hint for a config path that is a directory: the JSON files in it, if any. */
function configsIn(directory: string): string {
  let names: string[] = [];
  try {
    names = [...Deno.readDirSync(directory)]
      .filter((entry) => entry.isFile && entry.name.endsWith(".json"))
      .map((entry) => `${directory.replace(/\/+$/, "")}/${entry.name}`).sort();
  } catch { /* unreadable: no names to offer */ }
  return names.length === 0
    ? "give the path of a JSON config file"
    : `give the path of a JSON config file, e.g. ${names.slice(0, 3).join(", ")}`;
}

/**
 * Reads a JSON config file as an object, before validation. A missing file, a directory or an
 * unreadable file is named with why; a UTF-8 byte order mark (as some Windows editors write) is
 * skipped, as JSON.parse would refuse it.
 *
 * @example
 * ```ts ignore
 * import { readConfigFile } from "./config.ts";
 * const input = await readConfigFile("examples/fashion_mnist_mlp.json");
 * console.assert(input.name === "fashion-mlp");
 * ```
 */
export async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (cause) {
    const described = fileError(cause, {
      action: "read config file",
      path,
      expected: "a JSON config file",
      hint: cause instanceof Deno.errors.NotFound
        ? "check the path (relative paths start at the working directory)"
        : cause instanceof Deno.errors.IsADirectory
        ? configsIn(path)
        : undefined,
    });
    throw new AnnealError("config", described?.message ?? `Cannot read config file '${path}'`, {
      where: path,
      hint: described?.hint ?? "check the path; config files are JSON",
      cause,
    });
  }
  // a syntax error is named by its line and column (json_syntax.ts), a byte order mark skipped
  const text = decodeJsonFile(bytes, `config file '${path}'`, "config", path);
  const input = parseJsonText(text, `config file '${path}'`, "config", path);
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    throw new AnnealError("config", `Config file '${path}' must hold a JSON object`, {
      where: path,
      hint: 'write the config as one object: { "epochs": 5, "optimizer": { "lr": 0.1 } }',
    });
  }
  // "$schema": the editor's link to `anneal schema`'s output, not a setting of the run
  return withoutSchemaLink(input) as Record<string, unknown>;
}

/**
 * The config without its top-level `"$schema"` (a string: the editor's link to `anneal schema`'s
 * output, which {@linkcode configJsonSchema} allows): left out by {@linkcode readConfigFile}, and
 * by `parseConfig`, so a config file's object given to `train` as it is parses too.
 */
function withoutSchemaLink(input: unknown): unknown {
  if (!isObject(input)) return input;
  const { $schema, ...config } = input as Record<string, unknown>;
  return typeof $schema === "string" ? config : input;
}

/**
 * Reads a JSON config file, applies overrides and validates; `flags` maps an override to the
 * flag it was typed as (`{ "epochs=0": "--epochs 0" }`), for errors.
 */
export async function loadConfig(
  path: string | undefined,
  overrides: string[] = [],
  flags: Record<string, string> = {},
): Promise<RunConfig> {
  checkArgument(
    path === undefined || typeof path === "string",
    path,
    "load the config",
    "path",
    "a config file's path",
    "pass the path of a JSON config file, e.g. 'examples/fashion_mnist_mlp.json', or leave it out " +
      "for the defaults",
  );
  const input = path === undefined ? {} : await readConfigFile(path);
  const source = path ? `config '${path}'` : "config";
  return parseWithOverrides(applyOverrides(input, overrides, flags), source, overrides, flags);
}

/** The parts of a JSON Schema that {@linkcode configJsonSchema} rewrites. */
interface JsonSchemaNode {
  properties?: Record<string, JsonSchemaNode>;
  oneOf?: JsonSchemaNode[];
  required?: string[];
  const?: unknown;
  default?: unknown;
  description?: string;
  [key: string]: unknown;
}

/**
 * The run config's JSON Schema, for editors (`anneal schema`). Beside each kind of a section that
 * has a default (`data`, `model`, `optimizer`), it has the form `parseConfig` reads as that
 * default with the fields given changed: the default kind's fields without the discriminator
 * (`data: { "validationSplit": 0.2 }`; see `withSectionDefaults`).
 */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(RunConfigSchema, { io: "input", unrepresentable: "any" });
  const properties = (schema as JsonSchemaNode).properties!;
  for (const [section, defaults] of Object.entries(SECTION_DEFAULTS)) {
    const { key } = DISCRIMINATORS[section];
    const variants = properties[section].oneOf ?? [];
    const standard = variants.find((variant) => variant.properties?.[key]?.const === defaults[key]);
    if (!standard) {
      throw new AnnealError("internal", `The JSON Schema of '${section}' has no ${defaults[key]}`);
    }
    const { [key]: _, ...fields } = standard.properties!;
    for (const [name, value] of Object.entries(defaults)) {
      if (name !== key) fields[name] = { ...fields[name], default: value };
    }
    variants.push({
      ...standard,
      description: `Without '${key}': the default ${section} (${
        JSON.stringify(defaults)
      }) with the fields given changed.`,
      properties: fields,
      required: (standard.required ?? []).filter((name) => name !== key),
    });
  }
  properties.$schema = {
    type: "string",
    description: "This schema's file, for editors (`anneal schema > anneal.schema.json`); " +
      "a config file's is not a setting of the run, and is left out as the file is read.",
  };
  return schema as Record<string, unknown>;
}

/**
 * The factor the run multiplies `optimizer.lr` by at its effective batch (1 without
 * `optimizer.baseBatch`), by `optimizer.batchScaling`'s rule: a rate the optimizer should see,
 * divided by it, is the `optimizer.lr` to write.
 */
export function learningRateScale(config: RunConfig): number {
  const baseBatch = (config.optimizer as { baseBatch?: number }).baseBatch;
  if (baseBatch === undefined) return 1;
  const effective = config.batchSize * config.gradientAccumulation;
  return scaleLearningRate(1, baseBatch, effective, batchScalingOf(config.optimizer)).lr;
}

/**
 * The learning rate a run starts from: `optimizer.lr`, scaled to the effective batch (batch x
 * accumulation) when `optimizer.baseBatch` is set, by `optimizer.batchScaling`'s rule (absent:
 * linear for sgd, sqrt for the adaptive optimizers).
 *
 * @example
 * ```ts
 * import { baseLearningRate, parseConfig } from "./config.ts";
 * const config = parseConfig({ batchSize: 64, optimizer: { name: "sgd", lr: 0.1, baseBatch: 256 } });
 * console.assert(baseLearningRate(config).lr === 0.025);
 * const adam = parseConfig({ batchSize: 64, optimizer: { name: "adam", lr: 0.002, baseBatch: 256 } });
 * console.assert(baseLearningRate(adam).lr === 0.001);
 * ```
 */
export function baseLearningRate(config: RunConfig): ScaledLearningRate {
  const { lr, baseBatch } = config.optimizer as { lr: number; baseBatch?: number };
  if (baseBatch === undefined) return { lr };
  return scaleLearningRate(
    lr,
    baseBatch,
    config.batchSize * config.gradientAccumulation,
    batchScalingOf(config.optimizer),
  );
}
