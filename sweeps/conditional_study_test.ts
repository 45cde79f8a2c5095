import assert from "node:assert/strict";
import { openSqliteStorage } from "../storage/sqlite.ts";
import { openPostgresStorage } from "../storage/postgres.ts";
import { testPostgresUrl } from "../storage/testing/pg_url.ts";
import type { StudyStorage } from "../storage/types.ts";
import { gridSampler } from "./samplers/grid.ts";
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
