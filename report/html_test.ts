import assert from "node:assert/strict";
import { provenance } from "../cli/commands/runs.ts";
import { renderReport } from "./html.ts";
import { terminalCharts } from "./charts.ts";
import { syntheticRun } from "./_synthetic.ts";
import type { RunRecord } from "./types.ts";

/** The header's facts of a run's report: each name with its text. */
async function headerFacts(record: RunRecord): Promise<Record<string, string>> {
  const html = await renderReport(record);
  const header = html.slice(html.indexOf("<header>"), html.indexOf("</header>"));
  return Object.fromEntries(
    [...header.matchAll(/<dt>([^<]*)<\/dt><dd[^>]*>([^<]*)<\/dd>/g)].map((m) => [m[1], m[2]]),
  );
}

Deno.test("the report's header says 'not recorded' where runs show does, for what an older record does not hold", async () => {
  // a record of an older anneal: no backend, seed, fingerprint, start or versions in meta.json
  const old = syntheticRun([2, 1], { config: { seed: 7 } });
  old.meta = { id: "old" };
  const facts = await headerFacts(old);
  assert.equal(facts.backend, "not recorded");
  assert.equal(facts.seed, "7"); // (its config's)
  assert.equal(facts.dataset, "not recorded");
  assert.equal(facts.started, "not recorded");
  assert.equal(facts.versions, "not recorded");
  assert.equal(
    provenance(old),
    `backend ${facts.backend}, seed ${facts.seed}, dataset ${facts.dataset}`,
  );
  // a record that holds them: the same values on both
  const recent = syntheticRun([2, 1]);
  recent.meta = {
    id: "recent",
    backend: "cpu",
    seed: 3,
    fingerprint: "synthetic-linear:abc",
    version: "0.1.0",
    deno: "2.9.6",
  };
  recent.summary.backend = "wasm"; // (meta.json's first, as runs show reads it)
  const given = await headerFacts(recent);
  assert.equal(
    provenance(recent),
    `backend ${given.backend}, seed ${given.seed}, dataset ${given.dataset}`,
  );
  assert.equal(given.backend, "cpu");
  assert.equal(given.versions, "anneal 0.1.0, deno 2.9.6, tfjs not recorded");
});

Deno.test("the report's best epoch is the one the run kept, as runs and runs show give it, not the lowest value a minDelta passed over", async () => {
  // valLoss lowest at epoch 3 (0.2443), but by less than minDelta under epoch 1's 0.2795: early
  // stopping kept epoch 1, whose weights the run restored; the header said epoch 3
  const run = syntheticRun([1, 0.8, 0.7, 0.6], { val: [0.5, 0.2795, 0.26, 0.2443] });
  run.config.earlyStopping = { monitor: "valLoss", patience: 20, minDelta: 0.05 };
  run.summary.bestEpoch = 1;
  const facts = await headerFacts(run);
  assert.equal(facts.best, "valLoss 0.2795 at epoch 1");
  const html = await renderReport(run);
  assert.match(html, /<tr class="best"><td>1<\/td>/);
});

Deno.test("an LR range test's report says when it finished, its versions and its steps, and runs show charts its curve", async () => {
  // (it said "started: not recorded", "versions: not recorded" and "epochs / steps 0 / 0" of a
  // test just written, which runs dated)
  const test = syntheticRun([]);
  test.meta = { id: "lr-find" };
  test.summary = {
    status: "completed",
    stopReason: "LR range test",
    lrFind: { suggestion: 1e-3, rule: "valley" },
    finishedAt: "2026-12-07T17:08:36.063Z",
    backend: "wasm",
    version: "0.1.0",
    deno: "2.9.6",
    tfjs: "4.22.0",
  };
  const lrs = Array.from({ length: 40 }, (_, i) => 1e-7 * 10 ** (i / 5));
  test.lrFind = { lrs, losses: lrs.map((_, i) => 2 - i / 40) };
  const facts = await headerFacts(test);
  assert.equal(facts.finished, "2026-12-07T17:08:36.063Z");
  assert.equal(facts.versions, "anneal 0.1.0, deno 2.9.6, tfjs 4.22.0");
  assert.equal(facts.steps, "40 (an LR range test)");
  assert.match(terminalCharts(test), /^LR range test: loss per step \(40 steps, lr 1e-7 to/);
});
