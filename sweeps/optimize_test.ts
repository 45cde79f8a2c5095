import assert from "node:assert/strict";
import { AnnealError, optimize, type OptimizeOptions } from "../mod.ts";

// f(x, y) = (x - 1)^2 + (y + 2)^2, minimum 0 at (1, -2)
const quadratic = (p: { x?: unknown; y?: unknown }) =>
  ((p.x as number) - 1) ** 2 + ((p.y as number) + 2) ** 2;
const space = {
  x: { type: "uniform", low: -5, high: 5 },
  y: { type: "uniform", low: -5, high: 5 },
} as const;

Deno.test("optimize (mod.ts): TPE with ASHA finds the quadratic's minimum and prunes trials reporting bad curves", async () => {
  let stoppedEarly = 0;
  const result = await optimize({
    space,
    trials: 50,
    sampler: "tpe",
    seed: 1,
    workerId: "worker-0",
    pruner: "asha",
    prunerOptions: { minResource: 1, reductionFactor: 3 },
    // a training-like curve: it falls toward the final value, from further above for worse params
    objective: async (params, trial) => {
      const f = quadratic(params);
      for (let step = 1; step <= 9; step++) {
        if (await trial.report(step, f * (1 + 2 / step))) {
          stoppedEarly++;
          return NaN; // ignored: the trial is pruned
        }
      }
      return f;
    },
  });
  assert.equal(result.trials.length, 50);
  const complete = result.trials.filter((t) => t.state === "COMPLETE");
  const pruned = result.trials.filter((t) => t.state === "PRUNED");
  assert.equal(complete.length + pruned.length, 50, "no trial failed");
  assert.ok(pruned.length > 0, "ASHA pruned some trials");
  assert.equal(stoppedEarly, pruned.length, "each pruned objective was told to stop");
  for (const t of pruned) assert.ok(t.prunedStep !== null && t.prunedStep <= 9);
  // the first 10 trials are TPE's random start-up trials; the model-based ones sample closer
  const median = (values: number[]) => values.sort((a, b) => a - b)[values.length >> 1];
  const startup = median(
    result.trials.filter((t) => t.number < 10).map((t) => quadratic(t.params)),
  );
  const later = median(result.trials.filter((t) => t.number >= 10).map((t) => quadratic(t.params)));
  assert.ok(later < startup / 2, `median f: start-up ${startup}, after ${later}`);
  assert.ok(result.best !== undefined);
  assert.ok(
    result.best.value! < 1,
    `best ${result.best.value} at ${JSON.stringify(result.best.params)}`,
  );
  assert.equal(result.best.value, quadratic(result.best.params));
});

Deno.test("optimize (mod.ts): maximize, the median pruner on bad intermediates, no pruner prunes none", async () => {
  // a trial with x > 0 reports a bad curve (and would end well): the median pruner stops it
  const objective: OptimizeOptions["objective"] = async (params, trial) => {
    const x = params.x as number;
    for (let step = 0; step < 5; step++) {
      if (await trial.report(step, x > 0 ? -100 : 0)) return 0;
    }
    return 10 - Math.abs(x);
  };
  const run = (pruner: "median" | "none") =>
    optimize({
      space: { x: { type: "uniform", low: -1, high: 1 } },
      direction: "maximize",
      trials: 30,
      sampler: "random",
      workerId: "worker-0",
      pruner,
      prunerOptions: pruner === "median" ? { nStartupTrials: 3 } : undefined,
      objective,
    });
  const pruned = await run("median");
  const prunedTrials = pruned.trials.filter((t) => t.state === "PRUNED");
  assert.ok(prunedTrials.length > 0);
  for (const t of prunedTrials) assert.ok((t.params.x as number) > 0, JSON.stringify(t.params));
  assert.equal(pruned.study.direction, "maximize");
  assert.ok(pruned.best!.value! > 9);
  const unpruned = await run("none");
  assert.equal(unpruned.trials.filter((t) => t.state === "PRUNED").length, 0);
});

Deno.test("optimize (mod.ts): a study stored in SQLite goes on where it stopped", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const storage = `sqlite:${dir}/study.db`;
    const options = {
      space,
      objective: quadratic,
      sampler: "tpe",
      pruner: "none",
      storage,
      study: "bowl",
    } as const;
    const first = await optimize({ ...options, trials: 6 });
    assert.equal(first.trials.length, 6);
    const second = await optimize({ ...options, trials: 15 });
    assert.equal(second.trials.length, 15);
    assert.equal(second.ran.length, 9, "only the missing trials ran");
    assert.deepEqual(
      second.trials.slice(0, 6).map((t) => [t.id, t.params, t.value]),
      first.trials.map((t) => [t.id, t.params, t.value]),
    );
    assert.ok(second.best!.value! <= first.best!.value!);
    // the budget is the study's: asking for no more runs none
    const third = await optimize({ ...options, trials: 15 });
    assert.equal(third.ran.length, 0);
    // another space is another study: refused, not mixed in
    await assert.rejects(
      optimize({ ...options, space: { x: space.x }, trials: 20 }),
      (error: unknown) =>
        error instanceof AnnealError && error.code === "storage" &&
        // (the hint named anneal sweep's --study alone)
        /study: "NAME" for optimize/.test(error.hint ?? ""),
    );
    // and so is the other direction
    await assert.rejects(
      optimize({ ...options, direction: "maximize", trials: 20 }),
      (error: unknown) =>
        error instanceof AnnealError && error.code === "storage" &&
        /study: "NAME" for optimize\), or minimize as the study does$/.test(error.hint ?? ""),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("optimize (mod.ts): an objective that throws or returns NaN fails its trial, and the study goes on", async () => {
  const result = await optimize({
    space: { x: { type: "int", low: 0, high: 5 } },
    sampler: "grid",
    trials: 6,
    objective: ({ x }) => {
      if (x === 1) throw new Error("boom");
      if (x === 2) return NaN;
      // from plain JS: a number as text, an object (it read "objective returned 0.5")
      if (x === 3) return "0.5" as unknown as number;
      if (x === 4) return { loss: 0.5 } as unknown as number;
      if (x === 5) return undefined as unknown as number;
      return x as number;
    },
  });
  const byX = new Map(result.trials.map((t) => [t.params.x, t]));
  assert.equal(byX.get(1)!.state, "FAILED");
  assert.equal(byX.get(1)!.reason, "objective threw: boom");
  assert.equal(byX.get(2)!.state, "FAILED");
  assert.equal(byX.get(2)!.reason, "objective returned NaN");
  assert.equal(byX.get(3)!.reason, 'objective returned the string "0.5", not a number');
  assert.equal(byX.get(4)!.reason, 'objective returned an object ({"loss":0.5}), not a number');
  assert.equal(
    byX.get(5)!.reason,
    "objective returned nothing (undefined): it must return the value to optimize, a number",
  );
  assert.equal(result.trials.filter((t) => t.state === "COMPLETE").length, 1);
  assert.deepEqual(result.best!.params, { x: 0 });
});

Deno.test("optimize (mod.ts): invalid options are refused before any trial, saying where and how to fix them", async () => {
  let calls = 0;
  const base: OptimizeOptions = { space, trials: 5, objective: () => ++calls };
  const refused = async (
    options: Partial<OptimizeOptions> | Record<string, unknown>,
    code: string,
    where: string,
    hint: RegExp,
  ) => {
    const error = await optimize({ ...base, ...options } as OptimizeOptions).then(
      () => assert.fail(`accepted ${JSON.stringify(options)}`),
      (error: unknown) => error,
    );
    assert.ok(error instanceof AnnealError, String(error));
    assert.equal(error.code, code, error.message);
    assert.equal(error.where, where, error.message);
    assert.match(error.hint ?? "", hint, error.message);
  };
  await refused(
    { space: { x: { type: "normal", low: 0, high: 1 } } },
    "config",
    "space.x.type",
    /./,
  );
  await refused(
    { space: { x: { type: "uniform", low: 2, high: 1 } } },
    "config",
    "space.x.high",
    /"type": "uniform"/,
  );
  await refused({ space: "x" }, "config", "space", /logUniform/);
  // a seed past 2^53 - 1, refused before the study is stored (its first draw failed, naming no
  // option, and the empty study stayed)
  await refused({ seed: 2 ** 53 }, "usage", "seed", /seed: 0/);
  await refused({ seed: 2 ** 60, sampler: "quasiRandom" }, "usage", "seed", /seed: 0/);
  // (a condition's refusal, and the grid's of a range, named a config's sweep.space)
  await refused(
    {
      space: {
        a: { type: "choice", values: ["x", "y"] },
        b: { type: "uniform", low: 0, high: 1, when: { a: "z" } },
      },
    },
    "config",
    "space.b.when.a",
    /add "z"/,
  );
  await refused(
    { space: { x: { type: "uniform", low: 0, high: 1 } }, sampler: "grid" },
    "config",
    "space.x",
    /list the values/,
  );
  await refused({ sampler: "tpee" }, "usage", "sampler", /did you mean "tpe"/);
  await refused({ pruner: "sha" }, "usage", "pruner", /median, asha, hyperband/);
  await refused({ direction: "down" }, "usage", "direction", /minimize, maximize/);
  for (const trials of [0, -3, 2.5, NaN, Infinity, "10", undefined]) {
    await refused({ trials: trials as number }, "usage", "trials", /trials: 30/);
  }
  await refused({ parallel: 0 }, "usage", "parallel", /parallel: 1/);
  await refused({ objective: 5 }, "usage", "objective", /params, trial/);
  await refused({ study: "" }, "usage", "study", /name the study/);
  await refused({ pruner: "hyperband" }, "usage", "prunerOptions.maxResource", /maxResource/);
  await refused(
    { sampler: "random", samplerOptions: { nStartupTrials: 3 } },
    "usage",
    "samplerOptions.nStartupTrials",
    /has no options/,
  );
  await refused(
    { pruner: "median", prunerOptions: { nStartupTrial: 3 } },
    "usage",
    "prunerOptions.nStartupTrial",
    /did you mean 'nStartupTrials'/,
  );
  await refused({ storage: "mysql://host/db" }, "usage", "storage", /postgres:\/\//);
  await refused({ onNotice: "stderr" }, "usage", "onNotice", /console\.warn/);
  // a misspelt option name is refused, not ignored (the study ran with tpe and 2 trials)
  await refused({ samplr: "random" }, "usage", "samplr", /did you mean 'sampler'/);
  await refused({ trial: 3 }, "usage", "trial", /did you mean 'trials'/);
  await refused({ signal: "stop" }, "usage", "signal", /AbortController/);
  await refused({ workerId: 7 }, "usage", "workerId", /workerId: "gpu-1"/);
  // a setting out of its range: asha's reductionFactor 1 hung the study, 0 pruned every trial;
  // hyperband's 1 threw a RangeError, TPE's gamma as a number a TypeError, both as FAILED trials
  for (
    const [pruner, prunerOptions, where] of [
      ["asha", { reductionFactor: 1 }, "reductionFactor"],
      ["asha", { reductionFactor: 0 }, "reductionFactor"],
      ["asha", { minResource: 0 }, "minResource"],
      ["hyperband", { maxResource: 9, reductionFactor: 1 }, "reductionFactor"],
      ["hyperband", { maxResource: 9, minResource: 20 }, "minResource"],
      ["median", { nStartupTrials: "2" }, "nStartupTrials"],
      ["median", { nWarmupSteps: NaN }, "nWarmupSteps"],
      ["median", { intervalSteps: 0 }, "intervalSteps"],
    ] as const
  ) {
    await refused({ pruner, prunerOptions }, "usage", `prunerOptions.${where}`, /./);
  }
  for (
    const [samplerOptions, where, hint] of [
      [{ gamma: 0.25 }, "gamma", /gamma: \(n\) =>/],
      [{ weights: [1, 2] }, "weights", /weights: \(n\) =>/],
      [{ priorWeight: -1 }, "priorWeight", /priorWeight: 1/],
      [{ nEiCandidates: 0 }, "nEiCandidates", /nEiCandidates: 1/],
      [{ considerEndpoints: "yes" }, "considerEndpoints", /true or false/],
    ] as const
  ) {
    await refused({ sampler: "tpe", samplerOptions }, "usage", `samplerOptions.${where}`, hint);
  }
  assert.equal(calls, 0);
});

Deno.test("optimize (mod.ts): trial.report refuses a step or value it cannot record, naming it, and the study goes on", async () => {
  const reports: [unknown, unknown][] = [[NaN, 1], [-1, 1], [1.5, 1], [1, "0.5"], [1, undefined]];
  const result = await optimize({
    space: { x: { type: "int", low: 0, high: reports.length } },
    sampler: "grid",
    trials: reports.length + 1,
    objective: async ({ x }, trial) => {
      const report = reports[x as number];
      if (report) await trial.report(report[0] as number, report[1] as number);
      else assert.equal(await trial.report(0, NaN), false); // a NaN value is a value
      return x as number;
    },
  });
  const byX = new Map(result.trials.map((t) => [t.params.x as number, t]));
  reports.forEach(([step, value], x) => {
    const trial = byX.get(x)!;
    assert.equal(trial.state, "FAILED", `report(${step}, ${value})`);
    // (a NaN step reached the storage: "NOT NULL constraint failed: intermediate.step")
    assert.match(
      trial.reason ?? "",
      typeof step === "number" && Number.isInteger(step) && step >= 0
        ? /^objective threw: Cannot report at step 1: 'value' must be a number/
        : /^objective threw: Cannot report: 'step' must be a whole number >= 0/,
    );
  });
  assert.equal(byX.get(reports.length)!.state, "COMPLETE");
});

Deno.test("optimize: a step reported again is ignored, as Optuna's trial.report ignores it: its first value stays, and the pruner does not judge it again", async () => {
  // asha's rung 0 is step 1: trial 0 reaches it alone, and goes on; trial 1 reaches it better,
  // and goes on; then reports step 1 again, worse than trial 0 (judged again, it was pruned)
  const reports = [[[0, 5], [1, 5], [1, 5]], [[0, 1], [1, 1], [1, 9]]];
  const answers: boolean[][] = [];
  const result = await optimize({
    space: { x: { type: "int", low: 0, high: 1 } },
    sampler: "grid",
    trials: 2,
    pruner: "asha",
    objective: async ({ x }, trial) => {
      const said: boolean[] = [];
      for (const [step, value] of reports[x as number]) said.push(await trial.report(step, value));
      answers.push(said);
      return x as number;
    },
  });
  assert.deepEqual(result.trials.map((t) => t.state), ["COMPLETE", "COMPLETE"]);
  assert.deepEqual(result.trials.map((t) => [...t.intermediate]), [[[0, 5], [1, 5]], [[0, 1], [
    1,
    1,
  ]]]);
  assert.deepEqual(answers, [[false, false, false], [false, false, false]]);
});

Deno.test("the README's optimize example runs through mod.ts", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  const example = blocks.find((block) => block.includes("optimize({"));
  assert.ok(example, "the README has an optimize example");
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/example.ts`;
    const mod = new URL("../mod.ts", import.meta.url).href;
    assert.match(example, /from "\.\/mod\.ts"/);
    await Deno.writeTextFile(file, example.replace(/from "\.\/mod\.ts"/, `from "${mod}"`));
    const logged: unknown[][] = [];
    const log = console.log;
    console.log = (...args: unknown[]) => logged.push(args);
    try {
      await import(`file://${file}`);
    } finally {
      console.log = log;
    }
    assert.equal(logged.length, 1, JSON.stringify(logged));
    const [best, params] = logged[0] as [number, { lr: number; width: number }];
    assert.ok(typeof best === "number" && Number.isFinite(best), JSON.stringify(logged));
    assert.ok(params.lr > 0 && Number.isInteger(params.width), JSON.stringify(params));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Runs `body` with console's printing methods recording what they are given instead. */
async function consoleOutput(body: () => Promise<void>): Promise<string[]> {
  const methods = ["log", "info", "debug", "warn", "error"] as const;
  const saved = methods.map((name) => console[name]);
  const printed: string[] = [];
  for (const name of methods) {
    console[name] = (...args: unknown[]) => printed.push(`${name}: ${args.join(" ")}`);
  }
  try {
    await body();
  } finally {
    methods.forEach((name, i) => (console[name] = saved[i]));
  }
  return printed;
}

Deno.test("optimize prints nothing: its budget's notices go to onNotice, where one is given", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const options = {
      space: { x: { type: "int", low: 0, high: 3 } },
      objective: ({ x }: { x?: unknown }) => x as number,
      sampler: "grid",
      storage: `sqlite:${dir}/study.db`,
      study: "grid",
    } as const;
    const notices: string[] = [];
    const printed = await consoleOutput(async () => {
      // a grid of 4 points for a budget of 10, then a study that has its trials: each noticed
      const first = await optimize({ ...options, trials: 10 });
      assert.equal(first.trials.length, 4);
      const again = await optimize({ ...options, trials: 10 });
      assert.equal(again.ran.length, 0);
      const told = await optimize({
        ...options,
        trials: 10,
        onNotice: (message) => notices.push(message),
      });
      assert.equal(told.ran.length, 0);
      // in memory, and through the median pruner, with nothing to notice
      await optimize({
        space,
        trials: 8,
        pruner: "median",
        prunerOptions: { nStartupTrials: 2 },
        objective: async (params, trial) => {
          const f = quadratic(params);
          for (let step = 0; step < 3; step++) if (await trial.report(step, f)) break;
          return f;
        },
      });
    });
    assert.deepEqual(printed, []);
    assert.deepEqual(notices, [
      "notice: every one of the grid sampler's 4 points has a trial in study 'grid' (its 4 " +
      "trials): no new trial is sampled",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("optimize: a study run again with the same seed draws the same params, whatever the worker's id", async () => {
  const draws = async (seed: number, sampler: "random" | "tpe") => {
    const result = await optimize({
      space: { ...space, k: { type: "choice", values: ["a", "b", "c"] } },
      trials: 14,
      sampler,
      pruner: "none",
      seed,
      // (no workerId: each call's own, with a random suffix)
      objective: quadratic,
    });
    return result.trials.map((trial) => JSON.stringify(trial.params));
  };
  for (const sampler of ["random", "tpe"] as const) {
    const first = await draws(3, sampler);
    assert.deepEqual(await draws(3, sampler), first, `${sampler}: the same seed, the same params`);
    assert.equal(new Set(first).size, first.length, `${sampler}: no two trials alike`);
    assert.notDeepEqual(await draws(4, sampler), first, `${sampler}: another seed, other params`);
  }
});

Deno.test("optimize: a TPE or pruner setting given as undefined keeps its default", async () => {
  const unset: { n?: number } = {};
  const result = await optimize({
    space,
    trials: 14,
    sampler: "tpe",
    samplerOptions: {
      nStartupTrials: unset.n,
      nEiCandidates: unset.n,
      priorWeight: unset.n,
      gamma: undefined,
      weights: undefined,
    },
    pruner: "median",
    prunerOptions: { nStartupTrials: unset.n },
    objective: quadratic,
  });
  assert.deepEqual(result.trials.map((t) => t.state), new Array(14).fill("COMPLETE"));
  for (const trial of result.trials) {
    assert.ok(Number.isFinite(trial.params.x) && Number.isFinite(trial.params.y));
  }
});

Deno.test("optimize: its signal stops the study after the running trial, as Optuna's study.stop(): that trial runs to its end, and the result says why it stopped", async () => {
  const controller = new AbortController();
  const seen: boolean[] = [];
  const result = await optimize({
    space: { x: { type: "uniform", low: -5, high: 5 } },
    trials: 5,
    seed: 3,
    signal: controller.signal,
    objective: async (params, trial) => {
      controller.abort("enough");
      // (given a moment to reach it, were the study's signal to abort the trial's)
      await new Promise((resolve) => setTimeout(resolve, 20));
      seen.push(trial.signal.aborted);
      return (params.x as number) ** 2;
    },
  });
  assert.deepEqual(seen, [false]);
  assert.deepEqual(result.trials.map((t) => t.state), ["COMPLETE"]);
  assert.equal(result.stopped, "enough");
  assert.equal(result.interrupted, undefined);
  // (a study that ran its budget was not stopped)
  const whole = await optimize({
    space: { x: { type: "uniform", low: -5, high: 5 } },
    trials: 2,
    objective: (params) => (params.x as number) ** 2,
  });
  assert.equal(whole.stopped, undefined);
});
