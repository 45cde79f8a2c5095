import assert from "node:assert/strict";
import { AnnealError } from "../errors.ts";
import { outOfMemory } from "./out_of_memory.ts";

Deno.test("a failed allocation names the model's size and the fix; other errors pass as they are", () => {
  // what V8 and tfjs-wasm said of a 400M-parameter MLP (the trainer failed with this alone)
  for (const raw of ["Invalid typed array length: 1600000000", "Array buffer allocation failed"]) {
    const error = outOfMemory(new RangeError(raw), 400_000_001, "wasm")!;
    assert.ok(error instanceof AnnealError);
    assert.equal(error.code, "backend");
    assert.equal(error.where, "model");
    assert.match(error.message, new RegExp(`^Out of memory on backend wasm: .*\\(${raw}\\)`));
    assert.match(error.message, /400,000,001 parameters: 1\.5 GiB of float32 weights/);
    assert.match(error.hint!, /smaller model .* wasm addresses at most 4 GiB/);
  }
  // no model yet (it failed while being built): no size, and no wasm advice on cpu
  const early = outOfMemory(new RangeError("Array buffer allocation failed"), undefined, "cpu")!;
  assert.doesNotMatch(early.message, /parameters/);
  assert.doesNotMatch(early.hint!, /wasm/);
  assert.equal(outOfMemory(new Error("label 12 is out of range"), 10, "wasm"), undefined);
  assert.equal(
    outOfMemory(new AnnealError("data", "Invalid array length in the CSV"), 10, "cpu"),
    undefined,
  );
});
