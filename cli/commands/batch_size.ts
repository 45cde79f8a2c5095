/**
 * `anneal batch-size`: throughput, memory and the scaled LR per batch size.
 *
 * @module
 */
import { AnnealError, findBatchSize, loadConfig } from "../../mod.ts";
import { formatNumber } from "../output.ts";
import { parseNumberFlag } from "./schedule.ts";
import { DEFAULT_MAX_BATCH, emptyEpoch } from "../../runtime/batch_size.ts";
import { normalizableBatches } from "../../task_fit.ts";
import { nonFiniteAsText } from "../../number_format.ts";

/** Options of `anneal batch-size`. */
export interface BatchSizeCommandOptions {
  config?: string;
  set: string[];
  sizes?: string;
  memoryLimit?: string;
  steps?: string;
  json?: boolean;
}

/** Runs `anneal batch-size`; returns the exit code. */
export async function batchSizeCommand(options: BatchSizeCommandOptions): Promise<number> {
  const config = await loadConfig(options.config, options.set);
  const sizes = options.sizes?.split(",").map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n <= 0) {
      throw new AnnealError("usage", `--sizes must list positive integers, got '${s}'`, {
        hint: "e.g. --sizes 16,32,64",
      });
    }
    return n;
  });
  const memoryLimitMiB = options.memoryLimit === undefined
    ? undefined
    : Number(options.memoryLimit);
  // (Infinity, or 1e999, was refused by the module under its option's name, 'memoryLimitMiB')
  if (memoryLimitMiB !== undefined && !(memoryLimitMiB > 0 && Number.isFinite(memoryLimitMiB))) {
    throw new AnnealError(
      "usage",
      `--memory-limit must be a positive number of MiB, current value is '${options.memoryLimit}'`,
      { hint: "give it like --memory-limit 512 (MiB)" },
    );
  }
  const steps = options.steps === undefined
    ? undefined
    : parseNumberFlag("--steps", options.steps, true);
  const header = "batch  ms/step  samples/s  peak MiB  scaled lr  fits";
  if (!options.json) console.log(header);
  const result = await findBatchSize(config, {
    sizes,
    memoryLimitMiB,
    steps,
    onProgress: (row) => {
      if (options.json) return;
      const cells = [
        String(row.batchSize).padStart(5),
        formatNumber(row.msPerStep).padStart(8),
        perSecond(row.samplesPerSecond).padStart(10),
        formatNumber(row.peakMiB).padStart(9),
        formatNumber(row.scaledLr).padStart(10),
        row.fits ? "  yes" : `  no${row.error ? ` (${row.error})` : ""}` +
          (row.overLimit ? ` (${row.overLimit})` : "") +
          (row.skipped ? ` (not tried: ${row.skipped})` : ""),
      ];
      console.log(cells.join(" ") + (row.warning ? `\n  warning: ${row.warning}` : ""));
    },
  });
  // (with --json the result, then the same errors and exit status as the text's)
  if (options.json) console.log(JSON.stringify(result, nonFiniteAsText));
  else if (
    options.sizes === undefined && result.largest === DEFAULT_MAX_BATCH &&
    result.trainSize > DEFAULT_MAX_BATCH
  ) {
    // (the default sizes stop there: "largest batch that fits 4096" is the largest tried)
    // (sizes up to the training set: a larger one is not tried)
    const n = result.trainSize;
    const larger = [2, 4].map((k) => DEFAULT_MAX_BATCH * k).filter((size) => size < n);
    console.log(
      `note: the default sizes stop at ${DEFAULT_MAX_BATCH} of the ${n} training samples; to ` +
        `try larger ones: --sizes ${[DEFAULT_MAX_BATCH, ...larger, n].join(",")}`,
    );
  } else if (result.rows.some((row) => row.batchSize > result.trainSize)) {
    console.log(
      `note: sizes above the ${result.trainSize} training samples were not tried; ` +
        `the largest batch an epoch holds is ${result.trainSize} (--sizes ${result.trainSize})`,
    );
  }
  const smallest = result.rows.find((row) => row.batchSize <= result.trainSize);
  if (result.largest === undefined && smallest === undefined) {
    // (every size given above the training set: none was tried, which "fits none" did not say)
    throw new AnnealError(
      "usage",
      `No batch size tried: every size given is above the ${result.trainSize} training samples`,
      {
        where: "--sizes",
        hint: `give sizes up to ${result.trainSize} (a batch holds at most the training set), ` +
          `e.g. --sizes ${
            [...new Set([1, 8, 32, result.trainSize].filter((n) => n <= result.trainSize))]
              .join(",")
          }`,
      },
    );
  }
  const tried = result.rows.filter((row) => row.batchSize <= result.trainSize);
  if (result.largest === undefined && tried.length > 0 && tried.every((row) => row.skipped)) {
    const n = result.trainSize;
    // every size makes a step of more than the training set, which data.dropLast drops
    const empty = tried.filter((row) => emptyEpoch(config, n, row.batchSize) !== undefined);
    if (empty.length > 0) {
      const accumulation = config.gradientAccumulation;
      const most = Math.floor(n / accumulation);
      throw new AnnealError(
        "usage",
        `No batch size tried: ${empty.length === 1 ? "the size" : "each size"} (${
          empty.map((row) => row.batchSize).join(", ")
        }) x gradientAccumulation ` +
          `${accumulation} is more than the ${n} training samples a step, and data.dropLast ` +
          "drops the short group, so an epoch would take no step",
        {
          where: "--sizes",
          // (fewer training samples than gradientAccumulation: no size makes a whole step)
          hint: most < 1
            ? "keep the short group (--set data.dropLast=false), or train without " +
              "accumulation (--set gradientAccumulation=1)"
            : `give sizes up to ${most} (--sizes ${
              [...new Set([8, 32, most].filter((s) => s <= most))].join(",")
            }), or keep the short group (--set data.dropLast=false)`,
        },
      );
    }
    // every size leaves a batch of one sample under batch norm: none was tried
    const sizes = [
      ...new Set([8, 10, 12, 20, 32, 50, 64, n].filter((s) => s <= n && normalizableBatches(n, s))),
    ];
    throw new AnnealError(
      "usage",
      `No batch size tried: ${
        options.sizes === undefined
          ? "each default size"
          : tried.length === 1
          ? "the size given"
          : "each size given"
      } ` +
        `(${tried.map((row) => row.batchSize).join(", ")}) leaves batches of one sample among ` +
        `the ${n} training samples, which the model's batch norm cannot normalize`,
      {
        where: "--sizes",
        // (dropLast only where a size's whole step fits the training set: under gradient
        // accumulation a larger one leaves an epoch no step, which train refuses)
        hint: [
          ...(tried.some((row) => row.batchSize * config.gradientAccumulation <= n)
            ? ["drop the short batch (--set data.dropLast=true)"]
            : []),
          ...(sizes.length > 0 ? [`try sizes that leave none (--sizes ${sizes.join(",")})`] : []),
        ].join(", or ") || "train without batch norm (--set model.batchNorm=false)",
      },
    );
  }
  if (result.largest === undefined && smallest !== undefined) {
    // the table ends in "none": say why, and what would let a batch fit
    const where = `on backend ${result.backend}`;
    throw smallest.overLimit
      ? new AnnealError(
        "usage",
        `No batch size fits --memory-limit ${options.memoryLimit} MiB ${where}: the smallest ` +
          `tried, ${smallest.batchSize}, peaks at ${formatNumber(smallest.peakMiB)} MiB`,
        {
          where: "--memory-limit",
          hint: `raise --memory-limit to at least ${
            Number((smallest.peakMiB! * 1.01).toPrecision(3))
          } (MiB), or make the model smaller`,
        },
      )
      : new AnnealError(
        "backend",
        `No batch size fits ${where}: the smallest tried, ${smallest.batchSize}, failed: ${smallest.error}`,
        { hint: "fix what the error names, or try another --backend" },
      );
  }
  if (options.json) return result.largest === undefined ? 1 : 0;
  console.log(
    `scaled lr: by the ${result.scaling} rule (${
      result.scaling === "sqrt" ? "lr x sqrt(batch / base)" : "lr x batch / base"
    }; optimizer.batchScaling sets it, linear or sqrt)`,
  );
  console.log(
    `backend ${result.backend}: largest batch that fits ${result.largest ?? "none"}, fastest ${
      result.fastest ?? "-"
    }` +
      (result.use ? `\n  to use it: ${result.use}` : ""),
  );
  return result.largest === undefined ? 1 : 0;
}

/**
 * A throughput as the table shows it: whole samples from 1000 a second up (191300, where
 * `formatNumber` writes a rate's 1.913e+5), `formatNumber`'s digits below.
 */
function perSecond(value: number | undefined): string {
  return value !== undefined && value >= 1000 ? String(Math.round(value)) : formatNumber(value);
}
