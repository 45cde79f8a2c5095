/**
 * The history of gradient norms that the clip monitor takes its statistics of and adaptive
 * clipping (`clipping.autoPercentile`, AutoClip) its threshold from: the last
 * {@linkcode HISTORY_LIMIT} finite norms, in the order seen (to drop the oldest) and in ascending
 * order (a percentile per step without sorting). The clip monitor and the trainer each keep one;
 * a checkpoint keeps the norms in the order seen, and the sorted copy is made again from them.
 *
 * @module
 */

/** Norms kept for percentiles (older ones are dropped). */
export const HISTORY_LIMIT = 4096;

/** The last HISTORY_LIMIT norms, as seen and sorted. */
export interface NormHistory {
  /** Oldest first. */
  norms: number[];
  /** The same norms in ascending order. */
  sorted: number[];
}

/**
 * A history holding `norms` (oldest first; a checkpoint's), or none.
 *
 * @example
 * ```ts
 * import { normHistory, recordNorm } from "./norm_history.ts";
 * const history = normHistory([3, 1]);
 * recordNorm(history, 2);
 * console.assert(history.sorted.join() === "1,2,3" && history.norms.join() === "3,1,2");
 * ```
 */
export function normHistory(norms: readonly number[] = []): NormHistory {
  const kept = norms.slice(-HISTORY_LIMIT);
  return { norms: kept, sorted: [...kept].sort((a, b) => a - b) };
}

/**
 * The norms a checkpoint's state holds in `value`, oldest first: numbers as its JSON holds them,
 * or a Float64Array as the actors send them (one copy of bytes a message, where an array of up
 * to HISTORY_LIMIT numbers is cloned number by number, every epoch); undefined for anything else
 * (none kept: an older anneal's checkpoint).
 *
 * @example
 * ```ts
 * import { keptNorms } from "./norm_history.ts";
 * console.assert(keptNorms(Float64Array.of(3, 1))?.join() === "3,1");
 * console.assert(keptNorms([2])?.join() === "2" && keptNorms({ 0: 2 }) === undefined);
 * ```
 */
export function keptNorms(value: unknown): number[] | undefined {
  if (value instanceof Float64Array) return Array.from(value);
  return Array.isArray(value) ? value : undefined;
}

/** Adds a finite norm to `history` (in place), dropping the oldest beyond HISTORY_LIMIT. */
export function recordNorm(history: NormHistory, norm: number): void {
  history.norms.push(norm);
  history.sorted.splice(lowerBound(history.sorted, norm), 0, norm);
  if (history.norms.length > HISTORY_LIMIT) {
    const oldest = history.norms.shift()!;
    history.sorted.splice(lowerBound(history.sorted, oldest), 1);
  }
}

/** The p-th percentile (0-100) of values, by linear interpolation (numpy's default). */
export function percentile(values: number[], p: number): number | null {
  return sortedPercentile([...values].sort((a, b) => a - b), p);
}

/** {@linkcode percentile} of values already in ascending order. */
export function sortedPercentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
}

/** The index of the first element of ascending `sorted` that is not below `value`. */
function lowerBound(sorted: number[], value: number): number {
  let [low, high] = [0, sorted.length];
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (sorted[mid] < value) low = mid + 1;
    else high = mid;
  }
  return low;
}
