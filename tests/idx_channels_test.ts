import assert from "node:assert/strict";
import { loadCheckpoint } from "../mod.ts";
import { tempRunsDir, trainCollect } from "./_helpers.ts";
import { idxBytes as idx } from "../data/_test_helpers.ts";

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

/** `images` of `count` samples [h, w, c] as channels-first samples [c, h, w]. */
function channelsFirst(images: Uint8Array, count: number, [h, w, c]: number[]): Uint8Array {
  const out = new Uint8Array(images.length);
  for (let i = 0; i < count; i++) {
    for (let p = 0; p < h * w; p++) {
      for (let k = 0; k < c; k++) {
        out[i * h * w * c + k * h * w + p] = images[(i * h * w + p) * c + k];
      }
    }
  }
  return out;
}

Deno.test("colour IDX images written channels first [n, 3, h, w] train with data.layout nchw as the same images channels last do", async () => {
  await using runs = await tempRunsDir();
  const last = `${runs.dir}/last`;
  const first = `${runs.dir}/first`;
  for (const dir of [last, first]) await Deno.mkdir(dir);
  for (const [split, count, seed] of [["train", 64, 3], ["t10k", 16, 4]] as const) {
    const { images, labels } = colourImages(count, seed);
    await Deno.writeFile(`${last}/${split}-images-idx3-ubyte`, idx([count, 8, 8, 3], images));
    await Deno.writeFile(
      `${first}/${split}-images-idx3-ubyte`,
      idx([count, 3, 8, 8], channelsFirst(images, count, [8, 8, 3])),
    );
    for (const dir of [last, first]) {
      await Deno.writeFile(`${dir}/${split}-labels-idx1-ubyte`, idx([count], labels));
    }
  }
  const config = {
    backend: "cpu" as const,
    runsDir: runs.dir,
    model: { kind: "cnn" as const, filters: [4], dense: [8], batchNorm: false },
    optimizer: { name: "adam" as const, lr: 0.01 },
    batchSize: 16,
    epochs: 2,
  };
  const trained = [];
  for (const data of [{ dir: last }, { dir: first, layout: "nchw" as const }]) {
    const { result, events } = await trainCollect({ ...config, data: { kind: "idx", ...data } });
    assert.equal(result.status, "completed", result.reason);
    const plan = events.find((e) => e.type === "plan") as { dataset: { fingerprint: string } };
    trained.push({ result, fingerprint: plan.dataset.fingerprint });
  }
  assert.equal(trained[1].fingerprint, trained[0].fingerprint, "the same samples, bytes and all");
  const [a, b] = await Promise.all(
    trained.map(({ result }) => loadCheckpoint(`${result.runDir}/checkpoints/last.ckpt`)),
  );
  for (const [name, weight] of Object.entries(a.weights)) {
    assert.deepEqual(Array.from(b.weights[name].values), Array.from(weight.values), name);
  }
});

Deno.test("short IDX images of many channels ([n, 2, 8, 8]: 2 rows of 8 pixels, 8 channels) train as channels last once data.layout says so", async () => {
  await using runs = await tempRunsDir();
  const dir = `${runs.dir}/strips`;
  await Deno.mkdir(dir);
  for (const [split, count] of [["train", 32], ["t10k", 8]] as const) {
    const images = Uint8Array.from({ length: count * 2 * 8 * 8 }, (_, i) => (i * 37) % 256);
    const labels = Uint8Array.from({ length: count }, (_, i) => i % 2);
    await Deno.writeFile(`${dir}/${split}-images-idx3-ubyte`, idx([count, 2, 8, 8], images));
    await Deno.writeFile(`${dir}/${split}-labels-idx1-ubyte`, idx([count], labels));
  }
  const config = {
    backend: "cpu" as const,
    runsDir: runs.dir,
    model: { kind: "cnn" as const, filters: [4], dense: [8], batchNorm: false },
    batchSize: 16,
    epochs: 1,
  };
  // [n, 2, 8, 8] reads as 2 planes of 8x8 just as well: refused until the layout is said
  const refused = await trainCollect({ ...config, data: { kind: "idx", dir, validationSplit: 0 } })
    .then(({ result }) => result, (error) => error);
  assert.match(String(refused.reason ?? refused.message), /channels first .* or last/);
  const { result, events } = await trainCollect({
    ...config,
    data: { kind: "idx", dir, validationSplit: 0, layout: "nhwc" },
  });
  assert.equal(result.status, "completed", result.reason);
  const plan = events.find((e) => e.type === "plan") as { dataset: { inputShape: number[] } };
  assert.deepEqual(plan.dataset.inputShape, [2, 8, 8]);
});
