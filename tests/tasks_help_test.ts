/**
 * The development tasks' arguments: `deno task bench` (bench/all.ts) and the device scripts
 * (tools/device_run.sh, tools/device_prepare.sh) answer `--help` with what they run, and refuse
 * an argument they do not take before they run anything.
 *
 * @module
 */
import assert from "node:assert/strict";
import { PARTS } from "../bench/all.ts";

const root = new URL("..", import.meta.url);
const decoder = new TextDecoder();

/** `program` with `args`, from the repository's root: its exit code and output. */
async function run(program: string, ...args: string[]) {
  const output = await new Deno.Command(program, { args, cwd: root, env: { NO_COLOR: "1" } })
    .output();
  return {
    code: output.code,
    out: decoder.decode(output.stdout),
    err: decoder.decode(output.stderr),
  };
}

/** `deno task bench` with `args`. */
const benchTask = (...args: string[]) => run(Deno.execPath(), "task", "--quiet", "bench", ...args);

Deno.test("deno task bench --help prints what it runs, each part's file and how to give a part its flags, and runs nothing", async () => {
  const help = await benchTask("--help");
  assert.equal(help.code, 0, help.err);
  assert.match(help.out, /^Usage: deno task bench \[--parts main,actors,startup\]/);
  for (const part of Object.values(PARTS)) assert.ok(help.out.includes(part.file), part.file);
  assert.match(help.out, /bench\/main\.ts --help/);
  // no benchmark's output: the usage alone
  assert.doesNotMatch(help.out + help.err, /ms\/step|round \d|median/);
});

Deno.test("deno task bench refuses another part's flag, or a part it does not have, before any benchmark runs", async () => {
  const flag = await benchTask("--backend", "wasm");
  assert.equal(flag.code, 2);
  assert.match(flag.err, /Unknown option '--backend'/);
  assert.match(flag.err, /A part's own settings .* are its flags: run it alone/s);
  const part = await benchTask("--parts", "main,startp");
  assert.equal(part.code, 2);
  assert.match(
    part.err,
    /--parts "main,startp": no part named startp; the parts are main, actors, startup/,
  );
  const none = await benchTask("--parts", ",");
  assert.equal(none.code, 2);
  assert.match(none.err, /--parts ",": names no part/);
  for (const refused of [flag, part, none]) {
    assert.doesNotMatch(refused.out, /ms\/step|round \d|median/, "no benchmark ran");
  }
});

Deno.test("the device scripts print their header for --help and refuse an argument they do not take, before doing anything", async () => {
  const script = (file: string, ...args: string[]) => run("bash", file, ...args);
  const device = await script("tools/device_run.sh", "--help");
  assert.equal(device.code, 0, device.err);
  assert.match(device.out, /^Runs on the device machine/);
  assert.match(device.out, /`--quick` \(a second call/);
  const prepare = await script("tools/device_prepare.sh", "--help");
  assert.equal(prepare.code, 0, prepare.err);
  assert.match(prepare.out, /^Prepares what a session lent a GPU carries/);
  const wrong = await script("tools/device_run.sh", "--fast");
  assert.equal(wrong.code, 2);
  assert.match(wrong.err, /unknown argument '--fast': it takes --quick or nothing/);
  const extra = await script("tools/device_run.sh", "--quick", "more");
  assert.equal(extra.code, 2);
  assert.match(extra.err, /one argument at most/);
  const given = await script("tools/device_prepare.sh", "now");
  assert.equal(given.code, 2);
  assert.match(given.err, /it takes no arguments, not 'now'/);
  for (const refused of [wrong, extra, given]) assert.equal(refused.out, "", "nothing was done");
});

/**
 * The benchmark scripts that take `--help`: those that parse their flags with bench/flags.ts's
 * `benchFlags`, and bench/paired.ts (which passes its other flags on to bench/main.ts). Not
 * bench/all.ts: it is `deno task bench`, tested above.
 */
const BENCH_SCRIPTS = [
  "bench/actor_overhead.ts",
  "bench/actor_threads.ts",
  "bench/dense_overhead.ts",
  "bench/evaluate.ts",
  "bench/kernels_ab.ts",
  "bench/lr_find_curves.ts",
  "bench/main.ts",
  "bench/paired.ts",
  "bench/profile_wasm_cnn.ts",
  "bench/soak.ts",
  "bench/startup.ts",
  "bench/survey.ts",
  "bench/upload.ts",
  "bench/webgpu_ab.ts",
  "bench/webgpu_exit.ts",
];

Deno.test("each benchmark script prints its usage for --help and refuses an unknown flag, before it runs anything", async () => {
  // a script that comes to call benchFlags is listed here too
  for await (const entry of Deno.readDir(new URL("bench/", root))) {
    const file = `bench/${entry.name}`;
    if (!entry.isFile || !file.endsWith(".ts") || file === "bench/all.ts") continue;
    if ((await Deno.readTextFile(new URL(file, root))).includes("benchFlags(")) {
      assert.ok(BENCH_SCRIPTS.includes(file), `${file} calls benchFlags: list it`);
    }
  }
  const script = async (file: string, ...args: string[]) => ({
    file,
    ...await run(
      Deno.execPath(),
      "run",
      "--node-modules-dir=manual",
      "--no-check",
      "-A",
      file,
      ...args,
    ),
  });
  for (const help of await Promise.all(BENCH_SCRIPTS.map((file) => script(file, "--help")))) {
    assert.equal(help.code, 0, `${help.file}: ${help.err}`);
    assert.ok(help.out.startsWith("Usage: "), `${help.file}: ${help.out}`);
    assert.ok(help.out.includes(help.file), `${help.file}: its usage names it`);
    assert.doesNotMatch(help.err, /Uncaught/, help.file);
  }
  const wrong = await script("bench/upload.ts", "--no-such-flag");
  assert.equal(wrong.code, 2, wrong.err);
  assert.match(wrong.err, /Unknown option '--no-such-flag'/);
  assert.match(wrong.err, /Usage: deno run -A bench\/upload\.ts/);
  assert.doesNotMatch(wrong.err, /Uncaught/);
  assert.equal(wrong.out, "", "nothing was run");
});
