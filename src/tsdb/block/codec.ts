/**
 * The page codec of block chunk files: zstd at level 3 (chosen by `npm run bench:codecs`, see
 * docs/performance.md), through `zstd-napi`, which builds zstd from its bundled sources. One
 * compressor and one decompressor context per thread, reused across pages.
 */
import { Compressor, Decompressor } from "zstd-napi";

export const CODEC_NONE = 0;
export const CODEC_ZSTD = 1;
export const ZSTD_LEVEL = 3;

let compressor: Compressor | null = null;
let decompressor: Decompressor | null = null;

export function compressPage(raw: Uint8Array): Uint8Array {
  if (compressor === null) {
    compressor = new Compressor();
    compressor.setParameters({ compressionLevel: ZSTD_LEVEL });
  }
  return compressor.compress(raw);
}

/** Decompresses a page whose raw size the chunk file records; a size that differs is damage. */
export function decompressPage(codec: number, stored: Uint8Array, rawLength: number): Uint8Array {
  if (codec === CODEC_NONE) return stored;
  if (codec !== CODEC_ZSTD) throw new Error(`unknown page codec ${codec}`);
  if (decompressor === null) decompressor = new Decompressor();
  const raw = decompressor.decompress(stored);
  if (raw.length !== rawLength) {
    throw new Error(`page decompressed to ${raw.length} bytes, the file says ${rawLength}`);
  }
  return raw;
}
