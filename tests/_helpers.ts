/**
 * Shared helpers of the integration tests.
 *
 * @module
 */
import assert from "node:assert/strict";
import { loadCheckpoint, train } from "../mod.ts";
import type {
  RunConfigInput,
  RunEvent,
  RunFinishedEvent,
  RunRefusedEvent,
  RunResult,
  TrainOptions,
  WeightMap,
} from "../mod.ts";
import type { RunConfig } from "../config.ts";
import { trainInProcess } from "../runtime/in_process.ts";
import { releaseWebGpu } from "../runtime/backend.ts";

/**
 * A temporary runs directory, removed when the scope that holds it ends:
 * `await using runs = await tempRunsDir();`.
 */
export async function tempRunsDir(): Promise<{ dir: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "anneal-test-" });
  return { dir, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

/**
 * The closing event of a run's stream, checked: a stream with a `run.started` ends with exactly
 * one `run.finished` or `run.refused`, its last event (`undefined` for a stream without one: a
 * run refused before it started has no event at all).
 */
export function closingEvent(
  events: { type: string }[],
): RunFinishedEvent | RunRefusedEvent | undefined {
  const types = events.map((event) => event.type);
  if (!types.includes("run.started")) {
    assert.deepEqual(types, [], "a stream without run.started has no event");
    return undefined;
  }
  const closing = types.filter((type) => type === "run.finished" || type === "run.refused");
  assert.equal(closing.length, 1, `one closing event, not ${closing.length}: ${types.join(", ")}`);
  const last = events.at(-1) as RunEvent;
  assert.ok(
    last.type === "run.finished" || last.type === "run.refused",
    `the stream's last event is its closing one, not ${last.type}`,
  );
  return last;
}

/** Trains a config through the actors and collects its events (their closing one checked). */
export async function trainCollect(
  config: RunConfigInput,
  options: TrainOptions = {},
): Promise<{ result: RunResult; events: RunEvent[] }> {
  const run = train(config, options);
  const events: RunEvent[] = [];
  for await (const event of run.events()) events.push(event);
  closingEvent(events);
  const result = await run.result;
  // An actor the watchdog found stalled, in a test that did not make it stall: what this
  // process's threads wait on then goes to the test's output (an intermittent stall on a busy
  // machine is otherwise known only by its timeout).
  if (options.faults === undefined && /\(stalled\)|did not stop within/.test(result.reason)) {
    console.error(`[stall] ${result.reason}\n${await threadWaits()}`);
  }
  return { result, events };
}

/**
 * This process's threads, counted by name and by the kernel function each waits in. (Read by a
 * shell: Deno grants /proc only to --allow-all, and the suite runs with a listed set.)
 */
export async function threadWaits(): Promise<string> {
  const script =
    'for t in /proc/"$1"/task/*; do echo "$(cat "$t/comm") in $(cat "$t/wchan")"; done';
  try {
    const output = await new Deno.Command("sh", {
      args: ["-c", script, "sh", String(Deno.pid)],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const counts = new Map<string, number>();
    for (const line of new TextDecoder().decode(output.stdout).split("\n")) {
      if (!line) continue;
      const [name, wait] = line.split(" in ");
      const key = `${name.replace(/-\d+$/, "-N")} in ${wait || "running"}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    if (counts.size === 0) throw new Error(new TextDecoder().decode(output.stderr));
    return [...counts].sort((a, b) => b[1] - a[1]).map(([key, n]) => `  ${n} x ${key}`).join("\n");
  } catch (error) {
    return `(threads unreadable: ${error})`;
  }
}

/**
 * Loads each actor's Worker module (`actors/*_worker.ts`) once in this process, waiting as long
 * as that takes, and ends it: for a test that starts several runs at once. Under `deno test` a
 * Worker's module graph is type-checked when a Worker first loads it; with a cold cache (a fresh
 * machine, or an edit to a file the actors import) two runs' actors, ten graphs checked at once,
 * took more than a minute on a loaded 2-core machine, past the supervisor's allowance for an
 * actor to load (60 s), and the runs failed with "did not start within 60.0 s (stalled)". Their
 * actors then load from the cache, as one run's do (`deno run`, the CLI, checks none).
 */
export async function loadActorModules(): Promise<void> {
  const actors = new URL("../actors/", import.meta.url);
  const files = (await Array.fromAsync(Deno.readDir(actors)))
    .map((entry) => entry.name)
    .filter((name) => name.endsWith("_worker.ts"));
  assert.ok(files.length > 0, `no actor Worker modules (*_worker.ts) in ${actors.pathname}`);
  await Promise.all(files.map(async (file) => {
    const worker = new Worker(new URL(file, actors).href, { type: "module" });
    try {
      // (an actor posts its first heartbeat as soon as its module is loaded)
      await new Promise<void>((resolve, reject) => {
        worker.onmessage = () => resolve();
        worker.onerror = (event) => {
          event.preventDefault();
          reject(new Error(`actors/${file} did not load: ${event.message}`));
        };
      });
    } finally {
      worker.terminate();
    }
  }));
}

/** Reads an NDJSON file of a run. */
export async function readNdjson(path: string): Promise<Record<string, number>[]> {
  const text = await Deno.readTextFile(path);
  return text.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
}

/** The repository's root directory (where `cli/main.ts` is). */
export const REPO_ROOT: string = new URL("..", import.meta.url).pathname;

/**
 * The CLI as a user runs it (`deno task anneal` uses the same file, permissions and
 * `--node-modules-dir=manual`, actors' permissions narrowed); `net` widens
 * the network permission (the PostgreSQL tests reach a server on a random local port); `cwd` is
 * the working directory it runs in (the repository's root by default).
 */
export function annealCommand(
  args: string[],
  net = "127.0.0.1,localhost",
  cwd = REPO_ROOT,
): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      // (as the task: node_modules taken as installed, not checked anew for each module of a
      // Worker that imports an npm package; tools/test.sh installs them first)
      "--node-modules-dir=manual",
      "--unstable-worker-options",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-sys",
      net === "*" ? "--allow-net" : `--allow-net=${net}`,
      "--allow-run",
      // (from another directory, the repository's deno.json is not found by itself)
      ...(cwd === REPO_ROOT ? [] : ["--config", `${REPO_ROOT}deno.json`]),
      `${REPO_ROOT}cli/main.ts`,
      ...args,
    ],
    cwd,
    env: { NO_COLOR: "1", ANNEAL_ACTOR_PERMISSIONS: "narrow" },
    stdout: "piped",
    stderr: "piped",
  });
}

/** Runs the CLI as a user would (`deno task anneal ...` runs the same file with these permissions). */
export async function anneal(
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await annealCommand(args).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return {
    code: output.code,
    stdout: decode(output.stdout),
    stderr: withoutDenoLockWait(decode(output.stderr)),
  };
}

/**
 * `stderr` without Deno's own line for a wait on another process's lock of node_modules (printed
 * by a `deno run` started while another test's process holds it: seen once in a clean-clone CI,
 * where it failed a test comparing the CLI's whole stderr). Not the program's output.
 */
export function withoutDenoLockWait(stderr: string): string {
  return stderr.replace(/^Blocking waiting for file lock on [^\n]*\n/gm, "");
}

/**
 * `anneal train` arguments for a run of `epochs` epochs of 63 steps each (a wide MLP on the CPU,
 * 0.15-0.25 s an epoch on the host step), so that a signal sent at an epoch's end lands mid-run
 * where a few epochs are left.
 */
export function slowTrainArgs(epochs: number, runsDir: string): string[] {
  return [
    "train",
    "--backend",
    "cpu",
    "--epochs",
    String(epochs),
    "--set",
    "data.n=1000",
    "--set",
    'model={"kind":"mlp","hidden":[256,256]}',
    "--runs-dir",
    runsDir,
  ];
}

/** `anneal train --resume <runId>` in `runsDir` without a progress bar, and what it printed. */
export function resumeRun(
  runId: string,
  runsDir: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return anneal("train", "--resume", runId, "--runs-dir", runsDir, "--no-progress");
}

/**
 * Writes a CSV of 40 rows y = 2x into `dir` whose row 13 has an x so large (3e38) that its loss
 * overflows to Infinity, and returns the `data` section that reads it in order (unshuffled, no
 * validation split, unnormalized): that row's batch has an infinite loss in every epoch.
 */
export async function infiniteRowData(dir: string) {
  const rows = Array.from({ length: 40 }, (_, i) => {
    const x = i === 13 ? 3e38 : (i % 10) / 10;
    return `${x},${i === 13 ? 0 : 2 * x}`;
  });
  const path = `${dir}/data.csv`;
  await Deno.writeTextFile(path, ["x,y", ...rows].join("\n") + "\n");
  return {
    kind: "csv" as const,
    path,
    target: "y",
    normalize: "none" as const,
    validationSplit: 0,
    shuffle: false,
  };
}

/**
 * A regression CSV of 64 rows and a test file of 16 in `dir` (y = 2x - z + 0.5): the data section
 * that reads them.
 */
export async function regressionCsv(dir: string) {
  const rows = (n: number, offset: number) =>
    "x,z,y\n" + Array.from({ length: n }, (_, i) => {
      const x = ((i + offset) * 37 % 101) / 50 - 1, z = ((i + offset) * 59 % 97) / 48 - 1;
      return `${x},${z},${(2 * x - z + 0.5).toFixed(4)}`;
    }).join("\n") + "\n";
  await Deno.writeTextFile(`${dir}/train.csv`, rows(64, 0));
  await Deno.writeTextFile(`${dir}/test.csv`, rows(16, 500));
  return {
    kind: "csv" as const,
    path: `${dir}/train.csv`,
    testPath: `${dir}/test.csv`,
    target: "y",
  };
}

/**
 * A small regression CSV with a test file in `dir` (every run prints a `Test:` line), and a config
 * of `epochs` epochs for it (adam, batches of 16, on the cpu): the config file's path.
 */
export async function csvConfig(dir: string, epochs: number): Promise<string> {
  const data = await regressionCsv(dir);
  const file = `${dir}/config.json`;
  await Deno.writeTextFile(
    file,
    JSON.stringify({
      backend: "cpu",
      runsDir: dir,
      epochs,
      batchSize: 16,
      data,
      optimizer: { name: "adam", lr: 0.01 },
    }),
  );
  return file;
}

/**
 * Resumes run `runId` through the CLI once for each of `maxSteps`, in order (`--max-steps N`:
 * a run stopped by its step budget trained on to the next), each of which must succeed.
 */
export async function resumeInStages(runId: string, runsDir: string, maxSteps: string[]) {
  for (const steps of maxSteps) {
    const resumed = await annealCommand([
      ...["train", "--resume", runId, "--runs-dir", runsDir, "--max-steps", steps],
      "--no-progress",
    ]).output();
    assert.equal(resumed.code, 0, new TextDecoder().decode(resumed.stderr));
  }
}

/** A run's last weights (its `last.ckpt`'s, as plain arrays) and step records, to compare runs by. */
export async function lastWeightsAndSteps(runDir: string) {
  const { weights } = await loadCheckpoint(`${runDir}/checkpoints/last.ckpt`);
  return {
    weights: Object.fromEntries(
      Object.entries(weights).map(([name, weight]) => [name, Array.from(weight.values)]),
    ),
    steps: await readNdjson(`${runDir}/steps.ndjson`),
  };
}

/**
 * Starts `anneal ... --json` and sends `signal` once an event satisfies `until` (after `before`,
 * given the run's id and its process's pid, has done what is to be done while it runs); resolves
 * with the run's id and the process's status (and what it printed after the signal).
 */
export async function signalWhen(
  args: string[],
  until: (event: Record<string, unknown>) => boolean,
  signal: Deno.Signal,
  before?: (runId: string, pid: number) => Promise<void>,
): Promise<
  { runId: string; pid: number; status: Deno.CommandStatus; stdout: string; stderr: string }
> {
  const child = annealCommand([...args, "--json"]).spawn();
  const stderr = new Response(child.stderr).text();
  const decoder = new TextDecoder();
  let runId = "";
  let buffered = "";
  let sent = false;
  let stdout = "";
  let failed: { error: unknown } | undefined;
  for await (const chunk of child.stdout) {
    const text = decoder.decode(chunk, { stream: true });
    if (sent) {
      stdout += text;
      continue;
    }
    buffered += text;
    let newline;
    while (!sent && (newline = buffered.indexOf("\n")) >= 0) {
      const event = JSON.parse(buffered.slice(0, newline));
      buffered = buffered.slice(newline + 1);
      if (event.type === "run.started") runId = event.runId;
      if (until(event)) {
        // the process is signalled whatever `before` did; its failure is thrown once it ended
        await before?.(runId, child.pid).catch((error) => (failed = { error }));
        child.kill(signal);
        sent = true;
        stdout = buffered;
      }
    }
  }
  const status = await child.status;
  if (failed) throw failed.error;
  return { runId, pid: child.pid, status, stdout, stderr: await stderr };
}

/** Asserts that the last checkpoint of the run in `runDir` holds `weights`, bit for bit. */
export async function assertLastWeights(runDir: string, weights: WeightMap): Promise<void> {
  const saved = await loadCheckpoint(`${runDir}/checkpoints/last.ckpt`);
  for (const [name, weight] of Object.entries(weights)) {
    assert.deepEqual(Array.from(saved.weights[name].values), Array.from(weight.values), name);
  }
}

/**
 * `trainInProcess`, then the main thread's WebGPU device released (`releaseWebGpu`; a no-op on
 * the other backends). A test process whose main thread kept its device to the end, beside the
 * trainer Workers' (each destroyed as its Worker ends), aborted at exit now and then with glibc
 * heap errors ("corrupted size vs. prev_size", "double free") after every test had passed.
 */
export async function trainInProcessReleased(config: RunConfig) {
  try {
    return await trainInProcess(config);
  } finally {
    await releaseWebGpu();
  }
}

/**
 * Polls `probe` (every 100 ms) until it gives a value, and returns it; throws, naming `what`, after
 * `timeoutMs`.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * A sweep of two grid trials (two learning rates, no pruning) on 64 samples of synthetic linear
 * data: the config the sweep-process tests run, with their backend, model and epochs.
 */
export const TWO_TRIAL_SWEEP = {
  data: { kind: "synthetic-linear", n: 64 },
  sweep: {
    metric: "loss",
    space: { "optimizer.lr": { type: "choice", values: [0.01, 0.02] } },
    sampler: "grid",
    pruner: "none",
    trials: 2,
  },
};

/**
 * Runs `runSweep(config)` in a process of its own and checks that the process ends by itself
 * (it is killed after `limitMs`: a Worker left running keeps it alive), with status 0 (a crash at
 * exit is 134 or 139) and its trials in the `states` given (comma-separated, in order).
 */
export async function assertSweepProcessEnds(
  config: Record<string, unknown>,
  states: string,
  limitMs = 120_000,
): Promise<void> {
  const sweep = new URL("../runtime/sweep.ts", import.meta.url).href;
  const script = `const { runSweep } = await import(${JSON.stringify(sweep)});\n` +
    `const result = await runSweep(${JSON.stringify(config)});\n` +
    `console.log(result.trials.map((trial) => trial.state).join(","));\n`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "-A", "--config", new URL("../deno.json", import.meta.url).pathname, script],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill("SIGKILL");
  }, limitMs);
  const output = await child.output();
  clearTimeout(timer);
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(killed, false, `the process did not end of itself within ${limitMs / 1000} s`);
  assert.equal(output.code, 0, stderr);
  assert.equal(new TextDecoder().decode(output.stdout).trim(), states, stderr);
}
