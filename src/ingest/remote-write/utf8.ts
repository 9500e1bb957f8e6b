/**
 * UTF-8 strings from the request. Label names and values repeat heavily — across the series of one
 * request and across requests from the same sender — so short ones go through a BytesTable: a hit
 * returns the very same string instance (less memory in the store's index too) for a hash and a
 * compare, a miss costs one fatal TextDecoder call, which also validates. Only valid strings enter
 * the table, so a hit needs no validation. Figures: bench/remote-write-decode.ts.
 */
import { BytesTable } from "./bytes-table.js";
import { protobufError } from "./errors.js";

/** `ignoreBOM` keeps a leading U+FEFF as data (the default would silently drop it). */
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Longer strings (help texts, odd label values) are rarely repeated and cost more to compare than to decode. */
const MAX_INTERNED_BYTES = 128;

export function decodeUtf8(buf: Uint8Array, start: number, end: number, what: string): string {
  try {
    return decoder.decode(buf.subarray(start, end));
  } catch {
    throw protobufError(`${what} is not valid UTF-8`, start);
  }
}

export class StringTable {
  private readonly table: BytesTable<string>;

  /** `bits`: log2 of the number of slots; memory is at most 2^bits × 128 bytes of keys. */
  constructor(bits = 14) {
    this.table = new BytesTable<string>(bits);
  }

  /** Decodes buf[start, end) as UTF-8, throwing a protobuf error naming `what` if it is not valid. */
  decode(buf: Uint8Array, view: DataView, start: number, end: number, what: string): string {
    if (start === end) return "";
    if (end - start > MAX_INTERNED_BYTES) return decodeUtf8(buf, start, end, what);
    const hit = this.table.get(buf, view, start, end);
    if (hit !== undefined) return hit;
    const s = decodeUtf8(buf, start, end, what);
    this.table.set(buf, start, end, s);
    return s;
  }
}
