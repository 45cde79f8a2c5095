/**
 * The scheduler actor's logic: it owns the learning rate. It sends the trainer plans of learning
 * rates (and momentum) for the steps ahead, so the trainer never waits for it inside a step.
 * Reduce-on-plateau hears of each epoch end and answers with a fresh plan (its rate may change
 * there); every other schedule is fixed in advance, its plans say so (`fixedState`), and the
 * trainer asks for the next one as they run low, telling it of no epoch end.
 *
 * @module
 */
import { resolvedSchedule, type Schedule } from "../schedulers/closed_form.ts";
import { applyPlateau, type PlateauState, startPlateau } from "../schedulers/plateau_rule.ts";
import type { ResolvedSchedulerSpec } from "../schedulers/spec.ts";
import type { EpochEnded, LrPlanned, ScheduleAdvanced } from "./protocol.ts";
import { watchedMetric } from "../task_fit.ts";
import { AnnealError } from "../errors.ts";

/** How far ahead the scheduler plans. */
export const PLAN_AHEAD = 256;

/** The scheduler's state; `plateau` and `scale` go into checkpoints. */
export interface SchedulerState {
  /** Resolved (defaults filled in), as the run's parsed config holds it. */
  spec?: ResolvedSchedulerSpec;
  baseLr: number;
  stepsPerEpoch: number;
  /** Multiplier from NaN rollbacks (0.1 per rollback). */
  scale: number;
  plateau?: PlateauState;
  version: number;
  /** First step not yet covered by a plan. */
  plannedUntil: number;
  /** Metric plateau watches. */
  monitor: string;
  /** Steps in the whole run: plans never go past it (onecycle is undefined beyond its total). */
  totalSteps: number;
}

/** The saved part of the state. */
export interface SchedulerSnapshot {
  scale: number;
  plateau?: PlateauState;
}

const schedules = new WeakMap<SchedulerState, Schedule>();

function scheduleOf(state: SchedulerState): Schedule | undefined {
  if (!state.spec || state.spec.name === "plateau") return undefined;
  let schedule = schedules.get(state);
  if (!schedule) {
    schedule = resolvedSchedule(state.spec, state.baseLr);
    schedules.set(state, schedule);
  }
  return schedule;
}

/**
 * Creates the state, building the schedule once (which refuses a base rate it cannot start from).
 * `spec` is resolved, as the run's parsed config holds it.
 */
export function initScheduler(
  spec: ResolvedSchedulerSpec | undefined,
  baseLr: number,
  stepsPerEpoch: number,
  monitor: string,
  snapshot?: SchedulerSnapshot,
  totalSteps = Infinity,
): SchedulerState {
  const state: SchedulerState = {
    spec,
    baseLr,
    stepsPerEpoch: Math.max(1, stepsPerEpoch),
    scale: snapshot?.scale ?? 1,
    plateau: spec?.name === "plateau" ? (snapshot?.plateau ?? startPlateau(baseLr)) : undefined,
    version: 0,
    plannedUntil: 0,
    monitor,
    totalSteps,
  };
  scheduleOf(state);
  return state;
}

/** Learning rate and momentum for one optimizer step. */
export function lrAtStep(state: SchedulerState, step: number): { lr: number; momentum?: number } {
  if (state.plateau) return { lr: state.plateau.lr * state.scale };
  const schedule = scheduleOf(state);
  if (!schedule) return { lr: state.baseLr * state.scale };
  const t = schedule.interval === "epoch" ? Math.floor(step / state.stepsPerEpoch) : step;
  return { lr: schedule.lrAt(t) * state.scale, momentum: schedule.momentumAt?.(t) };
}

/** A plan for `count` steps from `fromStep`. */
export function planFrom(state: SchedulerState, fromStep: number, count = PLAN_AHEAD): LrPlanned {
  const lr: number[] = [];
  const momentum: number[] = [];
  const end = Math.min(fromStep + count, state.totalSteps);
  for (let step = fromStep; step < end; step++) {
    const next = lrAtStep(state, step);
    lr.push(next.lr);
    if (next.momentum !== undefined) momentum.push(next.momentum);
  }
  state.plannedUntil = Math.max(end, fromStep);
  return {
    type: "LrPlanned",
    fromStep,
    lr,
    momentum: momentum.length === lr.length ? momentum : undefined,
    version: state.version,
    fixedState: state.plateau ? undefined : snapshot(state),
  };
}

/** The trainer reached `step`: a new plan when the old one runs low. */
export function onStepsTaken(state: SchedulerState, step: number): LrPlanned | undefined {
  if (step + PLAN_AHEAD / 2 < state.plannedUntil || state.plannedUntil >= state.totalSteps) {
    return undefined;
  }
  return planFrom(state, state.plannedUntil);
}

/** An epoch ended: plateau reacts to the metric; the answer carries a fresh plan. */
export function onEpochEnded(state: SchedulerState, message: EpochEnded): ScheduleAdvanced {
  // (an end whose weights a rollback discards moves no plateau: see EpochEnded.discarded)
  if (state.plateau && state.spec?.name === "plateau" && !message.discarded) {
    // The metric early stopping watches: `valX` reads `x` without a validation split.
    const watched = watchedMetric(state.monitor, message.metrics);
    if (watched === null) {
      throw new AnnealError(
        "config",
        `The plateau schedule cannot watch '${state.monitor}': the epochs log ${
          Object.keys(message.metrics).join(", ")
        }`,
        {
          where: "earlyStopping.monitor",
          hint: "watch one of those (--set earlyStopping.monitor=valLoss)",
        },
      );
    }
    const metric = message.metrics[watched];
    const before = state.plateau.lr;
    state.plateau = applyPlateau(state.spec, state.plateau, metric);
    if (state.plateau.lr !== before) state.version++;
  }
  return {
    type: "ScheduleAdvanced",
    epoch: message.epoch,
    plan: planFrom(state, message.step),
    state: snapshot(state),
    replanFrom: replanFrom(state, message.epoch),
  };
}

/**
 * The first epoch after `epoch` whose end may change the learning rate: never for a schedule
 * of steps or epochs (its plan is fixed in advance); for reduce-on-plateau, the earliest
 * reduction, found by feeding metrics that never improve (an improvement or a non-finite
 * metric only delays it). null when the rate is already at its floor.
 */
export function replanFrom(state: SchedulerState, epoch: number): number | null {
  const spec = state.spec;
  if (!state.plateau || spec?.name !== "plateau") return null;
  const flat = spec.mode === "min" ? Infinity : -Infinity;
  let plateau = state.plateau;
  // A reduction is due within cooldown + patience + 1 flat epochs; one that leaves the rate
  // unchanged means it is at its floor for good. torch's counters take any number: a fractional
  // cooldown lasts its ceiling, a fractional patience its floor (more bad epochs than it), and
  // one below 0 none (a negative patience reduces at every metric, in cooldown too).
  const cooldown = Math.max(0, Math.ceil(spec.cooldown));
  const patience = Math.max(-1, Math.floor(spec.patience));
  const last = epoch + 1 + cooldown + patience + 1;
  for (let next = epoch + 1; next <= last; next++) {
    if (plateau.cooldownCounter === 0) {
      // Out of cooldown, flat metrics only count bad epochs until one passes patience: skip those
      // (one by one, a cost in patience at each epoch end: seconds at a patience of 1e7).
      const skip = Math.max(0, Math.floor(spec.patience - plateau.numBadEpochs));
      next += skip;
      plateau = {
        ...plateau,
        numBadEpochs: plateau.numBadEpochs + skip,
        lastEpoch: plateau.lastEpoch + skip,
      };
    }
    const after = applyPlateau(spec, plateau, flat);
    if (after.lr !== plateau.lr) return next;
    plateau = after;
  }
  return null;
}

/** After a NaN rollback every future learning rate is multiplied by `factor`. */
export function onScale(state: SchedulerState, factor: number, fromStep: number): LrPlanned {
  state.scale *= factor;
  state.version++;
  return planFrom(state, fromStep);
}

/** The part of the state a checkpoint keeps. */
export function snapshot(state: SchedulerState): SchedulerSnapshot {
  return { scale: state.scale, plateau: state.plateau };
}
