/**
 * Inputs a user gets wrong, or gives in an unusual but valid form, through the CLI: each is
 * either taken as it is meant or refused saying what is wrong, where, and how to fix it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { anneal } from "./_helpers.ts";

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
