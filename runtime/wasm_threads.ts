/**
 * tfjs-backend-wasm on several threads under Deno: its threaded SIMD binary
 * (`tfjs-backend-wasm-threaded-simd.wasm`) with one module Worker per pthread.
 *
 * tfjs never picks that binary here: its `WASM_HAS_MULTITHREAD_SUPPORT` flag is false whenever
 * `IS_NODE` is, and forcing the flag fails inside the glue (`ERR_WORKER_PATH`: Node's Worker is
 * handed a `blob:` URL; see `wasm_glue.ts`). So anneal starts the module itself: the glue runs
 * as browser code, its pthreads are Deno module Workers running `wasm_pthread_worker.ts`, and
 * the result is tfjs's own `BackendWasm`, registered as `wasm` with all of tfjs's wasm kernels.
 *
 * Thread count: {@linkcode WASM_THREADS_ENV} when set, else one fewer than the cores (see
 * {@linkcode wasmThreadsWanted}), at most 8 (tfjs's own cap). The pool's Workers live as long as the backend: `tf.removeBackend`
 * (or a change of thread count) terminates them, and a Worker that owns them ends them with it.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import * as wasmBackend from "npm:@tensorflow/tfjs-backend-wasm@4.22.0";
import { fileURLToPath } from "node:url";
import { stripVTControlCharacters } from "node:util";
import { Worker as NodeWorker } from "node:worker_threads";
import { AnnealError } from "../errors.ts";
import { granted } from "./granted.ts";
import { evaluateGlue, type GlueModule, threadedGlueSource } from "./wasm_glue.ts";
import {
  PTHREAD_WORKER_URL,
  pthreadModulePaths,
  WASM_THREADS_ENV,
  wasmBinaryUrl,
} from "./wasm_threads_paths.ts";

export { WASM_THREADS_ENV, wasmThreadsReadPaths } from "./wasm_threads_paths.ts";

/** tfjs's XNNPACK pool takes at most 8 threads. */
export const MAX_WASM_THREADS = 8;

/** How long the pthread Workers may take to load before the threaded start is given up. */
const START_TIMEOUT_MS = 60_000;

/**
 * One pthread: a `node:worker_threads` Worker (a Deno Worker underneath, the same messages and
 * transfers, but one that can be `unref`ed so that an idle pool does not keep the process
 * alive), shaped as the web Worker the glue drives (`onmessage`, `postMessage`, `terminate`).
 */
interface PthreadWorker {
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: unknown;
  postMessage(message: unknown, transfer?: Transferable[]): void;
  terminate(): void;
  /** Lets the process end while this Worker lives. */
  release(): void;
}

function pthreadWorkerClass(
  workers: PthreadWorker[],
  fail: (message: string) => void,
): new (script: string) => PthreadWorker {
  const path = fileURLToPath(PTHREAD_WORKER_URL);
  let released = false;
  return class implements PthreadWorker {
    onmessage: ((event: { data: unknown }) => void) | null = null;
    /** The glue sets a handler that rethrows; errors are handled below instead. */
    onerror: unknown = null;
    readonly #worker = new NodeWorker(path);
    constructor(_script: string) {
      workers.push(this);
      this.#worker.on("message", (data) => this.onmessage?.({ data }));
      this.#worker.on("error", (error: Error) => {
        // Deno's message carries the colored stack trace after the first line.
        const message = stripVTControlCharacters(error.message.split("\n")[0]);
        console.error(`anneal: a wasm pthread Worker failed: ${message}`);
        fail(message);
      });
      // A Worker the pool adds after the start is released at once.
      if (released) this.#worker.unref();
    }
    postMessage(message: unknown, transfer?: Transferable[]): void {
      this.#worker.postMessage(message, transfer as never);
    }
    terminate(): void {
      this.#worker.terminate();
    }
    release(): void {
      released = true;
      this.#worker.unref();
    }
  };
}
const WASM_PRIORITY = 2;

/**
 * The thread count the wasm backend should use: `requested` when given, else
 * {@linkcode WASM_THREADS_ENV} (read only where env access to it is granted), else one thread
 * fewer than the machine has cores (at least one), and one for recurrent models (`modelKind`
 * `rnn`). Capped at {@linkcode MAX_WASM_THREADS}. Measured on a 2-core machine (BENCHMARKS.md):
 * XNNPACK's pool waits for its slowest thread at every op, so a pool thread that loses its core
 * to the other actors (or other processes) stalls the step. Training Fashion-MNIST through the
 * actors took 18-25 s an epoch on 2 threads against 10 s on one; an MLP step alone, with a core
 * free, ran 1.3-1.4x faster on 2. An LSTM step (hundreds of small ops) was slower on 2 threads
 * even with a core free.
 *
 * @example
 * ```ts
 * import { wasmThreadsWanted } from "./wasm_threads.ts";
 * console.assert(wasmThreadsWanted(1) === 1);
 * console.assert(wasmThreadsWanted() >= 1);
 * ```
 */
export function wasmThreadsWanted(requested?: number, modelKind?: string): number {
  const fromEnv = readEnv();
  const where = requested !== undefined ? "wasmThreads" : WASM_THREADS_ENV;
  const value = requested ?? (fromEnv !== undefined ? Number(fromEnv) : undefined);
  if (value === undefined) {
    if (modelKind === "rnn") return 1;
    return Math.min(Math.max(1, (navigator.hardwareConcurrency || 1) - 1), MAX_WASM_THREADS);
  }
  if (!Number.isInteger(value) || value < 1) {
    throw new AnnealError(
      "config",
      `Cannot set the wasm thread count: ${where} must be a whole number >= 1, current value is ` +
        `'${requested ?? fromEnv}'`,
      { where, hint: `e.g. ${WASM_THREADS_ENV}=2, or 1 for the single-threaded binary` },
    );
  }
  return Math.min(value, MAX_WASM_THREADS);
}

function readEnv(): string | undefined {
  if (!granted({ name: "env", variable: WASM_THREADS_ENV })) return undefined;
  return Deno.env.get(WASM_THREADS_ENV) || undefined;
}

/**
 * Starts the threaded SIMD module with `threads` threads (the calling thread and `threads - 1`
 * pthread Workers) and wraps it in tfjs's `BackendWasm`. Throws an {@linkcode AnnealError} that
 * says what failed, after ending any Workers it started.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { startThreadedWasm } from "./wasm_threads.ts";
 * const backend = await startThreadedWasm(2);
 * backend.dispose(); // ends its pthread Workers
 * ```
 */
export async function startThreadedWasm(threads: number): Promise<tf.KernelBackend> {
  const workers: PthreadWorker[] = [];
  let failWorker: (message: string) => void = () => {};
  const workerFailed = new Promise<never>((_, reject) => {
    failWorker = (message) => reject(new Error(`a pthread Worker failed: ${message}`));
  });
  // Only the start waits on this; a failure after it is reported by the Worker's error handler.
  workerFailed.catch(() => {});
  // Spare Workers cost an isolate each: load as many as the XNNPACK pool takes (threads - 1),
  // and one more. Fewer would deadlock: a pthread started later waits for its Worker to load,
  // which needs the event loop the blocked calling thread holds.
  const source = threadedGlueSource().replace(
    "var pthreadPoolSize=8;",
    `var pthreadPoolSize=${threads};`,
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const PthreadWorker = pthreadWorkerClass(workers, (message) => failWorker(message));
    const factory = evaluateGlue(source, {
      Worker: PthreadWorker,
      hardwareConcurrency: 2 * threads,
    });
    const started = factory({
      wasmBinary: await Deno.readFile(wasmBinaryUrl()),
      mainScriptUrlOrBlob: PTHREAD_WORKER_URL.href,
      locateFile: (path) => path,
      // Emscripten warns once when a browser's main thread would block (joining the pool on
      // dispose); Deno's may block (Atomics.wait is allowed there), so that warning is noise.
      printErr: (text) => {
        if (!text.startsWith("Blocking on the main thread")) console.error(text);
      },
    });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`its pthread Workers did not load in ${START_TIMEOUT_MS / 1000} s`)),
        START_TIMEOUT_MS,
      );
    });
    const module = await Promise.race([started, workerFailed, timeout]);
    // Loaded: from now on the pool must not keep the process alive (the calling thread blocks
    // while its pthreads work, so nothing waits on them from the event loop).
    for (const worker of workers) worker.release();
    const backend = wrapModule(module, threads);
    const actual = wasmBackend.getThreadsCount();
    if (actual !== threads) {
      backend.dispose();
      throw new Error(`XNNPACK started ${actual} threads instead of ${threads}`);
    }
    return backend;
  } catch (error) {
    for (const worker of workers) worker.terminate();
    const detail = error instanceof Error ? error.message : String(error);
    throw new AnnealError(
      "backend",
      `Cannot start the threaded wasm backend (${threads} threads): ${detail}`,
      {
        where: "backend",
        hint: `set ${WASM_THREADS_ENV}=1 to use the single-threaded binary, or --backend cpu`,
      },
    );
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Why no pthread Worker could start here, or undefined when one can: anneal was imported from
 * a server (a `node:worker_threads` Worker runs local modules only), or this thread may not read
 * a pthread module. Checked before starting: a Worker with narrow permissions is an expected
 * case, not a failure.
 *
 * @example
 * ```ts
 * import { pthreadsUnavailable } from "./wasm_threads.ts";
 * console.log(pthreadsUnavailable() ?? "threads can start");
 * ```
 */
export function pthreadsUnavailable(): string | undefined {
  const paths = pthreadModulePaths();
  if (paths.length === 0) {
    return `threads need anneal's modules on a local disk, not ${PTHREAD_WORKER_URL.origin}`;
  }
  const unreadable = paths.find((path) => !granted({ name: "read", path }));
  return unreadable
    ? `threads need read access to ${unreadable}: see wasmThreadsReadPaths()`
    : undefined;
}

/** The bridge tfjs's own `init()` builds around a started module, then `BackendWasm`. */
function wrapModule(module: GlueModule, threads: number): tf.KernelBackend {
  module.tfjs = {
    init: module.cwrap("init", null, []),
    initWithThreadsCount: module.cwrap("init_with_threads_count", null, ["number"]),
    getThreadsCount: module.cwrap("get_threads_count", "number", []),
    registerTensor: module.cwrap("register_tensor", null, ["number", "number", "number"]),
    disposeData: module.cwrap("dispose_data", null, ["number"]),
    dispose: module.cwrap("dispose", null, []),
  };
  wasmBackend.setThreadsCount(threads);
  const BackendWasm = wasmBackend.BackendWasm as unknown as new (
    module: GlueModule,
  ) => tf.KernelBackend;
  return new BackendWasm(module);
}

/** tfjs's own factory for `wasm` (the single-threaded SIMD binary), kept once replaced. */
let stockFactory: (() => tf.KernelBackend | Promise<tf.KernelBackend>) | undefined;
/** The thread count of the factory now registered as `wasm`. */
let registeredThreads = 1;

/**
 * Registers the `wasm` backend with `threads` threads, ready to be made current with
 * `tf.setBackend("wasm")`: for more than one thread the threaded module is started now (so a
 * failure throws here, with its reason); for one, tfjs's own single-threaded factory. A backend
 * already registered with the same thread count is kept (with its tensors); a different count
 * replaces it (its tensors are lost, its pthread Workers ended).
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { registerWasm } from "./wasm_threads.ts";
 * await registerWasm(2);
 * await tf.setBackend("wasm");
 * ```
 */
export async function registerWasm(threads: number): Promise<void> {
  stockFactory ??= tf.findBackendFactory("wasm") ?? undefined;
  if (!stockFactory) {
    throw new AnnealError(
      "backend",
      "Cannot register the wasm backend: tfjs-backend-wasm is not loaded",
      {
        where: "backend",
        hint: "import npm:@tensorflow/tfjs-backend-wasm@4.22.0 first",
      },
    );
  }
  if (threads === registeredThreads && tf.findBackendFactory("wasm")) return;
  let factory = stockFactory;
  if (threads > 1) {
    let ready: tf.KernelBackend | undefined = await startThreadedWasm(threads);
    // The first initialisation takes the backend just started; a later one (after
    // tf.removeBackend or an engine reset) starts a fresh module.
    factory = () => {
      const backend = ready;
      ready = undefined;
      return backend ?? startThreadedWasm(threads);
    };
  }
  tf.removeBackend("wasm");
  tf.registerBackend("wasm", factory, WASM_PRIORITY);
  registeredThreads = threads;
}

/**
 * The thread count of the `wasm` backend in use (tfjs's XNNPACK pool, the calling thread
 * included); 1 for the single-threaded binary.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { registerWasm, wasmThreadsInUse } from "./wasm_threads.ts";
 * await registerWasm(1);
 * await tf.setBackend("wasm");
 * console.assert(wasmThreadsInUse() === 1);
 * ```
 */
export function wasmThreadsInUse(): number {
  return wasmBackend.getThreadsCount();
}
