import assert from "node:assert/strict";
import { AnnealError } from "../errors.ts";
import { parseConfig } from "../mod.ts";
import { applyParams, fromInternal, fromUnit, type ParamValue, parseSpace } from "./space.ts";

Deno.test("parseSpace fills int defaults and rejects unknown keys and inverted ranges", () => {
  const space = parseSpace({ batchSize: { type: "int", low: 16, high: 128, step: 16 } });
  assert.deepEqual(space.batchSize, { type: "int", low: 16, high: 128, step: 16, log: false });
  assert.throws(() => parseSpace({ lr: { type: "uniform", low: 1, high: 0 } }), AnnealError);
  assert.throws(() => parseSpace({ lr: { type: "uniform", low: 0, high: 1, x: 1 } }), AnnealError);
  assert.throws(() => parseSpace({ "bad path": { type: "choice", values: [1] } }), AnnealError);
});

Deno.test("a refused range names the field to change and its value, and the hint writes a distribution of its type", () => {
  const refusal = (space: unknown) => {
    try {
      parseSpace(space);
    } catch (error) {
      assert.ok(error instanceof AnnealError);
      return { message: error.message, where: error.where, hint: error.hint ?? "" };
    }
    assert.fail("the space was taken");
  };
  const inverted = refusal({ "optimizer.lr": { type: "logUniform", low: 0.1, high: 0.01 } });
  assert.equal(
    inverted.message,
    `Cannot read search space: 'space["optimizer.lr"].high' must be >= 'low' (0.1), current value is 0.01`,
  );
  assert.equal(inverted.where, 'space["optimizer.lr"].high');
  // a log int: the step, or the low end, whichever is wrong (both where both are)
  const step = refusal({ epochs: { type: "int", low: 1, high: 64, step: 2, log: true } });
  assert.equal(step.where, "space.epochs.step");
  assert.match(step.message, /'space\.epochs\.step' must be 1 in a log int .*current value is 2$/);
  assert.match(step.hint, /"type": "int".*"log": true/);
  const low = refusal({ epochs: { type: "int", low: 0, high: 64, log: true } });
  assert.equal(low.where, "space.epochs.low");
  assert.match(low.message, /must be >= 1 in a log int .*current value is 0$/);
  assert.match(refusal({ x: { type: "uniform", low: 1, high: 0 } }).hint, /"type": "uniform"/);
  // a range wider than float64 holds: every draw was 'high'
  const wide = refusal({ x: { type: "uniform", low: -1e308, high: 1e308 } });
  assert.equal(wide.where, "space.x.high");
  assert.match(
    wide.message,
    /'space\.x\.high' must be within float64's largest number .* of 'low' \(-1e\+308\)/,
  );
  parseSpace({ x: { type: "uniform", low: -8e307, high: 8e307 } }); // (its width, 1.6e308, holds)
  // a path that is not one: said of the key (zod's "Invalid key in record" said nothing)
  const key = refusal({ "optimizer..lr": { type: "uniform", low: 0, high: 1 } });
  assert.equal(
    key.message,
    `Cannot read search space: 'space["optimizer..lr"]' is not a valid key: it must be a ` +
      "dotted config path such as optimizer.lr",
  );
  assert.throws(
    () =>
      parseConfig({ sweep: { space: { "optimizer..lr": { type: "uniform", low: 0, high: 1 } } } }),
    (error: AnnealError) =>
      /'sweep\.space\["optimizer\.\.lr"\]': is not a valid key: it must be a dotted config path/
        .test(error.message) && !/current value/.test(error.message),
  );
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

Deno.test("applyParams sets a path inside another path of the params into the section that one sets, whatever their order", () => {
  const config = { optimizer: { name: "sgd", lr: 0.01, momentum: 0 } };
  for (
    const params of [
      { "optimizer.lr": 0.3, optimizer: { name: "adam" } },
      { optimizer: { name: "adam" }, "optimizer.lr": 0.3 },
    ]
  ) {
    const next = applyParams(config, params, { allowNew: true });
    assert.deepEqual(next.optimizer, { name: "adam", lr: 0.3 }, JSON.stringify(params));
  }
  // deeper still: a list inside a section inside a section
  const model = { model: { kind: "mlp", hidden: [8] } };
  const deeper = applyParams(model, { "model.hidden": [4, 4], model: { kind: "mlp" } }, {
    allowNew: true,
  });
  assert.deepEqual(deeper.model, { kind: "mlp", hidden: [4, 4] });
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

Deno.test("an int range that is not low plus whole steps is refused, naming where its values end", () => {
  const sweep = {
    space: { batchSize: { type: "int", low: 16, high: 100, step: 16 } },
    metric: "loss",
  };
  assert.throws(
    () => parseConfig({ sweep }),
    (e: AnnealError) =>
      e.where === "sweep.space.batchSize.high" && /values end at 96/.test(e.message) &&
      /set high to 96, or to 112/.test(e.message),
  );
  assert.doesNotThrow(() =>
    parseConfig({
      sweep: { ...sweep, space: { batchSize: { ...sweep.space.batchSize, high: 96 } } },
    })
  );
  // a step of 0, below 0 or fractional is refused as the step; no values "end at NaN"
  for (const step of [0, -16, 1.5]) {
    assert.throws(
      () =>
        parseConfig({
          sweep: { ...sweep, space: { batchSize: { ...sweep.space.batchSize, step } } },
        }),
      (e: AnnealError) =>
        e.where === "sweep.space.batchSize.step" && !/NaN|values end at/.test(e.message),
      `step ${step}`,
    );
  }
});

Deno.test("a stored int range past its last step draws only values on the steps", () => {
  // (as an older anneal stored it, unrefused: its samplers drew 100 in 1 draw of 27)
  const stored = { type: "int" as const, low: 16, high: 100, step: 16, log: false };
  const seen = new Set<ParamValue>();
  for (let i = 0; i < 1000; i++) seen.add(fromUnit(stored, (i + 0.5) / 1000));
  assert.deepEqual([...seen], [16, 32, 48, 64, 80, 96]);
  assert.equal(fromInternal(stored, 1e9), 96);
});
