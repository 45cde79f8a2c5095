/**
 * On WebGPU, where steps are read back in windows while the next steps run, adaptive clipping's
 * threshold (`clipping.autoPercentile`) moves at fixed steps: the norms of a window are taken in
 * at the start of the window READS_IN_FLIGHT + 1 after it (the trainer waits there for a read not
 * back yet), never as the reads happen to come back. A run clips the same steps, and ends with the
 * same weights, however slow the trainer or the clip monitor. (llvmpipe here: tools/test.sh runs
 * this file with the other WebGPU files.)
 *
 * @module
 */
import assert from "node:assert/strict";
import type { RunConfigInput, RunEvent, TrainOptions } from "../mod.ts";
import { percentile } from "../actors/norm_history.ts";
import { READS_IN_FLIGHT } from "../runtime/reads_in_flight.ts";
import { loadCheckpoint } from "../mod.ts";
import { parseConfig } from "../config.ts";
import {
  assertLastWeights,
  infiniteRowData,
  lastWeightsAndSteps,
  readNdjson,
  resumeInStages,
  resumeRun,
  signalWhen,
  tempRunsDir,
  trainCollect,
  trainInProcessReleased,
} from "./_helpers.ts";

/**
 * The run's weights (its last checkpoint's; none where it wrote none), step records, epoch records,
 * clip statistics and warnings.
 */
async function outcome(runDir: string, events: RunEvent[]) {
  const summary = JSON.parse(await Deno.readTextFile(`${runDir}/summary.json`));
  const checkpointed = await Deno.stat(`${runDir}/checkpoints/last.ckpt`).then(
    () => true,
    () => false,
  );
  return {
    ...checkpointed
      ? await lastWeightsAndSteps(runDir)
      : { weights: undefined, steps: await readNdjson(`${runDir}/steps.ndjson`) },
    epochs: (await readNdjson(`${runDir}/epochs.ndjson`)).map(({ seconds: _, ...rest }) => rest),
    status: summary.status,
    reason: summary.stopReason,
    clip: summary.clip,
    // the epochs whose ends a late stop or rollback discarded
    discarded: events.flatMap((event) =>
      event.type === "epoch" && event.discarded ? [event.epoch] : []
    ),
    // (sorted: the clip monitor's and the trainer's reach the event stream in either order)
    warnings: events.flatMap((event) => event.type === "warning" ? [event.message] : []).sort(),
  };
}

/**
 * Trains `config` as it is, with the trainer held up 15 ms at every step (each window's read is
 * back before the next step, where in the first run it comes back windows later), with it held up
 * 400 ms at epoch 1's first step, and with the clip monitor held up 300 ms at each window it
 * observes: the outcome of each, which must be one and the same.
 */
async function sameEverywhere(dir: string, name: string, config: RunConfigInput) {
  const variants: [string, TrainOptions][] = [
    ["as-is", {}],
    ["slow-steps", { faults: { trainer: { kind: "delay", at: "step", ms: 15 } } }],
    ["stalled-trainer", { faults: { trainer: { kind: "delay", at: "step:1", ms: 400 } } }],
    ["slow-monitor", { faults: { clipMonitor: { kind: "delay", at: "observe", ms: 300 } } }],
  ];
  let first: Awaited<ReturnType<typeof outcome>> | undefined;
  for (const [variant, options] of variants) {
    const runId = `${name}-${variant}`;
    const { result, events } = await trainCollect({ ...config, runsDir: dir }, {
      ...options,
      runId,
    });
    assert.equal(result.backend, "webgpu");
    const run = await outcome(`${dir}/${runId}`, events);
    if (first) assert.deepEqual(run, first, `${name}: ${variant} as the run left as it is`);
    first ??= run;
  }
  return first!;
}

// 300 training samples in batches of 8: 38 steps an epoch, read in windows of 4 (the last of 2);
// SGD with momentum at a rate that makes the norms move, clipped at their 20th percentile
const STEPS_PER_EPOCH = 38;
const EVERY = 4;
const config = {
  backend: "webgpu" as const,
  epochs: 3,
  batchSize: 8,
  data: { kind: "synthetic-linear" as const, n: 400, validationSplit: 0.25 },
  model: { kind: "mlp" as const, hidden: [16] },
  optimizer: { name: "sgd" as const, lr: 0.02, momentum: 0.9 },
  clipping: { autoPercentile: 20 },
  readbackEvery: EVERY,
} satisfies RunConfigInput;

Deno.test("on WebGPU, adaptive clipping clips the same steps however slow the trainer or the clip monitor: each at the percentile of the norms of the windows READS_IN_FLIGHT + 1 before its own and earlier", async () => {
  await using runs = await tempRunsDir();
  const run = await sameEverywhere(runs.dir, "auto", config);
  assert.equal(run.status, "completed", run.reason);
  const norms = run.steps.map((record) => record.gradNorm);
  assert.equal(norms.length, 3 * STEPS_PER_EPOCH);
  // windows of 4 steps from each epoch's first; a step of window j is clipped at the percentile
  // of the norms of the steps before window j - READS_IN_FLIGHT (none: not clipped)
  const perEpoch = Math.ceil(STEPS_PER_EPOCH / EVERY);
  const start = (j: number) => Math.floor(j / perEpoch) * STEPS_PER_EPOCH + (j % perEpoch) * EVERY;
  const thresholds = norms.map((_, i) => {
    const j = Math.floor(i / STEPS_PER_EPOCH) * perEpoch +
      Math.floor((i % STEPS_PER_EPOCH) / EVERY);
    const before = j - READS_IN_FLIGHT <= 0 ? 0 : start(j - READS_IN_FLIGHT);
    return before === 0 ? undefined : percentile(norms.slice(0, before), 20)!;
  });
  const clipped = norms.filter((norm, i) => thresholds[i] !== undefined && norm > thresholds[i]!);
  assert.equal(run.clip.fractionClipped, clipped.length / norms.length);
  assert.equal(run.clip.threshold, thresholds.at(-1), "the last step's");
  assert.ok(clipped.length > norms.length / 3, `clipping was at work: ${clipped.length}`);
});

Deno.test("on WebGPU under adaptive clipping, a run stopped within an epoch and at an epoch's end by maxSteps, resumed with --max-steps, trains as one never stopped: its checkpoints keep the norms not taken in yet", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const input = { ...config, runsDir: dir };
  await trainCollect(input, { runId: "straight" });
  const { warnings: _, ...straight } = await outcome(`${dir}/straight`, []);
  // 50 steps: 12 into epoch 1; then on to 76, epoch 1's end; then to the end
  const first = await trainCollect({ ...input, maxSteps: 50 }, { runId: "budget" });
  assert.equal(first.result.reason, "budget: reached maxSteps = 50");
  const { state } = await loadCheckpoint(`${dir}/budget/checkpoints/last.ckpt`);
  // taken in before step 50 (window 13's first): the steps before window 9's (step 36); 36-49 wait
  assert.equal((state.clipHistory as number[]).length, 36);
  const pending = state.clipPending as [number, number][];
  assert.deepEqual(pending.map(([step]) => step), [...Array(14).keys()].map((k) => 36 + k));
  await resumeInStages("budget", dir, ["76", "1000"]);
  const { warnings: __, ...resumed } = await outcome(`${dir}/budget`, []);
  assert.deepEqual(resumed, straight);
});

Deno.test("on WebGPU under adaptive clipping, the in-process loop clips as the actors do: the same weights and threshold", async () => {
  await using runs = await tempRunsDir();
  const input = { ...config, data: { ...config.data, validationSplit: 0 }, runsDir: runs.dir };
  const { result } = await trainCollect(input, {
    faults: { trainer: { kind: "delay", at: "step", ms: 15 } },
  });
  assert.equal(result.status, "completed", result.reason);
  const plain = await trainInProcessReleased(parseConfig(input));
  assert.equal(plain.steps, result.steps);
  await assertLastWeights(result.runDir, plain.weights);
  const saved = await loadCheckpoint(`${result.runDir}/checkpoints/last.ckpt`);
  assert.equal(plain.clipThreshold, saved.state.clipThreshold);
});

Deno.test("on WebGPU a step whose loss is Infinity is skipped on the device, without a read-back, as the CPU backends skip it: the same steps skipped, the same weights within float tolerance, the optimizer's steps counted without it", async () => {
  await using runs = await tempRunsDir();
  // 40 rows y = 2x in batches of 4 (10 steps an epoch, read in windows of 4 on WebGPU); row 13's
  // x so large that its loss overflows to Infinity, at step 3 of every epoch; clipped at norm 5
  // (the device's global clip), Adam's bias corrections counting the steps taken
  const input = {
    epochs: 5,
    data: await infiniteRowData(runs.dir),
    model: { kind: "mlp" as const, hidden: [4] },
    optimizer: { name: "adam" as const, lr: 0.01 },
    clipping: { onNonFinite: "skip" as const, maxNorm: 5 },
    batchSize: 4,
    readbackEvery: 4,
    runsDir: runs.dir,
  } satisfies RunConfigInput;
  const cpu = await trainCollect({ ...input, backend: "cpu" }, { runId: "cpu" });
  assert.equal(cpu.result.status, "completed", cpu.result.reason);
  const expected = await lastWeightsAndSteps(`${runs.dir}/cpu`);
  const skippedSteps = (steps: Record<string, number>[]) =>
    steps.filter((record) => record.skipped).map((record) => record.step);
  assert.deepEqual(skippedSteps(expected.steps), [3, 13, 23, 33, 43]);
  const cpuState = (await loadCheckpoint(`${runs.dir}/cpu/checkpoints/last.ckpt`)).state;
  assert.equal((cpuState.optimizer as { step: number }).step, 45);
  // the WGSL step, and tfjs's forward and backward, each with the fused optimizer kernels; and
  // the WGSL step with the trainer held up at every step (reads back before the next step)
  const variants: [string, Partial<RunConfigInput>, TrainOptions][] = [
    ["wgsl", {}, {}],
    ["tfjs-model", { fusedModel: false }, {}],
    ["slow", {}, { faults: { trainer: { kind: "delay", at: "step", ms: 15 } } }],
  ];
  let wgsl: Awaited<ReturnType<typeof lastWeightsAndSteps>> | undefined;
  for (const [name, extra, options] of variants) {
    const { result, events } = await trainCollect({ ...input, ...extra, backend: "webgpu" }, {
      ...options,
      runId: name,
    });
    assert.equal(result.status, "completed", `${name}: ${result.reason}`);
    const meta = JSON.parse(await Deno.readTextFile(`${result.runDir}/meta.json`));
    assert.equal(meta.optimizerPath, "wgsl", name);
    assert.equal(meta.modelPath, name === "tfjs-model" ? "tfjs" : "wgsl", name);
    const run = await lastWeightsAndSteps(result.runDir);
    assert.deepEqual(skippedSteps(run.steps), [3, 13, 23, 33, 43], name);
    // (tfjs's loss on WebGPU overflows to NaN where the WGSL step's and the CPU's reach Infinity)
    const warned = events.flatMap((event) =>
      event.type === "warning"
        ? [event.message.match(/at step (\d+): the loss became (Infinity|NaN); step skipped/)?.[1]]
        : []
    ).filter((step) => step !== undefined);
    assert.deepEqual(warned, ["3", "13", "23", "33", "43"], name);
    for (const [weight, values] of Object.entries(expected.weights)) {
      values.forEach((value, i) => {
        const got = run.weights[weight][i];
        assert.ok(
          Math.abs(got - value) <= 1e-4 * Math.max(1, Math.abs(value)),
          `${name}: ${weight}[${i}] ${got}, on cpu ${value}`,
        );
      });
    }
    const { state } = await loadCheckpoint(`${result.runDir}/checkpoints/last.ckpt`);
    assert.equal((state.optimizer as { step: number }).step, 45, `${name}: steps taken`);
    if (name === "slow") assert.deepEqual(run, wgsl, "slow: as the run left as it is");
    if (name === "wgsl") {
      wgsl = run;
      // the in-process loop skips alike
      const plain = await trainInProcessReleased(parseConfig({ ...input, backend: "webgpu" }));
      assert.equal(plain.status, "completed");
      await assertLastWeights(result.runDir, plain.weights);
    }
  }
});

Deno.test("on WebGPU the clip monitor's stop or rollback on a step applies at the start of the window WINDOW_LAG after the step's own, however slow the trainer or the clip monitor", async () => {
  await using runs = await tempRunsDir();
  // the Infinity-row CSV read in windows of 4 (epochs of 10 steps: windows of 4, 4 and 2); row
  // 13 at step 3 of every epoch
  const input = {
    backend: "webgpu" as const,
    epochs: 5,
    data: await infiniteRowData(runs.dir),
    model: { kind: "mlp" as const, hidden: [4] },
    optimizer: { name: "adam" as const, lr: 0.01 },
    batchSize: 4,
    readbackEvery: 4,
  } satisfies RunConfigInput;
  // step 3 is in window 0; window 5 (steps 18-19) is the first whose lag reaches past it
  const stop = await sameEverywhere(runs.dir, "stop", {
    ...input,
    clipping: { onNonFinite: "stop" },
  });
  assert.equal(stop.status, "diverged");
  assert.match(stop.reason, /diverged at step 3: the loss became Infinity/);
  assert.equal(stop.steps.length, 18, "it stops before step 18");
  // (the Infinity of step 13, after the verdict, is left out)
  assert.equal(stop.clip.nonFinite, 1);
  // the in-process loop ends alike
  const plainStop = await trainInProcessReleased(
    parseConfig({ ...input, clipping: { onNonFinite: "stop" } }),
  );
  assert.deepEqual([plainStop.status, plainStop.steps, plainStop.reason], [
    stop.status,
    18,
    stop.reason,
  ]);
  // no checkpoint: epoch 0's end (step 10) came between the verdict and the stop, its weights
  // discarded (as on the CPU backends, where a run diverged in its first epoch has none)
  assert.equal(stop.weights, undefined);

  const rollback = await sameEverywhere(runs.dir, "rollback", {
    ...input,
    clipping: { onNonFinite: "rollback" },
  });
  // rolled back at steps 18 (for step 3, to the start), 38 (for 23, to epoch 1's end) and after the
  // last step (for 43, to epoch 3's end), each time with the rate cut 10x; the Infinity of steps
  // 13 and 33 came between a verdict and its rollback: left out, as steps of discarded weights
  assert.equal(rollback.status, "completed", rollback.reason);
  assert.equal(rollback.steps.length, 50);
  const rolledBack = rollback.warnings.flatMap((warning) =>
    warning.match(/at step (\d+): the loss became Infinity; rolled back/)?.[1] ?? []
  );
  assert.deepEqual(rolledBack.sort(), ["23", "3", "43"]);
  assert.equal(rollback.clip.nonFinite, 3);
  const rates = rollback.epochs.map((epoch) => Number(epoch.lr.toPrecision(12)));
  assert.deepEqual(rates, [0.01, 0.001, 0.001, 0.0001, 0.0001]);
  const lrAt = (step: number) => Number(rollback.steps[step].lr.toPrecision(12));
  assert.deepEqual([lrAt(17), lrAt(18), lrAt(37), lrAt(38)], [0.01, 0.001, 0.001, 0.0001]);
  const plain = await trainInProcessReleased(
    parseConfig({ ...input, clipping: { onNonFinite: "rollback" }, runsDir: runs.dir }),
  );
  assert.equal(plain.status, "completed");
  await assertLastWeights(`${runs.dir}/rollback-as-is`, plain.weights);
});

Deno.test("on WebGPU a rollback for a step of an epoch's last window returns to the end before that step, though the epoch's own end, judged good, came before the rollback applied", async () => {
  await using runs = await tempRunsDir();
  // the Infinity-row CSV in batches of 20: epochs of 2 steps, one window each; row 13 at step 0
  // of every epoch. The verdict on step 0 applies at step 10 (window 5's first); epoch 0's end
  // (step 2), judged good long before, lies between the two
  const input = {
    backend: "webgpu" as const,
    epochs: 6,
    data: await infiniteRowData(runs.dir),
    model: { kind: "mlp" as const, hidden: [4] },
    optimizer: { name: "adam" as const, lr: 0.01 },
    clipping: { onNonFinite: "rollback" as const },
    batchSize: 20,
    readbackEvery: 2,
    runsDir: runs.dir,
  } satisfies RunConfigInput;
  const { result, events } = await trainCollect(input, { runId: "last-window" });
  const run = await outcome(result.runDir, events);
  assert.equal(run.status, "completed", run.reason);
  // rolled back at step 10 for step 0 (to the start) and after the last step for step 10 (to
  // epoch 4's end, where the first rollback had left the start's weights); the Infinity of steps
  // 2 to 8 came between a verdict and its rollback: left out
  const rolledBack = run.warnings.flatMap((warning) =>
    warning.match(/at step (\d+): the loss became Infinity[^;]*; rolled back/)?.[1] ?? []
  );
  assert.deepEqual(rolledBack.sort(), ["0", "10"]);
  assert.equal(run.clip.nonFinite, 2);
  const lrAt = (step: number) => Number(run.steps[step].lr.toPrecision(12));
  assert.deepEqual([lrAt(9), lrAt(10)], [0.01, 0.001]);
  // the ends of epochs 0 to 3 came between step 0 and its rollback (their weights discarded);
  // no epoch counts a step (each one's first skipped, its second undone): none is judged
  assert.deepEqual(run.discarded, [0, 1, 2, 3]);
  // (written as the string "NaN": JSON has none)
  assert.deepEqual(run.epochs.map((epoch) => epoch.loss), new Array(6).fill("NaN"));
  // each epoch's event says so: its training metrics measure nothing (not a NaN loss)
  assert.deepEqual(
    events.flatMap((event) => event.type === "epoch" && event.allUndone ? [event.epoch] : []),
    [0, 1, 2, 3, 4, 5],
  );
  const plain = await trainInProcessReleased(parseConfig(input));
  assert.equal(plain.status, "completed");
  await assertLastWeights(result.runDir, plain.weights);
});

Deno.test("on WebGPU under adaptive clipping, the in-process loop returning to an epoch end it went past (its late verdict a divergence) ends with that end's threshold, the norms of the windows WINDOW_LAG back from it", async () => {
  await using runs = await tempRunsDir();
  // the rate turns negative from epoch 1 (a step schedule of gamma -0.2): the loss climbs, and
  // epoch 1's (over twice epoch 0's) is a divergence the early stopper finds once its reads are
  // back, after the loop went on into epoch 2
  const input = {
    ...config,
    epochs: 4,
    scheduler: { name: "step" as const, stepSize: 1, gamma: -0.2, interval: "epoch" as const },
    earlyStopping: { divergenceFactor: 2 },
    runsDir: runs.dir,
  } satisfies RunConfigInput;
  const { result, events } = await trainCollect(input);
  assert.equal(result.status, "diverged");
  assert.match(result.reason ?? "", /at epoch 1 is over 2x its first value/);
  assert.equal(events.filter((event) => event.type === "returned").length, 1, "it returned");
  const plain = await trainInProcessReleased(parseConfig(input));
  assert.deepEqual([plain.status, plain.reason, plain.steps], ["diverged", result.reason, 76]);
  // the threshold of a step 76 (epoch 2's first, window 20's): the norms before window 16's first
  // step, 62
  const { steps } = await lastWeightsAndSteps(result.runDir);
  assert.equal(steps.length, 2 * STEPS_PER_EPOCH);
  const norms = steps.map((record) => record.gradNorm);
  assert.equal(plain.clipThreshold, percentile(norms.slice(0, 62), 20));
});

Deno.test("on WebGPU in windows, onNonFinite 'skip' with an update in tfjs's ops (rmsprop), which applies a step before it is read, says at the start that a NaN/Inf step reaches the weights; at readbackEvery 1, as its hint says, the step is skipped as on the CPU backends", async () => {
  await using runs = await tempRunsDir();
  // the Infinity-row CSV: row 13 at step 3 of every epoch
  const input = {
    backend: "webgpu" as const,
    epochs: 2,
    data: await infiniteRowData(runs.dir),
    model: { kind: "mlp" as const, hidden: [4] },
    optimizer: { name: "rmsprop" as const, lr: 0.01 },
    batchSize: 4,
    readbackEvery: 4,
    clipping: { onNonFinite: "skip" as const },
    runsDir: runs.dir,
  } satisfies RunConfigInput;
  const warned = (events: RunEvent[]) =>
    events.flatMap((event) =>
      event.type === "warning" && /onNonFinite is 'skip', but on WebGPU/.test(event.message)
        ? [event]
        : []
    );
  // (before: no word of it; the run ended 'the loss became NaN at epoch 0', its hint the rate)
  const windows = await trainCollect(input, { runId: "windows" });
  const [warning] = warned(windows.events);
  assert.ok(warning && warning.type === "warning", "the start warns");
  assert.match(warning.message, /readbackEvery 4\) is applied before it is read.*rmsprop/);
  assert.match(warning.hint ?? "", /--set readbackEvery=1/);
  assert.equal(windows.result.status, "diverged", "as it warned");
  // the step's own warning says it was applied (it said "step skipped" of it)
  const stepWarnings = (events: RunEvent[]) =>
    events.flatMap((event) =>
      event.type === "warning" && /^training diverged at step \d+/.test(event.message)
        ? [event.message]
        : []
    );
  const applied = stepWarnings(windows.events);
  assert.ok(applied.length > 0, "the step is warned of");
  for (const message of applied) {
    assert.match(message, /; step not skipped: on WebGPU it was applied before it was read/);
  }
  // its hint's fix: each step read before it is applied, the NaN one skipped
  const eachStep = await trainCollect({ ...input, readbackEvery: 1 }, { runId: "each-step" });
  assert.equal(eachStep.result.status, "completed", eachStep.result.reason);
  assert.deepEqual(warned(eachStep.events), []);
  const skipped = stepWarnings(eachStep.events);
  assert.ok(
    skipped.length > 0 && skipped.every((m) => m.endsWith("; step skipped")),
    skipped.join(),
  );
  // the fused kernels skip it on the device: nothing to warn of
  const fused = { ...input, optimizer: { name: "adam" as const, lr: 0.01 } };
  const adam = await trainCollect(fused, { runId: "fused" });
  assert.equal(adam.result.status, "completed", adam.result.reason);
  assert.deepEqual(warned(adam.events), []);
});

Deno.test("on WebGPU in windows, the steps between a bad step and its late rollback count in no epoch's loss, and an epoch end among them is not judged as one: a run healthy after the rollback ends completed, as at readbackEvery 1 and on the CPU backends", async () => {
  await using runs = await tempRunsDir();
  // 40 samples in batches of 4: epochs of 10 steps, read in windows of 3, 3, 3 and 1. SGD at rate
  // 3 blows up: step 5's gradient norm is Infinity. Its rollback applies at step 16 (the start of
  // window 5 after its own), to the start with the rate cut to 0.3, which trains healthy from
  // there; epoch 0's end (step 10) came between the two. (Before, steps 6 to 15 were counted:
  // epoch 1's loss, 7.8e14, was over 10x epoch 0's, and the run ended diverged.)
  const input = {
    backend: "webgpu" as const,
    seed: 3,
    epochs: 2,
    batchSize: 4,
    data: { kind: "synthetic-linear" as const, n: 40 },
    model: { kind: "mlp" as const, hidden: [6] },
    optimizer: { name: "sgd" as const, lr: 3 },
    clipping: { onNonFinite: "rollback" as const },
    readbackEvery: 3,
    runsDir: runs.dir,
  } satisfies RunConfigInput;
  const run = await sameEverywhere(runs.dir, "late-rollback", input);
  assert.equal(run.status, "completed", run.reason);
  const [bad] = run.warnings.flatMap((warning) =>
    warning.match(/at step (\d+): [^;]*; rolled back/)?.[1] ?? []
  ).map(Number);
  const rolledBackAt = run.steps.findIndex((record) => record.lr < 3);
  assert.deepEqual([bad, rolledBackAt], [5, 16]);
  // each epoch's loss: the mean of its steps applied up to the bad one and from the rollback on
  const counted = (epoch: number) =>
    run.steps.filter((record) =>
      record.epoch === epoch && !record.skipped &&
      (record.step <= bad || record.step >= rolledBackAt)
    ).map((record) => record.loss);
  const losses = run.epochs.map((epoch) => epoch.loss);
  assert.ok(losses.every(Number.isFinite), `finite losses: ${losses}`);
  [0, 1].forEach((epoch) => {
    const mean = counted(epoch).reduce((a, b) => a + b, 0) / counted(epoch).length;
    assert.ok(Math.abs(losses[epoch] / mean - 1) < 1e-9, `epoch ${epoch}: ${losses[epoch]}`);
  });
  assert.deepEqual(counted(1).length, 4, "steps 16 to 19");
  // epoch 0's end, with weights the rollback discarded, is not the best: epoch 1's is
  const summary = JSON.parse(
    await Deno.readTextFile(`${runs.dir}/late-rollback-as-is/summary.json`),
  );
  assert.equal(summary.bestEpoch, 1);
  assert.deepEqual(run.discarded, [0], "its event says so");
  // the in-process loop counts alike
  const plain = await trainInProcessReleased(parseConfig(input));
  assert.equal(plain.status, "completed", plain.reason);
  assert.deepEqual(plain.losses, losses);
  assert.equal(plain.bestEpoch, 1);
  await assertLastWeights(`${runs.dir}/late-rollback-as-is`, plain.weights);
  // read at each step, and on the CPU backends, the run ends alike (the rollback at step 6)
  const eachStep = await trainCollect({ ...input, readbackEvery: 1 }, { runId: "each-step" });
  assert.equal(eachStep.result.status, "completed", eachStep.result.reason);
  const plainEachStep = await trainInProcessReleased(parseConfig({ ...input, readbackEvery: 1 }));
  assert.equal(plainEachStep.status, "completed", plainEachStep.reason);
  const cpu = await trainInProcessReleased(parseConfig({ ...input, backend: "cpu" }));
  assert.equal(cpu.status, "completed", cpu.reason);
});

Deno.test("on WebGPU in windows under adaptive clipping, the norms of the steps a late rollback undid, and of the step it was on, are not taken in: the threshold is the percentile of the others, in the actors and the in-process loop alike", async () => {
  await using runs = await tempRunsDir();
  // as above: step 5's gradient norm is Infinity, its rollback at step 16; the windows of steps 0
  // to 9 are taken in by the run's end (the fifth window back from its last), of them 6 to 9 undone
  const input = {
    backend: "webgpu" as const,
    seed: 3,
    epochs: 2,
    batchSize: 4,
    data: { kind: "synthetic-linear" as const, n: 40 },
    model: { kind: "mlp" as const, hidden: [6] },
    optimizer: { name: "sgd" as const, lr: 3 },
    clipping: { onNonFinite: "rollback" as const, autoPercentile: 50 },
    readbackEvery: 3,
    runsDir: runs.dir,
  } satisfies RunConfigInput;
  const run = await sameEverywhere(runs.dir, "late-rollback-clipped", input);
  assert.equal(run.status, "completed", run.reason);
  assert.equal(run.steps.findIndex((record) => record.lr < 3), 16);
  const kept = run.steps.slice(0, 5).map((record) => record.gradNorm);
  const saved = await loadCheckpoint(
    `${runs.dir}/late-rollback-clipped-as-is/checkpoints/last.ckpt`,
  );
  assert.equal(saved.state.clipThreshold, percentile(kept, 50));
  const plain = await trainInProcessReleased(parseConfig(input));
  assert.equal(plain.status, "completed", plain.reason);
  assert.equal(plain.clipThreshold, saved.state.clipThreshold);
  await assertLastWeights(`${runs.dir}/late-rollback-clipped-as-is`, plain.weights);
});

// The late rollback above, for 4 epochs: step 5's rollback applies at step 16 (epoch 0's end, at
// step 10, discarded); epoch 1's end (step 20) is good; step 23's loss explodes, its rollback
// applies at step 36, to epoch 1's end: epoch 2's end (step 30) came between, and is discarded.
const lateRollback = {
  backend: "webgpu" as const,
  seed: 3,
  epochs: 4,
  batchSize: 4,
  data: { kind: "synthetic-linear" as const, n: 40 },
  model: { kind: "mlp" as const, hidden: [6] },
  optimizer: { name: "sgd" as const, lr: 3 },
  clipping: { onNonFinite: "rollback" as const },
  readbackEvery: 3,
} satisfies RunConfigInput;

/** The outcome of a run resumed with `anneal train --resume`, to compare with one never stopped. */
async function resumedOutcome(runDir: string) {
  const { warnings: _, discarded: __, ...rest } = await outcome(runDir, []);
  return rest;
}

Deno.test("on WebGPU in windows, a maxSteps that comes between a bad step and its late rollback acts on the rollback there, as a run's last step does: the run ends at maxSteps, by its budget, on the weights of the last good end, as the run whose epochs end there", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const input = { ...lateRollback, runsDir: dir };
  const straight = await trainCollect(input, { runId: "straight" });
  assert.equal(straight.result.status, "completed", straight.result.reason);
  const { warnings, discarded } = await outcome(`${dir}/straight`, straight.events);
  assert.deepEqual(discarded, [0, 2]);
  const rollbacks = warnings.flatMap((w) => w.match(/at step (\d+):.*; rolled back/)?.[1] ?? []);
  assert.deepEqual(rollbacks.map(Number).sort((a, b) => a - b), [5, 23]);
  // 3 epochs end at step 30, step 23's rollback acted on after the last step (to epoch 1's end)
  const threeEpochs = await trainCollect({ ...input, epochs: 3 }, { runId: "three-epochs" });
  assert.equal(threeEpochs.result.status, "completed", threeEpochs.result.reason);
  const expected = await outcome(`${dir}/three-epochs`, threeEpochs.events);
  assert.deepEqual(expected.discarded, [0], "epoch 2's end, after the rollback, is kept");
  // maxSteps 30, epoch 2's end, before step 23's rollback would apply (step 36): it applies at
  // 30, and the run ends as the 3 epochs do, stopped by its budget. (Before, it ended on step
  // 30's weights, trained on from step 23's Infinity, its checkpoint epoch 1's end.)
  const budget = await sameEverywhere(dir, "budget", { ...input, maxSteps: 30 });
  assert.deepEqual([budget.status, budget.reason], ["stopped", "budget: reached maxSteps = 30"]);
  assert.deepEqual(
    { ...budget, status: expected.status, reason: expected.reason },
    expected,
    "the run whose epochs end at 30",
  );
  const plain = await trainInProcessReleased(parseConfig({ ...input, maxSteps: 30 }));
  assert.deepEqual([plain.status, plain.reason, plain.steps], ["stopped", budget.reason, 30]);
  await assertLastWeights(`${dir}/budget-as-is`, plain.weights);
  // within epoch 2 (maxSteps 25): the rollback applies at 25, the run's checkpoint is there, on
  // epoch 1's end's weights, the rate cut twice; resumed with --max-steps it trains on from them
  const within = await trainCollect({ ...input, maxSteps: 25 }, { runId: "within" });
  assert.equal(within.result.reason, "budget: reached maxSteps = 25");
  const kept = await loadCheckpoint(`${dir}/within/checkpoints/last.ckpt`);
  assert.deepEqual([kept.state.epoch, kept.state.step], [1, 25]);
  const weights = (await lastWeightsAndSteps(`${dir}/within`)).weights;
  assert.deepEqual(weights, expected.weights, "epoch 1's end's");
  const plainWithin = await trainInProcessReleased(parseConfig({ ...input, maxSteps: 25 }));
  assert.deepEqual([plainWithin.status, plainWithin.steps], ["stopped", 25]);
  await assertLastWeights(`${dir}/within`, plainWithin.weights);
  await resumeInStages("within", dir, ["1000"]);
  const resumed = await outcome(`${dir}/within`, []);
  assert.equal(resumed.status, "completed", resumed.reason);
  assert.deepEqual(resumed.steps.slice(25).map((record) => Number(record.lr.toPrecision(12))), [
    ...Array(15).fill(0.03),
  ]);
});

Deno.test("on WebGPU in windows, a maxSteps before the clip monitor's late stop or rollback on the first epoch's step applies: a stop ends the run diverged at maxSteps, a rollback returns it to the start, checkpointed there, in the actors and the in-process loop alike", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  // step 5's verdict applies at step 16; maxSteps 12, past epoch 0's end (10, discarded)
  const input = { ...lateRollback, maxSteps: 12, runsDir: dir };
  const stopping = { ...input, clipping: { onNonFinite: "stop" as const } };
  const stop = await sameEverywhere(dir, "stop", stopping);
  // (before: stopped by its budget, on weights trained from step 5's Infinity)
  assert.equal(stop.status, "diverged", stop.reason);
  assert.match(stop.reason, /diverged at step 5: the gradient norm became Infinity/);
  assert.equal(stop.steps.length, 12);
  assert.equal(stop.weights, undefined, "no checkpoint: epoch 0's end was discarded");
  const plainStop = await trainInProcessReleased(parseConfig(stopping));
  assert.deepEqual([plainStop.status, plainStop.reason, plainStop.steps], [
    "diverged",
    stop.reason,
    12,
  ]);
  // a rollback to the start: the run ends there, at step 12, its checkpoint the start's weights
  const rollback = await sameEverywhere(dir, "rollback", input);
  assert.deepEqual([rollback.status, rollback.reason], [
    "stopped",
    "budget: reached maxSteps = 12",
  ]);
  assert.deepEqual(rollback.discarded, [0]);
  const { state } = await loadCheckpoint(`${dir}/rollback-as-is/checkpoints/last.ckpt`);
  assert.deepEqual([state.epoch, state.step], [0, 12]);
  const plain = await trainInProcessReleased(parseConfig(input));
  assert.deepEqual([plain.status, plain.reason, plain.steps], ["stopped", rollback.reason, 12]);
  await assertLastWeights(`${dir}/rollback-as-is`, plain.weights);
  const values = Object.values(plain.weights).flatMap((weight) => Array.from(weight.values));
  assert.ok(values.every(Number.isFinite), "the start's weights, not step 11's");
});

Deno.test("on WebGPU in windows, a maxSteps at an epoch end a late rollback would discard acts on the rollback before that end, which early stopping then judges, as at a run's last step: its stop and restored best epoch stand, in the actors and the in-process loop alike", async () => {
  await using runs = await tempRunsDir();
  // step 23's rollback applies at 30 (epoch 2's end), to epoch 1's end; epoch 2's loss (steps 20
  // to 23) is over epoch 1's, so patience 0 stops the run there, epoch 1's weights restored.
  // (Without the budget, epoch 2's end is discarded, not judged, and the stop comes at epoch 3.)
  const input = {
    ...lateRollback,
    maxSteps: 30,
    earlyStopping: { monitor: "loss", patience: 0, restoreBest: true },
  } satisfies RunConfigInput;
  const run = await sameEverywhere(runs.dir, "patience", input);
  assert.equal(run.status, "stopped");
  assert.match(
    run.reason,
    /^early stopping: loss did not improve for 1 epoch \(best .* at epoch 1\)/,
  );
  assert.deepEqual(run.discarded, [0]);
  assert.deepEqual(run.epochs.map((epoch) => epoch.epoch), [0, 1, 2]);
  const summary = JSON.parse(await Deno.readTextFile(`${runs.dir}/patience-as-is/summary.json`));
  assert.equal(summary.bestEpoch, 1);
  const plain = await trainInProcessReleased(parseConfig(input));
  assert.deepEqual([plain.status, plain.reason, plain.steps, plain.restored], [
    "stopped",
    run.reason,
    30,
    1,
  ]);
  assert.deepEqual(plain.losses, run.epochs.map((epoch) => epoch.loss));
});

Deno.test("on WebGPU in windows under adaptive clipping, a checkpoint keeps no norm of a step a late rollback undid among those not taken in yet: resumed, the run clips at the threshold of one never stopped", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const input = {
    ...lateRollback,
    clipping: { ...lateRollback.clipping, autoPercentile: 50 },
    runsDir: dir,
  };
  await trainCollect(input, { runId: "straight" });
  const expected = await resumedOutcome(`${dir}/straight`);
  // stopped at epoch 1's end (step 20), which is good: the norms of steps 10 to 19 wait to be
  // taken in, but for those of 10 to 15 (13 and 15 read finite), undone by step 5's rollback at
  // step 16
  const budget = await trainCollect({ ...input, maxSteps: 20 }, { runId: "budget" });
  assert.equal(budget.result.reason, "budget: reached maxSteps = 20");
  const { state } = await loadCheckpoint(`${dir}/budget/checkpoints/last.ckpt`);
  assert.deepEqual([state.epoch, state.step], [1, 20]);
  const pending = (state.clipPending as [number, number][]).map(([step]) => step);
  assert.deepEqual(pending, [16, 17, 18, 19]);
  // (before, 13 and 15 were kept, and taken in after the resume: another threshold, other steps
  // clipped, and a second rollback the run never stopped had not)
  await resumeInStages("budget", dir, ["1000"]);
  assert.deepEqual(await resumedOutcome(`${dir}/budget`), expected);
});

Deno.test("on WebGPU in windows, SIGKILL right after an epoch end a late rollback discarded, then --resume: the run goes on from the last end that is not, and ends as one never killed", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  // (5 epochs: the kill lands while epochs 3 and 4 train)
  const input = { ...lateRollback, epochs: 5, runsDir: dir };
  const configFile = `${dir}/config.json`;
  await Deno.writeTextFile(configFile, JSON.stringify(input));
  const straight = await trainCollect(input, { runId: "straight" });
  assert.equal(straight.result.status, "completed", straight.result.reason);
  const expected = await resumedOutcome(`${dir}/straight`);
  assert.ok(
    straight.events.some((event) =>
      event.type === "epoch" && event.epoch === 2 &&
      event.discarded
    ),
    "epoch 2's end is discarded",
  );
  const killed = await signalWhen(
    ["train", "-c", configFile],
    (event) => event.type === "epoch" && event.epoch === 2,
    "SIGKILL",
  );
  assert.equal(killed.status.signal, "SIGKILL", "the run was killed before it finished");
  const { state } = await loadCheckpoint(`${dir}/${killed.runId}/checkpoints/last.ckpt`);
  assert.notEqual(state.epoch, 2, "no checkpoint of the discarded end");
  const resumed = await resumeRun(killed.runId, dir);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.deepEqual(await resumedOutcome(`${dir}/${killed.runId}`), expected);
});

Deno.test("on WebGPU in windows under adaptive clipping, a run stopped by maxSteps after a late rollback (within an epoch and at its end) and resumed trains as one never stopped: its checkpoint keeps no norm of the steps the rollback undid", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  // as above: step 5's gradient norm is Infinity, its rollback at step 16; 3 epochs (30 steps)
  const input = {
    backend: "webgpu" as const,
    seed: 3,
    epochs: 3,
    batchSize: 4,
    data: { kind: "synthetic-linear" as const, n: 40 },
    model: { kind: "mlp" as const, hidden: [6] },
    optimizer: { name: "sgd" as const, lr: 3 },
    clipping: { onNonFinite: "rollback" as const, autoPercentile: 50 },
    readbackEvery: 3,
    runsDir: dir,
  } satisfies RunConfigInput;
  const straight = await trainCollect(input, { runId: "straight" });
  assert.equal(straight.result.status, "completed", straight.result.reason);
  const expected = await outcome(`${dir}/straight`, []);
  // 17: within epoch 1, after the rollback; 20: epoch 1's end
  for (const maxSteps of [17, 20]) {
    const runId = `budget-${maxSteps}`;
    const first = await trainCollect({ ...input, maxSteps }, { runId });
    assert.equal(first.result.reason, `budget: reached maxSteps = ${maxSteps}`);
    const { state } = await loadCheckpoint(`${dir}/${runId}/checkpoints/last.ckpt`);
    // (steps 6 to 15 were undone: none of their norms is waiting to be taken in)
    const pending = (state.clipPending ?? []) as [number, number][];
    assert.deepEqual(pending.filter(([step]) => step > 5 && step < 16), [], `at ${maxSteps}`);
    await resumeInStages(runId, dir, ["1000"]);
    const resumed = await outcome(`${dir}/${runId}`, []);
    assert.equal(resumed.status, "completed", resumed.reason);
    assert.deepEqual(
      {
        weights: resumed.weights,
        steps: resumed.steps,
        clip: resumed.clip,
        epochs: resumed.epochs,
      },
      {
        weights: expected.weights,
        steps: expected.steps,
        clip: expected.clip,
        epochs: expected.epochs,
      },
      `stopped at ${maxSteps}`,
    );
  }
});
