/**
 * Worker entry of the clip-monitor actor.
 *
 * @module
 */
import { runActor, servePort } from "./_worker_shell.ts";
import { float16Stored } from "../report/first_step.ts";
import {
  type ClipMonitorSnapshot,
  clipMonitorSnapshot,
  type ClipMonitorState,
  initClipMonitor,
  observeSteps,
  restoreClipMonitor,
  rolledBack,
  stats,
} from "./clip_monitor.ts";
import type { RunConfig } from "../config.ts";
import type { StepsObserved } from "./protocol.ts";

runActor("clipMonitor", async (context) => {
  const config = context.init.config as RunConfig;
  const port = context.init.ports.trainer;
  // on resume, the state its checkpoint kept (none from an older anneal's: it starts over)
  const fresh = () =>
    initClipMonitor(
      config.clipping,
      config.batchSize * config.gradientAccumulation,
      config.optimizer,
    );
  let state: ClipMonitorState = restoreClipMonitor(
    fresh(),
    context.init.resume as ClipMonitorSnapshot | undefined,
  );
  await servePort(context, port, async (message) => {
    if (message.type === "ClipStateRequested") {
      port.postMessage({ type: "ClipState", state: clipMonitorSnapshot(state) });
      return;
    }
    if (message.type === "ClipStateRestore") {
      // the run returned to an epoch end: what it observed after it is undone
      state = restoreClipMonitor(fresh(), message.state as ClipMonitorSnapshot);
      return;
    }
    if (message.type === "RolledBack") {
      state = rolledBack(state, message.step as number);
      return;
    }
    if (message.type !== "StepsObserved") return;
    await context.faultPoint("observe");
    const observed = message as unknown as StepsObserved;
    const [next, out] = observeSteps(
      config.clipping,
      state,
      observed,
      config.optimizer,
      config.scheduler,
      float16Stored(config),
    );
    state = next;
    for (const reply of out.toTrainer) port.postMessage(reply);
    for (const payload of out.events) context.emit({ ...payload });
    if (observed.verdictRequested) {
      port.postMessage({
        type: "StepsJudged",
        upTo: observed.fromStep + observed.losses.length - 1,
      });
    }
    if (observed.endsEpoch !== undefined) {
      port.postMessage({
        type: "EpochObserved",
        epoch: observed.endsEpoch,
        state: clipMonitorSnapshot(state),
      });
    }
  });
  // The run's statistics (the summary's: the supervisor waits for them) at its last step, as that
  // step's clip.stats event gave them: the checkpoint's where this process observed no step; none
  // where neither did (a checkpoint of an older anneal without the monitor's state)
  await context.faultPoint("result");
  return state.lastStep === undefined ? undefined : stats(state, state.lastStep);
});
