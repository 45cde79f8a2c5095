/**
 * The result tables: ours against PyTorch per workload, as aligned text or as Markdown for
 * BENCHMARKS.md. Ratio = our ms / torch ms (> 1: slower); throughput ratio = ours / torch.
 *
 * @module
 */

import type { TorchResult } from "./torch.ts";

/** One measured row of ours. `wall`: msPerStep holds the whole loop's wall time. */
export interface Row {
  workload: string;
  backend: string;
  optimizer: string;
  batch?: number;
  steps?: number;
  msPerStep: number;
  samplesPerS?: number;
  spread?: number[];
  loss?: number;
  wall?: boolean;
}

const HEADER = [
  "workload",
  "backend",
  "optimizer",
  "ms/step (ours)",
  "samples/s",
  "torch ms/step",
  "torch device",
  "time ratio",
  "throughput ratio",
];

function cells(rows: Row[], torch: TorchResult[]): string[][] {
  return rows.map((r) => {
    // (the run beside this row's backend, where PyTorch ran beside each)
    const t = torch.find((x) => x.workload === r.workload && x.backend === r.backend) ??
      torch.find((x) => x.workload === r.workload && x.backend === undefined);
    const theirs = r.wall ? t?.wall_ms : t?.ms_per_step;
    const ratio = theirs ? r.msPerStep / theirs : undefined;
    return [
      r.workload,
      r.backend,
      r.optimizer,
      r.wall ? `${r.msPerStep.toFixed(0)} (wall)` : r.msPerStep.toFixed(2),
      r.samplesPerS ? r.samplesPerS.toFixed(0) : "",
      theirs === undefined ? "" : r.wall ? `${theirs} (wall)` : theirs.toFixed(2),
      t?.device ?? "",
      ratio === undefined ? "" : `${ratio.toFixed(1)}x`,
      ratio === undefined || r.wall ? "" : (1 / ratio).toFixed(3),
    ];
  });
}

/**
 * Aligned text table.
 *
 * @example
 * ```ts
 * import { textTable } from "./table.ts";
 * console.log(textTable([{ workload: "mlp", backend: "cpu", optimizer: "tfjs", msPerStep: 2 }], []));
 * ```
 */
export function textTable(rows: Row[], torch: TorchResult[]): string {
  const all = [HEADER, ...cells(rows, torch)];
  const widths = HEADER.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  return all.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ")).join("\n");
}

/**
 * Markdown table for BENCHMARKS.md.
 *
 * @example
 * ```ts
 * import { markdownTable } from "./table.ts";
 * console.log(markdownTable([{ workload: "mlp", backend: "cpu", optimizer: "tfjs", msPerStep: 2 }], []));
 * ```
 */
export function markdownTable(rows: Row[], torch: TorchResult[]): string {
  const line = (r: string[]) => `| ${r.join(" | ")} |`;
  return [line(HEADER), line(HEADER.map(() => "---")), ...cells(rows, torch).map(line)].join("\n");
}
