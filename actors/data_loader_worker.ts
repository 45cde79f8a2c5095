/**
 * Worker entry of the data-loader actor: loads the dataset, then streams batches to the trainer
 * over its own MessageChannel as transferred ArrayBuffers, never more than the trainer's
 * credits allow (bounded prefetch, backpressure).
 *
 * @module
 */
import { runActor } from "./_worker_shell.ts";
import {
  evalBatches,
  loaderOptions,
  trainBatch,
  trainBatchCount,
  trainOrder,
} from "./data_loader.ts";
import { loadData } from "../data/mod.ts";
import type { RunConfig } from "../config.ts";
import type { DatasetReady, SendSplit, StartEpoch } from "./protocol.ts";

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

  await context.faultPoint("load");
  const data = await loadData(config.data, config.seed);
  const options = loaderOptions(config);
  const ready: DatasetReady = {
    type: "DatasetReady",
    inputShape: data.train.inputShape,
    targetSize: data.train.targetSize,
    task: data.train.task,
    numClasses: data.train.numClasses,
    trainSize: data.train.n,
    validationSize: data.validation?.n ?? 0,
    testSize: data.test?.n ?? 0,
    batchesPerEpoch: trainBatchCount(data.train, options),
    fingerprint: data.fingerprint,
  };
  port.postMessage(ready);

  while (!stopped) {
    const command = commands.shift();
    if (!command) {
      await next();
      continue;
    }
    if (command.type === "StartEpoch") {
      const order = trainOrder(data.train, options, command.epoch);
      const count = trainBatchCount(data.train, options);
      for (let index = command.fromBatch; index < count && !stopped; index++) {
        while (credits <= 0 && !stopped && commands.length === 0) await next();
        if (stopped) break;
        // A newer command (an early stop asks for the test split) supersedes the rest of this epoch.
        if (commands.length > 0) break;
        await context.faultPoint("batch");
        const batch = trainBatch(data.train, options, command.epoch, index, order);
        credits--;
        port.postMessage(batch, [batch.x, batch.y]);
      }
    } else {
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
        continue;
      }
      for (const batch of evalBatches(split, command.split, command.epoch, options.evalBatchSize)) {
        port.postMessage(batch, [batch.x, batch.y]);
      }
    }
  }
  port.close();
});
