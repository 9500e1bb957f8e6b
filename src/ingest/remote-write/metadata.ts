/**
 * `MetricMetadata` (WriteRequest field 3): what Prometheus sends about metric families, in requests of
 * their own. Decoded into plain objects because there are few of them and the caller may keep them.
 */
import { protobufError } from "./errors.js";
import type { StringTable } from "./utf8.js";
import { decodeUtf8 } from "./utf8.js";
import { WIRE_LEN, WIRE_VARINT, type WireReader, wireTypeName } from "./wire.js";

/** Prometheus's own names for the MetricType enum (model.MetricType), as its metadata API reports them. */
export type MetricType =
  | "unknown"
  | "counter"
  | "gauge"
  | "histogram"
  | "gaugehistogram"
  | "summary"
  | "info"
  | "stateset";

const TYPES: readonly MetricType[] = [
  "unknown",
  "counter",
  "gauge",
  "histogram",
  "gaugehistogram",
  "summary",
  "info",
  "stateset",
];

export interface MetricMetadata {
  readonly type: MetricType;
  readonly metricFamilyName: string;
  readonly help: string;
  readonly unit: string;
}

/** Decodes one MetricMetadata occupying [r.pos, end); leaves r.pos at end. */
export function decodeMetadata(
  r: WireReader,
  view: DataView,
  end: number,
  strings: StringTable | null,
): MetricMetadata {
  let type: MetricType = "unknown";
  let metricFamilyName = "";
  let help = "";
  let unit = "";
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.tag(end);
    const field = tag >>> 3;
    if (field === 1) {
      expectWireType(tag, WIRE_VARINT, "MetricMetadata.type", at);
      // An enum value this version does not know is reported as unknown, as proto3 would.
      type = TYPES[r.varint(end)] ?? "unknown";
    } else if (field === 2 || field === 4 || field === 5) {
      const what =
        field === 2
          ? "MetricMetadata.metric_family_name"
          : field === 4
            ? "MetricMetadata.help"
            : "MetricMetadata.unit";
      expectWireType(tag, WIRE_LEN, what, at);
      const strEnd = r.lengthDelimited(end);
      const s =
        field === 4 || strings === null
          ? decodeUtf8(r.buf, r.pos, strEnd, what)
          : strings.decode(r.buf, view, r.pos, strEnd, what);
      r.pos = strEnd;
      if (field === 2) metricFamilyName = s;
      else if (field === 4) help = s;
      else unit = s;
    } else r.skip(tag, end);
  }
  return { type, metricFamilyName, help, unit };
}

export function expectWireType(tag: number, want: number, what: string, at: number): void {
  if ((tag & 7) !== want) {
    throw protobufError(`${what} has wire type ${wireTypeName(tag & 7)}, expected ${wireTypeName(want)}`, at);
  }
}
