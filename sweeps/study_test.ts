import assert from "node:assert/strict";
import { openSqliteStorage } from "../storage/sqlite.ts";
import { gridSampler } from "./samplers/grid.ts";
import { randomSampler } from "./samplers/random.ts";
import { tpeSampler } from "./samplers/tpe.ts";
import { medianPruner } from "./pruners/median.ts";
import { parseSpace } from "./space.ts";
import { retryingStorage, runStudy } from "./study.ts";
import { bowl, bowlSpace, curveObjective, noisyBowl } from "./testing/objectives.ts";
import type { Sampler } from "./samplers/types.ts";
import type { Params } from "./space.ts";
import { AnnealError } from "../errors.ts";
import type { StudyStorage } from "../storage/types.ts";

async function bestOf(sampler: Sampler, seed: number): Promise<number> {
  const storage = openSqliteStorage(":memory:");
  const result = await runStudy({
    storage,
    studyName: `s${seed}`,
    space: bowlSpace,
    sampler,
    objective: (params) => Promise.resolve(noisyBowl(params)),
    trials: 30,
    seed,
    // (the samplers' random numbers follow the seed and each trial's index, not the worker id)
    workerId: "worker-0",
  });
  await storage.close();
  assert.equal(result.trials.filter((t) => t.state === "COMPLETE").length, 30);
  return bowl(result.best!.params);
}

Deno.test("TPE's best of 30 trials beats random search's on average over five seeds", async () => {
  const seeds = [0, 1, 2, 3, 4];
  const tpe: number[] = [], random: number[] = [];
  for (const seed of seeds) {
    tpe.push(await bestOf(tpeSampler(), seed));
    random.push(await bestOf(randomSampler(), seed));
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(mean(tpe) < mean(random), `TPE ${tpe} vs random ${random}`);
  console.log(`mean best: TPE ${mean(tpe).toFixed(3)}, random ${mean(random).toFixed(3)}`);
});

Deno.test("the median pruner stops trials whose curve is worse than the median, recording why", async () => {
  const storage = openSqliteStorage(":memory:");
  const result = await runStudy({
    storage,
    studyName: "prune",
    space: bowlSpace,
    sampler: randomSampler(),
    pruner: medianPruner(),
    objective: curveObjective(10),
    trials: 30,
    seed: 3,
  });
  await storage.close();
  const pruned = result.trials.filter((t) => t.state === "PRUNED");
  const complete = result.trials.filter((t) => t.state === "COMPLETE");
  assert.ok(pruned.length >= 8, `only ${pruned.length} of 30 pruned`);
  assert.equal(pruned.length + complete.length, 30);
  const best = Math.min(...complete.map((t) => t.value!));
  for (const trial of pruned) {
    assert.ok(trial.prunedStep !== null && /median/.test(trial.reason!));
    assert.ok(trial.intermediate.size === trial.prunedStep! + 1, "stopped at the pruned step");
    assert.ok(bowl(trial.params) > best, "a pruned trial would not have been the best");
  }
  const firstFive = result.trials.filter((t) => t.number < 5);
  assert.ok(firstFive.every((t) => t.state === "COMPLETE"), "startup trials are never pruned");
});

Deno.test("three concurrent workers on one SQLite file run every trial exactly once", async () => {
  const path = `${Deno.makeTempDirSync()}/study.db`;
  const runs = new Map<number, string[]>();
  const workers = ["a", "b", "c"].map((workerId) => {
    const storage = openSqliteStorage(path);
    return runStudy({
      storage,
      studyName: "parallel",
      space: bowlSpace,
      sampler: tpeSampler(),
      objective: async (params, _report, context) => {
        runs.set(context.trialId, [...(runs.get(context.trialId) ?? []), workerId]);
        await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 15));
        return noisyBowl(params);
      },
      trials: 24,
      workerId,
      heartbeatMs: 50,
      // (no worker here stops heart-beating: with the default of 10 heartbeats, 0.5 s, one whose
      // event loop a loaded machine held up that long would have its trial reaped and run again)
      staleAfterMs: 60_000,
    }).finally(() => storage.close());
  });
  const results = await Promise.all(workers);
  const trials = results[0].trials;
  assert.equal(trials.length, 24);
  assert.ok(trials.every((t) => t.state === "COMPLETE"));
  assert.equal(runs.size, 24);
  assert.ok([...runs.values()].every((w) => w.length === 1), "a trial ran twice");
  assert.ok(results.every((r) => r.ran.length > 0), "every worker ran trials");
  assert.equal(results.reduce((n, r) => n + r.ran.length, 0), 24);
});

Deno.test("runStudy caps a grid sweep at the grid's size and runs each point once", async () => {
  const storage = openSqliteStorage(":memory:");
  const space = parseSpace({
    batchSize: { type: "grid", values: [16, 32, 64] },
    "optimizer.name": { type: "grid", values: ["sgd", "adam"] },
  });
  const notices: string[] = [];
  const onNotice = (message: string) => notices.push(message);
  try {
    const result = await runStudy({
      onNotice,
      storage,
      studyName: "grid",
      space,
      sampler: gridSampler(),
      objective: (p) =>
        Promise.resolve((p.batchSize as number) + (p["optimizer.name"] === "sgd" ? 1 : 0)),
      trials: 10,
      parallel: 2,
    });
    assert.equal(result.trials.length, 6);
    const points = new Set(
      result.trials.map((t) => `${t.params.batchSize}/${t.params["optimizer.name"]}`),
    );
    assert.equal(points.size, 6);
    assert.equal(result.best!.value, 16);
    assert.match(notices.join("\n"), /has 6 points; running 6 trials, not 10/);
  } finally {
    await storage.close();
  }
});

Deno.test("a study continued with the grid sampler after random trials runs every grid point once, then ends", async () => {
  const storage = openSqliteStorage(":memory:");
  // (a space the grid sampler takes: every random draw is one of its 8 points)
  const space = parseSpace({
    "optimizer.lr": { type: "choice", values: [0.001, 0.01] },
    batchSize: { type: "int", low: 16, high: 64, step: 16 },
  });
  const objective = (p: Params) =>
    Promise.resolve((p["optimizer.lr"] as number) * 100 + (p.batchSize as number));
  const notices: string[] = [];
  const onNotice = (message: string) => notices.push(message);
  try {
    const first = await runStudy({
      onNotice,
      storage,
      studyName: "switch",
      space,
      sampler: randomSampler(),
      objective,
      trials: 3,
      seed: 1,
      // (the random draws follow the seed and each trial's index, not the worker id)
      workerId: "worker-0",
    });
    assert.equal(first.trials.length, 3);
    const key = (p: Params) => `${p["optimizer.lr"]}/${p.batchSize}`;
    const drawn = new Set(first.trials.map((t) => key(t.params)));
    const grid = [0.001, 0.01].flatMap((lr) => [16, 32, 48, 64].map((b) => `${lr}/${b}`));
    const left = (done: Set<string>) => grid.filter((point) => !done.has(point));
    const result = await runStudy({
      onNotice,
      storage,
      studyName: "switch",
      space,
      sampler: gridSampler(),
      objective,
      trials: 20,
      parallel: 2,
    });
    assert.match(
      notices.join("\n"),
      new RegExp(
        `the grid sampler has 8 points, ${8 - left(drawn).length} of them tried by the 3 ` +
          `trials of study 'switch': running the other ${left(drawn).length}, each once`,
      ),
    );
    const gridTrials = result.trials.filter((t) => t.number >= 3);
    // the points the random trials left are run once each, in the grid's order, and no other
    assert.ok(left(drawn).length >= 5, `the random trials drew ${[...drawn]}`);
    assert.deepEqual(gridTrials.map((t) => key(t.params)), left(drawn));
    assert.equal(result.trials.length, 3 + left(drawn).length);
    assert.ok(result.trials.every((t) => t.state === "COMPLETE"));
    // a third run finds the grid exhausted: no trial, and it says why
    notices.length = 0;
    const again = await runStudy({
      onNotice,
      storage,
      studyName: "switch",
      space,
      sampler: gridSampler(),
      objective,
      trials: 20,
    });
    assert.equal(again.ran.length, 0);
    assert.match(notices.join("\n"), /every one of the grid sampler's 8 points/);
  } finally {
    await storage.close();
  }
});

Deno.test("a grid continued within a budget that cannot hold its untried points says which are not run", async () => {
  const storage = openSqliteStorage(":memory:");
  const space = parseSpace({ batchSize: { type: "grid", values: [16, 32, 48, 64] } });
  const notices: string[] = [];
  const onNotice = (message: string) => notices.push(message);
  try {
    const objective = (p: Params) => Promise.resolve(p.batchSize as number);
    const first = await runStudy({
      onNotice,
      storage,
      studyName: "cut",
      space,
      sampler: { name: "fixed", sample: () => ({ batchSize: 48 }) },
      objective,
      trials: 1,
    });
    assert.equal(first.trials.length, 1);
    const result = await runStudy({
      onNotice,
      storage,
      studyName: "cut",
      space,
      sampler: gridSampler(),
      objective,
      trials: 3,
    });
    assert.deepEqual(result.trials.map((t) => t.params.batchSize), [48, 16, 32]);
    assert.match(
      notices.join("\n"),
      /the budget of 3 trials of study 'cut' leaves 2 for the 3 points of the grid sampler that its 1 trial has not tried: the last 1 in its order is not run \(ask for 4 trials to run them all\)/,
    );
  } finally {
    await storage.close();
  }
});

Deno.test("an interrupted worker starts no trial; a trial whose objective stops is recorded FAILED and queued again, one that returns completes", async () => {
  const storage = openSqliteStorage(":memory:");
  const interrupt = new AbortController();
  let started = 0;
  const result = await runStudy({
    storage,
    studyName: "interrupted",
    space: bowlSpace,
    sampler: randomSampler(),
    parallel: 2,
    trials: 5,
    interrupt: interrupt.signal,
    objective: (params, _report, context) => {
      started++;
      if (started === 2) setTimeout(() => interrupt.abort("SIGINT received"), 20);
      // the first lane's objective finishes what it does (once the interrupt has come: were it
      // done before, its lane would start a third trial); the second's stops when told
      if (context.number === 0) {
        return new Promise((resolve) =>
          interrupt.signal.addEventListener("abort", () => resolve(bowl(params)))
        );
      }
      return new Promise((_, reject) =>
        context.signal.addEventListener("abort", () => reject(new Error("stopped")))
      );
    },
  });
  assert.equal(result.interrupted, "SIGINT received");
  assert.equal(started, 2, "no trial started after the interrupt");
  const [first, second, retry] = result.trials;
  assert.equal(first.state, "COMPLETE");
  assert.equal(second.state, "FAILED");
  assert.equal(
    second.reason,
    "interrupted (SIGINT received); it runs again, as a retry, when the study goes on",
  );
  assert.deepEqual([retry.state, retry.retryOf, retry.params], [
    "WAITING",
    second.id,
    second.params,
  ]);
  assert.equal(result.trials.length, 3);
  // the study goes on: the retry first, then the rest of the budget
  const again = await runStudy({
    storage,
    studyName: "interrupted",
    space: bowlSpace,
    sampler: randomSampler(),
    trials: 5,
    objective: (params) => Promise.resolve(bowl(params)),
  });
  assert.equal(again.ran[0].id, retry.id);
  assert.equal(again.trials.filter((t) => t.state === "COMPLETE").length, 5);
  await storage.close();
});

Deno.test("a worker tells of each trial of a dead worker it reaps, with the retry it queued", async () => {
  const storage = openSqliteStorage(":memory:");
  const space = bowlSpace;
  const study = await storage.createStudy("reaped", "minimize", space);
  const dead = await storage.createTrial(study.id, {
    params: { "optimizer.lr": 0.01, "optimizer.weightDecay": 0.001 },
    claimBy: "dead",
  });
  await new Promise((resolve) => setTimeout(resolve, 80));
  const told: [number, number | undefined][] = [];
  const warned: string[] = [];
  const result = await runStudy({
    storage,
    studyName: "reaped",
    space,
    sampler: randomSampler(),
    trials: 1,
    staleAfterMs: 50,
    objective: (params) => Promise.resolve(bowl(params)),
    onReaped: (trial, retry) => told.push([trial.id, retry?.retryOf ?? undefined]),
    onNotice: (message) => warned.push(message),
  });
  assert.deepEqual(told, [[dead!.id, dead!.id]]);
  // its one trial is sampled, not run: the study is not said to be done
  assert.deepEqual(warned, [
    "notice: study 'reaped' already has its 1 trial, not all finished: no new trial is " +
    "sampled; this worker runs those waiting, and those of a worker that stopped heart-beating " +
    "once 0.05 s have passed without its heartbeat: trial 0 (running)",
  ]);
  const retry = result.trials.find((t) => t.retryOf === dead!.id)!;
  assert.equal(retry.state, "COMPLETE");
  assert.match(result.trials[0].reason!, /worker dead stopped heart-beating/);
  await storage.close();
});

Deno.test("a worker whose trial cannot be recorded stops its other trials as interrupted, queued to run again, and fails once they have stopped", async () => {
  const storage = openSqliteStorage(":memory:");
  // the storage refuses, for good (not a lost connection), to record trial 0's end
  const refusing = new Proxy(storage, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property !== "completeTrial") {
        return typeof value === "function" ? value.bind(target) : value;
      }
      return async (id: number, result: number) => {
        const trial = (await target.listTrials(1)).find((t) => t.id === id);
        if (trial?.number === 0) throw new Error("disk full");
        return await target.completeTrial(id, result);
      };
    },
  });
  let started = 0;
  let secondSettled = false;
  let secondStarted: () => void = () => {};
  const overlap = new Promise<void>((resolve) => (secondStarted = resolve));
  const failure = await runStudy({
    storage: refusing,
    studyName: "lanes",
    space: bowlSpace,
    sampler: randomSampler(),
    parallel: 2,
    trials: 6,
    objective: async (params, _report, context) => {
      started++;
      if (context.number === 0) {
        await overlap;
        return bowl(params);
      }
      secondStarted();
      // the other trial runs until told to stop, and takes a moment to
      await new Promise((resolve) => context.signal.addEventListener("abort", resolve));
      await new Promise((resolve) => setTimeout(resolve, 50));
      secondSettled = true;
      throw new Error("stopped");
    },
  }).then(() => undefined, (error) => error);
  assert.ok(failure instanceof Error && failure.message === "disk full", String(failure));
  assert.ok(secondSettled, "the worker failed only once its other trial had stopped");
  assert.equal(started, 2, "no trial started after the failure");
  const trials = await storage.listTrials(1);
  const second = trials.find((t) => t.number === 1)!;
  assert.equal(second.state, "FAILED");
  assert.equal(
    second.reason,
    "interrupted (another trial of this worker failed: disk full); it runs again, as a retry, " +
      "when the study goes on",
  );
  const retry = trials.find((t) => t.retryOf === second.id);
  assert.equal(retry?.state, "WAITING");
  assert.deepEqual(trials.filter((t) => t.state === "RUNNING").map((t) => t.number), [0]);
  await storage.close();
});

Deno.test("a trial's reports within a second are judged against one list of the other trials; a report a second after the last list lists them afresh", async () => {
  const sqlite = openSqliteStorage(":memory:");
  // (every other call goes to the storage as it is)
  let lists = 0;
  const storage = new Proxy(sqlite, {
    get(target, name, receiver) {
      if (name === "listTrials") {
        return (...args: Parameters<typeof sqlite.listTrials>) => {
          // all the study's trials, as the pruner lists them (the sampler and the loop name states)
          if (args[1] === undefined) lists++;
          return target.listTrials(...args);
        };
      }
      const value = Reflect.get(target, name, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  try {
    const fast = await runStudy({
      storage,
      studyName: "fast",
      space: bowlSpace,
      sampler: randomSampler(),
      pruner: medianPruner(),
      // 30 reports in a few ms: one list a trial
      objective: async (_params, report) => {
        for (let step = 0; step < 30; step++) await report(step, 1);
        return 1;
      },
      trials: 3,
      seed: 1,
    });
    assert.equal(fast.trials.length, 3);
    // (the study lists its trials twice itself: as it starts, and for its result)
    assert.equal(lists, 3 + 2, "one list a trial of 30 quick reports");
    lists = 0;
    await runStudy({
      storage,
      studyName: "slow",
      space: bowlSpace,
      sampler: randomSampler(),
      pruner: medianPruner(),
      objective: async (_params, report) => {
        await report(0, 1);
        await new Promise((resolve) => setTimeout(resolve, 1100));
        await report(1, 1);
        return 1;
      },
      trials: 1,
      seed: 1,
    });
    assert.equal(lists, 2 + 2, "a list at each of two reports a second apart");
  } finally {
    await sqlite.close();
  }
});

Deno.test("a storage call that cannot reach the database past the retry window fails saying so and how to go on, not with the driver's error", async () => {
  // After 2 minutes of retries the CLI printed `error: connect ECONNREFUSED 127.0.0.1:5432` and
  // "report it if it looks like a bug".
  let calls = 0;
  const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), {
    code: "ECONNREFUSED",
  });
  const down = {
    loadStudy: () => {
      calls++;
      return Promise.reject(refused);
    },
  } as unknown as StudyStorage;
  await assert.rejects(() => retryingStorage(down, 300).loadStudy("s"), (error) => {
    assert.ok(error instanceof AnnealError);
    assert.equal(error.code, "storage");
    assert.equal(
      error.message,
      "Lost the study storage: the database could not be reached for 0.3 s (connect ECONNREFUSED " +
        "127.0.0.1:5432)",
    );
    assert.match(error.hint ?? "", /run the study again .*queued again/);
    assert.equal(error.cause, refused);
    return true;
  });
  assert.ok(calls > 1, `retried (${calls} calls)`);
  // an error that is not about reaching the database is not retried nor wrapped
  const wrong = new AnnealError("storage", "Cannot load study 's': no such study");
  const refusing = { loadStudy: () => Promise.reject(wrong) } as unknown as StudyStorage;
  await assert.rejects(
    () => retryingStorage(refusing, 300).loadStudy("s"),
    (error) => error === wrong,
  );
});

/**
 * `storage` whose `method` fails as a call to an unreachable PostgreSQL does, and how many times
 * each of its other methods was looked up (called: the study calls what it looks up).
 */
function cutOffAt(storage: StudyStorage, method: keyof StudyStorage) {
  const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), {
    code: "ECONNREFUSED",
  });
  const gets = new Map<PropertyKey, number>();
  // (each other method called on the storage itself: its private fields are not the proxy's)
  const cutOff = new Proxy(storage, {
    get: (target, property) => {
      if (property === method) return () => Promise.reject(refused);
      gets.set(property, (gets.get(property) ?? 0) + 1);
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { cutOff, gets };
}

Deno.test("a trial whose end cannot be recorded, the database out of reach past the retry window, ends the study with that error: it is not taken for a reaped trial", async () => {
  // The storage error of an unreachable database was read as "reaped while running": the trial's
  // result was dropped and the worker went on to the next storage call, two minutes more.
  const storage = openSqliteStorage(":memory:");
  const { cutOff } = cutOffAt(storage, "completeTrial");
  let objectives = 0;
  try {
    await assert.rejects(
      () =>
        runStudy({
          storage: cutOff,
          studyName: "cut-off",
          space: bowlSpace,
          sampler: randomSampler(),
          objective: async (params) => (objectives++, await bowl(params)),
          trials: 3,
          storageRetryMs: 200,
        }),
      (error) => {
        assert.ok(error instanceof AnnealError);
        assert.match(error.message, /^Lost the study storage: the database could not be reached/);
        return true;
      },
    );
    assert.equal(objectives, 1, "no trial after the one whose end was not recorded");
  } finally {
    await storage.close();
  }
});

Deno.test("an objective whose report the database was out of reach for ends the study with that error at once, without recording its failure", async () => {
  // Recording the trial FAILED waited out a second retry window (2 minutes) to the same end.
  const storage = openSqliteStorage(":memory:");
  const { cutOff, gets } = cutOffAt(storage, "reportIntermediate");
  try {
    await assert.rejects(
      () =>
        runStudy({
          storage: cutOff,
          studyName: "cut-off",
          space: bowlSpace,
          sampler: randomSampler(),
          objective: curveObjective(3, 0),
          trials: 2,
          storageRetryMs: 200,
        }),
      /^AnnealError: Lost the study storage: the database could not be reached/,
    );
    assert.equal(gets.get("failTrial") ?? 0, 0);
  } finally {
    await storage.close();
  }
});

Deno.test("a worker killed on this host while this one trains is reaped before this one's next trial, not after the heartbeats' timeout", async () => {
  const storage = openSqliteStorage(":memory:");
  const space = bowlSpace;
  // a pid no process has any more: a worker of this host, killed
  const gone = new Deno.Command("true").spawn();
  await gone.status;
  const deadId = `${Deno.hostname()}:${gone.pid}:0badf00d`;
  let deadTrial: number | undefined;
  const told: string[] = [];
  const result = await runStudy({
    storage,
    studyName: "killed",
    space,
    sampler: randomSampler(),
    trials: 4,
    // far longer than the study takes: only its process being gone reaps it
    staleAfterMs: 600_000,
    objective: async (params) => {
      if (deadTrial === undefined) {
        // while this worker trains its first trial, another takes one and is killed
        const study = await storage.loadStudy("killed");
        const trial = await storage.createTrial(study.id, { params, claimBy: deadId });
        deadTrial = trial!.id;
      }
      return bowl(params);
    },
    onReaped: (trial, retry) => told.push(`${trial.id} ${trial.reason} -> ${retry?.retryOf}`),
  });
  assert.deepEqual(told, [
    `${deadTrial} worker ${deadId} stopped heart-beating (its process is gone) -> ${deadTrial}`,
  ]);
  // the retry ran next, before the trials sampled after it
  const retry = result.trials.find((t) => t.retryOf === deadTrial)!;
  assert.equal(retry.state, "COMPLETE");
  assert.equal(result.ran[1].id, retry.id, result.ran.map((t) => t.number).join());
  await storage.close();
});
