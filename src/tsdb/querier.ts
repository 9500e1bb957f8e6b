/**
 * Reads over [mint, maxt]: postings from the in-memory index pick the series, and each series'
 * iterator walks its persisted chunks (SQLite, one block table at a time) and then the chunks the
 * head still holds in memory. Damaged chunks are skipped with a warning, never decoded.
 */
import {
  compareLabels,
  formatLabels,
  type Labels,
  type Matcher,
  type Querier,
  type SampleIterator,
  type SelectHints,
  type Series,
  type SeriesSet,
} from "../storage/index.js";
import { PADDING, XorIterator } from "./chunk/xor.js";
import type { MemSeries } from "./mem-series.js";

/** A chunk to decode: `count` caps the samples read (the open chunk keeps growing after a snapshot). */
export interface ChunkRef {
  data: Uint8Array;
  /** Where the chunk starts in `data`. */
  offset: number;
  count: number;
  minT: number;
  maxT: number;
}

/** A chunk read from disk: `end` is where its bytes and the decoder's padding after them end. */
export interface PersistedChunk extends ChunkRef {
  end: number;
}

/** One chunk of a series, copied out for a reader on another thread (see series-pages.ts). */
export interface ExportedChunk {
  /** The whole chunk followed by the reader's look-ahead padding. */
  bytes: Uint8Array;
  count: number;
  minT: number;
  maxT: number;
}

/** A series' chunks over a select's range; samples outside [mint, maxt] are to be skipped. */
export interface ExportedChunks {
  mint: number;
  maxt: number;
  chunks: ExportedChunk[];
}

/** What the querier needs from the database; implemented by Tsdb. */
export interface QueryTarget {
  postingsForMatchers(matchers: readonly Matcher[]): readonly number[];
  seriesByRef(ref: number): MemSeries | undefined;
  lastT(s: MemSeries): number;
  /** Persisted chunks of a series with maxT in [mint, before), oldest first; problems go to warnings. */
  persistedChunks(
    s: MemSeries,
    mint: number,
    maxt: number,
    before: number,
    warnings: string[],
  ): PersistedChunk[];
}

export class TsdbQuerier implements Querier {
  private readonly warnings: string[] = [];

  constructor(
    private readonly db: QueryTarget,
    readonly mint: number,
    readonly maxt: number,
  ) {}

  private matchingSeries(matchers: readonly Matcher[]): MemSeries[] {
    const out: MemSeries[] = [];
    for (const id of this.db.postingsForMatchers(matchers)) {
      const s = this.db.seriesByRef(id);
      if (s === undefined) continue;
      const last = this.db.lastT(s);
      // A series with no committed sample (its first batch is still open or was rolled back) is not visible.
      if (last !== Number.NEGATIVE_INFINITY && last >= this.mint && s.firstT <= this.maxt) out.push(s);
    }
    return out;
  }

  select(sortSeries: boolean, hints: SelectHints | undefined, ...matchers: Matcher[]): SeriesSet {
    const mint = hints?.start !== undefined ? Math.max(this.mint, hints.start) : this.mint;
    const maxt = hints?.end !== undefined ? Math.min(this.maxt, hints.end) : this.maxt;
    const series = this.matchingSeries(matchers);
    if (sortSeries) series.sort((a, b) => compareLabels(a.labels, b.labels));
    // Series objects are made one at a time as the caller advances: a select over many series
    // then keeps no per-series garbage alive (young-generation GC cost grows with survivors).
    let i = -1;
    let current: Series | null = null;
    const warnings = this.warnings;
    const db = this.db;
    return {
      next: () => {
        current = null;
        return ++i < series.length;
      },
      at: () => {
        if (current === null) current = new TsdbSeries(db, series[i], mint, maxt, warnings);
        return current;
      },
      err: () => null,
      warnings: () => warnings,
    };
  }

  labelValues(name: string, ...matchers: Matcher[]): string[] {
    const values = new Set<string>();
    for (const s of this.matchingSeries(matchers)) {
      for (const l of s.labels) if (l.name === name) values.add(l.value);
    }
    return [...values].sort();
  }

  labelNames(...matchers: Matcher[]): string[] {
    const names = new Set<string>();
    for (const s of this.matchingSeries(matchers)) for (const l of s.labels) names.add(l.name);
    return [...names].sort();
  }

  close(): void {}
}

class TsdbSeries implements Series {
  readonly labels: Labels;

  constructor(
    private readonly db: QueryTarget,
    private readonly s: MemSeries,
    private readonly mint: number,
    private readonly maxt: number,
    private readonly warnings: string[],
  ) {
    this.labels = s.labels;
  }

  iterator(): SampleIterator {
    return new ChunksIterator(this.chunkRefs(), this.mint, this.maxt);
  }

  /**
   * The chunks this series reads over the querier's range, as byte ranges another thread can copy
   * and decode on its own (series-pages.ts): each `bytes` holds one whole chunk and the reader's
   * look-ahead padding.
   */
  exportChunks(): ExportedChunks {
    const refs = this.chunkRefs();
    const chunks: ExportedChunk[] = [];
    for (const c of refs)
      chunks.push({ bytes: c.data.subarray(c.offset, c.end), count: c.count, minT: c.minT, maxT: c.maxT });
    return { mint: this.mint, maxt: this.maxt, chunks };
  }

  private chunkRefs(): (ChunkRef & { end: number })[] {
    const s = this.s;
    const memStart = s.memStart();
    // Only what was evicted from memory is on disk: a series whose first sample is still in
    // memory (firstT ≥ memStart) has nothing older to read, so skip the per-block look-ups. Common
    // for a dashboard's hour plus its range window when the series is under an hour old, or right
    // after start.
    const chunks: (ChunkRef & { end: number })[] = [];
    if (this.mint < memStart && s.firstT < memStart) {
      for (const c of this.db.persistedChunks(s, this.mint, this.maxt, memStart, this.warnings))
        chunks.push(c);
    }
    const closed = s.closed;
    for (let i = 0; i < closed.length; i++) {
      if (closed.maxT(i) >= this.mint && closed.minT(i) <= this.maxt) {
        const offset = closed.offset(i);
        chunks.push({
          data: closed.buffer(),
          offset,
          end: offset + closed.byteLength(i) + PADDING,
          count: closed.count(i),
          minT: closed.minT(i),
          maxT: closed.maxT(i),
        });
      }
    }
    const head = s.head;
    if (head && head.count > 0 && head.maxT >= this.mint && head.minT <= this.maxt) {
      // The open chunk: share its buffer, but only read the samples it has now.
      const end = Math.min(head.buf.length, ((head.bitPos + 7) >>> 3) + PADDING);
      chunks.push({ data: head.buf, offset: 0, end, count: head.count, minT: head.minT, maxT: head.maxT });
    }
    return chunks;
  }

  toString(): string {
    return formatLabels(this.labels);
  }
}

/** Iterates consecutive, non-overlapping chunks, clipped to [mint, maxt]. */
export class ChunksIterator implements SampleIterator {
  private readonly it = new XorIterator();
  private ci = -1;
  private t = Number.NEGATIVE_INFINITY;
  private error: Error | null = null;
  private exhausted = false;

  constructor(
    private readonly chunks: readonly ChunkRef[],
    private readonly mint: number,
    private readonly maxt: number,
  ) {}

  private openChunk(i: number): void {
    const c = this.chunks[i];
    this.ci = i;
    this.it.reset(c.data, c.count, c.offset);
  }

  next(): boolean {
    if (this.exhausted) return false;
    if (this.ci < 0) {
      if (this.chunks.length === 0) return this.finish();
      this.openChunk(0);
    }
    for (;;) {
      if (this.it.next()) {
        const t = this.it.atT();
        if (t > this.maxt) return this.finish();
        if (t < this.mint) continue;
        this.t = t;
        return true;
      }
      const err = this.it.err();
      if (err) {
        this.error = err;
        return this.finish();
      }
      if (this.ci + 1 >= this.chunks.length) return this.finish();
      this.openChunk(this.ci + 1);
    }
  }

  seek(t: number): boolean {
    if (this.exhausted) return false;
    if (this.ci >= 0 && this.t >= t && this.t !== Number.NEGATIVE_INFINITY) return true;
    let i = Math.max(this.ci, 0);
    while (i < this.chunks.length && this.chunks[i].maxT < t) i++;
    if (i >= this.chunks.length) return this.finish();
    if (i !== this.ci) this.openChunk(i);
    while (this.next()) if (this.t >= t) return true;
    return false;
  }

  atT(): number {
    return this.t;
  }

  atV(): number {
    return this.it.atV();
  }

  err(): Error | null {
    return this.error;
  }

  private finish(): boolean {
    this.exhausted = true;
    return false;
  }
}
