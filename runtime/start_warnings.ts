/**
 * The warnings a run gives at its start, before its first step: on its config (the supervisor's
 * checks), its data (the data loader's) and its schedule over the run's length (the trainer's).
 * They are kept in the run's `meta.json` (`warnings`), so that a resume gives again only those
 * whose words differ now (a setting it changed, as `--epochs` raised changes what a schedule's
 * reach warning says) or that are new, and not, at every resume, the ones the run already gave.
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
 * console.assert(resumed.admit({ ...cut, message: "scheduler.totalSteps 40 is longer" }));
 * console.assert(resumed.earlier === 1 && resumed.recorded.length === 2);
 * ```
 */
export class StartWarnings {
  readonly #recorded: GivenWarning[];
  readonly #earlier: Set<string>;
  readonly #keys: Set<string>;

  /** `recorded`: `meta.json`'s `warnings` of the run resumed (none for a new run). */
  constructor(recorded?: unknown) {
    this.#recorded = Array.isArray(recorded) ? recorded.filter(isGivenWarning) : [];
    this.#earlier = new Set(this.#recorded.map(keyOf));
    this.#keys = new Set(this.#earlier);
  }

  /** How many warnings the run's earlier starts gave (a resumed run's; 0 for a new one). */
  get earlier(): number {
    return this.#earlier.size;
  }

  /** Every start warning the run has given, for `meta.json`: the earlier starts', then this one's. */
  get recorded(): GivenWarning[] {
    return [...this.#recorded];
  }

  /**
   * Whether to give `warning` now: not where an earlier start of the run gave it word for word
   * (its actor, message and hint). Recorded where it is new to the run.
   */
  admit(warning: GivenWarning): boolean {
    const key = keyOf(warning);
    if (this.#earlier.has(key)) return false;
    if (!this.#keys.has(key)) {
      this.#keys.add(key);
      const { actor, message, hint } = warning;
      this.#recorded.push({ actor, message, ...(hint !== undefined && { hint }) });
    }
    return true;
  }
}

function keyOf({ actor, message, hint }: GivenWarning): string {
  return JSON.stringify([actor, message, hint ?? null]);
}

function isGivenWarning(value: unknown): value is GivenWarning {
  const warning = value as Partial<GivenWarning> | null;
  return typeof warning?.actor === "string" && typeof warning.message === "string" &&
    (warning.hint === undefined || typeof warning.hint === "string");
}
