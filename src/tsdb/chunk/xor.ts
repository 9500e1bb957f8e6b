/**
 * Gorilla ("XOR") chunks: delta-of-delta timestamps and XOR-compressed float values, the layout of
 * Prometheus's chunkenc/xor.go.
 *
 *   header   2 bytes, big-endian sample count
 *   sample 0 timestamp as zigzag varint, value as 64 raw bits
 *   sample 1 timestamp delta as varint, value XOR-coded
 *   sample n delta-of-delta: '0' | '10'+14 bits | '110'+17 | '1110'+20 | '1111'+64; value XOR-coded
 *   value    '0' same bits as before | '10' + meaningful bits in the previous window
 *            | '11' + 5 bits leading zeros + 6 bits length (0 means 64) + meaningful bits
 *
 * JavaScript has no fast 64-bit integers, so values travel as two 32-bit words and timestamps as
 * exact integers in doubles. Buffers carry at least PADDING zero bytes after the data so the reader
 * can load a 5-byte window without bounds checks on the last sample.
 */

export const MAX_SAMPLES_PER_CHUNK = 120;
/** Size of XorEncoder.writeState's output. */
export const ENCODER_STATE_BYTES = 40;
export const PADDING = 8;

const TWO32 = 4294967296;
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

function clz64(hi: number, lo: number): number {
  return hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo);
}

function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

function ctz64(hi: number, lo: number): number {
  return lo !== 0 ? ctz32(lo) : 32 + ctz32(hi);
}

/** Appends samples to one chunk. Not safe after `count` reaches MAX_SAMPLES_PER_CHUNK (callers cut first). */
export class XorEncoder {
  buf: Uint8Array;
  bitPos = 16;
  count = 0;
  minT = 0;
  maxT = 0;
  private tDelta = 0;
  private vHi = 0;
  private vLo = 0;
  private leading = 0xff;
  private trailing = 0;

  constructor(initialBytes = 48) {
    this.buf = new Uint8Array(initialBytes + PADDING);
  }

  /** Rebuilds an encoder positioned after the last sample of `data` so appends can continue. */
  static resume(data: Uint8Array): XorEncoder {
    const enc = new XorEncoder(Math.max(48, data.length));
    enc.buf.set(data.subarray(0, chunkDataLength(data)));
    const it = new XorIterator();
    it.reset(data);
    while (it.next()) {
      /* walk to the end to recover the encoder state */
    }
    if (it.err() !== null) throw it.err();
    const st = it.encoderState();
    enc.bitPos = st.bitPos;
    enc.count = st.count;
    enc.minT = st.minT;
    enc.maxT = st.t;
    enc.tDelta = st.tDelta;
    enc.vHi = st.vHi;
    enc.vLo = st.vLo;
    enc.leading = st.leading;
    enc.trailing = st.trailing;
    return enc;
  }

  /** Writes the encoder's state (ENCODER_STATE_BYTES) so `restore` can continue without decoding. */
  writeState(view: DataView, at: number): void {
    view.setUint32(at, this.bitPos, true);
    view.setUint16(at + 4, this.count, true);
    view.setUint8(at + 6, this.leading);
    view.setUint8(at + 7, this.trailing);
    view.setFloat64(at + 8, this.minT, true);
    view.setFloat64(at + 16, this.maxT, true);
    view.setFloat64(at + 24, this.tDelta, true);
    view.setInt32(at + 32, this.vHi, true);
    view.setInt32(at + 36, this.vLo, true);
  }

  /**
   * Rebuilds an encoder from `writeState` output and the chunk's bytes. Falls back to decoding
   * (`resume`) when the state does not fit the bytes, so a bad state can never produce a bad chunk.
   */
  static restore(view: DataView, at: number, data: Uint8Array): XorEncoder {
    const bitPos = view.getUint32(at, true);
    const count = view.getUint16(at + 4, true);
    if (count < 1 || count > MAX_SAMPLES_PER_CHUNK || (bitPos + 7) >>> 3 !== data.length) {
      return XorEncoder.resume(withPadding(data, data.length));
    }
    const enc = new XorEncoder(data.length + 24);
    enc.buf.set(data);
    enc.bitPos = bitPos;
    enc.count = count;
    enc.leading = view.getUint8(at + 6);
    enc.trailing = view.getUint8(at + 7);
    enc.minT = view.getFloat64(at + 8, true);
    enc.maxT = view.getFloat64(at + 16, true);
    enc.tDelta = view.getFloat64(at + 24, true);
    enc.vHi = view.getInt32(at + 32, true);
    enc.vLo = view.getInt32(at + 36, true);
    return enc;
  }

  sizeBytes(): number {
    return (this.bitPos + 7) >>> 3;
  }

  /**
   * The chunk's bytes (header filled in) followed by PADDING zero bytes. May share the encoder's
   * buffer: call it when the chunk is complete, not before further appends.
   */
  bytes(): Uint8Array {
    const len = this.sizeBytes();
    // A buffer with little slack is handed out as is (the encoder is done with it at a cut).
    if (this.buf.length - len - PADDING <= 32 && this.buf.length >= len + PADDING) {
      this.buf[0] = this.count >>> 8;
      this.buf[1] = this.count & 0xff;
      return this.buf.subarray(0, len + PADDING);
    }
    const out = new Uint8Array(len + PADDING);
    out.set(this.buf.subarray(0, len));
    out[0] = this.count >>> 8;
    out[1] = this.count & 0xff;
    return out;
  }

  append(t: number, v: number): void {
    f64[0] = v;
    // Value words are kept as signed 32-bit integers: V8 stores those unboxed in object fields.
    const hi = u32[1] | 0;
    const lo = u32[0] | 0;
    const n = this.count;
    // The common case in a scrape of slowly moving series: same step, same value. The buffer is
    // zeroed, so its two 0 bits only move the position.
    if (n >= 2 && t - this.maxT === this.tDelta && hi === this.vHi && lo === this.vLo) {
      if (((this.bitPos + 2) >>> 3) + PADDING >= this.buf.length) this.grow(2);
      this.bitPos += 2;
      this.maxT = t;
      this.count = n + 1;
      return;
    }
    // One capacity check covers the largest sample (4+64 timestamp bits, 2+5+6+64 value bits);
    // the writers below then skip bounds checks.
    if (((this.bitPos + 160) >>> 3) + PADDING > this.buf.length) this.grow(160);
    if (n === 0) {
      this.writeVarint(t >= 0 ? t * 2 : -t * 2 - 1);
      this.writeBits(hi, 32);
      this.writeBits(lo, 32);
      this.minT = t;
    } else if (n === 1) {
      this.tDelta = t - this.maxT;
      this.writeVarint(this.tDelta);
      this.writeValue(hi, lo);
    } else {
      const delta = t - this.maxT;
      const dod = delta - this.tDelta;
      this.tDelta = delta;
      if (dod === 0) this.bitPos++;
      else if (dod >= -8191 && dod <= 8192) {
        this.writeBits(0b10, 2);
        this.writeBits(dod & 0x3fff, 14);
      } else if (dod >= -65535 && dod <= 65536) {
        this.writeBits(0b110, 3);
        this.writeBits(dod & 0x1ffff, 17);
      } else if (dod >= -524287 && dod <= 524288) {
        this.writeBits(0b1110, 4);
        this.writeBits(dod & 0xfffff, 20);
      } else {
        this.writeBits(0b1111, 4);
        const dhi = Math.floor(dod / TWO32);
        this.writeBits(dhi >>> 0, 32);
        this.writeBits(dod - dhi * TWO32, 32);
      }
      this.writeValue(hi, lo);
    }
    this.maxT = t;
    this.vHi = hi;
    this.vLo = lo;
    this.count = n + 1;
  }

  private writeValue(hi: number, lo: number): void {
    const xh = (hi ^ this.vHi) >>> 0;
    const xl = (lo ^ this.vLo) >>> 0;
    if (xh === 0 && xl === 0) {
      this.writeBit(0);
      return;
    }
    let leading = clz64(xh, xl);
    const trailing = ctz64(xh, xl);
    if (leading > 31) leading = 31;
    if (this.leading !== 0xff && leading >= this.leading && trailing >= this.trailing) {
      this.writeBits(0b10, 2);
      this.writeShifted(xh, xl, this.trailing, 64 - this.leading - this.trailing);
      return;
    }
    this.leading = leading;
    this.trailing = trailing;
    const sig = 64 - leading - trailing;
    this.writeBits(0b11, 2);
    this.writeBits(leading, 5);
    this.writeBits(sig & 63, 6);
    this.writeShifted(xh, xl, trailing, sig);
  }

  /** Writes the low `nbits` bits of (hi:lo) >> shift. */
  private writeShifted(hi: number, lo: number, shift: number, nbits: number): void {
    let sh: number;
    let sl: number;
    if (shift === 0) {
      sh = hi;
      sl = lo;
    } else if (shift >= 32) {
      sh = 0;
      sl = hi >>> (shift - 32);
    } else {
      sl = ((lo >>> shift) | (hi << (32 - shift))) >>> 0;
      sh = hi >>> shift;
    }
    if (nbits > 32) {
      this.writeBits(sh, nbits - 32);
      this.writeBits(sl, 32);
    } else {
      this.writeBits(sl, nbits);
    }
  }

  private writeVarint(x: number): void {
    while (x >= 128) {
      this.writeBits((x % 128) | 128, 8);
      x = Math.floor(x / 128);
    }
    this.writeBits(x, 8);
  }

  private grow(bits: number): void {
    const need = ((this.bitPos + bits + 7) >>> 3) + PADDING;
    if (need <= this.buf.length) return;
    // Grow by half, not double: chunks are small and many, and slack costs memory in every series.
    const next = new Uint8Array(Math.max(need, this.buf.length + (this.buf.length >>> 1)));
    next.set(this.buf);
    this.buf = next;
  }

  /** Writes one bit; the buffer is zeroed, so a 0 only moves the position. */
  private writeBit(bit: number): void {
    const pos = this.bitPos;
    if (bit !== 0) this.buf[pos >>> 3] |= 0x80 >>> (pos & 7);
    this.bitPos = pos + 1;
  }

  /** Writes the low n bits of value (1 ≤ n ≤ 32), most significant first, into zeroed space. */
  private writeBits(value: number, n: number): void {
    const buf = this.buf;
    let pos = this.bitPos;
    this.bitPos = pos + n;
    // Align the value's top bit with the free bits of the current byte, then spill byte by byte.
    while (n > 0) {
      const free = 8 - (pos & 7);
      if (n <= free) {
        buf[pos >>> 3] |= (value & ((1 << n) - 1)) << (free - n);
        return;
      }
      n -= free;
      buf[pos >>> 3] |= (value >>> n) & ((1 << free) - 1);
      pos += free;
    }
  }
}

export class ChunkFormatError extends Error {
  override readonly name = "ChunkFormatError";
}

/** Decodes the bytes of a chunk just far enough to learn its length in bytes. */
export function chunkDataLength(data: Uint8Array): number {
  const it = new XorIterator();
  it.reset(data);
  while (it.next()) {
    /* consume */
  }
  return (it.encoderState().bitPos + 7) >>> 3;
}

/**
 * Iterates a chunk's samples. Reusable: `reset` points it at another chunk without allocating.
 * The buffer must be followed by PADDING readable bytes (see `withPadding`).
 */
export class XorIterator {
  private b: Uint8Array = new Uint8Array(PADDING + 2);
  private pos = 16;
  private total = 0;
  private read = 0;
  private t = 0;
  private minT = 0;
  private tDelta = 0;
  private vHi = 0;
  private vLo = 0;
  private leading = 0xff;
  private trailing = 0;
  private error: Error | null = null;

  /**
   * Points the iterator at a chunk starting at `byteOffset` of `data` (so packed chunks need no
   * view of their own); `count` limits it to the first samples (default: the header's count).
   */
  reset(data: Uint8Array, count = (data[0] << 8) | data[1], byteOffset = 0): void {
    this.b = data;
    this.pos = (byteOffset + 2) * 8;
    this.total = count;
    this.read = 0;
    this.error = null;
    // 0xff: no value window yet (as in the encoder), so a '10' control bit pair is invalid.
    this.leading = 0xff;
    this.trailing = 0;
  }

  atT(): number {
    return this.t;
  }

  atV(): number {
    u32[1] = this.vHi;
    u32[0] = this.vLo;
    return f64[0];
  }

  err(): Error | null {
    return this.error;
  }

  encoderState() {
    return {
      bitPos: this.pos,
      count: this.read,
      minT: this.minT,
      t: this.t,
      tDelta: this.tDelta,
      vHi: this.vHi,
      vLo: this.vLo,
      leading: this.leading,
      trailing: this.trailing,
    };
  }

  next(): boolean {
    const n = this.read;
    if (n >= this.total) return false;
    if (this.pos > (this.b.length - PADDING) * 8) return this.fail("chunk ends before its last sample");
    if (n === 0) {
      const z = this.readVarint();
      this.t = z % 2 === 0 ? z / 2 : -(z + 1) / 2;
      this.minT = this.t;
      this.vHi = this.readBits(32) | 0;
      this.vLo = this.readBits(32) | 0;
      this.read = 1;
      return true;
    }
    if (n === 1) {
      this.tDelta = this.readVarint();
      this.t += this.tDelta;
    } else {
      const b = this.b;
      const pos = this.pos;
      if (((b[pos >>> 3] >>> (7 - (pos & 7))) & 1) === 0) {
        this.pos = pos + 1;
      } else {
        this.pos = pos + 1;
        let dod: number;
        // The prefix '10', '110', '1110' or '1111' picks the width of the delta-of-delta.
        let width = 14;
        if (this.readBit() === 1) width = this.readBit() === 0 ? 17 : this.readBit() === 0 ? 20 : 64;
        if (width === 64) {
          const hi = this.readBits(32) | 0;
          dod = hi * TWO32 + this.readBits(32);
        } else {
          dod = this.readBits(width);
          if (dod > 2 ** (width - 1)) dod -= 2 ** width;
        }
        this.tDelta += dod;
      }
      this.t += this.tDelta;
    }
    this.readValue();
    if (this.error !== null) return false;
    this.read = n + 1;
    return true;
  }

  private fail(msg: string): boolean {
    this.error = new ChunkFormatError(msg);
    this.read = this.total;
    return false;
  }

  private readValue(): void {
    const b = this.b;
    const pos = this.pos;
    if (((b[pos >>> 3] >>> (7 - (pos & 7))) & 1) === 0) {
      this.pos = pos + 1;
      return;
    }
    this.pos = pos + 1;
    if (this.readBit() === 1) {
      this.leading = this.readBits(5);
      let sig = this.readBits(6);
      if (sig === 0) sig = 64;
      this.trailing = 64 - this.leading - sig;
      if (this.trailing < 0) {
        this.fail("invalid value header");
        return;
      }
    }
    const trailing = this.trailing;
    const sig = 64 - this.leading - trailing;
    if (sig <= 0) {
      this.fail("value reuses a window that was never set");
      return;
    }
    let xh: number;
    let xl: number;
    if (sig > 32) {
      const h = this.readBits(sig - 32);
      const l = this.readBits(32);
      if (trailing === 0) {
        xh = h;
        xl = l;
      } else {
        xh = ((h << trailing) | (l >>> (32 - trailing))) >>> 0;
        xl = (l << trailing) >>> 0;
      }
    } else {
      const s = this.readBits(sig);
      if (trailing >= 32) {
        xh = (s << (trailing - 32)) >>> 0;
        xl = 0;
      } else if (trailing === 0) {
        xh = 0;
        xl = s;
      } else {
        xh = s >>> (32 - trailing);
        xl = (s << trailing) >>> 0;
      }
    }
    this.vHi ^= xh;
    this.vLo ^= xl;
  }

  private readBit(): number {
    const pos = this.pos;
    this.pos = pos + 1;
    return (this.b[pos >>> 3] >>> (7 - (pos & 7))) & 1;
  }

  /** Reads n bits (1 ≤ n ≤ 32) as an unsigned number. */
  private readBits(n: number): number {
    const pos = this.pos;
    const b = this.b;
    const i = pos >>> 3;
    const off = pos & 7;
    const w = (b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3];
    this.pos = pos + n;
    if (off + n <= 32) return (w << off) >>> (32 - n);
    const m = off + n - 32;
    return (((w << off) >>> (32 - n)) | (b[i + 4] >>> (8 - m))) >>> 0;
  }

  private readVarint(): number {
    let x = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      const byte = this.readBits(8);
      x += (byte & 127) * mul;
      if (byte < 128) return x;
      mul *= 128;
    }
    this.fail("varint too long");
    return 0;
  }
}

/** Returns `data` if it already has PADDING spare bytes at the end, else a padded copy. */
export function withPadding(data: Uint8Array, dataLength: number): Uint8Array {
  if (data.length >= dataLength + PADDING) return data;
  const out = new Uint8Array(dataLength + PADDING);
  out.set(data.subarray(0, dataLength));
  return out;
}
