/**
 * A survey of anneal's training step against PyTorch's on the CPU, over a grid of variants off
 * the main benchmark's shapes (bench/main.ts): batch sizes, widths and depths, optimizers,
 * activations, dropout and batch norm of the MLP; the CNN's and the LSTM's neighbours; and small
 * tabular models (where the engine's host step runs). anneal's side is its training engine
 * (`TrainingEngine`, the model and optimizer as `anneal train` builds them) on tfjs-wasm, fed the
 * same host batch every step; PyTorch's is `bench/torch_survey.py`, a server kept running beside
 * it, so that blocks alternate (anneal, torch, anneal, torch, ...) and each round's ratio pairs two
 * measurements of the same minute.
 *
 *   deno run -A --node-modules-dir=manual bench/survey.ts [--only substr,substr] [--rounds 3]
 *     [--ms 400] [--threads N] [--torch-threads N] [--python auto | PATH] [--no-torch]
 *     [--json out.json] [--list]
 *   deno run -A bench/survey.ts --pool base=a1.json,a2.json --pool new=b1.json,b2.json
 *
 * Per variant: warm-up (at least 2 steps and 500 ms: V8 optimizes the host step's loops after
 * some runs), one step to size the blocks (`--ms` of steps, 2 to 100), then `--rounds` rounds of
 * one anneal block and one PyTorch block of that many steps. Each block ends with a read of its
 * last loss. The table gives each side's median ms/step, their ratio (torch / anneal: above 1,
 * anneal is faster) and each round's ratio; `--json` writes every block's time, and `--pool`
 * pools such files (from one tree, or an A/B of two trees' bench/survey.ts) without measuring.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { fileURLToPath } from "node:url";
import { benchFlags } from "./flags.ts";
import { torchPython } from "./torch.ts";
import { parseConfig } from "../config.ts";
import { type HostBatch, TrainingEngine } from "../runtime/engine.ts";
import { selectBackend } from "../runtime/backend.ts";
import { MAX_WASM_THREADS, wasmThreadsWanted } from "../runtime/wasm_threads.ts";

const flags = benchFlags(
  {
    only: { type: "string", default: "" },
    rounds: { type: "string", default: "3" },
    ms: { type: "string", default: "400" },
    threads: { type: "string", default: "" },
    "torch-threads": { type: "string", default: "" },
    python: { type: "string", default: "auto" },
    "no-torch": { type: "boolean", default: false },
    json: { type: "string", default: "" },
    list: { type: "boolean", default: false },
    pool: { type: "string", multiple: true },
  },
  `Usage: deno run -A --node-modules-dir=manual bench/survey.ts [--only substr,substr]
    [--rounds 3] [--ms 400] [--threads N] [--torch-threads N] [--python auto | PATH]
    [--no-torch] [--json out.json] [--list]
  deno run -A bench/survey.ts --pool [LABEL=]a.json,b.json [--pool LABEL=c.json,...]

anneal's training step (its TrainingEngine: the model and optimizer as \`anneal train\` builds
them, on tfjs-wasm, the same host batch every step) against PyTorch's on the CPU
(bench/torch_survey.py), over a grid of model/optimizer/batch variants off bench/main.ts's
shapes (--list names them; --only keeps those whose name holds one of the substrings).

Per variant, after a warm-up, --rounds rounds of one anneal block then one PyTorch block of the
same number of steps (about --ms milliseconds of anneal's steps, 2 to 100), each ended by reading
its last loss. Printed, as a markdown table: the path the engine took (model/optimizer: host,
tfjs, simd), each side's median ms/step over the rounds, the ratio torch / anneal of the two
medians (above 1: anneal is faster) and each round's own ratio (its two blocks ran in the same
minute: on a shared machine the load moves between minutes).

Threads: --threads sets tfjs-wasm's (default: what anneal train takes, cores - 1, at most ${MAX_WASM_THREADS};
anneal train gives the rnn 1, so --threads 1 times the lstm and gru variants as it runs them);
PyTorch gets as many unless --torch-threads says. The python is the first python3 with torch
(--python auto) or PATH; with none found, or --no-torch, only anneal's column is measured.

--json FILE writes every block's time per variant. --pool reads such files and measures nothing:
per variant and per group (LABEL=files; unlabelled: one group) the median anneal ms/step over
all their blocks and the median of all their rounds' ratios, the torch median over every group,
and the first group's ms over each other's (an A/B: run each tree's bench/survey.ts in turn,
--json each, then pool them).

Example: deno run -A --node-modules-dir=manual bench/survey.ts --only "small mlp 20-64 adam b32" --rounds 1`,
);

/** One point of the grid: anneal's model and optimizer specs, the input shape, the batch size. */
interface Variant {
  name: string;
  model: Record<string, unknown>;
  input: number[];
  batch: number;
  optimizer: Record<string, unknown>;
  /** Clipping by global norm (anneal's `applyGradients` maxNorm, torch's clip_grad_norm_). */
  clip?: number;
}

/** One variant's measurements (`--json` writes a list of these; `--pool` reads them). */
interface Result {
  variant: string;
  /** The engine's `modelPath/optimizerPath`. */
  paths: string;
  steps: number;
  /** ms/step of each round's anneal block. */
  anneal: number[];
  /** ms/step of each round's torch block (empty without torch). */
  torch: number[];
  annealMs: number;
  torchMs: number | null;
  ratio: number | null;
}

const ADAM = { name: "adam", lr: 1e-3, eps: 1e-8 };
const SGDM = { name: "sgd", lr: 0.01, momentum: 0.9 };
const mlp = (hidden: number[], extra: Record<string, unknown> = {}) => ({
  kind: "mlp",
  hidden,
  ...extra,
});
const MNIST = [784];
const IMAGE = [28, 28, 1];
const TABULAR = [20];

function variants(): Variant[] {
  const list: Variant[] = [];
  const add = (
    name: string,
    model: Record<string, unknown>,
    input: number[],
    batch: number,
    optimizer: Record<string, unknown>,
    clip?: number,
  ) => list.push({ name, model, input, batch, optimizer, clip });
  // the main benchmark's mlp, and its batch sizes
  add("mlp 784-512-512 adam b256 (bench)", mlp([512, 512]), MNIST, 256, ADAM);
  for (const b of [32, 64, 512, 1024]) {
    add(`mlp 784-512-512 adam b${b}`, mlp([512, 512]), MNIST, b, ADAM);
  }
  // widths and depths
  add("mlp 784-128 adam b256", mlp([128]), MNIST, 256, ADAM);
  add("mlp 784-1024-1024 adam b256", mlp([1024, 1024]), MNIST, 256, ADAM);
  add("mlp 784-256x4 adam b256", mlp([256, 256, 256, 256]), MNIST, 256, ADAM);
  add("mlp 20-128 adam b64 (tabular)", mlp([128]), TABULAR, 64, ADAM);
  add("mlp 20-256-256 adam b256 (tabular)", mlp([256, 256]), TABULAR, 256, ADAM);
  add("mlp 20-128 sgd b32 (tabular)", mlp([128]), TABULAR, 32, SGDM);
  // optimizers
  const wide = mlp([512, 512]);
  add("mlp 784-512-512 sgd-nesterov b256", wide, MNIST, 256, { ...SGDM, nesterov: true });
  add("mlp 784-512-512 sgd-plain b256", wide, MNIST, 256, { name: "sgd", lr: 0.01 });
  add("mlp 784-512-512 sgd-wd b256", wide, MNIST, 256, { ...SGDM, weightDecay: 5e-4 });
  add("mlp 784-512-512 adamw b256", wide, MNIST, 256, { name: "adamw", lr: 1e-3 });
  add("mlp 784-512-512 rmsprop b256", wide, MNIST, 256, { name: "rmsprop", lr: 1e-3 });
  add("mlp 784-512-512 rmsprop-mom b256", wide, MNIST, 256, {
    name: "rmsprop",
    lr: 1e-3,
    momentum: 0.9,
  });
  add("mlp 784-512-512 lion b256", wide, MNIST, 256, { name: "lion", lr: 1e-4 });
  add("mlp 784-512-512 adagrad b256", wide, MNIST, 256, { name: "adagrad", lr: 1e-2 });
  add("mlp 784-512-512 nadam b256", wide, MNIST, 256, { name: "nadam", lr: 2e-3 });
  add("mlp 784-512-512 radam b256", wide, MNIST, 256, { name: "radam", lr: 1e-3 });
  add("mlp 784-512-512 adamax b256", wide, MNIST, 256, { name: "adamax", lr: 2e-3 });
  add("mlp 784-512-512 adam clip1 b256", wide, MNIST, 256, ADAM, 1);
  // activations, dropout, batch norm
  for (const activation of ["tanh", "gelu", "sigmoid"]) {
    add(
      `mlp 784-512-512 ${activation} adam b256`,
      mlp([512, 512], { activation }),
      MNIST,
      256,
      ADAM,
    );
  }
  add("mlp 784-512-512 dropout0.2 adam b256", mlp([512, 512], { dropout: 0.2 }), MNIST, 256, ADAM);
  add(
    "mlp 784-512-512 batchnorm adam b256",
    mlp([512, 512], { batchNorm: true }),
    MNIST,
    256,
    ADAM,
  );
  // the cnn (conv-bn-relu-pool x2, dense 128) and its neighbours
  const cnn = { kind: "cnn" };
  add("cnn default adam b128 (bench)", cnn, IMAGE, 128, ADAM);
  add("cnn default adam b32", cnn, IMAGE, 32, ADAM);
  add("cnn default adam b256", cnn, IMAGE, 256, ADAM);
  add("cnn default sgd b128", cnn, IMAGE, 128, SGDM);
  add("cnn 16-32 adam b128", { kind: "cnn", filters: [16, 32] }, IMAGE, 128, ADAM);
  add("cnn 32-64 k5 adam b128", { kind: "cnn", kernelSize: 5 }, IMAGE, 128, ADAM);
  add("cnn 32-64 noBN adam b128", { kind: "cnn", batchNorm: false }, IMAGE, 128, ADAM);
  add("cnn 32-64-128 adam b128", { kind: "cnn", filters: [32, 64, 128] }, IMAGE, 128, ADAM);
  add("cnn 32x32x3 adam b128", cnn, [32, 32, 3], 128, ADAM);
  add("cnn dropout0.3 adam b128", { kind: "cnn", dropout: 0.3 }, IMAGE, 128, ADAM);
  // the lstm and its neighbours
  const rnn = (cell: string, units: number, extra: Record<string, unknown> = {}) => ({
    kind: "rnn",
    cell,
    units,
    ...extra,
  });
  add("lstm 128 seq32x16 adam clip b64 (bench)", rnn("lstm", 128), [32, 16], 64, ADAM, 1);
  add("gru 128 seq32x16 adam clip b64", rnn("gru", 128), [32, 16], 64, ADAM, 1);
  add("lstm 64 seq32x16 adam b64", rnn("lstm", 64), [32, 16], 64, ADAM);
  add("lstm 256 seq32x16 adam b64", rnn("lstm", 256), [32, 16], 64, ADAM);
  add("lstm 128 seq100x8 adam b32", rnn("lstm", 128), [100, 8], 32, ADAM);
  add("lstm 128x2 seq32x16 adam b64", rnn("lstm", 128, { layers: 2 }), [32, 16], 64, ADAM);
  add("gru 64 seq28x28 adam b128", rnn("gru", 64), [28, 28], 128, ADAM);
  // small tabular models (the host step's neighbourhood)
  for (const hidden of [[32], [64], [128], [64, 64], [256]]) {
    for (const b of [16, 32, 64, 128]) {
      add(`small mlp 20-${hidden.join("-")} adam b${b}`, mlp(hidden), TABULAR, b, ADAM);
    }
  }
  add("small linear 20 sgd b32", { kind: "linear" }, TABULAR, 32, SGDM);
  add("small mlp 8-16 sgd b16", mlp([16]), [8], 16, SGDM);
  // small models with the host step's other optimizers
  const small: [number[], number][] = [[[64], 64], [[128], 32], [[64, 64], 16]];
  for (const [hidden, b] of small) {
    const h = hidden.join("-");
    const rmsprop = { name: "rmsprop", lr: 1e-3 };
    add(`smallopt mlp 20-${h} rmsprop b${b}`, mlp(hidden), TABULAR, b, rmsprop);
    add(`smallopt mlp 20-${h} rmsprop-centered-mom b${b}`, mlp(hidden), TABULAR, b, {
      ...rmsprop,
      centered: true,
      momentum: 0.9,
    });
    add(`smallopt mlp 20-${h} lion b${b}`, mlp(hidden), TABULAR, b, { name: "lion", lr: 1e-4 });
    add(`smallopt mlp 20-${h} adagrad b${b}`, mlp(hidden), TABULAR, b, {
      name: "adagrad",
      lr: 1e-2,
    });
  }
  add("smallopt linear 20 rmsprop b32", { kind: "linear" }, TABULAR, 32, {
    name: "rmsprop",
    lr: 1e-3,
  });
  return list;
}

/** The median (of an even count, the mean of the middle two). */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const fixed = (x: number | null | undefined, digits: number, suffix = "") =>
  x === null || x === undefined || !Number.isFinite(x) ? "-" : `${x.toFixed(digits)}${suffix}`;

/** A whole number >= `min` from a flag, or exit 2 saying which flag. */
function wholeFlag(name: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    console.error(`--${name} must be a whole number >= ${min}, not '${value}'`);
    Deno.exit(2);
  }
  return n;
}

/** anneal's step of `v`: the engine as `anneal train` builds it, a fixed random batch. */
function engineStepper(v: Variant) {
  const config = parseConfig({
    backend: "wasm",
    seed: 1,
    model: v.model,
    optimizer: v.optimizer,
    batchSize: v.batch,
  });
  const engine = new TrainingEngine(config, {
    inputShape: v.input,
    targetSize: 1,
    task: "classification",
    numClasses: 10,
  });
  let seed = 7;
  const next = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const size = v.batch * v.input.reduce((a, b) => a * b);
  const batch: HostBatch = {
    x: Float32Array.from({ length: size }, () => next()),
    y: Float32Array.from({ length: v.batch }, () => Math.floor(next() * 10)),
    size: v.batch,
  };
  const lr = (v.optimizer.lr as number | undefined) ?? 1e-3;
  return {
    paths: `${engine.modelPath}/${engine.optimizerPath}`,
    step: (): tf.Tensor | Float32Array => {
      const pending = engine.computeGradients([batch]);
      engine.applyGradients(pending, lr, v.clip);
      return pending.stats;
    },
    dispose: () => engine.dispose(),
  };
}

/** ms/step of `steps` steps, ended by reading the last step's stats (on the host: none to read). */
async function block(s: ReturnType<typeof engineStepper>, steps: number): Promise<number> {
  const start = performance.now();
  let last: tf.Tensor | Float32Array | undefined;
  for (let i = 0; i < steps; i++) {
    if (last instanceof tf.Tensor) last.dispose();
    last = s.step();
  }
  if (last instanceof tf.Tensor) {
    await last.data();
    last.dispose();
  }
  return (performance.now() - start) / steps;
}

/** PyTorch's side: bench/torch_survey.py, one JSON line each way per block. */
interface TorchServer {
  /** ms/step of a block of `steps` steps of the variant (built on its id's first block). */
  block(id: number, variant: Variant, steps: number, drop: boolean): Promise<number>;
  close(): Promise<void>;
}

function startTorch(python: string, threads: number): TorchServer {
  const script = fileURLToPath(new URL("./torch_survey.py", import.meta.url));
  const child = new Deno.Command(python, {
    args: [script, String(threads)],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  const readLine = async () => {
    while (!buffered.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) throw new Error("bench/torch_survey.py ended (its error above)");
      buffered += value;
    }
    const i = buffered.indexOf("\n");
    const line = buffered.slice(0, i);
    buffered = buffered.slice(i + 1);
    return line;
  };
  return {
    async block(id, variant, steps, drop) {
      const request = JSON.stringify({ id, variant, steps, drop });
      await writer.write(new TextEncoder().encode(request + "\n"));
      return (JSON.parse(await readLine()) as { ms: number }).ms;
    },
    async close() {
      await writer.close().catch(() => {});
      await lines.cancel().catch(() => {});
      await child.status;
    },
  };
}

/** Measures the chosen variants; prints the table; returns the results. */
async function survey(chosen: Variant[]): Promise<Result[]> {
  const rounds = wholeFlag("rounds", flags.rounds, 1);
  const targetMs = Number(flags.ms);
  if (!(targetMs > 0)) {
    console.error(`--ms must be a positive number, not '${flags.ms}'`);
    Deno.exit(2);
  }
  // default: what `anneal train` takes (runtime/wasm_threads.ts: cores - 1, at least 1)
  const threads = flags.threads
    ? wholeFlag("threads", flags.threads, 1)
    : wasmThreadsWanted(undefined, "mlp");
  const torchThreads = flags["torch-threads"]
    ? wholeFlag("torch-threads", flags["torch-threads"], 1)
    : threads;
  const wasmThreads = Math.min(MAX_WASM_THREADS, threads);
  const selection = await selectBackend("wasm", "mlp", { wasmThreads });

  let torch: TorchServer | undefined;
  let torchNote: string;
  if (flags["no-torch"]) {
    torchNote = "torch skipped (--no-torch)";
  } else {
    const python = await torchPython(flags.python!);
    if (python) {
      torch = startTorch(python, torchThreads);
      torchNote = `torch: ${python}, threads ${torchThreads}`;
    } else {
      torchNote = "torch skipped: no python3 with torch found (--python PATH names one)";
    }
  }
  console.error(`# ${selection.reason}; ${torchNote}`);
  if (!torch) console.error("# (anneal's column only: no torch ms and no ratios)");

  const results: Result[] = [];
  console.log(
    "| variant | paths | anneal ms/step | torch ms/step | ratio (torch/anneal) | per-round ratios |",
  );
  console.log("| --- | --- | ---: | ---: | ---: | --- |");
  for (const [id, v] of chosen.entries()) {
    const s = engineStepper(v);
    // warm-up: at least 2 steps and 500 ms (V8 optimizes the host step's loops after some runs)
    const warm = performance.now();
    for (let n = 0; n < 2 || performance.now() - warm < 500; n++) await block(s, 1);
    const one = await block(s, 1);
    const steps = Math.max(2, Math.min(100, Math.round(targetMs / Math.max(one, 0.01))));
    const anneal: number[] = [];
    const torchMs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      anneal.push(await block(s, steps));
      if (!torch) continue;
      try {
        torchMs.push(await torch.block(id, v, steps, r === rounds - 1));
      } catch (error) {
        console.error(`# torch side stopped: ${(error as Error).message}; anneal's column only`);
        await torch.close().catch(() => {});
        torch = undefined;
        torchMs.length = 0;
      }
    }
    s.dispose();
    const am = median(anneal);
    const tm = torchMs.length ? median(torchMs) : null;
    const ratio = tm === null ? null : tm / am;
    const perRound = torchMs.map((t, r) => (t / anneal[r]).toFixed(2)).join(" ") || "-";
    console.log(
      `| ${v.name} | ${s.paths} | ${fixed(am, 2)} | ${fixed(tm, 2)} | ${
        fixed(ratio, 2, "x")
      } | ${perRound} |`,
    );
    results.push({
      variant: v.name,
      paths: s.paths,
      steps,
      anneal,
      torch: torchMs,
      annealMs: am,
      torchMs: tm,
      ratio,
    });
  }
  await torch?.close();
  return results;
}

/** `--pool`: the table of several `--json` files, in groups (`LABEL=a.json,b.json`). */
async function pool(specs: string[]): Promise<void> {
  const groups = specs.map((spec, i) => {
    const at = spec.indexOf("=");
    const label = at > 0 ? spec.slice(0, at) : specs.length > 1 ? `run${i + 1}` : "anneal";
    return { label, files: spec.slice(at + 1).split(",").filter((f) => f) };
  });
  interface Pooled {
    paths?: string;
    anneal: number[];
    ratios: number[];
  }
  const rows = new Map<string, { torch: number[]; groups: Pooled[] }>();
  for (const [g, group] of groups.entries()) {
    for (const file of group.files) {
      const results = JSON.parse(await Deno.readTextFile(file)) as Result[];
      for (const x of results) {
        let row = rows.get(x.variant);
        if (!row) {
          row = { torch: [], groups: groups.map(() => ({ anneal: [], ratios: [] })) };
          rows.set(x.variant, row);
        }
        const pooled = row.groups[g];
        pooled.paths = x.paths;
        pooled.anneal.push(...x.anneal);
        row.torch.push(...x.torch);
        pooled.ratios.push(...x.torch.map((t, r) => t / x.anneal[r]));
      }
    }
  }
  const first = groups[0].label;
  const head = [
    "variant",
    ...groups.flatMap(({ label }) => [`${label} paths`, `${label} ms`, `${label} ratio`]),
    "torch ms",
    ...groups.slice(1).map(({ label }) => `${first}/${label} ms`),
  ];
  const align = [
    "---",
    ...groups.flatMap(() => ["---", "---:", "---:"]),
    "---:",
    ...groups.slice(1).map(() => "---:"),
  ];
  console.log(`| ${head.join(" | ")} |`);
  console.log(`| ${align.join(" | ")} |`);
  for (const [variant, row] of rows) {
    const ms = row.groups.map((p) => p.anneal.length ? median(p.anneal) : null);
    const cells = [
      variant,
      ...row.groups.flatMap((p, g) => [
        p.paths ?? "-",
        fixed(ms[g], 3),
        p.ratios.length ? fixed(median(p.ratios), 2, "x") : "-",
      ]),
      row.torch.length ? fixed(median(row.torch), 3) : "-",
      ...ms.slice(1).map((m) => ms[0] === null || m === null ? "-" : fixed(ms[0] / m, 2)),
    ];
    console.log(`| ${cells.join(" | ")} |`);
  }
}

if (import.meta.main) {
  if (flags.pool?.length) {
    await pool(flags.pool);
    Deno.exit(0);
  }
  const all = variants();
  if (flags.list) {
    for (const v of all) console.log(v.name);
    Deno.exit(0);
  }
  const only = flags.only ? flags.only.split(",") : [];
  const chosen = only.length ? all.filter((v) => only.some((o) => v.name.includes(o))) : all;
  if (!chosen.length) {
    console.error(`--only ${flags.only}: no variant's name holds it (--list names them)`);
    Deno.exit(2);
  }
  const results = await survey(chosen);
  if (flags.json) await Deno.writeTextFile(flags.json, JSON.stringify(results, null, 2));
  // (not waiting on anything the backend or the torch server's pipes may still hold)
  Deno.exit(0);
}
