import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
// (hidden folders, .git among them, are skipped too)
const skipped = new Set(["node_modules", "runs", "tests"]);

/** A doc comment's fence of an example `deno test --doc` runs (not one marked `ignore`). */
const RUNNABLE = /^\s*\* ```(ts|js|javascript|mjs|cjs|jsx|typescript|mts|cts|tsx)\s*$/m;

/**
 * The source files (tests and hidden folders aside) whose doc comments hold an example that runs
 * (not one marked `ts ignore`).
 */
async function filesWithExamples(dir = root, into: string[] = []): Promise<string[]> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`.replace("//", "/");
    if (entry.isDirectory) {
      if (!skipped.has(entry.name) && !entry.name.startsWith(".")) {
        await filesWithExamples(path, into);
      }
    } else if (entry.isFile && entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")) {
      if (RUNNABLE.test(await Deno.readTextFile(path))) {
        into.push(path.slice(root.length));
      }
    }
  }
  return into.sort();
}

/** One doc comment's `ts` example: its file, the lines of its fences (1-based), its code. */
interface Example {
  file: string;
  from: number;
  to: number;
  code: string;
}

/**
 * The runnable examples of a source file's doc comments: the lines between a ` * ```ts` fence
 * and the next ` * ``` `, their leading ` * ` taken off; a fence marked `ts ignore` is left.
 */
function examplesOf(file: string, text: string): Example[] {
  const lines = text.split("\n");
  const examples: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*\* ```ts\s*$/.test(lines[i])) continue;
    const end = lines.findIndex((line, j) => j > i && /^\s*\* ```\s*$/.test(line));
    assert.ok(end > i, `${file}:${i + 1}: a \`\`\`ts fence that is never closed`);
    const code = lines.slice(i + 1, end).map((line) => line.replace(/^\s*\*( |$)/, ""));
    examples.push({ file, from: i + 1, to: end + 1, code: code.join("\n") });
    i = end;
  }
  return examples;
}

/**
 * An example as a test module of its own, as `deno test --doc` makes one: its imports at the top
 * (a relative specifier made absolute, from the documented file's folder), the rest the body of
 * one `Deno.test` named `file#from-to.ts`. A `console.assert` in it throws, failing the test,
 * where alone it only prints.
 */
function exampleModule(example: Example, root: string): string {
  const base = new URL(example.file, `file://${root}`);
  const absolute = (statement: string) =>
    statement.replace(
      /(\bfrom\s*|^import\s*)(["'])(\.\.?\/[^"']+)\2/gm,
      (_, head, quote, path) => `${head}${quote}${new URL(path, base).href}${quote}`,
    );
  const imports: string[] = [];
  const body: string[] = [];
  const lines = example.code.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (!/^import[\s{*"']/.test(lines[i])) {
      body.push(lines[i]);
      continue;
    }
    // (an import statement ends at its specifier's line)
    let statement = lines[i];
    while (
      !/(["'])[^"']+\1(\s+with\s*\{[^}]*\})?;?\s*(\/\/.*)?$/.test(statement) && i + 1 < lines.length
    ) {
      statement += `\n${lines[++i]}`;
    }
    imports.push(absolute(statement));
  }
  const name = `${example.file}#${example.from}-${example.to}.ts`;
  return [
    ...imports,
    "const console = Object.create(globalThis.console, {",
    "  assert: {",
    "    value: (condition: unknown, ...data: unknown[]) => {",
    `      if (!condition) throw new Error(\`console.assert failed in ${name}: \${data.join(" ")}\`);`,
    "    },",
    "  },",
    "});",
    `Deno.test(${JSON.stringify(name)}, async () => {`,
    ...body,
    "});",
    "",
  ].join("\n");
}

/**
 * Every example of `files`, each a test module (see {@linkcode exampleModule}), run by one
 * `deno test` process in one isolate, through a module that imports them all: its exit code and
 * output. `deno test --doc` ran each example in an isolate of its own, which loaded its imports
 * anew: ~0.35 s an example, 117 s for the 331, against ~10 s so (BENCHMARKS.md, "Forty-sixth
 * session"). Examples that share an import share its module's state, as a program's modules do;
 * each one that needs a tfjs backend sets it.
 */
async function runExamples(examples: Example[]): Promise<{ code: number; text: string }> {
  const dir = await Deno.makeTempDir({ prefix: "anneal-doc-examples-" });
  try {
    const names = examples.map((_, i) => `example_${String(i).padStart(4, "0")}.ts`);
    for (const [i, example] of examples.entries()) {
      await Deno.writeTextFile(`${dir}/${names[i]}`, exampleModule(example, root));
    }
    await Deno.writeTextFile(
      `${dir}/all.ts`,
      names.map((name) => `import "./${name}";\n`).join(""),
    );
    const output = await new Deno.Command(Deno.execPath(), {
      // (--no-check: tests/scripts_typecheck_test.ts checks the examples, with the whole
      // workspace, in one program)
      args: ["test", "--config", `${root}deno.json`, "--no-check", "-A", `${dir}/all.ts`],
      cwd: root,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
    return { code: output.code, text: decode(output.stdout) + decode(output.stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// Every doc comment's example runs (tests/scripts_typecheck_test.ts type-checks them), the
// module's own (`mod.ts` re-exports) among them. Their checks are `console.assert`s, which alone
// only print "Assertion failed" and let the example pass: a wrong example (readRun's count of
// warnings, a StartWarnings lapse that the example's own steps had undone) passed unseen; here
// one that fails throws.
Deno.test("every doc comment's example runs, and none of its console.asserts fails", async () => {
  const files = await filesWithExamples();
  assert.ok(files.includes("config.ts") && files.includes("sweeps/optimize.ts"), files.join(" "));
  const examples: Example[] = [];
  const otherKinds: string[] = [];
  for (const file of files) {
    const text = await Deno.readTextFile(`${root}${file}`);
    examples.push(...examplesOf(file, text));
    // (a kind `deno test --doc` would run, that this runner does not)
    for (const [, kind] of text.matchAll(new RegExp(RUNNABLE.source, "gm"))) {
      if (kind !== "ts") otherKinds.push(`${file}: a \`\`\`${kind} example (write it as ts)`);
    }
  }
  assert.deepEqual(otherKinds, []);
  const { code, text } = await runExamples(examples);
  assert.equal(code, 0, text.slice(-6000));
  // each example ran as a test of its own, and passed
  const summary = text.match(/^ok \| (\d+) passed \| 0 failed/m);
  assert.equal(Number(summary?.[1]), examples.length, text.slice(-2000));
  for (const example of examples) {
    const name = `${example.file}#${example.from}-${example.to}.ts`;
    assert.ok(text.includes(`${name} ... ok`), `${name} did not run:\n${text.slice(-2000)}`);
  }
});

Deno.test("a doc example becomes a test module of its imports, absolute, and a Deno.test whose console.assert throws", () => {
  const source = [
    "/**",
    " * Adds.",
    " *",
    " * ```ts",
    ' * import { add } from "./math.ts";',
    " * import {",
    " *   type Sum,",
    " *   sub,",
    ' * } from "../lib/more.ts";',
    ' * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";',
    ' * import "../lib/side.ts"; // registers',
    " *",
    " * console.assert(add(1, 2) === 3);",
    " * ```",
    " *",
    " * ```ts ignore",
    " * notRun();",
    " * ```",
    " */",
  ].join("\n");
  const examples = examplesOf("src/math_doc.ts", source);
  assert.deepEqual(examples.map(({ from, to }) => [from, to]), [[4, 14]]);
  const module = exampleModule(examples[0], "/repo/");
  assert.match(module, /^import \{ add \} from "file:\/\/\/repo\/src\/math\.ts";$/m);
  assert.ok(module.includes('import {\n  type Sum,\n  sub,\n} from "file:///repo/lib/more.ts";\n'));
  assert.match(module, /^import \* as tf from "npm:@tensorflow\/tfjs-core@4\.22\.0";$/m);
  assert.match(module, /^import "file:\/\/\/repo\/lib\/side\.ts"; \/\/ registers$/m);
  assert.match(
    module,
    /Deno\.test\("src\/math_doc\.ts#4-14\.ts", async \(\) => \{\n\nconsole\.assert/,
  );
  assert.ok(module.indexOf("Deno.test") > module.lastIndexOf("import "));
  assert.throws(() => examplesOf("a.ts", "/**\n * ```ts\n * x();\n */"), /never closed/);
});
