import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
// (hidden folders, .git among them, are skipped too)
const skipped = new Set(["node_modules", "runs", "tests"]);

/** The languages `deno test --doc` runs a doc comment's code block of (none: the file's, ts). */
const RUNNABLE = new Set([
  ...["", "ts", "typescript", "mts", "cts", "tsx"],
  ...["js", "javascript", "mjs", "cjs", "jsx"],
]);

/** A doc comment's code fence: ` * ```lang attributes` opens a block, ` * ``` ` closes one. */
const FENCE = /^\s*\* ```(\S*)(.*)$/;

/** The source files (tests and hidden folders aside) whose doc comments hold a code block. */
async function filesWithExamples(dir = root, into: string[] = []): Promise<string[]> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`.replace("//", "/");
    if (entry.isDirectory) {
      if (!skipped.has(entry.name) && !entry.name.startsWith(".")) {
        await filesWithExamples(path, into);
      }
    } else if (entry.isFile && entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")) {
      if (new RegExp(FENCE.source, "m").test(await Deno.readTextFile(path))) {
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
 * The examples of a source file's doc comments that `deno test --doc` runs: the lines between an
 * opening fence of a language it runs (`ts`, or none: the file's) not marked `ignore`, and the
 * closing ` * ``` `, their leading ` * ` taken off. `problems` gets what this runner cannot run as
 * `deno test --doc` would: an example in another language it runs (write it as ts), one that
 * reads `import.meta` (here another module's), one never closed.
 */
function examplesOf(file: string, text: string, problems: string[] = []): Example[] {
  const lines = text.split("\n");
  const examples: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = lines[i].match(FENCE);
    if (!open) continue;
    const [, lang, attributes] = open;
    const end = lines.findIndex((line, j) => j > i && /^\s*\* ```\s*$/.test(line));
    if (end < 0) {
      problems.push(`${file}:${i + 1}: a code block that is never closed`);
      break;
    }
    const from = i + 1;
    const where = `${file}:${from}`;
    const code = lines.slice(from, end).map((line) => line.replace(/^\s*\*( |$)/, "")).join("\n");
    i = end;
    if (!RUNNABLE.has(lang) || /(^|\s)ignore(\s|$)/.test(attributes)) continue;
    if (lang !== "ts" && lang !== "") {
      problems.push(`${where}: a \`\`\`${lang} example (write it as ts)`);
    } else if (/\bimport\.meta\b/.test(code)) {
      problems.push(
        `${where}: an example that reads import.meta, which is its file's under ` +
          "deno test --doc and another module's here",
      );
    } else examples.push({ file, from, to: end + 1, code });
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
    // (an import statement ends at the line of its specifier: `import "x"`, or `from "x"`)
    let statement = lines[i];
    const ends = (line: string) => /\bfrom\s*(["'])[^"']+\1/.test(line);
    if (!/^import\s*(["'])[^"']+\1/.test(statement)) {
      while (!ends(lines[i]) && i + 1 < lines.length) statement += `\n${lines[++i]}`;
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
 * Every example, each a test module (see {@linkcode exampleModule}), run by one `deno test`
 * process in one isolate, through a module that imports them all: its exit code and output, each
 * module's file name there put back as its example's name. `deno test --doc` ran each example in
 * an isolate of its own, which loaded its imports anew: ~0.35 s an example, 117 s for the 331,
 * against ~4 s so (BENCHMARKS.md, "Forty-sixth session"). Examples that share an import share its
 * module's state, as a program's modules do: each one that registers a tfjs backend sets the
 * backend it computes on (the main test holds them to it).
 *
 * A process the system killed (a signal: Deno itself crashed, as "corrupted size vs. prev_size"
 * once did in CI) is run again once, saying so; an example that fails fails either way. Where the
 * run again also dies of a signal after its summary said every example passed ("double free or
 * corruption" at its exit happened to both runs of one CI), its verdict stands, with a warning:
 * what was to be tested had been, and the crash is Deno's, in tearing the process down. One that
 * dies before that summary fails.
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
    const named = (text: string) =>
      text.replaceAll(/(?:file:\/\/)?\S*example_(\d{4})\.ts(:\d+(?::\d+)?)?/g, (_, i, at) => {
        const { file, from, to } = examples[Number(i)];
        return `${file}#${from}-${to}.ts (its test module's line${at ?? ""})`;
      });
    for (let attempt = 0;; attempt++) {
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
      const text = named(decode(output.stdout) + decode(output.stderr));
      if (output.signal === null) return { code: output.code, text };
      if (attempt > 0) {
        // (the summary deno test prints once every example has run, before it exits)
        if (!/^ok \| \d+ passed \| 0 failed/m.test(text)) return { code: output.code, text };
        console.error(
          `the doc examples' deno test passed every example, then was killed by ${output.signal} ` +
            `again as it exited (${JSON.stringify(text.slice(-120))}): its verdict stands`,
        );
        return { code: 0, text };
      }
      console.error(
        `the doc examples' deno test was killed by ${output.signal} (its output ends: ` +
          `${JSON.stringify(text.slice(-300))}); running it again once`,
      );
    }
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
  const problems: string[] = [];
  for (const file of files) {
    examples.push(...examplesOf(file, await Deno.readTextFile(`${root}${file}`), problems));
  }
  // (run in one isolate, an example that computes on a backend it registered must say which: it
  // may be another example's otherwise)
  for (const { file, from, code } of examples) {
    if (/tfjs-backend-/.test(code) && !/\b(setBackend|selectBackend)\(/.test(code)) {
      problems.push(`${file}:${from}: registers a tfjs backend, sets none (add tf.setBackend)`);
    }
  }
  assert.deepEqual(problems, []);
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
    ' *   type Sum, // the "sum" type',
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
    ' * ```ts title="runs too"',
    " * add(2, 2);",
    " * ```",
    " * ```sh",
    " * anneal train",
    " * ```",
    " */",
  ].join("\n");
  const problems: string[] = [];
  const examples = examplesOf("src/math_doc.ts", source, problems);
  assert.deepEqual(examples.map(({ from, to }) => [from, to]), [[4, 14], [19, 21]]);
  assert.deepEqual(problems, []);
  const module = exampleModule(examples[0], "/repo/");
  assert.match(module, /^import \{ add \} from "file:\/\/\/repo\/src\/math\.ts";$/m);
  assert.ok(
    module.includes(
      'import {\n  type Sum, // the "sum" type\n  sub,\n} from "file:///repo/lib/more.ts";\n',
    ),
  );
  assert.match(module, /^import \* as tf from "npm:@tensorflow\/tfjs-core@4\.22\.0";$/m);
  assert.match(module, /^import "file:\/\/\/repo\/lib\/side\.ts"; \/\/ registers$/m);
  assert.match(
    module,
    /Deno\.test\("src\/math_doc\.ts#4-14\.ts", async \(\) => \{\n\nconsole\.assert/,
  );
  assert.ok(module.indexOf("Deno.test") > module.lastIndexOf("import "));
  // what this runner cannot run as deno test --doc would is named
  const odd = [
    "/**",
    " * ```js",
    " * x();",
    " * ```",
    " * ```ts",
    " * console.log(import.meta.url);",
    " * ```",
    " * ```ts",
    " * x();",
    " */",
  ].join("\n");
  const found: string[] = [];
  assert.deepEqual(examplesOf("a.ts", odd, found), []);
  assert.equal(found.length, 3, found.join("\n"));
  assert.match(found[0], /^a\.ts:2: a ```js example \(write it as ts\)$/);
  assert.match(found[1], /^a\.ts:5: .*import\.meta/);
  assert.match(found[2], /^a\.ts:8: a code block that is never closed$/);
});
