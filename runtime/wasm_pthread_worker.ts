/**
 * Entry of one pthread Worker of the threaded wasm backend (started by `wasm_threads.ts`).
 *
 * It runs tfjs-backend-wasm's own pthread script (`tfjs-backend-wasm-threaded-simd.worker.js`),
 * which answers emscripten's `load` / `run` / `cancel` messages. That script loads the glue with
 * `importScripts`, which Deno's module Workers lack: here `importScripts` installs the glue's
 * factory, evaluated as browser code (see `wasm_glue.ts`), under the global name the script
 * calls. The wasm module and its shared memory arrive in the `load` message; this Worker reads
 * no files. The script registers `self.onmessage` synchronously, before any message can arrive.
 *
 * @module
 */
import pthreadScript from "npm:@tensorflow/tfjs-backend-wasm@4.22.0/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js";
import { evaluateGlue, threadedGlueSource } from "./wasm_glue.ts";

const scope = globalThis as unknown as Record<string, unknown>;
// Started through node:worker_threads (so that it can be unref'ed), where Deno leaves `self` out.
scope.self ??= globalThis;
const factory = evaluateGlue(threadedGlueSource());
scope.importScripts = () => {
  scope.WasmBackendModuleThreadedSimd = factory;
};
// tfjs escapes the script's newlines the same way before it makes a Blob of it: a "\n" inside
// its string literals would otherwise end the line.
const source = String((pthreadScript as { wasmWorkerContents: string }).wasmWorkerContents)
  .replace(/\n/g, "\\n");
new Function("process", "require", source)(undefined, undefined);
