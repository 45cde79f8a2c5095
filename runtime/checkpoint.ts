/**
 * Checkpoint files: one file holding a JSON header and the weights as raw float32, written to a
 * temporary name, synced and renamed into place (atomic on POSIX), and checked on load with a
 * SHA-256 of the header and one of everything after it, so a torn or tampered file is detected,
 * never loaded.
 *
 * Layout: `ANNEALCK` (8 bytes) | format version (u32 LE) | header length (u32 LE) | header JSON |
 * payload (float32 weights, in header order, then the state's float32 arrays).
 *
 * Format 2 (written since the eighth session) moves every `Float32Array` in the state (the
 * optimizer's moments, as large as the weights each) into the payload, where the header's JSON
 * has `{"$f32": i}`: written as JSON numbers they made an Adam MLP's checkpoint 28.5 MB and
 * ~110 ms of the trainer's time to encode, and the SHA-256 did not cover them. Format 3 (since
 * the fifty-eighth session) hashes the header too: a byte changed in its state (a rate, a step
 * count) loaded without a word, and the run trained on from it. Format 1 and 2 files still load,
 * their headers unchecked.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { AnnealError } from "../errors.ts";
import { fileError } from "../file_errors.ts";
import { checkArgument } from "../option_names.ts";
import { readWholeFile } from "../read_file.ts";
import { shellWord } from "../shell_word.ts";

const MAGIC = new TextEncoder().encode("ANNEALCK");
const FORMAT_VERSION = 3;
/** Formats `decodeCheckpoint` reads. */
const READABLE_VERSIONS = [1, 2, 3];
/**
 * Format 3's header opens with its own SHA-256 (of the header as written, this field's 64 hex
 * digits as zeros): the state the resume goes on from (the optimizer's scalars, the schedule's,
 * early stopping's, the rates) and the weights' names and shapes are checked as the payload is.
 */
const HEADER_HASH_OPEN = '{"headerSha256":"';
const HEADER_HASH_AT = 16 + HEADER_HASH_OPEN.length;
const ZERO_HASH = "0".repeat(64);

/** Weights by name. */
export type WeightMap = Record<string, { shape: number[]; values: Float32Array }>;

/** Everything besides the weights: optimizer, scheduler, early stopper, position. */
export interface CheckpointState {
  /**
   * Zero-based index of the last completed epoch (-1: none, for a run stopped within its first).
   * A checkpoint of a run stopped within the next epoch says where in `within` (the trainer's
   * `WithinEpoch`: its batches trained and sums so far).
   */
  epoch: number;
  /** Optimizer steps taken so far. */
  step: number;
  /** The actors' own state (optimizer, scheduler, early stopper, ...). */
  [key: string]: unknown;
}

interface Header {
  /** Format 3: the header's own SHA-256 (see {@linkcode HEADER_HASH_OPEN}). */
  headerSha256?: string;
  state: CheckpointState;
  weights: { name: string; shape: number[]; length: number }[];
  /** Format 2: lengths of the state's float32 arrays, stored after the weights. */
  arrays?: number[];
  payloadBytes: number;
  sha256: string;
}

/** The key standing in for a float32 array of the state in the header's JSON. */
const ARRAY_KEY = "$f32";

/** (node:crypto's hash reads the bytes where they lie; Web Crypto's `digest` copied them first.) */
function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Serialises a checkpoint to bytes. */
// (async as the API has been, from when the hash was Web Crypto's; a failure is a rejection)
// deno-lint-ignore require-await
export async function encodeCheckpoint(
  state: CheckpointState,
  weights: WeightMap,
): Promise<Uint8Array> {
  const entries = Object.entries(weights);
  // the state's float32 arrays go to the payload; the JSON keeps their index
  const arrays: Float32Array[] = [];
  const stateJson = JSON.stringify(state, (_key, value) => {
    // (float64 values as JSON numbers, which keep them exactly: the clip monitor's norms)
    if (value instanceof Float64Array) return Array.from(value);
    if (!(value instanceof Float32Array)) return value;
    arrays.push(value);
    return { [ARRAY_KEY]: arrays.length - 1 };
  });
  const payloadLength = entries.reduce((sum, [, w]) => sum + w.values.length, 0) +
    arrays.reduce((sum, array) => sum + array.length, 0);
  const payload = new Float32Array(payloadLength);
  let offset = 0;
  for (const values of [...entries.map(([, weight]) => weight.values), ...arrays]) {
    payload.set(values, offset);
    offset += values.length;
  }
  const payloadBytes = new Uint8Array(payload.buffer);
  const header = {
    headerSha256: ZERO_HASH,
    state: "$STATE",
    weights: entries.map(([name, w]) => ({ name, shape: w.shape, length: w.values.length })),
    arrays: arrays.map((array) => array.length),
    payloadBytes: payloadBytes.length,
    sha256: sha256Hex(payloadBytes),
  };
  // the state's JSON spliced in as written above (not stringified twice)
  const headerJson = JSON.stringify(header).replace('"$STATE"', () => stateJson);
  const headerBytes = new TextEncoder().encode(headerJson);
  // Pad the header so the payload starts 4-byte aligned (a Float32Array view needs it).
  const pad = (4 - ((16 + headerBytes.length) % 4)) % 4;
  const out = new Uint8Array(16 + headerBytes.length + pad + payloadBytes.length);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint32(8, FORMAT_VERSION, true);
  view.setUint32(12, headerBytes.length + pad, true);
  out.set(headerBytes, 16);
  out.fill(0x20, 16 + headerBytes.length, 16 + headerBytes.length + pad);
  out.set(payloadBytes, 16 + headerBytes.length + pad);
  // the header's hash, over the header with the hash's digits as zeros, in their place
  const hash = sha256Hex(out.subarray(16, 16 + headerBytes.length));
  out.set(new TextEncoder().encode(hash), HEADER_HASH_AT);
  return out;
}

/** Parses and verifies checkpoint bytes; `where` names the file in errors. */
// (async as the API has been: a torn file is a rejection, as it was)
// deno-lint-ignore require-await
export async function decodeCheckpoint(
  bytes: Uint8Array,
  where: string,
): Promise<{ state: CheckpointState; weights: WeightMap }> {
  const torn = (detail: string) =>
    new AnnealError("checkpoint", `Checkpoint '${where}' is damaged: ${detail}`, {
      where,
      hint: "it was not loaded: it was cut short or changed after anneal wrote it",
    });
  if (bytes.length < 16 || !MAGIC.every((b, i) => bytes[i] === b)) {
    throw torn("it does not start with the ANNEALCK signature");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (!READABLE_VERSIONS.includes(version)) {
    throw torn(`unknown format version ${version} (this anneal reads ${READABLE_VERSIONS})`);
  }
  const headerLength = view.getUint32(12, true);
  if (16 + headerLength > bytes.length) {
    throw torn(`truncated header (file has ${bytes.length} bytes)`);
  }
  let header: Header;
  const headerText = new TextDecoder().decode(bytes.subarray(16, 16 + headerLength));
  try {
    header = JSON.parse(headerText);
  } catch {
    throw torn("the header is not valid JSON");
  }
  if (version >= 3) {
    // (the header as written: without the spaces that align the payload after it)
    let end = 16 + headerLength;
    while (end > 16 && bytes[end - 1] === 0x20) end--;
    const written = bytes.slice(16, end);
    const recorded = new TextDecoder().decode(
      written.subarray(HEADER_HASH_AT - 16, HEADER_HASH_AT - 16 + 64),
    );
    written.set(new TextEncoder().encode(ZERO_HASH), HEADER_HASH_AT - 16);
    if (!headerText.startsWith(HEADER_HASH_OPEN) || sha256Hex(written) !== recorded) {
      throw torn("the header's SHA-256 does not match (the run's state or its weights' layout)");
    }
  }
  const payload = bytes.slice(16 + headerLength);
  if (payload.length !== header.payloadBytes) {
    throw torn(
      `payload has ${payload.length} bytes, the header says ${header.payloadBytes} (truncated?)`,
    );
  }
  if (sha256Hex(payload) !== header.sha256) {
    throw torn("the payload's SHA-256 does not match");
  }
  const floats = new Float32Array(payload.buffer, 0, payload.length / 4);
  const weights: WeightMap = {};
  let offset = 0;
  for (const weight of header.weights) {
    weights[weight.name] = {
      shape: weight.shape,
      values: floats.slice(offset, offset + weight.length),
    };
    offset += weight.length;
  }
  const arrays = (header.arrays ?? []).map((length) => {
    const array = floats.slice(offset, offset + length);
    offset += length;
    return array;
  });
  if (offset !== floats.length) {
    throw torn(`the header accounts for ${offset} of the payload's ${floats.length} floats`);
  }
  // back in place of their stand-ins
  const restore = (value: unknown): unknown => {
    if (value === null || typeof value !== "object") return value;
    if (Array.isArray(value)) return value.map(restore);
    const entries = Object.entries(value);
    if (entries.length === 1 && entries[0][0] === ARRAY_KEY) {
      const array = arrays[entries[0][1] as number];
      if (!array) throw torn(`the state names float array ${entries[0][1]}, not in the payload`);
      return array;
    }
    return Object.fromEntries(entries.map(([key, item]) => [key, restore(item)]));
  };
  return { state: restore(header.state) as CheckpointState, weights };
}

/**
 * The file a write of `path` replaces: the one a symbolic link at `path` names, else `path` (a
 * rename onto the link replaced the link with a file, and left the file it named as it was:
 * `lr-find --apply` of a linked config did not change the config); and whether that is there and
 * neither a regular file nor a directory (a device, a FIFO: written into, not renamed over).
 */
async function linkedFile(path: string): Promise<{ path: string; special: boolean }> {
  // (one lstat for a path that is no link, as every checkpoint's is: its kind is the file's)
  const special = (info: Deno.FileInfo) => !info.isFile && !info.isDirectory;
  try {
    const info = await Deno.lstat(path);
    if (!info.isSymlink) return { path, special: special(info) };
    const real = await Deno.realPath(path);
    return { path: real, special: special(await Deno.stat(real)) };
  } catch {
    return { path, special: false }; // not there yet, or a link to nothing: written where it is
  }
}

/**
 * Writes a file atomically: temporary name, fsync, rename; through a symbolic link at `path`, to
 * the file it names; to a device or a FIFO at `path` (`/dev/null`), straight, as a shell's `>`
 * does. A path the file system refuses (its
 * directory missing or a file, no permission, a full disk) is an {@linkcode AnnealError} (code
 * `file`, `where`: the path) that names the path asked for, not the temporary one, and says how
 * to fix it, in place of Deno's own error (its `cause`).
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./checkpoint.ts";
 * try {
 *   await writeFileAtomic("/no/such/dir/out.json", new TextEncoder().encode("{}"));
 * } catch (error) {
 *   console.assert((error as Error).message.includes("'/no/such/dir' does not exist"));
 * }
 * ```
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  checkArgument(
    typeof path === "string" && path !== "",
    path,
    "write the file",
    "path",
    "a file's path",
    "pass the path to write, e.g. 'runs/out.json'",
  );
  checkArgument(
    bytes instanceof Uint8Array,
    typeof bytes === "string" ? "a string" : bytes,
    "write the file",
    "bytes",
    "a Uint8Array",
    "encode text first: new TextEncoder().encode(text)",
  );
  const { path: target, special } = await linkedFile(path);
  if (special) {
    // A device or a FIFO (`--out /dev/null`, a terminal's `/dev/stdout`, a pipe): written to, as
    // a shell's `>` writes; a rename over it replaced the device node with a regular file
    try {
      await Deno.writeFile(target, bytes);
      return;
    } catch (error) {
      throw fileError(error, { action: "write", path, writing: true }) ?? error;
    }
  }
  const temporary = `${target}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(temporary, { write: true, create: true, truncate: true });
  } catch (error) {
    throw fileError(error, { action: "write", path, writing: true }) ?? error;
  }
  try {
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    await file.sync();
    file.close();
    await Deno.rename(temporary, target);
  } catch (error) {
    try {
      file.close();
    } catch { /* closed already */ }
    await Deno.remove(temporary).catch(() => {}); // no half-written leftovers
    throw fileError(error, { action: "write", path, writing: true }) ?? error;
  }
}

/** A temporary file {@linkcode writeFileAtomic} writes before its rename: `<name>.tmp-<8 hex>`. */
const TEMPORARY = /\.tmp-[0-9a-f]{8}$/;

/**
 * Removes the temporaries {@linkcode writeFileAtomic} left in `dir` and in its `checkpoints/` (a
 * process killed, or stopped by a second Ctrl-C, between a write's start and its rename: each a
 * whole checkpoint's bytes, kept for good); for the run's own process, which holds its lock, as a
 * resume starts. Returns the names removed; a directory that is not there is none.
 */
export async function removeWriteLeftovers(dir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const where of [dir, `${dir}/checkpoints`]) {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(where));
    } catch {
      continue;
    }
    for (const entry of entries) {
      if (!entry.isFile || !TEMPORARY.test(entry.name)) continue;
      const path = `${where}/${entry.name}`;
      await Deno.remove(path).then(() => removed.push(path), () => {});
    }
  }
  return removed;
}

/** Writes a checkpoint file atomically. */
export async function saveCheckpoint(
  path: string,
  state: CheckpointState,
  weights: WeightMap,
): Promise<void> {
  await writeFileAtomic(path, await encodeCheckpoint(state, weights));
}

/**
 * Writes checkpoints in the background, one file at a time, newest first-come: while a file is
 * being written, a newer checkpoint for a path replaces the one still waiting for it. A run whose
 * epochs end faster than the disk syncs thus writes what is newest instead of queueing one write
 * per epoch, and every file on disk is always a whole checkpoint (each write is atomic). After a
 * write fails, later ones are dropped, `onError` (if given) is told, and
 * {@linkcode CheckpointWriter.flush} throws the error. The supervisor's thread runs one per run.
 *
 * @example
 * ```ts
 * import { CheckpointWriter, loadCheckpoint } from "./checkpoint.ts";
 * const dir = await Deno.makeTempDir();
 * const weights = { "dense/kernel": { shape: [2, 1], values: new Float32Array([0.5, -1]) } };
 * const writer = new CheckpointWriter();
 * writer.queue(`${dir}/last.ckpt`, { epoch: 0, step: 13 }, weights);
 * await writer.flush(); // everything queued is on disk
 * const saved = await loadCheckpoint(`${dir}/last.ckpt`);
 * console.assert(saved.state.step === 13 && saved.weights["dense/kernel"].values[1] === -1);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class CheckpointWriter {
  #waiting = new Map<string, { state: CheckpointState; weights: WeightMap }>();
  #running: Promise<void> | undefined;
  #error: unknown;
  #failed = false;
  readonly #onError?: (error: unknown) => void;
  readonly #onWritten?: (path: string, state: CheckpointState) => void;

  /**
   * `onError` is told of the first failed write as soon as it fails; `onWritten` of each file
   * once it is on disk (synced and renamed into place).
   */
  constructor(options: {
    onError?: (error: unknown) => void;
    onWritten?: (path: string, state: CheckpointState) => void;
  } = {}) {
    this.#onError = options.onError;
    this.#onWritten = options.onWritten;
  }

  /** Queues a write of `path`, replacing a queued one for the same path that has not started. */
  queue(path: string, state: CheckpointState, weights: WeightMap): void {
    if (this.#failed) return;
    this.#waiting.set(path, { state, weights });
    this.#running ??= this.#drain();
  }

  async #drain(): Promise<void> {
    try {
      for (const [path, checkpoint] of this.#waiting) {
        this.#waiting.delete(path);
        await saveCheckpoint(path, checkpoint.state, checkpoint.weights);
        this.#onWritten?.(path, checkpoint.state);
      }
    } catch (error) {
      this.#failed = true;
      this.#error = error;
      this.#waiting.clear();
      this.#onError?.(error);
    } finally {
      this.#running = undefined;
    }
  }

  /** Waits until every queued checkpoint is written; throws the first write error, if any. */
  async flush(): Promise<void> {
    while (this.#running) await this.#running;
    if (this.#failed) throw this.#error;
  }
}

/** Loads and verifies a checkpoint file. */
export async function loadCheckpoint(
  path: string,
): Promise<{ state: CheckpointState; weights: WeightMap }> {
  let bytes: Uint8Array;
  try {
    bytes = await readWholeFile(path);
  } catch (cause) {
    // (the OS's reason, said: a directory in its place, a permission; and a hint about the file,
    // where it said to check the run id, which was right)
    const reason = fileError(cause, { action: "read checkpoint", path })?.message ??
      `Cannot read checkpoint '${path}': ${cause instanceof Error ? cause.message : cause}`;
    throw new AnnealError("checkpoint", reason, {
      where: path,
      hint: cause instanceof Deno.errors.NotFound
        ? "check the path: a run's checkpoints are <runs dir>/<run id>/checkpoints/last.ckpt and " +
          "best.ckpt (`anneal runs` lists the runs)"
        : `make it the readable file anneal wrote again (\`ls -l ${shellWord(path)}\` shows ` +
          "what is in its place: a directory, its permissions, a symbolic link)",
      cause,
    });
  }
  return decodeCheckpoint(bytes, path);
}
