/**
 * Deterministic workload for the durability tests, and the child process that crash.test.ts kills.
 *
 * As a module it exports the batch generator: batch `b` of seed `s` is always the same samples
 * (series, timestamps, value bits), so a test can recompute what any committed batch held.
 *
 * Run as a script (`node --import tsx test/tsdb/crash-child.ts <dir> <seed> [firstBatch]`) it opens the
 * store with tiny maintenance/checkpoint settings, prints `ready <recovery JSON>`, then commits batch
 * after batch, printing `committed <b>` after each commit() returns, until it is killed.
 */
import { writeSync } from "node:fs";
import { resolve } from "node:path";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { mulberry32 } from "../../src/sim/random.js";
import { type Labels, labelsFromObject } from "../../src/storage/index.js";
import type { TsdbOptions } from "../../src/tsdb/options.js";
import { Tsdb } from "../../src/tsdb/tsdb.js";

/** Timestamp of batch 0; batch b covers [T0 + b·BATCH_SPAN_MS, T0 + (b+1)·BATCH_SPAN_MS). */
export const T0 = 1_700_000_000_000;
export const BATCH_SPAN_MS = 10_000;
export const METRIC = "crash_test";

/** Options of the crash child: maintenance, checkpoints, chunk cuts and log truncation all happen often. */
export function childOptions(dir: string): TsdbOptions {
  return {
    dir,
    maintenanceIntervalMs: 50,
    checkpointIntervalMs: 150,
    checkpointWalBytes: 200_000,
    // 60 batches per block table; series idle for 6 batches get their open chunk closed.
    blockDurationMs: 600_000,
    memoryWindowMs: 60_000,
  };
}

/** One committed batch, in append order. Values are kept in a Float64Array so NaN payloads survive. */
export interface Batch {
  readonly batchNo: number;
  readonly count: number;
  /** Series index of each sample (see `seriesLabels`). */
  readonly series: Uint32Array;
  readonly ts: Float64Array;
  readonly vs: Float64Array;
}

/** A uint32 mix of two numbers (murmur3-style finaliser). */
export function mix(a: number, b: number): number {
  let h = Math.imul((a ^ 0x9e3779b9) >>> 0, 0x85ebca6b) ^ Math.imul((b + 0x632be5ab) >>> 0, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** mulberry32 as a uint32 generator: its [0, 1) outputs times 2^32 (exact, so the same integers). */
export function rng(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() * 4294967296;
}

const labelCache = new Map<number, Labels>();

/** Labels of series `i`; some carry a non-ASCII value, some an empty one (which is dropped). */
export function seriesLabels(i: number): Labels {
  let l = labelCache.get(i);
  if (l === undefined) {
    l = labelsFromObject({
      __name__: METRIC,
      idx: String(i),
      job: `job-${i % 5}`,
      note: i % 17 === 0 ? 'ünïcödé ✓ "q"' : i % 3 === 0 ? "" : `n${i % 7}`,
    });
    labelCache.set(i, l);
  }
  return l;
}

/** Series indices that exist once batch b is committed are [0, seriesBornBy(b)). */
export function seriesBornBy(b: number): number {
  return 150 + 4 * (b + 1);
}

/** Only the newest WINDOW series take part in a batch: older ones go idle for good. */
const WINDOW = 500;

const STALE_HI = 0x7ff00000;
const STALE_LO = 0x00000002;

/**
 * Batch b: the 4 series born in it (154 in batch 0) plus 150–399 random older series of the
 * window; 1,000–5,000 samples spread evenly over them, each series' timestamps increasing inside
 * [T0 + b·SPAN, T0 + b·SPAN + 8,500). Values mix NaNs (several payloads, the stale marker,
 * signalling ones), ±Inf, ±0, denormals, repeats, counters and random 64-bit patterns.
 */
export function generateBatch(seed: number, b: number): Batch {
  const r = rng(mix(seed, b));
  const born = seriesBornBy(b);
  const newFrom = b === 0 ? 0 : seriesBornBy(b - 1);
  const lo = Math.max(0, born - WINDOW);
  const pool: number[] = [];
  for (let i = lo; i < newFrom; i++) pool.push(i);
  const k = Math.min(pool.length, 150 + (r() % 250));
  for (let i = 0; i < k; i++) {
    const j = i + (r() % (pool.length - i));
    const x = pool[i];
    pool[i] = pool[j];
    pool[j] = x;
  }
  const chosen = pool.slice(0, k);
  for (let i = newFrom; i < born; i++) chosen.push(i);
  chosen.sort((x, y) => x - y);

  const total = 1000 + (r() % 4001);
  const per = Math.floor(total / chosen.length);
  const extra = total % chosen.length;
  const base = T0 + b * BATCH_SPAN_MS;

  // Per series columns first, then interleaved sample-major like a scrape.
  const perTs: number[][] = [];
  const perBits: Uint32Array[] = [];
  for (let c = 0; c < chosen.length; c++) {
    const m = per + (c < extra ? 1 : 0);
    const regular = r() % 3 === 0;
    const ts: number[] = [];
    const bits = new Uint32Array(2 * m); // [lo, hi] pairs
    let pl = 0;
    let ph = 0;
    for (let j = 0; j < m; j++) {
      ts.push(base + j * 250 + (regular ? 0 : r() % 250));
      let l: number;
      let h: number;
      const kind = r() % 100;
      if (kind < 6) [h, l] = [STALE_HI, STALE_LO];
      else if (kind < 9)
        [h, l] = [0x7ff80000, 0]; // the NaN JS produces
      else if (kind < 11)
        [h, l] = [0xfff80000, 0]; // negative quiet NaN
      else if (kind < 13)
        [h, l] = [0x7ff8dead, 0xbeef0001]; // quiet NaN with a payload
      else if (kind < 15)
        [h, l] = [0x7ff00000, 0x00000001 + (r() % 0xffff) * 4]; // signalling NaN
      else if (kind < 18)
        [h, l] = [0x7ff00000, 0]; // +Inf
      else if (kind < 21)
        [h, l] = [0xfff00000, 0]; // -Inf
      else if (kind < 25)
        [h, l] = [0x80000000, 0]; // -0
      else if (kind < 28)
        [h, l] = [0, 0]; // +0
      else if (kind < 31)
        [h, l] = [0, 1]; // smallest denormal
      else if (kind < 38)
        [h, l] = [(r() & 0x000fffff) | (r() & 0x80000000), r()]; // denormal
      else if (kind < 50 && j > 0)
        [h, l] = [ph, pl]; // same bits as before
      else if (kind < 70) {
        scratch[0] = b * 1000 + j; // counter-like: small XOR deltas
        [h, l] = [scratchU32[1], scratchU32[0]];
      } else [h, l] = [r(), r()]; // any 64 bits, NaNs included
      bits[2 * j] = l;
      bits[2 * j + 1] = h;
      pl = l;
      ph = h;
    }
    perTs.push(ts);
    perBits.push(bits);
  }
  const series = new Uint32Array(total);
  const ts = new Float64Array(total);
  const vs = new Float64Array(total);
  const vu = new Uint32Array(vs.buffer);
  let n = 0;
  for (let j = 0; j <= per; j++) {
    for (let c = 0; c < chosen.length; c++) {
      if (j >= perTs[c].length) continue;
      series[n] = chosen[c];
      ts[n] = perTs[c][j];
      vu[2 * n] = perBits[c][2 * j];
      vu[2 * n + 1] = perBits[c][2 * j + 1];
      n++;
    }
  }
  if (n !== total) throw new Error(`generator bug: ${n} != ${total}`);
  return { batchNo: b, count: total, series, ts, vs };
}

const scratch = new Float64Array(1);
const scratchU32 = new Uint32Array(scratch.buffer);

/** Appends one batch through a fresh appender and commits it. `refs` caches series refs. */
export function commitBatch(db: Tsdb, batch: Batch, refs: Map<number, number>): void {
  const app = db.appender();
  for (let i = 0; i < batch.count; i++) {
    const s = batch.series[i];
    refs.set(s, app.append(refs.get(s) ?? 0, seriesLabels(s), batch.ts[i], batch.vs[i]));
  }
  app.commit();
}

async function main(): Promise<void> {
  const [dir, seedArg, firstArg] = process.argv.slice(2);
  const seed = Number(seedArg) >>> 0;
  const first = Number(firstArg ?? 0);
  const say = (line: string) => writeSync(1, `${line}\n`);
  const db = Tsdb.open({ ...childOptions(dir), log: (m) => writeSync(2, `${m}\n`) });
  const { durationMs: _, ...recovery } = db.recovery;
  say(`ready ${JSON.stringify(recovery)}`);
  const refs = new Map<number, number>();
  // A bound so a child whose parent died does not fill the disk.
  for (let b = first; b < first + 5000; b++) {
    commitBatch(db, generateBatch(seed, b), refs);
    say(`committed ${b}`);
    // Let the maintenance timer (checkpoints, chunk writes, log truncation) run between batches.
    await yieldToLoop();
  }
  db.close();
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err) => {
    writeSync(2, `crash-child failed: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
