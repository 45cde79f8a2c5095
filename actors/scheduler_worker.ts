/**
 * Worker entry of the scheduler actor: wires the trainer's port to the logic in `scheduler.ts`.
 *
 * @module
 */
import { runActor } from "./_worker_shell.ts";
import {
  initScheduler,
  onEpochEnded,
  onScale,
  onStepsTaken,
  planFrom,
  type SchedulerSnapshot,
} from "./scheduler.ts";
import type { RunConfig } from "../config.ts";

runActor("scheduler", async (context) => {
  const config = context.init.config as RunConfig & { resolvedLr: number };
  const port = context.init.ports.trainer;
  const resume = context.init.resume as SchedulerSnapshot | undefined;
  let state: ReturnType<typeof initScheduler> | undefined;
  let failure: unknown;
  port.onmessage = async (event: MessageEvent) => {
    const message = event.data;
    try {
      if (message.type === "TrainingPlanned") {
        await context.faultPoint("plan");
        state = initScheduler(
          config.scheduler,
          config.resolvedLr,
          message.stepsPerEpoch,
          config.earlyStopping.monitor,
          resume,
          message.totalSteps,
        );
        port.postMessage(planFrom(state, message.startStep));
      } else if (!state) {
        return;
      } else if (message.type === "StepsTaken") {
        const plan = onStepsTaken(state, message.step);
        if (plan) port.postMessage(plan);
      } else if (message.type === "EpochEnded") {
        await context.faultPoint("epoch");
        port.postMessage(onEpochEnded(state, message));
      } else if (message.type === "ScaleLearningRate") {
        port.postMessage(onScale(state, message.factor, message.fromStep));
      }
    } catch (error) {
      failure = error;
      stop();
    }
  };
  let stop = () => {};
  await new Promise<void>((resolve) => {
    stop = resolve;
    context.stopped.then(() => resolve());
  });
  port.close();
  if (failure) throw failure;
});
