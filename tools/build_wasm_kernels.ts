/**
 * Writes runtime/wasm_simd/kernels_wasm.ts from runtime/wasm_simd/kernels.wat.
 *
 * Usage: `deno task build-wasm-kernels` (after editing kernels.wat; the test
 * runtime/wasm_simd/kernels_test.ts fails while the generated file is out of date).
 *
 * @module
 */
import { assembleKernels, generatedModule, SOURCE } from "../runtime/wasm_simd/assemble.ts";

const bytes = await assembleKernels(await Deno.readTextFile(SOURCE));
const target = new URL("./kernels_wasm.ts", SOURCE);
await Deno.writeTextFile(target, generatedModule(bytes));
console.log(
  `wrote ${target.pathname}: ${
    Object.entries(bytes).map(([build, b]) => `${b.length} bytes (${build})`).join(", ")
  }`,
);
