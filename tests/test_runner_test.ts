import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

/** Every *_test.ts under `dir`, relative to the repository root. */
async function testFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(`${root}${dir}`)) {
    const path = dir ? `${dir}/${entry.name}` : entry.name;
    if (entry.isDirectory && !["node_modules", "runs", ".git"].includes(entry.name)) {
      found.push(...await testFiles(path));
    } else if (entry.isFile && entry.name.endsWith("_test.ts")) found.push(path);
  }
  return found;
}

Deno.test("tools/test.sh runs every test file that uses WebGPU in one of its one-file-at-a-time processes, once", async () => {
  const script = await Deno.readTextFile(`${root}tools/test.sh`);
  const halves = ["gpu_a", "gpu_b"].map((name) => {
    const list = script.match(new RegExp(`^${name}=\\(\\n([\\s\\S]*?)\\n\\)`, "m"));
    assert.ok(list, `tools/test.sh has no ${name}=( ... ) list`);
    return list[1].split(/\s+/).filter(Boolean);
  });
  const listed = new Set(halves.flat());
  assert.equal(listed.size, halves.flat().length, `a file in both halves: ${halves.join(" | ")}`);
  const usesWebGpu: string[] = [];
  for (const file of await testFiles("")) {
    // selecting the backend itself, or through the helper that compares a kernel on WebGPU
    const text = await Deno.readTextFile(`${root}${file}`);
    if (text.includes('"webgpu"') || text.includes("/_webgpu_agree.ts")) usesWebGpu.push(file);
  }
  const self = "tests/test_runner_test.ts";
  assert.deepEqual(
    usesWebGpu.filter((file) => file !== self).sort(),
    [...listed].sort(),
    "add the file to (or drop it from) gpu_a=( ... ) or gpu_b=( ... ) in tools/test.sh",
  );
});
