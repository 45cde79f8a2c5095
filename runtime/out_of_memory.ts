/**
 * A failed allocation in the trainer (a model or batch too large for the backend's memory) as an
 * error that says so: JavaScript's and wasm's own messages ("Invalid typed array length:
 * 1600000000", "Array buffer allocation failed") name neither the model's size nor a fix.
 *
 * @module
 */
import { AnnealError } from "../errors.ts";

/** The messages of allocations that failed for want of memory (V8, wasm, Emscripten). */
const ALLOCATION_FAILED =
  /Array buffer allocation failed|Invalid typed array length|Invalid array length|WebAssembly\.Memory|Cannot enlarge memory|out of memory|Aborted\(OOM\)/i;

/**
 * `error` as an {@linkcode AnnealError} (`backend`) naming the model's size and what to change,
 * where it is a failed allocation; undefined for any other error. `parameters` is the model's
 * parameter count where it was built, `backend` tfjs's backend.
 *
 * @example
 * ```ts
 * import { outOfMemory } from "./out_of_memory.ts";
 * const error = outOfMemory(new RangeError("Invalid typed array length: 1600000000"), 4e8, "wasm");
 * console.assert(error?.message.includes("400,000,000 parameters"));
 * console.assert(outOfMemory(new Error("bad label"), 10, "wasm") === undefined);
 * ```
 */
export function outOfMemory(
  error: unknown,
  parameters: number | undefined,
  backend: string,
): AnnealError | undefined {
  if (error instanceof AnnealError) return undefined;
  const message = error instanceof Error ? error.message : String(error);
  if (!ALLOCATION_FAILED.test(message)) return undefined;
  const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(bytes < 2 ** 30 ? 2 : 1)} GiB`;
  const size = parameters === undefined
    ? ""
    : ` The model has ${parameters.toLocaleString("en-US")} parameters: ${
      gib(4 * parameters)
    } of float32 weights, and training holds their gradients and the optimizer's state besides (3-4x that).`;
  const wasm = backend === "wasm"
    ? "; wasm addresses at most 4 GiB in all: backend cpu uses the machine's memory"
    : "";
  return new AnnealError(
    "backend",
    `Out of memory on backend ${backend}: an allocation failed (${message}).${size}`,
    {
      where: "model",
      hint: `use a smaller model (fewer or narrower layers) or a smaller batchSize${wasm}`,
      cause: error,
    },
  );
}
