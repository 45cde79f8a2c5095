/**
 * `anneal sweep` and `anneal worker`: hyperparameter search with a live table of trials.
 *
 * @module
 */
import { counted } from "../../number_format.ts";
import { AnnealError, loadConfig, renderSweepReport, runSweep, runWorker } from "../../mod.ts";
import type {
  ConfigWarning,
  StudyDefinition,
  SweepResult,
  Trial,
  TrialRunStart,
  WarningEvent,
} from "../../mod.ts";
import { formatRate, RATE_LEGEND } from "../../report/records.ts";
import { settingText, studyTotals, trialNote } from "../../report/sweep_html.ts";
import { PARALLEL_HINT, trialRate, trialsToSample } from "../../runtime/sweep.ts";
import { describeTrialRun } from "../../runtime/trial_run.ts";
import { trainableConfig } from "../../runtime/records.ts";
import { conditionOf, conditionText } from "../../sweeps/conditions.ts";
import { formatNumber } from "../output.ts";
import { parseNumberFlag } from "./schedule.ts";
import { type Interruption, onSignals, signalExitCode } from "../signals.ts";
import { shellWord } from "../../shell_word.ts";
import { writeFileAtomic } from "../../runtime/checkpoint.ts";
import type { SamplerName } from "../../sweeps/samplers/named.ts";
import { TPE_STARTUP_TRIALS } from "../../sweeps/samplers/tpe.ts";
import type { PrunerName } from "../../sweeps/pruners/types.ts";

const encoder = new TextEncoder();

// (the sweep report counts a study's trials, and words their notes, as the command does: the one
// function of each, kept there)
export { studyTotals, trialNote };

/** Options of `anneal sweep`. */
export interface SweepCommandOptions {
  config?: string;
  set: string[];
  trials?: string;
  sampler?: SamplerName;
  pruner?: PrunerName;
  parallel?: string;
  storage?: string;
  study?: string;
}

/** Options of `anneal worker`. */
export interface WorkerCommandOptions {
  storage: string;
  study: string;
  parallel?: string;
}

/** A flag's positive integer (`example`: one to give in the hint), undefined when absent. */
function positive(flag: string, raw: string | undefined, example: string): number | undefined {
  return raw === undefined ? undefined : parseNumberFlag(flag, raw, true, example);
}

/**
 * The learning rate a trial trained at, where its parameters do not show it: under onecycle,
 * which ignores `optimizer.lr`, its `maxLr` (as `anneal runs` shows a run's lr); else undefined.
 */
function hiddenRate(
  trial: Pick<Trial, "params">,
  definition: Pick<StudyDefinition, "base">,
): { lr: number | undefined; lrSetting: string } | undefined {
  const rate = trialRate(definition, trial.params);
  if (!rate?.oneCycle || rate.path in trial.params) return undefined;
  return { lr: rate.value, lrSetting: rate.path };
}

/**
 * A trial's params in the order of the study's space (its first line's), where its storage gave
 * them back in another (PostgreSQL's jsonb sorts keys by length, then bytes).
 *
 * @example
 * ```ts
 * import { orderedParams } from "./sweep.ts";
 * const space = { "optimizer.lr": {}, batchSize: {} };
 * const params = orderedParams({ batchSize: 16, "optimizer.lr": 0.1 }, { sweep: { space } } as never);
 * console.assert(JSON.stringify(params) === '{"optimizer.lr":0.1,"batchSize":16}');
 * ```
 */
export function orderedParams(
  params: Trial["params"],
  definition: StudyDefinition,
): Trial["params"] {
  const order = Object.keys(definition.sweep?.space ?? {});
  const rank = (path: string) => order.includes(path) ? order.indexOf(path) : order.length;
  return Object.fromEntries(
    Object.entries(params).sort(([a], [b]) => rank(a) - rank(b)),
  ) as Trial["params"];
}

/**
 * A trial's parameters as a trial's line and the best one's print them: `path=value` in the
 * space's order, each as the sweep report's table shows it ({@linkcode settingText}).
 */
function paramsText(params: Trial["params"], definition: StudyDefinition): string {
  return Object.entries(orderedParams(params, definition)).map(([k, v]) => `${k}=${settingText(v)}`)
    .join(" ");
}

function printTrial(trial: Trial, definition: StudyDefinition): void {
  const params = paramsText(trial.params, definition);
  const rate = hiddenRate(trial, definition);
  const trainedAt = rate ? `; trains at lr ${formatRate(rate.lr, rate.lrSetting)}` : "";
  const value = trial.value === null ? "-" : formatNumber(trial.value);
  const note = trial.reason ? `  (${trialNote(trial.reason, trial.prunedStep)})` : "";
  console.log(
    `trial ${String(trial.number).padStart(3)}  ${trial.state.padEnd(8)}  ${
      value.padStart(10)
    }  ${params}${trainedAt}${note}`,
  );
}

/**
 * The first line of `anneal sweep`: the study's trials, the sampler, the pruner, the metric and
 * the space. A study that holds trials already (run before, or by other workers) says how many,
 * and how many of its budget are left to sample, where the budget alone said nothing of them:
 * as the sweep samples them ({@linkcode trialsToSample}), the grid sampler no more than its
 * points no trial has tried (the budget alone said "16 more" of a grid with none left).
 */
export function studyHeader(
  name: string,
  stored: Pick<Trial, "id" | "number" | "state" | "retryOf" | "retries" | "params">[],
  sweep: Pick<
    StudyDefinition["sweep"],
    "trials" | "sampler" | "pruner" | "parallel" | "metric" | "space"
  >,
  direction: "minimize" | "maximize",
  space: string[],
): string {
  // (no more at once than the study has trials: "10 at a time" of 3 said what never happens)
  const atOnce = Math.min(sweep.parallel, sweep.trials);
  // (TPE samples its first trials at random, as Optuna's does: a study of no more is a random
  // search, which "sampler tpe" alone did not say)
  const sampler = sweep.sampler === "tpe" && sweep.trials <= TPE_STARTUP_TRIALS
    ? `tpe (a random search at ${TPE_STARTUP_TRIALS} trials or fewer: TPE models the results ` +
      `once ${TPE_STARTUP_TRIALS} trials have finished)`
    : sweep.sampler;
  const settings = `sampler ${sampler}, pruner ${sweep.pruner}, ${atOnce} at a time${
    atOnce < sweep.parallel ? ` (parallel ${sweep.parallel})` : ""
  }; ${direction} ${sweep.metric} over ${space.join(", ")}`;
  if (stored.length === 0) {
    return `sweep ${name}: ${counted(sweep.trials, "trial")} in the study, ${settings}`;
  }
  const tried = stored.filter((trial) => trial.retries === 0).map((trial) => trial.params);
  const left = trialsToSample(sweep, tried);
  // (the grid sampler's points, where they are fewer than the budget leaves)
  const grid = !left.gridPoints
    ? ""
    : left.count === 0
    ? " (every grid point has a trial)"
    : " (the grid points no trial has tried)";
  return `sweep ${name}: the study has ${studyTotals(stored)}; its budget is ${sweep.trials} ` +
    `trial${sweep.trials === 1 ? "" : "s"} in all: ${
      left.count === 0 ? "none left" : `${left.count} more`
    } to sample${grid}; ${settings}`;
}

/** Prints a trial of a dead worker that this one marked failed, and its retry. */
function printReaped(trial: Trial, retry: Trial | undefined, definition: StudyDefinition): void {
  printTrial({
    ...trial,
    reason: `${trial.reason}; ${
      retry
        ? `run again as trial ${retry.number}`
        : "not run again: it was retried twice already after its worker died"
    }`,
  }, definition);
}

/** Prints how a retry's run started: the run of the trial it retries resumed, or why not. */
function printTrialRun(start: TrialRunStart): void {
  console.log(`trial ${String(start.trial).padStart(3)}  ${describeTrialRun(start)}`);
}

/** Prints what the study's budget comes to where it is not what was asked (to stderr). */
function printNotice(message: string): void {
  console.warn(message);
}

/**
 * Prints each warning the trials' runs give at their start once, with the first trial that gave
 * it (every trial of a study often shares it: a base config's schedule its epochs cut); each
 * run's meta.json keeps its own.
 */
export function trialWarningPrinter(): (trial: number, warning: WarningEvent) => void {
  const printed = new Set<string>();
  return (trial, warning) => {
    // the same warning of trials whose sizes differ (a onecycle cut short by each batch size's
    // steps: "which takes 20 / 10 / 5 optimizer steps") is one warning: its words but the numbers
    const key = `${warning.message}\n${warning.hint ?? ""}`.replace(
      /-?\d+(\.\d+)?(e[+-]?\d+)?/g,
      "#",
    );
    if (printed.has(key)) return;
    printed.add(key);
    console.log(
      `warning (trial ${trial}'s run): ${warning.message}` +
        (warning.hint ? `\n  hint: ${warning.hint}` : "") +
        "\n  (said once for the study, for the first trial it came of; each trial's run keeps " +
        "its warnings, with its own numbers, in its meta.json)",
    );
  };
}

/** Prints what in the sweep is likely a mistake, before its trials run. */
function printWarning(warning: ConfigWarning): void {
  console.log(`warning: ${warning.message}\n  hint: ${warning.hint}`);
}

/**
 * Ctrl-C or SIGTERM ends a sweep cleanly: no trial is started any more, the running ones stop
 * after their current step (their runs recorded as interrupted, checkpoints kept) and are queued
 * to run again first when the study goes on; the report and best config are written for the
 * trials that finished.
 */
function onInterrupt(controller: AbortController): Interruption {
  return onSignals(
    "stopping the running trials after their current step; they run again first when the study " +
      "goes on",
    (reason) => controller.abort(reason),
  );
}

/**
 * A study's report or best config that could not be written (a full disk, a file in the way): the
 * error, its hint saying that the study lost nothing (its trials are in its storage) and that the
 * same command writes both once the cause is fixed; it said only the disk's fix, and the best
 * trial and the study's totals were not printed.
 */
function notWritten(error: unknown, goOn: string | undefined): unknown {
  if (!(error instanceof AnnealError) || goOn === undefined) return error;
  return new AnnealError(error.code, error.message, {
    where: error.where,
    hint: `${error.hint ? `${error.hint}; then ` : ""}run the same command again to write the ` +
      `study's report and best config: \`${goOn}\` (its trials are kept in its storage; it ` +
      "runs only those the study has yet to run)",
    cause: error,
  });
}

async function finish(
  result: SweepResult,
  studyDir: string,
  interruption?: { signal?: Deno.Signal; goOn: string },
): Promise<number> {
  const { sweep } = result.definition;
  await Deno.mkdir(studyDir, { recursive: true });
  const html = `${studyDir}/sweep.html`;
  const rows = result.trials.map((trial) => ({
    ...trial,
    ...hiddenRate(trial, result.definition),
  }));
  // (replaced atomically: every worker of a study writes it as it ends, several at once, and a
  // reader must never find half a page)
  await writeFileAtomic(
    html,
    encoder.encode(
      await renderSweepReport(
        result.study.name,
        rows,
        result.direction,
        sweep.metric,
        result.bestConfig,
      ),
    ),
  ).catch((error) => {
    throw notWritten(error, interruption?.goOn);
  });
  if (rows.some((row) => row.lrSetting)) console.log(RATE_LEGEND);
  console.log(`\nstudy ${result.study.name}: ${studyTotals(result.trials)}`);
  const interrupted = result.interrupted !== undefined && interruption !== undefined;
  if (interrupted) {
    const waiting = result.trials.filter((t) => t.state === "WAITING").map((t) => t.number);
    const { trials } = result.definition.sweep;
    const originals = result.trials.filter((t) => t.retries === 0).map((t) => t.params);
    // (the grid sampler ends the study once each of its points has a trial)
    const sample = trialsToSample(result.definition.sweep, originals);
    const unsampled = sample.count === 0
      ? ""
      : sample.gridPoints
      ? `${sample.count} grid point${sample.count > 1 ? "s" : ""} not yet tried (the study ` +
        `ends with ${originals.length + sample.count} of its ${trials} trials)`
      : `${sample.count} of its ${trials} trials not yet sampled`;
    const left = [
      waiting.length ? `trial${waiting.length > 1 ? "s" : ""} ${waiting.join(", ")} waiting` : "",
      unsampled,
    ].filter((part) => part).join(", ");
    console.error(
      `anneal: sweep interrupted (${result.interrupted})${left ? `: ${left}` : ""}; ` +
        `go on with the same command: ${interruption.goOn}`,
    );
  }
  const code = interrupted ? signalExitCode(interruption.signal) : 0;
  if (!result.best || !result.bestConfig) {
    if (interrupted) {
      console.log(`report written to ${html}`);
      return code;
    }
    // (trials refused before they trained, a config each, left no run to list)
    const runs = await Array.fromAsync(Deno.readDir(studyDir)).then(
      (entries) => entries.some((entry) => entry.isDirectory),
      () => false,
    );
    console.error(
      "no trial completed\n  hint: look at the failed trials' reasons above" +
        (runs ? `; \`anneal runs --runs-dir ${shellWord(studyDir)}\` lists their runs` : ""),
    );
    return 1;
  }
  const bestConfig = trainableConfig(result.bestConfig);
  const file = `${studyDir}/best_config.json`;
  await writeFileAtomic(file, encoder.encode(JSON.stringify(bestConfig, null, 2) + "\n")).catch(
    (error) => {
      throw notWritten(error, interruption?.goOn);
    },
  );
  const bestRate = hiddenRate(result.best, result.definition);
  console.log(
    `best: trial ${result.best.number}, ${sweep.metric} = ${
      formatNumber(result.best.value ?? NaN)
    } with ${paramsText(result.best.params, result.definition)}${
      bestRate ? `; trains at lr ${formatRate(bestRate.lr, bestRate.lrSetting)}` : ""
    }`,
  );
  console.log(`best config written to ${file} (train it: anneal train -c ${shellWord(file)})`);
  console.log(`report written to ${html}`);
  return code;
}

/** `--parallel`: a positive integer, at most 32. */
function parallelFlag(raw: string | undefined): number | undefined {
  const parallel = positive("--parallel", raw, "2");
  if (parallel !== undefined && parallel > 32) {
    throw new AnnealError("usage", `--parallel must be at most 32, current value is '${raw}'`, {
      hint: PARALLEL_HINT,
    });
  }
  return parallel;
}

/** Runs `anneal sweep`; returns the exit code. */
export async function sweepCommand(options: SweepCommandOptions): Promise<number> {
  // (before the sweep's line: a refused flag is not shown as the sweep's setting first)
  const trials = positive("--trials", options.trials, "20");
  const parallel = parallelFlag(options.parallel);
  const config = await loadConfig(options.config, options.set);
  if (options.config === undefined && !config.sweep) {
    // (no config given at all: it said "The config has no 'sweep' section", of a config the
    // user never named)
    throw new AnnealError(
      "usage",
      "anneal sweep needs a config with a 'sweep' section: no --config was given",
      {
        where: "--config",
        hint: "pass one: anneal sweep -c examples/fashion_mnist_sweep.json (its sweep section " +
          "says what to search); anneal sweep --help shows the section",
      },
    );
  }
  const study = options.study ?? config.name ?? "sweep";
  const controller = new AbortController();
  const interruption = onInterrupt(controller);
  try {
    const result = await runSweep(config, {
      storage: options.storage,
      study,
      trials,
      parallel,
      sampler: options.sampler,
      pruner: options.pruner,
      onTrial: printTrial,
      onReaped: printReaped,
      onTrialRun: printTrialRun,
      onWarning: printWarning,
      onTrialWarning: trialWarningPrinter(),
      onNotice: printNotice,
      // (once the study is open: what it holds already, as the budget counts it)
      onStudy: (stored, definition, direction) =>
        console.log(
          studyHeader(
            study,
            stored,
            definition.sweep,
            direction,
            Object.entries(definition.sweep.space).map(([path, d]) => {
              const when = conditionOf(d.when);
              return when === undefined ? path : `${path} (when ${conditionText(when)})`;
            }),
          ),
        ),
      interrupt: controller.signal,
    });
    // (the storage's password is not printed, as worker's command leaves it out)
    const goOn = `anneal ${
      Deno.args.map((arg) =>
        shellWord(
          arg.replace(/^((?:--storage=)?postgres(?:ql)?:\/\/[^:@/?#]+):[^/?#]*@/, "$1:***@"),
        )
      ).join(" ")
    }`;
    return await finish(result, `${config.runsDir}/${study}`, {
      signal: interruption.signal,
      goOn,
    });
  } finally {
    interruption.dispose();
  }
}

/** Runs `anneal worker`; returns the exit code. */
export async function workerCommand(options: WorkerCommandOptions): Promise<number> {
  const parallel = parallelFlag(options.parallel);
  const raiseBudget = `anneal sweep -c CONFIG --storage ${
    shellWord(options.storage.replace(/\/\/[^/?#]*@/, "//***@"))
  } --study ${shellWord(options.study)} --trials N`;
  const controller = new AbortController();
  const interruption = onInterrupt(controller);
  try {
    const result = await runWorker(options.storage, options.study, {
      parallel,
      onTrial: printTrial,
      onReaped: printReaped,
      onTrialRun: printTrialRun,
      onWarning: printWarning,
      onTrialWarning: trialWarningPrinter(),
      // (a notice that says to ask for more trials, where the budget is spent or leaves grid
      // points out: a worker has no --trials, and runs the budget the study holds)
      onNotice: (message) =>
        printNotice(
          message.includes("ask for")
            ? `${message}\n  hint: a worker runs the budget the study holds (it has no ` +
              `--trials); to raise it, run the study with more, which workers then join: ` +
              raiseBudget
            : message,
        ),
      // (said once the study is found, not before: a study that is not there is only refused)
      onStudy: () =>
        console.log(
          `worker joining study ${options.study} at ${
            options.storage.replace(/\/\/[^/?#]*@/, "//***@")
          }${parallel === undefined ? "" : `, ${parallel} at a time`}`,
        ),
      interrupt: controller.signal,
    });
    return await finish(result, `${result.definition.base.runsDir}/${options.study}`, {
      signal: interruption.signal,
      // (the storage's password is not printed)
      goOn: `anneal worker --storage ${
        shellWord(options.storage.replace(/\/\/[^/?#]*@/, "//***@"))
      } --study ${shellWord(options.study)}${
        parallel === undefined ? "" : ` --parallel ${parallel}`
      }`,
    });
  } finally {
    interruption.dispose();
  }
}
