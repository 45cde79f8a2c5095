/**
 * Terminal charts of a run with asciichart: training and validation loss per epoch, and the
 * learning rate per step. Curves that span more than two decades are drawn as log10.
 *
 * @module
 */
import { extent } from "./extent.ts";
import asciichartModule from "npm:asciichart@1.5.25";
import type { RunRecord } from "./types.ts";
import { AXIS_DIGITS, counted, formatNumber } from "../number_format.ts";
import { checkRunRecord } from "./record_check.ts";

interface AsciiChart {
  plot(series: number[] | number[][], config?: Record<string, unknown>): string;
  blue: string;
  yellow: string;
  default: string;
}
const asciichart = asciichartModule as unknown as AsciiChart;

/** Columns a chart uses at most (series are resampled to this many points). */
export const CHART_WIDTH = 72;
/** Rows of a chart. */
export const CHART_HEIGHT = 10;
/** Plot log10 of a curve whose finite values span more than this ratio. */
const LOG_RATIO = 100;

/** Evenly picks at most `count` values (first and last kept). */
export function resampleValues(values: number[], count = CHART_WIDTH): number[] {
  if (values.length <= count) return values;
  return Array.from(
    { length: count },
    (_, i) => values[Math.round(i * (values.length - 1) / (count - 1))],
  );
}

function logIfWide(series: number[][]): { series: number[][]; log: boolean } {
  const all = series.flat().filter((v) => Number.isFinite(v) && v > 0);
  const [low, high] = extent(all);
  const log = all.length > 0 && series.flat().every((v) => !Number.isFinite(v) || v > 0) &&
    high / low > LOG_RATIO;
  const mapped = series.map((s) =>
    s.map((v) => (Number.isFinite(v) ? (log ? Math.log10(v) : v) : NaN))
  );
  return { series: mapped, log };
}

/** asciichart cannot draw NaN: cut each series at its first non-finite value and say so. */
function finitePrefix(series: number[]): { values: number[]; note: string } {
  const bad = series.findIndex((v) => !Number.isFinite(v));
  if (bad < 0) return { values: series, note: "" };
  return {
    values: series.slice(0, bad),
    note: ` (${series[bad]} from point ${bad} on, not drawn)`,
  };
}

/**
 * An axis label: the value as every command prints one (`formatNumber`), to 3 significant digits,
 * so the axis fits its 9 characters; on a log scale, the value the axis stands for.
 */
const label = (x: number, log: boolean) => formatNumber(log ? 10 ** x : x, AXIS_DIGITS);

function chart(title: string, series: number[][], colors: boolean, legend: string): string {
  const cut = series.map(finitePrefix);
  const usable = cut.filter((s) => s.values.length > 0);
  const notes = cut.map((s) => s.note).join("");
  if (usable.length === 0) return `${title}${notes}\n  (no finite values to plot)`;
  const flat = usable.flatMap((s) => s.values);
  // (a value, as every command prints one; the axis labels below are sized to the axis)
  const [lowest, highest] = extent(flat);
  if (lowest === highest) {
    return `${title}: constant at ${formatNumber(flat[0])}`;
  }
  const { series: values, log } = logIfWide(usable.map((s) => resampleValues(s.values)));
  const plot = asciichart.plot(values, {
    height: CHART_HEIGHT,
    format: (x: number) => label(x, log).padStart(9),
    ...(colors ? { colors: [asciichart.blue, asciichart.yellow] } : {}),
  });
  return `${title}${log ? " (log scale)" : ""}${legend}${notes}\n${plot}`;
}

/**
 * Renders the loss and learning-rate charts of a run for the terminal.
 *
 * @example
 * ```ts
 * import { terminalCharts } from "./charts.ts";
 * const text = terminalCharts({
 *   id: "x", dir: "x", config: {}, meta: { id: "x" }, summary: { status: "completed" }, warnings: [],
 *   epochs: [3, 2, 1.5, 1.2].map((loss, epoch) => ({ epoch, loss, valLoss: loss * 1.1 })),
 *   steps: [0.1, 0.05, 0.01].map((lr, step) => ({ step, epoch: 0, loss: 1, lr })),
 * });
 * console.assert(text.includes("loss per epoch") && text.includes("learning rate per step"));
 * ```
 */
export function terminalCharts(record: RunRecord, options: { colors?: boolean } = {}): string {
  checkRunRecord(record, "chart the run");
  const colors = options.colors ?? false;
  const parts: string[] = [];
  if (record.epochs.length > 0) {
    const train = record.epochs.map((e) => e.loss);
    const hasVal = record.epochs.some((e) => Number.isFinite(e.valLoss));
    const val = record.epochs.map((e) => e.valLoss ?? NaN);
    // (in colour the series are told apart by it; without, by their order)
    const legend = !hasVal
      ? ""
      : colors
      ? "  — train (blue), validation (yellow)"
      : "  — train (first series), validation (second)";
    parts.push(
      chart(
        `loss per epoch (${counted(record.epochs.length, "epoch")})`,
        hasVal ? [train, val] : [train],
        colors,
        legend,
      ),
    );
  } else if (record.steps.some((s) => Number.isFinite(s.loss))) {
    // a run that ended within its first epoch (diverged at step 40): its steps' losses, as the
    // report draws them (it drew only the rate)
    parts.push(
      chart(
        `loss per step (${counted(record.steps.length, "step")})`,
        [record.steps.map((s) => s.loss)],
        colors,
        "",
      ),
    );
  }
  if (record.steps.length > 0) {
    parts.push(
      chart(
        `learning rate per step (${counted(record.steps.length, "step")})`,
        [record.steps.map((s) => s.lr)],
        colors,
        "",
      ),
    );
  }
  if (parts.length === 0 && record.lrFind && record.lrFind.lrs.length > 0) {
    // an LR range test's record: its loss against the rate, as its plot draws it (it said "no
    // epochs or steps recorded yet" of a test that had ended)
    const { lrs, losses, smoothed } = record.lrFind;
    parts.push(
      chart(
        `LR range test: loss per step (${counted(lrs.length, "step")}, lr ${
          formatNumber(lrs[0])
        } to ${formatNumber(lrs.at(-1))})`,
        [smoothed && smoothed.length === lrs.length ? smoothed : losses],
        colors,
        smoothed ? "  — smoothed" : "",
      ),
    );
  }
  return parts.length ? parts.join("\n\n") : "(no epochs or steps recorded yet)";
}
