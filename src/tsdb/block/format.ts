/**
 * Names and constants of the block files; docs/block-format.md describes every byte. A block is
 * a directory `blocks/b_<minT>_<maxT>/` holding `meta.json`, `index` and `chunks`, written once
 * into `<name>.tmp/` and renamed into place, never changed after. It covers the time range
 * [minT, maxT) in ms; blocks never overlap.
 */
export const BLOCKS_DIR = "blocks";
export const META_FILE = "meta.json";
export const INDEX_FILE = "index";
export const CHUNKS_FILE = "chunks";
export const TMP_SUFFIX = ".tmp";

export const INDEX_MAGIC = 0x4d494d49; // "MIMI"
export const CHUNKS_MAGIC = 0x4d494d43; // "MIMC"
export const FORMAT_VERSION = 1;
export const HEADER_BYTES = 8;
/** The index's table of contents: five section offsets, then the CRC-32 of every byte before the CRC. */
export const INDEX_TOC_BYTES = 24;
/** A page is closed once its chunks reach this many bytes (bench:codecs chose ~512 KiB). */
export const PAGE_TARGET_BYTES = 512 * 1024;
/** Per page in the chunks file: stored length, raw length (u32 each), then the CRC-32 after it. */
export const PAGE_HEADER_BYTES = 8;
export const PAGE_TRAILER_BYTES = 4;

export interface BlockMeta {
  version: number;
  minT: number;
  maxT: number;
  series: number;
  chunks: number;
  samples: number;
  /** 1 for a block sealed from the head, n + 1 for a merge of blocks of level ≤ n. */
  level: number;
  /** The blocks a compaction merged into this one (their names), empty for a sealed block. */
  sources: string[];
}

export function blockName(minT: number, maxT: number): string {
  return `b_${minT}_${maxT}`;
}

const NAME = /^b_(-?\d+)_(-?\d+)$/;

/** The range a block directory's name states, or null for a name that is not a block's. */
export function parseBlockName(name: string): { minT: number; maxT: number } | null {
  const m = NAME.exec(name);
  if (m === null) return null;
  const minT = Number(m[1]);
  const maxT = Number(m[2]);
  return Number.isSafeInteger(minT) && Number.isSafeInteger(maxT) && minT < maxT ? { minT, maxT } : null;
}

export class BlockFormatError extends Error {
  constructor(
    readonly block: string,
    message: string,
  ) {
    super(`block ${block}: ${message}`);
    this.name = "BlockFormatError";
  }
}
