import assert from "node:assert/strict";

// The benchmarks and tools are run, not imported by tests: type-check them here too, so that the
// suite fails when they no longer keep up with the code they drive (as `deno task check` does).
Deno.test("the benchmark and tool scripts type-check", async () => {
  const root = new URL("../", import.meta.url);
  const scripts: string[] = [];
  for (const dir of ["bench", "tools"]) {
    for await (const entry of Deno.readDir(new URL(dir, root))) {
      if (entry.isFile && entry.name.endsWith(".ts")) scripts.push(`${dir}/${entry.name}`);
    }
  }
  assert.ok(scripts.includes("bench/main.ts") && scripts.includes("tools/build_wasm_kernels.ts"));
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["check", ...scripts.sort()],
    cwd: root,
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
});

Deno.test("no npm package brings its own @types/node: node: imports are typed alike in every graph", async () => {
  // A graph holding an @types/node (a dependency of @types/cli-progress, any version, so the
  // newest) types every node: import in it with that version, not Deno's own: a test file
  // checked alone passed, and checked with the CLI failed on node:assert's newer overloads.
  const lock = JSON.parse(await Deno.readTextFile(new URL("../deno.lock", import.meta.url)));
  const typesNode = Object.keys(lock.npm ?? {}).filter((name) => name.startsWith("@types/node@"));
  assert.deepEqual(typesNode, [], "deno.lock resolves @types/node (which package needs it?)");
});
