/**
 * Entry of one thread of anneal's kernel pool (`pool.ts`): it instantiates `kernels.wat` on the
 * wasm backend's shared memory, answers `ready`, then serves calls for good, blocked in
 * `Atomics.wait` between them (its event loop never runs again; the pool terminates it).
 *
 * A call is posted in the thread's slot of the control block (see `pool.ts` for the layout):
 * the kernel's index, its argument count and arguments; the pool bumps `start`; this thread claims
 * the call (unless the caller claimed it first), runs the kernel, writes the result (or a failure)
 * and sets `done` to the same number.
 *
 * @module
 */
import { kernelBytes, POOL_KERNELS, SLOT_ARGS, SLOT_WORDS, Word } from "./pool_layout.ts";

const scope = globalThis as unknown as {
  onmessage: ((event: MessageEvent) => void) | null;
  postMessage(message: unknown): void;
  self?: unknown;
};

function serve(memory: WebAssembly.Memory, control: SharedArrayBuffer, slot: number): void {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(kernelBytes(true)), {
    env: { memory },
  });
  const exports = instance.exports as Record<string, (...args: number[]) => number | undefined>;
  const kernels = POOL_KERNELS.map((name) => exports[name]);
  const words = new Int32Array(control);
  const values = new Float64Array(control);
  const base = slot * SLOT_WORDS;
  const argsAt = (base + Word.args) / 2;
  scope.postMessage("ready");
  let seen = 0;
  for (;;) {
    Atomics.wait(words, base + Word.start, seen);
    seen = Atomics.load(words, base + Word.start);
    if (seen < 0) return; // the pool closes
    // Held (a test standing in for a thread that lost its core): claim nothing until released.
    for (let held; (held = Atomics.load(words, base + Word.hold)) !== 0;) {
      Atomics.wait(words, base + Word.hold, held);
    }
    // The caller may have run this part itself (this thread woke late): then nothing to do.
    if (Atomics.compareExchange(words, base + Word.claim, 0, 1) !== 0) continue;
    // Claimed: the caller now waits for this slot, so the call posted last is the one to run.
    seen = Atomics.load(words, base + Word.start);
    if (seen < 0) return;
    const kernel = kernels[words[base + Word.kernel]];
    const count = Math.min(words[base + Word.count], SLOT_ARGS);
    const args = Array.from({ length: count }, (_, i) => values[argsAt + i]);
    try {
      values[argsAt] = kernel(...args) ?? 0;
      words[base + Word.failed] = 0;
    } catch {
      words[base + Word.failed] = 1;
    }
    Atomics.store(words, base + Word.done, seen);
    Atomics.notify(words, base + Word.done);
  }
}

scope.onmessage = (event: MessageEvent) => {
  const { memory, control, slot } = event.data as {
    memory: WebAssembly.Memory;
    control: SharedArrayBuffer;
    slot: number;
  };
  scope.onmessage = null;
  try {
    serve(memory, control, slot);
  } catch (error) {
    scope.postMessage(`failed: ${error instanceof Error ? error.message : String(error)}`);
  }
};
