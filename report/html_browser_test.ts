import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { chromium } from "npm:playwright-core@1.65.1";
import { renderReport } from "./html.ts";
import { readRun } from "./records.ts";
import { FIXTURES } from "./_synthetic.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

for (const name of ["healthy", "overfitting", "diverged"]) {
  Deno.test({
    name:
      `html report of the ${name} fixture renders its charts in chromium without console errors`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      assert.ok(
        existsSync(CHROMIUM),
        `chromium is required for this test but ${CHROMIUM} is missing: install it (apt-get install chromium)`,
      );
      const dir = await Deno.makeTempDir({ prefix: "anneal_report_" });
      const record = await readRun(`${FIXTURES}${name}`);
      const html = await renderReport(record);
      assert.ok(!/(src|href)="https?:/.test(html), "the report references an external URL");
      await Deno.writeTextFile(`${dir}/report.html`, html);
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        const errors: string[] = [];
        page.on("console", (message) => {
          if (message.type() === "error") errors.push(message.text());
        });
        page.on("pageerror", (error) => errors.push(error.message));
        // Any request leaving the file would mean the page is not self-contained.
        const requests: string[] = [];
        page.on("request", (request) => {
          if (!request.url().startsWith("file:")) requests.push(request.url());
        });
        await page.goto(`file://${dir}/report.html`);
        const charts = await page.$$eval("figure.chart", (figures) =>
          figures.map((f) => ({
            plot: f.getAttribute("data-plot"),
            marks:
              f.querySelectorAll("svg path, svg .mark-symbol path, svg .mark-line path").length,
            width: f.querySelector("svg")?.getBoundingClientRect().width ?? 0,
          })));
        const expected = ["loss", "lr", "gradNorm"];
        for (const plot of expected) {
          const chart = charts.find((c) => c.plot === plot);
          assert.ok(chart, `no ${plot} chart in ${name}`);
          assert.ok(
            chart.marks > 0 && chart.width > 100,
            `${plot} chart has no visible marks: ${JSON.stringify(chart)}`,
          );
        }
        const lines = await page.$$eval(
          ".mark-line path",
          (paths) => paths.map((p) => p.getAttribute("d") ?? ""),
        );
        assert.ok(
          lines.some((d) => (d.match(/L/g) ?? []).length > 2),
          "no line with data points was drawn",
        );
        const findings = await page.$$eval(".finding", (items) => items.length);
        assert.ok(findings > 0, "the diagnosis lists no finding");
        const epochRows = await page.$$eval("tbody tr", (rows) => rows.length);
        assert.equal(epochRows, record.epochs.length);
        assert.deepEqual(errors, []);
        assert.deepEqual(requests, []);
        const shot = `${dir}/report_${name}.png`;
        await page.screenshot({ path: shot, fullPage: true });
        assert.ok((await Deno.stat(shot)).size > 10_000);
        console.log(`screenshot: ${shot}`);
        // on a phone's width the page does not scroll sideways (the charts' columns were 520px
        // at least, the commands' lines unwrapped: 749px wide at 400); wide tables scroll within
        // their own box
        await page.setViewportSize({ width: 400, height: 800 });
        const width = await page.evaluate("document.documentElement.scrollWidth") as number;
        assert.ok(width <= 400, `the page is ${width}px wide at a 400px viewport`);
      } finally {
        await browser.close();
      }
    },
  });
}
