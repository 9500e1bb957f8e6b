/** A series as the head holds it: identity, the open chunk, and recent closed chunks. */
import type { Labels } from "../storage/index.js";
import type { XorEncoder } from "./chunk/xor.js";
import { ClosedChunks } from "./closed-chunks.js";

/**
 * Per-series times, stored column-wise by series id. A double in a JS object field is a boxed
 * heap number (~24 bytes); in a Float64Array it is 8 bytes, and the head holds five per series.
 */
export class SeriesTimes {
  firstT = new Float64Array(0);
  lastT = new Float64Array(0);
  appendT = new Float64Array(0);
  commitT = new Float64Array(0);
  headBlockEnd = new Float64Array(0);

  /** Makes room for series id `id`, new slots set to their empty values. */
  ensure(id: number): void {
    if (id < this.lastT.length) return;
    const size = Math.max(id + 1, this.lastT.length * 2, 1024);
    const grow = (a: Float64Array, fill: number) => {
      const next = new Float64Array(size).fill(fill, a.length);
      next.set(a);
      return next;
    };
    this.firstT = grow(this.firstT, Number.POSITIVE_INFINITY);
    this.lastT = grow(this.lastT, Number.NEGATIVE_INFINITY);
    this.appendT = grow(this.appendT, Number.NEGATIVE_INFINITY);
    this.commitT = grow(this.commitT, Number.NEGATIVE_INFINITY);
    this.headBlockEnd = grow(this.headBlockEnd, 0);
  }
}

export class MemSeries {
  /** The open chunk, or null when the last one was cut and nothing arrived since. */
  head: XorEncoder | null = null;
  /** Recent closed chunks, oldest first: always the newest suffix of the series' chunks. */
  closed = new ClosedChunks();
  /** The series is in the list of series with closed chunks not yet written. */
  pendingWrite = false;
  /** The series row is in the database. */
  persisted = false;
  /** The head changed since the last checkpoint (and sits in the dirty list). */
  headDirty = false;
  /** The appender that will write this series' row on commit. */
  pendingOwner: object | null = null;

  constructor(
    readonly id: number,
    readonly labels: Labels,
    private readonly times: SeriesTimes,
  ) {
    times.ensure(id);
  }

  /** Exclusive end of the time block the open chunk belongs to; a sample at or past it cuts the chunk. */
  get headBlockEnd(): number {
    return this.times.headBlockEnd[this.id];
  }
  set headBlockEnd(t: number) {
    this.times.headBlockEnd[this.id] = t;
  }

  /** Earliest sample time that may still be stored (a lower bound used to skip series by time range). */
  get firstT(): number {
    return this.times.firstT[this.id];
  }
  set firstT(t: number) {
    this.times.firstT[this.id] = t;
  }

  /** Newest committed sample time. */
  get lastT(): number {
    return this.times.lastT[this.id];
  }
  set lastT(t: number) {
    this.times.lastT[this.id] = t;
  }

  /** Newest accepted sample time, committed or in an open batch: out-of-order checks use it. */
  get appendT(): number {
    return this.times.appendT[this.id];
  }
  set appendT(t: number) {
    this.times.appendT[this.id] = t;
  }

  /** Scratch for commit: newest time kept so far in the batch being committed. */
  get commitT(): number {
    return this.times.commitT[this.id];
  }
  set commitT(t: number) {
    this.times.commitT[this.id] = t;
  }

  /** Start of the in-memory suffix: persisted chunks older than this are read from disk. */
  memStart(): number {
    if (this.closed.length) return this.closed.minT(0);
    if (this.head && this.head.count > 0) return this.head.minT;
    return Number.POSITIVE_INFINITY;
  }
}
