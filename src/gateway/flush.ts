/**
 * Writes the meter into the store the way a Prometheus scrape of the gateway would: every flush
 * interval, one sample per series, all with the same timestamp, values cumulative since the
 * gateway started. So `rate`, `irate` and `increase` see ordinary counters, and a gateway restart
 * (counters back at 0) is an ordinary counter reset.
 *
 * Two details a plain scrape would get wrong, handled as Prometheus does with its
 * created-timestamp-zero-ingestion feature and its staleness handling:
 * - The first time a series is written, a 0 is written first at the moment the series was created
 *   (before its first increment). Without it, the requests counted before a series' first flush
 *   would be invisible to `increase()`, and after a restart a new counter that had already grown
 *   past the old value before its first flush would hide the reset. With it, `increase()` over a
 *   window that spans the series' start and any restarts equals the true total.
 * - On close, after the final flush, every series gets Prometheus's stale marker 1 ms later, as a
 *   scrape of a target that went away would write, so instant queries stop showing it at once.
 */
import { type Appendable, type Appender, SampleError, type SeriesRef, StaleNaN } from "../storage/index.js";
import { type Meter, SERIES_PER_SLOT } from "./meter.js";

export interface FlushResult {
  /** Timestamp (ms) written. */
  t: number;
  /** Samples accepted by the store. */
  samples: number;
  /** Samples the store refused one by one (e.g. out of order after a clock jump). */
  rejected: number;
  /** Set when the whole batch failed (e.g. a full disk); the next flush carries the same totals. */
  error?: string;
}

export type GatewayLog = (message: string, level: "warn" | "error") => void;

export interface FlusherOptions {
  /** Flush period in ms; 0 disables the timer (flush() by hand). */
  intervalMs: number;
  /** Wall clock in ms. */
  now?: () => number;
  /** Refused samples are "warn"; a flush that failed (its totals wait for the next) is "error". */
  log?: GatewayLog;
  /** Write stale markers on close (default true). */
  staleOnClose?: boolean;
}

export class Flusher {
  private readonly now: () => number;
  private readonly log: GatewayLog;
  private readonly staleOnClose: boolean;
  private timer: NodeJS.Timeout | null = null;
  private refs = new Float64Array(0);
  /** 1 once a series has had its creation zero (or first sample) stored. */
  private started = new Uint8Array(0);
  private readonly values = new Float64Array(SERIES_PER_SLOT);
  private lastT = Number.NEGATIVE_INFINITY;
  private closed = false;

  constructor(
    private readonly meter: Meter,
    private readonly appendable: Appendable,
    private readonly options: FlusherOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.log = options.log ?? (() => {});
    this.staleOnClose = options.staleOnClose ?? true;
  }

  start(): void {
    if (this.timer !== null || this.options.intervalMs <= 0) return;
    this.timer = setInterval(() => this.flush(), this.options.intervalMs);
    // The flusher alone must not keep a process alive; close() does the last flush.
    this.timer.unref();
  }

  /** Appends one sample per series at the current time and commits. Never throws. */
  flush(): FlushResult {
    // Timestamps must strictly increase per series, even if the wall clock steps back.
    let t = Math.floor(this.now());
    if (t <= this.lastT) t = this.lastT + 1;
    this.lastT = t;
    const total = this.meter.size * SERIES_PER_SLOT;
    if (this.refs.length < total) this.growTo(total);
    const newlyStarted: number[] = [];
    let rejected = 0;
    let firstRejection = "";
    let app: Appender | null = null;
    try {
      app = this.appendable.appender();
      const vals = this.values;
      for (let slot = 0; slot < this.meter.size; slot++) {
        this.meter.fill(slot, vals);
        for (let j = 0; j < SERIES_PER_SLOT; j++) {
          const v = vals[j];
          if (Number.isNaN(v)) continue; // not created yet
          const idx = slot * SERIES_PER_SLOT + j;
          const labels = this.meter.labelsOf(slot, j);
          try {
            if (this.started[idx] === 0) {
              newlyStarted.push(idx);
              const c = Math.floor(this.meter.createdAt(slot, j));
              if (c < t) this.refs[idx] = app.append(this.refs[idx] as SeriesRef, labels, c, 0);
            }
          } catch (err) {
            // A creation zero older than what the store holds (clock trouble): skip it alone.
            if (!(err instanceof SampleError)) throw err;
          }
          try {
            this.refs[idx] = app.append(this.refs[idx] as SeriesRef, labels, t, v);
          } catch (err) {
            if (!(err instanceof SampleError)) throw err;
            if (rejected++ === 0) firstRejection = err.message;
          }
        }
      }
      const result = app.commit();
      for (const idx of newlyStarted) this.started[idx] = 1;
      if (rejected > 0)
        this.log(`gateway flush at ${t}: ${rejected} samples refused, first: ${firstRejection}`, "warn");
      return { t, samples: result.samples, rejected };
    } catch (err) {
      try {
        app?.rollback();
      } catch {
        // The batch is gone either way.
      }
      const message = (err as Error).message;
      this.log(`gateway flush at ${t} failed: ${message}`, "error");
      return { t, samples: 0, rejected, error: message };
    }
  }

  /** Stops the timer, flushes one last time and marks every series stale. Idempotent. */
  close(): FlushResult | null {
    if (this.closed) return null;
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    const result = this.flush();
    if (this.staleOnClose && result.error === undefined) this.markStale(result.t + 1);
    return result;
  }

  private markStale(t: number): void {
    let app: Appender | null = null;
    try {
      app = this.appendable.appender();
      for (let slot = 0; slot < this.meter.size; slot++) {
        this.meter.fill(slot, this.values);
        for (let j = 0; j < SERIES_PER_SLOT; j++) {
          const idx = slot * SERIES_PER_SLOT + j;
          if (Number.isNaN(this.values[j]) || this.started[idx] === 0) continue;
          try {
            app.append(this.refs[idx] as SeriesRef, this.meter.labelsOf(slot, j), t, StaleNaN);
          } catch (err) {
            if (!(err instanceof SampleError)) throw err;
          }
        }
      }
      app.commit();
      this.lastT = t;
    } catch (err) {
      try {
        app?.rollback();
      } catch {
        // Nothing to undo.
      }
      this.log(`gateway stale markers at ${t} failed: ${(err as Error).message}`, "error");
    }
  }

  private growTo(n: number): void {
    let cap = Math.max(this.refs.length, 1024);
    while (cap < n) cap *= 2;
    const refs = new Float64Array(cap);
    refs.set(this.refs);
    this.refs = refs;
    const started = new Uint8Array(cap);
    started.set(this.started);
    this.started = started;
  }
}
