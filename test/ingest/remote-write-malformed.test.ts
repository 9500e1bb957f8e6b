/**
 * Malformed remote-write bodies: whatever the bytes, the decoder either decodes them or throws
 * RemoteWriteDecodeError — never another exception, a crash, a hang or an unbounded allocation.
 * Valid payloads here come from the package's encoder, which the decode tests check against protobufjs.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { compressSync } from "snappy";
import {
  decodeRemoteWrite,
  decodeWriteRequest,
  decompressSnappy,
  encodeRemoteWriteBody,
  encodeWriteRequest,
  RemoteWriteDecodeError,
  type RemoteWriteDecodeErrorCode,
  type TimeSeriesInput,
  type WriteRequestVisitor,
} from "../../src/ingest/remote-write/index.js";

const sink: WriteRequestVisitor = { series() {}, samples() {} };

function rejects(
  fn: () => unknown,
  code: RemoteWriteDecodeErrorCode,
  message?: RegExp,
): RemoteWriteDecodeError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof RemoteWriteDecodeError, `expected RemoteWriteDecodeError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return err;
  }
  assert.fail("expected an error");
}

/** Runs fn; anything thrown must be our error type. */
function decodesOrRejects(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof RemoteWriteDecodeError)) throw err;
  }
}

const SERIES: TimeSeriesInput[] = Array.from({ length: 6 }, (_, i) => ({
  labels: [
    { name: "__name__", value: "crusoe_inference_request_count" },
    { name: "job", value: "vllm" },
    { name: "model_name", value: `model-${i}-é` },
  ],
  samples: [
    { value: i + 0.5, timestamp: 1_700_000_000_000 + i },
    { value: -i, timestamp: -5 - i },
  ],
}));
const RAW = encodeWriteRequest({
  timeseries: SERIES,
  metadata: [{ type: "counter", metricFamilyName: "m", help: "h", unit: "u" }],
});

function countingVisitor(): WriteRequestVisitor & { n: number; samples_: number } {
  return {
    n: 0,
    samples_: 0,
    series() {
      this.n++;
    },
    samples(_t, _v, count) {
      this.samples_ += count;
    },
  };
}

/** Builds bytes from numbers and byte arrays. */
function bytes(...parts: (number | Uint8Array | number[])[]): Uint8Array {
  const flat: number[] = [];
  for (const p of parts) {
    if (typeof p === "number") flat.push(p);
    else flat.push(...p);
  }
  return Uint8Array.from(flat);
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/** A length-delimited field with a one-byte tag. */
function ld(tag: number, body: Uint8Array): Uint8Array {
  return bytes(tag, varint(body.length), body);
}

/** WriteRequest{timeseries: [TimeSeries{<body>}]} */
function inSeries(body: Uint8Array): Uint8Array {
  return ld(0x0a, body);
}

/** WriteRequest{timeseries: [TimeSeries{labels: [Label{<body>}]}]} */
function inLabel(body: Uint8Array): Uint8Array {
  return inSeries(ld(0x0a, body));
}

/** WriteRequest{timeseries: [TimeSeries{samples: [Sample{<body>}]}]} */
function inSample(body: Uint8Array): Uint8Array {
  return inSeries(ld(0x12, body));
}

describe("remote-write decoder, malformed protobuf", () => {
  it("truncation at every offset either errors or lands on a top-level field boundary", () => {
    const boundaries = new Set<number>([0]);
    let off = 0;
    for (const ts of SERIES) {
      off += encodeWriteRequest({ timeseries: [ts] }).length;
      boundaries.add(off);
    }
    boundaries.add(RAW.length);
    for (let i = 0; i < RAW.length; i++) {
      const cut = RAW.subarray(0, i);
      if (boundaries.has(i)) {
        const v = countingVisitor();
        decodeWriteRequest(cut, v);
        assert.equal(v.n, [...boundaries].filter((b) => b > 0 && b <= i && b !== RAW.length).length);
      } else {
        rejects(() => decodeWriteRequest(cut, sink), "protobuf");
      }
    }
  });

  it("truncation of the compressed body at every offset is a snappy error", () => {
    const body = compressSync(RAW);
    for (let i = 0; i < body.length; i++)
      rejects(() => decodeRemoteWrite(body.subarray(0, i), sink), "snappy");
  });

  it("random bytes never throw anything but RemoteWriteDecodeError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (buf) => {
        decodesOrRejects(() => decodeWriteRequest(buf, sink));
        decodesOrRejects(() => decodeRemoteWrite(buf, sink));
      }),
      { numRuns: 3000 },
    );
  });

  it("mutated valid payloads never throw anything but RemoteWriteDecodeError", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(RAW.length - 1), fc.nat(255)), { minLength: 1, maxLength: 4 }),
        (edits) => {
          const buf = RAW.slice();
          for (const [at, b] of edits) buf[at] = b;
          decodesOrRejects(() => decodeWriteRequest(buf, sink));
          decodesOrRejects(() => decodeRemoteWrite(compressSync(buf), sink));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("refuses wrong wire types for known fields, naming the field", () => {
    const cases: [Uint8Array, RegExp][] = [
      [bytes(0x08, 0x01), /WriteRequest\.timeseries has wire type varint/],
      [bytes(0x1d, 0, 0, 0, 0), /WriteRequest\.metadata has wire type fixed32/],
      [inSeries(bytes(0x08, 0x01)), /TimeSeries\.labels has wire type varint/],
      [inSeries(bytes(0x11, 0, 0, 0, 0, 0, 0, 0, 0)), /TimeSeries\.samples has wire type fixed64/],
      [inLabel(bytes(0x08, 0x01)), /Label\.name has wire type varint/],
      [inLabel(bytes(0x15, 0, 0, 0, 0)), /Label\.value has wire type fixed32/],
      [inSample(bytes(0x08, 0x01)), /Sample\.value has wire type varint, expected fixed64/],
      [inSample(bytes(0x12, 0x00)), /Sample\.timestamp has wire type length-delimited, expected varint/],
      [ld(0x1a, bytes(0x0a, 0x00)), /MetricMetadata\.type has wire type length-delimited/],
      [ld(0x1a, bytes(0x10, 0x00)), /MetricMetadata\.metric_family_name has wire type varint/],
    ];
    for (const [buf, re] of cases) rejects(() => decodeWriteRequest(buf, sink), "protobuf", re);
  });

  it("refuses invalid UTF-8 in label names, label values and metadata, with the offset", () => {
    const bad = [
      [0xff],
      [0xc0, 0x80], // overlong NUL
      [0xed, 0xa0, 0x80], // UTF-16 surrogate
      [0x61, 0xe2, 0x82], // truncated sequence
      [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
    ];
    for (const b of bad) {
      const err = rejects(
        () => decodeWriteRequest(inLabel(bytes(0x0a, b.length, b)), sink),
        "protobuf",
        /label name is not valid UTF-8 \(at byte 6\)/,
      );
      assert.equal(err.offset, 6);
      rejects(
        () => decodeWriteRequest(inLabel(bytes(0x0a, 1, 0x61, 0x12, b.length, b)), sink),
        "protobuf",
        /label value is not valid UTF-8/,
      );
      rejects(() => decodeWriteRequest(ld(0x1a, bytes(0x22, b.length, b)), sink), "protobuf", /help/);
      // Without interning, the same checks apply.
      rejects(() => decodeWriteRequest(inLabel(bytes(0x0a, b.length, b)), sink, { cache: null }), "protobuf");
    }
    // A valid string that was interned stays valid; an invalid one must not poison the table.
    rejects(() => decodeWriteRequest(inLabel(bytes(0x0a, 1, 0xff)), sink), "protobuf");
    rejects(() => decodeWriteRequest(inLabel(bytes(0x0a, 1, 0xff)), sink), "protobuf");
  });

  it("refuses lengths that run past their enclosing message", () => {
    rejects(() => decodeWriteRequest(bytes(0x0a, varint(2 ** 40)), sink), "protobuf", /length \d+ runs past/);
    rejects(
      () => decodeWriteRequest(bytes(0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f), sink),
      "protobuf",
      /runs past/,
    );
    // The label claims more bytes than its series holds, though the buffer has them.
    rejects(
      () => decodeWriteRequest(bytes(0x0a, 2, 0x0a, 5, 0x0a, 3, 0x61, 0x62, 0x63), sink),
      "protobuf",
      /length 5 runs past the end of the enclosing message \(0 bytes left\) \(at byte 3\)/,
    );
  });

  it("refuses malformed varints, tags and groups", () => {
    const cases: [Uint8Array, RegExp][] = [
      [bytes(0x0a), /truncated varint \(at byte 1\)/],
      [bytes(0x80), /truncated varint \(at byte 0\)/],
      [bytes(0x78, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), /longer than 10 bytes/],
      [bytes(0x02, 0x00), /field number 0 is invalid/],
      [bytes(0x0e), /invalid wire type 6/],
      [bytes(0x0f), /invalid wire type 7/],
      [bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0x01), /field tag does not fit in 32 bits/],
      [bytes(0x7c), /end-group tag for field 15 without a start-group/],
      [bytes(0x7b, 0x08, 0x01), /group of field 15 is not closed/],
      [bytes(0x7b, 0x84, 0x01), /end-group tag for field 16 closes a group of field 15/],
      [bytes(0x79, 1, 2, 3), /truncated fixed64/],
      [bytes(0x7d, 1, 2), /truncated fixed32/],
      [inSample(bytes(0x09, 1, 2, 3)), /truncated Sample\.value/],
    ];
    for (const [buf, re] of cases) rejects(() => decodeWriteRequest(buf, sink), "protobuf", re);
  });

  it("refuses timestamps a JS number cannot hold exactly", () => {
    const ts = (t: number[]) => inSample(bytes(0x10, t));
    // 2^53 and -(2^53) in int64 varint form.
    rejects(() => decodeWriteRequest(ts(varint(2 ** 53)), sink), "protobuf", /above 2\^53 - 1/);
    rejects(() => decodeWriteRequest(ts(varint(2 ** 63)), sink), "protobuf", /cannot be represented/); // INT64_MIN
    const minus2p53 = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0xf0, 0xff, 0x01];
    rejects(() => decodeWriteRequest(ts(minus2p53), sink), "protobuf", /below -\(2\^53 - 1\)/);
    const tooWide = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x03];
    rejects(() => decodeWriteRequest(ts(tooWide), sink), "protobuf", /overflows 64 bits/);
    // Non-minimal but in range is fine: 1 padded to 10 bytes.
    const got: number[] = [];
    decodeWriteRequest(ts([0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]), {
      series() {},
      samples(t) {
        got.push(t[0]);
      },
    });
    assert.deepEqual(got, [1]);
  });

  it("deeply nested groups neither overflow the stack nor hang", () => {
    const depth = 50_000;
    const open = new Array<number>(depth).fill(0x7b);
    rejects(() => decodeWriteRequest(Uint8Array.from(open), sink), "protobuf", /not closed/);
    const closed = Uint8Array.from([...open, ...new Array<number>(depth).fill(0x7c)]);
    decodeWriteRequest(closed, sink);
  });

  it("limits labels per series", () => {
    const labels = Array.from({ length: 20 }, (_, i) => ({ name: `l${i}`, value: "v" }));
    const raw = encodeWriteRequest({ timeseries: [{ labels, samples: [] }] });
    rejects(() => decodeWriteRequest(raw, sink, { maxLabelsPerSeries: 19 }), "limit", /more than 19 labels/);
    decodeWriteRequest(raw, sink, { maxLabelsPerSeries: 20 });
  });
});

describe("remote-write decoder, snappy", () => {
  it("refuses an empty body and malformed length headers", () => {
    rejects(() => decompressSnappy(new Uint8Array(0)), "snappy", /empty body/);
    rejects(() => decompressSnappy(bytes(0x80)), "snappy", /truncated snappy length header/);
    rejects(
      () => decompressSnappy(bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0x01)),
      "snappy",
      /longer than 5 bytes/,
    );
  });

  it("refuses a declared size over the cap before allocating it", () => {
    // 4 GiB − 1 declared in a 6-byte body.
    rejects(() => decompressSnappy(bytes(0xff, 0xff, 0xff, 0xff, 0x0f, 0x00)), "too_large", /over the limit/);
    rejects(
      () => decompressSnappy(bytes(varint(1025), 0x00), 1024),
      "too_large",
      /1025 bytes, over the limit of 1024/,
    );
  });

  it("refuses a declared size the body cannot expand to", () => {
    rejects(
      () => decompressSnappy(bytes(varint(1_000_000), 0x00, 0x61)),
      "snappy",
      /more than 5 compressed bytes/,
    );
  });

  it("refuses a real, highly compressible body over the cap (a snappy bomb)", () => {
    const zeros = compressSync(new Uint8Array(4 * 1024 * 1024));
    assert.ok(zeros.length < 250_000);
    rejects(() => decompressSnappy(zeros, 1024 * 1024), "too_large");
    assert.equal(decompressSnappy(zeros, 4 * 1024 * 1024).length, 4 * 1024 * 1024);
    rejects(() => decodeRemoteWrite(zeros, sink, { maxDecompressedBytes: 1024 * 1024 }), "too_large");
  });

  it("refuses corrupt blocks with the library's reason", () => {
    const body = compressSync(RAW);
    rejects(() => decompressSnappy(bytes(body, 1, 2, 3)), "snappy", /invalid snappy block: corrupt input/);
    rejects(
      () => decompressSnappy(bytes(varint(10), 0x0c, 0x61, 0x62, 0x63, 0x64)),
      "snappy",
      /header mismatch/,
    );
  });

  it("round-trips the package's own body encoder", () => {
    const v = countingVisitor();
    const result = decodeRemoteWrite(encodeRemoteWriteBody({ timeseries: SERIES }), v);
    assert.equal(v.n, SERIES.length);
    assert.equal(v.samples_, SERIES.length * 2);
    assert.equal(result.samples, SERIES.length * 2);
  });
});
