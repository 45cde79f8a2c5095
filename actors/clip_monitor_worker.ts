/**
 * Worker entry of the clip-monitor actor.
 *
 * @module
 */
import { runActor, servePort } from "./_worker_shell.ts";
import { type ClipMonitorState, initClipMonitor, observeSteps, stats } from "./clip_monitor.ts";
import type { RunConfig } from "../config.ts";
import type { StepsObserved } from "./protocol.ts";

runActor("clipMonitor", async (context) => {
  const config = context.init.config as RunConfig;
  const port = context.init.ports.trainer;
  let state: ClipMonitorState = initClipMonitor(
    config.clipping,
    config.batchSize * config.gradientAccumulation,
    config.optimizer,
  );
  await servePort(context, port, async (message) => {
    if (message.type !== "StepsObserved") return;
    await context.faultPoint("observe");
    const [next, out] = observeSteps(
      config.clipping,
      state,
      message as unknown as StepsObserved,
      config.optimizer,
      config.scheduler,
    );
    state = next;
    for (const reply of out.toTrainer) port.postMessage(reply);
    for (const payload of out.events) context.emit({ ...payload });
    const observed = message as unknown as StepsObserved;
    if (observed.verdictRequested) {
      port.postMessage({
        type: "StepsJudged",
        upTo: observed.fromStep + observed.losses.length - 1,
      });
    }
  });
  return stats(state, state.steps);
});
