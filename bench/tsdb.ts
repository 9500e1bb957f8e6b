/**
 * npm run bench:tsdb — ingest, disk, memory, decode and recovery figures of the embedded TSDB on a
 * synthetic inference fleet. Prints a table, then one JSON line with the figures.
 *
 * Sizes can be changed with BENCH_PROJECTS, BENCH_MODELS, BENCH_SCRAPES, BENCH_RECOVERY_SAMPLES.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Matcher } from "../src/storage/index.js";
import { Tsdb } from "../src/tsdb/tsdb.js";
import { Fleet } from "./fleet.js";
import { ingestFleet } from "./ingest-fleet.js";
import { dirBytes, fmt, gcRss } from "./tsdb-util.js";

const PROJECTS = Number(process.env.BENCH_PROJECTS ?? 56);
const MODELS = Number(process.env.BENCH_MODELS ?? 19);
const SCRAPES = Number(process.env.BENCH_SCRAPES ?? 240);
const RECOVERY_SAMPLES = Number(process.env.BENCH_RECOVERY_SAMPLES ?? 10_000_000);
const BATCH = 5000;

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

try {
  const baseRss = gcRss();
  const fleet = new Fleet(PROJECTS, MODELS);
  const fleetRss = gcRss() - baseRss;
  const start = Date.UTC(2026, 10, 1);
  let now = start;
  const dir = join(root, "main");
  const db = Tsdb.open({ dir, maintenanceIntervalMs: 0, now: () => now });
  const rssBeforeIngest = gcRss();
  const refs: number[] = [];
  process.stderr.write(`ingesting ${fleet.seriesCount} series × ${SCRAPES} scrapes…\n`);
  const ingest = ingestFleet(db, fleet, refs, start, SCRAPES, BATCH, (t) => {
    now = t;
  });
  const maxt = start + (SCRAPES - 1) * 15_000;
  report("series", fmt(fleet.seriesCount));
  report("samples ingested", fmt(ingest.samples));
  const ingestRate = ingest.samples / ingest.seconds;
  report("ingest samples/s (append+commit+maintenance, one core)", fmt(ingestRate));
  // The fleet's own arrays are not the store's; they were allocated before the baseline.
  const rss = gcRss() - rssBeforeIngest + (rssBeforeIngest - baseRss - fleetRss);
  const rssPerSeries = rss / fleet.seriesCount;
  report("RSS growth per active series (bytes)", fmt(rssPerSeries));
  const st = db.stats();
  report("chunks in memory (open / closed)", `${fmt(st.headChunks)} / ${fmt(st.memoryClosedChunks)}`);

  const memDecode = decodeAll(db, start, maxt);
  const decodeMem = memDecode.samples / memDecode.seconds;
  report("decode samples/s, head in memory (select + iterate)", fmt(decodeMem));
  if (memDecode.samples !== ingest.samples)
    throw new Error(`decoded ${memDecode.samples} of ${ingest.samples}`);

  db.close();
  const bytes = dirBytes(dir);
  const bytesPerSample = bytes / ingest.samples;
  report("disk bytes (after close)", fmt(bytes));
  report("disk bytes/sample", fmt(bytesPerSample, 3));

  let t0 = performance.now();
  const reopened = Tsdb.open({ dir, maintenanceIntervalMs: 0, now: () => now });
  const cleanOpen = (performance.now() - t0) / 1000;
  report("open after clean shutdown (s)", fmt(cleanOpen, 2));
  const diskDecode = decodeAll(reopened, start, maxt);
  const decodeDisk = diskDecode.samples / diskDecode.seconds;
  report("decode samples/s, closed chunks from SQLite", fmt(decodeDisk));
  reopened.close();

  const crashDir = join(root, "crash");
  const crashProjects = Math.max(1, Math.round(PROJECTS / 2));
  const child = spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      join(import.meta.dirname, "tsdb-crash-child.ts"),
      crashDir,
      String(crashProjects),
      String(MODELS),
      String(RECOVERY_SAMPLES),
    ],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
  );
  const written = JSON.parse(child.stdout.trim().split("\n").pop() ?? "{}") as {
    samples: number;
    series: number;
  };
  t0 = performance.now();
  const recovered = Tsdb.open({ dir: crashDir, maintenanceIntervalMs: 0, now: () => now });
  const recoveryS = (performance.now() - t0) / 1000;
  const r = recovered.recovery;
  report(
    "crash recovery: head samples replayed from the log",
    `${fmt(r.walSamples)} (${fmt(written.samples)} written, ${fmt(written.series)} series, killed with SIGKILL)`,
  );
  report("crash recovery time (s)", fmt(recoveryS, 2));
  if (r.walSamples !== written.samples)
    throw new Error(`recovered ${r.walSamples} of ${written.samples} samples`);
  recovered.close();

  const width = Math.max(...rows.map(([k]) => k.length));
  console.log("\nTSDB benchmark");
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
  console.log(
    JSON.stringify({
      series: fleet.seriesCount,
      samples: ingest.samples,
      ingest_samples_per_s: Math.round(ingestRate),
      disk_bytes_per_sample: Number(bytesPerSample.toFixed(3)),
      rss_bytes_per_active_series: Math.round(rssPerSeries),
      decode_samples_per_s: Math.round(decodeMem),
      decode_from_disk_samples_per_s: Math.round(decodeDisk),
      open_after_clean_shutdown_s: Number(cleanOpen.toFixed(3)),
      recovery_s: Number(recoveryS.toFixed(3)),
      recovery_head_samples: r.walSamples,
    }),
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}
