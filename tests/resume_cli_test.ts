/**
 * `anneal train --resume`: a resumed run keeps its saved config (options that would change it
 * are refused, more epochs continue it), a run that already ended is left as it is, and what the
 * CLI prints follows the resumed run's config.
 *
 * @module
 */
import assert from "node:assert/strict";
import { cp } from "node:fs/promises";
import { train } from "../mod.ts";
import { anneal, csvConfig, readNdjson, resumeRun, signalWhen, tempRunsDir } from "./_helpers.ts";

async function snapshot(runDir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (
    const name of ["config.json", "meta.json", "summary.json", "epochs.ndjson", "steps.ndjson"]
  ) {
    files[name] = await Deno.readTextFile(`${runDir}/${name}`);
  }
  return files;
}

Deno.test("--resume of a completed run leaves every record as it was and says there is nothing to resume", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const config = await csvConfig(dir, 3);
  const first = await anneal("train", "-c", config, "--name", "done", "--no-progress");
  assert.equal(first.code, 0, first.stderr);
  const runDir = first.stdout.match(/run record: (\S+)/)![1];
  const runId = runDir.split("/").pop()!;
  const before = await snapshot(runDir);

  const again = await anneal("train", "--resume", runId, "--runs-dir", dir, "--no-progress");
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /completed: nothing to resume: the run already ended/);
  assert.match(again.stdout, /\(3 epochs, 12 steps, /);
  assert.deepEqual(await snapshot(runDir), before, "no record was touched");
  const summary = JSON.parse(before["summary.json"]);
  assert.equal(summary.epochs, 3);
  assert.ok(Object.keys(summary.metrics).length > 0);
});

Deno.test("--resume of a run that stopped itself (early stopping, maxSteps, a divergence) leaves it as it is; one stopped by run.stop() trains on", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const config = await csvConfig(dir, 5);
  // no improvement is ever large enough: early stopping ends the run after epoch 1, of 5
  const early = await anneal(
    "train",
    "-c",
    config,
    "--set",
    "earlyStopping.patience=1",
    "--set",
    "earlyStopping.minDelta=1000",
    "--no-progress",
  );
  assert.equal(early.code, 0, early.stderr);
  assert.match(early.stdout, /stopped: early stopping: valLoss did not improve for 1 epoch/);
  const runDir = early.stdout.match(/run record: (\S+)/)![1];
  const before = await snapshot(runDir);
  const again = await resumeRun(runDir.split("/").pop()!, dir);
  assert.equal(again.code, 0, again.stderr);
  assert.match(
    again.stdout,
    /stopped: nothing to resume: the run already ended \(early stopping: valLoss did not improve for 1 epoch .*\); to train it longer, resume it with more epochs than 5 \(--epochs N\) \(2 epochs, 8 steps, /,
  );
  assert.doesNotMatch(again.stdout, /Epoch 2/);
  assert.deepEqual(await snapshot(runDir), before, "no record was touched, no epoch trained");

  // Through the API. Its maxSteps spent partway through epoch 1 (4 steps an epoch): its last
  // checkpoint is epoch 0's, and a resume would train the steps to maxSteps again.
  const saved = JSON.parse(await Deno.readTextFile(config));
  const withBudget = { ...saved, maxSteps: 6 };
  const budget = await train(withBudget).result;
  assert.equal(budget.status, "stopped", budget.reason);
  assert.equal(budget.stopRequested, false);
  const budgetBefore = await snapshot(budget.runDir);
  const budgetAgain = await train(withBudget, { resume: budget.runId }).result;
  assert.equal(budgetAgain.status, "stopped");
  assert.match(
    budgetAgain.reason,
    /^nothing to resume: the run already ended \(budget: reached maxSteps = 6\); it took its maxSteps \(6\); to train it longer, resume it with more steps than its maxSteps 6 \(--max-steps N\)$/,
  );
  assert.equal(budgetAgain.steps, 6);
  assert.deepEqual(await snapshot(budget.runDir), budgetBefore, "no step trained again");

  // Stopped by run.stop() after its first epoch: not over, a resume trains it to its end.
  const run = train(saved);
  for await (const event of run.events()) if (event.type === "epoch") run.stop("enough for now");
  const stopped = await run.result;
  assert.equal(stopped.status, "stopped");
  assert.equal(stopped.stopRequested, true);
  assert.ok(stopped.epochs < 5, String(stopped.epochs));
  const summary = JSON.parse(await Deno.readTextFile(`${stopped.runDir}/summary.json`));
  assert.equal(summary.stopRequested, true, "the record says who stopped it");
  // as the record of a run that diverged after its checkpoint (the loss rising at the next
  // epoch's end) says: resumed, it would go on from before the divergence with the same settings
  const diverged = `${dir}/diverged`;
  await cp(stopped.runDir, diverged, { recursive: true });
  await Deno.writeTextFile(
    `${diverged}/summary.json`,
    JSON.stringify({
      ...summary,
      status: "diverged",
      stopReason: "training diverged: loss 41.2 at epoch 1 is over 10x its first value 4.1",
      stopRequested: undefined,
      hint: "learning rate too high: divide by 10 (--set optimizer.lr=0.001)",
    }),
  );
  const divergedBefore = await snapshot(diverged);
  const divergedAgain = await train(saved, { resume: "diverged" }).result;
  assert.equal(divergedAgain.status, "diverged");
  assert.match(
    divergedAgain.reason,
    /^nothing to resume: the run already ended \(training diverged: .*\); resumed with the same settings, it would most likely diverge again: start a new run from .*diverged\/config\.json with the change its hint says$/,
  );
  assert.match(divergedAgain.hint ?? "", /divide by 10/);
  assert.deepEqual(await snapshot(diverged), divergedBefore, "no record was touched");

  const resumed = await train(saved, { resume: stopped.runId }).result;
  assert.equal(resumed.status, "completed", resumed.reason);
  assert.equal(resumed.epochs, 5);
});

Deno.test("--resume refuses options that would change the run's config, naming them", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const config = await csvConfig(dir, 2);
  const first = await anneal("train", "-c", config, "--name", "base", "--no-progress");
  assert.equal(first.code, 0, first.stderr);
  const runId = first.stdout.match(/run record: \S+\/(\S+)/)![1];
  const before = await snapshot(`${dir}/${runId}`);

  const flags = await anneal(
    "train",
    "--resume",
    runId,
    "--runs-dir",
    dir,
    "--lr",
    "0.5",
    "--set",
    "batchSize=8",
    "-c",
    config,
  );
  assert.equal(flags.code, 2, flags.stderr);
  assert.match(flags.stderr, new RegExp(`Cannot resume run '${runId}' with -c, --set, --lr`));
  assert.match(flags.stderr, /hint: .*only --epochs N and --max-steps N may be given/);
  assert.match(flags.stderr, new RegExp(`anneal train -c ${dir}/${runId}/config.json`));

  const fewer = await anneal("train", "--resume", runId, "--runs-dir", dir, "--epochs", "1");
  assert.equal(fewer.code, 2, fewer.stderr);
  assert.match(fewer.stderr, /with epochs 1: it trains 2 epochs, and a resume can only raise that/);
  assert.deepEqual(await snapshot(`${dir}/${runId}`), before, "a refused resume touches nothing");

  // Through the API: a field that differs from the saved config is refused by its path; the
  // same config again is not a change.
  const saved = JSON.parse(before["config.json"]);
  await assert.rejects(
    train({ runsDir: dir, optimizer: { name: "adam", lr: 0.5 } }, { resume: runId }).result,
    /Cannot resume run '.*' with other settings: 'optimizer.lr' is 0.01 in its config.json, 0.5 given/,
  );
  // Nor the optimizer's direction: what the run recorded of its best epochs reads the loss the
  // way it started with.
  const ascent = await anneal(
    "train",
    "--resume",
    runId,
    "--runs-dir",
    dir,
    "--set",
    "optimizer.maximize=true",
  );
  assert.equal(ascent.code, 2, ascent.stderr);
  assert.match(ascent.stderr, new RegExp(`Cannot resume run '${runId}' with --set`));
  await assert.rejects(
    train({ runsDir: dir, optimizer: { ...saved.optimizer, maximize: true } }, { resume: runId })
      .result,
    /'optimizer\.maximize' is false in its config\.json, true given \(optimizer\.maximize turns the loss's direction around: its best epoch .* were recorded for the direction it started with\)/,
  );
  assert.deepEqual(await snapshot(`${dir}/${runId}`), before, "a refused resume touches nothing");
  const same = await train(saved, { resume: runId }).result;
  assert.match(same.reason, /nothing to resume/);
});

Deno.test("--resume --epochs N trains a completed run on to N epochs, as if it had been set to N", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const config = await csvConfig(dir, 2);
  const short = await anneal("train", "-c", config, "--name", "short", "--no-progress");
  assert.equal(short.code, 0, short.stderr);
  const runId = short.stdout.match(/run record: \S+\/(\S+)/)![1];
  const straight = await anneal(
    "train",
    "-c",
    config,
    "--epochs",
    "4",
    "--name",
    "straight",
    "--no-progress",
  );
  assert.equal(straight.code, 0, straight.stderr);
  const straightDir = straight.stdout.match(/run record: (\S+)/)![1];

  const longer = await anneal(
    "train",
    "--resume",
    runId,
    "--runs-dir",
    dir,
    "--epochs",
    "4",
    "--no-progress",
  );
  assert.equal(longer.code, 0, longer.stderr);
  assert.deepEqual(
    longer.stdout.split("\n").filter((l) => l.startsWith("Epoch ")).map((l) => l.split(":")[0]),
    ["Epoch 2", "Epoch 3"],
  );
  assert.match(longer.stdout, /completed: finished 4 epochs \(4 epochs, 16 steps/);
  const strip = (records: Record<string, number>[]) =>
    records.map(({ seconds: _, ...rest }) => rest);
  assert.deepEqual(
    strip(await readNdjson(`${dir}/${runId}/epochs.ndjson`)),
    strip(await readNdjson(`${straightDir}/epochs.ndjson`)),
  );
  const savedConfig = JSON.parse(await Deno.readTextFile(`${dir}/${runId}/config.json`));
  assert.equal(savedConfig.epochs, 4, "config.json says what the run trains to");
  const summary = JSON.parse(await Deno.readTextFile(`${dir}/${runId}/summary.json`));
  const first = JSON.parse(await Deno.readTextFile(`${straightDir}/summary.json`));
  assert.equal(summary.epochs, 4);
  assert.deepEqual(summary.test, first.test);
});

Deno.test("a resumed run prints its epochs in order, by its own config, before the Test line", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  // (20 epochs of ~5 ms, all printed: the run goes on for a while after the epoch end the kill is
  // sent at, however late a loaded machine lets it arrive; with 8, it ended ~0.15 s after)
  const config = await csvConfig(dir, 20);
  const killed = await signalWhen(
    ["train", "-c", config],
    (event) => event.type === "epoch" && (event.epoch as number) >= 1,
    "SIGKILL",
  );
  assert.equal(killed.status.signal, "SIGKILL");
  const resumed = await resumeRun(killed.runId, dir);
  assert.equal(resumed.code, 0, resumed.stderr);
  const from = Number(resumed.stdout.match(/resuming at epoch (\d+)/)![1]);
  const lines = resumed.stdout.split("\n");
  const epochs = lines.filter((l) => l.startsWith("Epoch ")).map((l) => l.split(":")[0]);
  assert.deepEqual(epochs, Array.from({ length: 20 - from }, (_, i) => `Epoch ${from + i}`));
  const test = lines.findIndex((l) => l.startsWith("Test: "));
  assert.ok(test > lines.indexOf(lines.find((l) => l.startsWith("Epoch 19"))!), resumed.stdout);
});

Deno.test("a config.json saved with every schedule's default interval 'step' resumes as it started, with no warning for the intervals its user never wrote", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const file = await csvConfig(dir, 2);
  const base = JSON.parse(await Deno.readTextFile(file));
  const schedulers = {
    plateau: { name: "plateau", patience: 0, factor: 0.5 },
    sequential: {
      name: "sequential",
      interval: "epoch",
      milestones: [1],
      schedulers: [{ name: "constant", factor: 0.5, totalIters: 1 }, {
        name: "exponential",
        gamma: 0.9,
      }],
    },
  };
  for (const [name, scheduler] of Object.entries(schedulers)) {
    await Deno.writeTextFile(file, JSON.stringify({ ...base, scheduler }));
    const first = await anneal("train", "-c", file, "--name", name, "--no-progress");
    assert.equal(first.code, 0, first.stderr);
    assert.doesNotMatch(first.stdout, /warning \(/, first.stdout);
    const runId = first.stdout.match(/run record: \S+\/(\S+)/)![1];
    const saved = `${dir}/${runId}/config.json`;
    const config = JSON.parse(await Deno.readTextFile(saved));
    // as an anneal that filled in every interval saved it
    assert.equal(JSON.stringify(config.scheduler).includes('interval":"step'), false, name);
    if (name === "plateau") config.scheduler.interval = "step";
    else for (const child of config.scheduler.schedulers) child.interval = "step";
    const legacy = JSON.stringify(config, null, 2);
    await Deno.writeTextFile(saved, legacy);
    const resumed = await anneal(
      "train",
      "--resume",
      runId,
      "--runs-dir",
      dir,
      "--epochs",
      "3",
      "--no-progress",
    );
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.doesNotMatch(resumed.stdout, /warning \(/, resumed.stdout);
    assert.match(resumed.stdout, /completed: finished 3 epochs/, name);
    // the config.json the resume wrote (3 epochs) holds no interval the run never read
    assert.doesNotMatch(await Deno.readTextFile(saved), /"interval": "step"/, name);
    // a new run from that file: the intervals written there are told
    await Deno.writeTextFile(`${dir}/legacy.json`, legacy);
    const anew = await anneal("train", "-c", `${dir}/legacy.json`, "--no-progress");
    assert.equal(anew.code, 0, anew.stderr);
    assert.match(anew.stdout, /warning \(supervisor\): scheduler\.(schedulers\[0\]\.)?interval/);
  }
});

Deno.test("--resume does not print again the warnings the run gave at its start, unless it changes them: one line says how many applied at its last start and where they are; one whose cause a resume removed no longer counts", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  // a header of numbers (the data loader's warning), and a onecycle of 40 steps cut by a run of
  // 4 epochs of 4 steps (the trainer's); the wall-time budget, spent at once, ends each process
  // after a step
  const rows = Array.from({ length: 64 }, (_, i) => `${i % 7},${i % 5},${(i % 7) - (i % 5)}`);
  await Deno.writeTextFile(`${dir}/train.csv`, ["0.5,1.5,7", ...rows].join("\n") + "\n");
  const file = `${dir}/config.json`;
  await Deno.writeTextFile(
    file,
    JSON.stringify({
      backend: "cpu",
      runsDir: dir,
      epochs: 4,
      batchSize: 16,
      maxWallTimeSeconds: 1e-6,
      data: { kind: "csv", path: `${dir}/train.csv`, target: "7" },
      optimizer: { name: "adam", lr: 0.01 },
      scheduler: { name: "onecycle", maxLr: 0.1, totalSteps: 40 },
    }),
  );
  const warnings = (stdout: string) => stdout.split("\n").filter((l) => l.startsWith("warning ("));
  const first = await anneal("train", "-c", file, "--name", "warned", "--no-progress");
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /stopped: budget: reached maxWallTimeSeconds/);
  const runId = first.stdout.match(/run record: \S+\/(\S+)/)![1];
  const given = warnings(first.stdout);
  assert.equal(given.length, 2, first.stdout);
  assert.match(
    given[0],
    /^warning \(dataLoader\): .*train\.csv:1: data\.header is true, and the first line holds only numbers/,
  );
  assert.match(
    given[1],
    /^warning \(trainer\): scheduler\.totalSteps 40 is longer than the run, which takes 16 optimizer steps/,
  );
  const line = (count: string, them: string) =>
    `anneal: the run's earlier starts gave ${count}, not repeated unless this resume changes ` +
    `${them} (\`anneal runs show ${runId} --runs-dir ${dir}\` lists ${them})`;
  const meta = async () => JSON.parse(await Deno.readTextFile(`${dir}/${runId}/meta.json`));

  // resumed as it is: the same warnings, not printed again
  const same = await resumeRun(runId, dir);
  assert.equal(same.code, 0, same.stderr);
  assert.match(same.stdout, /resuming at epoch 0, step 1/);
  assert.deepEqual(warnings(same.stdout), [], same.stdout);
  assert.ok(
    same.stdout.includes(line("2 warnings that applied at its last start", "them")),
    same.stdout,
  );
  assert.deepEqual((await meta()).warnings.filter((w: object) => "noLongerApplies" in w), []);

  // --epochs 6: the cut schedule's warning says otherwise (24 steps), and is printed; the data's
  // is not; the one of 16 steps no longer applies, marked with this resume (at step 2)
  const resumeLonger = (epochs: number) =>
    anneal(
      ...["train", "--resume", runId, "--runs-dir", dir, "--epochs", `${epochs}`, "--no-progress"],
    );
  const longer = await resumeLonger(6);
  assert.equal(longer.code, 0, longer.stderr);
  assert.ok(
    longer.stdout.includes(line("2 warnings that applied at its last start", "them")),
    longer.stdout,
  );
  const changed = warnings(longer.stdout);
  assert.equal(changed.length, 1, longer.stdout);
  assert.match(changed[0], /^warning \(trainer\): .*which takes 24 optimizer steps/);
  const resumedAt = async () =>
    JSON.parse(await Deno.readTextFile(`${dir}/${runId}/summary.json`)).resumedAt;
  const lapsedAt = { resumedAt: await resumedAt(), step: 2 };
  // and not again at the next resume, which counts the two that apply
  const again = await resumeRun(runId, dir);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(warnings(again.stdout), [], again.stdout);
  assert.ok(
    again.stdout.includes(line("2 warnings that applied at its last start", "them")),
    again.stdout,
  );

  // --epochs 10: 40 steps, the schedule's whole horizon: its warning's cause is gone, none is given
  const whole = await resumeLonger(10);
  assert.equal(whole.code, 0, whole.stderr);
  assert.deepEqual(warnings(whole.stdout), [], whole.stdout);
  const wholeAt = { resumedAt: await resumedAt(), step: 4 };
  const last = await resumeRun(runId, dir);
  assert.equal(last.code, 0, last.stderr);
  assert.deepEqual(warnings(last.stdout), [], last.stdout);
  assert.ok(
    last.stdout.includes(line("1 warning that applied at its last start", "it")),
    last.stdout,
  );

  // where they are: meta.json, which `anneal runs show` prints, those that no longer apply marked
  // with the resume they stopped applying at
  const recorded = (await meta()).warnings;
  assert.deepEqual(
    recorded.map((w: { actor: string; noLongerApplies?: unknown }) => [w.actor, w.noLongerApplies]),
    [["dataLoader", undefined], ["trainer", lapsedAt], ["trainer", wholeAt]],
  );
  assert.match(recorded[1].message, /which takes 16 optimizer steps/);
  const show = await anneal("runs", "show", runId, "--runs-dir", dir);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /warning at its start \(dataLoader\): .*data\.header is true/);
  assert.match(show.stdout, /\n {4}hint: if the file has no header row/);
  for (const [steps, at] of [[16, lapsedAt], [24, wholeAt]] as const) {
    assert.match(
      show.stdout,
      new RegExp(
        `warning at its start \\(trainer\\): .*which takes ${steps} optimizer steps.*\\n(.*\\n)?` +
          ` {4}no longer applies: not given by its resume at step ${at.step} \\(${at.resumedAt}\\)`,
      ),
      show.stdout,
    );
  }
});

Deno.test("train(config, { resume }) with the config a run was started with resumes it, whatever intervals that change nothing its config.json holds (an older anneal's default 'step' on a sequential's schedules)", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const base = JSON.parse(await Deno.readTextFile(await csvConfig(dir, 2)));
  const children = [{ name: "constant", factor: 0.5, totalIters: 4 }, {
    name: "exponential",
    gamma: 0.9,
  }];
  const configs = {
    // counting steps (the default), as counting epochs: its schedules count what it counts
    steps: { ...base, scheduler: { name: "sequential", milestones: [4], schedulers: children } },
    epochs: {
      ...base,
      scheduler: { name: "sequential", interval: "epoch", milestones: [1], schedulers: children },
    },
    // a plateau schedule's interval, written by its user (it changes the rate at epoch ends)
    plateau: { ...base, scheduler: { name: "plateau", interval: "step", patience: 0 } },
  };
  for (const [name, config] of Object.entries(configs)) {
    const first = await train(config, { runId: name }).result;
    assert.equal(first.status, "completed", first.reason);
    if (name !== "plateau") {
      // as an anneal that gave every schedule the default interval 'step' saved it
      const saved = JSON.parse(await Deno.readTextFile(`${dir}/${name}/config.json`));
      for (const child of saved.scheduler.schedulers) child.interval = "step";
      await Deno.writeTextFile(`${dir}/${name}/config.json`, JSON.stringify(saved, null, 2));
    }
    const resumed = await train({ ...config, epochs: 3 }, { resume: name }).result;
    assert.equal(resumed.status, "completed", `${name}: ${resumed.reason}`);
    assert.equal(resumed.epochs, 3, name);
    // with the intervals written on the schedules, as that config.json has them
    const written = structuredClone(config);
    const scheduler = written.scheduler as { schedulers?: object[] };
    if (scheduler.schedulers) {
      scheduler.schedulers = scheduler.schedulers.map((child) => ({ ...child, interval: "step" }));
    }
    const again = await train({ ...written, epochs: 4 }, { resume: name }).result;
    assert.equal(again.status, "completed", `${name}: ${again.reason}`);
    assert.equal(again.epochs, 4, name);
  }
  // an interval that changes something still differs: the sequential's own
  await assert.rejects(
    train({ ...configs.steps, scheduler: { ...configs.steps.scheduler, interval: "epoch" } }, {
      resume: "steps",
    }).result,
    /with other settings: 'scheduler\.interval' is "step" in its config\.json, "epoch" given/,
  );
});

Deno.test("a resumed run recorded with earlyStopping.mode 'min' on an accuracy (the former default) is warned with what a resume can do, not a --set it refuses; one whose start gave the warning is not warned again", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const rows = Array.from({ length: 48 }, (_, i) => `${(i % 7) / 7},${(i % 5) / 5},${i % 2}`);
  await Deno.writeTextFile(`${dir}/train.csv`, ["x,z,label", ...rows].join("\n") + "\n");
  const file = `${dir}/config.json`;
  await Deno.writeTextFile(
    file,
    JSON.stringify({
      backend: "cpu",
      runsDir: dir,
      epochs: 3,
      batchSize: 16,
      maxSteps: 1,
      data: { kind: "csv", path: `${dir}/train.csv`, target: "label", task: "classification" },
      earlyStopping: { monitor: "valAccuracy", mode: "min", patience: 5 },
    }),
  );
  const modeWarning = (stdout: string) =>
    stdout.split("\n").findIndex((line) =>
      line.startsWith("warning (supervisor): earlyStopping.mode: earlyStopping.mode is 'min'")
    );
  const hintOf = (stdout: string) => stdout.split("\n")[modeWarning(stdout) + 1] ?? "";
  const started = async (name: string) => {
    const first = await anneal("train", "-c", file, "--name", name, "--no-progress");
    assert.equal(first.code, 0, first.stderr);
    assert.ok(modeWarning(first.stdout) >= 0, first.stdout);
    // a new run can leave the mode out, or set it
    assert.match(
      hintOf(first.stdout),
      /leave earlyStopping\.mode out .* --set earlyStopping\.mode=max/,
    );
    return first.stdout.match(/run record: \S+\/(\S+)/)![1];
  };
  const resumed = async (runId: string) => {
    const run = await anneal(
      ...["train", "--resume", runId, "--runs-dir", dir, "--max-steps", "2", "--no-progress"],
    );
    assert.equal(run.code, 0, run.stderr);
    return run.stdout;
  };

  // recorded before the warning was given: its meta.json holds no warnings
  const old = await started("old");
  const meta = JSON.parse(await Deno.readTextFile(`${dir}/${old}/meta.json`));
  delete meta.warnings;
  await Deno.writeTextFile(`${dir}/${old}/meta.json`, JSON.stringify(meta));
  const resumedOld = await resumed(old);
  assert.ok(modeWarning(resumedOld) >= 0, resumedOld);
  const hint = hintOf(resumedOld);
  assert.doesNotMatch(hint, /leave earlyStopping\.mode out|or --set/, resumedOld);
  assert.match(hint, /a resume keeps the config the run was recorded with/);
  assert.match(
    hint,
    /start a new run from the run's config\.json with --set earlyStopping\.mode=max/,
  );

  // given at the run's start (the hint for a new run): held back, not given again in other words
  const today = await started("today");
  const resumedToday = await resumed(today);
  assert.equal(modeWarning(resumedToday), -1, resumedToday);
});
