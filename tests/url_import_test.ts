import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));

/** Serves the repository over HTTP on a free loopback port. */
function serveRepo(): { port: number; close: () => Promise<void> } {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const path = decodeURIComponent(new URL(request.url).pathname);
    if (path.includes("..")) return new Response("bad path", { status: 400 });
    try {
      const body = await Deno.readFile(repoRoot + path.slice(1));
      const type = path.endsWith(".json") ? "application/json" : "application/typescript";
      return new Response(body, { headers: { "content-type": type } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  return { port: server.addr.port, close: () => server.shutdown() };
}

Deno.test("mod.ts imported by URL, from a directory without deno.json, trains a tiny model through the actors", async () => {
  const { port, close } = serveRepo();
  const scratch = await Deno.makeTempDir({ prefix: "anneal-url-" });
  try {
    const script = `
      import { train } from "http://127.0.0.1:${port}/mod.ts";
      const run = train({ backend: "cpu", epochs: 3, runsDir: "runs", data: { kind: "synthetic-linear", n: 48 } });
      let epochs = 0;
      for await (const event of run.events()) if (event.type === "epoch") epochs++;
      const result = await run.result;
      console.log(JSON.stringify({ status: result.status, epochs, loss: result.metrics.loss }));
    `;
    await Deno.writeTextFile(`${scratch}/main.ts`, script);
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        `--allow-import=127.0.0.1:${port}`,
        `--allow-net=127.0.0.1:${port}`,
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-sys",
        "main.ts",
      ],
      cwd: scratch,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, `the URL import failed:\n${stderr}`);
    const line = stdout.trim().split("\n").pop()!;
    const result = JSON.parse(line);
    assert.equal(result.status, "completed");
    assert.equal(result.epochs, 3);
    assert.ok(Number.isFinite(result.loss));
  } finally {
    await close();
    await Deno.remove(scratch, { recursive: true });
  }
});
