import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { MAX_ABS_TIMESTAMP, StaleNaN } from "../../src/storage/index.js";
import {
  chunkDataLength,
  ENCODER_STATE_BYTES,
  MAX_SAMPLES_PER_CHUNK,
  XorEncoder,
  XorIterator,
} from "../../src/tsdb/chunk/xor.js";

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
function bits(v: number): string {
  f64[0] = v;
  return `${u32[1].toString(16).padStart(8, "0")}${u32[0].toString(16).padStart(8, "0")}`;
}
function fromBits(hi: number, lo: number): number {
  u32[1] = hi;
  u32[0] = lo;
  return f64[0];
}

/** Special doubles the encoder must keep bit for bit. */
const specials = [
  StaleNaN,
  Number.NaN,
  fromBits(0x7ff80000, 1), // a NaN with payload
  fromBits(0xfff80000, 0), // negative NaN
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  0,
  -0,
  Number.MIN_VALUE,
  -Number.MIN_VALUE,
  fromBits(0x000fffff, 0xffffffff), // largest denormal
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  1,
  -1,
  0.1,
];

const valueArb = fc.oneof(
  fc.constantFrom(...specials),
  fc.double(),
  fc.integer({ min: -1e6, max: 1e6 }),
  fc
    .tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }))
    .map(([h, l]) => fromBits(h, l)),
);

/** Increasing timestamps: regular 15 s steps with jitter, large gaps and tiny steps. */
const seriesArb = fc
  .record({
    start: fc.integer({ min: -MAX_ABS_TIMESTAMP / 4, max: MAX_ABS_TIMESTAMP / 4 }),
    steps: fc.array(
      fc.oneof(
        fc.constant(15_000),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 14_000, max: 16_000 }),
        fc.integer({ min: 1, max: 2 ** 40 }),
        fc.integer({ min: 1, max: MAX_ABS_TIMESTAMP / 1024 }),
      ),
      { minLength: 0, maxLength: MAX_SAMPLES_PER_CHUNK - 1 },
    ),
    values: fc.array(valueArb, { minLength: MAX_SAMPLES_PER_CHUNK, maxLength: MAX_SAMPLES_PER_CHUNK }),
  })
  .map(({ start, steps, values }) => {
    const ts = [start];
    for (const d of steps) ts.push(ts[ts.length - 1] + d);
    const vs = new Float64Array(ts.length);
    for (let i = 0; i < ts.length; i++) vs[i] = values[i];
    return { ts, vs };
  });

/** An encoder holding the first `count` samples. */
function encode(ts: number[], vs: Float64Array, count: number): XorEncoder {
  const enc = new XorEncoder();
  for (let i = 0; i < count; i++) enc.append(ts[i], vs[i]);
  return enc;
}

function roundTrip(ts: number[], vs: Float64Array): void {
  const enc = new XorEncoder(8);
  for (let i = 0; i < ts.length; i++) enc.append(ts[i], vs[i]);
  assert.equal(enc.count, ts.length);
  const data = enc.bytes();
  assert.equal(chunkDataLength(data), enc.sizeBytes());
  const it = new XorIterator();
  it.reset(data);
  const got = new Float64Array(ts.length);
  for (let i = 0; i < ts.length; i++) {
    assert.ok(it.next(), `sample ${i} missing`);
    assert.equal(it.atT(), ts[i], `timestamp ${i}`);
    got[i] = it.atV();
  }
  assert.equal(it.next(), false);
  assert.equal(it.err(), null);
  for (let i = 0; i < ts.length; i++) assert.equal(bits(got[i]), bits(vs[i]), `value ${i}`);
}

describe("XOR chunk", () => {
  it("round-trips random series bit-exactly", () => {
    fc.assert(
      fc.property(seriesArb, ({ ts, vs }) => roundTrip(ts, vs)),
      { numRuns: 400 },
    );
  });

  it("round-trips every special value after every other one", () => {
    const ts: number[] = [];
    const vs = new Float64Array(specials.length * specials.length);
    let k = 0;
    for (const a of specials) for (const b of specials) vs[k++] = k % 2 ? a : b;
    for (let i = 0; i < vs.length; i++) ts.push(1_700_000_000_000 + i * 15_000);
    for (let off = 0; off < vs.length; off += MAX_SAMPLES_PER_CHUNK) {
      const end = Math.min(vs.length, off + MAX_SAMPLES_PER_CHUNK);
      roundTrip(ts.slice(off, end), vs.slice(off, end));
    }
  });

  it("handles extreme timestamp gaps and negative times", () => {
    roundTrip([-MAX_ABS_TIMESTAMP, 0, MAX_ABS_TIMESTAMP], Float64Array.of(1, 2, 3));
    roundTrip([-5, -4, 1e12, 1e12 + 1, 1e12 + 2 ** 45], Float64Array.of(1, 1, 1, 1, 1));
  });

  it("resumes an encoder from its bytes and continues identically", () => {
    fc.assert(
      fc.property(seriesArb, fc.nat(), ({ ts, vs }, cutAt) => {
        if (ts.length < 2) return;
        const cut = 1 + (cutAt % (ts.length - 1));
        const whole = encode(ts, vs, ts.length);
        const first = encode(ts, vs, cut);
        const resumed = XorEncoder.resume(first.bytes());
        for (let i = cut; i < ts.length; i++) resumed.append(ts[i], vs[i]);
        assert.deepEqual(resumed.bytes(), whole.bytes());
      }),
      { numRuns: 200 },
    );
  });

  it("restores an encoder from its saved state exactly as from decoding", () => {
    fc.assert(
      fc.property(seriesArb, fc.nat(), ({ ts, vs }, cutAt) => {
        if (ts.length < 2) return;
        const cut = 1 + (cutAt % (ts.length - 1));
        const whole = encode(ts, vs, ts.length);
        const first = encode(ts, vs, cut);
        const state = new DataView(new ArrayBuffer(ENCODER_STATE_BYTES));
        first.writeState(state, 0);
        const bytes = first.bytes().slice(0, first.sizeBytes());
        const restored = XorEncoder.restore(state, 0, bytes);
        for (let i = cut; i < ts.length; i++) restored.append(ts[i], vs[i]);
        assert.deepEqual(restored.bytes(), whole.bytes());
        // A state that does not fit the bytes falls back to decoding them.
        state.setUint32(0, 7, true);
        const fallback = XorEncoder.restore(state, 0, bytes);
        assert.equal(fallback.count, cut);
      }),
      { numRuns: 200 },
    );
  });

  it("compresses a regular counter to about a byte a sample", () => {
    const enc = new XorEncoder();
    let v = 1000;
    for (let i = 0; i < MAX_SAMPLES_PER_CHUNK; i++) {
      v += (i * 7) % 13;
      enc.append(1_700_000_000_000 + i * 15_000, v);
    }
    assert.ok(enc.sizeBytes() / MAX_SAMPLES_PER_CHUNK < 2.5, `${enc.sizeBytes()} bytes`);
    const constant = new XorEncoder();
    for (let i = 0; i < MAX_SAMPLES_PER_CHUNK; i++) constant.append(i * 15_000, 42);
    assert.ok(
      constant.sizeBytes() <= 2 + 1 + 8 + 2 + 31,
      `${constant.sizeBytes()} bytes for a constant series`,
    );
  });

  it("stops with an error on a truncated chunk instead of reading garbage", () => {
    const enc = new XorEncoder();
    for (let i = 0; i < 100; i++) enc.append(i * 1000 + (i % 7), Math.sin(i));
    const full = enc.bytes();
    const truncated = new Uint8Array(20 + 8);
    truncated.set(full.subarray(0, 20));
    const it = new XorIterator();
    it.reset(truncated);
    let n = 0;
    while (it.next()) n++;
    assert.ok(n < 100);
    assert.notEqual(it.err(), null);
  });
});
