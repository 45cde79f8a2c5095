import assert from "node:assert/strict";
import { AnnealError } from "../errors.ts";
import { applyParams, fromInternal, fromUnit, parseSpace } from "./space.ts";

Deno.test("parseSpace fills int defaults and rejects unknown keys and inverted ranges", () => {
  const space = parseSpace({ batchSize: { type: "int", low: 16, high: 128, step: 16 } });
  assert.deepEqual(space.batchSize, { type: "int", low: 16, high: 128, step: 16, log: false });
  assert.throws(() => parseSpace({ lr: { type: "uniform", low: 1, high: 0 } }), AnnealError);
  assert.throws(() => parseSpace({ lr: { type: "uniform", low: 0, high: 1, x: 1 } }), AnnealError);
  assert.throws(() => parseSpace({ "bad path": { type: "choice", values: [1] } }), AnnealError);
});

Deno.test("applyParams sets dotted paths in a copy and names missing paths", () => {
  const config = { batchSize: 16, optimizer: { name: "adamw", lr: 0.001, weightDecay: 0.01 } };
  const next = applyParams(config, { "optimizer.lr": 0.1, batchSize: 64 });
  assert.deepEqual(next, {
    batchSize: 64,
    optimizer: { name: "adamw", lr: 0.1, weightDecay: 0.01 },
  });
  assert.equal(config.optimizer.lr, 0.001);
  assert.throws(
    () => applyParams(config, { "optimiser.lr": 0.1 }),
    (e: AnnealError) => /'optimiser' does not exist/.test(e.message) && /optimizer/.test(e.hint!),
  );
  assert.throws(() => applyParams(config, { "batchSize.x": 1 }), /is not an object/);
  assert.throws(() => applyParams(config, { "optimizer.momentum": 0.9 }), /does not exist/);
  const added = applyParams(config, { "optimizer.momentum": 0.9 }, { allowNew: true });
  assert.equal((added.optimizer as Record<string, unknown>).momentum, 0.9);
});

Deno.test("log and int distributions map the unit interval evenly onto their values", () => {
  const space = parseSpace({
    lr: { type: "logUniform", low: 1e-4, high: 1 },
    n: { type: "int", low: 1, high: 3 },
  });
  assert.ok(Math.abs((fromUnit(space.lr, 0.5) as number) - 1e-2) < 1e-12);
  const counts = [0, 0, 0];
  for (let i = 0; i < 300; i++) counts[(fromUnit(space.n, (i + 0.5) / 300) as number) - 1]++;
  assert.deepEqual(counts, [100, 100, 100]);
  assert.equal(fromInternal(space.n, 99), 3);
});
