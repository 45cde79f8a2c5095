/**
 * How the CLI prints things: numbers, metric lines, errors. No CLI framework here.
 *
 * @module
 */
import { AnnealError } from "../errors.ts";
import type { ClosingError } from "../runtime/events.ts";
import { fileError, type FileErrorContext } from "../file_errors.ts";
import { decodeJsonFile } from "../json_syntax.ts";
import { formatNumber } from "../number_format.ts";
import { writeFileAtomic } from "../runtime/checkpoint.ts";

/**
 * Losses, metrics and learning rates as every command prints them (4 significant digits; see
 * number_format.ts), the same function `diagnose`, `runs` and the report print theirs with.
 */
export { formatNumber };

/** `loss = 0.2341, valLoss = 0.25, accuracy = 0.91` in a stable order, without `lr`. */
export function formatMetrics(metrics: Record<string, number>): string {
  const order = ["loss", "accuracy", "mae", "valLoss", "valAccuracy", "valMae"];
  const names = Object.keys(metrics).filter((n) => n !== "lr").sort((a, b) => {
    const ia = order.indexOf(a), ib = order.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
  });
  return names.map((name) => `${name} = ${formatNumber(metrics[name])}`).join(", ");
}

/**
 * Writes a file the user named with `flag` (undefined: a default path); a failure names the flag,
 * the path, and what the path needs.
 */
export async function writeFlagFile(
  flag: string | undefined,
  path: string,
  text: string,
  elsewhere?: string,
): Promise<void> {
  const context = {
    action: flag ? `write the ${flag} file` : "write",
    path,
    expected: "a file path in an existing directory",
    writing: true,
  };
  try {
    // (`--out dir/`: the file written beside the one meant went into the directory, and its
    // rename onto the directory failed as "Directory not empty", in a bug's words)
    await refuseDirectory(path, context);
    try {
      // whole or not at all (a full disk left a report cut short, in place of the one there was)
      await writeFileAtomic(path, new TextEncoder().encode(text));
    } catch (failed) {
      // (writeFileAtomic's file error in place of Deno's: said again with the flag's name)
      const error = failed instanceof AnnealError && failed.code === "file" ? failed.cause : failed;
      throw fileError(error, context) ?? error;
    }
  } catch (error) {
    // a default path the user never chose (a report into a read-only run directory): the flag
    // that writes it elsewhere is the fix the user has (it said "choose a path on a writable
    // file system", with no word of --out)
    if (flag !== undefined || elsewhere === undefined || !(error instanceof AnnealError)) {
      throw error;
    }
    throw new AnnealError(error.code, error.message, {
      where: error.where,
      hint: `write it elsewhere with ${elsewhere} FILE${error.hint ? `; or ${error.hint}` : ""}`,
      cause: error.cause,
    });
  }
}

/** Throws the file error of a directory where a file is to be written, if `path` is one. */
async function refuseDirectory(
  path: string,
  context: FileErrorContext,
): Promise<void> {
  const info = await Deno.stat(path).catch(() => undefined);
  if (info?.isDirectory) {
    throw fileError(new Deno.errors.IsADirectory(`Is a directory: open '${path}'`), context)!;
  }
}

/**
 * Checks, before a command that takes a while (a tune, a range test) runs, that the file a flag
 * names can be written at its end: it is not a directory, and a file can be made beside it (one
 * is, and removed). Throws the error {@linkcode writeFlagFile} would give then.
 */
export async function checkFlagFile(flag: string, path: string): Promise<void> {
  const context = {
    action: `write the ${flag} file`,
    path,
    expected: "a file path in an existing directory",
  };
  await refuseDirectory(path, context);
  const probe = `${path}.${crypto.randomUUID().slice(0, 8)}.check`;
  try {
    await Deno.writeTextFile(probe, "", { createNew: true });
  } catch (error) {
    throw fileError(error, context) ?? error;
  }
  await Deno.remove(probe).catch(() => {});
}

/** Reads the file of a flag given as `@FILE` (`--scheduler @cosine.json`), naming the flag. */
export async function readFlagFile(flag: string, path: string): Promise<string> {
  // (Deno's own "Empty path is not allowed" was printed as a bug)
  if (path === "") {
    throw new AnnealError("usage", `${flag} @ names no file: the file's path goes after the '@'`, {
      hint: `give it like ${flag} @${
        flag.replace(/^-+/, "")
      }.json, or give the JSON itself: ${flag} '...'`,
    });
  }
  try {
    return decodeJsonFile(await Deno.readFile(path), `${flag} file '${path}'`, "usage", path);
  } catch (error) {
    throw fileError(error, {
      action: `read the ${flag} file`,
      path,
      expected: "a readable JSON file",
      hint: `check the path after '@', or give the JSON itself: ${flag} '...'`,
    }) ?? error;
  }
}

/** Errors a `--json` command printed on stdout already (a run's `run.refused` event). */
const onStdout = new WeakSet<object>();

/**
 * Marks `error` as printed on stdout already, as a `run.refused` event of `anneal train --json`:
 * {@linkcode jsonErrorLine} is not printed for it again. Returns it.
 */
export function printedOnStdout<E>(error: E): E {
  if (typeof error === "object" && error !== null) onStdout.add(error);
  return error;
}

/**
 * The stdout line of a command run with `--json` that failed or was refused (a config error, a
 * refusal before a run starts): `{"type":"error","error":{code,message,hint,where}}`, its error of
 * the shape of a `run.refused` event's; undefined for an error printed there already.
 */
export function jsonErrorLine(error: unknown): string | undefined {
  if (typeof error === "object" && error !== null && onStdout.has(error)) return undefined;
  error = fileError(error) ?? error;
  const { code, message, hint, where }: Partial<ClosingError> = error instanceof AnnealError
    ? error
    : { code: "internal", message: error instanceof Error ? error.message : String(error) };
  return JSON.stringify({
    type: "error",
    error: {
      code,
      message,
      ...(hint !== undefined && { hint }),
      ...(where !== undefined && { where }),
    },
  });
}

/**
 * Prints an error as message + hint (a stack only with `--debug`) and returns the exit code. A
 * file-system error (a missing file, a file where a directory should be) is the user's to fix,
 * wherever it was thrown: it is printed naming the path, not as a bug.
 */
export function reportError(error: unknown, debug: boolean): number {
  error = fileError(error) ?? error;
  if (error instanceof AnnealError) {
    console.error(error.describe());
    if (debug && error.stack) console.error(error.stack);
    return error.code === "usage" ? 2 : 1;
  }
  const message = error instanceof Error ? error.message : String(error);
  console.error(`error: ${message}`);
  if (debug && error instanceof Error && error.stack) console.error(error.stack);
  else {console.error(
      "  hint: run again with --debug for the stack trace, and report it if it looks like a bug",
    );}
  return 1;
}
