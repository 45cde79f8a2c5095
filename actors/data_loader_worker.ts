/**
 * Worker entry of the data-loader actor: loads the dataset, then streams batches to the trainer
 * over its own MessageChannel as transferred ArrayBuffers, never more than the trainer's
 * credits allow (bounded prefetch, backpressure), small batches several to a message, and on
 * into the next epoch without waiting to be asked.
 *
 * @module
 */
import { runActor } from "./_worker_shell.ts";
import {
  evalBatches,
  loaderOptions,
  packBatchGroup,
  trainBatch,
  trainBatchCount,
  trainBytes,
  trainByteTable,
  trainOrderInChunks,
} from "./data_loader.ts";
import {
  classCounts,
  loadResolvedRows,
  targetVariance,
  validationBaseline,
} from "../data/load_resolved.ts";
import type { RunConfig } from "../config.ts";
import type { BatchReady, DatasetReady, SendSplit, StartEpoch } from "./protocol.ts";

/** Most training batches in one message. */
const GROUP_BATCHES = 64;
/** A group is sent once it holds this many bytes. */
const GROUP_BYTES = 256 * 1024;
/** Work between two pauses of a long step (a load, an epoch's shuffle) at least, in ms. */
const PAUSE_EVERY_MS = 40;

runActor("dataLoader", async (context) => {
  const config = context.init.config as RunConfig;
  const port = context.init.ports.trainer;
  let credits = 0;
  let wake = () => {};
  const commands: (StartEpoch | SendSplit)[] = [];
  let stopped = false;
  port.onmessage = (event: MessageEvent) => {
    const message = event.data;
    if (message.type === "GrantCredits") credits += message.count;
    else if (message.type === "StartEpoch" || message.type === "SendSplit") commands.push(message);
    wake();
  };
  context.stopped.then(() => {
    stopped = true;
    wake();
  });
  const next = () => new Promise<void>((resolve) => (wake = resolve));

  /** Sends a validation or test split (not counted against credits: the trainer waits for it). */
  const sendSplit = (command: SendSplit) => {
    const split = command.split === "validation" ? data.validation : data.test;
    if (!split || split.n === 0) {
      port.postMessage({
        type: "BatchReady",
        split: command.split,
        epoch: command.epoch,
        index: 0,
        size: 0,
        x: new ArrayBuffer(0),
        y: new ArrayBuffer(0),
        last: true,
      });
      return;
    }
    for (const batch of evalBatches(split, command.split, command.epoch, options.evalBatchSize)) {
      port.postMessage(batch, [batch.x, batch.y]);
    }
  };

  await context.faultPoint("load");
  // Between chunks of a long step (3e8 synthetic samples take a minute to load, 20 s to shuffle)
  // the Worker answers the supervisor's pings, and a stop gives the step up: the trainer, stopped
  // before the data or its first batch came, ends the run without a step.
  const gaveUp = new Error("stopped while loading");
  let worked = performance.now();
  const pause = async () => {
    // (a pause takes a timer's ~2 ms: short chunks, as numbering an epoch's samples, are run
    // together up to PAUSE_EVERY_MS)
    if (performance.now() - worked < PAUSE_EVERY_MS) return;
    // (a timer, not a message to itself: those run before the supervisor's pings are read)
    await new Promise((resolve) => setTimeout(resolve, 0));
    worked = performance.now();
    if (stopped) throw gaveUp;
  };
  const unlessGivenUp = (error: unknown) => {
    if (error === gaveUp) return undefined;
    throw error;
  };
  // (IDX images kept as bytes: a quarter of their floats' memory, each batch's floats made as it is)
  const loaded = await loadResolvedRows(config.data, config.seed, { pause }).catch(unlessGivenUp);
  if (loaded === undefined) {
    port.close();
    return;
  }
  const data = loaded;
  // what in the data is likely a mistake, though it loads (a header of numbers, ...)
  for (const { message, where, hint } of data.warnings ?? []) {
    context.emit({ type: "warning", actor: "dataLoader", message: `${where}: ${message}`, hint });
  }
  // (told after them, on the same channel: the supervisor then has every one of its warnings)
  context.emit({ type: "data.checked" });
  const options = loaderOptions(config);
  const count = trainBatchCount(data.train, options, data.validation?.n);
  const ready: DatasetReady = {
    type: "DatasetReady",
    inputShape: data.train.inputShape,
    targetSize: data.train.targetSize,
    task: data.train.task,
    numClasses: data.train.numClasses,
    classCounts: classCounts(data.train),
    targetVariance: targetVariance(data.train),
    validationBaseline: data.validation && validationBaseline(data.train, data.validation),
    trainSize: data.train.n,
    validationSize: data.validation?.n ?? 0,
    testSize: data.test?.n ?? 0,
    batchesPerEpoch: count,
    fingerprint: data.fingerprint,
  };
  const byteTable = trainByteTable(data.train, options);
  if (byteTable) ready.byteTable = byteTable as Float32Array<ArrayBuffer>;
  port.postMessage(ready);
  // The training features as bytes, made at the trainer's first request (undefined: as floats).
  let inputBytes: Uint8Array | undefined;
  let bytesMade = false;

  // Where training batches stream from: the next batch to send. It moves on into the following
  // epochs by itself, so a new epoch's first batches are ready when the trainer gets there.
  let cursor: { epoch: number; index: number; order: Uint32Array } | undefined;
  // The next position to stream, kept past the last epoch too: a StartEpoch at or before it asks
  // for batches already sent.
  let streamTo = { epoch: -1, index: 0 };
  const startAt = async (epoch: number, index: number) => {
    streamTo = { epoch, index };
    cursor = undefined;
    if (epoch >= config.epochs) return;
    // (given up by a stop: no cursor, and the loop ends)
    const order = await trainOrderInChunks(data.train, options, epoch, pause).catch(unlessGivenUp);
    if (order) cursor = { epoch, index, order };
  };

  while (!stopped) {
    const command = commands.shift();
    if (command?.type === "StartEpoch") {
      const { epoch, fromBatch } = command;
      if (command.inputBytes && ready.byteTable && !bytesMade) {
        inputBytes = trainBytes(data.train, options);
        bytesMade = true;
      }
      const streamed = epoch < streamTo.epoch ||
        (epoch === streamTo.epoch && fromBatch <= streamTo.index);
      if (!streamed) await startAt(epoch, fromBatch);
      continue;
    }
    if (command) {
      await context.faultPoint(`split:${command.split}:${command.epoch}`);
      sendSplit(command);
      continue;
    }
    if (!cursor || credits <= 0) {
      await next();
      continue;
    }
    // Small batches go out in groups, as many as the credits allow (up to GROUP_BATCHES and
    // GROUP_BYTES); a big batch goes alone, as soon as it is made.
    const group: BatchReady[] = [];
    let bytes = 0;
    while (cursor && credits > 0 && group.length < GROUP_BATCHES && bytes < GROUP_BYTES) {
      await context.faultPoint("batch");
      if (stopped) break;
      const batch = trainBatch(
        data.train,
        options,
        cursor.epoch,
        cursor.index,
        cursor.order,
        inputBytes,
      );
      credits--;
      group.push(batch);
      bytes += batch.x.byteLength + batch.y.byteLength;
      streamTo.index = ++cursor.index;
      // (the epoch's last batches go out before the next epoch's order is made)
      if (cursor.index >= count) break;
      // An evaluation request goes first: it is what the trainer waits for.
      if (commands.length > 0) break;
    }
    if (group.length === 1) port.postMessage(group[0], [group[0].x, group[0].y]);
    else if (group.length > 1) {
      const { message, transfer } = packBatchGroup(group);
      port.postMessage(message, transfer);
    }
    if (cursor && cursor.index >= count) await startAt(cursor.epoch + 1, 0);
  }
  port.close();
});
