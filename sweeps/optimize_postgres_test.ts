import assert from "node:assert/strict";
import { optimize, type OptimizeOptions } from "../mod.ts";
import { testPostgresUrl } from "../storage/testing/pg_url.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test({
  name:
    "optimize on PostgreSQL: two calls share a study at once (no trial number twice, pruned trials recorded PRUNED), and a third goes on with its best and trials",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const storage = await testPostgresUrl();
    const study = `optimize-${crypto.randomUUID()}`;
    // a trial with x > 0 reports a bad curve, the others 0 at each step (never worse than the
    // median): the median pruner stops those with x > 0 once trials completed
    const stopped = new Map<number, number>();
    // Each call's trials wait until the other call has begun one (at most 60 s): the two overlap
    // by construction, not because both happened to connect before either ran out of trials.
    const entered = new Set<string>();
    const bothEntered = async () => {
      for (const until = Date.now() + 60_000; entered.size < 2 && Date.now() < until;) {
        await sleep(5);
      }
    };
    const objective = (worker: string): OptimizeOptions["objective"] => async (params, trial) => {
      entered.add(worker);
      await bothEntered();
      const x = params.x as number;
      const value = x * x + (x > 0 ? 10 : 0);
      for (let step = 0; step < 4; step++) {
        // (slow enough that the two calls' trials run side by side)
        await sleep(5);
        if (await trial.report(step, x > 0 ? value + 1 / (step + 1) : 0)) {
          stopped.set(trial.number, step);
          return value;
        }
      }
      return value;
    };
    const options = {
      space: { x: { type: "uniform", low: -1, high: 1 } },
      objective: objective("c"),
      sampler: "random",
      pruner: "median",
      prunerOptions: { nStartupTrials: 3 },
      storage,
      study,
      parallel: 2,
    } as const;
    const [a, b] = await Promise.all([
      optimize({ ...options, objective: objective("a"), trials: 20, workerId: "worker-a" }),
      optimize({ ...options, objective: objective("b"), trials: 20, workerId: "worker-b" }),
    ]);
    assert.equal(a.ran.length + b.ran.length, 20, "the study's budget, shared");
    assert.ok(a.ran.length > 0 && b.ran.length > 0, `a ran ${a.ran.length}, b ${b.ran.length}`);
    const ranIds = [...a.ran, ...b.ran].map((t) => t.id);
    assert.equal(new Set(ranIds).size, 20, "no trial ran twice");
    for (const result of [a, b]) {
      assert.equal(result.trials.length, 20);
      const numbers = result.trials.map((t) => t.number).sort((p, q) => p - q);
      assert.deepEqual(numbers, Array.from({ length: 20 }, (_, i) => i), "each number once");
    }
    const trials = b.trials;
    const pruned = trials.filter((t) => t.state === "PRUNED");
    assert.ok(pruned.length > 0, "the median pruner pruned some trials");
    assert.deepEqual(
      pruned.map((t) => [t.number, t.prunedStep]).sort((p, q) => p[0]! - q[0]!),
      [...stopped].sort((p, q) => p[0] - q[0]),
      "each trial told to stop is recorded PRUNED at its step, and no other",
    );
    for (const t of pruned) {
      assert.ok((t.params.x as number) > 0, JSON.stringify(t.params));
      // (its last report's value, as Optuna records a pruned trial's)
      const x = t.params.x as number;
      assert.equal(t.value, x * x + 10 + 1 / (t.prunedStep! + 1), "its last report's value");
      assert.match(t.reason ?? "", /worse than the median/);
    }
    assert.ok(trials.every((t) => t.state === "COMPLETE" || t.state === "PRUNED"));
    const best = a.best!;
    assert.deepEqual(b.best, best);
    const completed = trials.filter((t) => t.state === "COMPLETE").map((t) => t.value!);
    assert.equal(best.value, Math.min(...completed));

    // a third call goes on: the 20 trials kept, 10 more run, the best carried or bettered
    const more = await optimize({ ...options, sampler: "tpe", trials: 30, workerId: "worker-c" });
    assert.equal(more.trials.length, 30);
    assert.equal(more.ran.length, 10, "only the missing trials ran");
    const byNumber = (list: typeof trials) => [...list].sort((p, q) => p.number - q.number);
    const kept = (list: typeof trials) =>
      byNumber(list).map((t) => [t.id, t.number, t.state, t.params, t.value]);
    assert.deepEqual(kept(more.trials).slice(0, 20), kept(trials));
    assert.deepEqual(
      byNumber(more.trials).slice(20).map((t) => t.number),
      Array.from({ length: 10 }, (_, i) => 20 + i),
    );
    assert.ok(more.best!.value! <= best.value!, `${more.best!.value} > ${best.value}`);
    const all = more.trials.filter((t) => t.state === "COMPLETE").map((t) => t.value!);
    assert.equal(more.best!.value, Math.min(...all));
  },
});
