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
import { AnnealError, parseConfig, train } from "../mod.ts";

const usage = "usage: deno run -A examples/train_module.ts [--lrs 0.001,0.01,0.1] [--epochs N] " +
  "[--runs-dir runs]";
let parsed;
try {
  parsed = parseArgs({
    options: {
      lrs: { type: "string", default: "0.001,0.01,0.1" },
      epochs: { type: "string" },
      "runs-dir": { type: "string", default: "runs" },
      help: { type: "boolean", short: "h" },
    },
  });
} catch (error) {
  // an unknown flag, or one without its value
  console.error(`error: ${(error as Error).message.split("\n")[0]}\n${usage}`);
  Deno.exit(2);
}
const { values } = parsed;
if (values.help) {
  // (asked for: the usage on stdout, and no run)
  console.log(usage);
  Deno.exit(0);
}
const file = new URL("./sensors_classification.json", import.meta.url);
const input = JSON.parse(await Deno.readTextFile(file));
// The config's data path is relative to the repository's root, where the CLI runs: read it from
// there wherever this script is run from.
input.data.path = fileURLToPath(new URL(`../${input.data.path}`, import.meta.url));
input.runsDir = values["runs-dir"];
/** A flag's number: one that is not ends the script, saying so (as the CLI's flags do). */
function numberOf(flag: string, text: string, example: string): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value)) {
    console.error(
      `error: ${flag} takes numbers, current value is '${text}'\n  hint: e.g. ${example}`,
    );
    Deno.exit(2);
  }
  return value;
}
if (values.epochs !== undefined) input.epochs = numberOf("--epochs", values.epochs, "--epochs 5");
const lrs = values.lrs.split(",").map((text) => numberOf("--lrs", text, "--lrs 0.001,0.03"));

const best: [number, number, string][] = [];
for (const lr of lrs) {
  // parseConfig throws an AnnealError naming every bad field (what, where, and a hint), before
  // any actor starts: a bad --lrs or --epochs ends here.
  let config;
  try {
    config = parseConfig({ ...input, optimizer: { ...input.optimizer, lr } });
  } catch (error) {
    if (!(error instanceof AnnealError)) throw error;
    console.error(`error: ${error.message}${error.hint ? `\n  hint: ${error.hint}` : ""}`);
    Deno.exit(2);
  }
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
