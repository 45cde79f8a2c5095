/**
 * `anneal train`: runs a config through the actors and prints the epochs like the seed notebook.
 *
 * @module
 */
// (from the modules themselves, not mod.ts: `anneal train` does not load tfjs in its own thread)
import { AnnealError } from "../../errors.ts";
import {
  applyOverrides,
  baseLearningRate,
  loadConfig,
  readConfigFile,
  type RunConfig,
} from "../../config.ts";
import { batchScalingOf, scalingWords } from "../../optimizers/scaling.ts";
import { formatDiagnosis, readRun, terminalCharts } from "../../report/mod.ts";
import { train } from "../../runtime/supervisor.ts";
import type { RunResult, TrainingRun } from "../../runtime/supervisor.ts";
import type { EpochEvent, PlanEvent, RunEvent } from "../../runtime/events.ts";
import { formatMetrics, formatNumber, printedOnStdout } from "../output.ts";
import { StepProgress } from "../progress.ts";
import { parseNumberFlag } from "./schedule.ts";
import { type Interruption, onSignals, signalExitCode } from "../signals.ts";
import { ownRatesWhy, rateOverride, rateSetting } from "../../schedulers/rate_setting.ts";
import { runsDirFlagOf, shellWord } from "../../shell_word.ts";
import { counted, nonFiniteAsText } from "../../number_format.ts";
import { runDirOf, runIdOf } from "./runs.ts";
import { basename } from "node:path";

/** Options of `anneal train`, as parsed by the CLI. */
export interface TrainCommandOptions {
  config?: string;
  set: string[];
  backend?: string;
  epochs?: string;
  maxSteps?: string;
  batchSize?: string;
  lr?: string;
  resume?: string;
  runsDir?: string;
  name?: string;
  json?: boolean;
  logEvery?: string;
  progress: boolean;
}

/** Exit codes: 0 completed or stopped early, 1 failed, 3 diverged, 128 + N interrupted by signal N. */
export function exitCodeFor(result: RunResult, signal?: Deno.Signal): number {
  if (result.status === "interrupted") return signalExitCode(signal);
  if (result.status === "failed") return 1;
  if (result.status === "diverged") return 3;
  return 0;
}

/**
 * The override `--lr LR` makes in a run configured as `config` (the config file with the user's
 * `--set`s applied, or undefined when it cannot be read: `loadConfig` then says why): the setting
 * that sets the run's learning rate (see `rate_setting.ts`). That is `optimizer.lr`, except under
 * onecycle, whose rates torch's OneCycleLR computes from its `maxLr` and which ignores
 * `optimizer.lr`: `--lr` sets the peak, `scheduler.maxLr` (for a sequential's onecycle, the whole
 * `scheduler` section with its `maxLr` changed, which `--set` reaches); and under cyclic, whose
 * rates torch's CyclicLR runs between its `baseLr` and `maxLr`: `--lr` sets the peak and scales
 * `baseLr` alike (the whole `scheduler` section). `note` says so, when the setting is not
 * `optimizer.lr`.
 *
 * @example
 * ```ts
 * import { lrOverride } from "./train.ts";
 * console.assert(lrOverride("0.1", {}).override === "optimizer.lr=0.1");
 * const scheduler = { name: "onecycle", maxLr: 1, totalSteps: 100 };
 * console.assert(lrOverride("0.1", { scheduler }).override === "scheduler.maxLr=0.1");
 * ```
 */
export function lrOverride(lr: string, config: unknown): { override: string; note?: string } {
  const setting = rateSetting(config);
  if (!setting.oneCycle) return { override: `optimizer.lr=${lr}` };
  const value = Number(lr);
  // a value the config will refuse is left for it to name (a sequential's needs a number to place)
  if (!setting.settable && !Number.isFinite(value)) return { override: `optimizer.lr=${lr}` };
  const { path, value: section } = rateOverride(config, value);
  // the whole scheduler section: a sequential's onecycle, or a cyclic whose baseLr scales along
  const override = path === "scheduler" ? `${path}=${JSON.stringify(section)}` : `${path}=${lr}`;
  const base = setting.schedule === "cyclic" && path === "scheduler"
    ? `, and scales its baseLr alike (to ${(section as { baseLr: number }).baseLr})`
    : "";
  return {
    override,
    note: `--lr ${lr} sets ${setting.schedule}'s maxLr (${setting.path}), the peak of its ` +
      `cycle${base}: ${ownRatesWhy(setting)} (--set optimizer.lr=${lr} would do nothing)`,
  };
}

/** The config file with the `--set`s applied, as JSON; undefined when it cannot be read. */
async function rawConfig(options: TrainCommandOptions): Promise<unknown> {
  try {
    const input = options.config === undefined ? {} : await readConfigFile(options.config);
    return applyOverrides(input, options.set);
  } catch {
    return undefined;
  }
}

/**
 * Turns the shortcut flags into `--set` overrides; `flags` says which flag each one was typed as,
 * so that a config error names `--epochs 0`, not a `--set 'epochs=0'` nobody wrote. `config` is
 * the run's config before the shortcuts (see {@linkcode lrOverride}: `--lr` sets onecycle's
 * `maxLr` under onecycle); `notes` says what a shortcut set that its name does not.
 */
export function shortcutOverrides(
  options: TrainCommandOptions,
  config: unknown = {},
): string[] & { flags: Record<string, string>; notes: string[] } {
  const overrides = Object.assign([...options.set], {
    flags: {} as Record<string, string>,
    notes: [] as string[],
  });
  const shortcut = (override: string, flag: string, value: string) => {
    // a --set of the same field beside it: one of the two would be dropped without a word (the
    // shortcut, applied last, won), so both are refused (but a section --lr rewrites whole, a
    // cyclic's, is the one --set gave, changed: see lrOverride)
    const path = override.slice(0, override.indexOf("="));
    const same = path === "scheduler" ? undefined : options.set.find((set) => setsField(set, path));
    if (same !== undefined) {
      // (the section that holds the field, where the --set wrote one)
      const at = same.slice(0, same.indexOf("=")).trim();
      throw new AnnealError(
        "usage",
        `${flag} ${value} and --set ${same} both set '${path}': give it once`,
        {
          where: flag,
          hint: at === path
            ? `drop ${flag} or --set ${path}=...`
            : `drop ${flag}, or '${path}' from --set ${at}=...`,
        },
      );
    }
    overrides.push(override);
    overrides.flags[override] = `${flag} ${value}`;
  };
  if (options.backend) {
    shortcut(`backend=${JSON.stringify(options.backend)}`, "--backend", options.backend);
  }
  if (options.epochs) shortcut(`epochs=${options.epochs}`, "--epochs", options.epochs);
  if (options.maxSteps) {
    shortcut(`maxSteps=${options.maxSteps}`, "--max-steps", options.maxSteps);
  }
  if (options.batchSize) {
    shortcut(`batchSize=${options.batchSize}`, "--batch-size", options.batchSize);
  }
  if (options.lr) {
    const { override, note } = lrOverride(options.lr, config);
    shortcut(override, "--lr", options.lr);
    if (note) overrides.notes.push(note);
  }
  if (options.runsDir) {
    shortcut(`runsDir=${JSON.stringify(options.runsDir)}`, "--runs-dir", options.runsDir);
  }
  if (options.name) shortcut(`name=${JSON.stringify(options.name)}`, "--name", options.name);
  return overrides;
}

/**
 * Whether the `--set` override `set` writes the field at the dotted `path`: the field itself, or
 * a section above it whose JSON value holds it (`optimizer={"name":"adam","lr":0.1}` writes
 * `optimizer.lr`, which a shortcut applied after it would replace without a word).
 */
function setsField(set: string, path: string): boolean {
  const eq = set.indexOf("=");
  const at = set.slice(0, eq).trim();
  if (at === path) return true;
  if (!path.startsWith(`${at}.`)) return false;
  let value: unknown;
  try {
    value = JSON.parse(set.slice(eq + 1));
  } catch {
    return false;
  }
  for (const key of path.slice(at.length + 1).split(".")) {
    if (value === null || typeof value !== "object" || !Object.hasOwn(value, key)) return false;
    value = (value as Record<string, unknown>)[key];
  }
  return true;
}

/**
 * What `--resume` passes on: where the run is and, to train it longer, more epochs or a higher
 * step budget. Options that
 * would change its saved config are refused by name (a resumed run keeps the config it was
 * started with).
 */
function resumeInput(options: TrainCommandOptions, runId: string): Record<string, unknown> {
  const flags: [string, unknown][] = [
    ["-c", options.config],
    ["--set", options.set.length > 0 || undefined],
    ["--backend", options.backend],
    ["--batch-size", options.batchSize],
    ["--lr", options.lr],
    ["--name", options.name],
  ];
  const refused = flags.filter(([, value]) => value !== undefined).map(([flag]) => flag);
  const runsDir = options.runsDir ?? "runs";
  if (refused.length > 0) {
    throw new AnnealError(
      "usage",
      `Cannot resume run '${runId}' with ${refused.join(", ")}: a resumed run trains with the ` +
        `config saved in its directory`,
      {
        where: `${runsDir}/${runId}/config.json`,
        hint: `leave ${refused.length > 1 ? "them" : "it"} out (only --epochs N and ` +
          `--max-steps N may be given: more than the run's, to train it longer); for other ` +
          `settings, start a new ` +
          `run from its config: \`anneal train -c ${
            shellWord(`${runsDir}/${runId}/config.json`)
          } ...\``,
      },
    );
  }
  // (by the flag: the resume's own check said "Invalid config: 'epochs'", and to fix the field)
  if (options.epochs) parseNumberFlag("--epochs", options.epochs, true, "10");
  if (options.maxSteps) parseNumberFlag("--max-steps", options.maxSteps, true, "1000");
  return applyOverrides({}, [
    `runsDir=${JSON.stringify(runsDir)}`,
    ...(options.epochs ? [`epochs=${options.epochs}`] : []),
    ...(options.maxSteps ? [`maxSteps=${options.maxSteps}`] : []),
  ]);
}

/** Runs `anneal train`; returns the exit code. */
export async function trainCommand(options: TrainCommandOptions): Promise<number> {
  // checked before anything runs: 0 or 'abc' printed only the last epoch
  if (options.logEvery !== undefined) parseNumberFlag("--log-every", options.logEvery, true);
  const overrides = shortcutOverrides(
    options,
    options.lr && !options.resume ? await rawConfig(options) : {},
  );
  for (const note of overrides.notes) console.error(`anneal: ${note}`);
  // `--resume last`, as `anneal diagnose last` and `report last` take it: the newest run, of
  // those that trained (an LR range test's record has nothing to resume)
  const resume = options.resume === "last" || options.resume === "latest"
    ? basename(
      await runDirOf(options.resume, { runsDir: options.runsDir ?? "runs" }, { training: true }),
    )
    // (a run's path, as train prints it after 'run record:', named as one: its id and directory)
    : options.resume && await runIdOf(options.resume, "--resume");
  if (resume !== options.resume) console.error(`anneal: --resume ${options.resume}: ${resume}`);
  const config = resume ? undefined : await loadConfig(options.config, overrides, overrides.flags);
  const scaled = config && scaledRateNote(config);
  if (scaled) console.error(scaled);
  const run = resume ? train(resumeInput(options, resume), { resume }) : train(config!);
  const interruption = onInterrupt(run);
  try {
    return await follow(run, options, interruption);
  } finally {
    interruption.dispose();
  }
}

/**
 * SIGINT (Ctrl-C) or SIGTERM ends the run cleanly: it stops after the current step, keeps its last
 * checkpoint and is recorded as `interrupted`. A second signal exits at once.
 */
function onInterrupt(run: TrainingRun): Interruption {
  return onSignals(
    "stopping after the current step, keeping the last checkpoint",
    (reason) => run.interrupt(reason),
  );
}

async function follow(
  run: TrainingRun,
  options: TrainCommandOptions,
  interruption: { signal?: Deno.Signal },
): Promise<number> {
  if (options.json) {
    let result: RunResult | undefined;
    let refused = false;
    for await (const event of run.events()) {
      console.log(JSON.stringify(event, nonFiniteAsText));
      if (event.type === "run.finished") result = event.result;
      if (event.type === "run.refused") refused = true;
    }
    // (a run refused after its start: its `run.refused` event said the error on stdout already)
    result ??= await run.result.catch((error) => {
      throw refused ? printedOnStdout(error) : error;
    });
    if (result.status === "interrupted") console.error(`anneal: run interrupted; ${result.hint}`);
    return exitCodeFor(result, interruption.signal);
  }
  const progress = new StepProgress(options.progress && Deno.stderr.isTerminal());
  let result: RunResult | undefined;
  // Which epochs are printed follows the run's epochs, known at `run.started` (a resumed run's
  // come from its saved config).
  const context: PrintContext = {
    progress,
    logEvery: options.logEvery === undefined
      ? undefined
      : parseNumberFlag("--log-every", options.logEvery, true),
    epochs: 0,
    unprinted: undefined,
    webgpu: false,
  };
  for await (const event of run.events()) result = printEvent(event, context) ?? result;
  progress.stop();
  result ??= await run.result;
  // A run that ended before its first step (bad data, a config its model cannot take) has no
  // curves to read: the summary's reason says what went wrong, a diagnosis of "no data" would not.
  if (result.diagnosis && result.steps > 0) console.log(formatDiagnosis(result.diagnosis));
  if (Deno.stdout.isTerminal() && result.epochs > 1) {
    try {
      console.log(terminalCharts(await readRun(result.runDir), { colors: !Deno.noColor }));
    } catch {
      // Charts are a convenience: a record that cannot be read back is reported by the summary.
    }
  }
  printSummary(result);
  return exitCodeFor(result, interruption.signal);
}

interface PrintContext {
  progress: StepProgress;
  /** Print every Nth epoch (`--log-every`; else 1, or 10 above 20 epochs). */
  logEvery: number | undefined;
  /** The run's epochs (its last one is always printed). */
  epochs: number;
  /** The last epoch's line when it was not printed (a run that stops between logged epochs). */
  unprinted: string | undefined;
  /** Whether the run trains on WebGPU (its `backend` event). */
  webgpu: boolean;
}

/**
 * What `anneal train` says of a run's plan beyond its sizes: why forward and backward run in
 * tfjs's ops on WebGPU (on the CPU backends a model past the host step's size is tfjs's by
 * design: not said), and which layers mixed precision keeps float32.
 *
 * @example
 * ```ts
 * import { planNotes } from "./train.ts";
 * const [note] = planNotes({ float32Layers: ["hidden layer 1 (7 units)"] }, true);
 * console.assert(note.endsWith(": hidden layer 1 (7 units)"));
 * ```
 */
/**
 * The rate a new run trains at where `optimizer.baseBatch` scales `optimizer.lr` to its
 * effective batch, with the rule's arithmetic (it was in `meta.json` alone); undefined without
 * one, and under a schedule that sets its own rates (onecycle, cyclic: a config warning says
 * baseBatch scales none of them).
 */
export function scaledRateNote(config: RunConfig): string | undefined {
  const baseBatch = config.optimizer.baseBatch;
  if (baseBatch === undefined || config.scheduler?.name === "cyclic") return undefined;
  if (rateSetting(config).oneCycle) return undefined;
  const effective = config.batchSize * config.gradientAccumulation;
  const rule = batchScalingOf(config.optimizer);
  return `anneal: optimizer.lr ${formatNumber(config.optimizer.lr as number)} trains at ${
    formatNumber(baseLearningRate(config).lr)
  }: optimizer.baseBatch ${baseBatch} scaled to the effective batch ${effective} by the ${rule} ` +
    `rule (x ${scalingWords(baseBatch, effective, rule)})`;
}

export function planNotes(
  event: Pick<PlanEvent, "modelPathReason" | "float32Layers">,
  webgpu: boolean,
): string[] {
  const notes: string[] = [];
  if (webgpu && event.modelPathReason) {
    notes.push(
      `anneal: forward and backward run in tfjs's ops, not the WGSL step: ${event.modelPathReason}`,
    );
  }
  if (event.float32Layers?.length) {
    notes.push(
      "anneal: mixedPrecision keeps float32 activations where a width is odd (a float16 pair " +
        `must not span two rows): ${event.float32Layers.join(", ")}`,
    );
  }
  return notes;
}

function printEvent(event: RunEvent, context: PrintContext): RunResult | undefined {
  const { progress } = context;
  switch (event.type) {
    case "run.started":
      context.epochs = event.epochs;
      context.logEvery ??= event.epochs <= 20 ? 1 : 10;
      if (event.startWarnings) {
        // a resume: the warnings of the run's start are not printed again
        // (those that stopped applying at a resume not counted: runtime/start_warnings.ts)
        // (counted as they stood at its last start: this resume may find that one no longer
        // applies, which it then marks so; "still applies" said otherwise of such a one)
        const [count, them] = event.startWarnings === 1
          ? ["1 warning that applied at its last start", "it"]
          : [`${event.startWarnings} warnings that applied at its last start`, "them"];
        progress.log(
          `anneal: the run's earlier starts gave ${count}, not repeated unless this resume ` +
            `changes ${them} (\`anneal runs show ${event.runId}${
              runsDirFlagOf(event.runDir)
            }\` lists ${them})`,
        );
      }
      break;
    case "backend": {
      context.webgpu = event.backend === "webgpu";
      const adapter = event.adapter ? ` (${event.adapter.description})` : "";
      progress.log(
        `anneal: backend ${event.backend}${adapter}, tfjs ${event.tfjs}: ${event.reason}`,
      );
      break;
    }
    case "plan":
      progress.log(
        `anneal: ${counted(event.dataset.trainSize, "training sample")}` +
          (event.dataset.validationSize ? `, ${event.dataset.validationSize} validation` : "") +
          (event.dataset.testSize ? `, ${event.dataset.testSize} test` : "") +
          // (in the singular for one: "1 steps/epoch, 1 steps" where an epoch is one batch)
          `; ${counted(event.parameters, "parameter")}; ` +
          `${counted(event.stepsPerEpoch, "step")}/epoch, ${counted(event.totalSteps, "step")}` +
          (event.startStep
            ? ` (resuming at epoch ${event.startEpoch}, step ${event.startStep})`
            : ""),
      );
      for (const note of planNotes(event, context.webgpu)) progress.log(note);
      progress.start(event.totalSteps, event.startStep);
      break;
    case "steps": {
      const i = event.losses.length - 1;
      progress.update(event.fromStep + i + 1, {
        epoch: event.epoch,
        loss: formatNumber(event.losses[i]),
        lr: formatNumber(event.lr[i]),
      });
      break;
    }
    case "epoch": {
      const line = `Epoch ${event.epoch}: ${epochLine(event)}`;
      const shown = event.epoch % (context.logEvery ?? 1) === 0 ||
        event.epoch === context.epochs - 1;
      if (shown) progress.log(line);
      context.unprinted = shown ? undefined : line;
      break;
    }
    case "warning":
      progress.log(
        `warning (${event.actor}): ${event.message}${event.hint ? `\n  hint: ${event.hint}` : ""}`,
      );
      break;
    case "restored":
      flushUnprinted(context);
      progress.log(`anneal: restored the best epoch's weights (epoch ${event.epoch})`);
      break;
    case "test":
      flushUnprinted(context);
      progress.log(`Test: ${formatMetrics(event.metrics)}`);
      break;
    case "run.finished":
      flushUnprinted(context);
      return event.result;
  }
  return undefined;
}

/**
 * An epoch's metrics as a line, saying where a rollback on WebGPU discarded its weights or undid
 * every step of it: such an epoch's training metrics measure nothing, and were printed as NaN (a
 * NaN loss the run never had).
 */
export function epochLine(event: EpochEvent): string {
  const metrics = event.allUndone
    ? Object.fromEntries(Object.entries(event.metrics).filter(([, v]) => Number.isFinite(v)))
    : event.metrics;
  const notes = [
    event.allUndone && "every step of it undone by a rollback, so no training metrics",
    event.discarded && "its weights discarded by a rollback decided before its end",
  ].filter(Boolean);
  return formatMetrics(metrics) + (notes.length ? ` (${notes.join("; ")})` : "");
}

/** Prints the last epoch's line if it was skipped, before anything that comes after it. */
function flushUnprinted(context: PrintContext): void {
  if (context.unprinted) context.progress.log(context.unprinted);
  context.unprinted = undefined;
}

function printSummary(result: RunResult): void {
  if (result.test?.accuracy !== undefined) {
    console.log(`test accuracy = ${formatNumber(result.test.accuracy)}`);
  }
  const line = `${result.status}: ${result.reason} (${counted(result.epochs, "epoch")}, ${
    counted(result.steps, "step")
  }, ${result.seconds.toFixed(1)} s); run record: ${result.runDir}`;
  if (result.status === "completed") console.log(line);
  else if (result.status === "stopped") {
    console.log(line);
    // stopped by the wall-time budget or run.stop(): the command that goes on
    if (result.stopRequested && result.hint) console.log(`  hint: ${result.hint}`);
  } else {
    console.error(line);
    if (result.hint) console.error(`  hint: ${result.hint}`);
  }
}
