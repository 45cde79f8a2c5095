/**
 * The least and greatest of many numbers, without spreading them into `Math.min` and `Math.max`
 * (past ~125,000 arguments that overflows the stack: an LR range test of 80,000 steps ran to its
 * end, then failed drawing its plot, and recorded nothing).
 *
 * @module
 */

/**
 * `[min, max]` of `values`; `[Infinity, -Infinity]` for none.
 *
 * @example
 * ```ts
 * import { extent } from "./extent.ts";
 * const [low, high] = extent([3, 1, 2]);
 * console.assert(low === 1 && high === 3);
 * ```
 */
export function extent(values: Iterable<number>): [number, number] {
  let [min, max] = [Infinity, -Infinity];
  for (const value of values) {
    if (value < min) min = value;
    if (value > max) max = value;
  }
  return [min, max];
}
