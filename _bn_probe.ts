import { parseConfig, type RunConfig } from "./config.ts";
import { TrainingEngine } from "./runtime/engine.ts";
import { Rng } from "./data/rng.ts";
import { batch } from "./runtime/dense/_parity.ts";
import { selectBackend } from "./runtime/backend.ts";
await selectBackend("wasm", "mlp");
const variant = JSON.parse(Deno.args[0] ?? "{}");
const base = {
  model: { kind: "mlp", hidden: [2, 27], activation: "relu", dropout: 0.8, batchNorm: true },
  optimizer: { name: "sgd", lr: 0.2, momentum: 0.1, weightDecay: 0, nesterov: true, dampening: 0, maximize: true },
  clipping: { value: 0.5, maxNorm: 0.01 },
  gradientAccumulation: 2,
};
const cfg = { ...base, ...variant, model: { ...base.model, ...(variant.model ?? {}) } };
const shape = { inputShape: [8], targetSize: 3, task: "regression" as const };
const steps = variant.steps ?? [[26, 14], [13, 11]];
const config = parseConfig({ backend: "wasm", seed: 5, ...cfg }) as RunConfig;
const fused = new TrainingEngine(config, shape);
const reference = new TrainingEngine({ ...config, fusedModel: false, fusedOptimizer: false }, shape);
console.log(fused.modelPath, fused.optimizerPath, reference.modelPath);
const gen = new Rng(11);
const rng = () => gen.float();
const names = Object.keys(await reference.readWeights());
for (const [s, sizes] of steps.entries()) {
  const micro = sizes.map((size: number) => batch(rng, size, 8, shape));
  const a = fused.computeGradients(micro);
  const b = reference.computeGradients(micro);
  const ga = a.hostGrads ?? await Promise.all(a.grads.map((g: any) => g.data()));
  const gb = await Promise.all(b.grads.map((g: any) => g.data()));
  ga.forEach((g: ArrayLike<number>, i: number) => {
    let worst = 0, at = -1;
    for (let j = 0; j < g.length; j++) { const d = Math.abs(g[j] - gb[i][j]); if (d > worst) { worst = d; at = j; } }
    if (worst > 1e-5) console.log(`step ${s} grad ${i} (${names[i]}) [${at}]: ${g[at]} vs ${gb[i][at]}`);
  });
  const maxNorm = config.clipping.maxNorm ?? undefined;
  fused.applyGradients(a, 0.01 * (s + 1), maxNorm);
  reference.applyGradients(b, 0.01 * (s + 1), maxNorm);
  const [va, vb] = [(await fused.readStats([a]))[0], (await reference.readStats([b]))[0]];
  console.log(`step ${s} loss ${va.loss} vs ${vb.loss}, norm ${va.gradNorm} vs ${vb.gradNorm}`);
  const [wa, wb] = [await fused.readWeights(), await reference.readWeights()];
  const la = Object.values(wa), lb = Object.values(wb);
  lb.forEach((w: any, i: number) => {
    let worst = 0;
    w.values.forEach((v: number, j: number) => worst = Math.max(worst, Math.abs(v - la[i].values[j])));
    if (worst > 1e-6) console.log(`  after step ${s} weight ${i} ${names[i]}: worst ${worst}`);
    if (Deno.env.get("SHOW") === names[i]) console.log(`  ${names[i]} after step ${s}: fused`, Array.from(la[i].values as number[]).slice(20), "ref", Array.from(w.values as number[]).slice(20));
  });
}
