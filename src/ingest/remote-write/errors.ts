/**
 * The one error type the remote-write decoder throws, so the HTTP route can answer every bad body
 * with a 400 (or 413 for `too_large`) without catching anything else by accident.
 */

/**
 * What went wrong: the snappy layer, a body over the size cap, the protobuf inside, or a
 * well-formed request over a decoding limit (e.g. labels per series).
 */
export type RemoteWriteDecodeErrorCode = "snappy" | "too_large" | "protobuf" | "limit";

export class RemoteWriteDecodeError extends Error {
  override readonly name = "RemoteWriteDecodeError";
  readonly code: RemoteWriteDecodeErrorCode;
  /** Byte offset in the decompressed protobuf (or the compressed body for `snappy`), when known. */
  readonly offset: number | undefined;

  constructor(code: RemoteWriteDecodeErrorCode, message: string, offset?: number) {
    super(offset === undefined ? message : `${message} (at byte ${offset})`);
    this.code = code;
    this.offset = offset;
  }
}

export function protobufError(message: string, offset: number): RemoteWriteDecodeError {
  return new RemoteWriteDecodeError("protobuf", message, offset);
}
