import assert from "node:assert/strict";
import { shellWord } from "./shell_word.ts";

Deno.test("shellWord leaves a plain word as it is and single-quotes one the shell would split or expand", async () => {
  assert.equal(shellWord("runs/a1b2-3_x.json"), "runs/a1b2-3_x.json");
  assert.equal(shellWord("optimizer.lr=0.01"), "optimizer.lr=0.01");
  assert.equal(shellWord("my runs"), "'my runs'");
  assert.equal(shellWord("it's"), `'it'\\''s'`);
  assert.equal(shellWord("$HOME"), "'$HOME'");
  assert.equal(shellWord(""), "''");
  // what a shell reads back is the word
  for (const word of ["my runs", "it's", 'a"b', "$HOME/*", "x;y"]) {
    const { stdout } = await new Deno.Command("sh", {
      args: ["-c", `printf %s ${shellWord(word)}`],
    })
      .output();
    assert.equal(new TextDecoder().decode(stdout), word);
  }
});
