/**
 * `anneal runs` lists the runs directly in its runs directory; the directories of runs in it (a
 * sweep's study, a tune's) are named below the table, with the command that lists theirs, so a
 * runs directory holding only studies does not read as holding nothing.
 */
import assert from "node:assert/strict";
import { anneal, tempRunsDir } from "./_helpers.ts";

async function writeRun(dir: string) {
  await Deno.mkdir(dir, { recursive: true });
  const config = { model: { kind: "linear" }, optimizer: { name: "sgd", lr: 0.01 }, epochs: 1 };
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config));
  await Deno.writeTextFile(`${dir}/meta.json`, JSON.stringify({ createdAt: "2026-01-01" }));
  await Deno.writeTextFile(`${dir}/summary.json`, JSON.stringify({ status: "completed" }));
}

Deno.test("anneal runs names the sweep studies and tunes in its runs directory, and how to list their runs", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  await writeRun(`${dir}/s1/trial-a`);
  await writeRun(`${dir}/s1/trial-b`);
  await Deno.writeTextFile(`${dir}/s1/sweep.html`, "<html></html>");
  await writeRun(`${dir}/tune-x/run-1`);
  await Deno.writeTextFile(`${dir}/tune-x/tune.json`, "{}");
  await Deno.mkdir(`${dir}/empty`);

  const only = await anneal("runs", "--runs-dir", dir);
  assert.equal(only.code, 0, only.stderr);
  assert.equal(
    only.stdout,
    `no runs in ${dir}\n` +
      `s1/: 2 runs of a sweep's study, listed by: anneal runs --runs-dir ${dir}/s1\n` +
      `tune-x/: 1 run of a tune, listed by: anneal runs --runs-dir ${dir}/tune-x\n`,
  );
  // the command it names lists them
  const inner = await anneal("runs", "--runs-dir", `${dir}/s1`);
  assert.match(inner.stdout, /trial-a[\s\S]*trial-b|trial-b[\s\S]*trial-a/);

  // beside a run of its own, below the table; --json keeps to the runs
  await writeRun(`${dir}/plain`);
  const mixed = await anneal("runs", "--runs-dir", dir);
  assert.match(mixed.stdout, /^plain .*\n[\s\S]*^s1\/: 2 runs of a sweep's study/m);
  const json = await anneal("runs", "--runs-dir", dir, "--json");
  assert.deepEqual(JSON.parse(json.stdout).map((row: { id: string }) => row.id), ["plain"]);

  // none at all: the hint to train one there (a plain anneal train trains into runs/)
  const empty = await anneal("runs", "--runs-dir", `${dir}/empty`);
  assert.equal(
    empty.stdout,
    `no runs in ${dir}/empty (train one: anneal train --runs-dir ${dir}/empty)\n`,
  );
});

Deno.test("`last` in a runs directory holding only a sweep's study names the study's directory and the --runs-dir to give, as anneal runs does", async () => {
  // (--resume last said "No runs ...: train one first", though anneal runs named the study)
  await using runs = await tempRunsDir();
  const { dir } = runs;
  await writeRun(`${dir}/s1/trial-a`);
  await Deno.writeTextFile(`${dir}/s1/sweep.html`, "<html></html>");
  for (const args of [["train", "--resume", "last"], ["diagnose", "last"]]) {
    const refused = await anneal(...args, "--runs-dir", dir);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(
      refused.stderr,
      new RegExp(
        `No runs in '${dir}' itself; s1/ holds 1 run of a sweep's study\n  hint: give that ` +
          `directory as --runs-dir \\(last then reads its newest run\\): --runs-dir ${dir}/s1; ` +
          `\`anneal runs --runs-dir ${dir}/s1\` lists its runs`,
      ),
    );
    assert.doesNotMatch(refused.stderr, /train one first/);
  }
});
