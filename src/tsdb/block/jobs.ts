/**
 * The two jobs that write block files, as functions of files alone so that they can run on a
 * worker thread (block-job-worker.ts) while the store's thread goes on taking samples:
 *
 * - seal: a block table of tsdb.sqlite (read through its own read-only connection, a snapshot
 *   beside the writer's) into one block, each series' labels from the series table;
 * - merge: adjacent blocks into one.
 *
 * Neither changes anything the store reads: the result is a new block directory. The store's
 * thread then adds it, and drops the table or deletes the sources.
 */
import { Worker } from "node:worker_threads";
import Database from "better-sqlite3";
import { compareLabels, type Labels } from "../../storage/index.js";
import { chunkSeed, labelsCrc, unseal } from "../sqlite-store.js";
import type { BlockMeta } from "./format.js";
import { BlockReader } from "./reader.js";
import { BlockWriter } from "./writer.js";

export interface SealJob {
  kind: "seal";
  /** The `blocks/` directory and the SQLite file. */
  blocksDir: string;
  sqlitePath: string;
  table: string;
  minT: number;
  maxT: number;
}

export interface MergeJob {
  kind: "merge";
  blocksDir: string;
  /** Source block names, all in `blocksDir`. */
  sources: string[];
}

export type BlockJob = SealJob | MergeJob;

export interface BlockJobResult {
  name: string;
  meta: BlockMeta;
  /** Chunks left out: damaged, or of a series whose row is gone or damaged. */
  lost: number;
  warnings: string[];
}

export function runBlockJob(job: BlockJob): BlockJobResult {
  return job.kind === "seal" ? sealTable(job) : mergeBlocks(job);
}

function sealTable(job: SealJob): BlockJobResult {
  const db = new Database(job.sqlitePath, { readonly: true, fileMustExist: true });
  const writer = new BlockWriter({ dir: job.blocksDir, minT: job.minT, maxT: job.maxT });
  const warnings: string[] = [];
  let damaged = 0;
  let orphans = 0;
  try {
    // One read snapshot for the whole job.
    db.exec("BEGIN");
    const labelsOf = db.prepare("SELECT labels, crc FROM series WHERE id = ?");
    const known: { id: number; labels: Labels }[] = [];
    const ids = db.prepare(`SELECT DISTINCT series_id FROM ${job.table}`).pluck().all() as number[];
    const countOf = db.prepare(`SELECT count(*) FROM ${job.table} WHERE series_id = ?`).pluck();
    for (const id of ids) {
      const row = labelsOf.get(id) as { labels: string; crc: number } | undefined;
      if (row === undefined || labelsCrc(row.labels, id) !== row.crc) {
        orphans += countOf.get(id) as number;
        continue;
      }
      known.push({ id, labels: pairs(JSON.parse(row.labels) as string[]) });
    }
    // Label order: a sorted select then reads the block's pages front to back.
    known.sort((a, b) => compareLabels(a.labels, b.labels));
    const chunksOf = db
      .prepare(`SELECT min_t, max_t, data FROM ${job.table} WHERE series_id = ? ORDER BY max_t`)
      .raw();
    for (const { id, labels } of known) {
      writer.addSeries(id, labels);
      for (const [minT, maxT, blob] of chunksOf.all(id) as [number, number, Buffer][]) {
        const body = unseal(blob, chunkSeed(id, minT, maxT));
        if (body === null) {
          damaged++;
          continue;
        }
        writer.addChunk(minT, maxT, (body[0] << 8) | body[1], body);
      }
    }
    db.exec("COMMIT");
    const meta = writer.finish();
    if (damaged) warnings.push(`${damaged} damaged chunks of ${job.table} left out of block ${writer.name}`);
    if (orphans)
      warnings.push(
        `${orphans} chunks of ${job.table} whose series row is lost left out of block ${writer.name}`,
      );
    return { name: writer.name, meta, lost: damaged + orphans, warnings };
  } catch (err) {
    writer.abort();
    throw err;
  } finally {
    db.close();
  }
}

function pairs(flat: string[]): { name: string; value: string }[] {
  const out: { name: string; value: string }[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push({ name: flat[i], value: flat[i + 1] });
  return out;
}

/**
 * Merges blocks (adjacent, non-overlapping): a merge of their series in label order, each
 * series' chunks taken from the sources oldest first.
 */
function mergeBlocks(job: MergeJob): BlockJobResult {
  const sources = job.sources
    .map((name) => BlockReader.open(`${job.blocksDir}/${name}`, name))
    .sort((a, b) => a.meta.minT - b.meta.minT);
  const warnings: string[] = [];
  let lost = 0;
  const writer = new BlockWriter({
    dir: job.blocksDir,
    minT: sources[0].meta.minT,
    maxT: Math.max(...sources.map((r) => r.meta.maxT)),
    level: Math.max(...sources.map((r) => r.meta.level)) + 1,
    sources: sources.map((r) => r.name),
  });
  try {
    const cursors = sources.map(() => 0);
    const heads: (Labels | null)[] = sources.map((r) => (r.seriesCount ? r.labels(0) : null));
    for (;;) {
      let next: Labels | null = null;
      for (const h of heads) if (h !== null && (next === null || compareLabels(h, next) < 0)) next = h;
      if (next === null) break;
      let first = true;
      for (let i = 0; i < sources.length; i++) {
        const h = heads[i];
        if (h === null || compareLabels(h, next) !== 0) continue;
        const r = sources[i];
        const id = r.seriesId(cursors[i]);
        if (first) writer.addSeries(id, next);
        first = false;
        for (const p of r.positions(cursors[i])) {
          const page = r.page(p.page);
          if (page instanceof Error) {
            lost++;
            warnings.push(
              `block ${r.name}: chunk ${p.minT}..${p.maxT} of series ${id} lost in compaction: ${page.message}`,
            );
            continue;
          }
          writer.addChunk(p.minT, p.maxT, p.count, page.subarray(p.offset, p.offset + p.length));
        }
        cursors[i]++;
        heads[i] = cursors[i] < r.seriesCount ? r.labels(cursors[i]) : null;
      }
    }
    const meta = writer.finish();
    return { name: writer.name, meta, lost, warnings };
  } catch (err) {
    writer.abort();
    throw err;
  } finally {
    for (const r of sources) r.close();
  }
}

/** Runs a job on a worker thread of its own; the promise settles with its result or its error. */
export function runBlockJobInWorker(job: BlockJob): { done: Promise<BlockJobResult>; cancel: () => void } {
  const worker = new Worker(new URL("../worker-bootstrap.mjs", import.meta.url), {
    workerData: { entry: new URL("./block-job-worker.ts", import.meta.url).href, job },
  });
  worker.unref();
  const done = new Promise<BlockJobResult>((resolve, reject) => {
    worker.once("message", (m: { ok: true; result: BlockJobResult } | { ok: false; message: string }) => {
      if (m.ok) resolve(m.result);
      else reject(new Error(m.message));
    });
    worker.once("error", reject);
    worker.once("exit", (code) =>
      reject(new Error(`block job worker exited with code ${code} before it answered`)),
    );
  });
  return { done, cancel: () => void worker.terminate() };
}
