/**
 * The benchmarks' command-line flags (`node:util`'s parseArgs): `--help` prints the usage and
 * exits 0; an unknown or malformed flag prints what is wrong and the usage, and exits 2.
 *
 * @module
 */
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";

/** Parses `Deno.args` against `options`; `usage` is printed for `--help` and for a bad flag. */
export function benchFlags<T extends ParseArgsOptionsConfig>(
  options: T,
  usage: string,
): ReturnType<typeof parseArgs<{ options: T }>>["values"] {
  let parsed;
  try {
    parsed = parseArgs({
      args: Deno.args,
      options: { ...options, help: { type: "boolean", short: "h" } },
    });
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : error}\n\n${usage}`);
    Deno.exit(2);
  }
  if ((parsed.values as { help?: boolean }).help) {
    console.log(usage);
    Deno.exit(0);
  }
  return parsed.values as ReturnType<typeof parseArgs<{ options: T }>>["values"];
}
