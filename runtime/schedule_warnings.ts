/**
 * The warnings about space paths that the trials' schedule ignores (`optimizer.lr` under onecycle)
 * or does not follow (a batch size under a schedule of a fixed length), and the schedules a
 * conditional space's trials train under (`sweeps/conditions.ts`): such a warning reads the trials
 * that draw the path, beside the schedule those trials have, and names the condition under which
 * they do.
 *
 * @module
 */
import { type ConfigWarning, parseConfig } from "../config.ts";
import { applyParams, type Params, type ParamValue } from "../sweeps/space.ts";
import {
  ancestorsOf,
  type ConditionedSpace,
  conditionOf,
  conditionPaths,
  conditionText,
  isDrawn,
  withEntry,
} from "../sweeps/conditions.ts";
import { casesOver, firstCases } from "../sweeps/condition_cases.ts";
import { canonicalJson, formatPath } from "../zod_paths.ts";
import { rateSetting } from "../schedulers/rate_setting.ts";
import { stretchChanges } from "../schedulers/stretch.ts";
import { switchKinds } from "./trial_kinds.ts";

/** The most ways of drawing a space that a warning goes through; past them, it says nothing. */
export const MAX_WARNING_CASES = 10_000;

/**
 * Whether a warning about `paths` must read the space's conditions: one of them is drawn under a
 * condition, or a condition names it (its value decides what other paths trials draw).
 */
export function readsConditions(space: ConditionedSpace, paths: string[]): boolean {
  const named = conditionPaths(space);
  return paths.some((path) =>
    path in space && (conditionOf(space[path].when) !== undefined || named.has(path))
  );
}

/** Trials that draw some of a warning's paths beside one schedule. */
export interface ScheduleGroup {
  /** Their `scheduler` section: the base config's, or a trial config's with the values drawn. */
  scheduler: unknown;
  /** Whether it is the base config's: the trials draw no path of the schedule. */
  fromBase: boolean;
  /** The ways of drawing the paths conditions name (and the schedule's) that give them. */
  cases: Params[];
  /** The warning's paths that these trials draw. */
  drawn: string[];
  /** Those of them whose value differs between these trials (drawn by some only, or sampled). */
  varying: string[];
  /** Whether these are all the trials that draw one of the warning's paths. */
  all: boolean;
  /** The ways of drawing that draw one of the warning's paths, in all groups and out of them. */
  of: number;
}

/**
 * The trials that draw some of `paths`, grouped by the schedule they train under (`undefined`
 * where the ways of drawing the space are too many to go through). The paths of `schedule` that
 * trials draw fix their schedule where a condition names them, or they are in `enumerate` (a
 * choice of whole sections); trials that draw another of them sample their schedule, and are left
 * out (a warning cannot say which schedule they have).
 */
export function scheduleGroups(
  space: ConditionedSpace,
  base: unknown,
  paths: string[],
  schedule: string[],
  enumerate: string[] = [],
): ScheduleGroup[] | undefined {
  const named = conditionPaths(space);
  const fixed = schedule.filter((path) =>
    named.has(path) ||
    (enumerate.includes(path) && (space[path].type === "choice" || space[path].type === "grid"))
  );
  const over = new Set([...ancestorsOf(space, [...paths, ...schedule]), ...fixed]);
  const { cases, complete } = firstCases(casesOver(space, over), MAX_WARNING_CASES);
  if (!complete) return undefined;
  const drawnIn = (given: Params, path: string) =>
    over.has(path) ? Object.hasOwn(given, path) : isDrawn(space, path, given);
  const resolved = new Map<string, unknown>();
  const groups = new Map<string, ScheduleGroup & { values: Map<string, Set<string>> }>();
  let drawing = 0;
  for (const given of cases) {
    const drawn = paths.filter((path) => path in space && drawnIn(given, path));
    if (drawn.length === 0) continue;
    drawing++;
    const own = schedule.filter((path) => drawnIn(given, path));
    if (own.some((path) => !fixed.includes(path))) continue;
    const params = Object.fromEntries(own.map((path) => [path, given[path]]));
    const key = canonicalJson(params);
    if (!resolved.has(key)) resolved.set(key, scheduleOf(base, params));
    const scheduler = resolved.get(key);
    if (scheduler === null) continue; // a trial config refuses it: the up-front checks' to say
    const id = canonicalJson(scheduler) ?? "none";
    const group = groups.get(id) ?? {
      scheduler,
      fromBase: own.length === 0,
      cases: [],
      drawn: [],
      varying: [],
      all: false,
      of: 0,
      values: new Map(paths.map((path) => [path, new Set<string>()])),
    };
    groups.set(id, group);
    group.cases.push(given);
    for (const path of paths) {
      // what the trials of this way have at `path`: a value, a sampled one, or the base's
      const value = !(path in space) || !drawnIn(given, path)
        ? "base"
        : over.has(path)
        ? canonicalJson(given[path])
        : "sampled";
      group.values.get(path)!.add(value);
    }
  }
  return [...groups.values()].map(({ values, ...group }) => ({
    ...group,
    drawn: paths.filter((path) => [...values.get(path)!].some((value) => value !== "base")),
    varying: paths.filter((path) => values.get(path)!.size > 1 || values.get(path)!.has("sampled")),
    all: group.cases.length === drawing,
    of: drawing,
  }));
}

/**
 * The `scheduler` of a trial config that draws `params` (the base's where they are none), or
 * `null` where the trial config refuses it.
 */
function scheduleOf(base: unknown, params: Params): unknown {
  const sections = base as Record<string, unknown>;
  if (Object.keys(params).length === 0) return sections.scheduler;
  try {
    const applied = applyParams(structuredClone(sections), params, { allowNew: true });
    const trial = parseConfig(switchKinds(base, params, applied), "trial config");
    return trial.scheduler ?? undefined;
  } catch {
    return null;
  }
}

/**
 * Ways of drawing in words, those that differ in one path's value taken together:
 * `optimizer.name in ["adam","rmsprop"] and batchSize is 32`, several joined by `or`.
 *
 * @example
 * ```ts
 * import { casesText } from "./schedule_warnings.ts";
 * const text = casesText([{ "optimizer.name": "adam" }, { "optimizer.name": "rmsprop" }]);
 * console.assert(text === 'optimizer.name in ["adam","rmsprop"]');
 * ```
 */
export function casesText(cases: Params[]): string {
  let groups = cases.map((given) =>
    Object.fromEntries(Object.entries(given).map(([path, value]) => [path, [value]]))
  ) as Record<string, ParamValue[]>[];
  for (let merged = true; merged;) {
    merged = false;
    for (let i = 0; i < groups.length && !merged; i++) {
      for (let j = i + 1; j < groups.length && !merged; j++) {
        const apart = differsIn(groups[i], groups[j]);
        if (apart === undefined) continue;
        groups[i] = { ...groups[i], [apart]: [...groups[i][apart], ...groups[j][apart]] };
        groups = groups.filter((_, k) => k !== j);
        merged = true;
      }
    }
  }
  return groups.map((group) =>
    Object.entries(group).map(([path, values]) =>
      values.length === 1
        ? `${path} is ${canonicalJson(values[0])}`
        : `${path} in ${canonicalJson(values)}`
    ).join(" and ")
  ).join(" or ");
}

/** The one path two groups of values differ in (the same paths, the rest alike), if one. */
function differsIn(
  a: Record<string, ParamValue[]>,
  b: Record<string, ParamValue[]>,
): string | undefined {
  const paths = Object.keys(a);
  if (paths.length !== Object.keys(b).length || !paths.every((path) => Object.hasOwn(b, path))) {
    return undefined;
  }
  const apart = paths.filter((path) => canonicalJson(a[path]) !== canonicalJson(b[path]));
  return apart.length === 1 ? apart[0] : undefined;
}

/** How a warning names the paths it is about, and the trials (`""`: all that draw them). */
export interface Described {
  /** The sampled paths in words: `batchSize (when optimizer.name is "sgd")`. */
  sampled: (paths: string[]) => string;
  /** Which trials, after the schedule's name: `""`, or ` of the trials where ...`. */
  trials: string;
}

/** The space's paths as the unconditional warnings name them: as they are, for every trial. */
const PLAIN: Described = { sampled: (paths) => paths.join(", "), trials: "" };

/**
 * What is wrong with sampling `swept` (paths of the run's length: batch size, epochs, ...) under
 * `scheduler`: a schedule with a fixed end (onecycle's totalSteps, cosine's tMax, ...), which a
 * trial with more steps goes past (refused at its start where torch raises there, as onecycle
 * does; a cosine climbs back up) and one with fewer stops short of; or, for the steps an epoch
 * takes, a schedule without an end whose period is counted in steps (step's stepSize, a cyclic's
 * half-cycles), which its trials run at other epochs. Undefined for a schedule with neither.
 */
export function scheduleLengthWarning(
  swept: string[],
  scheduler: unknown,
  described: Described = PLAIN,
): ConfigWarning | undefined {
  const section = scheduler as Record<string, unknown> | undefined;
  // (a schedule counted in epochs ends where it did whatever the steps an epoch: epochs move it)
  const epochs = swept.includes("epochs") ? 2 : 1;
  const ends = Object.keys(stretchChanges({ scheduler }, { steps: 2, epochs }));
  if (ends.length === 0) return periodWarning(swept, section, described);
  // where it ends: a warmup's length, and a sequential's list beside its milestones, are not
  const shown = ends.filter((path) => path !== "scheduler.warmupSteps");
  const fixed = (shown.includes("scheduler.milestones") ? ["scheduler.milestones"] : shown).map(
    (path) => `${path} = ${JSON.stringify(section![path.slice("scheduler.".length)])}`,
  ).join(", ");
  return {
    field: formatPath(["sweep", "space", swept[0]]),
    message: `sweep.space samples ${described.sampled(swept)}, which changes how many steps a ` +
      `trial takes, but the ${section!.name} schedule${described.trials} ends at a fixed step ` +
      `(${fixed}): a trial with more steps goes past that end (refused at its start where torch ` +
      `raises there, as onecycle does; a cosine climbs back up), and one with fewer stops short ` +
      `of it`,
    hint: `size the schedule for the longest trial, or sample whole scheduler sections with ` +
      `the lengths that go with them; anneal tune stretches the schedule with the batch size ` +
      `and epochs it tries`,
  };
}

/**
 * What is wrong with a space over the steps an epoch takes (batch size, accumulation, the data's
 * size) under a schedule without an end whose period is counted in steps (step's `stepSize`, a
 * cyclic's half-cycles, ...): its trials decay or cycle at other epochs, so they compare the
 * schedule's timing as much as what the space samples. More epochs alone change no period.
 */
function periodWarning(
  swept: string[],
  scheduler: Record<string, unknown> | undefined,
  described: Described,
): ConfigWarning | undefined {
  const perEpoch = swept.filter((path) => path !== "epochs");
  if (perEpoch.length === 0 || !scheduler) return undefined;
  const periods = Object.keys(
    stretchChanges({ scheduler }, { steps: 2, epochs: 1, perEpoch: 2 }),
  );
  if (periods.length === 0) return undefined;
  const fixed = periods.map((path) =>
    `${path} = ${JSON.stringify(scheduler[path.slice("scheduler.".length)])}`
  ).join(", ");
  return {
    field: formatPath(["sweep", "space", perEpoch[0]]),
    message: `sweep.space samples ${described.sampled(perEpoch)}, which changes how many steps ` +
      `an epoch takes, but the ${scheduler.name} schedule${described.trials} counts its period ` +
      `in steps (${fixed}): trials with other steps an epoch decay or cycle at other epochs`,
    hint: `set scheduler.interval to "epoch" for a period in epochs, or sample whole scheduler ` +
      `sections with the sizes that go with them; anneal tune and anneal batch-size keep the ` +
      `period in epochs for the batch sizes they try`,
  };
}

/** `paths` in words, each with its condition: `batchSize (when optimizer.name is "sgd")`. */
function withConditions(space: ConditionedSpace, paths: string[]): string {
  return paths.map((path) => {
    const when = conditionOf(space[path].when);
    return when === undefined ? path : `${path} (when ${conditionText(when)})`;
  }).join(", ");
}

/**
 * The length warning ({@linkcode scheduleLengthWarning}) of a conditional space: for each schedule
 * its trials train under (the base's, or one a condition draws them with), the length paths whose
 * value differs between those trials, naming the condition under which they are drawn, and the
 * trials, where not all of them. Trials that sample their schedule (a scheduler path no condition
 * names) are not judged, as a space that samples the schedule is not.
 */
export function conditionalLengthWarning(
  space: ConditionedSpace,
  base: { scheduler?: unknown },
  swept: string[],
  scheduled: string[],
): ConfigWarning | undefined {
  for (const group of scheduleGroups(space, base, swept, scheduled) ?? []) {
    if (group.varying.length === 0) continue;
    const warning = scheduleLengthWarning(group.varying, group.scheduler, {
      sampled: (paths) => withConditions(space, paths),
      trials: group.all ? "" : ` of the trials where ${casesText(group.cases)}`,
    });
    if (warning) return warning;
  }
  return undefined;
}

/** The name torch gives a schedule that ignores the optimizer's rate. */
const TORCH_NAMES: Record<string, string> = { onecycle: "OneCycleLR", cyclic: "CyclicLR" };

/**
 * The learning-rate warning of a conditional space: the trials that draw `optimizer.lr` beside a
 * schedule that ignores it (onecycle, cyclic: their rates come from their own maxLr), the base's
 * or one a condition draws them with, or one of whole scheduler sections, named with the
 * condition under which they draw it. Trials that sample the schedule's name or list (no
 * condition names it) are not judged, as a space that samples them is not.
 */
export function conditionalRateWarning(
  space: ConditionedSpace,
  base: unknown,
  schedules: string[],
): ConfigWarning | undefined {
  const present = schedules.filter((path) => path in space);
  const groups = scheduleGroups(space, base, ["optimizer.lr"], present, ["scheduler"]) ?? [];
  const ignores = (group: ScheduleGroup) =>
    rateSetting({ ...(base as object), scheduler: group.scheduler }).oneCycle;
  const ignoring = groups.filter(ignores);
  if (ignoring.length === 0) return undefined;
  const cases = ignoring.flatMap((group) => group.cases);
  const every = cases.length === ignoring[0].of;
  const names = [
    ...new Set(ignoring.map((group) => rateSetting({ scheduler: group.scheduler }).schedule!)),
  ];
  const fromBase = ignoring.every((group) => group.fromBase) ? "the base config's " : "";
  const who = every
    ? "every trial that draws it trains"
    : `the trials that draw it where ${casesText(cases)} train`;
  const when = conditionOf(space["optimizer.lr"].when);
  const condition = every ? undefined : leavingOut(space, ignoring, groups);
  return {
    field: formatPath(["sweep", "space", "optimizer.lr"]),
    message: `sweep.space samples ${withConditions(space, ["optimizer.lr"])}, but ${who} ` +
      `under ${fromBase}${names.join(" or ")}, which ignores it: torch's ` +
      `${names.map((name) => TORCH_NAMES[name]).join(" and ")} take${
        names.length === 1 ? "s" : ""
      } the rates from the schedule's own maxLr, so ${
        every ? "they train" : "those trials train"
      } at the same rates whatever optimizer.lr they sample`,
    hint: condition === undefined
      ? `sample the schedule's maxLr in those trials instead ("scheduler.maxLr", or whole ` +
        `scheduler sections with the peak rates to try), or draw optimizer.lr ${
          every ? "beside schedules that use it" : "with a condition that leaves those trials out"
        }`
      : `draw optimizer.lr only where the schedule uses it, with a condition: "optimizer.lr": ` +
        `{ ..., "when": ${JSON.stringify(condition)} }${
          when === undefined ? "" : ` (its own condition, with that)`
        }; or sample the maxLr of those schedules instead`,
  };
}

/**
 * A condition on `optimizer.lr` that leaves out the trials of `ignoring` and keeps the others':
 * its own, with the values of one schedule path excluded where the ignoring trials draw that path
 * and the others draw it with other values; or, where the ignoring trials keep the base's schedule
 * and the others draw one path of the schedule under a condition, that path's condition.
 */
function leavingOut(
  space: ConditionedSpace,
  ignoring: ScheduleGroup[],
  groups: ScheduleGroup[],
): unknown {
  const when = conditionOf(space["optimizer.lr"].when);
  const kept = groups.filter((group) => !ignoring.includes(group)).flatMap((group) => group.cases);
  const left = ignoring.flatMap((group) => group.cases);
  for (const path of ["scheduler.name", "scheduler", "scheduler.schedulers"]) {
    if (!(path in space) || !left.every((given) => Object.hasOwn(given, path))) continue;
    const values = [...new Map(left.map((given) => [canonicalJson(given[path]), given[path]]))];
    const keys = new Set(values.map(([key]) => key));
    if (kept.some((given) => keys.has(canonicalJson(given[path])))) continue;
    if (when !== undefined && !Array.isArray(when) && Object.hasOwn(when, path)) continue;
    return withEntry(when, path, { not: values.map(([, value]) => value) });
  }
  if (when !== undefined || !ignoring.every((group) => group.fromBase)) return undefined;
  // the others draw a schedule path: draw the rate where they do
  const drawing = ["scheduler.name", "scheduler", "scheduler.schedulers"].filter((path) =>
    path in space && conditionOf(space[path].when) !== undefined &&
    kept.every((given) => Object.hasOwn(given, path) || isDrawn(space, path, given))
  );
  return drawing.length === 1 ? space[drawing[0]].when : undefined;
}
