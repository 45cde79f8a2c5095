/**
 * A schedule torch 1.13 would raise for at a later step trains when the run ends before that
 * step, and is refused at the run's start when it gets there: the run's length (its data's size,
 * batchSize, epochs, maxSteps) is known only then. The error names the field, the step, the run's
 * length and the fixes.
 *
 * @module
 */
import assert from "node:assert/strict";
import { AnnealError, train } from "../mod.ts";
import { anneal, tempRunsDir, trainCollect } from "./_helpers.ts";

/** The run directories in `runsDir`. */
async function runsIn(runsDir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(runsDir)) if (entry.isDirectory) names.push(entry.name);
  return names.sort();
}

// 64 samples in batches of 16: 4 steps an epoch. The sequential's constant (factor 0) divides by
// zero at its own step 20, from its milestone 2: at step 22 of the run.
const config = {
  backend: "cpu" as const,
  data: { kind: "synthetic-linear" as const, n: 64 },
  batchSize: 16,
  scheduler: {
    name: "sequential" as const,
    schedulers: [
      { name: "linear" as const, startFactor: 0.5, totalIters: 2 },
      { name: "constant" as const, factor: 0, totalIters: 20 },
    ],
    milestones: [2],
  },
};

Deno.test("a sequential whose last schedule raises past the run's end trains; one that gets there is refused at the start", async () => {
  await using runs = await tempRunsDir();
  // 5 epochs: 20 steps; maxSteps 21 of 10 epochs: short of step 22 too
  for (const length of [{ epochs: 5 }, { epochs: 10, maxSteps: 21 }]) {
    const { result } = await trainCollect({ ...config, ...length, runsDir: runs.dir });
    assert.notEqual(result.status, "failed", `${JSON.stringify(length)}: ${result.reason}`);
    assert.equal(result.steps, Math.min(length.epochs * 4, length.maxSteps ?? Infinity));
  }
  const before = await runsIn(runs.dir);
  // refused as a config is: `result` rejects with the error, and no run of 0 steps is left
  const error = await train({ ...config, epochs: 6, runsDir: runs.dir }).result.then(
    (result) => assert.fail(`trained: ${result.status} ${result.reason}`),
    (error) => error,
  );
  assert.ok(error instanceof AnnealError && error.code === "config", String(error));
  assert.equal(error.where, "scheduler.schedulers[1].factor");
  assert.match(
    error.message,
    /'scheduler\.schedulers\[1\]\.factor': must be > 0 when 'totalIters' is > 0 \(it is 20\): torch's ConstantLR divides by it at step 22 \(its own step 20, from its milestone 2\) \(ZeroDivisionError\), current value is 0; the run gets there: it takes 24 optimizer steps \(6 epochs of 4\)/,
  );
  assert.match(error.hint!, /or end the run before step 22 \(--set maxSteps=21\)/);
  assert.deepEqual(await runsIn(runs.dir), before, "no record of the refused run");
});

/** Writes `config` with a onecycle of `totalSteps` into `runsDir` (its runs there): its path. */
async function onecycleConfig(runsDir: string, totalSteps: number): Promise<string> {
  const path = `${runsDir}/onecycle.json`;
  const scheduler = { name: "onecycle", maxLr: 0.1, totalSteps };
  await Deno.writeTextFile(path, JSON.stringify({ ...config, scheduler, runsDir }));
  return path;
}

Deno.test("anneal train: a onecycle shorter than the run is refused before its first step, saying to set totalSteps to the run's steps", async () => {
  await using runs = await tempRunsDir();
  const path = await onecycleConfig(runs.dir, 20);
  const longer = await anneal("train", "--config", path, "--epochs", "6", "--no-progress");
  // a config error, as one the config's reading finds: no actor's failure, no run left
  assert.equal(longer.code, 1, longer.stderr);
  assert.match(longer.stderr, /^error\[config\]: /m);
  assert.doesNotMatch(longer.stdout + longer.stderr, /actor 'trainer'|failed:|run record/);
  assert.deepEqual(await runsIn(runs.dir), [], "no record of the refused run");
  const listed = await anneal("runs", "--runs-dir", runs.dir);
  assert.doesNotMatch(listed.stdout, /failed/);
  assert.match(
    longer.stderr,
    /'scheduler\.totalSteps': must count every step the schedule takes: torch's OneCycleLR raises at step 21, one past it .* the run gets there: it takes 24 optimizer steps/,
  );
  assert.match(
    longer.stderr,
    /hint: set 'scheduler\.totalSteps' to the run's 24 \(--set scheduler\.totalSteps=24\), or end the run before step 21 \(--set maxSteps=20\)/,
  );
  const fixed = await anneal(
    "train",
    "--config",
    path,
    "--epochs",
    "6",
    "--set",
    "scheduler.totalSteps=24",
    "--no-progress",
  );
  assert.equal(fixed.code, 0, fixed.stderr);
});

Deno.test("anneal train --resume to more epochs than its onecycle counts is refused with a hint to train a new run from its config (a resume keeps it), which then trains", async () => {
  await using runs = await tempRunsDir();
  const path = await onecycleConfig(runs.dir, 16);
  const first = await anneal("train", "--config", path, "--epochs", "4", "--no-progress");
  assert.equal(first.code, 0, first.stderr);
  const [runId] = await runsIn(runs.dir);
  const longer = await anneal(
    "train",
    "--runs-dir",
    runs.dir,
    "--resume",
    runId,
    "--epochs",
    "6",
    "--no-progress",
  );
  assert.equal(longer.code, 1, longer.stderr);
  assert.match(longer.stderr, /torch's OneCycleLR raises at step 17/);
  // not the new run's fixes (--set and a step budget, which --resume refuses)
  const hint = longer.stderr.match(/hint: (.*)/)?.[1] ?? "";
  assert.doesNotMatch(hint, /maxSteps/);
  const command = `anneal train -c ${runs.dir}/${runId}/config.json --epochs 6 ` +
    "--set scheduler.totalSteps=24";
  assert.ok(hint.endsWith(`: ${command}`), hint);
  const fixed = await anneal(...command.split(" ").slice(1), "--no-progress");
  assert.equal(fixed.code, 0, fixed.stderr);
  assert.match(fixed.stdout, /completed: finished 6 epochs/);
});

Deno.test("a warmup longer than the run trains, with a warning at the start, and diagnose blames the warmup, not optimizer.lr", async () => {
  await using runs = await tempRunsDir();
  // 3 epochs of 4 steps: 12 steps of a 1000-step warmup, at 1.1% of optimizer.lr at most
  const { result, events } = await trainCollect({
    ...config,
    epochs: 3,
    scheduler: { name: "warmupCosine", warmupSteps: 1000, totalSteps: 2000 },
    runsDir: runs.dir,
  });
  assert.equal(result.status, "completed", result.reason);
  const warnings = events.filter((e) => e.type === "warning");
  assert.equal(warnings.length, 1);
  assert.equal(
    warnings[0].type === "warning" && warnings[0].message,
    "scheduler.warmupSteps 1000 is as long as the run or longer: the run takes 12 optimizer " +
      "steps, so its rate climbs to 1.1% of optimizer.lr at most, and never decays",
  );
  const finding = result.diagnosis?.findings[0];
  assert.equal(finding?.title, "learning rate too low: the warmup outlasted the run");
  assert.deepEqual(finding?.set, ["scheduler.warmupSteps=1", "scheduler.totalSteps=12"]);
  assert.doesNotMatch(finding?.fix ?? "", /optimizer\.lr/);
});

Deno.test("a cosine shorter than the run trains as torch's does, climbing back up, with a warning at the start", async () => {
  await using runs = await tempRunsDir();
  // 5 epochs of 4 steps: tMax 5 (meant as epochs?) ends at step 5 of 20
  const { result, events } = await trainCollect({
    ...config,
    epochs: 5,
    scheduler: { name: "cosine", tMax: 5 },
    runsDir: runs.dir,
  });
  assert.equal(result.status, "completed", result.reason);
  const warnings = events.flatMap((e) => e.type === "warning" ? [e.message] : []);
  assert.deepEqual(warnings, [
    "scheduler.tMax 5 is shorter than the run, which takes 20 optimizer steps: after optimizer " +
    "step 5 the cosine climbs back up towards optimizer.lr, and turns 3 times in the run, as " +
    "torch's CosineAnnealingLR does",
  ]);
  // the rates it trained at: back at optimizer.lr (0.01) at step 10, as torch's
  const rates = events.flatMap((e) => e.type === "steps" ? e.lr : []);
  assert.ok(Math.abs(rates[10] - 0.01) < 1e-9 && rates[5] < 1e-9, rates.join());
});

Deno.test("milestones that read as epochs under the default interval (steps) train as written, with a warning at the start", async () => {
  await using runs = await tempRunsDir();
  // 6 epochs of 4 steps: milestones 1, 2, 3 decay the rate 1000x by step 3
  const { result, events } = await trainCollect({
    ...config,
    epochs: 6,
    scheduler: { name: "multistep", milestones: [1, 2, 3] },
    runsDir: runs.dir,
  });
  assert.equal(result.status, "completed", result.reason);
  const warnings = events.flatMap((e) => e.type === "warning" ? [e] : []);
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0].message,
    /^scheduler multistep counts optimizer steps \(interval "step"\), 24 in the run: its decays take the rate to 0\.001 of optimizer\.lr by the last step$/,
  );
  assert.match(warnings[0].hint ?? "", /\(--set scheduler\.interval=epoch\)$/);
  const rates = events.flatMap((e) => e.type === "steps" ? e.lr : []);
  assert.ok(Math.abs(rates[3] - 1e-5) < 1e-12, `${rates[3]}`);
});

Deno.test("a onecycle the run stops well short of trains as cut, with a warning at the start naming the rate it ends at", async () => {
  await using runs = await tempRunsDir();
  // 3 epochs of 4 steps of a cycle of 40: it peaks at step 11 (pctStart 0.3), where the run ends
  const { result, events } = await trainCollect({
    ...config,
    epochs: 3,
    scheduler: { name: "onecycle", maxLr: 0.1, totalSteps: 40 },
    runsDir: runs.dir,
  });
  assert.equal(result.status, "completed", result.reason);
  const warnings = events.flatMap((e) => e.type === "warning" ? [e] : []);
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0].message,
    /^scheduler\.totalSteps 40 is longer than the run, which takes 12 optimizer steps: the onecycle schedule is cut where the run ends, at 100% of maxLr, with 100% of its way down still to go$/,
  );
  assert.match(
    warnings[0].hint ?? "",
    /^set its length to the run's \(--set scheduler\.totalSteps=12\)/,
  );
  // a cycle of the run's length, and a cosine cut at 90% of its tMax, get none
  for (
    const scheduler of [
      { name: "onecycle" as const, maxLr: 0.1, totalSteps: 12 },
      { name: "cosine" as const, tMax: 13 },
    ]
  ) {
    const quiet = await trainCollect({ ...config, epochs: 3, scheduler, runsDir: runs.dir });
    assert.equal(quiet.result.status, "completed", quiet.result.reason);
    assert.deepEqual(quiet.events.filter((e) => e.type === "warning"), [], scheduler.name);
  }
});

Deno.test("a polynomial of a negative power that the run ends before totalIters trains at its rising rates, as torch's does; one that gets there is refused", async () => {
  await using runs = await tempRunsDir();
  // 2 epochs of 4 steps against totalIters 100: torch raises only at step 100 (0 to a negative
  // power); the warning of a schedule cut before its end computed the rate there and refused it
  const scheduler = { name: "polynomial" as const, totalIters: 100, power: -1 };
  const { result, events } = await trainCollect({
    ...config,
    epochs: 2,
    scheduler,
    runsDir: runs.dir,
  });
  assert.equal(result.status, "completed", result.reason);
  assert.equal(result.steps, 8);
  const rates = events.flatMap((e) => e.type === "steps" ? e.lr : []);
  // torch's PolynomialLR: lr (1 - t / totalIters) ** power
  rates.forEach((lr, t) => assert.ok(Math.abs(lr - 0.01 / (1 - t / 100)) < 1e-12, `${t}: ${lr}`));
  // a run of 100 steps gets there: refused at its start, naming the step
  await assert.rejects(
    train({ ...config, epochs: 25, scheduler, runsDir: runs.dir }).result,
    (error: Error) => error instanceof AnnealError && /at step 100/.test(error.message),
  );
});
