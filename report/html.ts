/**
 * One self-contained HTML page per run: header (id, status, stop reason, backend, dataset
 * fingerprint), the diagnosis, the charts as inline SVG (opens offline, no external URLs), a
 * table of epochs and the config as JSON.
 *
 * @module
 */
import { diagnose, retrainCommand } from "./diagnose.ts";
import {
  countedAs,
  DAMAGED,
  NOT_RECORDED,
  provenanceOf,
  recorded,
  runBest,
  summaryBest,
} from "./records.ts";
import { counted, formatNumber } from "../number_format.ts";
import type { Diagnosis, RunRecord } from "./types.ts";
import { PLOTS, plotSpec, renderSvg } from "./vega.ts";
import { REPORT_CSS } from "./html_style.ts";
import { checkRunRecord } from "./record_check.ts";

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

const STATUS_CLASS: Record<string, string> = {
  completed: "ok",
  stopped: "warn",
  running: "info",
  diverged: "bad",
  failed: "bad",
  crashed: "bad",
  corrupt: "bad",
  unreadable: "bad",
};

/**
 * The header's best: the run's kept epoch and value ({@linkcode runBest}), else as its summary
 * keeps them where epochs.ndjson lost their rows (runs show says so too); "-" without one.
 */
function bestFact(record: RunRecord, best: ReturnType<typeof runBest>): string {
  if (best) return `${best.metric} ${formatNumber(best.value)} at epoch ${best.epoch}`;
  const kept = summaryBest(record.summary);
  return kept
    ? `${kept.metric} ${formatNumber(kept.value)} at epoch ${kept.epoch} (as its summary keeps it)`
    : "-";
}

function header(record: RunRecord): string {
  const { meta, summary } = record;
  const best = runBest(record);
  // (what an older record does not hold: "not recorded", as `anneal runs show` says)
  const { backend, seed, dataset } = provenanceOf(record);
  // an LR range test's record has no meta.json: its summary holds when it finished (the date
  // `anneal runs` gives it) and the versions; its steps are the test's (it was "0 / 0")
  const test = summary.lrFind === undefined ? undefined : record.lrFind;
  const versions = test ? { ...meta, ...summary } as Record<string, unknown> : meta;
  const facts: [string, string][] = [
    ["stop reason", summary.stopReason ?? "-"],
    ["backend", backend],
    test ? ["steps", `${test.lrs.length} (an LR range test)`] : [
      "epochs / steps",
      `${countedAs(record.epochs.length, summary.epochs)} / ${
        countedAs(record.steps.length, summary.steps)
      }`,
    ],
    ["best", bestFact(record, best)],
    ["seed", seed],
    test && meta.createdAt === undefined
      ? ["finished", recorded(summary.finishedAt)]
      : ["started", recorded(meta.createdAt)],
    ["dataset", dataset],
    [
      "versions",
      versions.version === undefined && versions.deno === undefined &&
        versions.tfjs === undefined
        ? NOT_RECORDED
        : `anneal ${recorded(versions.version)}, deno ${recorded(versions.deno)}, tfjs ${
          recorded(versions.tfjs)
        }`,
    ],
  ];
  if (summary.test) {
    facts.splice(4, 0, [
      "test",
      Object.entries(summary.test).map(([k, v]) => `${k} ${formatNumber(v)}`).join(", "),
    ]);
  }
  const status = summary.status;
  // a run killed without warning, or whose summary does not parse or cannot be read: how to go
  // on, beside why
  if (DAMAGED.has(status) && summary.hint) {
    facts.splice(1, 0, ["next", summary.hint]);
  }
  return `<header>
  <div class="title"><h1>${escapeHtml(record.id)}</h1>
  <span class="badge ${STATUS_CLASS[status] ?? "info"}">${escapeHtml(status)}</span></div>
  <dl class="facts">${
    facts.map(([k, v]) =>
      `<div><dt>${k}</dt><dd${k === "dataset" ? ' class="mono"' : ""}>${escapeHtml(v)}</dd></div>`
    ).join("")
  }</dl>
</header>`;
}

function diagnosisCard(diagnosis: Diagnosis, warnings: string[]): string {
  const items = diagnosis.findings.map((f) =>
    `<li class="finding ${f.severity}">
  <div class="finding-title"><span class="dot"></span>${
      escapeHtml(f.title)
    }<code class="kind">${f.kind}</code></div>
  <p><b>Evidence.</b> ${escapeHtml(f.evidence)}</p>
  <p><b>Next.</b> ${escapeHtml(f.fix)}</p>
  ${f.set?.length ? `<pre class="cmd">${escapeHtml(retrainCommand(diagnosis, f.set))}</pre>` : ""}
  ${f.resume ? `<p>Or go on from its end:</p><pre class="cmd">${escapeHtml(f.resume)}</pre>` : ""}
</li>`
  ).join("\n");
  const notes = warnings.length
    ? `<details class="notes"><summary>${
      counted(warnings.length, "note")
    } from reading the record</summary><ul>${
      warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join("")
    }</ul></details>`
    : "";
  return `<section class="card"><h2>Diagnosis</h2><p class="verdict">${
    escapeHtml(diagnosis.verdict)
  }</p>
<ul class="findings">${items}</ul>${notes}</section>`;
}

const PLOT_TITLES = {
  loss: "Loss",
  metrics: "Metrics",
  lr: "Learning rate",
  gradNorm: "Gradient norm",
  lrFind: "LR range test",
};

async function chartCards(record: RunRecord): Promise<string> {
  const cards: string[] = [];
  for (const which of PLOTS) {
    const spec = plotSpec(record, which);
    if (!spec) continue;
    cards.push(
      `<figure class="card chart" data-plot="${which}"><figcaption>${
        PLOT_TITLES[which]
      }</figcaption>${await renderSvg({ ...spec, title: undefined } as typeof spec)}</figure>`,
    );
  }
  return `<section class="charts">${cards.join("\n")}</section>`;
}

function epochTable(record: RunRecord): string {
  if (record.epochs.length === 0) return "";
  const columns = [...new Set(record.epochs.flatMap((e) => Object.keys(e)))].filter((c) =>
    c !== "step"
  );
  const best = runBest(record)?.epoch;
  const rows = record.epochs.map((e) =>
    `<tr${e.epoch === best ? ' class="best"' : ""}>${
      columns.map((c) => `<td>${escapeHtml(formatNumber(e[c]))}</td>`).join("")
    }</tr>`
  ).join("\n");
  return `<section class="card"><h2>Epochs</h2><div class="scroll"><table><thead><tr>${
    columns.map((c) => `<th>${escapeHtml(c)}</th>`).join("")
  }</tr></thead><tbody>${rows}</tbody></table></div></section>`;
}

/**
 * Renders the whole report as one HTML document with no external references.
 *
 * @example
 * ```ts
 * import { renderReport } from "./html.ts";
 * const html = await renderReport({
 *   id: "demo", dir: "demo", config: { seed: 1 }, meta: { id: "demo" }, warnings: [],
 *   summary: { status: "completed", stopReason: "finished 3 epochs" }, steps: [],
 *   epochs: [3, 2, 1].map((loss, epoch) => ({ epoch, loss })),
 * });
 * console.assert(html.startsWith("<!doctype html>") && html.includes("<svg"));
 * ```
 */
export async function renderReport(
  record: RunRecord,
  diagnosis?: Diagnosis,
): Promise<string> {
  checkRunRecord(record, "render the report");
  diagnosis ??= diagnose(record);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>anneal report: ${escapeHtml(record.id)}</title>
<style>${REPORT_CSS}</style></head>
<body><main>
${header(record)}
${diagnosisCard(diagnosis, record.warnings)}
${await chartCards(record)}
${epochTable(record)}
<section class="card"><h2>Config</h2><pre class="json">${
    escapeHtml(JSON.stringify(record.config, null, 2))
  }</pre></section>
<footer>anneal run report · ${escapeHtml(record.dir)}</footer>
</main></body></html>
`;
}
