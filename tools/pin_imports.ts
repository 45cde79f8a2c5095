/**
 * Rewrites bare npm imports (`from "zod"`) in the source tree into the pinned `npm:` specifiers of
 * deno.json's import map (`from "npm:zod@4.6.7"`), so that every module also works when imported
 * by URL, where no import map applies. `--check` only reports files that still use bare names.
 *
 * @module
 */
const denoJson = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
const imports: Record<string, string> = denoJson.imports;
const check = Deno.args.includes("--check");
const root = new URL("..", import.meta.url).pathname;
const skip = new Set(["node_modules", ".git", "runs", ".dev", ".gl"]);
let found = 0;

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    if (skip.has(entry.name)) continue;
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* walk(path);
    else if (/\.(ts|tsx|js)$/.test(entry.name) && !path.endsWith("tools/pin_imports.ts")) {
      yield path;
    }
  }
}

// Matches import/export specifiers and `@ts-types` directives, bare name or subpath.
const pattern = /((?:from|import)\s*\(?\s*|@ts-types=)"([^".\/][^"]*)"/g;
for await (const path of walk(root.replace(/\/$/, ""))) {
  const text = await Deno.readTextFile(path);
  const next = text.replace(pattern, (whole, lead: string, specifier: string) => {
    if (/^(npm|node|jsr|https?|data):/.test(specifier)) return whole;
    const name = Object.keys(imports).find((key) =>
      specifier === key || specifier.startsWith(`${key}/`)
    );
    if (!name) return whole;
    found++;
    return `${lead}"${imports[name]}${specifier.slice(name.length)}"`;
  });
  if (next !== text) {
    if (check) console.log(`bare npm import in ${path.slice(root.length)}`);
    else await Deno.writeTextFile(path, next);
  }
}
if (check && found > 0) Deno.exit(1);
