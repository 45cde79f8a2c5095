import assert from "node:assert/strict";
import { parseConfig } from "../mod.ts";
import type { ConfigWarning } from "../mod.ts";
import { tune, tuneDirection } from "./tune.ts";

Deno.test("tune optimises its metric in the config's sweep.direction, as a sweep does", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = parseConfig({
      backend: "cpu",
      epochs: 2,
      runsDir: dir,
      data: { kind: "synthetic-linear", n: 64, validationSplit: 0.25 },
      sweep: { space: {}, metric: "valMae", direction: "maximize" },
    });
    const result = await tune(config, { budget: 2 });
    assert.equal(result.direction, "maximize");
    const tried = result.stages.flatMap((stage) => stage.tried.map((t) => t.value));
    assert.equal(result.final, Math.max(result.baseline, ...tried));
    // without a direction, the metric's own
    const undirected = { ...config, sweep: { ...config.sweep!, direction: undefined } };
    assert.equal(tuneDirection(undirected).direction, "minimize");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tune warns of a sweep.direction against the way its optimizer pushes the loss", () => {
  const config = parseConfig({
    data: { kind: "synthetic-linear", validationSplit: 0.25 },
    sweep: { space: {}, metric: "valLoss", direction: "maximize" },
  });
  const { direction, warning } = tuneDirection(config);
  assert.equal(direction, "maximize");
  assert.match((warning as ConfigWarning).message, /optimizer pushes valLoss down/);
  assert.equal(tuneDirection(parseConfig({ data: config.data })).direction, "minimize");
});
