import assert from "node:assert/strict";
import { AnnealError } from "../errors.ts";
import { loadConfig } from "../mod.ts";
import { parseSpace } from "./space.ts";
import { drawnParams, drawOrder, isWholePoint } from "./conditions.ts";

const names = { type: "choice", values: ["sgd", "adam", "rmsprop"] };
const momentum = { type: "uniform", low: 0, high: 0.99 };

/** The refusal parseSpace throws for `space`. */
function refusal(space: unknown): AnnealError {
  try {
    parseSpace(space);
  } catch (error) {
    assert.ok(error instanceof AnnealError, String(error));
    return error;
  }
  assert.fail(`accepted ${JSON.stringify(space)}`);
}

Deno.test("a condition is one value or a list of values of a choice or grid path, several paths all holding", async () => {
  const space = parseSpace({
    "optimizer.name": names,
    "optimizer.momentum": { ...momentum, when: { "optimizer.name": ["sgd", "rmsprop"] } },
    batchSize: { type: "grid", values: [16, 32] },
    "optimizer.nesterov": {
      type: "choice",
      values: [true, false],
      when: { "optimizer.name": "sgd", batchSize: 32 },
    },
  });
  const drawn = (values: Record<string, unknown>) =>
    Object.keys(drawnParams(space, values as never));
  const all = { "optimizer.momentum": 0.5, "optimizer.nesterov": true };
  assert.deepEqual(drawn({ ...all, "optimizer.name": "sgd", batchSize: 32 }), [
    "optimizer.name",
    "optimizer.momentum",
    "batchSize",
    "optimizer.nesterov",
  ]);
  assert.deepEqual(drawn({ ...all, "optimizer.name": "rmsprop", batchSize: 32 }), [
    "optimizer.name",
    "optimizer.momentum",
    "batchSize",
  ]);
  assert.deepEqual(drawn({ ...all, "optimizer.name": "adam", batchSize: 16 }), [
    "optimizer.name",
    "batchSize",
  ]);
  // a list value of a choice is matched inside a list
  const hidden = parseSpace({
    "model.hidden": { type: "choice", values: [[64], [128, 64]] },
    "model.dropout": { ...momentum, when: { "model.hidden": [[128, 64]] } },
  });
  assert.ok(
    "model.dropout" in drawnParams(hidden, { "model.hidden": [128, 64], "model.dropout": 0 }),
  );
  assert.ok(
    !("model.dropout" in drawnParams(hidden, { "model.hidden": [64], "model.dropout": 0 })),
  );
  // a config takes a condition, and --set reaches one, the path after `when` read as one key
  const config = await loadConfig(undefined, [
    `sweep={"space":${
      JSON.stringify({ "optimizer.name": names, "optimizer.momentum": momentum })
    }}`,
    'sweep.space.optimizer.momentum.when.optimizer.name=["sgd","rmsprop"]',
  ]);
  assert.deepEqual(config.sweep!.space["optimizer.momentum"].when, {
    "optimizer.name": ["sgd", "rmsprop"],
  });
});

Deno.test("a path is drawn after the paths its condition names; a trial's params are a whole point when they hold every path they draw", () => {
  const space = parseSpace({
    "optimizer.momentum": { ...momentum, when: { "optimizer.name": "sgd" } },
    "optimizer.lr": { type: "logUniform", low: 1e-4, high: 0.1 },
    "optimizer.name": names,
  });
  assert.deepEqual(drawOrder(space), ["optimizer.lr", "optimizer.name", "optimizer.momentum"]);
  const lr = 0.01;
  assert.ok(isWholePoint(space, { "optimizer.lr": lr, "optimizer.name": "adam" }));
  assert.ok(
    isWholePoint(space, { "optimizer.lr": lr, "optimizer.name": "sgd", "optimizer.momentum": 0 }),
  );
  assert.ok(!isWholePoint(space, { "optimizer.lr": lr, "optimizer.name": "sgd" }));
});

Deno.test("a condition on a path the space has not, on a range, on a value its choice has not, in a cycle, or that no trial meets is refused, naming the entry and the fix", () => {
  const misspelt = refusal({
    "optimizer.name": names,
    "optimizer.momentum": { ...momentum, when: { "optimizer.nme": "sgd" } },
  });
  assert.match(
    misspelt.message,
    /Cannot read sweep\.space\["optimizer\.momentum"\]'s condition: it names 'optimizer\.nme', which the space has not/,
  );
  assert.equal(misspelt.where, 'sweep.space["optimizer.momentum"].when["optimizer.nme"]');
  assert.match(misspelt.hint!, /did you mean 'optimizer\.name'\?/);

  const range = refusal({
    "optimizer.lr": { type: "logUniform", low: 1e-4, high: 0.1 },
    "optimizer.momentum": { ...momentum, when: { "optimizer.lr": 0.01 } },
  });
  assert.match(
    range.message,
    /it names 'optimizer\.lr', a logUniform range: a condition may name only a choice or grid path/,
  );
  assert.match(range.hint!, /make 'optimizer\.lr' a choice of the values to try/);

  const stranger = refusal({
    "optimizer.name": names,
    "optimizer.momentum": { ...momentum, when: { "optimizer.name": ["sgd", "adamw"] } },
  });
  assert.match(
    stranger.message,
    /"adamw" is not one of the values of 'optimizer\.name' \("sgd", "adam", "rmsprop"\), so no trial draws it/,
  );
  assert.match(stranger.hint!, /add "adamw" to them/);
  // a list is the values allowed: a list value goes inside one
  const list = refusal({
    "model.hidden": { type: "choice", values: [[64], [128, 64]] },
    "model.dropout": { ...momentum, when: { "model.hidden": [64] } },
  });
  assert.match(list.message, /64 is not one of the values of 'model\.hidden'/);
  assert.match(list.hint!, /a list value goes inside one: \[\[64\]\]/);
  assert.match(
    refusal({
      "optimizer.name": names,
      "optimizer.momentum": { ...momentum, when: { "optimizer.name": [] } },
    }).message,
    /it allows no value of 'optimizer\.name' \(an empty list\)/,
  );

  const cycle = refusal({
    a: { type: "choice", values: [1, 2], when: { b: "x" } },
    b: { type: "choice", values: ["x", "y"], when: { a: 1 } },
  });
  assert.match(cycle.message, /the conditions form a cycle \(a's names b, b's names a\)/);
  assert.match(cycle.hint!, /drop the condition on one of them/);
  assert.match(
    refusal({ a: { type: "choice", values: [1, 2], when: { a: 1 } } }).message,
    /it names its own path/,
  );

  // b is drawn only with c = 1, and d asks for b = "x" beside c = 2
  const never = refusal({
    b: { type: "choice", values: ["x", "y"], when: { c: 1 } },
    c: { type: "choice", values: [2, 1] },
    d: { ...momentum, when: { b: "x", c: 2 } },
  });
  assert.match(
    never.message,
    /sweep\.space\["d"\]'s condition: no trial can meet it \(b is "x" and c is 2\)/,
  );
  assert.equal(never.where, "sweep.space.d.when");
});
