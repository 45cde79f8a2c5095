/**
 * Whether this process holds a permission already, asked without a prompt: Deno asks in a
 * terminal for a permission an API needs that was neither granted nor denied, and the run waits
 * on the answer. anneal's optional extras (the host's name, the machine's memory, the git commit
 * of the working directory) are read only where granted, and left out otherwise.
 *
 * @module
 */

/**
 * Whether `descriptor` is granted (`--allow-sys`, `--allow-run=git`, ...); false where it is not,
 * or cannot be queried. Never prompts.
 *
 * @example
 * ```ts
 * import { granted } from "./granted.ts";
 * console.assert(typeof granted({ name: "sys", kind: "hostname" }) === "boolean");
 * ```
 */
export function granted(descriptor: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(descriptor).state === "granted";
  } catch {
    return false;
  }
}
