/**
 * Worker entry of the early-stopper actor.
 *
 * @module
 */
import { runActor } from "./_worker_shell.ts";
import { type EarlyStopperState, initEarlyStopper, judgeEpoch } from "./early_stopper.ts";
import type { RunConfig } from "../config.ts";

runActor("earlyStopper", async (context) => {
  const config = context.init.config as RunConfig & { resolvedLr: number };
  const port = context.init.ports.trainer;
  let state: EarlyStopperState = (context.init.resume as EarlyStopperState | undefined) ??
    initEarlyStopper();
  let failure: unknown;
  let stop = () => {};
  port.onmessage = async (event: MessageEvent) => {
    try {
      if (event.data.type !== "EpochEnded") return;
      await context.faultPoint("epoch");
      const [next, verdict] = judgeEpoch(
        config.earlyStopping,
        state,
        event.data,
        event.data.metrics.lr,
      );
      state = next;
      port.postMessage(verdict);
    } catch (error) {
      failure = error;
      stop();
    }
  };
  await new Promise<void>((resolve) => {
    stop = resolve;
    context.stopped.then(() => resolve());
  });
  port.close();
  if (failure) throw failure;
});
