import type { SeriesRef } from "../src/storage/index.js";
import type { Tsdb } from "../src/tsdb/tsdb.js";
import type { Fleet } from "./fleet.js";

export interface IngestResult {
  samples: number;
  /** Time spent in append, commit and maintenance (fleet simulation excluded). */
  seconds: number;
}

/**
 * Scrapes the fleet `scrapes` times into the store, in batches of `batchSize` samples, calling
 * maintenance once per simulated minute as the background timer would.
 */
export function ingestFleet(
  db: Tsdb,
  fleet: Fleet,
  refs: SeriesRef[],
  startMs: number,
  scrapes: number,
  batchSize: number,
  onScrape?: (t: number) => void,
): IngestResult {
  let samples = 0;
  let ns = 0n;
  const n = fleet.seriesCount;
  for (let s = 0; s < scrapes; s++) {
    fleet.step();
    const t = startMs + s * fleet.intervalSeconds * 1000;
    onScrape?.(t);
    const values = fleet.values;
    const start = process.hrtime.bigint();
    let app = db.appender();
    let inBatch = 0;
    for (let i = 0; i < n; i++) {
      refs[i] = app.append(refs[i] ?? 0, fleet.labels[i], t, values[i]);
      if (++inBatch === batchSize) {
        app.commit();
        app = db.appender();
        inBatch = 0;
      }
    }
    app.commit();
    if (s % 4 === 3) db.maintain();
    ns += process.hrtime.bigint() - start;
    samples += n;
  }
  return { samples, seconds: Number(ns) / 1e9 };
}
