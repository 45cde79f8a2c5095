/**
 * The sweep report: objective per trial (pruned and failed trials marked), a parallel-coordinates
 * plot of the hyperparameters coloured by objective, and the trial table, in the style of the
 * run report.
 *
 * @module
 */
import type * as vl from "npm:vega-lite@6.5.0";
import { canonicalJson } from "../zod_paths.ts";
import { escapeHtml } from "./html.ts";
import { formatRate, RATE_LEGEND } from "./records.ts";
import { AXIS_LABEL_EXPR, formatNumber, formatSetting } from "../number_format.ts";
import { REPORT_CSS } from "./html_style.ts";
import { renderSvg } from "./vega.ts";
import type { TrialParamValue } from "../storage/types.ts";
import { checkArgument, isObject } from "../option_names.ts";

/** A parameter's value as the report shows it: a section or list as JSON, its keys sorted. */
export function paramText(value: TrialParamValue | undefined): string {
  return value !== null && typeof value === "object" ? canonicalJson(value) : String(value);
}

/**
 * A parameter's value as a trial's line and the report's table show it: numbers as anneal prints
 * a setting (4 significant digits: 9.329e-4, not 0.0009328907241165997; whole ones exactly, a
 * batch of 256, a seed of 1234567), anything else as {@linkcode paramText}.
 *
 * @example
 * ```ts
 * import { settingText } from "./sweep_html.ts";
 * console.assert(settingText(0.0009328907241165997) === "9.329e-4");
 * console.assert(settingText(1234567) === "1234567");
 * ```
 */
export function settingText(value: TrialParamValue | undefined): string {
  return typeof value === "number" ? formatSetting(value) : paramText(value);
}

/**
 * A trial's reason as its line and the report's table show it: a pruner's steps are the trial's
 * epochs (it reports one value an epoch), so they are named so, and the epoch it was pruned at is
 * added where the reason does not name it already ("at step 0" and then "at epoch 0" said it
 * twice).
 *
 * @example
 * ```ts
 * import { trialNote } from "./sweep_html.ts";
 * const median = "best value 3 is worse than the median 1 of 4 completed trials at step 2";
 * console.assert(trialNote(median, 2) === median.replace("step 2", "epoch 2"));
 * console.assert(trialNote("NaN at rung 0", 0) === "NaN at rung 0 at epoch 0");
 * ```
 */
export function trialNote(reason: string, prunedStep: number | null): string {
  if (prunedStep === null) return reason;
  const named = reason.replace(/\bstep (\d+)\b/g, "epoch $1");
  return new RegExp(`\\bepoch ${prunedStep}\\b`).test(named)
    ? named
    : `${named} at epoch ${prunedStep}`;
}

/** What the sweep report needs of a trial. */
export interface SweepTrialRow {
  /** Trial number within the study (0, 1, 2, ...). */
  number: number;
  /** Trial state: `COMPLETE`, `PRUNED`, `FAILED`, ... */
  state: string;
  /** Objective value (a pruned trial's: its last intermediate value); `null` where none. */
  value: number | null;
  /** Hyperparameter values by dotted config path (a `choice` may hold whole sections). */
  params: Record<string, TrialParamValue>;
  /** Why the trial was pruned or failed. */
  reason?: string | null;
  /** The step (epoch) a pruned trial was pruned at. */
  prunedStep?: number | null;
  /**
   * The learning rate the trial trained at, where the table should show it (its `params` do not):
   * under onecycle, which ignores `optimizer.lr`, its `maxLr` (as `anneal runs` shows it).
   */
  lr?: number;
  /** Where `lr` comes from when that is not `optimizer.lr`: onecycle's `scheduler.maxLr`. */
  lrSetting?: string;
  /** The trial's id in its storage: what a retry's `retryOf` names. */
  id?: number;
  /** Of a retry (a trial run again after an interruption or its worker's death): its chain's first trial's id. */
  retryOf?: number | null;
  /** 0 for a trial, 1, 2, ... for its retries (missing: 0). */
  retries?: number;
}

/**
 * A study's trials as its budget counts them: each original trial once, by how it ended (where it
 * was retried, after an interruption or its worker's death, by how its last retry ended), and the
 * retries that ran, apart. The retried trials' own FAILED records are not outcomes: their trials
 * ran again. (Rows without `retries` are each a trial of their own.)
 *
 * @example
 * ```ts
 * import { studyTotals } from "./sweep_html.ts";
 * const trial = (number: number, state: string, retryOf: number | null = null) =>
 *   ({ id: number, number, state, retryOf, retries: retryOf === null ? 0 : 1 });
 * const trials = [trial(0, "COMPLETE"), trial(1, "FAILED"), trial(2, "COMPLETE", 1)];
 * console.assert(studyTotals(trials) === "2 trials (2 complete); 1 retry ran (trial 2)");
 * ```
 */
export function studyTotals(
  trials: Pick<SweepTrialRow, "id" | "number" | "state" | "retryOf" | "retries">[],
): string {
  const retries = (trial: (typeof trials)[number]) => trial.retries ?? 0;
  const originals = trials.filter((trial) => retries(trial) === 0);
  // the last trial of each original's chain (a retry's retryOf is the chain's first trial)
  const outcomes = originals.map((original) =>
    trials.filter((trial) =>
      trial === original || (original.id !== undefined && trial.retryOf === original.id)
    ).reduce((last, trial) => retries(trial) > retries(last) ? trial : last)
  );
  const counts = new Map<string, number>();
  for (const { state } of outcomes) counts.set(state, (counts.get(state) ?? 0) + 1);
  const states = [...counts].map(([state, n]) => `${n} ${state.toLowerCase()}`).join(", ");
  const total = `${originals.length} trial${originals.length === 1 ? "" : "s"}` +
    (states ? ` (${states})` : "");
  // a retry still waiting has not run; its trial counts as waiting above
  const ran = trials.filter((trial) => retries(trial) > 0 && trial.state !== "WAITING")
    .map((trial) => trial.number);
  if (ran.length === 0) return total;
  return `${total}; ${ran.length} retr${ran.length === 1 ? "y" : "ies"} ran (trial${
    ran.length === 1 ? "" : "s"
  } ${ran.join(", ")})`;
}

/** Objective value per trial, with the best-so-far line. */
export function objectiveSpec(
  trials: SweepTrialRow[],
  direction: "minimize" | "maximize",
): vl.TopLevelSpec {
  let best: number | undefined;
  const rows = trials.map((t) => {
    if (t.state === "COMPLETE" && t.value !== null) {
      best = best === undefined
        ? t.value
        : direction === "minimize"
        ? Math.min(best, t.value)
        : Math.max(best, t.value);
    }
    return { trial: t.number, value: t.value, state: t.state, best };
  });
  return {
    width: 520,
    height: 260,
    data: { values: rows },
    layer: [
      {
        mark: { type: "point", filled: true, size: 60 },
        encoding: {
          x: { field: "trial", type: "quantitative", axis: { tickMinStep: 1, format: "d" } },
          y: {
            field: "value",
            type: "quantitative",
            title: "objective",
            scale: { zero: false },
            axis: { labelExpr: AXIS_LABEL_EXPR },
          },
          color: { field: "state", type: "nominal", title: "state" },
        },
      },
      {
        mark: { type: "line", interpolate: "step-after", color: "#111827" },
        encoding: {
          x: { field: "trial", type: "quantitative" },
          y: { field: "best", type: "quantitative" },
        },
      },
    ],
  } as vl.TopLevelSpec;
}

/**
 * Parallel coordinates, as Optuna's plot_parallel_coordinate draws them: the objective's axis
 * (named `metric`) first, then each hyperparameter's, each normalised to [0, 1], one line per
 * finished trial. (Without the objective's axis, a space of one parameter drew each trial as one
 * point on one axis: no line, an empty chart.)
 */
export function parallelSpec(
  trials: SweepTrialRow[],
  metric = "objective",
): vl.TopLevelSpec | undefined {
  const finished = trials.filter((t) => t.state === "COMPLETE" && t.value !== null);
  const names = [...new Set(finished.flatMap((t) => Object.keys(t.params)))];
  if (finished.length === 0 || names.length === 0) return undefined;
  const rows: Record<string, unknown>[] = [];
  const addAxis = (name: string, drawing: SweepTrialRow[], raw: TrialParamValue[]) => {
    const numeric = raw.every((v) => typeof v === "number");
    const categories = [...new Set(raw.map(paramText))].sort();
    const values = numeric ? (raw as number[]) : raw.map((v) => categories.indexOf(paramText(v)));
    const positive = numeric && values.every((v) => v > 0);
    // Learning rates and weight decays span decades: compare them on a log axis.
    const scaled = positive && Math.max(...values) / Math.min(...values) > 50
      ? values.map(Math.log)
      : values;
    const low = Math.min(...scaled);
    const span = Math.max(...scaled) - low || 1;
    drawing.forEach((t, i) =>
      rows.push({
        trial: t.number,
        objective: t.value,
        axis: name,
        position: (scaled[i] - low) / span,
        raw: paramText(raw[i]),
      })
    );
  };
  addAxis(metric, finished, finished.map((t) => t.value!));
  for (const name of names) {
    // (a conditional parameter: only the trials that drew it have a point on its axis)
    const drawing = finished.filter((t) => Object.hasOwn(t.params, name));
    addAxis(name, drawing, drawing.map((t) => t.params[name]));
  }
  return {
    width: Math.max(320, 140 * (names.length + 1)),
    height: 260,
    data: { values: rows },
    mark: { type: "line", strokeWidth: 1.5, opacity: 0.8 },
    encoding: {
      x: { field: "axis", type: "nominal", sort: [metric, ...names], title: null },
      y: {
        field: "position",
        type: "quantitative",
        title: "normalised value (log for decade-wide ranges)",
        axis: { labelExpr: AXIS_LABEL_EXPR },
      },
      detail: { field: "trial", type: "nominal" },
      color: {
        field: "objective",
        type: "quantitative",
        scale: { scheme: "viridis" },
        legend: { labelExpr: AXIS_LABEL_EXPR },
      },
      tooltip: [{ field: "trial" }, { field: "axis" }, { field: "raw" }, { field: "objective" }],
    },
  } as vl.TopLevelSpec;
}

/** The whole page. */
export async function renderSweepReport(
  study: string,
  trials: SweepTrialRow[],
  direction: "minimize" | "maximize",
  metric: string,
  bestConfig?: unknown,
): Promise<string> {
  checkArgument(
    Array.isArray(trials) && trials.every(isObject),
    trials,
    "render the sweep report",
    "trials",
    "an array of trial rows",
    "pass one row per trial (its number, state, value and params)",
  );
  const objective = await renderSvg(objectiveSpec(trials, direction));
  const parallel = parallelSpec(trials, metric);
  const parallelSvg = parallel ? await renderSvg(parallel) : "<p>No finished trials yet.</p>";
  const names = [...new Set(trials.flatMap((t) => Object.keys(t.params)))];
  const best = trials.filter((t) => t.state === "COMPLETE" && t.value !== null)
    .sort((a, b) => direction === "minimize" ? a.value! - b.value! : b.value! - a.value!)[0];
  // the rate a trial trains at, where its parameters do not say it (under onecycle: its maxLr)
  const rated = trials.some((t) => t.lr !== undefined || t.lrSetting !== undefined);
  const rateCell = (t: SweepTrialRow) =>
    rated ? `<td>${escapeHtml(formatRate(t.lr, t.lrSetting))}</td>` : "";
  // (a retry says which trial it ran again: the page listed it beside its trial's FAILED record
  // as one more trial)
  const note = (t: SweepTrialRow) => {
    const retried = (t.retries ?? 0) > 0 && t.retryOf != null
      ? trials.find((other) => other.id === t.retryOf)
      : undefined;
    const of = retried ? `retry of trial ${retried.number}` : "";
    const reason = t.reason ? trialNote(t.reason, t.prunedStep ?? null) : "";
    return [of, reason].filter((part) => part !== "").join("; ");
  };
  const rows = trials.map((t) =>
    `<tr${t === best ? ' class="best"' : ""}><td>${t.number}</td><td>${
      escapeHtml(t.state)
    }</td><td>${formatNumber(t.value)}</td>${
      names.map((n) => `<td>${escapeHtml(n in t.params ? settingText(t.params[n]) : "-")}</td>`)
        .join("")
    }${rateCell(t)}<td>${escapeHtml(note(t))}</td></tr>`
  ).join("\n");
  const legend = trials.some((t) => t.lrSetting && t.lr !== undefined)
    ? `<p>${escapeHtml(RATE_LEGEND)}</p>`
    : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>anneal sweep ${escapeHtml(study)}</title>
<style>${REPORT_CSS}</style></head>
<body><main>
<section class="card"><h1>sweep ${escapeHtml(study)}</h1>
<p>${escapeHtml(studyTotals(trials))}; ${direction} <b>${escapeHtml(metric)}</b>${
    best ? `; best: trial ${best.number} with ${formatNumber(best.value)}` : ""
  }</p></section>
<section class="card"><h2>Objective per trial</h2>${objective}</section>
<section class="card"><h2>Hyperparameters (parallel coordinates)</h2>${parallelSvg}</section>
<section class="card"><h2>Trials</h2><table><thead><tr><th>trial</th><th>state</th><th>${
    escapeHtml(metric)
  }</th>${names.map((n) => `<th>${escapeHtml(n)}</th>`).join("")}${
    rated ? "<th>lr</th>" : ""
  }<th>note</th></tr></thead><tbody>
${rows}
</tbody></table>${legend}</section>
${
    bestConfig
      ? `<section class="card"><h2>Best config</h2><pre>${
        escapeHtml(JSON.stringify(bestConfig, null, 2))
      }</pre></section>`
      : ""
  }
</main></body></html>
`;
}
