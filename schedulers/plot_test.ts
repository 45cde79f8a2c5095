import assert from "node:assert/strict";
import { renderSchedulePlot, resample, scheduleSvg } from "./plot.ts";
import { previewSchedule } from "./preview.ts";

/** Coordinate pairs in the `d` attribute of each line mark's path. */
function linePathPointCounts(svg: string): number[] {
  const paths = [...svg.matchAll(/<path[^>]*>/g)].map((m) => m[0]);
  return paths
    .filter((path) => path.includes('stroke="#4c78a8"'))
    .map((path) => {
      const d = /\sd="([^"]*)"/.exec(path)?.[1] ?? "";
      return (d.match(/-?\d+(?:\.\d+)?(?:e-?\d+)?,-?\d+(?:\.\d+)?(?:e-?\d+)?/g) ?? []).length;
    });
}

Deno.test("the SVG of a schedule draws one line with a point per step", async () => {
  const { lr } = previewSchedule({ name: "cosine", tMax: 30 }, 0.1, 31);
  const svg = await scheduleSvg(lr);
  assert.ok(svg.startsWith("<svg"));
  assert.deepEqual(linePathPointCounts(svg), [31]);
});

Deno.test("the SVG of a one-cycle schedule adds a momentum line of the same length", async () => {
  const preview = previewSchedule({ name: "onecycle", maxLr: 0.1, totalSteps: 40 }, 0.1, 41);
  const svg = await scheduleSvg(preview.lr, preview.momentum);
  assert.deepEqual(linePathPointCounts(svg), [41, 41]);
  assert.ok(svg.includes("momentum"));
});

Deno.test("the SVG of a long schedule is downsampled to maxPoints", async () => {
  const { lr } = previewSchedule({ name: "exponential", gamma: 0.999 }, 0.1, 5000);
  const svg = await scheduleSvg(lr, undefined, { maxPoints: 200 });
  assert.deepEqual(linePathPointCounts(svg), [200]);
});

Deno.test("resample keeps the first and last step and spaces the rest evenly", () => {
  const values = Array.from({ length: 101 }, (_, t) => t * 2);
  const points = resample(values, 11);
  assert.deepEqual(points.map((p) => p.t), [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
  assert.deepEqual(points.map((p) => p.value), points.map((p) => p.t * 2));
  assert.equal(resample([1, 2, 3], 10).length, 3);
});

Deno.test("the ASCII chart has height + 1 rows and labels the largest and smallest rates", () => {
  const { lr } = previewSchedule({ name: "linear", startFactor: 0.2, totalIters: 10 }, 0.5, 20);
  const chart = renderSchedulePlot(lr, { height: 6, width: 20 });
  const rows = chart.split("\n");
  assert.equal(rows.length, 7);
  // the labels as every command prints a rate (formatNumber, to 3 digits), right-aligned
  assert.deepEqual(rows.map((row) => row.slice(0, 10)), [
    "       0.5",
    "     0.433",
    "     0.367",
    "       0.3",
    "     0.233",
    "     0.167",
    "       0.1",
  ]);
  // small rates in exponent form below 1e-3, as `anneal train` prints them
  const small = renderSchedulePlot([0, 1e-4, 3e-4, 2e-4], { height: 3 }).split("\n");
  assert.deepEqual(small.map((row) => row.slice(0, 10).trim()), ["3e-4", "2e-4", "1e-4", "0"]);
});

Deno.test("the SVG's rate axis is labelled as every command prints a rate (formatNumber)", async () => {
  const svg = await scheduleSvg([1e-4, 2e-4, 3e-4, 5e-4]);
  const labels = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((match) => match[1]);
  for (const label of ["0", "1e-4", "5e-4"]) assert.ok(labels.includes(label), labels.join(" | "));
  assert.ok(!labels.some((label) => /\.00e/.test(label)), labels.join(" | "));
});

Deno.test("plots refuse empty and non-finite series with the offending index", async () => {
  assert.throws(() => renderSchedulePlot([]), /'lr' is empty/);
  await assert.rejects(
    () => scheduleSvg([0.1, Number.NaN]),
    /'lr\[1\]' must be finite, current value is NaN/,
  );
});
