import assert from "node:assert/strict";
import {
  CheckpointWriter,
  decodeCheckpoint,
  encodeCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
  writeFileAtomic,
} from "./checkpoint.ts";
import { AnnealError } from "../errors.ts";

const weights = {
  "dense/kernel": { shape: [2, 3], values: new Float32Array([1, 2, 3, 4, 5, 6]) },
  "dense/bias": { shape: [3], values: new Float32Array([0.5, -0.5, 0]) },
};

Deno.test("a checkpoint round-trips weights and state", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await saveCheckpoint(
      `${dir}/last.ckpt`,
      { epoch: 3, step: 40, optimizer: { step: 40 } },
      weights,
    );
    const loaded = await loadCheckpoint(`${dir}/last.ckpt`);
    assert.equal(loaded.state.epoch, 3);
    assert.deepEqual(loaded.state.optimizer, { step: 40 });
    assert.deepEqual(Array.from(loaded.weights["dense/kernel"].values), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(loaded.weights["dense/bias"].shape, [3]);
    const leftovers = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.deepEqual(leftovers, ["last.ckpt"], "no temporary files are left behind");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a torn, tampered or foreign checkpoint is detected and never loaded", async () => {
  const bytes = await encodeCheckpoint({ epoch: 0, step: 1 }, weights);
  const cases: [string, Uint8Array, RegExp][] = [
    ["truncated", bytes.slice(0, bytes.length - 5), /payload has/],
    ["header cut", bytes.slice(0, 20), /truncated header/],
    ["flipped byte", bytes.map((b, i) => (i === bytes.length - 1 ? b ^ 1 : b)), /SHA-256/],
    ["not a checkpoint", new TextEncoder().encode("hello world, not a checkpoint"), /signature/],
    ["empty", new Uint8Array(0), /signature/],
  ];
  for (const [name, damaged, message] of cases) {
    await assert.rejects(() => decodeCheckpoint(damaged, "x.ckpt"), (error: unknown) => {
      assert.ok(error instanceof AnnealError, name);
      assert.equal(error.code, "checkpoint");
      assert.match(error.message, message, name);
      assert.match(error.hint ?? "", /not loaded/);
      return true;
    });
  }
});

Deno.test("a byte of a checkpoint's header changed (its state: a rate, a step) is detected; a format 2 file, whose header had no hash, still loads", async () => {
  // (the header's state loaded unchecked: a rate 0.0125 edited to 0.9125 trained on from it)
  const state = { epoch: 3, step: 40, scheduler: { lr: 0.0125, name: "caf\u00e9" } };
  const bytes = await encodeCheckpoint(state, weights);
  const text = new TextDecoder().decode(bytes);
  const at = new TextEncoder().encode(text.slice(0, text.indexOf("0.0125") + 2)).length;
  const edited = bytes.slice();
  edited[at] = "9".charCodeAt(0);
  await assert.rejects(
    () => decodeCheckpoint(edited, "x.ckpt"),
    /Checkpoint 'x\.ckpt' is damaged: the header's SHA-256 does not match/,
  );
  // a weight's shape, in the header too
  const shape = text.indexOf('"shape":[2,3]') + '"shape":['.length;
  const reshaped = bytes.slice();
  reshaped[new TextEncoder().encode(text.slice(0, shape)).length] = "3".charCodeAt(0);
  await assert.rejects(() => decodeCheckpoint(reshaped, "x.ckpt"), /header's SHA-256/);
  assert.deepEqual((await decodeCheckpoint(bytes, "x.ckpt")).state, state);
  // format 2: the same layout, the header without its hash
  const headerLength = new DataView(bytes.buffer).getUint32(12, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + headerLength)));
  delete header.headerSha256;
  const headerText = JSON.stringify(header);
  const payload = bytes.slice(16 + headerLength);
  const headerBytes = new TextEncoder().encode(
    headerText + " ".repeat((4 - (new TextEncoder().encode(headerText).length % 4)) % 4),
  );
  const old = new Uint8Array(16 + headerBytes.length + payload.length);
  old.set(bytes.subarray(0, 8));
  new DataView(old.buffer).setUint32(8, 2, true);
  new DataView(old.buffer).setUint32(12, headerBytes.length, true);
  old.set(headerBytes, 16);
  old.set(payload, 16 + headerBytes.length);
  assert.deepEqual((await decodeCheckpoint(old, "old.ckpt")).state, state);
});

Deno.test("the optimizer's float32 slots travel as raw float32 in the payload, under the SHA-256", async () => {
  const m = new Float32Array(1000).map((_, i) => Math.sin(i));
  const state = {
    epoch: 2,
    step: 30,
    optimizer: {
      name: "adam",
      step: 30,
      slots: {
        "dense/kernel/m": { shape: [10, 100], values: m },
        "dense/bias/m": { shape: [3], values: [0.25, -1, 3] }, // plain numbers stay JSON
      },
    },
  };
  const bytes = await encodeCheckpoint(state, weights);
  // 4000 bytes of moments as float32, not as ~20 characters of JSON each
  assert.ok(bytes.length < 4 * (1000 + 9) + 1024, `${bytes.length} bytes`);
  const loaded = await decodeCheckpoint(bytes, "x.ckpt");
  const slots = (loaded.state.optimizer as typeof state.optimizer).slots;
  assert.ok(slots["dense/kernel/m"].values instanceof Float32Array);
  assert.deepEqual(slots["dense/kernel/m"].values, m);
  assert.deepEqual(slots["dense/bias/m"].values, [0.25, -1, 3]);
  assert.deepEqual(Array.from(loaded.weights["dense/kernel"].values), [1, 2, 3, 4, 5, 6]);
  // a flipped bit in the moments (the payload's end) is caught like one in the weights
  const flipped = bytes.map((b, i) => (i === bytes.length - 2 ? b ^ 4 : b));
  await assert.rejects(() => decodeCheckpoint(flipped, "x.ckpt"), /SHA-256/);
});

Deno.test("a format 1 checkpoint (slots as JSON numbers) still loads", async () => {
  const payload = new Float32Array([1, 2, 3, 4, 5, 6, 0.5, -0.5, 0]);
  const payloadBytes = new Uint8Array(payload.buffer);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", payloadBytes));
  const header = JSON.stringify({
    state: {
      epoch: 1,
      step: 5,
      optimizer: { slots: { "dense/bias/m": { shape: [1], values: [7] } } },
    },
    weights: [
      { name: "dense/kernel", shape: [2, 3], length: 6 },
      { name: "dense/bias", shape: [3], length: 3 },
    ],
    payloadBytes: payloadBytes.length,
    sha256: Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join(""),
  });
  const headerBytes = new TextEncoder().encode(header + " ".repeat((4 - header.length % 4) % 4));
  const bytes = new Uint8Array(16 + headerBytes.length + payloadBytes.length);
  bytes.set(new TextEncoder().encode("ANNEALCK"));
  new DataView(bytes.buffer).setUint32(8, 1, true);
  new DataView(bytes.buffer).setUint32(12, headerBytes.length, true);
  bytes.set(headerBytes, 16);
  bytes.set(payloadBytes, 16 + headerBytes.length);
  const loaded = await decodeCheckpoint(bytes, "old.ckpt");
  assert.deepEqual(loaded.state.optimizer, {
    slots: { "dense/bias/m": { shape: [1], values: [7] } },
  });
  assert.deepEqual(Array.from(loaded.weights["dense/bias"].values), [0.5, -0.5, 0]);
});

Deno.test("CheckpointWriter writes the newest queued checkpoint of each file, tells each write, and reports a failed write", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const written: string[] = [];
    const errors: unknown[] = [];
    const writer = new CheckpointWriter({
      onWritten: (path, state) => written.push(`${path.slice(dir.length + 1)}@${state.epoch}`),
      onError: (error) => errors.push(error),
    });
    const weightsOf = (v: number) => ({ w: { shape: [2], values: new Float32Array([v, v]) } });
    // The first write starts at once; 2 and 3 wait behind it, and 3 replaces 2.
    for (let epoch = 1; epoch <= 3; epoch++) {
      writer.queue(`${dir}/last.ckpt`, { epoch, step: epoch * 10 }, weightsOf(epoch));
    }
    writer.queue(`${dir}/best.ckpt`, { epoch: 2, step: 20 }, weightsOf(2));
    await writer.flush();
    const last = await loadCheckpoint(`${dir}/last.ckpt`);
    assert.equal(last.state.epoch, 3);
    assert.deepEqual(Array.from(last.weights.w.values), [3, 3]);
    assert.equal((await loadCheckpoint(`${dir}/best.ckpt`)).state.epoch, 2);
    // told once each file is on disk (epoch 2's last.ckpt was replaced before its turn)
    assert.deepEqual(written, ["last.ckpt@1", "last.ckpt@3", "best.ckpt@2"]);
    assert.equal(errors.length, 0);

    writer.queue(`${dir}/missing/last.ckpt`, { epoch: 4, step: 40 }, weightsOf(4));
    await assert.rejects(() => writer.flush(), /the directory '.*\/missing' does not exist/);
    assert.equal(errors.length, 1, "onError is told of the failed write");
    // After a failure nothing more is written, and flush keeps failing.
    writer.queue(`${dir}/last.ckpt`, { epoch: 5, step: 50 }, weightsOf(5));
    await assert.rejects(() => writer.flush());
    assert.equal((await loadCheckpoint(`${dir}/last.ckpt`)).state.epoch, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFileAtomic into a missing directory says which path, why and how to fix it, not Deno's NotFound of its temporary file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // (a runs directory removed while a run wrote to it, an --out path in no directory)
    const path = `${dir}/gone/summary.json`;
    const error = await writeFileAtomic(path, new TextEncoder().encode("{}")).then(
      () => assert.fail("written into a directory that does not exist"),
      (error: unknown) => error,
    );
    assert.ok(error instanceof AnnealError, String(error));
    assert.equal(error.code, "file");
    assert.equal(error.where, path);
    assert.equal(
      error.message,
      `Cannot write '${path}': the directory '${dir}/gone' does not exist`,
    );
    assert.match(error.hint ?? "", new RegExp(`mkdir -p '${dir}/gone'`));
    assert.ok(error.cause instanceof Deno.errors.NotFound, "Deno's error is kept as its cause");
    // a file where its directory goes
    await Deno.writeTextFile(`${dir}/file`, "");
    await assert.rejects(
      () => writeFileAtomic(`${dir}/file/x.json`, new Uint8Array([1])),
      (error: unknown) =>
        error instanceof AnnealError && error.code === "file" &&
        /'.*\/file' is a file, not a directory/.test(error.message),
    );
    // and a path that can be written is, leaving no temporary file
    await writeFileAtomic(`${dir}/ok.json`, new TextEncoder().encode("{}"));
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["file", "ok.json"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFileAtomic writes through a symbolic link at the path: the link stays, the file it names is replaced", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/real.json`, '{"epochs":1}\n');
    await Deno.symlink("real.json", `${dir}/config.json`);
    // (lr-find --apply of a linked config: the link became a file, the config was unchanged)
    await writeFileAtomic(`${dir}/config.json`, new TextEncoder().encode('{"epochs":2}\n'));
    assert.ok((await Deno.lstat(`${dir}/config.json`)).isSymlink, "the link was replaced");
    assert.equal(await Deno.readTextFile(`${dir}/real.json`), '{"epochs":2}\n');
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "config.json",
      "real.json",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFileAtomic to a FIFO or a device writes into it, leaving the node in place (it renamed a regular file over /dev/null)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fifo = `${dir}/pipe`;
    const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    assert.ok(made.success);
    const reader = Deno.readTextFile(fifo);
    await writeFileAtomic(fifo, new TextEncoder().encode("through the pipe"));
    assert.equal(await reader, "through the pipe");
    const info = await Deno.stat(fifo);
    assert.ok(info.isFifo, "still a FIFO");
    // a character device (written, never replaced)
    await writeFileAtomic("/dev/null", new TextEncoder().encode("nothing"));
    assert.ok((await Deno.stat("/dev/null")).isCharDevice);
    assert.deepEqual([...Deno.readDirSync(dir)].map((entry) => entry.name), ["pipe"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
