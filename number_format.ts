/**
 * How anneal prints a loss, a metric or a learning rate, wherever it prints one (`anneal train`'s
 * epoch lines and progress bar, `diagnose`, `runs`, `runs show`, `runs compare`, the HTML
 * report, `lr-find`, `sweep`, `tune`, the reasons a run stopped and the clip monitor's warnings;
 * the charts' axes, to fewer digits): one rule, so that the number a command quotes reads as the
 * one another printed.
 *
 * @module
 */

/**
 * `n` and its noun, singular for 1: `counted(1, "epoch")` is "1 epoch", `counted(3, "epoch")`
 * "3 epochs" (every count anneal prints of epochs, steps, trials).
 *
 * @example
 * ```ts
 * import { counted } from "./number_format.ts";
 * console.assert(counted(1, "epoch") === "1 epoch");
 * console.assert(counted(0, "step") === "0 steps");
 * ```
 */
export function counted(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/** Significant digits a number is printed with, unless a caller asks for more. */
export const SIGNIFICANT_DIGITS = 4;

/**
 * Significant digits of a chart's axis labels (the terminal charts of `runs show`, `train` and
 * `anneal schedule`): fewer, so that a label fits beside the chart, in the same form.
 */
export const AXIS_DIGITS = 3;

/**
 * A Vega `labelExpr` that writes an axis label as {@linkcode formatNumber} does, to
 * {@linkcode AXIS_DIGITS} digits (d3's `~` drops the trailing zeros, as formatNumber does): the
 * HTML report's charts and `anneal schedule --plot`.
 */
export const AXIS_LABEL_EXPR = `datum.value != 0 && (abs(datum.value) < 1e-3 || ` +
  `abs(datum.value) >= 1e5) ? format(datum.value, '.${AXIS_DIGITS}~e') : ` +
  `format(datum.value, '.${AXIS_DIGITS}~r')`;

/**
 * The number locale the charts render with (Vega's `locale` option): d3's en-US but for its minus
 * sign, U+2212 there, `-` here, as {@linkcode formatNumber} writes it, in the axis labels, the
 * legends and the marks' descriptions alike.
 */
export const CHART_NUMBER_LOCALE = {
  decimal: ".",
  thousands: ",",
  grouping: [3],
  currency: ["$", ""],
  minus: "-",
};

/**
 * A number as anneal prints it: 4 significant digits (a loss of 14.627141 as 14.63, an accuracy
 * of 0.31640 as 0.3164; `digits` where a listing needs more: the rates `anneal schedule` lists
 * step by step differ in their fifth or sixth), in exponent form below 1e-3 and from 1e5 up,
 * without trailing zeros (a learning rate of 0.0003 as 3e-4, 1.2345e-7 as 1.235e-7); `-` for a
 * value not there, `NaN` and `Infinity` as they are. Significant digits, not decimal places:
 * learning rates span orders of magnitude (1e-7 .. 10 in a range test), and a rate of 0.00125
 * keeps its digits where four decimals would print 0.0013.
 *
 * @example
 * ```ts
 * import { formatNumber } from "./number_format.ts";
 * console.assert(formatNumber(14.627141628265381) === "14.63");
 * console.assert(formatNumber(0.3164) === "0.3164");
 * console.assert(formatNumber(0.0003) === "3e-4");
 * console.assert(formatNumber(1.2345678e-7) === "1.235e-7");
 * console.assert(formatNumber(123456) === "1.235e+5");
 * console.assert(formatNumber(undefined) === "-");
 * console.assert(formatNumber(0.009999997, 6) === "0.01");
 * ```
 */
export function formatNumber(value: unknown, digits = SIGNIFICANT_DIGITS): string {
  if (value === undefined || value === null) return "-";
  if (typeof value !== "number") return String(value);
  if (!Number.isFinite(value) || value === 0) return String(value);
  // (the form by the rounded value: 99999 rounds to 1e+5, 0.00099996 to 0.001)
  const rounded = Number(value.toPrecision(digits));
  const magnitude = Math.abs(rounded);
  if (magnitude < 1e-3 || magnitude >= 1e5) {
    // (toExponential pads to its digits: 3.000e-4, which Number's own printing drops)
    const [mantissa, exponent] = rounded.toExponential(digits - 1).split("e");
    return `${Number(mantissa)}e${exponent}`;
  }
  return String(rounded);
}

/**
 * A config setting's number as a listing of settings prints it (`runs compare`, a sweep's
 * trials): whole numbers exactly (a seed of 1234567, a step budget of 250000, which
 * {@linkcode formatNumber} writes 1.235e+6 and 2.5e+5), others as {@linkcode formatNumber}.
 *
 * @example
 * ```ts
 * import { formatSetting } from "./number_format.ts";
 * console.assert(formatSetting(1234567) === "1234567");
 * console.assert(formatSetting(0.0033768965571105863) === "0.003377");
 * ```
 */
export function formatSetting(value: number): string {
  return Number.isInteger(value) ? String(value) : formatNumber(value);
}

/**
 * A number as anneal's JSON writes it: JSON has no NaN or Infinity (`JSON.stringify` makes them
 * `null`, which reads back as nothing), so those are the strings "NaN", "Infinity", "-Infinity",
 * as the run records keep them and read them back.
 *
 * @example
 * ```ts
 * import { jsonNumber } from "./number_format.ts";
 * console.assert(jsonNumber(Infinity) === "Infinity" && jsonNumber(0.5) === 0.5);
 * ```
 */
export function jsonNumber(value: number): number | string {
  return Number.isFinite(value) ? value : String(value);
}

/**
 * `JSON.stringify`'s replacer for {@linkcode jsonNumber}: every number not finite, at any depth,
 * as its string (the NDJSON of `--json` and the records).
 *
 * @example
 * ```ts
 * import { nonFiniteAsText } from "./number_format.ts";
 * console.assert(JSON.stringify({ lr: [0.1, Infinity] }, nonFiniteAsText) === '{"lr":[0.1,"Infinity"]}');
 * ```
 */
export function nonFiniteAsText(_key: string, value: unknown): unknown {
  return typeof value === "number" ? jsonNumber(value) : value;
}
