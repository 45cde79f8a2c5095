import assert from "node:assert/strict";
import { AnnealError } from "../errors.ts";
import { loadConfig } from "../mod.ts";
import { parseSpace } from "./space.ts";
import { conditionOf, conditionText, drawnParams, drawOrder, isWholePoint } from "./conditions.ts";
import { gridCount } from "./samplers/grid.ts";

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

/**
 * `model.dropout` under `when`, in a space whose `model.hidden` is a choice of two list values:
 * drawn beside `[128, 64]` only (a list value of a choice matched inside a list).
 */
function drawnBeside128Only(when: unknown): void {
  const hidden = parseSpace({
    "model.hidden": { type: "choice", values: [[64], [128, 64]] },
    "model.dropout": { ...momentum, when },
  });
  assert.ok(
    "model.dropout" in drawnParams(hidden, { "model.hidden": [128, 64], "model.dropout": 0 }),
  );
  assert.ok(
    !("model.dropout" in drawnParams(hidden, { "model.hidden": [64], "model.dropout": 0 })),
  );
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
  drawnBeside128Only({ "model.hidden": [[128, 64]] });
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

Deno.test("a condition may exclude values ({ not: [...] }), and a list of conditions draws a path where any one holds", async () => {
  const space = parseSpace({
    "optimizer.name": names,
    "optimizer.momentum": { ...momentum, when: { "optimizer.name": { not: "adam" } } },
    batchSize: { type: "grid", values: [16, 32, 64] },
    "optimizer.weightDecay": {
      ...momentum,
      when: [{ "optimizer.name": "sgd", batchSize: { not: [16, 32] } }, { batchSize: 16 }],
    },
  });
  const drawn = (values: Record<string, unknown>) =>
    Object.keys(drawnParams(space, values as never));
  const all = { "optimizer.momentum": 0.5, "optimizer.weightDecay": 0.1 };
  // momentum for every optimizer but adam; weight decay for sgd at 64, or for anyone at 16
  assert.deepEqual(drawn({ ...all, "optimizer.name": "rmsprop", batchSize: 32 }), [
    "optimizer.name",
    "optimizer.momentum",
    "batchSize",
  ]);
  assert.deepEqual(drawn({ ...all, "optimizer.name": "sgd", batchSize: 64 }), [
    "optimizer.name",
    "optimizer.momentum",
    "batchSize",
    "optimizer.weightDecay",
  ]);
  assert.deepEqual(drawn({ ...all, "optimizer.name": "adam", batchSize: 16 }), [
    "optimizer.name",
    "batchSize",
    "optimizer.weightDecay",
  ]);
  assert.deepEqual(drawn({ ...all, "optimizer.name": "adam", batchSize: 64 }), [
    "optimizer.name",
    "batchSize",
  ]);
  assert.equal(
    conditionText(space["optimizer.weightDecay"].when!),
    '(optimizer.name is "sgd" and batchSize not in [16,32]) or batchSize is 16',
  );
  assert.equal(conditionText(space["optimizer.momentum"].when!), 'optimizer.name is not "adam"');
  // a path a trial does not draw meets no condition, an exclusion included
  const chained = parseSpace({
    "optimizer.name": names,
    "optimizer.nesterov": {
      type: "choice",
      values: [true, false],
      when: { "optimizer.name": "sgd" },
    },
    "optimizer.momentum": { ...momentum, when: { "optimizer.nesterov": { not: true } } },
  });
  assert.deepEqual(
    Object.keys(drawnParams(chained, { "optimizer.name": "adam", "optimizer.momentum": 0.5 })),
    ["optimizer.name"],
  );
  assert.ok(
    "optimizer.momentum" in drawnParams(chained, {
      "optimizer.name": "sgd",
      "optimizer.nesterov": false,
      "optimizer.momentum": 0.5,
    }),
  );
  // an excluded list value is written inside a list, as an allowed one
  drawnBeside128Only({ "model.hidden": { not: [[64]] } });
  // --set reaches an exclusion and a list of conditions, as a config writes them
  const config = await loadConfig(undefined, [
    `sweep={"space":${
      JSON.stringify({ "optimizer.name": names, "optimizer.momentum": momentum })
    }}`,
    'sweep.space.optimizer.momentum.when.optimizer.name={"not":["adam"]}',
  ]);
  assert.deepEqual(config.sweep!.space["optimizer.momentum"].when, {
    "optimizer.name": { not: ["adam"] },
  });
  const listed = await loadConfig(undefined, [
    `sweep={"space":${
      JSON.stringify({ "optimizer.name": names, "optimizer.momentum": momentum })
    }}`,
    'sweep.space.optimizer.momentum.when=[{"optimizer.name":"sgd"},{"optimizer.name":"rmsprop"}]',
  ]);
  assert.deepEqual(listed.sweep!.space["optimizer.momentum"].when, [
    { "optimizer.name": "sgd" },
    { "optimizer.name": "rmsprop" },
  ]);
});

Deno.test("an exclusion or a list of conditions is refused as a condition is, naming the entry and the fix: values its choice has not, none left, an empty list, a cycle, one of the list no trial meets", () => {
  const stranger = refusal({
    "optimizer.name": names,
    "optimizer.momentum": { ...momentum, when: { "optimizer.name": { not: ["adamw"] } } },
  });
  assert.match(stranger.message, /"adamw" is not one of the values of 'optimizer\.name'/);
  assert.equal(stranger.where, 'sweep.space["optimizer.momentum"].when["optimizer.name"]');
  // { "not": ... } beside another field is a value, not an exclusion
  const mixed = refusal({
    "optimizer.name": names,
    "optimizer.momentum": { ...momentum, when: { "optimizer.name": { not: "adam", or: "sgd" } } },
  });
  assert.match(mixed.message, /\{"not":"adam","or":"sgd"\} is not one of the values/);
  assert.match(mixed.hint!, /to exclude values, write \{ "not": \[\.\.\.\] \} with no other field/);
  assert.match(
    refusal({
      "optimizer.name": names,
      "optimizer.momentum": { ...momentum, when: { "optimizer.name": { not: [] } } },
    }).message,
    /it excludes no value of 'optimizer\.name' \(an empty list\), so it says nothing/,
  );
  const none = refusal({
    "optimizer.name": names,
    "optimizer.momentum": {
      ...momentum,
      when: { "optimizer.name": { not: ["sgd", "adam", "rmsprop"] } },
    },
  });
  assert.match(
    none.message,
    /it excludes every value of 'optimizer\.name' \("sgd", "adam", "rmsprop"\), so no trial would draw it/,
  );

  // a list of conditions: each is read as one, and named by its place in the list
  const misspelt = refusal({
    "optimizer.name": names,
    batchSize: { type: "grid", values: [16, 32] },
    "optimizer.momentum": { ...momentum, when: [{ batchSize: 16 }, { "optimizer.nme": "sgd" }] },
  });
  assert.match(misspelt.message, /it names 'optimizer\.nme', which the space has not/);
  assert.equal(misspelt.where, 'sweep.space["optimizer.momentum"].when[1]["optimizer.nme"]');
  assert.match(misspelt.hint!, /did you mean 'optimizer\.name'\?/);
  assert.match(
    refusal({ "optimizer.name": names, "optimizer.momentum": { ...momentum, when: [] } }).message,
    /it is an empty list of conditions, so no trial would draw it/,
  );
  const empty = refusal({
    "optimizer.name": names,
    "optimizer.momentum": { ...momentum, when: [{ "optimizer.name": "sgd" }, {}] },
  });
  assert.match(empty.message, /its condition \[1\] names no path \(an empty condition\)/);
  assert.equal(empty.where, 'sweep.space["optimizer.momentum"].when[1]');
  // a cycle through the second condition of a list
  const cycle = refusal({
    a: { type: "choice", values: [1, 2], when: [{ c: 1 }, { b: "x" }] },
    b: { type: "choice", values: ["x", "y"], when: { a: 1 } },
    c: { type: "choice", values: [1, 2] },
  });
  assert.match(cycle.message, /the conditions form a cycle \(a's names b, b's names a\)/);
  assert.equal(cycle.where, "sweep.space.a.when[1].b");
  // b is drawn only with c = 1: the first condition of d is met, the second never
  const never = refusal({
    b: { type: "choice", values: ["x", "y"], when: { c: 1 } },
    c: { type: "choice", values: [2, 1] },
    d: { ...momentum, when: [{ b: "y" }, { b: "x", c: { not: 1 } }] },
  });
  assert.match(
    never.message,
    /sweep\.space\["d"\]'s condition: no trial can meet its condition \[1\] \(b is "x" and c is not 1\)/,
  );
  assert.equal(never.where, "sweep.space.d.when[1]");
  assert.match(never.hint!, /or drop that condition from the list$/);
  // a path comes after every path any of its conditions names
  const order = parseSpace({
    d: { ...momentum, when: [{ b: "y" }, { c: 2 }] },
    c: { type: "choice", values: [2, 1] },
    b: { type: "choice", values: ["x", "y"], when: { c: 1 } },
  });
  assert.deepEqual(drawOrder(order), ["c", "b", "d"]);
  assert.ok(isWholePoint(order, { c: 2, d: 0.5 }));
  assert.ok(!isWholePoint(order, { c: 1, b: "y" }));
  assert.ok(isWholePoint(order, { c: 1, b: "x" }));
});

Deno.test('a condition that names no path ("when": {}) holds in every trial, as no "when" does; an empty list of them ("when": []) is refused, naming the path and the fix', () => {
  const always = parseSpace({
    "optimizer.name": names,
    "optimizer.momentum": { ...momentum, when: {} },
  });
  for (const name of names.values) {
    const params = { "optimizer.name": name, "optimizer.momentum": 0.5 };
    assert.deepEqual(drawnParams(always, params), params);
    assert.ok(!isWholePoint(always, { "optimizer.name": name }));
  }
  assert.equal(conditionOf(always["optimizer.momentum"].when), undefined);
  assert.deepEqual(drawOrder(always), ["optimizer.name", "optimizer.momentum"]);
  // a grid of it is the grid without the condition
  const grid = { type: "grid", values: [0, 0.9] };
  const free = { "optimizer.name": names, "optimizer.momentum": grid };
  assert.equal(
    gridCount(parseSpace({ ...free, "optimizer.momentum": { ...grid, when: {} } })),
    gridCount(parseSpace(free)),
  );

  const never = refusal({
    "optimizer.name": names,
    "optimizer.momentum": { ...momentum, when: [] },
  });
  assert.match(
    never.message,
    /Cannot read sweep\.space\["optimizer\.momentum"\]'s condition: it is an empty list of conditions, so no trial would draw it/,
  );
  assert.equal(never.where, 'sweep.space["optimizer.momentum"].when');
  assert.match(
    never.hint!,
    /leave "when" out \(or write "when": \{\}\) to draw 'optimizer\.momentum' in every trial/,
  );
});

Deno.test("a space of many conditional paths is read without going through every way of drawing them; one whose check would take too long is refused, saying so", () => {
  // 40 choices of 4, each with a path drawn with one of its values: 4^40 ways of drawing them
  const wide: Record<string, unknown> = {};
  for (let i = 0; i < 40; i++) {
    wide[`p${i}`] = { type: "choice", values: [1, 2, 3, 4] };
    wide[`x${i}`] = { ...momentum, when: { [`p${i}`]: { not: [2, 3] } } };
  }
  // a path drawn where all of them drew 1, and another never drawn beside it
  wide.all = {
    type: "choice",
    values: [1, 2],
    when: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`p${i}`, 1])),
  };
  const started = performance.now();
  const space = parseSpace(wide);
  assert.equal(Object.keys(space).length, 81);
  wide.never = { ...momentum, when: { all: 2, p0: 4 } };
  assert.match(
    refusal(wide).message,
    /sweep\.space\["never"\]'s condition: no trial can meet it \(all is 2 and p0 is 4\)/,
  );
  // (the old check multiplied them out: 4^10 ways took 2 s, and each pair more 4 times that)
  assert.ok(performance.now() - started < 20_000, `${performance.now() - started} ms`);

  // 21 choices that a condition's paths leave open until the last: r is drawn where any of the
  // first 20 drew 1, s where the last drew 2, and x asks for s beside the last at 1. The search
  // goes through the first 20's 2^20 combinations before it sees that: more than its 1000000 steps
  const deep: Record<string, unknown> = {};
  for (let i = 0; i < 21; i++) deep[`q${i}`] = { type: "choice", values: [1, 2] };
  deep.r = {
    type: "choice",
    values: [1, 2],
    when: Array.from({ length: 20 }, (_, i) => ({ [`q${i}`]: 1 })),
  };
  deep.s = { type: "choice", values: [1, 2], when: { q20: 2 } };
  deep.x = { ...momentum, when: { r: 2, s: 1, q20: 1 } };
  const tooMany = refusal(deep);
  assert.match(
    tooMany.message,
    /sweep\.space\["x"\]'s condition: it \(r is 2 and s is 1 and q20 is 1\) depends on 23 paths \(r, s, q20, q0, q1, .*\), whose ways of being drawn are too many to check that a trial can meet it \(more than 1000000\)/,
  );
  assert.equal(tooMany.where, "sweep.space.x.when");
  assert.match(tooMany.hint!, /draw 'x' under a condition whose paths carry fewer conditions/);
});
