/**
 * The remote-write decoder against an independent encoder: protobufjs with Prometheus's own
 * remote.proto/types.proto definitions, compressed with the snappy library. Values are compared by
 * their 64 bits, so the stale marker, other NaN payloads, ±Inf and -0 must come through untouched.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import protobuf from "protobufjs";
import { compressSync } from "snappy";
import {
  DecodeCache,
  type DecodeResult,
  decodeRemoteWrite,
  decodeWriteRequest,
  decompressSnappyAsync,
  encodeWriteRequest,
  type MetricType,
  type WriteRequestVisitor,
} from "../../src/ingest/remote-write/index.js";
import type { Label } from "../../src/storage/labels.js";

// prompb/types.proto and remote.proto (Prometheus 2.4x), gogoproto options removed.
const PROTO = `
syntax = "proto3";
package prometheus;

message WriteRequest {
  repeated TimeSeries timeseries = 1;
  reserved 2;
  repeated MetricMetadata metadata = 3;
}

message MetricMetadata {
  enum MetricType {
    UNKNOWN = 0; COUNTER = 1; GAUGE = 2; HISTOGRAM = 3; GAUGEHISTOGRAM = 4; SUMMARY = 5; INFO = 6; STATESET = 7;
  }
  MetricType type = 1;
  string metric_family_name = 2;
  string help = 4;
  string unit = 5;
}

message Sample {
  double value = 1;
  int64 timestamp = 2;
}

message Exemplar {
  repeated Label labels = 1;
  double value = 2;
  int64 timestamp = 3;
}

message Histogram {
  enum ResetHint { UNKNOWN = 0; YES = 1; NO = 2; GAUGE = 3; }
  oneof count { uint64 count_int = 1; double count_float = 2; }
  double sum = 3;
  sint32 schema = 4;
  double zero_threshold = 5;
  oneof zero_count { uint64 zero_count_int = 6; double zero_count_float = 7; }
  repeated BucketSpan negative_spans = 8;
  repeated sint64 negative_deltas = 9;
  repeated double negative_counts = 10;
  repeated BucketSpan positive_spans = 11;
  repeated sint64 positive_deltas = 12;
  repeated double positive_counts = 13;
  ResetHint reset_hint = 14;
  int64 timestamp = 15;
}

message BucketSpan {
  sint32 offset = 1;
  uint32 length = 2;
}

message TimeSeries {
  repeated Label labels = 1;
  repeated Sample samples = 2;
  repeated Exemplar exemplars = 3;
  repeated Histogram histograms = 4;
}

message Label {
  string name = 1;
  string value = 2;
}
`;

const root = protobuf.parse(PROTO, { keepCase: true }).root;
const WriteRequestPb = root.lookupType("prometheus.WriteRequest");

interface PbSample {
  value?: number;
  timestamp?: number;
}
interface PbSeries {
  labels: { name?: string; value?: string }[];
  samples: PbSample[];
  exemplars?: unknown[];
  histograms?: unknown[];
}
interface PbRequest {
  timeseries: PbSeries[];
  metadata?: { type?: number; metric_family_name?: string; help?: string; unit?: string }[];
}

function pbEncode(req: PbRequest): Uint8Array {
  const err = WriteRequestPb.verify(req);
  assert.equal(err, null);
  return WriteRequestPb.encode(req).finish();
}

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
function bitsOf(v: number): string {
  f64[0] = v;
  return `${u32[1].toString(16).padStart(8, "0")}${u32[0].toString(16).padStart(8, "0")}`;
}
function fromBits(hi: number, lo: number): number {
  u32[1] = hi;
  u32[0] = lo;
  return f64[0];
}
const STALE = fromBits(0x7ff00000, 2);

interface Got {
  labels: Label[];
  /** [timestamp, value bits] */
  samples: [number, string][];
}

/** Records what the decoder reports, values as bit strings read straight from the typed array. */
class Collector implements WriteRequestVisitor {
  readonly series_: Got[] = [];
  calls = 0;
  series(labels: Label[]): void {
    this.series_.push({ labels, samples: [] });
  }
  samples(ts: Float64Array, vs: Float64Array, count: number): void {
    this.calls++;
    assert.ok(count >= 1);
    const cur = this.series_[this.series_.length - 1];
    for (let i = 0; i < count; i++) cur.samples.push([ts[i], bitsOf(vs[i])]);
  }
}

function decode(raw: Uint8Array, cache?: DecodeCache | null): { got: Got[]; result: DecodeResult } {
  const c = new Collector();
  const result = decodeWriteRequest(raw, c, cache === undefined ? {} : { cache });
  return { got: c.series_, result };
}

/** What the decoder should report for a protobufjs request (proto3 defaults filled in). */
function expected(req: PbRequest): Got[] {
  return req.timeseries.map((ts) => ({
    labels: ts.labels.map((l) => ({ name: l.name ?? "", value: l.value ?? "" })),
    samples: ts.samples.map((s): [number, string] => [s.timestamp ?? 0, bitsOf(s.value ?? 0)]),
  }));
}

const LABELS = (i: number): PbSeries["labels"] => [
  { name: "__name__", value: "crusoe_inference_request_count" },
  { name: "instance", value: `10.0.${i >> 8}.${i & 255}:8000` },
  { name: "job", value: "vllm" },
  { name: "model_name", value: "llama-3.1-8b" },
  { name: "project_id", value: "proj-ü-日本" },
  { name: "service_tier", value: "standard" },
];

describe("remote-write decoder against protobufjs", () => {
  it("decodes a real snappy-compressed request bit for bit", () => {
    // Objects, not a double array: V8 quiets signalling NaNs stored in double arrays.
    const specials: { v: number }[] = [
      { v: STALE },
      { v: Number.NaN },
      { v: fromBits(0xfff80000, 0x1234) }, // negative quiet NaN with payload
      { v: fromBits(0x7ff00000, 1) }, // signalling NaN
      { v: Number.POSITIVE_INFINITY },
      { v: Number.NEGATIVE_INFINITY },
      { v: -0 },
      { v: 0 },
      { v: Number.MIN_VALUE },
      { v: Number.MAX_VALUE },
      { v: -1.5 },
    ];
    const req: PbRequest = {
      timeseries: [
        {
          labels: LABELS(1),
          samples: specials.map(({ v: value }, i) => ({ value, timestamp: 1_700_000_000_000 + i * 15_000 })),
        },
        {
          labels: LABELS(2),
          samples: [
            { value: 1, timestamp: -1 },
            { value: 2, timestamp: -(2 ** 53 - 1) },
            { value: 3, timestamp: 2 ** 53 - 1 },
            { value: 4, timestamp: 2 ** 49 }, // first value past the 7-byte fast path
            { value: 5 }, // timestamp 0, omitted on the wire
            { timestamp: 5 }, // value 0, omitted
          ],
        },
        { labels: [{ name: "__name__", value: "no_samples" }], samples: [] },
        { labels: [], samples: [{ value: 7, timestamp: 7 }] },
        { labels: [{ name: "", value: "" }, { name: "a" }], samples: [] },
      ],
    };
    const body = compressSync(pbEncode(req));
    const c = new Collector();
    const result = decodeRemoteWrite(body, c);
    assert.deepEqual(c.series_, expected(req));
    assert.equal(c.series_[0].samples[0][1], "7ff0000000000002");
    assert.equal(c.series_[0].samples[6][1], "8000000000000000");
    assert.equal(result.series, 5);
    assert.equal(result.samples, specials.length + 7);
    assert.equal(result.histograms, 0);
    assert.equal(result.exemplars, 0);
  });

  it("decodes metadata", () => {
    const req: PbRequest = {
      timeseries: [],
      metadata: [
        { type: 1, metric_family_name: "http_requests_total", help: "Requests. ✓", unit: "" },
        { type: 3, metric_family_name: "latency_seconds", help: "x".repeat(300), unit: "seconds" },
        { metric_family_name: "untyped" },
        { type: 7, metric_family_name: "flags" },
      ],
    };
    const { result } = decode(pbEncode(req));
    assert.deepEqual(result.metadata, [
      { type: "counter", metricFamilyName: "http_requests_total", help: "Requests. ✓", unit: "" },
      { type: "histogram", metricFamilyName: "latency_seconds", help: "x".repeat(300), unit: "seconds" },
      { type: "unknown", metricFamilyName: "untyped", help: "", unit: "" },
      { type: "stateset", metricFamilyName: "flags", help: "", unit: "" },
    ]);
    const limited = decodeWriteRequest(pbEncode(req), new Collector(), { maxMetadata: 1 });
    assert.equal(limited.metadata.length, 1);
    assert.equal(limited.metadataDropped, 3);
  });

  it("skips exemplars and counts native histograms without losing the float samples", () => {
    const histogram = {
      count_int: 10,
      sum: 12.5,
      schema: 3,
      zero_threshold: 1e-128,
      zero_count_int: 1,
      negative_spans: [{ offset: -2, length: 2 }],
      negative_deltas: [1, -1],
      positive_spans: [{ offset: 0, length: 3 }],
      positive_deltas: [2, 1, -3],
      reset_hint: 2,
      timestamp: 1_700_000_000_000,
    };
    const req: PbRequest = {
      timeseries: [
        {
          labels: LABELS(1),
          samples: [{ value: 1, timestamp: 1000 }],
          exemplars: [{ labels: [{ name: "trace_id", value: "abc" }], value: 0.5, timestamp: 999 }],
        },
        {
          labels: LABELS(2),
          samples: [],
          histograms: [histogram, { ...histogram, count_int: undefined, count_float: 3 }],
        },
        { labels: LABELS(3), samples: [{ value: 2, timestamp: 2000 }], histograms: [histogram] },
      ],
    };
    const { got, result } = decode(pbEncode(req));
    assert.deepEqual(got, expected(req));
    assert.equal(result.exemplars, 1);
    assert.equal(result.histograms, 3);
    assert.equal(result.histogramSeries, 2);
    assert.equal(result.samples, 2);
  });

  it("accepts fields in any order, repeated scalars (last wins) and unknown fields of every wire type", () => {
    const sampleA = root.lookupType("prometheus.Sample").encode({ value: 1.5, timestamp: 10 }).finish();
    const sampleB = root.lookupType("prometheus.Sample").encode({ value: 2.5, timestamp: 20 }).finish();
    const labelPb = root.lookupType("prometheus.Label");
    const unknown = Uint8Array.from([
      ...[0x78, 0x96, 0x01], // field 15 varint 150
      ...[0x81, 0x01, 1, 2, 3, 4, 5, 6, 7, 8], // field 16 fixed64
      ...[0x8a, 0x01, 3, 0xff, 0xfe, 0xfd], // field 17 bytes (not UTF-8: never decoded)
      ...[0x95, 0x01, 1, 2, 3, 4], // field 18 fixed32
      ...[0x9b, 0x01, 0x08, 0x01, 0xa3, 0x01, 0xa4, 0x01, 0x9c, 0x01], // group 19 holding a nested group 20
    ]);
    const series = concat(
      ld(0x12, sampleA),
      unknown,
      ld(0x0a, labelPb.encode({ name: "job", value: "x" }).finish()),
      ld(0x12, sampleB),
      // A label whose name arrives twice and value before name: last name wins.
      ld(0x0a, concat(Uint8Array.from([0x12, 1, 0x76]), ld(0x0a, enc("first")), ld(0x0a, enc("__name__")))),
      // Sample with a repeated timestamp and a non-minimal tag (0x89 0x00 is field 1, fixed64).
      ld(0x12, Uint8Array.from([0x10, 1, 0x10, 30, 0x89, 0x00, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f])),
    );
    const raw = concat(unknown, ld(0x0a, series), unknown, Uint8Array.from([0x10, 0x05]));
    const { got } = decode(raw);
    assert.deepEqual(got, [
      {
        labels: [
          { name: "job", value: "x" },
          { name: "__name__", value: "v" },
        ],
        samples: [
          [10, bitsOf(1.5)],
          [20, bitsOf(2.5)],
          [30, bitsOf(1)],
        ],
      },
    ]);
  });

  it("hands long series over in chunks that add up", () => {
    const samples = Array.from({ length: 2_500 }, (_, i) => ({ value: i * 0.25, timestamp: 1e12 + i }));
    const req: PbRequest = { timeseries: [{ labels: LABELS(9), samples }] };
    const c = new Collector();
    const result = decodeWriteRequest(pbEncode(req), c);
    assert.deepEqual(c.series_, expected(req));
    assert.ok(c.calls > 1, "several chunks");
    assert.equal(result.samples, 2_500);
  });

  it("decodes the same with and without string interning, and interns repeated strings", () => {
    const req: PbRequest = {
      timeseries: Array.from({ length: 50 }, (_, i) => ({ labels: LABELS(i % 3), samples: [{ value: i }] })),
    };
    const raw = pbEncode(req);
    const table = new DecodeCache(2); // tiny: forces slot collisions
    assert.deepEqual(decode(raw, table).got, expected(req));
    assert.deepEqual(decode(raw, null).got, expected(req));
    assert.deepEqual(decode(raw).got, expected(req));
  });

  it("shares one frozen Label per distinct pair, also for Buffers at an odd offset", () => {
    const req: PbRequest = {
      timeseries: [
        { labels: LABELS(1), samples: [{ value: 1 }] },
        { labels: LABELS(2), samples: [{ value: 2 }] },
      ],
    };
    const raw = pbEncode(req);
    // Embedded at offset 3 of a larger buffer: the decoder must read relative to the view.
    const backing = Buffer.alloc(raw.length + 7, 0xee);
    backing.set(raw, 3);
    const cache = new DecodeCache();
    const first = decode(backing.subarray(3, 3 + raw.length), cache).got;
    const second = decode(raw, cache).got;
    assert.deepEqual(first, expected(req));
    assert.deepEqual(second, expected(req));
    for (let i = 0; i < 6; i++) {
      if (i !== 1) assert.equal(first[0].labels[i], first[1].labels[i], `pair ${i} shared across series`);
      assert.equal(first[1].labels[i], second[1].labels[i], `pair ${i} shared across requests`);
      assert.ok(Object.isFrozen(first[0].labels[i]));
    }
    assert.notEqual(first[0].labels, first[1].labels, "each series gets its own array");
  });

  it("decompresses off the event loop too", async () => {
    const req: PbRequest = { timeseries: [{ labels: LABELS(1), samples: [{ value: STALE, timestamp: 1 }] }] };
    const raw = await decompressSnappyAsync(compressSync(pbEncode(req)));
    assert.deepEqual(decode(raw).got, expected(req));
  });
});

// --- property tests -------------------------------------------------------------------------

const arbDouble = fc
  .oneof(
    fc.double(),
    fc.tuple(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff })).map(([hi, lo]) => fromBits(hi, lo)),
    fc.constantFrom(STALE, -0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
  )
  // Kept in an object: plain double arrays may rewrite NaN payloads.
  .map((v) => ({ v }));

const arbString = fc.oneof(
  fc.constantFrom("", "__name__", "job", "instance", "le", "+Inf", "\uFEFFbom", "日本語", "😀"),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 150 }).filter((s) => s.isWellFormed()),
);

const arbRequest: fc.Arbitrary<PbRequest> = fc
  .record({
    timeseries: fc.array(
      fc.record({
        labels: fc.array(fc.record({ name: arbString, value: arbString }), { maxLength: 8 }),
        samples: fc.array(
          fc.record({
            value: arbDouble,
            timestamp: fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
          }),
          { maxLength: 6 },
        ),
      }),
      { maxLength: 12 },
    ),
    metadata: fc.array(
      fc.record({
        type: fc.integer({ min: 0, max: 7 }),
        metric_family_name: arbString,
        help: arbString,
        unit: arbString,
      }),
      { maxLength: 3 },
    ),
  })
  .map((r) => ({
    // proto3 form: defaults left out, as encoders send them.
    timeseries: r.timeseries.map((ts) => ({
      labels: ts.labels.map(({ name, value }) => ({ ...(name && { name }), ...(value && { value }) })),
      samples: ts.samples.map(({ value, timestamp }) => ({
        ...(!Object.is(value.v, 0) && { value: value.v }),
        ...(timestamp !== 0 && { timestamp }),
      })),
    })),
    metadata: r.metadata.map((m) => ({
      ...(m.type !== 0 && { type: m.type }),
      ...(m.metric_family_name && { metric_family_name: m.metric_family_name }),
      ...(m.help && { help: m.help }),
      ...(m.unit && { unit: m.unit }),
    })),
  }));

const TYPE_NAMES = [
  "unknown",
  "counter",
  "gauge",
  "histogram",
  "gaugehistogram",
  "summary",
  "info",
  "stateset",
];

describe("remote-write decoder, property-based", () => {
  it("decodes any WriteRequest protobufjs encodes, through snappy", () => {
    fc.assert(
      fc.property(arbRequest, (req) => {
        const c = new Collector();
        const result = decodeRemoteWrite(compressSync(pbEncode(req)), c);
        assert.deepEqual(c.series_, expected(req));
        assert.deepEqual(
          result.metadata,
          (req.metadata ?? []).map((m) => ({
            type: TYPE_NAMES[m.type ?? 0],
            metricFamilyName: m.metric_family_name ?? "",
            help: m.help ?? "",
            unit: m.unit ?? "",
          })),
        );
      }),
      { numRuns: 500 },
    );
  });

  it("the package's own encoder writes the same bytes as protobufjs", () => {
    fc.assert(
      fc.property(arbRequest, (req) => {
        const mine = encodeWriteRequest({
          timeseries: expected(req).map((ts) => ({
            labels: ts.labels,
            samples: ts.samples.map(([timestamp, bits]) => ({
              timestamp,
              value: fromBits(Number.parseInt(bits.slice(0, 8), 16), Number.parseInt(bits.slice(8), 16)),
            })),
          })),
          metadata: (req.metadata ?? []).map((m) => ({
            type: TYPE_NAMES[m.type ?? 0] as MetricType,
            metricFamilyName: m.metric_family_name ?? "",
            help: m.help ?? "",
            unit: m.unit ?? "",
          })),
        });
        assert.deepEqual(Buffer.from(mine), Buffer.from(pbEncode(req)));
      }),
      { numRuns: 300 },
    );
  });
});

// --- helpers --------------------------------------------------------------------------------

function enc(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A length-delimited field with a one-byte tag. */
function ld(tag: number, body: Uint8Array): Uint8Array {
  const len: number[] = [];
  let n = body.length;
  while (n >= 0x80) {
    len.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  len.push(n);
  return concat(Uint8Array.from([tag, ...len]), body);
}
