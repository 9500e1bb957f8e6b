/** A worker thread that runs one block job (jobs.ts) and posts its result or its error. */
import { parentPort, workerData } from "node:worker_threads";
import { type BlockJob, runBlockJob } from "./jobs.js";

const job = (workerData as { job: BlockJob }).job;
try {
  parentPort?.postMessage({ ok: true, result: runBlockJob(job) });
} catch (err) {
  parentPort?.postMessage({ ok: false, message: (err as Error).message });
}
