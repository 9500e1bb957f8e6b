/**
 * A direct-mapped cache keyed by byte ranges of the request, for values that repeat across series
 * and requests (label strings, whole label pairs). A lookup hashes the bytes four at a time through a
 * DataView and confirms a hit by comparing them, so a hash collision can cost a miss but never a
 * wrong value. A colliding insert simply replaces the slot: bounded memory, no eviction bookkeeping.
 */
/** A 32-bit hash of buf[start, end), four bytes at a time through `view` (a DataView over exactly `buf`). */
export function hashBytes(buf: Uint8Array, view: DataView, start: number, end: number): number {
  let h = end - start;
  let i = start;
  for (; i + 4 <= end; i += 4) {
    h = Math.imul(h ^ view.getInt32(i, true), 0x9e3779b1);
    h ^= h >>> 15;
  }
  for (; i < end; i++) h = Math.imul(h ^ buf[i], 0x01000193);
  h ^= h >>> 13;
  return h;
}

export class BytesTable<T> {
  private readonly mask: number;
  private readonly keys: (Uint8Array | undefined)[];
  private readonly keyViews: (DataView | undefined)[];
  private readonly values: (T | undefined)[];
  /** Slot of the last `get`, so the `set` after a miss does not hash again. */
  private slot = 0;

  /** `bits`: log2 of the slot count. Callers bound key length, and so memory. */
  constructor(bits: number) {
    const size = 1 << bits;
    this.mask = size - 1;
    this.keys = new Array<Uint8Array | undefined>(size).fill(undefined);
    this.keyViews = new Array<DataView | undefined>(size).fill(undefined);
    this.values = new Array<T | undefined>(size).fill(undefined);
  }

  /** The value cached for buf[start, end), or undefined. `view` is a DataView over exactly `buf`. */
  get(buf: Uint8Array, view: DataView, start: number, end: number): T | undefined {
    const len = end - start;
    const slot = hashBytes(buf, view, start, end) & this.mask;
    this.slot = slot;
    const key = this.keys[slot];
    if (key === undefined || key.length !== len) return undefined;
    const kv = this.keyViews[slot]!;
    let j = 0;
    for (; j + 4 <= len; j += 4)
      if (kv.getInt32(j, true) !== view.getInt32(start + j, true)) return undefined;
    for (; j < len; j++) if (key[j] !== buf[start + j]) return undefined;
    return this.values[slot];
  }

  /** Caches `value` for buf[start, end), in the slot the immediately preceding `get` of those bytes chose. */
  set(buf: Uint8Array, start: number, end: number, value: T): void {
    // A copy of its own: Buffer#slice would return a view, pinning the whole request in the table.
    const key = new Uint8Array(end - start);
    key.set(buf.subarray(start, end));
    this.keys[this.slot] = key;
    this.keyViews[this.slot] = new DataView(key.buffer, key.byteOffset, key.byteLength);
    this.values[this.slot] = value;
  }
}
