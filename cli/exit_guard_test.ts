import assert from "node:assert/strict";

const script = new URL("./testdata/held_process.ts", import.meta.url).pathname;

async function run(args: string[]) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", script, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
}

Deno.test("a process held up by a Worker that did not end when terminated is ended by the exit guard, with its status and why", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fifo = `${dir}/fifo`;
    const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    assert.equal(made.code, 0, "mkfifo");
    // (without the guard this process never ends: the Worker's thread stays blocked in its read)
    const held = await run([fifo]);
    assert.equal(held.code, 3, held.stderr);
    assert.match(held.stderr, /a thread it started has not ended .*: exiting with status 3/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the exit guard holds up no process that ends by itself", async () => {
  const free = await run([]);
  assert.equal(free.code, 3, free.stderr);
  // (it ended before the guard's 500 ms, which would have said why)
  assert.equal(free.stderr, "");
});
