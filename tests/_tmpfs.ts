/**
 * A small tmpfs for the tests of a full disk (ENOSPC), which no fault hook of the file system
 * stands in for: only root may mount one, so these tests are ignored elsewhere, their names
 * saying so.
 *
 * @module
 */

/** Whether this process may try to mount a tmpfs: root, on Linux. */
export const canMount = Deno.build.os === "linux" && Deno.uid() === 0;

/**
 * Mounts a tmpfs of `size` (e.g. "4k": one page) on the directory `dir`, unmounted when the scope
 * that holds it ends: `await using disk = await smallDisk(dir, "4k"); if (!disk) return;`.
 * Undefined, the reason printed, where the mount is refused (a container without the right).
 */
export async function smallDisk(dir: string, size: string): Promise<AsyncDisposable | undefined> {
  const run = (args: string[]) => new Deno.Command(args[0], { args: args.slice(1) }).output();
  const mounted = await run(["mount", "-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]);
  if (!mounted.success) {
    console.warn(`skipped: cannot mount a tmpfs: ${new TextDecoder().decode(mounted.stderr)}`);
    return undefined;
  }
  return {
    [Symbol.asyncDispose]: async () => {
      await run(["umount", dir]);
    },
  };
}
