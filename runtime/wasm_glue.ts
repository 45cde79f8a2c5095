/**
 * tfjs-backend-wasm's threaded emscripten glue, made to run as browser code under Deno.
 *
 * The glue (`wasm-out/tfjs-backend-wasm-threaded-simd.js`) decides at run time which platform it
 * is on. Deno defines `process.versions.node`, so the glue takes its Node path: it replaces the
 * global `Worker` with `node:worker_threads`' and hands that a `blob:` URL, which Deno refuses
 * (`ERR_WORKER_PATH`). Evaluated here from its own source text with the Node globals hidden, it
 * takes its browser path instead, which Deno supports: module Workers, a shared
 * `WebAssembly.Memory` and a `WebAssembly.Module` sent by `postMessage`.
 *
 * @module
 */
import threadedGlue from "npm:@tensorflow/tfjs-backend-wasm@4.22.0/wasm-out/tfjs-backend-wasm-threaded-simd.js";

/** What the glue's factory is given: emscripten's `Module` settings. */
export interface GlueConfig {
  /** The `.wasm` bytes (so the glue fetches nothing). */
  wasmBinary?: Uint8Array;
  /** Sent to every pthread Worker, which ignores it (it imports the glue itself). */
  mainScriptUrlOrBlob?: string;
  /** Maps a file the glue asks for to a URL (only the pthread script name is asked for). */
  locateFile?: (path: string, prefix: string) => string;
  /** Where the module's (and its pthreads') error output goes (default: `console.warn`). */
  printErr?: (text: string) => void;
  /** Called when the module aborts. */
  onAbort?: (what: unknown) => void;
}

/** The emscripten module the factory resolves to (the members anneal uses). */
export interface GlueModule {
  cwrap(name: string, returns: string | null, args: string[]): (...args: number[]) => number;
  /** The pthread pool: its Workers, and the call that ends them. */
  PThread: { terminateAllThreads(): void; unusedWorkers: Worker[]; runningWorkers: Worker[] };
  [member: string]: unknown;
}

/** The glue's factory: a `Module` config in, the started module out. */
export type GlueFactory = (config: GlueConfig) => Promise<GlueModule>;

/** What the glue sees instead of the real globals of the same names. */
export interface GlueScope {
  /** The Worker class that starts pthreads (the main thread only). */
  Worker?: unknown;
  /**
   * What `navigator.hardwareConcurrency` reads as. tfjs sizes its XNNPACK pool as
   * min(requested threads, hardwareConcurrency / 2, 8), so twice the wanted count lets the
   * requested count through.
   */
  hardwareConcurrency?: number;
}

/** The glue's factory source (the function tfjs itself turns into a Blob for its Workers). */
export function threadedGlueSource(): string {
  return String(threadedGlue);
}

/**
 * Evaluates the glue's factory `source` with `process`, `require`, `global`, `__filename` and
 * `__dirname` hidden (so it does not take its Node path), and `Worker` and `navigator` as
 * `scope` says.
 *
 * @example
 * ```ts
 * import { evaluateGlue, threadedGlueSource } from "./wasm_glue.ts";
 * const factory = evaluateGlue(threadedGlueSource(), { hardwareConcurrency: 4 });
 * console.assert(typeof factory === "function");
 * ```
 */
export function evaluateGlue(source: string, scope: GlueScope = {}): GlueFactory {
  const hidden = ["process", "require", "global", "__filename", "__dirname"];
  const make = new Function(
    ...hidden,
    "Worker",
    "navigator",
    `"use strict"; return (${source});`,
  );
  const navigatorView = {
    hardwareConcurrency: scope.hardwareConcurrency ?? navigator.hardwareConcurrency,
  };
  return make(...hidden.map(() => undefined), scope.Worker ?? globalThis.Worker, navigatorView);
}
