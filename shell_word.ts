/**
 * A word of a command that anneal prints for the user to run (a hint's `anneal train -c PATH`, a
 * `--runs-dir DIR`, a `--set` override), quoted for the shell where it has to be, and the
 * `--runs-dir` of such a command. A leaf module (no imports), so that the trainer worker and the
 * CLI take it without pulling in report/.
 *
 * @module
 */

/**
 * A word the shell takes as it is, else in single quotes, its own single quotes escaped (a path
 * with a space: `'my runs'`; a JSON value: `'scheduler={...}'`).
 *
 * @example
 * ```ts
 * import { shellWord } from "./shell_word.ts";
 * shellWord("runs/a1b2"); // "runs/a1b2"
 * shellWord("my runs"); // "'my runs'"
 * ```
 */
export const shellWord = (word: string): string =>
  /^[\w./:=@%+,-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;

/** The ` --runs-dir DIR` of a command anneal prints for a run in `runsDir`; none for `runs`, the default. */
export const runsDirFlag = (runsDir: string): string =>
  runsDir === "runs" ? "" : ` --runs-dir ${shellWord(runsDir)}`;

/** {@linkcode runsDirFlag} of the runs directory that holds the run directory `runDir`. */
export const runsDirFlagOf = (runDir: string): string =>
  runsDirFlag(runDir.replace(/\/+$/, "").split("/").slice(0, -1).join("/") || ".");
