/**
 * Soak benchmark: trains for a long while through the actors and samples the process's resident
 * memory (the main thread and every Worker share one process) and tfjs's tensor count per epoch,
 * then reports the growth over the second half of the run (after warm-up).
 *
 *   deno run -A bench/soak.ts [--epochs 300] [--backend wasm]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { train } from "../mod.ts";

const { values } = parseArgs({
  options: {
    epochs: { type: "string", default: "300" },
    backend: { type: "string", default: "wasm" },
  },
});
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
const samples: { epoch: number; rssMiB: number; tensors: number }[] = [];
const started = performance.now();
for await (const event of run.events()) {
  if (event.type !== "epoch") continue;
  samples.push({
    epoch: event.epoch,
    rssMiB: Deno.memoryUsage().rss / 2 ** 20,
    tensors: event.memory.numTensors,
  });
}
const result = await run.result;
await Deno.remove(runsDir, { recursive: true });
const half = samples.slice(Math.floor(samples.length / 2));
const first = half[0];
const last = half.at(-1)!;
const peak = Math.max(...samples.map((s) => s.rssMiB));
console.log(
  `${result.status}: ${samples.length} epochs, ${result.steps} steps in ${
    ((performance.now() - started) / 1000).toFixed(0)
  } s on ${result.backend}`,
);
console.log(
  `rss: ${samples[0].rssMiB.toFixed(1)} MiB after epoch 0, ${
    first.rssMiB.toFixed(1)
  } at epoch ${first.epoch}, ${last.rssMiB.toFixed(1)} at epoch ${last.epoch} (peak ${
    peak.toFixed(1)
  }); growth over the second half ${(last.rssMiB - first.rssMiB).toFixed(1)} MiB = ${
    ((last.rssMiB - first.rssMiB) / (last.epoch - first.epoch) * 1024).toFixed(1)
  } KiB/epoch`,
);
console.log(`tfjs tensors per epoch: ${[...new Set(samples.map((s) => s.tensors))].join(", ")}`);
