/**
 * Shared helpers of the data/ tests: fixture paths and an assertion on AnnealError fields.
 *
 * @module
 */

import assert from "node:assert/strict";
import { AnnealError } from "../errors.ts";

/** Absolute path of a file in tests/fixtures/data/. */
export function fixture(name: string): string {
  return new URL(`../tests/fixtures/data/${name}`, import.meta.url).pathname;
}

/** Asserts that `run` rejects with a data AnnealError whose message and `where` match. */
export async function assertDataError(
  run: () => unknown,
  message: RegExp,
  where?: RegExp,
): Promise<AnnealError> {
  try {
    await run();
  } catch (error) {
    assert.ok(error instanceof AnnealError, `expected AnnealError, got ${error}`);
    assert.match(error.message, message);
    if (where) assert.match(error.where ?? "", where);
    assert.ok(error.hint, "every error carries a hint");
    return error;
  }
  assert.fail("expected an AnnealError, nothing was thrown");
}

/** An IDX file of unsigned bytes with the given dimensions. */
export function idxBytes(dims: number[], values: ArrayLike<number>): Uint8Array {
  const bytes = new Uint8Array(4 + 4 * dims.length + values.length);
  bytes.set([0, 0, 8, dims.length]);
  const view = new DataView(bytes.buffer);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  bytes.set(values, 4 + 4 * dims.length);
  return bytes;
}
