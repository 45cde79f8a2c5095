import assert from "node:assert/strict";
import { AnnealError } from "../errors.ts";
import { readRun } from "./records.ts";
import { lrSuggestions, plotSpec, plotSvg } from "./vega.ts";
import { FIXTURES, syntheticRun } from "./_synthetic.ts";

Deno.test("plotSvg renders loss, metrics, lr, gradNorm and lrFind of the healthy fixture as SVG", async () => {
  const record = await readRun(`${FIXTURES}healthy`);
  for (const which of ["loss", "metrics", "lr", "gradNorm", "lrFind"] as const) {
    const svg = await plotSvg(record, which);
    assert.ok(
      svg.startsWith("<svg") && /<path[^>]*d="M[^"]*L/.test(svg),
      `${which} has no drawn line`,
    );
  }
});

Deno.test("the LR range test uses a log x axis and marks each suggestion", async () => {
  const record = await readRun(`${FIXTURES}healthy`);
  const spec = JSON.stringify(plotSpec(record, "lrFind"));
  assert.match(spec, /"scale":\{"type":"log"\}/);
  const svg = await plotSvg(record, "lrFind");
  for (const { name } of lrSuggestions(record)) {
    assert.ok(svg.includes(name), `suggestion ${name} not marked`);
  }
});

Deno.test("the gradient norm plot draws the clip threshold as a rule", async () => {
  const record = await readRun(`${FIXTURES}healthy`);
  record.config = { ...record.config, clipping: { maxNorm: 2.5 } };
  assert.ok((await plotSvg(record, "gradNorm")).includes("clip at 2.5"));
});

/** The texts of an SVG: its axis labels, titles and marks' labels. */
function svgTexts(svg: string): string[] {
  return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((match) => match[1]);
}

Deno.test("the plots' axis labels and marks write numbers as every command does (formatNumber)", async () => {
  const steps = Array.from({ length: 50 }, (_, i) => ({
    step: i,
    epoch: 0,
    loss: 1 / (i + 1),
    lr: 1e-4 + i * 1e-5,
    gradNorm: 0.5 + i / 30,
  }));
  const run = syntheticRun([2, 1], { steps });
  run.config = { clipping: { maxNorm: 1 / 3 } };
  run.lrFind = {
    lrs: [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1],
    losses: [2, 1.9, 1.5, 1, 0.8, 3, 9],
    suggestions: [{ lr: 0.0031622776, method: "valley" }],
  };
  const lr = svgTexts(await plotSvg(run, "lr"));
  assert.ok(["1e-4", "3e-4", "6e-4"].every((label) => lr.includes(label)), lr.join(" | "));
  const norms = svgTexts(await plotSvg(run, "gradNorm"));
  assert.ok(norms.includes("clip at 0.3333") && norms.includes("1.5"), norms.join(" | "));
  assert.ok(!norms.includes("1.0"), "no padding zeros");
  const find = svgTexts(await plotSvg(run, "lrFind"));
  assert.ok(find.includes("valley 0.003162"), find.join(" | "));
  // a log axis: its powers of ten, each as formatNumber writes it
  for (const label of ["1e-6", "1e-4", "0.001", "0.1", "1"]) assert.ok(find.includes(label), label);
  assert.ok(!find.includes("2e-6") && !find.includes("1e-3"), find.join(" | "));
});

Deno.test("the plots write a negative axis label with the minus sign formatNumber writes", async () => {
  // d3's format writes U+2212 for a negative number; every command writes "-"
  const negative = svgTexts(await plotSvg(syntheticRun([-3, -1, -2]), "loss"));
  assert.ok(negative.includes("-2") && negative.includes("-1.5"), negative.join(" | "));
  assert.ok(!negative.some((text) => text.includes("\u2212")), negative.join(" | "));
  const tiny = svgTexts(await plotSvg(syntheticRun([-3e-4, -1e-4, -2e-4]), "loss"));
  assert.ok(tiny.includes("-2e-4"), tiny.join(" | "));
  assert.ok(!tiny.some((text) => text.includes("\u2212")), tiny.join(" | "));
});

Deno.test("lrSuggestions accepts a map, a list of numbers or a list of {lr, method}", () => {
  const run = syntheticRun([1]);
  run.lrFind = { lrs: [1], losses: [1], suggestions: [{ lr: 0.01, method: "valley" }] };
  assert.deepEqual(lrSuggestions(run), [{ name: "valley", lr: 0.01 }]);
  run.lrFind.suggestions = [0.02];
  assert.deepEqual(lrSuggestions(run), [{ name: "suggestion 1", lr: 0.02 }]);
});

Deno.test("plotSvg of a plot without data throws a usage AnnealError naming the plots that have data", async () => {
  await assert.rejects(plotSvg(syntheticRun([2, 1]), "lrFind"), (error: unknown) => {
    assert.ok(error instanceof AnnealError && error.code === "usage");
    assert.match(error.hint ?? "", /lr-find/);
    return true;
  });
  await assert.rejects(plotSvg(syntheticRun([2, 1]), "gradNorm"), /recorded no data/);
});

Deno.test("the loss plot of a run that ended within its first epoch (diverged, killed) draws its steps' losses", async () => {
  // diverged at step 1: no epoch ended, two steps recorded
  const steps = [
    { step: 0, epoch: 0, loss: 16.45, lr: 10 },
    { step: 1, epoch: 0, loss: 3965, lr: 10 },
    { step: 2, epoch: 0, loss: Infinity, lr: 10 },
  ];
  const run = syntheticRun([], { steps, status: "diverged" });
  const svg = await plotSvg(run, "loss");
  assert.ok(/<path[^>]*d="M[^"]*L/.test(svg), "a line through the steps");
  assert.ok(svg.includes("loss per step (no epoch ended)"));
  // nothing recorded at all: no plot
  await assert.rejects(plotSvg(syntheticRun([]), "loss"), (error: AnnealError) => {
    assert.match(error.message, /recorded no data/);
    // the hint names no empty list of plots, but why there is none
    assert.match(error.hint ?? "", /^no plot has data: the run recorded no step or epoch/);
    return true;
  });
  // the runs show it names takes the run's runs directory where it is not the default, quoted
  for (const [dir, flag] of [["runs/r1", ""], ["my runs/r1", " --runs-dir 'my runs'"]]) {
    const run = { ...syntheticRun([]), id: "r1", dir };
    await assert.rejects(plotSvg(run, "loss"), (error: AnnealError) => {
      assert.ok(error.hint?.includes(`(\`anneal runs show r1${flag}\` says how`), error.hint);
      return true;
    });
    await assert.rejects(
      plotSvg({ ...run, steps: [], epochs: [] }, "lrFind"),
      (error: AnnealError) => {
        assert.ok(
          error.hint?.includes(`\`anneal report <its id> --plot lrFind${flag}\``),
          error.hint,
        );
        return true;
      },
    );
  }
  // where other plots have data, the hint lists them
  await assert.rejects(
    plotSvg(syntheticRun([2, 1]), "gradNorm"),
    (error: AnnealError) => /^plots with data: loss/.test(error.hint ?? ""),
  );
});

Deno.test("the LR range test's suggestion labels each take a row of their own, those in the range's right part left of their rule", async () => {
  // (valley, steepest and minimumDiv10 a few pixels apart were written at one height, over one
  // another and into the legend)
  const run = syntheticRun([2, 1]);
  run.lrFind = {
    lrs: [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1],
    losses: [2, 1.9, 1.5, 1, 0.8, 3, 9],
    suggestions: { valley: 0.05, steepest: 0.2, minimumDiv10: 0.15, early: 1e-5 },
  };
  const svg = await plotSvg(run, "lrFind");
  const labels = [
    ...svg.matchAll(
      /<text[^>]*text-anchor="(\w+)"[^>]*translate\(([\d.]+),([\d.]+)\)[^>]*>(\w+) [\d.e-]+<\/text>/g,
    ),
  ]
    .map(([, anchor, , y, name]) => ({ anchor, y: Number(y), name }));
  const rows = Object.fromEntries(labels.map((l) => [l.name, l]));
  assert.deepEqual(Object.keys(rows).sort(), ["early", "minimumDiv10", "steepest", "valley"]);
  assert.equal(new Set(labels.map((l) => l.y)).size, 4, JSON.stringify(labels));
  // from the top down in the order of their rates
  assert.ok(rows.early.y < rows.valley.y && rows.valley.y < rows.minimumDiv10.y);
  assert.ok(rows.minimumDiv10.y < rows.steepest.y);
  assert.equal(rows.early.anchor, "start");
  assert.equal(rows.steepest.anchor, "end");
});
