import assert from "node:assert/strict";
import { loadCheckpoint, type RunEvent, train } from "../mod.ts";
import { closingEvent, tempRunsDir, trainCollect } from "./_helpers.ts";
import { wasmThreadsReadPaths } from "../runtime/wasm_threads_paths.ts";
import { SpareActors } from "../runtime/actor_workers.ts";
import { trainWithSpares } from "../runtime/supervisor.ts";

const config = {
  backend: "cpu" as const,
  epochs: 6,
  data: { kind: "synthetic-linear" as const, n: 64 },
};

const cases = [
  { actor: "trainer", at: "epoch" },
  { actor: "dataLoader", at: "load" },
  { actor: "scheduler", at: "epoch" },
  { actor: "earlyStopper", at: "epoch" },
  { actor: "clipMonitor", at: "observe" },
] as const;
/**
 * The scheduler hears of epoch ends (where its fault point "epoch" is) under a schedule whose
 * rates they may change: a plateau (a schedule fixed in advance is told of none).
 */
const hearsEpochEnds = (actor: string) =>
  actor === "scheduler" ? { scheduler: { name: "plateau" as const } } : {};

for (const { actor, at } of cases) {
  Deno.test(`an actor that throws (${actor}) ends the run naming the actor and the cause`, async () => {
    await using runs = await tempRunsDir();
    const { dir } = runs;
    // The trainer never waits for the clip monitor, nor at most epoch ends: six tiny epochs
    // could end before a busy machine lets the clip monitor's Worker take its first message
    // (and reach its fault). A long run leaves it time; the fault ends it early.
    const epochs = actor === "clipMonitor" ? 5000 : config.epochs;
    const { result, events } = await trainCollect({
      ...config,
      ...hearsEpochEnds(actor),
      epochs,
      runsDir: dir,
    }, {
      faults: { [actor]: { kind: "throw", at } },
    });
    assert.equal(result.status, "failed");
    assert.equal(result.failedActor, actor);
    // the stream's last event says how and why: its error's message and code (a plain Error)
    assert.deepEqual(closingEvent(events), {
      type: "run.finished",
      result,
      error: { code: "internal", message: `injected fault at '${at}'`, hint: result.hint },
    });
    assert.equal(result.code, "internal");
    assert.match(
      result.reason,
      new RegExp(`actor '${actor}' failed: .*injected fault at '${at}'`),
    );
    const summary = JSON.parse(await Deno.readTextFile(`${result.runDir}/summary.json`));
    assert.equal(summary.status, "failed");
    assert.equal(summary.failedActor, actor);
    if (actor === "dataLoader") {
      // it failed before the first checkpoint: there is nothing to resume
      assert.doesNotMatch(result.hint ?? "", /--resume/);
      assert.match(result.hint ?? "", /start the run again/);
    }
  });
}

Deno.test("a run whose directory is removed while it trains ends at once, saying so and that there is nothing to resume", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const run = train({ ...config, epochs: 400, runsDir: dir }, { runId: "removed" });
  const events: RunEvent[] = [];
  for await (const event of run.events()) {
    events.push(event);
    if (event.type === "run.started") await Deno.remove(`${dir}/removed`, { recursive: true });
  }
  const result = await run.result;
  assert.equal(result.status, "failed");
  assert.equal(result.code, "file");
  // what and where (not Deno's NotFound of the checkpoint's temporary file) and what to do (it
  // said: check the directory is writable, then resume, of a run with nothing left to resume);
  // the file is the first the run wrote after: a record (meta.json, steps.ndjson) or last.ckpt
  assert.match(
    result.reason,
    new RegExp(`Cannot (write|append to) '${dir}/removed/[^']+': the directory .* does not exist`),
  );
  assert.match(
    result.where ?? "",
    new RegExp(`^${dir}/removed/(checkpoints/last\\.ckpt|\\w+\\.(json|ndjson))$`),
  );
  assert.match(result.hint ?? "", /was removed while the run trained.*start the run again/);
  assert.doesNotMatch(result.hint ?? "", /--resume/);
  const epochs = events.filter((e) => e.type === "epoch").length;
  assert.ok(epochs < 400, `the run went on for ${epochs} epochs`);
});

Deno.test("a checkpoint that cannot be written ends the run at once, naming the file, the cause and the fix", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const run = train({ ...config, epochs: 400, runsDir: dir }, { runId: "blocked" });
  const events: RunEvent[] = [];
  for await (const event of run.events()) {
    events.push(event);
    if (event.type !== "run.started") continue;
    // last.ckpt is a non-empty folder: renaming the written file onto it fails (made once the
    // run has its directory: a new run is not started in a directory that holds files)
    await Deno.mkdir(`${dir}/blocked/checkpoints/last.ckpt`, { recursive: true });
    await Deno.writeTextFile(`${dir}/blocked/checkpoints/last.ckpt/keep.txt`, "x\n");
  }
  const result = await run.result;
  assert.equal(result.status, "failed");
  // (a file that cannot be written is no actor's failure: the supervisor writes checkpoints, and
  // the reason says what could not be written, not that the trainer failed)
  assert.equal(result.failedActor, undefined);
  assert.match(result.reason, /^the run's checkpoint could not be written: .*last\.ckpt/);
  const closing = closingEvent(events);
  assert.ok(closing?.type === "run.finished" && closing.error, JSON.stringify(closing));
  assert.equal(closing.error.code, result.code);
  assert.ok(result.code === "storage" || result.code === "file", result.code);
  assert.match(closing.error.message, /^the run's checkpoint could not be written: .*last\.ckpt/);
  assert.equal(closing.error.where, result.where);
  assert.match(result.hint ?? "", /writable/);
  // its first checkpoint is the one that failed: there is none to resume from (the hint said
  // to resume, which refused: 'it has no checkpoint')
  assert.doesNotMatch(result.hint ?? "", /--resume/);
  assert.match(result.hint ?? "", /start the run again/);
  assert.match(result.where ?? "", /blocked\/checkpoints/);
  const epochs = events.filter((e) => e.type === "epoch").length;
  assert.ok(epochs < 400, `the run went on for ${epochs} epochs after the write failed`);
  // it trained as far as its events say (it said 0 epochs, 0 steps)
  assert.ok(epochs >= 1);
  assert.equal(result.epochs, epochs);
  const steps = events.flatMap((e) => e.type === "steps" ? [e.fromStep + e.losses.length] : []);
  assert.equal(result.steps, steps.at(-1));
  const left = [...Deno.readDirSync(`${dir}/blocked/checkpoints`)].map((e) => e.name);
  assert.deepEqual(left, ["last.ckpt"], "no temporary file is left behind");
});

Deno.test("a run of many in a row that fails starts the next run's Workers as it ends: the next takes them, loaded, not fresh ones", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  await using spares = new SpareActors(1);
  // a run that will hand its Workers back starts no set ahead; this one fails mid-run instead
  const blocked = trainWithSpares(spares, { ...config, epochs: 400, runsDir: dir }, {
    runId: "blocked",
  });
  for await (const event of blocked.events()) {
    if (event.type !== "run.started") continue;
    await Deno.mkdir(`${dir}/blocked/checkpoints/last.ckpt`, { recursive: true });
    await Deno.writeTextFile(`${dir}/blocked/checkpoints/last.ckpt/keep.txt`, "x\n");
  }
  const failed = await blocked.result;
  assert.equal(failed.status, "failed", failed.reason);
  assert.equal(spares.size, 1, "no set was started for the next run");
  const next = trainWithSpares(spares, { ...config, runsDir: dir }, { runId: "next" });
  for await (const _ of next.events());
  const result = await next.result;
  assert.equal(result.status, "completed", result.reason);
  const meta = JSON.parse(await Deno.readTextFile(`${dir}/next/meta.json`));
  // five Workers taken ready, none of them the failed run's
  assert.deepEqual([meta.workersAhead, meta.workersReused], [5, 0]);
});

Deno.test("a trainer crash mid-run keeps the last checkpoint, and --resume finishes with the same weights", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const straight = await trainCollect({
    ...config,
    runsDir: dir,
    optimizer: { name: "sgd", lr: 0.05, momentum: 0.9 },
  });
  assert.equal(straight.result.status, "completed");
  // Crash at the first step of epoch 3 (after 3 checkpoints), then resume.
  const crashed = await trainCollect(
    { ...config, runsDir: dir, optimizer: { name: "sgd", lr: 0.05, momentum: 0.9 } },
    { runId: "crashed", faults: { trainer: { kind: "throw", at: "step:3" } } },
  );
  assert.equal(crashed.result.status, "failed");
  // 3 epochs of 4 steps ended before it (it said 0 epochs, 0 steps)
  assert.equal(crashed.result.epochs, 3);
  assert.ok(crashed.result.steps >= 12, `${crashed.result.steps} steps`);
  // (the runs directory is not the default: the command names it)
  assert.ok(
    (crashed.result.hint ?? "").includes(`anneal train --resume crashed --runs-dir ${dir}`),
    crashed.result.hint,
  );
  const kept = await loadCheckpoint(`${dir}/crashed/checkpoints/last.ckpt`);
  assert.equal(kept.state.epoch, 2, "the last checkpoint (end of epoch 2) is kept");
  const resumed = await trainCollect({ runsDir: dir }, { resume: "crashed" });
  assert.equal(resumed.result.status, "completed", resumed.result.reason);
  const a = await loadCheckpoint(`${straight.result.runDir}/checkpoints/last.ckpt`);
  const b = await loadCheckpoint(`${dir}/crashed/checkpoints/last.ckpt`);
  for (const [name, weight] of Object.entries(a.weights)) {
    assert.deepEqual(
      Array.from(b.weights[name].values),
      Array.from(weight.values),
      `${name} differs after resume`,
    );
  }
});

const stalls = [
  { actor: "trainer", at: "step" },
  { actor: "dataLoader", at: "batch" },
  { actor: "scheduler", at: "epoch" },
  { actor: "earlyStopper", at: "epoch" },
  { actor: "clipMonitor", at: "observe" },
] as const;

for (const { actor, at } of stalls) {
  Deno.test(`an actor that stops answering (${actor}) is noticed within the stall timeout`, async () => {
    await using runs = await tempRunsDir();
    const { dir } = runs;
    const started = performance.now();
    const { result, events } = await trainCollect(
      // Long enough that the run cannot finish before the watchdog's 1.5 s (a stalled clip
      // monitor does not hold the trainer back: it is only asked for verdicts on bad steps).
      { ...config, ...hearsEpochEnds(actor), runsDir: dir, epochs: 100_000 },
      { stallTimeoutMs: 1500, faults: { [actor]: { kind: "stall", at } } },
    );
    assert.equal(result.status, "failed");
    assert.equal(result.failedActor, actor);
    const closing = closingEvent(events);
    assert.ok(closing?.type === "run.finished", closing?.type);
    assert.equal(closing.error?.code, "actor");
    assert.equal(closing.error?.message, "stopped answering for 1.5 s (stalled)");
    // noticed at the test's limit once the actor had started; the time from the run's start
    // counts the actors' start too, which is given 30 s (15-18 s on a loaded machine)
    assert.match(result.reason, /stopped answering for 1\.5 s \(stalled\)/);
    // a stalled trainer's hint says a long step reads as a stall, and how the run goes on
    if (actor === "trainer") {
      assert.match(
        result.hint ?? "",
        /^a training step that takes longer than 1\.5 s holds the trainer's thread as a hang does .*; (the last checkpoint is kept|fix the cause, then start the run again)/,
      );
    } else assert.doesNotMatch(result.hint ?? "", /training step/);
    const seconds = (performance.now() - started) / 1000;
    assert.ok(seconds < 45, `failed after ${seconds.toFixed(1)} s`);
  });
}

Deno.test("on a software WebGPU adapter the trainer gets a longer stall limit (it compiles shaders on the CPU)", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const started = performance.now();
  // The trainer stalls at its first step; with the 1.5 s limit of the other actors it would
  // fail within ~2 s (the cpu case above). Stopped after 4 s, it fails for not stopping.
  const { train } = await import("../mod.ts");
  const run = train(
    { ...config, backend: "webgpu", runsDir: dir, epochs: 2 },
    { stallTimeoutMs: 1500, faults: { trainer: { kind: "stall", at: "step" } } },
  );
  let backend: { backend?: string; adapter?: { isFallbackAdapter: boolean } } = {};
  let markStarted = () => {};
  const trainerStarted = new Promise<void>((resolve) => (markStarted = resolve));
  const events = (async () => {
    for await (const event of run.events()) {
      if (event.type === "backend") {
        backend = event;
        markStarted();
      }
    }
  })();
  // 4 s from the trainer's start (its backend event; it stalls at its first step, just after),
  // not from the run's: on a loaded machine it started after ~15 s, the stop long before
  await Promise.race([trainerStarted, run.result]);
  await new Promise((resolve) => setTimeout(resolve, 4000));
  run.stop("test: stop the stalled trainer");
  const result = await run.result;
  await events;
  assert.equal(backend.backend, "webgpu", result.reason);
  assert.equal(backend.adapter?.isFallbackAdapter, true, "CI has llvmpipe only");
  assert.equal(result.status, "failed");
  assert.doesNotMatch(result.reason, /stopped answering/);
  assert.match(result.reason, /did not stop/);
  assert.ok(performance.now() - started >= 4000);
});

Deno.test("an actor's event the supervisor cannot take fails the run, the supervisor named, and ends the stream", async () => {
  await using runs = await tempRunsDir();
  // a steps event without its steps: the supervisor throws reading it (in its Worker's message
  // handler, where a throw was the process's uncaught exception)
  const { result, events } = await trainCollect({ ...config, runsDir: runs.dir }, {
    faults: { trainer: { kind: "emit", at: "epoch", event: { type: "steps", epoch: 0 } } },
  });
  assert.equal(result.status, "failed");
  assert.equal(result.failedActor, undefined);
  assert.equal(result.code, "internal");
  assert.match(result.reason, /^the supervisor failed: on actor 'trainer''s message: /);
  const closing = closingEvent(events);
  assert.ok(closing?.type === "run.finished", closing?.type);
  assert.equal(closing.error?.code, "internal");
  assert.match(closing.error?.message ?? "", /^on actor 'trainer''s message: .+/);
  const summary = JSON.parse(await Deno.readTextFile(`${result.runDir}/summary.json`));
  assert.equal(summary.status, "failed");
  assert.equal(summary.code, "internal");
});

Deno.test("anneal train --json: an actor whose Worker cannot start ends the stream with run.finished, failed, its error's code and message", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  // The process may read its runs directory and anneal's modules (the CLI loads its command's
  // when it runs), not tfjs's wasm files, which the trainer's narrowed permissions name: a
  // Worker that asks for more than its parent holds is refused as it is made.
  const repo = new URL("../", import.meta.url).pathname;
  const wasmFiles = wasmThreadsReadPaths().filter((path) => path.endsWith("/"));
  assert.equal(wasmFiles.length, 1, "the wasm binaries' folder");
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--unstable-worker-options",
      `--allow-read=${dir},${repo}`,
      `--deny-read=${wasmFiles[0]}`,
      `--allow-write=${dir}`,
      "--allow-env",
      "--allow-sys",
      "--config",
      `${repo}deno.json`,
      `${repo}cli/main.ts`,
      "train",
      "--backend",
      "cpu",
      "--epochs",
      "2",
      "--json",
      "--runs-dir",
      dir,
    ],
    cwd: dir,
    env: { NO_COLOR: "1", ANNEAL_ACTOR_PERMISSIONS: "narrow" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // (a run whose teardown failed left Workers behind, and its process never exited)
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  const output = await child.output();
  clearTimeout(timer);
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 1, stderr);
  const events = stdout.trim().split("\n").map((line) => JSON.parse(line));
  assert.equal(events[0].type, "run.started", stdout);
  const closing = closingEvent(events);
  assert.ok(closing?.type === "run.finished", stdout);
  assert.equal(closing.result.status, "failed");
  assert.equal(closing.error?.code, "actor");
  assert.match(
    closing.error?.message ?? "",
    /^its Worker could not start: |Requires read access/,
    stdout,
  );
  assert.match(closing.result.reason, /^actor '\w+' failed: /);
  assert.equal(typeof closing.result.failedActor, "string");
});

Deno.test("a stop or an interrupt asked once the run has ended arms no deadline: nothing holds the process", async () => {
  await using runs = await tempRunsDir();
  const stallTimeoutMs = 54_321;
  const run = train({ ...config, epochs: 2, runsDir: runs.dir }, { stallTimeoutMs });
  const result = await run.result;
  assert.equal(result.status, "completed");
  // (Ctrl-C while the run recorded its end, or a stop after it, armed the trainer's stop
  // deadline, stallTimeoutMs, that the run's end had cleared already: the process was held that
  // long past the run, a minute by default)
  const armed: { ms?: number; id: ReturnType<typeof setTimeout> }[] = [];
  const setTimer = globalThis.setTimeout;
  globalThis.setTimeout = ((handler: () => void, ms?: number) => {
    const id = setTimer(handler, ms);
    armed.push({ ms, id });
    return id;
  }) as typeof setTimeout;
  try {
    run.stop("too late");
    run.interrupt("too late");
  } finally {
    globalThis.setTimeout = setTimer;
  }
  for (const { id } of armed) clearTimeout(id);
  assert.deepEqual(armed.filter(({ ms }) => ms === stallTimeoutMs), []);
  assert.equal((await run.result).status, "completed");
});

Deno.test("a run that fails after some epochs reports the last epoch's metrics and the best epoch its last checkpoint judged, as summary.json does", async () => {
  await using runs = await tempRunsDir();
  const { result, events } = await trainCollect({ ...config, epochs: 40, runsDir: runs.dir }, {
    faults: { trainer: { kind: "throw", at: "step:13" } },
  });
  assert.equal(result.status, "failed", result.reason);
  const epochs = events.flatMap((e) => (e.type === "epoch" ? [e] : []));
  assert.ok(epochs.length >= 2, `${epochs.length} epochs before the fault`);
  assert.equal(result.epochs, epochs.length);
  // (they were {} and null, whatever the run had trained)
  assert.deepEqual(result.metrics, epochs.at(-1)!.metrics);
  const saved = await loadCheckpoint(`${result.runDir}/checkpoints/last.ckpt`);
  assert.equal(typeof saved.state.bestEpoch, "number");
  assert.equal(result.bestEpoch, saved.state.bestEpoch);
  const summary = JSON.parse(await Deno.readTextFile(`${result.runDir}/summary.json`));
  assert.equal(summary.bestEpoch, result.bestEpoch);
  assert.deepEqual(summary.metrics, result.metrics);
});
