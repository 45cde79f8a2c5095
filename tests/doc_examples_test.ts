import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const skipped = new Set(["node_modules", "runs", "tests", ".git"]);

/** The source files (tests aside) whose doc comments hold a `ts` example. */
async function filesWithExamples(dir = root, into: string[] = []): Promise<string[]> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`.replace("//", "/");
    if (entry.isDirectory && !skipped.has(entry.name)) await filesWithExamples(path, into);
    else if (entry.isFile && entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")) {
      if ((await Deno.readTextFile(path)).includes("* ```ts")) into.push(path.slice(root.length));
    }
  }
  return into.sort();
}

/** Files a `deno test --doc` process takes: one over all of them held ~300 examples to check. */
const FILES_A_PROCESS = 30;

/**
 * `deno test --doc` over `files`: its exit code and output. A process the system killed (a
 * signal: Deno itself crashed, as "corrupted size vs. prev_size" once did in CI, while checking)
 * is run again once, saying so; an example that fails fails either way.
 */
async function docTests(files: string[]): Promise<{ code: number; text: string }> {
  for (let attempt = 0;; attempt++) {
    const output = await new Deno.Command(Deno.execPath(), {
      // (--no-check: tests/scripts_typecheck_test.ts checks them, with the whole workspace, in
      // one program; here each batch was a program of its own)
      args: ["test", "--doc", "--no-check", "-A", ...files],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
    if (output.signal === null || attempt > 0) return { code: output.code, text };
    console.error(
      `deno test --doc was killed by ${output.signal} (its output ends: ` +
        `${JSON.stringify(text.slice(-300))}); running it again once`,
    );
  }
}

// Every doc comment's example runs (`deno test --doc`; tests/scripts_typecheck_test.ts
// type-checks them), the module's own (`mod.ts` re-exports) among them. Their checks are
// `console.assert`s, which only print "Assertion failed" and let the example pass: a wrong
// example (readRun's count of warnings, a StartWarnings lapse that the example's own steps had
// undone) passed unseen.
Deno.test("every doc comment's example runs, and none of its console.asserts fails", async () => {
  const files = await filesWithExamples();
  assert.ok(files.includes("mod.ts") && files.includes("sweeps/optimize.ts"), files.join(" "));
  for (let from = 0; from < files.length; from += FILES_A_PROCESS) {
    const { code, text } = await docTests(files.slice(from, from + FILES_A_PROCESS));
    // (the example a failed assert printed in, as deno test names it: file.ts#from-to.ts)
    const failedIn = [
      ...text.matchAll(
        /(\S+\.ts#\d+-\d+\.ts) \.\.\.\s*\n[^\n]*post-test output[^\n]*\nAssertion failed/g,
      ),
    ].map((match) => match[1].replace(`file://${root}`, ""));
    assert.equal(code, 0, text.slice(-4000));
    assert.ok(
      !text.includes("Assertion failed"),
      `a doc example's console.assert failed: ${failedIn.join(", ") || text}`,
    );
  }
});
