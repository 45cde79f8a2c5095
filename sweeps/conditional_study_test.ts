import assert from "node:assert/strict";
import { openSqliteStorage } from "../storage/sqlite.ts";
import { openPostgresStorage } from "../storage/postgres.ts";
import { testPostgresUrl } from "../storage/testing/pg_url.ts";
import type { StudyStorage } from "../storage/types.ts";
import { gridSampler } from "./samplers/grid.ts";
import { quasiRandomSampler } from "./samplers/quasi_random.ts";
import { randomSampler } from "./samplers/random.ts";
import type { Sampler } from "./samplers/types.ts";
import { tpeSampler } from "./samplers/tpe.ts";
import { type Params, parseSpace } from "./space.ts";
import { runStudy } from "./study.ts";

/** Momentum for sgd only, with a nesterov flag for sgd with batches of 32 only. */
const space = parseSpace({
  "optimizer.name": { type: "grid", values: ["sgd", "adam"] },
  "optimizer.momentum": { type: "grid", values: [0, 0.9], when: { "optimizer.name": "sgd" } },
  batchSize: { type: "grid", values: [16, 32] },
  "optimizer.nesterov": {
    type: "grid",
    values: [false, true],
    when: { "optimizer.name": ["sgd"], batchSize: 32 },
  },
});

/** Asserts that `params` holds exactly the paths its own values draw. */
function assertDrawn(params: Params): void {
  const sgd = params["optimizer.name"] === "sgd";
  assert.equal("optimizer.momentum" in params, sgd, JSON.stringify(params));
  assert.equal("optimizer.nesterov" in params, sgd && params.batchSize === 32);
}

const objective = (params: Params) =>
  Promise.resolve(
    (params["optimizer.name"] === "sgd" ? 0 : 1) +
      Math.abs(0.9 - Number(params["optimizer.momentum"] ?? 0)) +
      (params.batchSize as number) / 100,
  );

async function conditionalStudies(open: () => Promise<StudyStorage>): Promise<void> {
  const name = `when-${crypto.randomUUID().slice(0, 8)}`;
  // sgd: 2 momenta x (16, or 32 with 2 nesterovs) = 6 points; adam: 2 batch sizes
  const grid = async (trials: number) => {
    const storage = await open();
    try {
      return await runStudy({
        storage,
        studyName: name,
        space,
        sampler: gridSampler(),
        objective,
        trials,
        workerId: "w",
      });
    } finally {
      await storage.close();
    }
  };
  const first = await grid(5);
  assert.equal(first.trials.length, 5);
  // run again (its stored space, conditions and all, read back as the same), it takes the rest
  const rest = await grid(20);
  assert.equal(rest.trials.length, 8);
  const points = rest.trials.map((t) => JSON.stringify(Object.entries(t.params).sort()));
  assert.equal(new Set(points).size, 8);
  rest.trials.forEach((t) => assertDrawn(t.params));
  assert.deepEqual(rest.best!.params, {
    "optimizer.name": "sgd",
    "optimizer.momentum": 0.9,
    batchSize: 16,
  });

  // TPE past its start-up trials, fitted on what each trial drew
  const storage = await open();
  try {
    const tpe = await runStudy({
      storage,
      studyName: `${name}-tpe`,
      space,
      sampler: tpeSampler(),
      objective,
      trials: 16,
      workerId: "w",
    });
    assert.equal(tpe.trials.length, 16);
    tpe.trials.forEach((t) => assertDrawn(t.params));
  } finally {
    await storage.close();
  }
}

/**
 * Momentum for every optimizer but adam; weight decay for adam, or beside batches of 32 at a
 * momentum other than 0: an exclusion and a list of conditions.
 */
const either = parseSpace({
  "optimizer.name": { type: "grid", values: ["sgd", "adam", "rmsprop"] },
  "optimizer.momentum": {
    type: "grid",
    values: [0, 0.9],
    when: { "optimizer.name": { not: "adam" } },
  },
  batchSize: { type: "grid", values: [16, 32] },
  "optimizer.weightDecay": {
    type: "grid",
    values: [0, 0.01],
    when: [{ "optimizer.name": "adam" }, { batchSize: 32, "optimizer.momentum": { not: 0 } }],
  },
});

/** Asserts that `params` holds exactly the paths its own values draw in `either`. */
function assertEither(params: Params): void {
  const adam = params["optimizer.name"] === "adam";
  assert.equal("optimizer.momentum" in params, !adam, JSON.stringify(params));
  assert.equal(
    "optimizer.weightDecay" in params,
    adam || (params.batchSize === 32 && params["optimizer.momentum"] === 0.9),
    JSON.stringify(params),
  );
}

async function exclusionStudies(open: () => Promise<StudyStorage>): Promise<void> {
  const name = `not-${crypto.randomUUID().slice(0, 8)}`;
  const study = async (suffix: string, sampler: Sampler, trials: number) => {
    const storage = await open();
    try {
      const result = await runStudy({
        storage,
        studyName: `${name}-${suffix}`,
        space: either,
        sampler,
        objective,
        trials,
        workerId: "w",
      });
      result.trials.forEach((t) => assertEither(t.params));
      return result.trials;
    } finally {
      await storage.close();
    }
  };
  // sgd and rmsprop: momentum 0 at 2 batch sizes, 0.9 at 16, and at 32 with 2 decays; adam: 2 x 2
  const grid = await study("grid", gridSampler(), 30);
  assert.equal(grid.length, 14);
  assert.equal(new Set(grid.map((t) => JSON.stringify(Object.entries(t.params).sort()))).size, 14);
  assert.equal(grid.filter((t) => "optimizer.weightDecay" in t.params).length, 8);
  for (const [suffix, sampler] of [["random", randomSampler()], ["quasi", quasiRandomSampler()]]) {
    assert.equal((await study(suffix as string, sampler as Sampler, 12)).length, 12);
  }
  assert.equal((await study("tpe", tpeSampler(), 16)).length, 16);
}

Deno.test("a study of exclusions and a list of conditions on SQLite, with each sampler: params holding the paths they draw only", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await exclusionStudies(() => Promise.resolve(openSqliteStorage(`${dir}/sweeps.db`)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "a study of exclusions and a list of conditions on PostgreSQL, with each sampler: params holding the paths they draw only",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const url = await testPostgresUrl();
    await exclusionStudies(() => openPostgresStorage(url));
  },
});

Deno.test("a conditional grid and TPE study on SQLite: each point once, params holding the paths they draw only", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await conditionalStudies(() => Promise.resolve(openSqliteStorage(`${dir}/sweeps.db`)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "a conditional grid and TPE study on PostgreSQL: each point once, params holding the paths they draw only",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const url = await testPostgresUrl();
    await conditionalStudies(() => openPostgresStorage(url));
  },
});
