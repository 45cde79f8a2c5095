/**
 * Vega-Lite specs of a run's curves, rendered to SVG strings headlessly (vega's `renderer:
 * "none"` view; no browser, no canvas): loss and metrics per epoch, LR per step, gradient norm per
 * step with the clip threshold as a rule, and the LR range test on a log axis with its
 * suggestions marked. `plotSvg(record, which)` backs `--plot`.
 *
 * @module
 */
import { extent } from "./extent.ts";
import type * as vl from "npm:vega-lite@6.5.0";
import { AnnealError } from "../errors.ts";
import { AXIS_LABEL_EXPR, CHART_NUMBER_LOCALE, formatNumber } from "../number_format.ts";
import { configValue } from "./records.ts";
import type { RunRecord } from "./types.ts";
import { runsDirFlagOf } from "../shell_word.ts";
import { checkRunRecord } from "./record_check.ts";
import { svgOf } from "./vega_render.ts";
import { closestOption } from "../issue_text.ts";

import { type PlotName, PLOTS } from "./plot_names.ts";
export { type PlotName, PLOTS };

/** Most points per step curve (steps are evenly resampled above this). */
const MAX_POINTS = 1500;
const WIDTH = 440;
const HEIGHT = 190;
/** Switch a y axis to log scale when its positive values span more than this ratio. */
const LOG_RATIO = 1000;
const PALETTE = ["#2563eb", "#f97316", "#16a34a", "#9333ea"];

type Row = Record<string, number | string | null>;
const clean = (v: number | undefined) => (typeof v === "number" && Number.isFinite(v) ? v : null);

function thin<T>(rows: T[]): T[] {
  if (rows.length <= MAX_POINTS) return rows;
  return Array.from(
    { length: MAX_POINTS },
    (_, i) => rows[Math.round(i * (rows.length - 1) / (MAX_POINTS - 1))],
  );
}

function yScale(values: (number | null)[]): Record<string, unknown> {
  const positive = values.filter((v): v is number => v !== null && v > 0);
  const [low, high] = extent(positive);
  const wide = positive.length === values.filter((v) => v !== null).length && positive.length > 0 &&
    high / low > LOG_RATIO;
  return wide ? { type: "log" } : { zero: false };
}

/** Long-format rows (one per epoch and series) of the given epoch fields. */
function epochRows(record: RunRecord, fields: string[]): Row[] {
  return record.epochs.flatMap((e) =>
    fields.filter((f) => e[f] !== undefined).map((f) => ({
      epoch: e.epoch,
      series: f,
      value: clean(e[f]),
    }))
  );
}

type Spec = Record<string, unknown>;

function seriesChart(rows: Row[], x: string, title: string, yTitle: string): Spec {
  const series = [...new Set(rows.map((r) => r.series as string))];
  return {
    title,
    width: WIDTH,
    height: HEIGHT,
    data: { values: rows },
    mark: { type: "line", point: rows.length <= 120 * series.length, interpolate: "linear" },
    encoding: {
      // Epochs and steps are counts: no ticks between them.
      x: { field: x, type: "quantitative", title: x, axis: { tickMinStep: 1, format: "d" } },
      y: {
        field: "value",
        type: "quantitative",
        title: yTitle,
        scale: yScale(rows.map((r) => r.value as number | null)),
        axis: { labelExpr: AXIS_LABEL_EXPR },
      },
      color: {
        field: "series",
        type: "nominal",
        title: null,
        scale: { domain: series, range: PALETTE },
      },
    },
  };
}

function clipThreshold(record: RunRecord): number | undefined {
  const fromConfig = configValue(record.config, "clipping.maxNorm");
  if (typeof fromConfig === "number") return fromConfig;
  const fromSummary = record.summary.clip?.threshold;
  return typeof fromSummary === "number" ? fromSummary : undefined;
}

/** The LR range test's suggestions as `{ name, lr }`, whatever form `suggestions` took. */
export function lrSuggestions(record: RunRecord): { name: string; lr: number }[] {
  const s = record.lrFind?.suggestions;
  if (!s) return [];
  if (Array.isArray(s)) {
    return s.map((item, i) =>
      typeof item === "number"
        ? { name: `suggestion ${i + 1}`, lr: item }
        : { name: item.method ?? `suggestion ${i + 1}`, lr: item.lr }
    ).filter((x) => Number.isFinite(x.lr));
  }
  return Object.entries(s).filter(([, lr]) => typeof lr === "number" && Number.isFinite(lr)).map((
    [name, lr],
  ) => ({ name, lr }));
}

function lrFindSpec(record: RunRecord): Spec {
  const find = record.lrFind!;
  const rows: Row[] = find.lrs.flatMap((lr, i) => [
    { lr, series: "loss", value: clean(find.losses[i]) },
    ...(find.smoothed ? [{ lr, series: "smoothed", value: clean(find.smoothed[i]) }] : []),
  ]);
  const suggestions = lrSuggestions(record);
  const curve = seriesChart(rows, "lr", "LR range test", "loss");
  const encoding = curve.encoding as Record<string, Record<string, unknown>>;
  encoding.x = {
    ...encoding.x,
    scale: { type: "log" },
    // (the powers of ten only, as d3 labels a log axis)
    axis: {
      labelExpr: `abs(log(datum.value) / LN10 - round(log(datum.value) / LN10)) < 1e-6 ? ` +
        `(${AXIS_LABEL_EXPR}) : ''`,
    },
    title: "learning rate (log)",
  };
  const finite = rows.map((r) => r.value).filter((v): v is number => v !== null);
  // Range tests end in a blow-up; clip the y axis so the useful valley stays visible.
  const top = [...finite].sort((a, b) => a - b)[Math.floor(finite.length * 0.9)] ?? 1;
  encoding.y = { ...encoding.y, scale: { domain: [extent(finite)[0], top], clamp: true } };
  delete curve.title, delete curve.width, delete curve.height, delete curve.data;
  const layers: unknown[] = [{ data: { values: rows }, ...curve }];
  if (suggestions.length) {
    // Each label on a row of its own, from the top down in the order of their rates (at one
    // height, rules a few pixels apart wrote them over one another), and to the left of its rule
    // in the range's right part (to its right they ran into the legend).
    const [low, high] = extent(find.lrs.filter((lr) => lr > 0).map(Math.log));
    const labels = [...suggestions].sort((a, b) => a.lr - b.lr).map((s, row) => ({
      ...s,
      label: `${s.name} ${formatNumber(s.lr)}`,
      y: 12 + 14 * row,
      right: high > low && (Math.log(s.lr) - low) / (high - low) > 0.6,
    }));
    const label = (right: boolean) => ({
      transform: [{ filter: `datum.right == ${right}` }],
      mark: {
        type: "text",
        align: right ? "right" : "left",
        dx: right ? -4 : 4,
        color: "#dc2626",
        fontSize: 11,
      },
      encoding: {
        x: { field: "lr", type: "quantitative" },
        y: { field: "y", type: "quantitative", scale: null },
        text: { field: "label" },
      },
    });
    layers.push({
      data: { values: labels },
      layer: [
        {
          mark: { type: "rule", color: "#dc2626", strokeDash: [4, 3] },
          encoding: { x: { field: "lr", type: "quantitative" } },
        },
        label(false),
        label(true),
      ],
    });
  }
  return { title: "LR range test", width: WIDTH, height: HEIGHT, layer: layers };
}

function gradNormSpec(record: RunRecord): Spec {
  const rows = thin(record.steps).map((s) => ({
    step: s.step,
    series: "grad norm",
    value: clean(s.gradNorm),
  }));
  const curve = seriesChart(rows, "step", "gradient norm per step", "global L2 norm");
  const threshold = clipThreshold(record);
  if (threshold === undefined) return curve;
  const { title, width, height, data, ...line } = curve;
  return {
    title,
    width,
    height,
    layer: [
      { data, ...line },
      {
        data: { values: [{ threshold, label: `clip at ${formatNumber(threshold)}` }] },
        layer: [
          {
            mark: { type: "rule", color: "#dc2626", strokeDash: [4, 3] },
            encoding: { y: { field: "threshold", type: "quantitative" } },
          },
          {
            mark: { type: "text", align: "right", dy: -5, color: "#dc2626", fontSize: 11 },
            encoding: {
              y: { field: "threshold", type: "quantitative" },
              x: { value: WIDTH },
              text: { field: "label" },
            },
          },
        ],
      },
    ],
  };
}

/** The metric fields (accuracy, MAE, ...) logged per epoch, train before validation. */
function metricFields(record: RunRecord): string[] {
  const skip = new Set(["epoch", "step", "seconds", "lr", "loss", "valLoss"]);
  const names = [...new Set(record.epochs.flatMap((e) => Object.keys(e)))].filter((k) =>
    !skip.has(k)
  );
  return names.sort((a, b) =>
    a.replace(/^val/, "").localeCompare(b.replace(/^val/, "")) || a.length - b.length
  );
}

/**
 * The Vega-Lite spec of one plot, or `undefined` when the run has no data for it.
 *
 * @example
 * ```ts
 * import { plotSpec } from "./vega.ts";
 * const run = {
 *   id: "x", dir: "x", config: {}, meta: { id: "x" }, summary: { status: "completed" as const },
 *   warnings: [], steps: [], epochs: [{ epoch: 0, loss: 2 }, { epoch: 1, loss: 1 }],
 * };
 * console.assert(plotSpec(run, "loss") !== undefined && plotSpec(run, "lr") === undefined);
 * ```
 */
export function plotSpec(record: RunRecord, which: PlotName): vl.TopLevelSpec | undefined {
  return buildSpec(record, which) as vl.TopLevelSpec | undefined;
}

function buildSpec(record: RunRecord, which: PlotName): Spec | undefined {
  const hasSteps = record.steps.length > 0;
  switch (which) {
    case "loss":
      // a run that ended within its first epoch (diverged, killed) has only its steps' losses
      return record.epochs.length
        ? seriesChart(epochRows(record, ["loss", "valLoss"]), "epoch", "loss per epoch", "loss")
        : record.steps.some((s) => typeof s.loss === "number")
        ? seriesChart(
          thin(record.steps).map((s) => ({ step: s.step, series: "loss", value: clean(s.loss) })),
          "step",
          "loss per step (no epoch ended)",
          "loss",
        )
        : undefined;
    case "metrics": {
      const fields = metricFields(record);
      return record.epochs.length && fields.length
        ? seriesChart(
          epochRows(record, fields),
          "epoch",
          "metrics per epoch",
          fields.map((f) => f.replace(/^val/, "")).filter((f, i, a) => a.indexOf(f) === i).join(
            " / ",
          ),
        )
        : undefined;
    }
    case "lr":
      return hasSteps
        ? seriesChart(
          thin(record.steps).map((s) => ({ step: s.step, series: "lr", value: clean(s.lr) })),
          "step",
          "learning rate per step",
          "learning rate",
        )
        : undefined;
    case "gradNorm":
      return record.steps.some((s) => Number.isFinite(s.gradNorm))
        ? gradNormSpec(record)
        : undefined;
    case "lrFind":
      return record.lrFind?.lrs.length ? lrFindSpec(record) : undefined;
  }
}

/** Renders a Vega-Lite spec to an SVG string without a browser. */
export async function renderSvg(spec: vl.TopLevelSpec): Promise<string> {
  return await svgOf(
    {
      ...spec,
      config: {
        font: "Inter, system-ui, sans-serif",
        view: { stroke: null },
        locale: { number: CHART_NUMBER_LOCALE },
      },
    } as vl.TopLevelSpec,
  );
}

/**
 * Renders one plot of a run as a standalone SVG document (for `--plot`).
 *
 * @example
 * ```ts
 * import { plotSvg } from "./vega.ts";
 * const svg = await plotSvg({
 *   id: "x", dir: "x", config: {}, meta: { id: "x" }, summary: { status: "completed" }, warnings: [],
 *   steps: [], epochs: [{ epoch: 0, loss: 2, valLoss: 2.2 }, { epoch: 1, loss: 1, valLoss: 1.3 }],
 * }, "loss");
 * console.assert(svg.startsWith("<svg") && svg.includes("valLoss"));
 * ```
 */
export async function plotSvg(record: RunRecord, which: PlotName): Promise<string> {
  checkRunRecord(record, `plot '${which}'`);
  if (!PLOTS.includes(which)) {
    const meant = closestOption(which, PLOTS);
    throw new AnnealError(
      "usage",
      `Cannot plot '${which}': unknown plot${
        meant === undefined ? "" : ` (did you mean '${meant}'?)`
      }`,
      { hint: `choose one of ${PLOTS.join(", ")}` },
    );
  }
  const spec = plotSpec(record, which);
  if (!spec) {
    const others = PLOTS.filter((p) => plotSpec(record, p));
    throw new AnnealError(
      "usage",
      `Cannot plot '${which}' for run '${record.id}': the run recorded no data for it`,
      {
        where: record.dir,
        hint: which === "lrFind"
          ? "an LR range test is recorded in a run directory of its own (`anneal lr-find` " +
            "prints it as 'record in DIR'): report that run, `anneal report <its id> --plot " +
            `lrFind${runsDirFlagOf(record.dir)}\``
          : others.length
          ? `plots with data: ${others.join(", ")}`
          : `no plot has data: the run recorded no step or epoch (\`anneal runs show ${record.id}${
            runsDirFlagOf(record.dir)
          }\` ` +
            "says how it ended)",
      },
    );
  }
  return await renderSvg(spec);
}
