/** A series as the head holds it: identity, the open chunk, and recent closed chunks. */
import type { Labels } from "../storage/index.js";
import type { XorEncoder } from "./chunk/xor.js";

/** A closed (immutable) chunk held in memory; `data` is padded for the reader. */
export interface MemChunk {
  readonly data: Uint8Array;
  readonly count: number;
  readonly minT: number;
  readonly maxT: number;
  persisted: boolean;
}

export class MemSeries {
  /** The open chunk, or null when the last one was cut and nothing arrived since. */
  head: XorEncoder | null = null;
  /** Exclusive end of the time block the open chunk belongs to; a sample at or past it cuts the chunk. */
  headBlockEnd = 0;
  /** Recent closed chunks, oldest first: always the newest suffix of the series' chunks. */
  closed: MemChunk[] = [];
  /** Earliest sample time that may still be stored (a lower bound used to skip series by time range). */
  firstT = Number.POSITIVE_INFINITY;
  /** Newest committed sample time. */
  lastT = Number.NEGATIVE_INFINITY;
  /** Newest accepted sample time, committed or in an open batch: out-of-order checks use it. */
  appendT = Number.NEGATIVE_INFINITY;
  /** Scratch for commit: newest time kept so far in the batch being committed. */
  commitT = Number.NEGATIVE_INFINITY;
  /** The series row is in the database. */
  persisted = false;
  /** The head changed since the last checkpoint (and sits in the dirty list). */
  headDirty = false;
  /** The appender that will write this series' row on commit. */
  pendingOwner: object | null = null;

  constructor(
    readonly id: number,
    readonly labels: Labels,
    /** labelsHash(labels): the head's series map is keyed by it. */
    readonly hash: number,
  ) {}

  /** Start of the in-memory suffix: persisted chunks older than this are read from disk. */
  memStart(): number {
    if (this.closed.length) return this.closed[0].minT;
    if (this.head && this.head.count > 0) return this.head.minT;
    return Number.POSITIVE_INFINITY;
  }
}
