/**
 * anneal from TypeScript: trains the sensors example (`examples/sensors_classification.json`)
 * through `mod.ts` at a few learning rates, one run after another, prints each epoch as it ends,
 * then each run's lowest validation loss.
 *
 * ```sh
 * npx -y deno@2.9.6 run -A examples/train_module.ts
 * npx -y deno@2.9.6 run -A examples/train_module.ts --lrs 0.001,0.03 --epochs 5 --runs-dir /tmp/runs
 * ```
 *
 * From another project, import `mod.ts` by its URL or path instead of `../mod.ts`.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parseConfig, train } from "../mod.ts";

const { values } = parseArgs({
  options: {
    lrs: { type: "string", default: "0.001,0.01,0.1" },
    epochs: { type: "string" },
    "runs-dir": { type: "string", default: "runs" },
  },
});
const file = new URL("./sensors_classification.json", import.meta.url);
const input = JSON.parse(await Deno.readTextFile(file));
// The config's data path is relative to the repository's root, where the CLI runs: read it from
// there wherever this script is run from.
input.data.path = fileURLToPath(new URL(`../${input.data.path}`, import.meta.url));
input.runsDir = values["runs-dir"];
if (values.epochs !== undefined) input.epochs = Number(values.epochs);

const best: [number, number, string][] = [];
for (const lr of values.lrs.split(",").map(Number)) {
  // parseConfig throws an AnnealError naming every bad field, before any actor starts.
  const config = parseConfig({ ...input, optimizer: { ...input.optimizer, lr } });
  const run = train(config);
  let lowest = Infinity;
  for await (const event of run.events()) {
    if (event.type === "epoch") {
      const { loss, valLoss, valAccuracy } = event.metrics;
      lowest = Math.min(lowest, valLoss);
      console.log(
        `lr ${lr} epoch ${event.epoch}: loss ${loss.toFixed(4)}, valLoss ${valLoss.toFixed(4)}, ` +
          `valAccuracy ${valAccuracy.toFixed(3)}, rate now ${event.metrics.lr}`,
      );
    } else if (event.type === "warning") {
      console.warn(`warning: ${event.message}`);
    }
  }
  const result = await run.result;
  console.log(`lr ${lr}: ${result.status}: ${result.reason}`);
  if (result.status === "failed") Deno.exit(1);
  best.push([lr, lowest, result.runDir]);
}
console.log("\nlr        lowest valLoss  run record");
for (const [lr, loss, dir] of best) {
  console.log(`${String(lr).padEnd(9)} ${loss.toFixed(4).padEnd(15)} ${dir}`);
}
