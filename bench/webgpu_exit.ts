/**
 * How often a process crashes at exit after terminating a Worker that made a WebGPU instance,
 * by how long it waits after the termination (the reason for `WEBGPU_TEARDOWN_MS` in
 * `runtime/actor_workers.ts`). Each round starts a fresh `deno` process whose Worker asks
 * `navigator.gpu` for an adapter (as `--backend auto` does before it takes wasm on a software
 * adapter) and answers; the process terminates it 50 ms later (a run's grace), waits `--waits`
 * ms, and ends by itself. Counts the processes that did not exit 0 (a segfault, 139, or glibc's
 * "double free or corruption", 134). Rerun it on a new Deno to see whether the wait is still
 * needed, or on a real GPU.
 *
 *   deno run -A bench/webgpu_exit.ts [--rounds 40] [--waits 0,100]
 *
 * @module
 */
import { benchFlags } from "./flags.ts";
import { WEBGPU_TEARDOWN_MS } from "../runtime/actor_workers.ts";

const CHILD = "--child-wait-ms";

if (Deno.args[0] === CHILD) {
  // The child: one Worker that makes a WebGPU instance, terminated, then this process ends.
  const source = `await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
self.postMessage("asked");`;
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  const worker = new Worker(url, { type: "module" });
  await new Promise((resolve) => (worker.onmessage = resolve));
  await new Promise((resolve) => setTimeout(resolve, 50));
  worker.terminate();
  const waitMs = Number(Deno.args[1]);
  if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
} else {
  const values = benchFlags(
    {
      rounds: { type: "string", default: "40" },
      waits: { type: "string", default: `0,${WEBGPU_TEARDOWN_MS}` },
    },
    `Usage: deno run -A bench/webgpu_exit.ts [--rounds 40] [--waits 0,${WEBGPU_TEARDOWN_MS}]

Starts --rounds fresh processes for each wait of --waits (ms, comma-separated), interleaved: each
terminates a Worker that asked navigator.gpu for an adapter, waits that long, and exits. Prints how
many of them crashed at exit, by wait.`,
  );
  const rounds = Number(values.rounds);
  const waits = values.waits.split(",").map(Number);
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new Error(`--rounds ${values.rounds}: expected a whole number of rounds, 1 or more`);
  }
  if (waits.some((wait) => !Number.isFinite(wait) || wait < 0)) {
    throw new Error(`--waits ${values.waits}: expected milliseconds >= 0, comma-separated`);
  }
  const crashed = new Map<number, string[]>(waits.map((wait) => [wait, []]));
  for (let round = 0; round < rounds; round++) {
    for (const wait of waits) {
      const { code, stderr } = await new Deno.Command(Deno.execPath(), {
        // (its modules are local: nothing to fetch, offline too)
        args: ["run", "--cached-only", "-A", new URL(import.meta.url).href, CHILD, String(wait)],
        stdout: "null",
        stderr: "piped",
      }).output();
      if (code !== 0) {
        const said = new TextDecoder().decode(stderr).trim().split("\n").at(-1) ?? "";
        crashed.get(wait)!.push(`exit ${code}${said ? ` (${said.slice(0, 80)})` : ""}`);
      }
    }
    Deno.stderr.writeSync(new TextEncoder().encode(`\rround ${round + 1}/${rounds}`));
  }
  console.error("");
  console.log("wait after terminate (ms) | crashed at exit | how");
  for (const [wait, how] of crashed) {
    console.log(`${wait} | ${how.length} of ${rounds} | ${[...new Set(how)].join("; ")}`);
  }
}
