/**
 * A SHA-256 fingerprint of exactly the data a run used, so two runs can be compared and a resumed
 * run can check that its data did not change.
 *
 * @module
 */

import type { Dataset } from "./types.ts";

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function digest(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>));
}

/**
 * SHA-256 hex over each split's name, shape, task and x/y bytes. Large arrays are hashed one by
 * one and the digests hashed together, so nothing is concatenated into a second copy.
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
  splits: Record<string, Dataset | undefined>,
): Promise<string> {
  const parts: Uint8Array[] = [];
  const encoder = new TextEncoder();
  for (const [name, ds] of Object.entries(splits)) {
    if (ds === undefined) continue;
    const header = JSON.stringify([name, ds.n, ds.inputShape, ds.targetSize, ds.task]);
    parts.push(await digest(encoder.encode(header)));
    parts.push(await digest(new Uint8Array(ds.x.buffer, ds.x.byteOffset, ds.x.byteLength)));
    parts.push(await digest(new Uint8Array(ds.y.buffer, ds.y.byteOffset, ds.y.byteLength)));
  }
  const all = new Uint8Array(parts.length * 32);
  parts.forEach((part, i) => all.set(part, i * 32));
  return hex(await crypto.subtle.digest("SHA-256", all));
}
