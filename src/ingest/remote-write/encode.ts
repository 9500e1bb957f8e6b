/**
 * A small WriteRequest encoder (float samples and metadata only), for tests, benchmarks and tools
 * that need real remote-write bodies without a protobuf library. Not on any hot path: it favours
 * plainness over speed. Output matches what protobuf encoders produce (fields in number order,
 * proto3 defaults omitted), which the decoder tests check against protobufjs.
 */
import { compressSync } from "snappy";
import type { Label } from "../../storage/labels.js";
import type { MetricMetadata, MetricType } from "./metadata.js";

export interface SampleInput {
  /** Keep NaN payloads (the stale marker) in objects or typed arrays: plain double arrays rewrite them. */
  readonly value: number;
  /** Milliseconds; a safe integer. */
  readonly timestamp: number;
}

export interface TimeSeriesInput {
  readonly labels: readonly Label[];
  readonly samples: readonly SampleInput[];
}

export interface WriteRequestInput {
  readonly timeseries: readonly TimeSeriesInput[];
  readonly metadata?: readonly MetricMetadata[];
}

const TYPE_NUMBERS: Record<MetricType, number> = {
  unknown: 0,
  counter: 1,
  gauge: 2,
  histogram: 3,
  gaugehistogram: 4,
  summary: 5,
  info: 6,
  stateset: 7,
};

/** Growable byte buffer with just the protobuf writes needed here. */
class Writer {
  buf = new Uint8Array(1024);
  len = 0;
  private readonly scratch = new DataView(new ArrayBuffer(8));

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  /** Unsigned varint of a non-negative safe integer. */
  uvarint(v: number): void {
    this.reserve(10);
    while (v >= 0x80) {
      this.buf[this.len++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.len++] = v;
  }

  /** int64 varint of a safe integer: negatives as 10-byte two's complement, as protobuf does. */
  int64(v: number): void {
    if (v >= 0) {
      this.uvarint(v);
      return;
    }
    const mag = -v;
    let lo = mag % 4294967296;
    let hi = Math.floor(mag / 4294967296);
    // Two's complement of (hi, lo).
    lo = (~lo + 1) >>> 0;
    hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
    this.reserve(10);
    for (let i = 0; i < 9; i++) {
      const bits =
        i < 4
          ? (lo >>> (7 * i)) & 0x7f
          : i === 4
            ? ((lo >>> 28) | (hi << 4)) & 0x7f
            : (hi >>> (7 * i - 32)) & 0x7f;
      this.buf[this.len++] = bits | 0x80;
    }
    this.buf[this.len++] = hi >>> 31;
  }

  double(v: number): void {
    this.reserve(8);
    this.scratch.setFloat64(0, v, true);
    for (let i = 0; i < 8; i++) this.buf[this.len++] = this.scratch.getUint8(i);
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** Writes a length-delimited field whose body `fill` writes, patching the length in afterwards. */
  nested(tag: number, fill: () => void): void {
    this.uvarint(tag);
    const start = this.len;
    fill();
    const body = this.buf.slice(start, this.len);
    this.len = start;
    this.uvarint(body.length);
    this.bytes(body);
  }

  string(tag: number, s: string): void {
    if (s === "") return;
    const b = utf8.encode(s);
    this.uvarint(tag);
    this.uvarint(b.length);
    this.bytes(b);
  }
}

const utf8 = new TextEncoder();

/** Encodes a WriteRequest as protobuf bytes (not compressed). */
export function encodeWriteRequest(req: WriteRequestInput): Uint8Array {
  const w = new Writer();
  for (const ts of req.timeseries) {
    w.nested(0x0a, () => {
      for (const l of ts.labels) {
        w.nested(0x0a, () => {
          w.string(0x0a, l.name);
          w.string(0x12, l.value);
        });
      }
      for (const s of ts.samples) {
        w.nested(0x12, () => {
          // proto3 omits zero values; -0 is not zero bit-wise, so it is written.
          if (s.value !== 0 || Object.is(s.value, -0)) {
            w.uvarint(0x09);
            w.double(s.value);
          }
          if (s.timestamp !== 0) {
            w.uvarint(0x10);
            w.int64(s.timestamp);
          }
        });
      }
    });
  }
  for (const m of req.metadata ?? []) {
    w.nested(0x1a, () => {
      const type = TYPE_NUMBERS[m.type];
      if (type !== 0) {
        w.uvarint(0x08);
        w.uvarint(type);
      }
      w.string(0x12, m.metricFamilyName);
      w.string(0x22, m.help);
      w.string(0x2a, m.unit);
    });
  }
  return w.buf.slice(0, w.len);
}

/** Encodes and snappy-compresses (block format): a ready remote-write 1.0 request body. */
export function encodeRemoteWriteBody(req: WriteRequestInput): Uint8Array {
  return compressSync(encodeWriteRequest(req));
}
