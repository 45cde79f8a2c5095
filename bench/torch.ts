/**
 * Runs `bench/torch_reference.py` (the team's shared PyTorch reference, copied here) and parses
 * its one-JSON-object-per-line output. A missing python or torch yields no rows and a note.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** One line of the reference script's output. */
export interface TorchResult {
  workload: string;
  framework: string;
  device: string;
  ms_per_step?: number;
  samples_per_s?: number;
  wall_ms?: number;
  final_loss?: number;
  /** The backend of ours it ran beside (bench/main.ts), where it ran beside one. */
  backend?: string;
}

/** How to call the reference script. */
export interface TorchOptions {
  python: string;
  only: string[];
  device?: string;
  threads?: string;
  steps?: string;
}

/**
 * Runs PyTorch's side; returns its results (empty when python or torch is missing).
 *
 * @example
 * ```ts ignore
 * import { runTorch } from "./torch.ts";
 * const rows = await runTorch({ python: "python3", only: ["mlp"], device: "cpu", threads: "2" });
 * console.log(rows[0]?.ms_per_step);
 * ```
 */
export async function runTorch(options: TorchOptions): Promise<TorchResult[]> {
  const python = await torchPython(options.python);
  if (!python) return [];
  const script = fileURLToPath(new URL("./torch_reference.py", import.meta.url));
  const args = [script, "--only", options.only.join(",")];
  if (options.device) args.push("--device", options.device);
  if (options.threads) args.push("--threads", options.threads);
  if (options.steps) args.push("--steps", options.steps);
  try {
    const out = await new Deno.Command(python, { args, stderr: "inherit" }).output();
    if (!out.success) {
      console.error(`# pytorch reference failed (exit ${out.code}): no torch column`);
    }
    return new TextDecoder().decode(out.stdout).split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as TorchResult);
  } catch (error) {
    console.error(`# pytorch reference not run: ${(error as Error).message}`);
    return [];
  }
}

/**
 * The python to run PyTorch with: `python` itself, or for "auto" the first python3 with torch
 * (the one on PATH, else Debian's: python3-torch installs there, while another python3 may come
 * first on PATH); undefined, with a note, when there is none.
 */
export async function torchPython(python: string): Promise<string | undefined> {
  if (python !== "auto") return python;
  for (const candidate of ["python3", "/usr/bin/python3"]) {
    if (await hasTorch(candidate)) return candidate;
  }
  console.error("# no python3 with torch found: no torch column (--python PATH to name one)");
  return undefined;
}

async function hasTorch(python: string): Promise<boolean> {
  try {
    const probe = await new Deno.Command(python, {
      args: ["-c", "import torch"],
      stdout: "null",
      stderr: "null",
    }).output();
    return probe.success;
  } catch {
    return false;
  }
}
