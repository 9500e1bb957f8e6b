/**
 * The data dir's `blocks/` directory: every block readable at open, oldest first. Opening
 * finishes what a crash interrupted (a `.tmp` directory is deleted; the sources of a finished
 * compaction that are still there are deleted), and a block that cannot be read is left on disk,
 * reported and skipped. Retention deletes whole blocks; compaction merges the blocks of one
 * aligned window into one.
 */
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { BLOCKS_DIR, type BlockMeta, parseBlockName, TMP_SUFFIX } from "./format.js";
import { type BlockChunk, BlockReader } from "./reader.js";
import { fsyncDir } from "./writer.js";

export interface UnreadableBlock {
  name: string;
  minT: number;
  maxT: number;
  reason: string;
}

export interface BlockSetReport {
  opened: number;
  /** Blocks left on disk because they could not be read. */
  unreadable: UnreadableBlock[];
  /** Leftovers of an interrupted seal or compaction that opening deleted. */
  removed: string[];
}

export class BlockSet {
  readonly dir: string;
  private readers: BlockReader[] = [];
  /** Blocks on disk that cannot be read: their range still counts as sealed. */
  readonly unreadable: UnreadableBlock[] = [];

  private constructor(dir: string) {
    this.dir = dir;
  }

  static open(dataDir: string): { set: BlockSet; report: BlockSetReport } {
    const dir = join(dataDir, BLOCKS_DIR);
    mkdirSync(dir, { recursive: true });
    const set = new BlockSet(dir);
    const report: BlockSetReport = { opened: 0, unreadable: set.unreadable, removed: [] };
    const found: BlockReader[] = [];
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      if (entry.name.endsWith(TMP_SUFFIX)) {
        rmSync(join(dir, entry.name), { recursive: true, force: true });
        report.removed.push(entry.name);
        continue;
      }
      const range = parseBlockName(entry.name);
      if (range === null) continue;
      try {
        found.push(BlockReader.open(join(dir, entry.name), entry.name));
      } catch (err) {
        set.unreadable.push({ name: entry.name, ...range, reason: (err as Error).message });
      }
    }
    // A compaction renames its result into place before it deletes its sources: sources still
    // here were merged already.
    const merged = new Set(found.flatMap((r) => r.meta.sources));
    const kept: BlockReader[] = [];
    for (const r of found) {
      if (merged.has(r.name)) {
        r.close();
        rmSync(r.dir, { recursive: true, force: true });
        report.removed.push(r.name);
      } else kept.push(r);
    }
    kept.sort((a, b) => a.meta.minT - b.meta.minT);
    set.readers = kept;
    report.opened = kept.length;
    if (report.removed.length) fsyncDir(dir);
    return { set, report };
  }

  get blocks(): readonly BlockReader[] {
    return this.readers;
  }

  /** The end of the newest block on disk (readable or not), or -Infinity. */
  maxT(): number {
    let t = Number.NEGATIVE_INFINITY;
    for (const r of this.readers) if (r.meta.maxT > t) t = r.meta.maxT;
    for (const u of this.unreadable) if (u.maxT > t) t = u.maxT;
    return t;
  }

  /** Bytes of the block files (chunks and index). */
  bytes(): number {
    let n = 0;
    for (const r of this.readers) n += r.chunksBytes + r.indexBytes;
    return n;
  }

  maxSeriesId(): number {
    let id = 0;
    for (const r of this.readers) id = Math.max(id, r.maxId());
    return id;
  }

  covers(minT: number, maxT: number): boolean {
    return this.readers.some((r) => r.meta.minT <= minT && maxT <= r.meta.maxT);
  }

  /** Chunks of series `id` that overlap [mint, maxt], oldest first, across blocks. */
  chunks(id: number, mint: number, maxt: number, warnings: string[]): BlockChunk[] {
    let out: BlockChunk[] | null = null;
    for (const r of this.readers) {
      if (r.meta.maxT <= mint || r.meta.minT > maxt) continue;
      const got = r.chunks(id, mint, maxt, warnings);
      if (got.length) out = out === null ? got : out.concat(got);
    }
    return out ?? [];
  }

  add(meta: BlockMeta, name: string): void {
    const r = BlockReader.open(join(this.dir, name), name);
    if (r.meta.minT !== meta.minT || r.meta.maxT !== meta.maxT) {
      r.close();
      throw new Error(`block ${name} does not read back as written`);
    }
    this.readers.push(r);
    this.readers.sort((a, b) => a.meta.minT - b.meta.minT);
  }

  /** Deletes the blocks that end at or before `t`; returns their names. */
  deleteBefore(t: number): string[] {
    const doomed = this.readers.filter((r) => r.meta.maxT <= t);
    if (doomed.length === 0) return [];
    this.readers = this.readers.filter((r) => r.meta.maxT > t);
    for (const r of doomed) {
      r.close();
      rmSync(r.dir, { recursive: true, force: true });
    }
    fsyncDir(this.dir);
    return doomed.map((r) => r.name);
  }

  /**
   * Blocks to merge: the first aligned window of `rangeMs` that ends at or before `sealedBefore`
   * and holds two blocks or more, all inside it. Null when nothing is to be merged.
   */
  planCompaction(rangeMs: number, sealedBefore: number): BlockReader[] | null {
    const byWindow = new Map<number, BlockReader[]>();
    for (const r of this.readers) {
      const w = Math.floor(r.meta.minT / rangeMs);
      if (Math.floor((r.meta.maxT - 1) / rangeMs) !== w) continue; // spans windows: left alone
      if ((w + 1) * rangeMs > sealedBefore) continue;
      const list = byWindow.get(w);
      if (list) list.push(r);
      else byWindow.set(w, [r]);
    }
    for (const w of [...byWindow.keys()].sort((a, b) => a - b)) {
      const list = byWindow.get(w) as BlockReader[];
      if (list.length >= 2) return list;
    }
    return null;
  }

  /** Puts a merged block in place of its sources (already written, see jobs.ts) and deletes them. */
  replace(sources: readonly string[], meta: BlockMeta, name: string): void {
    this.add(meta, name);
    const gone = new Set(sources);
    const doomed = this.readers.filter((r) => gone.has(r.name));
    this.readers = this.readers.filter((r) => !gone.has(r.name));
    for (const r of doomed) {
      r.close();
      rmSync(r.dir, { recursive: true, force: true });
    }
    fsyncDir(this.dir);
  }

  close(): void {
    for (const r of this.readers) r.close();
    this.readers = [];
  }
}
