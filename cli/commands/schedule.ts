/**
 * `anneal schedule`: previews a learning-rate schedule before any compute is spent on it. The
 * schedule is read as the scheduler of a run config (`-c`, or the default one) and validated as
 * `anneal train` validates that config, so that it previews no schedule train would refuse.
 *
 * @module
 */
import { AnnealError } from "../../errors.ts";
import { baseLearningRate, loadConfig } from "../../config.ts";
import { previewSchedule } from "../../schedulers/mod.ts";
import { MAX_PREVIEW_STEPS } from "../../schedulers/preview.ts";
import { ownRatesWhy, rateSetting } from "../../schedulers/rate_setting.ts";
import { renderSchedulePlot, scheduleSvg } from "../../schedulers/plot.ts";
import { formatNumber, readFlagFile, writeFlagFile } from "../output.ts";
import { parseJsonText } from "../../json_syntax.ts";
import { nonFiniteAsText } from "../../number_format.ts";

/** Options of `anneal schedule`. */
export interface ScheduleCommandOptions {
  config?: string;
  set?: string[];
  scheduler?: string;
  baseLr?: string;
  steps: string;
  metrics?: string;
  json?: boolean;
  plot?: string;
}

/** Parses a JSON flag value (or `@file`), naming the flag in errors. */
export async function parseJsonFlag(flag: string, raw: string): Promise<unknown> {
  const file = raw.startsWith("@") ? raw.slice(1) : undefined;
  const text = file !== undefined ? await readFlagFile(flag, file) : raw;
  return parseJsonText(
    text,
    file !== undefined ? `${flag} file '${file}'` : flag,
    "usage",
    file ?? flag,
    file !== undefined
      ? undefined
      : `quote it for the shell, e.g. ${flag} '${
        flag === "--metrics" ? "[1.2,1.1,1.1]" : '{"name":"cosine","tMax":100}'
      }'`,
  );
}

/**
 * Parses a positive number flag; its error's hint gives `example` (a value the command takes: a
 * flag with a larger minimum, checked after, names one above it).
 */
export function parseNumberFlag(
  flag: string,
  raw: string,
  integer = false,
  example = integer ? "5" : "0.1",
): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new AnnealError(
      "usage",
      `${flag} must be a positive ${integer ? "integer" : "number"}, current value is '${raw}'`,
      { hint: `give it like ${flag} ${example}` },
    );
  }
  return value;
}

/**
 * The error for a plateau schedule previewed over `steps` epochs with too few `--metrics` (or
 * none), else undefined: a plateau's rate after each epoch follows that epoch's metric, which only
 * `--metrics` gives here (the module's own error names its argument, `metrics`).
 *
 * @example
 * ```ts
 * import { plateauMetricsError } from "./schedule.ts";
 * console.assert(plateauMetricsError(4, [1, 1, 1]) === undefined);
 * console.assert(plateauMetricsError(4, undefined)?.where === "--metrics");
 * ```
 */
export function plateauMetricsError(
  steps: number,
  metrics: unknown[] | undefined,
): AnnealError | undefined {
  const needed = Math.max(0, steps - 1);
  const given = metrics?.length ?? 0;
  if (given >= needed) return undefined;
  const example = [1, 1, 1].slice(0, Math.min(needed, 3));
  return new AnnealError(
    "usage",
    `anneal schedule previews a plateau schedule from the metric after each epoch but the last: ` +
      `--steps ${steps} needs ${needed} value${needed === 1 ? "" : "s"} in --metrics, ` +
      (metrics === undefined ? "and none was given" : `and it has ${given}`),
    {
      where: "--metrics",
      hint: `give them as a JSON array, e.g. --metrics '${JSON.stringify(example)}' with --steps ${
        example.length + 1
      } (the validation losses a run would log), or preview fewer --steps`,
    },
  );
}

/** The most steps `anneal schedule` lists (its --json of them is ~200 MB). */
export { MAX_PREVIEW_STEPS };

/** The base rate without `-c` or `--base-lr` (the default config's optimizer.lr is 0.01). */
const DEFAULT_BASE_LR = "0.1";

/**
 * The `--set`s `--scheduler` and `--base-lr` stand for (`scheduler=...`, `optimizer.lr=...`),
 * after the user's own, with the flag each was typed as, so that a refusal names it.
 */
async function scheduleOverrides(
  options: ScheduleCommandOptions,
): Promise<{ overrides: string[]; flags: Record<string, string> }> {
  const overrides = [...(options.set ?? [])];
  const flags: Record<string, string> = {};
  if (options.scheduler !== undefined) {
    const spec = await parseJsonFlag("--scheduler", options.scheduler);
    const override = `scheduler=${JSON.stringify(spec)}`;
    overrides.push(override);
    flags[override] = `--scheduler '${options.scheduler}'`;
  } else if (options.config === undefined && !overrides.some((o) => /^scheduler[.=]/.test(o))) {
    throw new AnnealError(
      "usage",
      "anneal schedule needs a schedule: --scheduler JSON or -c FILE",
      {
        hint: `give it like --scheduler '{"name":"cosine","tMax":100}', or -c config.json to ` +
          "preview the config's own scheduler",
      },
    );
  }
  const baseLr = options.baseLr ?? (options.config === undefined ? DEFAULT_BASE_LR : undefined);
  if (baseLr !== undefined) {
    const override = `optimizer.lr=${baseLr}`;
    overrides.push(override);
    flags[override] = `--base-lr ${baseLr}`;
  }
  return { overrides, flags };
}

/**
 * Runs `anneal schedule`; returns the exit code. The schedule is the config's (`-c`, `--set`;
 * `--scheduler` replaces it, `--base-lr` sets `optimizer.lr`), read by `loadConfig` as `anneal
 * train` reads it: whatever train refuses up front (a cyclic cycling the momentum of an optimizer
 * without one, an exp_range gamma above 1 taking that momentum below 0) is refused here, with the
 * same message. Without `-c` the config is the default one, whose optimizer is sgd.
 */
export async function scheduleCommand(options: ScheduleCommandOptions): Promise<number> {
  const { overrides, flags } = await scheduleOverrides(options);
  const steps = parseNumberFlag("--steps", options.steps, true);
  if (steps > MAX_PREVIEW_STEPS) {
    // (the rates are listed, one line or number each: 10^8 of them did not fit in an array)
    throw new AnnealError(
      "usage",
      `--steps ${options.steps} is more than anneal schedule lists (at most ` +
        `${MAX_PREVIEW_STEPS.toLocaleString("en")} steps, a line each)`,
      { hint: `preview the first steps (--steps ${MAX_PREVIEW_STEPS}, or fewer)` },
    );
  }
  const metrics = options.metrics
    ? await parseJsonFlag("--metrics", options.metrics) as number[]
    : undefined;
  const config = await loadConfig(options.config, overrides, flags);
  const setting = rateSetting(config);
  if (options.baseLr !== undefined && setting.oneCycle) {
    // as train's --lr under them says: the rate given changes none of the rates listed
    console.error(
      `anneal: --base-lr ${options.baseLr} changes nothing here: ${ownRatesWhy(setting)} ` +
        `(${setting.path} sets them)`,
    );
  }
  if (metrics !== undefined && config.scheduler?.name !== "plateau") {
    console.error(
      `anneal: --metrics is read by a plateau schedule only: the ${
        config.scheduler?.name ?? "constant"
      } schedule ignores it`,
    );
  }
  if (!config.scheduler) {
    // (a --set scheduler=null removed the file's: said so, not as the file's)
    const removed = options.set?.some((s) => /^scheduler\s*=\s*null\s*$/.test(s));
    console.error(
      `anneal: ${
        removed
          ? `--set scheduler=null leaves ${options.config ?? "the config"} with`
          : `${options.config ?? "the default config"} has`
      } no scheduler: its rate is optimizer.lr at every step`,
    );
  }
  if (config.scheduler?.name === "plateau" && (metrics === undefined || Array.isArray(metrics))) {
    const error = plateauMetricsError(steps, metrics);
    if (error) throw error;
  }
  // the rate the run starts from (scaled by optimizer.baseBatch, as train scales it)
  const preview = previewSchedule(
    config.scheduler ?? { name: "constant" },
    baseLearningRate(config).lr,
    steps,
    metrics,
  );
  // a schedule stepped once an epoch (interval "epoch"; plateau, at each epoch's metric) lists
  // epochs, as a run steps it
  const scheduler = config.scheduler;
  const unit = scheduler?.name === "plateau" || scheduler?.interval === "epoch" ? "epoch" : "step";
  if (scheduler?.name === "plateau" && Array.isArray(metrics) && metrics.length > steps - 1) {
    // (the metric after epoch t sets epoch t + 1's rate: N epochs shown read N - 1 of them)
    const used = Math.max(0, steps - 1);
    const unused = metrics.length - used;
    console.error(
      `anneal: --metrics: ${unused} of its ${metrics.length} values ${
        unused === 1 ? "is" : "are"
      } past the last ${unit} shown, and unused (${steps} ${unit}${steps === 1 ? "" : "s"} ` +
        `read ${used}, the metric after each ${unit} but the last); --steps ${
          metrics.length + 1
        } uses every one`,
    );
  }
  if (options.plot) {
    const svg = await scheduleSvg(preview.lr, preview.momentum, { unit });
    await writeFlagFile("--plot", options.plot, svg);
  }
  if (options.json) {
    console.log(JSON.stringify(preview.lr, nonFiniteAsText));
    return 0;
  }
  for (let t = 0; t < preview.lr.length; t++) {
    const momentum = preview.momentum ? `\tmomentum ${formatNumber(preview.momentum[t])}` : "";
    // (six digits: the rates of neighbouring steps differ in their fifth or sixth)
    console.log(`${unit} ${t}\tlr ${formatNumber(preview.lr[t], 6)}${momentum}`);
  }
  if (Deno.stdout.isTerminal()) console.log(renderSchedulePlot(preview.lr));
  if (options.plot) console.error(`plot written to ${options.plot}`);
  return 0;
}
