/**
 * A selection handed to another thread in pages: the thread that owns the store walks a SeriesSet
 * and copies each series' labels and compressed chunks into a few flat buffers (transferable, no
 * per-sample objects); the reading thread decodes them with the same chunk iterator the store
 * uses. The owner's cost per page is bounded (bytes and milliseconds), so a wide selection never
 * holds its event loop for long; decoding — most of a query's read cost — happens on the reader.
 *
 * Series that cannot export chunks (any other Queryable) are read through their iterator on the
 * owning side and sent as raw (time, value) pairs, so the page format works over any storage.
 */
import type { Labels, SampleIterator, Series, SeriesSet } from "../storage/index.js";
import { PADDING } from "./chunk/xor.js";
import { type ChunkRef, ChunksIterator, type ExportedChunks } from "./querier.js";

/** Chunk kinds in `SeriesPage.meta`. */
const XOR = 0;
const RAW = 1;
/** Fields per chunk in `meta`: kind, offset (bytes for XOR, pairs for RAW), count, minT, maxT. */
const META = 5;

export interface SeriesPage {
  /** Label names and values of every series, flat: name, value, name, value, … */
  readonly labels: string[];
  /** Per series: its number of labels, its number of chunks, and the range to clip to. */
  readonly labelCounts: Uint32Array;
  readonly chunkCounts: Uint32Array;
  readonly ranges: Float64Array;
  readonly meta: Float64Array;
  /** XOR chunk bytes, each chunk followed by the decoder's look-ahead padding. */
  readonly bytes: Uint8Array;
  /** Raw samples: time, value, time, value, … */
  readonly raw: Float64Array;
  /** No page follows. */
  readonly done: boolean;
}

export interface PageBounds {
  /** Stop adding series once the page holds this many bytes of chunks. */
  maxBytes: number;
  /** Stop adding series once the page took this long to build. */
  maxMs: number;
}

interface ChunkedSeries extends Series {
  exportChunks(): ExportedChunks;
}

function hasChunks(s: Series): s is ChunkedSeries {
  return typeof (s as Partial<ChunkedSeries>).exportChunks === "function";
}

/** Grows by doubling; hands out its filled part. */
class Bytes {
  buf = new Uint8Array(64 * 1024);
  used = 0;

  add(chunk: Uint8Array): number {
    const at = this.used;
    if (at + chunk.length > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, at + chunk.length));
      next.set(this.buf.subarray(0, at));
      this.buf = next;
    }
    this.buf.set(chunk, at);
    this.used += chunk.length;
    return at;
  }
}

class Floats {
  buf = new Float64Array(1024);
  used = 0;

  push(x: number): void {
    if (this.used === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.used++] = x;
  }
}

/** Owner's side: turns a SeriesSet into pages, one `next` call per page. */
export class SeriesPageWriter {
  private finished = false;

  constructor(
    private readonly set: SeriesSet,
    private readonly now: () => number = Date.now,
  ) {}

  next(bounds: PageBounds): SeriesPage {
    const labels: string[] = [];
    const labelCounts: number[] = [];
    const chunkCounts: number[] = [];
    const ranges: number[] = [];
    const meta = new Floats();
    const bytes = new Bytes();
    const raw = new Floats();
    const started = this.now();
    let n = 0;
    while (!this.finished) {
      if (
        n > 0 &&
        (bytes.used >= bounds.maxBytes || (n % 16 === 0 && this.now() - started >= bounds.maxMs))
      ) {
        break;
      }
      if (!this.set.next()) {
        const err = this.set.err();
        if (err) throw err;
        this.finished = true;
        break;
      }
      const s = this.set.at();
      for (const l of s.labels) labels.push(l.name, l.value);
      labelCounts.push(s.labels.length);
      if (hasChunks(s)) {
        const exp = s.exportChunks();
        ranges.push(exp.mint, exp.maxt);
        chunkCounts.push(exp.chunks.length);
        for (const c of exp.chunks) {
          const at = bytes.add(c.bytes);
          meta.push(XOR);
          meta.push(at);
          meta.push(c.count);
          meta.push(c.minT);
          meta.push(c.maxT);
        }
      } else {
        const it = s.iterator();
        const at = raw.used / 2;
        let count = 0;
        while (it.next()) {
          raw.push(it.atT());
          raw.push(it.atV());
          count++;
        }
        const err = it.err();
        if (err) throw err;
        ranges.push(Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY);
        chunkCounts.push(1);
        meta.push(RAW);
        meta.push(at);
        meta.push(count);
        meta.push(count ? raw.buf[at * 2] : 0);
        meta.push(count ? raw.buf[(at + count - 1) * 2] : 0);
      }
      n++;
    }
    return {
      labels,
      labelCounts: Uint32Array.from(labelCounts),
      chunkCounts: Uint32Array.from(chunkCounts),
      ranges: Float64Array.from(ranges),
      meta: meta.buf.slice(0, meta.used),
      // The decoder may look PADDING bytes past the last chunk.
      bytes: bytes.buf.slice(0, bytes.used + PADDING),
      raw: raw.buf.slice(0, raw.used),
      done: this.finished,
    };
  }
}

/** The buffers of a page, for a transfer list (they are not used again by the writer). */
export function pageTransferables(p: SeriesPage): ArrayBuffer[] {
  return [p.labelCounts, p.chunkCounts, p.ranges, p.meta, p.bytes, p.raw].map((a) => a.buffer as ArrayBuffer);
}

/** Reader's side: a SeriesSet over pages; `fetchNext` is called when a page runs out. */
export class PagedSeriesSet implements SeriesSet {
  private page: SeriesPage;
  private index = -1;
  private labelAt = 0;
  private chunkAt = 0;
  private current: PagedSeries | null = null;

  constructor(
    first: SeriesPage,
    private readonly fetchNext: () => SeriesPage,
    private readonly warningList: readonly string[] = [],
  ) {
    this.page = first;
  }

  next(): boolean {
    if (this.index >= 0) {
      this.labelAt += this.page.labelCounts[this.index] * 2;
      this.chunkAt += this.page.chunkCounts[this.index];
    }
    this.index++;
    while (this.index >= this.page.labelCounts.length) {
      if (this.page.done) {
        this.current = null;
        return false;
      }
      this.page = this.fetchNext();
      this.index = 0;
      this.labelAt = 0;
      this.chunkAt = 0;
    }
    const p = this.page;
    const i = this.index;
    const labels: { name: string; value: string }[] = [];
    for (let k = 0; k < p.labelCounts[i]; k++) {
      labels.push({ name: p.labels[this.labelAt + 2 * k], value: p.labels[this.labelAt + 2 * k + 1] });
    }
    this.current = new PagedSeries(
      labels,
      p,
      this.chunkAt,
      p.chunkCounts[i],
      p.ranges[2 * i],
      p.ranges[2 * i + 1],
    );
    return true;
  }

  at(): Series {
    if (this.current === null) throw new Error("PagedSeriesSet.at() called without a current series");
    return this.current;
  }

  err(): Error | null {
    return null;
  }

  warnings(): readonly string[] {
    return this.warningList;
  }
}

class PagedSeries implements Series {
  constructor(
    readonly labels: Labels,
    private readonly page: SeriesPage,
    private readonly firstChunk: number,
    private readonly chunks: number,
    private readonly mint: number,
    private readonly maxt: number,
  ) {}

  iterator(): SampleIterator {
    const { meta, bytes, raw } = this.page;
    const refs: ChunkRef[] = [];
    for (let c = 0; c < this.chunks; c++) {
      const k = (this.firstChunk + c) * META;
      if (meta[k] === RAW) return new RawIterator(raw, meta[k + 1], meta[k + 2]);
      refs.push({
        data: bytes,
        offset: meta[k + 1],
        count: meta[k + 2],
        minT: meta[k + 3],
        maxT: meta[k + 4],
      });
    }
    return new ChunksIterator(refs, this.mint, this.maxt);
  }
}

/** Iterates raw (time, value) pairs. */
class RawIterator implements SampleIterator {
  private i: number;
  private readonly end: number;

  constructor(
    private readonly raw: Float64Array,
    private readonly first: number,
    count: number,
  ) {
    this.i = first - 1;
    this.end = first + count;
  }

  next(): boolean {
    if (this.i < this.end) this.i++;
    return this.i < this.end;
  }

  seek(t: number): boolean {
    if (this.i < this.first) this.i = this.first;
    while (this.i < this.end && this.raw[2 * this.i] < t) this.i++;
    return this.i < this.end;
  }

  atT(): number {
    return this.raw[2 * this.i];
  }

  atV(): number {
    return this.raw[2 * this.i + 1];
  }

  err(): Error | null {
    return null;
  }
}
