/**
 * A SHA-256 fingerprint of exactly the data a run used, so two runs can be compared and a resumed
 * run can check that its data did not change.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { bytesToFloats } from "./batches.ts";
import { featuresAreBytes, type Rows } from "./split.ts";

/** Bytes hashed between two pauses of {@linkcode fingerprintSplits} (~10-20 ms of work). */
export const FINGERPRINT_CHUNK = 1 << 24;

/**
 * SHA-256 of `pieces` one after the other, with `pause` awaited before a piece once
 * {@linkcode FINGERPRINT_CHUNK} bytes or more were hashed since the last. node:crypto's hash
 * reads the bytes where they lie: Web Crypto's `digest` copied them first, and took 0.6 s of a
 * Fashion-MNIST load against ~0.1 s (BENCHMARKS.md, "Forty-sixth session"); the digest is the
 * same.
 */
async function digest(
  pieces: Iterable<Uint8Array>,
  pause?: () => Promise<void>,
): Promise<Uint8Array> {
  const hash = createHash("sha256");
  let since = 0;
  for (const piece of pieces) {
    if (since >= FINGERPRINT_CHUNK) {
      await pause?.();
      since = 0;
    }
    hash.update(piece);
    since += piece.length;
  }
  return new Uint8Array(hash.digest());
}

/** `data` in {@linkcode FINGERPRINT_CHUNK} pieces. */
function* chunks(data: Uint8Array): Generator<Uint8Array> {
  for (let at = 0; at < data.length; at += FINGERPRINT_CHUNK) {
    yield data.subarray(at, at + FINGERPRINT_CHUNK);
  }
}

function bytesOf(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/**
 * Floats made at a time where features are still bytes: few enough that their one buffer costs
 * few first touches of fresh memory (of 16 MB pieces, a load of Fashion-MNIST's three splits
 * spent ~0.1 s in page faults; BENCHMARKS.md, "Forty-seventh session").
 */
const FLOAT_PIECE = 1 << 18;

/**
 * The bytes of the floats of `ds`'s features: of `x` as it is, in {@linkcode FINGERPRINT_CHUNK}
 * pieces, or where it is still bytes, of their `byteTable` entries (the floats `asFloats` would
 * make), {@linkcode FLOAT_PIECE} floats at a time in one buffer.
 */
function* featurePieces(ds: Rows): Generator<Uint8Array> {
  if (!featuresAreBytes(ds)) return yield* chunks(bytesOf(ds.x));
  const step = FLOAT_PIECE;
  const floats = new Float32Array(Math.min(step, ds.x.length));
  for (let at = 0; at < ds.x.length; at += step) {
    const part = ds.x.subarray(at, at + step);
    yield bytesOf(bytesToFloats(part, ds.byteTable, floats.subarray(0, part.length)));
  }
}

/**
 * SHA-256 hex over each split's name, shape, task and x/y bytes. Large arrays are hashed one by
 * one and the digests hashed together, so nothing is concatenated into a second copy; features
 * still bytes are hashed as their floats. `pause` is
 * awaited each {@linkcode FINGERPRINT_CHUNK} bytes hashed of a large array (of floats: 4 MB of
 * features still bytes), so that a Worker
 * loading the data answers its messages meanwhile; it may throw, to give the load up.
 *
 * @example
 * ```ts
 * import { fingerprintSplits } from "./fingerprint.ts";
 * const ds = { x: new Float32Array([1, 2]), y: new Float32Array([3]), n: 1,
 *   inputShape: [2], targetSize: 1, task: "regression" as const };
 * const a = await fingerprintSplits({ train: ds });
 * console.assert(a.length === 64 && a === await fingerprintSplits({ train: ds }));
 * ```
 */
export async function fingerprintSplits(
  splits: Record<string, Rows | undefined>,
  pause?: () => Promise<void>,
): Promise<string> {
  const parts: Uint8Array[] = [];
  const encoder = new TextEncoder();
  for (const [name, ds] of Object.entries(splits)) {
    if (ds === undefined) continue;
    const header = JSON.stringify([name, ds.n, ds.inputShape, ds.targetSize, ds.task]);
    parts.push(await digest([encoder.encode(header)]));
    parts.push(await digest(featurePieces(ds), pause));
    parts.push(await digest(chunks(bytesOf(ds.y)), pause));
  }
  const all = new Uint8Array(parts.length * 32);
  parts.forEach((part, i) => all.set(part, i * 32));
  return Array.from(await digest([all]), (b) => b.toString(16).padStart(2, "0")).join("");
}
