import assert from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { AnnealError } from "../errors.ts";
import { buildModel } from "../models/build.ts";
import type { ModelSpec } from "../models/spec.ts";
import { forward } from "../models/forward.ts";
import { lossFunction } from "../models/losses.ts";
import { namedWeights } from "../models/names.ts";
import { selectBackend } from "./backend.ts";
import type { GlueModule } from "./wasm_glue.ts";
import {
  MAX_WASM_THREADS,
  registerWasm,
  WASM_THREADS_ENV,
  wasmThreadsInUse,
  wasmThreadsReadPaths,
  wasmThreadsWanted,
} from "./wasm_threads.ts";

const CHILD = new URL("./testdata/wasm_threads_child.ts", import.meta.url);

/** tfjs's single-threaded binary, which its own loader reads. */
function simdBinary(): string {
  const entry = import.meta.resolve("npm:@tensorflow/tfjs-backend-wasm@4.22.0");
  return fromFileUrl(new URL("tfjs-backend-wasm-simd.wasm", entry));
}

/** The emscripten module under the current wasm backend. */
function currentModule(): GlueModule & { HEAPU8: Uint8Array } {
  return (tf.backend() as unknown as { wasm: GlueModule & { HEAPU8: Uint8Array } }).wasm;
}

/** Loss and gradients of `steps` SGD steps of an MLP (or a CNN), on the current backend. */
function trainMlp(
  steps: number,
  kind: "mlp" | "cnn" = "mlp",
): { losses: number[]; grads: number[][]; leaked: number } {
  // the CNN: conv, batch norm, relu, 2x2 pooling, twice: anneal's wasm and SIMD kernels
  const spec: ModelSpec = kind === "mlp"
    ? { kind, hidden: [256, 128] }
    : { kind, filters: [8, 16], dense: [32] };
  const inputShape = kind === "mlp" ? [200] : [12, 12, 1];
  const model = buildModel(spec, { inputShape, outputUnits: 10 }, 3);
  const x = tf.randomNormal([128, ...inputShape], 0, 1, "float32", 4);
  const y = tf.tensor1d(Array.from({ length: 128 }, (_, i) => i % 10));
  const params = namedWeights(model).filter((w) => w.trainable).map((w) => w.variable);
  const losses: number[] = [];
  let grads: number[][] = [];
  const tensors = tf.memory().numTensors;
  for (let step = 0; step < steps; step++) {
    const result = tf.variableGrads(
      () => lossFunction("crossEntropy")(forward(model, x, true), y),
      params,
    );
    if (step === 0) grads = params.map((p) => Array.from(result.grads[p.name].dataSync()));
    tf.tidy(() => params.forEach((p) => p.assign(tf.sub(p, tf.mul(0.1, result.grads[p.name])))));
    losses.push(result.value.dataSync()[0]);
    tf.dispose([result.value, ...Object.values(result.grads)]);
  }
  const leaked = tf.memory().numTensors - tensors;
  tf.dispose([x, y]);
  model.dispose();
  return { losses, grads, leaked };
}

/** Asserts `actual` equals `expected` to `tol` relative to the largest magnitude. */
function close(actual: number[], expected: number[], what: string, tol = 1e-5) {
  assert.equal(actual.length, expected.length, what);
  const scale = Math.max(1e-6, ...expected.map(Math.abs));
  actual.forEach((v, i) =>
    assert.ok(Math.abs(v - expected[i]) <= tol * scale, `${what}[${i}]: ${v} vs ${expected[i]}`)
  );
}

Deno.test("wasm runs XNNPACK's pool on the requested threads, one pthread Worker beside us", async () => {
  const selection = await selectBackend("wasm", "mlp", { wasmThreads: 2 });
  assert.match(selection.reason, /SIMD, 2 threads/);
  assert.equal(wasmThreadsInUse(), 2);
  const module = currentModule();
  // The threaded binary: its memory is shared with the pthread, which is running (XNNPACK's
  // pool starts threads - 1 pthreads; the calling thread is the other).
  assert.ok(module.HEAPU8.buffer instanceof SharedArrayBuffer);
  assert.equal(module.PThread.runningWorkers.length, 1);
});

Deno.test("an MLP trains on 2 threads exactly as on the single-threaded binary", async () => {
  await selectBackend("wasm", "mlp", { wasmThreads: 1 });
  assert.equal(wasmThreadsInUse(), 1);
  assert.ok(!(currentModule().HEAPU8.buffer instanceof SharedArrayBuffer));
  const single = trainMlp(3);
  await selectBackend("wasm", "mlp", { wasmThreads: 2 });
  assert.equal(wasmThreadsInUse(), 2);
  const threaded = trainMlp(3);
  assert.equal(threaded.leaked, 0);
  close(threaded.losses, single.losses, "losses");
  threaded.grads.forEach((g, i) => close(g, single.grads[i], `gradient ${i}`));
  assert.ok(threaded.losses[2] < threaded.losses[0], `losses ${threaded.losses}`);
});

Deno.test("a CNN trains on 2 threads (a shared memory) as on the single-threaded binary", async () => {
  await selectBackend("wasm", "cnn", { wasmThreads: 1 });
  const single = trainMlp(3, "cnn");
  await selectBackend("wasm", "cnn", { wasmThreads: 2 });
  assert.ok(currentModule().HEAPU8.buffer instanceof SharedArrayBuffer);
  const threaded = trainMlp(3, "cnn");
  assert.equal(threaded.leaked, 0);
  close(threaded.losses, single.losses, "losses", 1e-4);
  threaded.grads.forEach((g, i) => close(g, single.grads[i], `gradient ${i}`, 1e-4));
  await selectBackend("wasm", "cnn", { wasmThreads: 1 });
});

Deno.test("a new thread count replaces the pool and ends the old pthread Workers", async () => {
  await registerWasm(2);
  await tf.setBackend("wasm");
  const before = currentModule();
  await selectBackend("wasm", "mlp", { wasmThreads: 3 });
  assert.equal(wasmThreadsInUse(), 3);
  assert.equal(currentModule().PThread.runningWorkers.length, 2);
  assert.equal(before.PThread.unusedWorkers.length + before.PThread.runningWorkers.length, 0);
  await selectBackend("wasm", "mlp", { wasmThreads: 2 });
});

Deno.test("the wasm thread count must be a whole number >= 1 and is capped at 8", () => {
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    assert.throws(
      () => wasmThreadsWanted(bad),
      (e) => e instanceof AnnealError && e.code === "config" && /ANNEAL_WASM_THREADS/.test(e.hint!),
    );
  }
  assert.equal(wasmThreadsWanted(64), MAX_WASM_THREADS);
  assert.equal(wasmThreadsWanted(3), 3);
  assert.equal(wasmThreadsWanted(3, "rnn"), 3);
});

Deno.test("by default wasm leaves a core to the rest, recurrent models one thread, unless the env says", () => {
  const saved = Deno.env.get(WASM_THREADS_ENV);
  try {
    Deno.env.delete(WASM_THREADS_ENV);
    const cores = Math.min(Math.max(1, navigator.hardwareConcurrency - 1), MAX_WASM_THREADS);
    assert.equal(wasmThreadsWanted(undefined, "mlp"), cores);
    assert.equal(wasmThreadsWanted(undefined, "cnn"), cores);
    assert.equal(wasmThreadsWanted(undefined, "rnn"), 1);
    Deno.env.set(WASM_THREADS_ENV, "3");
    assert.equal(wasmThreadsWanted(undefined, "rnn"), 3);
    assert.equal(wasmThreadsWanted(2, "mlp"), 2);
    Deno.env.set(WASM_THREADS_ENV, "two");
    assert.throws(() => wasmThreadsWanted(), /ANNEAL_WASM_THREADS must be a whole number/);
  } finally {
    if (saved === undefined) Deno.env.delete(WASM_THREADS_ENV);
    else Deno.env.set(WASM_THREADS_ENV, saved);
  }
});

/** Runs the child script with `args` and `permissions`; fails if it has not ended in 120 s. */
async function runChild(permissions: string[], args: string[] = []) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...permissions, fromFileUrl(CHILD), ...args],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  const stdout = new TextDecoder().decode(output.stdout).trim();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.signal, null, `the child did not end by itself: ${stdout}\n${stderr}`);
  assert.equal(output.code, 0, stderr);
  return {
    result: JSON.parse(stdout.split("\n").at(-1)!) as { threads: number; reason: string },
    stderr,
  };
}

Deno.test("threaded wasm ends with its process or Worker; a Worker needs only wasmThreadsReadPaths()", async () => {
  for (const args of [[], ["nested"], ["narrow"]]) {
    const { result } = await runChild(
      ["--allow-read", "--allow-env", "--unstable-worker-options"],
      args,
    );
    assert.equal(result.threads, 2, args.join());
    assert.match(result.reason, /2 threads/);
  }
});

Deno.test("a thread that may not read the pthread modules runs single-threaded and says why", async () => {
  const { result, stderr } = await runChild([`--allow-read=${simdBinary()}`, "--allow-env"]);
  assert.equal(result.threads, 1);
  assert.match(
    result.reason,
    /single-threaded \(threads need read access to .*wasm_pthread_worker\.ts/,
  );
  assert.doesNotMatch(stderr, /anneal:/);
});

Deno.test("when the threaded binary cannot start, wasm runs single-threaded and says why", async () => {
  // The pthread modules are readable but the threaded binary is not: the start itself fails.
  const modules = wasmThreadsReadPaths().filter((path) => path.endsWith(".ts"));
  const { result, stderr } = await runChild([
    `--allow-read=${[...modules, simdBinary()].join(",")}`,
    "--allow-env",
  ]);
  assert.equal(result.threads, 1);
  assert.match(result.reason, /single-threaded \(threads unavailable: Cannot start the threaded/);
  assert.match(stderr, /training on one thread \(set ANNEAL_WASM_THREADS=1/);
});
