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
 * `--start-lr`, `--end-lr` and `--iterations` set the test's range (the defaults' otherwise, as
 * `anneal lr-find`'s), so a range too low or too narrow can be recorded; the file keeps them.
 *
 * @module
 */
import { benchFlags } from "./flags.ts";
import { loadConfig } from "../config.ts";
import {
  agreementOf,
  judgeCurves,
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

const values = benchFlags(
  {
    config: { type: "string", short: "c" },
    seeds: { type: "string", default: "1,2,3,4,5" },
    set: { type: "string", multiple: true, default: [] },
    out: { type: "string" },
    read: { type: "string" },
    "start-lr": { type: "string" },
    "end-lr": { type: "string" },
    iterations: { type: "string" },
  },
  `Usage: deno run -A bench/lr_find_curves.ts -c examples/fashion_mnist_mlp.json --seeds 1,2,3,4,5
    --out curves.json [--set path=value ...] [--start-lr LR] [--end-lr LR] [--iterations N]
  deno run -A bench/lr_find_curves.ts --read curves.json

How far the LR range test's suggestions move with the seed: records one config's curves over
several seeds (the raw losses are kept) and prints each rule's suggestion per seed and its spread
(max / min). --read FILE reads the rules again off curves recorded before, so a change to the
rules is measured on the same curves. --start-lr, --end-lr and --iterations set the test's range
(anneal lr-find's defaults otherwise), and the file keeps them.`,
);

const recorded = values.read ? JSON.parse(await Deno.readTextFile(values.read)) : undefined;
const range = recorded?.range ?? {
  startLr: values["start-lr"] ? Number(values["start-lr"]) : undefined,
  endLr: values["end-lr"] ? Number(values["end-lr"]) : undefined,
  iterations: values.iterations ? Number(values.iterations) : undefined,
};
const iterations: number = range.iterations ?? 100;
// (a reason's fix names the batch size: the config as recorded, with its --sets)
const sets: string[] = recorded?.set ?? values.set;
const { batchSize } = await loadConfig(recorded?.config ?? values.config, sets);

const curves: Curve[] = recorded?.curves ?? await record(values.seeds.split(",").map(Number));
if (values.out) {
  await Deno.writeTextFile(
    values.out,
    JSON.stringify({ config: values.config, set: sets, range, curves }),
  );
}
// (as the test reads its curve: the first tenth of its steps skipped)
const skipStart = Math.floor(iterations / 10);
const read = curves.map((curve) => {
  const smoothed = smoothLosses(curve.losses);
  const suggestions = suggestLrs(curve.lrs, smoothed, { skipStart, iterations });
  const suggestion = suggestions.valley ?? suggestions.steepest ?? suggestions.minimumDiv10 ?? NaN;
  // (a test that diverged stopped before its last step)
  const diverged = curve.lrs.length < iterations;
  return { ...curve, smoothed, diverged, suggestions, suggestion };
});
for (const rule of ["steepest", "valley", "minimumDiv10"] as const) {
  const picks = read.map((run) => run.suggestions[rule]);
  const spread = agreementOf(picks).ratio;
  console.log(
    `${rule.padEnd(12)} ${picks.map((lr) => lr?.toExponential(1) ?? "-").join(" ")}  ` +
      `spread ${spread.toFixed(2)}x`,
  );
}
for (const curve of read) {
  // (before: all three rules within 10x; now judgeCurves, which leaves valley's offset out)
  const before = agreementOf(Object.values(curve.suggestions as LrSuggestions));
  const now = judgeCurves([curve], { batchSize, skipStart });
  console.log(
    `seed ${curve.seed}: the three rules ${before.ratio.toFixed(1)}x apart (${before.verdict}` +
      ` before); fell ${now.fall.ratio.toFixed(1)}x its noise, steepest/minimumDiv10 ` +
      `${now.rules.ratio.toFixed(1)}x: ${now.verdict}`,
  );
  for (const reason of now.reasons) console.log(`  ${reason}`);
}

async function record(seeds: number[]): Promise<Curve[]> {
  const out: Curve[] = [];
  for (const seed of seeds) {
    const config = await loadConfig(values.config, [...values.set, `seed=${seed}`]);
    const result = await lrFind(config, range);
    out.push({ seed, lrs: result.lrs, losses: result.losses });
  }
  return out;
}
