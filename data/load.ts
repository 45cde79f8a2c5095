/**
 * `loadData`: turns a data spec and a seed into train / validation / test splits of plain typed
 * arrays plus a fingerprint of exactly those bytes. The spec is validated here; the loading is
 * load_resolved.ts's.
 *
 * @module
 */

import { AnnealError } from "../errors.ts";
import { type DataSpec, DataSpecSchema, type ResolvedDataSpec } from "./spec.ts";
import { formatPath } from "../zod_paths.ts";
import { fieldIssueText } from "../issue_text.ts";
import { unknownFields } from "../unknown_fields.ts";
import { type LoadOptions, loadResolvedData } from "./load_resolved.ts";
import type { LoadedData } from "./types.ts";

export type { LoadOptions } from "./load_resolved.ts";

function parseSpec(spec: DataSpec): ResolvedDataSpec {
  const parsed = DataSpecSchema.safeParse(spec);
  if (parsed.success) return parsed.data;
  // (an unknown field first: a misspelt required one, targt, is what to fix, not the target it
  // leaves missing)
  const issue = parsed.error.issues.find((issue) => issue.code === "unrecognized_keys") ??
    parsed.error.issues[0];
  if (issue.code === "unrecognized_keys") {
    // (zod's own words came out: "'data' Unrecognized key: \"nn\"", with no name meant)
    const { message, hint } = unknownFields(DataSpecSchema, issue.path, issue.keys, spec);
    throw new AnnealError("config", `Cannot load data: ${message}`, {
      where: formatPath(["data", ...issue.path, issue.keys[0]]),
      hint,
      cause: parsed.error,
    });
  }
  const path = formatPath(["data", ...issue.path]);
  throw new AnnealError("config", `Cannot load data: ${fieldIssueText(issue, spec, ["data"])}`, {
    where: path,
    hint: "fix the data section of the config (see docs/contracts.md, data/)",
    cause: parsed.error,
  });
}

/**
 * Loads the data a spec describes. The validation split is chosen by a shuffle seeded from
 * `seed`; `limit` keeps the first N samples of the training source before that split; CSV
 * normalization is fitted on the training split only.
 *
 * @example
 * ```ts
 * import { loadData } from "./load.ts";
 * const data = await loadData({ kind: "synthetic-linear" }, 42);
 * console.assert(data.train.n === 200 && data.validation === undefined);
 * console.assert(data.fingerprint.length === 64);
 * ```
 */
export async function loadData(
  spec: DataSpec,
  seed: number,
  options: LoadOptions = {},
): Promise<LoadedData> {
  return await loadResolvedData(parseSpec(spec), seed, options);
}
