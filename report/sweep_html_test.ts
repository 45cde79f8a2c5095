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

Deno.test("the sweep report counts a study's trials as anneal sweep does: a trial retried after its worker died once, its retry apart and named", async () => {
  // The page said "3 trials" of a study whose command said 2 (the retried trial's FAILED record
  // counted as one more), and nothing tied the retry to the trial it ran again.
  const params = { "optimizer.lr": 0.01 } as TrialParams;
  const rows = [
    { id: 10, number: 0, state: "COMPLETE", value: 0.5, params, retryOf: null, retries: 0 },
    {
      id: 11,
      number: 1,
      state: "FAILED",
      value: null,
      params,
      retryOf: null,
      retries: 0,
      reason: "worker w stopped heart-beating (no heartbeat for 12000 ms)",
    },
    { id: 12, number: 2, state: "COMPLETE", value: 0.75, params, retryOf: 11, retries: 1 },
  ];
  const html = await renderSweepReport("s", rows, "maximize", "score");
  assert.match(
    html,
    /<p>2 trials \(2 complete\); 1 retry ran \(trial 2\); maximize <b>score<\/b>; best: trial 2 with 0\.75<\/p>/,
  );
  const cells = (number: number) =>
    html.match(new RegExp(`<tr[^>]*><td>${number}</td>(.*?)</tr>`))![1];
  assert.match(cells(2), /<td>retry of trial 1<\/td>$/);
  assert.match(cells(1), /<td>worker w stopped heart-beating \(no heartbeat for 12000 ms\)<\/td>$/);
  // rows of one's own, without ids or retries: each a trial
  const plain = rows.map(({ number, state, value }) => ({ number, state, value, params }));
  assert.match(
    await renderSweepReport("s", plain, "maximize", "score"),
    /<p>3 trials \(2 complete, 1 failed\); maximize/,
  );
});

Deno.test("parallel coordinates of a one-parameter space draw each trial's line from the objective's axis to the parameter's", async () => {
  // (with the parameter's axis alone each trial was one point: an empty chart)
  const trials = [0.75, 0.25, 0.5].map((value, number) => ({
    number,
    state: "COMPLETE",
    value,
    params: { "optimizer.lr": 10 ** -(number + 1) } as TrialParams,
  }));
  const spec = parallelSpec(trials, "valLoss") as {
    data: { values: Record<string, unknown>[] };
    encoding: { x: { sort: string[] } };
  };
  assert.deepEqual(spec.encoding.x.sort, ["valLoss", "optimizer.lr"]);
  const objective = spec.data.values.filter((row) => row.axis === "valLoss");
  assert.deepEqual(objective.map((row) => [row.trial, row.position]), [[0, 1], [1, 0], [2, 0.5]]);
  const html = await renderSweepReport("s", trials, "minimize", "valLoss");
  const chart = html.split("(parallel coordinates)</h2>")[1].split("</section>")[0];
  const lines = [...chart.matchAll(/aria-roledescription="line mark" d="([^"]*)"/g)];
  assert.equal(lines.length, 3, chart);
  assert.ok(lines.every(([, d]) => /^M[\d.]+,[\d.]+L[\d.]+,[\d.]+$/.test(d)), "a segment each");
});

Deno.test("the sweep report's table writes params and prune notes as anneal sweep's trial lines do: 4 significant digits, epochs", async () => {
  const rows = [
    { number: 0, state: "COMPLETE", value: 0.5, params: { "optimizer.lr": 0.0009328907241165997 } },
    {
      number: 1,
      state: "PRUNED",
      value: 0.75,
      params: { "optimizer.lr": 0.03568 },
      reason: "best value 0.75 is worse than the median 0.5 of 1 completed trials at step 0",
      prunedStep: 0,
    },
    { number: 2, state: "COMPLETE", value: 0.25, params: { "optimizer.lr": 1234567 } },
  ];
  const html = await renderSweepReport("s", rows, "minimize", "valLoss");
  const cells = (number: number) =>
    [...html.match(new RegExp(`<tr[^>]*><td>${number}</td>(.*?)</tr>`))![1]
      .matchAll(/<td>([^<]*)<\/td>/g)].map((match) => match[1]);
  // state, value, optimizer.lr, note (whole numbers exactly, as the CLI prints a setting)
  assert.deepEqual(cells(0), ["COMPLETE", "0.5", "9.329e-4", ""]);
  assert.deepEqual(cells(1), [
    "PRUNED",
    "0.75",
    "0.03568",
    "best value 0.75 is worse than the median 0.5 of 1 completed trials at epoch 0",
  ]);
  assert.deepEqual(cells(2), ["COMPLETE", "0.25", "1234567", ""]);
});
