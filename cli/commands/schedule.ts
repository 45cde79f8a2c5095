/**
 * `anneal schedule`: previews a learning-rate schedule before any compute is spent on it.
 *
 * @module
 */
import { AnnealError, previewSchedule, type SchedulerSpec } from "../../mod.ts";
import { renderSchedulePlot, scheduleSvg } from "../../schedulers/plot.ts";
import { formatNumber, readFlagFile, writeFlagFile } from "../output.ts";
import { parseJsonText } from "../../json_syntax.ts";

/** Options of `anneal schedule`. */
export interface ScheduleCommandOptions {
  scheduler: string;
  baseLr: string;
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
      : `quote it for the shell, e.g. ${flag} '{"name":"cosine","tMax":100}'`,
  );
}

/** Parses a positive number flag. */
export function parseNumberFlag(flag: string, raw: string, integer = false): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new AnnealError(
      "usage",
      `${flag} must be a positive ${integer ? "integer" : "number"}, current value is '${raw}'`,
      { hint: `give it like ${flag} ${integer ? "5" : "0.1"}` },
    );
  }
  return value;
}

/** Runs `anneal schedule`; returns the exit code. */
export async function scheduleCommand(options: ScheduleCommandOptions): Promise<number> {
  const spec = await parseJsonFlag("--scheduler", options.scheduler) as SchedulerSpec;
  const baseLr = parseNumberFlag("--base-lr", options.baseLr);
  const steps = parseNumberFlag("--steps", options.steps, true);
  const metrics = options.metrics
    ? await parseJsonFlag("--metrics", options.metrics) as number[]
    : undefined;
  const preview = previewSchedule(spec, baseLr, steps, metrics);
  if (options.plot) {
    await writeFlagFile("--plot", options.plot, await scheduleSvg(preview.lr, preview.momentum));
  }
  if (options.json) {
    console.log(JSON.stringify(preview.lr));
    return 0;
  }
  for (let t = 0; t < preview.lr.length; t++) {
    const momentum = preview.momentum ? `\tmomentum ${formatNumber(preview.momentum[t])}` : "";
    console.log(`step ${t}\tlr ${preview.lr[t].toPrecision(6)}${momentum}`);
  }
  if (Deno.stdout.isTerminal()) console.log(renderSchedulePlot(preview.lr));
  if (options.plot) console.error(`plot written to ${options.plot}`);
  return 0;
}
