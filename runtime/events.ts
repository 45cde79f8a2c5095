/**
 * The run's public event stream: what `train(...).events()` yields and `anneal train --json`
 * prints, one object per line.
 *
 * @module
 */
import type { ClipStats } from "../actors/clip_monitor.ts";

/** A run started (or resumed). */
export interface RunStartedEvent {
  type: "run.started";
  runId: string;
  runDir: string;
  resumedFrom?: { epoch: number; step: number };
}
/** The trainer chose a backend. */
export interface BackendEvent {
  type: "backend";
  backend: string;
  reason: string;
  adapter?: { description: string; vendor: string; isFallbackAdapter: boolean };
  tfjs: string;
}
/** The trainer knows the data and the number of steps. */
export interface PlanEvent {
  type: "plan";
  stepsPerEpoch: number;
  totalSteps: number;
  startEpoch: number;
  startStep: number;
  parameters: number;
  /** Whether the optimizer runs fused WGSL kernels (WebGPU). */
  fusedOptimizer: boolean;
  dataset: {
    trainSize: number;
    validationSize: number;
    testSize: number;
    fingerprint: string;
    inputShape: number[];
  };
}
/** A window of optimizer steps (read back together). */
export interface StepsEvent {
  type: "steps";
  epoch: number;
  fromStep: number;
  losses: number[];
  gradNorms: number[];
  lr: number[];
  /** Momentum (or Adam's beta1) per step, when the schedule cycles it (onecycle). */
  momentum?: number[];
  skipped: boolean[];
}
/** An epoch ended. */
export interface EpochEvent {
  type: "epoch";
  epoch: number;
  step: number;
  metrics: Record<string, number>;
  seconds: number;
  isBest: boolean;
  /** tfjs's live tensors and bytes after the epoch (flat across epochs: no leaks). */
  memory: { numTensors: number; numBytes: number };
}
/** Gradient-norm statistics from the clip monitor. */
export type ClipStatsEvent = ClipStats;
/** Something the user should know. */
export interface WarningEvent {
  type: "warning";
  actor: string;
  message: string;
  hint?: string;
}
/** Test-split metrics at the end of a run. */
export interface TestEvent {
  type: "test";
  metrics: Record<string, number>;
}
/** The best epoch's weights were restored at the end. */
export interface RestoredEvent {
  type: "restored";
  epoch: number;
}
/** The run ended. */
export interface RunFinishedEvent {
  type: "run.finished";
  result: import("./supervisor.ts").RunResult;
}

/** Any event of a run. */
export type RunEvent =
  | RunStartedEvent
  | BackendEvent
  | PlanEvent
  | StepsEvent
  | EpochEvent
  | ClipStatsEvent
  | WarningEvent
  | TestEvent
  | RestoredEvent
  | RunFinishedEvent;
