/**
 * A model too large for the wasm backend's memory (or the cpu backend's: the machine's), refused
 * before it is built. tfjs's wasm
 * backend keeps every tensor in one WebAssembly memory of at most 4 GiB (wasm32 addresses). A
 * model past that was built first, its weights drawn (~28 s for 4e8 parameters on a 2-core
 * machine, the process holding 4.8 GB), then failed at its first step: as an out-of-memory error
 * (see out_of_memory.ts), or, larger still, as "offset is out of bounds" after ~50 s, naming
 * nothing. What a training step surely holds at once is known from the spec alone, so such a
 * model is refused at once, saying what it needs and what to change.
 *
 * @module
 */
import { granted } from "./granted.ts";
import { AnnealError } from "../errors.ts";
import type { ResolvedModelSpec } from "../models/spec.ts";
import type { ModelShape } from "../models/build_resolved.ts";
import { type ModelSize, modelSize } from "../models/size.ts";

/** The most bytes the wasm backend's memory grows to (Emscripten's heap limit in tfjs 4.22.0). */
export const WASM_HEAP_MAX = 4_294_901_760;

/**
 * Bytes of float32 tensors a training step of a model of `size` surely holds at once for a
 * micro-batch of `batch` samples: the weights and all their gradients (tfjs makes every
 * gradient before the optimizer takes one); or, in the forward pass, the weights and the widest
 * tensor the batch makes. A lower bound: activations, the optimizer's state and the kernels'
 * scratch come on top.
 *
 * @example
 * ```ts
 * import { stepFloorBytes } from "./wasm_memory.ts";
 * const size = { parameters: 1000, widest: { floats: 10, name: "the input" } };
 * console.assert(stepFloorBytes(size, 1) === 4 * 2 * 1000); // weights and gradients
 * console.assert(stepFloorBytes(size, 200) === 4 * (1000 + 200 * 10)); // weights and a batch's input
 * ```
 */
export function stepFloorBytes(size: ModelSize, batch: number): number {
  return 4 * Math.max(2 * size.parameters, size.parameters + batch * size.widest.floats);
}

/**
 * The machine's memory in bytes, which the cpu backend's tensors take; undefined where it cannot
 * be read (no `--allow-sys` for it: the check is then left out).
 */
function machineMemory(): number | undefined {
  if (!granted({ name: "sys", kind: "systemMemoryInfo" })) return undefined;
  try {
    return Deno.systemMemoryInfo().total;
  } catch {
    return undefined;
  }
}

/**
 * The fewest samples a training step of an epoch takes: an epoch's last batch is what is left
 * over, unless `dropLast` drops it.
 *
 * @example
 * ```ts
 * import { smallestBatch } from "./wasm_memory.ts";
 * console.assert(smallestBatch(200, 16, false) === 8);
 * console.assert(smallestBatch(200, 16, true) === 16);
 * console.assert(smallestBatch(10, 16, false) === 10);
 * ```
 */
export function smallestBatch(trainSize: number, batchSize: number, dropLast: boolean): number {
  if (trainSize <= batchSize) return Math.max(1, trainSize);
  return dropLast ? batchSize : trainSize % batchSize || batchSize;
}

/**
 * Throws a `backend` {@linkcode AnnealError} where a training step of model `spec` on data of
 * `shape` cannot fit the backend's memory even with its smallest micro-batch of `batch` samples
 * ({@linkcode stepFloorBytes} above {@linkcode WASM_HEAP_MAX} on wasm; on cpu, whose tensors take
 * the machine's memory, above all of it, where it can be read: a model past it drew its weights,
 * then its first step outlasted the stall timeout, and its Worker went on allocating after the
 * run had failed); does nothing on WebGPU (its limits are its buffers').
 *
 * @example
 * ```ts
 * import { checkStepMemory } from "./wasm_memory.ts";
 * import { ModelSpecSchema } from "../models/spec.ts";
 * const spec = ModelSpecSchema.parse({ kind: "mlp", hidden: [100_000_000] });
 * const shape = { inputShape: [1], outputUnits: 1 };
 * checkStepMemory(spec, shape, 8, "webgpu"); // (no limit there)
 * let message = "";
 * try {
 *   checkStepMemory(spec, shape, 8, "wasm");
 * } catch (error) {
 *   message = (error as Error).message;
 * }
 * console.assert(message.includes("300,000,001 parameters"));
 * ```
 */
export function checkStepMemory(
  spec: ResolvedModelSpec,
  shape: ModelShape,
  batch: number,
  backend: string,
): void {
  const limit = backend === "wasm"
    ? WASM_HEAP_MAX
    : backend === "cpu"
    ? machineMemory()
    : undefined;
  if (limit === undefined) return;
  const size = modelSize(spec, shape);
  const floor = stepFloorBytes(size, batch);
  // (NaN: an input the model cannot take, as a cnn's of no images; building it says so, as on
  // the other backends: this said "NaN GiB", out of memory)
  if (!(floor > limit)) return;
  const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(bytes < 2 ** 30 ? 2 : 1)} GiB`;
  const weights = 4 * size.parameters;
  const widest = 4 * batch * size.widest.floats;
  const forward = size.parameters + batch * size.widest.floats > 2 * size.parameters;
  const needs = forward
    ? `its weights and ${size.widest.name}'s values for a batch of ${batch} sample${
      batch === 1 ? "" : "s"
    } (${gib(widest)})`
    : "its weights and as much again for their gradients";
  const room = backend === "wasm"
    ? "wasm addresses at most 4 GiB in all"
    : `this machine has ${gib(limit)} of memory in all`;
  throw new AnnealError(
    "backend",
    `Out of memory on backend ${backend}: a training step of this model holds at least ` +
      `${gib(floor)} at once, and ${room}. The model has ` +
      `${size.parameters.toLocaleString("en-US")} parameters: ${gib(weights)} of float32 ` +
      `weights; a step holds ${needs}, with the optimizer's state and the other layers' values ` +
      "besides",
    {
      where: "model",
      hint: "use a smaller model (fewer or narrower layers)" +
        (forward && batch > 1 ? " or a smaller batchSize" : "") +
        (backend === "wasm" ? ", or backend cpu, whose tensors take the machine's memory" : ""),
    },
  );
}
