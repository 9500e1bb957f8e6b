/**
 * Writes one block: series in ascending id order, each with its chunks in time order. Chunk
 * bytes stream into the chunks file page by page; the index (labels, chunk positions, postings,
 * page offsets) is kept as numbers until the end, then written in one go. Everything goes into
 * `<name>.tmp/`, is fsynced, and is renamed into place: a crash leaves either the whole block or
 * a `.tmp` directory that opening the block set deletes.
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { compareLabels, formatLabels, type Labels } from "../../storage/index.js";
import { PADDING } from "../chunk/xor.js";
import { ByteWriter } from "./bytes.js";
import { CODEC_ZSTD, compressPage } from "./codec.js";
import {
  type BlockMeta,
  blockName,
  CHUNKS_FILE,
  CHUNKS_MAGIC,
  FORMAT_VERSION,
  INDEX_FILE,
  INDEX_MAGIC,
  META_FILE,
  PAGE_TARGET_BYTES,
  TMP_SUFFIX,
} from "./format.js";

export interface BlockWriteOptions {
  /** Directory the block goes into (the data dir's `blocks/`). */
  dir: string;
  minT: number;
  maxT: number;
  level?: number;
  sources?: string[];
  /** Page size target in bytes (tests use small pages to cross page boundaries). */
  pageBytes?: number;
}

/** Fields per chunk in the writer's table: minT, maxT, page, offset in page, byte length, samples. */
const CHUNK_FIELDS = 6;

export class BlockWriter {
  readonly name: string;
  private readonly tmp: string;
  private readonly final: string;
  private readonly fd: number;
  private fileOffset = 0;
  private readonly pageBytes: number;
  private page = new Uint8Array(0);
  private pageUsed = 0;
  private readonly pageOffsets: number[] = [];
  private readonly ids: number[] = [];
  private readonly labels: Labels[] = [];
  /** Per series: index of its first chunk in `chunks` / CHUNK_FIELDS, and one past its last. */
  private readonly chunkStart: number[] = [];
  private chunks = new Float64Array(1024 * CHUNK_FIELDS);
  private nChunks = 0;
  private samples = 0;
  private seriesOpen = false;
  private finished = false;

  constructor(private readonly opts: BlockWriteOptions) {
    if (!(opts.minT < opts.maxT)) throw new RangeError(`block range [${opts.minT}, ${opts.maxT}) is empty`);
    this.name = blockName(opts.minT, opts.maxT);
    this.tmp = join(opts.dir, this.name + TMP_SUFFIX);
    this.final = join(opts.dir, this.name);
    this.pageBytes = opts.pageBytes ?? PAGE_TARGET_BYTES;
    rmSync(this.tmp, { recursive: true, force: true });
    mkdirSync(this.tmp, { recursive: true });
    this.fd = openSync(join(this.tmp, CHUNKS_FILE), "w");
    const header = Buffer.alloc(8);
    header.writeUInt32BE(CHUNKS_MAGIC, 0);
    header[4] = FORMAT_VERSION;
    header[5] = CODEC_ZSTD;
    this.write(header);
    this.page = new Uint8Array(this.pageBytes + 64 * 1024);
  }

  /**
   * Starts a series; series come in label order (compareLabels), as a sorted select reads them,
   * so that a query walks pages front to back. Its chunks follow through addChunk.
   */
  addSeries(id: number, labels: Labels): void {
    const last = this.labels.length ? this.labels[this.labels.length - 1] : null;
    if (last !== null && compareLabels(last, labels) >= 0) {
      throw new RangeError(
        `series ${formatLabels(labels)} after ${formatLabels(last)}: series must ascend by labels`,
      );
    }
    this.ids.push(id);
    this.labels.push(labels);
    this.chunkStart.push(this.nChunks);
    this.seriesOpen = true;
  }

  /** Adds one chunk (its exact bytes, no padding) of the current series; chunks ascend in time. */
  addChunk(minT: number, maxT: number, count: number, bytes: Uint8Array): void {
    if (!this.seriesOpen) throw new Error("addChunk before addSeries");
    if (minT < this.opts.minT || maxT >= this.opts.maxT) {
      throw new RangeError(`chunk ${minT}..${maxT} outside block [${this.opts.minT}, ${this.opts.maxT})`);
    }
    if (this.pageUsed > 0 && this.pageUsed + bytes.length > this.pageBytes) this.flushPage();
    if (this.pageUsed + bytes.length + PADDING > this.page.length) {
      const grown = new Uint8Array(this.pageUsed + bytes.length + PADDING);
      grown.set(this.page.subarray(0, this.pageUsed));
      this.page = grown;
    }
    const at = this.pageUsed;
    this.page.set(bytes, at);
    this.pageUsed += bytes.length;
    if ((this.nChunks + 1) * CHUNK_FIELDS > this.chunks.length) {
      const grown = new Float64Array(this.chunks.length * 2);
      grown.set(this.chunks);
      this.chunks = grown;
    }
    const c = this.nChunks * CHUNK_FIELDS;
    this.chunks[c] = minT;
    this.chunks[c + 1] = maxT;
    this.chunks[c + 2] = this.pageOffsets.length;
    this.chunks[c + 3] = at;
    this.chunks[c + 4] = bytes.length;
    this.chunks[c + 5] = count;
    this.nChunks++;
    this.samples += count;
  }

  private write(b: Uint8Array): void {
    let done = 0;
    while (done < b.length) done += writeSync(this.fd, b, done, b.length - done);
    this.fileOffset += b.length;
  }

  private flushPage(): void {
    if (this.pageUsed === 0) return;
    // The reader's look-ahead: every page ends in PADDING zero bytes, stored (they compress away).
    this.page.fill(0, this.pageUsed, this.pageUsed + PADDING);
    const raw = this.page.subarray(0, this.pageUsed + PADDING);
    const stored = compressPage(raw);
    const head = Buffer.allocUnsafe(8);
    head.writeUInt32LE(stored.length, 0);
    head.writeUInt32LE(raw.length, 4);
    const tail = Buffer.allocUnsafe(4);
    tail.writeUInt32LE(crc32(stored), 0);
    this.pageOffsets.push(this.fileOffset);
    this.write(head);
    this.write(stored);
    this.write(tail);
    this.pageUsed = 0;
  }

  /** Writes the index and meta, fsyncs, and renames the block into place; returns its meta. */
  finish(): BlockMeta {
    if (this.finished) throw new Error("block already finished");
    this.finished = true;
    try {
      this.flushPage();
      fsyncSync(this.fd);
      closeSync(this.fd);
      writeDurably(join(this.tmp, INDEX_FILE), this.encodeIndex());
      const meta: BlockMeta = {
        version: FORMAT_VERSION,
        minT: this.opts.minT,
        maxT: this.opts.maxT,
        series: this.ids.length,
        chunks: this.nChunks,
        samples: this.samples,
        level: this.opts.level ?? 1,
        sources: this.opts.sources ?? [],
      };
      writeDurably(join(this.tmp, META_FILE), Buffer.from(`${JSON.stringify(meta, null, 2)}\n`));
      fsyncDir(this.tmp);
      // Only a job cut short after its rename leaves the same block here (its table was not dropped).
      rmSync(this.final, { recursive: true, force: true });
      renameSync(this.tmp, this.final);
      fsyncDir(this.opts.dir);
      return meta;
    } catch (err) {
      rmSync(this.tmp, { recursive: true, force: true });
      throw err;
    }
  }

  /** Drops what was written (a failed seal or compaction). */
  abort(): void {
    if (!this.finished) {
      this.finished = true;
      try {
        closeSync(this.fd);
      } catch {
        // already closed by a failed finish
      }
    }
    rmSync(this.tmp, { recursive: true, force: true });
  }

  private encodeIndex(): Uint8Array {
    const symbolIds = new Map<string, number>();
    for (const ls of this.labels) for (const l of ls) symbolIds.set(l.name, 0).set(l.value, 0);
    const symbols = [...symbolIds.keys()].sort(compareUtf8);
    for (let i = 0; i < symbols.length; i++) symbolIds.set(symbols[i], i);

    const w = new ByteWriter(64 * 1024);
    w.u32be(INDEX_MAGIC);
    w.u8(FORMAT_VERSION);
    w.u8(0);
    w.u8(0);
    w.u8(0);
    const enc = new TextEncoder();
    const symbolsAt = w.length;
    w.u32(symbols.length);
    for (const s of symbols) {
      const b = enc.encode(s);
      w.uvarint(b.length);
      w.bytes(b);
    }

    const seriesAt = w.length;
    w.u32(this.ids.length);
    const postings = new Map<string, Map<string, number[]>>();
    for (let i = 0; i < this.ids.length; i++) {
      w.uvarint(this.ids[i]);
      const ls = this.labels[i];
      w.uvarint(ls.length);
      for (const l of ls) {
        w.uvarint(symbolIds.get(l.name) as number);
        w.uvarint(symbolIds.get(l.value) as number);
        let byValue = postings.get(l.name);
        if (byValue === undefined) {
          byValue = new Map();
          postings.set(l.name, byValue);
        }
        const list = byValue.get(l.value);
        if (list === undefined) byValue.set(l.value, [i]);
        else list.push(i);
      }
      const from = this.chunkStart[i];
      const to = i + 1 < this.ids.length ? this.chunkStart[i + 1] : this.nChunks;
      w.uvarint(to - from);
      let prevPage = 0;
      let prevEnd = 0;
      let prevMaxT = 0;
      for (let k = from; k < to; k++) {
        const c = k * CHUNK_FIELDS;
        const [minT, maxT, page, offset, length, count] = [
          this.chunks[c],
          this.chunks[c + 1],
          this.chunks[c + 2],
          this.chunks[c + 3],
          this.chunks[c + 4],
          this.chunks[c + 5],
        ];
        if (k === from) {
          w.uvarint(page);
          w.uvarint(offset);
          w.varint(minT);
        } else {
          w.uvarint(page - prevPage);
          if (page !== prevPage) w.uvarint(offset);
          else if (offset !== prevEnd) throw new Error(`chunk ${k} is not where the previous one ended`);
          w.varint(minT - prevMaxT);
        }
        w.uvarint(maxT - minT);
        w.uvarint(length);
        w.uvarint(count);
        prevPage = page;
        prevEnd = offset + length;
        prevMaxT = maxT;
      }
    }

    const postingsAt = w.length;
    let pairs = 0;
    for (const byValue of postings.values()) pairs += byValue.size;
    w.u32(pairs);
    for (const name of [...postings.keys()].sort(compareUtf8)) {
      const byValue = postings.get(name) as Map<string, number[]>;
      for (const value of [...byValue.keys()].sort(compareUtf8)) {
        const list = byValue.get(value) as number[];
        w.uvarint(symbolIds.get(name) as number);
        w.uvarint(symbolIds.get(value) as number);
        w.uvarint(list.length);
        let prev = 0;
        for (const p of list) {
          w.uvarint(p - prev);
          prev = p;
        }
      }
    }

    const pagesAt = w.length;
    w.u32(this.pageOffsets.length);
    let prevOffset = 0;
    for (const o of this.pageOffsets) {
      w.uvarint(o - prevOffset);
      prevOffset = o;
    }

    const byIdAt = w.length;
    const order = this.ids.map((_, i) => i).sort((a, b) => this.ids[a] - this.ids[b]);
    w.u32(order.length);
    let prevId = 0;
    for (const pos of order) {
      w.uvarint(this.ids[pos] - prevId);
      prevId = this.ids[pos];
      w.uvarint(pos);
    }

    const tocAt = w.length;
    if (tocAt > 0xffff_ffff) throw new RangeError(`index of block ${this.name} exceeds 4 GiB`);
    w.u32(symbolsAt);
    w.u32(seriesAt);
    w.u32(postingsAt);
    w.u32(pagesAt);
    w.u32(byIdAt);
    w.u32(crc32(w.written()));
    return w.written();
  }
}

/** Byte order of UTF-8, which for strings is code point order (not JS's UTF-16 order). */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function writeDurably(path: string, data: Uint8Array): void {
  writeFileSync(path, data);
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
