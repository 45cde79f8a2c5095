/**
 * Windows of steps whose read-back is on its way, finished in step order without waiting for a
 * read that is not back yet. On WebGPU a read-back (`mapAsync`) takes ~11 ms whatever its size
 * (Deno polls the device with a 10 ms sleep), while a window of steps on a fast GPU can take less:
 * waiting for each window's read at the next window's close would hold every window to that
 * pace. Instead a window is finished as soon as its read is back, and the loop waits only for the
 * oldest read when `limit` are on their way (the monitors then learn of steps at most `limit`
 * windows late). Shared by the trainer and the in-process loop, which must read alike.
 *
 * @module
 */

/**
 * GPU windows whose read-backs may be on their way at once: 4 windows of 16 steps give a read
 * 64 steps' time to come back before the loop waits for it.
 */
export const READS_IN_FLIGHT = 4;

/**
 * Windows after its own that a window's results take effect at on WebGPU (adaptive clipping's
 * norms, the clip monitor's verdicts): at a window's start, the READS_IN_FLIGHT windows before it
 * may still be on their way, the one before those is always finished. So a fixed lag of
 * READS_IN_FLIGHT + 1 windows makes what the reads decide apply at the same steps however fast
 * they come back, and waits for no read that the loop would not wait for anyway.
 */
export const WINDOW_LAG = READS_IN_FLIGHT + 1;

/** A closed window: its read-back's promise, and whatever its finisher needs. */
export interface WindowRead {
  readonly read: Promise<unknown>;
}

/**
 * Reads of closed windows, oldest first.
 *
 * @example
 * ```ts
 * import { ReadsInFlight } from "./reads_in_flight.ts";
 * const finished: number[] = [];
 * const reads = new ReadsInFlight<{ read: Promise<number> }>(2, async (w) => {
 *   finished.push(await w.read);
 * });
 * await reads.add({ read: Promise.resolve(1) }); // on its way: nothing waits for it
 * await reads.finishAll(); // an epoch's end: every window, in order
 * console.assert(finished.join() === "1");
 * ```
 */
export class ReadsInFlight<W extends WindowRead> {
  readonly #waiting: { window: W; back: boolean }[] = [];

  /**
   * `limit`: windows whose reads may be on their way at once (at least 1). `finish`: takes a
   * window's values (awaits its read) and reports them; called once per window, in order.
   */
  constructor(readonly limit: number, readonly finish: (window: W) => Promise<void>) {
    if (!(limit >= 1)) throw new RangeError(`limit must be at least 1, got ${limit}`);
  }

  /** Windows whose reads are on their way, or back but not finished yet. */
  get size(): number {
    return this.#waiting.length;
  }

  /**
   * Adds a just-closed window; finishes, in order, the windows at the front whose reads are back,
   * and waits for the oldest only while more than `limit` are left.
   */
  async add(window: W): Promise<void> {
    const entry = { window, back: false };
    // also marks a failed read handled: it is thrown by `finish`, or dropped with `clear`
    window.read.then(() => (entry.back = true), () => (entry.back = true));
    this.#waiting.push(entry);
    while (
      this.#waiting.length > 0 &&
      (this.#waiting[0].back || this.#waiting.length > this.limit)
    ) {
      await this.finish(this.#waiting.shift()!.window);
    }
  }

  /** Finishes, in order, the windows at the front that satisfy `holds`. */
  async finishWhile(holds: (window: W) => boolean): Promise<void> {
    while (this.#waiting.length > 0 && holds(this.#waiting[0].window)) {
      await this.finish(this.#waiting.shift()!.window);
    }
  }

  /** Finishes every window, in order (an epoch's end, a stop, a step the monitor must judge). */
  async finishAll(): Promise<void> {
    while (this.#waiting.length > 0) await this.finish(this.#waiting.shift()!.window);
  }

  /** Drops every window unfinished (steps that were undone). */
  clear(): void {
    this.#waiting.length = 0;
  }
}
