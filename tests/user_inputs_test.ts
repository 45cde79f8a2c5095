/**
 * Inputs a user gets wrong, or gives in an unusual but valid form, through the CLI: each is
 * either taken as it is meant or refused saying what is wrong, where, and how to fix it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { anneal, tempRunsDir } from "./_helpers.ts";

Deno.test("a subcommand's usage error (unknown option, missing argument) exits 2, as the top level's", async () => {
  for (
    const args of [
      ["train", "--no-such-option"],
      ["report"],
      ["runs", "show"],
      ["schedule", "--scheduler", '{"name":"cosine","tMax":10}'],
      ["train", "stray-argument"],
      ["--no-such-option"],
    ]
  ) {
    const out = await anneal(...args);
    assert.equal(out.code, 2, `anneal ${args.join(" ")}: ${out.stderr}`);
    assert.match(out.stderr, /^error: /m);
    assert.match(out.stderr, /run with --help for usage/);
  }
  const help = await anneal("train", "--help");
  assert.equal(help.code, 0, "--help is no error");
});

Deno.test("a config path that is missing or a directory is named with why; a config with a UTF-8 byte order mark is read", async () => {
  await using runs = await tempRunsDir();
  const missing = await anneal("train", "-c", `${runs.dir}/no-such.json`);
  assert.equal(missing.code, 1, missing.stderr);
  assert.match(
    missing.stderr,
    /Cannot read config file '.*no-such\.json': no such file or directory \(expected a JSON config file\)/,
  );
  assert.match(
    missing.stderr,
    /hint: check the path \(relative paths start at the working directory\)/,
  );
  await Deno.mkdir(`${runs.dir}/configs`);
  await Deno.writeTextFile(`${runs.dir}/configs/small.json`, "{}");
  for (const command of ["train", "lr-find", "batch-size"]) {
    const directory = await anneal(command, "-c", `${runs.dir}/configs`);
    assert.equal(directory.code, 1, directory.stderr);
    assert.match(directory.stderr, /'.*configs': it is a directory, not a file/);
    assert.match(
      directory.stderr,
      /hint: give the path of a JSON config file, e\.g\. .*configs\/small\.json/,
    );
    assert.doesNotMatch(directory.stderr, /report it if it looks like a bug/);
  }
  // Notepad and other Windows editors start a UTF-8 file with a byte order mark
  const bom = `${runs.dir}/bom.json`;
  await Deno.writeTextFile(
    bom,
    "\uFEFF" + JSON.stringify({ backend: "cpu", epochs: 1, runsDir: runs.dir }),
  );
  const trained = await anneal("train", "-c", bom, "--no-progress");
  assert.equal(trained.code, 0, trained.stderr);
  assert.match(trained.stdout, /completed: finished 1 epoch/);
});
