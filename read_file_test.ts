import assert from "node:assert/strict";
import { readWholeFile } from "./read_file.ts";

Deno.test("readWholeFile gives what Deno.readFile gives: empty, small and multi-megabyte files, each its own whole buffer", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const size of [0, 1, 65_535, 65_536, 65_537, 3_000_001]) {
      const data = new Uint8Array(size).map((_, i) => (i * 31 + size) & 255);
      await Deno.writeFile(`${dir}/f`, data);
      const read = await readWholeFile(`${dir}/f`);
      assert.deepEqual(read, await Deno.readFile(`${dir}/f`), `${size} bytes`);
      assert.equal(read.byteOffset, 0);
      assert.equal(read.buffer.byteLength, size, `${size} bytes: the whole buffer`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readWholeFile reads past the size stat gives: a pipe (size 0) written while it is read", async () => {
  // 200 KB: stat says 0, and it comes in pieces
  const dir = await Deno.makeTempDir();
  try {
    const fifo = `${dir}/fifo`;
    const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    assert.ok(made.success);
    const data = new Uint8Array(200_000).map((_, i) => i % 253);
    const writing = Deno.writeFile(fifo, data);
    const read = await readWholeFile(fifo);
    await writing;
    assert.deepEqual(read, data);
    assert.equal(read.buffer.byteLength, data.length);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readWholeFile's errors are Deno's: a missing file, a directory", async () => {
  await assert.rejects(readWholeFile("/nonexistent/anneal-file"), Deno.errors.NotFound);
  // (a directory opens, and its read fails: the error ends as Deno.readFile's, naming the path)
  await assert.rejects(
    readWholeFile("/tmp"),
    (error: Error) =>
      /directory/i.test(error.message) && error.message.endsWith(": readfile '/tmp'"),
  );
});
