/**
 * Least privilege: with `actorPermissions: "narrow"` each actor's Worker may touch only what it
 * needs, whatever the process may do (these tests run with all permissions). A test-only probe
 * makes an actor read or write a path at a fault point; the run then fails with either Deno's
 * permission error or "was allowed". deno.json enables `--unstable-worker-options`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { ActorName } from "../mod.ts";
import { tempRunsDir, trainCollect } from "./_helpers.ts";

const config = {
  backend: "cpu" as const,
  epochs: 2,
  data: { kind: "synthetic-linear" as const, n: 64 },
};

/** Where each actor can be probed (a fault point it reaches in every run). */
const POINTS: Record<ActorName, string> = {
  dataLoader: "load",
  trainer: "epoch",
  scheduler: "plan",
  earlyStopper: "epoch",
  clipMonitor: "observe",
};

async function probe(
  actor: ActorName,
  access: "read" | "write",
  path: (dir: string, runDir: string) => string,
  permissions: "narrow" | "inherit" = "narrow",
  data: typeof config.data | Record<string, unknown> = config.data,
): Promise<string> {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  await Deno.writeTextFile(join(dir, "secret.txt"), "not for actors\n");
  // The trainer never waits for the clip monitor (nor at most epoch ends for the scheduler and
  // the early stopper): a short run could end before a busy machine lets the clip monitor's Worker take
  // its first message (and reach its probe). A long run leaves it time (seen in CI); the probe
  // ends it early.
  const epochs = actor === "clipMonitor" ? 5000 : config.epochs;
  const input = { ...config, epochs, data, runsDir: dir } as typeof config;
  const { result } = await trainCollect(input, {
    runId: "probe",
    actorPermissions: permissions,
    faults: {
      [actor]: { kind: "touch", at: POINTS[actor], access, path: path(dir, join(dir, "probe")) },
    },
  });
  assert.equal(result.status, "failed", result.reason);
  assert.equal(result.failedActor, actor);
  return result.reason;
}

const DENIED = /NotCapable|Requires (read|write) access/;
const ALLOWED = /was allowed/;

for (const actor of ["scheduler", "earlyStopper", "clipMonitor"] as const) {
  Deno.test(`the ${actor} can read nothing, not even the run directory`, async () => {
    assert.match(await probe(actor, "read", (_, run) => join(run, "config.json")), DENIED);
    assert.match(await probe(actor, "write", (dir) => join(dir, "x.txt")), DENIED);
  });
}

Deno.test("a new run's trainer reads nothing of the runs, not even its own directory, and writes nothing (the supervisor writes its checkpoints)", async () => {
  assert.match(await probe("trainer", "read", (_, run) => join(run, "config.json")), DENIED);
  assert.match(await probe("trainer", "write", (_, run) => join(run, "x.txt")), DENIED);
  assert.match(await probe("trainer", "read", (dir) => join(dir, "secret.txt")), DENIED);
  assert.match(await probe("trainer", "write", (dir) => join(dir, "x.txt")), DENIED);
});

Deno.test("a resumed run's trainer reads its run directory (the checkpoint it resumes from), nothing else, and writes nothing", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  await Deno.writeTextFile(join(dir, "secret.txt"), "not for actors\n");
  const first = await trainCollect({ ...config, epochs: 1, runsDir: dir }, { runId: "probe" });
  assert.equal(first.result.status, "completed", first.result.reason);
  const resumed = async (access: "read" | "write", path: string) => {
    const { result } = await trainCollect({ ...config, epochs: 3, runsDir: dir }, {
      resume: "probe",
      actorPermissions: "narrow",
      faults: { trainer: { kind: "touch", at: POINTS.trainer, access, path } },
    });
    assert.equal(result.status, "failed", result.reason);
    assert.equal(result.failedActor, "trainer");
    return result.reason;
  };
  const run = join(dir, "probe");
  assert.match(await resumed("read", join(run, "config.json")), ALLOWED);
  assert.match(await resumed("write", join(run, "x.txt")), DENIED);
  assert.match(await resumed("read", join(dir, "secret.txt")), DENIED);
});

Deno.test("the data loader reads its data file, writes nothing and reads nothing else", async () => {
  const csv = new URL("./fixtures/data/good.csv", import.meta.url).pathname;
  const data = { kind: "csv", path: csv, target: "y", validationSplit: 0 };
  assert.match(await probe("dataLoader", "read", () => csv, "narrow", data), ALLOWED);
  assert.match(await probe("dataLoader", "write", () => csv, "narrow", data), DENIED);
  assert.match(await probe("dataLoader", "read", (dir) => join(dir, "secret.txt")), DENIED);
});

Deno.test("with inherited permissions the same probe is allowed (narrowing is what denies)", async () => {
  const reason = await probe("scheduler", "read", (dir) => join(dir, "secret.txt"), "inherit");
  assert.match(reason, ALLOWED);
});

Deno.test("narrowed actors still train: a run completes and its meta says so", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const { result } = await trainCollect({ ...config, backend: "wasm", runsDir: dir }, {
    actorPermissions: "narrow",
  });
  assert.equal(result.status, "completed", result.reason);
  const meta = JSON.parse(await Deno.readTextFile(join(result.runDir, "meta.json")));
  assert.equal(meta.actorPermissions, "narrow");
});

Deno.test("a narrowed trainer reads the machine's memory: a model past it is refused on cpu before it is built", async () => {
  // (a model too large for the cpu backend drew its weights, outlasted the stall timeout in its
  // first step, and its Worker went on allocating after the run had failed)
  await using runs = await tempRunsDir();
  const model = { kind: "mlp" as const, hidden: [1e11] };
  const { result } = await trainCollect({ ...config, model, runsDir: runs.dir } as typeof config, {
    actorPermissions: "narrow",
  });
  assert.equal(result.status, "failed", result.reason);
  assert.match(result.reason, /Out of memory on backend cpu: .* this machine has [\d.]+ GiB/);
});
