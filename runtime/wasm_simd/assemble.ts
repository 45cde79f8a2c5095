/**
 * Assembles `kernels.wat` with wabt, twice: importing a plain memory (tfjs-wasm's SIMD build)
 * and a shared one (its threaded build). Used by `deno task build-wasm-kernels`, which writes
 * `kernels_wasm.ts`, and by the test that checks that file is up to date; not by the runtime.
 *
 * @module
 */
import wabtInit from "npm:wabt@1.0.39";

/** The memory import of each variant (the source's line marked `;; MEMORY` is replaced). */
export const MEMORY_IMPORTS = {
  plain: `(import "env" "memory" (memory 1))`,
  shared: `(import "env" "memory" (memory 1 65536 shared))`,
} as const;

/** The source's path. */
export const SOURCE = new URL("./kernels.wat", import.meta.url);

/** Both variants' bytes, assembled from `wat` (the text of kernels.wat). */
export async function assembleKernels(
  wat: string,
): Promise<Record<keyof typeof MEMORY_IMPORTS, Uint8Array>> {
  const wabt = await wabtInit();
  const lines = wat.split("\n");
  const marker = lines.findIndex((line) => line.includes(";; MEMORY"));
  if (marker < 0) throw new Error("kernels.wat: no line marked ';; MEMORY' (the memory import)");
  const assemble = (memory: string) => {
    const text = [...lines.slice(0, marker), `  ${memory}`, ...lines.slice(marker + 1)].join("\n");
    const module = wabt.parseWat("kernels.wat", text, {
      simd: true,
      threads: true,
      bulk_memory: true,
    });
    try {
      // validated when compiled (WebAssembly.Module), by the tests and at load
      return new Uint8Array(module.toBinary({}).buffer);
    } finally {
      module.destroy();
    }
  };
  return { plain: assemble(MEMORY_IMPORTS.plain), shared: assemble(MEMORY_IMPORTS.shared) };
}

/** The text of kernels_wasm.ts for these bytes. */
export function generatedModule(bytes: Record<keyof typeof MEMORY_IMPORTS, Uint8Array>): string {
  const base64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
  // laid out as deno fmt would (the test compares the file as committed)
  return [
    "// Generated from kernels.wat by `deno task build-wasm-kernels`: do not edit.",
    "",
    "/** kernels.wat importing a plain memory, base64. */",
    `export const PLAIN =\n  "${base64(bytes.plain)}";`,
    "",
    "/** kernels.wat importing a shared memory, base64. */",
    `export const SHARED =\n  "${base64(bytes.shared)}";`,
    "",
  ].join("\n");
}
