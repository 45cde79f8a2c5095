/**
 * Assembles `kernels.wat` with wabt, four times: importing a plain memory (tfjs-wasm's SIMD
 * build) or a shared one (its threaded build), each with relaxed SIMD's fused multiply-add
 * (`f32x4.relaxed_madd`) and without it (a multiply and an add, for engines without relaxed
 * SIMD). Used by `deno task build-wasm-kernels`, which writes `kernels_wasm.ts`, and by the test
 * that checks that file is up to date; not by the runtime.
 *
 * @module
 */
import wabtInit from "npm:wabt@1.0.39";

/** The memory import of each variant (the source's line marked `;; MEMORY` is replaced). */
export const MEMORY_IMPORTS = {
  plain: `(import "env" "memory" (memory 1))`,
  shared: `(import "env" "memory" (memory 1 65536 shared))`,
} as const;

/** The builds: each memory, with relaxed SIMD and without. */
export type KernelBuilds = Record<
  "plain" | "shared" | "plainRelaxed" | "sharedRelaxed",
  Uint8Array
>;

/** The source's path. */
export const SOURCE = new URL("./kernels.wat", import.meta.url);

/** A fused multiply-add of three locals, as kernels.wat writes every one. */
const MADD =
  /\(f32x4\.relaxed_madd (\(local\.get \$\w+\)) (\(local\.get \$\w+\)) (\(local\.get \$\w+\))\)/g;

/**
 * `wat` without relaxed SIMD: every `(f32x4.relaxed_madd x y z)` (x * y + z, of locals) as
 * `(f32x4.add z (f32x4.mul x y))`, the arithmetic relaxed_madd may do where there is no fused
 * instruction. Throws on a relaxed_madd of another form, or any other relaxed instruction
 * (outside comments).
 */
export function withoutRelaxedSimd(wat: string): string {
  const text = wat.replace(MADD, "(f32x4.add $3 (f32x4.mul $1 $2))");
  const code = text.split("\n").map((line) => line.replace(/;;.*/, "")).join("\n");
  const left = code.match(/[\w.]*relaxed_\w+/);
  if (left) {
    throw new Error(
      `kernels.wat: '${
        left[0]
      }' has no plain-SIMD form here (relaxed_madd of three local.get only)`,
    );
  }
  return text;
}

/** The four builds' bytes, assembled from `wat` (the text of kernels.wat). */
export async function assembleKernels(wat: string): Promise<KernelBuilds> {
  const wabt = await wabtInit();
  const assemble = (source: string, memory: string, relaxed: boolean) => {
    const lines = source.split("\n");
    const marker = lines.findIndex((line) => line.includes(";; MEMORY"));
    if (marker < 0) throw new Error("kernels.wat: no line marked ';; MEMORY' (the memory import)");
    const text = [...lines.slice(0, marker), `  ${memory}`, ...lines.slice(marker + 1)].join("\n");
    const module = wabt.parseWat("kernels.wat", text, {
      simd: true,
      relaxed_simd: relaxed,
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
  const plainSimd = withoutRelaxedSimd(wat);
  return {
    plain: assemble(plainSimd, MEMORY_IMPORTS.plain, false),
    shared: assemble(plainSimd, MEMORY_IMPORTS.shared, false),
    plainRelaxed: assemble(wat, MEMORY_IMPORTS.plain, true),
    sharedRelaxed: assemble(wat, MEMORY_IMPORTS.shared, true),
  };
}

/** The text of kernels_wasm.ts for these bytes. */
export function generatedModule(bytes: KernelBuilds): string {
  const base64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
  // laid out as deno fmt would (the test compares the file as committed)
  return [
    "// Generated from kernels.wat by `deno task build-wasm-kernels`: do not edit.",
    "",
    "/** kernels.wat importing a plain memory, plain SIMD, base64. */",
    `export const PLAIN =\n  "${base64(bytes.plain)}";`,
    "",
    "/** kernels.wat importing a shared memory, plain SIMD, base64. */",
    `export const SHARED =\n  "${base64(bytes.shared)}";`,
    "",
    "/** kernels.wat importing a plain memory, relaxed SIMD (fused multiply-adds), base64. */",
    `export const PLAIN_RELAXED =\n  "${base64(bytes.plainRelaxed)}";`,
    "",
    "/** kernels.wat importing a shared memory, relaxed SIMD (fused multiply-adds), base64. */",
    `export const SHARED_RELAXED =\n  "${base64(bytes.sharedRelaxed)}";`,
    "",
  ].join("\n");
}
