/**
 * The warnings a run gives at its start, before its first step: on its config (the supervisor's
 * checks), its data (the data loader's) and its schedule over the run's length (the trainer's).
 * They are kept in the run's `meta.json` (`warnings`), so that a resume gives again only those
 * whose words differ now (a setting it changed, as `--epochs` raised changes what a schedule's
 * reach warning says) or that are new, and not, at every resume, the ones the run already gave.
 * One that a resume's start no longer gives (its cause gone: the run longer than a schedule's
 * horizon it warned of) is kept, marked with that resume (`noLongerApplies`), and no longer
 * counted among the run's warnings.
 *
 * @module
 */

/** A warning as the run gave it, and as `meta.json` keeps it. */
export interface GivenWarning {
  /** The actor that raised it (`supervisor` for the config's). */
  actor: string;
  /** What it said. */
  message: string;
  /** What to do about it. */
  hint?: string;
  /** The resume whose start no longer gave it: from then on, it does not apply to the run. */
  noLongerApplies?: LapsedAt;
}

/** A resume, as a warning that stopped applying at it is marked with. */
export interface LapsedAt {
  /** When it started (its `summary.json`'s `resumedAt`). */
  resumedAt: string;
  /** The run's step it resumed at. */
  step: number;
}

/**
 * The start warnings of a run: those of its earlier starts (read from its `meta.json`), and this
 * start's, as they are given.
 *
 * @example
 * ```ts
 * import { StartWarnings } from "./start_warnings.ts";
 * const cut = { actor: "trainer", message: "scheduler.totalSteps 40 is longer than the run" };
 * const first = new StartWarnings();
 * console.assert(first.admit(cut)); // given, and recorded
 * const resumed = new StartWarnings(first.recorded);
 * console.assert(!resumed.admit(cut)); // given at the run's start already: held back
 * console.assert(!resumed.lapse({ resumedAt: "2026-01-01T00:00:00Z", step: 4 }));
 * const changed = new StartWarnings(resumed.recorded);
 * console.assert(changed.admit({ ...cut, message: "scheduler.totalSteps 40 is longer" }));
 * console.assert(changed.earlier === 1 && changed.recorded.length === 2);
 * // the earlier one was not given again: its cause is gone
 * console.assert(changed.lapse({ resumedAt: "2026-01-02T00:00:00Z", step: 8 }));
 * console.assert(new StartWarnings(changed.recorded).earlier === 1);
 * ```
 */
export class StartWarnings {
  #recorded: GivenWarning[];
  /** The warnings of the earlier starts that applied to the run at its last start. */
  readonly #earlier: Set<string>;
  /** The warnings this start has given or held back. */
  readonly #seen = new Set<string>();

  /** `recorded`: `meta.json`'s `warnings` of the run resumed (none for a new run). */
  constructor(recorded?: unknown) {
    this.#recorded = Array.isArray(recorded) ? recorded.filter(isGivenWarning) : [];
    this.#earlier = new Set(this.#recorded.filter((w) => !w.noLongerApplies).map(keyOf));
  }

  /**
   * How many warnings the run's earlier starts gave that still applied at its last start (a
   * resumed run's; 0 for a new one).
   */
  get earlier(): number {
    return this.#earlier.size;
  }

  /**
   * Every start warning the run has given, for `meta.json`: the earlier starts', then this one's;
   * those that no longer apply marked so.
   */
  get recorded(): GivenWarning[] {
    return [...this.#recorded];
  }

  /**
   * Whether an earlier start of the run gave `warning` word for word, and it applied to the run
   * since (`admit` holds it back).
   */
  gaveEarlier(warning: GivenWarning): boolean {
    return this.#earlier.has(keyOf(warning));
  }

  /**
   * Whether to give `warning` now: not where an earlier start of the run gave it word for word
   * (its actor, message and hint) and it applied to the run since. Recorded where it is new to
   * the run; one that had stopped applying applies again, and is given.
   */
  admit(warning: GivenWarning): boolean {
    const key = keyOf(warning);
    this.#seen.add(key);
    if (this.#earlier.has(key)) return false;
    const index = this.#recorded.findIndex((given) => keyOf(given) === key);
    const { actor, message, hint } = warning;
    const current = { actor, message, ...(hint !== undefined && { hint }) };
    if (index < 0) this.#recorded.push(current);
    else this.#recorded[index] = current;
    return true;
  }

  /**
   * Marks the warnings of the earlier starts that this start, once complete (every warning it
   * gives given), did not give as no longer applying from `resume`. Whether any was.
   */
  lapse(resume: LapsedAt): boolean {
    let lapsed = false;
    this.#recorded = this.#recorded.map((given) => {
      if (given.noLongerApplies || this.#seen.has(keyOf(given))) return given;
      lapsed = true;
      return { ...given, noLongerApplies: { ...resume } };
    });
    return lapsed;
  }
}

function keyOf({ actor, message, hint }: GivenWarning): string {
  return JSON.stringify([actor, message, hint ?? null]);
}

function isGivenWarning(value: unknown): value is GivenWarning {
  const warning = value as Partial<GivenWarning> | null;
  const lapsed = warning?.noLongerApplies;
  return typeof warning?.actor === "string" && typeof warning.message === "string" &&
    (warning.hint === undefined || typeof warning.hint === "string") &&
    (lapsed === undefined ||
      (typeof lapsed?.resumedAt === "string" && typeof lapsed.step === "number"));
}
