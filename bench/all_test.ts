import assert from "node:assert/strict";
import { PARTS } from "./all.ts";

const root = new URL("..", import.meta.url);
const decoder = new TextDecoder();

/** `deno task bench` with `args`, from the repository's root: its exit code and output. */
async function benchTask(...args: string[]) {
  const started = performance.now();
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "bench", ...args],
    cwd: root,
    env: { NO_COLOR: "1" },
  }).output();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
    seconds: (performance.now() - started) / 1000,
  };
}

Deno.test("deno task bench --help prints what it runs, each part's file and how to give a part its flags, and runs nothing", async () => {
  const help = await benchTask("--help");
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^Usage: deno task bench \[--parts main,actors,startup\]/);
  for (const part of Object.values(PARTS)) assert.ok(help.stdout.includes(part.file), part.file);
  assert.match(help.stdout, /bench\/main\.ts --help/);
  // no benchmark's output: the usage alone
  assert.doesNotMatch(help.stdout + help.stderr, /ms\/step|round \d|median/);
});

Deno.test("deno task bench refuses another part's flag, or a part it does not have, before any benchmark runs", async () => {
  const flag = await benchTask("--backend", "wasm");
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /Unknown option '--backend'/);
  assert.match(flag.stderr, /A part's own settings .* are its flags: run it alone/s);
  const part = await benchTask("--parts", "main,startp");
  assert.equal(part.code, 2);
  assert.match(
    part.stderr,
    /--parts "main,startp": no part named startp; the parts are main, actors, startup/,
  );
  const none = await benchTask("--parts", ",");
  assert.equal(none.code, 2);
  assert.match(none.stderr, /--parts ",": names no part/);
  for (const refused of [flag, part, none]) {
    assert.doesNotMatch(refused.stdout, /ms\/step|round \d|median/, "no benchmark ran");
  }
});
