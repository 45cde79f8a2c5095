/**
 * Resuming a run: the config it continues with comes from its own directory.
 *
 * @module
 */
import { parseConfig, type RunConfig } from "../config.ts";
import { AnnealError } from "../errors.ts";

/**
 * Reads the config a run was started with (`<dir>/config.json`). A missing file, one that cannot
 * be read, one that is not JSON and one that the schema refuses each get their own error, naming
 * the file.
 */
export async function readSavedConfig(dir: string, runId: string): Promise<RunConfig> {
  const path = `${dir}/config.json`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (cause) {
    if (cause instanceof Deno.errors.NotFound) {
      throw new AnnealError("usage", `Cannot resume run '${runId}': ${path} is missing`, {
        where: dir,
        hint: "check the run id and --runs-dir with `anneal runs`",
        cause,
      });
    }
    throw new AnnealError(
      "storage",
      `Cannot resume run '${runId}': ${path} cannot be read: ${(cause as Error).message}`,
      { where: path, hint: "check the file's permissions", cause },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new AnnealError(
      "storage",
      `Cannot resume run '${runId}': ${path} is corrupt (not valid JSON: ${
        (cause as Error).message
      })`,
      {
        where: path,
        hint:
          `write the config the run was started with into it (JSON), then \`anneal train --resume ${runId}\`; or start a new run`,
        cause,
      },
    );
  }
  return parseConfig(json, `saved config ${path}`);
}
