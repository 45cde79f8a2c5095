import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { parseIdx, readIdxFile } from "./idx.ts";
import { assertDataError, fixture } from "./_test_helpers.ts";

Deno.test("readIdxFile reads raw and gzipped files alike", async () => {
  const raw = await readIdxFile(fixture("idx_ok/train-images-idx3-ubyte"), 3);
  assert.deepEqual(raw.dims, [6, 4, 4]);
  assert.equal(raw.data.length, 96);
  assert.equal(raw.data[16 + 5], 15); // image 1, pixel (1, 1) = 10*1 + 4 + 1
  const gz = await readIdxFile(fixture("idx_ok/t10k-images-idx3-ubyte.gz"), 3);
  assert.deepEqual(gz.dims, [3, 4, 4]);
  assert.deepEqual([...gz.data], [...raw.data.subarray(0, 48)]);
});

Deno.test("readIdxFile falls back to the name with .gz added or removed", async () => {
  const labels = await readIdxFile(fixture("idx_ok/train-labels-idx1-ubyte"), 1);
  assert.deepEqual([...labels.data], [0, 1, 2, 0, 1, 2]);
  const images = await readIdxFile(fixture("idx_ok/train-images-idx3-ubyte.gz"), 3);
  assert.equal(images.dims[0], 6);
});

Deno.test("a wrong magic number is an error naming the file and byte 0", async () => {
  const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  await assertDataError(
    () => parseIdx(png, "image.png"),
    /wrong magic number 89 50 4e 47, expected 00 00 08 0N/,
    /image\.png at byte 0$/,
  );
});

Deno.test("an IDX file of values other than unsigned bytes is refused by its type", async () => {
  // the fixture's magic is 00 00 0d 01: 32-bit floats
  await assertDataError(
    () => readIdxFile(fixture("idx_bad/wrong_magic.idx")),
    /the values are 32-bit floats \(type 0xd\); anneal reads unsigned bytes \(type 0x08\) only/,
    /wrong_magic\.idx at byte 2$/,
  );
  await assertDataError(
    () => parseIdx(new Uint8Array([0, 0, 0x0b, 1, 0, 0, 0, 1, 0, 7]), "shorts.idx"),
    /16-bit integers \(type 0xb\)/,
  );
});

Deno.test("several ranks may be expected: images of 3 or 4 dimensions", () => {
  const colour = new Uint8Array([
    0,
    0,
    8,
    4,
    0,
    0,
    0,
    1,
    0,
    0,
    0,
    1,
    0,
    0,
    0,
    1,
    0,
    0,
    0,
    3,
    1,
    2,
    3,
  ]);
  assert.deepEqual(parseIdx(colour, "colour.idx", [3, 4]).dims, [1, 1, 1, 3]);
  assert.throws(
    () => parseIdx(colour, "colour.idx", [3]),
    /expected 3 dimensions, the header says 4/,
  );
});

Deno.test("a truncated file is an error naming the offset where data ends", async () => {
  // 5 images of 4x4 need 16 + 80 = 96 bytes; the fixture stops 7 bytes short, at byte 89.
  await assertDataError(
    () => readIdxFile(fixture("idx_bad/truncated.idx")),
    /truncated: dimensions 5x4x4 need 96 bytes, data ends at byte 89/,
    /truncated\.idx at byte 89$/,
  );
  await assertDataError(
    () => readIdxFile(fixture("idx_bad/truncated.idx.gz")),
    /truncated/,
    /at byte 89$/,
  );
});

Deno.test("bytes after the data are an error naming where the data ends (a header that is not the data's)", async () => {
  // 2 labels in the header, 3 in the file (it read the first two and said nothing)
  const extra = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 7, 9, 4]);
  assert.throws(
    () => parseIdx(extra, "labels.idx"),
    (error: Error) =>
      /1 byte after the data: the header's dimensions 2 take 10 bytes, the file has 11/.test(
        error.message,
      ) && (error as { where?: string }).where === "labels.idx at byte 10",
  );
  // read in part (a data.limit), the items asked for are all a gzip is unpacked for: no error
  assert.deepEqual([...parseIdx(extra, "labels.idx", 1, 1).data], [7]);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/labels.gz`, gzipSync(extra));
    await assertDataError(() => readIdxFile(`${dir}/labels.gz`, 1), /1 byte after the data/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a rank other than expected is an error (swapped image and label files)", async () => {
  const swapped = await assertDataError(
    () => readIdxFile(fixture("idx_ok/t10k-labels-idx1-ubyte"), 3),
    /expected 3 dimensions, the header says 1/,
  );
  assert.match(swapped.hint!, /not swapped/);
  const images = await assertDataError(
    () => readIdxFile(fixture("idx_ok/train-images-idx3-ubyte"), 1),
    /expected 1 dimension, the header says 3/,
  );
  assert.match(images.hint!, /not swapped/);
});

Deno.test("numpy's shapes of the wrong rank are told to reshape: labels as a column, images flattened", async () => {
  // 2 labels stored [2, 1]; 2 images of 2x2 stored [2, 4]
  const column = new Uint8Array([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 1, 3, 4]);
  const labels = await assertDataError(
    () => parseIdx(column, "labels.idx", 1),
    /expected 1 dimension, the header says 2/,
  );
  assert.match(
    labels.hint!,
    /one dimension \[n\], not a column \[n, 1\] \(numpy: y\.reshape\(-1\)\)/,
  );
  const flat = new Uint8Array([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 4, ...new Array(8).fill(1)]);
  const images = await assertDataError(
    () => parseIdx(flat, "images.idx", [3, 4]),
    /expected 3 or 4 dimensions, the header says 2/,
  );
  assert.match(images.hint!, /\[n, rows, columns\].*not flattened/);
  assert.doesNotMatch(images.hint!, /swapped/);
});

Deno.test("labels of a type other than unsigned bytes are told to write class indices, not pixels", async () => {
  // int32 labels (type 0x0c), as numpy's default integers are
  const ints = new Uint8Array([0, 0, 0x0c, 1, 0, 0, 0, 1, 0, 0, 0, 7]);
  const labels = await assertDataError(
    () => parseIdx(ints, "labels.idx", 1),
    /the values are 32-bit integers \(type 0xc\)/,
  );
  assert.match(labels.hint!, /class indices 0\.\.255 \(numpy: y\.astype\(np\.uint8\)\)/);
  assert.doesNotMatch(labels.hint!, /data\.scale/);
  const pixels = await assertDataError(
    () => parseIdx(ints, "images.idx", [3, 4]),
    /32-bit integers/,
  );
  assert.match(pixels.hint!, /data\.scale/);
});

Deno.test("parseIdx rejects headers cut short", () => {
  assert.throws(() => parseIdx(new Uint8Array([0, 0]), "x"), /too short/);
  assert.throws(() => parseIdx(new Uint8Array([0, 0, 8, 2, 0, 0, 0, 1]), "x"), /truncated header/);
});

Deno.test("a missing IDX file is a data error with a hint", async () => {
  await assertDataError(
    () => readIdxFile(fixture("idx_ok/nope-idx1-ubyte")),
    /Cannot open IDX file/,
  );
});

Deno.test("readIdxFile gunzips in chunks, awaiting pause between them: the same bytes, a pause that throws gives the read up, a damaged stream is a data error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "anneal-idx-gz-" });
  try {
    // 400 images of 28x28 (313 KB), not all alike: several chunks of gunzipped bytes
    const n = 400;
    const raw = new Uint8Array(16 + n * 784);
    new DataView(raw.buffer).setUint32(0, 0x803);
    new DataView(raw.buffer).setUint32(4, n);
    new DataView(raw.buffer).setUint32(8, 28);
    new DataView(raw.buffer).setUint32(12, 28);
    for (let i = 16; i < raw.length; i++) raw[i] = (i * 2654435761) >>> 27;
    const gz = gzipSync(raw);
    await Deno.writeFile(`${dir}/images.gz`, gz);
    let pauses = 0;
    const read = await readIdxFile(`${dir}/images.gz`, 3, () => Promise.resolve(void pauses++));
    assert.deepEqual(read.dims, [n, 28, 28]);
    assert.deepEqual(new Uint8Array(read.data), raw.subarray(16));
    assert.ok(pauses > 1, `${pauses} pauses`);

    // gzip members one after the other read as their bytes in a row, as gunzip reads them
    await Deno.writeFile(
      `${dir}/members.gz`,
      new Uint8Array([...gzipSync(raw.subarray(0, 1000)), ...gzipSync(raw.subarray(1000))]),
    );
    const members = await readIdxFile(`${dir}/members.gz`, 3);
    assert.deepEqual(new Uint8Array(members.data), raw.subarray(16));

    // bytes past the header's items (100 KB more: pieces of the stream past the items) are
    // refused when the file is read whole, and left unread when only its items are (every one
    // of them, or fewer); a header that claims more items than the stream holds is refused as
    // cut short, with the length it has, whether it claims one more (its bytes set aside as
    // they come) or more than any gzip stream of its size can hold
    const more = new Uint8Array(100_000).map((_, i) => (i * 2654435761) >>> 25);
    await Deno.writeFile(`${dir}/extra.gz`, gzipSync(new Uint8Array([...raw, ...more])));
    await assertDataError(
      () => readIdxFile(`${dir}/extra.gz`, 3),
      /100000 bytes after the data: the header's dimensions 400x28x28 take 313616 bytes, the file has 413616/,
    );
    for (const items of [n, n - 1]) {
      const extra = await readIdxFile(`${dir}/extra.gz`, 3, undefined, items);
      assert.deepEqual(new Uint8Array(extra.data), raw.subarray(16, 16 + items * 784));
    }
    for (const claimed of [n + 1, 2 ** 31]) {
      const claims = raw.slice();
      new DataView(claims.buffer).setUint32(4, claimed);
      await Deno.writeFile(`${dir}/claims.gz`, gzipSync(claims));
      await assertDataError(
        () => readIdxFile(`${dir}/claims.gz`, 3),
        new RegExp(
          `truncated: dimensions ${claimed}x28x28 need \\d+ bytes, data ends at byte ${raw.length}`,
        ),
        new RegExp(`claims\\.gz at byte ${raw.length}$`),
      );
    }

    const gaveUp = new Error("stopped while loading");
    await assert.rejects(
      () => readIdxFile(`${dir}/images.gz`, 3, () => Promise.reject(gaveUp)),
      (error) => error === gaveUp,
    );

    await Deno.writeFile(`${dir}/cut.gz`, gz.subarray(0, gz.length >> 1));
    await assertDataError(
      () => readIdxFile(`${dir}/cut.gz`, 3, () => Promise.resolve()),
      /^Cannot gunzip IDX file: /,
      /cut\.gz$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readIdxFile with maxItems reads the first items only: of a gzipped file it gunzips no further, so a stream damaged past them reads", async () => {
  const dir = await Deno.makeTempDir({ prefix: "anneal-idx-first-" });
  try {
    // 3,000 images of 28x28 (2.4 MB gunzipped), bytes that compress poorly: many chunks
    const n = 3000;
    const raw = new Uint8Array(16 + n * 784);
    const view = new DataView(raw.buffer);
    [0x803, n, 28, 28].forEach((value, i) => view.setUint32(4 * i, value));
    let h = 7;
    for (let i = 16; i < raw.length; i++) raw[i] = (h = (h * 1103515245 + 12345) >>> 0) >>> 24;
    const gz = gzipSync(raw);
    // the stream cut at two thirds: past image ~2,000
    await Deno.writeFile(`${dir}/cut.gz`, gz.subarray(0, Math.floor(gz.length * 2 / 3)));
    let pauses = 0;
    const first = await readIdxFile(`${dir}/cut.gz`, 3, () => Promise.resolve(void pauses++), 100);
    assert.deepEqual(first.dims, [n, 28, 28], "the header's dimensions");
    assert.deepEqual(new Uint8Array(first.data), raw.subarray(16, 16 + 100 * 784));
    // (78 KB of images: a few of zlib's 16 KB pieces, of the ~150 the whole file takes)
    assert.ok(pauses < 10, `${pauses} pauses: the stream was read on past the 100 images`);
    // without maxItems, or with more items than the stream holds, the damage is found
    for (const maxItems of [undefined, 2900]) {
      await assertDataError(
        () => readIdxFile(`${dir}/cut.gz`, 3, undefined, maxItems),
        /^Cannot gunzip IDX file: /,
        /cut\.gz$/,
      );
    }
    // more items than the file has: all of them
    await Deno.writeFile(`${dir}/whole.gz`, gz);
    const all = await readIdxFile(`${dir}/whole.gz`, 3, undefined, 10 * n);
    assert.deepEqual(new Uint8Array(all.data), raw.subarray(16));
    // a raw file cut past the items asked for reads; one cut before them is refused
    const cutRaw = raw.subarray(0, 16 + 50 * 784 + 10);
    assert.equal(parseIdx(cutRaw, "cut.idx", 3, 50).data.length, 50 * 784);
    assert.throws(
      () => parseIdx(cutRaw, "cut.idx", 3, 51),
      /truncated: its first 51 items \(dimensions 3000x28x28\) need 40000 bytes, data ends at byte 39226/,
    );
    for (const maxItems of [-1, 2.5, NaN]) {
      assert.throws(() => parseIdx(cutRaw, "cut.idx", 3, maxItems), /maxItems .* is not a count/);
    }
    // a gzipped file that is not IDX is refused by its header, limit or not
    // (a fourth byte 0, as an IDX header of rank 0 would have)
    await Deno.writeFile(`${dir}/text.gz`, gzipSync(new TextEncoder().encode("hel\0o")));
    for (const maxItems of [undefined, 10]) {
      await assertDataError(
        () => readIdxFile(`${dir}/text.gz`, 3, undefined, maxItems),
        /wrong magic number 68 65 6c 00/,
      );
    }
    assert.throws(() => parseIdx(cutRaw, "cut.idx", 3), /truncated/);
    // labels (rank 1): one byte an item
    const labels = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 5, 4, 3, 2, 1, 0]);
    assert.deepEqual([...parseIdx(labels, "labels.idx", 1, 2).data], [4, 3]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
