/**
 * How far the LR range test's suggestions move with the seed: records one config's curves over
 * several seeds (the raw losses are kept) and prints each rule's suggestion per seed and its
 * spread (max / min). `--read FILE` reads the rules again off curves recorded before, so a change
 * to the rules is measured on the same curves.
 *
 *   deno run -A bench/lr_find_curves.ts -c examples/fashion_mnist_mlp.json --seeds 1,2,3,4,5
 *     --out curves.json [--set path=value ...]
 *   deno run -A bench/lr_find_curves.ts --read curves.json
 *
 * @module
 */
import { parseArgs } from "node:util";
import { loadConfig } from "../config.ts";
import {
  agreementOf,
  lrFind,
  type LrSuggestions,
  smoothLosses,
  suggestLrs,
} from "../runtime/lr_find.ts";

interface Curve {
  seed: number;
  lrs: number[];
  losses: number[];
}

const { values } = parseArgs({
  options: {
    config: { type: "string", short: "c" },
    seeds: { type: "string", default: "1,2,3,4,5" },
    set: { type: "string", multiple: true, default: [] },
    out: { type: "string" },
    read: { type: "string" },
  },
});

const curves: Curve[] = values.read
  ? JSON.parse(await Deno.readTextFile(values.read)).curves
  : await record(values.seeds.split(",").map(Number));
if (values.out) {
  await Deno.writeTextFile(values.out, JSON.stringify({ config: values.config, curves }));
}
// (the defaults' test: 100 steps, the first tenth skipped)
const read = curves.map((curve) => ({
  seed: curve.seed,
  suggestions: suggestLrs(curve.lrs, smoothLosses(curve.losses), {
    skipStart: 10,
    iterations: 100,
  }),
}));
for (const rule of ["steepest", "valley", "minimumDiv10"] as const) {
  const picks = read.map((run) => run.suggestions[rule]);
  const spread = agreementOf(picks).ratio;
  console.log(
    `${rule.padEnd(12)} ${picks.map((lr) => lr?.toExponential(1) ?? "-").join(" ")}  ` +
      `spread ${spread.toFixed(2)}x`,
  );
}
for (const { seed, suggestions } of read) {
  const rules = agreementOf(Object.values(suggestions as LrSuggestions));
  console.log(`seed ${seed}: the rules ${rules.ratio.toFixed(1)}x apart, ${rules.verdict}`);
}

async function record(seeds: number[]): Promise<Curve[]> {
  const out: Curve[] = [];
  for (const seed of seeds) {
    const config = await loadConfig(values.config, [...values.set, `seed=${seed}`]);
    const result = await lrFind(config);
    out.push({ seed, lrs: result.lrs, losses: result.losses });
  }
  return out;
}
