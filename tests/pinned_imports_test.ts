import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

Deno.test("every source file imports npm packages by pinned npm: specifier (needed for URL imports)", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "tools/pin_imports.ts", "--check"],
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  assert.equal(
    output.code,
    0,
    `bare imports left (run \`deno run -RW tools/pin_imports.ts\`):\n${stdout}`,
  );
});
