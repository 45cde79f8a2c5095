/**
 * The one behaviour suite every {@linkcode StudyStorage} must pass: call
 * {@linkcode registerStorageConformance} from a `_test.ts` file with a factory, and it registers
 * `Deno.test` cases for studies, trial life cycles, heartbeats, reaping with retries, and a
 * concurrency test in which several connections and several processes claim the same trials.
 *
 * @module
 */
import assert from "node:assert/strict";
import { AnnealError } from "../errors.ts";
import type { OpenStorageOptions, StudyStorage, Trial } from "./types.ts";

/** How the suite reaches a storage. */
export interface StorageFactory {
  /** Opens a new connection to the same backing store (a file, a database). */
  open(): Promise<StudyStorage>;
  /** The URL that `openStorage` in another process uses to reach the same store. */
  url: string;
  /** A store of its own with nothing in it yet (no file, no database tables). */
  fresh(): Promise<FreshStore>;
}

/** An empty store of its own, for the tests of what opening it creates or updates. */
export interface FreshStore extends AsyncDisposable {
  /** Opens it as `openStorage(url, options)` does. */
  open(options?: OpenStorageOptions): Promise<StudyStorage>;
  /** Whether anything is there now: the SQLite file, or anneal's tables in the database. */
  created(): Promise<boolean>;
  /**
   * Writes what an anneal from before trials recorded their run (`runDir`) stored: its tables,
   * and a study `old` of three trials, numbers 0 to 2: COMPLETE (value 0.5, intermediate value
   * 0.7 at step 0), RUNNING for worker `w` (heartbeat now) and WAITING, params `{ "lr": 0.1 }`.
   */
  writeLegacy(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/**
 * The heartbeat age past which a test's trials are reaped. A trial the test keeps alive is
 * reaped too if more than this passes between its heartbeat and the reaping: a few database
 * round trips, which a loaded machine stretches (300 ms left it little margin).
 */
const STALE_MS = 1000;
let counter = 0;
const uniqueName = (label: string) =>
  `${label}-${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 8)}-${counter++}`;

function isStorageError(error: unknown): boolean {
  return error instanceof AnnealError && error.code === "storage";
}

async function withStorage(
  factory: StorageFactory,
  body: (storage: StudyStorage) => Promise<void>,
): Promise<void> {
  const storage = await factory.open();
  try {
    await body(storage);
  } finally {
    await storage.close();
  }
}

/**
 * Registers the conformance tests for one storage kind.
 *
 * @example
 * ```ts ignore
 * import { registerStorageConformance } from "./conformance.ts";
 * import { openSqliteStorage } from "./sqlite.ts";
 * const path = Deno.makeTempFileSync({ suffix: ".db" });
 * registerStorageConformance("sqlite", {
 *   open: () => Promise.resolve(openSqliteStorage(path)),
 *   url: `sqlite:${path}`,
 * });
 * ```
 */
export function registerStorageConformance(kind: string, factory: StorageFactory): void {
  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `${kind}: ${name}`, fn, sanitizeResources: false, sanitizeOps: false });

  test("createStudy creates once, loads on request, and rejects a changed space", () =>
    withStorage(factory, async (storage) => {
      const name = uniqueName("study");
      const space = { "optimizer.lr": { type: "logUniform", low: 1e-4, high: 0.1 }, b: { x: 1 } };
      const study = await storage.createStudy(name, "minimize", space);
      assert.equal(study.name, name);
      assert.deepEqual(study.space, space);
      await assert.rejects(storage.createStudy(name, "minimize", space), isStorageError);
      const reordered = {
        b: { x: 1 },
        "optimizer.lr": { high: 0.1, low: 1e-4, type: "logUniform" },
      };
      const loaded = await storage.createStudy(name, "minimize", reordered, { loadIfExists: true });
      assert.equal(loaded.id, study.id);
      assert.equal((await storage.loadStudy(name)).id, study.id);
      await assert.rejects(
        storage.createStudy(name, "maximize", space, { loadIfExists: true }),
        (error) =>
          isStorageError(error) &&
          (error as Error).message ===
            `Cannot load study '${name}' to maximize its objective: it was created to minimize ` +
              "it, and its trials' values and its best trial were recorded that way; trials " +
              "ranked the other way would not compare with them" &&
          /\(--study NAME for anneal sweep, study: "NAME" for optimize\), or minimize as the study does$/
            .test((error as AnnealError).hint!),
      );
      await assert.rejects(
        storage.createStudy(name, "minimize", { ...space, b: { x: 2 } }, { loadIfExists: true }),
        (error: AnnealError) =>
          isStorageError(error) && /b\.x: 1 stored, 2 given/.test(error.message),
      );
      await assert.rejects(storage.loadStudy(uniqueName("missing")), isStorageError);
      // its name among those the storage holds, sorted (a storage shared with other tests' studies)
      const names = await storage.studyNames!();
      assert.ok(names.includes(name), `${name} in ${names.join(", ")}`);
      assert.deepEqual(names, [...names].sort());
    }));

  test("createStudy with an identity loads a study whose settings changed, and stores them", () =>
    withStorage(factory, async (storage) => {
      const name = uniqueName("settings");
      const identity = (space: unknown) => (space as { space: unknown }).space;
      const lr = { "optimizer.lr": { type: "logUniform", low: 1e-4, high: 0.1 } };
      const first = { space: lr, trials: 4, sampler: "random" };
      const study = await storage.createStudy(name, "minimize", first, { identity });
      const more = { space: lr, trials: 6, sampler: "tpe" };
      const loaded = await storage.createStudy(name, "minimize", more, {
        loadIfExists: true,
        identity,
      });
      assert.equal(loaded.id, study.id);
      assert.deepEqual(loaded.space, more);
      assert.deepEqual((await storage.loadStudy(name)).space, more);
      await assert.rejects(
        storage.createStudy(
          name,
          "minimize",
          { ...more, space: { "optimizer.lr": { ...lr["optimizer.lr"], low: 1e-3 } } },
          { loadIfExists: true, identity },
        ),
        (error: AnnealError) =>
          isStorageError(error) &&
          error.message.includes('["optimizer.lr"].low: 0.0001 stored, 0.001 given'),
      );
      assert.deepEqual((await storage.loadStudy(name)).space, more);
    }));

  test("createTrial numbers trials, honours maxTrials and passes the index to a params function", () =>
    withStorage(factory, async (storage) => {
      const study = await storage.createStudy(uniqueName("create"), "minimize", {});
      const indices: number[] = [];
      const made: (Trial | null)[] = [];
      for (let i = 0; i < 4; i++) {
        made.push(
          await storage.createTrial(study.id, {
            params: (index) => (indices.push(index), { index }),
            maxTrials: 3,
            claimBy: i === 0 ? "w0" : undefined,
          }),
        );
      }
      assert.deepEqual(indices, [0, 1, 2]);
      assert.equal(made[3], null);
      assert.deepEqual(made.slice(0, 3).map((t) => t!.number), [0, 1, 2]);
      assert.deepEqual(made.slice(0, 3).map((t) => t!.state), ["RUNNING", "WAITING", "WAITING"]);
      assert.equal(made[0]!.workerId, "w0");
      assert.deepEqual(made[2]!.params, { index: 2 });
    }));

  test("createTrial gives a params function the original trials' params, and creates nothing for null", () =>
    withStorage(factory, async (storage) => {
      const study = await storage.createStudy(uniqueName("tried"), "minimize", {});
      const first = await storage.createTrial(study.id, {
        params: { section: { name: "cosine", tMax: 10 } },
        claimBy: "w0",
      });
      // a retry (of the first, interrupted) is not an original: it is not among them
      await storage.interruptTrial(first!.id, "interrupted");
      await storage.createTrial(study.id, { params: { section: { name: "step" } } });
      const seen: unknown[] = [];
      const none = await storage.createTrial(study.id, {
        params: (index, originals) => (seen.push(index, originals), null),
      });
      assert.equal(none, null);
      assert.deepEqual(seen, [2, [{ section: { name: "cosine", tMax: 10 } }, {
        section: { name: "step" },
      }]]);
      assert.equal((await storage.listTrials(study.id)).length, 3);
      const next = await storage.createTrial(study.id, {
        params: (index, originals) => ({ index, after: originals.length }),
      });
      assert.deepEqual([next!.number, next!.params], [3, { index: 2, after: 2 }]);
    }));

  test("claimTrial takes the oldest WAITING trial and returns null when none waits", () =>
    withStorage(factory, async (storage) => {
      const study = await storage.createStudy(uniqueName("claim"), "minimize", {});
      assert.equal(await storage.claimTrial(study.id, "w1"), null);
      const a = await storage.createTrial(study.id, { params: { x: 1 } });
      const b = await storage.createTrial(study.id, { params: { x: 2 } });
      const first = await storage.claimTrial(study.id, "w1");
      const second = await storage.claimTrial(study.id, "w2");
      assert.deepEqual([first!.id, second!.id], [a!.id, b!.id]);
      assert.equal(first!.state, "RUNNING");
      assert.equal(second!.workerId, "w2");
      assert.ok(first!.heartbeatAt instanceof Date);
      assert.equal(await storage.claimTrial(study.id, "w3"), null);
    }));

  test("intermediate values, completion and bestTrial follow the study direction", async () => {
    for (const direction of ["minimize", "maximize"] as const) {
      await withStorage(factory, async (storage) => {
        const study = await storage.createStudy(uniqueName("best"), direction, {});
        for (const value of [3, 1, 2]) {
          const trial = await storage.createTrial(study.id, { params: { value }, claimBy: "w" });
          await storage.reportIntermediate(trial!.id, 0, value + 10);
          await storage.reportIntermediate(trial!.id, 5, value + 1);
          const done = await storage.completeTrial(trial!.id, value);
          assert.equal(done.state, "COMPLETE");
          assert.ok(done.finishedAt instanceof Date);
        }
        const best = await storage.bestTrial(study.id);
        assert.equal(best!.value, direction === "minimize" ? 1 : 3);
        const trials = await storage.listTrials(study.id);
        assert.deepEqual([...trials[1].intermediate.entries()], [[0, 11], [5, 2]]);
      });
    }
  });

  test("pruned and failed trials record step and reason; only RUNNING trials can finish", () =>
    withStorage(factory, async (storage) => {
      const study = await storage.createStudy(uniqueName("finish"), "minimize", {});
      const a = await storage.createTrial(study.id, { params: {}, claimBy: "w" });
      const b = await storage.createTrial(study.id, { params: {}, claimBy: "w" });
      const waiting = await storage.createTrial(study.id, { params: {} });
      const pruned = await storage.pruneTrial(a!.id, 7, "below median at step 7");
      assert.deepEqual([pruned.state, pruned.prunedStep, pruned.reason], [
        "PRUNED",
        7,
        "below median at step 7",
      ]);
      const failed = await storage.failTrial(b!.id, "NaN loss");
      assert.deepEqual([failed.state, failed.reason], ["FAILED", "NaN loss"]);
      await assert.rejects(storage.completeTrial(a!.id, 1), isStorageError);
      await assert.rejects(storage.completeTrial(waiting!.id, 1), isStorageError);
      await assert.rejects(storage.reportIntermediate(b!.id, 1, 1), isStorageError);
      assert.equal(await storage.bestTrial(study.id), undefined);
      assert.deepEqual((await storage.listTrials(study.id, ["PRUNED", "FAILED"])).length, 2);
    }));

  test("a pruned trial keeps its last step's intermediate value, as Optuna records it, and is never the best", () =>
    withStorage(factory, async (storage) => {
      const study = await storage.createStudy(uniqueName("prunedvalue"), "minimize", {});
      const prune = async (reports: [number, number][]) => {
        const trial = await storage.createTrial(study.id, { params: {}, claimBy: "w" });
        for (const [step, value] of reports) {
          await storage.reportIntermediate(trial!.id, step, value);
        }
        return await storage.pruneTrial(trial!.id, 2, "below median at step 2");
      };
      // the last step's, not the last reported nor the best (reported out of order)
      const pruned = await prune([[0, 3], [2, 0.5], [1, 0.25]]);
      assert.deepEqual([pruned.state, pruned.value], ["PRUNED", 0.5]);
      // none reported, or NaN or an infinity at the last step: no value
      assert.equal((await prune([])).value, null);
      assert.equal((await prune([[0, 1], [1, NaN]])).value, null);
      assert.equal((await prune([[0, 1], [1, Infinity]])).value, null);
      const listed = await storage.listTrials(study.id, ["PRUNED"]);
      assert.deepEqual(listed.map((trial) => trial.value), [0.5, null, null, null]);
      // a pruned trial's value below every complete one's is no best trial
      assert.equal(await storage.bestTrial(study.id), undefined);
      const complete = await storage.createTrial(study.id, { params: {}, claimBy: "w" });
      await storage.completeTrial(complete!.id, 2);
      assert.equal((await storage.bestTrial(study.id))!.id, complete!.id);
    }));

  test("a study needs a name and a direction, a report a whole step and a number, a completion a finite value", () =>
    withStorage(factory, async (storage) => {
      const usage = (pattern: RegExp) => (error: unknown) =>
        error instanceof AnnealError && error.code === "usage" && pattern.test(error.message);
      await assert.rejects(
        storage.createStudy(uniqueName("down"), "down" as never, {}),
        usage(/its direction must be "minimize" or "maximize", current value is "down"$/),
      );
      await assert.rejects(
        storage.createStudy("", "minimize", {}),
        usage(/^Cannot create study: its name must be a non-empty string, current value is ""$/),
      );
      const study = await storage.createStudy(uniqueName("rules"), "minimize", {});
      const trial = await storage.createTrial(study.id, { params: {}, claimBy: "w" });
      for (const step of [-1, 1.5, NaN]) {
        await assert.rejects(
          storage.reportIntermediate(trial!.id, step, 1),
          usage(new RegExp(`'step' must be a whole number >= 0, current value is ${step}$`)),
        );
      }
      await assert.rejects(
        storage.reportIntermediate(trial!.id, 0, "1" as never),
        usage(/at step 0: 'value' must be a number, current value is "1"$/),
      );
      // a diverged trial's NaN is a report (the pruners read it back so)
      await storage.reportIntermediate(trial!.id, 0, NaN);
      for (const value of [NaN, Infinity]) {
        await assert.rejects(
          storage.completeTrial(trial!.id, value),
          usage(
            new RegExp(
              `^Cannot complete trial ${
                trial!.id
              }: its value must be a finite number, current value is ${value}$`,
            ),
          ),
        );
      }
      const [kept] = await storage.listTrials(study.id);
      assert.deepEqual([kept.state, [...kept.intermediate]], ["RUNNING", [[0, NaN]]]);
      assert.equal((await storage.completeTrial(trial!.id, 0.5)).value, 0.5);
    }));

  test("a closed storage refuses every call, saying it was closed", async () => {
    const storage = await factory.open();
    const study = await storage.createStudy(uniqueName("closed"), "minimize", {});
    await storage.close();
    const closed = (error: unknown) =>
      error instanceof AnnealError && error.code === "usage" &&
      /^Cannot use study storage .+: it was closed$/.test(error.message);
    await assert.rejects(async () => await storage.loadStudy(study.name), closed);
    await assert.rejects(async () => await storage.createTrial(study.id, { params: {} }), closed);
    await assert.rejects(async () => await storage.listTrials(study.id), closed);
    await storage.close(); // (a second close is no call)
  });

  test("heartbeat succeeds only for the worker that runs the trial", () =>
    withStorage(factory, async (storage) => {
      const study = await storage.createStudy(uniqueName("beat"), "minimize", {});
      const trial = await storage.createTrial(study.id, { params: {}, claimBy: "w1" });
      const before = trial!.heartbeatAt!.getTime();
      await sleep(15);
      assert.equal(await storage.heartbeat(trial!.id, "w1"), true);
      const [after] = await storage.listTrials(study.id);
      assert.ok(after.heartbeatAt!.getTime() > before);
      assert.equal(await storage.heartbeat(trial!.id, "w2"), false);
      await storage.completeTrial(trial!.id, 1);
      assert.equal(await storage.heartbeat(trial!.id, "w1"), false);
    }));

  test("reapStale fails silent trials and retries them up to maxRetries with the same params", () =>
    withStorage(factory, async (storage) => {
      const study = await storage.createStudy(uniqueName("reap"), "minimize", {});
      // Silent for more than STALE_MS (whatever the machine: it slept that long), against a
      // threshold the live trial's heartbeat, sent just before, stays under (a few database
      // round trips; with 40 ms against 60 the live one was reaped too at a load of 15).
      const silent = await storage.createTrial(study.id, { params: { lr: 0.1 }, claimBy: "dead" });
      await sleep(STALE_MS + 100);
      const alive = await storage.createTrial(study.id, { params: { lr: 0.2 }, claimBy: "alive" });
      const first = await storage.reapStale(study.id, STALE_MS, 2);
      assert.deepEqual(first.failed.map((t) => t.id), [silent!.id]);
      assert.equal(first.failed[0].state, "FAILED");
      assert.match(first.failed[0].reason!, /dead stopped heart-beating/);
      assert.equal(first.retried.length, 1);
      const retry = first.retried[0];
      assert.deepEqual([retry.state, retry.retryOf, retry.retries], ["WAITING", silent!.id, 1]);
      assert.deepEqual(retry.params, { lr: 0.1 });
      // The retry does not use up the budget of original trials.
      const third = await storage.createTrial(study.id, { params: {}, maxTrials: 3, claimBy: "w" });
      await storage.completeTrial(third!.id, 0);
      // Reaping again: the retry dies too, then its retry; after maxRetries none is enqueued.
      for (const expected of [2, undefined]) {
        const claimed = await storage.claimTrial(study.id, "dead-again");
        assert.equal(claimed!.retryOf, silent!.id);
        await storage.heartbeat(alive!.id, "alive");
        await sleep(STALE_MS + 100);
        await storage.heartbeat(alive!.id, "alive");
        const next = await storage.reapStale(study.id, STALE_MS, 2);
        assert.deepEqual(next.failed.map((t) => t.id), [claimed!.id]);
        assert.equal(next.retried[0]?.retries, expected);
      }
      const states = (await storage.listTrials(study.id)).map((t) => t.state);
      assert.deepEqual(states.filter((s) => s === "RUNNING").length, 1);
      const [stillAlive] = await storage.listTrials(study.id, ["RUNNING"]);
      assert.equal(stillAlive.id, alive!.id);
    }));

  test("reapStale's retries are for dead workers: a trial interrupted twice is still retried when its worker dies", () =>
    withStorage(factory, async (storage) => {
      const study = await storage.createStudy(uniqueName("reap-after-interrupt"), "minimize", {});
      let trial = await storage.createTrial(study.id, { params: { lr: 0.1 }, claimBy: "w" });
      // Ctrl-C twice: each time the trial is queued again and the next worker takes it
      for (let i = 0; i < 2; i++) {
        await storage.interruptTrial(trial!.id, "interrupted (SIGINT received)");
        trial = await storage.claimTrial(study.id, "w");
      }
      assert.equal(trial!.retries, 2);
      // then its worker is killed: it is reaped, and retried (its first death)
      for (const expected of [3, 4, undefined]) {
        await sleep(STALE_MS + 100);
        const reaped = await storage.reapStale(study.id, STALE_MS, 2);
        assert.deepEqual(reaped.failed.map((t) => t.id), [trial!.id]);
        assert.equal(reaped.retried[0]?.retries, expected);
        if (expected !== undefined) trial = await storage.claimTrial(study.id, "dead");
      }
      // after two deaths it is retried twice, and the third is its last
      const states = (await storage.listTrials(study.id)).map((t) => t.state);
      assert.deepEqual(states, ["FAILED", "FAILED", "FAILED", "FAILED", "FAILED"]);
    }));

  test("reapStale reaps a dead worker's trials at once, whatever their heartbeat's age, and no other's", () =>
    withStorage(factory, async (storage) => {
      const study = await storage.createStudy(uniqueName("reap-dead"), "minimize", {});
      const killed = await storage.createTrial(study.id, { params: { lr: 0.1 }, claimBy: "gone" });
      const alive = await storage.createTrial(study.id, { params: { lr: 0.2 }, claimBy: "alive" });
      // heartbeats fresh, a long timeout: only the dead worker's trial goes, its retry queued
      const reaped = await storage.reapStale(study.id, 60_000, 2, ["gone", "another"]);
      assert.deepEqual(reaped.failed.map((t) => t.id), [killed!.id]);
      assert.equal(
        reaped.failed[0].reason,
        "worker gone stopped heart-beating (its process is gone)",
      );
      assert.deepEqual(reaped.retried.map((t) => [t.state, t.retryOf, t.params]), [
        ["WAITING", killed!.id, { lr: 0.1 }],
      ]);
      const running = await storage.listTrials(study.id, ["RUNNING"]);
      assert.deepEqual(running.map((t) => t.id), [alive!.id]);
      // none named dead: as before
      assert.deepEqual((await storage.reapStale(study.id, 60_000, 2, [])).failed, []);
      assert.deepEqual((await storage.reapStale(study.id, 60_000, 2)).failed, []);
    }));

  test("interruptTrial fails a RUNNING trial with its reason and enqueues its retry at once", () =>
    withStorage(factory, async (storage) => {
      const study = await storage.createStudy(uniqueName("interrupt"), "minimize", {});
      const first = await storage.createTrial(study.id, { params: { lr: 0.1 }, claimBy: "w" });
      const waiting = await storage.createTrial(study.id, { params: { lr: 0.2 } });
      const { failed, retried } = await storage.interruptTrial(first!.id, "interrupted (SIGINT)");
      assert.deepEqual(failed.map((t) => [t.id, t.state, t.reason]), [
        [first!.id, "FAILED", "interrupted (SIGINT)"],
      ]);
      assert.equal(retried.length, 1);
      assert.deepEqual(
        [retried[0].state, retried[0].retryOf, retried[0].retries, retried[0].params],
        ["WAITING", first!.id, 1, { lr: 0.1 }],
      );
      // the retry is not an original trial: the budget of 2 is not spent
      assert.notEqual(await storage.createTrial(study.id, { params: {}, maxTrials: 3 }), null);
      // claimed in number order: the trial left waiting first, then the retry
      assert.equal((await storage.claimTrial(study.id, "w2"))!.id, waiting!.id);
      const again = await storage.claimTrial(study.id, "w2");
      assert.equal(again!.id, retried[0].id);
      // a retry interrupted again keeps pointing at the original
      const second = await storage.interruptTrial(again!.id, "interrupted (SIGTERM)");
      assert.deepEqual([second.retried[0].retryOf, second.retried[0].retries], [first!.id, 2]);
      // only a RUNNING trial is interrupted
      await assert.rejects(storage.interruptTrial(first!.id, "again"), isStorageError);
      await assert.rejects(storage.interruptTrial(second.retried[0].id, "again"), isStorageError);
    }));

  test("setTrialRun records a RUNNING trial's run, and the retry of an interrupted or reaped trial carries it", () =>
    withStorage(factory, async (storage) => {
      const study = await storage.createStudy(uniqueName("run-dir"), "minimize", {});
      const first = await storage.createTrial(study.id, { params: { lr: 0.1 }, claimBy: "w" });
      const waiting = await storage.createTrial(study.id, { params: { lr: 0.2 } });
      assert.equal(first!.runDir, null);
      await storage.setTrialRun(first!.id, "/runs/study/trial-0-ab12");
      const [recorded] = await storage.listTrials(study.id, ["RUNNING"]);
      assert.equal(recorded.runDir, "/runs/study/trial-0-ab12");
      // only a RUNNING trial records one
      await assert.rejects(storage.setTrialRun(waiting!.id, "/elsewhere"), isStorageError);
      // interrupted: the retry carries the run, to continue it
      const { retried } = await storage.interruptTrial(first!.id, "interrupted (SIGINT)");
      assert.equal(retried[0].runDir, "/runs/study/trial-0-ab12");
      await assert.rejects(storage.setTrialRun(first!.id, "/elsewhere"), isStorageError);
      // claimed in number order: the waiting trial, then the retry, which reads its run
      await storage.claimTrial(study.id, "w2");
      const again = await storage.claimTrial(study.id, "w2");
      assert.deepEqual([again!.id, again!.runDir], [retried[0].id, "/runs/study/trial-0-ab12"]);
      // a retry that starts a run of its own records that one; its own retry carries it
      await storage.setTrialRun(again!.id, "/runs/study/trial-2-cd34");
      await sleep(60);
      const reaped = await storage.reapStale(study.id, 40, 2);
      const retry = reaped.retried.find((t) => t.retryOf === first!.id)!;
      assert.deepEqual([retry.retries, retry.runDir], [2, "/runs/study/trial-2-cd34"]);
      const trials = await storage.listTrials(study.id);
      assert.equal(trials.find((t) => t.id === first!.id)!.runDir, "/runs/study/trial-0-ab12");
      assert.equal(trials.find((t) => t.id === again!.id)!.runDir, "/runs/study/trial-2-cd34");
      // a reaped trial that recorded no run gives its retry none
      const silent = trials.find((t) => t.id === waiting!.id)!;
      assert.deepEqual([silent.state, silent.runDir], ["FAILED", null]);
      assert.equal(reaped.retried.find((t) => t.retryOf === waiting!.id)!.runDir, null);
    }));

  test("opened to join (create: false), an empty store is refused naming what is missing, and nothing is created", async () => {
    await using store = await factory.fresh();
    await assert.rejects(store.open({ create: false, study: "sw" }), (error: AnnealError) => {
      assert.ok(isStorageError(error));
      assert.match(
        error.message,
        /^Cannot join study 'sw': .* (does not exist|has no anneal tables)/,
      );
      assert.match(error.message, /so it holds no study$/);
      assert.match(error.hint!, /anneal sweep -c CONFIG --storage \S+ --study sw` creates/);
      return true;
    });
    assert.equal(await store.created(), false);
    // opened to create (the default), it is made
    const storage = await store.open();
    const study = await storage.createStudy("sw", "minimize", {});
    await storage.close();
    assert.equal(await store.created(), true);
    const joined = await store.open({ create: false });
    try {
      assert.equal((await joined.loadStudy("sw")).id, study.id);
    } finally {
      await joined.close();
    }
  });

  test("the tables of an older anneal (no runDir) are read, brought up to date and written", async () => {
    await using store = await factory.fresh();
    await store.writeLegacy();
    // (as a worker opens it: an older study is joined, not refused)
    const storage = await store.open({ create: false });
    try {
      const study = await storage.loadStudy("old");
      const trials = await storage.listTrials(study.id);
      assert.deepEqual(
        trials.map((t) => [t.number, t.state, t.value, t.runDir, t.retries, t.params]),
        [
          [0, "COMPLETE", 0.5, null, 0, { lr: 0.1 }],
          [1, "RUNNING", null, null, 0, { lr: 0.1 }],
          [2, "WAITING", null, null, 0, { lr: 0.1 }],
        ],
      );
      assert.deepEqual([...trials[0].intermediate], [[0, 0.7]]);
      assert.equal((await storage.bestTrial(study.id))!.number, 0);
      await storage.setTrialRun(trials[1].id, "/runs/old/trial-1-ab12");
      const { retried } = await storage.interruptTrial(trials[1].id, "interrupted (SIGINT)");
      assert.deepEqual([retried[0].number, retried[0].runDir], [3, "/runs/old/trial-1-ab12"]);
      const claimed = await storage.claimTrial(study.id, "w2");
      assert.equal(claimed!.number, 2);
      await storage.completeTrial(claimed!.id, 0.25);
      assert.equal((await storage.bestTrial(study.id))!.number, 2);
    } finally {
      await storage.close();
    }
    // opened again: nothing is added twice
    const again = await store.open();
    try {
      const study = await again.loadStudy("old");
      assert.equal((await again.listTrials(study.id)).length, 4);
    } finally {
      await again.close();
    }
  });

  test("concurrent claimers in several connections and processes claim each trial exactly once", async () => {
    const trials = 60;
    const setup = await factory.open();
    const name = uniqueName("race");
    const study = await setup.createStudy(name, "minimize", {});
    for (let i = 0; i < trials; i++) await setup.createTrial(study.id, { params: { i } });
    const script = new URL("./testing/claimer_main.ts", import.meta.url).pathname;
    const processes = [0, 1].map((p) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", script, factory.url, name, `process-${p}`],
        stdin: "piped",
        stdout: "piped",
        stderr: "inherit",
      }).spawn()
    );
    const readers = processes.map((p) => p.stdout.pipeThrough(new TextDecoderStream()).getReader());
    for (const reader of readers) {
      const { value } = await reader.read();
      assert.match(value ?? "", /ready/, "claimer process did not start");
    }
    const connections = await Promise.all([0, 1, 2].map(() => factory.open()));
    const inProcess = async (storage: StudyStorage, worker: string) => {
      const claimed: number[] = [];
      for (;;) {
        const trial = await storage.claimTrial(study.id, worker);
        if (!trial) return claimed;
        claimed.push(trial.id);
        await storage.completeTrial(trial.id, trial.number);
      }
    };
    for (const p of processes) {
      const writer = p.stdin.getWriter();
      await writer.write(new TextEncoder().encode("go\n"));
      await writer.close();
    }
    const local = await Promise.all(connections.map((c, i) => inProcess(c, `connection-${i}`)));
    const remote: number[][] = [];
    for (const [i, reader] of readers.entries()) {
      let text = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      assert.equal((await processes[i].status).code, 0);
      remote.push(JSON.parse(text.trim().split("\n").at(-1)!));
    }
    await Promise.all(connections.map((c) => c.close()));
    const all = [...local, ...remote].flat();
    assert.equal(
      all.length,
      trials,
      `claims per claimer: ${[...local, ...remote].map((c) => c.length)}`,
    );
    assert.equal(new Set(all).size, trials);
    const finished = await setup.listTrials(study.id);
    assert.ok(finished.every((t) => t.state === "COMPLETE" && t.value === t.number));
    await setup.close();
  });
}
