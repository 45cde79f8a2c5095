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
    // (its 50 epochs recorded, its checkpoint gone: the resume's words, with the mv first)
    /torn corrupt: .*last\.ckpt is missing, though the run recorded 50 epochs .*move it away \(mv .*\), then put it back, or start a new run from its config: anneal train -c .*torn\/config\.json/,
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

Deno.test("a torn last line of epochs.ndjson is named by diagnose, with its line and path; diagnose, runs show and report read the complete lines", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const torn = await copyHealthy(dir, "torn");
  const epochs = `${torn}/epochs.ndjson`;
  const text = await Deno.readTextFile(epochs);
  // the last of its 50 lines cut mid-way, as a killed run or a full disk leaves it
  await Deno.writeTextFile(epochs, text.slice(0, text.lastIndexOf("\n", text.length - 2) + 40));

  const diagnosed = await anneal("diagnose", "torn", "--runs-dir", dir);
  assert.equal(diagnosed.code, 0, diagnosed.stderr);
  assert.ok(
    diagnosed.stdout.includes(`note: ${epochs}:50: the last line is incomplete`),
    diagnosed.stdout,
  );
  assert.match(diagnosed.stdout, /Diagnosis: healthy: no problem found in 49 epochs/);
  const json = JSON.parse((await anneal("diagnose", "torn", "--runs-dir", dir, "--json")).stdout);
  assert.match(json.notes.join("\n"), /epochs\.ndjson:50: the last line is incomplete/);
  assert.ok(Array.isArray(json.findings));

  const shown = await anneal("runs", "show", "torn", "--runs-dir", dir);
  assert.equal(shown.code, 0, shown.stderr);
  // (the run's 50 epochs, as its summary counts them, and the 49 its records hold whole)
  assert.match(shown.stdout, /50 epochs \(49 of them in epochs\.ndjson\), 650 steps/);
  assert.ok(shown.stdout.includes(`note: ${epochs}:50: the last line is incomplete`));
  const report = await anneal("report", "torn", "--runs-dir", dir);
  assert.equal(report.code, 0, report.stderr);
  const html = await Deno.readTextFile(`${torn}/report.html`);
  assert.match(html, /epochs\.ndjson:50: the last line is incomplete/);
});

Deno.test("a corrupt line in the middle of epochs.ndjson is named by its line number, and the others are read", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const damaged = await copyHealthy(dir, "damaged");
  const epochs = `${damaged}/epochs.ndjson`;
  const lines = (await Deno.readTextFile(epochs)).split("\n");
  lines[9] = "\0\0\0\0";
  await Deno.writeTextFile(epochs, lines.join("\n"));

  const diagnosed = await anneal("diagnose", "damaged", "--runs-dir", dir);
  assert.equal(diagnosed.code, 0, diagnosed.stderr);
  assert.ok(
    diagnosed.stdout.includes(`note: ${epochs}:10: not a JSON record (a corrupt line)`),
    diagnosed.stdout,
  );
  assert.match(diagnosed.stdout, /Diagnosis: healthy: no problem found in 49 epochs/);
});

Deno.test("a summary.json that cannot be read (a directory, a symbolic link loop in its place) lists as unreadable with the OS's error and the fix; the other runs are listed, and runs show, diagnose, compare and report keep working", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  await copyHealthy(dir, "whole");
  // EISDIR and ELOOP: reads that fail also for root, who may read a file of mode 000
  const directory = await copyHealthy(dir, "directory");
  await Deno.remove(`${directory}/summary.json`);
  await Deno.mkdir(`${directory}/summary.json`);
  const loop = await copyHealthy(dir, "loop");
  await Deno.remove(`${loop}/summary.json`);
  await Deno.symlink("summary.json", `${loop}/summary.json`);

  const listed = await anneal("runs", "--runs-dir", dir);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /^whole .* completed$/m);
  assert.match(listed.stdout, /^directory .* unreadable$/m);
  assert.match(listed.stdout, /^loop .* unreadable$/m);
  assert.ok(
    listed.stdout.includes(
      `directory unreadable: ${directory}/summary.json cannot be read (Is a directory (os error`,
    ),
    listed.stdout,
  );
  assert.ok(
    listed.stdout.includes(
      `loop unreadable: ${loop}/summary.json cannot be read (Too many levels of symbolic links`,
    ),
    listed.stdout,
  );
  assert.ok(listed.stdout.includes(`ls -l '${loop}/summary.json' shows what is there`));
  assert.match(
    listed.stdout,
    /loop unreadable: .*move it away; its last checkpoint .*last\.ckpt is missing, though the run recorded 50 epochs .*: put it back, or start a new run from its config: anneal train -c .*loop\/config/,
  );
  const json = JSON.parse((await anneal("runs", "--runs-dir", dir, "--json")).stdout);
  assert.deepEqual(
    json.map((row: { id: string; status: string }) => `${row.id} ${row.status}`).sort(),
    ["directory unreadable", "loop unreadable", "whole completed"],
  );

  const shown = await anneal("runs", "show", "loop", "--runs-dir", dir);
  assert.equal(shown.code, 0, shown.stderr);
  assert.ok(shown.stdout.startsWith(`run loop: unreadable (${loop}/summary.json cannot be read`));
  assert.match(shown.stdout, /\n {2}hint: make it a readable file again/);
  assert.match(shown.stdout, /50 epochs, 650 steps/, "the curves are read as ever");

  const diagnosed = await anneal("diagnose", "directory", "--runs-dir", dir);
  assert.equal(diagnosed.code, 0, diagnosed.stderr);
  assert.ok(diagnosed.stdout.startsWith(`run directory unreadable: ${directory}/summary.json`));
  assert.match(diagnosed.stdout, /Diagnosis: healthy/);

  const compared = await anneal("runs", "compare", "whole", "directory", "loop", "--runs-dir", dir);
  assert.equal(compared.code, 0, compared.stderr);
  assert.match(compared.stdout, /^final loss /m);

  const report = await anneal("report", "loop", "--runs-dir", dir);
  assert.equal(report.code, 0, report.stderr);
  assert.match(await Deno.readTextFile(`${loop}/report.html`), /make it a readable file again/);
});

Deno.test("a run whose epochs.ndjson is gone is counted and its best given as its summary keeps them, by runs, runs show and report", async () => {
  // (runs listed 0 epochs, the report "0 / 650", and runs show "no best epoch (no epoch ended)"
  // of a completed run of 50 whose summary keeps its best)
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const lost = await copyHealthy(dir, "lost");
  await Deno.remove(`${lost}/epochs.ndjson`);
  const listed = await anneal("runs", "--runs-dir", dir, "--json");
  assert.equal(listed.code, 0, listed.stderr);
  assert.equal(JSON.parse(listed.stdout)[0].epochs, 50);
  const shown = await anneal("runs", "show", "lost", "--runs-dir", dir);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /50 epochs \(0 of them in epochs\.ndjson\), 650 steps/);
  assert.match(shown.stdout, /best valLoss 0\.2613 at epoch 45 \(as its summary keeps it\)/);
  const report = await anneal("report", "lost", "--runs-dir", dir);
  assert.equal(report.code, 0, report.stderr);
  const html = await Deno.readTextFile(`${lost}/report.html`);
  assert.match(html, /<dt>epochs \/ steps<\/dt><dd>50 \/ 650<\/dd>/);
  assert.match(html, /<dt>best<\/dt><dd>valLoss 0\.2613 at epoch 45 \(as its summary keeps it\)/);
});
