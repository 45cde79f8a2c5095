/**
 * `anneal sweep` and `anneal worker`: hyperparameter search with a live table of trials.
 *
 * @module
 */
import {
  AnnealError,
  loadConfig,
  renderSweepReport,
  runSweep,
  runWorker,
  sweepDirection,
} from "../../mod.ts";
import type { ConfigWarning, StudyDefinition, SweepResult, Trial } from "../../mod.ts";
import { formatRate, RATE_LEGEND } from "../../report/records.ts";
import { trialRate } from "../../runtime/sweep.ts";
import { formatNumber } from "../output.ts";

/** Options of `anneal sweep`. */
export interface SweepCommandOptions {
  config?: string;
  set: string[];
  trials?: string;
  sampler?: "grid" | "random" | "quasiRandom" | "tpe";
  pruner?: "none" | "median" | "asha" | "hyperband";
  parallel?: string;
  storage?: string;
  study?: string;
}

/** Options of `anneal worker`. */
export interface WorkerCommandOptions {
  storage: string;
  study: string;
}

function positive(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    throw new AnnealError("usage", `${flag} must be a positive integer, current value is '${raw}'`);
  }
  return value;
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

function printTrial(trial: Trial, definition: StudyDefinition): void {
  const params = Object.entries(trial.params).map(([k, v]) =>
    `${k}=${typeof v === "number" ? formatNumber(v) : v}`
  );
  const rate = hiddenRate(trial, definition);
  const trainedAt = rate ? `; trains at lr ${formatRate(rate.lr, rate.lrSetting)}` : "";
  const value = trial.value === null ? "-" : formatNumber(trial.value);
  const note = trial.reason
    ? `  (${trial.reason}${trial.prunedStep !== null ? ` at epoch ${trial.prunedStep}` : ""})`
    : "";
  console.log(
    `trial ${String(trial.number).padStart(3)}  ${trial.state.padEnd(8)}  ${value.padStart(10)}  ${
      params.join(" ")
    }${trainedAt}${note}`,
  );
}

/** Prints what in the sweep is likely a mistake, before its trials run. */
function printWarning(warning: ConfigWarning): void {
  console.log(`warning: ${warning.message}\n  hint: ${warning.hint}`);
}

async function finish(result: SweepResult, studyDir: string): Promise<number> {
  const { sweep } = result.definition;
  await Deno.mkdir(studyDir, { recursive: true });
  const html = `${studyDir}/sweep.html`;
  const rows = result.trials.map((trial) => ({
    ...trial,
    ...hiddenRate(trial, result.definition),
  }));
  await Deno.writeTextFile(
    html,
    await renderSweepReport(
      result.study.name,
      rows,
      result.direction,
      sweep.metric,
      result.bestConfig,
    ),
  );
  const counts = Object.entries(
    result.trials.reduce<Record<string, number>>(
      (acc, t) => ({ ...acc, [t.state]: (acc[t.state] ?? 0) + 1 }),
      {},
    ),
  ).map(([state, n]) => `${n} ${state.toLowerCase()}`).join(", ");
  if (rows.some((row) => row.lrSetting)) console.log(RATE_LEGEND);
  console.log(`\nstudy ${result.study.name}: ${result.trials.length} trials (${counts})`);
  if (!result.best || !result.bestConfig) {
    console.error(
      "no trial completed\n  hint: look at the failed trials' reasons above; `anneal runs --runs-dir <runsDir>/<study>` lists their runs",
    );
    return 1;
  }
  const { sweep: _, ...bestConfig } = result.bestConfig;
  const file = `${studyDir}/best_config.json`;
  await Deno.writeTextFile(file, JSON.stringify(bestConfig, null, 2) + "\n");
  const bestRate = hiddenRate(result.best, result.definition);
  console.log(
    `best: trial ${result.best.number}, ${sweep.metric} = ${
      formatNumber(result.best.value ?? NaN)
    } with ${JSON.stringify(result.best.params)}${
      bestRate ? `; trains at lr ${formatRate(bestRate.lr, bestRate.lrSetting)}` : ""
    }`,
  );
  console.log(`best config written to ${file} (train it: anneal train -c ${file})`);
  console.log(`report written to ${html}`);
  return 0;
}

/** Runs `anneal sweep`; returns the exit code. */
export async function sweepCommand(options: SweepCommandOptions): Promise<number> {
  const config = await loadConfig(options.config, options.set);
  const study = options.study ?? config.name ?? "sweep";
  const sweep = config.sweep;
  if (sweep) {
    console.log(
      `sweep ${study}: ${options.trials ?? sweep.trials} trials in the study, sampler ${
        options.sampler ?? sweep.sampler
      }, pruner ${options.pruner ?? sweep.pruner}, ${
        options.parallel ?? sweep.parallel
      } at a time; ${sweepDirection(sweep, config).direction} ${sweep.metric} over ${
        Object.keys(sweep.space).join(", ")
      }`,
    );
  }
  const result = await runSweep(config, {
    storage: options.storage,
    study,
    trials: positive("--trials", options.trials),
    parallel: positive("--parallel", options.parallel),
    sampler: options.sampler,
    pruner: options.pruner,
    onTrial: printTrial,
    onWarning: printWarning,
  });
  return finish(result, `${config.runsDir}/${study}`);
}

/** Runs `anneal worker`; returns the exit code. */
export async function workerCommand(options: WorkerCommandOptions): Promise<number> {
  console.log(
    `worker joining study ${options.study} at ${options.storage.replace(/\/\/[^@/]*@/, "//***@")}`,
  );
  const result = await runWorker(options.storage, options.study, {
    onTrial: printTrial,
    onWarning: printWarning,
  });
  return finish(result, `${result.definition.base.runsDir}/${options.study}`);
}
