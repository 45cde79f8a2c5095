/**
 * anneal's SIMD kernels on several threads, for the threaded wasm backend. XNNPACK spreads the
 * convolutions and matrix products over its threads, but anneal's own kernels (batch norm's
 * passes, relu's and max pooling's gradients, the Winograd transforms, the panel product) ran on
 * the calling thread alone: on a machine whose XNNPACK pool has many threads they would take a
 * growing share of the step. The pool gives each of them the same number of threads.
 *
 * The pool is `threads - 1` Workers (`pool_worker.ts`), each with the kernels instantiated on the
 * backend's shared memory. A call is split by its caller into parts over disjoint memory (rows,
 * images, elements); `run` posts all parts but the first to the Workers through a shared
 * control block (`pool_layout.ts`), runs the first itself, then runs any part whose Worker has not
 * claimed it yet (a thread that lost its core must not stall the step), and blocks
 * (`Atomics.wait`) until the claimed ones are done. The Workers block in `Atomics.wait` between
 * calls: no polling, no event loop.
 *
 * @module
 */
import { Worker as NodeWorker } from "node:worker_threads";
import { fileURLToPath } from "node:url";
import { AnnealError } from "../../errors.ts";
import { kernelMemory, type SimdKernels, simdKernels } from "./kernels.ts";
import { POOL_WORKER_URL } from "./pool_modules.ts";
import { POOL_KERNELS, type PoolKernel, SLOT_ARGS, SLOT_WORDS, Word } from "./pool_layout.ts";

/**
 * Element-wise kernels split over the pool from this many values (256 KiB of float32): below
 * it, waking a thread (~20-100 us) costs about what it saves.
 */
export const PARALLEL_VALUES = 1 << 16;
/** How long the Workers may take to load. */
const START_TIMEOUT_MS = 60_000;
/** How long a claimed part may run before its thread is taken for dead. */
const PART_TIMEOUT_MS = 600_000;

/** A fixed set of threads running anneal's SIMD kernels on one shared wasm memory. */
export class KernelPool {
  readonly #workers: NodeWorker[];
  readonly #words: Int32Array;
  readonly #values: Float64Array;
  readonly #local: SimdKernels;
  #sequence = 0;
  #closed = false;
  /** Calls split over the threads so far (for tests and profiles). */
  runs = 0;
  /** Parts the calling thread ran itself because the pool's thread had not started them. */
  reclaimed = 0;

  private constructor(workers: NodeWorker[], control: SharedArrayBuffer, local: SimdKernels) {
    this.#workers = workers;
    this.#words = new Int32Array(control);
    this.#values = new Float64Array(control);
    this.#local = local;
  }

  /** Threads a call may be split over: the pool's and the calling thread. */
  get threads(): number {
    return this.#closed ? 1 : this.#workers.length + 1;
  }

  /**
   * Starts `threads - 1` Workers on `memory` (a shared WebAssembly memory); `local` is the
   * calling thread's instance of the kernels on that memory.
   */
  static async start(
    memory: WebAssembly.Memory,
    threads: number,
    local: SimdKernels,
  ): Promise<KernelPool> {
    if (!(memory.buffer instanceof SharedArrayBuffer)) {
      throw new AnnealError("internal", "a kernel pool needs the threaded backend's shared memory");
    }
    const control = new SharedArrayBuffer(4 * SLOT_WORDS * Math.max(1, threads - 1));
    const workers: NodeWorker[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const path = fileURLToPath(POOL_WORKER_URL);
      const ready = Array.from({ length: threads - 1 }, (_, slot) => {
        const worker = new NodeWorker(path);
        workers.push(worker);
        return new Promise<void>((resolve, reject) => {
          worker.once(
            "message",
            (message: unknown) =>
              message === "ready"
                ? resolve()
                : reject(new Error(`a kernel pool thread ${String(message)}`)),
          );
          worker.once("error", (error: Error) => reject(error));
          worker.postMessage({ memory, control, slot });
        });
      });
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`its Workers did not load in ${START_TIMEOUT_MS / 1000} s`)),
          START_TIMEOUT_MS,
        );
      });
      await Promise.race([Promise.all(ready), timeout]);
      // Blocked in Atomics.wait from now on: they must not keep the process alive.
      for (const worker of workers) worker.unref();
      return new KernelPool(workers, control, local);
    } catch (error) {
      for (const worker of workers) worker.terminate();
      const detail = error instanceof Error ? error.message : String(error);
      throw new AnnealError("backend", `Cannot start anneal's kernel pool: ${detail}`, {
        where: "backend",
        hint: "its kernels run on one thread instead; nothing else changes",
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Runs `kernel` once per entry of `calls` (at most {@linkcode threads}), all at once: the
   * first on the calling thread, the others on the pool's. Each call must write memory no other
   * call touches. Returns each call's result (0 for kernels without one); throws if any failed.
   */
  run(kernel: PoolKernel, calls: number[][]): number[] {
    if (calls.length === 0) return [];
    if (calls.length > this.threads) {
      throw new AnnealError("internal", `${calls.length} parts for ${this.threads} threads`);
    }
    const sequence = ++this.#sequence;
    this.runs++;
    const words = this.#words, values = this.#values;
    for (let i = 1; i < calls.length; i++) {
      const base = (i - 1) * SLOT_WORDS;
      const args = calls[i];
      if (args.length > SLOT_ARGS) throw new AnnealError("internal", `${kernel}: too many args`);
      words[base + Word.kernel] = POOL_KERNELS.indexOf(kernel);
      words[base + Word.count] = args.length;
      values.set(args, (base + Word.args) / 2);
      Atomics.store(words, base + Word.claim, 0);
      Atomics.store(words, base + Word.start, sequence);
      Atomics.notify(words, base + Word.start);
    }
    const results = new Array<number>(calls.length).fill(0);
    let failure: unknown;
    const local = this.#local[kernel] as (...args: number[]) => number | void;
    const runHere = (i: number) => {
      try {
        results[i] = local(...calls[i]) ?? 0;
      } catch (error) {
        const detail = error instanceof Error ? error.message : String(error);
        failure ??= new AnnealError("internal", `${kernel} failed: ${detail}`, { cause: error });
      }
    };
    runHere(0);
    for (let i = 1; i < calls.length; i++) {
      const base = (i - 1) * SLOT_WORDS;
      // A part its thread has not started (the thread lost its core: another process, the
      // other actors) runs here instead of being waited for: a busy machine costs at most
      // the one-thread time, not a stall.
      if (Atomics.compareExchange(words, base + Word.claim, 0, 1) === 0) {
        this.reclaimed++;
        runHere(i);
        continue;
      }
      const since = performance.now();
      for (;;) {
        const done = Atomics.load(words, base + Word.done);
        if (done === sequence) break;
        if (performance.now() - since > PART_TIMEOUT_MS) {
          // A thread that died mid-call (out of memory, terminated) must not hang the caller.
          this.close();
          throw new AnnealError(
            "internal",
            `a kernel pool thread did not finish ${kernel} in ${PART_TIMEOUT_MS / 1000} s`,
            { hint: "set ANNEAL_WASM_THREADS=1 to run without threads" },
          );
        }
        Atomics.wait(words, base + Word.done, done, 1000);
      }
      if (words[base + Word.failed]) {
        failure ??= new AnnealError("internal", `${kernel} failed on a pool thread`);
      }
      results[i] = values[(base + Word.args) / 2];
    }
    if (failure) throw failure;
    return results;
  }

  /**
   * Holds the pool's threads before they claim a part (`true`) or lets them go on (`false`).
   * While held, every part runs on the calling thread, as when the threads have lost their
   * cores: tests use it to reach that path for certain, not by chance.
   */
  hold(held: boolean): void {
    for (let i = 0; i < this.#workers.length; i++) {
      Atomics.store(this.#words, i * SLOT_WORDS + Word.hold, held ? 1 : 0);
      if (!held) Atomics.notify(this.#words, i * SLOT_WORDS + Word.hold);
    }
  }

  /** Ends the Workers; later calls run on the calling thread alone. */
  close(): void {
    if (this.#closed) return;
    this.hold(false);
    this.#closed = true;
    for (let i = 0; i < this.#workers.length; i++) {
      Atomics.store(this.#words, i * SLOT_WORDS + Word.start, -1);
      Atomics.notify(this.#words, i * SLOT_WORDS + Word.start);
    }
    for (const worker of this.#workers) worker.terminate();
  }
}

/**
 * [start, end) ranges splitting [0, total) into at most `parts` pieces, each (but the last) a
 * multiple of `grain` long, none empty.
 *
 * @example
 * ```ts
 * import { splitRange } from "./pool.ts";
 * console.assert(JSON.stringify(splitRange(10, 2, 4)) === "[[0,8],[8,10]]");
 * ```
 */
export function splitRange(total: number, parts: number, grain = 1): [number, number][] {
  const units = Math.ceil(total / grain);
  const count = Math.max(1, Math.min(parts, units));
  const out: [number, number][] = [];
  let start = 0;
  for (let i = 0; i < count && start < total; i++) {
    const end = i === count - 1
      ? total
      : Math.min(total, start + Math.ceil((units - start / grain) / (count - i)) * grain);
    out.push([start, end]);
    start = end;
  }
  return out;
}

const pools = new WeakMap<WebAssembly.Memory, KernelPool>();
let current: KernelPool | undefined;

/**
 * Starts a pool of `threads` for `backend` (the threaded wasm backend), replacing the pool of a
 * backend started before. Throws when it cannot start (its kernels then run on one thread).
 */
export async function startKernelPool(backend: unknown, threads: number): Promise<KernelPool> {
  const memory = kernelMemory(backend);
  const local = simdKernels(backend);
  if (!memory || !local) {
    throw new AnnealError("backend", "Cannot start anneal's kernel pool: no SIMD kernels here");
  }
  const pool = await KernelPool.start(memory, threads, local);
  current?.close();
  if (!current) {
    // Its Workers end with the isolate that started them, not with the process: they are told
    // to stop before native teardown, instead of being found waiting on shared memory.
    globalThis.addEventListener?.("unload", () => current?.close());
  }
  current = pool;
  pools.set(memory, pool);
  return pool;
}

/** The kernel pool of `backend`, when one runs. */
export function kernelPool(backend: unknown): KernelPool | undefined {
  const memory = kernelMemory(backend);
  const pool = memory ? pools.get(memory) : undefined;
  return pool && pool.threads > 1 ? pool : undefined;
}
