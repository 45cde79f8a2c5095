/**
 * `deno task bench`: the three benchmarks one after another, each in a process of its own, with
 * its defaults: `bench/main.ts` (the workloads side by side with PyTorch), `bench/actor_overhead.ts`
 * (the actors against an in-process loop) and `bench/startup.ts` (what a user waits for besides
 * the steps). `--parts` picks some of them. Any other flag is refused at once, before a benchmark
 * runs: a part's own flags go to that part, run alone (each takes `--help`).
 *
 * (The task was the three commands joined by `&&`, which gave the task's arguments to the last
 * one alone: `deno task bench --help` ran the first two benchmarks, ~10 minutes, before the third
 * printed its usage.)
 *
 *   deno task bench [--parts main,actors,startup]
 *
 * @module
 */
import { benchFlags } from "./flags.ts";

/** Each part: the file it runs, and the permissions it is given. */
export const PARTS = {
  main: {
    file: "bench/main.ts",
    permissions: ["--allow-read", "--allow-write", "--allow-env", "--allow-run", "--allow-sys"],
    what: "the workloads of bench/torch_reference.py side by side with PyTorch",
  },
  actors: {
    file: "bench/actor_overhead.ts",
    permissions: ["--allow-read", "--allow-write", "--allow-env", "--allow-run", "--allow-sys"],
    what: "the same training through the five actors and in a plain in-process loop",
  },
  startup: {
    file: "bench/startup.ts",
    permissions: ["--allow-read", "--allow-write", "--allow-env", "--allow-run"],
    what: "start-up times: import, --help, a whole seed run, a sweep's trials",
  },
} as const;

type Part = keyof typeof PARTS;

const names = Object.keys(PARTS) as Part[];
const usage = `Usage: deno task bench [--parts ${names.join(",")}]

Runs the benchmarks one after another, each in a process of its own with its defaults:
${
  names.map((name) => `  ${name.padEnd(8)} ${PARTS[name].file.padEnd(24)} ${PARTS[name].what}`)
    .join("\n")
}
--parts runs only those named, in this order. A part's own settings (backends, workloads, repeats,
the python3 with torch, JSON output) are its flags: run it alone, e.g.
  npx -y deno@2.9.6 run -A --node-modules-dir=manual bench/main.ts --help
Results and how they were measured: BENCHMARKS.md.`;

if (import.meta.main) await main();

/** Parses the flags and runs the parts asked for (only as the task's entry: importing runs none). */
async function main(): Promise<void> {
  const flags = benchFlags({ parts: { type: "string", default: names.join(",") } }, usage);
  const asked = flags.parts.split(",").map((name) => name.trim()).filter((name) => name !== "");
  const unknown = asked.filter((name) => !(names as string[]).includes(name));
  if (unknown.length > 0 || asked.length === 0) {
    console.error(
      `--parts ${JSON.stringify(flags.parts)}: ` +
        (unknown.length > 0 ? `no part named ${unknown.join(", ")}` : "names no part") +
        `; the parts are ${names.join(", ")}\n\n${usage}`,
    );
    Deno.exit(2);
  }

  const root = new URL("..", import.meta.url);
  for (const name of names.filter((name) => asked.includes(name))) {
    const part = PARTS[name];
    const { code } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--node-modules-dir=manual", ...part.permissions, part.file],
      cwd: root,
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn().status;
    if (code !== 0) {
      console.error(
        `deno task bench: ${part.file} exited with status ${code}; the parts after it were not run`,
      );
      Deno.exit(code);
    }
  }
}
