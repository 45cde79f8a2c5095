import assert from "node:assert/strict";
import { Rng } from "../../data/rng.ts";
import { AnnealError } from "../../errors.ts";
import { type Params, parseSpace } from "../space.ts";
import { gridSampler } from "./grid.ts";
import { quasiRandomSampler, scrambledHalton } from "./quasi_random.ts";
import { randomSampler } from "./random.ts";
import { categoricalPmf, defaultWeights, splitTrials, tpeSampler } from "./tpe.ts";
import type { FinishedTrial } from "./types.ts";

const space = parseSpace({
  "optimizer.lr": { type: "logUniform", low: 1e-5, high: 1 },
  batchSize: { type: "int", low: 16, high: 256, step: 16 },
  "scheduler.name": { type: "choice", values: ["cosine", "step", "constant"] },
});

Deno.test("grid enumerates the cartesian product in order and refuses points past its end", () => {
  const grid = parseSpace({
    a: { type: "grid", values: [1, 2] },
    b: { type: "grid", values: ["x", "y", "z"] },
  });
  const sampler = gridSampler();
  const tried: Params[] = [];
  for (let i = 0; i < 6; i++) tried.push(sampler.sample(grid, [], new Rng(0), { tried }));
  assert.deepEqual(tried.map((p) => `${p.a}${p.b}`), ["1x", "1y", "1z", "2x", "2y", "2z"]);
  assert.equal(sampler.untried!(grid, []), 6);
  assert.equal(sampler.untried!(grid, tried), 0);
  assert.throws(
    () => sampler.sample(grid, [], new Rng(0), { tried }),
    /every one of the grid.s 6 points/,
  );
  assert.throws(() => sampler.untried!(space, []), AnnealError);
});

Deno.test("grid takes the first point no trial has, whatever drew the trials, sections compared by their JSON", () => {
  const grid = parseSpace({
    scheduler: {
      type: "grid",
      values: [{ name: "cosine", tMax: 10 }, { name: "step", stepSize: 3 }],
    },
    batchSize: { type: "grid", values: [16, 32] },
  });
  const sampler = gridSampler();
  // trials of another sampler: two grid points (one section's keys in another order, as
  // PostgreSQL's jsonb gives them back) and a point off the grid, which leaves it whole
  const tried: Params[] = [
    { scheduler: { tMax: 10, name: "cosine" }, batchSize: 16 },
    { scheduler: { name: "step", stepSize: 3 }, batchSize: 16 },
    { scheduler: { name: "cosine", tMax: 10 }, batchSize: 64 },
    { scheduler: { name: "cosine", tMax: 10 }, batchSize: 16 },
  ];
  assert.equal(sampler.untried!(grid, tried), 2);
  const next = sampler.sample(grid, [], new Rng(0), { tried });
  assert.deepEqual(next, { scheduler: { name: "cosine", tMax: 10 }, batchSize: 32 });
  const last = sampler.sample(grid, [], new Rng(0), { tried: [...tried, next] });
  assert.deepEqual(last, { scheduler: { name: "step", stepSize: 3 }, batchSize: 32 });
  // without `tried`, the history's trials are the ones tried
  const history = tried.map((params, number) => ({
    number,
    state: "COMPLETE" as const,
    params,
    value: 0,
  }));
  assert.deepEqual(sampler.sample(grid, history, new Rng(0)), next);
});

Deno.test("random sampling is reproducible from its seed and stays in range", () => {
  const a = randomSampler().sample(space, [], new Rng(5));
  assert.deepEqual(randomSampler().sample(space, [], new Rng(5)), a);
  for (let seed = 0; seed < 200; seed++) {
    const p = randomSampler().sample(space, [], new Rng(seed));
    const lr = p["optimizer.lr"] as number, batch = p.batchSize as number;
    assert.ok(lr >= 1e-5 && lr <= 1 && batch % 16 === 0 && batch >= 16 && batch <= 256);
    assert.ok(["cosine", "step", "constant"].includes(p["scheduler.name"] as string));
  }
});

Deno.test("scrambled Halton puts one of the first 2^k points in each 1/2^k cell, per seed", () => {
  for (const seed of [0, 1, 2]) {
    const cells = new Set(
      Array.from({ length: 16 }, (_, i) => Math.floor(scrambledHalton(i, 0, seed) * 16)),
    );
    assert.equal(cells.size, 16);
  }
  assert.notEqual(scrambledHalton(3, 1, 0), scrambledHalton(3, 1, 1));
  const sampler = quasiRandomSampler({ seed: 1 });
  assert.deepEqual(
    sampler.sample(space, [], new Rng(1), { index: 4 }),
    sampler.sample(space, [], new Rng(2), { index: 4 }),
  );
});

Deno.test("quasi-random takes any sweep.seed, the largest whole numbers too, each its own scramble", () => {
  const largest = Number.MAX_SAFE_INTEGER;
  for (const seed of [2 ** 40, largest - 1, largest]) {
    const cells = new Set(
      Array.from({ length: 16 }, (_, i) => Math.floor(scrambledHalton(i, 0, seed) * 16)),
    );
    assert.equal(cells.size, 16, `seed ${seed}`);
  }
  assert.notEqual(scrambledHalton(3, 1, largest - 1), scrambledHalton(3, 1, largest));
  const sampler = quasiRandomSampler({ seed: largest });
  const params = sampler.sample(space, [], new Rng(0), { index: 7 });
  assert.deepEqual(sampler.sample(space, [], new Rng(5), { index: 7 }), params);
  // the sequences of smaller seeds are those studies stored so far drew
  assert.equal(scrambledHalton(5, 0, 3), 0.024726631823873024);
  assert.equal(scrambledHalton(11, 2, 1000), 0.5364907894766658);
});

Deno.test("quasi-random gives each of a space's paths a base of its own, past 25 too: no two dimensions follow each other", () => {
  // the first 64 points of two dimensions in the cells of an 8x8 grid: dimension 25 took base 2
  // again, dimension 0's with some bits flipped, and fell in 8 cells
  const cells = (a: number, b: number) =>
    new Set(
      Array.from({ length: 64 }, (_, i) =>
        `${Math.floor(scrambledHalton(i, a, 0) * 8)},${Math.floor(scrambledHalton(i, b, 0) * 8)}`),
    ).size;
  for (const [a, b] of [[0, 1], [0, 25], [1, 26], [24, 49], [0, 50]]) {
    assert.ok(cells(a, b) >= 32, `dimensions ${a} and ${b}: ${cells(a, b)} cells`);
  }
  // and within one high dimension, the first 16 points in 16 distinct values
  const high = new Set(Array.from({ length: 16 }, (_, i) => scrambledHalton(i, 60, 1)));
  assert.equal(high.size, 16);
  // the first 25 dimensions draw as before
  assert.equal(scrambledHalton(7, 24, 0), 0.5467304219605877);
});

Deno.test("TPE's defaults: weights ramp past 25 observations and gamma caps the good group", () => {
  assert.deepEqual(defaultWeights(3), [1, 1, 1]);
  const w = defaultWeights(30);
  assert.equal(w.length, 30);
  assert.ok(Math.abs(w[0] - 1 / 30) < 1e-12 && w[4] === 1 && w[5] === 1);
  const history: FinishedTrial[] = Array.from({ length: 40 }, (_, i) => ({
    number: i,
    state: i % 10 === 9 ? "PRUNED" : "COMPLETE",
    params: {},
    value: 40 - i,
  }));
  const { below, above } = splitTrials(
    history,
    (n) => Math.min(Math.ceil(0.1 * n), 25),
    "minimize",
  );
  // gamma(40) = 4; trial 39 is the best value but pruned, so the next four completed ones.
  assert.deepEqual(below.map((t) => t.number), [35, 36, 37, 38]);
  assert.ok(above.some((t) => t.state === "PRUNED"));
});

Deno.test("TPE's good group takes, where fewer than gamma(n) trials completed, the pruned ones that got furthest, as Optuna's", () => {
  const pruned = (number: number, values: number[]): FinishedTrial => ({
    number,
    state: "PRUNED",
    params: {},
    value: null,
    intermediate: new Map(values.map((value, step) => [step, value])),
  });
  const history: FinishedTrial[] = [
    { number: 0, state: "COMPLETE", params: {}, value: 5 },
    pruned(1, [1, 2]), // pruned after step 1
    pruned(2, [1, 2, 9]), // after step 2: 9
    pruned(3, [1, 2, 3]), // after step 2: 3
    pruned(4, [1, NaN, NaN]), // after step 2: NaN, the worst there
    pruned(5, []), // before any report: last
  ];
  const below = (n: number, direction: "minimize" | "maximize") =>
    splitTrials(history, () => n, direction).below.map((t) => t.number);
  assert.deepEqual(below(1, "minimize"), [0]);
  assert.deepEqual(below(2, "minimize"), [0, 3]);
  assert.deepEqual(below(2, "maximize"), [0, 2]);
  assert.deepEqual(below(4, "minimize"), [0, 2, 3, 4]);
  assert.deepEqual(below(5, "minimize"), [0, 1, 2, 3, 4]);
  assert.deepEqual(below(9, "minimize"), [0, 1, 2, 3, 4, 5]);
  // a study whose trials were all pruned (asha's, early on): TPE goes where they got furthest
  const x = parseSpace({ x: { type: "uniform", low: 0, high: 1 } });
  const trials: FinishedTrial[] = Array.from({ length: 12 }, (_, i) => {
    const far = i === 0 || i === 6; // 0.8 and about: pruned at step 3; the others (below 0.6) at 0
    const value = far ? 0.78 + i / 150 : i / 20;
    return {
      ...pruned(i, Array.from({ length: far ? 4 : 1 }, () => 1)),
      params: { x: value },
    };
  });
  const drawn = Array.from(
    { length: 60 },
    (_, seed) => tpeSampler().sample(x, trials, new Rng(seed)).x as number,
  );
  const near = drawn.filter((v) => Math.abs(v - 0.8) < 0.1).length;
  assert.ok(near > 40, `${near} of 60 near 0.8`);
});

Deno.test("TPE samples randomly during startup, then near the good trials", () => {
  const x = parseSpace({ x: { type: "uniform", low: -10, high: 10 } });
  const history: FinishedTrial[] = Array.from({ length: 40 }, (_, i) => {
    const value = -10 + (20 * i) / 39;
    return { number: i, state: "COMPLETE", params: { x: value }, value: (value - 3) ** 2 };
  });
  const tpe = tpeSampler();
  assert.deepEqual(
    tpe.sample(x, history.slice(0, 9), new Rng(4)),
    randomSampler().sample(x, [], new Rng(4)),
  );
  const draws = Array.from(
    { length: 30 },
    (_, s) => tpe.sample(x, history, new Rng(s)).x as number,
  );
  const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
  assert.ok(Math.abs(mean - 3) < 1.5, `mean of TPE proposals ${mean}, optimum 3`);
});

Deno.test("TPE prefers the categorical value of the good trials", () => {
  const c = parseSpace({ opt: { type: "choice", values: ["sgd", "adam", "lion"] } });
  const history: FinishedTrial[] = Array.from({ length: 30 }, (_, i) => {
    const opt = ["sgd", "adam", "lion"][i % 3];
    return {
      number: i,
      state: "COMPLETE",
      params: { opt },
      value: opt === "adam" ? i * 0.01 : 1 + i,
    };
  });
  const picks = Array.from(
    { length: 20 },
    (_, s) => tpeSampler().sample(c, history, new Rng(s)).opt,
  );
  assert.ok(picks.filter((p) => p === "adam").length >= 18, `picks: ${picks}`);
});

Deno.test("TPE's categorical estimator is Optuna's: each observation's kernel spreads priorWeight / (n + 1) over the values", () => {
  // expected: Optuna's _calculate_categorical_distributions with its default weights, in numpy
  const options = { priorWeight: 1, weights: defaultWeights };
  const cases: [number[], number, number[]][] = [
    [[0], 3, [0.4666666666666667, 0.26666666666666666, 0.26666666666666666]],
    [[2, 0, 2, 2, 1, 2, 0, 2, 2], 3, [0.2564102564102564, 0.17948717948717946, 0.5641025641025641]],
    // past 25 observations, the older ones weigh less (the ramp)
    [
      Array.from({ length: 30 }, (_, i) => i % 4),
      4,
      [0.2542607246980424, 0.2617492711370262, 0.2382507288629737, 0.24573927530195738],
    ],
    [[], 2, [0.5, 0.5]],
  ];
  for (const [observed, k, expected] of cases) {
    const pmf = categoricalPmf(observed, k, options);
    pmf.forEach((p, c) => assert.ok(Math.abs(p - expected[c]) < 1e-12, `${observed}: ${pmf}`));
  }
});

Deno.test("TPE learns whole-section choices, read back from storage with their keys in another order", () => {
  const cosine = { name: "cosine", tMax: 10 };
  const step = { name: "step", stepSize: 2, gamma: 0.5 };
  const c = parseSpace({ scheduler: { type: "choice", values: [cosine, step] } });
  // (PostgreSQL's jsonb gives an object's keys back in its own order)
  const reordered: Params[] = [
    { scheduler: { gamma: 0.5, stepSize: 2, name: "step" } },
    { scheduler: { tMax: 10, name: "cosine" } },
  ];
  const history: FinishedTrial[] = Array.from({ length: 30 }, (_, i) => ({
    number: i,
    state: "COMPLETE",
    params: reordered[i % 2],
    value: i % 2 ? i * 0.01 : 1 + i,
  }));
  const picks = Array.from(
    { length: 20 },
    (_, s) => tpeSampler().sample(c, history, new Rng(s)).scheduler,
  );
  const good = picks.filter((p) => JSON.stringify(p) === JSON.stringify(cosine));
  assert.ok(good.length >= 18, `picks: ${JSON.stringify(picks)}`);
});

/** Optimizer names, and a momentum that only sgd draws. */
const conditional = parseSpace({
  "optimizer.name": { type: "choice", values: ["sgd", "adam"] },
  "optimizer.momentum": { type: "uniform", low: 0, high: 0.99, when: { "optimizer.name": "sgd" } },
  "optimizer.lr": { type: "logUniform", low: 1e-4, high: 0.1 },
});

/** Asserts that `params` draws momentum exactly where it drew sgd. */
function assertDrawnWithSgd(params: Params): void {
  assert.equal(
    "optimizer.momentum" in params,
    params["optimizer.name"] === "sgd",
    JSON.stringify(params),
  );
}

Deno.test("random and quasi-random samplers leave a conditional path out of the trials whose draws fail its condition", () => {
  const names = new Set<unknown>();
  for (let seed = 0; seed < 50; seed++) {
    const random = randomSampler().sample(conditional, [], new Rng(seed));
    const quasi = quasiRandomSampler({ seed: 2 }).sample(conditional, [], new Rng(0), {
      index: seed,
    });
    for (const params of [random, quasi]) {
      assertDrawnWithSgd(params);
      names.add(params["optimizer.name"]);
    }
    // each path keeps its quasi-random dimension, drawn or not
    const unconditional = parseSpace({
      ...conditional,
      "optimizer.momentum": { type: "uniform", low: 0, high: 0.99 },
    });
    const all = quasiRandomSampler({ seed: 2 }).sample(unconditional, [], new Rng(0), {
      index: seed,
    });
    assert.equal(quasi["optimizer.lr"], all["optimizer.lr"]);
  }
  assert.deepEqual([...names].sort(), ["adam", "sgd"]);
});

Deno.test("grid enumerates only the combinations a trial draws: no two points differ in a path neither draws", () => {
  const grid = parseSpace({
    "optimizer.momentum": { type: "grid", values: [0, 0.9], when: { "optimizer.name": "sgd" } },
    "optimizer.name": { type: "grid", values: ["sgd", "adam"] },
    batchSize: { type: "grid", values: [16, 32] },
  });
  const sampler = gridSampler();
  assert.equal(sampler.untried!(grid, []), 6);
  const tried: Params[] = [];
  for (let i = 0; i < 6; i++) tried.push(sampler.sample(grid, [], new Rng(0), { tried }));
  // momentum is drawn after the name its condition names, and varies inside it
  assert.deepEqual(tried, [
    { "optimizer.momentum": 0, "optimizer.name": "sgd", batchSize: 16 },
    { "optimizer.momentum": 0, "optimizer.name": "sgd", batchSize: 32 },
    { "optimizer.momentum": 0.9, "optimizer.name": "sgd", batchSize: 16 },
    { "optimizer.momentum": 0.9, "optimizer.name": "sgd", batchSize: 32 },
    { "optimizer.name": "adam", batchSize: 16 },
    { "optimizer.name": "adam", batchSize: 32 },
  ]);
  assert.throws(() => sampler.sample(grid, [], new Rng(0), { tried }), /grid.s 6 points/);
  // trials of another sampler hold their points: an adam one, and an sgd one without the
  // momentum it draws, which is no point of the grid
  const others: Params[] = [
    { "optimizer.name": "adam", batchSize: 32 },
    { "optimizer.name": "sgd", batchSize: 16 },
  ];
  assert.equal(sampler.untried!(grid, others), 5);
  // a range without a grid is refused wherever it is, drawn or not
  assert.throws(
    () => sampler.untried!(conditional, []),
    /Cannot grid-search 'optimizer\.momentum'/,
  );
});

Deno.test("TPE draws a conditional path only where its condition holds, fitted on the trials that drew it", () => {
  // sgd trials are best near momentum 0.8; adam trials are middling, and have no momentum
  const sgdWins = Array.from({ length: 40 }, (_, i): FinishedTrial => {
    const lr = 0.01;
    if (i % 2 === 1) {
      return {
        number: i,
        state: "COMPLETE",
        params: { "optimizer.name": "adam", "optimizer.lr": lr },
        value: 0.5 + i * 0.001,
      };
    }
    const m = (0.99 * i) / 40;
    return {
      number: i,
      state: "COMPLETE",
      params: { "optimizer.name": "sgd", "optimizer.momentum": m, "optimizer.lr": lr },
      value: Math.abs(m - 0.8),
    };
  });
  const proposals = Array.from(
    { length: 20 },
    (_, s) => tpeSampler().sample(conditional, sgdWins, new Rng(s)),
  );
  proposals.forEach(assertDrawnWithSgd);
  const momenta = proposals.filter((p) => p["optimizer.name"] === "sgd").map((p) =>
    p["optimizer.momentum"] as number
  );
  assert.ok(momenta.length >= 15, JSON.stringify(proposals));
  const mean = momenta.reduce((a, b) => a + b, 0) / momenta.length;
  assert.ok(Math.abs(mean - 0.8) < 0.15, `mean momentum ${mean}, best near 0.8`);
  // where adam wins, TPE proposes adam, without a momentum
  const adamWins = sgdWins.map((t) => ({
    ...t,
    value: t.params["optimizer.name"] === "adam" ? t.number * 0.001 : 1 + t.number,
  }));
  const picks = Array.from(
    { length: 20 },
    (_, s) => tpeSampler().sample(conditional, adamWins, new Rng(s)),
  );
  picks.forEach(assertDrawnWithSgd);
  assert.ok(picks.filter((p) => p["optimizer.name"] === "adam").length >= 18);
});
