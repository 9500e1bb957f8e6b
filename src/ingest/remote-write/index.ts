/**
 * Remote-write 1.0 body decoding: snappy block → prometheus.WriteRequest → visitor callbacks.
 * The HTTP route, tokens and store writes live elsewhere; this module only turns bytes into series.
 */
import {
  type DecodeOptions,
  type DecodeResult,
  decodeWriteRequest,
  type WriteRequestVisitor,
} from "./decode.js";
import { DEFAULT_MAX_DECOMPRESSED_BYTES, decompressSnappy } from "./snappy.js";

export {
  DEFAULT_MAX_LABELS_PER_SERIES,
  DEFAULT_MAX_METADATA,
  DecodeCache,
  type DecodeOptions,
  type DecodeResult,
  decodeWriteRequest,
  type WriteRequestVisitor,
} from "./decode.js";
export {
  encodeRemoteWriteBody,
  encodeWriteRequest,
  type SampleInput,
  type TimeSeriesInput,
  type WriteRequestInput,
} from "./encode.js";
export { RemoteWriteDecodeError, type RemoteWriteDecodeErrorCode } from "./errors.js";
export type { MetricMetadata, MetricType } from "./metadata.js";
export {
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  decompressSnappy,
  decompressSnappyAsync,
  snappyDecodedLength,
} from "./snappy.js";

export interface RemoteWriteOptions extends DecodeOptions {
  /** Cap on the decompressed body in bytes. Default 64 MiB. */
  maxDecompressedBytes?: number;
}

/** Decompresses and decodes a remote-write body in one call (both on the calling thread). */
export function decodeRemoteWrite(
  body: Uint8Array,
  visitor: WriteRequestVisitor,
  options: RemoteWriteOptions = {},
): DecodeResult {
  const raw = decompressSnappy(body, options.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES);
  return decodeWriteRequest(raw, visitor, options);
}
