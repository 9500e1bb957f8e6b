/**
 * npm run bench:promql — the page's five queries and heavier fleet-wide queries, as range queries,
 * on a synthetic fleet (bench/fleet.ts) in the embedded TSDB. Prints a table, then one JSON line
 * with p50/p95 latency per query and samples read per second.
 *
 * Data: BENCH_PROJECTS × BENCH_MODELS × 2 tiers × 47 series (default 200 × 10 × 2 = 188k series),
 * scraped every BENCH_SCRAPE_S seconds (default 60) for BENCH_HOURS (default 24); the page's
 * project also has BENCH_HISTORY_DAYS (default 7) of history for the 7-day query.
 * BENCH_RUNS (default 5) runs per query.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { newEngine } from "../src/promql/engine.js";
import { Tsdb } from "../src/tsdb/tsdb.js";
import { Fleet } from "./fleet.js";
import { ingestFleet } from "./ingest-fleet.js";
import { fmt } from "./tsdb-util.js";

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const PROJECTS = env("BENCH_PROJECTS", 200);
const MODELS = env("BENCH_MODELS", 10);
const SCRAPE_S = env("BENCH_SCRAPE_S", 60);
const HOURS = env("BENCH_HOURS", 24);
const HISTORY_DAYS = env("BENCH_HISTORY_DAYS", 7);
const RUNS = env("BENCH_RUNS", 5);
const DAY = 86_400_000;
const END = Date.UTC(2026, 10, 8);
const START = END - HOURS * 3_600_000;

const project = "proj-00000000";
const model = "meta-llama/Llama-3.1-8B-Instruct-v0";
const sel = (metric: string) => `${metric}{project_id="${project}", model_name="${model}"}`;
const QUERIES: Array<{ name: string; query: string; rangeMs: number; stepMs: number }> = [
  ...[
    ["request rate", `sum by (model_name) ( rate( ${sel("crusoe_inference_request_count")}[300s] ) )`],
    [
      "input token rate",
      `sum by (model_name) ( rate( ${sel("crusoe_inference_input_token_count")}[300s] ) )`,
    ],
    [
      "output token rate",
      `sum by (model_name) ( rate( ${sel("crusoe_inference_output_token_count")}[300s] ) )`,
    ],
    [
      "TTFT p50",
      `histogram_quantile( 0.5, sum by (model_name, le) ( irate( ${sel("crusoe_inference_histogram_first_token_latency_bucket")}[300s] ) ) )`,
    ],
    [
      "TPOT p50",
      `histogram_quantile( 0.5, sum by (model_name, le) ( irate( ${sel("crusoe_inference_histogram_output_token_latency_bucket")}[300s] ) ) )`,
    ],
  ].map(([name, query]) => ({ name: `page: ${name}`, query, rangeMs: HOURS * 3_600_000, stepMs: 60_000 })),
  {
    name: "fleet: top 10 projects by output tokens",
    query: "topk(10, sum by (project_id) (rate(crusoe_inference_output_token_count[5m])))",
    rangeMs: HOURS * 3_600_000,
    stepMs: 60_000,
  },
  {
    name: "fleet: TTFT p99 by model and tier",
    query:
      "histogram_quantile(0.99, sum by (model_name, service_tier, le) (rate(crusoe_inference_histogram_first_token_latency_bucket[5m])))",
    rangeMs: HOURS * 3_600_000,
    stepMs: 60_000,
  },
  {
    // Every step's window holds a whole day of samples: what counts counter resets per window.
    name: "increase over 24h, per model of the page's project",
    query: `sum by (model_name) (increase(crusoe_inference_request_count{project_id="${project}"}[24h]))`,
    rangeMs: HOURS * 3_600_000,
    stepMs: 60_000,
  },
  {
    name: "7 days at 5m: request rate of the page's project",
    query: `sum by (model_name) (rate(crusoe_inference_request_count{project_id="${project}"}[5m]))`,
    rangeMs: Math.min(HISTORY_DAYS * DAY + HOURS * 3_600_000, (HISTORY_DAYS + 1) * DAY) - 3_600_000,
    stepMs: 300_000,
  },
];

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

const root = mkdtempSync(join(tmpdir(), "mim-bench-promql-"));
try {
  const db = Tsdb.open({ dir: join(root, "db"), maintenanceIntervalMs: 0, now: () => END });
  const history = new Fleet(1, MODELS, undefined, 7, SCRAPE_S);
  const historyStart = START - HISTORY_DAYS * DAY;
  process.stderr.write(
    `loading ${HISTORY_DAYS} days of history for ${project} (${history.seriesCount} series)…\n`,
  );
  ingestFleet(db, history, [], historyStart, (HISTORY_DAYS * DAY) / (SCRAPE_S * 1000), 5000);
  const fleet = new Fleet(PROJECTS, MODELS, undefined, 1, SCRAPE_S);
  const scrapes = (HOURS * 3_600_000) / (SCRAPE_S * 1000) + 1;
  process.stderr.write(`loading ${HOURS} h of ${fleet.seriesCount} series every ${SCRAPE_S} s…\n`);
  const ingest = ingestFleet(db, fleet, [], START, scrapes, 5000);
  db.checkpoint();
  process.stderr.write(`  ${fmt(ingest.samples)} samples in ${fmt(ingest.seconds, 1)} s\n`);

  // The fleet-wide queries hold ~120 M points (84k bucket series × 1,441 steps): above the default
  // 50 M budget, as they would be in Prometheus too (--query.max-samples); raised here.
  const engine = newEngine({ maxSamples: 1_000_000_000 });
  const rows: Array<{ name: string; p50: number; p95: number; samples: number; series: number }> = [];
  for (const q of QUERIES) {
    const times: number[] = [];
    let samples = 0;
    let series = 0;
    for (let r = 0; r < RUNS + 1; r++) {
      const t0 = performance.now();
      const res = engine.rangeQuery(db, q.query, END - q.rangeMs, END, q.stepMs);
      const ms = performance.now() - t0;
      if (r === 0) continue; // warm-up
      times.push(ms);
      samples = res.samplesRead;
      series = res.value.type === "matrix" ? res.value.series.length : 1;
    }
    times.sort((a, b) => a - b);
    rows.push({ name: q.name, p50: percentile(times, 0.5), p95: percentile(times, 0.95), samples, series });
    process.stderr.write(`  ${q.name}: p50 ${fmt(percentile(times, 0.5), 1)} ms\n`);
  }
  db.close();

  const width = Math.max(...rows.map((r) => r.name.length));
  console.log(
    `\nPromQL benchmark (bench/promql.ts): ${fmt(fleet.seriesCount)} series, ${HOURS} h every ${SCRAPE_S} s`,
  );
  console.log(
    `${"query".padEnd(width)}  ${"p50 ms".padStart(9)}  ${"p95 ms".padStart(9)}  ${"samples".padStart(12)}  ${"samples/s".padStart(12)}  result series`,
  );
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(width)}  ${fmt(r.p50, 1).padStart(9)}  ${fmt(r.p95, 1).padStart(9)}  ${fmt(r.samples).padStart(12)}  ${fmt((r.samples / r.p50) * 1000).padStart(12)}  ${r.series}`,
    );
  }
  console.log(
    JSON.stringify({
      series: fleet.seriesCount,
      samples: ingest.samples,
      queries: Object.fromEntries(
        rows.map((r) => [
          r.name,
          {
            p50_ms: Number(r.p50.toFixed(2)),
            p95_ms: Number(r.p95.toFixed(2)),
            samples_read: r.samples,
            samples_per_s: Math.round((r.samples / r.p50) * 1000),
          },
        ]),
      ),
    }),
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}
