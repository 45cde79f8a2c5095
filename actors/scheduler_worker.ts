/**
 * Worker entry of the scheduler actor: wires the trainer's port to the logic in `scheduler.ts`.
 *
 * @module
 */
import { runActor, servePort } from "./_worker_shell.ts";
import {
  initScheduler,
  onEpochEnded,
  onScale,
  onStepsTaken,
  planFrom,
  type SchedulerSnapshot,
  type SchedulerState,
  snapshot,
} from "./scheduler.ts";
import type { RunConfig } from "../config.ts";
import type { EpochEnded } from "./protocol.ts";

runActor("scheduler", async (context) => {
  const config = context.init.config as RunConfig & { resolvedLr: number };
  const port = context.init.ports.trainer;
  const resume = context.init.resume as SchedulerSnapshot | undefined;
  let state: SchedulerState | undefined;
  await servePort(context, port, async (message) => {
    if (message.type === "TrainingPlanned") {
      await context.faultPoint("plan");
      state = initScheduler(
        config.scheduler,
        config.resolvedLr,
        message.stepsPerEpoch as number,
        config.earlyStopping.monitor,
        resume,
        message.totalSteps as number,
      );
      port.postMessage(planFrom(state, message.startStep as number));
    } else if (!state) {
      return;
    } else if (message.type === "StepsTaken") {
      const plan = onStepsTaken(state, message.step as number);
      if (plan) port.postMessage(plan);
    } else if (message.type === "EpochEnded") {
      await context.faultPoint("epoch");
      port.postMessage(onEpochEnded(state, message as unknown as EpochEnded));
    } else if (message.type === "ScaleLearningRate") {
      port.postMessage(onScale(state, message.factor as number, message.fromStep as number));
    } else if (message.type === "ScheduleStateRequested") {
      port.postMessage({ type: "ScheduleState", state: snapshot(state) });
    }
  });
});
