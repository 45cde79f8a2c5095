/**
 * Where a run through the actors spends its CPU, per thread: from the plan event to the last step
 * event of each run, the CPU time of the trainer's thread and the time it was runnable but waiting
 * for a core, of the other actors' threads, the main thread, V8's helper threads and the rest
 * (Linux only: it reads `/proc/self/task/<tid>/schedstat`, in nanoseconds). On a small machine the
 * seed's run is starved of CPU: this tells whether a change cut the work of the threads beside the
 * trainer, which wall time alone hides in the machine's noise.
 *
 *   deno run -A bench/actor_threads.ts [--runs 15] [--backend wasm] [--config '{"epochs":100}']
 *
 * (the seed experiment by default; `--config` is a run config's JSON, over the defaults)
 *
 * @module
 */
import { benchFlags } from "./flags.ts";
import { type RunConfigInput, train } from "../mod.ts";

const values = benchFlags(
  {
    runs: { type: "string", default: "15" },
    backend: { type: "string", default: "wasm" },
    config: { type: "string", default: "{}" },
  },
  `Usage: deno run -A bench/actor_threads.ts [--runs 15] [--backend wasm]
    [--config '{"epochs":100}']

Where a run through the actors spends its CPU, per thread: from the plan event to the last step
event of each run, the CPU time of the trainer's thread and the time it was runnable but waiting
for a core, of the other actors' threads, the main thread, V8's helper threads and the rest (Linux
only: it reads /proc/self/task/<tid>/schedstat). The seed experiment by default; --config is a run
config's JSON, over the defaults.`,
);

/** Each thread of this process: its name, CPU time and time runnable but not running (ms). */
function threads(): Map<string, { name: string; cpu: number; waited: number }> {
  const found = new Map<string, { name: string; cpu: number; waited: number }>();
  for (const entry of Deno.readDirSync("/proc/self/task")) {
    try {
      const dir = `/proc/self/task/${entry.name}`;
      const [cpu, waited] = Deno.readTextFileSync(`${dir}/schedstat`).split(" ").map(Number);
      const name = Deno.readTextFileSync(`${dir}/comm`).trim();
      found.set(entry.name, { name, cpu: cpu / 1e6, waited: waited / 1e6 });
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return found;
}

/** One run's wall time and each kind of thread's share (ms). */
async function measure(input: RunConfigInput, runsDir: string) {
  const run = train({ ...input, runsDir });
  let before = new Map<string, { name: string; cpu: number; waited: number }>();
  let after = before;
  let first = 0;
  let last = 0;
  let totalSteps = Infinity;
  // (read at the plan and the run's last step only: reading every thread's files costs the main
  // thread, more so the more threads the process has)
  for await (const event of run.events()) {
    if (event.type === "plan") {
      totalSteps = event.totalSteps;
      before = threads();
      first = performance.now();
    }
    if (event.type === "steps" && event.fromStep + event.losses.length >= totalSteps) {
      after = threads();
      last = performance.now();
    }
  }
  await run.result;
  if (last === 0) {
    throw new Error("the run ended before its last step: time a run that takes them all");
  }
  const actors: { cpu: number; waited: number }[] = [];
  const shares = { main: 0, v8: 0, rest: 0 };
  for (const [tid, now] of after) {
    const then = before.get(tid) ?? { cpu: 0, waited: 0 };
    const cpu = now.cpu - then.cpu;
    // (Deno names a Worker's thread worker-N; its main thread, the process's name)
    if (now.name.startsWith("worker-")) actors.push({ cpu, waited: now.waited - then.waited });
    else if (now.name === "deno") shares.main += cpu;
    else if (now.name.startsWith("V8 ")) shares.v8 += cpu;
    else shares.rest += cpu;
  }
  // the trainer: the actor that ran the most (the steps are its own)
  actors.sort((a, b) => b.cpu - a.cpu);
  return {
    wall: last - first,
    trainer: actors[0]?.cpu ?? 0,
    trainerWaited: actors[0]?.waited ?? 0,
    otherActors: actors.slice(1).reduce((sum, a) => sum + a.cpu, 0),
    ...shares,
  };
}

if (import.meta.main) {
  if (Deno.build.os !== "linux") {
    console.log("bench/actor_threads.ts reads /proc/self/task: Linux only");
    Deno.exit(0);
  }
  const runsDir = await Deno.makeTempDir({ prefix: "anneal-bench-" });
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const input = { ...JSON.parse(values.config), backend: values.backend as "cpu" };
  const rows: Awaited<ReturnType<typeof measure>>[] = [];
  for (let r = 0; r < Number(values.runs); r++) rows.push(await measure(input, runsDir));
  const column = (key: keyof (typeof rows)[number]) => median(rows.map((row) => row[key]));
  console.log(
    `${values.config} on ${values.backend} (medians of ${rows.length} runs, ms): wall ${
      column("wall").toFixed(1)
    }; trainer CPU ${column("trainer").toFixed(1)}, runnable but waiting for a core ${
      column("trainerWaited").toFixed(1)
    }; other actors ${column("otherActors").toFixed(1)}, main thread ${
      column("main").toFixed(1)
    }, V8 helper threads ${column("v8").toFixed(1)}, other threads ${column("rest").toFixed(1)}`,
  );
  await Deno.remove(runsDir, { recursive: true });
}
