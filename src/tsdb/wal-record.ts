/**
 * One committed append batch as stored in the durable log ("wal" table). Columnar so the hot loop
 * stays on typed arrays:
 *
 *   u8 version (1) | 3 bytes zero | u32 LE sample count n
 *   n × f64 LE values (8-byte aligned, copied in one `set`)
 *   n × zigzag varint series-ref deltas | n × zigzag varint timestamp deltas
 *   u32 LE CRC-32 of everything before it
 *
 * Refs and timestamps are delta-coded against the previous sample; a scrape-like batch (same
 * timestamp, consecutive refs) costs ~10 bytes a sample.
 */
import { crc32 } from "node:zlib";

const VERSION = 1;

export class WalRecordError extends Error {
  override readonly name = "WalRecordError";
}

export interface DecodedBatch {
  count: number;
  refs: Uint32Array;
  ts: Float64Array;
  vs: Float64Array;
}

function zigzag(x: number): number {
  return x >= 0 ? x * 2 : -x * 2 - 1;
}

function writeVarint(buf: Uint8Array, pos: number, x: number): number {
  while (x >= 128) {
    buf[pos++] = (x % 128) | 128;
    x = Math.floor(x / 128);
  }
  buf[pos++] = x;
  return pos;
}

export function encodeWalRecord(
  count: number,
  refs: Uint32Array,
  ts: Float64Array,
  vs: Float64Array,
): Buffer {
  // Worst case per sample: 8 (value) + 5 (ref) + 8 (timestamp) bytes.
  const out = Buffer.allocUnsafe(8 + count * 21 + 4);
  out[0] = VERSION;
  out[1] = 0;
  out[2] = 0;
  out[3] = 0;
  out.writeUInt32LE(count, 4);
  new Uint8Array(out.buffer, out.byteOffset + 8, count * 8).set(
    new Uint8Array(vs.buffer, vs.byteOffset, count * 8),
  );
  let pos = 8 + count * 8;
  let prevRef = 0;
  for (let i = 0; i < count; i++) {
    const r = refs[i];
    pos = writeVarint(out, pos, zigzag(r - prevRef));
    prevRef = r;
  }
  let prevT = 0;
  for (let i = 0; i < count; i++) {
    const t = ts[i];
    pos = writeVarint(out, pos, zigzag(t - prevT));
    prevT = t;
  }
  out.writeUInt32LE(crc32(out.subarray(0, pos)), pos);
  return out.subarray(0, pos + 4);
}

/** Decodes a record; `reuse` (a previous result) lends its arrays when they are large enough. */
export function decodeWalRecord(rec: Uint8Array, reuse?: DecodedBatch): DecodedBatch {
  if (rec.length < 12) throw new WalRecordError(`record of ${rec.length} bytes is too short`);
  const body = rec.length - 4;
  const view = new DataView(rec.buffer, rec.byteOffset, rec.length);
  if (crc32(rec.subarray(0, body)) !== view.getUint32(body, true))
    throw new WalRecordError("checksum mismatch");
  if (rec[0] !== VERSION) throw new WalRecordError(`unknown record version ${rec[0]}`);
  const count = view.getUint32(4, true);
  if (8 + count * 8 > body)
    throw new WalRecordError(`record claims ${count} samples but is ${rec.length} bytes`);
  const fits = reuse !== undefined && reuse.refs.length >= count;
  const vs = fits ? reuse.vs : new Float64Array(count);
  new Uint8Array(vs.buffer, 0, count * 8).set(rec.subarray(8, 8 + count * 8));
  const refs = fits ? reuse.refs : new Uint32Array(count);
  const ts = fits ? reuse.ts : new Float64Array(count);
  let pos = 8 + count * 8;
  const readVarint = (): number => {
    let x = 0;
    let mul = 1;
    for (;;) {
      if (pos >= body) throw new WalRecordError("record ends inside a varint");
      const b = rec[pos++];
      x += (b & 127) * mul;
      if (b < 128) return x % 2 === 0 ? x / 2 : -(x + 1) / 2;
      mul *= 128;
    }
  };
  let prevRef = 0;
  for (let i = 0; i < count; i++) {
    prevRef += readVarint();
    refs[i] = prevRef;
  }
  let prevT = 0;
  for (let i = 0; i < count; i++) {
    prevT += readVarint();
    ts[i] = prevT;
  }
  if (pos !== body) throw new WalRecordError(`record has ${body - pos} trailing bytes`);
  return { count, refs, ts, vs };
}
