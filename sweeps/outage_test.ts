import assert from "node:assert/strict";
import postgres from "npm:postgres@3.4.9";
import { openPostgresStorage } from "../storage/postgres.ts";
import { runStudy } from "./study.ts";
import { randomSampler } from "./samplers/random.ts";
import { bowlSpace, curveObjective } from "./testing/objectives.ts";

const script = new URL("../tools/pg_test_server.sh", import.meta.url).pathname;

async function pg(state: string, ...args: string[]): Promise<string> {
  const output = await new Deno.Command("bash", {
    args: [script, ...args],
    env: { ANNEAL_PG_STATE: state },
  })
    .output();
  const text = new TextDecoder().decode(output.stdout);
  if (!output.success) {
    throw new Error(
      `pg_test_server ${args.join(" ")} failed: ${new TextDecoder().decode(output.stderr)}`,
    );
  }
  return text;
}

Deno.test("a study rides out its PostgreSQL server going down and coming back: no trial lost or run twice", async () => {
  // A cluster of its own: the shared one must stay up for the other tests.
  const state = await Deno.makeTempFile({ prefix: "anneal-pg-outage-", suffix: ".env" });
  await Deno.remove(state);
  const url = (await pg(state, "start")).match(/ANNEAL_TEST_PG_URL=(\S+)/)![1];
  // The test servers commit asynchronously (synchronous_commit off, for speed), so a server
  // stopped at once loses the commits of its last moments, as a real one (on) does not: trials
  // vanished, and the study itself would have, had the bounce come before its row was flushed.
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  await admin.unsafe("ALTER DATABASE anneal_test SET synchronous_commit = on");
  await admin.end();
  const storage = await openPostgresStorage(url);
  try {
    let finished = 0;
    let markMidStudy = () => {};
    const midStudy = new Promise<void>((resolve) => (markMidStudy = resolve));
    const study = runStudy({
      storage,
      studyName: "outage",
      space: bowlSpace,
      sampler: randomSampler(),
      objective: curveObjective(6, 60),
      trials: 12,
      parallel: 2,
      heartbeatMs: 200,
      staleAfterMs: 1500,
      pollMs: 50,
      storageRetryMs: 30_000,
      workerId: "outage-worker",
      onTrial: () => ++finished === 2 && markMidStudy(),
    });
    // Cut the server off mid-study (two trials finished, ten to go) for 3 s (longer than a
    // trial and than the stale timeout).
    await Promise.race([midStudy, study]);
    await pg(state, "bounce", "3");
    const result = await study;
    assert.equal(
      result.trials.filter((t) => t.state === "RUNNING" || t.state === "WAITING").length,
      0,
    );
    const originals = result.trials.filter((t) => t.retryOf === null);
    assert.equal(originals.length, 12);
    for (const original of originals) {
      const chain = result.trials.filter((t) => t.id === original.id || t.retryOf === original.id);
      assert.equal(
        chain.filter((t) => t.state === "COMPLETE").length,
        1,
        `trial ${original.number}`,
      );
    }
  } finally {
    await storage.close();
    await pg(state, "stop");
  }
});
