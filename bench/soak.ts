/**
 * Soak benchmark: trains for a long while through the actors and samples, per epoch, the
 * process's resident memory (the main thread and every Worker share one process), each actor's
 * V8 heap (from its heartbeat) and tfjs's tensor count, then prints them in ten windows.
 *
 *   deno run -A --v8-flags=--expose-gc bench/soak.ts [--epochs 300] [--backend wasm] [--trace N]
 *
 * With --expose-gc every heap figure is taken right after a full collection (live objects only).
 *
 * @module
 */
import { benchFlags } from "./flags.ts";
import { train } from "../mod.ts";

const values = benchFlags(
  {
    epochs: { type: "string", default: "300" },
    backend: { type: "string", default: "wasm" },
    /** Print a line every N epochs. */
    trace: { type: "string" },
  },
  `Usage: deno run -A --v8-flags=--expose-gc bench/soak.ts [--epochs 300] [--backend wasm]
    [--trace N]

Trains for a long while through the actors and samples, per epoch, the process's resident memory
(the main thread and every Worker share one process), each actor's V8 heap (from its heartbeat)
and tfjs's tensor count, then prints them in ten windows. With --expose-gc every heap figure is
taken right after a full collection (live objects only); --trace N prints a line every N epochs.`,
);
const runsDir = await Deno.makeTempDir({ prefix: "anneal-soak-" });
const run = train({
  backend: values.backend as "wasm",
  runsDir,
  epochs: Number(values.epochs),
  data: { kind: "synthetic-linear", n: 2048, validationSplit: 0.2 },
  model: { kind: "mlp", hidden: [256, 256] },
  optimizer: { name: "adam", lr: 1e-3 },
  batchSize: 32,
});
const samples: {
  epoch: number;
  rssMiB: number;
  tensors: number;
  heapMiB: Record<string, number>;
}[] = [];
const mib = (bytes: number) => bytes / 2 ** 20;
const started = performance.now();
for await (const event of run.events()) {
  if (event.type !== "epoch") continue;
  samples.push({
    epoch: event.epoch,
    rssMiB: mib(Deno.memoryUsage().rss),
    tensors: event.memory.numTensors,
    heapMiB: Object.fromEntries(
      Object.entries(event.heapUsed ?? {}).map(([actor, bytes]) => [actor, mib(bytes!)]),
    ),
  });
  if (values.trace && event.epoch % Number(values.trace) === 0) {
    const heaps = Object.entries(samples.at(-1)!.heapMiB).map(([a, v]) => `${a} ${v.toFixed(1)}`);
    console.log(
      `epoch ${event.epoch}: rss ${samples.at(-1)!.rssMiB.toFixed(1)} MiB; heap ${
        heaps.join(", ")
      }`,
    );
  }
}
const result = await run.result;
await Deno.remove(runsDir, { recursive: true });
console.log(
  `${result.status}: ${samples.length} epochs, ${result.steps} steps in ${
    ((performance.now() - started) / 1000).toFixed(0)
  } s on ${result.backend}`,
);
// Garbage collection makes single samples noisy: compare windows of a tenth of the run each.
const actors = [...new Set(samples.flatMap((s) => Object.keys(s.heapMiB)))];
console.log(`epochs     | rss MiB min-max | heap MiB, max per actor (${actors.join(", ")})`);
const width = Math.max(1, Math.floor(samples.length / 10));
for (let from = 0; from < samples.length; from += width) {
  const part = samples.slice(from, from + width);
  const rss = part.map((s) => s.rssMiB);
  const heaps = actors.map((a) => Math.max(...part.map((s) => s.heapMiB[a] ?? 0)).toFixed(0));
  console.log(
    `${String(part[0].epoch).padStart(4)}-${String(part.at(-1)!.epoch).padEnd(5)} | ${
      Math.min(...rss).toFixed(0)
    }-${Math.max(...rss).toFixed(0)}`.padEnd(29) + ` | ${heaps.join(", ")}`,
  );
}
console.log(`tfjs tensors per epoch: ${[...new Set(samples.map((s) => s.tensors))].join(", ")}`);
