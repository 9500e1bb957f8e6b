/**
 * The series a receiver accepted before, keyed by the exact bytes of their labels in the request
 * (senders send a series' labels the same way every time). A hit skips what the first sight of a
 * series paid for: normalising, the project and shape checks, hashing, and the store's look-up by
 * labels (the cached ref names the series). One cache per store and write scope (the token's
 * project, or "*"), so one project's series neither fill nor read another's; a cache that
 * reaches its bound starts over. A hash collision costs a miss, never a wrong series: the bytes
 * are compared.
 */
import type { Appendable, SeriesRef } from "../storage/index.js";
import { hashBytes } from "./remote-write/bytes-table.js";
import type { LabelSpan } from "./remote-write/decode.js";

/** Entries per cache before it starts over: far above a project's active-series limit. */
export const SERIES_CACHE_MAX = 1 << 20;

export interface CachedSeries {
  /** labelsHash of the normalised labels (the active-series key, and the store's). */
  readonly hash: number;
  readonly project: string;
  ref: SeriesRef;
}

interface Entry extends CachedSeries {
  readonly key: Uint8Array;
  readonly keyView: DataView;
}

export class SeriesCache {
  private readonly map = new Map<number, Entry | Entry[]>();
  private count = 0;

  constructor(
    /** The limits object the entries were checked against: another one empties the cache. */
    public checkedAgainst: unknown,
  ) {}

  get size(): number {
    return this.count;
  }

  get(span: LabelSpan): CachedSeries | undefined {
    const found = this.map.get(hashSpan(span));
    if (found === undefined) return undefined;
    if (!Array.isArray(found)) return sameBytes(found, span) ? found : undefined;
    for (const e of found) if (sameBytes(e, span)) return e;
    return undefined;
  }

  add(span: LabelSpan, hash: number, project: string, ref: SeriesRef): CachedSeries {
    if (this.count >= SERIES_CACHE_MAX) this.clear();
    const key = span.buf.slice(span.start, span.end);
    const entry: Entry = {
      key,
      keyView: new DataView(key.buffer, key.byteOffset, key.byteLength),
      hash,
      project,
      ref,
    };
    const h = hashSpan(span);
    const found = this.map.get(h);
    if (found === undefined) this.map.set(h, entry);
    else this.map.set(h, Array.isArray(found) ? [...found, entry] : [found, entry]);
    this.count++;
    return entry;
  }

  clear(): void {
    this.map.clear();
    this.count = 0;
  }
}

/** 30 bits, so Map keys stay small integers (V8 keeps those unboxed). */
function hashSpan({ buf, view, start, end }: LabelSpan): number {
  return hashBytes(buf, view, start, end) & 0x3fffffff;
}

function sameBytes({ key, keyView }: Entry, { buf, view, start, end }: LabelSpan): boolean {
  const len = key.length;
  if (len !== end - start) return false;
  let j = 0;
  for (; j + 4 <= len; j += 4) if (keyView.getInt32(j, true) !== view.getInt32(start + j, true)) return false;
  for (; j < len; j++) if (key[j] !== buf[start + j]) return false;
  return true;
}

const caches = new WeakMap<Appendable, Map<string, SeriesCache>>();

/** The cache of one store and write scope, emptied when the limits it was checked against change. */
export function seriesCacheFor(storage: Appendable, scope: string, limits: unknown): SeriesCache {
  let byScope = caches.get(storage);
  if (byScope === undefined) {
    byScope = new Map();
    caches.set(storage, byScope);
  }
  let cache = byScope.get(scope);
  if (cache === undefined) {
    cache = new SeriesCache(limits);
    byScope.set(scope, cache);
  } else if (cache.checkedAgainst !== limits) {
    cache.clear();
    cache.checkedAgainst = limits;
  }
  return cache;
}
