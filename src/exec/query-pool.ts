/**
 * A pool of worker threads that evaluate PromQL, so no query runs on the thread that answers
 * HTTP, health checks and ingest. The owner keeps the store and serves each worker's reads in
 * bounded pages (data-server.ts); the worker decodes and evaluates.
 *
 * Limits hold in wall time because the owner enforces them from outside the query: a job still
 * running past its deadline (plus a short grace for the engine's own check to fire) or past a
 * cancellation has its worker ended and replaced, whatever the query is doing; a worker that
 * outgrows its heap budget dies alone and its query answers an error. A job waiting for a free
 * worker past its deadline answers "timed out in query queue" without having run.
 */
import { availableParallelism, setPriority } from "node:os";
import { MessageChannel, Worker } from "node:worker_threads";
import type { EngineOptions } from "../promql/engine.js";
import {
  ExecutionError,
  InvalidQueryError,
  ParseError,
  QueryCanceledError,
  QueryStorageError,
  QueryTimeoutError,
  TooManySamplesError,
} from "../promql/errors.js";
import type { QueryResult } from "../promql/value.js";
import type { Queryable } from "../storage/index.js";
import type { PageBounds } from "../tsdb/series-pages.js";
import { DataServer } from "./data-server.js";
import type { DataReply, DataRequest, JobOutcome, QueryJob, WireError, WorkerInit } from "./protocol.js";
import type { QueryRunner } from "./runner.js";
import { serveSyncCalls } from "./sync-call.js";

export interface QueryPoolOptions {
  /** Worker threads (default: the machine's cores, at least 2). */
  workers?: number;
  /** The engine each worker runs (lookback, sample budget, timeout, …). */
  engine?: EngineOptions;
  /** Heap budget of one worker, and so of one query, in MiB (default 1024). */
  maxMemoryMb?: number;
  /** How much one storage read may return and take on the owner's thread. */
  pageBounds?: PageBounds;
  /** How long past its deadline or cancellation a query may go on before its worker is ended. */
  graceMs?: number;
  /**
   * A query still running after this long (default 20 ms) gets its worker's scheduling priority lowered (Linux
   * nice 10) until it ends, so short queries, this thread and ingest win the cores from it.
   * 0 turns it off.
   */
  demoteAfterMs?: number;
  log?: (message: string) => void;
}

/** The nice value of a worker running a long query (CFS: ~1/10 of a normal thread's share). */
const DEMOTED_NICE = 10;

export interface PoolQuery {
  kind: "instant" | "range";
  query: string;
  /** ms; start = end for instant queries. */
  start: number;
  end: number;
  step: number;
  /** Wall-clock ms (Date.now()) by which the answer is due, queueing included. */
  deadline: number;
  lookbackDeltaMs?: number;
  signal?: AbortSignal;
}

export class QueryMemoryError extends ExecutionError {
  override readonly name = "QueryMemoryError";
}

export const DEFAULT_QUERY_MEMORY_MB = 1024;
const DEFAULT_PAGE_BOUNDS: PageBounds = { maxBytes: 1 << 20, maxMs: 4 };

export function defaultWorkerCount(): number {
  return Math.max(2, availableParallelism());
}

interface Running {
  job: QueryJob;
  queryable: Queryable;
  resolve: (r: QueryResult) => void;
  reject: (e: Error) => void;
  /** Set when the owner gave up on the job: the worker is being replaced. */
  abandoned: boolean;
  cleanup: () => void;
}

interface Slot {
  worker: Worker;
  shared: Int32Array;
  data: DataServer;
  running: Running | null;
  /** The reason the worker is dying, if the owner ended it or it ran out of memory. */
  ending: Error | null;
  /** Its priority is lowered (a long query); false again once restored. */
  demoted: boolean;
}

interface Waiting {
  run: (slot: Slot) => void;
  expire: () => void;
  timer: NodeJS.Timeout;
}

export class QueryPool implements QueryRunner {
  private readonly slots: Slot[] = [];
  private readonly idle: Slot[] = [];
  private readonly waiting: Waiting[] = [];
  private readonly size: number;
  private readonly memoryMb: number;
  private readonly graceMs: number;
  private demoteAfterMs: number;
  private readonly bounds: PageBounds;
  private nextId = 1;
  private closed = false;
  readonly stats = {
    started: 0,
    completed: 0,
    killedPastDeadline: 0,
    killedCanceled: 0,
    outOfMemory: 0,
    replaced: 0,
    /** Queries that ran long enough to have their worker's priority lowered. */
    demoted: 0,
  };

  constructor(private readonly options: QueryPoolOptions = {}) {
    this.size = Math.max(1, options.workers ?? defaultWorkerCount());
    this.memoryMb = options.maxMemoryMb ?? DEFAULT_QUERY_MEMORY_MB;
    this.graceMs = options.graceMs ?? 250;
    this.bounds = options.pageBounds ?? DEFAULT_PAGE_BOUNDS;
    this.demoteAfterMs = options.demoteAfterMs ?? 20;
  }

  get workers(): number {
    return this.size;
  }

  /** Queries waiting for a worker. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Workers running a query. */
  get busy(): number {
    return this.slots.filter((s) => s.running !== null).length;
  }

  /** Runs a query whose reads see `queryable` only (for a tenant: its project-scoped store). */
  run(q: PoolQuery, queryable: Queryable): Promise<QueryResult> {
    if (this.closed)
      return Promise.reject(new QueryCanceledError("query was canceled: the service is stopping"));
    this.ensureStarted();
    return new Promise<QueryResult>((resolve, reject) => {
      const job: QueryJob = {
        id: this.nextId++,
        kind: q.kind,
        query: q.query,
        start: q.start,
        end: q.end,
        step: q.step,
        deadline: q.deadline,
        lookbackDeltaMs: q.lookbackDeltaMs,
      };
      if (q.signal?.aborted) return reject(new QueryCanceledError("query was canceled in query queue"));
      const slot = this.idle.pop();
      if (slot) return this.dispatch(slot, job, queryable, q.signal, resolve, reject);
      const waiting: Waiting = {
        run: (s) => {
          clearTimeout(waiting.timer);
          q.signal?.removeEventListener("abort", onAbort);
          this.dispatch(s, job, queryable, q.signal, resolve, reject);
        },
        expire: () => reject(new QueryTimeoutError("query timed out in query queue")),
        timer: setTimeout(() => this.drop(waiting, waiting.expire), Math.max(0, q.deadline - Date.now())),
      };
      const onAbort = () =>
        this.drop(waiting, () => reject(new QueryCanceledError("query was canceled in query queue")));
      q.signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(waiting);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) {
      clearTimeout(w.timer);
      w.expire();
    }
    await Promise.all(
      this.slots.splice(0).map((s) => {
        s.ending = new QueryCanceledError("query was canceled: the service is stopping");
        return s.worker.terminate();
      }),
    );
    this.idle.length = 0;
  }

  private drop(w: Waiting, then: () => void): void {
    const i = this.waiting.indexOf(w);
    if (i < 0) return;
    this.waiting.splice(i, 1);
    clearTimeout(w.timer);
    then();
  }

  private ensureStarted(): void {
    while (this.slots.length < this.size) {
      const slot = this.spawn();
      this.slots.push(slot);
      this.idle.push(slot);
    }
  }

  private spawn(): Slot {
    const { port1, port2 } = new MessageChannel();
    const shared = new SharedArrayBuffer(12);
    const init: WorkerInit = {
      entry: new URL("./query-worker.ts", import.meta.url).href,
      engine: this.options.engine ?? {},
      port: port2,
      shared,
    };
    const worker = new Worker(new URL("../tsdb/worker-bootstrap.mjs", import.meta.url), {
      workerData: init,
      transferList: [port2],
      resourceLimits: { maxOldGenerationSizeMb: this.memoryMb },
      // The owner talks to it only through ports; it must not keep the process alive on its own.
      stdout: false,
      stderr: false,
    });
    worker.unref();
    port1.unref();
    const slot: Slot = {
      worker,
      shared: new Int32Array(shared),
      data: new DataServer(this.bounds),
      running: null,
      ending: null,
      demoted: false,
    };
    serveSyncCalls<DataRequest, DataReply>(port1, slot.shared.subarray(0, 1), (req) => slot.data.handle(req));
    worker.on("message", (outcome: JobOutcome) => this.finish(slot, outcome));
    worker.on("error", (err: Error & { code?: string }) => {
      if (err.code === "ERR_WORKER_OUT_OF_MEMORY") {
        this.stats.outOfMemory++;
        slot.ending ??= new QueryMemoryError(
          `query exceeded its memory budget of ${this.memoryMb} MiB; narrow it with label matchers, a shorter range or a coarser step`,
        );
      } else {
        slot.ending ??= new Error(`query worker failed: ${err.message}`);
        this.options.log?.(`query worker failed: ${err.stack ?? err.message}`);
      }
    });
    worker.on("exit", () => {
      port1.close();
      const r = slot.running;
      slot.running = null;
      slot.data.end();
      if (r && !r.abandoned) {
        r.cleanup();
        r.reject(slot.ending ?? new Error("query worker exited"));
      }
      this.replace(slot);
    });
    return slot;
  }

  private replace(dead: Slot): void {
    const i = this.slots.indexOf(dead);
    if (i >= 0) this.slots.splice(i, 1);
    const j = this.idle.indexOf(dead);
    if (j >= 0) this.idle.splice(j, 1);
    if (this.closed) return;
    this.stats.replaced++;
    const slot = this.spawn();
    this.slots.push(slot);
    this.release(slot);
  }

  private dispatch(
    slot: Slot,
    job: QueryJob,
    queryable: Queryable,
    signal: AbortSignal | undefined,
    resolve: (r: QueryResult) => void,
    reject: (e: Error) => void,
  ): void {
    const end = (reason: Error, counter: "killedPastDeadline" | "killedCanceled") => {
      const r = slot.running;
      if (r === null || r.job.id !== job.id) return;
      this.stats[counter]++;
      r.abandoned = true;
      r.cleanup();
      reject(reason);
      slot.ending = reason;
      void slot.worker.terminate();
    };
    // The engine checks the deadline itself; this is for a query that does not get to a check.
    const deadlineTimer = setTimeout(
      () => end(new QueryTimeoutError("query timed out in expression evaluation"), "killedPastDeadline"),
      Math.max(0, job.deadline - Date.now()) + this.graceMs,
    );
    let cancelTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      Atomics.store(slot.shared, 1, job.id);
      slot.data.cancel(job.id);
      cancelTimer = setTimeout(
        () => end(new QueryCanceledError("query was canceled in expression evaluation"), "killedCanceled"),
        this.graceMs,
      );
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    // A fresh worker may not have published its thread id yet: try again until it has.
    let demoteTimer: NodeJS.Timeout | undefined;
    const demote = () => {
      demoteTimer = this.prioritize(slot, true) ? undefined : setTimeout(demote, this.demoteAfterMs);
    };
    if (this.demoteAfterMs > 0) demoteTimer = setTimeout(demote, this.demoteAfterMs);
    slot.running = {
      job,
      queryable,
      resolve,
      reject,
      abandoned: false,
      cleanup: () => {
        clearTimeout(deadlineTimer);
        clearTimeout(cancelTimer);
        clearTimeout(demoteTimer);
        if (slot.demoted) this.prioritize(slot, false);
        signal?.removeEventListener("abort", onAbort);
      },
    };
    slot.data.begin(job.id, queryable);
    this.stats.started++;
    slot.worker.postMessage(job);
  }

  private finish(slot: Slot, outcome: JobOutcome): void {
    const r = slot.running;
    if (r === null || r.job.id !== outcome.id || r.abandoned) return;
    slot.running = null;
    slot.data.end();
    r.cleanup();
    this.stats.completed++;
    if (outcome.ok) r.resolve(outcome.result);
    else r.reject(fromWire(outcome.error));
    this.release(slot);
  }

  /**
   * Lowers or restores a worker thread's priority. Raising it back needs CAP_SYS_NICE (root, or
   * RLIMIT_NICE) on Linux; where that is refused the worker is retired once its query ends, so no
   * later query inherits a low priority, and the pool stops demoting. False when the worker has
   * not published its thread id yet.
   */
  private prioritize(slot: Slot, demote: boolean): boolean {
    if (slot.ending !== null || (demote && this.demoteAfterMs <= 0)) return true;
    const tid = Atomics.load(slot.shared, 2);
    if (tid <= 0) return false;
    try {
      setPriority(tid, demote ? DEMOTED_NICE : 0);
      slot.demoted = demote;
      if (demote) this.stats.demoted++;
    } catch {
      if (demote) return true;
      // Not permitted here: retire this worker, and demote no more (a retired worker per long
      // query would cost more than the priority gains).
      this.demoteAfterMs = 0;
      slot.ending = new QueryCanceledError("query worker retired");
      void slot.worker.terminate();
    }
    return true;
  }

  /** A free worker takes the oldest waiting query, or goes idle. */
  private release(slot: Slot): void {
    if (slot.ending !== null) return;
    const next = this.waiting.shift();
    if (next) next.run(slot);
    else this.idle.push(slot);
  }
}

const ERRORS: Record<string, new (message: string) => Error> = {
  ExecutionError,
  QueryTimeoutError,
  QueryCanceledError,
  TooManySamplesError,
  QueryStorageError,
  InvalidQueryError,
};

/** The engine's error classes again, so the HTTP layer maps them as for an in-process query. */
function fromWire(e: WireError): Error {
  if (e.name === "ParseError" && e.pos && e.query !== undefined)
    return new ParseError(e.message, e.pos, e.query);
  const cls = ERRORS[e.name];
  return cls ? new cls(e.message) : new Error(e.message);
}
