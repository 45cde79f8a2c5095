/**
 * Run records damaged on disk (a hand-edited file, a full disk, a torn write): `anneal runs`,
 * `runs show`, `diagnose` and `report` keep working from what is whole, and say which file is
 * damaged, where, and what to do.
 *
 * @module
 */
import assert from "node:assert/strict";
import { anneal, tempRunsDir } from "./_helpers.ts";

const HEALTHY = new URL("./fixtures/report/healthy/", import.meta.url).pathname;

/** A copy of the healthy fixture run, as run `id` of `runsDir`; its directory. */
async function copyHealthy(runsDir: string, id: string): Promise<string> {
  const dir = `${runsDir}/${id}`;
  await Deno.mkdir(dir);
  for await (const entry of Deno.readDir(HEALTHY)) {
    await Deno.copyFile(`${HEALTHY}${entry.name}`, `${dir}/${entry.name}`);
  }
  return dir;
}

/** Cuts a file at `fraction` of its length, as a torn write leaves it. */
async function tear(path: string, fraction: number): Promise<void> {
  const text = await Deno.readTextFile(path);
  await Deno.writeTextFile(path, text.slice(0, Math.floor(text.length * fraction)));
}

Deno.test("a corrupt summary.json lists as corrupt, naming the file, and runs show and diagnose say what to do", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  await copyHealthy(dir, "whole");
  const torn = await copyHealthy(dir, "torn");
  await tear(`${torn}/summary.json`, 0.5);
  const because = `${torn}/summary.json is not valid JSON (`;

  const listed = await anneal("runs", "--runs-dir", dir);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /^torn .* corrupt$/m);
  assert.match(listed.stdout, /^whole .* completed$/m);
  assert.ok(listed.stdout.includes(`torn corrupt: ${because}`), listed.stdout);
  assert.match(
    listed.stdout,
    /torn corrupt: .*train it again: anneal train -c .*torn\/config\.json/,
  );

  const shown = await anneal("runs", "show", "torn", "--runs-dir", dir);
  assert.equal(shown.code, 0, shown.stderr);
  assert.ok(shown.stdout.startsWith(`run torn: corrupt (${because}`), shown.stdout);
  assert.match(shown.stdout, /\n {2}hint: its curves are read as they are/);
  assert.match(shown.stdout, /50 epochs, 650 steps/, "the curves are read as ever");

  const diagnosed = await anneal("diagnose", "torn", "--runs-dir", dir);
  assert.equal(diagnosed.code, 0, diagnosed.stderr);
  assert.ok(diagnosed.stdout.startsWith(`run torn corrupt: ${because}`), diagnosed.stdout);
  assert.match(diagnosed.stdout, /Diagnosis: healthy/);
});
