/**
 * The check that a value given to a report function as a run record is one: a plain-JS caller
 * that passes undefined, a run id, or readRun's promise not awaited is told so with an
 * {@linkcode AnnealError}, where it met a TypeError from inside the function.
 *
 * @module
 */

import { AnnealError } from "../errors.ts";

function shown(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value === null || typeof value !== "object") return String(value);
  if (Array.isArray(value)) return "an array";
  if (typeof (value as { then?: unknown }).then === "function") return "a Promise";
  return "an object without them";
}

/**
 * Throws an {@linkcode AnnealError} (`usage`, `where`: `where`) unless `record` is an object with
 * `epochs` and `steps` arrays, as `readRun` gives; `what` is what the caller does
 * (`Cannot ${what}: ...`).
 *
 * @example
 * ```ts
 * import { checkRunRecord } from "./record_check.ts";
 * let message = "";
 * try {
 *   checkRunRecord(undefined, "diagnose the run");
 * } catch (error) {
 *   message = (error as Error).message;
 * }
 * console.assert(message.startsWith("Cannot diagnose the run: record must be a run record"));
 * ```
 */
export function checkRunRecord(record: unknown, what: string, where = "record"): void {
  if (
    typeof record === "object" && record !== null && !Array.isArray(record) &&
    Array.isArray((record as { epochs?: unknown }).epochs) &&
    Array.isArray((record as { steps?: unknown }).steps)
  ) return;
  const promise = typeof record === "object" && record !== null &&
    typeof (record as { then?: unknown }).then === "function";
  throw new AnnealError(
    "usage",
    `Cannot ${what}: ${where} must be a run record (with 'epochs' and 'steps' arrays), ` +
      `current value is ${shown(record)}`,
    {
      where,
      hint: promise
        ? "await readRun(dir): it returns a Promise of the record"
        : typeof record === "string"
        ? `read the run first: await readRun(dir) (of the run directory, e.g. "${
          record.includes("/") ? record : `runs/${record}`
        }")`
        : "pass the record that await readRun(dir) gives for a run directory",
    },
  );
}
