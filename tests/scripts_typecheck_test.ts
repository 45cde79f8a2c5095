import assert from "node:assert/strict";

// The benchmarks and tools are run, not imported by tests: type-check them here so that they
// keep up with the code they drive (`deno task check` covers mod.ts and the CLI).
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
