/**
 * npm run bench:tsdb — the embedded TSDB on a synthetic inference fleet (bench/fleet.ts).
 *
 *   1. live head: ~100k active series scraped every 15 s for 1.5 h (the memory window is 1 h, so
 *      memory is at steady state): ingest rate, RSS per active series, decode speed from memory
 *      and, after a restart, from disk;
 *   2. retention: ~5k series for a day: disk bytes per sample once chunks dominate the file;
 *   3. crash recovery: a writer is SIGKILLed with 10M samples in its head, with the default
 *      checkpointing and with checkpoints disabled (everything replayed from the log).
 *
 * Prints a table, then one JSON line. Sizes: BENCH_PROJECTS, BENCH_MODELS, BENCH_SCRAPES,
 * BENCH_DISK_PROJECTS, BENCH_DISK_SCRAPES, BENCH_RECOVERY_SAMPLES.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Matcher } from "../src/storage/index.js";
import { Tsdb } from "../src/tsdb/tsdb.js";
import { Fleet, SCRAPE_INTERVAL_MS } from "./fleet.js";
import { ingestFleet } from "./ingest-fleet.js";
import { dirBytes, fmt, gcRss } from "./tsdb-util.js";

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const PROJECTS = env("BENCH_PROJECTS", 56);
const MODELS = env("BENCH_MODELS", 19);
const SCRAPES = env("BENCH_SCRAPES", 360);
const DISK_PROJECTS = env("BENCH_DISK_PROJECTS", 3);
const DISK_SCRAPES = env("BENCH_DISK_SCRAPES", 5760);
const RECOVERY_SAMPLES = env("BENCH_RECOVERY_SAMPLES", 10_000_000);
const BATCH = 5000;
const START = Date.UTC(2026, 10, 1);

const root = mkdtempSync(join(tmpdir(), "mim-bench-tsdb-"));
const rows: Array<[string, string]> = [];
const report = (k: string, v: string) => {
  rows.push([k, v]);
  process.stderr.write(`  ${k}: ${v}\n`);
};

function decodeAll(db: Tsdb, mint: number, maxt: number): { samples: number; seconds: number } {
  const names = db.querier(mint, maxt).labelValues("__name__");
  const start = process.hrtime.bigint();
  let samples = 0;
  let checksum = 0;
  for (const name of names) {
    const set = db.querier(mint, maxt).select(false, undefined, Matcher.eq("__name__", name));
    while (set.next()) {
      const it = set.at().iterator();
      while (it.next()) {
        samples++;
        checksum += it.atV();
      }
    }
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (Number.isNaN(checksum)) throw new Error("decoded NaN from a NaN-free fleet");
  return { samples, seconds };
}

/** The median of five timed runs (single runs swing by ±30 % on a shared 2-core machine). */
function medianRun(run: () => { samples: number; seconds: number }): { samples: number; seconds: number } {
  const runs = [run(), run(), run(), run(), run()].sort((a, b) => a.seconds - b.seconds);
  return runs[2];
}

function liveHead() {
  const baseRss = gcRss();
  const fleet = new Fleet(PROJECTS, MODELS);
  const fleetRss = gcRss() - baseRss;
  let now = START;
  const dir = join(root, "live");
  const db = Tsdb.open({ dir, maintenanceIntervalMs: 0, now: () => now });
  const rssBeforeIngest = gcRss();
  process.stderr.write(`live head: ${fleet.seriesCount} series × ${SCRAPES} scrapes…\n`);
  const ingest = ingestFleet(db, fleet, [], START, SCRAPES, BATCH, (t) => {
    now = t;
  });
  const maxt = START + (SCRAPES - 1) * SCRAPE_INTERVAL_MS;
  report("live: series", fmt(fleet.seriesCount));
  report("live: samples ingested", fmt(ingest.samples));
  const ingestRate = ingest.samples / ingest.seconds;
  report("ingest samples/s (append + commit + maintenance, one core)", fmt(ingestRate));
  // Store memory = RSS growth since the store opened plus what opening it cost.
  const rss = gcRss() - rssBeforeIngest + (rssBeforeIngest - baseRss - fleetRss);
  const rssPerSeries = rss / fleet.seriesCount;
  report("RSS per active series (bytes)", fmt(rssPerSeries));
  const st = db.stats();
  report("chunks in memory (open / closed)", `${fmt(st.headChunks)} / ${fmt(st.memoryClosedChunks)}`);
  const memMint = maxt - db.options.memoryWindowMs;
  decodeAll(db, memMint, maxt); // warm-up: let the JIT settle before timing
  const mem = medianRun(() => decodeAll(db, memMint, maxt));
  const decodeMem = mem.samples / mem.seconds;
  report("decode samples/s, last hour from memory (select + iterate)", fmt(decodeMem));
  const all = decodeAll(db, START, maxt);
  if (all.samples !== ingest.samples) throw new Error(`decoded ${all.samples} of ${ingest.samples}`);
  report("decode samples/s, whole range (memory + disk)", fmt(all.samples / all.seconds));
  db.close();
  const t0 = performance.now();
  const reopened = Tsdb.open({ dir, maintenanceIntervalMs: 0, now: () => now });
  const cleanOpen = (performance.now() - t0) / 1000;
  report("open after clean shutdown (s)", fmt(cleanOpen, 2));
  const disk = decodeAll(reopened, START, maxt - db.options.memoryWindowMs);
  const decodeDisk = disk.samples / disk.seconds;
  report("decode samples/s, closed chunks from SQLite", fmt(decodeDisk));
  reopened.close();
  return {
    series: fleet.seriesCount,
    samples: ingest.samples,
    ingestRate,
    rssPerSeries,
    decodeMem,
    decodeDisk,
    cleanOpen,
  };
}

function retention() {
  const fleet = new Fleet(DISK_PROJECTS, MODELS, undefined, 2);
  let now = START;
  const dir = join(root, "disk");
  const db = Tsdb.open({ dir, maintenanceIntervalMs: 0, now: () => now });
  process.stderr.write(`retention: ${fleet.seriesCount} series × ${DISK_SCRAPES} scrapes…\n`);
  const ingest = ingestFleet(db, fleet, [], START, DISK_SCRAPES, BATCH, (t) => {
    now = t;
  });
  db.close();
  const bytes = dirBytes(dir);
  const perSample = bytes / ingest.samples;
  report(
    `disk bytes/sample (${fmt(fleet.seriesCount)} series, ${fmt((DISK_SCRAPES * SCRAPE_INTERVAL_MS) / 3_600_000, 1)} h)`,
    `${fmt(perSample, 3)} (${fmt(bytes)} bytes for ${fmt(ingest.samples)} samples)`,
  );
  return perSample;
}

function crash(mode: "default" | "log-only") {
  const dir = join(root, `crash-${mode}`);
  const child = spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      join(import.meta.dirname, "tsdb-crash-child.ts"),
      dir,
      String(PROJECTS),
      String(MODELS),
      String(RECOVERY_SAMPLES),
      mode,
    ],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
  );
  const written = JSON.parse(child.stdout.trim().split("\n").pop() ?? "{}") as { samples: number };
  const t0 = performance.now();
  const db = Tsdb.open({ dir, maintenanceIntervalMs: 0, now: () => START + 86_400_000 });
  const seconds = (performance.now() - t0) / 1000;
  const r = db.recovery;
  const head = r.checkpointSamples + r.walSamples;
  report(
    `crash recovery (${mode}): head samples restored`,
    `${fmt(head)} = ${fmt(r.checkpointSamples)} from checkpoints + ${fmt(r.walSamples)} replayed (${fmt(written.samples)} written)`,
  );
  report(`crash recovery (${mode}) time (s)`, fmt(seconds, 2));
  db.close();
  return { seconds, head };
}

try {
  const live = liveHead();
  const diskPerSample = retention();
  const recovery = crash("default");
  const worst = crash("log-only");
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log("\nTSDB benchmark (bench/tsdb.ts)");
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
  console.log(
    JSON.stringify({
      series: live.series,
      samples: live.samples,
      ingest_samples_per_s: Math.round(live.ingestRate),
      disk_bytes_per_sample: Number(diskPerSample.toFixed(3)),
      rss_bytes_per_active_series: Math.round(live.rssPerSeries),
      decode_samples_per_s: Math.round(live.decodeMem),
      decode_from_disk_samples_per_s: Math.round(live.decodeDisk),
      open_after_clean_shutdown_s: Number(live.cleanOpen.toFixed(3)),
      recovery_s: Number(recovery.seconds.toFixed(3)),
      recovery_head_samples: recovery.head,
      recovery_log_only_s: Number(worst.seconds.toFixed(3)),
      recovery_log_only_head_samples: worst.head,
    }),
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}
