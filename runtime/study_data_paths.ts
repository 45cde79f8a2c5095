/**
 * A study whose stored base config names its data by a relative path. `anneal sweep` stores the
 * base's data paths absolute (as a run records them); an older anneal stored them as written,
 * relative to the directory the sweep was started in, which the study does not record. A worker
 * started elsewhere failed every trial it took on the missing file ("Cannot open data file"),
 * each counted against the study's budget: it is refused before it claims one.
 *
 * @module
 */
import { isAbsolute, normalize } from "node:path";
import { AnnealError } from "../errors.ts";
import { isObject } from "../option_names.ts";
import { dataPathFields } from "../data/paths.ts";
import type { ResolvedDataSpec } from "../data/spec.ts";
import type { Trial } from "../storage/types.ts";

/**
 * Refuses to join study `studyName` where its base config (`base`, as stored) names a data file
 * by a relative path that leads to nothing from the working directory. Names the directory the
 * sweep was started in where a run of its trials (listed by `trials`, only then) records the path
 * absolute.
 */
export async function checkStudyDataPaths(
  studyName: string,
  base: unknown,
  trials: () => Promise<Pick<Trial, "runDir">[]>,
): Promise<void> {
  if (!isObject(base) || !isObject(base.data)) return;
  for (const { field, path } of dataPathFields(base.data as ResolvedDataSpec)) {
    if (isAbsolute(path)) continue;
    if (await Deno.stat(path).then(() => true, () => false)) continue;
    const started = await startedIn(field, path, await trials().catch(() => []));
    const there = started === undefined
      ? "the directory the sweep was started in"
      : `the directory the sweep was started in, ${started}`;
    throw new AnnealError(
      "file",
      `Cannot join study '${studyName}': its base config names ${field} '${path}', a path ` +
        "relative to the directory its sweep was started in (the anneal that created the study " +
        `stored data paths as written), and there is no '${path}' from this directory ` +
        `(${Deno.cwd()}); each trial would fail on it`,
      {
        where: field,
        hint: `run the worker from ${there}; or run \`anneal sweep\` on the study once from ` +
          "there (it stores the data's paths absolute), then start the workers from anywhere",
      },
    );
  }
}

/**
 * The directory `path` (relative) was resolved against by the study's trials: a trial's run
 * records its data's absolute path in its config.json. Undefined where no run tells it.
 */
async function startedIn(
  field: string,
  path: string,
  trials: Pick<Trial, "runDir">[],
): Promise<string | undefined> {
  const relative = normalize(path);
  for (const { runDir } of trials) {
    if (runDir === null) continue;
    const saved = await Deno.readTextFile(`${runDir}/config.json`)
      .then((text) => JSON.parse(text), () => undefined);
    const recorded = field.split(".").reduce(
      (value: unknown, key) => isObject(value) ? value[key] : undefined,
      saved,
    );
    if (typeof recorded === "string" && recorded.endsWith(`/${relative}`)) {
      return recorded.slice(0, -relative.length - 1) || "/";
    }
  }
  return undefined;
}
