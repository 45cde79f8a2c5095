/**
 * The data-loader actor on its own, driven over a MessageChannel as the trainer drives it:
 * credits bound what it sends, small batches arrive several to a message, and it streams on
 * into the following epochs without being asked, in order, stopping at the last epoch.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseConfig, type RunConfigInput } from "../config.ts";
import type { BatchGroup, BatchReady, DatasetReady } from "./protocol.ts";
import { packBatchGroup, unpackBatchGroup } from "./data_loader.ts";

type Message = { type: string } & Record<string, unknown>;

async function withLoader(
  epochs: number,
  body: (
    port: MessagePort,
    next: () => Promise<Message>,
    ready: DatasetReady,
  ) => Promise<void>,
  config: RunConfigInput = {},
): Promise<void> {
  const worker = new Worker(new URL("./data_loader_worker.ts", import.meta.url).href, {
    type: "module",
  });
  const channel = new MessageChannel();
  const inbox: Message[] = [];
  let wake = () => {};
  channel.port2.onmessage = (event) => {
    inbox.push(event.data);
    wake();
  };
  const next = async () => {
    while (inbox.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    return inbox.shift()!;
  };
  const runDir = await Deno.makeTempDir();
  try {
    worker.postMessage({
      type: "Init",
      actor: "dataLoader",
      runId: "test",
      runDir,
      config: parseConfig({ epochs, batchSize: 16, ...config }),
      ports: { trainer: channel.port1 },
    }, [channel.port1]);
    const ready = await next() as unknown as DatasetReady;
    assert.equal(ready.type, "DatasetReady");
    await body(channel.port2, next, ready);
  } finally {
    worker.postMessage({ type: "Stop" });
    channel.port2.close();
    worker.terminate();
    await Deno.remove(runDir, { recursive: true });
  }
}

/** The training batches of one message (a single batch or a group). */
function batchesOf(message: Message): BatchReady[] {
  if (message.type === "BatchGroup") return unpackBatchGroup(message as unknown as BatchGroup);
  assert.equal(message.type, "BatchReady");
  return [message as unknown as BatchReady];
}

Deno.test("data loader: small batches come several to a message and run on into later epochs", async () => {
  await withLoader(3, async (port, next, ready) => {
    const perEpoch = ready.batchesPerEpoch;
    const total = 3 * perEpoch;
    port.postMessage({ type: "GrantCredits", count: total + 10 });
    port.postMessage({ type: "StartEpoch", epoch: 0, fromBatch: 0 });
    const seen: [number, number][] = [];
    let messages = 0;
    while (seen.length < total) {
      const message = await next();
      messages++;
      for (const batch of batchesOf(message)) seen.push([batch.epoch, batch.index]);
    }
    // In order, every epoch, and StartEpoch was sent only once.
    assert.deepEqual(
      seen,
      Array.from({ length: total }, (_, i) => [Math.floor(i / perEpoch), i % perEpoch]),
    );
    assert.ok(messages < total / 4, `${total} batches came in ${messages} messages`);
    // A StartEpoch for a position already streamed changes nothing; none past the last epoch.
    port.postMessage({ type: "StartEpoch", epoch: 2, fromBatch: 0 });
    port.postMessage({ type: "SendSplit", split: "validation", epoch: 2 });
    const after = await next();
    assert.equal(after.type, "BatchReady");
    assert.equal(after.split, "validation");
  });
});

Deno.test("data loader: never more batches in flight than the credits", async () => {
  await withLoader(2, async (port, next) => {
    port.postMessage({ type: "GrantCredits", count: 3 });
    port.postMessage({ type: "StartEpoch", epoch: 0, fromBatch: 0 });
    const first: BatchReady[] = [];
    while (first.length < 3) first.push(...batchesOf(await next()));
    assert.equal(first.length, 3);
    // Nothing more until the next credit: a validation request is answered first.
    port.postMessage({ type: "SendSplit", split: "validation", epoch: 0 });
    const validation = await next();
    assert.equal(validation.split, "validation");
    port.postMessage({ type: "GrantCredits", count: 1 });
    const more = batchesOf(await next());
    assert.deepEqual(more.map((b) => [b.epoch, b.index]), [[0, 3]]);
  });
});

Deno.test("a batch group packs its batches into two buffers and unpacks them as they were", () => {
  const batch = (index: number, size: number): BatchReady => ({
    type: "BatchReady",
    split: "train",
    epoch: 1,
    index,
    size,
    x: Float32Array.from({ length: size * 3 }, (_, i) => index * 100 + i).buffer,
    y: Float32Array.from({ length: size }, (_, i) => -index * 100 - i).buffer,
    last: size < 4,
  });
  const batches = [batch(0, 4), batch(1, 4), batch(2, 1)];
  const copies = batches.map((b) => ({ ...b, x: b.x.slice(0), y: b.y.slice(0) }));
  const { message, transfer } = packBatchGroup(batches);
  assert.deepEqual(transfer, [message.x, message.y]);
  assert.equal(message.x.byteLength, 4 * 3 * 9);
  const unpacked = unpackBatchGroup(message);
  assert.equal(unpacked.length, 3);
  unpacked.forEach((b, i) => {
    const { x, y, ...rest } = copies[i];
    assert.deepEqual({ ...b, x: undefined, y: undefined }, { ...rest, x: undefined, y: undefined });
    assert.deepEqual(Array.from(new Float32Array(b.x)), Array.from(new Float32Array(x)));
    assert.deepEqual(Array.from(new Float32Array(b.y)), Array.from(new Float32Array(y)));
  });
});

Deno.test("data loader: image inputs travel as bytes when asked, the same samples as floats", async () => {
  const idx = {
    kind: "idx" as const,
    dir: new URL("../tests/fixtures/data/idx_ok", import.meta.url).pathname,
    validationSplit: 0,
  };
  /** The first epoch's training batches, with their inputs as floats (looked up if bytes). */
  const firstEpoch = (inputBytes: boolean, augment?: { flip: boolean }) => {
    let out: { bytes: boolean[]; x: number[]; y: number[]; table?: Float32Array } | undefined;
    return withLoader(1, async (port, next, ready) => {
      port.postMessage({ type: "GrantCredits", count: 100 });
      port.postMessage({ type: "StartEpoch", epoch: 0, fromBatch: 0, inputBytes });
      const batches: BatchReady[] = [];
      while (batches.length < ready.batchesPerEpoch) batches.push(...batchesOf(await next()));
      const floats = (b: BatchReady) =>
        b.inputBytes ? [...new Uint8Array(b.x)].map((v) => ready.byteTable![v]) : [
          ...new Float32Array(b.x),
        ];
      out = {
        bytes: batches.map((b) => b.inputBytes === true),
        x: batches.flatMap(floats),
        y: batches.flatMap((b) => [...new Float32Array(b.y)]),
        table: ready.byteTable,
      };
    }, { batchSize: 4, data: { ...idx, ...(augment ? { augment } : {}) } }).then(() => out!);
  };
  const asBytes = await firstEpoch(true);
  const asFloats = await firstEpoch(false);
  assert.deepEqual(asBytes.bytes, [true, true]);
  assert.deepEqual(asFloats.bytes, [false, false]);
  assert.equal(asBytes.table?.length, 256);
  assert.deepEqual(asBytes.x, asFloats.x);
  assert.deepEqual(asBytes.y, asFloats.y);
  // Augmentation makes new values: no byte table is offered, and batches stay floats.
  const augmented = await firstEpoch(true, { flip: true });
  assert.equal(augmented.table, undefined);
  assert.deepEqual(augmented.bytes, [false, false]);
});
