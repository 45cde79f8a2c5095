/**
 * `anneal tune`: the staged search, printed stage by stage.
 *
 * @module
 */
import {
  AnnealError,
  DEFAULT_MIN_IMPROVEMENT,
  loadConfig,
  type RunConfig,
  tune,
  type TuneStage,
  writeFileAtomic,
} from "../../mod.ts";
import { fileError } from "../../file_errors.ts";
import { TUNED_CONFIG, type UnfinishedTune } from "../../runtime/tune_record.ts";
import { recordedConfig } from "../../runtime/records.ts";
import { onSignals, signalExitCode } from "../signals.ts";
import { formatRate, RATE_LEGEND } from "../../report/records.ts";
import { rateSetting } from "../../schedulers/rate_setting.ts";
import { checkFlagFile, formatMetrics, formatNumber } from "../output.ts";
import { parseNumberFlag } from "./schedule.ts";
import { shellWord } from "../../shell_word.ts";
import { counted } from "../../number_format.ts";

/** Options of `anneal tune`. */
export interface TuneCommandOptions {
  config?: string;
  set: string[];
  budget: string;
  minImprovement: string;
  out?: string;
}

/** A fraction as a percentage: 0.001 -> "0.1%". */
const percent = (fraction: number) => `${formatNumber(fraction * 100)}%`;

const describe = (change: Record<string, unknown>) =>
  Object.entries(change).map(([k, v]) =>
    `${k}=${typeof v === "number" ? formatNumber(v) : JSON.stringify(v)}`
  ).join(" ") ||
  "(unchanged)";

/**
 * The rate a run trained at, where its change does not show it: under onecycle, which ignores
 * `optimizer.lr`, its `maxLr` (as `anneal runs` shows a run's lr); else "".
 */
function trainedAt(change: Record<string, unknown>, config: RunConfig): string {
  const rate = rateSetting(config);
  if (!rate.oneCycle || rate.path in change) return "";
  return `; trains at lr ${formatRate(rate.value, rate.path)}`;
}

/** Runs `anneal tune`; returns the exit code. */
export async function tuneCommand(options: TuneCommandOptions): Promise<number> {
  const config = await loadConfig(options.config, options.set);
  const budget = parseNumberFlag("--budget", options.budget, true, "20");
  // (0 is allowed: tune itself refuses a fraction outside 0..1)
  const minImprovement = options.minImprovement.trim() === ""
    ? NaN
    : Number(options.minImprovement);
  if (Number.isNaN(minImprovement)) {
    throw new AnnealError(
      "usage",
      `--min-improvement must be a number, current value is '${options.minImprovement}'`,
      { hint: `give it like --min-improvement 0.01 (${DEFAULT_MIN_IMPROVEMENT} by default)` },
    );
  }
  // an --out that cannot be written is refused before the tune's runs, not after them
  if (options.out) await checkFlagFile("--out", options.out);
  let marked = false;
  const controller = new AbortController();
  const interruption = onSignals(
    "stopping the run in progress (or the learning-rate stage's LR range test) after its " +
      "current step; the best config so far is kept",
    (reason) => controller.abort(reason),
  );
  const started = Date.now();
  // (no config named: the seed's is tuned, which a refusal of its metric did not say)
  if (options.config === undefined) {
    console.log(
      "tune: no --config given: tuning the seed experiment's config (200-sample linear data)" +
        `${options.set.length ? " with the --set overrides" : ""}; anneal tune -c FILE tunes yours`,
    );
  }
  const result = await tune(config, {
    budget,
    minImprovement,
    interrupt: controller.signal,
    onStart: (dir, previous) => {
      // (once tune has taken its budget and config: a refused one prints only its error)
      console.log(
        `tune: up to ${budget} runs of ${config.epochs} epoch${
          config.epochs === 1 ? "" : "s"
        }; stages: learning rate, batch size, weight decay, schedule/warmup, clipping, dropout, epochs`,
      );
      if (previous) printPrevious(previous);
      console.log(
        `tune: its runs, tune.json and ${TUNED_CONFIG} (the best config so far, after every run) ` +
          `go to ${dir}; a tune cut short is not resumed: run again, it starts over`,
      );
    },
    onTrial: (stage, change, value, trained, refused) => {
      if (refused) {
        console.log(`  [${stage}] ${describe(change)} -> refused: ${refused}`);
        return;
      }
      const rate = trainedAt(change, trained);
      marked ||= rate !== "";
      console.log(`  [${stage}] ${describe(change)} -> ${valueText(value)}${rate}`);
    },
    onWarning: (warning) => console.log(`warning: ${warning.message}\n  hint: ${warning.hint}`),
    onStage: (stage) => {
      const delta = stage.after - stage.before;
      const name = stage.cutShort
        ? `${stage.name}' (cut short${stage.cutShort.budget ? " by the budget" : ""}: ` +
          `${stage.tried.length} of its ${stage.cutShort.of} changes tried)`
        : `${stage.name}'`;
      // (a stage that started from a run that failed or diverged: "NaN -> 0.1588 (NaN)")
      const gain = Number.isFinite(stage.before)
        ? `${formatNumber(stage.before)} -> ${formatNumber(stage.after)} (${delta >= 0 ? "+" : ""}${
          formatNumber(delta)
        })`
        : `${valueText(stage.before)} -> ${formatNumber(stage.after)}`;
      console.log(
        Object.keys(stage.kept).length
          ? `stage '${name}: kept ${describe(stage.kept)}: ${gain}`
          : stage.tried.length === 0 && !stage.cutShort
          // (nothing to try for this run: "nothing beat 17.29" read as if changes had lost)
          ? `stage '${name}: tried nothing (it had no change to try for this run); unchanged`
          : `stage '${name}: nothing beat ${valueText(stage.before)}${
            stage.withinMargin
              ? ` by more than ${percent(minImprovement)} (--min-improvement; closest: ${
                describe(stage.withinMargin.change)
              } -> ${formatNumber(stage.withinMargin.value)})`
              : ""
          }; unchanged`,
      );
    },
  }).finally(() => interruption.dispose());
  if (marked) console.log(RATE_LEGEND);
  const kept = `${result.dir}/${TUNED_CONFIG}`;
  if (result.interrupted) {
    const best = Number.isFinite(result.final)
      ? `${result.metric} ${formatNumber(result.baseline)} (untuned) -> ${
        formatNumber(result.final)
      }; `
      : "";
    const cut = result.interruptedRangeTest;
    const during = !cut
      ? ""
      : `, during its learning-rate stage's LR range test (${
        cut.steps === 0
          ? "before its first step"
          : `after ${cut.steps} of its ${counted(cut.iterations, "step")}`
      }; a test cut short suggests nothing, so the stage tried no rate)`;
    console.error(
      `anneal: tune interrupted (${result.interrupted}) after ${result.runs} of ${budget} runs` +
        `${during}: ` +
        `the best config so far (${best}stages done: ${stagesDone(result.stages)}) is in ${kept}` +
        `${options.out ? ` (not written to ${options.out}: the tune did not complete)` : ""}; ` +
        "a tune is not resumed: run it again to start over",
    );
    return signalExitCode(interruption.signal);
  }
  const out = options.out ?? kept;
  if (options.out) await writeOut(options.out, result.config, started, kept);
  console.log(
    `\n${result.metric}: ${
      Number.isFinite(result.baseline)
        ? `${formatNumber(result.baseline)} (untuned)`
        : "none untuned (its run failed or diverged)"
    } -> ${valueText(result.final)} (tuned) in ${result.runs} runs`,
  );
  if (result.baselineTest && result.finalTest) {
    console.log(
      `test: untuned ${formatMetrics(result.baselineTest)}; tuned ${
        formatMetrics(result.finalTest)
      }`,
    );
  }
  if (result.notRun) {
    console.log(
      `the budget of ${counted(budget, "run")} ran out before these stages: ` +
        `${result.notRun.join(", ")} (raise --budget to run them)`,
    );
  }
  console.log(`tuned config written to ${out} (train it: anneal train -c ${shellWord(out)})`);
  if (options.out) console.log(`(and kept with the tune's runs: ${kept})`);
  return 0;
}

/** Says where the last tune of the runs directory, which did not complete, left its best config. */
function printPrevious(previous: UnfinishedTune): void {
  const { record } = previous;
  const ended = previous.ended === "killed"
    ? "was killed (its process is gone) before it completed"
    : `was interrupted (${record.reason ?? "interrupted"})`;
  const best = record.best === undefined
    ? "before its first run ended"
    : `${record.metric} ${
      record.baseline === undefined ? "" : `${formatNumber(record.baseline)} (untuned) -> `
    }${formatNumber(record.best)}`;
  console.log(
    `note: the last tune, ${previous.dir}, ${ended} after ${record.runs} of its ${record.budget} ` +
      `runs (${best})${
        previous.config && record.best !== undefined
          ? `: its best config so far is ${previous.config}`
          : ""
      }; this tune starts over`,
  );
}

/**
 * The stages a tune cut short went through, for its last line: a stage the signal stopped
 * part-way says so (`learning rate (2 of its 3 changes tried)`).
 */
export function stagesDone(stages: TuneStage[]): string {
  return stages.map(({ name, tried, cutShort }) =>
    cutShort ? `${name} (cut short: ${tried.length} of its ${cutShort.of} changes tried)` : name
  ).join(", ") || "none";
}

/**
 * Writes the tuned config to `--out`, saying so where it replaces a file: above all one written
 * since this tune started (another tune's, given the same --out), whose config each tune keeps in
 * its own directory.
 */
async function writeOut(
  out: string,
  config: RunConfig,
  started: number,
  kept: string,
): Promise<void> {
  const before = await Deno.stat(out).catch(() => undefined);
  // (with its sweep section, as the tune keeps it: --out is often the config tuned, -c's file)
  const tuned = recordedConfig(config);
  try {
    await writeFileAtomic(out, new TextEncoder().encode(JSON.stringify(tuned, null, 2) + "\n"));
  } catch (error) {
    // (its directory gone, or the disk full, while the tune ran): the tuned config is not lost
    // (writeFileAtomic's file error in place of Deno's: said again with the flag's name)
    const failed = fileError(error instanceof AnnealError ? error.cause : error, {
      action: "write the --out file",
      path: out,
      expected: "a file path in an existing directory",
    });
    if (!failed) throw error;
    throw new AnnealError("file", `${failed.message}; the tuned config is kept in ${kept}`, {
      where: out,
      hint: `${failed.hint}, then copy it there: cp '${kept}' '${out}'`,
      cause: error,
    });
  }
  if (!before) return;
  const written = before.mtime?.getTime();
  const since = written !== undefined && written >= started
    ? ", written while this tune ran (by another tune given the same --out? each tune keeps its " +
      "own tuned config in its directory, runs/tune-*/" + TUNED_CONFIG + ")"
    : written !== undefined
    ? `, written ${new Date(written).toISOString()}`
    : "";
  console.log(`note: replaced the file that was at ${out}${since}`);
}

/** A run's value as the tune's lines print it: a number, or what a run without one did. */
function valueText(value: number): string {
  return Number.isFinite(value) ? formatNumber(value) : "none (its run failed or diverged)";
}
