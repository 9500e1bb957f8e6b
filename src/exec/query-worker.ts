/**
 * A pool worker: runs one PromQL query at a time with the ordinary engine over a PagedQueryable,
 * so evaluation (and chunk decoding) never runs on the thread that serves HTTP and ingest. The
 * owner can end this thread at any moment (deadline, memory budget); nothing here holds state
 * that outlives a query.
 */
import { readFileSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { newEngine } from "../promql/engine.js";
import { ParseError } from "../promql/errors.js";
import type { QueryResult } from "../promql/value.js";
import { PagedQueryable } from "./paged-queryable.js";
import type { DataReply, DataRequest, JobOutcome, QueryJob, WireError, WorkerInit } from "./protocol.js";
import { SyncCaller } from "./sync-call.js";

const init = workerData as WorkerInit;
const shared = new Int32Array(init.shared);
// This thread's kernel id, so the owner can lower the priority of a long-running query (Linux).
try {
  Atomics.store(shared, 2, Number(readFileSync("/proc/thread-self/stat", "latin1").split(" ", 1)[0]));
} catch {
  // No /proc: every query keeps the normal priority.
}
const caller = new SyncCaller<DataRequest, DataReply>(init.port, shared.subarray(0, 1));
const engine = newEngine(init.engine);
const port = parentPort;
if (port === null) throw new Error("query-worker.ts runs only as a worker thread");

/** Reads the owner's cancel cell: the engine checks `aborted` between nodes and every 256 series. */
function cancelSignal(id: number): { readonly aborted: boolean } {
  return {
    get aborted() {
      return Atomics.load(shared, 1) === id;
    },
  };
}

function toWire(err: unknown): WireError {
  if (err instanceof ParseError)
    return { name: err.name, message: err.message, pos: err.pos, query: err.query };
  if (err instanceof Error) {
    // Stack exhaustion deep inside evaluation is the query's fault, not the service's.
    if (err instanceof RangeError && /call stack/i.test(err.message)) {
      return { name: "ExecutionError", message: "query is nested too deeply to evaluate" };
    }
    return { name: err.name, message: err.message };
  }
  return { name: "Error", message: String(err) };
}

function transferables(r: QueryResult): ArrayBuffer[] {
  if (r.value.type !== "matrix") return [];
  const seen = new Set<ArrayBuffer>();
  for (const s of r.value.series) {
    seen.add(s.ts.buffer as ArrayBuffer);
    seen.add(s.vs.buffer as ArrayBuffer);
  }
  return [...seen];
}

port.on("message", (job: QueryJob) => {
  let outcome: JobOutcome;
  let transfer: ArrayBuffer[] = [];
  try {
    const queryable = new PagedQueryable(caller, job.id);
    const opts = {
      signal: cancelSignal(job.id),
      lookbackDeltaMs: job.lookbackDeltaMs,
      timeoutMs: Math.max(0, job.deadline - Date.now()),
    };
    const result =
      job.kind === "instant"
        ? engine.instantQuery(queryable, job.query, job.start, opts)
        : engine.rangeQuery(queryable, job.query, job.start, job.end, job.step, opts);
    outcome = { id: job.id, ok: true, result };
    transfer = transferables(result);
  } catch (err) {
    outcome = { id: job.id, ok: false, error: toWire(err) };
  }
  try {
    port.postMessage(outcome, transfer);
  } catch {
    // Shared buffers cannot be transferred twice; send a copy instead.
    port.postMessage(outcome);
  }
});
