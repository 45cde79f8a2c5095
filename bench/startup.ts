/**
 * What a user waits for besides the training steps: each workload in a fresh `deno` process,
 * interleaved, median of several rounds.
 *
 * - `import mod.ts`: the module graph `import { train } from "mod.ts"` loads and evaluates;
 * - `anneal --help`: the CLI's start, its command tree, its exit;
 * - `anneal train`: the seed experiment end to end (five Workers started, 650 steps, the run's
 *   records written), and within it the time to the `plan` event (the Workers up, the data loaded,
 *   the model built) and to the first `steps` event;
 * - `anneal sweep`: a study of a few seed trials (a grid, no pruner), its time per trial, and
 *   the time per trial after the first, from the first trial's line to the last's (each trial a
 *   run of five actors, in the Workers the trial before handed back);
 * - `anneal sweep` on WebGPU (where an adapter exists: llvmpipe counts): the same study of a small
 *   MLP, whose trials after the first take the Workers, and the trainer's device, of the one before.
 *
 *   deno run -A bench/startup.ts [--rounds 7] [--json]
 *
 * @module
 */
import { benchFlags } from "./flags.ts";
import { fileURLToPath } from "node:url";
import denoJson from "../deno.json" with { type: "json" };

const values = benchFlags(
  {
    rounds: { type: "string", default: "7" },
    json: { type: "boolean", default: false },
  },
  `Usage: deno run -A bench/startup.ts [--rounds 7] [--json]

What a user waits for besides the training steps, each in a fresh process, interleaved (median of
--rounds): import of mod.ts; anneal --help; anneal train (the seed) end to end, with its times to
the plan event (Workers up, data loaded, model built) and to the first steps; anneal sweep of a few
seed trials, its time per trial, and per trial after the first; the same of a small MLP on WebGPU
where an adapter exists.`,
);
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) {
  throw new Error(`--rounds ${values.rounds}: expected a whole number of rounds, 1 or more`);
}

const root = fileURLToPath(new URL("../", import.meta.url));
const runsDir = await Deno.makeTempDir({ prefix: "anneal_startup_" });
/** A script that imports mod.ts and nothing else (statically, as a user's script would). */
const importProbe = `${runsDir}/import_probe.ts`;
await Deno.writeTextFile(
  importProbe,
  `import { train } from ${
    JSON.stringify(`${root}mod.ts`)
  };\nif (typeof train !== "function") throw new Error("mod.ts: no train");\n`,
);
/**
 * A sweep of the seed: each trial's run is short (~0.1 s of training), so what a trial costs
 * beyond it is the run's start and end (five Workers, records, the diagnosis) and the study's.
 */
const SWEEP_TRIALS = 4;
const sweepConfig = `${runsDir}/sweep.json`;
await Deno.writeTextFile(
  sweepConfig,
  JSON.stringify({
    // (a grid without a pruner: the same trials, each trained to its end, every round)
    sweep: {
      metric: "loss",
      trials: SWEEP_TRIALS,
      sampler: "grid",
      pruner: "none",
      space: { "optimizer.lr": { type: "grid", values: [0.004, 0.008, 0.012, 0.016] } },
    },
  }),
);
let sweeps = 0;
/** The WebGPU sweep's trials: a small MLP (a linear model would take wasm under auto). */
const GPU_SWEEP = ["--set", "backend=webgpu", "--set", 'model={"kind":"mlp","hidden":[32]}'];
const gpu = (navigator as { gpu?: GPU }).gpu;
const hasAdapter = (await gpu?.requestAdapter().catch(() => null)) != null;
/** `deno task anneal`'s command line (run from the repository's root), and its environment. */
const task = denoJson.tasks.anneal.command.split(/\s+/);
const CLI_FLAGS = task.slice(task.indexOf("deno") + 1);
const CLI_ENV = Object.fromEntries(
  task.slice(0, task.indexOf("deno")).map((word) => word.split("=") as [string, string]),
);

/** The `type` of an NDJSON event line; undefined for a line that is not one. */
function eventType(line: string): unknown {
  try {
    return JSON.parse(line).type;
  } catch {
    return undefined;
  }
}

/**
 * Milliseconds from spawn to exit, to each JSON event type's first line on stdout, and to each
 * line that reports a sweep's trial (`trial   3  COMPLETE ...`).
 */
async function timed(
  args: string[],
): Promise<{ total: number; events: Record<string, number>; trials: number[] }> {
  const start = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    env: { ...CLI_ENV, NO_COLOR: "1" },
  }).spawn();
  const events: Record<string, number> = {};
  const trials: number[] = [];
  let pending = "";
  const decoder = new TextDecoder();
  const stderr = new Response(child.stderr).text();
  for await (const chunk of child.stdout) {
    const at = performance.now() - start;
    pending += decoder.decode(chunk, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) {
      const type = line.startsWith("{") ? eventType(line) : undefined;
      if (typeof type === "string") events[type] ??= at;
      if (/^trial\s+\d+\s/.test(line)) trials.push(at);
    }
  }
  const status = await child.status;
  const total = performance.now() - start;
  if (!status.success) {
    throw new Error(`deno ${args.join(" ")} exited ${status.code}:\n${await stderr}`);
  }
  return { total, events, trials };
}

const WORKLOADS: Record<string, () => Promise<Record<string, number>>> = {
  "import mod.ts": async () => ({
    total: (await timed(["run", "-A", "--config", `${root}deno.json`, importProbe])).total,
  }),
  "anneal --help": async () => ({ total: (await timed([...CLI_FLAGS, "--help"])).total }),
  "anneal train": async () => {
    const { total, events } = await timed([...CLI_FLAGS, "train", "--json", "--runs-dir", runsDir]);
    return { total, plan: events.plan, "first steps": events.steps };
  },
  [`anneal sweep (${SWEEP_TRIALS} seed trials)`]: () => sweep([]),
};
if (hasAdapter) {
  WORKLOADS[`anneal sweep on webgpu (${SWEEP_TRIALS} mlp trials)`] = () => sweep(GPU_SWEEP);
}

/** `anneal sweep` of the study, with `extra` arguments: its total time, and per trial. */
async function sweep(extra: string[]): Promise<Record<string, number>> {
  // (each its own study: a sweep in a runs directory that holds one continues it)
  const args = ["sweep", "-c", sweepConfig, "--set", `runsDir=${runsDir}/sweep_${sweeps++}`];
  const { total, trials } = await timed([...CLI_FLAGS, ...args, ...extra]);
  if (trials.length !== SWEEP_TRIALS) {
    throw new Error(`anneal sweep reported ${trials.length} trials of ${SWEEP_TRIALS}`);
  }
  // (after the first: each trial took the Workers the one before handed back)
  const after = (trials.at(-1)! - trials[0]) / (SWEEP_TRIALS - 1);
  return { total, "a trial": total / SWEEP_TRIALS, "a trial after the first": after };
}

const samples: Record<string, Record<string, number[]>> = {};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
try {
  // one unmeasured start of each: Deno's caches (compiled modules, npm packages) warm
  for (const work of Object.values(WORKLOADS)) await work();
  for (let round = 0; round < rounds; round++) {
    const names = Object.keys(WORKLOADS);
    // (rotated, so that no workload always follows the same one)
    const order = names.map((_, i) => names[(i + round) % names.length]);
    for (const name of order) {
      for (const [part, ms] of Object.entries(await WORKLOADS[name]())) {
        ((samples[name] ??= {})[part] ??= []).push(ms);
      }
    }
    if (!values.json) console.error(`round ${round + 1}/${rounds}`);
  }
} finally {
  await Deno.remove(runsDir, { recursive: true });
}

const table = Object.entries(samples).map(([name, parts]) => ({
  workload: name,
  ...Object.fromEntries(Object.entries(parts).map(([part, xs]) => [part, median(xs)])),
}));
if (values.json) console.log(JSON.stringify({ rounds, table }));
else {
  console.log(`startup, median of ${rounds} fresh processes (ms from spawn)`);
  for (const row of table) {
    const { workload, ...parts } = row;
    console.log(
      `  ${workload.padEnd(14)} ${
        Object.entries(parts).map(([part, ms]) => `${part} ${(ms as number).toFixed(0)}`).join(", ")
      }`,
    );
  }
}
