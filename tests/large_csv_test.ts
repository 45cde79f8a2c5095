/**
 * A 1 GiB CSV goes through `loadData` (the path every CSV run takes) with the parsed floats as
 * the only thing that grows: the text is streamed through in chunks, never held. The file is
 * numpy's `savetxt` default format (`%.18e`, 25 characters a value), built by repeating one
 * block of distinct rows.
 *
 * Memory is this isolate's V8 heap plus its ArrayBuffers (`heapUsed + external`): the tests run
 * in parallel threads of one process, so the process's RSS would count the other tests too.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadData } from "../mod.ts";

const FEATURES = 8;
const BLOCK_BYTES = 1 << 20;
const BLOCKS = 1024; // 1 GiB

/** One block of rows, and each row's values as text. */
function buildBlock(): { text: string; rows: string[][] } {
  const rows: string[][] = [];
  let text = "";
  for (let r = 0; text.length < BLOCK_BYTES - 300; r++) {
    const row = Array.from(
      { length: FEATURES + 1 },
      (_, c) => (Math.sin(r * 12.9898 + c * 78.233) * 1000).toExponential(18),
    );
    rows.push(row);
    text += row.join(",") + "\n";
  }
  return { text: text.padEnd(BLOCK_BYTES - 1, "\n") + "\n", rows };
}

/** `/dev/shm` when it is a writable folder with room for the file, else the default temp dir. */
async function ramDir(): Promise<string | undefined> {
  try {
    const probe = await Deno.makeTempDir({ dir: "/dev/shm" });
    await Deno.remove(probe);
    const free = Number(
      new TextDecoder().decode(
        (await new Deno.Command("df", { args: ["-k", "--output=avail", "/dev/shm"] }).output())
          .stdout,
      ).trim().split("\n").at(-1),
    ) * 1024;
    return free > 2 * BLOCKS * BLOCK_BYTES ? "/dev/shm" : undefined;
  } catch {
    return undefined;
  }
}

const isolateBytes = () => {
  const usage = Deno.memoryUsage();
  return usage.heapUsed + usage.external;
};

Deno.test("a 1 GiB CSV streams through loadData holding only its floats, not its text", async () => {
  // In RAM where there is a tmpfs: 1 GiB of writes to disk would slow other tests' fsyncs.
  const dir = await Deno.makeTempDir({ prefix: "anneal-large-csv-", dir: await ramDir() });
  try {
    const path = join(dir, "large.csv");
    const header = Array.from({ length: FEATURES }, (_, c) => `x${c}`).join(",") + ",y\n";
    const { text, rows } = buildBlock();
    const block = new TextEncoder().encode(text);
    const file = await Deno.open(path, { write: true, create: true });
    const writer = file.writable.getWriter();
    await writer.write(new TextEncoder().encode(header));
    for (let i = 0; i < BLOCKS; i++) await writer.write(block);
    await writer.close();
    const fileBytes = (await Deno.stat(path)).size;
    assert.ok(fileBytes > 2 ** 30, `${fileBytes} bytes`);

    const before = isolateBytes();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, isolateBytes())), 10);
    const started = performance.now();
    let data;
    try {
      data = await loadData(
        { kind: "csv", path, target: "y", validationSplit: 0, normalize: "none" },
        1,
      );
    } finally {
      clearInterval(sampler);
    }
    const seconds = (performance.now() - started) / 1000;
    peak = Math.max(peak, isolateBytes());

    // (a) every row, and the values themselves: row i of the file is row i % rows of the block.
    const { train } = data;
    assert.equal(train.n, BLOCKS * rows.length);
    assert.equal(train.x.length, train.n * FEATURES);
    for (const i of [0, 1, rows.length - 1, rows.length, train.n - 1, 1_234_567]) {
      const row = rows[i % rows.length];
      for (let c = 0; c < FEATURES; c++) {
        assert.equal(train.x[i * FEATURES + c], Math.fround(Number(row[c])), `row ${i} x${c}`);
      }
      assert.equal(train.y[i], Math.fround(Number(row[FEATURES])), `row ${i} y`);
    }
    let sum = 0;
    for (const value of train.y) sum += value;
    let blockSum = 0;
    for (const row of rows) blockSum += Math.fround(Number(row[FEATURES]));
    assert.ok(Math.abs(sum - BLOCKS * blockSum) <= 1e-9 * train.n * 1000, `${sum}`);

    // (b) memory: the floats (4 bytes a value, ~1/6 of the text) plus a bounded working set; at
    // the end the blocks are copied into one array once, hence up to twice the floats.
    const floats = (train.x.length + train.y.length) * 4;
    const growth = peak - before;
    const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
    console.log(
      `1 GiB CSV: ${train.n} rows in ${seconds.toFixed(1)} s ` +
        `(${(fileBytes / 1e6 / seconds).toFixed(0)} MB/s); floats ${mib(floats)}, ` +
        `peak growth ${mib(growth)} for a ${mib(fileBytes)} file`,
    );
    assert.ok(floats < fileBytes / 5, `floats ${mib(floats)}`);
    assert.ok(growth < 2 * floats + 160 * 2 ** 20, `peak growth ${mib(growth)}`);
    assert.ok(growth < fileBytes / 2, `peak growth ${mib(growth)}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
