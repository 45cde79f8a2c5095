import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
// (hidden folders, .git among them, are skipped too)
const skipped = new Set(["node_modules", "runs", "tests"]);

/**
 * The source files (tests and hidden folders aside) whose doc comments hold a `ts` example that
 * runs (not one marked `ts ignore`).
 */
async function filesWithExamples(dir = root, into: string[] = []): Promise<string[]> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`.replace("//", "/");
    if (entry.isDirectory) {
      if (!skipped.has(entry.name) && !entry.name.startsWith(".")) {
        await filesWithExamples(path, into);
      }
    } else if (entry.isFile && entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")) {
      if (/^\s*\* ```ts\s*$/m.test(await Deno.readTextFile(path))) {
        into.push(path.slice(root.length));
      }
    }
  }
  return into.sort();
}

/**
 * What `deno test --doc .` is told to leave: test files, tests/, Markdown (README.md's blocks are
 * tests/readme_blocks_test.ts's), and what {@linkcode filesWithExamples} skips, hidden folders too.
 */
async function ignored(): Promise<string> {
  const patterns = ["**/*_test.ts", "**/*.md", ...[...skipped].map((name) => `${name}/`)];
  for await (const entry of Deno.readDir(root)) {
    if (entry.isDirectory && entry.name.startsWith(".")) patterns.push(`${entry.name}/`);
  }
  return patterns.join(",");
}

/**
 * `deno test --doc` over the workspace's folders: its exit code and output. A process the system
 * killed (a signal: Deno itself crashed, as "corrupted size vs. prev_size" once did in CI, while
 * checking) is run again once, saying so; an example that fails fails either way. Where the run
 * again also dies of a signal after its summary said every example passed ("double free or
 * corruption" at its exit: it happened to both runs of one CI, each after "ok | 327 passed | 0
 * failed"), its verdict stands, with a warning: what was to be tested had been, and the crash is
 * Deno's, in tearing the process down. One that dies before that summary fails.
 *
 * It is given the folder, not the files: a file named on the command line is also run as a test
 * module (0 tests, in an isolate of its own that loads its imports: ~0.4 s each for the ~180
 * files, a third of the whole); a file found in a folder only has its examples run.
 */
async function docTests(): Promise<{ code: number; text: string }> {
  for (let attempt = 0;; attempt++) {
    const output = await new Deno.Command(Deno.execPath(), {
      // (--no-check: tests/scripts_typecheck_test.ts checks them, with the whole workspace, in
      // one program)
      args: ["test", "--doc", "--no-check", "-A", `--ignore=${await ignored()}`, "."],
      cwd: root,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
    if (output.signal === null) return { code: output.code, text };
    if (attempt > 0) {
      // (the summary deno test prints once every example has run, before it exits)
      const passed = /^ok \| \d+ passed \| 0 failed/m.test(text);
      if (!passed) return { code: output.code, text };
      console.error(
        `deno test --doc passed every example, then was killed by ${output.signal} again as it ` +
          `exited (${JSON.stringify(text.slice(-120))}): its verdict stands`,
      );
      return { code: 0, text };
    }
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
  assert.ok(files.includes("config.ts") && files.includes("sweeps/optimize.ts"), files.join(" "));
  const { code, text } = await docTests();
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
  // Every file with an example had its examples run, and nothing else ran: no file as a test
  // module, no test file, no Markdown.
  const ran = new Set(
    [...text.matchAll(/^running \d+ tests? from \.\/(\S+?)(#\d+-\d+\.ts)?$/gm)].map((match) =>
      match[2] ? match[1] : `${match[1]} (as a module)`
    ),
  );
  assert.deepEqual([...ran].sort(), files);
});
