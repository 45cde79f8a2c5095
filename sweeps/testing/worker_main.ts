/**
 * A sweep worker process for the worker-kill test: runs `runStudy` with a slow synthetic
 * objective (three steps of ~100 ms) and 100 ms heartbeats, printing `start <trialId>` and
 * `done <trialId>` lines so the test can see (and kill) it mid-trial.
 *
 *     deno run -A sweeps/testing/worker_main.ts STORAGE_URL STUDY WORKER_ID TRIALS
 *
 * @module
 */
import { openStorage } from "../../storage/mod.ts";
import { medianPruner } from "../pruners/median.ts";
import { tpeSampler } from "../samplers/tpe.ts";
import { runStudy } from "../study.ts";
import { bowl, bowlSpace } from "./objectives.ts";

const [url, studyName, workerId, trials] = Deno.args;
const storage = await openStorage(url);
const result = await runStudy({
  storage,
  studyName,
  space: bowlSpace,
  sampler: tpeSampler(),
  pruner: medianPruner({ nStartupTrials: 1000 }),
  objective: async (params, report, context) => {
    console.log(`start ${context.trialId}`);
    for (let step = 0; step < 3; step++) {
      await new Promise((resolve) => setTimeout(resolve, 80 + Math.random() * 40));
      await report(step, bowl(params) + 3 - step);
    }
    console.log(`done ${context.trialId}`);
    return bowl(params);
  },
  trials: Number(trials),
  workerId,
  heartbeatMs: 100,
  // (20 beats: a live worker's beat held up a second on a loaded machine is not taken for dead)
  staleAfterMs: 2000,
  pollMs: 100,
});
await storage.close();
console.log(`finished ${result.ran.length}`);
