import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { configJsonSchema, parseConfig, readConfigFile } from "../config.ts";
import { jsonSyntax } from "../json_syntax.ts";
import { checkSpacePaths, checkSweepMetric, type StudyDefinition } from "../runtime/sweep.ts";
import { parseSpace } from "../sweeps/space.ts";
import { SweepSpecSchema } from "../sweeps/spec.ts";
import denoJson from "../deno.json" with { type: "json" };
import {
  annealInvocation,
  fencedBlocks,
  inlineSpans,
  type ReadmeBlock,
  shellCommands,
  shellWords,
} from "./_readme.ts";
import {
  cliProblems,
  cliTree,
  helpTexts,
  runProblems,
  runsHere,
  usageProblems,
  where,
} from "./_readme_cli.ts";

// README.md's code is what a new user copies first, and nothing held it to the code
// (tests/doc_examples_test.ts runs the doc comments' examples). A block marked
// `<!-- readme_blocks_test: check only: REASON -->` on the line before its fence is checked but
// not run (nor, JSON, validated as a config); a JSON block marked
// `<!-- readme_blocks_test: fragment of FILE.json -->` is validated inside that config.

const root = fileURLToPath(new URL("..", import.meta.url));
const readme = await Deno.readTextFile(`${root}README.md`);
const blocks = fencedBlocks(readme);
const KINDS: Record<string, string> = {
  ts: "ts",
  typescript: "ts",
  sh: "sh",
  bash: "sh",
  console: "sh",
  json: "json",
  "": "text", // (a diagram)
};
const kindOf = (block: ReadmeBlock) => KINDS[block.lang];
const checkOnly = (block: ReadmeBlock) => block.marker?.startsWith("check only:") ?? false;

/** Fails with every problem found, each on a line of its own. */
function assertNone(problems: string[]): void {
  assert.ok(problems.length === 0, `\n${problems.join("\n")}`);
}

Deno.test("README.md's code blocks are all of a kind the README test checks, their markers well-formed", () => {
  const problems = blocks.flatMap((block) => [
    ...(kindOf(block) === undefined
      ? [
        `${where(block.line)}: a \`\`\`${block.lang} block, which nothing checks (make it ts, ` +
        "sh or json, or teach tests/readme_blocks_test.ts its kind)",
      ]
      : []),
    ...(block.marker !== undefined &&
        !/^check only: \S/.test(block.marker) &&
        !/^fragment of \S+\.json$/.test(block.marker)
      ? [
        `${where(block.line)}: the marker before it, '${block.marker}', is none the test ` +
        "takes (write 'check only: " +
        "REASON' or 'fragment of FILE.json')",
      ]
      : []),
  ]);
  assertNone(problems);
  // (a parser that found nothing would pass every check below)
  for (const kind of ["ts", "sh", "json"]) {
    assert.ok(blocks.some((block) => kindOf(block) === kind), `no ${kind} block found`);
  }
});

/** The TypeScript block as a file of its own, its import of anneal's module the local mod.ts. */
function localScript(block: ReadmeBlock): string {
  // ("https://your-host/anneal/mod.ts", "./mod.ts": the module this checkout is)
  return block.text.replace(
    /(from\s+)(["'])(?:\.\/|https?:\/\/[^"']*\/)mod\.ts\2/g,
    `$1"file://${root}mod.ts"`,
  );
}

/** `deno` with `args` in `cwd`, the repository's deno.json its config: exit code and output. */
async function deno(args: string[], cwd: string, seconds: number) {
  const [command, ...rest] = args;
  const output = await new Deno.Command(Deno.execPath(), {
    args: [command, "--config", `${root}deno.json`, ...rest],
    cwd,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(seconds * 1000),
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, text: decode(output.stdout) + decode(output.stderr) };
}

Deno.test("README.md's TypeScript blocks type-check against mod.ts, and run", async () => {
  const scripts = blocks.filter((block) => kindOf(block) === "ts");
  const dir = await Deno.makeTempDir({ prefix: "anneal-readme-ts-" });
  try {
    const files = scripts.map((block) => `readme_${block.line}.ts`);
    for (const [i, block] of scripts.entries()) {
      await Deno.writeTextFile(`${dir}/${files[i]}`, localScript(block));
    }
    // (a file's line N is the README's line N after the fence)
    const inReadme = (text: string) =>
      text.replaceAll(
        /(?:file:\/\/)?\S*readme_(\d+)\.ts:(\d+)(?::(\d+))?/g,
        (_, fence, line, column) =>
          `${where(Number(fence) + Number(line))}${column ? `:${column}` : ""}`,
      );
    const checked = await deno(["check", ...files], dir, 120);
    assert.equal(
      checked.code,
      0,
      `a README TypeScript block fails to type-check:\n${inReadme(checked.text)}`,
    );
    const problems: string[] = [];
    for (const [i, block] of scripts.entries()) {
      if (checkOnly(block)) continue;
      const { code, text } = await deno(["run", "--no-check", "-A", files[i]], dir, 60);
      if (code !== 0 || text.includes("Assertion failed")) {
        const why = code === 0 ? "a console.assert in it failed" : `it exits ${code}`;
        problems.push(`${where(block.line)}: ${why}:\n${inReadme(text).slice(-2000)}`);
      }
    }
    assertNone(problems);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** The Deno the README's `npx -y deno@VERSION` should name: the one CI runs the tests with. */
async function ciDenoVersion(): Promise<string> {
  const ci = await Deno.readTextFile(`${root}.ci/run`);
  return ci.match(/npx -y deno@(\S+)/)![1];
}

/** A repository path in a shell block's comment (`# after editing runtime/wasm_simd/x.wat`). */
const REPO_PATH = /^(?!runs\/)[\w.-]+(?:\/[\w.-]+)+\.(?:ts|json|wat|sh|md|py)$/;

Deno.test("README.md's shell blocks name tasks, commands, options and files that exist; the cheap commands run as it says", async () => {
  const tasks = Object.keys(denoJson.tasks);
  const version = await ciDenoVersion();
  const dir = await Deno.makeTempDir({ prefix: "anneal-readme-sh-" });
  // (the commands run there read the example configs and their data as from the root)
  await Deno.symlink(`${root}examples`, `${dir}/examples`);
  const problems: string[] = [];
  let ran = 0;
  try {
    for (const block of blocks.filter((block) => kindOf(block) === "sh")) {
      const made = new Set<string>();
      for (const command of shellCommands(block)) {
        const at = where(command.line);
        for (const word of command.words.filter((word) => /^deno@/.test(word))) {
          if (word !== `deno@${version}`) {
            problems.push(`${at}: ${word}, where CI runs deno@${version}`);
          }
        }
        const mentioned = command.comment.split(/[\s`(),;]+/).filter((word) =>
          REPO_PATH.test(word)
        );
        for (const path of mentioned) {
          await Deno.stat(`${root}${path}`).catch(() => problems.push(`${at}: no file ${path}`));
        }
        const invocation = annealInvocation(command.words);
        if (invocation?.kind === "task" && !tasks.includes(invocation.task)) {
          problems.push(`${at}: no deno.json task '${invocation.task}' (${tasks.join(", ")})`);
        } else if (invocation?.kind === "script") {
          await Deno.stat(`${root}${invocation.file}`).catch(() =>
            problems.push(`${at}: no file ${invocation.file}`)
          );
        } else if (invocation?.kind === "cli") {
          const found = await cliProblems(invocation.args, command.line, made);
          problems.push(...found.problems);
          if (
            found.problems.length === 0 && !checkOnly(block) &&
            runsHere(found.parsed, invocation.args)
          ) {
            problems.push(...await runProblems(command, invocation.args, dir));
            ran++;
          }
        }
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assertNone(problems);
  assert.ok(ran > 0, "no README command ran");
});

/**
 * The config a JSON block is part of: itself, or (a `"key": ...` fragment) the default config or
 * the marker's file, with the block's fields in the section they belong to.
 */
async function configOf(block: ReadmeBlock, value: Record<string, unknown>) {
  const file = block.marker?.match(/^fragment of (\S+)$/)?.[1];
  const base = file ? await readConfigFile(`${root}${file}`) : {};
  const keys = Object.keys(value);
  const configKeys = Object.keys(configJsonSchema().properties as object);
  if (keys.every((key) => configKeys.includes(key))) return { ...base, ...value };
  if (keys.every((key) => key in SweepSpecSchema.shape)) {
    return { ...base, sweep: { ...base.sweep as object, ...value } };
  }
  throw new Error(
    `its fields (${keys.join(", ")}) are neither a config's nor a sweep section's (mark it ` +
      "'check only: REASON' if it is no config)",
  );
}

/** Refuses `input` as anneal does: its schema, and a sweep's checks before any trial. */
function checkConfig(input: unknown): void {
  const config = parseConfig(input);
  if (!config.sweep) return;
  const { sweep: spec, ...base } = config;
  const sweep = { ...spec, space: parseSpace(spec.space) };
  const definition: StudyDefinition = { kind: "anneal-sweep", sweep, base };
  checkSweepMetric(sweep, base);
  checkSpacePaths(definition);
}

Deno.test("README.md's JSON blocks parse, and validate as configs (a fragment in its config)", async () => {
  const problems: string[] = [];
  for (const block of blocks.filter((block) => kindOf(block) === "json")) {
    // a fragment (`"sweep": { ... }`) is an object's members: braced on its first and last
    // lines, so that a parse error's line is still the block's
    const fragment = block.text.trimStart().startsWith('"');
    const text = fragment ? `{${block.text}}` : block.text;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      const syntax = jsonSyntax(text, error as SyntaxError);
      problems.push(`${where(block.line + (syntax.line ?? 1))}: not JSON: ${syntax.reason}`);
      continue;
    }
    if (checkOnly(block)) continue;
    try {
      checkConfig(await configOf(block, value as Record<string, unknown>));
    } catch (error) {
      const { message, hint, where: at } = error as Partial<Record<string, string>>;
      problems.push(
        `${where(block.line)}: ${block.marker ?? "the block"}: ${message}` +
          `${at ? ` (at ${at})` : ""}${hint ? ` (hint: ${hint})` : ""}`,
      );
    }
  }
  assertNone(problems);
});

Deno.test("README.md's inline anneal commands (its table's usage lines among them) name commands, options and choices that exist", async () => {
  const program = cliTree();
  const spans = inlineSpans(readme).filter((span) =>
    /^(anneal|deno task anneal|npx -y deno@\S+ task anneal) /.test(span.text)
  );
  assert.ok(spans.length > 10, `only ${spans.length} inline anneal commands found`);
  const problems = spans.flatMap((span) => usageProblems(span.text, span.line, program));
  // one to copy as it is (a task's, no RUN, <id>, [...] or ... in it) parses, its config valid
  const whole = spans.filter((span) =>
    /^(deno|npx) /.test(span.text) && !/[<[]|\.\.\.|\b[A-Z][A-Z_]+\b/.test(span.text)
  );
  for (const span of whole) {
    const words = shellWords(span.text).words.filter((word) => typeof word === "string");
    const invocation = annealInvocation(words);
    if (invocation?.kind !== "cli") continue;
    problems.push(...(await cliProblems(invocation.args, span.line, new Set())).problems);
  }
  assertNone(problems);
});

/** A node of the config's JSON Schema, as {@linkcode hasField} walks it. */
type SchemaNode = {
  $ref?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: unknown;
  oneOf?: SchemaNode[];
  anyOf?: SchemaNode[];
  allOf?: SchemaNode[];
};

/** Whether some kind of `node` (any variant of a section, `$ref`s followed) has `path`. */
function hasField(node: SchemaNode, path: string[], schema: SchemaNode): boolean {
  if (path.length === 0) return true;
  const resolved = node.$ref
    ? node.$ref.slice(2).split("/").reduce(
      (n, key) => (n as Record<string, SchemaNode>)[key],
      schema,
    )
    : node;
  const { oneOf = [], anyOf = [], allOf = [] } = resolved;
  const field = resolved.properties?.[path[0]];
  return (field !== undefined && hasField(field, path.slice(1), schema)) ||
    // (a record's keys: sweep.space's dotted paths)
    (resolved.properties === undefined && typeof resolved.additionalProperties === "object") ||
    [...oneOf, ...anyOf, ...allOf].some((variant) => hasField(variant, path, schema));
}

/** Dotted paths the README names on purpose as no field (`optimizer.lrr=null` is refused). */
const NOT_FIELDS = new Set(["optimizer.lrr"]);

Deno.test("README.md's inline config paths (optimizer.lr, --set scheduler.tMax=...) name fields the config has", () => {
  const schema = configJsonSchema() as SchemaNode;
  const sections = Object.keys(schema.properties!).join("|");
  // (a record's file, `epochs.ndjson`, `sweep.html`, is no path)
  const path = new RegExp(`(?:^|[\\s'])((?:${sections})(?:\\.[A-Za-z_]\\w*)+)(?![\\w.])`, "g");
  const problems = inlineSpans(readme).flatMap((span) =>
    [...span.text.matchAll(path)].map((match) => match[1])
      .filter((field) => !/\.(ndjson|json|html|csv|svg)$/.test(field) && !NOT_FIELDS.has(field))
      .filter((field) => !hasField(schema, field.split("."), schema))
      .map((field) => `${where(span.line)}: \`${span.text}\`: the config has no field ${field}`)
  );
  assertNone(problems);
});

Deno.test("README.md's inline file paths (tests/cli_test.ts, examples/data/sensors.csv) exist", async () => {
  const path = /(?:^|[\s'(])((?:[\w.-]+\/)+[\w.-]+\.(?:ts|json|sh|wat|wgsl|md|py|csv))(?![\w/])/g;
  const problems: string[] = [];
  for (const span of inlineSpans(readme)) {
    // (a run's files, `runs/<id>/config.json`, `RUN/config.json`, are the user's)
    const files = [...span.text.matchAll(path)].map((match) => match[1])
      .filter((file) => !file.startsWith("runs/") && !/(^|\/)[A-Z]+\//.test(file));
    for (const file of files) {
      await Deno.stat(`${root}${file}`).catch(() =>
        problems.push(`${where(span.line)}: \`${span.text}\`: no file ${file}`)
      );
    }
  }
  assertNone(problems);
});

Deno.test("every command's --help has examples, as README.md's 'Using the CLI' says", () => {
  assert.match(readme, /every command has `--help` with examples/);
  const bare = helpTexts(cliTree()).filter(([, help]) => !/\nExamples?:\n/.test(help));
  assert.deepEqual(bare.map(([command]) => `anneal ${command} --help`.replace("  ", " ")), []);
});
