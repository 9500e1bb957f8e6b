/**
 * Protobuf wire-format primitives over one Uint8Array. Every read is bounded by the `end` of the
 * enclosing message, not just the buffer, so a length that overruns its parent is caught where it
 * happens and the error names the offset.
 */
import { protobufError } from "./errors.js";

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_SGROUP = 3;
export const WIRE_EGROUP = 4;
export const WIRE_I32 = 5;

const TWO_32 = 4294967296;
/** The high word of 2^53: a magnitude with a high word at or above it is not a safe integer. */
const SAFE_HIGH_LIMIT = 0x200000;

export class WireReader {
  buf: Uint8Array;
  pos = 0;

  constructor(buf: Uint8Array) {
    this.buf = buf;
  }

  /**
   * Reads a field tag (field number << 3 | wire type). Field 0 and wire types 6 and 7 do not exist;
   * refusing them here keeps random bytes from being "skipped" as something meaningful.
   */
  tag(end: number): number {
    const start = this.pos;
    const b = this.buf[start];
    let tag: number;
    if (b < 0x80 && start < end) {
      this.pos = start + 1;
      tag = b;
    } else {
      tag = this.varint(end);
      if (tag > 0xffffffff) throw protobufError("field tag does not fit in 32 bits", start);
    }
    if (tag >>> 3 === 0) throw protobufError("field number 0 is invalid", start);
    if ((tag & 7) > 5) throw protobufError(`invalid wire type ${tag & 7}`, start);
    return tag;
  }

  /**
   * An unsigned varint of up to 10 bytes as a number: exact below 2^53, approximate above (only
   * used for lengths, tags and enums, which are range-checked by the caller).
   */
  varint(end: number): number {
    const buf = this.buf;
    const start = this.pos;
    let pos = start;
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) throw protobufError("truncated varint", start);
      const b = buf[pos++];
      result += (b & 0x7f) * scale;
      if (b < 0x80) {
        this.pos = pos;
        return result;
      }
      scale *= 128;
    }
    throw protobufError("varint longer than 10 bytes", start);
  }

  /** A length prefix, checked to fit in the enclosing message; returns the payload's end. */
  lengthDelimited(end: number): number {
    const start = this.pos;
    const len = this.varint(end);
    if (len > end - this.pos) {
      throw protobufError(
        `length ${len} runs past the end of the enclosing message (${end - this.pos} bytes left)`,
        start,
      );
    }
    return this.pos + len;
  }

  /**
   * An int64 varint as an exact number. Timestamps beyond ±(2^53 − 1) cannot be represented
   * exactly in a JS number, so they are refused rather than silently rounded.
   */
  int64(end: number): number {
    const buf = this.buf;
    const start = this.pos;
    let pos = start;
    // Fast path: up to 7 bytes is at most 49 bits, always a safe non-negative integer. Real
    // millisecond timestamps take 6.
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 7; i++) {
      if (pos >= end) throw protobufError("truncated varint", start);
      const b = buf[pos++];
      result += (b & 0x7f) * scale;
      if (b < 0x80) {
        this.pos = pos;
        return result;
      }
      scale *= 128;
    }
    return this.int64Slow(start, end);
  }

  /** Splits the varint into 32-bit words so negative (two's-complement, 10-byte) values come out exact. */
  private int64Slow(start: number, end: number): number {
    const buf = this.buf;
    let pos = start;
    let lo = 0;
    let hi = 0;
    for (let i = 0; ; i++) {
      if (i === 10) throw protobufError("varint longer than 10 bytes", start);
      if (pos >= end) throw protobufError("truncated varint", start);
      const b = buf[pos++];
      const bits = b & 0x7f;
      if (i < 4) lo |= bits << (7 * i);
      else if (i === 4) {
        lo |= bits << 28;
        hi |= bits >>> 4;
      } else if (i < 9) hi |= bits << (7 * i - 32);
      else {
        // The 10th byte carries only bit 63.
        if (bits > 1) throw protobufError("varint overflows 64 bits", start);
        hi |= bits << 31;
      }
      if (b < 0x80) break;
    }
    this.pos = pos;
    lo >>>= 0;
    hi >>>= 0;
    if (hi & 0x80000000) {
      // Negative: magnitude is the two's complement.
      const mlo = (~lo + 1) >>> 0;
      const mhi = (~hi + (mlo === 0 ? 1 : 0)) >>> 0;
      if (mhi >= SAFE_HIGH_LIMIT) throw protobufError("int64 below -(2^53 - 1) cannot be represented", start);
      return -(mhi * TWO_32 + mlo);
    }
    if (hi >= SAFE_HIGH_LIMIT) throw protobufError("int64 above 2^53 - 1 cannot be represented", start);
    return hi * TWO_32 + lo;
  }

  /** Skips one field's payload of any wire type, the tag already read. */
  skip(tag: number, end: number): void {
    const start = this.pos;
    switch (tag & 7) {
      case WIRE_VARINT:
        this.varint(end);
        return;
      case WIRE_I64:
        if (end - start < 8) throw protobufError("truncated fixed64", start);
        this.pos = start + 8;
        return;
      case WIRE_LEN:
        this.pos = this.lengthDelimited(end);
        return;
      case WIRE_SGROUP:
        this.skipGroup(tag >>> 3, end);
        return;
      case WIRE_EGROUP:
        throw protobufError(`end-group tag for field ${tag >>> 3} without a start-group`, start);
      case WIRE_I32:
        if (end - start < 4) throw protobufError("truncated fixed32", start);
        this.pos = start + 4;
        return;
    }
  }

  /** Skips a (deprecated) group up to its matching end tag; iterative so nesting cannot overflow the stack. */
  private skipGroup(field: number, end: number): void {
    const open: number[] = [field];
    while (open.length > 0) {
      if (this.pos >= end) throw protobufError(`group of field ${open[open.length - 1]} is not closed`, end);
      const at = this.pos;
      const tag = this.tag(end);
      const wt = tag & 7;
      if (wt === WIRE_SGROUP) open.push(tag >>> 3);
      else if (wt === WIRE_EGROUP) {
        const expected = open.pop();
        if (tag >>> 3 !== expected) {
          throw protobufError(`end-group tag for field ${tag >>> 3} closes a group of field ${expected}`, at);
        }
      } else this.skip(tag, end);
    }
  }
}

/** Names a wire type in error messages. */
export function wireTypeName(wt: number): string {
  return ["varint", "fixed64", "length-delimited", "start-group", "end-group", "fixed32"][wt] ?? `${wt}`;
}
