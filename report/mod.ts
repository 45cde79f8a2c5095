/**
 * Insight into runs: read run records, diagnose their curves, chart them in the terminal or as
 * SVG, and write a self-contained HTML report.
 *
 * @module
 */
export { bestMetric, compareRuns, formatTable, listRuns, readRun } from "./records.ts";
export type { RunComparison, RunRow } from "./records.ts";
export { diagnose, formatDiagnosis } from "./diagnose.ts";
export { terminalCharts } from "./charts.ts";
export { PLOTS, plotSpec, plotSvg } from "./vega.ts";
export type { PlotName } from "./vega.ts";
export { renderReport } from "./html.ts";
export type * from "./types.ts";
