/**
 * Charts of a schedule: an ASCII chart for the terminal (`anneal schedule`) and a small SVG
 * line chart (`--plot FILE`), rendered headless with vega-lite + vega.
 *
 * @module
 */

import asciichartModule from "npm:asciichart@1.5.25";
import type * as vl from "npm:vega-lite@6.5.0";
import { AnnealError } from "../errors.ts";
import { svgOf } from "../report/vega_render.ts";
import {
  AXIS_DIGITS,
  AXIS_LABEL_EXPR,
  CHART_NUMBER_LOCALE,
  formatNumber,
} from "../number_format.ts";

interface AsciiChart {
  plot(series: number[], config?: { height?: number; format?: (x: number) => string }): string;
}
const asciichart = asciichartModule as unknown as AsciiChart;

/** Options of {@linkcode renderSchedulePlot}. */
export interface AsciiPlotOptions {
  /** Columns of the curve (the series is resampled to this many points). Default 72. */
  width?: number;
  /** Rows of the curve. Default 12. */
  height?: number;
}

/**
 * Evenly picks `count` points of `values` (first and last included), so a 100k-step schedule
 * plots as quickly as a short one. Returns the step index and value of each point.
 */
export function resample(values: readonly number[], count: number): { t: number; value: number }[] {
  if (values.length <= count) return values.map((value, t) => ({ t, value }));
  if (count === 1) return [{ t: 0, value: values[0] }];
  return Array.from({ length: count }, (_, i) => {
    const t = Math.round(i * (values.length - 1) / (count - 1));
    return { t, value: values[t] };
  });
}

function checkSeries(lr: readonly number[], what: string): void {
  if (lr.length === 0) {
    throw new AnnealError("usage", `Cannot plot schedule: '${what}' is empty`, {
      where: what,
      hint: "preview at least one step",
    });
  }
  const bad = lr.findIndex((value) => !Number.isFinite(value));
  if (bad >= 0) {
    throw new AnnealError(
      "usage",
      `Cannot plot schedule: '${what}[${bad}]' must be finite, current value is ${lr[bad]}`,
      { where: `${what}[${bad}]`, hint: "check the schedule's parameters" },
    );
  }
}

/**
 * Renders learning rates as an ASCII line chart with labelled y axis.
 *
 * @example
 * ```ts
 * import { renderSchedulePlot } from "./plot.ts";
 * const chart = renderSchedulePlot([0.1, 0.08, 0.05, 0.02, 0.01], { height: 4 });
 * console.assert(chart.split("\n").length === 5 && chart.includes("0.1"));
 * ```
 */
export function renderSchedulePlot(lr: number[], options: AsciiPlotOptions = {}): string {
  checkSeries(lr, "lr");
  const points = resample(lr, options.width ?? 72).map((point) => point.value);
  return asciichart.plot(points, {
    height: options.height ?? 12,
    format: (x: number) => formatNumber(x, AXIS_DIGITS).padStart(10),
  });
}

/** Options of {@linkcode scheduleSvg}. */
export interface SvgPlotOptions {
  /** Most points drawn per curve. Default 1000. */
  maxPoints?: number;
  /** Plot width in pixels. Default 480. */
  width?: number;
  /** Height of each plot in pixels. Default 160. */
  height?: number;
  /** What the x axis counts: `step` (default), or `epoch` for a schedule stepped once an epoch. */
  unit?: "step" | "epoch";
}

function lineChart(
  values: { t: number; value: number }[],
  field: string,
  options: Required<SvgPlotOptions>,
): vl.TopLevelSpec {
  return {
    width: options.width,
    height: options.height,
    data: { values: values.map(({ t, value }) => ({ step: t, [field]: value })) },
    mark: { type: "line", interpolate: "linear" },
    encoding: {
      x: { field: "step", type: "quantitative", title: options.unit },
      y: { field, type: "quantitative", title: field, axis: { labelExpr: AXIS_LABEL_EXPR } },
    },
  } as vl.TopLevelSpec;
}

/**
 * Renders learning rates (and momentum, in a second plot below) as a standalone SVG document.
 *
 * @example
 * ```ts
 * import { scheduleSvg } from "./plot.ts";
 * const svg = await scheduleSvg([0.1, 0.05, 0.025], [0.85, 0.9, 0.95]);
 * console.assert(svg.startsWith("<svg") && svg.includes("momentum"));
 * ```
 */
export async function scheduleSvg(
  lr: number[],
  momentum?: number[],
  options: SvgPlotOptions = {},
): Promise<string> {
  checkSeries(lr, "lr");
  if (momentum) checkSeries(momentum, "momentum");
  const resolved = { maxPoints: 1000, width: 480, height: 160, unit: "step" as const, ...options };
  const lrChart = lineChart(resample(lr, resolved.maxPoints), "lr", resolved);
  const spec = momentum
    ? {
      vconcat: [lrChart, lineChart(resample(momentum, resolved.maxPoints), "momentum", resolved)],
    } as vl.TopLevelSpec
    : lrChart;
  return await svgOf(
    { ...spec, config: { locale: { number: CHART_NUMBER_LOCALE } } } as vl.TopLevelSpec,
  );
}
