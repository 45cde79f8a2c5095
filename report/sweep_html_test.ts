import assert from "node:assert/strict";
import { parallelSpec, renderSweepReport } from "./sweep_html.ts";
import type { TrialParams } from "../storage/types.ts";

Deno.test("parallel coordinates put a conditional parameter's axis through the trials that drew it only", () => {
  const trials = ([
    { "optimizer.name": "sgd", "optimizer.momentum": 0.5 },
    { "optimizer.name": "adam" },
    { "optimizer.name": "sgd", "optimizer.momentum": 0.9 },
  ] as TrialParams[]).map((params, number) => ({
    number,
    state: "COMPLETE",
    value: number,
    params,
  }));
  const spec = parallelSpec(trials) as { data: { values: Record<string, unknown>[] } };
  const momentum = spec.data.values.filter((row) => row.axis === "optimizer.momentum");
  // a numeric axis, from 0.5 to 0.9, without the adam trial
  assert.deepEqual(momentum.map((row) => [row.trial, row.position, row.raw]), [
    [0, 0, "0.5"],
    [2, 1, "0.9"],
  ]);
  assert.equal(spec.data.values.filter((row) => row.axis === "optimizer.name").length, 3);
});

Deno.test("the sweep report's charts write their numbers as formatNumber does: '-' for a minus sign", async () => {
  // an objective below 0 (a maximized score, a log-likelihood); d3's default format writes U+2212
  const trials = [-0.25, -1.5, -3, -0.75].map((value, number) => ({
    number,
    state: "COMPLETE",
    value,
    params: { "optimizer.lr": 10 ** -(number + 1) } as TrialParams,
  }));
  const html = await renderSweepReport("s", trials, "maximize", "score");
  const texts = [...html.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((match) => match[1]);
  assert.ok(!texts.some((text) => text.includes("\u2212")), texts.join(" | "));
  // the objective's axis and the colour legend, as formatNumber writes -1 and -3
  assert.ok(texts.filter((text) => text === "-1" || text === "-3").length >= 2, texts.join(" | "));
  assert.ok(!html.includes("\u2212"), "no U+2212 anywhere in the page");
});
