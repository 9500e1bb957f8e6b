// A worker for sync-call.test.ts: makes the calls it is told to, through SyncCaller, and reports
// each reply (or the error) to the test.
import { type MessagePort, parentPort, workerData } from "node:worker_threads";
import { SyncCaller } from "../../src/exec/sync-call.js";

const { port, shared, calls } = workerData as { port: MessagePort; shared: SharedArrayBuffer; calls: number };
const caller = new SyncCaller<number, string>(port, new Int32Array(shared));
const replies: string[] = [];
try {
  for (let i = 1; i <= calls; i++) replies.push(caller.call(i));
  parentPort?.postMessage({ replies });
} catch (err) {
  parentPort?.postMessage({ replies, error: (err as Error).message });
}
