/**
 * A hand-written decoder for Prometheus remote-write 1.0's `prometheus.WriteRequest`, straight from
 * the decompressed bytes. It is the ingest hot path: generic protobuf decoders build an object per
 * sample (and a Long per int64), this one writes samples into two reusable Float64Arrays and hands
 * them to a visitor a chunk at a time. Per series it allocates only the label array: label pairs
 * and strings come from a cache of byte ranges seen before (DecodeCache).
 *
 * Messages (prompb/remote.proto, types.proto):
 *   WriteRequest { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
 *   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2;
 *                  repeated Exemplar exemplars = 3; repeated Histogram histograms = 4; }
 *   Label        { string name = 1; string value = 2; }
 *   Sample       { double value = 1; int64 timestamp = 2; }   // timestamp in ms
 * Exemplars are skipped and native histograms are unsupported; both are counted.
 */
import type { Label } from "../../storage/labels.js";
import { BytesTable } from "./bytes-table.js";
import { protobufError, RemoteWriteDecodeError } from "./errors.js";
import { decodeMetadata, expectWireType, type MetricMetadata } from "./metadata.js";
import { decodeUtf8, StringTable } from "./utf8.js";
import { WIRE_I64, WIRE_LEN, WIRE_VARINT, WireReader } from "./wire.js";

export interface WriteRequestVisitor {
  /**
   * Called once per TimeSeries, in request order, before its samples — also for a series with no
   * float samples (e.g. only histograms). `labels` are as sent: not sorted, validated or
   * deduplicated (the store's normalizeLabels does that). The array is new and the caller's; the
   * Label objects in it are frozen and may be shared with other series and requests.
   */
  series(labels: Label[], span?: LabelSpan): void;
  /**
   * Samples of the series last passed to `series`, in request order, `count` ≥ 1 of them at the
   * start of each array; may be called several times per series. The arrays are reused by the next
   * call: copy what you keep. Values are bit-exact (read them from the array, e.g. for stale NaN).
   */
  samples(timestamps: Float64Array, values: Float64Array, count: number): void;
}

/**
 * Where a series' labels lie in the request: `buf[start, end)` holds all its Label fields and
 * nothing else (absent when they are not contiguous). Valid only during the `series` call; the
 * same bytes mean the same labels, so a caller may key what it learnt of a series by them.
 */
export interface LabelSpan {
  buf: Uint8Array;
  view: DataView;
  start: number;
  end: number;
}

export interface DecodeOptions {
  /** A TimeSeries with more labels is an error (code "limit"). Default 512. */
  maxLabelsPerSeries?: number;
  /** Metadata entries beyond this are skipped and counted in `metadataDropped`. Default 10,000. */
  maxMetadata?: number;
  /** Caches of label strings and pairs; `null` decodes everything afresh. Default: one shared cache. */
  cache?: DecodeCache | null;
}

export interface DecodeResult {
  /** TimeSeries messages seen (each was passed to `visitor.series`). */
  series: number;
  /** Float samples passed to `visitor.samples`. */
  samples: number;
  /** Exemplars skipped. */
  exemplars: number;
  /** Native histogram samples dropped: this receiver does not support them. */
  histograms: number;
  /** Series with at least one dropped histogram. */
  histogramSeries: number;
  metadata: MetricMetadata[];
  /** Metadata entries beyond `maxMetadata`, skipped. */
  metadataDropped: number;
}

export const DEFAULT_MAX_LABELS_PER_SERIES = 512;
export const DEFAULT_MAX_METADATA = 10_000;

/** Samples handed to the visitor per call: big enough to amortise the call, small enough to stay in cache. */
const CHUNK = 512;

/**
 * What repeats between series and requests: label strings, and whole label pairs (the Label message's
 * bytes → one shared, frozen Label object), which saves decoding both strings and allocating the
 * object. Bounded: 2^bits slots per table, keys of at most 128 (strings) and 256 (pairs) bytes, so
 * at most ~6 MiB of keys (plus per-entry object overhead) at the default size; far less in practice.
 * Its members are internal; callers only construct one (or pass `null`) through DecodeOptions.
 */
export class DecodeCache {
  readonly strings: StringTable;
  readonly labels: BytesTable<Label>;

  /** `bits`: log2 of the slots in each table. */
  constructor(bits = 14) {
    this.strings = new StringTable(bits);
    this.labels = new BytesTable<Label>(bits);
  }
}

const MAX_CACHED_LABEL_BYTES = 256;

/** Shared across requests: senders repeat the same labels every send. */
const sharedCache = new DecodeCache();

const TAG_TIMESERIES = (1 << 3) | WIRE_LEN;
const TAG_METADATA = (3 << 3) | WIRE_LEN;
const TAG_LABEL = (1 << 3) | WIRE_LEN;
const TAG_SAMPLE = (2 << 3) | WIRE_LEN;
const TAG_EXEMPLAR = (3 << 3) | WIRE_LEN;
const TAG_HISTOGRAM = (4 << 3) | WIRE_LEN;
const TAG_NAME = (1 << 3) | WIRE_LEN;
const TAG_VALUE = (2 << 3) | WIRE_LEN;
const TAG_SAMPLE_VALUE = (1 << 3) | WIRE_I64;
const TAG_SAMPLE_TIMESTAMP = (2 << 3) | WIRE_VARINT;

/**
 * Decodes a (decompressed) WriteRequest, calling the visitor as it goes. Throws
 * RemoteWriteDecodeError on malformed input; the visitor may by then have seen earlier series, so a
 * caller writing to a store rolls its batch back on error.
 */
export function decodeWriteRequest(
  buf: Uint8Array,
  visitor: WriteRequestVisitor,
  options: DecodeOptions = {},
): DecodeResult {
  return new Decoder(buf, visitor, options).run();
}

class Decoder {
  private readonly r: WireReader;
  private readonly view: DataView;
  private readonly span: LabelSpan;
  private readonly cache: DecodeCache | null;
  private readonly maxLabels: number;
  private readonly maxMetadata: number;
  private readonly ts = new Float64Array(CHUNK);
  private readonly vs = new Float64Array(CHUNK);
  /** The value array's bytes: doubles are copied byte for byte so NaN payloads survive untouched. */
  private readonly vBytes = new Uint8Array(this.vs.buffer);
  private readonly result: DecodeResult = {
    series: 0,
    samples: 0,
    exemplars: 0,
    histograms: 0,
    histogramSeries: 0,
    metadata: [],
    metadataDropped: 0,
  };

  constructor(
    buf: Uint8Array,
    private readonly visitor: WriteRequestVisitor,
    options: DecodeOptions,
  ) {
    this.r = new WireReader(buf);
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.span = { buf, view: this.view, start: 0, end: 0 };
    this.cache = options.cache === undefined ? sharedCache : options.cache;
    this.maxLabels = options.maxLabelsPerSeries ?? DEFAULT_MAX_LABELS_PER_SERIES;
    this.maxMetadata = options.maxMetadata ?? DEFAULT_MAX_METADATA;
  }

  run(): DecodeResult {
    const r = this.r;
    const end = r.buf.length;
    while (r.pos < end) {
      const at = r.pos;
      const tag = r.tag(end);
      if (tag === TAG_TIMESERIES) {
        const msgEnd = r.lengthDelimited(end);
        this.timeSeries(msgEnd);
        r.pos = msgEnd;
      } else if (tag === TAG_METADATA) {
        const msgEnd = r.lengthDelimited(end);
        if (this.result.metadata.length < this.maxMetadata) {
          this.result.metadata.push(decodeMetadata(r, this.view, msgEnd, this.cache?.strings ?? null));
        } else this.result.metadataDropped++;
        r.pos = msgEnd;
      } else {
        const field = tag >>> 3;
        if (field === 1) expectWireType(tag, WIRE_LEN, "WriteRequest.timeseries", at);
        if (field === 3) expectWireType(tag, WIRE_LEN, "WriteRequest.metadata", at);
        r.skip(tag, end);
      }
    }
    return this.result;
  }

  /**
   * Two passes over one TimeSeries: the first decodes labels and counts (and steps over) everything
   * else, so `series` can be called with the labels even if a sender put them after the samples; the
   * second decodes the samples from the first one on. Senders put labels first, so the second pass
   * reads nothing twice.
   */
  private timeSeries(end: number): void {
    const r = this.r;
    const labels: Label[] = [];
    let firstSample = -1;
    let histograms = 0;
    let spanStart = -1;
    let spanEnd = -1;
    let contiguous = true;
    while (r.pos < end) {
      const at = r.pos;
      const tag = r.tag(end);
      if (tag === TAG_LABEL) {
        if (labels.length === this.maxLabels) {
          throw new RemoteWriteDecodeError("limit", `a series has more than ${this.maxLabels} labels`, at);
        }
        const msgEnd = r.lengthDelimited(end);
        if (spanStart < 0) spanStart = at;
        else if (at !== spanEnd) contiguous = false;
        labels.push(this.label(msgEnd));
        spanEnd = msgEnd;
      } else if (tag === TAG_SAMPLE) {
        if (firstSample < 0) firstSample = at;
        r.pos = r.lengthDelimited(end);
      } else if (tag === TAG_EXEMPLAR) {
        this.result.exemplars++;
        r.pos = r.lengthDelimited(end);
      } else if (tag === TAG_HISTOGRAM) {
        histograms++;
        r.pos = r.lengthDelimited(end);
      } else {
        const field = tag >>> 3;
        if (field >= 1 && field <= 4) {
          const what = ["labels", "samples", "exemplars", "histograms"][field - 1];
          expectWireType(tag, WIRE_LEN, `TimeSeries.${what}`, at);
        }
        r.skip(tag, end);
      }
    }
    this.result.series++;
    if (histograms > 0) {
      this.result.histograms += histograms;
      this.result.histogramSeries++;
    }
    if (contiguous && spanStart >= 0) {
      const span = this.span;
      span.start = spanStart;
      span.end = spanEnd;
      this.visitor.series(labels, span);
    } else this.visitor.series(labels);
    if (firstSample >= 0) this.samples(firstSample, end);
    r.pos = end;
  }

  private label(end: number): Label {
    const cache = this.cache;
    const r = this.r;
    const start = r.pos;
    if (cache === null || end - start > MAX_CACHED_LABEL_BYTES) return this.parseLabel(end, null);
    const hit = cache.labels.get(r.buf, this.view, start, end);
    if (hit !== undefined) {
      r.pos = end;
      return hit;
    }
    // Frozen: the same object goes to every series carrying this pair.
    const label = Object.freeze(this.parseLabel(end, cache.strings));
    cache.labels.set(r.buf, start, end, label);
    return label;
  }

  private parseLabel(end: number, strings: StringTable | null): Label {
    const r = this.r;
    const buf = r.buf;
    let name = "";
    let value = "";
    while (r.pos < end) {
      const at = r.pos;
      const tag = r.tag(end);
      if (tag === TAG_NAME || tag === TAG_VALUE) {
        const strEnd = r.lengthDelimited(end);
        const what = tag === TAG_NAME ? "label name" : "label value";
        const s =
          strings === null
            ? decodeUtf8(buf, r.pos, strEnd, what)
            : strings.decode(buf, this.view, r.pos, strEnd, what);
        if (tag === TAG_NAME) name = s;
        else value = s;
        r.pos = strEnd;
      } else {
        const field = tag >>> 3;
        if (field === 1) expectWireType(tag, WIRE_LEN, "Label.name", at);
        if (field === 2) expectWireType(tag, WIRE_LEN, "Label.value", at);
        r.skip(tag, end);
      }
    }
    return { name, value };
  }

  /** Decodes every Sample field in [start, end) into the chunk arrays, flushing them when full. */
  private samples(start: number, end: number): void {
    const r = this.r;
    const { ts, visitor } = this;
    r.pos = start;
    let n = 0;
    while (r.pos < end) {
      const tag = r.tag(end);
      if (tag !== TAG_SAMPLE) {
        r.skip(tag, end); // labels, exemplars, histograms, unknown: already handled in pass one
        continue;
      }
      const msgEnd = r.lengthDelimited(end);
      ts[n] = this.sample(n, msgEnd);
      if (++n === CHUNK) {
        this.result.samples += n;
        visitor.samples(ts, this.vs, n);
        n = 0;
      }
    }
    if (n > 0) {
      this.result.samples += n;
      visitor.samples(ts, this.vs, n);
    }
  }

  /** Decodes one Sample into value slot `i`; returns its timestamp. Absent fields are 0, as in proto3. */
  private sample(i: number, end: number): number {
    const r = this.r;
    const buf = r.buf;
    this.vs[i] = 0;
    let t = 0;
    while (r.pos < end) {
      const at = r.pos;
      const tag = r.tag(end);
      if (tag === TAG_SAMPLE_VALUE) {
        const pos = r.pos;
        if (end - pos < 8) throw protobufError("truncated Sample.value", pos);
        const vb = this.vBytes;
        const o = i * 8;
        vb[o] = buf[pos];
        vb[o + 1] = buf[pos + 1];
        vb[o + 2] = buf[pos + 2];
        vb[o + 3] = buf[pos + 3];
        vb[o + 4] = buf[pos + 4];
        vb[o + 5] = buf[pos + 5];
        vb[o + 6] = buf[pos + 6];
        vb[o + 7] = buf[pos + 7];
        r.pos = pos + 8;
      } else if (tag === TAG_SAMPLE_TIMESTAMP) {
        t = r.int64(end);
      } else {
        const field = tag >>> 3;
        if (field === 1) expectWireType(tag, WIRE_I64, "Sample.value", at);
        if (field === 2) expectWireType(tag, WIRE_VARINT, "Sample.timestamp", at);
        r.skip(tag, end);
      }
    }
    return t;
  }
}
