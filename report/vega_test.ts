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
  await assert.rejects(plotSvg(syntheticRun([]), "loss"), /recorded no data/);
});
