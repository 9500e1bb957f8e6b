/**
 * XXH64 (seed 0), for limit_ratio: Prometheus picks the series of a ratio by the xxhash of the
 * label set's byte encoding (labels.Hash), so the same series are chosen only with the same hash.
 * BigInt is slow, but it runs once per series and query, never per sample.
 */
import type { Labels } from "../../storage/index.js";

const MASK = 0xffffffffffffffffn;
const P1 = 0x9e3779b185ebca87n;
const P2 = 0xc2b2ae3d27d4eb4fn;
const P3 = 0x165667b19e3779f9n;
const P4 = 0x85ebca77c2b2ae63n;
const P5 = 0x27d4eb2f165667c5n;

const rotl = (x: bigint, r: bigint) => ((x << r) | (x >> (64n - r))) & MASK;
const mul = (a: bigint, b: bigint) => (a * b) & MASK;
const round = (acc: bigint, lane: bigint) => mul(rotl((acc + mul(lane, P2)) & MASK, 31n), P1);
const merge = (acc: bigint, v: bigint) => (mul(acc ^ round(0n, v), P1) + P4) & MASK;

export function xxhash64(data: Uint8Array): bigint {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const len = data.length;
  let p = 0;
  let h: bigint;
  if (len >= 32) {
    let v1 = (P1 + P2) & MASK;
    let v2 = P2;
    let v3 = 0n;
    let v4 = (MASK + 1n - P1) & MASK;
    for (; p + 32 <= len; p += 32) {
      v1 = round(v1, view.getBigUint64(p, true));
      v2 = round(v2, view.getBigUint64(p + 8, true));
      v3 = round(v3, view.getBigUint64(p + 16, true));
      v4 = round(v4, view.getBigUint64(p + 24, true));
    }
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & MASK;
    h = merge(h, v1);
    h = merge(h, v2);
    h = merge(h, v3);
    h = merge(h, v4);
  } else h = P5;
  h = (h + BigInt(len)) & MASK;
  for (; p + 8 <= len; p += 8) {
    h ^= round(0n, view.getBigUint64(p, true));
    h = (mul(rotl(h, 27n), P1) + P4) & MASK;
  }
  if (p + 4 <= len) {
    h ^= mul(BigInt(view.getUint32(p, true)), P1);
    h = (mul(rotl(h, 23n), P2) + P3) & MASK;
    p += 4;
  }
  for (; p < len; p++) {
    h ^= mul(BigInt(data[p]), P5);
    h = mul(rotl(h, 11n), P1);
  }
  h ^= h >> 33n;
  h = mul(h, P2);
  h ^= h >> 29n;
  h = mul(h, P3);
  h ^= h >> 32n;
  return h;
}

const encoder = new TextEncoder();

/**
 * Prometheus's labels.Hash() in its default (stringlabels) build: xxhash of the label set's flat
 * encoding, each name and value preceded by its length (one byte below 255, else 0xff and three
 * little-endian bytes).
 */
export function prometheusLabelsHash(labels: Labels): bigint {
  const parts: Uint8Array[] = [];
  let size = 0;
  for (const l of labels) {
    for (const text of [l.name, l.value]) {
      const bytes = encoder.encode(text);
      parts.push(bytes);
      size += bytes.length + (bytes.length < 255 ? 1 : 4);
    }
  }
  const buf = new Uint8Array(size);
  let o = 0;
  for (const bytes of parts) {
    if (bytes.length < 255) buf[o++] = bytes.length;
    else {
      buf[o++] = 0xff;
      buf[o++] = bytes.length & 0xff;
      buf[o++] = (bytes.length >>> 8) & 0xff;
      buf[o++] = (bytes.length >>> 16) & 0xff;
    }
    buf.set(bytes, o);
    o += bytes.length;
  }
  return xxhash64(buf);
}

// float64(math.MaxUint64) in Go: 2^64 after rounding.
const MAX_UINT64 = Number(0xffffffffffffffffn);

/** Where a series falls in [0, 1] for limit_ratio (Prometheus's HashRatioSampler). */
export function ratioOffset(labels: Labels): number {
  return Number(prometheusLabelsHash(labels)) / MAX_UINT64;
}
