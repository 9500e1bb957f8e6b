/**
 * Reads one block on the thread that opens it: the index is read whole and checked against its
 * CRC-32 at open (a damaged index makes the block unreadable, reported by the block set); each
 * series' chunk positions are decoded from the index bytes when asked for. Chunk pages are read
 * from the chunks file with positioned reads and checked against their own CRC-32 before they
 * are decompressed; a damaged page costs only the chunks inside it. The few most recent pages
 * stay decompressed, because a query walks a series' chunks, and series, in file order.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import type { Label, Labels, Matcher } from "../../storage/index.js";
import { PADDING } from "../chunk/xor.js";
import { ByteReader } from "./bytes.js";
import { decompressPage } from "./codec.js";
import {
  BlockFormatError,
  type BlockMeta,
  CHUNKS_FILE,
  CHUNKS_MAGIC,
  FORMAT_VERSION,
  HEADER_BYTES,
  INDEX_FILE,
  INDEX_MAGIC,
  INDEX_TOC_BYTES,
  META_FILE,
  PAGE_HEADER_BYTES,
  PAGE_TRAILER_BYTES,
} from "./format.js";

/** A chunk inside a decompressed page: its bytes start at `offset` and are followed by padding. */
export interface BlockChunk {
  data: Uint8Array;
  offset: number;
  /** Where the chunk's bytes and the padding after them end (a page ends in padding). */
  end: number;
  count: number;
  minT: number;
  maxT: number;
}

/** Where a chunk lies, as the index says: page, offset in the page, byte length. */
export interface ChunkPosition {
  minT: number;
  maxT: number;
  page: number;
  offset: number;
  length: number;
  count: number;
}

const PAGE_CACHE = 4;

interface ParsedIndex {
  bytes: Uint8Array;
  symbols: string[];
  ids: Float64Array;
  entries: Uint32Array;
  sortedIds: Float64Array;
  positionsById: Uint32Array;
  postingsAt: number;
  pageOffsets: Float64Array;
}

function readMeta(dir: string, name: string): BlockMeta {
  let meta: BlockMeta;
  try {
    meta = JSON.parse(readFileSync(join(dir, META_FILE), "utf8")) as BlockMeta;
  } catch (err) {
    throw new BlockFormatError(name, `meta.json unreadable: ${(err as Error).message}`);
  }
  if (meta.version !== FORMAT_VERSION) {
    throw new BlockFormatError(name, `format version ${meta.version}, this build reads ${FORMAT_VERSION}`);
  }
  if (!(Number.isSafeInteger(meta.minT) && Number.isSafeInteger(meta.maxT) && meta.minT < meta.maxT)) {
    throw new BlockFormatError(name, "meta.json states no valid time range");
  }
  if (!Array.isArray(meta.sources)) meta.sources = [];
  return meta;
}

function parseIndex(name: string, index: Buffer): ParsedIndex {
  const fail = (why: string): never => {
    throw new BlockFormatError(name, why);
  };
  if (index.length < HEADER_BYTES + INDEX_TOC_BYTES) fail(`index is ${index.length} bytes, too short`);
  if (index.readUInt32BE(0) !== INDEX_MAGIC) fail("index does not start with the index magic");
  if (index[4] !== FORMAT_VERSION) fail(`index version ${index[4]}`);
  if (crc32(index.subarray(0, index.length - 4)) !== index.readUInt32LE(index.length - 4)) {
    fail("index checksum mismatch");
  }
  const toc = index.length - INDEX_TOC_BYTES;
  const [symbolsAt, seriesAt, postingsAt, pagesAt, byIdAt] = [0, 4, 8, 12, 16].map((o) =>
    index.readUInt32LE(toc + o),
  );
  const ordered =
    HEADER_BYTES <= symbolsAt &&
    symbolsAt <= seriesAt &&
    seriesAt <= postingsAt &&
    postingsAt <= pagesAt &&
    pagesAt <= byIdAt &&
    byIdAt <= toc;
  if (!ordered) fail("index table of contents out of order");
  try {
    const dec = new TextDecoder("utf-8");
    const s = new ByteReader(index, symbolsAt, seriesAt);
    const nSymbols = s.u32();
    const symbols = new Array<string>(nSymbols);
    for (let i = 0; i < nSymbols; i++) symbols[i] = dec.decode(s.bytes(s.uvarint()));

    const r = new ByteReader(index, seriesAt, postingsAt);
    const n = r.u32();
    const ids = new Float64Array(n);
    const entries = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      ids[i] = r.uvarint();
      entries[i] = r.pos;
      skipEntry(r);
    }

    const b = new ByteReader(index, byIdAt, toc);
    if (b.u32() !== n) throw new Error("the by-id table and the series section disagree on the count");
    const sortedIds = new Float64Array(n);
    const positionsById = new Uint32Array(n);
    let id = 0;
    for (let i = 0; i < n; i++) {
      id += b.uvarint();
      sortedIds[i] = id;
      const pos = b.uvarint();
      if (pos >= n || ids[pos] !== id) throw new Error(`by-id entry ${i} points at the wrong series`);
      positionsById[i] = pos;
    }

    const p = new ByteReader(index, pagesAt, byIdAt);
    const pages = p.u32();
    const pageOffsets = new Float64Array(pages);
    let at = 0;
    for (let i = 0; i < pages; i++) {
      at += p.uvarint();
      pageOffsets[i] = at;
    }
    return { bytes: index, symbols, ids, entries, sortedIds, positionsById, postingsAt, pageOffsets };
  } catch (err) {
    return fail(`index unreadable: ${(err as Error).message}`);
  }
}

export class BlockReader {
  readonly indexBytes: number;
  readonly chunksBytes: number;
  private readonly index: Uint8Array;
  private readonly symbols: string[];
  /** Per position (label order): the series id and where its entry starts in the index. */
  private readonly ids: Float64Array;
  private readonly entries: Uint32Array;
  /** Ids ascending, and the position of each. */
  private readonly sortedIds: Float64Array;
  private readonly positionsById: Uint32Array;
  private readonly postingsAt: number;
  private postings: Map<string, Map<string, Uint32Array>> | null = null;
  private readonly pageOffsets: Float64Array;
  private readonly cache = new Map<number, Uint8Array | Error>();
  private closed = false;

  private constructor(
    readonly dir: string,
    readonly name: string,
    readonly meta: BlockMeta,
    parsed: ParsedIndex,
    private readonly fd: number,
    private readonly codec: number,
  ) {
    this.index = parsed.bytes;
    this.indexBytes = parsed.bytes.length;
    this.symbols = parsed.symbols;
    this.ids = parsed.ids;
    this.entries = parsed.entries;
    this.sortedIds = parsed.sortedIds;
    this.positionsById = parsed.positionsById;
    this.postingsAt = parsed.postingsAt;
    this.pageOffsets = parsed.pageOffsets;
    this.chunksBytes = fstatSync(fd).size;
  }

  /** Opens the block in directory `dir`, named `name`; a BlockFormatError says why it cannot. */
  static open(dir: string, name: string): BlockReader {
    const meta = readMeta(dir, name);
    let index: Buffer;
    try {
      index = readFileSync(join(dir, INDEX_FILE));
    } catch (err) {
      throw new BlockFormatError(name, `index unreadable: ${(err as Error).message}`);
    }
    const parsed = parseIndex(name, index);
    let fd: number;
    try {
      fd = openSync(join(dir, CHUNKS_FILE), "r");
    } catch (err) {
      throw new BlockFormatError(name, `chunks file unreadable: ${(err as Error).message}`);
    }
    const head = Buffer.alloc(HEADER_BYTES);
    const got = readSync(fd, head, 0, HEADER_BYTES, 0);
    if (got !== HEADER_BYTES || head.readUInt32BE(0) !== CHUNKS_MAGIC || head[4] !== FORMAT_VERSION) {
      closeSync(fd);
      throw new BlockFormatError(name, "chunks file does not start with the chunks magic and version");
    }
    return new BlockReader(dir, name, meta, parsed, fd, head[5]);
  }

  get seriesCount(): number {
    return this.ids.length;
  }

  /** The position of series `id` in this block, or -1. */
  find(id: number): number {
    const ids = this.sortedIds;
    let lo = 0;
    let hi = ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ids[mid] < id) lo = mid + 1;
      else hi = mid;
    }
    return lo < ids.length && ids[lo] === id ? this.positionsById[lo] : -1;
  }

  /** The largest series id in the block (0 when it holds none). */
  maxId(): number {
    return this.sortedIds.length ? this.sortedIds[this.sortedIds.length - 1] : 0;
  }

  seriesId(pos: number): number {
    return this.ids[pos];
  }

  labels(pos: number): Labels {
    const r = new ByteReader(this.index, this.entries[pos]);
    const n = r.uvarint();
    const out: Label[] = new Array(n);
    for (let i = 0; i < n; i++)
      out[i] = { name: this.symbols[r.uvarint()], value: this.symbols[r.uvarint()] };
    return out;
  }

  /** Positions of the chunks of series at `pos` that overlap [mint, maxt], oldest first. */
  positions(pos: number, mint = Number.NEGATIVE_INFINITY, maxt = Number.POSITIVE_INFINITY): ChunkPosition[] {
    const r = new ByteReader(this.index, this.entries[pos]);
    const nLabels = r.uvarint();
    for (let i = 0; i < 2 * nLabels; i++) r.uvarint();
    const n = r.uvarint();
    const out: ChunkPosition[] = [];
    let page = 0;
    let offset = 0;
    let maxT = 0;
    for (let k = 0; k < n; k++) {
      let minT: number;
      if (k === 0) {
        page = r.uvarint();
        offset = r.uvarint();
        minT = r.varint();
      } else {
        const step = r.uvarint();
        page += step;
        if (step > 0) offset = r.uvarint();
        minT = maxT + r.varint();
      }
      maxT = minT + r.uvarint();
      const length = r.uvarint();
      const count = r.uvarint();
      if (maxT >= mint && minT <= maxt) out.push({ minT, maxT, page, offset, length, count });
      offset += length;
      if (minT > maxt) break;
    }
    return out;
  }

  /**
   * The chunks of series `id` overlapping [mint, maxt], oldest first; chunks on a damaged page
   * are left out and described in `warnings`.
   */
  chunks(id: number, mint: number, maxt: number, warnings: string[]): BlockChunk[] {
    const pos = this.find(id);
    if (pos < 0) return [];
    const out: BlockChunk[] = [];
    for (const c of this.positions(pos, mint, maxt)) {
      const page = this.page(c.page);
      if (page instanceof Error) {
        warnings.push(
          `block ${this.name}: chunk ${c.minT}..${c.maxT} of series ${id} skipped: ${page.message}`,
        );
        continue;
      }
      if (c.offset + c.length + PADDING > page.length) {
        warnings.push(
          `block ${this.name}: chunk ${c.minT}..${c.maxT} of series ${id} skipped: past its page's end`,
        );
        continue;
      }
      out.push({
        data: page,
        offset: c.offset,
        end: c.offset + c.length + PADDING,
        count: c.count,
        minT: c.minT,
        maxT: c.maxT,
      });
    }
    return out;
  }

  /** Page `i` decompressed, followed by the decoder's padding, or why it cannot be read. */
  page(i: number): Uint8Array | Error {
    const hit = this.cache.get(i);
    if (hit !== undefined) {
      this.cache.delete(i);
      this.cache.set(i, hit);
      return hit;
    }
    const got = this.readPage(i);
    this.cache.set(i, got);
    if (this.cache.size > PAGE_CACHE) this.cache.delete(this.cache.keys().next().value as number);
    return got;
  }

  private readPage(i: number): Uint8Array | Error {
    if (this.closed) return new Error("block closed");
    if (!(i >= 0 && i < this.pageOffsets.length)) return new Error(`page ${i} not in the chunks file`);
    const at = this.pageOffsets[i];
    const head = Buffer.alloc(PAGE_HEADER_BYTES);
    if (readSync(this.fd, head, 0, PAGE_HEADER_BYTES, at) !== PAGE_HEADER_BYTES)
      return new Error(`page ${i} truncated`);
    const storedLength = head.readUInt32LE(0);
    const rawLength = head.readUInt32LE(4);
    if (at + PAGE_HEADER_BYTES + storedLength + PAGE_TRAILER_BYTES > this.chunksBytes)
      return new Error(`page ${i} truncated`);
    const body = Buffer.allocUnsafe(storedLength + PAGE_TRAILER_BYTES);
    readSync(this.fd, body, 0, body.length, at + PAGE_HEADER_BYTES);
    const stored = body.subarray(0, storedLength);
    if (crc32(stored) !== body.readUInt32LE(storedLength)) return new Error(`page ${i} checksum mismatch`);
    try {
      return decompressPage(this.codec, stored, rawLength);
    } catch (err) {
      return new Error(`page ${i}: ${(err as Error).message}`);
    }
  }

  /** Positions (ascending) of the series every matcher accepts. */
  select(matchers: readonly Matcher[]): number[] {
    const n = this.ids.length;
    const hits = new Uint8Array(n);
    let need = 0;
    const byName = this.postingsByName();
    for (const m of matchers) {
      need++;
      const values = byName.get(m.name);
      if (m.matches("")) {
        // Series without the label match too: every series but those with a value it refuses.
        const refused = new Uint8Array(n);
        if (values) for (const [v, list] of values) if (!m.matches(v)) for (const p of list) refused[p] = 1;
        for (let p = 0; p < n; p++) if (!refused[p]) hits[p]++;
      } else if (values) {
        for (const [v, list] of values) if (m.matches(v)) for (const p of list) hits[p]++;
      }
    }
    const out: number[] = [];
    for (let p = 0; p < n; p++) if (hits[p] === need) out.push(p);
    return out;
  }

  /** Every label name and its values' postings (decoded on first use). */
  postingsByName(): Map<string, Map<string, Uint32Array>> {
    if (this.postings !== null) return this.postings;
    const r = new ByteReader(this.index, this.postingsAt, this.index.length);
    const out = new Map<string, Map<string, Uint32Array>>();
    const pairs = r.u32();
    for (let i = 0; i < pairs; i++) {
      const name = this.symbols[r.uvarint()];
      const value = this.symbols[r.uvarint()];
      const len = r.uvarint();
      const list = new Uint32Array(len);
      let p = 0;
      for (let k = 0; k < len; k++) {
        p += r.uvarint();
        list[k] = p;
      }
      let byValue = out.get(name);
      if (byValue === undefined) {
        byValue = new Map();
        out.set(name, byValue);
      }
      byValue.set(value, list);
    }
    this.postings = out;
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cache.clear();
    closeSync(this.fd);
  }
}

/** Moves past one series entry (after its id) without building anything. */
function skipEntry(r: ByteReader): void {
  const nLabels = r.uvarint();
  for (let i = 0; i < 2 * nLabels; i++) r.uvarint();
  const n = r.uvarint();
  for (let k = 0; k < n; k++) {
    const step = r.uvarint();
    if (k === 0 || step > 0) r.uvarint();
    r.varint();
    r.uvarint();
    r.uvarint();
    r.uvarint();
  }
}
