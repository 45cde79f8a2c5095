/**
 * Child process of `runtime/wasm_threads_test.ts`: starts the wasm backend on 2 threads, runs a
 * matmul and prints `{ threads, reason, sum }` as one JSON line, then lets the process end by
 * itself. With the argument `nested` it does that inside a Worker, which the main thread
 * terminates once the result is in (as the supervisor ends the trainer's Worker); with `narrow`
 * inside a Worker allowed to read only its own module and `wasmThreadsReadPaths()` (run with
 * `--unstable-worker-options`).
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { selectBackend } from "../backend.ts";
import { wasmThreadsInUse, wasmThreadsReadPaths } from "../wasm_threads.ts";

const WORKER_NAME = "wasm-threads-child";

async function run(): Promise<{ threads: number; reason: string; sum: number }> {
  const selection = await selectBackend("wasm", "mlp", { wasmThreads: 2 });
  const sum = tf.tidy(() => tf.sum(tf.matMul(tf.ones([64, 32]), tf.ones([32, 16]))).dataSync()[0]);
  return { threads: wasmThreadsInUse(), reason: selection.reason, sum };
}

const NONE = { env: false, net: false, run: false, sys: false, write: false, ffi: false };

if ((globalThis as { name?: string }).name === WORKER_NAME) {
  run().then((result) => (self as unknown as Worker).postMessage(result));
} else if (Deno.args[0] === "nested" || Deno.args[0] === "narrow") {
  const read = [fileURLToPath(import.meta.url), ...wasmThreadsReadPaths()];
  const worker = new Worker(import.meta.url, {
    type: "module",
    name: WORKER_NAME,
    ...(Deno.args[0] === "narrow" ? { deno: { permissions: { ...NONE, read } } } : {}),
  });
  worker.onmessage = (event) => {
    console.log(JSON.stringify(event.data));
    worker.terminate();
  };
} else {
  console.log(JSON.stringify(await run()));
}
