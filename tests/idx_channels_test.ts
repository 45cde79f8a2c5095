import assert from "node:assert/strict";
import { loadCheckpoint } from "../mod.ts";
import { tempRunsDir, trainCollect } from "./_helpers.ts";

/** An IDX file of unsigned bytes with the given dimensions. */
function idx(dims: number[], values: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(4 + 4 * dims.length + values.length);
  bytes.set([0, 0, 8, dims.length]);
  const view = new DataView(bytes.buffer);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  bytes.set(values, 4 + 4 * dims.length);
  return bytes;
}

/**
 * `count` 8x8 colour images, channels last: class 0 is reddish, class 1 bluish, green is noise.
 * Every pixel's channel sum has the same spread in both classes: only the channels tell them apart.
 */
function colourImages(count: number, seed: number): { images: Uint8Array; labels: Uint8Array } {
  let state = seed;
  const random = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const images = new Uint8Array(count * 8 * 8 * 3);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    labels[i] = i % 2;
    for (let p = 0; p < 64; p++) {
      const strong = 150 + Math.floor(100 * random());
      const weak = 250 - strong;
      const at = (i * 64 + p) * 3;
      images[at] = labels[i] === 0 ? strong : weak;
      images[at + 1] = Math.floor(256 * random());
      images[at + 2] = labels[i] === 0 ? weak : strong;
    }
  }
  return { images, labels };
}

Deno.test("a small cnn trains on colour IDX images [n, h, w, 3]: three input channels, and it tells the colours apart", async () => {
  await using runs = await tempRunsDir();
  const dir = `${runs.dir}/colour`;
  await Deno.mkdir(dir);
  for (const [split, count, seed] of [["train", 96, 1], ["t10k", 32, 2]] as const) {
    const { images, labels } = colourImages(count, seed);
    await Deno.writeFile(`${dir}/${split}-images-idx3-ubyte`, idx([count, 8, 8, 3], images));
    await Deno.writeFile(`${dir}/${split}-labels-idx1-ubyte`, idx([count], labels));
  }
  const { result } = await trainCollect({
    backend: "cpu",
    runsDir: runs.dir,
    data: { kind: "idx", dir, validationSplit: 0.25 },
    model: { kind: "cnn", filters: [4], dense: [8], batchNorm: false },
    optimizer: { name: "adam", lr: 0.01 },
    batchSize: 16,
    epochs: 6,
  });
  assert.equal(result.status, "completed", result.reason);
  const saved = await loadCheckpoint(`${result.runDir}/checkpoints/last.ckpt`);
  const kernels = Object.entries(saved.weights).filter(([name]) => /conv0.*kernel/.test(name));
  assert.equal(kernels.length, 1, Object.keys(saved.weights).join());
  assert.deepEqual(kernels[0][1].shape, [3, 3, 3, 4], "3x3 kernels over 3 channels, 4 filters");
  assert.ok((result.test?.accuracy ?? 0) >= 0.9, `test accuracy ${result.test?.accuracy}`);
});
