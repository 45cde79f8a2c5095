/**
 * Ctrl-C (SIGINT) ends `anneal lr-find` as it ends `train` and `sweep`: the test stops after its
 * current step, nothing is recorded, and the command exits 130 saying so and how to run it again
 * (with fewer steps, which take less time).
 *
 * @module
 */
import assert from "node:assert/strict";
import { AnnealError, lrFind, parseConfig } from "../mod.ts";
import { annealCommand, tempRunsDir } from "./_helpers.ts";

Deno.test("Ctrl-C stops anneal lr-find: exit 130, a line that says nothing was recorded and how to run it again, no record", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  // The data file is a named pipe: the test has opened its end once lr-find opens it to load the
  // data, which it does after listening for the signal. (A fixed wait from the start sent the
  // signal before that on a loaded machine, and the process died of it, printing nothing.)
  const data = `${dir}/data.csv`;
  assert.equal((await new Deno.Command("mkfifo", { args: [data] }).output()).code, 0, "mkfifo");
  const file = `${dir}/lr.json`;
  await Deno.writeTextFile(
    file,
    JSON.stringify({
      backend: "cpu",
      runsDir: dir,
      data: { kind: "csv", path: data, target: "y" },
      model: { kind: "mlp", hidden: [512, 512] },
    }),
  );
  // the most steps a test may have, of a wide MLP: far longer than the test waits
  const args = ["lr-find", "-c", file, "--iterations", "20000"];
  const child = annealCommand(args).spawn();
  const stdout = new Response(child.stdout).text();
  const stderr = new Response(child.stderr).text();
  const opened = Deno.open(data, { write: true });
  const ended = await Promise.race([opened.then(() => false), child.status.then(() => true)]);
  if (ended) {
    // (the pipe's other end, so that the open waiting for it returns)
    (await Deno.open(data, { read: true })).close();
    (await opened).close();
    assert.fail(`lr-find ended before it read its data: ${await stderr}`);
  }
  const rows = Array.from({ length: 1000 }, (_, i) => {
    const x = (i * 37 % 101) / 50 - 1, z = (i * 59 % 97) / 48 - 1;
    return `${x},${z},${(2 * x - z + 0.5).toFixed(4)}\n`;
  });
  // (written whole, then closed: the end of the file)
  await ReadableStream.from([new TextEncoder().encode("x,z,y\n" + rows.join(""))])
    .pipeTo((await opened).writable);
  // a moment for its steps to start, where the machine allows (before its first step, the
  // signal stops it as well)
  await new Promise((resolve) => setTimeout(resolve, 2000));
  child.kill("SIGINT");
  // (a test the signal did not stop is killed, and fails here rather than hanging)
  const stuck = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const status = await child.status.finally(() => clearTimeout(stuck));
  const err = await stderr;
  assert.equal(status.code, 130, err);
  assert.equal(status.signal, null, `the signal ended the process itself: ${err}`);
  assert.match(err, /anneal: SIGINT: stopping the range test after its current step/);
  assert.match(
    err,
    /anneal: LR range test interrupted \(SIGINT received\) (before its first step|after \d+ of its 20000 steps): a test cut short suggests nothing; nothing recorded; /,
  );
  assert.ok(
    err.includes(
      `run it again (anneal ${args.join(" ")}), or with fewer steps, which take less time: ` +
        `anneal lr-find -c ${file} --iterations 10000 (it had 20000, at least 10)\n`,
    ),
    err,
  );
  assert.equal(await stdout, "");
  const left = [];
  for await (const entry of Deno.readDir(dir)) left.push(entry.name);
  assert.deepEqual(left.sort(), ["data.csv", "lr.json"], "no lr-find run directory is written");
});

Deno.test("lrFind stops at its interrupt after the step in progress, saying how far it got", async () => {
  const config = parseConfig({
    backend: "cpu",
    data: { kind: "synthetic-linear", n: 200 },
    model: { kind: "mlp", hidden: [8] },
  });
  const controller = new AbortController();
  let steps = 0;
  const error = await lrFind(config, {
    iterations: 50,
    repeats: 2,
    interrupt: controller.signal,
    onProgress: (i) => {
      steps = i + 1;
      if (i === 4) controller.abort("stopped by the test");
    },
  }).catch((e) => e);
  assert.equal(steps, 5, "no step after the abort");
  assert.ok(error instanceof AnnealError, String(error));
  assert.equal(error.code, "interrupted");
  assert.equal(
    error.message,
    "LR range test interrupted (stopped by the test) after 5 of its 50 steps in repeat 1 of 2: " +
      "a test cut short suggests nothing",
  );
  assert.match(
    error.hint!,
    /fewer steps take less time \(iterations 50 now, at least 10\), and so do fewer repeats \(2 now\)/,
  );
});
