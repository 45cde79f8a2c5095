/**
 * Names and paths of the threaded wasm backend (`wasm_threads.ts`) that the supervisor needs to
 * grant a trainer Worker its permissions, apart from the backend itself: that module loads
 * tfjs-core and tfjs-backend-wasm, ~45 ms of every start of a process that never trains in its
 * own thread (`anneal train`'s main thread).
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { KERNEL_POOL_MODULES } from "./wasm_simd/pool_modules.ts";

/** Environment variable that sets the wasm backend's thread count (1 = the single-threaded binary). */
export const WASM_THREADS_ENV = "ANNEAL_WASM_THREADS";

/** The module each pthread Worker runs. */
export const PTHREAD_WORKER_URL = new URL("./wasm_pthread_worker.ts", import.meta.url);

/**
 * What a Worker must be allowed to read to start the threaded backend: the pthread Worker's
 * two modules (Deno checks read access to a Worker's local modules, for web and
 * `node:worker_threads` Workers alike, though not to modules a program imports itself) and
 * the folder of the `.wasm` binaries. Without it the backend starts single-threaded, saying so.
 *
 * @example
 * ```ts
 * import { wasmThreadsReadPaths } from "./wasm_threads_paths.ts";
 * // A Worker given these (besides its own modules) can start the threaded backend:
 * const permissions = { read: wasmThreadsReadPaths(), write: false, net: false };
 * console.assert(permissions.read.some((path) => path.endsWith("wasm_pthread_worker.ts")));
 * ```
 */
export function wasmThreadsReadPaths(): string[] {
  const binaries = wasmBinaryUrl();
  return [
    ...pthreadModulePaths(),
    ...(binaries.protocol === "file:" ? [fileURLToPath(new URL(".", binaries))] : []),
  ];
}

/** The pthread Worker's modules on disk (none when anneal itself was imported from a server). */
export function pthreadModulePaths(): string[] {
  const modules = [
    PTHREAD_WORKER_URL,
    new URL("./wasm_glue.ts", import.meta.url),
    ...KERNEL_POOL_MODULES,
  ];
  return modules.every((url) => url.protocol === "file:")
    ? modules.map((url) => fileURLToPath(url))
    : [];
}

/** The threaded binary, beside the package's Node entry (the trainer may read that folder). */
export function wasmBinaryUrl(): URL {
  const entry = import.meta.resolve("npm:@tensorflow/tfjs-backend-wasm@4.22.0");
  return new URL("tfjs-backend-wasm-threaded-simd.wasm", entry);
}
