/**
 * The report page's stylesheet (inlined, so the page opens offline): system fonts, cards on a
 * soft background, severity colours for findings.
 *
 * @module
 */

/** CSS of the HTML report. */
export const REPORT_CSS = `
:root { --bg: #f4f6fa; --card: #fff; --ink: #1f2937; --muted: #6b7280; --line: #e5e7eb;
  --ok: #16a34a; --warn: #d97706; --bad: #dc2626; --info: #2563eb; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.55 Inter, "Segoe UI", system-ui, -apple-system, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 24px 40px; }
h1 { font-size: 24px; margin: 0; letter-spacing: -0.01em; word-break: break-all; }
h2 { font-size: 15px; text-transform: uppercase; letter-spacing: 0.06em; color: var(--muted); margin: 0 0 12px; }
header { background: var(--card); border-radius: 14px; padding: 20px 24px; box-shadow: 0 1px 3px rgba(0,0,0,.06); margin-bottom: 18px; }
.title { display: flex; align-items: center; gap: 12px; flex-wrap: wrap; }
.badge { padding: 3px 12px; border-radius: 999px; font-size: 13px; font-weight: 600; color: #fff; }
.badge.ok { background: var(--ok); } .badge.warn { background: var(--warn); }
.badge.bad { background: var(--bad); } .badge.info { background: var(--info); }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr)); gap: 10px 24px; margin: 16px 0 0; }
.facts div { min-width: 0; } dt { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .05em; }
dd { margin: 2px 0 0; font-weight: 500; overflow-wrap: anywhere; }
.mono, code, pre { font-family: "JetBrains Mono", "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; }
.card { background: var(--card); border-radius: 14px; padding: 18px 22px; box-shadow: 0 1px 3px rgba(0,0,0,.06); margin: 0 0 18px; }
.verdict { font-size: 17px; font-weight: 600; margin: 0 0 12px; }
.findings { list-style: none; padding: 0; margin: 0; display: grid; gap: 12px; }
.finding { border-left: 4px solid var(--info); background: #f9fafb; border-radius: 8px; padding: 10px 14px; }
.finding.critical { border-color: var(--bad); background: #fef2f2; }
.finding.warning { border-color: var(--warn); background: #fffbeb; }
.finding.info { border-color: var(--ok); background: #f0fdf4; }
.finding p { margin: 6px 0; }
.finding-title { font-weight: 600; display: flex; align-items: center; gap: 8px; }
.kind { color: var(--muted); font-weight: 400; background: rgba(0,0,0,.05); padding: 1px 6px; border-radius: 4px; }
.cmd { background: #111827; color: #e5e7eb; padding: 8px 12px; border-radius: 6px; overflow-x: auto; white-space: pre-wrap; overflow-wrap: anywhere; margin: 8px 0 2px; }
.notes { margin-top: 12px; color: var(--muted); font-size: 13px; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(520px, 100%), 1fr)); gap: 18px; margin-bottom: 18px; }
.charts .card { margin: 0; }
figure { margin: 0; } figcaption { font-weight: 600; margin-bottom: 6px; }
.chart svg { max-width: 100%; height: auto; display: block; }
.scroll { overflow-x: auto; max-height: 420px; overflow-y: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; font-size: 13.5px; }
th, td { padding: 5px 12px; text-align: right; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { position: sticky; top: 0; background: var(--card); color: var(--muted); font-weight: 600; }
tr.best td { background: #ecfdf5; font-weight: 600; }
.json { background: #f9fafb; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; overflow: auto; max-height: 460px; margin: 0; }
footer { color: var(--muted); font-size: 12px; text-align: center; margin-top: 8px; }
`;
