/**
 * The matmul-bound benchmark: square fp32 products on WebGPU, anneal's tiled kernel
 * (`runtime/webgpu_matmul.ts`) against tfjs-webgpu's own, and PyTorch's `torch.mm` on the same
 * machine (CUDA when it has it) run in the same invocation, in TFLOP/s (2n³ per product), printed
 * as a Markdown table.
 *
 *   deno run -A bench/matmul.ts [--sizes 512,1024,2048,4096] [--python PATH | --python none]
 *     [--device cuda]
 *
 * Timing: `reps` products queued back to back, then one read of the last (a read-back costs
 * ~11 ms on the H100, so reps are chosen to take well over that); the median of 3 such blocks
 * after a warm-up. 512 is the smallest square product the route gives the tiled kernel
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
import { tiledMatMul } from "../runtime/webgpu_matmul.ts";
import { torchPython } from "./torch.ts";

/** One size's figures, TFLOP/s per side (torch absent when not run). */
export interface MatmulRow {
  n: number;
  tfjs: number;
  anneal: number;
  torch?: number;
  torchDevice?: string;
}

type Side = (a: tf.Tensor, b: tf.Tensor) => tf.TensorInfo;

/** TFLOP/s of `side` on n x n products, the median of 3 timed blocks. */
async function measure(side: Side, n: number): Promise<number> {
  const a = tf.randomNormal([n, n], 0, 1, "float32", 1);
  const b = tf.randomNormal([n, n], 0, 1, "float32", 2);
  const run = () => tf.engine().makeTensorFromTensorInfo(side(a, b));
  const flops = 2 * n ** 3;
  const once = async () => {
    const y = run();
    await y.data();
    y.dispose();
  };
  await once(); // compiles the pipeline
  // reps so that a block takes ~300 ms on this device, from one timed product
  const start = performance.now();
  await once();
  const reps = Math.max(3, Math.min(500, Math.round(300 / (performance.now() - start))));
  const rates: number[] = [];
  for (let block = 0; block < 3; block++) {
    const t0 = performance.now();
    let last: tf.Tensor | undefined;
    for (let r = 0; r < reps; r++) {
      last?.dispose();
      last = run();
    }
    await last!.data();
    last!.dispose();
    rates.push((flops * reps) / ((performance.now() - t0) / 1000) / 1e12);
  }
  a.dispose();
  b.dispose();
  return median(rates);
}

/** The two WebGPU sides of a square product (the current backend must be webgpu). */
function sides(): Record<"tfjs" | "anneal", Side> {
  const tfjs = replacedWasmKernel("BatchMatMul", "webgpu") ??
    tf.getKernel("BatchMatMul", "webgpu")!.kernelFunc;
  const attrs = { transposeA: false, transposeB: false } as unknown as tf.NamedAttrMap;
  return {
    tfjs: (a, b) => tfjs({ inputs: { a, b }, attrs, backend: tf.backend() }) as tf.TensorInfo,
    anneal: (a, b) =>
      tiledMatMul({ inputs: { a, b }, attrs, backend: tf.backend() }, 0) ??
        (() => {
          throw new Error("the tiled kernel declined a square float32 product");
        })(),
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
 * Both WebGPU sides at each size, and PyTorch's when `python` names one with torch. The current
 * tfjs backend must be webgpu.
 */
export async function matmulRows(
  sizes: number[],
  python?: string,
  device?: string,
): Promise<MatmulRow[]> {
  const both = sides();
  const rows: MatmulRow[] = [];
  for (const n of sizes) {
    const row: MatmulRow = { n, tfjs: await measure(both.tfjs, n), anneal: 0 };
    row.anneal = await measure(both.anneal, n);
    rows.push(row);
    console.error(
      `# matmul ${n}: tfjs ${row.tfjs.toFixed(3)}, anneal ${row.anneal.toFixed(3)} TFLOP/s`,
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

/** The rows as a Markdown table, with anneal's throughput as a share of PyTorch's. */
export function matmulTable(rows: MatmulRow[]): string {
  const lines = [
    "| n | tfjs-webgpu TFLOP/s | anneal TFLOP/s | anneal / tfjs | torch TFLOP/s | torch device | anneal / torch |",
    "| - | - | - | - | - | - | - |",
  ];
  for (const r of rows) {
    const cells = [
      String(r.n),
      r.tfjs.toFixed(3),
      r.anneal.toFixed(3),
      (r.anneal / r.tfjs).toFixed(2),
      r.torch?.toFixed(3) ?? "",
      r.torchDevice ?? "",
      r.torch ? (r.anneal / r.torch).toFixed(3) : "",
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const { values: flags } = parseArgs({
    options: {
      sizes: { type: "string", default: "" },
      python: { type: "string", default: "auto" },
      device: { type: "string", default: "" },
    },
  });
  const { selectBackend } = await import("../runtime/backend.ts");
  const selection = await selectBackend("webgpu");
  console.error(`# ${selection.reason}`);
  const slow = selection.adapter?.isFallbackAdapter;
  const sizes = (flags.sizes || (slow ? "256,512" : "512,1024,2048,4096")).split(",").map(Number);
  const python = flags.python === "none" ? undefined : await torchPython(flags.python!);
  console.log(matmulTable(await matmulRows(sizes, python, flags.device || undefined)));
}
