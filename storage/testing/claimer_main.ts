/**
 * A claimer process for the storage concurrency test: opens the storage, prints `ready`, waits
 * for a line on stdin (so every claimer starts at once), then claims WAITING trials of a study
 * until none is left, completes each, and prints the claimed trial ids as one JSON line.
 *
 *     deno run -A storage/testing/claimer_main.ts STORAGE_URL STUDY WORKER_ID
 *
 * @module
 */
import { openStorage } from "../mod.ts";

const [url, studyName, workerId] = Deno.args;
const storage = await openStorage(url);
const study = await storage.loadStudy(studyName);
console.log("ready");
const reader = Deno.stdin.readable.getReader();
await reader.read();
reader.releaseLock();
const claimed: number[] = [];
for (;;) {
  const trial = await storage.claimTrial(study.id, workerId);
  if (!trial) break;
  claimed.push(trial.id);
  await storage.completeTrial(trial.id, trial.number);
}
await storage.close();
console.log(JSON.stringify(claimed));
