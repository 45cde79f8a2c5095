/**
 * IDX file names (`trainImages`, `trainLabels`, `testImages`, `testLabels`) are paths relative
 * to `data.dir`, or absolute: a set whose files lie in several folders loads, and trains with the
 * data loader's permissions narrowed to the files it reads.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadData } from "../data/mod.ts";
import { idxBytes } from "../data/_test_helpers.ts";
import { tempRunsDir, trainCollect } from "./_helpers.ts";

/** Writes `count` 4x4 grey images (class i % 2: dark or bright) and their labels. */
async function writeSplit(images: string, labels: string, count: number): Promise<void> {
  const pixels = Array.from({ length: count * 16 }, (_, i) => (Math.floor(i / 16) % 2) * 200 + 20);
  await Deno.writeFile(images, idxBytes([count, 4, 4], pixels));
  await Deno.writeFile(labels, idxBytes([count], Array.from({ length: count }, (_, i) => i % 2)));
}

Deno.test("idx file names given as absolute paths are read where they are, not under data.dir", async () => {
  await using folder = await tempRunsDir();
  const files = {
    trainImages: join(folder.dir, "a-train-images"),
    trainLabels: join(folder.dir, "a-train-labels"),
    testImages: join(folder.dir, "a-test-images"),
    testLabels: join(folder.dir, "a-test-labels"),
  };
  await writeSplit(files.trainImages, files.trainLabels, 8);
  await writeSplit(files.testImages, files.testLabels, 4);
  // data.dir is left at its default, a folder that does not hold them
  const data = await loadData({ kind: "idx", ...files, validationSplit: 0 }, 1);
  assert.equal(data.train.n, 8);
  assert.equal(data.test?.n, 4);
  assert.deepEqual(data.train.imageShape, [4, 4, 1]);
});

Deno.test("idx files outside data.dir (../other/..., absolute) train with the data loader's permissions narrowed", async () => {
  await using runs = await tempRunsDir();
  const train = join(runs.dir, "train");
  const test = join(runs.dir, "test");
  await Deno.mkdir(train);
  await Deno.mkdir(test);
  await writeSplit(join(train, "images"), join(train, "labels"), 16);
  await writeSplit(join(test, "images"), join(test, "labels"), 4);
  const { result } = await trainCollect({
    backend: "cpu",
    epochs: 1,
    runsDir: join(runs.dir, "runs"),
    data: {
      kind: "idx",
      dir: train,
      trainImages: "images",
      trainLabels: "labels",
      testImages: "../test/images",
      testLabels: join(test, "labels"),
      validationSplit: 0,
    },
  }, { actorPermissions: "narrow" });
  assert.equal(result.status, "completed", result.reason);
  assert.equal(result.steps, 1);
  assert.ok(result.test !== undefined, "the test pass ran on the files outside dir");
});
