import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import { AnnealError } from "../../errors.ts";
import { Rng } from "../../data/rng.ts";
import { canonicalJson } from "../../zod_paths.ts";
import { drawnParams, drawOrder } from "../conditions.ts";
import { type Params, parseSpace, type SearchSpace } from "../space.ts";
import {
  gridCount,
  gridSampler,
  gridSize,
  gridValues,
  MAX_GRID_STATES,
  untriedCount,
  untriedPoints,
} from "./grid.ts";
import { tenByEightPaths } from "../testing/huge_grid.ts";

/**
 * The grid's points by brute force: every combination of every path's values (undrawn paths too),
 * as nested loops in the order a trial draws the paths, each kept as the paths it draws the first
 * time it comes: the grid's points, in its order.
 */
function bruteForce(space: SearchSpace): Params[] {
  const order = drawOrder(space);
  const lists = order.map((path) => {
    const values = gridValues(path, space[path]);
    return Array.from({ length: values.count }, (_, k) => values.at(k));
  });
  const seen = new Set<string>();
  const points: Params[] = [];
  const visit = (i: number, values: Params) => {
    if (i === order.length) {
      const point = drawnParams(space, values);
      const key = canonicalJson(point);
      if (!seen.has(key)) points.push(point);
      seen.add(key);
      return;
    }
    for (const value of lists[i]) visit(i + 1, { ...values, [order[i]]: value });
  };
  visit(0, {});
  return points;
}

/** A random space of up to six paths, some drawn under conditions on others, in a random order. */
const spaces = fc.record({
  paths: fc.array(
    fc.record({
      kind: fc.constantFrom("grid", "choice", "int"),
      size: fc.integer({ min: 1, max: 3 }),
      when: fc.array(
        fc.array(
          fc.record({
            parent: fc.nat(),
            value: fc.nat(),
            form: fc.constantFrom("value", "list", "not"),
          }),
          { minLength: 1, maxLength: 2 },
        ),
        { maxLength: 2 },
      ),
    }),
    { minLength: 1, maxLength: 6 },
  ),
  shuffle: fc.array(fc.nat(), { minLength: 6, maxLength: 6 }),
}).map(({ paths, shuffle }) => {
  const names = paths.map((_, i) => `model.p${i}`);
  const valuesOf = (i: number, size: number) =>
    Array.from({ length: size }, (_, k) => (i % 2 === 0 ? k * 10 : `v${k}`));
  const entries = paths.map(({ kind, size, when }, i) => {
    // conditions name earlier choice or grid paths only (no cycles), one of their values
    const parents = paths.slice(0, i).flatMap((p, j) => (p.kind === "int" ? [] : [j]));
    const alternatives = parents.length === 0
      ? []
      : when.map((alternative) =>
        Object.fromEntries(alternative.map(({ parent, value, form }) => {
          const j = parents[parent % parents.length];
          const values = valuesOf(j, paths[j].size);
          const one = values[value % values.length];
          return [
            names[j],
            form === "value"
              ? one
              : form === "list"
              ? values.slice(0, 1 + value % values.length)
              : { not: [one] },
          ];
        }))
      );
    const d = kind === "int"
      ? { type: "int", low: 1, high: 1 + 2 * (size - 1), step: 2 }
      : { type: kind, values: valuesOf(i, size) };
    return [names[i], alternatives.length === 0 ? d : { ...d, when: alternatives }] as const;
  });
  // the space in another order than the conditions': a path may come before those it names
  const order = entries.map((entry, i) => ({ entry, at: shuffle[i] ?? i }))
    .sort((a, b) => a.at - b.at).map(({ entry }) => entry);
  try {
    return parseSpace(Object.fromEntries(order));
  } catch (error) {
    if (error instanceof AnnealError) return undefined; // (a condition no trial meets, ...)
    throw error;
  }
});

/** `params` as storage gives them back: a new object each time, its keys in another order. */
function fresh(params: Params): Params {
  return Object.fromEntries(Object.entries(structuredClone(params)).reverse());
}

Deno.test("the grid's count, its untried count and the points it takes are the brute force's, on random conditional spaces", () => {
  let conditional = 0;
  fc.assert(
    fc.property(spaces, fc.array(fc.nat(), { maxLength: 8 }), (space, picks) => {
      fc.pre(space !== undefined);
      if (Object.values(space!).some((d) => d.when !== undefined)) conditional++;
      const points = bruteForce(space!);
      assert.equal(gridCount(space!), BigInt(points.length));
      assert.equal(gridSize(space!), points.length);
      // trials of the grid's points, one off it, and one short of a path it draws
      const tried: Params[] = picks.map((k) => points[k % points.length]);
      tried.push({ ...points[0], "model.p0": "off" }, {});
      const held = new Set(tried.map((params) => canonicalJson(drawnParams(space!, params))));
      const left = points.filter((point) => !held.has(canonicalJson(point)));
      assert.equal(untriedCount(space!, tried), BigInt(left.length));
      assert.equal(gridSampler().untried!(space!, tried), left.length);
      const taken: Params[] = [];
      for (let i = 0; i < left.length; i++) {
        taken.push(gridSampler().sample(space!, [], new Rng(0), { tried: [...tried, ...taken] }));
      }
      assert.deepEqual(taken.map((p) => canonicalJson(p)), left.map((p) => canonicalJson(p)));
      // one sampler through a study, as a worker's is: it goes on where it stopped, and takes
      // the points another worker's trials hold as tried (here every third trial, the last point
      // left: ahead of this worker's walk)
      const worker = gridSampler();
      const study = [...tried];
      const own: Params[] = [];
      const studyHeld = () =>
        new Set(study.map((params) => canonicalJson(drawnParams(space!, params))));
      for (let i = 0; worker.untried!(space!, study.map(fresh)) > 0; i++) {
        if (i % 3 === 2) {
          const done = studyHeld();
          study.push(fresh(left.findLast((point) => !done.has(canonicalJson(point)))!));
          continue;
        }
        const point = worker.sample(space!, [], new Rng(0), { tried: study.map(fresh) });
        own.push(point);
        study.push(point);
      }
      // every point once: those tried before, and those left
      assert.deepEqual(
        [...studyHeld()].sort(),
        [...new Set([...held, ...left.map((p) => canonicalJson(p))])].sort(),
      );
      assert.equal(study.length - tried.length, left.length);
      const order = left.map((p) => canonicalJson(p));
      const places = own.map((p) => order.indexOf(canonicalJson(p)));
      assert.deepEqual(places, [...places].sort((a, b) => a - b));
      // the same sampler on a study of fewer trials (another of the same space): it starts again
      if (left.length > 0) {
        assert.equal(
          canonicalJson(worker.sample(space!, [], new Rng(0), { tried })),
          canonicalJson(left[0]),
        );
      }
    }),
    { numRuns: 300, seed: 27 },
  );
  assert.ok(conditional > 100, `${conditional} conditional spaces`);
});

/** Eight paths of ten values each: 10^8 points. */
function tenByEight(more: Record<string, unknown> = {}): SearchSpace {
  return parseSpace({ ...tenByEightPaths(), ...more });
}

Deno.test("a grid of 10^8 points or more is counted and sampled without listing its points", () => {
  const space = tenByEight();
  const started = performance.now();
  assert.equal(gridCount(space), 10n ** 8n);
  const sampler = gridSampler();
  assert.equal(sampler.untried!(space, []), 1e8);
  const tried: Params[] = [];
  for (let i = 0; i < 3; i++) tried.push(sampler.sample(space, [], new Rng(0), { tried }));
  // the last path varies fastest
  assert.deepEqual(tried.map((p) => p["data.noise"]), [0.1, 0.2, 0.30000000000000004]);
  assert.ok(tried.every((p) => p.seed === 1 && p["optimizer.lr"] === 0.001));
  assert.equal(sampler.untried!(space, tried), 1e8 - 3);
  assert.equal(untriedCount(space, [...tried, tried[0]]), 10n ** 8n - 3n);

  // 10^20 points, past a number's exact integers: counted exactly as a bigint
  const twenty = Object.fromEntries(
    Array.from(
      { length: 20 },
      (_, i) => [`model.p${i}`, { type: "grid", values: [...Array(10).keys()] }],
    ),
  );
  assert.equal(gridCount(parseSpace(twenty)), 10n ** 20n);
  assert.equal(untriedCount(parseSpace(twenty), [tried[0]]), 10n ** 20n);

  // an int range is not listed either: 62,500,000 batch sizes x 10^8
  const wide = tenByEight({ batchSize: { type: "int", low: 16, high: 1e9, step: 16 } });
  assert.equal(gridCount(wide), 625n * 10n ** 13n);
  const first = sampler.sample(wide, [], new Rng(0), { tried: [] });
  assert.equal(first.batchSize, 16);
  // (the space's last path, it varies fastest)
  const second = sampler.sample(wide, [], new Rng(0), { tried: [first] });
  assert.deepEqual({ ...second, batchSize: 16 }, first);
  assert.equal(second.batchSize, 32);
  assert.ok(performance.now() - started < 5_000, `${performance.now() - started} ms`);
});

Deno.test("a conditional grid of 10^8 points and more is counted by its conditions, and sampled in order", () => {
  // sgd draws a momentum, and a nesterov flag beside a momentum other than 0: 10 + 9 points;
  // adam and rmsprop one each; so 21 points for each of the 10^7 others
  const space = tenByEight({
    "optimizer.name": { type: "grid", values: ["sgd", "adam", "rmsprop"] },
    "optimizer.momentum": {
      type: "grid",
      values: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
      when: { "optimizer.name": "sgd" },
    },
    "optimizer.nesterov": {
      type: "grid",
      values: [false, true],
      when: { "optimizer.momentum": { not: [0] } },
    },
  });
  assert.equal(gridCount(space), 21n * 10n ** 8n);
  const sampler = gridSampler();
  const tried: Params[] = [];
  for (let i = 0; i < 13; i++) tried.push(sampler.sample(space, [], new Rng(0), { tried }));
  const tail = (p: Params) =>
    [p["optimizer.name"], p["optimizer.momentum"], p["optimizer.nesterov"]].join("/");
  // the three paths of the conditions come last in the space, so they vary fastest
  assert.deepEqual(tried.map(tail), [
    "sgd/0/",
    "sgd/0.1/false",
    "sgd/0.1/true",
    "sgd/0.2/false",
    "sgd/0.2/true",
    ...["0.3", "0.4", "0.5", "0.6"].flatMap((m) => [`sgd/${m}/false`, `sgd/${m}/true`]),
  ]);
  assert.ok(tried.every((p) => p.seed === 1 && p["data.noise"] === 0.1));
  assert.equal(untriedCount(space, tried), 21n * 10n ** 8n - 13n);

  // conditions tying many paths together, each way they leave the rest one state: 2^18 x 2 points
  const chained: Record<string, unknown> = {};
  for (let i = 0; i < 18; i++) {
    chained[`model.q${i}`] = {
      type: "choice",
      values: [1, 2],
      ...(i > 0 && { when: { [`model.q${i - 1}`]: [1, 2] } }),
    };
  }
  chained["model.r"] = {
    type: "choice",
    values: [1, 2, 3],
    when: Array.from({ length: 18 }, (_, i) => ({ [`model.q${i}`]: 1 })),
  };
  // r is drawn where some q is 1: every way but the one of all 2s, with 3 values
  assert.equal(gridCount(parseSpace(chained)), (2n ** 18n - 1n) * 3n + 1n);
});

Deno.test("a study's trials on a grid whose count takes long are sampled without counting it again, nor walking it from its start", () => {
  // r is drawn where some q_i is 1 beside its z_i: many states of its condition to count
  const input: Record<string, unknown> = {};
  for (let i = 0; i < 12; i++) input[`model.q${i}`] = { type: "choice", values: [1, 2] };
  for (let i = 0; i < 12; i++) input[`model.z${i}`] = { type: "choice", values: [1, 2] };
  input["model.r"] = {
    type: "choice",
    values: [1, 2],
    when: Array.from({ length: 12 }, (_, i) => ({ [`model.q${i}`]: 1, [`model.z${i}`]: 1 })),
  };
  const space = parseSpace(input);
  let started = performance.now();
  const count = gridCount(space);
  const once = performance.now() - started;
  // as runStudy asks before each trial, on every worker's trials read again from the storage
  const sampler = gridSampler();
  const tried: Params[] = [];
  started = performance.now();
  for (let i = 0; i < 40; i++) {
    assert.equal(BigInt(sampler.untried!(space, tried.map(fresh))), count - BigInt(i));
    tried.push(sampler.sample(space, [], new Rng(0), { tried: tried.map(fresh) }));
  }
  const trials = performance.now() - started;
  // (each count again would take 40 times the first one)
  assert.ok(trials < 10 * once, `40 trials took ${trials} ms, one count ${once} ms`);
  assert.deepEqual(tried[0], { ...Object.fromEntries(Object.keys(input).map((p) => [p, 1])) });
  assert.deepEqual(
    tried.map((p) => canonicalJson(p)),
    untriedPoints(space, []).take(40).map((p) => canonicalJson(p)).toArray(),
  );
});

Deno.test("a grid whose conditions leave too many states to count is refused, saying so", () => {
  // r is drawn where some q_i is 1 beside its z_i: which q_i are 1 is what the z's are asked
  const space: Record<string, unknown> = {};
  for (let i = 0; i < 18; i++) space[`model.q${i}`] = { type: "choice", values: [1, 2] };
  for (let i = 0; i < 18; i++) space[`model.z${i}`] = { type: "choice", values: [1, 2] };
  space["model.r"] = {
    type: "choice",
    values: [1, 2],
    when: Array.from({ length: 18 }, (_, i) => ({ [`model.q${i}`]: 1, [`model.z${i}`]: 1 })),
  };
  const started = performance.now();
  assert.throws(
    () => gridCount(parseSpace(space)),
    (error: AnnealError) => {
      assert.equal(error.code, "config");
      assert.match(
        error.message,
        new RegExp(
          `Cannot grid-search sweep\\.space: the conditions of its paths model\\.q0, .*model\\.r ` +
            `leave them too many ways of being drawn together to count the grid's points \\(more ` +
            `than ${MAX_GRID_STATES} states of their conditions\\)`,
        ),
      );
      assert.match(error.hint ?? "", /random, quasiRandom or tpe sampler/);
      return true;
    },
  );
  assert.ok(performance.now() - started < 20_000);
  // the same paths in two groups of 9 are counted
  const half = Object.fromEntries(
    Object.entries(space).filter(([path]) => !/[qz](9|1\d)$/.test(path)),
  );
  (half["model.r"] as { when: unknown[] }).when = Array.from(
    { length: 9 },
    (_, i) => ({ [`model.q${i}`]: 1, [`model.z${i}`]: 1 }),
  );
  // r is drawn unless every (q_i, z_i) misses (3 of 4 ways each): 4^9 - 3^9 ways x 2, + 3^9
  assert.equal(gridCount(parseSpace(half)), (4n ** 9n - 3n ** 9n) * 2n + 3n ** 9n);
});

Deno.test("a value a grid lists twice is one value: the grid counts the points its trials run", async () => {
  const space = parseSpace({
    "optimizer.name": { type: "grid", values: ["sgd", "sgd", "adam"] },
    "optimizer.momentum": {
      type: "grid",
      values: [0.9, 0.5, 0.9],
      when: { "optimizer.name": "sgd" },
    },
    batchSize: { type: "choice", values: [{ a: 1, b: 2 }, { b: 2, a: 1 }] },
  });
  // (sgd at 0.9 or 0.5, adam) beside one batchSize section
  assert.equal(gridCount(space), 3n);
  assert.equal(untriedCount(space, []), 3n);
  const sampler = gridSampler();
  const tried: Params[] = [];
  for (let i = 0; i < 3; i++) {
    tried.push(sampler.sample(space, [], new Rng(0), { tried: tried.map(fresh) }));
    assert.equal(untriedCount(space, tried), BigInt(2 - i));
  }
  assert.deepEqual(tried.map((p) => [p["optimizer.name"], p["optimizer.momentum"]]), [
    ["sgd", 0.9],
    ["sgd", 0.5],
    ["adam", undefined],
  ]);
  // the study's notice says as many trials as it runs
  const notices: string[] = [];
  const { optimize } = await import("../optimize.ts");
  const result = await optimize({
    space: { a: { type: "grid", values: [1, 1, 2] } },
    objective: (p) => p.a as number,
    trials: 10,
    sampler: "grid",
    pruner: "none",
    onNotice: (message) => notices.push(message),
  });
  assert.equal(result.trials.length, 2);
  assert.deepEqual(notices, ["notice: the grid sampler has 2 points; running 2 trials, not 10"]);
});

Deno.test("a grid of one point is noticed in the singular", async () => {
  // ("the grid sampler has 1 points; running 1 trials")
  const notices: string[] = [];
  const { optimize } = await import("../optimize.ts");
  await optimize({
    space: { a: { type: "grid", values: [1] } },
    objective: (p) => p.a as number,
    trials: 3,
    sampler: "grid",
    pruner: "none",
    onNotice: (message) => notices.push(message),
  });
  assert.deepEqual(notices, ["notice: the grid sampler has 1 point; running 1 trial, not 3"]);
});
