/**
 * What the actors' Workers load as they start, every run: they take their specs parsed, in the
 * run's config, so none of them imports zod, and only the trainer's imports tfjs. Each did import
 * zod (~75 ms of CPU a Worker, BENCHMARKS.md "Forty-fourth session") until the Init check and the
 * resolved-spec builders; a module added to one of their graphs that imports a schema again fails
 * here, naming the chain of imports.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

interface Dependency {
  specifier: string;
  code?: { specifier?: string };
  isDynamic?: boolean;
}
interface ModuleInfo {
  specifier: string;
  dependencies?: Dependency[];
}

/**
 * The modules `entry` loads as it is evaluated (imports of values, not of types, and not
 * dynamic ones), each with the chain of modules that brought it in.
 */
async function staticGraph(entry: string): Promise<Map<string, string[]>> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  const info = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    roots: string[];
    modules: ModuleInfo[];
  };
  const edges = new Map<string, string[]>();
  for (const module of info.modules) {
    const targets = (module.dependencies ?? [])
      .filter((dependency) => !dependency.isDynamic && dependency.code?.specifier !== undefined)
      .map((dependency) => dependency.code!.specifier!);
    edges.set(module.specifier, targets);
  }
  const chains = new Map<string, string[]>([[info.roots[0], [info.roots[0]]]]);
  const queue = [info.roots[0]];
  while (queue.length > 0) {
    const from = queue.shift()!;
    for (const to of edges.get(from) ?? []) {
      if (chains.has(to)) continue;
      chains.set(to, [...chains.get(from)!, to]);
      queue.push(to);
    }
  }
  return chains;
}

const short = (specifier: string) => specifier.replace(`file://${root}`, "");

for (const entry of ["data_loader", "scheduler", "early_stopper", "clip_monitor", "trainer"]) {
  // (the trainer's loads tfjs, which it trains with; no Worker loads zod)
  const heavy = entry === "trainer" ? /^npm:\/?zod@/ : /^npm:\/?(zod|@tensorflow\/)/;
  const what = entry === "trainer" ? "no zod" : "neither zod nor tfjs";
  Deno.test(`the ${entry.replace("_", " ")} actor's Worker loads ${what}`, async () => {
    const graph = await staticGraph(`actors/${entry}_worker.ts`);
    // (the graph is the Worker's: its shell, its actor, what they import)
    assert.ok(graph.has(`file://${root}actors/_worker_shell.ts`), [...graph.keys()].join("\n"));
    const loaded = [...graph].filter(([specifier]) => heavy.test(specifier));
    assert.deepEqual(
      loaded.map(([, chain]) => chain.map(short).join(" -> ")),
      [],
      "imported by the chains above: import the zod-free module (a resolved spec's builder) instead",
    );
  });
}

Deno.test("the check of the Worker graphs sees zod and tfjs where they are loaded", async () => {
  // (mod.ts parses configs; the trainer trains with tfjs)
  const config = await staticGraph("mod.ts");
  assert.ok(
    [...config.keys()].some((specifier) => /^npm:\/?zod@/.test(specifier)),
    "mod.ts's graph shows no zod: the walk misses imports",
  );
  const trainer = await staticGraph("actors/trainer_worker.ts");
  assert.ok(
    [...trainer.keys()].some((specifier) => /^npm:\/?@tensorflow\/tfjs-core@/.test(specifier)),
    "the trainer's graph shows no tfjs-core: the walk misses imports",
  );
});
