import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { loadResolvedData, loadResolvedRows } from "../data/load_resolved.ts";
import { DataSpecSchema } from "../data/spec.ts";
import { idxBytes } from "../data/_test_helpers.ts";
import {
  evalBatches,
  type LoaderOptions,
  trainBatch,
  trainBatchCount,
  trainBytes,
  trainOrder,
} from "./data_loader.ts";

// The data loader's Worker keeps IDX images as bytes (loadResolvedRows), each batch's floats made
// as it goes: its batches, its fingerprint and its byte batches must be those of the floats.
Deno.test("IDX images kept as bytes give the batches, fingerprint and bytes of their floats: training (augmented or not), validation and test", async () => {
  const dir = await Deno.makeTempDir({ prefix: "anneal-loader-bytes-" });
  try {
    // 90 training and 7 test images of 6x5, gzipped, their bytes a hash of their position
    let h = 99;
    const pixels = (n: number) =>
      Array.from({ length: n * 30 }, () => (h = (h * 1103515245 + 12345) >>> 0) >>> 24);
    const files: [string, Uint8Array][] = [
      ["train-images-idx3-ubyte.gz", idxBytes([90, 6, 5], pixels(90))],
      ["train-labels-idx1-ubyte.gz", idxBytes([90], Array.from({ length: 90 }, (_, i) => i % 4))],
      ["t10k-images-idx3-ubyte.gz", idxBytes([7, 6, 5], pixels(7))],
      ["t10k-labels-idx1-ubyte.gz", idxBytes([7], [0, 1, 2, 3, 0, 1, 2])],
    ];
    for (const [name, bytes] of files) await Deno.writeFile(`${dir}/${name}`, gzipSync(bytes));
    const augments = [
      undefined,
      { flip: true, cropPadding: 1, rotateDegrees: 15, noiseStd: 0.05 },
    ];
    for (const augment of augments) {
      const spec = DataSpecSchema.parse({
        kind: "idx",
        dir,
        validationSplit: 0.2,
        limit: 80,
        ...(augment && { augment }),
      });
      const floats = await loadResolvedData(spec, 5);
      const rows = await loadResolvedRows(spec, 5);
      assert.ok(rows.train.x instanceof Uint8Array && rows.validation?.x instanceof Uint8Array);
      assert.ok(rows.test?.x instanceof Uint8Array && floats.train.x instanceof Float32Array);
      assert.equal(rows.train.n, 64);
      assert.equal(rows.fingerprint, floats.fingerprint);
      const options: LoaderOptions = {
        batchSize: 7,
        evalBatchSize: 3,
        shuffle: true,
        dropLast: false,
        accumulation: 1,
        seed: 11,
        augment: spec.augment,
      };
      for (let epoch = 0; epoch < 2; epoch++) {
        const order = trainOrder(rows.train, options, epoch);
        assert.deepEqual(order, trainOrder(floats.train, options, epoch));
        for (let index = 0; index < trainBatchCount(rows.train, options); index++) {
          const got = trainBatch(rows.train, options, epoch, index, order);
          assert.deepEqual(got, trainBatch(floats.train, options, epoch, index, order));
        }
      }
      for (const split of ["validation", "test"] as const) {
        const got = [...evalBatches(rows[split]!, split, 0, options.evalBatchSize)];
        assert.deepEqual(got, [...evalBatches(floats[split]!, split, 0, options.evalBatchSize)]);
        assert.equal(got.length, Math.ceil(rows[split]!.n / 3));
      }
      // batches as bytes (no augmentation): the same bytes either way
      const bytes = trainBytes(rows.train, options);
      assert.deepEqual(bytes, trainBytes(floats.train, options));
      assert.equal(bytes === undefined, augment !== undefined);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
