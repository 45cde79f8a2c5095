/**
 * Paired rounds of `bench/main.ts`: the same invocation (ours, then PyTorch) run `--rounds`
 * times, each in a fresh process, and the throughput ratio (PyTorch ms / ours) per round and its
 * median per workload and path. On a shared machine whose speed swings between processes a
 * single invocation's ratio can be off by 1.5x either way; the median of paired rounds is the
 * figure to quote.
 *
 *   deno run -A bench/paired.ts [--rounds 5] [main.ts flags, e.g. --backend wasm --only cnn
 *     --python /usr/bin/python3 --device cpu --threads 2]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { median } from "./runner.ts";
import type { Row } from "./table.ts";
import type { TorchResult } from "./torch.ts";

// (bench/main.ts would take --help too, print its own usage and write no results: answered here)
if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
  console.log(`Usage: deno run -A bench/paired.ts [--rounds 5] [main.ts flags, e.g. --backend wasm
    --only cnn --python /usr/bin/python3 --device cpu --threads 2]

Paired rounds of bench/main.ts: the same invocation (ours, then PyTorch) run --rounds times, each
in a fresh process, and the throughput ratio (PyTorch ms / ours) per round and its median per
workload and path. Every flag but --rounds goes to bench/main.ts as given (bench/main.ts --help
lists them).`);
  Deno.exit(0);
}

const { values } = parseArgs({
  options: { rounds: { type: "string", default: "5" } },
  strict: false,
});
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error(
    `paired.ts: --rounds must be a whole number >= 1, current value is ${values.rounds}`,
  );
  Deno.exit(2);
}
// every other flag goes to main.ts as given
const passOn: string[] = [];
for (let i = 0; i < Deno.args.length; i++) {
  if (Deno.args[i] === "--rounds") i++;
  else if (!Deno.args[i].startsWith("--rounds=")) passOn.push(Deno.args[i]);
}

const main = new URL("./main.ts", import.meta.url).pathname;
const ratios = new Map<string, number[]>();
const ours = new Map<string, number[]>();
const theirs = new Map<string, number[]>();
for (let round = 1; round <= rounds; round++) {
  const json = await Deno.makeTempFile({ suffix: ".json" });
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", main, ...passOn, "--json", json],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    console.error(new TextDecoder().decode(stderr));
    Deno.exit(code);
  }
  const { rows, torch } = JSON.parse(await Deno.readTextFile(json)) as {
    rows: Row[];
    torch: TorchResult[];
  };
  await Deno.remove(json);
  const line: string[] = [];
  for (const row of rows) {
    const t = torch.find((x) => x.workload === row.workload);
    const peer = row.wall ? t?.wall_ms : t?.ms_per_step;
    if (!peer) continue;
    const key = `${row.workload} ${row.backend} ${row.optimizer}`;
    for (
      const [map, value] of [[ratios, peer / row.msPerStep], [ours, row.msPerStep], [
        theirs,
        peer,
      ]] as const
    ) {
      map.set(key, [...(map.get(key) ?? []), value]);
    }
    line.push(`${key}: ${row.msPerStep.toFixed(1)} / ${peer.toFixed(1)} ms`);
  }
  console.error(`round ${round}: ${line.join("; ")}`);
}
console.log(
  "| workload, backend, path | ours ms (median) | torch ms (median) | throughput ratio per round | median ratio |",
);
console.log("| --- | --- | --- | --- | --- |");
for (const [key, values] of ratios) {
  console.log(
    `| ${key} | ${median(ours.get(key)!).toFixed(1)} | ${median(theirs.get(key)!).toFixed(1)} | ${
      values.map((v) => v.toFixed(2)).join(", ")
    } | **${median(values).toFixed(2)}** |`,
  );
}
