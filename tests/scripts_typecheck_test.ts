import assert from "node:assert/strict";

// The whole workspace type-checks, in one program: the modules, the tests, the actors' Worker
// entries (loaded by URL, so imported by no test), the benchmarks and tools (run, not imported),
// and every doc comment's example (`--doc`). The suite's own runs skip checking
// (tools/test.sh passes --no-check): checked here once, not again by each deno test process, each
// Worker entry it loads and each batch of doc examples (with a cold cache, ~20 s of a test's
// time for the first run of a Worker entry, ~5 s for each of the 11 batches).
Deno.test("the whole workspace type-checks: modules, tests, Worker entries, scripts and doc comments' examples", async () => {
  const root = new URL("../", import.meta.url);
  // (the files run, not imported, that the check must reach: it takes the directory)
  for (
    const script of ["bench/main.ts", "tools/build_wasm_kernels.ts", "actors/trainer_worker.ts"]
  ) {
    await Deno.stat(new URL(script, root));
  }
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--doc", "."],
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
