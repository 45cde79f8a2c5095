/**
 * The matmul-bound benchmark: square fp32 products on WebGPU, each variant of anneal's tiled
 * kernel (`runtime/webgpu_matmul.ts`, `MATMUL_VARIANTS`) against tfjs-webgpu's own, and PyTorch's
 * `torch.mm` on the same machine (CUDA when it has it) run in the same invocation, in TFLOP/s (2n³
 * per product), printed as a Markdown table. Each variant's product is first compared with tfjs's
 * (WRONG in the table when it differs: a shader the GPU rejects fails silently).
 *
 *   deno run -A bench/matmul.ts [--sizes 512,1024,2048,4096] [--variants base,fast,...]
 *     [--via-tfjs t128] [--python PATH | --python none] [--device cuda]
 *
 * anneal's products are recorded directly (`tiledRecording` in runtime/webgpu_matmul.ts: its own
 * pipelines, a uniform buffer per shape and bind groups kept); each variant of `--via-tfjs` (the
 * route's `t128` unless given; empty for none) is also timed through tfjs's `runWebGPUProgram`, as
 * before the fiftieth session, in a column `<variant> via tfjs`: at sizes where a product takes
 * less GPU time than the host takes to record it, the two differ by the host's work.
 *
 * Timing: `reps` products queued back to back, then a read of one element of the last (a 1x1
 * slice, queued after it); the median of 3 such blocks after a warm-up, reps doubled until a
 * block takes 100 ms and then scaled to ~300 ms. The first version of this benchmark ended each
 * block with a read of the whole result (64 MiB at 4096, its reps chosen from one product timed
 * with such a read): the read's time then counted as products' time. `base` is also timed that
 * way (the table's "whole read-back" column) beside the read's own milliseconds, so that the two
 * bases can be told apart. 512 is the smallest square product the route gives the tiled kernel
 * (`MIN_TILES`: 64 tiles), so the default sizes start at that threshold. On llvmpipe (software
 * WebGPU; default sizes 256 and 512) it checks the path, it does not measure a GPU.
 * `deno task bench` runs it wherever it benchmarks webgpu.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { median } from "./runner.ts";
import { replacedWasmKernel } from "../runtime/wasm_heap.ts";
import {
  MATMUL_VARIANTS,
  type MatMulVariant,
  ROUTE_VARIANT,
  tiledMatMul,
  tiledRecording,
} from "../runtime/webgpu_matmul.ts";
import { torchPython } from "./torch.ts";

/** One size's figures, TFLOP/s per side (torch absent when not run). */
export interface MatmulRow {
  n: number;
  /** tfjs-webgpu's own kernel. */
  tfjs: number;
  /** anneal's kernel as first written (the `base` variant; 0 when not measured). */
  anneal: number;
  /** Each measured variant of anneal's kernel (`MATMUL_VARIANTS`). */
  variants?: Record<string, number>;
  /** Variants whose product differed from tfjs's (max |difference| over 1e-3 of max |value|). */
  wrong?: string[];
  /** `base` timed as this benchmark first did: each block ends with a read of the whole result. */
  annealFullRead?: number;
  /** Milliseconds to read the whole n x n result back (what the first timing included). */
  readbackMs?: number;
  torch?: number;
  torchDevice?: string;
}

type Side = (a: tf.Tensor, b: tf.Tensor) => tf.TensorInfo;

/** Milliseconds a block of products should take: ~100 ms read-backs were once inside it. */
const BLOCK_MS = 300;

/**
 * Waits for `y` to be computed, reading back one element of it (a 1x1 slice, queued after it):
 * the read of the whole result (64 MiB at 4096) cost more than the products it ended.
 */
async function settle(y: tf.Tensor): Promise<void> {
  const one = tf.slice(y, [0, 0], [1, 1]);
  await one.data();
  one.dispose();
}

/**
 * TFLOP/s of `side` on n x n products, the median of 3 timed blocks of `reps` products queued
 * back to back. `fullRead`: the first basis (reps from one product timed with a read of the whole
 * result, and each block ending with one), to compare with; otherwise blocks end with
 * {@linkcode settle} and reps grow until a block takes {@linkcode BLOCK_MS}.
 */
async function measure(side: Side, a: tf.Tensor, b: tf.Tensor, fullRead = false): Promise<number> {
  const n = a.shape[0];
  const run = () => tf.engine().makeTensorFromTensorInfo(side(a, b));
  const flops = 2 * n ** 3;
  const block = async (reps: number) => {
    const t0 = performance.now();
    let last: tf.Tensor | undefined;
    for (let r = 0; r < reps; r++) {
      last?.dispose();
      last = run();
    }
    if (fullRead) await last!.data();
    else await settle(last!);
    last!.dispose();
    return performance.now() - t0;
  };
  await block(1); // compiles the pipeline
  let reps: number;
  if (fullRead) {
    reps = Math.max(3, Math.min(500, Math.round(BLOCK_MS / await block(1))));
  } else {
    // doubled until a block takes a third of the target (a read-back no longer in it), then scaled
    reps = 1;
    let ms = await block(reps);
    while (ms < BLOCK_MS / 3 && reps < 4096) ms = await block(reps *= 2);
    reps = Math.max(3, Math.min(8192, Math.round(reps * BLOCK_MS / ms)));
  }
  const rates: number[] = [];
  for (let i = 0; i < 3; i++) rates.push((flops * reps) / (await block(reps) / 1000) / 1e12);
  return median(rates);
}

/** Milliseconds to read a computed n x n result back whole (median of 3). */
async function readbackMs(side: Side, a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const y = tf.engine().makeTensorFromTensorInfo(side(a, b));
    await settle(y);
    const t0 = performance.now();
    await y.data();
    times.push(performance.now() - t0);
    y.dispose();
  }
  return median(times);
}

/** Whether `side`'s product differs from `reference` by over 1e-3 of its largest |value|. */
async function differs(side: Side, a: tf.Tensor, b: tf.Tensor, reference: tf.Tensor) {
  const y = tf.engine().makeTensorFromTensorInfo(side(a, b));
  const [gap, top] = tf.tidy(
    () => [tf.max(tf.abs(tf.sub(y, reference))), tf.max(tf.abs(reference))],
  );
  const [g, t] = [(await gap.data())[0], (await top.data())[0]];
  tf.dispose([y, gap, top]);
  return !(g <= 1e-3 * Math.max(1, t));
}

/**
 * tfjs's WebGPU side of a square product and each named variant of anneal's (webgpu backend),
 * recorded directly (anneal's pipelines, uniforms and bind groups: `tiledRecording`), and each of
 * `viaTfjs` also through tfjs's `runWebGPUProgram` (named `<variant> via tfjs`: the A/B of the
 * host's work a product).
 */
function sides(
  variants: readonly MatMulVariant[],
  viaTfjs: readonly MatMulVariant[] = [],
): { tfjs: Side; anneal: Record<string, Side> } {
  const tfjs = replacedWasmKernel("BatchMatMul", "webgpu") ??
    tf.getKernel("BatchMatMul", "webgpu")!.kernelFunc;
  const attrs = { transposeA: false, transposeB: false } as unknown as tf.NamedAttrMap;
  const anneal = (variant: MatMulVariant, direct: boolean): Side => (a, b) => {
    const before = tiledRecording.direct;
    tiledRecording.direct = direct;
    try {
      return tiledMatMul({ inputs: { a, b }, attrs, backend: tf.backend() }, 0, variant) ??
        (() => {
          throw new Error("the tiled kernel declined a square float32 product");
        })();
    } finally {
      tiledRecording.direct = before;
    }
  };
  return {
    tfjs: (a, b) => tfjs({ inputs: { a, b }, attrs, backend: tf.backend() }) as tf.TensorInfo,
    anneal: Object.fromEntries([
      ...variants.map((v) => [v, anneal(v, true)]),
      ...viaTfjs.map((v) => [`${v} via tfjs`, anneal(v, false)]),
    ]),
  };
}

/**
 * PyTorch's `torch.mm` in TFLOP/s per size (`bench/torch_matmul.py`); empty when python or
 * torch is missing.
 */
export async function torchMatmul(
  python: string,
  sizes: number[],
  device?: string,
): Promise<{ n: number; tflops: number; device: string }[]> {
  const script = fileURLToPath(new URL("./torch_matmul.py", import.meta.url));
  const args = [script, "--sizes", sizes.join(",")];
  if (device) args.push("--device", device);
  try {
    const out = await new Deno.Command(python, { args, stderr: "inherit" }).output();
    if (!out.success) console.error(`# torch matmul failed (exit ${out.code}): no torch column`);
    return new TextDecoder().decode(out.stdout).split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line));
  } catch (error) {
    console.error(`# torch matmul not run: ${(error as Error).message}`);
    return [];
  }
}

/**
 * tfjs's kernel and each of `variants` of anneal's (all of {@linkcode MATMUL_VARIANTS} unless
 * given) at each size, `base` also on the first timing basis with the read-back's own time, and
 * PyTorch's when `python` names one with torch; each of `viaTfjs` also recorded through tfjs's
 * `runWebGPUProgram` (its column `<variant> via tfjs`). The current tfjs backend must be webgpu.
 */
export async function matmulRows(
  sizes: number[],
  python?: string,
  device?: string,
  variants: readonly MatMulVariant[] = MATMUL_VARIANTS,
  viaTfjs: readonly MatMulVariant[] = [],
): Promise<MatmulRow[]> {
  const all = sides(variants, viaTfjs);
  const rows: MatmulRow[] = [];
  for (const n of sizes) {
    const a = tf.randomNormal([n, n], 0, 1, "float32", 1);
    const b = tf.randomNormal([n, n], 0, 1, "float32", 2);
    const reference = tf.engine().makeTensorFromTensorInfo(all.tfjs(a, b));
    const row: MatmulRow = { n, tfjs: await measure(all.tfjs, a, b), anneal: 0, variants: {} };
    row.readbackMs = await readbackMs(all.tfjs, a, b);
    const wrong: string[] = [];
    for (const [name, side] of Object.entries(all.anneal)) {
      // a shader the GPU rejects fails its tensors silently: its speed would mean nothing
      if (await differs(side, a, b, reference)) wrong.push(name);
      row.variants![name] = await measure(side, a, b);
    }
    if (wrong.length) row.wrong = wrong;
    if (all.anneal.base) {
      row.anneal = row.variants!.base;
      row.annealFullRead = await measure(all.anneal.base, a, b, true);
    }
    tf.dispose([a, b, reference]);
    rows.push(row);
    console.error(
      `# matmul ${n}: tfjs ${row.tfjs.toFixed(3)}, ${
        Object.entries(row.variants!).map(([v, r]) => `${v} ${r.toFixed(3)}`).join(", ")
      } TFLOP/s; base with whole read-back ${row.annealFullRead?.toFixed(3) ?? "-"}, ` +
        `read-back ${row.readbackMs.toFixed(1)} ms${wrong.length ? `; WRONG: ${wrong}` : ""}`,
    );
  }
  if (python) {
    for (const t of await torchMatmul(python, sizes, device)) {
      const row = rows.find((r) => r.n === t.n);
      if (row) [row.torch, row.torchDevice] = [t.tflops, t.device];
    }
  }
  return rows;
}

/**
 * The rows as a Markdown table: TFLOP/s of tfjs's kernel and of each variant (blocks ended by a
 * one-element read), the fastest variant against tfjs and PyTorch, then `base` on the first basis
 * (blocks ended by a read of the whole result) and that read's milliseconds.
 */
export function matmulTable(rows: MatmulRow[]): string {
  const names = [...new Set(rows.flatMap((r) => Object.keys(r.variants ?? { base: 0 })))];
  const rate = (r: MatmulRow, v: string) => r.variants?.[v] ?? (v === "base" ? r.anneal : NaN);
  const lines = [
    `| n | tfjs-webgpu | ${names.map((v) => `anneal ${v}`).join(" | ")} | fastest | ` +
    "fastest / tfjs | torch | torch device | fastest / torch | base, whole read-back | read-back ms |",
    `| - | - | ${names.map(() => "-").join(" | ")} | - | - | - | - | - | - | - |`,
  ];
  for (const r of rows) {
    const right = names.filter((v) => !r.wrong?.includes(v) && Number.isFinite(rate(r, v)));
    const best = right.reduce((x, v) => rate(r, v) > rate(r, x) ? v : x, right[0]);
    const top = best ? rate(r, best) : NaN;
    const cells = [
      String(r.n),
      r.tfjs.toFixed(3),
      ...names.map((v) =>
        `${Number.isFinite(rate(r, v)) ? rate(r, v).toFixed(3) : ""}${
          r.wrong?.includes(v) ? " WRONG" : ""
        }`
      ),
      best ?? "",
      best ? (top / r.tfjs).toFixed(2) : "",
      r.torch?.toFixed(3) ?? "",
      r.torchDevice ?? "",
      r.torch && best ? (top / r.torch).toFixed(3) : "",
      r.annealFullRead?.toFixed(3) ?? "",
      r.readbackMs?.toFixed(1) ?? "",
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  lines.push(
    "",
    "TFLOP/s (2n³ per product): median of 3 blocks of products queued back to back, each block " +
      "ended by reading one element of its last product; 'base, whole read-back' ends each " +
      "block by reading the whole n x n result instead (the first basis of this benchmark).",
  );
  return lines.join("\n");
}

if (import.meta.main) {
  const { values: flags } = parseArgs({
    options: {
      sizes: { type: "string", default: "" },
      python: { type: "string", default: "auto" },
      device: { type: "string", default: "" },
      variants: { type: "string", default: MATMUL_VARIANTS.join(",") },
      "via-tfjs": { type: "string", default: ROUTE_VARIANT },
    },
  });
  const { selectBackend } = await import("../runtime/backend.ts");
  const selection = await selectBackend("webgpu");
  console.error(`# ${selection.reason}`);
  const slow = selection.adapter?.isFallbackAdapter;
  const sizes = (flags.sizes || (slow ? "256,512" : "512,1024,2048,4096")).split(",").map(Number);
  const python = flags.python === "none" ? undefined : await torchPython(flags.python!);
  const variants = flags.variants!.split(",").filter(Boolean) as MatMulVariant[];
  const viaTfjs = flags["via-tfjs"]!.split(",").filter(Boolean) as MatMulVariant[];
  const unknown = [...variants, ...viaTfjs].filter((v) => !MATMUL_VARIANTS.includes(v));
  if (unknown.length) {
    console.error(`unknown variants ${unknown}: known are ${MATMUL_VARIANTS}`);
    Deno.exit(2);
  }
  console.log(
    matmulTable(await matmulRows(sizes, python, flags.device || undefined, variants, viaTfjs)),
  );
}
