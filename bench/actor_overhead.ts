/**
 * What the actor architecture costs: the same config trained through the five Worker actors
 * (`train`) and in a plain in-process loop (`trainInProcess`), on the same backend; median of
 * several repeats of each, interleaved so that machine noise hits both alike.
 *
 *   deno run -A bench/actor_overhead.ts [--repeats 5] [--backend cpu] [--only seed,mlp,cnn] [--fresh]
 *     [--reuse]
 *
 * @module
 */
import { benchFlags } from "./flags.ts";
import { parseConfig, type RunConfigInput } from "../mod.ts";
import { trainInProcess } from "../runtime/in_process.ts";
import { actorSeconds } from "./actor_run.ts";
import { SpareActors } from "../runtime/actor_workers.ts";

const values = benchFlags(
  {
    repeats: { type: "string", default: "5" },
    backend: { type: "string", default: "wasm" },
    only: { type: "string", default: "" },
    json: { type: "boolean", default: false },
    // Also time the in-process loop in a fresh Worker each round (see in_process_worker.ts).
    fresh: { type: "boolean", default: false },
    // Also time the actors in the Workers of the round before (as a sweep's later trials run).
    reuse: { type: "boolean", default: false },
  },
  `Usage: deno run -A bench/actor_overhead.ts [--repeats 5] [--backend wasm] [--only seed,mlp,cnn]
    [--fresh] [--reuse] [--json]

The same training through the five Worker actors (train) and in a plain in-process loop, on the
same backend, interleaved: the actors' share of throughput, over the whole run and after each
side's first window of steps. --fresh also times the in-process loop in a new Worker each round
(as cold as the actors' trainer). --reuse also times the actors in the Workers of the round before,
as a sweep's trials after the first run (their code as warm as the in-process loop's).`,
);

/**
 * The workloads: the seed experiment (650 tiny steps: pure overhead), a Fashion-MNIST MLP and
 * the CNN (20 steps of batch 128).
 */
export const WORKLOADS: Record<string, RunConfigInput> = {
  seed: {},
  mlp: {
    data: { kind: "idx", flatten: true, limit: 12_800, validationSplit: 0 },
    model: { kind: "mlp", hidden: [512, 512] },
    optimizer: { name: "adam", lr: 1e-3 },
    batchSize: 256,
    epochs: 1,
  },
  cnn: {
    data: { kind: "idx", flatten: false, limit: 2_560, validationSplit: 0 },
    model: { kind: "cnn" }, // conv-bn-relu-pool x2, dense 128: the bench's cnn workload
    optimizer: { name: "adam", lr: 1e-3 },
    batchSize: 128,
    epochs: 1,
  },
};

/** `trainInProcess` in a new Worker (a fresh isolate), its timings. */
async function freshInProcess(input: RunConfigInput): Promise<{ seconds: number }> {
  const worker = new Worker(new URL("./in_process_worker.ts", import.meta.url), {
    type: "module",
  });
  try {
    const answer = await new Promise<{ seconds: number; error?: string }>((resolve, reject) => {
      worker.onmessage = (event) => resolve(event.data);
      worker.onerror = (event) => reject(new Error(event.message));
      worker.postMessage(input);
    });
    if (answer.error) throw new Error(answer.error);
    return answer;
  } finally {
    worker.terminate();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/**
 * The geometric mean: for round ratios whose noise is a factor either way (this machine runs at
 * two speeds, so a round reads ~0.75 or ~1.33 when its two runs land on different ones), where
 * the median of two clusters is whichever cluster is larger.
 */
const geometricMean = (xs: number[]) =>
  Math.exp(xs.reduce((sum, x) => sum + Math.log(x), 0) / xs.length);

/** IDX files of random 28x28 images and labels (for machines without Fashion-MNIST, e.g. the GPU host). */
async function syntheticIdx(dir: string, train: number, test: number): Promise<void> {
  const images = (n: number) => {
    const bytes = new Uint8Array(16 + n * 784);
    new DataView(bytes.buffer).setUint32(0, 0x803);
    new DataView(bytes.buffer).setUint32(4, n);
    new DataView(bytes.buffer).setUint32(8, 28);
    new DataView(bytes.buffer).setUint32(12, 28);
    for (let i = 16; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
    return bytes;
  };
  const labels = (n: number) => {
    const bytes = new Uint8Array(8 + n);
    new DataView(bytes.buffer).setUint32(0, 0x801);
    new DataView(bytes.buffer).setUint32(4, n);
    for (let i = 0; i < n; i++) bytes[8 + i] = i % 10;
    return bytes;
  };
  await Deno.writeFile(`${dir}/train-images-idx3-ubyte`, images(train));
  await Deno.writeFile(`${dir}/train-labels-idx1-ubyte`, labels(train));
  await Deno.writeFile(`${dir}/t10k-images-idx3-ubyte`, images(test));
  await Deno.writeFile(`${dir}/t10k-labels-idx1-ubyte`, labels(test));
}

if (import.meta.main) {
  const runsDir = await Deno.makeTempDir({ prefix: "anneal-bench-" });
  try {
    await Deno.stat("/usr/share/datasets/fashion-mnist");
  } catch {
    await syntheticIdx(runsDir, 12_800, 100);
    for (const name of ["mlp", "cnn"]) {
      (WORKLOADS[name].data as Record<string, unknown>).dir = runsDir;
      (WORKLOADS[name].data as Record<string, unknown>).testLimit = 100;
    }
    console.log(
      "(no Fashion-MNIST here: the mlp and cnn workloads use random IDX images of the same shape)",
    );
  }
  const rows = [];
  for (const [name, workload] of Object.entries(WORKLOADS)) {
    if (values.only && !values.only.split(",").includes(name)) continue;
    const input = { ...workload, backend: values.backend as "cpu" };
    const actors: number[] = [];
    const plain: number[] = [];
    // Per run, the share of the loop's wall time outside the steps' own work: measured within
    // one run, so it does not swing with the machine's speed between runs as the times do.
    const actorsOutside: number[] = [];
    const plainOutside: number[] = [];
    // Each round's throughput ratio after each side's first window of steps. An actor run
    // starts a new trainer Worker, whose first step compiles tfjs-wasm's and anneal's kernels
    // and makes XNNPACK's operators (measured: ~2x a warm step); the in-process loop runs in
    // this thread, warm from the round before. The warm ratio compares the loops themselves.
    const warmRounds: number[] = [];
    // And the same loop in a fresh Worker each round: as cold as the actors' trainer.
    const fresh: number[] = [];
    // And the actors in the Workers of the round before: as warm as the in-process loop.
    const reused: number[] = [];
    await using spares = new SpareActors(1);
    // (the first set's run, unmeasured: each measured one takes the Workers of the one before)
    if (values.reuse) await actorSeconds(input, runsDir, spares);
    let steps = 0;
    for (let r = 0; r < Number(values.repeats); r++) {
      const a = await actorSeconds(input, runsDir);
      actors.push(a.seconds);
      actorsOutside.push(1 - a.stepSeconds / a.seconds);
      steps = a.steps;
      if (values.fresh) fresh.push((await freshInProcess({ ...input, runsDir })).seconds);
      if (values.reuse) reused.push((await actorSeconds(input, runsDir, spares)).seconds);
      const p = await trainInProcess(parseConfig({ ...input, runsDir }));
      plain.push(p.seconds);
      plainOutside.push(1 - p.stepSeconds / p.seconds);
      const warm = (seconds: number, first: number, firstSteps: number) =>
        (steps - firstSteps) / (seconds - first);
      warmRounds.push(
        warm(a.seconds, a.firstWindowSeconds, a.firstWindowSteps) /
          warm(p.seconds, p.firstWindowSeconds, p.firstWindowSteps),
      );
    }
    // Each round's own ratio too: the two runs of a round are seconds apart, so a swing of the
    // machine's speed between rounds cancels out of it.
    const rounds = actors.map((a, i) => plain[i] / a).sort((a, b) => a - b);
    const freshRounds = fresh.map((f, i) => f / actors[i]).sort((a, b) => a - b);
    const reusedRounds = reused.map((r, i) => plain[i] / r).sort((a, b) => a - b);
    warmRounds.sort((a, b) => a - b);
    const row = {
      workload: name,
      backend: values.backend,
      steps,
      actorsMsPerStep: (median(actors) / steps) * 1000,
      inProcessMsPerStep: (median(plain) / steps) * 1000,
      throughputRatio: median(plain) / median(actors),
      roundRatios: rounds,
      medianRoundRatio: median(rounds),
      warmRoundRatios: warmRounds,
      medianWarmRoundRatio: median(warmRounds),
      geometricMeanWarmRoundRatio: geometricMean(warmRounds),
      freshInProcessMsPerStep: fresh.length ? (median(fresh) / steps) * 1000 : undefined,
      freshRoundRatios: freshRounds,
      medianFreshRoundRatio: fresh.length ? median(freshRounds) : undefined,
      reusedActorsMsPerStep: reused.length ? (median(reused) / steps) * 1000 : undefined,
      reusedRoundRatios: reusedRounds,
      medianReusedRoundRatio: reused.length ? median(reusedRounds) : undefined,
      actorsOutsideSteps: median(actorsOutside),
      inProcessOutsideSteps: median(plainOutside),
    };
    rows.push(row);
    if (!values.json) {
      console.log(
        `${name} on ${row.backend}: actors ${row.actorsMsPerStep.toFixed(3)} ms/step, in-process ${
          row.inProcessMsPerStep.toFixed(3)
        } ms/step; actor throughput = ${
          (row.throughputRatio * 100).toFixed(1)
        }% of in-process (${steps} steps, median of ${values.repeats}); per round ${
          (row.medianRoundRatio * 100).toFixed(1)
        }% in the median (${rounds.map((r) => (r * 100).toFixed(0)).join(" ")}); after each ` +
          `side's first window of steps ${(row.medianWarmRoundRatio * 100).toFixed(1)}% (${
            warmRounds.map((r) => (r * 100).toFixed(0)).join(" ")
          }; geometric mean ${(row.geometricMeanWarmRoundRatio * 100).toFixed(1)}%); outside the ` +
          `steps' own work: actors ${(row.actorsOutsideSteps * 100).toFixed(1)}%, in-process ${
            (row.inProcessOutsideSteps * 100).toFixed(1)
          }% of the loop's wall time (medians)` +
          (fresh.length
            ? `; against the loop in a fresh Worker (${
              row.freshInProcessMsPerStep!.toFixed(3)
            } ms/step) ${(row.medianFreshRoundRatio! * 100).toFixed(1)}% per round in the median (${
              freshRounds.map((r) => (r * 100).toFixed(0)).join(" ")
            })`
            : "") +
          (reused.length
            ? `; the actors in the Workers of the round before (${
              row.reusedActorsMsPerStep!.toFixed(3)
            } ms/step) ${(row.medianReusedRoundRatio! * 100).toFixed(1)}% of in-process per ` +
              `round in the median (${reusedRounds.map((r) => (r * 100).toFixed(0)).join(" ")})`
            : ""),
      );
    }
  }
  if (values.json) console.log(JSON.stringify(rows));
  await Deno.remove(runsDir, { recursive: true });
}
