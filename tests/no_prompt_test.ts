/**
 * A module user's process given only the permissions a run needs (read, and write to its runs
 * directory) is never prompted for anneal's optional extras (the host's name, the git commit,
 * the machine's memory): in a terminal Deno asks, and the run waited on each answer. Run under
 * `script`, which gives the process a terminal, with nothing to answer on stdin.
 *
 * @module
 */
import assert from "node:assert/strict";
import { REPO_ROOT, tempRunsDir } from "./_helpers.ts";

/** Runs `source` as a module user's script in a terminal (`script`), with `permissions`. */
async function inTerminal(source: string, permissions: string[], dir: string) {
  const file = `${dir}/user.ts`;
  await Deno.writeTextFile(file, source);
  const deno = [
    Deno.execPath(),
    "run",
    "--node-modules-dir=manual",
    "--config",
    `${REPO_ROOT}deno.json`,
    ...permissions,
    file,
  ].map((word) => `'${word}'`).join(" ");
  const output = await new Deno.Command("script", {
    args: ["-qec", deno, "/dev/null"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
}

const hasScript = new Deno.Command("script", { args: ["--version"], stdout: "null" }).outputSync()
  .success;

Deno.test({
  name: "train() with read and its runs directory's write only asks for no other permission",
  ignore: !hasScript,
  async fn() {
    await using runs = await tempRunsDir();
    const out = await inTerminal(
      `import { train } from "${REPO_ROOT}mod.ts";\n` +
        `const run = train({ epochs: 2, backend: "cpu", runsDir: "${runs.dir}" });\n` +
        `console.log("status", (await run.result).status);\n`,
      ["--allow-read", `--allow-write=${runs.dir}`],
      runs.dir,
    );
    // (it asked for sys "hostname", run "git" and sys "systemMemoryInfo", each in turn)
    assert.doesNotMatch(out, /Deno requests/, out);
    assert.match(out, /status completed/, out);
  },
});

Deno.test("optimize() over a function, in memory, needs no permission at all", async () => {
  await using runs = await tempRunsDir();
  const file = `${runs.dir}/objective.ts`;
  await Deno.writeTextFile(
    file,
    `import { optimize } from "${REPO_ROOT}mod.ts";\n` +
      `const result = await optimize({ space: { x: { type: "uniform", low: 0, high: 1 } }, ` +
      `objective: ({ x }) => x as number, trials: 3 });\n` +
      `console.log("trials", result.trials.length);\n`,
  );
  // (it failed with NotCapable: sys access to "hostname", for the default worker id)
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "--node-modules-dir=manual",
      "--config",
      `${REPO_ROOT}deno.json`,
      file,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  assert.ok(output.success, text);
  assert.match(text, /trials 3/);
});
