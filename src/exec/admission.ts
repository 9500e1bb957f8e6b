/**
 * Fair admission of queries across projects. At most `maxConcurrent` queries run at once and at
 * most `perKey` of one project; the rest wait in one FIFO queue per project, and a freed slot goes
 * to the next project in turn (round robin), not to whoever queued most. So a project flooding
 * the service waits behind its own queries only: another project's query waits for at most one
 * running query to finish, however deep the flood's queue is. A project's queue is bounded; past
 * it the query is refused at once (429) instead of piling up memory and latency.
 */
import { QueryCanceledError, QueryTimeoutError } from "../promql/errors.js";

export interface AdmissionOptions {
  /** Queries running at once, over all projects (for the embedded engine: the pool's workers). */
  maxConcurrent: number;
  /** Queries of one project running at once. */
  perKey: number;
  /** Queries of one project waiting at once; beyond it, refused. */
  maxQueuedPerKey: number;
}

/** A project's queue is full: the caller should retry later (429 Too Many Requests). */
export class AdmissionRejectedError extends Error {
  override readonly name = "AdmissionRejectedError";
  readonly retryAfterSeconds = 1;
}

interface Waiter {
  grant: () => void;
  timer: NodeJS.Timeout;
  cancel: () => void;
}

interface KeyState {
  running: number;
  queue: Waiter[];
}

export type Release = () => void;

export class FairAdmission {
  private running = 0;
  private readonly keys = new Map<string, KeyState>();
  /** Projects with waiting queries, in the order they get the next free slot. */
  private readonly ring: string[] = [];

  constructor(readonly options: AdmissionOptions) {}

  /** Queries waiting, over all projects. */
  get queued(): number {
    let n = 0;
    for (const k of this.keys.values()) n += k.queue.length;
    return n;
  }

  get active(): number {
    return this.running;
  }

  /**
   * Resolves with a release function once the query may run; rejects with QueryTimeoutError if the
   * deadline passes first, QueryCanceledError if `signal` aborts, AdmissionRejectedError if the
   * project's queue is full.
   */
  acquire(key: string, deadline: number, signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(new QueryCanceledError("query was canceled in query queue"));
    const state = this.state(key);
    if (
      state.queue.length === 0 &&
      state.running < this.options.perKey &&
      this.running < this.options.maxConcurrent
    ) {
      return Promise.resolve(this.take(key, state));
    }
    if (state.queue.length >= this.options.maxQueuedPerKey) {
      return Promise.reject(
        new AdmissionRejectedError(
          `too many queries of this project waiting (${this.options.maxQueuedPerKey}); retry after the running ones finish`,
        ),
      );
    }
    return new Promise<Release>((resolve, reject) => {
      const dequeue = () => {
        const i = state.queue.indexOf(waiter);
        if (i >= 0) state.queue.splice(i, 1);
        clearTimeout(waiter.timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const leave = () => {
        dequeue();
        this.forget(key, state);
      };
      const onAbort = () => {
        leave();
        reject(new QueryCanceledError("query was canceled in query queue"));
      };
      const waiter: Waiter = {
        grant: () => {
          // Counted as running before the key may be forgotten: a state dropped from the map
          // while its query runs would split the project's count in two.
          dequeue();
          const release = this.take(key, state);
          this.forget(key, state);
          resolve(release);
        },
        timer: setTimeout(
          () => {
            leave();
            reject(new QueryTimeoutError("query timed out in query queue"));
          },
          Math.max(0, deadline - Date.now()),
        ),
        cancel: onAbort,
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      state.queue.push(waiter);
      if (!this.ring.includes(key)) this.ring.push(key);
    });
  }

  private state(key: string): KeyState {
    let s = this.keys.get(key);
    if (!s) {
      s = { running: 0, queue: [] };
      this.keys.set(key, s);
    }
    return s;
  }

  private take(key: string, state: KeyState): Release {
    this.running++;
    state.running++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      state.running--;
      this.forget(key, state);
      this.pump();
    };
  }

  private forget(key: string, state: KeyState): void {
    if (state.queue.length > 0 || this.keys.get(key) !== state) return;
    const i = this.ring.indexOf(key);
    if (i >= 0) this.ring.splice(i, 1);
    if (state.running === 0) this.keys.delete(key);
  }

  /** Hands free slots to waiting projects in turn. */
  private pump(): void {
    let tried = 0;
    while (this.running < this.options.maxConcurrent && this.ring.length > 0 && tried < this.ring.length) {
      const key = this.ring.shift() as string;
      const state = this.keys.get(key);
      if (!state || state.queue.length === 0) continue;
      // Back of the line either way; a project at its own limit lets the next one go.
      this.ring.push(key);
      if (state.running >= this.options.perKey) {
        tried++;
        continue;
      }
      tried = 0;
      state.queue[0].grant();
    }
  }
}
