import assert from "node:assert/strict";
import { canonicalJson } from "../zod_paths.ts";
import { openSqliteStorage } from "../storage/sqlite.ts";
import { openPostgresStorage } from "../storage/postgres.ts";
import { testPostgresUrl } from "../storage/testing/pg_url.ts";
import type { StudyStorage } from "../storage/types.ts";
import { gridSampler } from "./samplers/grid.ts";
import { type Params, parseSpace } from "./space.ts";
import { runStudy } from "./study.ts";

/**
 * 7 x 10^8 points: eight paths of ten values, and an optimizer whose sgd draws a momentum, and
 * a nesterov flag beside a momentum other than 0 (7 ways), drawn last so that they vary fastest.
 */
const space = parseSpace({
  ...Object.fromEntries(
    Array.from({ length: 8 }, (_, i) => [`model.p${i}`, {
      type: "grid",
      values: Array.from({ length: 10 }, (_, k) => k),
    }]),
  ),
  "optimizer.name": { type: "grid", values: ["sgd", "adam", "rmsprop"] },
  "optimizer.momentum": {
    type: "grid",
    values: [0, 0.5, 0.9],
    when: { "optimizer.name": "sgd" },
  },
  "optimizer.nesterov": {
    type: "grid",
    values: [false, true],
    when: { "optimizer.momentum": { not: [0] } },
  },
});

/** The grid's first points: sgd's 5 ways (momentum 0; 0.5 and 0.9 with each flag), adam, rmsprop. */
const FIRST = [
  "sgd/0/",
  "sgd/0.5/false",
  "sgd/0.5/true",
  "sgd/0.9/false",
  "sgd/0.9/true",
  "adam//",
  "rmsprop//",
];
const way = (p: Params) =>
  [p["optimizer.name"], p["optimizer.momentum"], p["optimizer.nesterov"]].join("/");

/**
 * Two workers of two lanes each take 5 trials of the huge grid, then one run of the study goes on
 * to 8: each trial a distinct point, the grid's first 8 in its order, and none of the grid listed.
 */
async function hugeGridStudy(open: () => Promise<StudyStorage>): Promise<void> {
  const studyName = `huge-${crypto.randomUUID().slice(0, 8)}`;
  const warnings: string[] = [];
  const started = performance.now();
  const run = async (workerId: string, trials: number) => {
    const storage = await open();
    try {
      return await runStudy({
        storage,
        studyName,
        space,
        sampler: gridSampler(),
        objective: async (params) => {
          await new Promise((resolve) => setTimeout(resolve, 5));
          return Number(params["optimizer.momentum"] ?? 1);
        },
        trials,
        parallel: 2,
        workerId,
        onNotice: (message) => warnings.push(message),
        heartbeatMs: 50,
        staleAfterMs: 60_000,
      });
    } finally {
      await storage.close();
    }
  };
  const [a, b] = await Promise.all([run("a", 5), run("b", 5)]);
  assert.equal(a.ran.length + b.ran.length, 5);
  // (the two workers' own notices are a race: the later to start may find the other's first
  // trials, and its budget's notice counts them; the run that goes on is told alone)
  warnings.length = 0;
  const more = await run("c", 8);
  const trials = more.trials.sort((x, y) => x.number - y.number);
  assert.equal(trials.length, 8);
  assert.ok(trials.every((t) => t.state === "COMPLETE"));
  const points = trials.map((t) => canonicalJson(t.params));
  assert.equal(new Set(points).size, 8, "each trial a distinct point");
  // (which worker took which point is a race; which points the study holds is not)
  assert.deepEqual(
    trials.slice(0, 5).map((t) => way(t.params)).sort(),
    FIRST.slice(0, 5).sort(),
  );
  assert.deepEqual(trials.slice(5).map((t) => way(t.params)), [...FIRST.slice(5), "sgd/0/"]);
  // the first 7 points at the first value of every other path, the 8th one further
  assert.ok(trials.every((t, i) => t.params["model.p7"] === (i < 7 ? 0 : 1)));
  assert.ok(trials.every((t) => t.params["model.p0"] === 0));
  // counted, not listed: the run that goes on is told what its budget leaves
  assert.deepEqual(warnings, [
    `notice: the budget of 8 trials of study '${studyName}' leaves 3 for the 699999995 ` +
    `points of the grid sampler that its 5 trials have not tried: the last 699999992 in its ` +
    `order are not run (ask for 700000000 trials to run them all)`,
  ]);
  assert.ok(performance.now() - started < 60_000, `${performance.now() - started} ms`);
}

Deno.test("a grid of 7 x 10^8 points on SQLite: two workers and a resumed run take its first points, each once", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await hugeGridStudy(() => Promise.resolve(openSqliteStorage(`${dir}/sweeps.db`)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "a grid of 7 x 10^8 points on PostgreSQL: two workers and a resumed run take its first points, each once",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const url = await testPostgresUrl();
    await hugeGridStudy(() => openPostgresStorage(url));
  },
});
