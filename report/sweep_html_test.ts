import assert from "node:assert/strict";
import { parallelSpec } from "./sweep_html.ts";
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
