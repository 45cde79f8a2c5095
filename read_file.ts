/**
 * Reading a whole file into memory, faster than `Deno.readFile` for large files.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** Bytes read at a time past the size `stat` gave (a file that grew since, or a pipe or a /proc file, whose size it gives as 0). */
const MORE = 1 << 16;

/**
 * The whole content of the file at `path`, as `Deno.readFile` gives it (a `Uint8Array` that is its
 * whole buffer), read into one buffer of the size `stat` gives: `Deno.readFile` took 2.3 times as
 * long on a 100 MB file here, 185 ms against 80 for Fashion-MNIST's 26 MB of gzipped images
 * (BENCHMARKS.md, "Forty-seventh session"). A file that grows or shrinks meanwhile is read to its
 * end. Errors are Deno's, of `Deno.open` or of the read; those of the read end as `Deno.readFile`'s
 * do, with the operation and the path (`: readfile '/x'`).
 *
 * @example
 * ```ts
 * import { readWholeFile } from "./read_file.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeFile(path, Uint8Array.of(1, 2, 3));
 * const bytes = await readWholeFile(path);
 * console.assert(bytes.join() === "1,2,3" && bytes.buffer.byteLength === 3);
 * await Deno.remove(path);
 * ```
 */
export async function readWholeFile(path: string | URL): Promise<Uint8Array> {
  using file = await Deno.open(path);
  try {
    return await readAll(file);
  } catch (error) {
    // (as Deno.readFile's errors end: "...: readfile '/x'", which file_errors.ts reads)
    if (error instanceof Error && !/ '[^']*'$/.test(error.message)) {
      error.message += `: readfile '${path instanceof URL ? fileURLToPath(path) : path}'`;
    }
    throw error;
  }
}

/** What is left of `file` to read, into a buffer of the size its `stat` gives, then larger. */
async function readAll(file: Deno.FsFile): Promise<Uint8Array> {
  let bytes = new Uint8Array((await file.stat()).size);
  let at = 0;
  for (;;) {
    const full = at === bytes.length;
    const into = full ? new Uint8Array(MORE) : bytes.subarray(at);
    const read = await file.read(into);
    if (read === null) return at === bytes.length ? bytes : bytes.slice(0, at);
    if (full) {
      // past the size stat gave: a larger buffer
      const grown = new Uint8Array(Math.max(2 * bytes.length, at + MORE));
      grown.set(bytes.subarray(0, at));
      grown.set(into.subarray(0, read), at);
      bytes = grown;
    }
    at += read;
  }
}
