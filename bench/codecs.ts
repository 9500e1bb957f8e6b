/**
 * npm run bench:codecs — which general-purpose codec to put over the store's Gorilla (XOR) chunks
 * in the block files of the storage rebuild: bytes per sample and speed of each codec on this
 * product's own data, so the choice is measured rather than guessed.
 *
 * Data: a synthetic fleet (bench/fleet.ts; BENCH_PROJECTS × BENCH_MODELS × 2 tiers × 47 series,
 * default 20 × 5 = 9,400 series) scraped every BENCH_SCRAPE_S seconds (default 15) for BENCH_HOURS
 * (default 24) into the embedded TSDB; then every series' chunks, as the store holds them, are laid
 * out series after series (as a block's chunk file would) and compressed in pages of PAGE_KIB
 * (default 64 and 512 KiB: a page is what one read decompresses). Prints a table, then one JSON
 * line. Node's zlib (deflate, brotli) is always measured; zstd when the optional `zstd-napi`
 * dependency built on this machine.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  brotliCompressSync,
  brotliDecompressSync,
  constants,
  deflateRawSync,
  inflateRawSync,
} from "node:zlib";
import { Matcher, MatchType } from "../src/storage/index.js";
import { Tsdb } from "../src/tsdb/tsdb.js";
import { Fleet } from "./fleet.js";
import { ingestFleet } from "./ingest-fleet.js";
import { fmt } from "./tsdb-util.js";

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const PROJECTS = env("BENCH_PROJECTS", 20);
const MODELS = env("BENCH_MODELS", 5);
const SCRAPE_S = env("BENCH_SCRAPE_S", 15);
const HOURS = env("BENCH_HOURS", 24);
const PAGES_KIB = (process.env.PAGE_KIB ?? "64,512").split(",").map(Number);
const END = Date.UTC(2026, 10, 8);

interface Codec {
  name: string;
  compress(page: Uint8Array): Uint8Array;
  decompress(packed: Uint8Array, size: number): Uint8Array;
}

interface Zstd {
  compress(data: Uint8Array, parameters?: { compressionLevel?: number }): Uint8Array;
  decompress(data: Uint8Array): Uint8Array;
}

function loadZstd(): Zstd | undefined {
  try {
    return createRequire(import.meta.url)("zstd-napi") as Zstd;
  } catch {
    return undefined;
  }
}

function codecs(zstd: Zstd | undefined): Codec[] {
  const out: Codec[] = [{ name: "none (XOR chunks as stored)", compress: (p) => p, decompress: (p) => p }];
  for (const level of [1, 6, 9]) {
    out.push({
      name: `deflate ${level}`,
      compress: (p) => deflateRawSync(p, { level }),
      decompress: (p) => inflateRawSync(p),
    });
  }
  for (const quality of [4, 9, 11]) {
    out.push({
      name: `brotli ${quality}`,
      compress: (p) =>
        brotliCompressSync(p, {
          params: { [constants.BROTLI_PARAM_QUALITY]: quality, [constants.BROTLI_PARAM_SIZE_HINT]: p.length },
        }),
      decompress: (p) => brotliDecompressSync(p),
    });
  }
  if (zstd) {
    for (const level of [1, 3, 9, 19]) {
      out.push({
        name: `zstd ${level}`,
        compress: (p) => zstd.compress(p, { compressionLevel: level }),
        decompress: (p) => zstd.decompress(p),
      });
    }
  }
  return out;
}

/** Every series' chunk bytes, series after series, as one buffer; and how many samples they hold. */
function chunkBytes(db: Tsdb): { bytes: Uint8Array; samples: number; series: number } {
  const parts: Uint8Array[] = [];
  let samples = 0;
  let series = 0;
  const q = db.querier(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  try {
    const set = q.select(false, undefined, new Matcher(MatchType.Regexp, "__name__", ".+"));
    while (set.next()) {
      const s = set.at() as unknown as {
        exportChunks?: () => { chunks: Array<{ bytes: Uint8Array; count: number }> };
      };
      if (typeof s.exportChunks !== "function") throw new Error("the store's series no longer export chunks");
      series++;
      for (const c of s.exportChunks().chunks) {
        parts.push(c.bytes);
        samples += c.count;
      }
    }
  } finally {
    q.close();
  }
  return { bytes: Buffer.concat(parts), samples, series };
}

/** Copying nothing has no meaningful speed. */
const speed = (codec: string, mbPerS: number) => (codec.startsWith("none") ? "-" : fmt(mbPerS, 0));

function pages(bytes: Uint8Array, pageBytes: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += pageBytes) out.push(bytes.subarray(at, at + pageBytes));
  return out;
}

const root = mkdtempSync(join(tmpdir(), "mim-bench-codecs-"));
try {
  const db = Tsdb.open({ dir: join(root, "db"), maintenanceIntervalMs: 0, now: () => END });
  const fleet = new Fleet(PROJECTS, MODELS, undefined, 1, SCRAPE_S);
  const scrapes = (HOURS * 3_600_000) / (SCRAPE_S * 1000) + 1;
  process.stderr.write(`loading ${HOURS} h of ${fmt(fleet.seriesCount)} series every ${SCRAPE_S} s…\n`);
  ingestFleet(db, fleet, [], END - HOURS * 3_600_000, scrapes, 5000);
  const data = chunkBytes(db);
  db.close();
  const zstd = loadZstd();
  if (!zstd) process.stderr.write("zstd-napi is not installed here: zstd is not measured\n");

  const rows: Array<{
    codec: string;
    page_kib: number;
    bytes_per_sample: number;
    compress_mb_s: number;
    decompress_mb_s: number;
  }> = [];
  for (const kib of PAGES_KIB) {
    const list = pages(data.bytes, kib * 1024);
    for (const codec of codecs(zstd)) {
      let t0 = performance.now();
      const packed = list.map((p) => codec.compress(p));
      const compressMs = performance.now() - t0;
      t0 = performance.now();
      for (let i = 0; i < packed.length; i++) {
        const back = codec.decompress(packed[i], list[i].length);
        if (back.length !== list[i].length)
          throw new Error(`${codec.name}: page ${i} came back with ${back.length} bytes`);
      }
      const decompressMs = performance.now() - t0;
      const total = packed.reduce((n, p) => n + p.length, 0);
      const mb = data.bytes.length / 1e6;
      rows.push({
        codec: codec.name,
        page_kib: kib,
        bytes_per_sample: total / data.samples,
        compress_mb_s: mb / (compressMs / 1000),
        decompress_mb_s: mb / (decompressMs / 1000),
      });
      process.stderr.write(
        `  ${codec.name}, ${kib} KiB pages: ${(total / data.samples).toFixed(3)} B/sample\n`,
      );
    }
  }

  console.log(
    `\nCodecs over XOR chunks (bench/codecs.ts): ${fmt(data.series)} series, ${fmt(data.samples)} samples, ${fmt(data.bytes.length)} chunk bytes`,
  );
  console.log(
    `${"codec".padEnd(28)}  ${"page".padStart(7)}  ${"B/sample".padStart(9)}  ${"compress MB/s".padStart(14)}  ${"decompress MB/s".padStart(16)}`,
  );
  for (const r of rows) {
    console.log(
      `${r.codec.padEnd(28)}  ${`${r.page_kib} KiB`.padStart(7)}  ${r.bytes_per_sample.toFixed(3).padStart(9)}  ${speed(r.codec, r.compress_mb_s).padStart(14)}  ${speed(r.codec, r.decompress_mb_s).padStart(16)}`,
    );
  }
  console.log(
    JSON.stringify({ series: data.series, samples: data.samples, chunk_bytes: data.bytes.length, rows }),
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}
