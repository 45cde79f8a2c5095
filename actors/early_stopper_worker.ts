/**
 * Worker entry of the early-stopper actor.
 *
 * @module
 */
import { runActor, servePort } from "./_worker_shell.ts";
import { float16Stored } from "../report/first_step.ts";
import { type EarlyStopperState, initEarlyStopper, judgeEpoch } from "./early_stopper.ts";
import type { RunConfig } from "../config.ts";
import type { EpochEnded } from "./protocol.ts";

runActor("earlyStopper", async (context) => {
  const config = context.init.config as RunConfig;
  const port = context.init.ports.trainer;
  let state: EarlyStopperState = (context.init.resume as EarlyStopperState | undefined) ??
    initEarlyStopper();
  await servePort(context, port, async (message) => {
    if (message.type !== "EpochEnded") return;
    await context.faultPoint("epoch");
    const ended = message as unknown as EpochEnded;
    const [next, verdict] = judgeEpoch(
      config.earlyStopping,
      state,
      ended,
      ended.metrics.lr,
      config.optimizer,
      config.scheduler,
      config.clipping,
      float16Stored(config),
    );
    state = next;
    port.postMessage(verdict);
  });
});
