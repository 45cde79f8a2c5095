/**
 * Adaptive clipping (`clipping.autoPercentile`) and the clip monitor across a resume: the trainer
 * clips each step at the percentile of the norms of the steps before it (on cpu, never at a
 * threshold that depends on when the clip monitor's answer arrived), and a checkpoint keeps that
 * history and the clip monitor's state (its statistics, spikes, loss watch, counts of rollbacks
 * and skips), so that a run killed or interrupted mid-epoch and resumed trains, and reports, as
 * one never stopped, bit for bit on cpu. A checkpoint of an older anneal, without them, still
 * resumes, saying that adaptive clipping restarts its history.
 *
 * @module
 */
import assert from "node:assert/strict";
import { loadCheckpoint } from "../mod.ts";
import type { RunConfigInput } from "../mod.ts";
import { saveCheckpoint } from "../runtime/checkpoint.ts";
import { percentile } from "../actors/norm_history.ts";
import {
  annealCommand,
  lastWeightsAndSteps,
  readNdjson,
  resumeInStages,
  resumeRun,
  signalWhen,
  tempRunsDir,
  trainCollect,
} from "./_helpers.ts";

// 300 training samples in batches of 8: 38 steps an epoch (a short last one), in windows of up
// to 32 steps; SGD with momentum at a rate that makes the norms move, clipped at their 20th
// percentile (most steps are clipped)
const config = {
  backend: "cpu" as const,
  epochs: 5,
  batchSize: 8,
  data: { kind: "synthetic-linear" as const, n: 400, validationSplit: 0.25 },
  model: { kind: "mlp" as const, hidden: [16] },
  optimizer: { name: "sgd" as const, lr: 0.02, momentum: 0.9 },
  clipping: { autoPercentile: 20 },
} satisfies RunConfigInput;
const STEPS_PER_EPOCH = 38;
// The runs a signal stops: ~8 ms an epoch, and a SIGINT reaches the trainer at its next turn of
// the event loop (every 20 ms of steps), so that 5 epochs ended ~30 ms after the step it was sent
// at, and on a loaded machine, before it arrived. 120 leave it far longer.
const signalled = { ...config, epochs: 120 };

/** The run's weights, records and clip statistics, to compare two runs by. */
async function outcome(runDir: string) {
  const summary = JSON.parse(await Deno.readTextFile(`${runDir}/summary.json`));
  return {
    ...await lastWeightsAndSteps(runDir),
    epochs: (await readNdjson(`${runDir}/epochs.ndjson`)).map(({ seconds: _, ...rest }) => rest),
    status: summary.status,
    test: summary.test,
    clip: summary.clip,
  };
}

Deno.test("adaptive clipping: each step is clipped at the percentile of the norms before it, and two runs of one config train alike", async () => {
  await using runs = await tempRunsDir();
  const a = await trainCollect({ ...config, runsDir: runs.dir }, { runId: "a" });
  const b = await trainCollect({ ...config, runsDir: runs.dir }, { runId: "b" });
  assert.equal(a.result.status, "completed", a.result.reason);
  assert.equal(b.result.status, "completed", b.result.reason);
  const first = await outcome(`${runs.dir}/a`);
  assert.deepEqual(await outcome(`${runs.dir}/b`), first, "the same weights, steps and stats");
  // what the clip monitor counted: each step against the percentile of the norms before it
  const norms = first.steps.map((record) => record.gradNorm);
  const clipped = norms.filter((norm, i) => i > 0 && norm > percentile(norms.slice(0, i), 20)!);
  assert.equal(first.clip.fractionClipped, clipped.length / norms.length);
  assert.equal(first.clip.threshold, percentile(norms.slice(0, -1), 20), "the last step's");
  // the summary's are the statistics at the run's last step, as its last clip.stats event gave
  // them: `step` is that step's index (it was the count of steps, one more)
  const last = a.events.filter((event) => event.type === "clip.stats").at(-1);
  assert.equal(last?.step, norms.length - 1);
  assert.deepEqual(last, first.clip);
  assert.ok(clipped.length > norms.length / 2, `clipping was at work: ${clipped.length}`);
});

Deno.test("read in windows on cpu (readbackEvery 8), adaptive clipping clips the same steps however slow the machine: each at the percentile of the norms of the windows before its own", async () => {
  await using runs = await tempRunsDir();
  const windowed = { ...config, readbackEvery: 8, runsDir: runs.dir };
  await trainCollect(windowed, { runId: "fast" });
  // the trainer held up 400 ms at epoch 1's first step, as a thread that lost its core (past the
  // 250 ms after which a window also ends on WebGPU)
  await trainCollect(windowed, {
    runId: "slow",
    faults: { trainer: { kind: "delay", at: "step:1", ms: 400 } },
  });
  const fast = await outcome(`${runs.dir}/fast`);
  assert.equal(fast.status, "completed");
  assert.deepEqual(await outcome(`${runs.dir}/slow`), fast, "the same weights, steps and stats");
  // windows of 8 steps from each epoch's first (38 steps: the last window of 6), each step
  // clipped at the percentile of the norms of every window before its own (none before the first)
  const norms = fast.steps.map((record) => record.gradNorm);
  const thresholds = norms.map((_, i) => {
    const start = i - (i % STEPS_PER_EPOCH) % 8;
    return start === 0 ? undefined : percentile(norms.slice(0, start), 20)!;
  });
  const clipped = norms.filter((norm, i) => thresholds[i] !== undefined && norm > thresholds[i]!);
  assert.equal(fast.clip.fractionClipped, clipped.length / norms.length);
  assert.equal(fast.clip.threshold, thresholds.at(-1), "the last step's");
  assert.ok(clipped.length > norms.length / 2, `clipping was at work: ${clipped.length}`);
});

Deno.test("the summary's clip statistics are the clip monitor's after the last step, however late its answer to Stop comes", async () => {
  await using runs = await tempRunsDir();
  // the clip monitor's result (its statistics) comes half a second after Stop, as on a loaded
  // machine where its thread waits for a core: the run waits for it, not only its 50 ms grace
  const { result, events } = await trainCollect({ ...config, epochs: 2, runsDir: runs.dir }, {
    runId: "late",
    faults: { clipMonitor: { kind: "delay", at: "result", ms: 500 } },
  });
  assert.equal(result.status, "completed", result.reason);
  const { clip, steps } = await outcome(`${runs.dir}/late`);
  assert.equal(steps.length, 2 * STEPS_PER_EPOCH);
  assert.equal(clip.step, steps.length - 1, "the statistics at the last step, by its index");
  const last = events.filter((event) => event.type === "clip.stats").at(-1);
  assert.deepEqual(last, clip, "as the last clip.stats event gave them");
  const norms = steps.map((record) => record.gradNorm);
  assert.equal(clip.threshold, percentile(norms.slice(0, -1), 20), "the last step's threshold");
});

Deno.test("SIGKILL mid-epoch under adaptive clipping, then --resume: the weights, curves and clip statistics of an uninterrupted run", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const configFile = `${dir}/config.json`;
  await Deno.writeTextFile(configFile, JSON.stringify({ ...signalled, runsDir: dir }));
  await trainCollect({ ...signalled, runsDir: dir }, { runId: "straight" });
  const straight = await outcome(`${dir}/straight`);

  // killed within epoch 2 or 3, after its checkpoint of epoch 1 or 2
  const killAt = STEPS_PER_EPOCH * (2 + Math.floor(Math.random() * 2)) + 5 +
    Math.floor(Math.random() * 20);
  const killed = await signalWhen(
    ["train", "-c", configFile],
    (event) =>
      event.type === "steps" &&
      (event.fromStep as number) + (event.losses as number[]).length >= killAt,
    "SIGKILL",
  );
  assert.equal(killed.status.signal, "SIGKILL", "the run was killed before it finished");
  const { state } = await loadCheckpoint(`${dir}/${killed.runId}/checkpoints/last.ckpt`);
  assert.equal(state.within, undefined, "its last checkpoint is an epoch's end");
  assert.ok((state.clipHistory as number[]).length === state.step, "adaptive clipping's norms");
  assert.ok(state.clipMonitor, "the clip monitor's state");

  const resumed = await resumeRun(killed.runId, dir);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.doesNotMatch(resumed.stderr, /restarts its history/);
  assert.deepEqual(await outcome(`${dir}/${killed.runId}`), straight);
});

Deno.test("Ctrl-C within an epoch under adaptive clipping, then --resume: the weights, curves and clip statistics of an uninterrupted run", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const configFile = `${dir}/config.json`;
  await Deno.writeTextFile(configFile, JSON.stringify({ ...signalled, runsDir: dir }));
  await trainCollect({ ...signalled, runsDir: dir }, { runId: "straight" });
  const straight = await outcome(`${dir}/straight`);

  const interrupted = await signalWhen(
    ["train", "-c", configFile],
    (event) => event.type === "steps" && (event.fromStep as number) >= STEPS_PER_EPOCH + 10,
    "SIGINT",
  );
  assert.equal(interrupted.status.code, 130, interrupted.stderr);
  const runDir = `${dir}/${interrupted.runId}`;
  const { state } = await loadCheckpoint(`${runDir}/checkpoints/last.ckpt`);
  const summary = JSON.parse(await Deno.readTextFile(`${runDir}/summary.json`));
  assert.equal(state.step, summary.steps, "checkpointed where it stopped");
  assert.equal((state.clipHistory as number[]).length, state.step);

  const resumed = await resumeRun(interrupted.runId, dir);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.deepEqual(await outcome(runDir), straight);
});

// (readbackEvery 8: read in windows of 8 steps, whose ends the stops at steps 60 and 150 fall
// within: the threshold the resumed run clips the rest of the window at is the checkpoint's)
for (const readbackEvery of [1, 8]) {
  Deno.test(`a run stopped within an epoch by maxSteps under adaptive clipping, resumed with --max-steps: the weights, curves and clip statistics of an uninterrupted run (readbackEvery ${readbackEvery})`, async () => {
    await using runs = await tempRunsDir();
    const { dir } = runs;
    const input = { ...config, readbackEvery, runsDir: dir };
    await trainCollect(input, { runId: "straight" });
    const straight = await outcome(`${dir}/straight`);
    // 60 steps: 22 into epoch 1; then on to 150, 36 into epoch 3; then to the end
    const first = await trainCollect({ ...input, maxSteps: 60 }, { runId: "budget" });
    assert.equal(first.result.reason, "budget: reached maxSteps = 60");
    const { state } = await loadCheckpoint(`${dir}/budget/checkpoints/last.ckpt`);
    assert.deepEqual([state.step, (state.within as { batches: number }).batches], [60, 22]);
    assert.equal((state.clipHistory as number[]).length, 60);
    await resumeInStages("budget", dir, ["150", "1000"]);
    assert.deepEqual(await outcome(`${dir}/budget`), straight);
  });
}

Deno.test("a checkpoint without adaptive clipping's history (an older anneal's) resumes, saying the history restarts", async () => {
  await using runs = await tempRunsDir();
  // (a runs directory with a space: the hint's command quotes it)
  const dir = `${runs.dir}/old runs`;
  const short = await trainCollect({ ...config, epochs: 2, runsDir: dir }, { runId: "old" });
  assert.equal(short.result.status, "completed", short.result.reason);
  const last = `${dir}/old/checkpoints/last.ckpt`;
  const { state, weights } = await loadCheckpoint(last);
  const { clipHistory: _, clipMonitor: __, ...older } = state;
  await saveCheckpoint(last, older, weights);

  const resumed = await annealCommand([
    ...["train", "--resume", "old", "--runs-dir", dir, "--epochs", "3", "--no-progress"],
  ]).output();
  const stderr = new TextDecoder().decode(resumed.stderr);
  const stdout = new TextDecoder().decode(resumed.stdout);
  assert.equal(resumed.code, 0, stderr);
  assert.match(
    stdout + stderr,
    new RegExp(
      "adaptive clipping \\(clipping\\.autoPercentile\\) restarts its history of gradient " +
        `norms: .*older anneal.*; its threshold stays ${state.clipThreshold} until the first step`,
    ),
  );
  assert.ok(
    (stdout + stderr).includes(`(anneal train -c '${dir}/old/config.json')`),
    stdout + stderr,
  );
  const summary = JSON.parse(await Deno.readTextFile(`${dir}/old/summary.json`));
  assert.equal(summary.status, "completed");
  assert.equal(summary.steps, 3 * STEPS_PER_EPOCH);
  assert.equal(summary.clip.step, 3 * STEPS_PER_EPOCH - 1, "the statistics at the last step");
});
