/**
 * Worker entry of the clip-monitor actor.
 *
 * @module
 */
import { runActor } from "./_worker_shell.ts";
import { type ClipMonitorState, initClipMonitor, observeSteps, stats } from "./clip_monitor.ts";
import type { RunConfig } from "../config.ts";

runActor("clipMonitor", async (context) => {
  const config = context.init.config as RunConfig;
  const port = context.init.ports.trainer;
  let state: ClipMonitorState = initClipMonitor(config.clipping);
  let failure: unknown;
  let stop = () => {};
  port.onmessage = async (event: MessageEvent) => {
    try {
      if (event.data.type !== "StepsObserved") return;
      await context.faultPoint("observe");
      const [next, out] = observeSteps(config.clipping, state, event.data);
      state = next;
      for (const message of out.toTrainer) port.postMessage(message);
      for (const payload of out.events) context.emit({ ...payload });
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
  return stats(state, state.steps);
});
