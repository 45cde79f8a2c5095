/**
 * `anneal tune`: the staged search, printed stage by stage.
 *
 * @module
 */
import { loadConfig, type RunConfig, tune, writeFileAtomic } from "../../mod.ts";
import { formatRate, RATE_LEGEND } from "../../report/records.ts";
import { rateSetting } from "../../schedulers/rate_setting.ts";
import { formatMetrics, formatNumber } from "../output.ts";
import { parseNumberFlag } from "./schedule.ts";

/** Options of `anneal tune`. */
export interface TuneCommandOptions {
  config?: string;
  set: string[];
  budget: string;
  out?: string;
}

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
  const budget = parseNumberFlag("--budget", options.budget, true);
  console.log(
    `tune: up to ${budget} runs of ${config.epochs} epochs; stages: learning rate, batch size, weight decay, schedule/warmup, clipping, dropout, epochs`,
  );
  let marked = false;
  const result = await tune(config, {
    budget,
    onTrial: (stage, change, value, trained) => {
      const rate = trainedAt(change, trained);
      marked ||= rate !== "";
      console.log(`  [${stage}] ${describe(change)} -> ${formatNumber(value)}${rate}`);
    },
    onWarning: (warning) => console.log(`warning: ${warning.message}\n  hint: ${warning.hint}`),
    onStage: (stage) => {
      const delta = stage.after - stage.before;
      console.log(
        Object.keys(stage.kept).length
          ? `stage '${stage.name}': kept ${describe(stage.kept)}: ${
            formatNumber(stage.before)
          } -> ${formatNumber(stage.after)} (${delta >= 0 ? "+" : ""}${formatNumber(delta)})`
          : `stage '${stage.name}': nothing beat ${formatNumber(stage.before)}; unchanged`,
      );
    },
  });
  if (marked) console.log(RATE_LEGEND);
  const out = options.out ?? `${config.runsDir}/tuned_config.json`;
  const { sweep: _, ...tuned } = result.config;
  await Deno.mkdir(config.runsDir, { recursive: true });
  await writeFileAtomic(out, new TextEncoder().encode(JSON.stringify(tuned, null, 2) + "\n"));
  console.log(
    `\n${result.metric}: ${formatNumber(result.baseline)} (untuned) -> ${
      formatNumber(result.final)
    } (tuned) in ${result.runs} runs`,
  );
  if (result.baselineTest && result.finalTest) {
    console.log(
      `test: untuned ${formatMetrics(result.baselineTest)}; tuned ${
        formatMetrics(result.finalTest)
      }`,
    );
  }
  console.log(`tuned config written to ${out} (train it: anneal train -c ${out})`);
  return 0;
}
