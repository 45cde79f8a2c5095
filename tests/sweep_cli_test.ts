import assert from "node:assert/strict";
import { loadConfig, openStorage, runSweep } from "../mod.ts";
import type { StudyDefinition } from "../mod.ts";
import { checkTuneMetric } from "../runtime/tune.ts";
import { formatNumber } from "../number_format.ts";
import { anneal, readNdjson, tempRunsDir } from "./_helpers.ts";
import { tenByEightPaths } from "../sweeps/testing/huge_grid.ts";

/** A sweep of two tiny trials (one epoch of 64 samples each) over the learning rate. */
async function writeSweepConfig(dir: string): Promise<string> {
  const file = `${dir}/sw.json`;
  await Deno.writeTextFile(
    file,
    JSON.stringify({
      name: "sw",
      backend: "cpu",
      runsDir: dir,
      epochs: 1,
      data: { kind: "synthetic-linear", n: 64, validationSplit: 0.25 },
      sweep: {
        space: { "optimizer.lr": { type: "logUniform", low: 0.0001, high: 0.1 } },
        trials: 2,
        sampler: "random",
        pruner: "none",
      },
    }),
  );
  return file;
}

async function storedStudy(dir: string) {
  const storage = await openStorage(`sqlite:${dir}/sweeps.db`);
  try {
    const study = await storage.loadStudy("sw");
    return {
      definition: study.space as StudyDefinition,
      trials: await storage.listTrials(study.id),
    };
  } finally {
    await storage.close();
  }
}

Deno.test("anneal sweep --trials extends a study to that many trials in all, under other execution settings", async () => {
  await using runs = await tempRunsDir();
  const config = await writeSweepConfig(runs.dir);
  const first = await anneal("sweep", "-c", config);
  assert.equal(first.code, 0, first.stderr);
  assert.equal((await storedStudy(runs.dir)).trials.length, 2);

  const more = await anneal(
    "sweep",
    "-c",
    config,
    "--trials",
    "5",
    "--parallel",
    "2",
    "--sampler",
    "tpe",
  );
  assert.equal(more.code, 0, more.stderr);
  // the first line says what the study has, and what is left of the budget asked for
  assert.match(
    more.stdout,
    /^sweep sw: the study has 2 trials \(2 complete\); its budget is 5 trials in all: 3 more to sample; sampler tpe \(a random search at 10 trials or fewer: TPE models the results once 10 trials have finished\), pruner none, 2 at a time;/,
  );
  assert.match(more.stdout, /study sw: 5 trials \(5 complete\)/);
  const { definition, trials } = await storedStudy(runs.dir);
  assert.deepEqual(trials.map((t) => t.number), [0, 1, 2, 3, 4]);
  // The study holds the settings it was last run with, for `anneal worker` on other machines.
  assert.equal(definition.sweep.trials, 5);
  assert.equal(definition.sweep.sampler, "tpe");
  assert.equal(definition.sweep.parallel, 2);

  const again = await anneal("sweep", "-c", config, "--trials", "5");
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /already has 5 trials and its budget is 5: no new trial is sampled/);
  assert.equal((await storedStudy(runs.dir)).trials.length, 5);
  // a worker has no --trials to ask for more with: its notice says how the budget is raised
  const worker = await anneal(
    "worker",
    "--storage",
    `sqlite:${runs.dir}/sweeps.db`,
    "--study",
    "sw",
  );
  assert.equal(worker.code, 0, worker.stderr);
  assert.match(worker.stderr, /already has 5 trials and its budget is 5: no new trial is sampled/);
  assert.ok(
    worker.stderr.includes(
      "\n  hint: a worker runs the budget the study holds (it has no --trials); to raise it, run " +
        "the study with more, which workers then join: anneal sweep -c CONFIG --storage " +
        `sqlite:${runs.dir}/sweeps.db --study sw --trials N\n`,
    ),
    worker.stderr,
  );
  assert.equal((await storedStudy(runs.dir)).trials.length, 5);
});

Deno.test("anneal sweep counts a study's trials once each, and a retry of one (after an interruption) apart", async () => {
  await using runs = await tempRunsDir();
  const config = await writeSweepConfig(runs.dir);
  assert.equal((await anneal("sweep", "-c", config)).code, 0);
  // a third trial, interrupted as it ran: FAILED, and queued to run again as trial 3
  const storage = await openStorage(`sqlite:${runs.dir}/sweeps.db`);
  try {
    const study = await storage.loadStudy("sw");
    const third = await storage.createTrial(study.id, {
      params: { "optimizer.lr": 0.01 },
      claimBy: "a-worker",
    });
    const { retried } = await storage.interruptTrial(third!.id, "interrupted (SIGINT received)");
    assert.equal(retried[0].number, 3);
  } finally {
    await storage.close();
  }
  const again = await anneal("sweep", "-c", config, "--trials", "3");
  assert.equal(again.code, 0, again.stderr);
  assert.match(
    again.stdout,
    /^sweep sw: the study has 3 trials \(2 complete, 1 waiting\); its budget is 3 trials in all: none left to sample;/,
  );
  // trial 2's FAILED record is not an outcome: it ran again, as trial 3
  assert.match(again.stdout, /\nstudy sw: 3 trials \(3 complete\); 1 retry ran \(trial 3\)\n/);
  // and so does its report (it said "4 trials")
  assert.match(
    await Deno.readTextFile(`${runs.dir}/sw/sweep.html`),
    /<p>3 trials \(3 complete\); 1 retry ran \(trial 3\); minimize/,
  );
  assert.equal((await storedStudy(runs.dir)).trials.length, 4);
});

Deno.test("anneal sweep on a study with another search space or base config names each difference", async () => {
  await using runs = await tempRunsDir();
  const config = await writeSweepConfig(runs.dir);
  assert.equal((await anneal("sweep", "-c", config)).code, 0);
  const changed = await anneal(
    "sweep",
    "-c",
    config,
    "--set",
    'sweep.space={"optimizer.lr":{"type":"logUniform","low":0.001,"high":1}}',
    "--set",
    "epochs=2",
  );
  assert.equal(changed.code, 1);
  assert.match(changed.stderr, /error\[storage\]: Cannot load study 'sw'/);
  assert.match(changed.stderr, /base\.epochs: 1 stored, 2 given/);
  assert.match(changed.stderr, /space\["optimizer\.lr"\]\.low: 0\.0001 stored, 0\.001 given/);
  assert.match(changed.stderr, /space\["optimizer\.lr"\]\.high: 0\.1 stored, 1 given/);
  assert.match(changed.stderr, /hint: .*--study NAME/);
  // refused before the study's header: it read the budget as if the sweep went on ("the study
  // has 2 trials ...: none left to sample") above the refusal
  assert.equal(changed.stdout, "");
  assert.equal((await storedStudy(runs.dir)).trials.length, 2);
  // Under a new study name the changed sweep runs.
  const renamed = await anneal("sweep", "-c", config, "--set", "epochs=2", "--study", "sw-2");
  assert.equal(renamed.code, 0, renamed.stderr);
});

Deno.test("anneal sweep of valLoss under optimizer.maximize keeps the trial whose loss rose most; a space over maximize is refused", async () => {
  await using runs = await tempRunsDir();
  const file = await writeSweepConfig(runs.dir);
  const config = JSON.parse(await Deno.readTextFile(file));
  await Deno.writeTextFile(
    file,
    JSON.stringify({
      ...config,
      epochs: 2,
      optimizer: { name: "sgd", lr: 0.01, maximize: true },
      sweep: {
        ...config.sweep,
        space: { "optimizer.lr": { type: "grid", values: [0.001, 0.05] } },
        sampler: "grid",
      },
    }),
  );
  // trials that differ in maximize cannot share a direction for the loss: refused before any runs
  const varied = await anneal(
    "sweep",
    "-c",
    file,
    "--set",
    'sweep.space={"optimizer.maximize":{"type":"choice","values":[true,false]}}',
  );
  assert.equal(varied.code, 1, varied.stderr);
  assert.match(
    varied.stderr,
    /error\[config\]: Cannot optimise 'valLoss' with optimizer\.maximize in sweep\.space: the trials that maximize push valLoss up and the others push it down/,
  );
  assert.match(varied.stderr, /hint: sweep one direction at a time/);
  assert.deepEqual(
    (await Array.fromAsync(Deno.readDir(runs.dir), (e) => e.name)).filter((name) =>
      name !== "sw.json" && name !== "sweeps.db"
    ),
    [],
  );

  const swept = await anneal("sweep", "-c", file);
  assert.equal(swept.code, 0, swept.stderr);
  assert.doesNotMatch(swept.stdout, /warning/);
  // the header says which way the metric is optimised
  assert.match(swept.stdout, /^sweep sw: .* at a time; maximize valLoss over /m);
  const storage = await openStorage(`sqlite:${runs.dir}/sweeps.db`);
  try {
    const study = await storage.loadStudy("sw");
    assert.equal(study.direction, "maximize");
    const trials = await storage.listTrials(study.id);
    assert.equal(trials.length, 2);
    // each trial's value is its highest valLoss, and the best trial the one with the highest
    const dirs = await Array.fromAsync(Deno.readDir(`${runs.dir}/sw`), (e) => e.name);
    for (const trial of trials) {
      const dir = dirs.find((name) => name.startsWith(`trial-${trial.number}-`))!;
      const epochs = await readNdjson(`${runs.dir}/sw/${dir}/epochs.ndjson`);
      assert.equal(trial.value, Math.max(...epochs.map((e) => e.valLoss)));
    }
    const best = await storage.bestTrial(study.id);
    assert.equal(best!.value, Math.max(...trials.map((t) => t.value!)));
    assert.match(swept.stdout, new RegExp(`best: trial ${best!.number}, valLoss = `));
  } finally {
    await storage.close();
  }

  // a direction set against the optimizer is the user's: kept, with a warning before the trials
  const against = await anneal(
    "sweep",
    "-c",
    file,
    "--set",
    "sweep.direction=minimize",
    "--trials",
    "1",
    "--study",
    "sw-min",
  );
  assert.equal(against.code, 0, against.stderr);
  assert.match(against.stdout, /^sweep sw-min: .* at a time; minimize valLoss over /m);
  assert.match(
    against.stdout,
    /warning: sweep\.direction is 'minimize' while every trial's optimizer\.maximize pushes valLoss up: the best trial is the one whose valLoss rose least\n {2}hint: .*--set sweep\.direction=maximize\n(?:(?:warning| {2}hint): .*\n)*trial +0/,
  );
});

Deno.test("a sweep or tune metric no trial logs is refused before any trial runs, with the metrics a trial logs and the closest", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const file = await writeSweepConfig(dir);
  // another task's metric: the data is a regression
  const sweep = await anneal("sweep", "-c", file, "--set", "sweep.metric=valAccuracy");
  assert.equal(sweep.code, 1, sweep.stderr);
  assert.match(
    sweep.stderr,
    /error\[config\]: Cannot optimise 'valAccuracy' in the sweep: 'valAccuracy' is logged for classification and binary tasks only.*; the epochs of a trial log loss, mae, valLoss, valMae \(at sweep\.metric\)/,
  );
  assert.match(sweep.stderr, /hint: optimise 'valMae' instead \(--set sweep\.metric=valMae\)/);
  // a misspelling, with a direction that must change with the suggestion
  const typo = await anneal(
    "sweep",
    "-c",
    file,
    "--set",
    "sweep.metric=val_los",
    "--set",
    "sweep.direction=maximize",
  );
  assert.equal(typo.code, 1, typo.stderr);
  assert.match(
    typo.stderr,
    /hint: did you mean 'valLoss'\? \(--set sweep\.metric=valLoss --set sweep\.direction=minimize\)/,
  );
  // no validation split: a trial logs no val metric
  const noSplit = await anneal(
    "tune",
    "-c",
    file,
    "--set",
    "data.validationSplit=0",
    "--set",
    "sweep.metric=valMae",
  );
  assert.equal(noSplit.code, 1, noSplit.stderr);
  assert.match(
    noSplit.stderr,
    /Cannot optimise 'valMae' in the sweep: there is no validation split/,
  );
  assert.match(noSplit.stderr, /optimise 'mae' \(--set sweep\.metric=mae\)/);
  // the learning rate an epoch logs measures nothing of the model: no sweep or tune optimises it
  for (const command of ["sweep", "tune"]) {
    const rate = await anneal(command, "-c", file, "--set", "sweep.metric=lr");
    assert.equal(rate.code, 1, rate.stderr);
    assert.match(
      rate.stderr,
      /error\[config\]: Cannot optimise 'lr' in the sweep: 'lr' is the learning rate an epoch ended at, which the optimizer and the schedule set, not a measure of the model; the epochs of a trial log loss, mae, valLoss, valMae \(at sweep\.metric\)/,
    );
    assert.match(
      rate.stderr,
      /hint: optimise a metric of the model, e\.g\. 'valLoss' \(--set sweep\.metric=valLoss\)/,
    );
  }
  // nothing ran, nothing was set up: no runs directory of the study, no sweeps.db
  assert.deepEqual(await Array.fromAsync(Deno.readDir(dir), (e) => e.name), ["sw.json"]);
});

Deno.test("anneal tune without a sweep section refuses its default validation metric without a validation split before any run", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const file = `${dir}/tune.json`;
  // synthetic-linear holds nothing out by default; tune's own metric is valLoss
  const config = { backend: "cpu", runsDir: dir, epochs: 1, data: { kind: "synthetic-linear" } };
  await Deno.writeTextFile(file, JSON.stringify(config));
  const refused = await anneal("tune", "-c", file, "--budget", "2");
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(
    refused.stderr,
    /error\[config\]: Cannot optimise 'valLoss' in tune \(its default metric: the config has no sweep\.metric\): there is no validation split to compute it on \(data\.validationSplit is 0\); the epochs of a run log loss, mae \(/,
  );
  assert.ok(
    refused.stderr.includes(
      `hint: hold out a validation split (--set data.validationSplit=0.1) or optimise 'loss' (--set sweep.metric=loss)`,
    ),
    refused.stderr,
  );
  // a sweep's space over the split does not give tune's runs one: tune trains the config as is
  const spaced = await anneal(
    "tune",
    "-c",
    file,
    "--set",
    'sweep={"space":{"data.validationSplit":{"type":"choice","values":[0.2]}}}',
  );
  assert.equal(spaced.code, 1, spaced.stderr);
  assert.match(
    spaced.stderr,
    /Cannot optimise 'valLoss' in the sweep: there is no validation split/,
  );
  // nothing ran
  const entries = await Array.fromAsync(Deno.readDir(dir), (e) => e.name);
  assert.deepEqual(entries, ["tune.json"]);
  // both fixes of the hint pass the check
  checkTuneMetric(await loadConfig(file, ["data.validationSplit=0.1"]));
  checkTuneMetric(await loadConfig(file, ["sweep.metric=loss"]));
  // ...and a sweep section of a metric alone, which tune reads, is no sweep: its space is empty
  const spaceless = await anneal("sweep", "-c", file, "--set", "sweep.metric=loss");
  assert.equal(spaceless.code, 1, spaceless.stderr);
  assert.match(spaceless.stderr, /error\[config\]: Cannot sweep an empty sweep\.space: /);
});

Deno.test("a study an older anneal stored to minimize a maximized loss is refused saying what, why and how to go on", async () => {
  await using runs = await tempRunsDir();
  const file = await writeSweepConfig(runs.dir);
  const written = JSON.parse(await Deno.readTextFile(file));
  await Deno.writeTextFile(
    file,
    JSON.stringify({ ...written, optimizer: { name: "sgd", lr: 0.01, maximize: true } }),
  );
  // the study as an anneal stored it before the loss's direction followed optimizer.maximize
  const { sweep, ...base } = await loadConfig(file);
  const storage = await openStorage(`sqlite:${runs.dir}/sweeps.db`);
  try {
    const definition: StudyDefinition = { kind: "anneal-sweep", sweep: sweep!, base };
    await storage.createStudy("sw", "minimize", definition);
  } finally {
    await storage.close();
  }
  const refused = await anneal("sweep", "-c", file);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(
    refused.stderr,
    /error\[storage\]: Cannot run study 'sw' to maximize valLoss \(for the loss the direction follows optimizer\.maximize, which every trial has\): it was created to minimize valLoss, and its 0 trials were recorded that way; anneals before the loss's direction followed optimizer\.maximize created such a study to minimize it\. A trial's value is its best valLoss in the study's direction, and the study's best trial the best of those: trials ranked the other way would not compare with them/,
  );
  assert.match(
    refused.stderr,
    /hint: start a new study for this sweep, whose trials run again: `anneal sweep -c CONFIG --study NAME`; or go on with 'sw' in its own direction: --set sweep\.direction=minimize \(its best trial is then the one whose valLoss rose least\)/,
  );
  assert.doesNotMatch(refused.stdout, /^trial /m, "refused before any trial");
  // a worker runs the study as stored: its hint says how to change it from anneal sweep
  const worker = await anneal(
    "worker",
    "--storage",
    `sqlite:${runs.dir}/sweeps.db`,
    "--study",
    "sw",
  );
  assert.equal(worker.code, 1, worker.stderr);
  assert.match(worker.stderr, /Cannot run study 'sw' to maximize valLoss/);
  assert.match(
    worker.stderr,
    /hint: a worker runs a study as it is stored: .*`anneal sweep -c CONFIG --storage URL --study sw --set sweep\.direction=minimize`/,
  );
  // both ways on go ahead
  const kept = await anneal(
    "sweep",
    "-c",
    file,
    "--set",
    "sweep.direction=minimize",
    "--trials",
    "1",
  );
  assert.equal(kept.code, 0, kept.stderr);
  assert.match(kept.stdout, /study sw: 1 trial \(1 complete\)/);
  const renamed = await anneal("sweep", "-c", file, "--study", "sw-max", "--trials", "1");
  assert.equal(renamed.code, 0, renamed.stderr);
  assert.match(renamed.stdout, /^sweep sw-max: .* maximize valLoss over /m);
});

/**
 * `anneal sweep -c config` over `space` (JSON) by `sampler`, for `trials` trials, each of `sets`
 * (`path=value`) set before the space.
 */
function sweepOver(
  config: string,
  space: string,
  sampler: string,
  trials: number | string,
  ...sets: string[]
) {
  return anneal(
    "sweep",
    "-c",
    config,
    ...sets.flatMap((set) => ["--set", set]),
    "--set",
    `sweep.space=${space}`,
    "--sampler",
    sampler,
    "--trials",
    String(trials),
  );
}

Deno.test("a grid of more points than the study's trials is a warning naming the values never tried; a grid over a range is refused before the storage", async () => {
  await using runs = await tempRunsDir();
  const config = await writeSweepConfig(runs.dir);
  const grid = JSON.stringify({
    "optimizer.lr": { type: "grid", values: [0.001, 0.01, 0.1] },
    batchSize: { type: "grid", values: [8, 16] },
  });
  const out = await sweepOver(config, grid, "grid", 3);
  assert.equal(out.code, 0, out.stderr);
  assert.match(
    out.stdout,
    /warning: the grid has 6 points and the study 3 trials: .* so optimizer\.lr is tried at 0\.001, 0\.01 only \(of 3 values\)\n {2}hint: run the whole grid \(--trials 6;/,
  );
  assert.doesNotMatch(out.stdout, /batchSize is tried/);
  // the study goes on with 5 trials: its 3 hold their points, and 2 are left for the other 3
  const more = await sweepOver(config, grid, "grid", 5);
  assert.equal(more.code, 0, more.stderr);
  assert.match(
    more.stdout,
    /warning: the study's budget of 5 trials, 3 of which it already has, leaves 2 for its 3 points no trial has tried \(of the grid's 6\): .* so the last 1 of the grid's points in its order is not run\n {2}hint: run the whole grid \(--trials 6;/,
  );
  const whole = await sweepOver(config, grid, "grid", 6);
  assert.equal(whole.code, 0, whole.stderr);
  assert.doesNotMatch(whole.stdout, /warning: the grid/);
  assert.equal((await storedStudy(runs.dir)).trials.length, 6);

  await using other = await tempRunsDir();
  const range = await anneal("sweep", "-c", await writeSweepConfig(other.dir), "--sampler", "grid");
  assert.equal(range.code, 1, range.stderr);
  assert.match(
    range.stderr,
    /Cannot grid-search 'optimizer\.lr': a logUniform range has no grid \(at sweep\.space\["optimizer\.lr"\]\)/,
  );
  assert.deepEqual(
    (await Array.fromAsync(Deno.readDir(other.dir))).map((entry) => entry.name),
    ["sw.json"],
    "no sweeps.db",
  );
});

Deno.test("a grid of 3 x 10^8 points, a path of it drawn under a condition, starts at once and runs the trials asked for, in the grid's order", async () => {
  await using runs = await tempRunsDir();
  const config = await writeSweepConfig(runs.dir);
  // 10^8 ways of eight paths, and 3 of shuffling (dropLast drawn beside a shuffle only), last
  const grid = JSON.stringify({
    ...tenByEightPaths(),
    "data.shuffle": { type: "grid", values: [true, false] },
    "data.dropLast": { type: "grid", values: [false, true], when: { "data.shuffle": true } },
  });
  const sweep = (trials: string) => sweepOver(config, grid, "grid", trials);
  const started = performance.now();
  const first = await sweep("2");
  assert.equal(first.code, 0, first.stderr);
  assert.match(
    first.stdout,
    /warning: the grid has 300000000 points and the study 2 trials: .* so seed is tried at 1 only \(of 10 values\), .*data\.noise is tried at 0\.1 only \(of 10 values\), data\.shuffle is tried at true only \(of 2 values\)\n {2}hint: run the whole grid \(--trials 300000000;/,
  );
  assert.doesNotMatch(first.stdout, /dropLast is tried/);
  // a run that goes on takes the next point: the one that does not shuffle, without a dropLast
  const more = await sweep("3");
  assert.equal(more.code, 0, more.stderr);
  assert.match(
    more.stdout,
    /leaves 1 for its 299999998 points no trial has tried \(of the grid's 300000000\)/,
  );
  // (it took minutes and ran out of memory where the grid's points were listed)
  assert.ok(performance.now() - started < 120_000, `${performance.now() - started} ms`);
  const { trials } = await storedStudy(runs.dir);
  assert.deepEqual(
    trials.map((t) => [t.state, t.params["data.shuffle"], t.params["data.dropLast"]]),
    [["COMPLETE", true, false], ["COMPLETE", true, true], ["COMPLETE", false, undefined]],
  );
  assert.ok(trials.every((t) => t.params.seed === 1 && t.params["data.noise"] === 0.1));
});

Deno.test("a study continued with --sampler grid after trials of another sampler runs each grid point they left, once, and ends when the grid is done", async () => {
  await using runs = await tempRunsDir();
  const config = await writeSweepConfig(runs.dir);
  const grid = JSON.stringify({
    "optimizer.lr": { type: "grid", values: [0.001, 0.01, 0.1] },
    batchSize: { type: "grid", values: [8, 16] },
  });
  const sweep = (...args: string[]) =>
    anneal("sweep", "-c", config, "--set", `sweep.space=${grid}`, ...args);
  // quasi-random: its points follow the sweep's seed
  const first = await sweep("--sampler", "quasiRandom", "--trials", "3");
  assert.equal(first.code, 0, first.stderr);
  const point = (params: Record<string, unknown>) =>
    `${params["optimizer.lr"]}/${params.batchSize}`;
  assert.deepEqual(
    (await storedStudy(runs.dir)).trials.map((t) => point(t.params)),
    ["0.001/16", "0.1/16", "0.01/8"],
  );
  // the grid's points in its order, less those: the grid trials run these, and no others
  const left = ["0.001/8", "0.01/16", "0.1/8"];

  const gridRun = await sweep("--sampler", "grid", "--trials", "20");
  assert.equal(gridRun.code, 0, gridRun.stderr);
  const { trials } = await storedStudy(runs.dir);
  assert.deepEqual(trials.slice(3).map((t) => point(t.params)), left, "the grid's points left");
  assert.ok(trials.every((t) => t.state === "COMPLETE"));
  assert.match(
    gridRun.stderr,
    /notice: the grid sampler has 6 points, 3 of them tried by the 3 trials of study 'sw': running the other 3, each once, so the study ends with 6 trials, not its budget of 20/,
  );

  const again = await sweep("--sampler", "grid", "--trials", "20");
  assert.equal(again.code, 0, again.stderr);
  assert.match(
    again.stderr,
    /notice: every one of the grid sampler's 6 points has a trial in study 'sw' \(its 6 trials\): no new trial is sampled/,
  );
  assert.equal((await storedStudy(runs.dir)).trials.length, 6);
});

Deno.test("a choice of whole sections and lists: each trial trains with the section it drew; a section with a misspelled field is refused before any trial", async () => {
  await using runs = await tempRunsDir();
  const config = await writeSweepConfig(runs.dir);
  // the schedules differ in their fields, so "scheduler.name" alone could not switch them
  const cosine = { name: "cosine", tMax: 4 };
  const step = { name: "step", stepSize: 2, gamma: 0.5 };
  const space = JSON.stringify({
    scheduler: { type: "grid", values: [cosine, step] },
    model: { type: "grid", values: [{ kind: "linear" }, { kind: "mlp", hidden: [8, 4] }] },
  });
  const out = await sweepOver(config, space, "grid", 4);
  assert.equal(out.code, 0, out.stderr);
  assert.match(
    out.stdout,
    /trial +1 +COMPLETE .* scheduler=\{"name":"cosine","tMax":4\} model=\{"hidden":\[8,4\],"kind":"mlp"\}/,
  );
  const { trials } = await storedStudy(runs.dir);
  assert.equal(trials.length, 4);
  for (const trial of trials) {
    assert.equal(trial.state, "COMPLETE", trial.reason ?? "");
    const trained = JSON.parse(await Deno.readTextFile(`${trial.runDir}/config.json`));
    for (const path of ["scheduler", "model"] as const) {
      const drawn = trial.params[path] as Record<string, unknown>;
      for (const [key, value] of Object.entries(drawn)) assert.deepEqual(trained[path][key], value);
    }
  }
  const sweepHtml = await Deno.readTextFile(`${runs.dir}/sw/sweep.html`);
  assert.match(
    sweepHtml,
    /<td>\{&quot;gamma&quot;:0\.5,&quot;name&quot;:&quot;step&quot;,&quot;stepSize&quot;:2\}<\/td>/,
  );

  const typo = JSON.stringify({
    scheduler: { type: "choice", values: [cosine, { name: "step", stepsize: 2 }] },
  });
  const refused = await anneal(
    "sweep",
    "-c",
    config,
    "--study",
    "typo",
    "--set",
    `sweep.space=${typo}`,
  );
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(
    refused.stderr,
    /Cannot sweep 'scheduler' over \{"name":"step","stepsize":2\}: .*'scheduler\.stepsize': unknown field \(did you mean 'scheduler\.stepSize'\?\); every trial that draws it would fail on it/,
  );
  assert.doesNotMatch(refused.stdout, /trial +0/);
});

Deno.test("a space over optimizer.name: a trial of another optimizer than the base's trains with that optimizer's own defaults; a path one of its kinds has not is refused before any trial", async () => {
  await using runs = await tempRunsDir();
  const config = await writeSweepConfig(runs.dir);
  // the base optimizer is sgd (the seed's), read with its momentum, dampening and nesterov,
  // which adam and adamw have not, and its weightDecay 0, where adamw's default is 0.01
  const space = JSON.stringify({
    "optimizer.name": { type: "grid", values: ["sgd", "adam", "adamw"] },
  });
  const out = await sweepOver(config, space, "grid", 3, "optimizer.lr=0.05");
  assert.equal(out.code, 0, out.stderr);
  const { trials } = await storedStudy(runs.dir);
  const trained: Record<string, Record<string, unknown>> = {};
  for (const trial of trials) {
    assert.equal(trial.state, "COMPLETE", trial.reason ?? "");
    const name = trial.params["optimizer.name"] as string;
    trained[name] = JSON.parse(await Deno.readTextFile(`${trial.runDir}/config.json`)).optimizer;
  }
  // the rate the base sets is every trial's; the rest is each optimizer's own
  assert.deepEqual(Object.keys(trained).sort(), ["adam", "adamw", "sgd"]);
  for (const name of ["sgd", "adam", "adamw"]) assert.equal(trained[name].lr, 0.05);
  assert.equal(trained.sgd.momentum, 0);
  assert.equal(trained.adam.weightDecay, 0);
  assert.equal(trained.adamw.weightDecay, 0.01);
  for (const name of ["adam", "adamw"]) {
    for (const field of ["momentum", "dampening", "nesterov"]) {
      assert.ok(!(field in trained[name]), `${name} trained with sgd's ${field}`);
    }
  }

  // momentum beside adam: every trial drawing adam would fail on it
  const conditional = JSON.stringify({
    "optimizer.name": { type: "choice", values: ["sgd", "adam"] },
    "optimizer.momentum": { type: "uniform", low: 0, high: 0.9 },
  });
  const refused = await anneal(
    "sweep",
    "-c",
    config,
    "--study",
    "momentum",
    "--set",
    `sweep.space=${conditional}`,
  );
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(
    refused.stderr,
    /Cannot sweep 'optimizer\.momentum' beside 'optimizer\.name': "adam", one of optimizer\.name's values, has no field 'momentum', so every trial that draws it would fail \(at sweep\.space\["optimizer\.momentum"\]\)/,
  );
  // the hint writes the condition that draws momentum with sgd only
  assert.match(
    refused.stderr,
    /hint: draw it only with the names that have it, with a condition: "optimizer\.momentum": \{ \.\.\., "when": \{ "optimizer\.name": "sgd" \} \}; or drop "adam" from optimizer\.name's values or 'optimizer\.momentum' from the space, or sample whole optimizer sections/,
  );
  assert.doesNotMatch(refused.stdout, /trial +0/);

  // a schedule that needs a field the base's schedule has not
  const schedules = JSON.stringify({
    "scheduler.name": { type: "choice", values: ["cosine", "step"] },
  });
  const needs = await anneal(
    "sweep",
    "-c",
    config,
    "--study",
    "schedules",
    "--set",
    'scheduler={"name":"cosine","tMax":4}',
    "--set",
    `sweep.space=${schedules}`,
  );
  assert.equal(needs.code, 1, needs.stderr);
  assert.match(
    needs.stderr,
    /Cannot sweep 'scheduler\.name' over "step": it needs 'scheduler\.stepSize', which the base config's scheduler \(name "cosine"\) has not and the space does not give/,
  );
  assert.doesNotMatch(needs.stdout, /trial +0/);
});

Deno.test("a conditional space: momentum only for sgd runs a grid of the combinations trials draw, and the adam trial's params, line, config and best config have no momentum", async () => {
  await using runs = await tempRunsDir();
  const config = await writeSweepConfig(runs.dir);
  const space = JSON.stringify({
    "optimizer.name": { type: "grid", values: ["sgd", "adam"] },
    "optimizer.momentum": { type: "grid", values: [0, 0.9], when: { "optimizer.name": "sgd" } },
  });
  const out = await sweepOver(config, space, "grid", 4, "optimizer.lr=0.05");
  assert.equal(out.code, 0, out.stderr);
  assert.match(
    out.stdout,
    /over optimizer\.name, optimizer\.momentum \(when optimizer\.name is "sgd"\)/,
  );
  // three points, not four: adam's has no momentum to vary
  assert.match(out.stderr, /the grid sampler has 3 points; running 3 trials, not 4/);
  const lines = out.stdout.split("\n").filter((line) => /^trial +\d/.test(line));
  assert.equal(lines.length, 3, out.stdout);
  assert.ok(lines.some((line) => /optimizer\.name=sgd optimizer\.momentum=0(\s|$)/.test(line)));
  assert.ok(lines.some((line) => /optimizer\.name=sgd optimizer\.momentum=0\.9/.test(line)));
  const adamLine = lines.find((line) => /optimizer\.name=adam/.test(line));
  assert.ok(adamLine && !/momentum/.test(adamLine), out.stdout);

  const { trials } = await storedStudy(runs.dir);
  assert.deepEqual(
    trials.map((trial) => trial.params),
    [
      { "optimizer.name": "sgd", "optimizer.momentum": 0 },
      { "optimizer.name": "sgd", "optimizer.momentum": 0.9 },
      { "optimizer.name": "adam" },
    ],
  );
  for (const trial of trials) {
    assert.equal(trial.state, "COMPLETE", trial.reason ?? "");
    const trained = JSON.parse(await Deno.readTextFile(`${trial.runDir}/config.json`)).optimizer;
    assert.equal(trained.name, trial.params["optimizer.name"]);
    assert.equal(trained.momentum, trial.params["optimizer.momentum"]);
  }
  // the best config is the best trial's, with momentum only where it drew one
  const best = JSON.parse(await Deno.readTextFile(`${runs.dir}/sw/best_config.json`)).optimizer;
  const bestTrial = trials.reduce((a, b) => (b.value! < a.value! ? b : a));
  assert.equal(best.name, bestTrial.params["optimizer.name"]);
  assert.equal(best.momentum, bestTrial.params["optimizer.momentum"]);
  assert.match(
    out.stdout,
    new RegExp(
      `best: trial ${bestTrial.number}, valLoss = .* with ${
        Object.entries(bestTrial.params).map(([k, v]) =>
          `${k}=${typeof v === "number" ? formatNumber(v) : v}`
        ).join(" ").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
      }`,
    ),
  );

  // a condition on a value its choice has not is refused before any trial, naming the entry
  const typo = JSON.stringify({
    "optimizer.name": { type: "grid", values: ["sgd", "adam"] },
    "optimizer.momentum": { type: "grid", values: [0, 0.9], when: { "optimizer.name": "sdg" } },
  });
  const refused = await anneal(
    "sweep",
    "-c",
    config,
    "--study",
    "typo",
    "--set",
    `sweep.space=${typo}`,
  );
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(
    refused.stderr,
    /Cannot read sweep\.space\["optimizer\.momentum"\]'s condition: "sdg" is not one of the values of 'optimizer\.name' \("sgd", "adam"\)/,
  );
  assert.match(
    refused.stderr,
    /at sweep\.space\["optimizer\.momentum"\]\.when\["optimizer\.name"\]/,
  );
  assert.doesNotMatch(refused.stdout, /trial +0/);
});

Deno.test('a condition that names no path ("when": {}) draws its path in every trial: anneal sweep runs its grid, and goes on with the stored study', async () => {
  await using runs = await tempRunsDir();
  const config = await writeSweepConfig(runs.dir);
  // (as anneals before empty conditions were refused stored it)
  const space = JSON.stringify({
    "optimizer.name": { type: "grid", values: ["sgd", "adam"] },
    "optimizer.lr": { type: "grid", values: [0.01, 0.1], when: {} },
  });
  const first = await sweepOver(config, space, "grid", 2);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /over optimizer\.name, optimizer\.lr$/m);
  assert.doesNotMatch(first.stdout, /\(when/);
  const more = await sweepOver(config, space, "grid", 4);
  assert.equal(more.code, 0, more.stderr);
  assert.match(more.stdout, /^sweep sw: the study has 2 trials \(2 complete\); its budget is 4/);
  const { trials } = await storedStudy(runs.dir);
  assert.deepEqual(trials.map((trial) => trial.params), [
    { "optimizer.name": "sgd", "optimizer.lr": 0.01 },
    { "optimizer.name": "sgd", "optimizer.lr": 0.1 },
    { "optimizer.name": "adam", "optimizer.lr": 0.01 },
    { "optimizer.name": "adam", "optimizer.lr": 0.1 },
  ]);
});

Deno.test("a condition that excludes values, and a list of conditions: anneal sweep runs the grid of the combinations trials draw, and refuses an exclusion of every value before any trial", async () => {
  await using runs = await tempRunsDir();
  const config = await writeSweepConfig(runs.dir);
  // momentum for every optimizer but adam; weight decay for adam, or beside momentum 0.9
  const space = JSON.stringify({
    "optimizer.name": { type: "grid", values: ["sgd", "adam"] },
    "optimizer.momentum": {
      type: "grid",
      values: [0, 0.9],
      when: { "optimizer.name": { not: ["adam"] } },
    },
    "optimizer.weightDecay": {
      type: "grid",
      values: [0.001],
      when: [{ "optimizer.name": "adam" }, { "optimizer.momentum": 0.9 }],
    },
  });
  const out = await sweepOver(config, space, "grid", 4, "optimizer.lr=0.05");
  assert.equal(out.code, 0, out.stderr);
  assert.match(
    out.stdout,
    /over optimizer\.name, optimizer\.momentum \(when optimizer\.name is not "adam"\), optimizer\.weightDecay \(when optimizer\.name is "adam" or optimizer\.momentum is 0\.9\)/,
  );
  assert.match(out.stderr, /the grid sampler has 3 points; running 3 trials, not 4/);
  const { trials } = await storedStudy(runs.dir);
  assert.deepEqual(
    trials.map((trial) => trial.params),
    [
      { "optimizer.name": "sgd", "optimizer.momentum": 0 },
      { "optimizer.name": "sgd", "optimizer.momentum": 0.9, "optimizer.weightDecay": 0.001 },
      { "optimizer.name": "adam", "optimizer.weightDecay": 0.001 },
    ],
  );
  for (const trial of trials) {
    assert.equal(trial.state, "COMPLETE", trial.reason ?? "");
    const trained = JSON.parse(await Deno.readTextFile(`${trial.runDir}/config.json`)).optimizer;
    // (a trial that draws no decay keeps its optimizer's default, sgd's 0)
    assert.equal(trained.weightDecay, trial.params["optimizer.weightDecay"] ?? 0);
    assert.equal(trained.momentum, trial.params["optimizer.momentum"]);
  }

  const none = JSON.stringify({
    "optimizer.name": { type: "grid", values: ["sgd", "adam"] },
    "optimizer.momentum": {
      type: "grid",
      values: [0, 0.9],
      when: [{ "optimizer.name": "sgd" }, { "optimizer.name": { not: ["sgd", "adam"] } }],
    },
  });
  const refused = await anneal(
    "sweep",
    "-c",
    config,
    "--study",
    "none",
    "--set",
    `sweep.space=${none}`,
  );
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(
    refused.stderr,
    /Cannot read sweep\.space\["optimizer\.momentum"\]'s condition: it excludes every value of 'optimizer\.name' \("sgd", "adam"\), so no trial would draw it/,
  );
  assert.match(
    refused.stderr,
    /at sweep\.space\["optimizer\.momentum"\]\.when\[1\]\["optimizer\.name"\]/,
  );
  assert.doesNotMatch(refused.stdout, /trial +0/);
});

Deno.test("the learning-rate and run-length warnings of a conditional sweep name the condition under which trials draw the path", async () => {
  await using runs = await tempRunsDir();
  const config = await writeSweepConfig(runs.dir);
  // 48 training samples: batches of 16 take the onecycle's 3 steps
  const space = JSON.stringify({
    seed: { type: "grid", values: [1, 2] },
    "optimizer.lr": { type: "grid", values: [0.01, 0.1], when: { seed: 1 } },
    batchSize: { type: "grid", values: [16, 8], when: { seed: { not: 2 } } },
  });
  const out = await anneal(
    "sweep",
    "-c",
    config,
    "--set",
    'scheduler={"name":"onecycle","maxLr":0.05,"totalSteps":3}',
    "--set",
    `sweep.space=${space}`,
    "--sampler",
    "grid",
    "--trials",
    "1",
  );
  assert.equal(out.code, 0, out.stderr);
  assert.match(
    out.stdout,
    /warning: sweep\.space samples optimizer\.lr \(when seed is 1\), but every trial that draws it trains under the base config's onecycle, which ignores it/,
  );
  assert.match(
    out.stdout,
    /warning: sweep\.space samples batchSize \(when seed is not 2\), which changes how many steps a trial takes, but the onecycle schedule ends at a fixed step \(scheduler\.totalSteps = 3\)/,
  );
  const { trials } = await storedStudy(runs.dir);
  assert.deepEqual(trials.map((trial) => [trial.params, trial.state]), [
    [{ seed: 1, "optimizer.lr": 0.01, batchSize: 16 }, "COMPLETE"],
  ]);
});

Deno.test("a space of many conditional paths passes the up-front checks without multiplying them out; a condition too long to check is refused before any trial, saying so", async () => {
  await using runs = await tempRunsDir();
  const config = await writeSweepConfig(runs.dir);
  // eight choices, each with a path drawn under a condition on it: 8^6 x 4 ways of drawing them,
  // which the checks went through for each value of each path
  const eight = (values: (i: number) => unknown) => ({
    type: "choice",
    values: Array.from({ length: 8 }, (_, i) => values(i)),
  });
  const space = {
    seed: eight((i) => i + 1),
    "data.noise": { type: "uniform", low: 0.1, high: 0.5, when: { seed: { not: [2, 3] } } },
    "data.shuffle": { type: "choice", values: [true, false] },
    "data.dropLast": { type: "choice", values: [false, true], when: { "data.shuffle": true } },
    "earlyStopping.patience": eight((i) => i + 1),
    "earlyStopping.minDelta": {
      type: "uniform",
      low: 0,
      high: 0.01,
      when: { "earlyStopping.patience": [1, 2] },
    },
    "optimizer.dampening": eight((i) => i / 10),
    "optimizer.momentum": {
      type: "uniform",
      low: 0,
      high: 0.9,
      when: { "optimizer.dampening": 0 },
    },
    gradientAccumulation: { type: "choice", values: [1, 2] },
    "optimizer.weightDecay": {
      type: "uniform",
      low: 0,
      high: 0.01,
      when: { gradientAccumulation: 1 },
    },
    maxSteps: eight((i) => 100 * (i + 1)),
    maxWallTimeSeconds: { type: "uniform", low: 100, high: 1000, when: { maxSteps: { not: 100 } } },
    prefetch: eight((i) => i + 1),
    "optimizer.lr": {
      type: "logUniform",
      low: 0.01,
      high: 0.1,
      when: [{ prefetch: [1, 2, 3] }, { seed: 8, maxSteps: 800 }],
    },
    "clipping.maxNorm": eight((i) => i + 1),
    "clipping.normType": {
      type: "choice",
      values: [2, 1],
      when: { "clipping.maxNorm": { not: 1 } },
    },
  };
  const wide = await anneal(
    "sweep",
    "-c",
    config,
    "--set",
    `sweep.space=${JSON.stringify(space)}`,
    "--trials",
    "1",
  );
  assert.equal(wide.code, 0, wide.stderr);
  const { trials } = await storedStudy(runs.dir);
  assert.equal(trials.length, 1);
  assert.equal(trials[0].state, "COMPLETE", trials[0].reason ?? "");
  const params = trials[0].params;
  assert.equal("data.dropLast" in params, params["data.shuffle"] === true);
  assert.equal("optimizer.momentum" in params, params["optimizer.dampening"] === 0);

  // 21 choices that x's condition leaves open until the last
  const deep: Record<string, unknown> = {};
  for (let i = 0; i < 21; i++) deep[`model.q${i}`] = { type: "choice", values: [1, 2] };
  deep["model.r"] = {
    type: "choice",
    values: [1, 2],
    when: Array.from({ length: 20 }, (_, i) => ({ [`model.q${i}`]: 1 })),
  };
  deep["model.s"] = { type: "choice", values: [1, 2], when: { "model.q20": 2 } };
  deep["model.x"] = {
    type: "uniform",
    low: 0,
    high: 1,
    when: { "model.r": 2, "model.s": 1, "model.q20": 1 },
  };
  const refused = await anneal(
    "sweep",
    "-c",
    config,
    "--study",
    "deep",
    "--set",
    `sweep.space=${JSON.stringify(deep)}`,
  );
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(
    refused.stderr,
    /Cannot read sweep\.space\["model\.x"\]'s condition: it \(model\.r is 2 and model\.s is 1 and model\.q20 is 1\) depends on 23 paths .* whose ways of being drawn are too many to check that a trial can meet it \(more than 1000000\)/,
  );
  assert.match(
    refused.stderr,
    /draw 'model\.x' under a condition whose paths carry fewer conditions/,
  );
  assert.doesNotMatch(refused.stdout, /trial +0/);
});

Deno.test("diagnose, report and runs show of a sweep study's directory, or of an empty one, say it is not a run and name the trials' runs, where they read a run still going with no data", async () => {
  await using runs = await tempRunsDir();
  const config = await writeSweepConfig(runs.dir);
  const swept = await anneal("sweep", "-c", config);
  assert.equal(swept.code, 0, swept.stderr);
  const { trials } = await storedStudy(runs.dir);
  const first = trials.map((trial) => trial.runDir!.split("/").pop()!).sort()[0];
  const study = `${runs.dir}/sw`;
  for (const command of ["diagnose", "report", "runs show"]) {
    const out = await anneal(...command.split(" "), "sw", "--runs-dir", runs.dir);
    assert.equal(out.code, 1, `${command}: ${out.stdout}${out.stderr}`);
    assert.match(
      out.stderr,
      new RegExp(
        `Cannot read run: '${study}' is not a run but a sweep study's directory of 2 runs ` +
          `\\(${first}, `,
      ),
    );
    assert.ok(
      out.stderr.includes(
        `\`anneal runs --runs-dir ${study}\` lists them, and e.g. \`anneal diagnose ${first} ` +
          `--runs-dir ${study}\` reads one`,
      ),
      out.stderr,
    );
  }
  // report wrote no page into the study's directory
  await assert.rejects(() => Deno.stat(`${study}/report.html`), Deno.errors.NotFound);
  // the command it names reads the trial's run
  const trial = await anneal("diagnose", first, "--runs-dir", study);
  assert.equal(trial.code, 0, trial.stderr);
  assert.match(trial.stdout, /Diagnosis: /);

  await Deno.mkdir(`${runs.dir}/empty`);
  const empty = await anneal("diagnose", "empty", "--runs-dir", runs.dir);
  assert.equal(empty.code, 1, empty.stdout);
  assert.match(
    empty.stderr,
    /Cannot read run: '.*\/empty' is not a run: it holds none of a run's records \(config\.json, meta\.json, summary\.json, epochs\.ndjson, steps\.ndjson, lr_find\.json\), and is empty/,
  );
  assert.doesNotMatch(empty.stdout, /still going|no data/);
});

Deno.test("a sweep whose every trial diverges exits 1 with no best config, naming the command that lists its runs", async () => {
  await using runs = await tempRunsDir();
  const config = await writeSweepConfig(runs.dir);
  const space = JSON.stringify({ "optimizer.lr": { type: "logUniform", low: 1000, high: 10000 } });
  const out = await anneal(
    "sweep",
    "-c",
    config,
    "--set",
    "optimizer.name=sgd",
    "--set",
    `sweep.space=${space}`,
  );
  assert.equal(out.code, 1, out.stderr);
  assert.match(out.stdout, /trial +0 +FAILED .*diverged/);
  assert.match(out.stdout, /study sw: 2 trials \(2 failed\)/);
  // (it named `<runsDir>/<study>` for the user to fill in)
  const listed = out.stderr.match(/`anneal (runs --runs-dir \S+)` lists their runs/);
  assert.ok(listed, out.stderr);
  const list = await anneal(...listed[1].split(" "));
  assert.equal(list.code, 0, list.stderr);
  assert.equal(list.stdout.match(/^trial-\d-\S+ .* diverged$/gm)?.length, 2, list.stdout);
  assert.equal(await Deno.stat(`${runs.dir}/sw/best_config.json`).catch(() => null), null);

  // trials refused before they trained (a negative rate, drawn from a range most of which is
  // one) leave no run: none is pointed at
  const refusedSpace = JSON.stringify({ "optimizer.lr": { type: "uniform", low: -1, high: 1e-9 } });
  const refused = await anneal(
    "sweep",
    "-c",
    config,
    "--study",
    "refused",
    "--set",
    `sweep.space=${refusedSpace}`,
  );
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(
    refused.stderr,
    /no trial completed\n {2}hint: look at the failed trials' reasons above\n/,
  );
  assert.doesNotMatch(refused.stderr, /lists their runs/);
  // a range the trial config refuses whole is refused before the study, no trial run
  const negative = JSON.stringify({ "optimizer.lr": { type: "uniform", low: -1, high: -0.5 } });
  const whole = await anneal(
    "sweep",
    "-c",
    config,
    "--study",
    "negative",
    "--set",
    `sweep.space=${negative}`,
  );
  assert.equal(whole.code, 1, whole.stderr);
  assert.match(
    whole.stderr,
    /Cannot sweep 'optimizer\.lr' over a uniform range from -1 to -0\.5: the trial config refuses its ends and its middle/,
  );
});

Deno.test("a sweep whose report cannot be written says its trials are kept and the command that writes the report and best config again; run again, it runs no trial", async () => {
  await using runs = await tempRunsDir();
  const config = await writeSweepConfig(runs.dir);
  // a directory in the report's place, as a full disk refuses the file
  await Deno.mkdir(`${runs.dir}/sw/sweep.html/in-the-way`, { recursive: true });
  const failed = await anneal("sweep", "-c", config);
  assert.equal(failed.code, 1, failed.stderr);
  assert.match(failed.stdout, /trial +1 +COMPLETE/);
  assert.match(failed.stderr, /Cannot write '.*\/sw\/sweep\.html'/);
  assert.ok(
    failed.stderr.includes(
      "run the same command again to write the study's report and best config: " +
        `\`anneal sweep -c ${config}\` (its trials are kept in its storage; it runs only those ` +
        "the study has yet to run)",
    ),
    failed.stderr,
  );
  await Deno.remove(`${runs.dir}/sw/sweep.html`, { recursive: true });
  const again = await anneal("sweep", "-c", config);
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stdout, /COMPLETE/);
  assert.match(again.stdout, /best config written to /);
  assert.equal((await storedStudy(runs.dir)).trials.length, 2);
  await Deno.stat(`${runs.dir}/sw/best_config.json`);
});

Deno.test("--parallel above sweep.parallel's bound of 32 is refused, as in the config; runSweep's options are held to it too", async () => {
  await using runs = await tempRunsDir();
  const config = await writeSweepConfig(runs.dir);
  // (--parallel 64 ran, where sweep.parallel 64 was refused)
  const out = await anneal("sweep", "-c", config, "--parallel", "64");
  assert.equal(out.code, 2, out.stderr);
  assert.match(out.stderr, /--parallel must be at most 32, current value is '64'/);
  assert.match(out.stderr, /hint: .*anneal worker/);
  // refused before the sweep's line, which showed the refused values as its settings
  assert.equal(out.stdout, "");
  for (const flag of ["--parallel", "--trials"]) {
    const zero = await anneal("sweep", "-c", config, flag, "0");
    assert.equal(zero.code, 2, zero.stderr);
    assert.match(
      zero.stderr,
      new RegExp(`${flag} must be a positive integer, current value is '0'`),
    );
    assert.equal(zero.stdout, "");
  }
  // anneal worker --parallel is held to the same bounds, before its joining line
  const storage = `sqlite:${runs.dir}/sweeps.db`;
  for (const [value, message] of [["0", "a positive integer"], ["33", "at most 32"]]) {
    const worker = await anneal(
      "worker",
      "--storage",
      storage,
      "--study",
      "sw",
      "--parallel",
      value,
    );
    assert.equal(worker.code, 2, worker.stderr);
    assert.match(
      worker.stderr,
      new RegExp(`--parallel must be ${message}, current value is '${value}'`),
    );
    assert.equal(worker.stdout, "");
  }
  assert.deepEqual(
    (await Array.fromAsync(Deno.readDir(runs.dir))).map((entry) => entry.name),
    ["sw.json"],
  );
  const loaded = await loadConfig(config);
  await assert.rejects(
    () => runSweep(loaded, { parallel: 64 }),
    /'parallel' must be <= 32, current value is 64/,
  );
  await assert.rejects(() => runSweep(loaded, { trials: 0 }), /'trials' must be > 0/);
});

Deno.test("an empty sweep.space is refused before anything is made; a space of one point is a warning that its trials repeat one result", async () => {
  await using runs = await tempRunsDir();
  const config = await writeSweepConfig(runs.dir);
  // (an empty space ran every trial on the base config alike, without a word)
  const empty = await anneal("sweep", "-c", config, "--set", "sweep.space={}");
  assert.equal(empty.code, 1, empty.stderr);
  assert.match(
    empty.stderr,
    /Cannot sweep an empty sweep\.space: every trial would train the base config/,
  );
  assert.doesNotMatch(empty.stdout, /trial +0/);
  assert.deepEqual(
    (await Array.fromAsync(Deno.readDir(runs.dir))).map((entry) => entry.name),
    ["sw.json"],
  );
  const point = JSON.stringify({
    batchSize: { type: "choice", values: [16, 16] },
    "optimizer.lr": { type: "logUniform", low: 0.01, high: 0.01 },
  });
  const one = await anneal("sweep", "-c", config, "--set", `sweep.space=${point}`);
  assert.equal(one.code, 0, one.stderr);
  assert.match(
    one.stdout,
    /warning: sweep\.space holds one point \(batchSize = 16, optimizer\.lr = 0\.01\): every trial trains the same config with the same seed, so its 2 trials repeat one result\n/,
  );
  const { trials } = await storedStudy(runs.dir);
  assert.equal(trials[0].value, trials[1].value);
});

Deno.test("an rnn sweep whose clipping is off trains its trials unclipped and writes best_config.json with clipping.maxNorm null: trained with anneal train -c, it clips nothing, as its trial did", async () => {
  await using runs = await tempRunsDir();
  const file = await writeSweepConfig(runs.dir);
  const config = JSON.parse(await Deno.readTextFile(file));
  await Deno.writeTextFile(
    file,
    JSON.stringify({
      ...config,
      model: { kind: "rnn", cell: "gru", units: 2 },
      clipping: { maxNorm: null },
    }),
  );
  const out = await anneal("sweep", "-c", file);
  assert.equal(out.code, 0, out.stderr);
  const best = `${runs.dir}/sw/best_config.json`;
  const written = JSON.parse(await Deno.readTextFile(best));
  // (left out, it read back as an rnn's default maxNorm of 1)
  assert.equal(written.clipping.maxNorm, null);
  const number = out.stdout.match(/best: trial (\d+),/)![1];
  const trialDir = [...Deno.readDirSync(`${runs.dir}/sw`)]
    .find((entry) => entry.name.startsWith(`trial-${number}-`))!.name;
  const trialConfig = JSON.parse(
    await Deno.readTextFile(`${runs.dir}/sw/${trialDir}/config.json`),
  );
  // (each trial's config read the base's clipping as left out: the default 1)
  assert.equal(trialConfig.clipping.maxNorm, null);
  const again = await anneal("train", "-c", best, "--runs-dir", `${runs.dir}/again`);
  assert.equal(again.code, 0, again.stderr);
  const runDir = again.stdout.match(/run record: (\S+)/)![1];
  const trained = JSON.parse(await Deno.readTextFile(`${runDir}/config.json`));
  assert.deepEqual(trained.clipping, trialConfig.clipping);
  assert.equal(trained.optimizer.lr, trialConfig.optimizer.lr);
});

Deno.test("the configs a sweep and a tune write (best_config.json, tuned_config.json, --out) name a CSV given relative by its absolute path, as a run's config.json does: they train from any directory", async () => {
  await using runs = await tempRunsDir();
  const shortened = ["--set", "epochs=1", "--set", `runsDir=${runs.dir}`, "--set", "backend=wasm"];
  const space = { "optimizer.lr": { type: "grid", values: [0.01] } };
  const swept = await anneal(
    "sweep",
    "-c",
    "examples/sensors_classification.json",
    ...shortened,
    "--set",
    `sweep=${JSON.stringify({ space, metric: "valLoss", trials: 1 })}`,
    "--study",
    "sw",
  );
  assert.equal(swept.code, 0, swept.stderr);
  const tuned = await anneal(
    "tune",
    "-c",
    "examples/sensors_classification.json",
    ...shortened,
    "--budget",
    "2",
    "--out",
    `${runs.dir}/tuned.json`,
  );
  assert.equal(tuned.code, 0, tuned.stderr);
  // (a budget of 2 runs no stage but the first: the others are named, with what to do)
  assert.match(
    tuned.stdout,
    /^the budget of 2 runs ran out before these stages: .*weight decay.* \(raise --budget to run them\)$/m,
  );
  const kept = tuned.stdout.match(/and kept with the tune's runs: (\S+)\)/)?.[1];
  assert.ok(kept, tuned.stdout);
  const csv = await Deno.realPath("examples/data/sensors.csv");
  for (const file of [`${runs.dir}/sw/best_config.json`, `${runs.dir}/tuned.json`, kept]) {
    const { data } = JSON.parse(await Deno.readTextFile(file));
    assert.equal(await Deno.realPath(data.path), csv, file);
    assert.ok(data.path.startsWith("/"), `${file}: ${data.path}`);
  }
});

Deno.test("a warning the trials' runs give at their start is printed once, with the first trial that gave it, where the sweep printed none", async () => {
  await using runs = await tempRunsDir();
  const config = await writeSweepConfig(runs.dir);
  // an MLP without hidden layers: its dropout follows no layer (a warning at every run's start)
  const swept = await anneal(
    "sweep",
    "-c",
    config,
    "--set",
    'model={"kind":"mlp","hidden":[],"dropout":0.3}',
  );
  assert.equal(swept.code, 0, swept.stderr);
  const warned = swept.stdout.match(/^warning \(trial \d+'s run\): .*drops nothing$/gm);
  assert.equal(warned?.length, 1, swept.stdout);
  assert.match(swept.stdout, /drops nothing\n {2}hint: .*\n {2}\(said once for the study/);
  // each trial's run keeps its own
  const { trials } = await storedStudy(runs.dir);
  assert.equal(trials.length, 2);
  for (const entry of await Array.fromAsync(Deno.readDir(`${runs.dir}/sw`))) {
    if (!entry.name.startsWith("trial-")) continue;
    const meta = JSON.parse(await Deno.readTextFile(`${runs.dir}/sw/${entry.name}/meta.json`));
    assert.ok(
      meta.warnings.some((w: { message: string }) => /drops nothing/.test(w.message)),
      entry.name,
    );
  }
});

Deno.test("anneal tune --min-improvement refuses what is not a fraction from 0 up to 1, before any run", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const base = ["tune", "--set", `runsDir=${dir}`, "--set", "data.validationSplit=0.2"];
  const word = await anneal(...base, "--min-improvement", "abc");
  assert.equal(word.code, 2, word.stderr);
  assert.match(
    word.stderr,
    /error\[usage\]: --min-improvement must be a number, current value is 'abc'\n {2}hint: give it like --min-improvement 0\.01 \(0\.001 by default\)/,
  );
  const one = await anneal(...base, "--min-improvement", "1");
  assert.equal(one.code, 2, one.stderr);
  assert.match(
    one.stderr,
    /error\[usage\]: Cannot tune with a minimum improvement of 1: .* \(at --min-improvement\)\n {2}hint: give e\.g\. --min-improvement 0\.01 \(1%\); 0\.001 by default, 0 keeps any gain/,
  );
  assert.deepEqual(await Array.fromAsync(Deno.readDir(dir)), []);
});

Deno.test("anneal sweep without --config says it needs one, not that an unnamed config lacks a sweep section", async () => {
  await using runs = await tempRunsDir();
  const bare = await anneal("sweep", "--set", `runsDir="${runs.dir}"`);
  assert.equal(bare.code, 2, bare.stderr);
  assert.match(
    bare.stderr,
    /^error\[usage\]: anneal sweep needs a config with a 'sweep' section: no --config was given \(at --config\)\n {2}hint: pass one: anneal sweep -c examples\/fashion_mnist_sweep\.json/,
  );
  assert.deepEqual([...Deno.readDirSync(runs.dir)], [], "nothing written");
  // a sweep section given by --set alone is a config too: the space is read
  const set = await anneal(
    "sweep",
    "--set",
    `runsDir="${runs.dir}"`,
    "--set",
    'sweep={"space":{"epochs":{"type":"uniform","low":1,"high":3}},"metric":"loss"}',
  );
  assert.equal(set.code, 1, set.stderr);
  assert.match(set.stderr, /Cannot sweep 'epochs' over a uniform range/);
});

Deno.test("anneal tune without --config says it tunes the seed experiment's config", async () => {
  await using runs = await tempRunsDir();
  const bare = await anneal("tune", "--set", `runsDir="${runs.dir}"`);
  assert.equal(bare.code, 1, bare.stderr);
  assert.match(
    bare.stdout,
    /^tune: no --config given: tuning the seed experiment's config \(200-sample linear data\) with the --set overrides; anneal tune -c FILE tunes yours\n/,
  );
  assert.match(bare.stderr, /Cannot optimise 'valLoss' in tune/);
});
