import assert from "node:assert/strict";
import { FINGERPRINT_CHUNK, fingerprintSplits } from "./fingerprint.ts";
import { loadData } from "./load.ts";
import type { Dataset } from "./types.ts";

/** The fingerprint's scheme written out on Web Crypto, as anneal computed it before. */
async function reference(splits: Record<string, Dataset>): Promise<string> {
  const sha = async (bytes: Uint8Array) =>
    new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  const parts: Uint8Array[] = [];
  for (const [name, ds] of Object.entries(splits)) {
    const header = JSON.stringify([name, ds.n, ds.inputShape, ds.targetSize, ds.task]);
    parts.push(await sha(new TextEncoder().encode(header)));
    parts.push(await sha(new Uint8Array(ds.x.buffer, ds.x.byteOffset, ds.x.byteLength)));
    parts.push(await sha(new Uint8Array(ds.y.buffer, ds.y.byteOffset, ds.y.byteLength)));
  }
  const all = new Uint8Array(parts.length * 32);
  parts.forEach((part, i) => all.set(part, i * 32));
  return Array.from(await sha(all), (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("fingerprints are those earlier versions recorded: a resumed run compares its data's with its record's", async () => {
  const seed = await loadData({ kind: "synthetic-linear" }, 42);
  assert.equal(
    seed.fingerprint,
    "150fcf5c96a7b7d2d65abf28a7bd95554c8b3a1be5b0a8fcb9fcadad8fe2147c",
  );
  const split = await loadData({ kind: "synthetic-linear", n: 1000, validationSplit: 0.2 }, 7);
  assert.equal(
    split.fingerprint,
    "d2f7d7828ee0723407a2daa35015c45c1f244e7522bc604b49ec38fea6f5d03f",
  );
});

Deno.test("a fingerprint over arrays of several chunks, views into larger buffers among them, is the scheme's SHA-256; the load pauses between chunks and may be given up", async () => {
  // x spans two chunks and a bit; y is a view into the middle of a larger buffer
  const n = Math.ceil(FINGERPRINT_CHUNK / 4 / 3) + 5;
  const x = new Float32Array(n * 3).map((_, i) => Math.sin(i));
  const y = new Float32Array(n + 10).map((_, i) => i % 7).subarray(4, 4 + n);
  const train: Dataset = { x, y, n, inputShape: [3], targetSize: 1, task: "regression" };
  const test: Dataset = { ...train, x: x.subarray(6, 12), y: y.subarray(2, 4), n: 2 };
  let pauses = 0;
  const got = await fingerprintSplits({ train, test }, () => Promise.resolve(void pauses++));
  assert.equal(got, await reference({ train, test }));
  assert.equal(pauses, Math.ceil(x.byteLength / FINGERPRINT_CHUNK) - 1);
  assert.equal(await fingerprintSplits({ train, test }), got);
  // one value changed, another fingerprint
  const changed = { ...train, x: x.slice() };
  changed.x[changed.x.length - 1] += 1;
  assert.notEqual(await fingerprintSplits({ train: changed, test }), got);
  await assert.rejects(
    fingerprintSplits({ train }, () => Promise.reject(new Error("given up"))),
    /given up/,
  );
});
