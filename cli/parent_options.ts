/**
 * Options a subcommand shares with its parent (`runs`' `--runs-dir` and `--json` on `runs show`
 * and `runs compare`), taken from the parent where the user gave them there only.
 *
 * @module
 */

/** What {@linkcode withParentOptions} reads of a commander command. */
export interface OptionSources {
  getOptionValueSource(key: string): string | undefined;
}

/**
 * `options` (the subcommand's) with each option the user gave its parent (on the command line or
 * from the environment) and not the subcommand itself: `anneal runs --runs-dir D show last`
 * reads D, where the subcommand's default (`runs`) was read and no run was found.
 *
 * @example
 * ```ts
 * import { withParentOptions } from "./parent_options.ts";
 * const parent = { opts: () => ({ runsDir: "d" }), getOptionValueSource: () => "cli" };
 * const show = { parent, getOptionValueSource: () => "default" };
 * console.assert(withParentOptions({ runsDir: "runs" }, show).runsDir === "d");
 * ```
 */
export function withParentOptions<T extends object>(
  options: T,
  command: OptionSources & {
    parent: (OptionSources & { opts(): Record<string, unknown> }) | null;
  },
): T {
  const parent = command.parent;
  if (parent === null) return options;
  const given = (source: string | undefined) => source === "cli" || source === "env";
  const merged: Record<string, unknown> = { ...(options as Record<string, unknown>) };
  for (const [key, value] of Object.entries(parent.opts())) {
    if (given(parent.getOptionValueSource(key)) && !given(command.getOptionValueSource(key))) {
      merged[key] = value;
    }
  }
  return merged as T;
}
