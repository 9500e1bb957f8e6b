/**
 * Little-endian integers and LEB128 varints over a growable byte buffer, for the block files.
 * Values are JS numbers up to 2^53 (timestamps in ms, series ids): the varint code divides
 * instead of shifting, because `>>>` would cut them to 32 bits.
 */
export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  length = 0;

  constructor(initial = 4096) {
    this.buf = new Uint8Array(initial);
    this.view = new DataView(this.buf.buffer);
  }

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.reserve(1);
    this.buf[this.length++] = v;
  }

  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }

  /** Big-endian, for magic numbers that read as ASCII in a hex dump. */
  u32be(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, v, false);
    this.length += 4;
  }

  /** Unsigned LEB128 of a non-negative integer below 2^53. */
  uvarint(v: number): void {
    this.reserve(8);
    while (v >= 0x80) {
      this.buf[this.length++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.length++] = v;
  }

  /** Zigzag LEB128 of an integer in ±2^52. */
  varint(v: number): void {
    this.uvarint(v < 0 ? -2 * v - 1 : 2 * v);
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  /** The bytes written so far (a view, valid until the next write). */
  written(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

export class ByteReadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ByteReadError";
  }
}

export class ByteReader {
  private readonly view: DataView;

  constructor(
    readonly buf: Uint8Array,
    public pos = 0,
    private readonly end = buf.length,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  u8(): number {
    if (this.pos >= this.end) throw new ByteReadError(`byte ${this.pos}: past the end of the section`);
    return this.buf[this.pos++];
  }

  u32(): number {
    if (this.pos + 4 > this.end) throw new ByteReadError(`byte ${this.pos}: past the end of the section`);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  uvarint(): number {
    let v = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.end) throw new ByteReadError(`byte ${this.pos}: the section ends inside a varint`);
      const b = this.buf[this.pos++];
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 0x80;
    }
    throw new ByteReadError(`byte ${this.pos}: a varint longer than 8 bytes`);
  }

  varint(): number {
    const z = this.uvarint();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }

  bytes(n: number): Uint8Array {
    if (this.pos + n > this.end)
      throw new ByteReadError(`byte ${this.pos}: ${n} bytes past the end of the section`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}
