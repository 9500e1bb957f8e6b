/**
 * The closed chunks one series keeps in memory, packed into one byte buffer and one index array.
 * A JS object and typed array per chunk would cost more than the chunk itself (~250 bytes of
 * headers for ~200 bytes of data); here a series pays for two typed arrays however many chunks
 * it holds. Chunks are appended at the end and evicted from the front, oldest first.
 */
import { PADDING } from "./chunk/xor.js";

const FIELDS = 4; // minT, maxT, byte offset, sample count
const EMPTY_BYTES = new Uint8Array(0);
const EMPTY_INDEX = new Float64Array(0);

export class ClosedChunks {
  private bytes: Uint8Array = EMPTY_BYTES;
  private used = 0;
  private index: Float64Array = EMPTY_INDEX;
  private n = 0;
  /** Leading chunks already written to the database (only those may be evicted). */
  persisted = 0;

  get length(): number {
    return this.n;
  }

  minT(i: number): number {
    return this.index[i * FIELDS];
  }

  maxT(i: number): number {
    return this.index[i * FIELDS + 1];
  }

  count(i: number): number {
    return this.index[i * FIELDS + 3];
  }

  byteLength(i: number): number {
    const start = this.index[i * FIELDS + 2];
    const end = i + 1 < this.n ? this.index[(i + 1) * FIELDS + 2] : this.used;
    return end - start;
  }

  /** The packed buffer; chunk i starts at offset(i) and is followed by PADDING readable bytes. */
  buffer(): Uint8Array {
    return this.bytes;
  }

  offset(i: number): number {
    return this.index[i * FIELDS + 2];
  }

  /** Chunk i's bytes followed by at least PADDING readable bytes (the reader's look-ahead). */
  data(i: number): Uint8Array {
    const start = this.index[i * FIELDS + 2];
    return this.bytes.subarray(start, start + this.byteLength(i) + PADDING);
  }

  /** Chunk i's exact bytes. */
  exact(i: number): Uint8Array {
    const start = this.index[i * FIELDS + 2];
    return this.bytes.subarray(start, start + this.byteLength(i));
  }

  push(chunk: Uint8Array, length: number, count: number, minT: number, maxT: number): void {
    const needBytes = this.used + length + PADDING;
    if (needBytes > this.bytes.length) {
      const next = new Uint8Array(Math.max(needBytes, Math.ceil(this.bytes.length * 1.5)));
      next.set(this.bytes.subarray(0, this.used));
      this.bytes = next;
    }
    this.bytes.set(chunk.subarray(0, length), this.used);
    if ((this.n + 1) * FIELDS > this.index.length) {
      const next = new Float64Array(Math.max((this.n + 1) * FIELDS, this.index.length * 2));
      next.set(this.index);
      this.index = next;
    }
    const k = this.n * FIELDS;
    this.index[k] = minT;
    this.index[k + 1] = maxT;
    this.index[k + 2] = this.used;
    this.index[k + 3] = count;
    this.used += length;
    this.n++;
  }

  /** Removes and returns the newest chunk's bytes (to undo a cut). */
  pop(): { data: Uint8Array; minT: number } {
    const i = this.n - 1;
    const data = this.exact(i).slice();
    const minT = this.minT(i);
    this.used = this.index[i * FIELDS + 2];
    this.bytes.fill(0, this.used, this.used + data.length + PADDING);
    this.n--;
    if (this.persisted > this.n) this.persisted = this.n;
    return { data, minT };
  }

  /** Drops the oldest k chunks, compacting the buffers. */
  dropFirst(k: number): void {
    if (k <= 0) return;
    if (k >= this.n) {
      this.bytes = EMPTY_BYTES;
      this.index = EMPTY_INDEX;
      this.used = 0;
      this.n = 0;
      this.persisted = 0;
      return;
    }
    const shift = this.index[k * FIELDS + 2];
    const keptBytes = this.used - shift;
    const bytes = new Uint8Array(keptBytes + PADDING + (keptBytes >>> 2));
    bytes.set(this.bytes.subarray(shift, this.used));
    const index = this.index.slice(k * FIELDS, this.n * FIELDS);
    for (let i = 2; i < index.length; i += FIELDS) index[i] -= shift;
    this.bytes = bytes;
    this.index = index;
    this.used = keptBytes;
    this.n -= k;
    this.persisted = Math.max(0, this.persisted - k);
  }
}
