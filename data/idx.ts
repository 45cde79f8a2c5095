/**
 * IDX files (the MNIST format): a 4-byte magic (0, 0, type, rank), `rank` big-endian uint32
 * dimensions, then the values. Only unsigned bytes (type 0x08) are read, which covers MNIST,
 * Fashion-MNIST and 8-bit colour images; the other IDX types are refused by name. Gzipped files
 * are recognised by their magic bytes, whatever their name.
 *
 * @module
 */

import { createGunzip } from "node:zlib";
import { Readable } from "node:stream";
import { AnnealError } from "../errors.ts";
import { counted } from "../number_format.ts";
import { fileError } from "../file_errors.ts";
import { readWholeFile } from "../read_file.ts";

/** A decoded IDX array: its dimensions and its bytes (row-major). */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
  /** The file actually read (the `.gz` fallback may differ from the name asked for). */
  path: string;
}

/** The IDX value types other than unsigned bytes, by type byte, for messages. */
const OTHER_TYPES: Record<number, string> = {
  0x09: "signed bytes",
  0x0b: "16-bit integers",
  0x0c: "32-bit integers",
  0x0d: "32-bit floats",
  0x0e: "64-bit floats",
};

function idxError(message: string, file: string, offset: number, hint: string): AnnealError {
  return new AnnealError("data", `Cannot read IDX file: ${message}`, {
    where: `${file} at byte ${offset}`,
    hint,
  });
}

/**
 * Decodes IDX bytes, refusing a rank not in `expectedRank` (one rank or several); errors name the
 * file and the byte offset (of the decompressed data for gzipped files). With `maxItems`, only the
 * first `maxItems` items (images, labels) are decoded, and need to be there: `dims` stays the
 * header's. Bytes after the data are refused where every item is read (`fileLength`, the whole
 * file's, where `bytes` holds only what its items need).
 *
 * @example
 * ```ts
 * import { parseIdx } from "./idx.ts";
 * const bytes = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 7, 9]);
 * const { dims, data } = parseIdx(bytes, "labels.idx");
 * console.assert(dims[0] === 2 && data[1] === 9);
 * ```
 */
export function parseIdx(
  bytes: Uint8Array,
  file: string,
  expectedRank?: number | readonly number[],
  maxItems?: number,
  fileLength: number = bytes.length,
): IdxArray {
  if (maxItems !== undefined && !(Number.isInteger(maxItems) && maxItems >= 0)) {
    throw new AnnealError("internal", `Cannot read IDX file: maxItems ${maxItems} is not a count`, {
      where: file,
      hint: "pass a whole number of items, 0 or more (or none: every item)",
    });
  }
  if (bytes.length < 4) {
    throw idxError(
      `the file is ${bytes.length} bytes, too short for a header`,
      file,
      0,
      "re-download the file",
    );
  }
  const type = OTHER_TYPES[bytes[2]];
  const ranks = expectedRank === undefined ? undefined : [expectedRank].flat();
  // (a file read as labels: one dimension, class indices; images have 3 or 4)
  const labels = ranks !== undefined && ranks.includes(1);
  if (bytes[0] === 0 && bytes[1] === 0 && type !== undefined && bytes[3] !== 0) {
    throw idxError(
      `the values are ${type} (type 0x${bytes[2].toString(16)}); anneal reads unsigned bytes ` +
        `(type 0x08) only`,
      file,
      2,
      labels
        ? "write the labels as unsigned bytes, class indices 0..255 (numpy: y.astype(np.uint8))"
        : "write the file as unsigned bytes 0..255 (numpy: x.astype(np.uint8) for 8-bit values, " +
          "(x * 255).round().astype(np.uint8) for values in [0, 1]); data.scale maps them to " +
          "[0, 1]",
    );
  }
  if (bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== 0x08 || bytes[3] === 0) {
    const magic = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(
      " ",
    );
    throw idxError(
      `wrong magic number ${magic}, expected 00 00 08 0N (unsigned bytes, N dimensions)`,
      file,
      0,
      "point the spec at an MNIST-style IDX file (e.g. train-images-idx3-ubyte[.gz])",
    );
  }
  const rank = bytes[3];
  if (ranks !== undefined && !ranks.includes(rank)) {
    const expected = ranks.join(" or ");
    throw idxError(
      `expected ${expected} dimension${expected === "1" ? "" : "s"}, the header says ${rank}`,
      file,
      3,
      rankHint(labels, rank),
    );
  }
  const headerSize = 4 + 4 * rank;
  if (bytes.length < headerSize) {
    throw idxError(
      `truncated header: ${rank} dimensions need ${headerSize} bytes, the file has ${bytes.length}`,
      file,
      bytes.length,
      "re-download the file",
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let d = 0; d < rank; d++) dims.push(view.getUint32(4 + 4 * d, false));
  const itemSize = dims.slice(1).reduce((a, b) => a * b, 1);
  const items = Math.min(dims[0], maxItems ?? dims[0]);
  const size = items * itemSize;
  if (bytes.length < headerSize + size) {
    const what = items < dims[0]
      ? `its first ${items} items (dimensions ${dims.join("x")})`
      : `dimensions ${dims.join("x")}`;
    throw idxError(
      `truncated: ${what} need ${headerSize + size} bytes, data ends at byte ${bytes.length}`,
      file,
      bytes.length,
      "re-download the file; it was cut short",
    );
  }
  if (items === dims[0] && fileLength > headerSize + size) {
    // (bytes after the data: a header whose dimensions are not the data's, 27x27 images of 28x28
    // pixels read as shifted rows, or two files written one after the other; read whole only:
    // with maxItems a gzipped file is gunzipped no further than its items)
    throw idxError(
      `${
        counted(fileLength - headerSize - size, "byte")
      } after the data: the header's dimensions ` +
        `${dims.join("x")} take ${headerSize + size} bytes, the file has ${fileLength}`,
      file,
      headerSize + size,
      "check that the header's dimensions are the data's (count x rows x columns), and that " +
        "the file holds one array",
    );
  }
  return { dims, data: bytes.subarray(headerSize, headerSize + size), path: file };
}

/**
 * What to do about an IDX file of the wrong rank: a labels file read as images or the other way
 * round is a swap; labels as a column ([n, 1]) or images flattened ([n, rows x columns]) are
 * numpy's shapes, to reshape.
 */
function rankHint(labels: boolean, rank: number): string {
  const swapped = "check that image and label file names are not swapped";
  if (labels) {
    return rank === 2
      ? "write the labels as one dimension [n], not a column [n, 1] (numpy: y.reshape(-1)); or " +
        swapped
      : swapped;
  }
  if (rank === 1) return swapped;
  return rank === 2
    ? "write the images as [n, rows, columns] (or [n, rows, columns, channels]), not flattened " +
      "rows [n, rows x columns] (numpy: x.reshape(n, rows, columns)); data.flatten flattens " +
      "them for an MLP"
    : "write the images as [n, rows, columns] or [n, rows, columns, channels]";
}

/** Compressed bytes given to the gunzip stream at a time. */
const GUNZIP_CHUNK = 256 * 1024;

/**
 * The bytes an IDX file's header and its first `items` items take, read from its first bytes
 * `head`; undefined while `head` is too short to tell. A header that is not one of unsigned bytes
 * gives `head`'s length: nothing more is read, and {@linkcode parseIdx} refuses the file by it.
 */
function bytesForItems(head: Uint8Array, items: number): number | undefined {
  if (head.length < 4) return undefined;
  if (!unsignedBytesMagic(head)) return head.length;
  const rank = head[3];
  const headerSize = 4 + 4 * rank;
  if (head.length < headerSize) return undefined;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let itemSize = 1;
  for (let d = 1; d < rank; d++) itemSize *= view.getUint32(4 + 4 * d, false);
  return headerSize + Math.min(items, view.getUint32(4, false)) * itemSize;
}

/** Whether `head` starts with the magic of an IDX file of unsigned bytes (00 00 08 0N, N > 0). */
function unsignedBytesMagic(head: Uint8Array): boolean {
  return head[0] === 0 && head[1] === 0 && head[2] === 0x08 && head[3] !== 0;
}

/**
 * The most bytes set aside at once for a gzip stream of `compressed` bytes: 64 times its size
 * (images compress 2-5 times; deflate's best is ~1032 times). A header that claims more is not
 * believed with that much memory: the pieces are then kept as they come and joined at the end,
 * as a damaged header's file is refused when its stream ends short.
 */
function gunzippedBound(compressed: number): number {
  return compressed * 64 + (1 << 20);
}

/** A buffer of `size` bytes, or undefined where there is not the memory for one. */
function setAside(size: number): Uint8Array | undefined {
  try {
    return new Uint8Array(size);
  } catch (error) {
    if (error instanceof RangeError) return undefined; // (the pieces are kept as they come)
    throw error;
  }
}

/** The first `size` bytes of `chunks` one after the other (into `bytes`, where given). */
function concat(
  chunks: Uint8Array[],
  size: number,
  bytes: Uint8Array = new Uint8Array(size),
): Uint8Array {
  let at = 0;
  for (const chunk of chunks) {
    if (at >= size) break;
    bytes.set(chunk.subarray(0, size - at), at);
    at += chunk.length;
  }
  return bytes;
}

/**
 * A gzipped file's bytes (its members one after the other, as `gunzip` writes them), gunzipped
 * as a stream fed in GUNZIP_CHUNK pieces, with `pause` awaited between the pieces that come out:
 * a data loader's Worker answers its messages meanwhile (in one go, 200 MB of images held it 1-2
 * s), and `pause` may throw to give the load up. `file` is named in the error a damaged or cut
 * stream is. With `maxItems`, the stream is left once the header and that many items are out
 * (`data.limit` of Fashion-MNIST's 60,000 images: the rest is not gunzipped, nor is the gzip
 * checksum at its end checked, so damage past the items read goes unseen).
 */
async function gunzipInChunks(
  compressed: Uint8Array,
  file: string,
  pause?: () => Promise<void>,
  maxItems?: number,
): Promise<{ bytes: Uint8Array; length: number }> {
  const pieces = function* () {
    for (let at = 0; at < compressed.length; at += GUNZIP_CHUNK) {
      yield compressed.subarray(at, at + GUNZIP_CHUNK);
    }
  };
  const gunzip = Readable.from(pieces()).pipe(createGunzip());
  // The pieces that come out, until the header says how many bytes are wanted; then those bytes,
  // each piece copied in as it comes: the pieces are not all kept until the end to be joined (the
  // fresh memory of a second copy cost ~0.1 s of page faults for Fashion-MNIST's images)
  let chunks: Uint8Array[] = [];
  let out: Uint8Array | undefined;
  let size = 0;
  let pausing = false;
  let needed: number | undefined;
  let left = false; // (the stream left once maxItems items were out: its length is not known)
  try {
    for await (const chunk of gunzip) {
      if (!out) chunks.push(chunk);
      else if (size < out.length) out.set(chunk.subarray(0, out.length - size), size);
      size += chunk.length;
      if (needed === undefined) {
        const head = concat(chunks, Math.min(size, 1024));
        needed = bytesForItems(head, maxItems ?? Infinity);
        if (
          needed !== undefined && unsignedBytesMagic(head) &&
          needed <= gunzippedBound(compressed.length)
        ) {
          out = setAside(needed);
          if (out) {
            concat(chunks, Math.min(size, needed), out);
            chunks = [];
          }
        }
      }
      if (maxItems !== undefined && needed !== undefined && size >= needed) {
        left = true;
        break;
      }
      pausing = true;
      await pause?.();
      pausing = false;
    }
  } catch (cause) {
    if (pausing) throw cause; // (the load given up)
    throw new AnnealError("data", `Cannot gunzip IDX file: ${(cause as Error).message}`, {
      where: file,
      hint: "re-download the file; the gzip stream is damaged or cut short",
      cause,
    });
  }
  // (a stream cut short: the bytes it held, whose length the error names; `length`, the whole
  // stream's, tells parseIdx of bytes after the data)
  const bytes = out ? out.subarray(0, Math.min(size, out.length)) : concat(chunks, size);
  return { bytes, length: left ? bytes.length : size };
}

/**
 * Reads an IDX file, gunzipping it when it starts with the gzip magic. When `path` does not
 * exist, tries the name with `.gz` added or removed, so either layout works. `pause` is awaited
 * between the chunks of a gunzip (see {@linkcode loadData}'s option). With `maxItems`, only the
 * first items are read (see {@linkcode parseIdx}), and of a gzipped file only they are gunzipped.
 *
 * @example
 * ```ts ignore
 * import { readIdxFile } from "./idx.ts";
 * const labels = await readIdxFile("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte", 1);
 * console.log(labels.dims); // [10000]
 * ```
 */
export async function readIdxFile(
  path: string,
  expectedRank?: number | readonly number[],
  pause?: () => Promise<void>,
  maxItems?: number,
): Promise<IdxArray> {
  const alternative = path.endsWith(".gz") ? path.slice(0, -3) : `${path}.gz`;
  let bytes: Uint8Array;
  let used = path;
  try {
    bytes = await readWholeFile(path);
  } catch (first) {
    try {
      bytes = await readWholeFile(alternative);
      used = alternative;
    } catch {
      // a path Deno grants only to --allow-all (/dev/shm): said so, with the fix
      const special = first instanceof Deno.errors.NotCapable
        ? fileError(first, { action: "open the IDX file", path })
        : undefined;
      if (special) throw special;
      throw new AnnealError(
        "data",
        `Cannot open IDX file '${path}' (nor '${alternative}'): ${(first as Error).message}`,
        {
          where: path,
          hint: "set 'dir' and the file names, or install Debian's dataset-fashion-mnist package",
          cause: first,
        },
      );
    }
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    const gunzipped = await gunzipInChunks(bytes, used, pause, maxItems);
    return parseIdx(gunzipped.bytes, used, expectedRank, maxItems, gunzipped.length);
  }
  return parseIdx(bytes, used, expectedRank, maxItems);
}
