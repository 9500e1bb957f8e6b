/**
 * Collects one batch of samples. Each sample is checked when appended, so a bad one is reported
 * alone and never reaches the log; `commit` then writes the accepted samples in one transaction.
 */
import {
  type Appender,
  type CommitResult,
  checkSample,
  DuplicateSampleError,
  formatLabels,
  InvalidLabelsError,
  InvalidSampleLabelsError,
  type Labels,
  OutOfBoundsSampleError,
  OutOfOrderSampleError,
  type SeriesRef,
  sameBits,
} from "../storage/index.js";
import type { MemSeries } from "./mem-series.js";

/** What the appender needs from the database; implemented by Tsdb. */
export interface AppendTarget {
  seriesByRef(ref: SeriesRef): MemSeries | undefined;
  /**
   * Finds or creates the series (in memory only); throws InvalidLabelsError. With `hash`, the labels
   * are already normalised and this is their labelsHash (the Appender contract).
   */
  getOrCreateSeries(labels: Labels, hash?: number): MemSeries;
  /**
   * Whether a sample at `t` can no longer be stored: older than the retention window
   * (`t < minValidTime()`), or than the end of the newest block file.
   */
  isOutsideRetention(t: number): boolean;
  /** Why isOutsideRetention refused `t`. */
  outOfBoundsReason(t: number): string;
  /** Newest accepted value of a series (bit-exact), for duplicate detection. */
  appendValue(id: number): number;
  setAppendValue(id: number, v: number): void;
  commitBatch(
    created: readonly MemSeries[],
    count: number,
    refs: Uint32Array,
    ts: Float64Array,
    vs: Float64Array,
  ): CommitResult;
  /** Undo what append() claimed on the series of an abandoned batch. */
  releaseBatch(count: number, refs: Uint32Array): void;
  /** Batch buffers are pooled: appenders are short-lived and the arrays are not. */
  takeBuffers(): BatchBuffers | undefined;
  returnBuffers(b: BatchBuffers): void;
}

export interface BatchBuffers {
  refs: Uint32Array;
  ts: Float64Array;
  vs: Float64Array;
}

const INITIAL_CAPACITY = 1024;

export class TsdbAppender implements Appender {
  private count = 0;
  private refs: Uint32Array;
  private ts: Float64Array;
  private vs: Float64Array;
  private created: MemSeries[] = [];
  private done = false;

  constructor(private readonly db: AppendTarget) {
    const b = db.takeBuffers();
    this.refs = b?.refs ?? new Uint32Array(INITIAL_CAPACITY);
    this.ts = b?.ts ?? new Float64Array(INITIAL_CAPACITY);
    this.vs = b?.vs ?? new Float64Array(INITIAL_CAPACITY);
  }

  append(ref: SeriesRef, labels: Labels, t: number, v: number, hash?: number): SeriesRef {
    if (this.done) throw new Error("appender already committed or rolled back");
    let s = ref > 0 ? this.db.seriesByRef(ref) : undefined;
    if (s === undefined) {
      try {
        s = this.db.getOrCreateSeries(labels, hash);
      } catch (err) {
        if (err instanceof InvalidLabelsError)
          throw new InvalidSampleLabelsError(`invalid series: ${err.message}`);
        throw err;
      }
    }
    checkSample(s.labels, t, v);
    if (this.db.isOutsideRetention(t)) {
      throw new OutOfBoundsSampleError(
        `sample at ${t} of ${formatLabels(s.labels)} ${this.db.outOfBoundsReason(t)}`,
      );
    }
    if (t <= s.appendT) {
      if (t < s.appendT) {
        throw new OutOfOrderSampleError(
          `out-of-order sample at ${t} of ${formatLabels(s.labels)}: newest sample is at ${s.appendT}`,
        );
      }
      if (sameBits(v, this.db.appendValue(s.id))) return s.id;
      throw new DuplicateSampleError(
        `duplicate sample at ${t} of ${formatLabels(s.labels)} with a different value (${v}, stored ${this.db.appendValue(s.id)})`,
      );
    }
    const n = this.count;
    if (n === this.refs.length) this.grow();
    this.refs[n] = s.id;
    this.ts[n] = t;
    this.vs[n] = v;
    this.count = n + 1;
    s.appendT = t;
    this.db.setAppendValue(s.id, v);
    if (s.firstT === Number.POSITIVE_INFINITY) s.firstT = t;
    if (!s.persisted && s.pendingOwner !== this) {
      s.pendingOwner = this;
      this.created.push(s);
    }
    return s.id;
  }

  commit(): CommitResult {
    if (this.done) throw new Error("appender already committed or rolled back");
    this.done = true;
    let result: CommitResult = { samples: 0, outOfOrder: 0 };
    try {
      if (this.count > 0) result = this.db.commitBatch(this.created, this.count, this.refs, this.ts, this.vs);
    } catch (err) {
      this.abandon();
      throw err;
    }
    this.release();
    return result;
  }

  rollback(): void {
    if (this.done) return;
    this.done = true;
    this.abandon();
  }

  private abandon(): void {
    this.db.releaseBatch(this.count, this.refs);
    this.release();
  }

  private release(): void {
    for (const s of this.created) if (s.pendingOwner === this) s.pendingOwner = null;
    this.created = [];
    this.count = 0;
    this.db.returnBuffers({ refs: this.refs, ts: this.ts, vs: this.vs });
  }

  private grow(): void {
    const size = this.refs.length * 2;
    const refs = new Uint32Array(size);
    refs.set(this.refs);
    const ts = new Float64Array(size);
    ts.set(this.ts);
    const vs = new Float64Array(size);
    vs.set(this.vs);
    this.refs = refs;
    this.ts = ts;
    this.vs = vs;
  }
}
