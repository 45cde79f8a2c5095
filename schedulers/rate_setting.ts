/**
 * Which setting sets a run's learning rate, for everything that tells a user to change it (the
 * divergence hints of the early stopper and the clip monitor, `diagnose`'s fixes, `lr-find`'s
 * suggestion, `tune`'s learning-rate and batch-size stages, `batch-size`'s scaled rate): the
 * optimizer's `lr`, except under onecycle, whose rates torch's OneCycleLR computes from its own
 * `maxLr` (and its divisors), ignoring the optimizer's `lr`, and under cyclic, whose rates torch's
 * CyclicLR runs between its `baseLr` and `maxLr` (a hint changes the peak, `maxLr`; a cyclic is
 * never in a sequential). A onecycle is the run's schedule on
 * its own, or the only schedule of a sequential (config.ts refuses one beside others); there its
 * `maxLr` sits in the sequential's list of schedules, which `--set` cannot reach (`applyOverrides`
 * walks objects only), so a hint names the schedule to edit instead of printing a `--set` that
 * would be refused.
 *
 * Pure, and lenient about its input: it reads a resolved config as well as a run record's config
 * as plain JSON (anything else reads as the optimizer's `lr`, value unknown).
 *
 * @module
 */

/** The setting that sets a run's learning rate. */
export interface RateSetting {
  /** Its dotted config path: `optimizer.lr`, `scheduler.maxLr` or `scheduler.schedulers.0.maxLr`. */
  path: string;
  /** Its value in the config; undefined when that is not a number. */
  value: number | undefined;
  /**
   * True for the `maxLr` of a onecycle or a cyclic schedule: the optimizer's `lr` does nothing in
   * this run (see {@linkcode RateSetting.schedule}).
   */
  oneCycle: boolean;
  /** The schedule whose `maxLr` it is, when `oneCycle`: `onecycle` or `cyclic`. */
  schedule?: "onecycle" | "cyclic";
  /**
   * A cyclic's `baseLr`, when a number: a change of the rate scales it with `maxLr`, so that the
   * cycle keeps its shape (see {@linkcode rateChange}).
   */
  baseLr?: number;
  /**
   * Whether `--set path=value` reaches it: false inside a sequential's list of schedules (a
   * `--set` path walks objects only, so `applyOverrides` refuses `scheduler.schedulers.0.maxLr`).
   */
  settable: boolean;
}

function fieldOf(value: unknown, key: string): unknown {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

const numberOr = (value: unknown) => typeof value === "number" ? value : undefined;

/**
 * The setting that sets the learning rate of the run `config` describes (`{ optimizer,
 * scheduler }`, resolved or as recorded).
 *
 * @example
 * ```ts
 * import { rateSetting } from "./rate_setting.ts";
 * const optimizer = { name: "sgd", lr: 0.01 };
 * console.assert(rateSetting({ optimizer }).path === "optimizer.lr");
 * const scheduler = { name: "onecycle", maxLr: 0.5, totalSteps: 100 };
 * const setting = rateSetting({ optimizer, scheduler });
 * console.assert(setting.path === "scheduler.maxLr" && setting.value === 0.5 && setting.settable);
 * const nested = rateSetting({ optimizer, scheduler: { name: "sequential", schedulers: [scheduler] } });
 * console.assert(nested.path === "scheduler.schedulers.0.maxLr" && !nested.settable);
 * ```
 */
export function rateSetting(config: unknown): RateSetting {
  const scheduler = fieldOf(config, "scheduler");
  const name = fieldOf(scheduler, "name");
  if (name === "onecycle") {
    const value = numberOr(fieldOf(scheduler, "maxLr"));
    return { path: "scheduler.maxLr", value, oneCycle: true, schedule: name, settable: true };
  }
  if (name === "cyclic") {
    const value = numberOr(fieldOf(scheduler, "maxLr"));
    const baseLr = numberOr(fieldOf(scheduler, "baseLr"));
    return {
      path: "scheduler.maxLr",
      value,
      oneCycle: true,
      schedule: name,
      settable: true,
      ...(baseLr !== undefined && { baseLr }),
    };
  }
  const children = fieldOf(scheduler, "schedulers");
  if (fieldOf(scheduler, "name") === "sequential" && Array.isArray(children)) {
    const index = children.findIndex((child) => fieldOf(child, "name") === "onecycle");
    if (index >= 0) {
      const value = numberOr(fieldOf(children[index], "maxLr"));
      return {
        path: `scheduler.schedulers.${index}.maxLr`,
        value,
        oneCycle: true,
        schedule: "onecycle",
        settable: false,
      };
    }
  }
  const value = numberOr(fieldOf(fieldOf(config, "optimizer"), "lr"));
  return { path: "optimizer.lr", value, oneCycle: false, settable: true };
}

/**
 * Setting the run's rate to `value` (a number, or words such as "a tenth of it" when the rate is
 * not known): the `--set` overrides that do it (none where `--set` cannot reach the setting, or
 * for words) and how a hint says it.
 *
 * @example
 * ```ts
 * import { rateChange, rateSetting } from "./rate_setting.ts";
 * const plain = rateChange(rateSetting({ optimizer: { lr: 0.5 } }), 0.05);
 * console.assert(plain.text === "--set optimizer.lr=0.05" && plain.set[0] === "optimizer.lr=0.05");
 * const scheduler = { name: "onecycle", maxLr: 0.5 };
 * const oneCycle = rateChange(rateSetting({ optimizer: { lr: 0.5 }, scheduler }), 0.05);
 * console.assert(oneCycle.set[0] === "scheduler.maxLr=0.05");
 * console.assert(oneCycle.text.includes("rates come from its maxLr, not optimizer.lr"));
 * ```
 */
export function rateChange(
  setting: RateSetting,
  value: number | string,
): { set: string[]; text: string } {
  const known = typeof value === "number";
  const override = `${setting.path}=${value}`;
  if (!setting.oneCycle) return { set: known ? [override] : [], text: `--set ${override}` };
  const why = ownRatesWhy(setting);
  const base = known ? scaledBase(setting, value) : undefined;
  if (base !== undefined) {
    const set = [override, `scheduler.baseLr=${base}`];
    return {
      set,
      text: `${set.map((one) => `--set ${one}`).join(" ")}: ${why} (baseLr scaled alike, so ` +
        "that the cycle keeps its shape)",
    };
  }
  if (setting.settable) return { set: known ? [override] : [], text: `--set ${override}: ${why}` };
  const index = setting.path.split(".")[2];
  return {
    set: [],
    text: `in the config file, set the maxLr of the sequential's onecycle, ` +
      `scheduler.schedulers[${index}], to ${value}: --set cannot reach into a list, and ${why}`,
  };
}

/**
 * A cyclic's `baseLr` scaled as its `maxLr` goes to `value` (the cycle keeps its shape);
 * undefined for another schedule, or where the two are not known numbers (or `maxLr` is 0).
 */
function scaledBase(setting: RateSetting, value: number): number | undefined {
  const { baseLr, value: maxLr } = setting;
  if (setting.schedule !== "cyclic" || baseLr === undefined || !maxLr) return undefined;
  if (!Number.isFinite(value)) return undefined;
  return Number((baseLr * value / maxLr).toPrecision(6));
}

/**
 * Why a onecycle's or a cyclic's `maxLr`, not `optimizer.lr`, is what changes the run's rates.
 *
 * @example
 * ```ts
 * import { ownRatesWhy, rateSetting } from "./rate_setting.ts";
 * const cyclic = rateSetting({ scheduler: { name: "cyclic", baseLr: 0.01, maxLr: 0.1 } });
 * console.assert(ownRatesWhy(cyclic).startsWith("cyclic's rates run between its baseLr and maxLr"));
 * ```
 */
export function ownRatesWhy(setting: RateSetting): string {
  return setting.schedule === "cyclic"
    ? "cyclic's rates run between its baseLr and maxLr, not from optimizer.lr"
    : "onecycle's rates come from its maxLr, not optimizer.lr";
}

/**
 * The one override that sets the run's rate to `value`, as a config path and its value: the
 * setting itself where `--set` reaches it, else the whole `scheduler` section with the
 * sequential's onecycle at `value` (for `--set 'scheduler={...}'`, or a tune change).
 *
 * @example
 * ```ts
 * import { rateOverride } from "./rate_setting.ts";
 * const onecycle = { name: "onecycle", maxLr: 0.5 };
 * const scheduler = { name: "sequential", schedulers: [onecycle], milestones: [] };
 * const { path, value } = rateOverride({ optimizer: { lr: 0.1 }, scheduler }, 0.05);
 * console.assert(path === "scheduler");
 * console.assert((value as typeof scheduler).schedulers[0].maxLr === 0.05 && onecycle.maxLr === 0.5);
 * ```
 */
export function rateOverride(config: unknown, value: number): { path: string; value: unknown } {
  const setting = rateSetting(config);
  const base = scaledBase(setting, value);
  if (base !== undefined) {
    // a cyclic's two rates at once: its whole section
    const scheduler = fieldOf(config, "scheduler") as Record<string, unknown>;
    return { path: "scheduler", value: { ...scheduler, maxLr: value, baseLr: base } };
  }
  if (setting.settable) return { path: setting.path, value };
  const scheduler = fieldOf(config, "scheduler") as Record<string, unknown>;
  const index = Number(setting.path.split(".")[2]);
  const schedulers = (scheduler.schedulers as Record<string, unknown>[]).map((child, i) =>
    i === index ? { ...child, maxLr: value } : child
  );
  return { path: "scheduler", value: { ...scheduler, schedulers } };
}

/**
 * The settings of a run's schedule that take its rates above `optimizer.lr`, as torch runs them:
 * a `gamma` above 1 (step, multistep, exponential: every decay multiplies the rate by it) and an
 * `etaMin` above `optimizer.lr` (cosine, cosineWarmRestarts: the cosine climbs to it), a
 * sequential's by their place in its list. Each as words that say what it does, for a
 * divergence's hint. None under onecycle, whose rates rise to its `maxLr` by design.
 *
 * @example
 * ```ts
 * import { risingSettings } from "./rate_setting.ts";
 * const [gamma] = risingSettings({ optimizer: { lr: 0.1 }, scheduler: { name: "step", gamma: 3 } });
 * console.assert(gamma === "scheduler.gamma 3 is above 1: every decay multiplies the rate by 3");
 * console.assert(risingSettings({ optimizer: { lr: 0.1 }, scheduler: { name: "cosine" } }).length === 0);
 * ```
 */
export function risingSettings(config: unknown): string[] {
  const base = numberOr(fieldOf(fieldOf(config, "optimizer"), "lr"));
  const scheduler = fieldOf(config, "scheduler");
  const children = fieldOf(scheduler, "schedulers");
  const specs = fieldOf(scheduler, "name") === "sequential" && Array.isArray(children)
    ? children.map((child, i) => ({ spec: child, path: `scheduler.schedulers[${i}]` }))
    : [{ spec: scheduler, path: "scheduler" }];
  const found: string[] = [];
  for (const { spec, path } of specs) {
    const name = fieldOf(spec, "name");
    const gamma = numberOr(fieldOf(spec, "gamma"));
    if ((name === "step" || name === "multistep" || name === "exponential") && gamma! > 1) {
      found.push(`${path}.gamma ${gamma} is above 1: every decay multiplies the rate by ${gamma}`);
    }
    const etaMin = numberOr(fieldOf(spec, "etaMin"));
    if (
      (name === "cosine" || name === "cosineWarmRestarts") && etaMin !== undefined &&
      base !== undefined && etaMin > base
    ) {
      found.push(
        `${path}.etaMin ${etaMin} is above optimizer.lr ${base}: the cosine climbs to it, ` +
          "whatever optimizer.lr is",
      );
    }
  }
  return found;
}

/**
 * Words saying that rollbacks (`clipping.onNonFinite: "rollback"`) had already cut a run's rates
 * by `cut` (0.1 each) when it diverged again, ending so that the fix follows; empty where none had.
 *
 * @example
 * ```ts
 * import { rollbackCutText } from "./rate_setting.ts";
 * console.assert(rollbackCutText(0.01).startsWith("its 2 rollbacks had cut the rates 100x"));
 * console.assert(rollbackCutText(1) === "");
 * ```
 */
export function rollbackCutText(cut: number): string {
  if (!(cut < 1)) return "";
  const rollbacks = Math.round(-Math.log10(cut));
  return `its ${rollbacks} rollback${rollbacks === 1 ? "" : "s"} had cut the rates ${
    Number((1 / cut).toPrecision(3))
  }x and it diverged again: `;
}
